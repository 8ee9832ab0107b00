//! The binary and unary operators, each arm on its own: exact results, and for each refusal the
//! error code of the reference implementation (npm `jsonata` 2.x, checked with node). Positions
//! are this crate's: the offset of the operator, where the reference reports the offset just
//! after it (one more).
//!
//! These run without node; `differential.rs` compares a wider corpus with the reference itself.

use mdlc_jsonata::{Environment, Expression, JsonataError};
use serde_json::{Value, json};

fn eval(src: &str) -> Result<Option<Value>, JsonataError> {
    Expression::parse(src)?.evaluate(Some(&json!({"x": 2.5})), &Environment::new())
}

fn value(src: &str) -> Option<Value> {
    eval(src).unwrap_or_else(|e| panic!("{src}: unexpected error {e}"))
}

fn error(src: &str) -> JsonataError {
    match eval(src) {
        Ok(v) => panic!("{src}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn each_arithmetic_operator_computes_its_own_result() {
    assert_eq!(value("7 + 3"), Some(json!(10)));
    assert_eq!(value("7 - 3"), Some(json!(4)));
    assert_eq!(value("7 * 3"), Some(json!(21)));
    assert_eq!(value("7 / 2"), Some(json!(3.5)));
    assert_eq!(value("7 % 3"), Some(json!(1)));
    assert_eq!(value("-7 % 3"), Some(json!(-1)));
}

#[test]
fn arithmetic_with_an_undefined_side_is_undefined_and_a_string_side_is_refused() {
    assert_eq!(value("$nothing + 1"), None);
    assert_eq!(value("1 * $nothing"), None);
    let e = error(r#""a" + 1"#);
    assert_eq!((e.code.as_str(), e.position), ("T2001", Some(4)));
    let e = error(r#"1 - "a""#);
    assert_eq!((e.code.as_str(), e.position), ("T2002", Some(2)));
}

#[test]
fn an_infinite_operand_is_out_of_range_at_the_operator() {
    // the reference: D1001 at position 7 and 3 (just after the operator)
    let e = error("(1/0) + 1");
    assert_eq!((e.code.as_str(), e.position), ("D1001", Some(6)));
    let e = error("1 + (1/0)");
    assert_eq!((e.code.as_str(), e.position), ("D1001", Some(2)));
    let e = error(r#"(1/0) & "a""#);
    assert_eq!((e.code.as_str(), e.position), ("D3001", Some(6)));
}

#[test]
fn an_infinite_operand_is_compared_not_refused() {
    // the reference compares with JavaScript's operators and no D1001 check (npm jsonata 2.2.2:
    // `1/0 < 2` is false, `2 < 1/0` and `1/0 > 2` true, `1/0 >= 1/0` true)
    assert_eq!(value("1/0 < 2"), Some(json!(false)));
    assert_eq!(value("2 < 1/0"), Some(json!(true)));
    assert_eq!(value("1/0 > 2"), Some(json!(true)));
    assert_eq!(value("1/0 >= 1/0"), Some(json!(true)));
    assert_eq!(value("1/0 <= 1/0"), Some(json!(true)));
}

#[test]
fn and_or_combine_both_sides() {
    assert_eq!(value("true and true"), Some(json!(true)));
    assert_eq!(value("true and false"), Some(json!(false)));
    assert_eq!(value("false and true"), Some(json!(false)));
    assert_eq!(value("false or true"), Some(json!(true)));
    assert_eq!(value("true or false"), Some(json!(true)));
    assert_eq!(value("false or false"), Some(json!(false)));
    assert_eq!(value("$nothing or 1"), Some(json!(true)));
}

#[test]
fn equality_and_inequality() {
    assert_eq!(value("1 = 1"), Some(json!(true)));
    assert_eq!(value("1 != 2"), Some(json!(true)));
    assert_eq!(value("1 != 1"), Some(json!(false)));
    // an undefined side makes both false
    assert_eq!(value("$nothing = 1"), Some(json!(false)));
    assert_eq!(value("$nothing != 1"), Some(json!(false)));
    assert_eq!(value("1 != $nothing"), Some(json!(false)));
}

#[test]
fn each_comparison_operator_at_and_around_equality() {
    for (src, want) in [
        ("1 < 2", true),
        ("2 < 1", false),
        ("1 < 1", false),
        ("1 <= 2", true),
        ("1 <= 1", true),
        ("2 <= 1", false),
        ("2 > 1", true),
        ("1 > 2", false),
        ("2 > 2", false),
        ("2 >= 1", true),
        ("2 >= 2", true),
        ("1 >= 2", false),
        (r#""a" < "b""#, true),
        (r#""b" <= "a""#, false),
        (r#""b" > "a""#, true),
        (r#""a" >= "a""#, true),
    ] {
        assert_eq!(value(src), Some(json!(want)), "{src}");
    }
}

#[test]
fn comparisons_with_undefined_are_undefined_and_other_types_are_refused() {
    assert_eq!(value("$nothing < 1"), None);
    assert_eq!(value("1 >= $nothing"), None);
    let e = error("true < 1");
    assert_eq!((e.code.as_str(), e.position), ("T2010", Some(5)));
    assert_eq!(error("1 < true").code, "T2010");
    assert_eq!(error(r#"1 < "a""#).code, "T2009");
}

#[test]
fn concatenation_skips_undefined_sides() {
    assert_eq!(value(r#""a" & 1"#), Some(json!("a1")));
    assert_eq!(value(r#"$nothing & "b""#), Some(json!("b")));
}

#[test]
fn the_range_operator() {
    assert_eq!(value("[1..3]"), Some(json!([1, 2, 3])));
    assert_eq!(value("[3..3]"), Some(json!([3])));
    assert_eq!(value("[5..1]"), Some(json!([])));
    assert_eq!(value("[$nothing..3]"), Some(json!([])));
    assert_eq!(value("[1..$nothing]"), Some(json!([])));
    let e = error("[1.5..3]");
    assert_eq!((e.code.as_str(), e.position), ("T2003", Some(4)));
    assert_eq!(error("[1..2.5]").code, "T2004");
    assert_eq!(error(r#"["a"..2]"#).code, "T2003");
}

#[test]
fn the_range_operator_allocates_at_most_1e7_items() {
    assert_eq!(value("$count([1..10000000])"), Some(json!(10_000_000)));
    let e = error("[1..10000001]");
    assert_eq!((e.code.as_str(), e.position), ("D2014", Some(2)));
    assert_eq!(
        e.message,
        "The size of the sequence allocated by the range operator (..) must not exceed 1e7.  Attempted to allocate 10000001."
    );
    assert!(
        error("[3..10000004]")
            .message
            .ends_with("Attempted to allocate 10000002."),
        "the size is b - a + 1"
    );
}

#[test]
fn membership() {
    assert_eq!(value("2 in [1,2,3]"), Some(json!(true)));
    assert_eq!(value("4 in [1,2,3]"), Some(json!(false)));
    assert_eq!(value(r#""a" in "a""#), Some(json!(true)));
    assert_eq!(value("$nothing in [1]"), Some(json!(false)));
    assert_eq!(value("1 in $nothing"), Some(json!(false)));
}

#[test]
fn negation() {
    assert_eq!(value("-(2 + 3)"), Some(json!(-5)));
    assert_eq!(value("-x"), Some(json!(-2.5)));
    assert_eq!(value("-$nothing"), None);
    // NaN (0/0) and infinity cannot be negated, as in the reference
    assert_eq!(error("-(0/0)").code, "D1002");
    assert_eq!(error("-(1/0)").code, "D1001");
    assert_eq!(error(r#"-"a""#).code, "D1002");
}

#[test]
fn each_refusal_of_a_binary_operator_names_the_operator_in_its_message() {
    // The reference's wording: the operator quoted, T2009's values as JSON.
    for (src, code, message) in [
        (
            r#""a" + 1"#,
            "T2001",
            r#"The left side of the "+" operator must evaluate to a number"#,
        ),
        (
            r#"1 % "a""#,
            "T2002",
            r#"The right side of the "%" operator must evaluate to a number"#,
        ),
        (
            "true <= 1",
            "T2010",
            r#"The expressions either side of operator "<=" must evaluate to numeric or string values"#,
        ),
        (
            r#"1 > "a""#,
            "T2009",
            r#"The values 1 and "a" either side of operator ">" must be of the same data type"#,
        ),
        (
            "[1.5..3]",
            "T2003",
            "The left side of the range operator (..) must evaluate to an integer",
        ),
        (
            "[1..2.5]",
            "T2004",
            "The right side of the range operator (..) must evaluate to an integer",
        ),
    ] {
        let e = error(src);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (code, message),
            "{src}"
        );
    }
}

#[test]
fn and_or_evaluate_their_right_side_only_when_it_decides() {
    assert_eq!(
        value(r#"false and $error("right side")"#),
        Some(json!(false))
    );
    assert_eq!(value(r#"true or $error("right side")"#), Some(json!(true)));
    assert_eq!(
        error(r#"true and $error("right side")"#).message,
        "right side"
    );
    assert_eq!(
        error(r#"false or $error("right side")"#).message,
        "right side"
    );
}

/// D1002 names the value it could not negate as JSON, as the reference does.
#[test]
fn negating_a_non_number_names_the_value() {
    for (src, value) in [
        (r#"-"x""#, r#""x""#),
        (r#"-{"a":[1,"b"]}"#, r#"{"a":[1,"b"]}"#),
        ("-(0/0)", "null"),
        ("-true", "true"),
    ] {
        let e = Expression::parse(src)
            .and_then(|e| e.evaluate(None, &Environment::new()))
            .err();
        assert_eq!(
            e.map(|e| (e.code, e.message)),
            Some((
                "D1002".to_string(),
                format!("Cannot negate a non-numeric value: {value}")
            )),
            "{src}"
        );
    }
}
