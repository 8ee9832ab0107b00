//! File writes of the local cloud's object store and registry.

use std::io::Write;
use std::path::Path;

use mdlc_core::PortError;

/// An I/O failure as the ports report it: what was being done, to which path, and why.
pub(crate) fn io_error(what: &str, path: &Path, err: std::io::Error) -> PortError {
    PortError::unavailable(format!("{what} {}: {err}", path.display()))
}

/// Writes `bytes` to `tmp`, syncs it and renames it over `path`, so that a reader sees either
/// the old file or the whole new one; `tmp` is removed when any step fails.
pub(crate) fn replace_file(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), PortError> {
    let result = (|| {
        let mut file = std::fs::File::create(tmp).map_err(|e| io_error("creating", tmp, e))?;
        file.write_all(bytes)
            .map_err(|e| io_error("writing", tmp, e))?;
        file.sync_all().map_err(|e| io_error("syncing", tmp, e))?;
        std::fs::rename(tmp, path).map_err(|e| io_error("renaming into", path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
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
}
