//! No orphans (issue 19 item 1) through the emulator's own code path (`run_process`): a job's
//! process is in the pid book while it runs, dies with the emulator's process when that is
//! killed with SIGKILL, and what it left in its group is ended when the next emulator opens the
//! work directory. Linux only (parent-death signal, /proc).
#![cfg(target_os = "linux")]

mod common;

use common::*;
use mdlc_emulator::JobKind;
use mdlc_proc::testing::{read_pid, wait_for};
use mdlc_proc::{PidBook, stat};
use serde_json::json;

fn one_record(book: &PidBook) -> mdlc_proc::ChildRecord {
    let mut records = Vec::new();
    wait_for("the job's process recorded in the pid book", || {
        records = book.records().expect("read the pid book");
        !records.is_empty()
    });
    assert_eq!(records.len(), 1, "{records:?}");
    records.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_process_is_in_the_pid_book_while_it_runs_and_leaves_it_when_it_ends() {
    let env = setup();
    env.put_train_data().await;
    env.ok(
        "createTrainingJob",
        false,
        training_request("recorded", json!({"mode": "sleep"})),
    )
    .await;
    let book = PidBook::at(env.dir.path().join(PidBook::DIR));
    let record = one_record(&book);
    assert!(
        record.what.starts_with("training job recorded ("),
        "{}",
        record.what
    );
    assert_eq!(record.pgid, record.pid, "a process group of its own");
    assert_eq!(record.owner_pid, std::process::id());
    assert!(record.child_running());

    env.ok(
        "stopTrainingJob",
        false,
        json!({"TrainingJobName": "recorded"}),
    )
    .await;
    let d = env.emu.wait(JobKind::Training, "recorded").await.unwrap();

    assert_eq!(d["TrainingJobStatus"], "Stopped");
    assert!(book.records().unwrap().is_empty(), "the record was removed");
    wait_for("the job's process ended", || !record.child_running());
}

#[test]
fn a_jobs_process_dies_with_the_emulator_killed_by_sigkill_and_the_next_emulator_ends_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let work_dir = dir.path().join("sagemaker");
    let grandchild_file = dir.path().join("grandchild");
    let mut host = std::process::Command::new(fake_bin())
        .arg("host")
        .arg(&work_dir)
        .arg(&grandchild_file)
        .spawn()
        .expect("start mdlc-fake-container host");
    let book = PidBook::at(work_dir.join(PidBook::DIR));
    let record = one_record(&book);
    let grandchild = read_pid(&grandchild_file);
    let grandchild_start = stat::start_time(grandchild).expect("the grandchild runs");
    assert_eq!(record.owner_pid, host.id());
    assert!(
        record.what.starts_with("processing job left-behind ("),
        "{}",
        record.what
    );
    assert!(record.child_running());

    host.kill().expect("SIGKILL the emulator's process");
    host.wait().expect("reap it");
    wait_for("the job's process ended by its parent-death signal", || {
        !record.child_running()
    });
    assert_eq!(book.orphans().unwrap(), vec![record.clone()]);

    // The next emulator on this work directory sweeps the pid book.
    let _next = setup_with("", |c| {
        c.work_dir = work_dir.clone();
        c.pids = PidBook::at(work_dir.join(PidBook::DIR));
    });
    wait_for("the job's grandchild ended by the sweep", || {
        !stat::is_running(grandchild, grandchild_start)
    });
    assert!(book.records().unwrap().is_empty());
}
