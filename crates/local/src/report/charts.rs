//! The report's charts, as inline SVG: a metric's history (one line per version over the
//! evaluations) and the feature drift heat map (features × evaluations, coloured by PSI).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use mdlc_core::drift::{PSI_MODERATE, PSI_SIGNIFICANT};
use mdlc_core::registry::EvaluationRecord;

use super::text::{escape, format_value};

/// Line colours, the n-th version evaluated taking the n-th.
pub const PALETTE: [&str; 8] = [
    "#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7b83", "#57606a",
];

/// The versions that were evaluated, ascending: a version's colour is its place here.
pub fn evaluated_versions(evaluations: &[EvaluationRecord]) -> Vec<u64> {
    evaluations
        .iter()
        .map(|e| e.version)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn colour_of(versions: &[u64], version: u64) -> &'static str {
    let i = versions.iter().position(|&v| v == version).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// Evenly spaced round values covering `lo..=hi` (steps of 1, 2 or 5 × 10ⁿ), and the decimals
/// that print them.
pub fn nice_ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let (lo, hi) = if (hi - lo).abs() < 1e-12 {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let count = ((last - first) as usize).min(20);
    let ticks = (0..=count).map(|k| (first + k as f64) * step).collect();
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    (ticks, decimals)
}

const CHART_W: f64 = 560.0;
const CHART_H: f64 = 270.0;
const PAD_LEFT: f64 = 70.0;
const PAD_RIGHT: f64 = 20.0;
const PAD_TOP: f64 = 40.0;
const PAD_BOTTOM: f64 = 62.0;

/// One metric over the evaluations: x is the evaluation (number and data date), y the value;
/// one line per version through the evaluations of that version, a ring where an evaluation
/// decided to retrain. Empty when no evaluation has the metric.
pub fn metric_chart(metric: &str, evaluations: &[EvaluationRecord]) -> String {
    let points: Vec<(usize, u64, f64)> = evaluations
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.metrics.get(metric).map(|v| (i, e.version, *v)))
        .filter(|(_, _, v)| v.is_finite())
        .collect();
    if points.is_empty() {
        return String::new();
    }
    let versions = evaluated_versions(evaluations);
    let lo = points.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
    let (ticks, decimals) = nice_ticks(lo, hi);
    let (y_lo, y_hi) = (ticks[0], ticks[ticks.len() - 1]);
    let (x0, x1) = (PAD_LEFT, CHART_W - PAD_RIGHT);
    let (y0, y1) = (PAD_TOP, CHART_H - PAD_BOTTOM);
    let n = evaluations.len();
    let px = |i: usize| {
        if n <= 1 {
            (x0 + x1) / 2.0
        } else {
            x0 + 16.0 + (x1 - x0 - 32.0) * i as f64 / (n - 1) as f64
        }
    };
    let py = |v: f64| y1 - (y1 - y0) * (v - y_lo) / (y_hi - y_lo);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-metric="{m}" width="{CHART_W}" height="{CHART_H}" viewBox="0 0 {CHART_W} {CHART_H}" role="img"><title>{m} per evaluation, one line per version</title><text x="{x0}" y="18" class="title">{m}</text>"#,
        m = escape(metric)
    );
    // Grid and y axis.
    for t in &ticks {
        let y = py(*t);
        let _ = write!(
            svg,
            r#"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="tick y">{t:.decimals$}</text>"#,
            x0 - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        svg,
        r#"<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" class="axis"/><line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" class="axis"/><text transform="translate(14 {:.1}) rotate(-90)" class="axis-label">{}</text><text x="{:.1}" y="{:.1}" class="axis-label">evaluation (data date)</text>"#,
        (y0 + y1) / 2.0,
        escape(metric),
        (x0 + x1) / 2.0,
        CHART_H - 6.0
    );
    // x ticks: every evaluation, or every k-th when there are many.
    let every = n.div_ceil(10).max(1);
    for (i, e) in evaluations.iter().enumerate() {
        if i % every != 0 && i + 1 != n {
            continue;
        }
        let x = px(i);
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" y1="{y1}" x2="{x:.1}" y2="{:.1}" class="axis"/><text x="{x:.1}" y="{:.1}" class="tick x">#{}</text><text x="{x:.1}" y="{:.1}" class="tick x date">{}</text>"#,
            y1 + 4.0,
            y1 + 16.0,
            i + 1,
            y1 + 29.0,
            escape(&e.data_date)
        );
    }
    // One line per version, then its points.
    let mut legend_x = x1;
    let mut legend = String::new();
    for &version in versions.iter().rev() {
        let series: Vec<&(usize, u64, f64)> = points.iter().filter(|p| p.1 == version).collect();
        if series.is_empty() {
            continue;
        }
        let colour = colour_of(&versions, version);
        let line: Vec<String> = series
            .iter()
            .map(|(i, _, v)| format!("{:.1},{:.1}", px(*i), py(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="series" data-version="{version}" points="{}" stroke="{colour}"/>"#,
            line.join(" ")
        );
        for (i, _, v) in &series {
            let e = &evaluations[*i];
            let retrain = e.retrain == Some(true);
            let _ = write!(
                svg,
                r#"<circle class="point{}" data-version="{version}" cx="{:.1}" cy="{:.1}" r="4.5" fill="{colour}"><title>evaluation {} · version {version} · {} · {metric} = {}{}</title></circle>"#,
                if retrain { " retrain" } else { "" },
                px(*i),
                py(*v),
                i + 1,
                escape(&e.data_date),
                format_value(*v),
                if retrain { " · retrain" } else { "" },
                metric = escape(metric),
            );
        }
        let label = format!("v{version}");
        legend_x -= 22.0 + 8.0 * label.len() as f64;
        let _ = write!(
            legend,
            r#"<g class="legend"><line x1="{legend_x:.1}" y1="14" x2="{:.1}" y2="14" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="18">{label}</text></g>"#,
            legend_x + 14.0,
            legend_x + 18.0
        );
    }
    svg.push_str(&legend);
    if points
        .iter()
        .any(|p| evaluations[p.0].retrain == Some(true))
    {
        let _ = write!(
            svg,
            r##"<g class="legend"><circle class="point retrain" cx="{:.1}" cy="30" r="4.5" fill="#fff"/><text x="{:.1}" y="34">retrain decided</text></g>"##,
            x1 - 110.0,
            x1 - 100.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Colour stops of the PSI scale: stable greens to significant reds.
const PSI_STOPS: [(f64, (u8, u8, u8)); 5] = [
    (0.0, (0xe8, 0xf5, 0xe9)),
    (PSI_MODERATE, (0xff, 0xf1, 0xa8)),
    (PSI_SIGNIFICANT, (0xfd, 0xae, 0x61)),
    (0.5, (0xd7, 0x30, 0x27)),
    (PSI_SCALE_MAX, (0x67, 0x00, 0x0d)),
];
/// PSI at and above which a cell has the darkest colour.
const PSI_SCALE_MAX: f64 = 1.0;

/// The fill of a cell with this PSI (NaN: the darkest, as the drift level counts it significant).
pub fn psi_colour(psi: f64) -> (u8, u8, u8) {
    let psi = if psi.is_nan() {
        PSI_SCALE_MAX
    } else {
        psi.clamp(0.0, PSI_SCALE_MAX)
    };
    for w in PSI_STOPS.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if psi <= b {
            let t = (psi - a) / (b - a);
            let mix =
                |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * t).round() as u8;
            return (mix(ca.0, cb.0), mix(ca.1, cb.1), mix(ca.2, cb.2));
        }
    }
    PSI_STOPS[PSI_STOPS.len() - 1].1
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn dark((r, g, b): (u8, u8, u8)) -> bool {
    0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b) < 140.0
}

const CELL_W: f64 = 72.0;
const CELL_H: f64 = 26.0;
const HEAD_H: f64 = 50.0;
const LEGEND_H: f64 = 64.0;

fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() > max {
        name.chars()
            .take(max - 1)
            .chain(std::iter::once('…'))
            .collect()
    } else {
        name.to_string()
    }
}

/// Features (rows, in the order first seen) × evaluations (columns), each cell coloured by the
/// feature's PSI in that evaluation; an evaluation that measured no drift is a grey column. With
/// the colour legend and the stable/moderate/significant bands.
pub fn drift_heatmap(evaluations: &[EvaluationRecord]) -> String {
    let mut features: Vec<&str> = Vec::new();
    for e in evaluations {
        for f in e.drift.iter().flat_map(|d| &d.features) {
            if !features.contains(&f.feature.as_str()) {
                features.push(&f.feature);
            }
        }
    }
    let longest = features
        .iter()
        .map(|f| f.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = (longest.min(28) as f64 * 7.0 + 16.0).max(80.0);
    let grid_w = CELL_W * evaluations.len() as f64;
    let grid_h = CELL_H * features.len() as f64;
    let width = (label_w + grid_w + 16.0).max(label_w + 490.0);
    let height = HEAD_H + grid_h + LEGEND_H;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img"><title>Population stability index per feature and evaluation</title>"#
    );
    for (c, e) in evaluations.iter().enumerate() {
        let x = label_w + CELL_W * (c as f64 + 0.5);
        let level = e
            .drift
            .as_ref()
            .map(|d| d.level.as_str())
            .unwrap_or("not measured");
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="14" class="col">#{} · v{}</text><text x="{x:.1}" y="28" class="col date">{}</text><text x="{x:.1}" y="42" class="col drift-{level}">{level}</text>"#,
            c + 1,
            e.version,
            escape(&e.data_date),
            level = level.replace(' ', "-"),
        );
    }
    for (r, feature) in features.iter().enumerate() {
        let y = HEAD_H + CELL_H * r as f64;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="row"><title>{}</title>{}</text>"#,
            label_w - 8.0,
            y + CELL_H / 2.0 + 4.0,
            escape(feature),
            escape(&shorten(feature, 28))
        );
        for (c, e) in evaluations.iter().enumerate() {
            let x = label_w + CELL_W * c as f64;
            let psi = e
                .drift
                .as_ref()
                .and_then(|d| d.features.iter().find(|f| f.feature == *feature))
                .map(|f| f.psi);
            let (w, h) = (CELL_W - 2.0, CELL_H - 2.0);
            match psi {
                Some(psi) => {
                    let fill = psi_colour(psi);
                    let _ = write!(
                        svg,
                        r#"<g class="cell" data-feature="{f}" data-evaluation="{n}" data-psi="{p}"><rect x="{x:.1}" y="{y:.1}" width="{w}" height="{h}" fill="{}"/><text x="{:.1}" y="{:.1}" class="{}">{p}</text><title>{f} · evaluation {n} · PSI {p}</title></g>"#,
                        hex(fill),
                        x + w / 2.0,
                        y + h / 2.0 + 4.0,
                        if dark(fill) { "psi light" } else { "psi" },
                        f = escape(feature),
                        n = c + 1,
                        p = format_psi(psi),
                    );
                }
                None => {
                    let _ = write!(
                        svg,
                        r#"<g class="cell missing" data-feature="{f}" data-evaluation="{n}"><rect x="{x:.1}" y="{y:.1}" width="{w}" height="{h}"/><title>{f} · evaluation {n} · not measured</title></g>"#,
                        f = escape(feature),
                        n = c + 1,
                    );
                }
            }
        }
    }
    svg.push_str(&psi_legend(label_w, HEAD_H + grid_h + 14.0));
    svg.push_str("</svg>");
    svg
}

