//! Property test: arbitrary JSON documents never make parse + validate panic, and every
//! reported problem carries a JSON pointer that starts with '/' (or is the root "").

use proptest::prelude::*;
use serde_json::{Map, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "StartAt",
        "States",
        "Type",
        "Next",
        "End",
        "Pass",
        "Task",
        "Choice",
        "Wait",
        "Succeed",
        "Fail",
        "Parallel",
        "Map",
        "Resource",
        "Parameters",
        "ResultPath",
        "InputPath",
        "OutputPath",
        "Branches",
        "ItemProcessor",
        "Iterator",
        "Choices",
        "Variable",
        "StringEquals",
        "Default",
        "Retry",
        "Catch",
        "ErrorEquals",
        "Seconds",
        "QueryLanguage",
        "JSONata",
        "Assign",
        "Output",
        "Arguments",
        "A",
        "B",
        "x.$",
        "$.a",
        "States.Format('{}', $.a)",
        "{% $states.input %}",
        "Condition",
        "ItemsPath",
        "MaxConcurrency",
        "BackoffRate",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        names.clone().prop_map(|s| Value::String(s.to_string())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..6).prop_map(|kv| {
                let mut m = Map::new();
                for (k, v) in kv {
                    m.insert(k.to_string(), v);
                }
                Value::Object(m)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validate_never_panics(doc in arb_json()) {
        match mdlc_asl::StateMachine::from_value(&doc) {
            Ok(_) => {}
            Err(errs) => {
                prop_assert!(!errs.is_empty());
                for e in errs.iter() {
                    prop_assert!(e.pointer.is_empty() || e.pointer.starts_with('/'), "{}", e.pointer);
                }
            }
        }
    }

    #[test]
    fn text_parsing_never_panics(src in ".{0,200}") {
        let _ = mdlc_asl::StateMachine::from_json_str(&src);
    }

    #[test]
    fn valid_machines_execute_without_panicking(doc in arb_json(), input in arb_json()) {
        if let Ok(sm) = mdlc_asl::StateMachine::from_value(&doc) {
            let opts = mdlc_asl::ExecutionOptions { max_transitions: Some(200), ..Default::default() };
            let _ = futures::executor::block_on(sm.execute(input, opts));
        }
    }
}
