//! Moving data between the object store and job directories; `model.tar.gz` packing.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use mdlc_core::ports::ObjectStore;
use mdlc_core::{PortError, S3Uri};
use mdlc_trainer::fsio::Written;

/// What a job's `FailureReason` says of a failed upload of `uri`: the store's error when it names
/// the object (the local store's `could not write s3://…: …: No space left on device (os error
/// 28)`), else `could not upload <uri>: <error>`.
pub fn upload_error(uri: &S3Uri, e: &PortError) -> String {
    let detail = match e {
        PortError::Unavailable { message } => message.clone(),
        other => other.to_string(),
    };
    if detail.contains(&uri.to_string()) {
        detail
    } else {
        format!("could not upload {uri}: {detail}")
    }
}

/// The relative local path of `key` under an `S3Prefix`: the part after the prefix's last `/`
/// (so `data/train` holds `data/train.csv` as `train.csv` and `data/train/a.csv` as `train/a.csv`).
/// `None` when the key would escape the directory (`..`, absolute) or is a "folder" marker.
pub fn relative_path(prefix_key: &str, key: &str) -> Option<PathBuf> {
    let dir_len = prefix_key.rfind('/').map(|i| i + 1).unwrap_or(0);
    let rel = key.get(dir_len..)?;
    if rel.is_empty() || rel.ends_with('/') {
        return None;
    }
    let path = PathBuf::from(rel);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(path)
}

/// Downloads every object under `prefix` into `dest`; returns how many objects were written.
pub async fn download_prefix(
    store: &dyn ObjectStore,
    prefix: &S3Uri,
    dest: &Path,
) -> Result<usize, String> {
    let objects = store
        .list(prefix)
        .await
        .map_err(|e| format!("could not list {prefix}: {e}"))?;
    let mut n = 0;
    for o in objects {
        let Some(rel) = relative_path(&prefix.key, &o.uri.key) else {
            continue;
        };
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("could not create {}: {e}", parent.display()))?;
        }
        download_object(store, &o.uri, &path).await?;
        n += 1;
    }
    Ok(n)
}

/// How much of an object [`download_object`] reads at a time from a store without local files.
pub const DOWNLOAD_RANGE: u64 = 8 << 20;

/// Writes object `uri` to the file `path`, atomically (a full disk leaves no half-downloaded
/// file) and without holding it whole: a file copy where the store keeps its objects as files
/// (the local cloud's), else ranged reads of [`DOWNLOAD_RANGE`] bytes appended one at a time.
pub async fn download_object(
    store: &dyn ObjectStore,
    uri: &S3Uri,
    path: &Path,
) -> Result<(), String> {
    let written = |e| Written::new(format!("{} (from {uri})", path.display()), e).to_string();
    let tmp = mdlc_trainer::fsio::temp_sibling(path);
    if let Some(source) = store.local_path(uri) {
        let (target, tmp) = (path.to_path_buf(), tmp.clone());
        let copied = tokio::task::spawn_blocking(move || {
            let mut from = std::fs::File::open(&source)?;
            Ok::<_, std::io::Error>(mdlc_trainer::fsio::replace_file_with(
                &tmp,
                &target,
                |file| std::io::copy(&mut from, file).map(|_| ()),
            ))
        })
        .await
        .map_err(|e| format!("could not write {}: {e}", path.display()))?;
        return match copied {
            Ok(result) => result.map_err(written),
            Err(e) => Err(format!("could not download {uri}: {e}")),
        };
    }
    let result: Result<(), String> = async {
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| written(mdlc_trainer::fsio::WriteError::new("creating", &tmp, e)))?;
        let mut offset = 0u64;
        loop {
            let part = store
                .get_range(uri, offset, DOWNLOAD_RANGE)
                .await
                .map_err(|e| format!("could not download {uri}: {e}"))?;
            if part.is_empty() {
                break;
            }
            offset += part.len() as u64;
            tokio::io::AsyncWriteExt::write_all(&mut file, &part)
                .await
                .map_err(|e| written(mdlc_trainer::fsio::WriteError::new("writing", &tmp, e)))?;
            if (part.len() as u64) < DOWNLOAD_RANGE {
                break;
            }
        }
        file.sync_all()
            .await
            .map_err(|e| written(mdlc_trainer::fsio::WriteError::new("syncing", &tmp, e)))?;
        drop(file);
        tokio::fs::rename(&tmp, path).await.map_err(|e| {
            written(mdlc_trainer::fsio::WriteError::new(
                "renaming into",
                path,
                e,
            ))
        })
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

/// Copies the directory tree `from` into `to`; with `read_only` the copied files are made
/// read-only (mode 0444 on Unix).
pub fn copy_tree(from: &Path, to: &Path, read_only: bool) -> std::io::Result<usize> {
    std::fs::create_dir_all(to)?;
    let mut n = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let meta = std::fs::metadata(entry.path())?;
        if meta.is_dir() {
            n += copy_tree(&entry.path(), &target, read_only)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
            if read_only {
                let mut perms = std::fs::metadata(&target)?.permissions();
                perms.set_readonly(true);
                std::fs::set_permissions(&target, perms)?;
            }
            n += 1;
        }
    }
    Ok(n)
}

