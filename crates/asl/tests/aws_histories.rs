//! Runs every execution whose history AWS recorded (`../shared/conformance/asl-aws-histories`,
//! beside the repository, never copied into it; the definitions and inputs are the cases of
//! `../asl-aws-recorded/cases` of the same file name) and compares the engine's history, in
//! GetExecutionHistory's shape (`mdlc_asl::aws_history`), with AWS's at three levels:
//!
//! 1. **types**: the event types, in order;
//! 2. **ids**: the types, and every `id` and `previousEventId`;
//! 3. **details**: the types, and every `…EventDetails` member. `input`, `output` and the values
//!    of `assignedVariables` are JSON text in the API and compared as parsed JSON (the snapshot
//!    tool parsed those that begin with `{`); `timestamp`, `roleArn` and `mapRunArn` are masked
//!    as the recordings mask them.
//!
//! The recordings' Parallel rewrite (their README: the events between a `ParallelStateStarted`
//! and the end of that Parallel lose their ids and are sorted, and the closing events inside it
//! are dropped) is applied to our history before comparing: that run of events is compared as a
//! multiset of types (level 1) and of details (level 3), and the ids around it as they are.
//!
//! It prints the three figures and each failing case's first difference, and fails when a
//! figure drops below its floor ([`FLOORS`], a ratchet: raise it when the engine gets better).
//! Ignored unless asked for (`--run-ignored all`, as `make test` and `make conformance` run
//! it); when asked for, a missing or empty corpus fails the test. `MDLC_CASE=<part of a name>`
//! runs only the matching histories, and then the floors are not checked.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

/// The figures reached (types, ids, details) out of the 182 recorded histories; the test fails
/// below any of them.
const FLOORS: [usize; 3] = [182, 182, 182];

/// Recording noise, argued: in these three DISTRIBUTED Map histories `MapStateExited` points
/// to `MapRunStarted`, while in the other eleven histories with a Map Run, recorded by the same
/// snapshot file (`scenarios/test_base_scenarios.snapshot.json`; for example
/// `map__map_state_config_distributed_parameters`, `…_item_selector`, `…_legacy_config_distributed*`,
/// `…_reentrant`, `map__map_state_label`), it points to `MapRunSucceeded`, as every INLINE Map's
/// `MapStateExited` points to what `MapStateSucceeded` points to. The three use nothing the
/// eleven do not use (an ItemSelector or Parameters, ItemsPath on a previous state's output, a
/// Map nested in the item processor, which runs in the child executions and so does not show in
/// this history), and every other event of them chains as in the eleven; the recordings' README
/// notes they were probably recorded at another time. The comparison of ids accepts, for these
/// files only and only for that event, `MapRunStarted` where the engine (as the eleven) names
/// `MapRunSucceeded`.
const MAP_RUN_EXITED_NOISE: [&str; 3] = [
    "map__map_state_config_distributed_item_selector_parameters.json",
    "map__map_state_config_distributed_items_path_from_previous.json",
    "map__map_state_nested_config_distributed.json",
];

fn shared_dir(rel: &str) -> PathBuf {
    match std::env::var("MDLC_REPO_ROOT") {
        Ok(root) if !root.is_empty() => PathBuf::from(root).join("../shared/conformance").join(rel),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance")
            .join(rel),
    }
}

