//! The local event bus: the events the local cloud publishes (docs/events.md), appended to
//! `<state-dir>/events.jsonl`, one EventBridge event per line (`version`, `id`, `detail-type`,
//! `source`, `account`, `time`, `region`, `resources`, `detail`: what a rule's target receives).
//!
//! Appends are atomic: each publication's lines are written with one write, under an exclusive
//! OS lock on the log (so concurrent processes never interleave) and synced before the lock is
//! released. A line cut short by a crash (no final newline) is never built on: the next append
//! first cuts the log back to its last whole line, and reading ignores such a tail. Entries are
//! checked as PutEvents checks them; nothing of a publication with a refused entry is written.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use mdlc_core::PortError;
use mdlc_core::events::{self, Event};
use mdlc_core::ports::EventPublisher;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fsio::io_error;
use crate::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};

/// The event log's file name in the state directory.
pub const EVENT_LOG_FILE: &str = "events.jsonl";

/// One logged event, as EventBridge delivers it to a rule's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    pub version: String,
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub time: String,
    pub region: String,
    pub resources: Vec<String>,
    pub detail: Value,
}

impl LoggedEvent {
    /// The event as EventBridge would deliver `event` from the local account and region.
    pub fn of(event: &Event) -> Self {
        LoggedEvent {
            version: "0".into(),
            id: uuid::Uuid::new_v4().to_string(),
            detail_type: event.detail_type.clone(),
            source: event.source.clone(),
            account: LOCAL_ACCOUNT.into(),
            time: event.time.clone(),
            region: LOCAL_REGION.into(),
            resources: event.resources.clone(),
            detail: event.detail.clone(),
        }
    }
}

/// The event log of one state directory.
#[derive(Debug, Clone)]
pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    /// The log of `state_dir` (created on the first publication).
    pub fn new(state_dir: &Path) -> Self {
        EventLog {
            path: state_dir.join(EVENT_LOG_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every whole event in the log, oldest first (none when there is no log). A line that is
    /// not an event is `Corrupt`, naming its line number.
    pub fn read(&self) -> Result<Vec<LoggedEvent>, PortError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("reading", &self.path, e)),
        };
        let whole = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        whole
            .lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| PortError::Corrupt {
                    message: format!("{} line {}: {e}", self.path.display(), i + 1),
                })
            })
            .collect()
    }

    /// Appends `lines` (each ending in a newline) as one write under the log's lock.
    fn append(&self, lines: &[u8]) -> Result<(), PortError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| io_error("opening", &self.path, e))?;
        file.lock()
            .map_err(|e| io_error("locking", &self.path, e))?;
        let result = cut_torn_tail(&mut file)
            .and_then(|end| {
                file.seek(SeekFrom::Start(end))?;
                let written = file.write_all(lines).and_then(|()| file.sync_data());
                if written.is_err() {
                    // a full disk: no half event stays at the end of the log
                    let _ = file.set_len(end);
                }
                written
            })
            .map_err(|e| io_error("could not append events to", &self.path, e));
        let _ = file.unlock();
        result
    }
}

/// Cuts the file back to its last newline when its last line is incomplete; the length after.
fn cut_torn_tail(file: &mut std::fs::File) -> std::io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(0);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(len);
    }
    // Find the last newline, reading back in blocks.
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..n])?;
        if let Some(i) = block[..n].iter().rposition(|b| *b == b'\n') {
            let keep = start + i as u64 + 1;
            file.set_len(keep)?;
            return Ok(keep);
        }
        end = start;
    }
    file.set_len(0)?;
    Ok(0)
}

#[async_trait]
impl EventPublisher for EventLog {
    async fn publish(&self, published: &[Event]) -> Result<(), PortError> {
        events::batches(published)?;
        if published.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for event in published {
            serde_json::to_writer(&mut lines, &LoggedEvent::of(event)).map_err(|e| {
                PortError::Rejected {
                    message: format!("event {}: {e}", event.detail_type),
                }
            })?;
            lines.push(b'\n');
        }
        let log = self.clone();
        tokio::task::spawn_blocking(move || log.append(&lines))
            .await
            .map_err(|e| PortError::unavailable(format!("event log writer: {e}")))?
    }
}

/// The Step Functions optimized EventBridge integration.
pub const PUT_EVENTS_RESOURCE: &str = "arn:aws:states:::events:putEvents";
/// The error the integration fails with when PutEvents reports a failed entry.
pub const FAILED_ENTRY: &str = "EventBridge.FailedEntry";

/// Runs an `arn:aws:states:::events:putEvents` Task as Step Functions does: its `Entries`
/// ([`events::put_events_entries`]) are published, and the result is PutEvents' response. Any
/// refused entry fails the task with `EventBridge.FailedEntry` (the cause names the entry and
/// field).
pub async fn put_events_task(
    publisher: &dyn EventPublisher,
    parameters: &Value,
    context: &Value,
    time: &str,
) -> Result<Value, mdlc_asl::TaskFailure> {
    let failed = |cause: String| mdlc_asl::TaskFailure::new(FAILED_ENTRY, cause);
    let published = events::put_events_entries(parameters, context, time).map_err(failed)?;
    publisher
        .publish(&published)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let ids: Vec<Value> = published
        .iter()
        .map(|_| serde_json::json!({"EventId": uuid::Uuid::new_v4().to_string()}))
        .collect();
    Ok(serde_json::json!({"Entries": ids, "FailedEntryCount": 0}))
}