/// Whether `dir` holds at least one file (recursively).
pub fn has_files(dir: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() { has_files(&p) } else { true }
    })
}

/// Packs the contents of `dir` (entries relative to it, like SageMaker's `model.tar.gz`).
pub fn pack_dir(dir: &Path) -> std::io::Result<Vec<u8>> {
    let enc = GzEncoder::new(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(enc);
    builder.follow_symlinks(true);
    append_tree(&mut builder, dir, Path::new(""))?;
    builder.into_inner()?.finish()
}

fn append_tree<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    dir: &Path,
    rel: &Path,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = rel.join(e.file_name());
        if path.is_dir() {
            b.append_dir(&name, &path)?;
            append_tree(b, &path, &name)?;
        } else {
            b.append_path_with_name(&path, &name)?;
        }
    }
    Ok(())
}

/// Unpacks a `.tar.gz` into `dest` (entries that would escape `dest` are refused by `tar`).
pub fn unpack(bytes: &[u8], dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    archive.unpack(dest)
}

/// The file names inside a `.tar.gz` (for tests and checks).
pub fn list_tar_gz(bytes: &[u8]) -> std::io::Result<Vec<String>> {
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let mut out = Vec::new();
    for e in archive.entries()? {
        let mut e = e?;
        if e.header().entry_type().is_file() {
            out.push(e.path()?.display().to_string());
            let mut sink = Vec::new();
            e.read_to_end(&mut sink)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_follow_the_prefix_directory() {
        assert_eq!(
            relative_path("data/train", "data/train.csv"),
            Some("train.csv".into())
        );
        assert_eq!(
            relative_path("data/train/", "data/train/a/b.csv"),
            Some("a/b.csv".into())
        );
        assert_eq!(relative_path("", "x.csv"), Some("x.csv".into()));
        assert_eq!(relative_path("data/", "data/../etc/passwd"), None);
        assert_eq!(relative_path("data/", "data/sub/"), None);
    }

    #[test]
    fn pack_then_unpack_round_trips() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("sub")).unwrap();
        std::fs::write(src.path().join("model.bin"), b"abc").unwrap();
        std::fs::write(src.path().join("sub/x.json"), b"{}").unwrap();
        let bytes = pack_dir(src.path()).unwrap();
        let mut names = list_tar_gz(&bytes).unwrap();
        names.sort();
        assert_eq!(names, vec!["model.bin", "sub/x.json"]);
        let dst = tempfile::tempdir().unwrap();
        unpack(&bytes, dst.path()).unwrap();
        assert_eq!(std::fs::read(dst.path().join("sub/x.json")).unwrap(), b"{}");
        assert!(has_files(dst.path()));
    }
}
