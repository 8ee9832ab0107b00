//! File writes of the local cloud's object store, registry and queues.

use std::path::Path;

use mdlc_core::PortError;

/// An I/O failure as the ports report it: what was being done, to which path, and why.
pub(crate) fn io_error(what: &str, path: &Path, err: std::io::Error) -> PortError {
    PortError::unavailable(format!("{what} {}: {err}", path.display()))
}

/// Opens (creating it) the lock file at `path` and takes its exclusive OS lock, held until the
/// returned file is dropped: the one way the local cloud serialises writers of a file across
/// processes.
pub(crate) fn lock_file(path: &Path) -> Result<std::fs::File, PortError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_error("opening", path, e))?;
    file.lock().map_err(|e| io_error("locking", path, e))?;
    Ok(file)
}

/// [`mdlc_trainer::fsio::replace_file`] (write, sync, rename; the temp file removed on failure)
/// with its failure as the ports report it.
pub(crate) fn replace_file(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), PortError> {
    mdlc_trainer::fsio::replace_file(tmp, path, bytes)
        .map_err(|e| PortError::unavailable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_replacement_is_an_unavailable_port_naming_the_step_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("d");
        std::fs::create_dir_all(blocked.join("inner")).unwrap();
        let e = replace_file(&dir.path().join("d.tmp"), &blocked, b"x").unwrap_err();
        assert!(matches!(e, PortError::Unavailable { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("renaming into") && text.contains("/d"),
            "{text}"
        );
    }
}
