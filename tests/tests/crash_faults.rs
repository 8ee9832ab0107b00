//! Issue 19's fault-injection suite, short and seeded (src/fault.rs says what is checked):
//! `mdlc demo` killed with `kill -9` (its whole process group) at seeded moments of its life
//! cycle, and `mdlc serve` killed under load from four clients, each followed by a restart on the
//! same state directory. `make fault` runs more kills (`MDLC_FAULT_DEMO_KILLS`,
//! `MDLC_FAULT_SERVE_KILLS`, `MDLC_FAULT_SEED`) and writes the figures (`MDLC_FAULT_REPORT`) to
//! BENCHMARKS.md.

use mdlc_tests::fault::{self, Figures};
use mdlc_tests::{built_binary, ensure_trainer};

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}")),
        Err(_) => default,
    }
}

#[test]
#[ignore = "needs the mdlc and mdlc-trainer binaries (built on demand) and Linux /proc: run with --run-ignored all (make test)"]
fn killed_demo_and_server_lose_no_execution_leave_no_orphan_and_no_corrupt_file() {
    assert!(
        std::path::Path::new("/proc/self/environ").exists(),
        "the orphan count reads /proc"
    );
    ensure_trainer();
    let mdlc = built_binary("mdlc-cli", "mdlc")
        .unwrap_or_else(|e| panic!("the mdlc binary is needed by this test: {e}"));
    let seed = env_number("MDLC_FAULT_SEED", 19);
    let demo_kills = env_number("MDLC_FAULT_DEMO_KILLS", 3) as usize;
    let serve_kills = env_number("MDLC_FAULT_SERVE_KILLS", 3) as usize;
    let work = tempfile::tempdir().expect("a temporary directory");
    let figures: Figures = fault::run(&mdlc, work.path(), seed, demo_kills, serve_kills);
    eprintln!("fault injection (seed {seed}): {figures:#?}");
    if let Ok(path) = std::env::var("MDLC_FAULT_REPORT") {
        let json = serde_json::to_string_pretty(&figures).expect("figures as JSON");
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
    assert_eq!(figures.kills, demo_kills + serve_kills);
    assert!(
        figures.executions_started > 0,
        "no execution had started before any kill: the suite checked nothing"
    );
    assert!(
        figures.clean(),
        "invariants broken: {:#?}",
        figures.findings
    );
}
