//! Paths, steps, predicates, tuple streams (`#` and `@` bindings), grouping and scopes: exact
//! results, each checked against the reference implementation (npm `jsonata` 2.x, with node).
//!
//! These run without node; `differential.rs` compares a wider corpus with the reference itself.

use mdlc_jsonata::{Environment, Expression, JsonataError};
use serde_json::{Value, json};

fn eval_on(src: &str, input: Value) -> Result<Option<Value>, JsonataError> {
    Expression::parse(src)?.evaluate(Some(&input), &Environment::new())
}

fn on(src: &str, input: Value) -> Option<Value> {
    eval_on(src, input).unwrap_or_else(|e| panic!("{src}: unexpected error {e}"))
}

fn nums(src: &str) -> Option<Value> {
    on(src, json!({"nums": [3, 1, 4, 1, 5, 9, 2, 6]}))
}

fn no_input(src: &str) -> Option<Value> {
    Expression::parse(src)
        .and_then(|e| e.evaluate(None, &Environment::new()))
        .unwrap_or_else(|e| panic!("{src}: unexpected error {e}"))
}

#[test]
fn a_literal_index_selects_one_item_from_the_start_or_the_end() {
    assert_eq!(nums("nums[0]"), Some(json!(3)));
    assert_eq!(nums("nums[2]"), Some(json!(4)));
    assert_eq!(nums("nums[2.7]"), Some(json!(4)));
    assert_eq!(nums("nums[-1]"), Some(json!(6)));
    assert_eq!(nums("nums[-8]"), Some(json!(3)));
    assert_eq!(nums("nums[8]"), None);
}

#[test]
fn a_computed_index_selects_like_a_literal_one() {
    assert_eq!(nums("nums[0+0]"), Some(json!(3)));
    assert_eq!(nums("nums[0+2]"), Some(json!(4)));
    assert_eq!(nums("nums[0+2.7]"), Some(json!(4)));
    assert_eq!(nums("nums[0-1]"), Some(json!(6)));
    assert_eq!(nums("nums[0-1.5]"), Some(json!(2)));
    assert_eq!(nums("nums[[0,2]]"), Some(json!([3, 4])));
    assert_eq!(nums("nums[[-1,0]]"), Some(json!([3, 6])));
    assert_eq!(nums("nums[[]]"), None);
    let e = eval_on("nums[1/0]", json!({"nums": [1]})).unwrap_err();
    assert_eq!(e.code, "D1001");
}

#[test]
fn a_boolean_predicate_keeps_the_items_it_holds_for() {
    assert_eq!(nums("nums[$ > 3]"), Some(json!([4, 5, 9, 6])));
    assert_eq!(nums("nums[$ = 1]"), Some(json!([1, 1])));
    assert_eq!(nums("nums[$ > 100]"), None);
}

