//! Generators (proptest strategies) of the inputs users write: JSON values, JSONPath,
//! intrinsic functions, JSONata, ASL definitions (valid most of the time), the pipeline's
//! execution input, CSV and hyperparameters. Each mixes well-formed text with a few mutations.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// JSON values

/// Numbers users and machines write, with the awkward ones (huge, negative zero, 2^53 + 1,
/// fractions, exponents).
pub fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (-10i64..100).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (-1e6f64..1e6).prop_map(Value::from),
        1 => select(vec![1e13, 1e14, 1e20, 1e300, -1e300, 9007199254740993.0, -0.0, 0.5, 3.0e-300, 99999999.0, 31_536_001.0])
            .prop_map(Value::from),
    ]
}

/// Short strings, with escapes, unicode and JSONata/JSONPath/intrinsic look-alikes.
pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec!["", "a", "b", "x y", "{}", "{} {}", "\\{", "'", "\"", "$", "$.a", "{% 1 %}", "States.Format('{}', 1)", "ünï", "🦀", "2024-05-31T00:00:00Z", "2016-03-14T01:59:00Z", "1e400", "null", "[1,2]", "{\"a\":1}", "aGVsbG8=", "\u{0}"])
            .prop_map(str::to_string),
        1 => "\\PC{0,12}",
        1 => "[a-z,.0-9 ]{0,20}",
    ]
}

/// Any JSON value, nested up to a few levels.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Object keys: the names the generated paths and expressions use, and a few odd ones.
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(vec!["a", "b", "n", "s", "items", "flag", "wait", "nested", "r", "x"]).prop_map(str::to_string),
        1 => "[a-zA-Z_.$ '\\[\\]-]{0,6}",
    ]
}

/// An execution input: an object with the fields the generated machines read, sometimes with
/// odd values, sometimes not an object at all.
pub fn execution_input() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => (
            number(),
            string(),
            prop::collection::vec(json_value(), 0..5),
            any::<bool>(),
            prop_oneof![3 => (0u32..5).prop_map(Value::from), 1 => number()],
            json_value(),
        )
            .prop_map(|(n, s, items, flag, wait, nested)| {
                json!({"n": n, "s": s, "items": items, "flag": flag, "wait": wait, "nested": nested, "a": {"b": [1, 2, 3]}})
            }),
        1 => json_value(),
        1 => deep_value(),
    ]
}

/// A value nested 50 to 300 levels deep (arrays or objects).
pub fn deep_value() -> impl Strategy<Value = Value> {
    (50usize..300, any::<bool>()).prop_map(|(depth, arrays)| {
        let mut v = json!(1);
        for _ in 0..depth {
            v = if arrays { json!([v]) } else { json!({"a": v}) };
        }
        v
    })
}

// ---------------------------------------------------------------------------------------------
// text mutation

/// Applies up to a few edits (insert, delete, replace a character) at positions chosen by `picks`.
pub fn mutate_text(text: &str, picks: &[(u16, char, u8)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (at, c, op) in picks {
        let i = if chars.is_empty() {
            0
        } else {
            *at as usize % (chars.len() + 1)
        };
        match op % 3 {
            0 => chars.insert(i, *c),
            1 if i < chars.len() => {
                chars.remove(i);
            }
            _ if i < chars.len() => chars[i] = *c,
            _ => chars.push(*c),
        }
    }
    chars.into_iter().collect()
}

/// Edits for [`mutate_text`]: none most of the time.
pub fn text_edits() -> impl Strategy<Value = Vec<(u16, char, u8)>> {
    let edit = (
        any::<u16>(),
        select(vec![
            '$', '.', '[', ']', '(', ')', '\'', '"', ',', '{', '}', '\\', '@', '*', '?', ':', '0',
            'a', ' ', '%',
        ]),
        any::<u8>(),
    );
    prop_oneof![
        4 => Just(Vec::new()),
        1 => prop::collection::vec(edit, 1..4),
    ]
}

// ---------------------------------------------------------------------------------------------
// JSONPath

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(vec!["a", "b", "n", "s", "items", "flag", "nested", "x"]).prop_map(|k| format!(".{k}")),
        1 => select(vec!["['a']", "['items']", "[0]", "[1]", "[-1]", "[*]", "[0:2]", "[1:]", "[:1]", "[0,1]", "..a", "..*", ".*", "[?(@.n > 1)]", "[?(@ == 1)]", "[?(@.a)]", ".length()", "['x y']", "[99999999999999999999]"])
            .prop_map(str::to_string),
    ]
}

