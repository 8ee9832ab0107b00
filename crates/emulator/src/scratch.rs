//! A job's scratch space, released when the job ends, as an instance's storage is.
//!
//! While a job runs, its directory holds what SageMaker's instance would: the input channels
//! (copied in File mode, linked in FastFile mode), `input/config/*`, the model and output
//! directories the program writes, a transform's unpacked model, a processing job's inputs and
//! outputs. SageMaker keeps none of that after the job: what stays is in the object store (model
//! artifacts, outputs), in CloudWatch Logs (the log) and in the job's description. So once a job
//! has ended (any terminal status) its directory keeps only [`KEPT`]: the log (`algo-1.log`),
//! the Describe* document (`describe.json`) and the owner record (`.owner.json`).

use std::path::{Path, PathBuf};

use thiserror::Error;

/// What a job directory keeps after the job ended.
pub const KEPT: [&str; 3] = ["algo-1.log", "describe.json", ".owner.json"];

/// A part of a job's scratch space that could not be removed.
#[derive(Debug, Error)]
#[error("could not remove {path} (scratch space of the ended job in {dir}): {source}")]
pub struct ScratchError {
    pub dir: PathBuf,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Removes everything in `dir` but [`KEPT`]. Symbolic links (FastFile channels, `rw` file
/// system channels) are removed, never followed: what they point to stays. Read-only
/// directories (FastFile channels) are made writable first. A missing `dir` is no error.
pub fn release(dir: &Path) -> Result<(), ScratchError> {
    let err = |path: &Path, source| ScratchError {
        dir: dir.to_path_buf(),
        path: path.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| err(dir, e))?;
        if KEPT.iter().any(|k| entry.file_name() == *k) {
            continue;
        }
        let path = entry.path();
        remove_entry(&path).map_err(|e| err(&path, e))?;
    }
    Ok(())
}

fn remove_entry(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    if std::fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_writable(path)?;
    std::fs::remove_dir_all(path)
}

/// Gives the owner write access to `dir` and every directory under it (not following links).
fn make_writable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let mut perms = meta.permissions();
    perms.set_mode(perms.mode() | 0o700);
    std::fs::set_permissions(dir, perms)?;
    for entry in std::fs::read_dir(dir)? {
        make_writable(&entry?.path())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_keeps_the_log_and_description_and_leaves_link_targets_alone() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("store/object.csv");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, b"1,2\n").unwrap();
        let job = root.path().join("job");
        for d in ["input/data/train", "model", "output/data"] {
            std::fs::create_dir_all(job.join(d)).unwrap();
        }
        for f in KEPT {
            std::fs::write(job.join(f), b"{}").unwrap();
        }
        std::fs::write(job.join("model/model.json"), b"{}").unwrap();
        std::os::unix::fs::symlink(&target, job.join("input/data/train/object.csv")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            job.join("input/data/train"),
            std::fs::Permissions::from_mode(0o555),
        )
        .unwrap();

        release(&job).unwrap();

        let mut left: Vec<String> = std::fs::read_dir(&job)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec![".owner.json", "algo-1.log", "describe.json"]);
        assert_eq!(std::fs::read(&target).unwrap(), b"1,2\n");
        assert!(release(&root.path().join("missing")).is_ok());
    }
}
