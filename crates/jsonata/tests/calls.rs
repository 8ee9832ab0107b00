//! Function calls, partial application, transforms, sorting, grouping and the array constructor:
//! exact results and error codes, each checked against the reference implementation (npm
//! `jsonata` 2.x, with node). Positions are this crate's (the offset of the call's parenthesis).
//!
//! These run without node; `differential.rs` compares a wider corpus with the reference itself.

use mdlc_jsonata::{Environment, Expression, JsonataError};
use serde_json::{Value, json};

fn eval_on(src: &str, input: Option<Value>) -> Result<Option<Value>, JsonataError> {
    Expression::parse(src)?.evaluate(input.as_ref(), &Environment::new())
}

fn value(src: &str) -> Option<Value> {
    eval_on(src, None).unwrap_or_else(|e| panic!("{src}: unexpected error {e}"))
}

fn code_on(src: &str, input: Option<Value>) -> String {
    match eval_on(src, input) {
        Ok(v) => format!("no error (result {v:?})"),
        Err(e) => e.code,
    }
}

fn code(src: &str) -> String {
    code_on(src, None)
}

#[test]
fn calling_a_name_that_is_a_function_variable_suggests_the_variable() {
    // T1005 only when the path is undefined and `$name` exists; otherwise T1006
    let e = eval_on(r#"uppercase("a")"#, None).unwrap_err();
    assert_eq!(e.code, "T1005");
    assert_eq!(
        e.message,
        "Attempted to invoke a non-function. Did you mean $uppercase?"
    );
    assert_eq!(code(r#"nothing("a")"#), "T1006");
    assert_eq!(
        code_on(r#"uppercase("a")"#, Some(json!({"uppercase": 5}))),
        "T1006"
    );
    assert_eq!(code("$nothing()"), "T1006");
}

#[test]
fn partially_applying_a_non_function() {
    // the same split for partial application: T1007 when `$name` exists, else T1008
    assert_eq!(code("uppercase(?)"), "T1007");
    assert_eq!(code("nothing(?)"), "T1008");
    assert_eq!(
        code_on("uppercase(?)", Some(json!({"uppercase": 5}))),
        "T1008"
    );
}

#[test]
fn a_string_question_mark_is_an_argument_not_a_placeholder() {
    assert_eq!(
        value(r#"($f := $replace(?, "?", "!"); $f("a?b"))"#),
        Some(json!("a!b"))
    );
}

#[test]
fn a_partial_application_of_a_partial_application_fills_the_placeholders_in_order() {
    assert_eq!(
        value(r#"($f := $substring(?, ?, 2); $g := $f("hello", ?); $g(1))"#),
        Some(json!("el"))
    );
}

#[test]
fn a_transform_of_undefined_is_undefined_and_an_undefined_update_changes_nothing() {
    assert_eq!(value(r#"$nothing ~> |a|{"b":1}|"#), None);
    assert_eq!(
        value(r#"{"a":{"x":1}} ~> |a|$nothing|"#),
        Some(json!({"a": {"x": 1}}))
    );
    assert_eq!(
        value(r#"{"a":{"x":1}} ~> |a|{"y":2}|"#),
        Some(json!({"a": {"x": 1, "y": 2}}))
    );
}

#[test]
fn sorting_puts_undefined_keys_last_in_both_directions() {
    assert_eq!(
        value(r#"[{"p":2},{},{"p":1}]^(p)"#),
        Some(json!([{"p": 1}, {"p": 2}, {}]))
    );
    assert_eq!(
        value(r#"[{"p":2},{},{"p":1}]^(>p)"#),
        Some(json!([{"p": 2}, {"p": 1}, {}]))
    );
    assert_eq!(value(r#"[{},{"p":2}]^(p)"#), Some(json!([{"p": 2}, {}])));
}

#[test]
fn sorting_on_a_key_that_is_neither_number_nor_string_is_refused() {
    assert_eq!(code(r#"[{"p":1},{"p":true}]^(p)"#), "T2008");
    assert_eq!(code(r#"[{"p":true},{"p":1}]^(p)"#), "T2008");
}

#[test]
fn grouping_an_empty_array_evaluates_the_pairs_once() {
    assert_eq!(value(r#"[]{"k": 1}"#), Some(json!({"k": 1})));
    // a key that is not a string for an undefined item would be refused (T1003): there is none
    assert_eq!(
        value(r#"[1,2]{($exists($) ? "k" : 0): $count($)}"#),
        Some(json!({"k": 2}))
    );
}

#[test]
fn a_string_grown_by_a_function_past_16_mib_is_refused() {
    // 13 MiB become 18,175,320 bytes of base64: over the ceiling (`MAX_STRING_BYTES`)
    let e = eval_on(
        r#"($s := $join([1..851968].("0123456789abcdef"), ""); $length($base64encode($s)))"#,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code, "D2014");
    assert_eq!(
        e.message,
        "The size of a string must not exceed 16777216 bytes.  Attempted to allocate 18175320."
    );
}

/// A negative limit names its argument as the reference does: the third of `$match` and
/// `$split`, the fourth of `$replace`.
#[test]
fn a_negative_limit_names_its_argument() {
    for (src, code, message) in [
        (
            r#"$match("a", /a/, -1)"#,
            "D3040",
            "Third argument of match function must evaluate to a positive number",
        ),
        (
            r#"$split("a", "a", -1)"#,
            "D3020",
            "Third argument of split function must evaluate to a positive number",
        ),
        (
            r#"$replace("a", "a", "b", -1)"#,
            "D3011",
            "Fourth argument of replace function must evaluate to a positive number",
        ),
    ] {
        let e = eval_on(src, None).expect_err(src);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (code, message),
            "{src}"
        );
    }
}

/// `$shuffle` returns a permutation of its argument: for 20 items almost surely another order
/// (the identity has probability 1/20!), for one item that item.
#[test]
fn shuffle_permutes_the_items() {
    let shuffled = value("$shuffle([1..20])").unwrap();
    let items: Vec<i64> = serde_json::from_value(shuffled).unwrap();
    let mut sorted = items.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=20).collect::<Vec<i64>>());
    assert_ne!(items, sorted, "20 items came back in order");
    assert_eq!(value("$shuffle([5])"), Some(json!([5])));
}

/// `$error` and `$assert` use their message, or the reference's default when it is empty.
#[test]
fn error_and_assert_messages_default_when_empty() {
    for (src, code, message) in [
        (r#"$error("")"#, "D3137", "$error() function evaluated"),
        (r#"$error("stop")"#, "D3137", "stop"),
        (
            r#"$assert(false, "")"#,
            "D3141",
            "$assert() statement failed",
        ),
        (r#"$assert(false)"#, "D3141", "$assert() statement failed"),
        (r#"$assert(false, "why")"#, "D3141", "why"),
    ] {
        let e = eval_on(src, None).expect_err(src);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (code, message),
            "{src}"
        );
    }
}

/// `T0412` names an `a<…>` parameter's item type in the plural. The reference's message quotes
/// it and names the function `undefined` (`… of function undefined must be an array of
/// "numbers"`); a type it has no plural for is `undefined` there and "values" here.
#[test]
fn a_typed_array_parameter_names_its_item_type_in_t0412() {
    for (sub, plural) in [
        ("a", "arrays"),
        ("b", "booleans"),
        ("f", "functions"),
        ("n", "numbers"),
        ("o", "objects"),
        ("s", "strings"),
        ("x", "values"),
    ] {
        let src = format!("(function($a)<a<{sub}>:n>{{$count($a)}})([null])");
        let Err(e) = eval_on(&src, None) else {
            panic!("{src} did not fail")
        };
        assert_eq!(e.code, "T0412", "{src}");
        assert_eq!(
            e.message,
            format!("Argument 1 of function must be an array of {plural}"),
            "{src}"
        );
    }
}

/// An optional parameter left out still takes its place in the argument list, as in the
/// reference: the one argument goes to the first parameter and the second is undefined.
#[test]
fn a_left_out_optional_parameter_keeps_the_arguments_in_place() {
    assert_eq!(
        value("(function($a, $b)<s?n>{[$a, $b]})(5)"),
        Some(json!([5]))
    );
}

/// Type parameters nest (`a<a<n>>`, `f<a<n>n:n>`): the parameters after them are still read.
#[test]
fn nested_type_parameters_leave_the_following_parameters_in_place() {
    assert_eq!(
        value("(function($a, $b)<a<a<n>>n:n>{$count($a) + $b})([[1],[2]], 5)"),
        Some(json!(7))
    );
    assert_eq!(
        value("(function($f)<f<a<n>n:n>>{$f([1],2)})(function($a,$b){$count($a)+$b})"),
        Some(json!(3))
    );
}
