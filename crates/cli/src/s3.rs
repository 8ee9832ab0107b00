//! `mdlc s3 cp SRC DST [--recursive]` and `mdlc s3 ls [s3://bucket/prefix] [--recursive]` on the
//! local object store (`<state dir>/s3`), so users can seed the data their definitions expect.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use mdlc_core::ports::ObjectStore;
use mdlc_core::{PortError, S3Uri};
use mdlc_local::FsObjectStore;

use crate::exit;

#[derive(Debug, Args)]
pub struct S3Args {
    /// Where the local cloud keeps its state.
    #[arg(long, value_name = "DIR", default_value = ".mdlc", global = true)]
    pub state_dir: PathBuf,
    #[command(subcommand)]
    pub command: S3Command,
}

#[derive(Debug, Subcommand)]
pub enum S3Command {
    /// Copy a file or an object: local → s3://, s3:// → local, s3:// → s3://.
    Cp {
        src: String,
        dst: String,
        /// Copy a directory / every object under a prefix.
        #[arg(long)]
        recursive: bool,
    },
    /// List buckets (no argument), or the objects and prefixes under s3://bucket/prefix.
    Ls {
        uri: Option<String>,
        /// List every object under the prefix instead of one level.
        #[arg(long)]
        recursive: bool,
    },
}

/// A failed s3 command.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Store(#[from] PortError),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

fn io(path: &Path, e: std::io::Error) -> S3Error {
    S3Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn parse_uri(text: &str) -> Result<S3Uri, S3Error> {
    text.parse::<S3Uri>()
        .map_err(|e| S3Error::Usage(e.to_string()))
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &S3Args) -> i32 {
    let rt = match crate::local::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let store = FsObjectStore::new(args.state_dir.join("s3"));
    let result = rt.block_on(async {
        match &args.command {
            S3Command::Cp {
                src,
                dst,
                recursive,
            } => copy(&store, src, dst, *recursive).await,
            S3Command::Ls { uri, recursive } => list(&store, uri.as_deref(), *recursive)
                .await
                .map(|lines| lines.into_iter().map(|l| format!("{l}\n")).collect()),
        }
    });
    match result {
        Ok(out) => {
            print!("{out}");
            exit::OK
        }
        Err(e @ S3Error::Usage(_)) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILED
        }
    }
}

