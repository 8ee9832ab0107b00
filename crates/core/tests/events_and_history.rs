//! `io::parse_event` / `io::to_value` (the handlers' event decoding) and
//! `history::flatten_tuning_config`: exact problems with their JSON pointers, exact values.

use mdlc_core::error::{FnError, Problem};
use mdlc_core::history::flatten_tuning_config;
use mdlc_core::io::{parse_event, to_value};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    model_name: String,
    #[serde(default)]
    steps: Vec<Step>,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct Step {
    n: u32,
}

const REQUIRED: &[&str] = &["modelName"];
const OPTIONAL: &[&str] = &["steps"];

fn problems(event: Value) -> Vec<Problem> {
    match parse_event::<Event>(event, REQUIRED, OPTIONAL) {
        Err(FnError::InvalidInput { problems }) => problems,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn given_an_event_with_required_and_optional_fields_when_parsed_then_it_decodes() {
    let e: Event = parse_event(
        json!({"modelName": "m", "steps": [{"n": 1}, {"n": 2}]}),
        REQUIRED,
        OPTIONAL,
    )
    .unwrap();
    assert_eq!(
        e,
        Event {
            model_name: "m".into(),
            steps: vec![Step { n: 1 }, Step { n: 2 }]
        }
    );
    let e: Event = parse_event(json!({"modelName": "m"}), REQUIRED, OPTIONAL).unwrap();
    assert_eq!(e.steps, []);
}

#[test]
fn given_missing_null_and_unknown_fields_when_parsed_then_each_is_named() {
    assert_eq!(
        problems(json!({"x/y": 1, "steps": []})),
        [
            Problem::new("/modelName", "is required"),
            Problem::new("/x~1y", "unknown field"),
        ]
    );
    assert_eq!(
        problems(json!({"modelName": null})),
        [Problem::new("/modelName", "is required")]
    );
    assert_eq!(
        problems(json!([1])),
        [Problem::new("", "the event must be a JSON object")]
    );
}

#[test]
fn given_a_wrong_type_deep_in_the_event_when_parsed_then_the_pointer_names_it() {
    assert_eq!(
        problems(json!({"modelName": "m", "steps": [{"n": 1}, {"n": "two"}]})),
        [Problem::new(
            "/steps/1/n",
            "invalid type: string \"two\", expected u32"
        )]
    );
    assert_eq!(
        problems(json!({"modelName": 5})),
        [Problem::new(
            "/modelName",
            "invalid type: integer `5`, expected a string"
        )]
    );
}

#[test]
fn given_an_output_when_serialized_then_it_is_its_json() {
    let out = Event {
        model_name: "m".into(),
        steps: vec![Step { n: 3 }],
    };
    assert_eq!(
        to_value(&out).unwrap(),
        json!({"modelName": "m", "steps": [{"n": 3}]})
    );
}

#[test]
fn given_a_categorical_range_of_mixed_values_when_flattened_then_each_value_is_text() {
    let flat = flatten_tuning_config(&json!({
        "ParameterRanges": {
            "CategoricalParameterRanges": [{"Name": "b", "Values": [true, "gbtree", 3, null]}]
        }
    }));
    assert_eq!(
        flat.get("range.b").map(String::as_str),
        Some("true,gbtree,3")
    );
    assert_eq!(flat.len(), 1);
}
