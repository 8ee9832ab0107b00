//! Behaviour of the public API that the reference implementation cannot check: the AWS Step
//! Functions extras, bindings, limits and robustness.

use mdlc_jsonata::{AwsContext, Environment, Expression};
use serde_json::{Value, json};

fn eval_with(src: &str, input: Option<Value>, env: &Environment) -> Result<Option<Value>, String> {
    let e = Expression::parse(src).map_err(|e| e.code.clone())?;
    e.evaluate(input.as_ref(), env).map_err(|e| e.code)
}

fn aws() -> Environment {
    Environment::new().with_aws_functions(AwsContext {
        now_millis: 1_510_067_274_972,
        random_seed: Some(7),
    })
}

#[test]
fn given_bindings_when_evaluated_then_variables_resolve() {
    let mut env = Environment::new();
    env.bind("states", json!({"input": {"n": 20}}));
    let r = eval_with("$states.input.n + 1", None, &env).unwrap();
    assert_eq!(r, Some(json!(21)));
}

#[test]
fn given_aws_context_when_now_and_millis_then_fixed_clock() {
    assert_eq!(
        eval_with("$now()", None, &aws()).unwrap(),
        Some(json!("2017-11-07T15:07:54.972Z"))
    );
    assert_eq!(
        eval_with("$millis()", None, &aws()).unwrap(),
        Some(json!(1_510_067_274_972i64))
    );
}

#[test]
fn given_aws_functions_when_disabled_then_not_callable() {
    let env = Environment::new();
    assert_eq!(
        eval_with("$partition([1,2,3], 2)", None, &env),
        Err("T1006".into())
    );
    assert_eq!(eval_with("$uuid()", None, &env), Err("T1006".into()));
}

#[test]
fn given_eval_when_called_then_not_available() {
    assert_eq!(eval_with("$eval('1+1')", None, &aws()), Err("T1006".into()));
    assert_eq!(
        eval_with("$eval('1+1')", None, &Environment::new()),
        Err("T1006".into())
    );
}

#[test]
fn given_partition_when_called_then_chunks() {
    let r = eval_with("$partition([1,2,3,4,5], 2)", None, &aws()).unwrap();
    assert_eq!(r, Some(json!([[1, 2], [3, 4], [5]])));
    assert!(eval_with("$partition([1], 0)", None, &aws()).is_err());
    let r = eval_with("$partition([1,2], 1)", None, &aws()).unwrap();
    assert_eq!(
        r,
        Some(json!([[1], [2]])),
        "a chunk size of 1 is the smallest allowed"
    );
}

#[test]
fn given_range_when_called_then_steps() {
    assert_eq!(
        eval_with("$range(0, 10, 5)", None, &aws()).unwrap(),
        Some(json!([0, 5, 10]))
    );
    assert_eq!(
        eval_with("$range(3, 1, -1)", None, &aws()).unwrap(),
        Some(json!([3, 2, 1]))
    );
    assert!(eval_with("$range(1, 2, 0)", None, &aws()).is_err());
}

#[test]
fn given_range_of_1000_items_then_allowed_and_of_1001_then_refused() {
    for expr in ["$range(1, 1000, 1)", "$range(1000, 1, -1)"] {
        let r = eval_with(expr, None, &aws()).unwrap().unwrap();
        assert_eq!(r.as_array().map(Vec::len), Some(1000), "{expr}");
    }
    for expr in ["$range(1, 1001, 1)", "$range(1001, 1, -1)"] {
        assert_eq!(
            eval_with(expr, None, &aws()),
            Err("States.QueryEvaluationError".into()),
            "{expr}"
        );
    }
}

