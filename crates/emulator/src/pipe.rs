//! Pipe input mode: a channel streamed to the algorithm through FIFOs, as SageMaker's container
//! contract has it.
//!
//! * The channel is not copied: the job's input data directory gets a FIFO
//!   `<channel>_<epoch>` per epoch (`/opt/ml/input/data/train_0`, `train_1`, …), and
//!   `inputdataconfig.json` says `"TrainingInputMode": "Pipe"` for it.
//! * Each epoch streams every object of the channel once, in order — an `S3Prefix` channel's
//!   objects in key order, a `ManifestFile` channel's in the manifest's order — concatenated,
//!   read from the object store a range at a time ([`ObjectStore::get_range`], [`CHUNK`] bytes),
//!   so no object is held whole. A `Gzip` channel is decompressed on the way.
//! * `<channel>_0` exists before the algorithm starts; `<channel>_<n+1>` is made once the
//!   algorithm has read `<channel>_<n>` to its end (or stopped early) and closed it, as SageMaker
//!   does. Channels are independent; epochs go on until the job ends.
//! * With `ShuffleConfig`, each epoch streams the objects in that epoch's order
//!   ([`crate::shuffle::order`]): the shuffle is done again at the start of every epoch, as
//!   SageMaker's API reference says of Pipe mode.
//! * Refused as SageMaker refuses them ([`check_input_mode`]): `Gzip` in File mode
//!   (SageMaker's message), Pipe for a `FileSystemDataSource` (the emulator's wording: SageMaker's
//!   message for it was not found). The built-in XGBoost trainer refuses a LibSVM Pipe channel
//!   itself, in SageMaker XGBoost's words.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flate2::write::GzDecoder;
use mdlc_core::S3Uri;
use mdlc_core::ports::ObjectStore;
use nix::errno::Errno;
use nix::sys::stat::Mode;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::task::JoinHandle;

use crate::error::ApiError;

/// Bytes read from the object store at a time.
pub(crate) const CHUNK: u64 = 1 << 20;

/// How often the feeder looks for the algorithm at a FIFO's ends.
const POLL: Duration = Duration::from_millis(10);

/// Why a Pipe channel could not be streamed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PipeError {
    #[error("could not make the FIFO {path}: {source}")]
    Mkfifo {
        path: String,
        #[source]
        source: Errno,
    },
    #[error("could not open the FIFO {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read {uri}: {message}")]
    Read { uri: String, message: String },
    #[error("{uri} is not gzip data (CompressionType Gzip): {source}")]
    Gunzip {
        uri: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write to the FIFO {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The input mode of a channel's `inputdataconfig.json` entry.
pub(crate) fn input_mode(input_config: &Value) -> &str {
    input_config
        .get("TrainingInputMode")
        .and_then(Value::as_str)
        .unwrap_or("File")
}

/// Whether a channel's `inputdataconfig.json` entry says `CompressionType: Gzip`.
pub(crate) fn is_gzip(input_config: &Value) -> bool {
    input_config.get("CompressionType").and_then(Value::as_str) == Some("Gzip")
}

/// The input-mode rules SageMaker checks once the request is well formed, for one channel; a
/// broken one is the `ValidationException`.
pub(crate) fn check_input_mode(
    channel: &str,
    input_config: &Value,
    file_system: bool,
) -> Result<(), ApiError> {
    let mode = input_mode(input_config);
    if mode != "Pipe" && is_gzip(input_config) {
        // SageMaker's message (CreateTrainingJob, a File mode channel with Gzip); FastFile is
        // taken to be refused alike.
        return Err(ApiError::validation(format!(
            "Invalid compression type for channel {channel}: File mode only supports NONE, got Gzip instead"
        )));
    }
    if mode == "Pipe" && file_system {
        // The emulator's wording: SageMaker documents that file system channels must use File
        // mode, but its exact message for this request was not found.
        return Err(ApiError::validation(format!(
            "Channel {channel}: a FileSystemDataSource channel must use File input mode, got Pipe"
        )));
    }
    Ok(())
}

/// The FIFO of `channel` for `epoch` in the job's input data directory.
pub(crate) fn fifo_path(data_dir: &Path, channel: &str, epoch: u64) -> PathBuf {
    data_dir.join(format!("{channel}_{epoch}"))
}

/// Makes a FIFO (owner read/write), naming it when that fails.
pub(crate) fn make_fifo(path: &Path) -> Result<(), PipeError> {
    nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|source| PipeError::Mkfifo {
        path: path.display().to_string(),
        source,
    })
}

/// The objects of an `S3Prefix` Pipe channel, in key order (each epoch streams them so).
pub(crate) async fn prefix_objects(
    store: &dyn ObjectStore,
    uri: &S3Uri,
    channel: &str,
) -> Result<Vec<S3Uri>, String> {
    let objects = store
        .list(uri)
        .await
        .map_err(|e| format!("ClientError: Data download failed:could not list {uri}: {e}"))?;
    let keys: Vec<S3Uri> = objects
        .into_iter()
        .filter(|o| crate::files::relative_path(&uri.key, &o.uri.key).is_some())
        .map(|o| o.uri)
        .collect();
    if keys.is_empty() {
        return Err(format!(
            "ClientError: No S3 objects found under S3 URL \"{uri}\" given in input data source (channel {channel})"
        ));
    }
    Ok(keys)
}

/// How a channel's objects are streamed: decompressed (`CompressionType: Gzip`), in the order of
/// `ShuffleConfig.Seed` for each epoch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StreamOptions {
    pub gzip: bool,
    pub shuffle_seed: Option<i64>,
}