/// Runs a case's definition on its input and returns the history in AWS's shape.
fn our_history(case: &Value) -> Result<Vec<Value>, String> {
    let def = case.get("definition").ok_or("case has no 'definition'")?;
    let input = case.get("input").cloned().unwrap_or(Value::Null);
    let sm = mdlc_asl::StateMachine::from_value(def).map_err(|e| format!("rejected: {e}"))?;
    let mut opts = mdlc_asl::ExecutionOptions {
        record_history: true,
        ..Default::default()
    };
    if let Some(o) = case.get("options") {
        if let Some(n) = o.get("execution_name").and_then(Value::as_str) {
            opts.execution_name = n.to_string();
        }
        if let Some(n) = o.get("state_machine_name").and_then(Value::as_str) {
            opts.state_machine_name = n.to_string();
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let exec = rt.block_on(sm.execute(input, opts));
    Ok(mdlc_asl::aws_history::history_to_aws(&exec.history, true))
}

/// JSON text as a value (a string that is not JSON stays a string); anything else as it is.
fn parsed(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// An event's details, normalised: JSON text parsed, ARNs and timestamps masked as the
/// recordings mask them (`map_run_mask`: the recording's `mapRunArn`).
fn details_of(e: &Value, map_run_mask: Option<&str>) -> Value {
    let mut out = serde_json::Map::new();
    let Some(obj) = e.as_object() else {
        return Value::Object(out);
    };
    for (member, d) in obj {
        if matches!(
            member.as_str(),
            "id" | "previousEventId" | "timestamp" | "type"
        ) {
            continue;
        }
        let mut d = d.clone();
        if let Some(m) = d.as_object_mut() {
            for field in ["input", "output"] {
                if let Some(v) = m.get_mut(field) {
                    *v = parsed(v);
                }
            }
            if let Some(Value::Object(vars)) = m.get_mut("assignedVariables") {
                for v in vars.values_mut() {
                    *v = parsed(v);
                }
            }
            if let Some(r) = m.get_mut("roleArn")
                && r.as_str()
                    .is_some_and(|s| s.starts_with("arn:aws:iam::") || s == "snf_role_arn")
            {
                *r = json!("snf_role_arn");
            }
            if let (Some(r), Some(mask)) = (m.get_mut("mapRunArn"), map_run_mask)
                && r.as_str().is_some_and(|s| is_map_run_arn(s) || s == mask)
            {
                *r = json!(mask);
            }
        }
        out.insert(member.clone(), d);
    }
    Value::Object(out)
}

/// `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>`.
fn is_map_run_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 8
        && parts[..3] == ["arn", "aws", "states"]
        && parts[5] == "mapRun"
        && parts[6]
            .split_once('/')
            .is_some_and(|(m, l)| !m.is_empty() && !l.is_empty())
        && !parts[7].is_empty()
}

fn ty(e: &Value) -> &str {
    e.get("type").and_then(Value::as_str).unwrap_or("")
}

fn short(e: &Value) -> String {
    let s = e.to_string();
    if s.chars().count() > 400 {
        format!("{}…", s.chars().take(400).collect::<String>())
    } else {
        s
    }
}

/// One unit of comparison: an event in place, or the run of events of a rewritten Parallel.
enum Unit<'a> {
    One(&'a Value),
    Bag(Vec<&'a Value>),
}

/// AWS's events cut into units: a rewritten Parallel's run starts after its
/// `ParallelStateStarted` and ends before the first `ParallelStateExited` with an id (the inner
/// ones were dropped by the rewrite).
fn aws_units(events: &[Value]) -> Vec<Unit<'_>> {
    let rewritten = events
        .iter()
        .any(|e| e.get("id").is_some_and(Value::is_array));
    let mut units = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let e = &events[i];
        units.push(Unit::One(e));
        i += 1;
        if rewritten && ty(e) == "ParallelStateStarted" {
            let mut bag = Vec::new();
            while i < events.len() && ty(&events[i]) != "ParallelStateExited" {
                bag.push(&events[i]);
                i += 1;
            }
            units.push(Unit::Bag(bag));
        }
    }
    units
}

/// Our events cut the same way; inside a Parallel's run, its closing events
/// (`ParallelStateSucceeded`, and the inner Parallels' `ParallelStateExited`) are dropped, as
/// the rewrite drops them.
fn our_units(events: &[Value], rewrite: bool) -> Vec<Unit<'_>> {
    let mut units = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let e = &events[i];
        units.push(Unit::One(e));
        i += 1;
        if rewrite && ty(e) == "ParallelStateStarted" {
            let mut depth = 1usize;
            let mut bag = Vec::new();
            while i < events.len() {
                let t = ty(&events[i]);
                if t == "ParallelStateStarted" {
                    depth += 1;
                }
                if t == "ParallelStateExited" {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                } else if t != "ParallelStateSucceeded" {
                    bag.push(&events[i]);
                }
                i += 1;
            }
            units.push(Unit::Bag(bag));
        }
    }
    units
}

/// The first difference at each level (`None`: that level matches).
struct Verdict {
    types: Option<String>,
    ids: Option<String>,
    details: Option<String>,
}

fn sorted_texts(bag: &[&Value], f: impl Fn(&Value) -> Value) -> Vec<String> {
    let mut v: Vec<String> = bag.iter().map(|e| f(e).to_string()).collect();
    v.sort();
    v
}

