//! Progress on the terminal: an [`ExecutionObserver`] that prints each state as it is entered and
//! left, with its duration, and each task failure (retries show up as repeated entries).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use mdlc_asl::{ExecutionObserver, HistoryEvent};
use serde_json::Value;

/// Prints progress lines to stderr (or collects them, for tests).
pub struct ProgressObserver {
    started: Mutex<HashMap<String, Instant>>,
    sink: Mutex<Sink>,
}

enum Sink {
    Stderr,
    Lines(Vec<String>),
}

impl Default for ProgressObserver {
    fn default() -> Self {
        Self::stderr()
    }
}

impl ProgressObserver {
    /// Writes to stderr.
    pub fn stderr() -> Self {
        ProgressObserver {
            started: Mutex::new(HashMap::new()),
            sink: Mutex::new(Sink::Stderr),
        }
    }

    /// Keeps the lines in memory (see [`ProgressObserver::lines`]).
    pub fn collecting() -> Self {
        ProgressObserver {
            started: Mutex::new(HashMap::new()),
            sink: Mutex::new(Sink::Lines(Vec::new())),
        }
    }

    /// The collected lines (empty for stderr).
    pub fn lines(&self) -> Vec<String> {
        match self.sink.lock().as_deref() {
            Ok(Sink::Lines(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    fn emit(&self, line: String) {
        if let Ok(mut sink) = self.sink.lock() {
            match &mut *sink {
                Sink::Stderr => {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
                Sink::Lines(lines) => lines.push(line),
            }
        }
    }
}

/// One progress line for `event`, or `None` for events not worth a line.
pub fn describe(event: &HistoryEvent, elapsed: Option<f64>) -> Option<String> {
    let name = event.details.get("name").and_then(Value::as_str);
    let kind = event.event_type.as_str();
    if let Some(state_kind) = kind.strip_suffix("StateEntered") {
        let name = name?;
        return match state_kind {
            "Task" | "Map" | "Parallel" => Some(format!("  ▸ {name}")),
            _ => None,
        };
    }
    if kind.ends_with("StateExited") {
        let name = name?;
        let secs = elapsed?;
        return (secs >= 0.05).then(|| format!("  ✓ {name} ({secs:.1} s)"));
    }
    match kind {
        "ExecutionStarted" => None,
        "ExecutionSucceeded" => Some("  ● execution succeeded".into()),
        "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted" => {
            let error = event
                .details
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("");
            Some(format!(
                "  ✗ execution {}: {error}",
                kind.trim_start_matches("Execution").to_lowercase()
            ))
        }
        k if k.ends_with("Failed") || k.ends_with("TimedOut") => {
            let error = event
                .details
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("error");
            Some(format!("    ! {k}: {error}"))
        }
        _ => None,
    }
}

impl ExecutionObserver for ProgressObserver {
    fn on_event(&self, event: &HistoryEvent) {
        let name = event
            .details
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut elapsed = None;
        if let (Some(name), Ok(mut started)) = (name, self.started.lock()) {
            if event.event_type.ends_with("StateEntered") {
                started.insert(name, Instant::now());
            } else if event.event_type.ends_with("StateExited") {
                elapsed = started.remove(&name).map(|t| t.elapsed().as_secs_f64());
            }
        }
        if let Some(line) = describe(event, elapsed) {
            self.emit(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: &str, details: Value) -> HistoryEvent {
        HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp: "2026-01-01T00:00:00Z".into(),
            event_type: kind.into(),
            details,
        }
    }

    #[test]
    fn given_events_when_observed_then_task_lines_and_failures_are_printed() {
        let p = ProgressObserver::collecting();
        p.on_event(&ev("TaskStateEntered", json!({"name": "Train"})));
        p.on_event(&ev("PassStateEntered", json!({"name": "Prepare"})));
        p.on_event(&ev(
            "TaskFailed",
            json!({"error": "SageMaker.ThrottlingException"}),
        ));
        p.on_event(&ev("ExecutionFailed", json!({"error": "Boom"})));
        assert_eq!(
            p.lines(),
            vec![
                "  ▸ Train",
                "    ! TaskFailed: SageMaker.ThrottlingException",
                "  ✗ execution failed: Boom"
            ]
        );
    }

    #[test]
    fn given_a_long_state_when_exited_then_duration_shown() {
        let line = describe(&ev("TaskStateExited", json!({"name": "Tune"})), Some(2.25));
        assert_eq!(line.as_deref(), Some("  ✓ Tune (2.2 s)"));
        assert_eq!(
            describe(&ev("TaskStateExited", json!({"name": "Tune"})), Some(0.01)),
            None
        );
    }
}