/// Copies and returns the `copy: A to B` lines.
pub async fn copy(
    store: &FsObjectStore,
    src: &str,
    dst: &str,
    recursive: bool,
) -> Result<String, S3Error> {
    let mut pairs: Vec<(Endpoint, Endpoint)> = Vec::new();
    let source = Endpoint::parse(src)?;
    let target = Endpoint::parse(dst)?;
    if recursive {
        match &source {
            Endpoint::Local(dir) => {
                if !dir.is_dir() {
                    return Err(S3Error::Usage(format!(
                        "{src} is not a directory (--recursive copies a directory)"
                    )));
                }
                for file in walk(dir)? {
                    let rel = file
                        .strip_prefix(dir)
                        .map_err(|e| S3Error::Usage(e.to_string()))?;
                    let rel_key = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().to_string())
                        .collect::<Vec<_>>()
                        .join("/");
                    pairs.push((Endpoint::Local(file.clone()), target.child(&rel_key)));
                }
            }
            Endpoint::S3(prefix) => {
                let base = if prefix.key.is_empty() || prefix.key.ends_with('/') {
                    prefix.key.clone()
                } else {
                    format!("{}/", prefix.key)
                };
                let listed = store
                    .list(&S3Uri::new(prefix.bucket.clone(), base.clone()))
                    .await?;
                for o in listed {
                    let rel = o.uri.key[base.len()..].to_string();
                    pairs.push((Endpoint::S3(o.uri.clone()), target.child(&rel)));
                }
            }
        }
        if pairs.is_empty() {
            return Err(S3Error::Usage(format!("nothing to copy under {src}")));
        }
    } else {
        let name = match &source {
            Endpoint::Local(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            Endpoint::S3(u) => u.file_name().to_string(),
        };
        if name.is_empty() {
            return Err(S3Error::Usage(format!(
                "{src} names a directory or prefix: pass --recursive"
            )));
        }
        let target = if target.is_container() {
            target.child(&name)
        } else {
            target
        };
        pairs.push((source, target));
    }
    let mut out = String::new();
    for (from, to) in pairs {
        let bytes = match &from {
            Endpoint::Local(p) => {
                if p.is_dir() {
                    return Err(S3Error::Usage(format!(
                        "{} is a directory: pass --recursive",
                        p.display()
                    )));
                }
                std::fs::read(p).map_err(|e| io(p, e))?
            }
            Endpoint::S3(u) => store.get(u).await?,
        };
        match &to {
            Endpoint::Local(p) => {
                if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                }
                // atomically: a failed write (a full disk) leaves no partial file and names it
                mdlc_trainer::fsio::write_atomically(p, &bytes).map_err(|e| S3Error::Io {
                    path: p.display().to_string(),
                    message: format!("could not write the copy of {from}: {e}"),
                })?;
            }
            Endpoint::S3(u) => store.put(u, bytes).await?,
        }
        out.push_str(&format!("copy: {from} to {to}\n"));
    }
    Ok(out)
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>, S3Error> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let entry = entry.map_err(|e| io(&d, e))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Lists like `aws s3 ls`.
pub async fn list(
    store: &FsObjectStore,
    uri: Option<&str>,
    recursive: bool,
) -> Result<Vec<String>, S3Error> {
    let Some(uri) = uri else {
        let root = store.root();
        let mut buckets = Vec::new();
        if root.is_dir() {
            for entry in std::fs::read_dir(root).map_err(|e| io(root, e))? {
                let entry = entry.map_err(|e| io(root, e))?;
                let name = entry.file_name().to_string_lossy().to_string();
                if entry.path().is_dir() && !name.starts_with('.') {
                    buckets.push(name);
                }
            }
        }
        buckets.sort();
        return Ok(buckets);
    };
    let prefix = parse_uri(uri)?;
    let objects = store.list(&prefix).await?;
    let level_start = prefix.key.rfind('/').map(|i| i + 1).unwrap_or(0);
    let mut lines = Vec::new();
    let mut seen_dirs = std::collections::BTreeSet::new();
    for o in objects {
        let rest = &o.uri.key[level_start..];
        if !recursive {
            if let Some(i) = rest.find('/') {
                let dir = &rest[..=i];
                if seen_dirs.insert(dir.to_string()) {
                    lines.push(format!("{:>30} {dir}", "PRE"));
                }
                continue;
            }
        }
        let shown = if recursive { o.uri.key.as_str() } else { rest };
        let modified = store
            .object_path(&o.uri)
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
            .map(chrono_stamp)
            .unwrap_or_else(|| " ".repeat(19));
        lines.push(format!("{modified} {:>10} {shown}", o.size));
    }
    Ok(lines)
}