/// A JSONPath (reference path or context-object path), with occasional character edits.
pub fn jsonpath() -> impl Strategy<Value = String> {
    let root = select(vec![
        "$",
        "$",
        "$",
        "$$",
        "$$.Execution.Input",
        "$$.State.Name",
        "$$.Map.Item.Value",
    ]);
    (
        root,
        prop::collection::vec(path_segment(), 0..5),
        prop_oneof![20 => Just(0usize), 1 => 100usize..2_000],
        text_edits(),
    )
        .prop_map(|(root, segs, repeat, edits)| {
            let mut p = root.to_string();
            for s in segs {
                p.push_str(&s);
            }
            for _ in 0..repeat {
                p.push_str(".a");
            }
            mutate_text(&p, &edits)
        })
}

// ---------------------------------------------------------------------------------------------
// intrinsic functions

fn intrinsic_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "'a'",
            "'{}'",
            "'{} and {}'",
            "'\\\\{'",
            "'a,b,c'",
            "','",
            "'SHA-256'",
            "'MD5'",
            "'aGVsbG8='",
            "'{\"a\":1}'",
            "'[1,2,3]'",
            "''",
            "null",
            "true"
        ])
        .prop_map(str::to_string),
        number().prop_map(|n| n.to_string()),
        select(vec![
            "$.n",
            "$.s",
            "$.items",
            "$.a",
            "$.a.b",
            "$.nested",
            "$.flag",
            "$$.Execution.Id",
            "$.missing"
        ])
        .prop_map(str::to_string),
    ]
}

/// Intrinsic functions with their number of arguments (`States.Array` and `States.Format`
/// take any number; `States.Nope` does not exist).
const INTRINSICS: &[(&str, usize)] = &[
    ("States.Format", 2),
    ("States.StringToJson", 1),
    ("States.JsonToString", 1),
    ("States.Array", 3),
    ("States.ArrayPartition", 2),
    ("States.ArrayContains", 2),
    ("States.ArrayRange", 3),
    ("States.ArrayGetItem", 2),
    ("States.ArrayLength", 1),
    ("States.ArrayUnique", 1),
    ("States.Base64Encode", 1),
    ("States.Base64Decode", 1),
    ("States.Hash", 2),
    ("States.JsonMerge", 3),
    ("States.MathRandom", 2),
    ("States.MathAdd", 2),
    ("States.StringSplit", 2),
    ("States.UUID", 0),
    ("States.Nope", 1),
];

/// A call of one of [`INTRINSICS`] on `args`: the function's own number of arguments most of
/// the time (the first argument of `States.Format` is its template).
fn intrinsic_call(f: (&str, usize), mut args: Vec<String>, exact: bool) -> String {
    let (name, arity) = f;
    if exact {
        args.truncate(arity);
        while args.len() < arity {
            args.push("1".into());
        }
        if name == "States.Format" {
            let holes = vec!["{}"; args.len().saturating_sub(1)].join(" ");
            args[0] = format!("'{holes}'");
        }
    }
    format!("{name}({})", args.join(", "))
}

/// An intrinsic function call, nested a few levels, with occasional character edits.
pub fn intrinsic() -> impl Strategy<Value = String> {
    let exact = prop_oneof![5 => Just(true), 1 => Just(false)];
    let call = intrinsic_literal().prop_recursive(4, 24, 4, move |inner| {
        (
            select(INTRINSICS),
            prop::collection::vec(inner, 0..4),
            exact.clone(),
        )
            .prop_map(|(f, args, exact)| intrinsic_call(f, args, exact))
    });
    let exact = prop_oneof![5 => Just(true), 1 => Just(false)];
    (
        select(INTRINSICS),
        prop::collection::vec(call, 0..4),
        exact,
        text_edits(),
    )
        .prop_map(|(f, args, exact, edits)| mutate_text(&intrinsic_call(f, args, exact), &edits))
}

// ---------------------------------------------------------------------------------------------
// JSONata