fn format_psi(psi: f64) -> String {
    if psi.is_nan() {
        "NaN".to_string()
    } else {
        format!("{psi:.3}")
    }
}

/// The colour scale: a bar with one equal-width stretch between consecutive stops of
/// [`PSI_STOPS`] (the colour is linear within each), the stops and level bands marked.
fn psi_legend(x: f64, y: f64) -> String {
    const BAR_W: f64 = 320.0;
    const BAR_H: f64 = 12.0;
    let bar_x = x + 28.0;
    let stretch = BAR_W / (PSI_STOPS.len() - 1) as f64;
    // Where a PSI value sits on the bar.
    let at = |psi: f64| {
        let k = PSI_STOPS
            .windows(2)
            .position(|w| psi <= w[1].0)
            .unwrap_or(PSI_STOPS.len() - 2);
        let (a, b) = (PSI_STOPS[k].0, PSI_STOPS[k + 1].0);
        bar_x + stretch * (k as f64 + (psi.clamp(a, b) - a) / (b - a))
    };
    let mut svg = String::from(r#"<g class="legend">"#);
    svg.push_str(r#"<linearGradient id="psi-scale" x1="0" x2="1" y1="0" y2="0">"#);
    for (k, (_, colour)) in PSI_STOPS.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<stop offset="{:.3}" stop-color="{}"/>"#,
            k as f64 / (PSI_STOPS.len() - 1) as f64,
            hex(*colour)
        );
    }
    svg.push_str("</linearGradient>");
    let _ = write!(
        svg,
        r#"<text x="{x:.1}" y="{:.1}" class="legend-title">PSI</text><rect class="scale" x="{bar_x:.1}" y="{y:.1}" width="{BAR_W}" height="{BAR_H}" fill="url(#psi-scale)"/>"#,
        y + 10.0,
    );
    for (k, (psi, _)) in PSI_STOPS.iter().enumerate() {
        let label = if k + 1 == PSI_STOPS.len() {
            format!("≥ {psi}")
        } else {
            format!("{psi}")
        };
        let tx = at(*psi);
        let _ = write!(
            svg,
            r#"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" class="axis"/><text x="{tx:.1}" y="{:.1}" class="tick x">{label}</text>"#,
            y + BAR_H,
            y + BAR_H + 4.0,
            y + BAR_H + 15.0
        );
    }
    for (from, to, label) in [
        (0.0, PSI_MODERATE, "stable"),
        (PSI_MODERATE, PSI_SIGNIFICANT, "moderate"),
        (PSI_SIGNIFICANT, PSI_SCALE_MAX, "significant"),
    ] {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="band drift-{label}">{label}</text>"#,
            (at(from) + at(to)) / 2.0,
            y + BAR_H + 30.0
        );
    }
    let _ = write!(
        svg,
        r#"<rect class="cell-missing-swatch" x="{:.1}" y="{y:.1}" width="{BAR_H}" height="{BAR_H}"/><text x="{:.1}" y="{:.1}">not measured</text></g>"#,
        bar_x + BAR_W + 24.0,
        bar_x + BAR_W + 24.0 + BAR_H + 6.0,
        y + 10.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn evaluation(version: u64, date: &str, rmse: f64, retrain: bool) -> EvaluationRecord {
        EvaluationRecord {
            model_name: "m".into(),
            version,
            evaluated_at: format!("{date}T00:00:00Z"),
            execution_arn: format!("arn:{date}"),
            data_date: date.into(),
            metrics: BTreeMap::from([("rmse".to_string(), rmse)]),
            retrain: Some(retrain),
            reason: None,
            drift: Some(mdlc_core::contract::sample_drift()),
        }
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    #[test]
    fn given_ranges_when_ticked_then_round_steps_cover_the_range() {
        let (t, d) = nice_ticks(0.0, 1.0);
        assert!(close(&t, &[0.0, 0.5, 1.0]) && d == 1, "{t:?} {d}");
        let (t, d) = nice_ticks(0.83, 1.17);
        assert!(close(&t, &[0.8, 0.9, 1.0, 1.1, 1.2]) && d == 1, "{t:?} {d}");
        let (t, d) = nice_ticks(120.0, 480.0);
        assert!(
            close(&t, &[100.0, 200.0, 300.0, 400.0, 500.0]) && d == 0,
            "{t:?} {d}"
        );
        // One value: a range around it.
        let (t, _) = nice_ticks(2.0, 2.0);
        assert!(t[0] < 2.0 && *t.last().unwrap() > 2.0, "{t:?}");
    }

    #[test]
    fn given_two_versions_when_charted_then_one_line_per_version_through_its_evaluations() {
        let evaluations = [
            evaluation(1, "2026-01-01", 1.0, false),
            evaluation(1, "2026-01-02", 3.0, true),
            evaluation(2, "2026-01-03", 0.5, false),
        ];
        let svg = metric_chart("rmse", &evaluations);
        assert_eq!(
            svg.matches("<polyline class=\"series\"").count(),
            2,
            "{svg}"
        );
        let line = |v: u64| {
            let start = svg
                .find(&format!("data-version=\"{v}\" points=\""))
                .unwrap_or_else(|| panic!("no line of v{v}: {svg}"));
            let rest = &svg[start..];
            let points = &rest[rest.find("points=\"").unwrap() + 8..];
            let points = &points[..points.find('"').unwrap()];
            points
                .split(' ')
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse::<f64>().unwrap(), y.parse::<f64>().unwrap())
                })
                .collect::<Vec<_>>()
        };
        let (v1, v2) = (line(1), line(2));
        assert_eq!(v1.len(), 2);
        assert_eq!(v2.len(), 1);
        // x follows the evaluations, y is upside down (higher rmse, higher on the chart).
        assert!(v1[0].0 < v1[1].0 && v1[1].0 < v2[0].0, "{v1:?} {v2:?}");
        assert!(v1[1].1 < v1[0].1 && v1[0].1 < v2[0].1, "{v1:?} {v2:?}");
        for (_, y) in v1.iter().chain(&v2) {
            assert!((PAD_TOP..=CHART_H - PAD_BOTTOM).contains(y), "{y}");
        }
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 2);
        assert_eq!(
            svg.matches("<circle class=\"point retrain\"").count(),
            2,
            "one point and the legend's"
        );
        assert!(
            svg.contains(">v1</text>") && svg.contains(">v2</text>"),
            "legend"
        );
        assert!(
            svg.contains(">2026-01-03</text>") && svg.contains(">#3</text>"),
            "x ticks"
        );
        assert!(svg.contains("evaluation (data date)"), "x axis label");
        assert_eq!(
            svg.matches("class=\"tick y\"").count(),
            nice_ticks(0.5, 3.0).0.len()
        );
        assert_eq!(
            metric_chart("auc", &evaluations),
            "",
            "no evaluation has auc"
        );
    }

    #[test]
    fn given_psi_values_when_coloured_then_darker_as_drift_grows_and_capped() {
        assert_eq!(psi_colour(0.0), PSI_STOPS[0].1);
        assert_eq!(psi_colour(PSI_MODERATE), PSI_STOPS[1].1);
        assert_eq!(psi_colour(PSI_SIGNIFICANT), PSI_STOPS[2].1);
        let darkest = PSI_STOPS[PSI_STOPS.len() - 1].1;
        assert_eq!(psi_colour(7.0), darkest);
        assert_eq!(psi_colour(f64::NAN), darkest);
        let lightness = |c: (u8, u8, u8)| u32::from(c.0) + u32::from(c.1) + u32::from(c.2);
        let mut previous = u32::MAX;
        for k in 0..=100 {
            let l = lightness(psi_colour(f64::from(k) / 100.0));
            assert!(l <= previous, "not darker at {k}/100");
            previous = l;
        }
    }

    #[test]
    fn given_evaluations_when_heat_mapped_then_a_cell_per_feature_and_evaluation_and_a_legend() {
        let mut without = evaluation(1, "2026-01-01", 1.0, false);
        without.drift = None;
        let mut with = evaluation(1, "2026-01-02", 1.0, true);
        with.drift.as_mut().unwrap().features[0].feature = "<f0>".into();
        let svg = drift_heatmap(&[without, with]);
        assert_eq!(svg.matches("<g class=\"cell\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("<g class=\"cell missing\"").count(), 2);
        assert!(
            svg.contains(r#"data-feature="&lt;f0&gt;" data-evaluation="2" data-psi="0.016""#),
            "{svg}"
        );
        assert!(svg.contains(r#"data-feature="f1" data-evaluation="2" data-psi="0.438""#));
        assert!(svg.contains(&format!("fill=\"{}\"", hex(psi_colour(0.4375)))));
        assert!(svg.contains(">significant</text>") && svg.contains(">not measured</text>"));
        assert!(svg.contains("<linearGradient id=\"psi-scale\""));
        assert_eq!(svg.matches("<stop ").count(), PSI_STOPS.len());
    }
}
