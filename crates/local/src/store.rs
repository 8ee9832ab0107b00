//! `FsObjectStore`: the local object store behind `s3://` URIs.
//!
//! Object `s3://bucket/a/b.csv` lives at `<root>/bucket/a/b.csv`. Writes go to a temporary file
//! under `<root>/.tmp/` first, are synced and renamed into place, so a reader never sees half an
//! object. A put that cannot write (a full disk) removes its temporary file, leaves the previous
//! object (if any) as it was, and fails with [`PortError::Unavailable`] naming the object:
//! `could not write s3://bucket/key: writing …: No space left on device (os error 28)`. (S3
//! itself answers a failed PUT with `InternalError`, HTTP 500, which the AWS adapter maps to the
//! same retryable class; its message, "We encountered an internal error. Please try again.",
//! names nothing, so the local store gives its own.)
//! Keys are validated: no `.`/`..` segments, no empty segments, no backslashes or NUL bytes, so a
//! key can never name a path outside its bucket.

use std::path::{Path, PathBuf};

use crate::fsio::{io_error, replace_file_with};
use async_trait::async_trait;
use mdlc_core::ports::{ObjectInfo, ObjectStore};
use mdlc_core::{PortError, S3Uri};

/// Name of the directory (under the root) that holds in-flight writes. Bucket names cannot start
/// with a dot, so it never collides with a bucket.
const TMP_DIR: &str = ".tmp";

/// An [`ObjectStore`] over a directory tree.
#[derive(Debug, Clone)]
pub struct FsObjectStore {
    root: PathBuf,
}

impl FsObjectStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsObjectStore { root: root.into() }
    }

    /// The directory that holds the buckets.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `uri`'s object, after validating the bucket and key.
    pub fn object_path(&self, uri: &S3Uri) -> Result<PathBuf, PortError> {
        validate_bucket(&uri.bucket)?;
        validate_key(&uri.key, false)?;
        let mut path = self.root.join(&uri.bucket);
        for segment in uri.key.split('/') {
            path.push(segment);
        }
        Ok(path)
    }
}

fn rejected(message: String) -> PortError {
    PortError::Rejected { message }
}

fn validate_bucket(bucket: &str) -> Result<(), PortError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.'])
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(rejected(format!(
            "invalid bucket name {bucket:?}: 3-63 characters of lowercase letters, digits, '-' and '.'"
        )))
    }
}

