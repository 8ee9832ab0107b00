//! No orphans (issue 19 item 1): a child started by `mdlc_proc::spawn` dies with its parent,
//! and the sweep of the pid book ends what a dead parent left — by group, never a reused pid,
//! never a running owner's child. Linux only (parent-death signal, /proc).
#![cfg(target_os = "linux")]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

use mdlc_proc::stat;
use mdlc_proc::testing::{DEADLINE, read_pid, wait_for};
use mdlc_proc::{ChildRecord, PidBook};

/// Ends a group when a test fails half-way, so that its sleeps do not linger.
struct KillGroupOnDrop(u32);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        let _ = mdlc_proc::signal::signal_group(self.0, mdlc_proc::Signal::Kill);
    }
}

/// `sh -c 'sleep 1000 & echo $!; exec sleep 1000'` in a group of its own, started without a
/// parent-death signal: the child (a `sleep` leading the group) and the grandchild's pid.
fn group_of_two(dir: &Path) -> (Child, u32, KillGroupOnDrop) {
    let file = dir.join("grandchild");
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"sleep 1000 & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; exec sleep 1000"#)
        .arg("sh")
        .arg(&file)
        .process_group(0)
        .spawn()
        .expect("start sh");
    let guard = KillGroupOnDrop(child.id());
    let grandchild = read_pid(&file);
    (child, grandchild, guard)
}

/// A process that has ended: its pid and the start time it had.
fn dead_owner() -> (u32, u64) {
    let mut p = Command::new("sleep")
        .arg("1000")
        .spawn()
        .expect("start sleep");
    let pid = p.id();
    let start = stat::start_time(pid).expect("the start time of a running sleep");
    p.kill().expect("kill");
    p.wait().expect("wait");
    (pid, start)
}

fn running_start(pid: u32) -> u64 {
    stat::start_time(pid).unwrap_or_else(|| panic!("pid {pid} does not run"))
}

fn record_of(pid: u32, owner: (u32, u64), what: &str) -> ChildRecord {
    ChildRecord {
        pid,
        pgid: pid,
        start_time: running_start(pid),
        owner_pid: owner.0,
        owner_start_time: owner.1,
        what: what.into(),
    }
}

#[test]
fn a_child_dies_when_its_parent_is_killed_with_sigkill_and_the_sweep_ends_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let book_dir = dir.path().join(PidBook::DIR);
    let mut parent = Command::new(env!("CARGO_BIN_EXE_mdlc-proc-test-parent"))
        .arg(&book_dir)
        .arg(dir.path())
        .spawn()
        .expect("start mdlc-proc-test-parent");
    let child = read_pid(&dir.path().join("child"));
    let _cleanup = KillGroupOnDrop(child);
    let grandchild = read_pid(&dir.path().join("grandchild"));
    let (child_start, grandchild_start) = (running_start(child), running_start(grandchild));

    let book = PidBook::at(&book_dir);
    let records = book.records().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        (records[0].pid, records[0].pgid, records[0].start_time),
        (child, child, child_start)
    );
    assert_eq!(records[0].owner_pid, parent.id());
    assert_eq!(records[0].what, "test child");
    assert!(book.orphans().unwrap().is_empty(), "the parent still runs");

    parent.kill().expect("SIGKILL the parent");
    parent.wait().expect("reap the parent");
    wait_for("the child ended by its parent-death signal", || {
        !stat::is_running(child, child_start)
    });

    // The signal reaches the child only; what it started in its group is the sweep's.
    let orphans = book.orphans().unwrap();
    assert_eq!(orphans.len(), 1, "the grandchild's group is an orphan");
    let (_, sweep) = PidBook::open(&book_dir).unwrap();
    assert_eq!(sweep.killed, orphans);
    wait_for("the grandchild ended by the sweep", || {
        !stat::is_running(grandchild, grandchild_start)
    });
    assert!(book.records().unwrap().is_empty());
    assert!(book.orphans().unwrap().is_empty());
}

#[test]
fn the_sweep_kills_the_group_of_a_child_whose_owner_is_gone_and_removes_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, grandchild, _cleanup) = group_of_two(dir.path());
    let (child_start, grandchild_start) = (running_start(child.id()), running_start(grandchild));
    let book_dir = dir.path().join(PidBook::DIR);
    let record = record_of(child.id(), dead_owner(), "training job crashed");
    PidBook::at(&book_dir).insert(&record).unwrap();

    let (book, sweep) = PidBook::open(&book_dir).unwrap();

    assert_eq!(sweep.killed, vec![record]);
    child.wait().expect("reap the child");
    assert!(!stat::is_running(child.id(), child_start));
    wait_for("the grandchild ended by the sweep", || {
        !stat::is_running(grandchild, grandchild_start)
    });
    assert!(book.records().unwrap().is_empty());
}

#[test]
fn a_reused_pid_is_not_killed_by_the_sweep_and_its_record_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _, _cleanup) = group_of_two(dir.path());
    let book_dir = dir.path().join(PidBook::DIR);
    let mut record = record_of(child.id(), dead_owner(), "function earlier");
    // The recorded child started at another time: this pid is another process now.
    record.start_time += 1;
    PidBook::at(&book_dir).insert(&record).unwrap();

    let (book, sweep) = PidBook::open(&book_dir).unwrap();

    assert_eq!(sweep.ended, vec![record]);
    assert!(sweep.killed.is_empty());
    assert!(book.records().unwrap().is_empty());
    assert_eq!(
        child.try_wait().expect("try_wait"),
        None,
        "the process holding the reused pid was killed"
    );
}

