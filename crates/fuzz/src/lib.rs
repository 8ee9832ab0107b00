//! mdlc-fuzz: fuzzing on stable Rust with proptest generators and a runner of our own.
//!
//! Each target (a test in `tests/`) gives a generator and a property. The property runs on a
//! generated input and returns the *outcome* it saw (a short label such as `"succeeded"` or
//! `"invalid"`), or `Err` when the input broke a rule (an untyped error, a lost JSON pointer…).
//! A panic is a crash. The runner:
//!
//! * first replays every input of `regressions/<target>.jsonl` (crashes found earlier);
//! * then generates inputs: a fixed seed and `MDLC_FUZZ_CASES` cases (default 200) for the short
//!   pass of `make test`, or, when `MDLC_FUZZ_SECONDS` is set, a fresh seed (or
//!   `MDLC_FUZZ_SEED`) for that many seconds (`make fuzz`);
//! * shrinks every distinct crash (by panic location) with proptest's value trees, appends the
//!   smallest input to `regressions/<target>.jsonl`, and fails the test at the end listing them;
//! * stops the process, after saving the input, when one case runs longer than
//!   `MDLC_FUZZ_HANG_SECONDS` (default 20 s for `make fuzz`'s optimised build; 300 s for the short
//!   pass, a debug build on a loaded CI machine, where a legitimate case — a loop that runs to the
//!   25,000-event history limit — took over 20 s): a hang is a crash too;
//! * appends a Markdown table row (executions, executions per second, crashes, outcome shares)
//!   to the file named by `MDLC_FUZZ_REPORT`, for BENCHMARKS.md.

pub mod generators;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The seed of the short pass (`make test`).
pub const FIXED_SEED: u64 = 0x6d64_6c63_6675_7a7a;
const DEFAULT_CASES: u64 = 200;
const DEFAULT_HANG_SECONDS: u64 = 20;
/// The hang bound of the short pass of `make test` (debug build, loaded machine): a detector of
/// real hangs, not a measure of speed.
const SHORT_PASS_HANG_SECONDS: u64 = 300;
/// Shrinking steps per crash (each step runs the property once).
const MAX_SHRINK_STEPS: usize = 2_000;

/// What one run of a target saw.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub target: String,
    pub seed: u64,
    pub executions: u64,
    pub elapsed: Duration,
    /// Executions per outcome label.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Distinct crashes (new or replayed), each with its shrunk input.
    pub crashes: Vec<Crash>,
}

/// A panic or a broken property, with the smallest input found that shows it.
#[derive(Debug, Clone)]
pub struct Crash {
    pub message: String,
    pub input: String,
    /// True when the input came from the regression file (a known, still failing case).
    pub replayed: bool,
}

impl Stats {
    /// The share (0..=1) of executions whose outcome is one of `labels`.
    pub fn share(&self, labels: &[&str]) -> f64 {
        let n: u64 = labels
            .iter()
            .filter_map(|l| self.outcomes.get(l))
            .copied()
            .sum();
        n as f64 / self.executions.max(1) as f64
    }

    pub fn per_second(&self) -> f64 {
        self.executions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How a run is configured (from the environment).
#[derive(Debug, Clone)]
struct Plan {
    seed: u64,
    cases: Option<u64>,
    duration: Option<Duration>,
    hang: Duration,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Plan {
    fn from_env() -> Plan {
        let hang = |default: u64| {
            Duration::from_secs(env_u64("MDLC_FUZZ_HANG_SECONDS").unwrap_or(default))
        };
        match env_u64("MDLC_FUZZ_SECONDS").filter(|s| *s > 0) {
            Some(secs) => Plan {
                seed: env_u64("MDLC_FUZZ_SEED").unwrap_or_else(fresh_seed),
                cases: None,
                duration: Some(Duration::from_secs(secs)),
                hang: hang(DEFAULT_HANG_SECONDS),
            },
            None => Plan {
                seed: env_u64("MDLC_FUZZ_SEED").unwrap_or(FIXED_SEED),
                cases: Some(env_u64("MDLC_FUZZ_CASES").unwrap_or(DEFAULT_CASES)),
                duration: None,
                hang: hang(SHORT_PASS_HANG_SECONDS),
            },
        }
    }
}

fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

fn runner_for(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&seed.wrapping_add(i as u64).to_le_bytes());
    }
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// `regressions/<target>.jsonl` of this crate.
pub fn regression_file(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(format!("{target}.jsonl"))
}

fn read_regressions<T: DeserializeOwned>(target: &str) -> Vec<(String, T)> {
    let Ok(text) = std::fs::read_to_string(regression_file(target)) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .map(|l| {
            let v: T = serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("regressions/{target}.jsonl has a line that is not an input ({e}): {l}")
            });
            (l.to_string(), v)
        })
        .collect()
}