/// Validates an object key (`prefix == false`) or a listing prefix (`prefix == true`, which may be
/// empty, end with `/` or end in the middle of a segment).
fn validate_key(key: &str, prefix: bool) -> Result<(), PortError> {
    if key.is_empty() {
        return if prefix {
            Ok(())
        } else {
            Err(rejected("object key must not be empty".to_string()))
        };
    }
    if key.len() > 1024 {
        return Err(rejected(format!(
            "object key is {} bytes long; the limit is 1024",
            key.len()
        )));
    }
    if key.contains(['\\', '\0']) {
        return Err(rejected(format!(
            "object key {key:?} must not contain backslashes or NUL bytes"
        )));
    }
    if key.starts_with('/') {
        return Err(rejected(format!(
            "object key {key:?} must not start with '/'"
        )));
    }
    if !prefix && key.ends_with('/') {
        return Err(rejected(format!(
            "object key {key:?} ends with '/': folder markers are not supported by the local store"
        )));
    }
    let segments: Vec<&str> = key.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        // A prefix may end with '/' (empty last segment).
        if segment.is_empty() && !(prefix && i == last) {
            return Err(rejected(format!(
                "object key {key:?} has an empty path segment ('//')"
            )));
        }
        if *segment == "." || *segment == ".." {
            return Err(rejected(format!(
                "object key {key:?} must not contain '.' or '..' segments"
            )));
        }
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn get(&self, uri: &S3Uri) -> Result<Vec<u8>, PortError> {
        let path = self.object_path(uri)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::IsADirectory
                        | std::io::ErrorKind::NotADirectory
                ) || path.is_dir() =>
            {
                Err(PortError::not_found(uri.to_string()))
            }
            Err(e) => Err(io_error("reading", &path, e)),
        }
    }

    /// Reads only the range (a seek and one bounded read): a Pipe channel streams a large
    /// object without holding it.
    async fn get_range(&self, uri: &S3Uri, offset: u64, len: u64) -> Result<Vec<u8>, PortError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let path = self.object_path(uri)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) if !path.is_dir() => f,
            Ok(_) => return Err(PortError::not_found(uri.to_string())),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(PortError::not_found(uri.to_string()));
            }
            Err(e) => return Err(io_error("reading", &path, e)),
        };
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| io_error("reading", &path, e))?;
        let mut out = Vec::new();
        file.take(len)
            .read_to_end(&mut out)
            .await
            .map_err(|e| io_error("reading", &path, e))?;
        Ok(out)
    }

    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), PortError> {
        let path = self.object_path(uri)?;
        let tmp_dir = self.root.join(TMP_DIR);
        let uri_text = uri.to_string();
        tokio::task::spawn_blocking(move || write_atomically(&tmp_dir, &path, &body, &uri_text))
            .await
            .map_err(|e| PortError::unavailable(format!("writing {uri}: {e}")))?
    }

    /// Copies the file into the store a buffer at a time (to a temporary file, then renamed):
    /// the upload's memory does not grow with the file.
    async fn put_file(&self, uri: &S3Uri, source: &Path) -> Result<(), PortError> {
        let path = self.object_path(uri)?;
        let tmp_dir = self.root.join(TMP_DIR);
        let uri_text = uri.to_string();
        let source = source.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut from = std::fs::File::open(&source).map_err(|e| {
                rejected(format!(
                    "could not read {} to upload it to {uri_text}: {e}",
                    source.display()
                ))
            })?;
            replace_atomically(&tmp_dir, &path, &uri_text, |file| {
                std::io::copy(&mut from, file).map(|_| ())
            })
        })
        .await
        .map_err(|e| PortError::unavailable(format!("writing {uri}: {e}")))?
    }

    async fn list(&self, prefix: &S3Uri) -> Result<Vec<ObjectInfo>, PortError> {
        validate_bucket(&prefix.bucket)?;
        validate_key(&prefix.key, true)?;
        let bucket_dir = self.root.join(&prefix.bucket);
        let prefix = prefix.clone();
        tokio::task::spawn_blocking(move || list_blocking(&bucket_dir, &prefix))
            .await
            .map_err(|e| PortError::unavailable(format!("listing: {e}")))?
    }

    /// `<root>/<bucket>/<key>` when that file exists (FastFile channels link to it).
    fn local_path(&self, uri: &S3Uri) -> Option<PathBuf> {
        self.object_path(uri).ok().filter(|p| p.is_file())
    }

    async fn exists(&self, uri: &S3Uri) -> Result<bool, PortError> {
        let path = self.object_path(uri)?;
        Ok(tokio::fs::metadata(&path)
            .await
            .map(|m| m.is_file())
            .unwrap_or(false))
    }
}

fn write_atomically(tmp_dir: &Path, path: &Path, body: &[u8], uri: &str) -> Result<(), PortError> {
    replace_atomically(tmp_dir, path, uri, |file| {
        std::io::Write::write_all(file, body)
    })
}

/// Writes the object's file through a temporary file in `tmp_dir` that `fill` writes, then
/// renames it into place (a failed or partial write leaves no object).
fn replace_atomically(
    tmp_dir: &Path,
    path: &Path,
    uri: &str,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), PortError> {
    let parent = path
        .parent()
        .ok_or_else(|| rejected(format!("{uri} has no parent directory")))?;
    if path.is_dir() {
        return Err(rejected(format!(
            "cannot write {uri}: objects exist under the prefix {uri}/ in the local store"
        )));
    }
    std::fs::create_dir_all(parent).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotADirectory
            || e.kind() == std::io::ErrorKind::AlreadyExists
        {
            rejected(format!(
                "cannot write {uri}: a parent prefix of it is an object in the local store"
            ))
        } else {
            io_error("creating", parent, e)
        }
    })?;
    std::fs::create_dir_all(tmp_dir).map_err(|e| io_error("creating", tmp_dir, e))?;
    let tmp = tmp_dir.join(format!("{}.part", uuid::Uuid::new_v4()));
    replace_file_with(uri, &tmp, path, fill)
}