#[test]
fn given_hash_when_called_then_known_digests() {
    let cases = [
        ("MD5", "900150983cd24fb0d6963f7d28e17f72"),
        ("SHA-1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            "SHA-256",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "SHA-384",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            "SHA-512",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ];
    for (algo, digest) in cases {
        let r = eval_with(&format!("$hash('abc', '{algo}')"), None, &aws()).unwrap();
        assert_eq!(r, Some(json!(digest)), "{algo}");
    }
    assert!(eval_with("$hash('abc', 'CRC32')", None, &aws()).is_err());
}

#[test]
fn given_seed_when_random_then_deterministic_and_in_range() {
    let a = eval_with("[$random(), $random()]", None, &aws()).unwrap();
    let b = eval_with("[$random(), $random()]", None, &aws()).unwrap();
    assert_eq!(a, b);
    let arr = a.unwrap();
    for x in arr.as_array().unwrap() {
        let f = x.as_f64().unwrap();
        assert!((0.0..1.0).contains(&f));
    }
    assert_eq!(
        eval_with("$random(42) = $random(42)", None, &aws()).unwrap(),
        Some(json!(true))
    );
}

#[test]
fn given_uuid_when_called_then_v4_format() {
    let r = eval_with("$uuid()", None, &aws()).unwrap().unwrap();
    let s = r.as_str().unwrap();
    assert_eq!(s.len(), 36);
    assert_eq!(&s[14..15], "4");
    assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
    // Version 4, variant 10xx in every one of many, and the other bits of those bytes random.
    let many = eval_with("$map([1..64], function($i) { $uuid() })", None, &aws())
        .unwrap()
        .unwrap();
    let many: Vec<&str> = many
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(many.len(), 64);
    for u in &many {
        assert_eq!(&u[14..15], "4", "{u}");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }
    for at in [15, 19, 20] {
        let seen: std::collections::BTreeSet<&str> = many.iter().map(|u| &u[at..at + 1]).collect();
        assert!(seen.len() > 1, "the character at {at} is always {seen:?}");
    }
}

#[test]
fn given_parse_when_called_then_json_value() {
    assert_eq!(
        eval_with("$parse('{\"a\":[1,2]}').a[1]", None, &aws()).unwrap(),
        Some(json!(2))
    );
    assert!(eval_with("$parse('{bad')", None, &aws()).is_err());
}

#[test]
fn given_object_constructor_then_key_order_is_insertion_order() {
    let r = eval_with("{'z': 1, 'a': 2, 'm': 3}", None, &Environment::new())
        .unwrap()
        .unwrap();
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn given_runaway_recursion_when_evaluated_then_error_not_overflow() {
    let src = "($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))";
    assert_eq!(
        eval_with(src, None, &Environment::new()),
        Err("D1011".into())
    );
}

#[test]
fn given_deeply_nested_source_when_parsed_then_error_not_overflow() {
    let src = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(Expression::parse(&src).is_err());
    let src = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    assert!(Expression::parse(&src).is_err());
    let src = format!("a{}", ".a".repeat(5000));
    assert!(Expression::parse(&src).is_err());
    let src = format!("{}1", "-".repeat(5000));
    assert!(Expression::parse(&src).is_err());
}

#[test]
fn given_parsed_expression_when_reused_across_threads_then_same_results() {
    let e = std::sync::Arc::new(Expression::parse("$sum(a.b) & '-' & $count(a)").unwrap());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                let input = json!({"a": [{"b": i}, {"b": 1}]});
                let mut last = None;
                for _ in 0..200 {
                    last = e.evaluate(Some(&input), &Environment::new()).unwrap();
                }
                last
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), Some(json!(format!("{}-2", i + 1))));
    }
}

#[test]
fn given_undefined_input_when_path_then_none() {
    assert_eq!(eval_with("a.b", None, &Environment::new()).unwrap(), None);
}

#[test]
fn given_error_when_raised_then_position_and_message() {
    let e = Expression::parse("1 + 'a'").unwrap();
    let err = e.evaluate(None, &Environment::new()).unwrap_err();
    assert_eq!(err.code, "T2002");
    assert!(err.message.contains('+'));
    assert_eq!(err.position, Some(2));
}

#[test]
fn given_typical_expression_when_evaluated_many_times_then_stable_results() {
    let e = Expression::parse(
        "$states.input.metrics[name = 'rmse'].value < $threshold ? 'Deploy' : 'Retrain'",
    )
    .unwrap();
    let mut env = Environment::new();
    env.bind(
        "states",
        json!({"input": {"metrics": [{"name": "rmse", "value": 0.8}, {"name": "mae", "value": 2}]}}),
    );
    env.bind("threshold", json!(1));
    for _ in 0..2000 {
        assert_eq!(e.evaluate(None, &env).unwrap(), Some(json!("Deploy")));
    }
}

#[test]
fn given_hostile_arguments_when_evaluated_then_errors_not_hangs() {
    let env = Environment::new();
    assert_eq!(
        eval_with("$pad('x', 1e15)", None, &env),
        Err("D2014".into())
    );
    assert_eq!(
        eval_with("$formatBase(0/0, 16)", None, &env).unwrap(),
        Some(json!("NaN"))
    );
    assert_eq!(eval_with("[1..20000000]", None, &env), Err("D2014".into()));
    assert!(eval_with("$range(0, 1e12, 1)", None, &aws()).is_err());
}

/// A syntax error shows the token it expected and the one it found as the reference does: as
/// JSON values (the number bare, the string, operator and variable name quoted).
#[test]
fn a_syntax_error_names_the_tokens_as_json_values() {
    for (src, code, message) in [
        ("(1", "S0203", r#"Expected ")" before end of expression"#),
        ("foo(1 2)", "S0202", r#"Expected ")", got 2"#),
        (r#"[1 "x"]"#, "S0202", r#"Expected "]", got "x""#),
        ("(1 $x)", "S0202", r#"Expected ")", got "x""#),
        ("(1 true)", "S0202", r#"Expected ")", got true"#),
        ("$f(1;", "S0202", r#"Expected ")", got ";""#),
    ] {
        let Err(e) = Expression::parse(src) else {
            panic!("{src} parsed")
        };
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (code, message),
            "{src}"
        );
    }
}

/// Without the AWS context, `$millis()` is the system clock's time of the evaluation.
#[test]
fn millis_without_an_aws_context_is_the_system_clock() {
    let clock = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    };
    let before = clock();
    let millis = eval_with("$millis()", None, &Environment::new())
        .ok()
        .flatten()
        .and_then(|v| v.as_i64());
    let after = clock();
    assert!(
        millis.is_some_and(|m| before <= m && m <= after),
        "{millis:?} is not within [{before}, {after}]"
    );
}
