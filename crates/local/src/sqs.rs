//! The local SQS stand-in: the Step Functions optimized integration
//! `arn:aws:states:::sqs:sendMessage[.waitForTaskToken]` on queues kept in the state directory.
//!
//! A queue is named by its `QueueUrl`: `http(s)://<host>/<account>/<name>` (the host is not
//! looked at, so `https://sqs.us-east-1.amazonaws.com/123456789012/q` and
//! `http://localhost:4566/123456789012/q` are the same queue). There is no CreateQueue: a queue
//! exists from its first message on. Its messages are the file
//! `<state-dir>/sqs/<account>/<name>.json`, `{"QueueUrl", "Messages": [...]}`, every message in
//! ReceiveMessage's shape (`MessageId`, `MD5OfBody`, `Body`, `Attributes.SentTimestamp`, and
//! `MessageAttributes` when sent with some). Each send rewrites the file atomically (write,
//! sync, rename) under an exclusive OS lock on `<name>.json.lock`, so concurrent sends from any
//! number of processes all land. Nothing receives or deletes messages: the file is for tests and
//! users to read.
//!
//! The parameters are checked as SQS checks them, and a refusal fails the Task as Step Functions
//! reports an SQS error of this integration: error `SQS.AmazonSQSException`, the cause SQS's
//! message followed by `(Service: AmazonSQS; Status Code: 400; Error Code: <code>; Request ID:
//! <id>; Proxy: null)` (the AWS SDK for Java's form of a service error, which the causes of
//! Step Functions' optimized integrations carry).

use std::io::Read;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use mdlc_asl::TaskFailure;
use mdlc_core::PortError;
use serde_json::{Map, Value, json};

use crate::fsio::{io_error, lock_file, replace_file};

/// The optimized integration's request-response resource.
pub const SEND_MESSAGE: &str = "arn:aws:states:::sqs:sendMessage";
/// The optimized integration's callback resource.
pub const SEND_MESSAGE_CALLBACK: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
/// The queues' directory in the state directory.
pub const SQS_DIR: &str = "sqs";
/// The largest message body SQS takes by default: 256 KiB (a queue's default
/// `MaximumMessageSize`, and the most a Step Functions task may send to a service).
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// The error Step Functions reports for an SQS service error of this integration.
pub const AMAZON_SQS_EXCEPTION: &str = "SQS.AmazonSQSException";

/// Why SQS refuses a SendMessage request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqsError {
    /// SQS's error code `MissingParameter` (a required parameter is not supplied). SQS's exact
    /// message for it is not documented; this sentence is ours.
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(&'static str),
    /// SQS's error code `InvalidParameterValue` for a body over the limit, with SQS's message.
    #[error(
        "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes."
    )]
    MessageTooLong,
    /// SQS's error code `InvalidParameterValue` for a parameter of the wrong type (our sentence:
    /// Step Functions' wording for this is not documented).
    #[error("Value for parameter {0} is invalid. Reason: {1}")]
    InvalidParameterValue(&'static str, String),
    /// SQS's error code `AWS.SimpleQueueService.NonExistentQueue` with SQS's message, followed by
    /// why the local cloud has no such queue.
    #[error(
        "The specified queue does not exist or you do not have access to it. (local cloud: {0})"
    )]
    NonExistentQueue(String),
}

impl SqsError {
    /// SQS's error code.
    pub fn code(&self) -> &'static str {
        match self {
            SqsError::MissingParameter(_) => "MissingParameter",
            SqsError::MessageTooLong | SqsError::InvalidParameterValue(..) => {
                "InvalidParameterValue"
            }
            SqsError::NonExistentQueue(_) => "AWS.SimpleQueueService.NonExistentQueue",
        }
    }

    /// The Task failure Step Functions reports for it.
    pub fn task_failure(&self) -> TaskFailure {
        TaskFailure::new(
            AMAZON_SQS_EXCEPTION,
            format!(
                "{self} (Service: AmazonSQS; Status Code: 400; Error Code: {}; Request ID: {}; Proxy: null)",
                self.code(),
                uuid::Uuid::new_v4()
            ),
        )
    }
}

/// A queue named by a `QueueUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRef {
    pub account: String,
    pub name: String,
}

