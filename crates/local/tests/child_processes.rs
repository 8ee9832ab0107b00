//! No orphans (issue 19 item 1) for `--function NAME=COMMAND` Lambdas: the command's process
//! is in the state directory's pid book while it runs, and nothing of its process group (what
//! `sh -c` started in the background) outlives the invocation, whether it returns or times
//! out. Linux only (/proc).
#![cfg(target_os = "linux")]

use std::path::Path;

use mdlc_asl::{TaskInvoker, TaskRequest};
use mdlc_local::{LocalCloud, LocalCloudConfig};
use mdlc_proc::testing::{DEADLINE, read_pid, wait_for};
use mdlc_proc::{PidBook, stat};
use serde_json::json;

/// A local cloud whose function `f` runs `command`.
fn cloud(state_dir: &Path, command: String) -> LocalCloud {
    let mut config = LocalCloudConfig::new(state_dir);
    config.project_state_machines = false;
    config.commands = vec![("f".into(), command)];
    LocalCloud::new(config).expect("local cloud")
}

fn request(timeout_seconds: u64) -> TaskRequest {
    TaskRequest {
        resource: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
        parameters: json!({}),
        context: json!({}),
        state_name: "F".into(),
        state_machine_name: "m".into(),
        timeout_seconds: Some(timeout_seconds),
        heartbeat_seconds: None,
        submission: mdlc_asl::Submission::none(),
    }
}

/// `sleep 1000 &` (its pid to `grandchild`; its output away from the function's pipes, which
/// the invocation reads to their end), then what `rest` does.
fn command(grandchild: &Path, rest: &str) -> String {
    let g = grandchild.display();
    format!(r#"sleep 1000 >/dev/null 2>&1 & echo $! > "{g}.tmp" && mv "{g}.tmp" "{g}"; {rest}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_command_is_recorded_while_it_runs_and_its_background_process_ends_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join(".mdlc");
    let grandchild_file = dir.path().join("grandchild");
    let release = dir.path().join("release");
    let rest = format!(
        r#"while [ ! -e "{}" ]; do sleep 0.05; done; echo '{{"ok": true}}'"#,
        release.display()
    );
    let cloud = cloud(&state_dir, command(&grandchild_file, &rest));
    let invoker = cloud.invoker().clone();
    let invocation = tokio::spawn(async move { invoker.invoke(request(600)).await });

    let grandchild = read_pid(&grandchild_file);
    let grandchild_start = stat::start_time(grandchild).expect("the background sleep runs");
    let book = PidBook::at(state_dir.join(PidBook::DIR));
    let records = book.records().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].what, "function f");
    assert_eq!(
        records[0].pgid, records[0].pid,
        "a process group of its own"
    );
    assert_eq!(records[0].owner_pid, std::process::id());
    std::fs::write(&release, "").unwrap();

    let result = tokio::time::timeout(DEADLINE, invocation)
        .await
        .expect("the function returned within the deadline")
        .expect("the invocation task");

    assert_eq!(result.expect("the function's result"), json!({"ok": true}));
    assert!(book.records().unwrap().is_empty(), "the record was removed");
    wait_for("the function's background sleep ended", || {
        !stat::is_running(grandchild, grandchild_start)
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_command_that_times_out_leaves_no_process_and_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join(".mdlc");
    let grandchild_file = dir.path().join("grandchild");
    let cloud = cloud(&state_dir, command(&grandchild_file, "exec sleep 1000"));

    let failure = cloud
        .invoker()
        .invoke(request(1))
        .await
        .expect_err("the function times out");

    assert_eq!(failure.error, "Sandbox.Timedout");
    let grandchild = read_pid(&grandchild_file);
    wait_for("the function's background sleep ended", || {
        stat::start_time(grandchild).is_none()
    });
    let book = PidBook::at(state_dir.join(PidBook::DIR));
    assert!(book.records().unwrap().is_empty(), "{:?}", book.records());
}

#[test]
fn opening_the_local_cloud_kills_what_a_crashed_run_left_in_its_state_directory() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join(".mdlc");
    // What a run killed with SIGKILL leaves: a process group whose owner is gone.
    let grandchild_file = dir.path().join("grandchild");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command(&grandchild_file, "exec sleep 1000"))
        .process_group(0)
        .spawn()
        .expect("start sh");
    let grandchild = read_pid(&grandchild_file);
    let grandchild_start = stat::start_time(grandchild).expect("the background sleep runs");
    let mut owner = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let owner_start = stat::start_time(owner.id()).unwrap();
    owner.kill().unwrap();
    owner.wait().unwrap();
    let record = mdlc_proc::ChildRecord {
        pid: child.id(),
        pgid: child.id(),
        start_time: stat::start_time(child.id()).expect("the child runs"),
        owner_pid: owner.id(),
        owner_start_time: owner_start,
        what: "function f".into(),
    };
    let book = PidBook::at(state_dir.join(PidBook::DIR));
    book.insert(&record).unwrap();

    let _cloud = cloud(&state_dir, "true".into());

    let mut status = None;
    wait_for("the left-behind child ended", || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    assert!(!status.unwrap().success(), "killed: {status:?}");
    wait_for("the left-behind background sleep ended", || {
        !stat::is_running(grandchild, grandchild_start)
    });
    assert!(book.records().unwrap().is_empty());
}