fn compare(name: &str, ours: &[Value], aws: &[Value]) -> Verdict {
    let map_run_mask = aws
        .iter()
        .find_map(|e| e.pointer("/mapRunStartedEventDetails/mapRunArn"))
        .and_then(Value::as_str);
    let theirs = aws_units(aws);
    let rewrite = theirs.iter().any(|u| matches!(u, Unit::Bag(_)));
    let mine = our_units(ours, rewrite);
    let mut v = Verdict {
        types: None,
        ids: None,
        details: None,
    };
    let noise = MAP_RUN_EXITED_NOISE.contains(&name);
    let id_of = |e: &Value, k: &str| e.get(k).cloned().unwrap_or(Value::Null);
    let by_id: BTreeMap<String, &Value> = aws
        .iter()
        .map(|e| (id_of(e, "id").to_string(), e))
        .collect();
    for (n, pair) in theirs.iter().zip(mine.iter()).enumerate() {
        match pair {
            (Unit::One(a), Unit::One(o)) => {
                if v.types.is_none() && ty(a) != ty(o) {
                    v.types = Some(format!("unit {n}: {} where AWS has {}", ty(o), ty(a)));
                }
                if v.ids.is_none() {
                    let (ai, ap) = (id_of(a, "id"), id_of(a, "previousEventId"));
                    let (oi, op) = (id_of(o, "id"), id_of(o, "previousEventId"));
                    let excused = noise
                        && ty(a) == "MapStateExited"
                        && by_id.get(&ap.to_string()).map(|p| ty(p)) == Some("MapRunStarted")
                        && by_id.get(&op.to_string()).map(|p| ty(p)) == Some("MapRunSucceeded");
                    if (ai != oi || ap != op) && !excused {
                        v.ids = Some(format!(
                            "{} has id {oi} / previousEventId {op}, AWS {ai} / {ap}",
                            ty(o)
                        ));
                    }
                }
                if v.details.is_none() {
                    let (da, dn) = (details_of(a, map_run_mask), details_of(o, map_run_mask));
                    if !common::json_equal(&da, &dn) {
                        v.details = Some(format!(
                            "{} (id {}): {}\n      AWS: {}",
                            ty(o),
                            id_of(o, "id"),
                            short(&dn),
                            short(&da)
                        ));
                    }
                }
            }
            (Unit::Bag(a), Unit::Bag(o)) => {
                let (ta, to) = (
                    sorted_texts(a, |e| json!(ty(e))),
                    sorted_texts(o, |e| json!(ty(e))),
                );
                if v.types.is_none() && ta != to {
                    v.types = Some(format!(
                        "the Parallel's events (as a multiset) are {to:?}, AWS {ta:?}"
                    ));
                }
                let mut da: Vec<Value> = a.iter().map(|e| details_of(e, map_run_mask)).collect();
                let mut dn: Vec<Value> = o.iter().map(|e| details_of(e, map_run_mask)).collect();
                // a multiset: each of ours takes one equal event of AWS's
                let mut unmatched = Vec::new();
                for d in dn.drain(..) {
                    match da.iter().position(|x| common::json_equal(x, &d)) {
                        Some(p) => {
                            da.remove(p);
                        }
                        None => unmatched.push(d),
                    }
                }
                if v.details.is_none() && (!unmatched.is_empty() || !da.is_empty()) {
                    v.details = Some(format!(
                        "in the Parallel's events, ours without an equal one at AWS: {}; AWS's left: {}",
                        unmatched.first().map(short).unwrap_or_default(),
                        da.first().map(short).unwrap_or_default()
                    ));
                }
            }
            _ => {
                if v.types.is_none() {
                    v.types = Some(format!(
                        "unit {n}: the Parallel's events are cut differently"
                    ));
                }
            }
        }
    }
    if v.types.is_none() && theirs.len() != mine.len() {
        let next = |u: Option<&Unit<'_>>| match u {
            Some(Unit::One(e)) => ty(e).to_string(),
            Some(Unit::Bag(_)) => "a Parallel's events".to_string(),
            None => "none".to_string(),
        };
        let n = theirs.len().min(mine.len());
        v.types = Some(format!(
            "{} units, AWS {}: next ours {}, AWS {}",
            mine.len(),
            theirs.len(),
            next(mine.get(n)),
            next(theirs.get(n))
        ));
    }
    // the levels build on the types: with other types, ids and details do not compare
    if let Some(t) = &v.types {
        v.ids.get_or_insert_with(|| t.clone());
        v.details.get_or_insert_with(|| t.clone());
    }
    v
}

