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
/// with its failure as the ports report it: [`PortError::Unavailable`] whose message names
/// `what` was written (`s3://bucket/key`, `model m version 3`, `queue q`), the step, the path and
/// the OS error, e.g. `could not write s3://b/k: writing <root>/.tmp/<id>.part: No space left on
/// device (os error 28)`. Unavailable is the class the AWS adapters give a 5xx answer (S3's
/// `InternalError`, DynamoDB's `InternalServerError`): a retry may succeed once space is freed.
pub(crate) fn replace_file(
    what: &str,
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
) -> Result<(), PortError> {
    mdlc_trainer::fsio::replace_file(tmp, path, bytes).map_err(|e| write_failed(what, e))
}

/// [`replace_file`] with the file's bytes written by `fill` (a copy from another file).
pub(crate) fn replace_file_with(
    what: &str,
    tmp: &Path,
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), PortError> {
    mdlc_trainer::fsio::replace_file_with(tmp, path, fill).map_err(|e| write_failed(what, e))
}

/// A failed atomic write of `what` as a port error (see [`replace_file`]).
pub(crate) fn write_failed(what: &str, e: mdlc_trainer::fsio::WriteError) -> PortError {
    PortError::unavailable(mdlc_trainer::fsio::Written::new(what, e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_replacement_is_an_unavailable_port_naming_what_the_step_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("d");
        std::fs::create_dir_all(blocked.join("inner")).unwrap();
        let e = replace_file("object d", &dir.path().join("d.tmp"), &blocked, b"x").unwrap_err();
        assert!(matches!(e, PortError::Unavailable { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("could not write object d: renaming into") && text.contains("/d"),
            "{text}"
        );
    }
}