impl QueueRef {
    /// The queue of `http(s)://<host>/<account>/<name>`. The name follows SQS's rule (1 to 80
    /// letters, digits, hyphens and underscores; a FIFO queue's ends in `.fifo`, counted in the
    /// 80); the account is letters, digits, `-`, `_`, `{`, `}` (so documentation placeholders
    /// such as `account-id` work).
    pub fn parse(url: &str) -> Result<Self, SqsError> {
        let no = |why: &str| SqsError::NonExistentQueue(format!("QueueUrl {url:?} {why}"));
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| no("is not an http(s) URL"))?;
        let mut parts = rest.split('/');
        let host = parts.next().unwrap_or_default();
        let (Some(account), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(no(
                "is not of the form http(s)://<host>/<account>/<queue name>",
            ));
        };
        if host.is_empty() {
            return Err(no("has no host"));
        }
        if account.is_empty()
            || !account
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_{}".contains(c))
        {
            return Err(no("has an invalid account"));
        }
        let base = name.strip_suffix(".fifo").unwrap_or(name);
        if base.is_empty()
            || name.len() > 80
            || !base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(no(
                "has an invalid queue name (1 to 80 letters, digits, hyphens and underscores, FIFO queues ending in .fifo)",
            ));
        }
        Ok(QueueRef {
            account: account.to_string(),
            name: name.to_string(),
        })
    }

    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }
}

/// The MD5 of `body` as SQS reports it (`MD5OfMessageBody`): lower-case hex.
pub fn md5_hex(body: &str) -> String {
    format!("{:x}", Md5::digest(body.as_bytes()))
}

/// A checked SendMessage request.
#[derive(Debug, Clone, PartialEq)]
pub struct SendMessage {
    pub queue_url: String,
    pub queue: QueueRef,
    pub body: String,
    pub message_attributes: Option<Value>,
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
    pub delay_seconds: Option<u64>,
}

impl SendMessage {
    /// The request of a Task's `parameters`, checked as SQS checks it. A `MessageBody` that is
    /// not a string is sent as its JSON text, as Step Functions does.
    pub fn from_parameters(parameters: &Value) -> Result<Self, SqsError> {
        let string = |name: &'static str| -> Result<Option<String>, SqsError> {
            match parameters.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(SqsError::InvalidParameterValue(
                    name,
                    format!("a string is expected, not {other}"),
                )),
            }
        };
        let queue_url = string("QueueUrl")?
            .filter(|u| !u.is_empty())
            .ok_or(SqsError::MissingParameter("QueueUrl"))?;
        let body = match parameters.get("MessageBody") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
        // SQS's minimum is one character; its error code for an empty body is not documented.
        .filter(|b| !b.is_empty())
        .ok_or(SqsError::MissingParameter("MessageBody"))?;
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(SqsError::MessageTooLong);
        }
        let queue = QueueRef::parse(&queue_url)?;
        let message_group_id = string("MessageGroupId")?;
        if queue.is_fifo() && message_group_id.is_none() {
            return Err(SqsError::MissingParameter("MessageGroupId"));
        }
        let delay_seconds = match parameters.get("DelaySeconds") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|d| *d <= 900).ok_or_else(|| {
                SqsError::InvalidParameterValue(
                    "DelaySeconds",
                    format!("an integer from 0 to 900 is expected, not {v}"),
                )
            })?),
        };
        let message_attributes = match parameters.get("MessageAttributes") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(other) => {
                return Err(SqsError::InvalidParameterValue(
                    "MessageAttributes",
                    format!("an object is expected, not {other}"),
                ));
            }
        };
        Ok(SendMessage {
            queue_url,
            queue,
            body,
            message_attributes,
            message_group_id,
            message_deduplication_id: string("MessageDeduplicationId")?,
            delay_seconds,
        })
    }
}

/// The queues of one state directory.
#[derive(Debug, Clone)]
pub struct SqsQueues {
    dir: PathBuf,
}

