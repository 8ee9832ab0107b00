//! Mocked Task responses in the format of AWS Step Functions Local's `MockConfigFile`:
//!
//! ```json
//! {"StateMachines": {"Machine": {"TestCases": {"HappyPath": {"TaskState": "Ok"}}}},
//!  "MockedResponses": {"Ok": {"0": {"Return": {"x": 1}}, "1-2": {"Throw": {"Error": "E", "Cause": "c"}}}}}
//! ```
//!
//! Responses are indexed by the state's invocation count (0-based, ranges `a-b` allowed). An
//! invocation past the last defined one fails the Task, as Step Functions Local's documentation
//! says ("you must specify a mocked response for every invocation ... the state machine execution
//! will fail"); nothing is repeated.
//!
//! A file is checked as a whole for its shape, but a test case's reference to a response that is
//! not defined is an error only for the test case being run ([`MockInvoker::new`]); the other test
//! cases' such references are warnings ([`MockConfig::problems_outside`]), as LocalStack's drop-in
//! for Step Functions Local treats them.

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
        Ok(cfg)
    }

    /// The references of test case `test_case` of `state_machine` to responses that are not
    /// defined, each as an error naming its JSON pointer.
    fn undefined_in(&self, state_machine: &str, test_case: &str) -> Vec<MockConfigError> {
        let Some(states) = self
            .state_machines
            .get(state_machine)
            .and_then(|cases| cases.get(test_case))
        else {
            return Vec::new();
        };
        let mut problems: Vec<MockConfigError> = states
            .iter()
            .filter(|(_, r)| !self.responses.contains_key(*r))
            .map(|(state, r)| {
                invalid(
                    format!("/StateMachines/{state_machine}/TestCases/{test_case}/{state}"),
                    format!(
                        "refers to mocked response '{r}', which is not defined under /MockedResponses"
                    ),
                )
            })
            .collect();
        problems.sort_by_key(|e| e.to_string());
        problems
    }

    /// The problems of every test case other than `test_case` of `state_machine` (references to
    /// undefined responses): warnings, since those test cases are not run.
    pub fn problems_outside(&self, state_machine: &str, test_case: &str) -> Vec<MockConfigError> {
        let mut names: Vec<(&String, &String)> = self
            .state_machines
            .iter()
            .flat_map(|(sm, cases)| cases.keys().map(move |tc| (sm, tc)))
            .filter(|(sm, tc)| !(sm.as_str() == state_machine && tc.as_str() == test_case))
            .collect();
        names.sort();
        names
            .into_iter()
            .flat_map(|(sm, tc)| self.undefined_in(sm, tc))
            .collect()
    }
}

/// A [`TaskInvoker`] answering from a test case of a [`MockConfig`].
pub struct MockInvoker {
    states: HashMap<String, Vec<(u64, u64, MockResponse)>>,
    counters: Mutex<HashMap<String, u64>>,
    fallback: Option<Arc<dyn TaskInvoker>>,
}

/// The error of an invocation that a [`MockInvoker`] has no response for: the execution
/// fails (`States.Runtime` is matched by no `States.ALL` Retrier or Catcher). Step Functions
/// Local's own error name and message for this case are not documented.
pub const NO_MOCKED_RESPONSE_ERROR: &str = "States.Runtime";

impl MockInvoker {
    /// The invoker of test case `test_case` of `state_machine_name`; an undefined response that
    /// this test case refers to is an error (the first, by JSON pointer).
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
        if let Some(problem) = config
            .undefined_in(state_machine_name, test_case)
            .into_iter()
            .next()
        {
            return Err(problem);
        }
        let states = case
            .iter()
            .filter_map(|(state, r)| Some((state.clone(), config.responses.get(r)?.clone())))
            .collect();
        Ok(MockInvoker {
            states,
            counters: Mutex::new(HashMap::new()),
            fallback,
        })
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
        match list.iter().find(|(a, b, _)| *a <= n && n <= *b) {
            Some((_, _, MockResponse::Return(v))) => Ok(v.clone()),
            Some((_, _, MockResponse::Throw { error, cause })) => {
                Err(TaskFailure::new(error.clone(), cause.clone()))
            }
            None => Err(TaskFailure::new(
                NO_MOCKED_RESPONSE_ERROR,
                format!(
                    "the mocked response of state '{}' defines no response for invocation {n} (invocations count from 0)",
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
            submission: crate::Submission::none(),
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
    async fn invocations_follow_their_numbers_and_ranges_and_one_past_them_fails() {
        let got = four(&invoker()).await;
        let e = Err(TaskFailure::new("E", "c"));
        assert_eq!(got[..3], [Ok(json!(0)), e.clone(), e]);
        let last = got[3]
            .clone()
            .err()
            .map(|f| (f.error, f.cause.contains("invocation 3")));
        assert_eq!(last, Some((NO_MOCKED_RESPONSE_ERROR.to_string(), true)));
    }

    #[test]
    fn an_undefined_response_fails_only_the_test_case_that_is_run_and_warns_for_the_others() {
        let config = MockConfig::from_value(&json!({
            "StateMachines": {"M": {"TestCases": {
                "Good": {"S": "R"},
                "Bad": {"S": "Missing"}
            }}},
            "MockedResponses": {"R": {"0": {"Return": 1}}},
        }))
        .unwrap_or_else(|e| panic!("the file as a whole is accepted: {e}"));
        let warnings: Vec<String> = config
            .problems_outside("M", "Good")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            warnings,
            [
                "/StateMachines/M/TestCases/Bad/S: refers to mocked response 'Missing', which is not defined under /MockedResponses"
            ]
        );
        assert!(MockInvoker::new(config.clone(), "M", "Good", None).is_ok());
        let err = MockInvoker::new(config.clone(), "M", "Bad", None)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "/StateMachines/M/TestCases/Bad/S: refers to mocked response 'Missing', which is not defined under /MockedResponses"
            )
        );
        assert!(config.problems_outside("M", "Bad").is_empty());
    }
}
