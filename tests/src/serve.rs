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
    /// Its endpoint (`server.endpoint`) and requests to it.
    client: Client,
}

impl std::ops::Deref for ServeProcess {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
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
        ServeProcess {
            child,
            client: Client { endpoint },
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server's process to end (after it was killed) and reaps it.
    pub fn wait(&mut self) {
        let _ = self.child.wait();
    }

    /// A client of this server (for threads that must not own it).
    pub fn client(&self) -> Client {
        self.client.clone()
    }
}

/// Requests to a server at an endpoint, without owning its process.
#[derive(Debug, Clone)]
pub struct Client {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Client {
    /// One HTTP/1.1 request (`Connection: close`), its whole answer; a failure to connect, send or read as an error.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Answer, String> {
        let authority = self
            .endpoint
            .strip_prefix("http://")
            .ok_or("an http endpoint")?;
        let mut stream = TcpStream::connect(authority)
            .map_err(|e| format!("cannot connect to {}: {e}", self.endpoint))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| format!("a read timeout: {e}"))?;
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
            .map_err(|e| format!("sending the request: {e}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|e| format!("reading the answer: {e}"))?;
        let text = String::from_utf8(raw).map_err(|e| format!("a UTF-8 answer: {e}"))?;
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("an HTTP answer without a blank line: {text:?}"))?;
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status line in {head:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
        {
            return Err("a chunked answer (this client reads only whole bodies)".into());
        }
        Ok(Answer {
            status,
            headers,
            body: body.to_string(),
        })
    }

    /// A Step Functions operation's answer (`POST /`, `X-Amz-Target: AWSStepFunctions.<operation>`),
    /// whatever its status.
    pub fn try_api(&self, operation: &str, body: &Value) -> Result<Answer, String> {
        let target = format!("AWSStepFunctions.{operation}");
        self.try_request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", &target),
            ],
            &body.to_string(),
        )
    }

    /// One HTTP/1.1 request (`Connection: close`), its whole answer; panics when the server
    /// cannot be reached or answers something that is not HTTP.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A Step Functions operation (`POST /`, `X-Amz-Target: AWSStepFunctions.<operation>`);
    /// panics unless it answers 200 with a JSON body.
    pub fn api(&self, operation: &str, body: &Value) -> Value {
        let answer = self
            .try_api(operation, body)
            .unwrap_or_else(|e| panic!("{operation}: {e}"));
        assert_eq!(
            answer.status, 200,
            "{operation} answered {}: {}",
            answer.status, answer.body
        );
        serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("{operation}'s answer is not JSON ({e}): {}", answer.body))
    }
}