const JSONATA_FUNCTIONS: &[&str] = &[
    "$sum",
    "$count",
    "$max",
    "$min",
    "$average",
    "$string",
    "$substring",
    "$substringBefore",
    "$uppercase",
    "$lowercase",
    "$length",
    "$trim",
    "$pad",
    "$contains",
    "$split",
    "$join",
    "$replace",
    "$number",
    "$abs",
    "$floor",
    "$ceil",
    "$round",
    "$power",
    "$sqrt",
    "$boolean",
    "$not",
    "$exists",
    "$append",
    "$reverse",
    "$sort",
    "$distinct",
    "$keys",
    "$lookup",
    "$spread",
    "$merge",
    "$each",
    "$map",
    "$filter",
    "$reduce",
    "$zip",
    "$type",
    "$formatNumber",
    "$formatBase",
    "$toMillis",
    "$fromMillis",
    "$now",
    "$millis",
    "$base64encode",
    "$base64decode",
    "$match",
    "$single",
    "$shuffle",
    "$random",
    "$partition",
    "$hash",
    "$uuid",
    "$parse",
    "$range",
    "$eval",
    "$sift",
    "$error",
    "$assert",
];

fn jsonata_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec!["a", "b", "n", "s", "items", "nested", "a.b", "items[0]", "$", "$$", "$states.input", "$states.input.n", "$states.input.items", "$states.context.Execution.Id", "$x", "$v", "$f", "$i"]).prop_map(str::to_string),
        2 => number().prop_map(|n| n.to_string()),
        1 => select(vec!["\"a\"", "\"\"", "\"x,y\"", "'q'", "true", "false", "null", "/a+/i", "[]", "{}", "\"🦀\""]).prop_map(str::to_string),
    ]
}

