//! `mdlc serve`'s dashboard (`GET /`) in a real browser: Debian's `chromium`, headless. The test
//! seeds the state directory's model registry (one version, two evaluations), starts
//! `mdlc serve --port 0 --state-dir <tmp>`, creates a state machine and starts an execution
//! through the API that stops at a `.waitForTaskToken` Task, and loads `/` with `--dump-dom`
//! after a virtual time budget: the page must have polled its JSON endpoints and show the state
//! machine, the execution RUNNING, its graph with one node per state (the visited ones, the
//! current one), the history's event count and the registry's metric charts. After
//! SendTaskSuccess a second load shows it SUCCEEDED; a third, with a newer execution running,
//! follows the one the URL names (`#execution=<arn>`). Any console message or page error fails
//! it.

use std::collections::BTreeMap;
use std::time::Duration;

use mdlc_core::contract::{sample_evaluation, sample_version};
use mdlc_core::ports::RegistryWrite;
use mdlc_local::FsRegistry;
use mdlc_tests::browser::{Dumped, dump_dom, require_chromium};
use mdlc_tests::serve::ServeProcess;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsRole";

fn definition() -> Value {
    json!({
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Result": {"go": true}, "Next": "Route"},
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.go", "BooleanEquals": true, "Next": "Approve"}],
                "Default": "Rejected"
            },
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/approvals",
                    "MessageBody": {"token.$": "$$.Task.Token"}
                },
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"},
            "Rejected": {"Type": "Fail", "Error": "Rejected"}
        }
    })
}

/// The history's events (one page: fewer than 100 here).
fn history(server: &ServeProcess, arn: &str) -> Vec<Value> {
    server.api(
        "GetExecutionHistory",
        &json!({"executionArn": arn, "maxResults": 1000}),
    )["events"]
        .as_array()
        .expect("events")
        .clone()
}

