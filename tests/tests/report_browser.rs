//! The HTML report in a real browser: Debian's `chromium`, headless. A seeded demo run (two
//! versions, three evaluations with drift, five executions) writes `report.html`; a copy with a
//! probe script (tests/fixtures/report_probe.js) is loaded with `--dump-dom`. The test fails on
//! any console message or page error, and checks from what the browser drew that every metric has
//! one line per version, the drift heat map a coloured cell per feature and evaluation, and every
//! execution graph its states and edges, no two edges sharing a stretch of line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mdlc_core::ports::RegistryRead;
use mdlc_local::FsRegistry;
use mdlc_local::demo::{Problem, run_demo};
use mdlc_local::report::layout::{Point, Rect, edges_through_nodes, overlapping_edges};
use mdlc_tests::browser::{Dumped, dump_dom, require_chromium};
use mdlc_tests::{demo_options, ensure_trainer};
use serde_json::Value;

/// What one headless load of a page gave.
struct Loaded {
    /// `CONSOLE` lines of chromium's log: every console message and uncaught error of the page.
    console: Vec<String>,
    /// The probe's record (see report_probe.js).
    probe: Value,
}

/// Loads a copy of `page` with the probe script first in its head, in headless chromium.
fn load_in_chromium(page: &Path, work: &Path) -> Loaded {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = format!(
        "<script>{}</script>",
        include_str!("../fixtures/report_probe.js")
    );
    let probed = html.replacen("<head>", &format!("<head>{probe}"), 1);
    assert_ne!(probed, html, "{} has no <head>", page.display());
    let copy: PathBuf = work.join("probed.html");
    std::fs::write(&copy, probed).unwrap();
    let Dumped { dom, console, log } =
        dump_dom(&format!("file://{}", copy.display()), 10_000, work);
    let marker = r#"<script type="application/json" id="mdlc-probe">"#;
    let start = dom.find(marker).unwrap_or_else(|| {
        panic!("the probe did not run (no #mdlc-probe in the dumped DOM):\n{log}")
    }) + marker.len();
    let end = start + dom[start..].find("</script>").unwrap();
    let probe = serde_json::from_str(&dom[start..end])
        .unwrap_or_else(|e| panic!("probe output is not JSON ({e}): {}", &dom[start..end]));
    Loaded { console, probe }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or_else(|| panic!("not a number: {x}")))
        .collect()
}

/// Width and height of a `[x, y, width, height]` box.
fn size(b: &Value) -> (f64, f64) {
    let b = numbers(b);
    (b[2], b[3])
}