fn list_blocking(bucket_dir: &Path, prefix: &S3Uri) -> Result<Vec<ObjectInfo>, PortError> {
    // Walk only the deepest directory the prefix names.
    let dir_part = match prefix.key.rfind('/') {
        Some(i) => &prefix.key[..i],
        None => "",
    };
    let mut start = bucket_dir.to_path_buf();
    if !dir_part.is_empty() {
        for segment in dir_part.split('/') {
            start.push(segment);
        }
    }
    let mut out = Vec::new();
    if !start.is_dir() {
        return Ok(out);
    }
    let base_key = if dir_part.is_empty() {
        String::new()
    } else {
        format!("{dir_part}/")
    };
    let mut stack = vec![(start, base_key)];
    while let Some((dir, key_prefix)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| io_error("listing", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error("listing", &dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not representable as a key
            };
            let key = format!("{key_prefix}{name}");
            let meta = entry
                .metadata()
                .map_err(|e| io_error("reading", &entry.path(), e))?;
            if meta.is_dir() {
                let dir_key = format!("{key}/");
                if dir_key.starts_with(&prefix.key) || prefix.key.starts_with(&dir_key) {
                    stack.push((entry.path(), dir_key));
                }
            } else if meta.is_file() && key.starts_with(&prefix.key) {
                out.push(ObjectInfo {
                    uri: S3Uri::new(prefix.bucket.clone(), key),
                    size: meta.len(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.uri.key.cmp(&b.uri.key));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> S3Uri {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn a_ranged_read_gives_the_bytes_of_the_range_fewer_at_the_end_and_not_found_for_no_object()
     {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path());
        store
            .put(&uri("s3://bkt/r/obj"), b"0123456789".to_vec())
            .await
            .unwrap();
        let o = uri("s3://bkt/r/obj");
        assert_eq!(store.get_range(&o, 2, 3).await.unwrap(), b"234");
        assert_eq!(store.get_range(&o, 8, 5).await.unwrap(), b"89");
        assert!(store.get_range(&o, 10, 5).await.unwrap().is_empty());
        assert!(store.get_range(&o, 99, 1).await.unwrap().is_empty());
        assert!(matches!(
            store.get_range(&uri("s3://bkt/r/none"), 0, 1).await,
            Err(PortError::NotFound { .. })
        ));
        assert!(matches!(
            store.get_range(&uri("s3://bkt/r"), 0, 1).await,
            Err(PortError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn given_a_put_object_when_read_back_then_bytes_and_listing_match() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path());
        store
            .put(&uri("s3://bkt/a/b/c.csv"), b"1,2\n".to_vec())
            .await
            .unwrap();
        store
            .put(&uri("s3://bkt/a/d.csv"), b"xyz".to_vec())
            .await
            .unwrap();
        store
            .put(&uri("s3://bkt/ab.csv"), b"q".to_vec())
            .await
            .unwrap();
        assert_eq!(
            store.get(&uri("s3://bkt/a/b/c.csv")).await.unwrap(),
            b"1,2\n"
        );
        assert!(store.exists(&uri("s3://bkt/a/d.csv")).await.unwrap());
        assert!(!store.exists(&uri("s3://bkt/a/zz")).await.unwrap());
        assert!(!store.exists(&uri("s3://bkt/a")).await.unwrap());

        let keys = |v: Vec<ObjectInfo>| v.into_iter().map(|o| o.uri.key).collect::<Vec<_>>();
        assert_eq!(
            keys(store.list(&uri("s3://bkt/a/")).await.unwrap()),
            vec!["a/b/c.csv", "a/d.csv"]
        );
        assert_eq!(
            keys(store.list(&uri("s3://bkt/a")).await.unwrap()),
            vec!["a/b/c.csv", "a/d.csv", "ab.csv"]
        );
        assert_eq!(
            keys(store.list(&uri("s3://bkt/a/b/c")).await.unwrap()),
            vec!["a/b/c.csv"]
        );
        assert_eq!(
            store.list(&uri("s3://bkt/a/d.csv")).await.unwrap()[0].size,
            3
        );
        assert!(store.list(&uri("s3://nobucket/")).await.unwrap().is_empty());
        // the temporary directory never shows up as a bucket's content
        assert_eq!(keys(store.list(&uri("s3://bkt")).await.unwrap()).len(), 3);
    }

    #[tokio::test]
    async fn given_a_missing_object_when_get_then_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path());
        let err = store.get(&uri("s3://bkt/none")).await.unwrap_err();
        assert!(matches!(err, PortError::NotFound { .. }), "{err:?}");
        store.put(&uri("s3://bkt/dir/x"), vec![]).await.unwrap();
        let err = store.get(&uri("s3://bkt/dir")).await.unwrap_err();
        assert!(matches!(err, PortError::NotFound { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn given_traversal_keys_when_used_then_rejected_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().join("s3"));
        for key in [
            "../evil",
            "a/../../evil",
            "a//b",
            "./x",
            "a\\b",
            "/abs",
            "dir/",
            "",
        ] {
            let u = S3Uri::new("bkt", key);
            let err = store.put(&u, b"x".to_vec()).await.unwrap_err();
            assert!(matches!(err, PortError::Rejected { .. }), "{key}: {err:?}");
            assert!(store.get(&u).await.is_err());
        }
        let bad_bucket = S3Uri::new("..", "x");
        assert!(store.put(&bad_bucket, vec![]).await.is_err());
        assert!(!dir.path().join("evil").exists());
        let err = store.list(&S3Uri::new("bkt", "../")).await.unwrap_err();
        assert!(err.to_string().contains(".."), "{err}");
    }

    #[tokio::test]
    async fn given_an_object_when_a_key_below_it_is_written_then_clear_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path());
        store.put(&uri("s3://bkt/a"), b"1".to_vec()).await.unwrap();
        let err = store
            .put(&uri("s3://bkt/a/b"), b"2".to_vec())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("parent prefix"), "{err}");
        store
            .put(&uri("s3://bkt/p/q"), b"1".to_vec())
            .await
            .unwrap();
        let err = store
            .put(&uri("s3://bkt/p"), b"2".to_vec())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("objects exist under"), "{err}");
    }

    /// An upload from a file is a file copy: the object's bytes are the file's, nothing is left
    /// in the temporary directory, an existing object is replaced, and a missing source file is
    /// a rejection naming it (no object is made).
    #[tokio::test]
    async fn a_file_upload_copies_the_file_into_place_and_a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().join("s3"));
        let source = dir.path().join("rows.csv");
        // over std::io::copy's buffer many times over
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&source, &body).unwrap();
        let o = uri("s3://bkt/data/rows.csv");
        store.put(&o, b"old".to_vec()).await.unwrap();
        store.put_file(&o, &source).await.unwrap();
        assert_eq!(store.get(&o).await.unwrap(), body);
        assert_eq!(
            std::fs::read_dir(dir.path().join("s3").join(TMP_DIR))
                .unwrap()
                .count(),
            0
        );
        let missing = dir.path().join("nope.csv");
        let err = store
            .put_file(&uri("s3://bkt/data/other.csv"), &missing)
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Rejected { .. }), "{err:?}");
        assert!(err.to_string().contains("nope.csv"), "{err}");
        assert!(!store.exists(&uri("s3://bkt/data/other.csv")).await.unwrap());
    }

    #[tokio::test]
    async fn given_concurrent_writers_when_overwriting_then_each_read_is_a_whole_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(FsObjectStore::new(dir.path()));
        let target = uri("s3://bkt/hot");
        let mut handles = Vec::new();
        for i in 0..8u8 {
            let store = store.clone();
            let target = target.clone();
            handles.push(tokio::spawn(async move {
                store.put(&target, vec![i; 64 * 1024]).await.unwrap();
                let got = store.get(&target).await.unwrap();
                assert_eq!(got.len(), 64 * 1024);
                assert!(got.iter().all(|b| *b == got[0]));
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(
            std::fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    #[ignore = "needs root: mounts a tmpfs"]
    async fn on_a_full_disk_a_put_names_the_object_leaves_nothing_and_succeeds_once_space_is_freed()
    {
        let fs = mdlc_trainer::tmpfs::Tmpfs::mount(4 << 20);
        let store = FsObjectStore::new(fs.path().join("s3"));
        let kept = uri("s3://bkt/data/keep.csv");
        store.put(&kept, b"1,2\n".to_vec()).await.unwrap();
        fs.fill(64 * 1024);
        let big = uri("s3://bkt/models/model.tar.gz");
        for target in [&big, &kept] {
            let err = store.put(target, vec![9u8; 512 * 1024]).await.unwrap_err();
            let PortError::Unavailable { message } = &err else {
                panic!("{err:?}");
            };
            assert!(
                message.starts_with(&format!("could not write {target}: writing "))
                    && message.ends_with("No space left on device (os error 28)"),
                "{message}"
            );
        }
        // no partial object, no temp file; the earlier object is whole
        assert_eq!(fs.files(), ["s3/bkt/data/keep.csv"]);
        assert!(!store.exists(&big).await.unwrap());
        assert_eq!(store.get(&kept).await.unwrap(), b"1,2\n");
        fs.free();
        store.put(&big, vec![9u8; 512 * 1024]).await.unwrap();
        assert_eq!(store.get(&big).await.unwrap(), vec![9u8; 512 * 1024]);
        assert_eq!(store.get(&kept).await.unwrap(), b"1,2\n");
        assert_eq!(
            fs.files(),
            ["s3/bkt/data/keep.csv", "s3/bkt/models/model.tar.gz"]
        );
    }
}