/// A JSONata expression built from its grammar (paths, operators, calls, lambdas, blocks,
/// conditions, ranges), with occasional character edits.
pub fn jsonata() -> impl Strategy<Value = String> {
    let expr = jsonata_leaf().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            3 => (inner.clone(), select(vec![" + ", " - ", " * ", " / ", " % ", " = ", " != ", " < ", " >= ", " and ", " or ", " & ", " in "]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a}{op}{b})")),
            2 => (select(JSONATA_FUNCTIONS), prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            1 => (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            1 => prop::collection::vec((select(vec!["\"k\"", "\"a\"", "s"]), inner.clone()), 0..3)
                .prop_map(|kv| format!("{{{}}}", kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "))),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("($x := {a}; {b})")),
            1 => (select(vec!["$map", "$filter", "$each", "$sort"]), inner.clone(), inner.clone())
                .prop_map(|(f, a, b)| format!("{f}({a}, function($v, $i) {{ {b} }})")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("$reduce({a}, function($x, $v) {{ $x + {b} }}, 0)")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.{b}")),
            1 => (-5i64..5, 0i64..2_000).prop_map(|(a, b)| format!("[{a}..{b}]")),
            1 => inner.clone().prop_map(|a| format!("($f := function($n) {{ $n <= 0 ? 0 : $f($n - 1) }}; $f({a}))")),
        ]
    });
    (expr, text_edits()).prop_map(|(e, edits)| mutate_text(&e, &edits))
}

// ---------------------------------------------------------------------------------------------
// ASL definitions

/// Query language of a generated machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    JsonPath,
    Jsonata,
}

/// The choices one state needs, drawn before its shape is known (so that the whole machine is
/// one tuple of plain values and shrinks well).
#[derive(Debug, Clone)]
struct StateDraw {
    kind: u8,
    jump: u8,
    small: u32,
    flag: bool,
    path: String,
    intrinsic: String,
    jsonata: String,
    value: Value,
    branch: Option<Value>,
}

fn state_draw(branch: BoxedStrategy<Option<Value>>) -> impl Strategy<Value = StateDraw> {
    (
        any::<u8>(),
        any::<u8>(),
        0u32..4,
        any::<bool>(),
        prop_oneof![4 => select(vec!["$", "$.n", "$.s", "$.items", "$.a.b", "$.nested", "$.flag", "$.a", "$$.Execution.Input"]).prop_map(str::to_string), 1 => jsonpath()],
        intrinsic(),
        prop_oneof![3 => select(vec!["$states.input", "$states.input.n + 1", "$states.input.n > 3", "$count($states.input.items)", "$states.input.flag", "{'r': $states.input.s}", "$states.input.items[0]"]).prop_map(str::to_string), 1 => jsonata()],
        json_value(),
        branch,
    )
        .prop_map(|(kind, jump, small, flag, path, intrinsic, jsonata, value, branch)| StateDraw {
            kind,
            jump,
            small,
            flag,
            path,
            intrinsic,
            jsonata,
            value,
            branch,
        })
}

const ECHO: &str = "arn:aws:lambda:us-east-1:123456789012:function:echo";
const BROKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:broken";

/// The Lambda ARNs of generated Task states: the fuzz invoker answers `echo` with the task's
/// parameters and fails `broken` with `Lambda.ServiceException`.
pub fn task_resources() -> (&'static str, &'static str) {
    (ECHO, BROKEN)
}

fn name(i: usize) -> String {
    format!("S{i}")
}

/// One state `i` of `n`; non-final states go on to `i + 1` (so every state is reachable), jumps
/// (Choice rules, Catch) go anywhere.
fn build_state(d: &StateDraw, i: usize, n: usize, lang: Lang) -> Value {
    let last = i + 1 == n;
    // Jumps (Choice rules, Catch) go forward three times in four; backward ones make loops,
    // which the transition cap of the execution ends.
    let target = if d.jump % 4 == 0 || last {
        name(d.jump as usize % n)
    } else {
        name(i + 1 + d.jump as usize % (n - i - 1))
    };
    let mut s = Map::new();
    let kinds: &[&str] = if last {
        &["Succeed", "Fail", "Pass", "Task", "Pass", "Wait"]
    } else {
        &[
            "Pass", "Pass", "Task", "Choice", "Wait", "Parallel", "Map", "Task",
        ]
    };
    let kind = kinds[d.kind as usize % kinds.len()];
    s.insert("Type".into(), json!(kind));
    match kind {
        "Pass" => pass_fields(d, lang, &mut s),
        "Task" => task_fields(d, lang, &target, &mut s),
        "Choice" => choice_fields(d, lang, &target, &name(i + 1), &mut s),
        "Wait" => wait_fields(d, lang, &mut s),
        "Parallel" => {
            let b = d.branch.clone().unwrap_or_else(|| pass_machine(lang));
            s.insert("Branches".into(), json!([b.clone(), b]));
        }
        "Map" => map_fields(d, lang, &mut s),
        "Fail" => {
            let error = if d.flag {
                "Custom.Error"
            } else {
                "States.TaskFailed"
            };
            s.insert("Error".into(), json!(error));
            s.insert("Cause".into(), json!("generated"));
        }
        _ => {}
    }
    if !matches!(kind, "Succeed" | "Fail" | "Choice") {
        if last {
            s.insert("End".into(), json!(true));
        } else {
            s.insert("Next".into(), json!(name(i + 1)));
        }
    }
    Value::Object(s)
}

/// A JSONata string of `e`.
fn jsonata_string(e: &str) -> Value {
    json!(format!("{{% {e} %}}"))
}

/// A Pass state's fields: JSONPath's Parameters, Result, InputPath or OutputPath; JSONata's
/// Output or Assign.
fn pass_fields(d: &StateDraw, lang: Lang, s: &mut Map<String, Value>) {
    match lang {
        Lang::JsonPath => match d.small {
            0 => {
                s.insert(
                    "Parameters".into(),
                    json!({"v.$": d.path, "i.$": d.intrinsic, "c": d.value}),
                );
            }
            1 => {
                s.insert("Result".into(), d.value.clone());
                s.insert("ResultPath".into(), json!("$.r"));
            }
            2 => {
                s.insert("InputPath".into(), json!(d.path));
            }
            _ => {
                s.insert("Parameters".into(), json!({"v.$": d.intrinsic}));
                s.insert("OutputPath".into(), json!("$.v"));
            }
        },
        Lang::Jsonata => {
            if d.flag {
                s.insert("Output".into(), jsonata_string(&d.jsonata));
            } else {
                s.insert(
                    "Assign".into(),
                    json!({"x": jsonata_string(&d.jsonata), "k": d.value}),
                );
            }
        }
    }
}

/// A Task's fields: the echo (or broken) resource and its payload, now and then a Retry, and
/// every other time a Catch to `target`.
fn task_fields(d: &StateDraw, lang: Lang, target: &str, s: &mut Map<String, Value>) {
    let resource = if d.small == 3 { BROKEN } else { ECHO };
    s.insert("Resource".into(), json!(resource));
    match lang {
        Lang::JsonPath => {
            s.insert("Parameters".into(), json!({"p.$": d.path, "k": d.value}));
            s.insert("ResultPath".into(), json!("$.r"));
        }
        Lang::Jsonata => {
            s.insert(
                "Arguments".into(),
                json!({"p": jsonata_string(&d.jsonata), "k": d.value}),
            );
        }
    }
    if d.flag {
        // Now and then the largest retrier AWS accepts (99999999 attempts and seconds).
        let (attempts, interval) = if d.jump % 16 == 1 {
            (99_999_999, 99_999_999)
        } else {
            (d.small, 1 + d.small)
        };
        s.insert(
            "Retry".into(),
            json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": attempts, "IntervalSeconds": interval, "BackoffRate": 2.0}]),
        );
    }
    if d.jump % 2 == 0 {
        let mut c = json!({"ErrorEquals": ["States.ALL"], "Next": target});
        if lang == Lang::JsonPath {
            c["ResultPath"] = json!("$.err");
        }
        s.insert("Catch".into(), json!([c]));
    }
}

/// A Choice's one rule to `target` and its Default, `next`.
fn choice_fields(d: &StateDraw, lang: Lang, target: &str, next: &str, s: &mut Map<String, Value>) {
    let rule = match (lang, d.small) {
        (Lang::Jsonata, _) => json!({"Condition": jsonata_string(&d.jsonata), "Next": target}),
        (Lang::JsonPath, 0) => json!({"Variable": "$.n", "NumericGreaterThan": 3, "Next": target}),
        (Lang::JsonPath, 1) => json!({"Variable": d.path, "IsPresent": true, "Next": target}),
        (Lang::JsonPath, 2) => {
            json!({"And": [{"Variable": "$.flag", "IsBoolean": true}, {"Variable": "$.flag", "BooleanEquals": true}], "Next": target})
        }
        (Lang::JsonPath, _) => json!({"Variable": "$.s", "StringMatches": "a*", "Next": target}),
    };
    s.insert("Choices".into(), json!([rule]));
    s.insert("Default".into(), json!(next));
}

/// A Wait's seconds: fixed, or read from the input's `wait`.
fn wait_fields(d: &StateDraw, lang: Lang, s: &mut Map<String, Value>) {
    match (d.flag, lang) {
        (true, _) => {
            s.insert("Seconds".into(), json!(d.small));
        }
        (false, Lang::JsonPath) => {
            s.insert("SecondsPath".into(), json!("$.wait"));
        }
        (false, Lang::Jsonata) => {
            s.insert("Seconds".into(), jsonata_string("$states.input.wait"));
        }
    }
}

/// An inline Map over the input's `items`, its processor the drawn branch.
fn map_fields(d: &StateDraw, lang: Lang, s: &mut Map<String, Value>) {
    let mut processor = d.branch.clone().unwrap_or_else(|| pass_machine(lang));
    processor["ProcessorConfig"] = json!({"Mode": "INLINE"});
    s.insert("ItemProcessor".into(), processor);
    s.insert("MaxConcurrency".into(), json!(d.small));
    match lang {
        Lang::JsonPath => {
            s.insert("ItemsPath".into(), json!("$.items"));
        }
        Lang::Jsonata => {
            s.insert("Items".into(), jsonata_string("$states.input.items"));
        }
    }
}

/// `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}` (a branch or processor).
fn pass_machine(_lang: Lang) -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})
}

