//! Pipe input mode, as SageMaker's container contract has it: a channel whose `TrainingInputMode`
//! (in `inputdataconfig.json`) is `Pipe` is not a directory but a series of FIFOs in the input
//! data directory, `<channel>_0`, `<channel>_1`, … — one per epoch, each streaming the channel's
//! objects once; the next epoch's FIFO appears after the previous one was read to its end and
//! closed.
//!
//! The built-in trainer reads its data once into its matrix (as SageMaker XGBoost's Pipe reader
//! does), so it reads epoch 0 only: [`read_pipe_channel`] opens `<channel>_0`, reads it as a
//! stream a bounded chunk at a time (the complete lines of each chunk are parsed and appended;
//! the unfinished last line waits for the next chunk) and never expects a regular file.
//!
//! SageMaker's built-in XGBoost accepts Pipe for CSV, Parquet and RecordIO-protobuf, not for
//! LibSVM (its channel validation refuses the combination at start-up); this trainer reads CSV
//! in either mode.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::dataset::{CsvError, Dataset, Layout, read_csv_reader};

/// Why a Pipe channel could not be read (the job's failure: `JobError::Channel` / `Csv`).
#[derive(Debug, thiserror::Error)]
pub enum PipeReadError {
    #[error("channel {channel}: {message}")]
    Channel { channel: String, message: String },
    #[error(transparent)]
    Csv(#[from] CsvError),
}

/// Bytes read from a FIFO before the complete lines among them are parsed.
pub const CHUNK_BYTES: usize = 4 << 20;

/// The FIFO of `channel` for `epoch`: `<data_dir>/<channel>_<epoch>`
/// (`/opt/ml/input/data/train_0`, …).
pub fn fifo_path(data_dir: &Path, channel: &str, epoch: u64) -> PathBuf {
    data_dir.join(format!("{channel}_{epoch}"))
}

/// Whether a channel's `inputdataconfig.json` entry says `Pipe`.
pub fn is_pipe(config: Option<&Value>) -> bool {
    config
        .and_then(|c| c.get("TrainingInputMode"))
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("pipe"))
}

/// A JSON object as Python prints a dict (`{'ContentType': 'text/libsvm', ...}`): how SageMaker
/// XGBoost's channel validation shows the channel configuration it refuses.
pub fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    python_repr(&Value::String(k.clone())),
                    python_repr(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn channel_error(channel: &str, message: String) -> PipeReadError {
    PipeReadError::Channel {
        channel: channel.into(),
        message,
    }
}

/// Reads CSV rows (label first) from `source` a chunk of at most `chunk` bytes (plus the
/// unfinished line carried over) at a time, as [`read_csv_reader`] reads a file; a bad row is
/// named by the stream and its line. `None` when the stream holds no rows.
pub fn read_csv_stream(
    channel: &str,
    source: &mut dyn Read,
    name: &str,
    chunk: usize,
    threads: usize,
) -> Result<Option<Dataset>, PipeReadError> {
    read_csv_reader(source, Layout::LabelFirst, name, chunk, threads).map_err(|e| match e {
        CsvError::Io { source, .. } => {
            channel_error(channel, format!("cannot read {name}: {source}"))
        }
        other => other.into(),
    })
}

/// Reads a Pipe channel: its epoch-0 FIFO in `data_dir`, read to its end and closed.
pub fn read_pipe_channel(
    channel: &str,
    data_dir: &Path,
    threads: usize,
) -> Result<Dataset, PipeReadError> {
    let path = fifo_path(data_dir, channel, 0);
    let shown = path.display().to_string();
    // Opening a FIFO waits for its writer (the platform streaming the channel).
    let mut file = std::fs::File::open(&path).map_err(|e| {
        channel_error(
            channel,
            format!("cannot open the Pipe mode FIFO {shown}: {e}"),
        )
    })?;
    let data = read_csv_stream(channel, &mut file, &shown, CHUNK_BYTES, threads)?;
    drop(file); // closed: the platform may make the next epoch's FIFO
    data.ok_or_else(|| channel_error(channel, format!("no data rows in {shown}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::parse_csv;

    fn rows(n: usize) -> String {
        (0..n)
            .map(|i| format!("{},{},{}\n", i % 7, i, i * 2))
            .collect()
    }

    #[test]
    fn a_stream_read_in_small_chunks_gives_the_rows_of_the_whole_text() {
        let text = rows(500);
        let whole = parse_csv(&text, Layout::LabelFirst, "whole", 1).unwrap();
        for chunk in [1, 7, 64, 1 << 20] {
            let mut src = text.as_bytes();
            let ds = read_csv_stream("train", &mut src, "pipe", chunk, 2)
                .unwrap()
                .unwrap();
            assert_eq!(ds.n_rows(), 500, "chunk {chunk}");
            assert_eq!(ds.labels(), whole.labels(), "chunk {chunk}");
            assert_eq!(ds.features(), whole.features(), "chunk {chunk}");
        }
    }

    #[test]
    fn a_stream_without_a_final_newline_or_rows_is_read_as_such() {
        let mut src: &[u8] = b"1,2,3\n4,5,6";
        let ds = read_csv_stream("train", &mut src, "pipe", 4, 1)
            .unwrap()
            .unwrap();
        assert_eq!(ds.n_rows(), 2);
        assert_eq!(ds.labels(), &[1.0, 4.0]);
        let mut empty: &[u8] = b"\n\n";
        assert!(
            read_csv_stream("train", &mut empty, "pipe", 4, 1)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_bad_row_in_a_later_chunk_is_named_with_the_stream() {
        let mut text = rows(50);
        text.push_str("1,x,2\n");
        let mut src = text.as_bytes();
        let err = read_csv_stream("train", &mut src, "/d/train_0", 64, 1).unwrap_err();
        match err {
            PipeReadError::Csv(CsvError::Malformed {
                source_name, line, ..
            }) => assert_eq!((source_name.as_str(), line), ("/d/train_0", 51)),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn the_refused_configuration_prints_as_a_python_dict() {
        let v = serde_json::json!({"ContentType": "text/libsvm", "TrainingInputMode": "Pipe", "n": 1, "x": null});
        assert_eq!(
            python_repr(&v),
            "{'ContentType': 'text/libsvm', 'TrainingInputMode': 'Pipe', 'n': 1, 'x': None}"
        );
    }

    /// Pipe mode's FIFOs are `<channel>_<epoch>` in the data directory, read 4 MiB at a time.
    #[test]
    fn a_channels_fifo_is_named_by_channel_and_epoch() {
        assert_eq!(
            fifo_path(Path::new("/opt/ml/input/data"), "train", 0),
            Path::new("/opt/ml/input/data/train_0")
        );
        assert_eq!(CHUNK_BYTES, 4 * 1024 * 1024);
    }
}