#[test]
fn index_bindings_in_steps_and_predicates() {
    let input = json!({"nums": [3, 1, 4]});
    assert_eq!(
        on(r#"nums#$i.{"v": $, "i": $i}"#, input.clone()),
        Some(json!([{"v": 3, "i": 0}, {"v": 1, "i": 1}, {"v": 4, "i": 2}]))
    );
    assert_eq!(on("nums#$i[$i < 2]", input.clone()), Some(json!([3, 1])));
    assert_eq!(
        on(r#"nums#$i[$ > 2].{"v": $, "i": $i}"#, input),
        Some(json!([{"v": 3, "i": 0}, {"v": 4, "i": 2}]))
    );
}

#[test]
fn a_sort_inside_a_tuple_stream_keeps_each_items_bindings() {
    let input = json!({"items": [{"n": "a", "p": 3}, {"n": "b", "p": 1}, {"n": "c", "p": 2}]});
    assert_eq!(
        on(r#"items#$k^(p).{"n": n, "k": $k}"#, input.clone()),
        Some(json!([{"n": "b", "k": 1}, {"n": "c", "k": 2}, {"n": "a", "k": 0}]))
    );
    assert_eq!(
        on(r#"items^(p)#$k.{"n": n, "k": $k}"#, input),
        Some(json!([{"n": "b", "k": 0}, {"n": "c", "k": 1}, {"n": "a", "k": 2}]))
    );
}

#[test]
fn a_context_binding_names_each_item() {
    let input = json!({"items": [{"n": "a", "p": 3}, {"n": "b", "p": 1}]});
    assert_eq!(
        on(r#"items@$i.{"n": $i.n}"#, input),
        Some(json!([{"n": "a"}, {"n": "b"}]))
    );
}

#[test]
fn a_path_on_an_array_starting_with_a_variable_sees_the_whole_array() {
    // `$` in the first step is the whole array; a name in the first step maps over its items
    assert_eq!(no_input("[[{\"a\":1},{\"a\":2}]].($[0].a)"), Some(json!(1)));
    assert_eq!(
        no_input("[[{\"a\":[1,2]},{\"a\":[3,4]}]].(a[0])"),
        Some(json!([1, 3]))
    );
    assert_eq!(on("$[0].a", json!([{"a": 1}, {"a": 2}])), Some(json!(1)));
}

#[test]
fn the_context_of_an_array_input_is_the_array_itself() {
    assert_eq!(on("$", json!([1, 2, 3])), Some(json!([1, 2, 3])));
    assert_eq!(on("$[]", json!([1, 2, 3])), Some(json!([1, 2, 3])));
    assert_eq!(no_input("[[1,2],[3,4]].($)"), Some(json!([1, 2, 3, 4])));
}

#[test]
fn constructed_arrays_keep_their_shape() {
    assert_eq!(no_input("[5]"), Some(json!([5])));
    assert_eq!(no_input("[]"), Some(json!([])));
    assert_eq!(no_input("[[1]]"), Some(json!([[1]])));
    let foo = json!({"foo": [{"bar": 1}, {"bar": 2}]});
    assert_eq!(on("foo.[bar]", foo), Some(json!([[1], [2]])));
    assert_eq!(
        on("foo.[bar][]", json!({"foo": [{"bar": 1}]})),
        Some(json!([[1]]))
    );
    assert_eq!(on("a.[b][]", json!({"a": {"b": 1}})), Some(json!([[1]])));
}

#[test]
fn a_singleton_array_at_the_end_of_a_path_stays_an_array() {
    let input = json!({"a": {"b": [1]}});
    assert_eq!(on("a.b", input.clone()), Some(json!([1])));
    assert_eq!(on("a.b[]", input), Some(json!([1])));
    assert_eq!(
        on("a.b.c", json!({"a": {"b": [{"c": 1}, {"c": 2}]}})),
        Some(json!([1, 2]))
    );
}

#[test]
fn a_path_stops_at_the_first_empty_step() {
    assert_eq!(no_input(r#"[1,2][$>5].("x")"#), None);
    assert_eq!(on(r#"nothing.("x")"#, json!({})), None);
}

#[test]
fn grouping_applies_to_paths_and_other_expressions_once() {
    assert_eq!(no_input(r#"[1,2,3]{"k": $sum($)}"#), Some(json!({"k": 6})));
    assert_eq!(
        on(r#"nums{"k": $sum($)}"#, json!({"nums": [1, 2, 3]})),
        Some(json!({"k": 6}))
    );
    let o = json!({"o": [{"v": "a", "w": 1}, {"v": "b", "w": 2}, {"v": "a", "w": 3}]});
    assert_eq!(on("o{v: $sum(w)}", o), Some(json!({"a": 4, "b": 2})));
}

#[test]
fn a_block_has_its_own_scope() {
    assert_eq!(no_input("($a := 1; ($a := 2); $a)"), Some(json!(1)));
    assert_eq!(
        no_input("($f := function($v){ ($v := $v + 1; $v) }; $v := 10; [$f(1), $v])"),
        Some(json!([2, 10]))
    );
}

/// A path that starts with a filtered array constructor goes on from what the filter keeps,
/// also when that is one value. The reference (npm `jsonata` 2.x) differs here, a documented
/// difference (lib.rs): it loops over the JavaScript `length` of the one value, so a number or
/// an object gives `undefined`, a string its characters, and `null` a TypeError.
#[test]
fn a_path_from_a_filtered_array_constructor_goes_on_from_a_single_value() {
    assert_eq!(no_input(r#"[{"k":1},{"k":2}][0].k"#), Some(json!(1)));
    assert_eq!(no_input(r#"[{"k":1},{"k":2}][k>1].k"#), Some(json!(2)));
    assert_eq!(no_input(r#"["ab"][0].$length($)"#), Some(json!(2)));
    assert_eq!(no_input("[null][0].$"), Some(json!(null)));
    // two or more values kept: the reference agrees
    assert_eq!(
        no_input(r#"[{"k":1},{"k":2}][[0,1]].k"#),
        Some(json!([1, 2]))
    );
}
