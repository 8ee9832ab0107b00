//! Headless Chromium for the browser tests (the report, `mdlc serve`'s dashboard): Debian's
//! `chromium --headless --no-sandbox`, a page loaded with `--dump-dom` after a virtual time
//! budget, and every console message and uncaught error of the page from chromium's log.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a test says when chromium is missing.
pub const MISSING_CHROMIUM: &str = "this test needs Debian's chromium package on PATH: `make test` installs it (scripts/tools.sh test runs `apt-get install -y chromium` when it runs as root); otherwise install it with `sudo apt-get install chromium`";

/// A hang guard for the browser, not a performance bound.
pub const CHROMIUM_LIMIT: Duration = Duration::from_secs(180);

/// What one headless load of a page gave.
pub struct Dumped {
    /// The DOM once the virtual time budget was spent (`--dump-dom`).
    pub dom: String,
    /// `CONSOLE` lines of chromium's log: every console message and uncaught error of the page
    /// (and a resource that failed to load).
    pub console: Vec<String>,
    /// The whole log, for failure messages.
    pub log: String,
}

/// Panics with [`MISSING_CHROMIUM`] unless `chromium --version` runs.
pub fn require_chromium() {
    match Command::new("chromium").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{MISSING_CHROMIUM} (chromium --version failed: {})",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("{MISSING_CHROMIUM} ({e})"),
    }
}

/// Loads `url` in headless chromium, lets `virtual_ms` of virtual time pass (timers fire, the
/// page's requests are answered meanwhile) and dumps the DOM; chromium's output goes to files in
/// `work`. Panics if chromium fails or hangs.
pub fn dump_dom(url: &str, virtual_ms: u64, work: &Path) -> Dumped {
    let (out_path, err_path) = (work.join("dom.html"), work.join("chromium.log"));
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,2000",
            "--dump-dom",
        ])
        .arg(format!("--virtual-time-budget={virtual_ms}"))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{MISSING_CHROMIUM} ({e})"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHROMIUM_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let dom = std::fs::read_to_string(&out_path).unwrap();
    let log = std::fs::read_to_string(&err_path).unwrap();
    assert!(status.success(), "chromium exited with {status}:\n{log}");
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Dumped { dom, console, log }
}