/// A Pipe channel being streamed; dropping it (the job's end) stops the stream.
pub(crate) struct PipeFeed {
    channel: String,
    task: JoinHandle<()>,
    failure: Arc<Mutex<Option<PipeError>>>,
}

impl PipeFeed {
    /// Why the stream broke off, if it did (the job then fails with it).
    pub(crate) fn failure(&self) -> Option<String> {
        let f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        f.as_ref().map(|e| {
            format!(
                "ClientError: Data download failed:channel {}: {e}",
                self.channel
            )
        })
    }
}

impl Drop for PipeFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Makes `<channel>_0` in `data_dir` and streams `objects` into it, and into each next epoch's
/// FIFO, until the returned feed is dropped.
pub(crate) fn start(
    store: Arc<dyn ObjectStore>,
    data_dir: &Path,
    channel: &str,
    objects: Vec<S3Uri>,
    options: StreamOptions,
) -> Result<PipeFeed, PipeError> {
    make_fifo(&fifo_path(data_dir, channel, 0))?;
    let failure = Arc::new(Mutex::new(None));
    let (dir, name, fail) = (data_dir.to_path_buf(), channel.to_string(), failure.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = feed(store.as_ref(), &dir, &name, &objects, options).await {
            tracing::warn!(target: "mdlc_emulator", channel = %name, error = %e, "pipe channel stopped");
            *fail.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
    });
    Ok(PipeFeed {
        channel: channel.to_string(),
        task,
        failure,
    })
}

/// Prepares a Pipe channel of a training job: makes `<channel>_0` in `data_dir` and starts
/// streaming `objects` (a failure is the job's `FailureReason`).
pub(crate) fn prepare_channel(
    store: Arc<dyn ObjectStore>,
    data_dir: &Path,
    channel: &str,
    objects: Vec<S3Uri>,
    options: StreamOptions,
) -> Result<PipeFeed, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("ClientError: could not create {}: {e}", data_dir.display()))?;
    start(store, data_dir, channel, objects, options)
        .map_err(|e| format!("ClientError: channel {channel}: {e}"))
}

