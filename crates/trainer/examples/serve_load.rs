//! Load generator for `mdlc-trainer serve` (scripts/bench-serve.sh): requests per second of
//! `POST /invocations` over keep-alive HTTP/1.1 connections.
//!
//! `serve_load SECONDS ROUNDS LABEL=BINARY...`: trains a seeded binary-logistic model (20
//! features, 50 rounds, depth 6), starts each BINARY with `serve` on a free loopback port (2
//! request threads, the default), and for each payload — 1 row (one record per request, as
//! BatchStrategy SingleRecord) and 5,000 rows (about 1 MB, as MultiRecord) — sends requests from
//! 2 connections (the MaxConcurrentTransforms the server advertises) for SECONDS, ROUNDS times,
//! the binaries taking turns. Every answer must be 200 with one prediction per row. Prints a
//! Markdown table (median of the rounds) on stdout.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use mdlc_trainer::gbdt::train;
use mdlc_trainer::params::{Objective, TrainParams};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FEATURES: usize = 20;
const CONNECTIONS: usize = 2;

struct Payload {
    name: &'static str,
    rows: usize,
    body: Bytes,
}

fn main() {
    if let Err(message) = run() {
        eprintln!("serve_load: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: serve_load SECONDS ROUNDS LABEL=BINARY...";
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).ok_or(usage)?;
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).ok_or(usage)?;
    let servers: Vec<(String, String)> = args[2..]
        .iter()
        .map(|a| {
            a.split_once('=')
                .map(|(l, b)| (l.to_string(), b.to_string()))
        })
        .collect::<Option<_>>()
        .ok_or(usage)?;
    if servers.is_empty() {
        return Err(usage.into());
    }
    let dir = std::env::temp_dir().join(format!("serve-load-{}", std::process::id()));
    let (model_dir, payloads) = model_and_payloads(&dir)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    // rates[server][payload] = requests/s of each round
    let mut rates = vec![vec![Vec::new(); payloads.len()]; servers.len()];
    for round in 0..rounds {
        for (s, (label, binary)) in servers.iter().enumerate() {
            let mut server = Server::start(binary, &model_dir)?;
            for (p, payload) in payloads.iter().enumerate() {
                let rate = runtime.block_on(measure(server.port, payload, seconds))?;
                eprintln!(
                    "serve_load: round {round} {label} {}: {rate:.0} req/s",
                    payload.name
                );
                rates[s][p].push(rate);
            }
            server.stop();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "| server | {} |",
        payloads
            .iter()
            .map(|p| format!("{} (req/s)", p.name))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("| --- |{}", " ---: |".repeat(payloads.len()));
    for (s, (label, _)) in servers.iter().enumerate() {
        let cells: Vec<String> = rates[s]
            .iter()
            .zip(&payloads)
            .map(|(r, p)| {
                format!(
                    "{:.0} ({:.1} rows/ms)",
                    median(r),
                    median(r) * p.rows as f64 / 1000.0
                )
            })
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    Ok(())
}

fn model_and_payloads(dir: &std::path::Path) -> Result<(std::path::PathBuf, Vec<Payload>), String> {
    let data = generate(&GenerateConfig::new(Problem::Binary, 20_000, FEATURES, 7))
        .map_err(|e| e.to_string())?;
    let mut params = TrainParams::new(50);
    params.objective = Objective::Logistic;
    let model = train(&params, &data.train, None, &mut |_| {})
        .map_err(|e| e.to_string())?
        .model;
    let model_dir = dir.join("model");
    std::fs::create_dir_all(&model_dir).map_err(|e| e.to_string())?;
    model.save(&model_dir).map_err(|e| e.to_string())?;
    let rows: Vec<String> = data
        .train
        .features()
        .chunks(FEATURES)
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let batch = |n: usize| {
        Bytes::from(
            rows.iter()
                .take(n)
                .map(|r| format!("{r}\n"))
                .collect::<String>(),
        )
    };
    let payloads = vec![
        Payload {
            name: "1 row",
            rows: 1,
            body: batch(1),
        },
        Payload {
            name: "5,000 rows",
            rows: 5000,
            body: batch(5000),
        },
    ];
    eprintln!(
        "serve_load: 5,000-row payload is {} bytes",
        payloads[1].body.len()
    );
    Ok((model_dir, payloads))
}

/// A `serve` process on a free port, stopped on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(binary: &str, model_dir: &std::path::Path) -> Result<Server, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new(binary)
            .args(["serve", "--model-dir"])
            .arg(model_dir)
            .env("SAGEMAKER_BIND_TO_PORT", port.to_string())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{binary} did not listen on {port}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Requests per second over `seconds` from [`CONNECTIONS`] keep-alive connections.
async fn measure(port: u16, payload: &Payload, seconds: u64) -> Result<f64, String> {
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        // One client (pool) per worker task: one connection each, kept alive.
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let (body, rows) = (payload.body.clone(), payload.rows);
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                let request = http::Request::post(format!("http://127.0.0.1:{port}/invocations"))
                    .header("content-type", "text/csv")
                    .body(Full::new(body.clone()))
                    .map_err(|e| e.to_string())?;
                let response = client.request(request).await.map_err(|e| e.to_string())?;
                let status = response.status();
                let answer = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                let lines = answer.iter().filter(|b| **b == b'\n').count();
                if status != 200 || lines != rows {
                    return Err(format!("HTTP {status} with {lines} lines for {rows} rows"));
                }
                done += 1;
            }
            Ok::<u64, String>(done)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.map_err(|e| e.to_string())??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