#[test]
#[ignore = "needs ../shared/conformance beside the repository: make conformance / make test run it"]
fn aws_recorded_histories_match() {
    let hist_dir = shared_dir("asl-aws-histories/cases");
    let case_dir = shared_dir("asl-aws-recorded/cases");
    let files = common::case_files(&hist_dir)
        .unwrap_or_else(|e| panic!("the AWS-recorded histories are missing: {e}"));
    let only = std::env::var("MDLC_CASE").ok();
    let mut total = 0usize;
    let mut reached = [0usize; 3];
    let mut failures = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        total += 1;
        let read = |p: &std::path::Path| -> Result<Value, String> {
            let t = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_str(&t).map_err(|e| format!("{}: {e}", p.display()))
        };
        let verdict = read(f).and_then(|recorded| {
            let case = read(&case_dir.join(&name))?;
            let ours = our_history(&case)?;
            let aws = recorded
                .get("events")
                .and_then(Value::as_array)
                .ok_or("the recording has no 'events'")?;
            Ok(compare(&name, &ours, aws))
        });
        let v = match verdict {
            Ok(v) => v,
            Err(e) => Verdict {
                types: Some(e.clone()),
                ids: Some(e.clone()),
                details: Some(e),
            },
        };
        for (i, level) in [&v.types, &v.ids, &v.details].into_iter().enumerate() {
            if level.is_none() {
                reached[i] += 1;
            }
        }
        let first = [
            ("types", &v.types),
            ("ids", &v.ids),
            ("details", &v.details),
        ]
        .into_iter()
        .find_map(|(l, d)| d.as_ref().map(|d| (l, d)));
        match first {
            None => println!("ok   {name}"),
            Some((level, d)) => {
                println!("FAIL {name} ({level}): {d}");
                failures.push(name);
            }
        }
    }
    println!(
        "histories against AWS: types {}/{total}, ids {}/{total}, details {}/{total}",
        reached[0], reached[1], reached[2]
    );
    assert!(
        total > 0,
        "no recorded history ran from {} ({} files, MDLC_CASE={only:?})",
        hist_dir.display(),
        files.len()
    );
    if only.is_none() {
        for (i, level) in ["types", "ids", "details"].iter().enumerate() {
            assert!(
                reached[i] >= FLOORS[i],
                "{level}: {}/{total} histories match AWS's, below the floor of {}",
                reached[i],
                FLOORS[i]
            );
        }
    }
}

/// An event in GetExecutionHistory's shape (`details`: its `…EventDetails` member and value).
fn ev(id: Value, prev: u64, ty: &str, details: Option<(&str, Value)>) -> Value {
    let mut e = json!({"id": id, "previousEventId": prev, "timestamp": "timestamp", "type": ty});
    if let (Some((k, v)), Value::Object(m)) = (details, &mut e) {
        m.insert(k.to_string(), v);
    }
    e
}

fn entered(id: Value, prev: u64, ty: &str, name: &str, input: &str) -> Value {
    ev(
        id,
        prev,
        ty,
        Some((
            "stateEnteredEventDetails",
            json!({"name": name, "input": input, "inputDetails": {"truncated": false}}),
        )),
    )
}

fn exited(id: Value, prev: u64, ty: &str, name: &str, output: &str) -> Value {
    ev(
        id,
        prev,
        ty,
        Some((
            "stateExitedEventDetails",
            json!({"name": name, "output": output, "outputDetails": {"truncated": false}}),
        )),
    )
}

/// A two-branch Parallel as the engine writes it (`outs`: the branches' outputs).
fn parallel_history(outs: [&str; 2]) -> Vec<Value> {
    vec![
        ev(
            json!(1),
            0,
            "ExecutionStarted",
            Some((
                "executionStartedEventDetails",
                json!({"input": "{}", "inputDetails": {"truncated": false}, "roleArn": "arn:aws:iam::1:role/r"}),
            )),
        ),
        entered(json!(2), 0, "ParallelStateEntered", "P", "{}"),
        ev(json!(3), 2, "ParallelStateStarted", None),
        entered(json!(4), 3, "PassStateEntered", "A", "{}"),
        exited(json!(5), 4, "PassStateExited", "A", outs[0]),
        entered(json!(6), 3, "PassStateEntered", "B", "{}"),
        exited(json!(7), 6, "PassStateExited", "B", outs[1]),
        ev(json!(8), 7, "ParallelStateSucceeded", None),
        exited(json!(9), 7, "ParallelStateExited", "P", "[1,2]"),
    ]
}