/// The epochs of one channel: open, stream, close, wait for the reader to close, next FIFO.
async fn feed(
    store: &dyn ObjectStore,
    data_dir: &Path,
    channel: &str,
    objects: &[S3Uri],
    options: StreamOptions,
) -> Result<(), PipeError> {
    let mut epoch = 0;
    loop {
        let path = fifo_path(data_dir, channel, epoch);
        if epoch > 0 {
            make_fifo(&path)?;
        }
        let mut tx = open_writer(&path).await?;
        let shuffled = options
            .shuffle_seed
            .map(|seed| crate::shuffle::order(objects, seed, epoch));
        let order = shuffled.as_deref().unwrap_or(objects);
        match stream(store, order, options.gzip, &mut tx, &path).await {
            Ok(()) => {}
            // the algorithm closed the FIFO before its end: its epoch is over
            Err(PipeError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => return Err(e),
        }
        drop(tx);
        wait_until_closed(&path).await?;
        epoch += 1;
    }
}

/// Opens the FIFO for writing once the algorithm has opened it for reading.
async fn open_writer(path: &Path) -> Result<pipe::Sender, PipeError> {
    loop {
        match pipe::OpenOptions::new().open_sender(path) {
            Ok(tx) => return Ok(tx),
            // no reader yet
            Err(e) if e.raw_os_error() == Some(Errno::ENXIO as i32) => {
                tokio::time::sleep(POLL).await
            }
            Err(source) => {
                return Err(PipeError::Open {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
    }
}

/// Waits until no process has the FIFO open for reading (a write end opens only while one has).
async fn wait_until_closed(path: &Path) -> Result<(), PipeError> {
    loop {
        match pipe::OpenOptions::new().open_sender(path) {
            Ok(probe) => {
                drop(probe);
                tokio::time::sleep(POLL).await;
            }
            Err(e) if e.raw_os_error() == Some(Errno::ENXIO as i32) => return Ok(()),
            Err(source) => {
                return Err(PipeError::Open {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
    }
}

/// One epoch: every object, a range at a time, into `tx`.
async fn stream(
    store: &dyn ObjectStore,
    objects: &[S3Uri],
    gzip: bool,
    tx: &mut pipe::Sender,
    path: &Path,
) -> Result<(), PipeError> {
    let write_err = |source| PipeError::Write {
        path: path.display().to_string(),
        source,
    };
    for uri in objects {
        let gunzip_err = |source| PipeError::Gunzip {
            uri: uri.to_string(),
            source,
        };
        let mut decoder = gzip.then(|| GzDecoder::new(Vec::new()));
        let mut offset = 0u64;
        loop {
            let chunk = store
                .get_range(uri, offset, CHUNK)
                .await
                .map_err(|e| PipeError::Read {
                    uri: uri.to_string(),
                    message: e.to_string(),
                })?;
            let n = chunk.len() as u64;
            offset += n;
            match decoder.as_mut() {
                Some(d) => {
                    d.write_all(&chunk).map_err(gunzip_err)?;
                    let out = std::mem::take(d.get_mut());
                    tx.write_all(&out).await.map_err(write_err)?;
                }
                None => tx.write_all(&chunk).await.map_err(write_err)?,
            }
            if n < CHUNK {
                break;
            }
        }
        if let Some(mut d) = decoder {
            d.try_finish().map_err(gunzip_err)?;
            let out = std::mem::take(d.get_mut());
            tx.write_all(&out).await.map_err(write_err)?;
        }
    }
    tx.flush().await.map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdlc_core::memory::InMemoryStore;
    use std::io::Read;

    fn uri(s: &str) -> S3Uri {
        s.parse().unwrap()
    }

    /// Reads a FIFO to its end on a blocking thread (opening waits for the writer).
    async fn read_fifo(path: PathBuf) -> Vec<u8> {
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            std::fs::File::open(&path)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            out
        })
        .await
        .unwrap()
    }

    async fn wait_for(path: &Path) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !path.exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never appeared",
                path.display()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    #[tokio::test]
    async fn each_epoch_streams_the_objects_in_order_and_the_next_fifo_follows_the_close() {
        let store = Arc::new(InMemoryStore::new());
        // larger than a chunk, so that the object is read in ranges
        let big: Vec<u8> = (0..(CHUNK as usize + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        store.put(&uri("s3://bkt/p/a"), big.clone()).await.unwrap();
        store
            .put(&uri("s3://bkt/p/b"), b"tail".to_vec())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let objects = vec![uri("s3://bkt/p/a"), uri("s3://bkt/p/b")];
        let feed = start(
            store,
            dir.path(),
            "train",
            objects,
            StreamOptions::default(),
        )
        .unwrap();
        let mut expected = big;
        expected.extend_from_slice(b"tail");
        assert!(dir.path().join("train_0").exists());
        assert!(!dir.path().join("train_1").exists());
        for epoch in 0..3 {
            let path = fifo_path(dir.path(), "train", epoch);
            wait_for(&path).await;
            assert_eq!(read_fifo(path).await, expected, "epoch {epoch}");
        }
        wait_for(&dir.path().join("train_3")).await;
        assert!(feed.failure().is_none());
    }

    #[tokio::test]
    async fn a_gzip_channel_is_decompressed_and_a_missing_object_fails_the_feed() {
        let store = Arc::new(InMemoryStore::new());
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"1,2\n3,4\n").unwrap();
        store
            .put(&uri("s3://bkt/z/a.csv.gz"), enc.finish().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let _feed = start(
            store.clone(),
            dir.path(),
            "train",
            vec![uri("s3://bkt/z/a.csv.gz")],
            StreamOptions {
                gzip: true,
                shuffle_seed: None,
            },
        )
        .unwrap();
        assert_eq!(read_fifo(dir.path().join("train_0")).await, b"1,2\n3,4\n");

        let feed = start(
            store,
            dir.path(),
            "other",
            vec![uri("s3://bkt/z/none")],
            StreamOptions::default(),
        )
        .unwrap();
        // the reader sees an empty stream; the feed names the object
        assert!(read_fifo(dir.path().join("other_0")).await.is_empty());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while feed.failure().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "no failure");
            tokio::time::sleep(POLL).await;
        }
        let f = feed.failure().unwrap();
        assert!(
            f.starts_with(
                "ClientError: Data download failed:channel other: could not read s3://bkt/z/none"
            ),
            "{f}"
        );
    }

    #[tokio::test]
    async fn with_a_shuffle_seed_each_epoch_streams_the_objects_in_its_own_order() {
        let store = Arc::new(InMemoryStore::new());
        let names: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
        let objects: Vec<S3Uri> = names
            .iter()
            .map(|n| uri(&format!("s3://bkt/s/{n}")))
            .collect();
        for (n, o) in names.iter().zip(&objects) {
            store.put(o, format!("{n};").into_bytes()).await.unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let options = StreamOptions {
            gzip: false,
            shuffle_seed: Some(7),
        };
        let feed = start(store, dir.path(), "train", objects, options).unwrap();
        let mut epochs = Vec::new();
        for epoch in 0..3 {
            let path = fifo_path(dir.path(), "train", epoch);
            wait_for(&path).await;
            epochs.push(String::from_utf8(read_fifo(path).await).unwrap());
        }
        assert!(feed.failure().is_none());
        // each epoch is the shuffle of seed 7 for that epoch
        for (epoch, got) in epochs.iter().enumerate() {
            let expected: String = crate::shuffle::order(&names, 7, epoch as u64)
                .iter()
                .map(|n| format!("{n};"))
                .collect();
            assert_eq!(got, &expected, "epoch {epoch}");
        }
        assert_eq!(
            epochs[0], "k0;k7;k5;k2;k4;k1;k6;k3;",
            "seed 7's first epoch"
        );
        assert_ne!(epochs[0], epochs[1], "reshuffled every epoch");
        assert_ne!(epochs[1], epochs[2]);
    }
}