fn append_regression(target: &str, input: &str) {
    let path = regression_file(target);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let known = std::fs::read_to_string(&path).unwrap_or_default();
    if known.lines().any(|l| l == input) {
        return;
    }
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        Ok(mut f) => {
            let _ = writeln!(f, "{input}");
        }
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}

// ---------------------------------------------------------------------------------------------
// panics

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs (once per process) a panic hook that records the message and location of a panic
/// on this thread instead of printing it; other threads' panics are printed as usual.
fn quiet_panics() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(non-string panic payload)".into());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let recorded = LAST_PANIC.with(|p| {
                let mut p = p.borrow_mut();
                if p.is_none() {
                    *p = Some(format!("panic at {location}: {message}"));
                    true
                } else {
                    false
                }
            });
            if !recorded {
                default(info);
            }
        }));
    });
}

/// Runs the property once: `Ok(outcome)`, or `Err(description)` of a panic or broken rule.
fn run_case<T>(
    property: &impl Fn(&T) -> Result<&'static str, String>,
    input: &T,
) -> Result<&'static str, String> {
    LAST_PANIC.with(|p| p.borrow_mut().take());
    match catch_unwind(AssertUnwindSafe(|| property(input))) {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(broken)) => Err(format!("property broken: {broken}")),
        Err(_) => Err(LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panic".into())),
    }
}

/// The part of a failure that identifies it: the panic location, or the broken rule's first
/// words (messages carry input data).
fn crash_key(message: &str) -> String {
    match message.strip_prefix("panic at ") {
        Some(rest) => rest.split(": ").next().unwrap_or(rest).to_string(),
        None => message.chars().take(60).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// hang watchdog

struct Watch {
    target: String,
    current: Mutex<Option<(Instant, String)>>,
}

fn start_watchdog(target: &str, hang: Duration) -> Arc<Watch> {
    let watch = Arc::new(Watch {
        target: target.to_string(),
        current: Mutex::new(None),
    });
    let w = Arc::downgrade(&watch);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let Some(watch) = w.upgrade() else { return };
            let stuck = watch
                .current
                .lock()
                .ok()
                .and_then(|c| c.as_ref().filter(|(t, _)| t.elapsed() > hang).cloned());
            if let Some((_, input)) = stuck {
                eprintln!(
                    "fuzz target {}: one case ran longer than {} s (a hang); input saved to {}:\n{input}",
                    watch.target,
                    hang.as_secs(),
                    regression_file(&watch.target).display()
                );
                append_regression(&watch.target, &input);
                std::process::abort();
            }
        }
    });
    watch
}

// ---------------------------------------------------------------------------------------------
// the runner

/// Runs one fuzz target (see the crate documentation) and returns what it saw. Crashes do not
/// stop the run; call [`Stats::assert_no_crash`] at the end.
pub fn fuzz<T, S>(
    target: &str,
    strategy: S,
    property: impl Fn(&T) -> Result<&'static str, String>,
) -> Stats
where
    S: Strategy<Value = T>,
    T: Debug + Serialize + DeserializeOwned,
{
    quiet_panics();
    let plan = Plan::from_env();
    eprintln!(
        "fuzz target {target}: seed {} ({})",
        plan.seed,
        match (plan.duration, plan.cases) {
            (Some(d), _) => format!("{} s", d.as_secs()),
            (None, Some(n)) => format!("{n} cases"),
            (None, None) => String::new(),
        }
    );
    let watch = start_watchdog(target, plan.hang);
    let mut stats = Stats {
        target: target.to_string(),
        seed: plan.seed,
        ..Stats::default()
    };
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let run_watched = |input: &T, stats: &mut Stats| {
        let text = serde_json::to_string(input).unwrap_or_else(|e| format!("{input:?} ({e})"));
        if let Ok(mut c) = watch.current.lock() {
            *c = Some((Instant::now(), text));
        }
        let r = run_case(&property, input);
        if let Ok(mut c) = watch.current.lock() {
            *c = None;
        }
        stats.executions += 1;
        r
    };
    let started = Instant::now();
    for (line, input) in read_regressions::<T>(target) {
        match run_watched(&input, &mut stats) {
            Ok(outcome) => *stats.outcomes.entry(outcome).or_default() += 1,
            Err(message) => {
                seen.insert(crash_key(&message), ());
                stats.crashes.push(Crash {
                    message,
                    input: line,
                    replayed: true,
                });
            }
        }
    }
    let mut runner = runner_for(plan.seed);
    let mut generated = 0u64;
    loop {
        match (plan.duration, plan.cases) {
            (Some(d), _) if started.elapsed() >= d => break,
            (None, Some(n)) if generated >= n => break,
            _ => {}
        }
        generated += 1;
        let mut tree = match strategy.new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("fuzz target {target}: the generator gave up: {e}"),
        };
        let input = tree.current();
        match run_watched(&input, &mut stats) {
            Ok(outcome) => *stats.outcomes.entry(outcome).or_default() += 1,
            Err(message) => {
                let key = crash_key(&message);
                if seen.contains_key(&key) {
                    continue;
                }
                seen.insert(key.clone(), ());
                let (message, smallest) =
                    shrink(&mut tree, message, &key, |i| run_case(&property, i));
                let text = serde_json::to_string(&smallest)
                    .unwrap_or_else(|e| panic!("fuzz input of {target} is not JSON: {e}"));
                append_regression(target, &text);
                eprintln!("fuzz target {target}: CRASH {message}\n  input: {text}");
                stats.crashes.push(Crash {
                    message,
                    input: text,
                    replayed: false,
                });
            }
        }
    }
    stats.elapsed = started.elapsed();
    report(&stats);
    stats
}

