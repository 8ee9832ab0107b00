//! `FastFile` input mode: a channel's objects presented under `/opt/ml/input/data/<channel>`
//! without a copy.
//!
//! On SageMaker, FastFile mode streams objects from S3 on demand: the container sees the files
//! of an `S3Prefix` (or `ManifestFile`) channel as a file system and reads them as they are
//! needed, with no download before training starts; augmented manifest files are not supported
//! (API reference, `TrainingInputMode`). Locally the objects already are files (the local
//! cloud's object store keeps `s3://bucket/key` at `<state dir>/s3/bucket/key`), so the channel
//! directory holds symbolic links to them, and the channel's directories are made read-only (a
//! FastFile channel is a read-only mount). A store without local files (S3, memory) gets a
//! copy, as in File mode, and the job log says so.

use std::path::{Path, PathBuf};

use mdlc_core::S3Uri;
use mdlc_core::ports::ObjectStore;

use crate::error::Problems;
use crate::files;

/// The input mode's name in requests and in `inputdataconfig.json`.
pub(crate) const FAST_FILE: &str = "FastFile";

/// SageMaker's constraint on `AugmentedManifestFile` channels, as its API reference states it
/// (`S3DataSource.S3DataType`). The exact text of the `ValidationException` SageMaker answers
/// for a FastFile channel of that type could not be found; this is the documented rule.
pub(crate) const AUGMENTED_NEEDS_PIPE: &str =
    "AugmentedManifestFile can only be used if the Channel's input mode is Pipe.";

/// Checks a FastFile channel on a `FileSystemDataSource`: FastFile streams from S3 only.
/// (SageMaker's own message for this combination could not be found; this one is the
/// emulator's.)
pub(crate) fn check_file_system(input_mode: &str, at: &str, p: &mut Problems) {
    if input_mode == FAST_FILE {
        p.push(
            &format!("{at}.InputMode"),
            "FastFile streams from Amazon S3 only; a FileSystemDataSource channel uses File mode",
        );
    }
}

/// Links the objects under `prefix` into `dest`; fails as a File mode channel does when there
/// is no object. Returns how many objects had to be copied (a store without local files).
pub(crate) async fn link_prefix(
    store: &dyn ObjectStore,
    prefix: &S3Uri,
    dest: &Path,
    channel: &str,
) -> Result<usize, String> {
    let objects = store
        .list(prefix)
        .await
        .map_err(|e| format!("ClientError: Data download failed:could not list {prefix}: {e}"))?;
    let items: Vec<(PathBuf, S3Uri)> = objects
        .into_iter()
        .filter_map(|o| files::relative_path(&prefix.key, &o.uri.key).map(|rel| (rel, o.uri)))
        .collect();
    if items.is_empty() {
        return Err(format!(
            "ClientError: No S3 objects found under S3 URL \"{prefix}\" given in input data source (channel {channel})"
        ));
    }
    present(store, &items, dest).await
}

/// Presents `items` (relative path, object) under `dest`: a symbolic link to the object's
/// local file, else a copy made as File mode makes it (ranged reads, never the object whole:
/// [`files::download_object`]); then makes `dest` read-only. Returns how many were copied.
pub(crate) async fn present(
    store: &dyn ObjectStore,
    items: &[(PathBuf, S3Uri)],
    dest: &Path,
) -> Result<usize, String> {
    let failed = |what: String| format!("ClientError: Data download failed:{what}");
    let mut copied = 0;
    for (rel, object) in items {
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| failed(format!("could not create {}: {e}", parent.display())))?;
        }
        match store
            .local_path(object)
            .and_then(|f| std::path::absolute(f).ok())
        {
            Some(file) => tokio::fs::symlink(&file, &path).await.map_err(|e| {
                failed(format!(
                    "could not link {} to {} ({object}): {e}",
                    path.display(),
                    file.display()
                ))
            })?,
            None => {
                files::download_object(store, object, &path)
                    .await
                    .map_err(failed)?;
                copied += 1;
            }
        }
    }
    read_only_dirs(dest)
        .map_err(|e| failed(format!("could not make {} read-only: {e}", dest.display())))?;
    Ok(copied)
}

/// Mode 0555 on `dir` and the directories under it (links are not followed).
fn read_only_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            read_only_dirs(&entry.path())?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))
}