/// The same run as the recordings store it: the branch events without ids, sorted, and the
/// closing `ParallelStateSucceeded` dropped.
fn parallel_recorded() -> Vec<Value> {
    vec![
        ev(
            json!(1),
            0,
            "ExecutionStarted",
            Some((
                "executionStartedEventDetails",
                json!({"input": {}, "inputDetails": {"truncated": false}, "roleArn": "snf_role_arn"}),
            )),
        ),
        entered(json!(2), 0, "ParallelStateEntered", "P", "{}"),
        ev(json!(3), 2, "ParallelStateStarted", None),
        entered(json!([0]), 0, "PassStateEntered", "B", "{}"),
        entered(json!([0]), 0, "PassStateEntered", "A", "{}"),
        exited(json!([0]), 0, "PassStateExited", "B", "2"),
        exited(json!([0]), 0, "PassStateExited", "A", "1"),
        exited(json!(9), 7, "ParallelStateExited", "P", "[1,2]"),
    ]
}

fn levels(v: &Verdict) -> [bool; 3] {
    [v.types.is_none(), v.ids.is_none(), v.details.is_none()]
}

#[test]
fn the_comparison_tells_types_ids_and_details_apart() {
    let aws = parallel_recorded();
    let ours = parallel_history(["1", "2"]);
    assert_eq!(levels(&compare("x.json", &ours, &aws)), [true, true, true]);
    // a branch output that differs: the details only
    let other = parallel_history(["1", "3"]);
    assert_eq!(
        levels(&compare("x.json", &other, &aws)),
        [true, true, false]
    );
    // a previousEventId outside the Parallel's run: the ids (and nothing inside the run counts)
    let mut moved = ours.clone();
    moved[8]["previousEventId"] = json!(8);
    assert_eq!(
        levels(&compare("x.json", &moved, &aws)),
        [true, false, true]
    );
    // an event type: every level
    let mut renamed = ours.clone();
    renamed[3]["type"] = json!("WaitStateEntered");
    assert_eq!(
        levels(&compare("x.json", &renamed, &aws)),
        [false, false, false]
    );
    // one event too many
    let mut longer = ours;
    longer.push(ev(json!(10), 9, "ExecutionSucceeded", None));
    assert_eq!(
        levels(&compare("x.json", &longer, &aws)),
        [false, false, false]
    );
}

#[test]
fn json_text_compares_as_parsed_json_and_the_map_run_noise_is_excused_only_where_argued() {
    let run = "arn:aws:states:us-east-1:123456789012:mapRun:M/label:0a1b";
    let mask = "arn:<partition>:states:<region>:111111111111:mapRun:<ArnPart_0idx>/<MapRunArnPart0_0idx>:<MapRunArnPart1_0idx>";
    let history = |arn: &str, exited_prev: u64| {
        vec![
            entered(json!(2), 0, "MapStateEntered", "M", "{\"a\": [1, 2]}"),
            ev(
                json!(3),
                2,
                "MapStateStarted",
                Some(("mapStateStartedEventDetails", json!({"length": 0}))),
            ),
            ev(
                json!(4),
                3,
                "MapRunStarted",
                Some(("mapRunStartedEventDetails", json!({"mapRunArn": arn}))),
            ),
            ev(json!(5), 4, "MapRunSucceeded", None),
            ev(json!(6), 5, "MapStateSucceeded", None),
            exited(json!(7), exited_prev, "MapStateExited", "M", "[]"),
        ]
    };
    let ours = history(run, 5);
    // the recording's input parsed as an object, our text with other spacing: equal
    let mut aws = history(mask, 5);
    aws[0]["stateEnteredEventDetails"]["input"] = json!({"a": [1, 2]});
    assert_eq!(levels(&compare("x.json", &ours, &aws)), [true, true, true]);
    let mut noisy = history(mask, 4);
    noisy[0] = aws[0].clone();
    assert_eq!(
        levels(&compare("x.json", &ours, &noisy)),
        [true, false, true]
    );
    assert_eq!(
        levels(&compare(MAP_RUN_EXITED_NOISE[0], &ours, &noisy)),
        [true, true, true]
    );
    // a map run ARN of another shape is not masked
    let odd = history("arn:aws:states:us-east-1:1:execution:M:e", 5);
    assert_eq!(levels(&compare("x.json", &odd, &aws)), [true, true, false]);
}