fn machine_from(draws: &[StateDraw], lang: Lang, top: bool, timeout: Option<u64>) -> Value {
    let n = draws.len().max(1);
    let mut states = Map::new();
    for (i, d) in draws.iter().enumerate() {
        states.insert(name(i), build_state(d, i, n, lang));
    }
    let mut m = json!({"StartAt": name(0), "States": states});
    if top {
        m["QueryLanguage"] = json!(match lang {
            Lang::JsonPath => "JSONPath",
            Lang::Jsonata => "JSONata",
        });
        if let Some(t) = timeout {
            m["TimeoutSeconds"] = json!(t);
        }
    }
    m
}

/// Edits to a definition: replace the value at the `k`-th key found in a walk, or delete it.
fn mutate_value(v: &mut Value, picks: &[(u16, bool, Value)]) {
    for (at, delete, replacement) in picks {
        let mut keys: Vec<(String, String)> = Vec::new();
        collect_paths(v, "", &mut keys);
        if keys.is_empty() {
            return;
        }
        let (parent, key) = &keys[*at as usize % keys.len()];
        if let Some(Value::Object(m)) = v.pointer_mut(parent) {
            if *delete {
                m.remove(key);
            } else {
                m.insert(key.clone(), replacement.clone());
            }
        }
    }
}