#[test]
fn the_children_of_a_running_owner_are_left_alone_by_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _, _cleanup) = group_of_two(dir.path());
    let book_dir = dir.path().join(PidBook::DIR);
    // This test process is the owner, and it runs.
    let owner = (std::process::id(), stat::own_start_time());
    let record = record_of(child.id(), owner, "transform job live");
    PidBook::at(&book_dir).insert(&record).unwrap();

    let (book, sweep) = PidBook::open(&book_dir).unwrap();

    assert_eq!(sweep.kept, vec![record.clone()]);
    assert_eq!(book.records().unwrap(), vec![record]);
    assert!(book.orphans().unwrap().is_empty());
    assert_eq!(child.try_wait().expect("try_wait"), None, "killed");
}

#[tokio::test]
async fn a_dropped_guard_ends_the_childs_group_and_removes_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let (book, _) = PidBook::open(dir.path().join(PidBook::DIR)).unwrap();
    let file = dir.path().join("grandchild");
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(r#"sleep 1000 & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; exec sleep 1000"#)
        .arg("sh")
        .arg(&file);
    let (mut child, guard) = mdlc_proc::spawn(&mut cmd, Some(&book), "function f").unwrap();
    let pid = guard.pid().expect("pid");
    let grandchild = read_pid(&file);
    let grandchild_start = running_start(grandchild);
    assert_eq!(book.records().unwrap().len(), 1);
    assert_eq!(guard.record().map(|r| r.pgid), Some(pid), "its own group");

    drop(guard);

    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("the child ended within the deadline")
        .expect("wait");
    assert!(!status.success());
    wait_for("the grandchild ended with the group", || {
        !stat::is_running(grandchild, grandchild_start)
    });
    assert!(book.records().unwrap().is_empty());
}

#[tokio::test]
async fn a_child_that_cannot_be_recorded_is_ended_and_the_error_names_the_book() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("pids");
    std::fs::write(&not_a_dir, "a file, not the book's directory").unwrap();
    let book = PidBook::at(&not_a_dir);
    let mut cmd = tokio::process::Command::new("sleep");
    cmd.arg("1000");

    let e = mdlc_proc::spawn(&mut cmd, Some(&book), "training job t").unwrap_err();

    let mdlc_proc::SpawnError::Record { pid, .. } = &e else {
        panic!("not a record error: {e}");
    };
    assert!(
        e.to_string().contains(&not_a_dir.display().to_string()),
        "{e}"
    );
    wait_for("the unrecorded child ended", || {
        stat::start_time(*pid).is_none()
    });
}

/// `sleep 1000` tagged with `book` and `owner` as `mdlc_proc::spawn` tags its children, but with
/// no record: a child started just before its owner was killed.
fn tagged_sleep(book: &PidBook, owner: (u32, u64)) -> (Child, KillGroupOnDrop) {
    let child = Command::new("sleep")
        .arg("1000")
        .env(mdlc_proc::book::BOOK_ENV, book.tag())
        .env(
            mdlc_proc::book::OWNER_ENV,
            format!("{}:{}", owner.0, owner.1),
        )
        .process_group(0)
        .spawn()
        .expect("start sleep");
    let guard = KillGroupOnDrop(child.id());
    (child, guard)
}

#[test]
fn the_sweep_ends_an_unrecorded_child_of_a_dead_owner_by_its_tag_and_spares_a_live_owners() {
    let dir = tempfile::tempdir().unwrap();
    let book = PidBook::at(dir.path().join("pids"));
    std::fs::create_dir_all(book.dir()).unwrap();
    let (mut orphan, _g1) = tagged_sleep(&book, dead_owner());
    let me = (std::process::id(), stat::own_start_time());
    let (mut kept, _g2) = tagged_sleep(&book, me);
    let other_book = PidBook::at(dir.path().join("other"));
    std::fs::create_dir_all(other_book.dir()).unwrap();
    let (mut elsewhere, _g3) = tagged_sleep(&other_book, dead_owner());
    // the children have exec'd (their environment is the tagged one) before the sweep looks
    for c in [&orphan, &kept, &elsewhere] {
        let pid = c.id();
        wait_for("the tagged child to exec", || {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|e| String::from_utf8_lossy(&e).contains("MDLC_PID_OWNER="))
        });
    }

    let (_, sweep) = PidBook::open(book.dir()).unwrap();
    let killed: Vec<u32> = sweep.killed.iter().map(|r| r.pid).collect();
    assert_eq!(killed, vec![orphan.id()]);
    assert_eq!(sweep.killed[0].what, "an unrecorded child");
    let status = orphan.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert_eq!(
        kept.try_wait().unwrap(),
        None,
        "a live owner's child runs on"
    );
    assert_eq!(
        elsewhere.try_wait().unwrap(),
        None,
        "another book's child runs on"
    );
}

#[test]
fn spawn_tags_its_child_and_what_the_child_starts_with_the_book_and_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let (book, _) = PidBook::open(dir.path().join("pids")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(r#"sh -c 'echo "$MDLC_PID_BOOK|$MDLC_PID_OWNER"'"#)
            .stdout(std::process::Stdio::piped());
        let (child, guard) = mdlc_proc::spawn(&mut cmd, Some(&book), "tag test").unwrap();
        let out = child.wait_with_output().await.unwrap();
        drop(guard);
        String::from_utf8(out.stdout).unwrap()
    });
    assert_eq!(
        out.trim(),
        format!(
            "{}|{}:{}",
            book.tag(),
            std::process::id(),
            stat::own_start_time()
        )
    );
}
