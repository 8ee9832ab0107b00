//! `mdlc-proc-test-parent BOOK_DIR OUT_DIR`: the parent that `tests/orphans.rs` kills with
//! SIGKILL. It opens the pid book in BOOK_DIR and starts, through [`mdlc_proc::spawn`] on a Tokio
//! runtime as the local cloud does, `sh -c` that starts a `sleep` in the background (a
//! grandchild in the child's group, which the parent-death signal does not reach) and then
//! becomes a `sleep` itself. It writes the pids to `OUT_DIR/child` and `OUT_DIR/grandchild` and
//! waits to be killed (it gives up after ten minutes, so that a failed test leaves nothing).

use std::path::{Path, PathBuf};
use std::time::Duration;

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write the pid file");
    std::fs::rename(&tmp, path).expect("rename the pid file");
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [book_dir, out_dir] = args.as_slice() else {
        eprintln!("usage: mdlc-proc-test-parent BOOK_DIR OUT_DIR");
        std::process::exit(64);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let (book, _) = mdlc_proc::PidBook::open(book_dir).expect("open the pid book");
        let grandchild = out_dir.join("grandchild");
        // Spawned from a runtime task, that is from a worker thread, as the emulator does.
        let child = tokio::spawn(async move {
            let mut cmd = tokio::process::Command::new("sh");
            cmd.arg("-c")
                .arg(r#"sleep 1000 & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; exec sleep 1000"#)
                .arg("sh")
                .arg(&grandchild);
            mdlc_proc::spawn(&mut cmd, Some(&book), "test child").expect("spawn the child")
        })
        .await
        .expect("the spawning task");
        let (_child, guard) = child;
        let pid = guard.pid().expect("the child's pid");
        write_atomically(&out_dir.join("child"), &pid.to_string());
        tokio::time::sleep(Duration::from_secs(600)).await;
    });
}
