//! Helpers of the tests that watch processes come and go (feature `testing`; never compiled
//! into a production binary): a bounded wait, and a pid a child wrote to a file.

use std::path::Path;
use std::time::{Duration, Instant};

/// Generous: processes end within milliseconds; a test that waits this long fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `done` every 20 ms; panics, naming `what`, when it is still false after [`DEADLINE`].
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !done() {
        assert!(
            Instant::now() < until,
            "{what}: not within {} s",
            DEADLINE.as_secs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid a process wrote to `path`, once it is there (see [`wait_for`]).
pub fn read_pid(path: &Path) -> u32 {
    let mut text = String::new();
    wait_for(&format!("{} written", path.display()), || {
        text = std::fs::read_to_string(path).unwrap_or_default();
        !text.trim().is_empty()
    });
    text.trim().parse().expect("a pid")
}
