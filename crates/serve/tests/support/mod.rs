//! A server on a free loopback port in a thread of its own (its own Tokio runtime, so that
//! stopping it ends its running executions the way a stopped process does), AWS's Rust SDK
//! client for it, raw HTTP requests, and a task invoker for the tests.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use mdlc_asl::mock::MockConfig;
use mdlc_asl::{TaskFailure, TaskInvoker, TaskRequest};
use mdlc_local::http_task::{Connections, HTTP_INVOKE, HttpTasks};
use mdlc_local::sqs::{self, SqsQueues};
use mdlc_serve::{App, ServeConfig};
use serde_json::{Value, json};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsRole";
pub const DOUBLE: &str = "arn:aws:lambda:us-east-1:123456789012:function:double";

/// Function `double` answers `{"n": 2n}`; `sqs:sendMessage[.waitForTaskToken]` goes to the local
/// cloud's SQS stand-in under the state directory (as `mdlc serve`'s invoker sends it);
/// `http:invoke` to the local cloud's HTTP Task with the test's connections; any other resource
/// fails with `Test.NoSuchResource`.
pub struct TestInvoker {
    pub sqs: SqsQueues,
    pub http: Arc<HttpTasks>,
}

#[async_trait]
impl TaskInvoker for TestInvoker {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        if request.resource == DOUBLE {
            let n = request.parameters["n"].as_i64().unwrap_or(0);
            return Ok(json!({"n": n * 2}));
        }
        if request.resource == sqs::SEND_MESSAGE || request.resource == sqs::SEND_MESSAGE_CALLBACK {
            return sqs::send_message_task(&self.sqs, &request.parameters, 0).await;
        }
        if request.resource == HTTP_INVOKE {
            return self.http.invoke(&request.parameters).await;
        }
        Err(TaskFailure::new(
            "Test.NoSuchResource",
            format!("no resource {}", request.resource),
        ))
    }
}

/// How a test server runs.
#[derive(Default)]
pub struct Options {
    pub mock: Option<MockConfig>,
    pub real_time: bool,
    /// 0: 8.
    pub max_concurrent: usize,
    /// botocore's models (TestState's mock field validation).
    pub api_models: Option<std::path::PathBuf>,
    /// The EventBridge connections of HTTP Tasks (none by default).
    pub connections: Option<Connections>,
}

pub struct TestServer {
    pub endpoint: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(state_dir: &Path, options: Options) -> TestServer {
        let http = Arc::new(
            HttpTasks::new(options.connections.unwrap_or_default(), "us-east-1")
                .expect("the HTTP Task's client"),
        );
        let config = ServeConfig {
            state_dir: state_dir.to_path_buf(),
            invoker: Arc::new(TestInvoker {
                sqs: SqsQueues::new(state_dir.join(sqs::SQS_DIR)),
                http: http.clone(),
            }),
            http_tasks: Some(http),
            item_store: None,
            mock: options.mock,
            real_time: options.real_time,
            max_concurrent: if options.max_concurrent == 0 {
                8
            } else {
                options.max_concurrent
            },
            api_models: options
                .api_models
                .map(|d| Arc::new(mdlc_serve::api_models::ApiModels::new(d))),
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let app = App::open(config).expect("the state directory opens");
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a free port");
                addr_tx
                    .send(listener.local_addr().expect("an address"))
                    .expect("the test waits for the address");
                mdlc_serve::serve(listener, app, async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("the server runs");
            });
            // dropping the runtime ends the executions still running, as a stopped process would
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server listens");
        TestServer {
            endpoint: format!("http://{addr}"),
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub async fn client(&self) -> Client {
        let conf = mdlc_aws::sdk_loader()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDLOCAL",
                "secret",
                None,
                None,
                "tests",
            ))
            .endpoint_url(&self.endpoint)
            .load()
            .await;
        Client::new(&conf)
    }

    /// One raw request: `(HTTP status, JSON body)`.
    pub async fn raw(&self, target: Option<&str>, body: &str) -> (u16, Value) {
        use http_body_util::{BodyExt, Full};
        use hyper_util::client::legacy::Client;
        use hyper_util::rt::TokioExecutor;
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.endpoint))
            .header("content-type", "application/x-amz-json-1.0");
        if let Some(t) = target {
            request = request.header("x-amz-target", t);
        }
        let request = request
            .body(Full::new(bytes::Bytes::from(body.to_string())))
            .expect("a request");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = client.request(request).await.expect("an answer");
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(content_type, "application/x-amz-json-1.0");
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, serde_json::from_slice(&bytes).expect("a JSON body"))
    }

    /// Stops the server like a killed process: running executions end without a word.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("the server thread ends");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls DescribeExecution until the execution is no longer RUNNING (at most 1,000 polls).
pub async fn until_done(
    client: &Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    for _ in 0..1000 {
        let d = client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("DescribeExecution");
        if d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("execution {arn} did not end");
}

/// Polls DescribeExecution until the execution exists (at most 1,000 polls); returns its
/// description. For an execution another one starts (a nested child): its parent's
/// StartExecution answers before the parent's Task has started it.
pub async fn until_exists(
    client: &Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    for _ in 0..1000 {
        match client.describe_execution().execution_arn(arn).send().await {
            Ok(d) => return d,
            Err(e) if e.code() == Some("ExecutionDoesNotExist") => {}
            Err(e) => panic!("DescribeExecution of {arn}: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("execution {arn} was never started");
}

/// Polls GetExecutionHistory until an event of type `ty` is there; returns it.
pub async fn until_event(
    client: &Client,
    arn: &str,
    ty: aws_sdk_sfn::types::HistoryEventType,
) -> aws_sdk_sfn::types::HistoryEvent {
    for _ in 0..1000 {
        let h = client
            .get_execution_history()
            .execution_arn(arn)
            .send()
            .await
            .expect("GetExecutionHistory");
        if let Some(e) = h.events().iter().find(|e| e.r#type() == &ty) {
            return e.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("execution {arn} has no {ty:?} event");
}

/// Creates a STANDARD state machine; returns its ARN.
pub async fn create(client: &Client, name: &str, definition: &Value) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string()
}

/// The error code and HTTP status of a failed SDK call.
pub fn code_and_status<E>(
    e: &aws_sdk_sfn::error::SdkError<E, aws_sdk_sfn::config::http::HttpResponse>,
) -> (String, u16)
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata,
{
    let code = e.code().unwrap_or("<none>").to_string();
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (code, status)
}