fn chrono_stamp(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[derive(Debug, Clone)]
enum Endpoint {
    Local(PathBuf),
    S3(S3Uri),
}

impl Endpoint {
    fn parse(text: &str) -> Result<Self, S3Error> {
        if text.starts_with("s3://") {
            Ok(Endpoint::S3(parse_uri(text)?))
        } else if text.is_empty() {
            Err(S3Error::Usage("empty path".into()))
        } else {
            Ok(Endpoint::Local(PathBuf::from(text)))
        }
    }

    /// Whether this names a folder to copy into (an s3 prefix ending in `/` or a bucket root, or
    /// an existing local directory / a path ending in `/`).
    fn is_container(&self) -> bool {
        match self {
            Endpoint::S3(u) => u.key.is_empty() || u.key.ends_with('/'),
            Endpoint::Local(p) => p.is_dir() || p.to_string_lossy().ends_with('/'),
        }
    }

    fn child(&self, rel: &str) -> Endpoint {
        match self {
            Endpoint::S3(u) => Endpoint::S3(u.join(rel)),
            Endpoint::Local(p) => {
                let mut path = p.clone();
                for part in rel.split('/').filter(|s| !s.is_empty()) {
                    path.push(part);
                }
                Endpoint::Local(path)
            }
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Local(p) => write!(f, "{}", p.display()),
            Endpoint::S3(u) => write!(f, "{u}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn given_files_when_copied_in_and_out_then_contents_match() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().join("s3"));
        let src = dir.path().join("data");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.csv"), "1,2\n").unwrap();
        std::fs::write(src.join("sub/b.csv"), "3,4\n").unwrap();

        let out = copy(
            &store,
            src.join("a.csv").to_str().unwrap(),
            "s3://bkt/in/",
            false,
        )
        .await
        .unwrap();
        assert!(out.contains("to s3://bkt/in/a.csv"), "{out}");
        copy(&store, src.to_str().unwrap(), "s3://bkt/tree", true)
            .await
            .unwrap();
        assert_eq!(
            list(&store, Some("s3://bkt/tree/"), true)
                .await
                .unwrap()
                .len(),
            2
        );
        let top = list(&store, Some("s3://bkt/tree/"), false).await.unwrap();
        assert!(top.iter().any(|l| l.ends_with("PRE sub/")), "{top:?}");
        assert!(top.iter().any(|l| l.ends_with(" a.csv")), "{top:?}");
        assert_eq!(list(&store, None, false).await.unwrap(), vec!["bkt"]);

        let back = dir.path().join("back");
        copy(&store, "s3://bkt/tree/", back.to_str().unwrap(), true)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(back.join("sub/b.csv")).unwrap(),
            "3,4\n"
        );
        copy(&store, "s3://bkt/in/a.csv", "s3://other/x.csv", false)
            .await
            .unwrap();
        assert_eq!(
            store
                .get(&"s3://other/x.csv".parse().unwrap())
                .await
                .unwrap(),
            b"1,2\n"
        );
    }

    #[tokio::test]
    async fn given_bad_arguments_when_copying_then_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().join("s3"));
        let e = copy(&store, "s3://bkt/missing", "/tmp/x", false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
        let e = copy(&store, "s3://bkt/", "/tmp/x", false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("--recursive"), "{e}");
        let e = copy(&store, "s3://BAD/x", "/tmp/x", false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("bucket name"), "{e}");
        let e = copy(&store, "s3://bkt/nothing/", "/tmp/x", true)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("nothing to copy"), "{e}");
    }

    #[test]
    fn given_a_time_then_aws_style_stamp() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_704_067_261);
        assert_eq!(chrono_stamp(t), "2024-01-01 00:01:01");
    }

    #[tokio::test]
    #[ignore = "needs root: mounts a tmpfs"]
    async fn on_a_full_disk_a_download_names_the_file_leaves_nothing_and_succeeds_later() {
        let fs = mdlc_trainer::tmpfs::Tmpfs::mount(1 << 20);
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().join("s3"));
        let object = "s3://bkt/models/model.tar.gz";
        store
            .put(&object.parse().unwrap(), vec![5u8; 256 * 1024])
            .await
            .unwrap();
        std::fs::write(fs.path().join("kept.txt"), "x").unwrap();
        fs.fill(16 * 1024);
        let target = fs.path().join("model.tar.gz");
        let err = copy(&store, object, target.to_str().unwrap(), false)
            .await
            .unwrap_err();
        let S3Error::Io { path, message } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(path, &target.display().to_string());
        assert!(
            message.starts_with(&format!("could not write the copy of {object}: writing "))
                && message.ends_with("No space left on device (os error 28)"),
            "{message}"
        );
        assert_eq!(fs.files(), ["kept.txt"], "no partial file");
        fs.free();
        copy(&store, object, target.to_str().unwrap(), false)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), vec![5u8; 256 * 1024]);
        assert_eq!(fs.files(), ["kept.txt", "model.tar.gz"]);
    }
}
