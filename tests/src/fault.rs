//! Fault injection (issue 19): `kill -9` at seeded random moments of the demo's life cycle and of
//! `mdlc serve` under load, then the invariants a crash must keep, counted:
//!
//! - **orphans**: processes still running a few seconds after the kill (and after the restart's
//!   sweep) whose working directory, command line or environment names the killed run's state
//!   directory: every child the local cloud starts is one of those;
//! - **executions lost**: executions whose start was acknowledged (StartExecution answered, or
//!   the `execution started` log line was written) that the next command does not list, or
//!   lists as still `RUNNING` though nothing runs them;
//! - **corrupt files**: `*.json` files of the state directory that do not parse, and `*.jsonl`
//!   files with a line that does not;
//! - **jobs left running**: SageMaker jobs that still read `InProgress`/`Stopping` after the
//!   restart;
//! - **next runs failed**: the next `mdlc demo` on the same state directory, or the restarted
//!   server, not working.
//!
//! Temporary files a kill left (`.<name>.tmp-*`, never read as data) are counted apart.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};

use mdlc_proc::Signal;

use crate::serve::{Client, ServeProcess};

/// How long a child may outlive its killed parent before it counts as an orphan: a
/// parent-death signal acts at once, so this is slack for a loaded machine, not a bound.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(5);

/// The counts of one fault-injection run.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub kills: usize,
    /// Executions acknowledged as started before a kill.
    pub executions_started: usize,
    pub executions_lost: usize,
    pub orphans: usize,
    pub corrupt_files: usize,
    pub temp_files_left: usize,
    /// Jobs the kills interrupted (read as `Failed` afterwards).
    pub jobs_interrupted: usize,
    pub jobs_left_running: usize,
    pub next_runs_failed: usize,
    /// What went wrong, one line per finding.
    pub findings: Vec<String>,
    /// The temporary files left (not a broken invariant: never read as data).
    pub temp_files: Vec<String>,
}

impl Figures {
    fn add(&mut self, other: Figures) {
        self.kills += other.kills;
        self.executions_started += other.executions_started;
        self.executions_lost += other.executions_lost;
        self.orphans += other.orphans;
        self.corrupt_files += other.corrupt_files;
        self.temp_files_left += other.temp_files_left;
        self.jobs_interrupted += other.jobs_interrupted;
        self.jobs_left_running += other.jobs_left_running;
        self.next_runs_failed += other.next_runs_failed;
        self.findings.extend(other.findings);
        self.temp_files.extend(other.temp_files);
    }

    /// Counts the processes left (`orphans`), each a finding saying `when` it was seen.
    fn note_orphans(&mut self, orphans: Vec<(u32, String)>, when: &str) {
        self.orphans += orphans.len();
        self.findings.extend(
            orphans
                .iter()
                .map(|(pid, cmd)| format!("{when}: orphan {pid} {cmd}")),
        );
    }

    /// Counts the corrupt and the temporary files of a state directory.
    fn note_files(&mut self, state: &Path) {
        let (corrupt, temps) = check_files(state);
        self.corrupt_files += corrupt.len();
        self.temp_files_left += temps.len();
        self.findings.extend(corrupt);
        self.temp_files
            .extend(temps.iter().map(|t| t.display().to_string()));
    }

    /// Whether every invariant held.
    pub fn clean(&self) -> bool {
        self.executions_lost == 0
            && self.orphans == 0
            && self.corrupt_files == 0
            && self.jobs_left_running == 0
            && self.next_runs_failed == 0
    }
}

/// A seeded random source for kill moments.
pub struct Moments(ChaCha8Rng);

