//! A running `mdlc serve --port 0 --state-dir DIR` (killed when dropped), its endpoint read from
//! the first line of its stdout, and plain HTTP/1.1 requests to it (the Step Functions API's
//! `POST /` with `X-Amz-Target`, and `GET`s).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::built_binary;

/// A hang guard for the server's start, not a performance bound.
pub const START_LIMIT: Duration = Duration::from_secs(180);

/// A running `mdlc serve`, killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ServeProcess {
    /// Starts `mdlc serve --port 0 --state-dir <state_dir> [extra...]` (building `mdlc` if
    /// needed) and waits for its endpoint; its log goes to this process's stderr.
    pub fn start(state_dir: &Path, extra: &[&str]) -> ServeProcess {
        Self::start_with_env(state_dir, extra, &[])
    }

    /// [`ServeProcess::start`] with environment variables set for the server.
    pub fn start_with_env(state_dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> ServeProcess {
        let mdlc = built_binary("mdlc-cli", "mdlc")
            .unwrap_or_else(|e| panic!("the mdlc binary is needed by this test: {e}"));
        let mut child = Command::new(&mdlc)
            .args(["serve", "--port", "0", "--state-dir"])
            .arg(state_dir)
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", mdlc.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            let read = reader.read_line(&mut first).map(|_| first);
            let _ = tx.send(read);
            // Keep draining so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut reader.take(u64::MAX), &mut std::io::sink());
        });
        let line = match rx.recv_timeout(START_LIMIT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => {
                let _ = child.kill();
                panic!("reading mdlc serve's stdout: {e}")
            }
            Err(_) => {
                let _ = child.kill();
                panic!("mdlc serve printed no endpoint within {START_LIMIT:?}")
            }
        };
        let endpoint = line.trim().to_string();
        if endpoint.is_empty() {
            let _ = child.kill();
            panic!("mdlc serve ended without printing its endpoint (its stderr is above)");
        }
        if !endpoint.starts_with("http://127.0.0.1:") {
            let status = child.try_wait().ok().flatten();
            let _ = child.kill();
            panic!(
                "mdlc serve's first stdout line is not a loopback endpoint: {line:?} (exit status {status:?})"
            );
        }
        ServeProcess { child, endpoint }
    }

    /// One HTTP/1.1 request (`Connection: close`), its whole answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let authority = self
            .endpoint
            .strip_prefix("http://")
            .expect("an http endpoint");
        let mut stream = TcpStream::connect(authority)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.endpoint));
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("a read timeout");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream
            .write_all(request.as_bytes())
            .expect("the request is sent");
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .unwrap_or_else(|e| panic!("reading the answer to {method} {path}: {e}"));
        let text = String::from_utf8(raw).expect("a UTF-8 answer");
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("an HTTP answer without a blank line: {text:?}"));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        assert!(
            !headers
                .iter()
                .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")),
            "a chunked answer (this client reads only whole bodies)"
        );
        Answer {
            status,
            headers,
            body: body.to_string(),
        }
    }

    /// A Step Functions operation (`POST /`, `X-Amz-Target: AWSStepFunctions.<operation>`);
    /// panics unless it answers 200 with a JSON body.
    pub fn api(&self, operation: &str, body: &Value) -> Value {
        let target = format!("AWSStepFunctions.{operation}");
        let answer = self.request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", &target),
            ],
            &body.to_string(),
        );
        assert_eq!(
            answer.status, 200,
            "{operation} answered {}: {}",
            answer.status, answer.body
        );
        serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("{operation}'s answer is not JSON ({e}): {}", answer.body))
    }
}
