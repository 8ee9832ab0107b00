//! The memory ceiling and the depth limits of an evaluation: a runaway expression ends with a
//! named error (`D2014` for size, `D1011` for recursion, `S0201` for nesting) instead of
//! exhausting memory or the stack.

use mdlc_jsonata::{Environment, Expression, JsonataError, MAX_STRING_BYTES};
use serde_json::json;

fn eval(src: &str) -> Result<Option<serde_json::Value>, JsonataError> {
    let e = Expression::parse(src)?;
    e.evaluate(Some(&json!({})), &Environment::new())
}

fn code(src: &str) -> String {
    match eval(src) {
        Ok(v) => format!("no error (result {v:?})"),
        Err(e) => e.code,
    }
}

#[test]
fn a_string_doubled_in_a_recursion_ends_with_d2014() {
    let src = r#"($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $f("ab", 60))"#;
    let e = eval(src).err();
    assert_eq!(e.as_ref().map(|e| e.code.as_str()), Some("D2014"));
    assert!(
        e.is_some_and(|e| e.message.contains(&MAX_STRING_BYTES.to_string())),
        "the message names the ceiling"
    );
}

#[test]
fn join_of_a_shared_large_string_is_refused_before_it_is_built() {
    let src = r#"($big := $join([1..1000].("0123456789abcdef" & "0123456789abcdef"), "");
        $join([1..100000].($big), ""))"#;
    assert_eq!(code(src), "D2014");
}

#[test]
fn a_result_sharing_one_large_string_many_times_is_refused() {
    let src = r#"($big := $join([1..1000].("0123456789abcdef"), ""); [1..100000].($big))"#;
    assert_eq!(code(src), "D2014");
}

#[test]
fn string_of_a_huge_shared_structure_is_refused() {
    let src = r#"($big := $join([1..1000].("0123456789abcdef"), ""); $string([1..100000].($big)))"#;
    assert_eq!(code(src), "D2014");
}

#[test]
fn replace_that_grows_a_string_past_the_ceiling_is_refused() {
    let src = r#"($s := $join([1..4096].("a"), ""); $replace($s, "a", $s))"#;
    assert_eq!(code(src), "D2014");
}

#[test]
fn array_doubled_in_a_recursion_ends_with_d2014() {
    let src = r#"($f := function($a, $n) { $n = 0 ? $count($a) : $f($append($a, $a), $n - 1) }; $f([1..1000], 20))"#;
    assert_eq!(code(src), "D2014");
}

#[test]
fn values_under_the_ceiling_are_unaffected() {
    let src = r#"$length($join([1..100000].("abcdefghij"), ""))"#;
    assert_eq!(eval(src).ok().flatten(), Some(json!(1_000_000)));
}

