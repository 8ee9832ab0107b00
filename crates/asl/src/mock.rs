//! Mocked Task responses in the format of AWS Step Functions Local's `MockConfigFile`:
//!
//! ```json
//! {"StateMachines": {"Machine": {"TestCases": {"HappyPath": {"TaskState": "Ok"}}}},
//!  "MockedResponses": {"Ok": {"0": {"Return": {"x": 1}}, "1-2": {"Throw": {"Error": "E", "Cause": "c"}}}}}
//! ```
//!
//! Responses are indexed by the state's invocation count (0-based, ranges `a-b` allowed); after the
//! last defined invocation the last response repeats, or, with [`MockInvoker::strict`], the Task
//! fails as Step Functions Local's documentation says ("you must specify a mocked response for
//! every invocation ... the state machine execution will fail").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use crate::api::{TaskFailure, TaskInvoker, TaskRequest};

/// A problem in a mock configuration, naming the JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockConfigError {
    #[error("mock configuration is not valid JSON: {0}")]
    Json(String),
    #[error("{pointer}: {message}")]
    Invalid { pointer: String, message: String },
    #[error("mock configuration has no state machine '{0}' (under /StateMachines)")]
    UnknownStateMachine(String),
    #[error(
        "mock configuration has no test case '{test_case}' for state machine '{state_machine}'"
    )]
    UnknownTestCase {
        state_machine: String,
        test_case: String,
    },
}

/// One mocked response.
#[derive(Debug, Clone, PartialEq)]
pub enum MockResponse {
    Return(Value),
    Throw { error: String, cause: String },
}

/// A parsed MockConfigFile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MockConfig {
    /// state machine → test case → state → response name.
    pub state_machines: HashMap<String, HashMap<String, HashMap<String, String>>>,
    /// response name → (first invocation, last invocation, response), sorted.
    pub responses: HashMap<String, Vec<(u64, u64, MockResponse)>>,
}

fn invalid(pointer: String, message: impl Into<String>) -> MockConfigError {
    MockConfigError::Invalid {
        pointer,
        message: message.into(),
    }
}

