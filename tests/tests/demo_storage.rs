//! The state directory after the demo's whole life cycle on a user's data set, measured against
//! the data: every ended SageMaker job keeps only its log, description and owner record (no
//! channel copies, no unpacked models), and the directory as a whole stays within 3 times the
//! data (issue 17's target). The figures are printed (`--nocapture`), by top-level directory.
//!
//! What the object store keeps, each once: the first training flow's train and validation
//! channels as the data set gave them (its processing job only profiles them, `split: false`),
//! the drifted date's newer raw rows and the retrain's split of them, the evaluation batches'
//! features and labels and the labelled copies of the batches monitor-performance writes for a
//! possible retrain, and the model artifacts. Of these the models and the execution records do
//! not grow with the data, so the data set is 50,000 rows and the tuning runs 4 jobs of 30
//! rounds a flow: at 20,000 rows, 16 jobs of 60 rounds, the models alone were 0.4 times the data.

use std::path::Path;

use mdlc_local::demo::{DemoOptions, Problem, run_demo};
use mdlc_tests::ensure_trainer;

/// Bytes of the regular files under `path` (links are not followed: a link costs nothing).
fn bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| bytes(&e.path())).sum())
            .unwrap_or(0)
    } else if meta.is_file() {
        meta.len()
    } else {
        0
    }
}

/// Every file under `path`.
fn walk(path: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_demo_the_state_directory_holds_no_job_scratch_and_stays_within_3_times_the_data()
{
    ensure_trainer();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = mdlc_trainer::data::GenerateConfig::new(Problem::Regression, 50_000, 20, 17);
    cfg.validation_rows = Some(12_500);
    cfg.holdout_rows = Some(12_500);
    let data = mdlc_trainer::data::generate(&cfg).unwrap();
    let user = dir.path().join("data");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("train.csv"), data.train.to_csv()).unwrap();
    std::fs::write(user.join("validation.csv"), data.validation.to_csv()).unwrap();
    std::fs::write(user.join("holdout.csv"), data.holdout.to_csv()).unwrap();
    let data_bytes = bytes(&user);

    let state = dir.path().join(".mdlc");
    let mut opts = DemoOptions::new(&state);
    opts.dataset = Some(user);
    opts.problem = Problem::Regression;
    opts.real_time = false;
    opts.max_jobs = 4;
    opts.num_round = 30;
    run_demo(&opts, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e}"));

    // Every job directory keeps only what SageMaker keeps of a job.
    let jobs = state.join("sagemaker");
    let mut n_jobs = 0;
    for kind in std::fs::read_dir(&jobs).unwrap().flatten() {
        if !kind.file_name().to_string_lossy().ends_with("-jobs") {
            continue;
        }
        for job in std::fs::read_dir(kind.path()).unwrap().flatten() {
            n_jobs += 1;
            for entry in std::fs::read_dir(job.path()).unwrap().flatten() {
                let name = entry.file_name().into_string().unwrap();
                assert!(
                    mdlc_emulator::scratch::KEPT.contains(&name.as_str()),
                    "{} is left of an ended job",
                    entry.path().display()
                );
            }
        }
    }
    assert!(n_jobs >= 8, "the demo ran its jobs ({n_jobs})");

    let total = bytes(&state);
    let mut parts: Vec<(String, u64)> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                bytes(&e.path()),
            )
        })
        .collect();
    parts.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
    let ratio = total as f64 / data_bytes as f64;
    println!("data: {data_bytes} bytes; state directory: {total} bytes, {ratio:.2} times the data");
    for (name, b) in &parts {
        println!(
            "  {name}: {b} bytes ({:.2} times the data)",
            *b as f64 / data_bytes as f64
        );
    }
    let outside_store = total - bytes(&state.join("s3"));
    assert!(
        (outside_store as f64) < 0.5 * data_bytes as f64,
        "the state directory outside the object store holds {outside_store} bytes for {data_bytes} of data"
    );
    // The first flow's channels are the data set's rows stored once: no preprocessing split
    // of them beside them.
    let first = state.join("s3/mdlc-artifacts/datasets/demo-model/2026-01-01");
    assert!(first.join("train/train.csv").is_file() && !first.join("raw").exists());
    let split_outputs: Vec<_> = walk(&state.join("s3"))
        .into_iter()
        .filter(|p| p.ends_with("preprocessing/train/train.csv"))
        .collect();
    assert_eq!(
        split_outputs.len(),
        1,
        "only the retrain splits: {split_outputs:?}"
    );
    assert!(ratio <= 3.0, "state directory {ratio:.2} times the data");
}
