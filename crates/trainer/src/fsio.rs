//! Replacing a file so that a reader sees either the old file or the whole new one: the one
//! implementation of the workspace (the trainer's outputs, the emulator's job documents, the
//! local cloud's object store, registry and queues, the Step Functions server's records).
//!
//! A write goes to a temp file on the same file system, is synced and renamed over the target;
//! when any step fails (a full disk: `No space left on device (os error 28)`) the temp file is
//! removed, the target keeps its old content, and the error is a [`WriteError`] naming the step,
//! the path and the OS error. Callers add what the file is (an object, a registry record, a job
//! output) with [`Written`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file that could not be written: which step failed on which path, and the OS error (kept
/// whole as the source, so `No space left on device (os error 28)` shows and
/// [`WriteError::is_storage_full`] can tell a full disk).
#[derive(Debug, thiserror::Error)]
#[error("{step} {}: {source}", .path.display())]
pub struct WriteError {
    /// `creating`, `writing`, `syncing` or `renaming into`.
    pub step: &'static str,
    /// The temp file (or, for `renaming into`, the target).
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl WriteError {
    /// A failure of `step` on `path`.
    pub fn new(step: &'static str, path: &Path, source: std::io::Error) -> Self {
        WriteError {
            step,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The OS error's kind.
    pub fn kind(&self) -> std::io::ErrorKind {
        self.source.kind()
    }

    /// Whether the file system is full (`ENOSPC`) or the quota is exhausted (`EDQUOT`).
    pub fn is_storage_full(&self) -> bool {
        matches!(
            self.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    }
}

impl From<WriteError> for std::io::Error {
    fn from(e: WriteError) -> Self {
        std::io::Error::new(e.kind(), e.to_string())
    }
}

/// A [`WriteError`] with what was being written: `s3://bucket/key`, `model m version 3`, a job's
/// output. Shown as `could not write <what>: <step> <path>: <OS error>`.
#[derive(Debug, thiserror::Error)]
#[error("could not write {what}: {error}")]
pub struct Written {
    pub what: String,
    #[source]
    pub error: WriteError,
}

impl Written {
    pub fn new(what: impl Into<String>, error: WriteError) -> Self {
        Written {
            what: what.into(),
            error,
        }
    }

    /// Whether the file system is full ([`WriteError::is_storage_full`]).
    pub fn is_storage_full(&self) -> bool {
        self.error.is_storage_full()
    }
}

/// Writes `bytes` to `tmp`, syncs it and renames it over `path` (`tmp` must be on the same file
/// system); `tmp` is removed when any step fails, so a full disk leaves nothing behind.
pub fn replace_file(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    replace_file_with(tmp, path, |file| file.write_all(bytes))
}

/// [`replace_file`] with the temp file's content written by `fill` (a stream, a tar archive): a
/// failure of `fill` is the `writing` step.
pub fn replace_file_with(
    tmp: &Path,
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let result = (|| {
        let mut file =
            std::fs::File::create(tmp).map_err(|e| WriteError::new("creating", tmp, e))?;
        fill(&mut file).map_err(|e| WriteError::new("writing", tmp, e))?;
        file.sync_all()
            .map_err(|e| WriteError::new("syncing", tmp, e))?;
        drop(file);
        std::fs::rename(tmp, path).map_err(|e| WriteError::new("renaming into", path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// The hidden sibling of `path` unique to this process and call (`.<name>.tmp-<pid>-<n>`) that
/// [`write_atomically`] writes through, so that two threads replacing one file never share a
/// temp file.
pub fn temp_sibling(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// [`replace_file`] through [`temp_sibling`]`(path)`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    replace_file(&temp_sibling(path), path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_has_the_new_bytes_and_a_failed_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(&path, b"old").unwrap();
        let tmp = dir.path().join("f.json.tmp");
        replace_file(&tmp, &path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!tmp.exists());
        // renaming over a directory fails: the old content stays and the temp file goes
        let blocked = dir.path().join("d");
        std::fs::create_dir_all(blocked.join("inner")).unwrap();
        let e = replace_file(&tmp, &blocked, b"x").unwrap_err();
        assert!(e.to_string().contains("renaming into"), "{e}");
        assert!(!tmp.exists());
        assert!(blocked.join("inner").is_dir());
    }

    #[test]
    fn writing_atomically_leaves_only_the_file_even_from_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("describe.json");
        std::thread::scope(|s| {
            for i in 0..8u8 {
                let path = &path;
                s.spawn(move || write_atomically(path, &[i; 64]).unwrap());
            }
        });
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 64);
        assert!(bytes.iter().all(|b| *b == bytes[0]), "one writer's bytes");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["describe.json"]);
    }

    #[test]
    #[ignore = "needs root: mounts a tmpfs"]
    fn on_a_full_disk_the_error_names_the_step_and_path_and_nothing_is_left_behind() {
        let fs = crate::tmpfs::Tmpfs::mount(1 << 20);
        let path = fs.path().join("model.json");
        write_atomically(&path, b"old").unwrap();
        fs.fill(16 * 1024);
        let e = write_atomically(&path, &[7u8; 256 * 1024]).unwrap_err();
        assert!(e.is_storage_full(), "{e:?}");
        assert_eq!(e.source.raw_os_error(), Some(28));
        let text = Written::new("the model", e).to_string();
        assert!(
            text.starts_with("could not write the model: writing ")
                && text.contains(".model.json.tmp-")
                && text.ends_with("No space left on device (os error 28)"),
            "{text}"
        );
        assert_eq!(fs.files(), ["model.json"], "no temp file left");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        fs.free();
        write_atomically(&path, &[7u8; 256 * 1024]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 256 * 1024);
        assert_eq!(fs.files(), ["model.json"]);
    }

    /// A full disk and an exhausted quota are storage-full; other failures are not.
    #[test]
    fn storage_full_is_enospc_or_edquot() {
        let error = |kind| WriteError::new("writing", Path::new("/x"), std::io::Error::from(kind));
        for (kind, full) in [
            (std::io::ErrorKind::StorageFull, true),
            (std::io::ErrorKind::QuotaExceeded, true),
            (std::io::ErrorKind::PermissionDenied, false),
        ] {
            assert_eq!(error(kind).is_storage_full(), full, "{kind:?}");
            assert_eq!(
                Written::new("the model", error(kind)).is_storage_full(),
                full,
                "{kind:?}"
            );
        }
    }
}