impl SqsQueues {
    /// The queues under `dir` (`<state-dir>/sqs`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SqsQueues { dir: dir.into() }
    }

    /// The file of `queue`'s messages.
    pub fn path(&self, queue: &QueueRef) -> PathBuf {
        self.dir
            .join(&queue.account)
            .join(format!("{}.json", queue.name))
    }

    /// The messages of the queue named by `queue_url`, oldest first (none before its first
    /// message).
    pub fn messages(&self, queue_url: &str) -> Result<Vec<Value>, PortError> {
        let queue = QueueRef::parse(queue_url).map_err(|e| PortError::Rejected {
            message: e.to_string(),
        })?;
        let path = self.path(&queue);
        Ok(messages_of(&read_queue(&path)?))
    }

    /// Sends `request`: its message is appended to its queue. SendMessage's response as Step
    /// Functions returns it: `MessageId` and `MD5OfMessageBody` (AWS documents no other field
    /// of this integration's output; `MD5OfMessageAttributes` is not computed).
    pub fn send(&self, request: &SendMessage, sent_at_millis: i64) -> Result<Value, PortError> {
        let message_id = uuid::Uuid::new_v4().to_string();
        let md5 = md5_hex(&request.body);
        let mut attributes = Map::new();
        attributes.insert("SentTimestamp".into(), sent_at_millis.to_string().into());
        if let Some(g) = &request.message_group_id {
            attributes.insert("MessageGroupId".into(), g.clone().into());
        }
        if let Some(d) = &request.message_deduplication_id {
            attributes.insert("MessageDeduplicationId".into(), d.clone().into());
        }
        if let Some(d) = request.delay_seconds {
            attributes.insert("DelaySeconds".into(), d.to_string().into());
        }
        let mut message = json!({
            "MessageId": message_id,
            "MD5OfBody": md5,
            "Body": request.body,
            "Attributes": attributes,
        });
        if let Some(a) = &request.message_attributes {
            message["MessageAttributes"] = a.clone();
        }
        self.append(&request.queue, &request.queue_url, message)?;
        Ok(json!({"MD5OfMessageBody": md5, "MessageId": message_id}))
    }

    /// Appends `message` to `queue`'s file: read, add, replace, under the queue's lock.
    fn append(&self, queue: &QueueRef, url: &str, message: Value) -> Result<(), PortError> {
        let path = self.path(queue);
        let dir = path.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| io_error("creating", &dir, e))?;
        let lock_path = dir.join(format!("{}.json.lock", queue.name));
        let lock = lock_file(&lock_path)?;
        let result = (|| {
            let mut doc = read_queue(&path)?;
            if doc.is_null() {
                doc = json!({"QueueUrl": url, "Messages": []});
            }
            match doc.get_mut("Messages").and_then(Value::as_array_mut) {
                Some(messages) => messages.push(message),
                None => {
                    return Err(PortError::Corrupt {
                        message: format!("{}: no Messages array", path.display()),
                    });
                }
            }
            let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| PortError::Rejected {
                message: format!("{}: {e}", path.display()),
            })?;
            replace_file(
                &format!("a message to queue {}", queue.name),
                &dir.join(format!("{}.json.tmp", queue.name)),
                &path,
                &bytes,
            )
        })();
        let _ = lock.unlock();
        result
    }
}

/// The queue file's document; `null` when there is none.
fn read_queue(path: &Path) -> Result<Value, PortError> {
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(mut f) => f
            .read_to_string(&mut text)
            .map_err(|e| io_error("reading", path, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Value::Null),
        Err(e) => return Err(io_error("opening", path, e)),
    };
    serde_json::from_str(&text).map_err(|e| PortError::Corrupt {
        message: format!("{}: {e}", path.display()),
    })
}

