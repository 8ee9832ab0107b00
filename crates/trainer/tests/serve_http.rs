//! The SageMaker inference HTTP contract over real HTTP: the library server and the
//! `mdlc-trainer serve` program.

use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use mdlc_trainer::gbdt::train;
use mdlc_trainer::model::Model;
use mdlc_trainer::params::{Objective, TrainParams};
use mdlc_trainer::serve::Server;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request (hyper's client, a fresh connection); returns (status, body).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    ctype: Option<&str>,
    body: &str,
) -> (u16, String) {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if let Some(ct) = ctype {
        request = request.header("content-type", ct);
    }
    let request = request
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http();
        let exchange = async {
            let response = client.request(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        };
        tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .expect("an answer within 20 s")
    })
}

fn binary_model() -> (Model, String) {
    let data = generate(&GenerateConfig::new(Problem::Binary, 800, 3, 3)).unwrap();
    let mut p = TrainParams::new(10);
    p.objective = Objective::Logistic;
    let model = train(&p, &data.train, None, &mut |_| {}).unwrap().model;
    let rows: String = data
        .holdout
        .features()
        .chunks(3)
        .take(25)
        .map(|r| format!("{},{},{}\n", r[0], r[1], r[2]))
        .collect();
    (model, rows)
}

/// The model's own prediction of each CSV row, in order.
fn predictions(model: &Model, rows: &str) -> Vec<f32> {
    rows.lines()
        .map(|l| {
            let v: Vec<f32> = l.split(',').map(|x| x.parse().unwrap()).collect();
            model.predict_row(&v)
        })
        .collect()
}

/// The answer body of `/invocations`: one prediction per line.
fn answers(body: &str) -> Vec<f32> {
    body.lines().map(|l| l.parse().unwrap()).collect()
}

#[test]
fn given_library_server_when_invoked_over_http_then_contract_holds() {
    let (model, rows) = binary_model();
    let expected = predictions(&model, &rows);
    let server = Server::start(model, "127.0.0.1:0", 2).unwrap();
    let addr = server.local_addr();
    assert_eq!(http(addr, "GET", "/ping", None, "").0, 200);
    let (status, body) = http(addr, "POST", "/invocations", Some("text/csv"), &rows);
    assert_eq!(status, 200, "{body}");
    let got = answers(&body);
    assert_eq!(got, expected);
    assert!(got.iter().all(|p| (0.0..=1.0).contains(p)));
    let (status, body) = http(addr, "POST", "/invocations", Some("text/csv"), "1,2\n");
    assert_eq!(status, 400);
    assert!(body.contains("expects 3"), "{body}");
    let (status, _) = http(addr, "POST", "/invocations", Some("application/x-npy"), "x");
    assert_eq!(status, 415);
    let (status, body) = http(addr, "POST", "/invocations", Some("text/csv"), "1,2,zz\n");
    assert_eq!(status, 400);
    assert!(body.contains("line 1"), "{body}");
    assert_eq!(http(addr, "GET", "/execution-parameters", None, "").0, 200);
    assert_eq!(http(addr, "GET", "/missing", None, "").0, 404);
    server.shutdown();
}

/// Reads from `conn` until `end` says the bytes so far are complete (or the peer closes).
fn read_until(conn: &mut TcpStream, end: impl Fn(&[u8]) -> bool) -> String {
    use std::io::Read;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !end(&got) {
        match conn.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) => panic!(
                "reading the answer: {e} (after {:?})",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8(got).unwrap()
}

/// `shutdown` stops taking connections but lets a request under way finish: a request whose
/// handler is already reading its body (hyper has said `100 Continue`) gets the model's
/// predictions for the body sent after the listener closed, and `shutdown` returns after it.
#[test]
fn given_a_request_under_way_when_the_server_shuts_down_then_it_is_still_answered() {
    use std::io::Write;
    let (model, rows) = binary_model();
    let expected = predictions(&model, &rows);
    let server = Server::start(model, "127.0.0.1:0", 2).unwrap();
    let addr = server.local_addr();
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        conn,
        "POST /invocations HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/csv\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        rows.len()
    )
    .unwrap();
    let interim = read_until(&mut conn, |b| b.ends_with(b"\r\n\r\n"));
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim:?}");
    // (shutdown gives requests under way 5 s: the rest of this test must fit in that)
    let stopping = std::thread::spawn(move || server.shutdown());
    // Shutdown has begun once nothing accepts connections any more.
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the listener is still open 20 s after shutdown"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    conn.write_all(rows.as_bytes()).unwrap();
    let answer = read_until(&mut conn, |b| {
        let text = String::from_utf8_lossy(b);
        text.split_once("\r\n\r\n")
            .is_some_and(|(_, body)| body.lines().count() == expected.len())
    });
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(answers(body), expected);
    stopping
        .join()
        .expect("shutdown returns once the request is answered");
}

#[test]
fn given_serve_program_when_started_then_ping_and_invocations_answer_with_the_models_predictions() {
    let (model, rows) = binary_model();
    let expected = predictions(&model, &rows);
    assert_eq!(expected.len(), 25);
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mdlc-trainer"))
        .args(["serve", "--model-dir"])
        .arg(dir.path())
        .env("SAGEMAKER_BIND_TO_PORT", port.to_string())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = std::panic::catch_unwind(|| {
        assert!(up, "server did not start");
        assert_eq!(http(addr, "GET", "/ping", None, "").0, 200);
        let (status, body) = http(addr, "POST", "/invocations", Some("text/csv"), &rows);
        assert_eq!(status, 200, "{body}");
        assert_eq!(answers(&body), expected);
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn given_a_bad_max_payload_env_when_serve_starts_then_it_fails_naming_the_variable() {
    let (model, _) = binary_model();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mdlc-trainer"))
        .args(["serve", "--port", "0", "--model-dir"])
        .arg(dir.path())
        .env("SAGEMAKER_MAX_PAYLOAD_IN_MB", "101")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "SAGEMAKER_MAX_PAYLOAD_IN_MB=\"101\" is not a whole number of MB from 0 to 100"
        ),
        "{stderr}"
    );
}
