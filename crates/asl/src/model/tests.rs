//! Every rule of the validator, one definition each: the exact problems (pointer and message)
//! it reports, compared as a set (parse problems come before rule problems).

use serde_json::{Value, json};

use super::{parse, validate};
use crate::error::Collector;

type Expected = &'static [(&'static str, &'static str)];

/// The problems of `def`, sorted; none when it is valid.
fn problems(def: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = match validate(def) {
        Ok(_) => Vec::new(),
        Err(errs) => errs.into_iter().map(|e| (e.pointer, e.message)).collect(),
    };
    out.sort();
    out
}

fn check(cases: &[(&str, Value, Expected)]) {
    let mut failures = Vec::new();
    for (name, def, expected) in cases {
        let mut want: Vec<(String, String)> = expected
            .iter()
            .map(|(p, m)| (p.to_string(), m.to_string()))
            .collect();
        want.sort();
        let got = problems(def);
        if got != want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A machine starting at `A` with the given states.
fn m(states: Value) -> Value {
    json!({"StartAt": "A", "States": states})
}

/// A JSONata machine starting at `A` with the given states.
fn ja(states: Value) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": states})
}

/// A machine whose only state is `state`.
fn one(state: Value) -> Value {
    m(json!({ "A": state }))
}

/// A JSONata machine whose only state is `state`.
fn one_ja(state: Value) -> Value {
    ja(json!({ "A": state }))
}

fn top_level_cases() -> Vec<(&'static str, Value, Expected)> {
    vec![
        (
            "not an object",
            json!([]),
            &[("", "the definition must be a JSON object")],
        ),
        (
            "unknown field, Version and Comment not strings",
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Foo": 1, "Version": 1, "Comment": 2}),
            &[
                ("/Comment", "must be a string"),
                ("/Foo", "unknown field 'Foo'"),
                ("/Version", "must be a string"),
            ],
        ),
        (
            "TimeoutSeconds 0",
            json!({"StartAt": "A", "TimeoutSeconds": 0, "States": {"A": {"Type": "Succeed"}}}),
            &[("/TimeoutSeconds", "Minimum value is 1")],
        ),
        (
            "TimeoutSeconds too large",
            json!({"StartAt": "A", "TimeoutSeconds": 100000000, "States": {"A": {"Type": "Succeed"}}}),
            &[("/TimeoutSeconds", "Maximum value is 99999999")],
        ),
        (
            "TimeoutSeconds not an integer",
            json!({"StartAt": "A", "TimeoutSeconds": 1.5, "States": {"A": {"Type": "Succeed"}}}),
            &[(
                "/TimeoutSeconds",
                "must be an integer between 1 and 99999999",
            )],
        ),
        (
            "QueryLanguage unknown",
            json!({"QueryLanguage": "Python", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
            &[("/QueryLanguage", "must be \"JSONPath\" or \"JSONata\"")],
        ),
        (
            "JSONPath state in a JSONata machine",
            one_ja(json!({"Type": "Succeed", "QueryLanguage": "JSONPath"})),
            &[(
                "/States/A/QueryLanguage",
                "a state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
            )],
        ),
        (
            "state QueryLanguage not a string",
            one(json!({"Type": "Succeed", "QueryLanguage": 1})),
            &[(
                "/States/A/QueryLanguage",
                "must be \"JSONPath\" or \"JSONata\"",
            )],
        ),
    ]
}

fn graph_cases() -> Vec<(&'static str, Value, Expected)> {
    vec![
        (
            "StartAt missing",
            json!({"States": {"A": {"Type": "Succeed"}}}),
            &[("", "missing required field 'StartAt'")],
        ),
        (
            "StartAt not a string",
            json!({"StartAt": 1, "States": {"A": {"Type": "Succeed"}}}),
            &[("/StartAt", "must be a string")],
        ),
        (
            "StartAt dangling",
            json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}),
            &[("/StartAt", "refers to state 'X', which does not exist")],
        ),
        (
            "States missing",
            json!({"StartAt": "A"}),
            &[("", "missing required field 'States'")],
        ),
        (
            "States not an object",
            json!({"StartAt": "A", "States": []}),
            &[("/States", "must be an object")],
        ),
        (
            "States empty",
            json!({"StartAt": "A", "States": {}}),
            &[("/States", "must define at least one state")],
        ),
        (
            "state names of 0 and 81 characters",
            json!({"StartAt": "", "States": {"": {"Type": "Pass", "Next": "x".repeat(81)}, "x".repeat(81): {"Type": "Succeed"}}}),
            &[
                ("/States/", "a state name must have 1 to 80 characters"),
                (
                    "/States/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "a state name must have 1 to 80 characters",
                ),
            ],
        ),
        (
            "unreachable state",
            m(json!({"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}})),
            &[("/States/B", "state 'B' is not reachable from StartAt")],
        ),
        (
            "no terminal state",
            m(json!({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}})),
            &[(
                "/States",
                "no state ends the execution (End, Succeed or Fail)",
            )],
        ),
        (
            "branch with an unknown field",
            one(json!({"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "X", "Foo": 1, "States": {"X": {"Type": "Succeed"}}}
            ]})),
            &[("/States/A/Branches/0/Foo", "unknown field 'Foo'")],
        ),
        (
            "an invalid choice rule is no transition (a comparison without its Variable)",
            m(json!({
                "A": {"Type": "Choice", "Choices": [{"NumericEquals": 1, "Next": "C"}], "Default": "B"},
                "B": {"Type": "Succeed"},
                "C": {"Type": "Succeed"}
            })),
            &[
                ("/States/A/Choices/0", "missing required field 'Variable'"),
                ("/States/C", "state 'C' is not reachable from StartAt"),
            ],
        ),
        (
            "a broken state is terminal and has no transition",
            m(json!({"A": {"Type": "Map", "Next": "B"}, "B": {"Type": "Succeed"}})),
            &[
                ("/States/A", "missing required field 'ItemProcessor'"),
                ("/States/B", "state 'B' is not reachable from StartAt"),
            ],
        ),
    ]
}

fn state_cases() -> Vec<(&'static str, Value, Expected)> {
    vec![
        (
            "state not an object",
            one(json!(1)),
            &[("/States/A", "a state must be an object")],
        ),
        (
            "Type missing",
            one(json!({"End": true})),
            &[("/States/A", "missing required field 'Type'")],
        ),
        (
            "Type not a string",
            one(json!({"Type": 1})),
            &[("/States/A/Type", "must be a string")],
        ),
        (
            "Type unknown",
            one(json!({"Type": "Sleep"})),
            &[("/States/A/Type", "unknown state type 'Sleep'")],
        ),
        (
            "field not allowed for the type",
            one(json!({"Type": "Succeed", "Next": "A", "Result": 1})),
            &[
                (
                    "/States/A/Next",
                    "field 'Next' is not allowed in a Succeed state",
                ),
                (
                    "/States/A/Result",
                    "field 'Result' is not allowed in a Succeed state",
                ),
            ],
        ),
        (
            "JSONPath-only field in a JSONata state",
            one_ja(json!({"Type": "Pass", "End": true, "InputPath": "$", "Result": 1})),
            &[
                (
                    "/States/A/InputPath",
                    "field 'InputPath' is not allowed when QueryLanguage is JSONata",
                ),
                (
                    "/States/A/Result",
                    "field 'Result' is not allowed when QueryLanguage is JSONata",
                ),
            ],
        ),
        (
            "JSONata-only field in a JSONPath state",
            one(json!({"Type": "Pass", "End": true, "Output": 1, "Arguments": {}})),
            &[
                (
                    "/States/A/Arguments",
                    "field 'Arguments' is not allowed in a Pass state",
                ),
                (
                    "/States/A/Output",
                    "field 'Output' is only allowed when QueryLanguage is JSONata",
                ),
            ],
        ),
        (
            "Next not a string",
            one(json!({"Type": "Pass", "Next": 1})),
            &[("/States/A/Next", "must be a string naming a state")],
        ),
        (
            "Next dangling",
            one(json!({"Type": "Pass", "Next": "B"})),
            &[(
                "/States/A/Next",
                "refers to state 'B', which does not exist",
            )],
        ),
        (
            "End not a boolean",
            one(json!({"Type": "Pass", "End": "yes"})),
            &[
                (
                    "/States/A",
                    "a state must have either 'Next' or 'End': true",
                ),
                ("/States/A/End", "must be a boolean"),
            ],
        ),
        (
            "Next and End",
            m(json!({"A": {"Type": "Pass", "Next": "B", "End": true}, "B": {"Type": "Succeed"}})),
            &[(
                "/States/A",
                "a state cannot have both 'Next' and 'End': true",
            )],
        ),
        (
            "neither Next nor End",
            one(json!({"Type": "Pass"})),
            &[(
                "/States/A",
                "a state must have either 'Next' or 'End': true",
            )],
        ),
        (
            "InputPath and OutputPath",
            one(json!({"Type": "Pass", "End": true, "InputPath": 5, "OutputPath": "nope"})),
            &[
                ("/States/A/InputPath", "must be a path string or null"),
                (
                    "/States/A/OutputPath",
                    "invalid path: path 'nope' must start with '$'",
                ),
            ],
        ),
        (
            "ResultPath not a reference path",
            one(json!({"Type": "Pass", "End": true, "ResultPath": "$.a[*]"})),
            &[(
                "/States/A/ResultPath",
                "must be a reference path ('$', '.field', ['field'] and [index] only, from '$')",
            )],
        ),
        (
            "ResultPath invalid",
            one(json!({"Type": "Pass", "End": true, "ResultPath": "x"})),
            &[(
                "/States/A/ResultPath",
                "invalid path: path 'x' must start with '$'",
            )],
        ),
        (
            "ResultPath not a string",
            one(json!({"Type": "Pass", "End": true, "ResultPath": 1})),
            &[("/States/A/ResultPath", "must be a path string or null")],
        ),
        (
            "Parameters not an object",
            one(json!({"Type": "Task", "Resource": "arn:x", "End": true, "Parameters": [1]})),
            &[("/States/A/Parameters", "must be an object")],
        ),
        (
            "Parameters field problems",
            one(
                json!({"Type": "Pass", "End": true, "Parameters": {"a.$": 1, "b.$": "States.Nope()", "c.$": "bad"}}),
            ),
            &[
                (
                    "/States/A/Parameters/a.$",
                    "the value of a field ending in '.$' must be a string holding a path or an intrinsic function",
                ),
                (
                    "/States/A/Parameters/b.$",
                    "invalid intrinsic function: unknown intrinsic function 'States.Nope'",
                ),
                (
                    "/States/A/Parameters/c.$",
                    "invalid path: path 'bad' must start with '$'",
                ),
            ],
        ),
        (
            "Arguments neither object nor expression",
            one_ja(json!({"Type": "Task", "Resource": "arn:x", "End": true, "Arguments": 1})),
            &[(
                "/States/A/Arguments",
                "must be an object or a JSONata expression",
            )],
        ),
        (
            "ResultSelector not an object",
            one(json!({"Type": "Task", "Resource": "arn:x", "End": true, "ResultSelector": 1})),
            &[("/States/A/ResultSelector", "must be an object")],
        ),
        (
            "Output with a bad JSONata expression",
            one_ja(json!({"Type": "Pass", "End": true, "Output": "{% 1 + %}"})),
            &[(
                "/States/A/Output",
                "invalid JSONata expression: S0207 Unexpected end of expression",
            )],
        ),
        (
            "Assign not an object",
            one(json!({"Type": "Pass", "End": true, "Assign": 1})),
            &[(
                "/States/A/Assign",
                "must be an object of variable names to values",
            )],
        ),
        (
            "Assign names",
            one(
                json!({"Type": "Pass", "End": true, "Assign": {"1x": 1, "states": 2, "ok.$": "$.a", "a-b": 3}}),
            ),
            &[
                ("/States/A/Assign/1x", "invalid variable name '1x'"),
                ("/States/A/Assign/a-b", "invalid variable name 'a-b'"),
                ("/States/A/Assign/states", "'states' is a reserved name"),
            ],
        ),
        (
            "Assign .$ in JSONata",
            one_ja(json!({"Type": "Pass", "End": true, "Assign": {"x.$": "$.a"}})),
            &[(
                "/States/A/Assign/x.$",
                "'.$' fields are not allowed in JSONata",
            )],
        ),
    ]
}

fn retry_catch_cases() -> Vec<(&'static str, Value, Expected)> {
    let task = |extra: Value| {
        let mut s = json!({"Type": "Task", "Resource": "arn:x", "End": true});
        if let (Some(o), Value::Object(e)) = (s.as_object_mut(), extra) {
            o.extend(e);
        }
        s
    };
    vec![
        (
            "Retry not an array",
            one(task(json!({"Retry": {}}))),
            &[("/States/A/Retry", "must be an array of retriers")],
        ),
        (
            "retrier not an object",
            one(task(json!({"Retry": [1]}))),
            &[("/States/A/Retry/0", "a retrier must be an object")],
        ),
        (
            "retrier fields",
            one(task(
                json!({"Retry": [{"ErrorEquals": ["E"], "Foo": 1, "IntervalSeconds": 0, "MaxAttempts": -1, "BackoffRate": 0.5, "MaxDelaySeconds": 31622401, "JitterStrategy": "HALF"}]}),
            )),
            &[
                ("/States/A/Retry/0/BackoffRate", "must be >= 1.0"),
                ("/States/A/Retry/0/Foo", "unknown field 'Foo' in a retrier"),
                ("/States/A/Retry/0/IntervalSeconds", "Minimum value is 1"),
                (
                    "/States/A/Retry/0/JitterStrategy",
                    "must be \"FULL\" or \"NONE\"",
                ),
                ("/States/A/Retry/0/MaxAttempts", "Minimum value is 0"),
                (
                    "/States/A/Retry/0/MaxDelaySeconds",
                    "Maximum value is 31622400",
                ),
            ],
        ),
        (
            "retrier BackoffRate not a number",
            one(task(
                json!({"Retry": [{"ErrorEquals": ["E"], "BackoffRate": "x", "MaxAttempts": 1.5}]}),
            )),
            &[
                ("/States/A/Retry/0/BackoffRate", "must be a number >= 1.0"),
                (
                    "/States/A/Retry/0/MaxAttempts",
                    "must be an integer between 0 and 99999999",
                ),
            ],
        ),
        (
            "ErrorEquals missing",
            one(task(json!({"Retry": [{}]}))),
            &[("/States/A/Retry/0/ErrorEquals", "is required")],
        ),
        (
            "ErrorEquals empty",
            one(task(json!({"Retry": [{"ErrorEquals": []}]}))),
            &[(
                "/States/A/Retry/0/ErrorEquals",
                "must be a non-empty array of error names",
            )],
        ),
        (
            "ErrorEquals not strings",
            one(task(json!({"Retry": [{"ErrorEquals": ["E", 1]}]}))),
            &[("/States/A/Retry/0/ErrorEquals/1", "must be a string")],
        ),
        (
            "States.ALL not alone and not last",
            one(task(
                json!({"Retry": [{"ErrorEquals": ["States.ALL", "E"]}, {"ErrorEquals": ["F"]}]}),
            )),
            &[
                (
                    "/States/A/Retry/0/ErrorEquals",
                    "'States.ALL' must appear alone in ErrorEquals",
                ),
                (
                    "/States/A/Retry/0/ErrorEquals",
                    "a 'States.ALL' retrier or catcher must be the last one",
                ),
            ],
        ),
        (
            "Catch not an array",
            one(task(json!({"Catch": 1}))),
            &[("/States/A/Catch", "must be an array of catchers")],
        ),
        (
            "catcher not an object",
            one(task(json!({"Catch": ["x"]}))),
            &[("/States/A/Catch/0", "a catcher must be an object")],
        ),
        (
            "catcher fields in JSONPath",
            one(task(
                json!({"Catch": [{"ErrorEquals": ["E"], "Next": "A", "Output": 1, "Foo": 2, "ResultPath": "$.a[0:1]"}]}),
            )),
            &[
                (
                    "/States/A/Catch/0/Foo",
                    "field 'Foo' is not allowed in a catcher",
                ),
                (
                    "/States/A/Catch/0/Output",
                    "field 'Output' is not allowed in a catcher",
                ),
                (
                    "/States/A/Catch/0/ResultPath",
                    "must be a reference path ('$', '.field', ['field'] and [index] only, from '$')",
                ),
            ],
        ),
        (
            "catcher fields in JSONata",
            one_ja(task(
                json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A", "ResultPath": "$.e", "Output": "{% %}"}]}),
            )),
            &[
                (
                    "/States/A/Catch/0/Output",
                    "invalid JSONata expression: S0207 Unexpected end of expression",
                ),
                (
                    "/States/A/Catch/0/ResultPath",
                    "field 'ResultPath' is not allowed in a catcher",
                ),
            ],
        ),
        (
            "catcher Next missing",
            one(task(json!({"Catch": [{"ErrorEquals": ["E"]}]}))),
            &[("/States/A/Catch/0", "missing required field 'Next'")],
        ),
        (
            "catcher Next dangling",
            one(task(
                json!({"Catch": [{"ErrorEquals": ["E"], "Next": "Z"}]}),
            )),
            &[(
                "/States/A/Catch/0/Next",
                "refers to state 'Z', which does not exist",
            )],
        ),
        (
            "catcher Assign",
            one(task(
                json!({"Catch": [{"ErrorEquals": ["E"], "Next": "A", "Assign": {"states": 1}}]}),
            )),
            &[(
                "/States/A/Catch/0/Assign/states",
                "'states' is a reserved name",
            )],
        ),
    ]
}

fn task_fail_cases() -> Vec<(&'static str, Value, Expected)> {
    vec![
        (
            "Resource missing",
            one(json!({"Type": "Task", "End": true})),
            &[("/States/A", "missing required field 'Resource'")],
        ),
        (
            "Resource empty",
            one(json!({"Type": "Task", "Resource": "", "End": true})),
            &[("/States/A/Resource", "must be a non-empty string (an ARN)")],
        ),
        (
            "TimeoutSeconds and TimeoutSecondsPath",
            one(
                json!({"Type": "Task", "Resource": "arn:x", "End": true, "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"}),
            ),
            &[(
                "/States/A/TimeoutSeconds",
                "'TimeoutSeconds' and 'TimeoutSecondsPath' cannot both be set",
            )],
        ),
        (
            "TimeoutSeconds 0 and a bad HeartbeatSecondsPath",
            one(
                json!({"Type": "Task", "Resource": "arn:x", "End": true, "TimeoutSeconds": 0, "HeartbeatSecondsPath": 1}),
            ),
            &[
                ("/States/A/HeartbeatSecondsPath", "must be a path string"),
                ("/States/A/TimeoutSeconds", "Minimum value is 1"),
            ],
        ),
        (
            "HeartbeatSeconds not below TimeoutSeconds",
            one(
                json!({"Type": "Task", "Resource": "arn:x", "End": true, "TimeoutSeconds": 5, "HeartbeatSeconds": 5}),
            ),
            &[(
                "/States/A/HeartbeatSeconds",
                "must be smaller than TimeoutSeconds",
            )],
        ),
        (
            "JSONata TimeoutSeconds expression",
            one_ja(
                json!({"Type": "Task", "Resource": "arn:x", "End": true, "TimeoutSeconds": "{% ( %}", "HeartbeatSeconds": "5"}),
            ),
            &[
                (
                    "/States/A/HeartbeatSeconds",
                    "must be an integer between 1 and 99999999",
                ),
                (
                    "/States/A/TimeoutSeconds",
                    "invalid JSONata expression: S0203 Expected \")\" before end of expression",
                ),
            ],
        ),
        (
            "Credentials",
            one(
                json!({"Type": "Task", "Resource": "arn:x", "End": true, "Credentials": [{"a.$": 1}]}),
            ),
            &[
                ("/States/A/Credentials", "must be an object"),
                (
                    "/States/A/Credentials/0/a.$",
                    "the value of a field ending in '.$' must be a string holding a path or an intrinsic function",
                ),
            ],
        ),
        (
            "Error and ErrorPath",
            one(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e", "Cause": 1})),
            &[
                ("/States/A/Cause", "must be a string"),
                (
                    "/States/A/Error",
                    "'Error' and 'ErrorPath' cannot both be set",
                ),
            ],
        ),
        (
            "ErrorPath intrinsic and CausePath",
            one(json!({"Type": "Fail", "ErrorPath": "States.Nope(1)", "CausePath": 1})),
            &[
                ("/States/A/CausePath", "must be a path string"),
                (
                    "/States/A/ErrorPath",
                    "invalid intrinsic function: unknown intrinsic function 'States.Nope'",
                ),
            ],
        ),
        (
            "JSONata Error expression",
            one_ja(json!({"Type": "Fail", "Error": "{% ) %}", "Cause": "{% 'ok' %}"})),
            &[(
                "/States/A/Error",
                "invalid JSONata expression: S0211 The symbol \")\" cannot be used as a unary operator",
            )],
        ),
    ]
}

fn choice_cases() -> Vec<(&'static str, Value, Expected)> {
    let choice = |choices: Value| {
        m(
            json!({"A": {"Type": "Choice", "Choices": choices, "Default": "B"}, "B": {"Type": "Succeed"}}),
        )
    };
    let choice_ja = |choices: Value| {
        ja(
            json!({"A": {"Type": "Choice", "Choices": choices, "Default": "B"}, "B": {"Type": "Succeed"}}),
        )
    };
    vec![
        (
            "Choices missing",
            one(json!({"Type": "Choice"})),
            &[
                (
                    "/States",
                    "no state ends the execution (End, Succeed or Fail)",
                ),
                ("/States/A", "missing required field 'Choices'"),
            ],
        ),
        (
            "Choices not an array",
            one(json!({"Type": "Choice", "Choices": {}})),
            &[
                (
                    "/States",
                    "no state ends the execution (End, Succeed or Fail)",
                ),
                ("/States/A/Choices", "must be a non-empty array"),
            ],
        ),
        (
            "rule not an object",
            choice(json!([1])),
            &[("/States/A/Choices/0", "a choice rule must be an object")],
        ),
        (
            "rule Next missing",
            choice(json!([{"Variable": "$.a", "IsNull": true}])),
            &[("/States/A/Choices/0", "missing required field 'Next'")],
        ),
        (
            "rule Next dangling, Default dangling",
            one(
                json!({"Type": "Choice", "Default": "Z", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Y"}]}),
            ),
            &[
                (
                    "/States",
                    "no state ends the execution (End, Succeed or Fail)",
                ),
                (
                    "/States/A/Choices/0/Next",
                    "refers to state 'Y', which does not exist",
                ),
                (
                    "/States/A/Default",
                    "refers to state 'Z', which does not exist",
                ),
            ],
        ),
        (
            "JSONata rule fields",
            choice_ja(
                json!([{"Condition": 1, "Next": "B", "Variable": "$.a"}, {"Next": "B"}, {"Condition": "{% ) %}", "Next": "B"}]),
            ),
            &[
                (
                    "/States/A/Choices/0/Condition",
                    "must be a JSONata expression '{% ... %}' or a boolean",
                ),
                (
                    "/States/A/Choices/0/Variable",
                    "field 'Variable' is not allowed in a JSONata choice rule",
                ),
                ("/States/A/Choices/1", "missing required field 'Condition'"),
                (
                    "/States/A/Choices/2/Condition",
                    "invalid JSONata expression: S0211 The symbol \")\" cannot be used as a unary operator",
                ),
            ],
        ),
        (
            "JSONPath rule with JSONata fields",
            choice(
                json!([{"Variable": "$.a", "IsNull": true, "Next": "B", "Output": 1, "Condition": true}]),
            ),
            &[
                (
                    "/States/A/Choices/0/Condition",
                    "field 'Condition' is only allowed when QueryLanguage is JSONata",
                ),
                (
                    "/States/A/Choices/0/Output",
                    "field 'Output' is only allowed when QueryLanguage is JSONata",
                ),
            ],
        ),
        (
            "nested Next, unknown field",
            choice(
                json!([{"Not": {"Variable": "$.a", "IsNull": true, "Next": "B"}, "Next": "B", "Foo": 1}]),
            ),
            &[
                (
                    "/States/A/Choices/0/Foo",
                    "unknown field 'Foo' in a choice rule",
                ),
                (
                    "/States/A/Choices/0/Not/Next",
                    "'Next' is only allowed in a top-level choice rule",
                ),
                (
                    "/States/A/Choices/0/Not/Next",
                    "unknown field 'Next' in a choice rule",
                ),
            ],
        ),
        (
            "no operator and two operators",
            choice(
                json!([{"Variable": "$.a", "Next": "B"}, {"Variable": "$.a", "IsNull": true, "IsString": true, "Next": "B"}]),
            ),
            &[
                (
                    "/States/A/Choices/0",
                    "a choice rule needs exactly one comparison operator or one of And, Or, Not",
                ),
                (
                    "/States/A/Choices/1",
                    "a choice rule needs exactly one comparison operator or one of And, Or, Not",
                ),
            ],
        ),
        (
            "And with Variable, Or not an array, And empty",
            choice(json!([
                {"And": [{"Variable": "$.a", "IsNull": true}], "Variable": "$.b", "Next": "B"},
                {"Or": 1, "Next": "B"},
                {"And": [], "Next": "B"},
                {"Or": [1], "Next": "B"}
            ])),
            &[
                ("/States/A/Choices/0/Variable", "not allowed with 'And'"),
                (
                    "/States/A/Choices/1/Or",
                    "must be a non-empty array of rules",
                ),
                (
                    "/States/A/Choices/2/And",
                    "must be a non-empty array of rules",
                ),
                ("/States/A/Choices/3/Or/0", "a rule must be an object"),
            ],
        ),
        (
            "Not with Variable, Not not an object",
            choice(json!([
                {"Not": {"Variable": "$.a", "IsNull": true}, "Variable": "$.b", "Next": "B"},
                {"Not": 1, "Next": "B"}
            ])),
            &[
                ("/States/A/Choices/0/Variable", "not allowed with 'Not'"),
                ("/States/A/Choices/1/Not", "must be a rule object"),
            ],
        ),
        (
            "Variable missing or invalid",
            choice(
                json!([{"IsNull": true, "Next": "B"}, {"Variable": "a", "IsNull": true, "Next": "B"}]),
            ),
            &[
                ("/States/A/Choices/0", "missing required field 'Variable'"),
                (
                    "/States/A/Choices/1/Variable",
                    "invalid path: path 'a' must start with '$'",
                ),
            ],
        ),
        (
            "operand types",
            choice(json!([
                {"Variable": "$.a", "NumericEquals": "1", "Next": "B"},
                {"Variable": "$.a", "StringEquals": 1, "Next": "B"},
                {"Variable": "$.a", "TimestampEquals": "2020-01-01", "Next": "B"},
                {"Variable": "$.a", "IsPresent": 1, "Next": "B"},
                {"Variable": "$.a", "StringEqualsPath": "x", "Next": "B"},
                {"Variable": "$.a", "IsNullPath": "$.x", "Next": "B"}
            ])),
            &[
                ("/States/A/Choices/0/NumericEquals", "must be a number"),
                ("/States/A/Choices/1/StringEquals", "must be a string"),
                (
                    "/States/A/Choices/2/TimestampEquals",
                    "must be an RFC 3339 timestamp string",
                ),
                ("/States/A/Choices/3/IsPresent", "must be a boolean"),
                (
                    "/States/A/Choices/4/StringEqualsPath",
                    "invalid path: path 'x' must start with '$'",
                ),
                (
                    "/States/A/Choices/5",
                    "a choice rule needs exactly one comparison operator or one of And, Or, Not",
                ),
                (
                    "/States/A/Choices/5/IsNullPath",
                    "unknown field 'IsNullPath' in a choice rule",
                ),
            ],
        ),
    ]
}

fn wait_parallel_cases() -> Vec<(&'static str, Value, Expected)> {
    let wait = |extra: Value| {
        let mut s = json!({"Type": "Wait", "End": true});
        if let (Some(o), Value::Object(e)) = (s.as_object_mut(), extra) {
            o.extend(e);
        }
        one(s)
    };
    vec![
        (
            "no duration",
            wait(json!({})),
            &[(
                "/States/A",
                "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
            )],
        ),
        (
            "two durations",
            wait(json!({"Seconds": 1, "SecondsPath": "$.s"})),
            &[(
                "/States/A",
                "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
            )],
        ),
        (
            "Seconds negative",
            wait(json!({"Seconds": -1})),
            &[("/States/A/Seconds", "Minimum value is 0")],
        ),
        (
            "Seconds a string",
            wait(json!({"Seconds": "5"})),
            &[(
                "/States/A/Seconds",
                "must be an integer between 0 and 99999999",
            )],
        ),
        (
            "SecondsPath not a string",
            wait(json!({"SecondsPath": 5})),
            &[("/States/A/SecondsPath", "must be a path string")],
        ),
        (
            "Timestamp invalid",
            wait(json!({"Timestamp": "2020-01-01 00:00:00Z"})),
            &[("/States/A/Timestamp", "must be an RFC 3339 timestamp")],
        ),
        (
            "Timestamp not a string",
            wait(json!({"Timestamp": 5})),
            &[(
                "/States/A/Timestamp",
                "must be an RFC 3339 timestamp string",
            )],
        ),
        (
            "TimestampPath invalid",
            wait(json!({"TimestampPath": "x"})),
            &[(
                "/States/A/TimestampPath",
                "invalid path: path 'x' must start with '$'",
            )],
        ),
        (
            "JSONata Seconds expression",
            one_ja(json!({"Type": "Wait", "End": true, "Seconds": "{% + %}"})),
            &[(
                "/States/A/Seconds",
                "invalid JSONata expression: S0211 The symbol \"+\" cannot be used as a unary operator",
            )],
        ),
        (
            "Branches missing",
            one(json!({"Type": "Parallel", "End": true})),
            &[("/States/A", "missing required field 'Branches'")],
        ),
        (
            "Branches not an array",
            one(json!({"Type": "Parallel", "End": true, "Branches": {}})),
            &[("/States/A/Branches", "must be a non-empty array")],
        ),
        (
            "Branches empty",
            one(json!({"Type": "Parallel", "End": true, "Branches": []})),
            &[("/States/A/Branches", "must be a non-empty array")],
        ),
        (
            "branch not an object",
            one(json!({"Type": "Parallel", "End": true, "Branches": [1]})),
            &[("/States/A/Branches/0", "a branch must be an object")],
        ),
        (
            "problem inside a branch",
            one(
                json!({"Type": "Parallel", "End": true, "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}}}]}),
            ),
            &[(
                "/States/A/Branches/0/States/X/Next",
                "refers to state 'Y', which does not exist",
            )],
        ),
    ]
}

fn map_cases() -> Vec<(&'static str, Value, Expected)> {
    let proc = json!({"StartAt": "X", "States": {"X": {"Type": "Succeed"}}});
    let map = |extra: Value| {
        let mut s = json!({"Type": "Map", "End": true, "ItemProcessor": proc.clone()});
        if let (Some(o), Value::Object(e)) = (s.as_object_mut(), extra) {
            o.extend(e);
        }
        s
    };
    vec![
        (
            "ItemProcessor missing",
            one(json!({"Type": "Map", "End": true, "ItemsPath": 1})),
            &[
                ("/States/A", "missing required field 'ItemProcessor'"),
                ("/States/A/ItemsPath", "must be a path string"),
            ],
        ),
        (
            "ItemProcessor not an object",
            one(json!({"Type": "Map", "End": true, "ItemProcessor": 1})),
            &[("/States/A/ItemProcessor", "must be an object")],
        ),
        (
            "ItemProcessor and Iterator, Parameters and ItemSelector",
            one(map(
                json!({"Iterator": proc, "Parameters": {}, "ItemSelector": {"a.$": "x"}}),
            )),
            &[
                (
                    "/States/A/ItemSelector/a.$",
                    "invalid path: path 'x' must start with '$'",
                ),
                (
                    "/States/A/Iterator",
                    "'Iterator' and 'ItemProcessor' cannot both be set",
                ),
                (
                    "/States/A/Parameters",
                    "'Parameters' and 'ItemSelector' cannot both be set",
                ),
            ],
        ),
        (
            "Items not an array",
            one_ja(map(json!({"Items": 1}))),
            &[(
                "/States/A/Items",
                "must be an array or a JSONata expression",
            )],
        ),
        (
            "ProcessorConfig fields",
            one(map(
                json!({"ItemProcessor": {"StartAt": "X", "ProcessorConfig": {"Mode": "X", "ExecutionType": 1, "Foo": 1}, "States": {"X": {"Type": "Succeed"}}}}),
            )),
            &[
                (
                    "/States/A/ItemProcessor/ProcessorConfig/ExecutionType",
                    "must be \"STANDARD\" or \"EXPRESS\"",
                ),
                (
                    "/States/A/ItemProcessor/ProcessorConfig/Foo",
                    "unknown field 'Foo'",
                ),
                (
                    "/States/A/ItemProcessor/ProcessorConfig/Mode",
                    "must be \"INLINE\" or \"DISTRIBUTED\"",
                ),
            ],
        ),
        (
            "ProcessorConfig not an object",
            one(map(
                json!({"ItemProcessor": {"StartAt": "X", "ProcessorConfig": 1, "States": {"X": {"Type": "Succeed"}}}}),
            )),
            &[(
                "/States/A/ItemProcessor/ProcessorConfig",
                "must be an object",
            )],
        ),
        (
            "processor without States skips the rest",
            one(map(
                json!({"ItemProcessor": {"StartAt": "X"}, "MaxConcurrency": -1, "Label": 1}),
            )),
            &[("/States/A/ItemProcessor", "missing required field 'States'")],
        ),
        (
            "MaxConcurrency, tolerances, Label",
            one(map(
                json!({"MaxConcurrency": -1, "MaxConcurrencyPath": "$.m", "ToleratedFailurePercentage": 101, "Label": 1}),
            )),
            &[
                ("/States/A/Label", "must be a string"),
                (
                    "/States/A/MaxConcurrency",
                    "'MaxConcurrency' and 'MaxConcurrencyPath' cannot both be set",
                ),
                ("/States/A/MaxConcurrency", "Minimum value is 0"),
                (
                    "/States/A/ToleratedFailurePercentage",
                    "must be a number between 0 and 100",
                ),
            ],
        ),
        (
            "legacy Parameters problems reported once",
            one(map(json!({"Parameters": {"a.$": 1}}))),
            &[(
                "/States/A/Parameters/a.$",
                "the value of a field ending in '.$' must be a string holding a path or an intrinsic function",
            )],
        ),
        (
            "distributed-only fields on an inline Map",
            one(map(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}, "ItemBatcher": {"MaxItemsPerBatch": 1}, "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}}}),
            )),
            &[
                (
                    "/States/A/ItemBatcher",
                    "'ItemBatcher' needs ProcessorConfig.Mode DISTRIBUTED",
                ),
                (
                    "/States/A/ItemReader",
                    "'ItemReader' needs ProcessorConfig.Mode DISTRIBUTED",
                ),
                (
                    "/States/A/ResultWriter",
                    "'ResultWriter' needs ProcessorConfig.Mode DISTRIBUTED",
                ),
            ],
        ),
    ]
}

fn distributed_cases() -> Vec<(&'static str, Value, Expected)> {
    let dist = |extra: Value| {
        let mut s = json!({"Type": "Map", "End": true, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "X", "States": {"X": {"Type": "Succeed"}}}});
        if let (Some(o), Value::Object(e)) = (s.as_object_mut(), extra) {
            o.extend(e);
        }
        one(s)
    };
    vec![
        (
            "ItemReader not an object",
            dist(json!({"ItemReader": 1})),
            &[("/States/A/ItemReader", "must be an object")],
        ),
        (
            "ItemReader resource and fields",
            dist(
                json!({"ItemReader": {"Resource": "arn:aws:s3:::b", "Foo": 1, "Parameters": {"a.$": 1}}}),
            ),
            &[
                ("/States/A/ItemReader/Foo", "unknown field 'Foo'"),
                (
                    "/States/A/ItemReader/Parameters/a.$",
                    "the value of a field ending in '.$' must be a string holding a path or an intrinsic function",
                ),
                (
                    "/States/A/ItemReader/Resource",
                    "must be arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2",
                ),
            ],
        ),
        (
            "ItemReader Resource missing",
            dist(json!({"ItemReader": {}})),
            &[(
                "/States/A/ItemReader/Resource",
                "is required and must be a string",
            )],
        ),
        (
            "ReaderConfig values",
            dist(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {
                    "InputType": "XML", "CSVHeaderLocation": "LAST", "CSVHeaders": [1], "CSVDelimiter": "DASH",
                    "ItemsPointer": 1, "Foo": 1, "MaxItems": 1, "MaxItemsPath": "$.n"
                }}}),
            ),
            &[
                (
                    "/States/A/ItemReader/ReaderConfig/CSVDelimiter",
                    "must be one of COMMA, PIPE, SEMICOLON, SPACE, TAB",
                ),
                (
                    "/States/A/ItemReader/ReaderConfig/CSVHeaderLocation",
                    "must be FIRST_ROW or GIVEN",
                ),
                (
                    "/States/A/ItemReader/ReaderConfig/CSVHeaders",
                    "must be an array of strings",
                ),
                (
                    "/States/A/ItemReader/ReaderConfig/Foo",
                    "unknown field 'Foo'",
                ),
                (
                    "/States/A/ItemReader/ReaderConfig/InputType",
                    "must be one of CSV, JSON, JSONL, MANIFEST",
                ),
                (
                    "/States/A/ItemReader/ReaderConfig/ItemsPointer",
                    "must be a JSON pointer string",
                ),
                (
                    "/States/A/ItemReader/ReaderConfig/MaxItems",
                    "'MaxItems' and 'MaxItemsPath' cannot both be set",
                ),
            ],
        ),
        (
            "ManifestType S3_INVENTORY stands for InputType MANIFEST, without an InputType",
            dist(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {
                    "InputType": "CSV", "ManifestType": "S3_INVENTORY"
                }}}),
            ),
            &[(
                "/States/A/ItemReader/ReaderConfig/InputType",
                "cannot be specified when ManifestType is S3_INVENTORY",
            )],
        ),
        (
            "ManifestType values",
            dist(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {
                    "ManifestType": "ATHENA_DATA", "InputType": "CSV"
                }}}),
            ),
            &[(
                "/States/A/ItemReader/ReaderConfig/ManifestType",
                "ATHENA_DATA (an Athena UNLOAD manifest) is not supported by this engine; S3_INVENTORY is",
            )],
        ),
        (
            "ManifestType unknown",
            dist(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {
                    "ManifestType": "ORC"
                }}}),
            ),
            &[(
                "/States/A/ItemReader/ReaderConfig/ManifestType",
                "must be S3_INVENTORY or ATHENA_DATA",
            )],
        ),
        (
            "CSVHeaders required when GIVEN",
            dist(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}}}),
            ),
            &[(
                "/States/A/ItemReader/ReaderConfig",
                "CSVHeaders is required when CSVHeaderLocation is GIVEN",
            )],
        ),
        (
            "ReaderConfig not an object",
            dist(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": 1}}),
            ),
            &[("/States/A/ItemReader/ReaderConfig", "must be an object")],
        ),
        (
            "ItemBatcher not an object",
            dist(json!({"ItemBatcher": 1})),
            &[("/States/A/ItemBatcher", "must be an object")],
        ),
        (
            "ItemBatcher without a maximum",
            dist(json!({"ItemBatcher": {"Foo": 1, "BatchInput": {"a.$": 1}}})),
            &[
                (
                    "/States/A/ItemBatcher",
                    "needs MaxItemsPerBatch or MaxInputBytesPerBatch",
                ),
                (
                    "/States/A/ItemBatcher/BatchInput/a.$",
                    "the value of a field ending in '.$' must be a string holding a path or an intrinsic function",
                ),
                ("/States/A/ItemBatcher/Foo", "unknown field 'Foo'"),
            ],
        ),
        (
            "ItemBatcher maximum by value and path",
            dist(
                json!({"ItemBatcher": {"MaxItemsPerBatch": -1, "MaxInputBytesPerBatch": 1, "MaxInputBytesPerBatchPath": "$.b"}}),
            ),
            &[
                (
                    "/States/A/ItemBatcher/MaxInputBytesPerBatch",
                    "'MaxInputBytesPerBatch' and 'MaxInputBytesPerBatchPath' cannot both be set",
                ),
                (
                    "/States/A/ItemBatcher/MaxItemsPerBatch",
                    "Minimum value is 0",
                ),
            ],
        ),
        (
            "ResultWriter not an object",
            dist(json!({"ResultWriter": 1})),
            &[("/States/A/ResultWriter", "must be an object")],
        ),
        (
            "ResultWriter fields",
            dist(
                json!({"ResultWriter": {"Resource": "arn:x", "Foo": 1, "WriterConfig": {"OutputType": "CSV", "Transformation": "NONE"}, "Parameters": {"a.$": 1}}}),
            ),
            &[
                ("/States/A/ResultWriter/Foo", "unknown field 'Foo'"),
                (
                    "/States/A/ResultWriter/Parameters/a.$",
                    "the value of a field ending in '.$' must be a string holding a path or an intrinsic function",
                ),
                (
                    "/States/A/ResultWriter/Resource",
                    "must be arn:aws:states:::s3:putObject",
                ),
                (
                    "/States/A/ResultWriter/WriterConfig/OutputType",
                    "must be JSON or JSONL",
                ),
            ],
        ),
        (
            "WriterConfig not an object",
            dist(json!({"ResultWriter": {"WriterConfig": 1}})),
            &[("/States/A/ResultWriter/WriterConfig", "must be an object")],
        ),
    ]
}

