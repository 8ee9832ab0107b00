//! `report.html`: a self-contained page (inline SVG and CSS, no scripts, nothing fetched) with each
//! execution's state graph — the path taken highlighted, per-state durations — and the model's
//! version and metric history.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use mdlc_asl::HistoryEvent;
use mdlc_core::registry::{EvaluationRecord, ModelVersion};
use serde_json::Value;

use crate::journal::ExecutionRecord;

pub mod charts;
pub mod events;
pub mod layout;
mod text;

pub use text::{escape, format_value};

/// What the report shows.
pub struct ReportInput<'a> {
    pub title: &'a str,
    /// Executions in the order they should appear.
    pub executions: &'a [ExecutionRecord],
    /// State machine name → its (substituted) definition.
    pub definitions: &'a BTreeMap<String, Value>,
    pub versions: &'a [ModelVersion],
    pub evaluations: &'a [EvaluationRecord],
}

/// What happened to one state during an execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateStats {
    pub visits: u32,
    pub failures: u32,
    /// Total time between entering and leaving, in milliseconds.
    pub millis: i64,
    /// Entered but never left (where a failed execution stopped).
    pub unfinished: bool,
}

/// Per-state statistics and the ordered path of top-level states from an execution's history.
pub fn analyse(record: &ExecutionRecord) -> (BTreeMap<String, StateStats>, Vec<String>) {
    analyse_history(&record.execution.history)
}

/// [`analyse`] of a history alone (`mdlc serve`'s executions, whose records are its own).
pub fn analyse_history(history: &[HistoryEvent]) -> (BTreeMap<String, StateStats>, Vec<String>) {
    let mut stats: BTreeMap<String, StateStats> = BTreeMap::new();
    let mut path = Vec::new();
    let mut open: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut current: Option<String> = None;
    for event in history {
        let name = event.details.get("name").and_then(Value::as_str);
        let at = DateTime::parse_from_rfc3339(&event.timestamp)
            .ok()
            .map(|t| t.with_timezone(&Utc));
        if event.event_type.ends_with("StateEntered") {
            if let Some(name) = name {
                let s = stats.entry(name.to_string()).or_default();
                s.visits += 1;
                s.unfinished = true;
                if let Some(at) = at {
                    open.insert(name.to_string(), at);
                }
                path.push(name.to_string());
                current = Some(name.to_string());
            }
        } else if event.event_type.ends_with("StateExited") {
            if let Some(name) = name {
                let s = stats.entry(name.to_string()).or_default();
                s.unfinished = false;
                if let (Some(start), Some(end)) = (open.remove(name), at) {
                    s.millis += (end - start).num_milliseconds().max(0);
                }
            }
        } else if (event.event_type.ends_with("Failed") || event.event_type.ends_with("TimedOut"))
            && !event.event_type.starts_with("Execution")
            && let Some(cur) = &current
        {
            stats.entry(cur.clone()).or_default().failures += 1;
        }
    }
    (stats, path)
}

#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    catch: bool,
    label: Option<String>,
}

fn edges_of(states: &serde_json::Map<String, Value>) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (name, state) in states {
        let mut push = |to: &Value, catch: bool, label: Option<String>| {
            if let Some(to) = to.as_str() {
                edges.push(Edge {
                    from: name.clone(),
                    to: to.to_string(),
                    catch,
                    label,
                });
            }
        };
        if let Some(next) = state.get("Next") {
            push(next, false, None);
        }
        if let Some(choices) = state.get("Choices").and_then(Value::as_array) {
            for c in choices {
                if let Some(n) = c.get("Next") {
                    push(n, false, None);
                }
            }
        }
        if let Some(d) = state.get("Default") {
            push(d, false, Some("default".into()));
        }
        if let Some(catches) = state.get("Catch").and_then(Value::as_array) {
            for c in catches {
                let label = c.get("ErrorEquals").and_then(Value::as_array).map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                });
                if let Some(n) = c.get("Next") {
                    push(n, true, label);
                }
            }
        }
    }
    edges
}