impl Moments {
    pub fn new(seed: u64) -> Moments {
        Moments(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A moment in `[0, within)`.
    pub fn pick(&mut self, within: Duration) -> Duration {
        let ms = within.as_millis().max(1) as u64;
        Duration::from_millis(self.0.random_range(0..ms))
    }
}

/// `kill -9` of `pid` (a process group when `group`); one already gone is fine.
pub fn kill9(pid: u32, group: bool) {
    let _ = if group {
        mdlc_proc::signal::signal_group(pid, Signal::Kill)
    } else {
        mdlc_proc::signal::signal_process(pid, Signal::Kill)
    };
}

/// Whether `pid` is one of `roots` or a descendant of one.
fn descends_from(pid: u32, roots: &[u32]) -> bool {
    let mut at = pid;
    for _ in 0..64 {
        if roots.contains(&at) {
            return true;
        }
        match mdlc_proc::stat::of(at).map(|s| s.ppid) {
            Some(p) if p > 1 => at = p,
            _ => return false,
        }
    }
    false
}

/// The processes (pid, command line) other than this one whose working directory, command
/// line or environment names `dir`.
pub fn processes_naming(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let base = entry.path();
        let cmdline = std::fs::read(base.join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        if cmdline.is_empty() {
            continue; // a zombie or a kernel thread
        }
        let cwd = std::fs::read_link(base.join("cwd"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let environ = std::fs::read(base.join("environ"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if cwd.starts_with(&needle) || cmdline.contains(&needle) || environ.contains(&needle) {
            found.push((pid, cmdline.trim().to_string()));
        }
    }
    found
}

/// The processes naming `dir` that are still there after [`ORPHAN_GRACE`], other than the
/// live processes `alive` and their descendants; they are killed afterwards so that one finding
/// does not spoil the next round.
pub fn orphans_of(dir: &Path, alive: &[u32]) -> Vec<(u32, String)> {
    let deadline = Instant::now() + ORPHAN_GRACE;
    loop {
        let mut found = processes_naming(dir);
        found.retain(|(pid, _)| !descends_from(*pid, alive));
        if found.is_empty() || Instant::now() > deadline {
            for (pid, _) in &found {
                kill9(*pid, false);
            }
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The state directory's files that do not parse (`*.json`, each line of `*.jsonl`) and the
/// temporary files left in it.
pub fn check_files(dir: &Path) -> (Vec<String>, Vec<PathBuf>) {
    let mut corrupt = Vec::new();
    let mut temps = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&p) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                temps.push(path);
                continue;
            }
            if let Some(problem) = unparsable(&path) {
                corrupt.push(format!("{}: {problem}", path.display()));
            }
        }
    }
    (corrupt, temps)
}

fn unparsable(path: &Path) -> Option<String> {
    let ext = path.extension().and_then(|e| e.to_str())?;
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) => return Some(e.to_string()),
    };
    match ext {
        "json" => serde_json::from_slice::<Value>(&text)
            .err()
            .map(|e| e.to_string()),
        "jsonl" => String::from_utf8_lossy(&text)
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .find_map(|(i, l)| {
                serde_json::from_str::<Value>(l)
                    .err()
                    .map(|e| format!("line {}: {e}", i + 1))
            }),
        _ => None,
    }
}

/// The executions `mdlc executions list --json` shows for a state directory: (ARN, status).
fn listed_executions(mdlc: &Path, state_dir: &Path) -> Result<Vec<(String, String)>, String> {
    let out = Command::new(mdlc)
        .args(["executions", "--state-dir"])
        .arg(state_dir)
        .args(["--json", "list"])
        .output()
        .map_err(|e| format!("cannot run mdlc executions list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mdlc executions list failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("mdlc executions list --json is not JSON: {e}"))?;
    let items = doc
        .get("executions")
        .and_then(Value::as_array)
        .or_else(|| doc.as_array())
        .ok_or_else(|| format!("no executions array in {doc}"))?;
    Ok(items
        .iter()
        .map(|e| {
            let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (field("executionArn"), field("status"))
        })
        .collect())
}

/// The names of the executions a `mdlc` log (stderr with `RUST_LOG=mdlc::execution=info`)
/// says were started.
fn started_in_log(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter(|l| l.contains("execution started"))
        .filter_map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .map(str::to_string)
            };
            Some(format!(
                "{}:{}",
                field("state_machine=")?,
                field("execution=")?
            ))
        })
        .collect()
}

/// The SageMaker jobs of a state directory: (interrupted ones now `Failed`, ones still running).
fn job_states(state_dir: &Path) -> Result<(usize, Vec<String>), String> {
    let cloud = mdlc_local::LocalCloud::new(mdlc_local::LocalCloudConfig::new(state_dir))
        .map_err(|e| format!("the local cloud does not open after the kill: {e}"))?;
    let mut interrupted = 0;
    let mut running = Vec::new();
    for kind in [
        mdlc_emulator::JobKind::Training,
        mdlc_emulator::JobKind::Tuning,
        mdlc_emulator::JobKind::Processing,
        mdlc_emulator::JobKind::Transform,
    ] {
        let dir = state_dir.join("sagemaker").join(kind.dir_name());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let on_disk = std::fs::read(entry.path().join("describe.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            let Some(on_disk) = on_disk else { continue };
            let was = on_disk[kind.status_field()].as_str().unwrap_or("");
            let now = cloud
                .emulator()
                .describe(kind, &name)
                .map_err(|e| format!("describing {name}: {}", e.error))?;
            let status = now[kind.status_field()].as_str().unwrap_or("");
            if matches!(status, "InProgress" | "Stopping") {
                running.push(format!("{name} is still {status} after the restart"));
            } else if matches!(was, "InProgress" | "Stopping") {
                interrupted += 1;
            }
        }
    }
    Ok((interrupted, running))
}

/// One `mdlc demo` killed (its whole process group) after `after`, then checked; the next
/// `mdlc demo` on the same state directory must succeed.
pub fn demo_round(mdlc: &Path, work: &Path, after: Duration) -> Figures {
    let state = work.join(".mdlc");
    let log_path = work.join("demo.log");
    let mut figures = Figures {
        kills: 1,
        ..Figures::default()
    };
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut child = demo_command(mdlc, work, &state)
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", mdlc.display()));
    std::thread::sleep(after);
    kill9(child.id(), true);
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let started = started_in_log(&log);
    figures.executions_started = started.len();

    figures.note_orphans(orphans_of(work, &[]), &format!("demo killed at {after:?}"));
    figures.note_files(&state);
    count_lost_executions(mdlc, &state, &started, &mut figures);
    match job_states(&state) {
        Ok((interrupted, running)) => {
            figures.jobs_interrupted = interrupted;
            figures.jobs_left_running = running.len();
            figures.findings.extend(running);
        }
        Err(e) => {
            figures.next_runs_failed += 1;
            figures.findings.push(e);
        }
    }
    next_demo(mdlc, work, &state, &mut figures);
    figures
}

fn demo_command(mdlc: &Path, work: &Path, state: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(mdlc);
    cmd.arg("demo")
        .arg("--state-dir")
        .arg(state)
        .current_dir(work)
        .env("RUST_LOG", "mdlc::execution=info,warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .process_group(0);
    cmd
}

fn count_lost_executions(
    mdlc: &Path,
    state: &Path,
    started: &BTreeSet<String>,
    figures: &mut Figures,
) {
    let listed = match listed_executions(mdlc, state) {
        Ok(l) => l,
        Err(e) => {
            figures.executions_lost += started.len();
            figures.findings.push(e);
            return;
        }
    };
    for key in started {
        let suffix = format!(":execution:{key}");
        match listed.iter().find(|(arn, _)| arn.ends_with(&suffix)) {
            None => {
                figures.executions_lost += 1;
                figures
                    .findings
                    .push(format!("{key}: started, not listed after the kill"));
            }
            Some((_, status)) if status == "RUNNING" => {
                figures.executions_lost += 1;
                figures.findings.push(format!(
                    "{key}: listed as RUNNING though its process was killed"
                ));
            }
            Some(_) => {}
        }
    }
}

fn next_demo(mdlc: &Path, work: &Path, state: &Path, figures: &mut Figures) {
    let out = demo_command(mdlc, work, state)
        .stderr(Stdio::piped())
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            figures.next_runs_failed += 1;
            let err = String::from_utf8_lossy(&o.stderr);
            let tail: String = err.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
            figures
                .findings
                .push(format!("the next mdlc demo failed ({}): {tail}", o.status));
        }
        Err(e) => {
            figures.next_runs_failed += 1;
            figures
                .findings
                .push(format!("cannot run the next demo: {e}"));
        }
    }
    figures.note_orphans(orphans_of(work, &[]), "after the next demo");
}

/// How long the demo takes on this machine, from one whole run (kill moments are picked in it).
pub fn demo_duration(mdlc: &Path, work: &Path) -> Duration {
    std::fs::create_dir_all(work).expect("the calibration directory");
    let state = work.join(".mdlc");
    let started = Instant::now();
    let out = demo_command(mdlc, work, &state)
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run mdlc demo: {e}"));
    assert!(
        out.status.success(),
        "the calibration demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// The function the server's slow state machine calls: it sleeps far longer than a kill round,
/// so a `sleep` left behind by a killed server is still there to be counted.
pub const SLOW_FUNCTION: &str = "mdlc-fault-slow=sleep 600; cat";

fn machine_definitions() -> [(&'static str, Value); 2] {
    [
        (
            "fault-fast",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Result": {"ok": true}, "Next": "B"},
                "B": {"Type": "Pass", "End": true}
            }}),
        ),
        (
            "fault-slow",
            json!({"StartAt": "Work", "States": {
                "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": "mdlc-fault-slow", "Payload.$": "$"},
                         "End": true}
            }}),
        ),
    ]
}

