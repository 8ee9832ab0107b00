//! Replacing a file so that a reader sees either the old file or the whole new one: the one
//! implementation of the workspace (the trainer's outputs, the emulator's job documents, the
//! local cloud's object store and registry).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `tmp`, syncs it and renames it over `path` (`tmp` must be on the same file
/// system); `tmp` is removed when any step fails. An error names the step and the path.
pub fn replace_file(tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let result = (|| {
        let mut file = std::fs::File::create(tmp).map_err(|e| step("creating", tmp, e))?;
        file.write_all(bytes).map_err(|e| step("writing", tmp, e))?;
        file.sync_all().map_err(|e| step("syncing", tmp, e))?;
        std::fs::rename(tmp, path).map_err(|e| step("renaming into", path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// [`replace_file`] through a hidden sibling of `path` unique to this process and call
/// (`.<name>.tmp-<pid>-<n>`), so that two threads replacing one file never share a temp file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
    replace_file(&tmp, path, bytes)
}

/// `err` with what was being done to which path (its kind kept).
fn step(what: &str, path: &Path, err: std::io::Error) -> std::io::Error {
    std::io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
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
}