fn messages_of(doc: &Value) -> Vec<Value> {
    doc.get("Messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Runs an `arn:aws:states:::sqs:sendMessage[.waitForTaskToken]` Task: SendMessage's response,
/// or the Task failure SQS's refusal is in Step Functions. A queue file that cannot be written
/// fails the Task with `States.Runtime`, naming the file.
pub async fn send_message_task(
    queues: &SqsQueues,
    parameters: &Value,
    sent_at_millis: i64,
) -> Result<Value, TaskFailure> {
    let request = SendMessage::from_parameters(parameters).map_err(|e| e.task_failure())?;
    let queues = queues.clone();
    tokio::task::spawn_blocking(move || queues.send(&request, sent_at_millis))
        .await
        .map_err(|e| TaskFailure::new("States.Runtime", format!("SQS queue writer: {e}")))?
        .map_err(|e| TaskFailure::new("States.Runtime", format!("local SQS queue: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/mdlc-orders";

    fn send(queues: &SqsQueues, parameters: Value) -> Result<Value, TaskFailure> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(send_message_task(queues, &parameters, 1_700_000_000_000))
    }

    #[test]
    fn the_md5_of_a_known_body_is_rfc_1321s() {
        // RFC 1321's test suite: MD5("abc") and MD5("").
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn a_sent_message_is_persisted_and_answered_with_its_id_and_md5() {
        let dir = tempfile::tempdir().unwrap();
        let queues = SqsQueues::new(dir.path().join(SQS_DIR));
        let out = send(&queues, json!({"QueueUrl": URL, "MessageBody": "abc"})).unwrap();
        let id = out["MessageId"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{out}");
        assert_eq!(
            out,
            json!({"MD5OfMessageBody": "900150983cd24fb0d6963f7d28e17f72", "MessageId": id})
        );
        // an object body is sent as its JSON text; the same queue through another host
        let out2 = send(
            &queues,
            json!({"QueueUrl": "http://localhost:4566/123456789012/mdlc-orders", "MessageBody": {"a": 1}}),
        )
        .unwrap();
        let file = dir.path().join("sqs/123456789012/mdlc-orders.json");
        assert!(file.is_file());
        let messages = queues.messages(URL).unwrap();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0]["MessageId"], id);
        assert_eq!(messages[0]["Body"], "abc");
        assert_eq!(messages[0]["MD5OfBody"], "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(messages[0]["Attributes"]["SentTimestamp"], "1700000000000");
        assert_eq!(messages[1]["Body"], r#"{"a":1}"#);
        assert_eq!(messages[1]["MessageId"], out2["MessageId"]);
        assert_eq!(out2["MD5OfMessageBody"], md5_hex(r#"{"a":1}"#));
        // no temp or stray files besides the lock
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("sqs/123456789012"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["mdlc-orders.json", "mdlc-orders.json.lock"]);
    }

    #[test]
    fn a_body_of_256_kib_is_sent_and_one_byte_more_is_refused_as_sqs_does() {
        let dir = tempfile::tempdir().unwrap();
        let queues = SqsQueues::new(dir.path());
        let at_limit = "x".repeat(MAX_MESSAGE_BYTES);
        send(&queues, json!({"QueueUrl": URL, "MessageBody": at_limit})).unwrap();
        let over = "x".repeat(MAX_MESSAGE_BYTES + 1);
        let e = send(&queues, json!({"QueueUrl": URL, "MessageBody": over})).unwrap_err();
        assert_eq!(e.error, AMAZON_SQS_EXCEPTION);
        assert!(
            e.cause.starts_with(
                "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes. (Service: AmazonSQS; Status Code: 400; Error Code: InvalidParameterValue; Request ID: "
            ),
            "{}",
            e.cause
        );
        assert_eq!(queues.messages(URL).unwrap().len(), 1);
    }

    #[test]
    fn a_missing_queue_url_or_body_is_sqs_missing_parameter_and_sends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let queues = SqsQueues::new(dir.path());
        let e = send(&queues, json!({"MessageBody": "m"})).unwrap_err();
        assert_eq!(e.error, "SQS.AmazonSQSException");
        assert!(
            e.cause.contains("QueueUrl") && e.cause.contains("Error Code: MissingParameter;"),
            "{}",
            e.cause
        );
        let e = send(&queues, json!({"QueueUrl": URL})).unwrap_err();
        assert!(
            e.cause.contains("MessageBody") && e.cause.contains("Error Code: MissingParameter;"),
            "{}",
            e.cause
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_url_naming_no_queue_is_non_existent_queue() {
        let dir = tempfile::tempdir().unwrap();
        let queues = SqsQueues::new(dir.path());
        for url in [
            "sqs://x/1/q",
            "https://sqs.us-east-1.amazonaws.com/q",
            "https://sqs.us-east-1.amazonaws.com/1/../q",
            "https://sqs.us-east-1.amazonaws.com/../q",
            "https://sqs.us-east-1.amazonaws.com/1/a b",
        ] {
            let e = send(&queues, json!({"QueueUrl": url, "MessageBody": "m"})).unwrap_err();
            assert!(
                e.cause.starts_with(
                    "The specified queue does not exist or you do not have access to it."
                ) && e
                    .cause
                    .contains("Error Code: AWS.SimpleQueueService.NonExistentQueue;"),
                "{url}: {}",
                e.cause
            );
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_fifo_queue_needs_a_message_group_id() {
        let dir = tempfile::tempdir().unwrap();
        let queues = SqsQueues::new(dir.path());
        let url = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs.fifo";
        let e = send(&queues, json!({"QueueUrl": url, "MessageBody": "m"})).unwrap_err();
        assert!(e.cause.contains("MessageGroupId"), "{}", e.cause);
        send(
            &queues,
            json!({"QueueUrl": url, "MessageBody": "m", "MessageGroupId": "g"}),
        )
        .unwrap();
        assert_eq!(
            queues.messages(url).unwrap()[0]["Attributes"]["MessageGroupId"],
            "g"
        );
    }

    #[test]
    fn concurrent_sends_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let queues = SqsQueues::new(dir.path());
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let q = queues.clone();
                std::thread::spawn(move || {
                    let r = SendMessage::from_parameters(
                        &json!({"QueueUrl": URL, "MessageBody": format!("m{i}")}),
                    )
                    .unwrap();
                    q.send(&r, 0).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut bodies: Vec<_> = queues
            .messages(URL)
            .unwrap()
            .iter()
            .map(|m| m["Body"].as_str().unwrap().to_string())
            .collect();
        bodies.sort();
        assert_eq!(bodies, (0..8).map(|i| format!("m{i}")).collect::<Vec<_>>());
    }
}