/// Proptest's shrinking loop: simplify while the same failure remains, else complicate.
fn shrink<T, V: ValueTree<Value = T>>(
    tree: &mut V,
    mut message: String,
    key: &str,
    run: impl Fn(&T) -> Result<&'static str, String>,
) -> (String, T) {
    let mut best = tree.current();
    let mut steps = 0;
    if !tree.simplify() {
        return (message, best);
    }
    loop {
        steps += 1;
        if steps > MAX_SHRINK_STEPS {
            break;
        }
        let candidate = tree.current();
        let more = match run(&candidate) {
            Err(m) if crash_key(&m) == key => {
                message = m;
                best = candidate;
                tree.simplify()
            }
            _ => tree.complicate(),
        };
        if !more {
            break;
        }
    }
    (message, best)
}

/// Appends this run's row to `MDLC_FUZZ_REPORT` and prints a summary.
fn report(stats: &Stats) {
    let shares: Vec<String> = stats
        .outcomes
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} {:.0} %",
                100.0 * *v as f64 / stats.executions.max(1) as f64
            )
        })
        .collect();
    let new = stats.crashes.iter().filter(|c| !c.replayed).count();
    let replayed = stats.crashes.len() - new;
    eprintln!(
        "fuzz target {}: {} executions in {:.1} s ({:.0}/s), {} new crashes, {} known crashes still failing; {}",
        stats.target,
        stats.executions,
        stats.elapsed.as_secs_f64(),
        stats.per_second(),
        new,
        replayed,
        shares.join(", ")
    );
    if let Some(path) = std::env::var_os("MDLC_FUZZ_REPORT") {
        let row = format!(
            "| {} | {:.0} | {} | {:.0} | {} | {} | {} |\n",
            stats.target,
            stats.elapsed.as_secs_f64(),
            stats.executions,
            stats.per_second(),
            new,
            replayed,
            shares.join(", ")
        );
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(row.as_bytes());
        }
    }
}

impl Stats {
    /// Fails (listing every crash with its input) when the run found or replayed a crash.
    pub fn assert_no_crash(&self) {
        if self.crashes.is_empty() {
            return;
        }
        let list: Vec<String> = self
            .crashes
            .iter()
            .map(|c| {
                format!(
                    "{}{}\n    input: {}",
                    if c.replayed { "[regression] " } else { "" },
                    c.message,
                    c.input
                )
            })
            .collect();
        panic!(
            "fuzz target {}: {} crashes (inputs are in {}):\n  {}",
            self.target,
            self.crashes.len(),
            regression_file(&self.target).display(),
            list.join("\n  ")
        );
    }

    /// Asserts that at least `min` of the executions ended in one of `labels` (the generator
    /// reaches the code it is meant to reach).
    pub fn assert_share(&self, labels: &[&str], min: f64) {
        let share = self.share(labels);
        assert!(
            share >= min,
            "fuzz target {}: only {:.1} % of {} executions were {labels:?} (at least {:.0} % expected): {:?}",
            self.target,
            100.0 * share,
            self.executions,
            100.0 * min,
            self.outcomes
        );
    }
}

/// Runs a future to its end on a single-threaded Tokio runtime (one per thread, reused).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    thread_local! {
        static RT: tokio_rt::Runtime = tokio_rt::runtime();
    }
    RT.with(|rt| rt.block_on(f))
}

mod tokio_rt {
    pub use tokio::runtime::Runtime;

    pub fn runtime() -> Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("cannot start a Tokio runtime: {e}"))
    }
}
