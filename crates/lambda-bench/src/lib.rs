//! Lambda start-up benchmark: time from process start to the first answered invocation.
//!
//! For each function it runs the native release binary against a local Lambda Runtime API
//! ([`runtime_api`]: the endpoints a custom runtime uses, `GET /2018-06-01/runtime/invocation/next`,
//! `POST .../invocation/{id}/response`, `POST .../invocation/{id}/error`, `POST .../init/error`),
//! serves one invocation with the function's event from `events/<name>.json`, and records
//! ([`run::Run`]):
//!
//! - *ready*: process start → its first `GET .../invocation/next` (init done: config, clients,
//!   runtime);
//! - *answer*: process start → its `POST .../response` or `.../error` (first answered invocation);
//! - *CPU*: on-CPU time of all its threads until that answer (`/proc/<pid>/task/*/schedstat`);
//! - *peak*: `VmHWM` (peak resident memory) of the process right after that answer.
//!
//! Every function is measured twice: with the environment as it is, and with `SSL_CERT_FILE` set
//! to the system's CA bundle, so that the TLS roots are read from one file as on `provided.al2023`
//! (a Debian host also has /etc/ssl/certs/ with one file per certificate, which
//! rustls-native-certs reads too).
//!
//! AWS calls go to `AWS_ENDPOINT_URL`, a loopback port that refuses connections, with fake static
//! credentials and `AWS_MAX_ATTEMPTS=1` (no retry back-off), so a function that needs AWS answers
//! with an error (e.g. `DependencyUnavailable`) at once: what counts is the time to the first
//! answer. Such an answer is measured like a response. An answer with `errorType` `InvalidInput`
//! means the event file is stale, and fails the benchmark ([`measure::BenchError::EventRejected`]),
//! as do an init error, a missing binary or event, and no answer within the time-out
//! ([`measure::BenchError::NoAnswer`]).
//!
//! The binary prints a Markdown section ([`report::markdown`]) on stdout, diagnostics on stderr,
//! and exits with 1 when a function could not be measured.

pub mod measure;
pub mod process;
pub mod report;
pub mod run;
pub mod runtime_api;
pub mod stats;