#[test]
fn the_definition_and_its_top_level_fields_are_checked() {
    check(&top_level_cases());
}

#[test]
fn graphs_need_a_start_states_names_reachability_and_an_end() {
    check(&graph_cases());
}

#[test]
fn state_types_fields_transitions_paths_and_payloads_are_checked() {
    check(&state_cases());
}

#[test]
fn retriers_and_catchers_are_checked() {
    check(&retry_catch_cases());
}

#[test]
fn task_and_fail_fields_are_checked() {
    check(&task_fail_cases());
}

#[test]
fn choice_rules_are_checked_at_every_depth() {
    check(&choice_cases());
}

#[test]
fn wait_durations_and_parallel_branches_are_checked() {
    check(&wait_parallel_cases());
}

#[test]
fn map_fields_and_its_processor_are_checked() {
    check(&map_cases());
}

#[test]
fn distributed_map_readers_batchers_and_writers_are_checked() {
    check(&distributed_cases());
}

#[test]
fn tolerated_failure_count_names_its_range() {
    let def = one(
        json!({"Type": "Map", "End": true, "ToleratedFailureCount": "x",
        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}}),
    );
    let message = format!("must be a number between 0 and {}", f64::MAX);
    assert_eq!(
        problems(&def),
        vec![("/States/A/ToleratedFailureCount".to_string(), message)]
    );
}