impl MockConfig {
    pub fn from_json_str(src: &str) -> Result<MockConfig, MockConfigError> {
        let v: Value =
            serde_json::from_str(src).map_err(|e| MockConfigError::Json(e.to_string()))?;
        Self::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Result<MockConfig, MockConfigError> {
        let root = v
            .as_object()
            .ok_or_else(|| invalid(String::new(), "must be an object"))?;
        let mut cfg = MockConfig::default();
        if let Some(sms) = root.get("StateMachines") {
            let sms = sms
                .as_object()
                .ok_or_else(|| invalid("/StateMachines".into(), "must be an object"))?;
            for (sm, def) in sms {
                let p = format!("/StateMachines/{sm}");
                let tcs = def
                    .get("TestCases")
                    .and_then(Value::as_object)
                    .ok_or_else(|| invalid(format!("{p}/TestCases"), "must be an object"))?;
                let mut cases = HashMap::new();
                for (tc, states) in tcs {
                    let tp = format!("{p}/TestCases/{tc}");
                    let states = states.as_object().ok_or_else(|| {
                        invalid(
                            tp.clone(),
                            "must be an object of state name to response name",
                        )
                    })?;
                    let mut m = HashMap::new();
                    for (state, resp) in states {
                        let r = resp.as_str().ok_or_else(|| {
                            invalid(format!("{tp}/{state}"), "must be a response name")
                        })?;
                        m.insert(state.clone(), r.to_string());
                    }
                    cases.insert(tc.clone(), m);
                }
                cfg.state_machines.insert(sm.clone(), cases);
            }
        }
        if let Some(rs) = root.get("MockedResponses") {
            let rs = rs
                .as_object()
                .ok_or_else(|| invalid("/MockedResponses".into(), "must be an object"))?;
            for (name, by_index) in rs {
                let p = format!("/MockedResponses/{name}");
                let by_index = by_index.as_object().ok_or_else(|| {
                    invalid(
                        p.clone(),
                        "must be an object of invocation index to response",
                    )
                })?;
                let mut list = Vec::new();
                for (idx, resp) in by_index {
                    let ip = format!("{p}/{idx}");
                    let (a, b) = match idx.split_once('-') {
                        Some((a, b)) => (a.trim().parse::<u64>(), b.trim().parse::<u64>()),
                        None => (idx.trim().parse::<u64>(), idx.trim().parse::<u64>()),
                    };
                    let (Ok(a), Ok(b)) = (a, b) else {
                        return Err(invalid(ip, "an invocation index must be 'N' or 'N-M'"));
                    };
                    if b < a {
                        return Err(invalid(ip, "the range end is before its start"));
                    }
                    let o = resp.as_object().ok_or_else(|| {
                        invalid(ip.clone(), "must be an object with Return or Throw")
                    })?;
                    let r = match (o.get("Return"), o.get("Throw")) {
                        (Some(v), None) => MockResponse::Return(v.clone()),
                        (None, Some(t)) => MockResponse::Throw {
                            error: t
                                .get("Error")
                                .and_then(Value::as_str)
                                .ok_or_else(|| {
                                    invalid(format!("{ip}/Throw/Error"), "must be a string")
                                })?
                                .to_string(),
                            cause: t
                                .get("Cause")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                        },
                        _ => return Err(invalid(ip, "needs exactly one of Return or Throw")),
                    };
                    list.push((a, b, r));
                }
                list.sort_by_key(|(a, _, _)| *a);
                cfg.responses.insert(name.clone(), list);
            }
        }
        // every referenced response exists
        for (sm, cases) in &cfg.state_machines {
            for (tc, states) in cases {
                for (state, r) in states {
                    if !cfg.responses.contains_key(r) {
                        return Err(invalid(
                            format!("/StateMachines/{sm}/TestCases/{tc}/{state}"),
                            format!(
                                "refers to mocked response '{r}', which is not defined under /MockedResponses"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(cfg)
    }
}

/// A [`TaskInvoker`] answering from a test case of a [`MockConfig`].
pub struct MockInvoker {
    states: HashMap<String, Vec<(u64, u64, MockResponse)>>,
    counters: Mutex<HashMap<String, u64>>,
    fallback: Option<Arc<dyn TaskInvoker>>,
    /// An invocation past the defined ones fails (instead of repeating the last response).
    strict: bool,
}

/// The error of an invocation that a strict [`MockInvoker`] has no response for: the execution
/// fails (`States.Runtime` is matched by no `States.ALL` Retrier or Catcher). Step Functions
/// Local's own error name and message for this case are not documented.
pub const NO_MOCKED_RESPONSE_ERROR: &str = "States.Runtime";

impl MockInvoker {
    pub fn new(
        config: MockConfig,
        state_machine_name: &str,
        test_case: &str,
        fallback: Option<Arc<dyn TaskInvoker>>,
    ) -> Result<MockInvoker, MockConfigError> {
        let cases = config
            .state_machines
            .get(state_machine_name)
            .ok_or_else(|| MockConfigError::UnknownStateMachine(state_machine_name.to_string()))?;
        let case = cases
            .get(test_case)
            .ok_or_else(|| MockConfigError::UnknownTestCase {
                state_machine: state_machine_name.to_string(),
                test_case: test_case.to_string(),
            })?;
        let mut states = HashMap::new();
        for (state, r) in case {
            if let Some(list) = config.responses.get(r) {
                states.insert(state.clone(), list.clone());
            }
        }
        Ok(MockInvoker {
            states,
            counters: Mutex::new(HashMap::new()),
            fallback,
            strict: false,
        })
    }

    /// An invocation past the last one the mocked response defines fails the Task with
    /// [`NO_MOCKED_RESPONSE_ERROR`] (Step Functions Local's rule), instead of repeating the last
    /// response.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }
}

#[async_trait]
impl TaskInvoker for MockInvoker {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let Some(list) = self.states.get(&request.state_name) else {
            return match &self.fallback {
                Some(f) => f.invoke(request).await,
                None => Err(TaskFailure::new(
                    "States.TaskFailed",
                    format!(
                        "no mocked response for state '{}' (resource '{}') in this test case, and no fallback invoker",
                        request.state_name, request.resource
                    ),
                )),
            };
        };
        let n = {
            let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            let e = c.entry(request.state_name.clone()).or_insert(0);
            let n = *e;
            *e += 1;
            n
        };
        let defined = list.iter().find(|(a, b, _)| *a <= n && n <= *b);
        if defined.is_none() && self.strict {
            return Err(TaskFailure::new(
                NO_MOCKED_RESPONSE_ERROR,
                format!(
                    "the mocked response of state '{}' defines no response for invocation {n} (invocations count from 0)",
                    request.state_name
                ),
            ));
        }
        let resp = defined.or_else(|| list.last()).map(|(_, _, r)| r.clone());
        match resp {
            Some(MockResponse::Return(v)) => Ok(v),
            Some(MockResponse::Throw { error, cause }) => Err(TaskFailure { error, cause }),
            None => Err(TaskFailure::new(
                "States.TaskFailed",
                format!(
                    "mocked response for state '{}' is empty",
                    request.state_name
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invoker() -> MockInvoker {
        let config = MockConfig::from_value(&json!({
            "StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}},
            "MockedResponses": {"R": {
                "0": {"Return": 0},
                "1-2": {"Throw": {"Error": "E", "Cause": "c"}},
            }},
        }))
        .unwrap_or_default();
        MockInvoker::new(config, "M", "T", None).unwrap_or_else(|e| panic!("{e}"))
    }

    fn request() -> TaskRequest {
        TaskRequest {
            resource: "arn:x".into(),
            parameters: Value::Null,
            context: Value::Null,
            state_name: "S".into(),
            state_machine_name: "M".into(),
            timeout_seconds: None,
            heartbeat_seconds: None,
        }
    }

    async fn four(inv: &MockInvoker) -> Vec<Result<Value, TaskFailure>> {
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(inv.invoke(request()).await);
        }
        out
    }

    #[tokio::test]
    async fn invocations_follow_their_numbers_and_ranges_then_the_last_repeats() {
        let got = four(&invoker()).await;
        let e = Err(TaskFailure::new("E", "c"));
        assert_eq!(got, vec![Ok(json!(0)), e.clone(), e.clone(), e]);
    }

    #[tokio::test]
    async fn a_strict_invoker_fails_an_invocation_past_the_defined_ones() {
        let got = four(&invoker().strict()).await;
        assert_eq!(got[..3], four(&invoker()).await[..3]);
        let last = got[3]
            .clone()
            .err()
            .map(|f| (f.error, f.cause.contains("invocation 3")));
        assert_eq!(last, Some((NO_MOCKED_RESPONSE_ERROR.to_string(), true)));
    }
}
