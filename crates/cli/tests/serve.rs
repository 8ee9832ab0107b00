//! `mdlc serve` as a process: the endpoint on the first line of stdout, the API answering on
//! it, SIGTERM stopping it cleanly, and the state kept for the next start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `mdlc serve --port 0`; returns the child and the endpoint's `host:port`.
fn start(state_dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdlc"))
        .args(["serve", "--port", "0", "--quiet", "--state-dir"])
        .arg(state_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mdlc serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the first line");
    let endpoint = line.trim().to_string();
    let host = endpoint
        .strip_prefix("http://127.0.0.1:")
        .map(|port| format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("the first line is the endpoint: {endpoint:?}"));
    (child, host)
}

/// One AWS JSON 1.0 request over a fresh connection: (status, body).
fn call(host: &str, operation: &str, body: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(host).expect("the server accepts");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: AWSStepFunctions.{operation}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("an answer");
    let status: u16 = text[9..12].parse().expect("a status");
    let body = text.split("\r\n\r\n").nth(1).expect("a body");
    (status, serde_json::from_str(body).expect("a JSON body"))
}

/// Sends SIGTERM and waits (at most 60 s) for the exit code.
fn terminate(mut child: Child) -> Option<i32> {
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("the child") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("mdlc serve did not stop on SIGTERM");
}

#[test]
fn serve_prints_its_endpoint_answers_and_stops_on_sigterm_keeping_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let (child, host) = start(dir.path());
    let definition = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Result":7,"End":true}}}"#;
    let (status, created) = call(
        &host,
        "CreateStateMachine",
        &serde_json::json!({"name": "Seven", "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/r"}).to_string(),
    );
    assert_eq!(status, 200, "{created}");
    let arn = created["stateMachineArn"].as_str().unwrap().to_string();
    let (status, body) = call(&host, "NoSuchOperation", "{}");
    assert_eq!(status, 400);
    assert_eq!(
        body["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );
    assert_eq!(terminate(child), Some(0));

    let (child, host) = start(dir.path());
    let (status, listed) = call(&host, "ListStateMachines", "{}");
    assert_eq!(status, 200);
    assert_eq!(listed["stateMachines"][0]["stateMachineArn"], arn.as_str());
    assert_eq!(listed["stateMachines"].as_array().map(Vec::len), Some(1));
    assert_eq!(terminate(child), Some(0));
}