#[test]
fn endless_recursion_ends_with_d1011() {
    assert_eq!(
        code(r#"($f := function($n) { $f($n + 1) }; $f(0))"#),
        "D1011"
    );
}

#[test]
fn deeply_nested_expressions_are_a_syntax_error() {
    let src = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = Expression::parse(&src).err().map(|e| e.code);
    assert_eq!(e.as_deref(), Some("S0201"));
}

/// The parser builds trees at most 250 levels deep (parser.rs' `MAX_DEPTH`): 249 parentheses
/// around a number make 250 levels and parse; one more is `S0201`.
#[test]
fn parentheses_249_deep_parse_and_250_deep_are_s0201() {
    let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(eval(&nested(249)).ok().flatten(), Some(json!(1)));
    assert_eq!(code(&nested(250)), "S0201");
}

/// Calls chained on a call (`$f()()…`) nest the tree without a nested `expression`: each one
/// is a level of its own, counted in the parser's operator loop.
#[test]
fn a_chain_of_249_calls_parses_and_250_is_s0201() {
    let chain = |n: usize| format!("$f{}", "()".repeat(n));
    let parse_code = |src: String| Expression::parse(&src).err().map(|e| e.code);
    assert_eq!(parse_code(chain(249)), None);
    assert_eq!(parse_code(chain(250)).as_deref(), Some("S0201"));
}

/// Depth is the depth of the tree, not the number of its nodes: siblings and operator chains
/// that are each shallow, however many, stay far from the limit.
#[test]
fn a_thousand_siblings_and_three_hundred_operator_chains_parse() {
    let ones = vec!["1"; 1000].join(",");
    assert_eq!(
        eval(&format!("$count([{ones}])")).ok().flatten(),
        Some(json!(1000))
    );
    let chains = vec!["1+1+1"; 300].join(",");
    assert_eq!(
        eval(&format!("$sum([{chains}])")).ok().flatten(),
        Some(json!(900))
    );
}

#[test]
fn a_string_of_exactly_16_mib_is_built_and_one_byte_more_is_refused() {
    // 1,048,576 pieces of 16 bytes: exactly 16 MiB
    let sixteen_mib = r#"$s := $join([1..1048576].("0123456789abcdef"), "")"#;
    assert_eq!(MAX_STRING_BYTES, 16 * 1024 * 1024);
    assert_eq!(
        eval(&format!(r#"({sixteen_mib}; $length($s & ""))"#))
            .ok()
            .flatten(),
        Some(json!(16_777_216))
    );
    let e = eval(&format!(r#"({sixteen_mib}; $length($s & "x"))"#)).err();
    assert_eq!(e.as_ref().map(|e| e.code.as_str()), Some("D2014"));
    assert_eq!(
        e.map(|e| e.message),
        Some(
            "The size of a string must not exceed 16777216 bytes.  Attempted to allocate 16777217."
                .to_string()
        )
    );
}

#[test]
fn a_recursion_4500_deep_is_evaluated_and_5000_deep_ends_with_d1011() {
    // Not a tail call: every level waits for the next. The reference (jsonata 2.x on node 20's
    // default stack) gives the same two outcomes. 5000 levels are beyond the limit of nested
    // evaluations, though they would fit the large stack of the helper thread.
    let f = r#"$f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }"#;
    assert_eq!(
        eval(&format!("({f}; $f(4500))")).ok().flatten(),
        Some(json!(4500))
    );
    assert_eq!(code(&format!("({f}; $f(5000))")), "D1011");
}

/// A result is refused when its compact JSON would pass 16 MiB. `["…"]` around a string of 16 MiB
/// less 4 bytes is exactly 16 MiB and is returned; one byte more is `D2014`. The same at the
/// boundary of `{"k":"…"}`, 8 bytes around its string.
#[test]
fn a_result_of_exactly_16_mib_as_json_is_returned_and_one_byte_more_is_d2014() {
    let s = r#"$s := $join([1..1048576].("0123456789abcdef"), "")"#;
    let limit = MAX_STRING_BYTES;
    let cases = [
        ("[$substring($s, 0, {n})]", limit - 4, "/0"),
        (r#"{"k": $substring($s, 0, {n})}"#, limit - 8, "/k"),
    ];
    for (template, n, pointer) in cases {
        let at = |n: usize| format!("({s}; {})", template.replace("{n}", &n.to_string()));
        let returned = eval(&at(n)).ok().flatten();
        let length = returned
            .as_ref()
            .and_then(|v| v.pointer(pointer)?.as_str().map(str::len));
        assert_eq!(length, Some(n), "{template} at the limit");
        assert_eq!(code(&at(n + 1)), "D2014", "{template} one byte over");
    }
}

/// The limit of nested evaluations (20,000, eval.rs' `MAX_EVAL_DEPTH`) at its boundary. `$f(4998)`
/// nests 4 evaluations per level, and the block around it and each parenthesis one more: with
/// two parentheses the deepest evaluation is exactly the 20,000th and the result comes back; a
/// third is one too many. (Measured: with the limit one higher the third evaluates too, and with
/// `>=` for `>` the second fails.)
#[test]
fn exactly_20000_nested_evaluations_are_allowed_and_one_more_is_d1011() {
    let call = |parens: usize| {
        format!(
            "($f := function($n) {{ $n = 0 ? 0 : 1 + $f($n - 1) }}; {}$f(4998){})",
            "(".repeat(parens),
            ")".repeat(parens)
        )
    };
    assert_eq!(eval(&call(2)).ok().flatten(), Some(json!(4998)));
    assert_eq!(code(&call(3)), "D1011");
}

/// `$pad` may add up to 1e7 characters (10 MB, under the string ceiling); one more is D2014.
#[test]
fn pad_adds_at_most_ten_million_characters() {
    let padded = eval(r#"$length($pad("", 10000000, "x"))"#).unwrap();
    assert_eq!(padded, Some(json!(10_000_000)));
    assert_eq!(code(r#"$pad("", 10000001, "x")"#), "D2014");
    assert_eq!(code(r#"$pad("", -10000001, "x")"#), "D2014");
}