/// Every object key of `v` as (JSON pointer of its object, key).
fn collect_paths(v: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                out.push((pointer.to_string(), k.clone()));
                collect_paths(c, &format!("{pointer}/{}", escape(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                collect_paths(c, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// An ASL definition: 1 to 6 states chained so that every state is reachable, JSONPath or
/// JSONata, with Task/Retry/Catch, Choice, Wait, Parallel and Map (one nested level), and
/// JSONPath, intrinsic and JSONata expressions in their fields. One machine in seven gets one to
/// three edits (a field replaced by any JSON value, or removed), which mostly makes it invalid.
pub fn asl_definition() -> impl Strategy<Value = Value> {
    let lang = prop_oneof![3 => Just(Lang::JsonPath), 2 => Just(Lang::Jsonata)];
    (lang, any::<bool>(), prop_oneof![8 => Just(None), 1 => select(vec![1u64, 60, 99_999_999, 100_000_000_000_000]).prop_map(Some)])
        .prop_flat_map(|(lang, nested, timeout)| {
            let branch: BoxedStrategy<Option<Value>> = if nested {
                prop::collection::vec(state_draw(Just(None).boxed()), 1..3)
                    .prop_map(move |d| Some(machine_from(&d, lang, false, None)))
                    .boxed()
            } else {
                Just(None).boxed()
            };
            (
                prop::collection::vec(state_draw(branch), 1..7),
                prop_oneof![6 => Just(Vec::new()), 1 => prop::collection::vec((any::<u16>(), any::<bool>(), json_value()), 1..4)],
            )
                .prop_map(move |(draws, edits)| {
                    let mut m = machine_from(&draws, lang, true, timeout);
                    mutate_value(&mut m, &edits);
                    m
                })
        })
}

// ---------------------------------------------------------------------------------------------
// the pipeline's execution input

/// A complete, valid execution input of the pipeline (every section given): the shared fixture
/// tests/fixtures/inputs/complete.json, also used by initialize's tests.
pub fn complete_pipeline_input() -> Value {
    serde_json::from_str(include_str!("../../../tests/fixtures/inputs/complete.json"))
        .expect("tests/fixtures/inputs/complete.json is JSON")
}

/// Values that fit the pipeline input's fields (names, dates, S3 URIs, enum words, numbers),
/// to put in place of a field.
fn pipeline_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => select(vec![
            json!("churn"), json!("a"), json!("-bad-"), json!("x".repeat(60)), json!("2024-02-29"), json!("2023-02-29"),
            json!("9999-12-31"), json!("s3://b/k/"), json!("s3://b"), json!("s3://"), json!("Grid"), json!("Hyperband"),
            json!("Bayesian"), json!("Integer"), json!("Categorical"), json!("Continuous"), json!("binary"),
            json!("auc"), json!("rmse"), json!("validation:auc"), json!("Maximize"), json!("ml.m5.large"), json!("m5.large"),
            json!([]), json!({}), json!(null), json!(-1), json!(0), json!(1e308), json!(18446744073709551615u64),
            json!([{"name": "n", "type": "Integer", "minValue": -9223372036854775808i64, "maxValue": 9223372036854775807i64}]),
            json!([{"name": "c", "type": "Categorical", "values": []}]),
        ]),
        1 => json_value(),
    ]
}

/// The complete input with zero to four fields replaced, removed or added.
pub fn pipeline_input() -> impl Strategy<Value = Value> {
    let base = prop_oneof![
        4 => Just(complete_pipeline_input()),
        1 => Just(json!({"modelName": "m"})),
        1 => json_value(),
    ];
    (
        base,
        prop::collection::vec((any::<u16>(), any::<u8>(), pipeline_value()), 0..5),
    )
        .prop_map(|(mut v, edits)| {
            for (at, op, value) in edits {
                let mut paths = Vec::new();
                collect_paths(&v, "", &mut paths);
                if op % 4 == 0 {
                    if let Value::Object(m) = &mut v {
                        m.insert(format!("extra{at}"), value);
                    }
                    continue;
                }
                if paths.is_empty() {
                    continue;
                }
                let delete = op % 4 == 1;
                mutate_value(&mut v, &[(at, delete, value)]);
            }
            v
        })
}

// ---------------------------------------------------------------------------------------------
// CSV and hyperparameters

fn csv_field() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => (-1000i32..1000).prop_map(|n| n.to_string()),
        10 => (-1e3f32..1e3).prop_map(|x| x.to_string()),
        1 => select(vec!["", " ", "NaN", "nan", "inf", "-inf", "1e39", "-1e39", "1e-46", "0x10", "1,5", "\"1\"", "abc", "+3", ".5", "5.", "1e", "--1", "\u{feff}1", "٣"]).prop_map(str::to_string),
    ]
}

/// CSV text: rows of mostly numeric fields, sometimes ragged, with blank lines and CRLF.
pub fn csv_text() -> impl Strategy<Value = String> {
    (
        1usize..6,
        prop::collection::vec(
            (prop::collection::vec(csv_field(), 0..8), any::<u8>()),
            0..20,
        ),
        text_edits(),
    )
        .prop_map(|(width, rows, edits)| {
            let mut out = String::new();
            for (fields, shape) in rows {
                let n = if shape % 7 == 0 {
                    fields.len()
                } else {
                    width.min(fields.len().max(width))
                };
                let mut row: Vec<String> = fields.into_iter().take(n).collect();
                while row.len() < n {
                    row.push("1".into());
                }
                out.push_str(&row.join(","));
                out.push_str(match shape % 11 {
                    0 => "\r\n",
                    1 => "\n\n",
                    _ => "\n",
                });
            }
            mutate_text(&out, &edits)
        })
}

/// Hyperparameter names with values the built-in trainer accepts.
const HYPERPARAMETERS: &[(&str, &[&str])] = &[
    ("num_round", &["1", "10", "100"]),
    ("eta", &["0.3", "0.1", "1"]),
    ("max_depth", &["0", "3", "10"]),
    ("min_child_weight", &["1", "0"]),
    ("subsample", &["0.5", "1"]),
    ("colsample_bytree", &["0.8", "1"]),
    ("gamma", &["0", "2.5"]),
    ("lambda", &["1", "0"]),
    ("alpha", &["0", "0.5"]),
    ("objective", &["reg:squarederror", "binary:logistic"]),
    ("eval_metric", &["rmse", "auc", "rmse,mae"]),
    ("max_bin", &["256", "16"]),
    ("seed", &["7", "0"]),
    ("scale_pos_weight", &["1"]),
    ("early_stopping_rounds", &["5"]),
    ("base_score", &["0.5"]),
    ("nthread", &["2"]),
    ("verbosity", &["1"]),
    (
        "_tuning_objective_metric",
        &["validation:rmse", "validation:auc"],
    ),
    ("sagemaker_program", &["train.py"]),
    ("unknown_thing", &["1"]),
];

/// A hyperparameter object (SageMaker passes strings; users write anything): mostly values
/// the trainer accepts, some odd ones.
pub fn hyperparameters() -> impl Strategy<Value = Map<String, Value>> {
    let odd = prop_oneof![
        4 => select(vec!["1", "0", "-1", "0.3", "1e9", "1e400", "NaN", "inf", "", " 5 ", "true", "abc", "18446744073709551616", "4294967296", "-0", "1,2", "(0,1)"]).prop_map(|s| Value::String(s.to_string())),
        1 => number(),
        1 => json_value(),
    ];
    let entry = (
        select(HYPERPARAMETERS),
        any::<u8>(),
        prop::option::weighted(0.1, odd),
    );
    (
        prop::option::weighted(0.8, select(HYPERPARAMETERS[0].1)),
        prop::collection::vec(entry, 0..8),
    )
        .prop_map(|(rounds, entries)| {
            let mut m = Map::new();
            if let Some(r) = rounds {
                m.insert("num_round".into(), Value::String(r.to_string()));
            }
            for ((name, valid), pick, odd) in entries {
                let value = odd.unwrap_or_else(|| {
                    Value::String(valid[pick as usize % valid.len()].to_string())
                });
                m.insert(name.to_string(), value);
            }
            m
        })
}