/// Polls the history until `done` holds of it (at most 1,000 times).
fn until(server: &ServeProcess, arn: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..1000 {
        let events = history(server, arn);
        if done(&events) {
            return events;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("execution {arn}: the awaited event never came");
}

/// The value of `attr` in the tag starting at `tag` (`<g class="..." data-state="...">`).
fn attribute(tag: &str, attr: &str) -> Option<String> {
    let end = tag.find('>').unwrap_or(tag.len());
    let tag = &tag[..end];
    let marker = format!(" {attr}=\"");
    let start = tag.find(&marker)? + marker.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

/// Every state node of the graphs in the DOM: data-state → class (the key's swatches, which
/// name no state, are left out).
fn graph_nodes(dom: &str) -> BTreeMap<String, String> {
    let mut nodes = BTreeMap::new();
    for (i, _) in dom.match_indices("<g class=\"node") {
        let tag = &dom[i..];
        if let Some(state) = attribute(tag, "data-state") {
            let class = attribute(tag, "class").unwrap();
            assert!(
                nodes.insert(state.clone(), class).is_none(),
                "state {state} drawn twice"
            );
        }
    }
    nodes
}

/// The text of the element with `id` (no child elements).
fn text_of(dom: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let start = at + dom[at..].find('>').unwrap() + 1;
    let len = dom[start..].find('<').unwrap();
    dom[start..start + len].to_string()
}

/// The cells' texts of the table row whose tag starts with `row` (`<tr data-machine="m"`).
fn row_cells(dom: &str, row: &str) -> Vec<String> {
    let at = dom
        .find(row)
        .unwrap_or_else(|| panic!("no row {row} in the DOM"));
    let end = at + dom[at..].find("</tr>").unwrap();
    dom[at..end]
        .split("<td")
        .skip(1)
        .map(|cell| {
            let mut text = String::new();
            let mut in_tag = true; // the rest of the <td ...> tag
            for c in cell.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

/// Loads the dashboard and checks that nothing went wrong on the page.
fn load(server: &ServeProcess, work: &std::path::Path) -> String {
    let Dumped { dom, console, log } = dump_dom(&format!("{}/", server.endpoint), 5_000, work);
    assert!(
        console.is_empty(),
        "console messages:\n{}\n(chromium's log:\n{log})",
        console.join("\n")
    );
    assert!(
        dom.contains(r#"<ul id="errors"></ul>"#),
        "the page reports errors: {dom}"
    );
    let polls: u64 = attribute(&dom[dom.find("<body").unwrap()..], "data-polls")
        .unwrap()
        .parse()
        .unwrap();
    assert!(polls >= 2, "the page polled {polls} times in 5 s");
    dom
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and mdlc serve: make test runs it"]
async fn dashboard_in_chromium_shows_the_machine_the_live_execution_its_graph_history_and_the_registry()
 {
    require_chromium();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let registry = FsRegistry::new(state.join("registry"));
    let version = registry
        .register(sample_version("churn", "train-1"))
        .await
        .unwrap()
        .version
        .version;
    for (i, at) in ["2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"]
        .into_iter()
        .enumerate()
    {
        registry
            .put_evaluation(sample_evaluation(
                "churn",
                version,
                at,
                &format!("evaluate-{i}"),
            ))
            .await
            .unwrap();
    }

    let server = ServeProcess::start(&state, &["--quiet"]);
    let machine = server.api(
        "CreateStateMachine",
        &json!({"name": "approval", "definition": definition().to_string(), "roleArn": ROLE}),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    let arn = server.api(
        "StartExecution",
        &json!({"stateMachineArn": machine, "name": "order-17", "input": "{}"}),
    )["executionArn"]
        .as_str()
        .unwrap()
        .to_string();
    // it waits for its token once the Task is submitted (TaskSubmitted: its last event before
    // the answer, so the history stays as it is from here)
    let events = until(&server, &arn, |h| {
        h.iter().any(|e| e["type"] == "TaskSubmitted")
    });
    let parameters: Value = serde_json::from_str(
        events
            .iter()
            .find(|e| e["type"] == "TaskScheduled")
            .unwrap()["taskScheduledEventDetails"]["parameters"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let token = parameters["MessageBody"]["token"]
        .as_str()
        .unwrap()
        .to_string();

    // --- while it runs
    let work = dir.path().join("running");
    std::fs::create_dir(&work).unwrap();
    let dom = load(&server, &work);
    let machine_row = row_cells(&dom, r#"<tr data-machine="approval""#);
    assert_eq!(machine_row.len(), 6, "{machine_row:?}");
    assert_eq!(
        [
            &machine_row[0],
            &machine_row[1],
            &machine_row[2],
            &machine_row[4],
            &machine_row[5]
        ],
        [
            "approval",
            "STANDARD",
            "Prepare, Route, Approve, Done, Rejected",
            "1",
            "1"
        ],
        "name, type, states, executions, running"
    );
    let row = row_cells(
        &dom,
        &format!(r#"<tr data-execution="{arn}" data-status="RUNNING""#),
    );
    assert_eq!(row.len(), 7, "{row:?}");
    assert_eq!(
        [&row[0], &row[1], &row[2], &row[3], &row[5], &row[6]],
        [
            "approval",
            "order-17",
            "RUNNING",
            "Approve",
            "running",
            &events.len().to_string()
        ],
        "machine, name, status, current state, duration, events"
    );
    assert!(dom.contains(&format!(
        r#"<div id="detail" data-execution="{arn}" data-status="RUNNING">"#
    )));
    assert_eq!(text_of(&dom, "detail-status"), "RUNNING");
    let nodes = graph_nodes(&dom);
    let expected: BTreeMap<String, String> = [
        ("Prepare", "node visited"),
        ("Route", "node visited"),
        ("Approve", "node current"),
        ("Done", "node"),
        ("Rejected", "node"),
    ]
    .into_iter()
    .map(|(s, c)| (s.to_string(), c.to_string()))
    .collect();
    assert_eq!(nodes, expected, "one node per state");
    assert_eq!(text_of(&dom, "event-count"), events.len().to_string());
    assert_eq!(dom.matches("<tr data-event-id=").count(), events.len());
    // the registry: the model's section, a chart per metric
    assert!(dom.contains(r#"<section class="model" data-model="churn">"#));
    for metric in ["r2", "rmse"] {
        assert_eq!(
            dom.matches(&format!(r#"class="chart" data-metric="{metric}""#))
                .count(),
            1,
            "{metric}"
        );
    }

    // --- after its end
    server.api(
        "SendTaskSuccess",
        &json!({"taskToken": token, "output": "{\"approved\": true}"}),
    );
    let events = until(&server, &arn, |h| {
        h.iter().any(|e| e["type"] == "ExecutionSucceeded")
    });
    let work = dir.path().join("ended");
    std::fs::create_dir(&work).unwrap();
    let dom = load(&server, &work);
    assert!(dom.contains(&format!(
        r#"<tr data-execution="{arn}" data-status="SUCCEEDED""#
    )));
    assert_eq!(text_of(&dom, "detail-status"), "SUCCEEDED");
    let nodes = graph_nodes(&dom);
    let expected: BTreeMap<String, String> = [
        ("Prepare", "node visited"),
        ("Route", "node visited"),
        ("Approve", "node visited"),
        ("Done", "node visited"),
        ("Rejected", "node"),
    ]
    .into_iter()
    .map(|(s, c)| (s.to_string(), c.to_string()))
    .collect();
    assert_eq!(nodes, expected);
    assert_eq!(text_of(&dom, "event-count"), events.len().to_string());
    assert_eq!(dom.matches("<tr data-event-id=").count(), events.len());
    assert_eq!(
        row_cells(&dom, r#"<tr data-machine="approval""#)[5],
        "0",
        "none running"
    );

    // --- a newer execution runs; the URL names the older one to follow
    let newer = server.api(
        "StartExecution",
        &json!({"stateMachineArn": machine, "name": "order-18", "input": "{}"}),
    )["executionArn"]
        .as_str()
        .unwrap()
        .to_string();
    until(&server, &newer, |h| {
        h.iter().any(|e| e["type"] == "TaskSubmitted")
    });
    let work = dir.path().join("chosen");
    std::fs::create_dir(&work).unwrap();
    let url = format!("{}/#execution={}", server.endpoint, arn.replace(':', "%3A"));
    let Dumped { dom, console, log } = dump_dom(&url, 5_000, &work);
    assert!(console.is_empty(), "{console:?}\n{log}");
    let newest_first: Vec<String> = dom
        .match_indices("<tr data-execution=\"")
        .map(|(i, _)| attribute(&dom[i..], "data-execution").unwrap())
        .collect();
    assert_eq!(newest_first, vec![newer.clone(), arn.clone()]);
    assert!(dom.contains(&format!(
        r#"<tr data-execution="{newer}" data-status="RUNNING""#
    )));
    assert!(dom.contains(&format!(
        r#"<tr data-execution="{arn}" data-status="SUCCEEDED" class="selected">"#
    )));
    assert!(dom.contains(&format!(
        r#"<div id="detail" data-execution="{arn}" data-status="SUCCEEDED">"#
    )));
    assert_eq!(text_of(&dom, "event-count"), events.len().to_string());
    let machine_row = row_cells(&dom, r#"<tr data-machine="approval""#);
    assert_eq!([&machine_row[4], &machine_row[5]], ["2", "1"]);
}