/// The state graph of `definition` as SVG, with `stats`/`path` of one execution highlighted:
/// a layered layout ([`layout`]) in which no two edges overlap. `id` makes the arrow markers'
/// ids unique in a page of several graphs. A state entered and not left is marked failed (where
/// an ended execution stopped); see [`execution_graph_svg`] for a running one.
pub fn state_graph_svg(
    definition: &Value,
    stats: &BTreeMap<String, StateStats>,
    path: &[String],
    id: usize,
) -> String {
    execution_graph_svg(definition, stats, path, id, false)
}

/// [`state_graph_svg`]; when `running`, a state entered and not left is the execution's current
/// state (class `node current`) rather than where it failed. Every state's group carries its
/// name in `data-state`.
pub fn execution_graph_svg(
    definition: &Value,
    stats: &BTreeMap<String, StateStats>,
    path: &[String],
    id: usize,
    running: bool,
) -> String {
    let Some(states) = definition.get("States").and_then(Value::as_object) else {
        return "<p>(definition has no States)</p>".to_string();
    };
    let names: Vec<&String> = states.keys().collect();
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let start = definition
        .get("StartAt")
        .and_then(Value::as_str)
        .and_then(|s| index.get(s).copied());
    let edges: Vec<Edge> = edges_of(states)
        .into_iter()
        .filter(|e| index.contains_key(e.to.as_str()))
        .collect();
    let pairs: Vec<(usize, usize)> = edges
        .iter()
        .map(|e| (index[e.from.as_str()], index[e.to.as_str()]))
        .collect();
    let placed = match layout::layout(names.len(), start, &pairs) {
        Ok(placed) => placed,
        Err(e) => return format!("<p class=\"muted\">({})</p>", escape(&e.to_string())),
    };
    let taken: HashSet<(String, String)> = path
        .windows(2)
        .filter(|w| states.contains_key(&w[0]) && states.contains_key(&w[1]))
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect();

    let (width, height) = (placed.width, placed.height);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img">"#
    );
    let _ = write!(
        svg,
        r##"<defs><marker id="arrow-{id}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a6"/></marker><marker id="arrow-taken-{id}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f6feb"/></marker></defs>"##
    );
    // Taken edges last, so they are drawn over the others where they cross.
    let mut drawn: Vec<(usize, bool)> = edges
        .iter()
        .enumerate()
        .map(|(i, e)| (i, taken.contains(&(e.from.clone(), e.to.clone()))))
        .collect();
    drawn.sort_by_key(|&(i, is_taken)| (is_taken, i));
    for (i, is_taken) in drawn {
        let e = &edges[i];
        let points = &placed.edges[i];
        if points.len() < 2 {
            continue;
        }
        let d: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(k, (x, y))| format!("{}{x:.1},{y:.1}", if k == 0 { 'M' } else { 'L' }))
            .collect();
        let class = match (is_taken, e.catch) {
            (true, _) => "edge taken",
            (false, true) => "edge catch",
            (false, false) => "edge",
        };
        let marker = if is_taken { "arrow-taken" } else { "arrow" };
        let title = match &e.label {
            Some(l) => format!("{} → {} ({})", e.from, e.to, l),
            None => format!("{} → {}", e.from, e.to),
        };
        let _ = write!(
            svg,
            r#"<path class="{class}" d="{}" marker-end="url(#{marker}-{id})"><title>{}</title></path>"#,
            d.join(" "),
            escape(&title)
        );
    }
    for (i, name) in names.iter().enumerate() {
        let state = &states[name.as_str()];
        let layout::Rect { x, y, w, h } = placed.nodes[i];
        let kind = state.get("Type").and_then(Value::as_str).unwrap_or("?");
        let st = stats.get(name.as_str());
        let class = match st {
            Some(s) if running && s.unfinished => "node current",
            Some(s) if s.unfinished || (kind == "Fail" && s.visits > 0) => "node failed",
            Some(s) if s.visits > 0 => "node visited",
            _ => "node",
        };
        let detail = match st {
            Some(s) if s.visits > 0 => {
                let mut d = format!("{kind} · {}", format_millis(s.millis));
                if s.visits > 1 {
                    let _ = write!(d, " · ×{}", s.visits);
                }
                if s.failures > 0 {
                    let _ = write!(d, " · {} failed", s.failures);
                }
                d
            }
            _ => kind.to_string(),
        };
        let label: String = if name.chars().count() > 26 {
            name.chars().take(25).chain(std::iter::once('…')).collect()
        } else {
            name.to_string()
        };
        let _ = write!(
            svg,
            r#"<g class="{class}" data-state="{}"><title>{}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="8"/><text x="{:.1}" y="{:.1}" class="name">{}</text><text x="{:.1}" y="{:.1}" class="detail">{}</text></g>"#,
            escape(name),
            escape(name),
            x + w / 2.0,
            y + 19.0,
            escape(&label),
            x + w / 2.0,
            y + 36.0,
            escape(&detail)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// What the graphs' colours and lines mean: the beginning, up to the failed state's swatch.
const GRAPH_KEY_START: &str = concat!(
    r#"<p class="muted key">"#,
    r#"<svg class="key-swatch" width="30" height="10"><path class="edge taken" d="M2,5 L28,5"/></svg> path taken "#,
    r#"<svg class="key-swatch" width="30" height="10"><path class="edge" d="M2,5 L28,5"/></svg> transition "#,
    r#"<svg class="key-swatch" width="30" height="10"><path class="edge catch" d="M2,5 L28,5"/></svg> Catch "#,
    r#"<svg class="key-swatch" width="18" height="14"><g class="node visited"><rect x="1" y="1" width="16" height="12" rx="3"/></g></svg> state run "#,
    r#"<svg class="key-swatch" width="18" height="14"><g class="node failed"><rect x="1" y="1" width="16" height="12" rx="3"/></g></svg> state failed "#,
);
/// The swatch of a running execution's current state ([`execution_graph_svg`]).
const GRAPH_KEY_CURRENT: &str = r#"<svg class="key-swatch" width="18" height="14"><g class="node current"><rect x="1" y="1" width="16" height="12" rx="3"/></g></svg> current state "#;
const GRAPH_KEY_END: &str = concat!(
    r#"<svg class="key-swatch" width="18" height="14"><g class="node"><rect x="1" y="1" width="16" height="12" rx="3"/></g></svg> not run. "#,
    "Edges going up are loops back to an earlier state; hover over a state or an edge for its name.</p>",
);

/// What the graphs' colours and lines mean; `with_current`: also the current state of a running
/// execution.
pub fn graph_key(with_current: bool) -> String {
    let current = if with_current { GRAPH_KEY_CURRENT } else { "" };
    format!("{GRAPH_KEY_START}{current}{GRAPH_KEY_END}")
}

/// `1.234 s`, `56 ms`.
pub fn format_millis(ms: i64) -> String {
    if ms >= 1000 {
        format!("{:.2} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

fn duration_ms(record: &ExecutionRecord) -> i64 {
    match (
        DateTime::parse_from_rfc3339(&record.started_at),
        DateTime::parse_from_rfc3339(&record.stopped_at),
    ) {
        (Ok(a), Ok(b)) => (b - a).num_milliseconds().max(0),
        _ => 0,
    }
}

/// Feature drift: the heat map of every feature's PSI per evaluation.
fn drift_section(evaluations: &[EvaluationRecord]) -> String {
    let mut html = String::from("<h3>Feature drift</h3>");
    if evaluations.iter().all(|e| e.drift.is_none()) {
        html.push_str("<p class=\"muted\">No evaluation measured drift (the versions have no data profile: train with preprocessing, or give data.evaluation.profile).</p>");
        return html;
    }
    html.push_str("<p class=\"muted\">Population stability index of each feature of the evaluated batch against the data profile of the evaluated version's training data: below 0.1 stable, below 0.25 moderate, otherwise significant.</p><div class=\"scroll\">");
    html.push_str(&charts::drift_heatmap(evaluations));
    html.push_str("</div>");
    html
}

/// The report's style sheet (also `mdlc serve`'s dashboard's).
pub const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.drift-stable{color:#1a7f37}.drift-moderate{color:#9a6700;font-weight:600}.drift-significant{color:#d1242f;font-weight:600}
.status-SUCCEEDED{color:#1a7f37;font-weight:600}.status-FAILED,.status-TIMED_OUT,.status-ABORTED{color:#d1242f;font-weight:600}
.node rect{fill:#f6f8fa;stroke:#8c959f;stroke-width:1}
.node.visited rect{fill:#dafbe1;stroke:#1a7f37;stroke-width:2}
.node.failed rect{fill:#ffebe9;stroke:#d1242f;stroke-width:2}
.node.current rect{fill:#ddf4ff;stroke:#0969da;stroke-width:3}
.graph text{text-anchor:middle;font-size:12px}.graph text.name{font-weight:600}.graph text.detail{fill:#57606a;font-size:11px}
.edge{fill:none;stroke:#8a94a6;stroke-width:1.2;stroke-linejoin:round}
.edge.catch{stroke-dasharray:4 3;stroke:#cf8d8d}
.edge.taken{stroke:#1f6feb;stroke-width:2.6}
.chart,.heatmap{margin:4px 16px 12px 0;vertical-align:top}
.chart .axis{stroke:#8c959f}.chart .grid{stroke:#eaeef2}
.chart .series{fill:none;stroke-width:2.2;stroke-linejoin:round}
.chart .point{stroke:#fff;stroke-width:1.5}.chart .point.retrain{stroke:#d1242f;stroke-width:2.5}
.chart text,.heatmap text{font-size:11px;fill:#1f2328}.chart .title{font-weight:600;font-size:14px}
.chart .tick.y{text-anchor:end}.chart .tick.x,.heatmap .tick.x{text-anchor:middle}.chart .date{fill:#57606a;font-size:10px}
.chart .axis-label{fill:#57606a;font-size:11px;text-anchor:middle}
.heatmap .col{text-anchor:middle}.heatmap .col.date{fill:#57606a;font-size:10px}.heatmap .row{text-anchor:end}
.heatmap .psi{text-anchor:middle;font-size:10px;fill:#1f2328}.heatmap .psi.light{fill:#fff}
.heatmap .cell.missing rect,.heatmap .cell-missing-swatch{fill:#eaeef2}
.heatmap .axis{stroke:#57606a}.heatmap .scale{stroke:#8c959f;stroke-width:.5}.heatmap .band{text-anchor:middle;font-size:10px}
.heatmap .legend-title{font-weight:600}
.heatmap text.drift-stable{fill:#1a7f37}.heatmap text.drift-moderate{fill:#9a6700}.heatmap text.drift-significant{fill:#d1242f}.heatmap text.drift-not-measured{fill:#57606a}
.scroll{overflow-x:auto}
.muted{color:#57606a;font-size:12px}
.key svg{vertical-align:middle;margin-left:8px}
pre{background:#f6f8fa;padding:8px;white-space:pre-wrap;font-size:12px}
"#;

/// The table of a model's versions (or a line saying there is none).
pub fn versions_table(versions: &[ModelVersion]) -> String {
    let mut html = String::new();
    if versions.is_empty() {
        html.push_str("<p>No version registered.</p>");
    } else {
        html.push_str("<table><tr><th>model</th><th>version</th><th>status</th><th>objective</th><th>data date</th><th>parent</th><th>reason</th><th>training job</th><th>data profile</th><th>created</th></tr>");
        for v in versions {
            let objective = match (&v.record.objective_metric, v.record.objective_value) {
                (Some(m), Some(x)) => format!("{m} = {}", format_value(x)),
                (None, Some(x)) => format_value(x),
                _ => "—".into(),
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&v.record.model_name),
                v.version,
                v.status.as_str(),
                escape(&objective),
                escape(&v.record.data_date),
                v.record
                    .parent_version
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "—".into()),
                escape(&v.record.reason),
                escape(&v.record.training_job_name),
                escape(v.record.profile_uri.as_deref().unwrap_or("—")),
                escape(&v.record.created_at)
            );
        }
        html.push_str("</table>");
    }
    html
}

/// The table of a model's evaluations, a chart per metric (a line per version) and the drift
/// heat map (or a line saying there is no evaluation).
pub fn evaluations_section(evaluations: &[EvaluationRecord]) -> String {
    let mut html = String::new();
    if evaluations.is_empty() {
        html.push_str("<p>No evaluation recorded.</p>");
    } else {
        let metrics: Vec<String> = evaluations
            .iter()
            .flat_map(|e| e.metrics.keys().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        html.push_str("<table><tr><th>#</th><th>version</th><th>data date</th>");
        for m in &metrics {
            let _ = write!(html, "<th>{}</th>", escape(m));
        }
        html.push_str("<th>retrain</th><th>reason</th></tr>");
        for (i, e) in evaluations.iter().enumerate() {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td>",
                i + 1,
                e.version,
                escape(&e.data_date)
            );
            for m in &metrics {
                let cell = e
                    .metrics
                    .get(m)
                    .map(|v| format_value(*v))
                    .unwrap_or_default();
                let _ = write!(html, "<td>{cell}</td>");
            }
            let retrain = match e.retrain {
                Some(true) => "yes",
                Some(false) => "no",
                None => "—",
            };
            let _ = write!(
                html,
                "<td>{retrain}</td><td>{}</td></tr>",
                escape(e.reason.as_deref().unwrap_or(""))
            );
        }
        html.push_str("</table><div class=\"scroll\">");
        for m in &metrics {
            html.push_str(&charts::metric_chart(m, evaluations));
        }
        html.push_str("</div>");
        html.push_str(&drift_section(evaluations));
    }
    html
}

/// The whole page.
pub fn render_html(input: &ReportInput<'_>) -> String {
    render_html_with_events(input, &[])
}

/// [`render_html`] with the event log's section (docs/events.md) at the end.
pub fn render_html_with_events(
    input: &ReportInput<'_>,
    events: &[crate::events::LoggedEvent],
) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        escape(input.title),
        escape(input.title)
    );
    let _ = write!(
        html,
        "<p class=\"muted\">Generated {} by the mdlc local cloud.</p>",
        Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );

    html.push_str("<h2>Model versions</h2>");
    html.push_str(&versions_table(input.versions));
    html.push_str("<h2>Evaluations and metric history</h2>");
    html.push_str(&evaluations_section(input.evaluations));

    // Executions.
    html.push_str("<h2>Executions</h2>");
    html.push_str("<table><tr><th>#</th><th>state machine</th><th>execution</th><th>status</th><th>duration</th><th>started by</th></tr>");
    for (i, r) in input.executions.iter().enumerate() {
        let status = r.execution.status.as_str();
        let _ = write!(
            html,
            "<tr><td><a href=\"#exec-{i}\">{}</a></td><td>{}</td><td>{}</td><td class=\"status-{status}\">{status}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            escape(&r.state_machine_name),
            escape(&r.name),
            format_millis(duration_ms(r)),
            escape(
                r.parent_arn
                    .as_deref()
                    .and_then(|p| p.rsplit(':').next())
                    .unwrap_or("—")
            )
        );
    }
    html.push_str("</table>");
    if !input.executions.is_empty() {
        html.push_str(&graph_key(false));
    }
    for (i, r) in input.executions.iter().enumerate() {
        let status = r.execution.status.as_str();
        let _ = write!(
            html,
            "<h3 id=\"exec-{i}\">{}. {} · {} · <span class=\"status-{status}\">{status}</span> · {}</h3>",
            i + 1,
            escape(&r.state_machine_name),
            escape(&r.name),
            format_millis(duration_ms(r))
        );
        if let (Some(e), Some(c)) = (&r.execution.error, &r.execution.cause) {
            let _ = write!(html, "<pre>{}: {}</pre>", escape(e), escape(c));
        }
        let (stats, path) = analyse(r);
        match input.definitions.get(&r.state_machine_name) {
            Some(def) => {
                let _ = write!(
                    html,
                    "<div class=\"scroll\">{}</div>",
                    state_graph_svg(def, &stats, &path, i)
                );
            }
            None => html.push_str("<p class=\"muted\">(definition not available)</p>"),
        }
        if !stats.is_empty() {
            html.push_str("<table><tr><th>state</th><th>visits</th><th>time</th><th>failed attempts</th></tr>");
            let mut seen = HashSet::new();
            for name in &path {
                if !seen.insert(name.clone()) {
                    continue;
                }
                if let Some(s) = stats.get(name) {
                    let _ = write!(
                        html,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(name),
                        s.visits,
                        format_millis(s.millis),
                        s.failures
                    );
                }
            }
            html.push_str("</table>");
        }
    }
    html.push_str(&events::events_section(events));
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdlc_asl::{Execution, ExecutionStatus, HistoryEvent};
    use serde_json::json;

    fn event(id: u64, t: &str, kind: &str, name: Option<&str>) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: format!("2026-01-01T00:00:{t}Z"),
            event_type: kind.into(),
            details: match name {
                Some(n) => json!({"name": n}),
                None => json!({}),
            },
        }
    }

    fn record() -> ExecutionRecord {
        ExecutionRecord {
            state_machine_name: "m".into(),
            state_machine_arn: "arn:m".into(),
            name: "e<1>".into(),
            arn: "arn:e".into(),
            parent_arn: None,
            input: json!({}),
            started_at: "2026-01-01T00:00:00Z".into(),
            stopped_at: "2026-01-01T00:00:05Z".into(),
            execution: Execution {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some("Boom".into()),
                cause: Some("x".into()),
                history: vec![
                    event(1, "00", "ExecutionStarted", None),
                    event(2, "00", "TaskStateEntered", Some("A")),
                    event(3, "01", "TaskFailed", None),
                    event(4, "02", "TaskSucceeded", None),
                    event(5, "02", "TaskStateExited", Some("A")),
                    event(6, "02", "ChoiceStateEntered", Some("C")),
                    event(7, "02", "ChoiceStateExited", Some("C")),
                    event(8, "03", "FailStateEntered", Some("F")),
                    event(9, "03", "ExecutionFailed", None),
                ],
            },
        }
    }

    #[test]
    fn given_a_history_when_analysed_then_durations_visits_failures_and_path() {
        let (stats, path) = analyse(&record());
        assert_eq!(path, vec!["A", "C", "F"]);
        assert_eq!(stats["A"].millis, 2000);
        assert_eq!(stats["A"].failures, 1);
        assert!(!stats["A"].unfinished);
        assert!(stats["F"].unfinished);
    }

    #[test]
    fn given_a_definition_when_rendered_then_taken_edges_and_states_are_marked() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Next": "C", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "A"}], "Default": "F"},
            "F": {"Type": "Fail"},
            "Orphan": {"Type": "Pass", "End": true}}});
        let (stats, path) = analyse(&record());
        let svg = state_graph_svg(&def, &stats, &path, 7);
        assert!(svg.contains("<marker id=\"arrow-7\"") && svg.contains("url(#arrow-taken-7)"));
        assert_eq!(svg.matches("class=\"edge taken\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("class=\"edge catch\"").count(), 1);
        assert!(svg.contains("node visited"));
        assert!(svg.contains("node failed"));
        assert!(svg.contains(">Orphan<"));
        assert!(svg.contains("Task · 2.00 s · 1 failed"), "{svg}");
    }

    #[test]
    fn given_a_running_execution_when_rendered_then_the_state_entered_and_not_left_is_current() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Task", "Resource": "r", "Next": "C"},
            "C": {"Type": "Succeed"}}});
        let history = [
            event(1, "00", "ExecutionStarted", None),
            event(2, "00", "PassStateEntered", Some("A")),
            event(3, "01", "PassStateExited", Some("A")),
            event(4, "01", "TaskStateEntered", Some("B")),
        ];
        let (stats, path) = analyse_history(&history);
        assert_eq!(path, vec!["A", "B"]);
        let live = execution_graph_svg(&def, &stats, &path, 0, true);
        assert!(
            live.contains(r#"<g class="node visited" data-state="A">"#),
            "{live}"
        );
        assert!(
            live.contains(r#"<g class="node current" data-state="B">"#),
            "{live}"
        );
        assert!(
            live.contains(r#"<g class="node" data-state="C">"#),
            "{live}"
        );
        let ended = execution_graph_svg(&def, &stats, &path, 0, false);
        assert!(
            ended.contains(r#"<g class="node failed" data-state="B">"#),
            "{ended}"
        );
        assert_eq!(ended, state_graph_svg(&def, &stats, &path, 0));
        assert!(graph_key(true).contains(r#"<g class="node current">"#));
        assert!(!graph_key(false).contains("current"));
    }

    #[test]
    fn given_records_when_page_rendered_then_escaped_and_self_contained() {
        let defs = BTreeMap::from([(
            "m".to_string(),
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
        )]);
        let eval = EvaluationRecord {
            model_name: "m".into(),
            version: 1,
            evaluated_at: "2026-01-01T00:00:00Z".into(),
            execution_arn: "x".into(),
            data_date: "2026-01-01".into(),
            metrics: BTreeMap::from([("rmse".to_string(), 1.5)]),
            retrain: Some(false),
            reason: Some("rmse <= threshold".into()),
            drift: None,
        };
        let mut drifted = eval.clone();
        drifted.data_date = "2026-01-02".into();
        drifted.drift = Some(mdlc_core::contract::sample_drift());
        drifted.drift.as_mut().unwrap().features[1].feature = "<f1>".into();
        let records = [record()];
        let html = render_html(&ReportInput {
            title: "Demo <report>",
            executions: &records,
            definitions: &defs,
            versions: &[],
            evaluations: &[eval, drifted],
        });
        // The drift heat map: features × evaluations, the evaluation without drift grey.
        assert!(html.contains("<h3>Feature drift</h3>"), "{html}");
        assert_eq!(
            html.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\"")
                .count(),
            1
        );
        assert!(
            html.contains(
                r#"<g class="cell" data-feature="f0" data-evaluation="2" data-psi="0.016">"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<g class="cell missing" data-feature="f0" data-evaluation="1">"#));
        assert!(html.contains(r#"data-feature="&lt;f1&gt;" data-evaluation="2""#));
        // The metric history: one line for the one version evaluated.
        assert_eq!(
            html.matches("<polyline class=\"series\" data-version=\"1\"")
                .count(),
            1
        );
        assert!(html.contains("Demo &lt;report&gt;"));
        assert!(html.contains("e&lt;1&gt;"));
        assert!(html.contains("rmse &lt;= threshold"));
        assert!(html.contains("<svg"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\"http"));
    }
}