#[test]
fn a_valid_definition_has_no_problem() {
    let def = one(json!({"Type": "Map", "End": true, "MaxConcurrency": 2,
        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}));
    assert_eq!(problems(&def), Vec::<(String, String)>::new());
}

fn pairs(c: &Collector) -> Vec<(&str, &str)> {
    c.errors
        .iter()
        .map(|e| (e.pointer.as_str(), e.message.as_str()))
        .collect()
}

#[test]
fn parse_reports_only_shapes_and_validate_the_rules() {
    let def = one(json!({"Type": "Pass", "Next": "Nowhere", "InputPath": 1}));
    let mut c = Collector::default();
    let doc = parse::parse(&def, &mut c);
    assert_eq!(
        pairs(&c),
        [("/States/A/InputPath", "must be a path string or null")]
    );
    let Some(doc) = doc else {
        panic!("the graph parses")
    };
    let Err(rules) = validate::validate(doc, Collector::default()) else {
        panic!("a dangling Next is not valid")
    };
    let rules: Vec<_> = rules
        .iter()
        .map(|e| (e.pointer.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        rules,
        [(
            "/States/A/Next",
            "refers to state 'Nowhere', which does not exist"
        )]
    );
}

#[test]
fn a_document_with_parse_problems_is_never_valid() {
    let def = one(json!({"Type": "Pass", "End": true, "InputPath": 1}));
    let mut c = Collector::default();
    let Some(doc) = parse::parse(&def, &mut c) else {
        panic!("the graph parses")
    };
    match validate::validate(doc, c) {
        Ok(_) => panic!("a parse problem was forgotten"),
        Err(errors) => assert_eq!(errors.len(), 1, "no rule problem: {errors:?}"),
    }
}

#[test]
fn an_unusable_state_is_validated_without_its_transitions() {
    // a Map without a processor cannot run: its Next is no transition, and it counts as an end
    let def = m(json!({"A": {"Type": "Map", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}));
    assert_eq!(
        problems(&def),
        [
            (
                "/States/A".to_string(),
                "missing required field 'ItemProcessor'".to_string()
            ),
            (
                "/States/B".to_string(),
                "state 'B' is not reachable from StartAt".to_string()
            ),
        ]
    );
}

#[test]
fn a_map_label_is_1_to_40_characters_without_the_characters_aws_refuses() {
    let with_label = |label: &str| {
        let map = json!({"Type": "Map", "End": true, "Label": label,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "X",
                "States": {"X": {"Type": "Succeed"}}}});
        problems(&one(map))
    };
    let refused = |message: String| vec![("/States/A/Label".to_string(), message)];
    for ok in ["TestMap", "a-b_c.d/e(f)+g=h@i!", "é", &"x".repeat(40)] {
        assert_eq!(with_label(ok), Vec::new(), "{ok:?}");
    }
    assert_eq!(with_label(""), refused("cannot be empty".into()));
    assert_eq!(
        with_label(&"x".repeat(41)),
        refused("cannot exceed 40 characters".into())
    );
    let controls = (0x00..0x20).chain(0x7f..0xa0).filter_map(char::from_u32);
    for ch in " ?*<>{}[]:;,\\|^~$#%&`\"".chars().chain(controls) {
        let message = format!("cannot contain the character '{}'", ch.escape_debug());
        assert_eq!(
            with_label(&format!("label_{ch}")),
            refused(message),
            "{ch:?}"
        );
    }
    assert_eq!(
        with_label("tab\there"),
        refused("cannot contain the character '\\t'".into())
    );
}