/// `mdlc serve` under load from `clients` threads (each starting executions of a fast and a slow
/// state machine in turn), killed (`kill -9`) after `after`, restarted on the same state
/// directory and checked: every acknowledged execution is there and not RUNNING.
pub fn serve_round(work: &Path, clients: usize, after: Duration) -> Figures {
    let state = work.join("state");
    let mut figures = Figures {
        kills: 1,
        ..Figures::default()
    };
    let mut server = ServeProcess::start(&state, &["--function", SLOW_FUNCTION]);
    let mut machines = Vec::new();
    for (name, definition) in machine_definitions() {
        let created = server.api(
            "CreateStateMachine",
            &json!({"name": name, "definition": definition.to_string(),
                    "roleArn": "arn:aws:iam::123456789012:role/fault"}),
        );
        machines.push(
            created["stateMachineArn"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (acked, stop, machines) = (acked.clone(), stop.clone(), machines.clone());
            let client = server.client();
            std::thread::spawn(move || load(&client, c, &machines, &acked, &stop))
        })
        .collect();
    std::thread::sleep(after);
    kill9(server.pid(), false);
    server.wait();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    drop(server);
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    figures.executions_started = acked.len();

    figures.note_files(&state);
    let restarted = ServeProcess::start(&state, &["--function", SLOW_FUNCTION]);
    figures.note_orphans(
        orphans_of(&state, &[restarted.pid()]),
        &format!("server killed at {after:?}"),
    );
    for arn in &acked {
        match restarted.try_api("DescribeExecution", &json!({"executionArn": arn})) {
            Ok(a) if a.status == 200 => {
                let doc: Value = serde_json::from_str(&a.body).unwrap_or_default();
                if doc["status"] == "RUNNING" {
                    figures.executions_lost += 1;
                    figures
                        .findings
                        .push(format!("{arn}: RUNNING after the restart"));
                }
            }
            Ok(a) => {
                figures.executions_lost += 1;
                figures.findings.push(format!(
                    "{arn}: acknowledged, then DescribeExecution answered {}: {}",
                    a.status, a.body
                ));
            }
            Err(e) => {
                figures.next_runs_failed += 1;
                figures
                    .findings
                    .push(format!("the restarted server does not answer: {e}"));
                break;
            }
        }
    }
    // The restarted server works: a new execution of the fast machine succeeds.
    if !fast_execution_succeeds(&restarted, &machines[0]) {
        figures.next_runs_failed += 1;
        figures
            .findings
            .push("the restarted server did not run a new execution".into());
    }
    drop(restarted);
    figures.note_orphans(
        orphans_of(&state, &[]),
        "after the restarted server stopped",
    );
    figures
}

fn load(
    server: &Client,
    client: usize,
    machines: &[String],
    acked: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) {
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let machine = &machines[n % machines.len()];
        let body = json!({"stateMachineArn": machine, "name": format!("c{client}-{n}"),
                          "input": "{\"n\": 1}"});
        n += 1;
        match server.try_api("StartExecution", &body) {
            Ok(a) if a.status == 200 => {
                let doc: Value = serde_json::from_str(&a.body).unwrap_or_default();
                if let (Some(arn), Ok(mut acked)) = (doc["executionArn"].as_str(), acked.lock()) {
                    acked.push(arn.to_string());
                }
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return, // the server is gone
        }
    }
}

fn fast_execution_succeeds(server: &ServeProcess, machine: &str) -> bool {
    let Ok(a) = server.try_api(
        "StartExecution",
        &json!({"stateMachineArn": machine, "name": "after-restart"}),
    ) else {
        return false;
    };
    let doc: Value = serde_json::from_str(&a.body).unwrap_or_default();
    let Some(arn) = doc["executionArn"].as_str() else {
        return false;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(a) = server.try_api("DescribeExecution", &json!({"executionArn": arn})) {
            let doc: Value = serde_json::from_str(&a.body).unwrap_or_default();
            match doc["status"].as_str() {
                Some("SUCCEEDED") => return true,
                Some("RUNNING") => {}
                _ => return false,
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Runs `demo_kills` demo rounds and `serve_kills` server rounds with kill moments from `seed`,
/// in fresh directories under `work`; returns the summed figures.
pub fn run(mdlc: &Path, work: &Path, seed: u64, demo_kills: usize, serve_kills: usize) -> Figures {
    let mut moments = Moments::new(seed);
    let mut total = Figures::default();
    if demo_kills > 0 {
        let calibration = demo_duration(mdlc, &work.join("calibration"));
        for i in 0..demo_kills {
            let dir = work.join(format!("demo-{i}"));
            std::fs::create_dir_all(&dir).expect("a round directory");
            total.add(demo_round(mdlc, &dir, moments.pick(calibration)));
        }
    }
    for i in 0..serve_kills {
        let dir = work.join(format!("serve-{i}"));
        std::fs::create_dir_all(&dir).expect("a round directory");
        let after = Duration::from_millis(300) + moments.pick(Duration::from_secs(3));
        total.add(serve_round(&dir, 4, after));
    }
    total
}