/// The polyline of an edge's `d` (`M x,y L x,y …`, as the report writes it).
fn polyline(d: &str) -> Vec<Point> {
    d.split_whitespace()
        .map(|token| {
            let xy = token
                .strip_prefix('M')
                .or_else(|| token.strip_prefix('L'))
                .unwrap_or_else(|| panic!("unexpected path command {token:?} in {d:?}"));
            let (x, y) = xy
                .split_once(',')
                .unwrap_or_else(|| panic!("bad point {token:?} in {d:?}"));
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

fn assert_clean(page: &Loaded) {
    assert!(
        page.console.is_empty(),
        "console messages:\n{}",
        page.console.join("\n")
    );
    let errors = page.probe["errors"].as_array().unwrap();
    assert!(errors.is_empty(), "page errors: {errors:?}");
}

#[test]
#[ignore = "needs chromium: make test runs it"]
fn a_page_with_a_console_error_and_a_bad_svg_path_is_caught() {
    require_chromium();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        r#"<!DOCTYPE html><html><head><title>t</title></head><body><svg class="graph"><path class="edge" d="M0,0 Lx"/></svg><script>console.error("boom")</script></body></html>"#,
    )
    .unwrap();
    let loaded = load_in_chromium(&page, dir.path());
    let console = loaded.console.join("\n");
    assert!(
        console.contains("attribute d: Expected number"),
        "{console}"
    );
    assert!(console.contains("\"boom\""), "{console}");
    assert_eq!(
        loaded.probe["errors"],
        serde_json::json!(["console.error: boom"]),
        "{}",
        loaded.probe
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium: make test runs it"]
async fn report_in_chromium_has_no_errors_and_draws_metric_lines_drift_cells_and_graphs_without_overlapping_edges()
 {
    require_chromium();
    ensure_trainer();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".mdlc");
    run_demo(&demo_options(&state, Problem::Regression), &|_| {})
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e}"));
    let evaluations = FsRegistry::new(state.join("registry"))
        .list_evaluations("demo-model", None)
        .await
        .unwrap();
    let versions: BTreeSet<u64> = evaluations.iter().map(|e| e.version).collect();
    assert!(
        evaluations.len() >= 3 && versions.len() >= 2,
        "the fixture: evaluations of two versions"
    );
    assert!(
        evaluations.iter().all(|e| e.drift.is_some()),
        "drift measured"
    );

    let page = load_in_chromium(&state.join("report.html"), dir.path());
    assert_clean(&page);
    let probe = &page.probe;

    // Metric history: a chart per metric, a line per version through its evaluations.
    let metrics: BTreeSet<&str> = evaluations
        .iter()
        .flat_map(|e| e.metrics.keys().map(String::as_str))
        .collect();
    let charts = probe["charts"].as_array().unwrap();
    let drawn: BTreeSet<&str> = charts
        .iter()
        .map(|c| c["metric"].as_str().unwrap())
        .collect();
    assert_eq!(drawn, metrics);
    for chart in charts {
        let metric = chart["metric"].as_str().unwrap();
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for e in &evaluations {
            if e.metrics.get(metric).is_some_and(|v| v.is_finite()) {
                *expected.entry(e.version.to_string()).or_default() += 1;
            }
        }
        let series = chart["series"].as_array().unwrap();
        let lines: BTreeMap<String, u64> = series
            .iter()
            .map(|s| {
                (
                    s["version"].as_str().unwrap().to_string(),
                    s["points"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(lines, expected, "{metric}: points per version's line");
        assert_eq!(
            series.len(),
            expected.len(),
            "{metric}: one line per version"
        );
        for s in series {
            if s["points"].as_u64().unwrap() >= 2 {
                assert!(size(&s["box"]).0 > 0.0, "{metric}: flat line {s}");
            }
        }
        let strokes: BTreeSet<&str> = series
            .iter()
            .map(|s| s["stroke"].as_str().unwrap())
            .collect();
        assert_eq!(
            strokes.len(),
            series.len(),
            "{metric}: a colour per version"
        );
        let points = chart["points"].as_array().unwrap();
        assert_eq!(
            points.len() as u64,
            expected.values().sum::<u64>(),
            "{metric}"
        );
        for p in points {
            let (w, h) = size(&p["box"]);
            assert!(w > 0.0 && h > 0.0, "{metric}: point {p}");
        }
        let shown = numbers(&chart["shown"]);
        assert!(
            shown[0] > 0.0 && shown[1] > 0.0,
            "{metric}: chart not shown"
        );
    }

    // Drift heat map: a coloured cell per feature and evaluation, with the recorded PSI.
    let heatmaps = probe["heatmaps"].as_array().unwrap();
    assert_eq!(heatmaps.len(), 1);
    let cells = heatmaps[0]["cells"].as_array().unwrap();
    let mut expected_cells = BTreeMap::new();
    for (i, e) in evaluations.iter().enumerate() {
        for f in &e.drift.as_ref().unwrap().features {
            expected_cells.insert((f.feature.clone(), i as u64 + 1), format!("{:.3}", f.psi));
        }
    }
    let drawn_cells: BTreeMap<(String, u64), String> = cells
        .iter()
        .map(|c| {
            assert_eq!(c["missing"], false, "{c}");
            let (w, h) = size(&c["box"]);
            assert!(w > 0.0 && h > 0.0, "cell {c}");
            (
                (
                    c["feature"].as_str().unwrap().to_string(),
                    c["evaluation"].as_u64().unwrap(),
                ),
                c["psi"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        cells.len(),
        drawn_cells.len(),
        "one cell per feature and evaluation"
    );
    assert_eq!(drawn_cells, expected_cells);
    let fill_of = |psi: f64| {
        cells
            .iter()
            .find(|c| c["psi"].as_str() == Some(&format!("{psi:.3}")))
            .map(|c| c["fill"].as_str().unwrap().to_string())
            .unwrap()
    };
    let all_psi: Vec<f64> = evaluations
        .iter()
        .flat_map(|e| e.drift.as_ref().unwrap().features.iter().map(|f| f.psi))
        .collect();
    let (lowest, highest) = (
        all_psi.iter().copied().fold(f64::INFINITY, f64::min),
        all_psi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    assert_ne!(fill_of(lowest), fill_of(highest), "colour follows the PSI");
    let legend = heatmaps[0]["legend"].as_array().unwrap();
    assert_eq!(legend.len(), 1, "the colour scale");
    assert!(size(&legend[0]).0 > 0.0);

    // Execution graphs: one per execution, every state and edge drawn, no two edges overlapping.
    let executions = std::fs::read_dir(state.join("executions"))
        .unwrap()
        .flatten()
        .flat_map(|machine| std::fs::read_dir(machine.path()).unwrap().flatten())
        .filter(|f| f.path().extension().is_some_and(|x| x == "json"))
        .count();
    let graphs = probe["graphs"].as_array().unwrap();
    assert_eq!(graphs.len(), executions, "a graph per execution");
    for (g, graph) in graphs.iter().enumerate() {
        let nodes: Vec<Rect> = graph["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let b = numbers(b);
                Rect {
                    x: b[0],
                    y: b[1],
                    w: b[2],
                    h: b[3],
                }
            })
            .collect();
        assert!(nodes.len() >= 10, "graph {g}: {} states", nodes.len());
        assert!(nodes.iter().all(|r| r.w > 0.0 && r.h > 0.0), "graph {g}");
        let edges = graph["edges"].as_array().unwrap();
        assert!(
            edges.len() >= nodes.len(),
            "graph {g}: {} edges",
            edges.len()
        );
        for e in edges {
            assert!(e["length"].as_f64().unwrap() > 0.0, "graph {g}: edge {e}");
        }
        assert!(
            edges.iter().any(|e| e["taken"] == true),
            "graph {g}: the path taken"
        );
        let paths: Vec<Vec<Point>> = edges
            .iter()
            .map(|e| polyline(e["d"].as_str().unwrap()))
            .collect();
        let overlaps = overlapping_edges(&paths, 1.0);
        assert!(
            overlaps.is_empty(),
            "graph {g}: overlapping edges {:?}",
            overlaps
                .iter()
                .map(|&(a, b)| (&edges[a]["d"], &edges[b]["d"]))
                .collect::<Vec<_>>()
        );
        let through = edges_through_nodes(&paths, &nodes);
        assert!(
            through.is_empty(),
            "graph {g}: edges through states {through:?}"
        );
    }
}
