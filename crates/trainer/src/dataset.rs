//! In-memory data sets and the CSV reader (label first or features only, no header).
//!
//! Values are `f32` like XGBoost's. An empty field is a missing value (`NaN`) in a feature
//! column; a label must be present and finite.

use std::io::Read;
use std::path::{Path, PathBuf};

/// A dense, row-major matrix of features with one label per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    n_features: usize,
    features: Vec<f32>,
    labels: Vec<f32>,
}

/// Errors of the CSV reader. Every message names the file (or `<input>`) and the 1-based line.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name} line {line}: {message}")]
    Malformed {
        source_name: String,
        line: usize,
        message: String,
    },
    #[error("{source_name}: no data rows")]
    Empty { source_name: String },
    #[error("{source_name} line {line}: {found} feature columns, but earlier rows have {expected}")]
    ColumnCount {
        source_name: String,
        line: usize,
        expected: usize,
        found: usize,
    },
}

/// Whether the first column of each row is the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    LabelFirst,
    FeaturesOnly,
}

impl Dataset {
    /// Builds a data set from row-major features; `features.len()` must be `labels.len() * n_features`.
    pub fn from_parts(
        n_features: usize,
        features: Vec<f32>,
        labels: Vec<f32>,
    ) -> Result<Self, String> {
        if labels.len().checked_mul(n_features) != Some(features.len()) {
            return Err(format!(
                "{} feature values do not fill {} rows of {} features",
                features.len(),
                labels.len(),
                n_features
            ));
        }
        Ok(Dataset {
            n_features,
            features,
            labels,
        })
    }

    /// For callers that build `labels.len() * n_features` values by construction.
    pub(crate) fn from_rows_unchecked(
        n_features: usize,
        features: Vec<f32>,
        labels: Vec<f32>,
    ) -> Self {
        debug_assert_eq!(features.len(), labels.len() * n_features);
        Dataset {
            n_features,
            features,
            labels,
        }
    }

    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// Row-major feature values (`n_rows * n_features`).
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// The features of row `i`, or `None` past the end.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        let start = i.checked_mul(self.n_features)?;
        self.features.get(start..start + self.n_features)
    }

    /// The labels, the feature values dropped.
    pub fn into_labels(self) -> Vec<f32> {
        self.labels
    }

    /// Appends another data set with the same number of features.
    pub fn append(&mut self, other: Dataset) -> Result<(), String> {
        if self.labels.is_empty() && self.features.is_empty() {
            *self = other;
            return Ok(());
        }
        if other.n_rows() == 0 {
            return Ok(());
        }
        if other.n_features != self.n_features {
            return Err(format!(
                "{} feature columns, but earlier files have {}",
                other.n_features, self.n_features
            ));
        }
        self.features.extend(other.features);
        self.labels.extend(other.labels);
        Ok(())
    }

    /// Writes the rows as CSV, label first, no header.
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(self.features.len() * 10);
        for (i, label) in self.labels.iter().enumerate() {
            push_value(&mut out, *label);
            let start = i * self.n_features;
            for v in &self.features[start..start + self.n_features] {
                out.push(',');
                push_value(&mut out, *v);
            }
            out.push('\n');
        }
        out
    }
}

impl Dataset {
    /// Writes the rows `i` with `keep(i)` as CSV to `out`, a row at a time, in the text
    /// [`Dataset::to_csv`] gives them.
    pub fn write_csv_rows(
        &self,
        out: &mut dyn std::io::Write,
        keep: &dyn Fn(usize) -> bool,
    ) -> std::io::Result<()> {
        let mut line = String::with_capacity(16 * (self.n_features + 1));
        for (i, label) in self.labels.iter().enumerate() {
            if !keep(i) {
                continue;
            }
            line.clear();
            push_value(&mut line, *label);
            let start = i * self.n_features;
            for v in &self.features[start..start + self.n_features] {
                line.push(',');
                push_value(&mut line, *v);
            }
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

/// Appends one row (label first) as [`Dataset::to_csv`] writes it, newline included.
pub fn push_csv_row(out: &mut String, label: f32, features: &[f32]) {
    push_value(out, label);
    for v in features {
        out.push(',');
        push_value(out, *v);
    }
    out.push('\n');
}

fn push_value(out: &mut String, v: f32) {
    use std::fmt::Write;
    if !v.is_nan() {
        let _ = write!(out, "{v}");
    }
}

/// Parses CSV text. `source_name` is used in error messages. With [`Layout::FeaturesOnly`]
/// every label is 0. Blank lines are skipped. Parsing runs on up to `threads` threads.
pub fn parse_csv(
    text: &str,
    layout: Layout,
    source_name: &str,
    threads: usize,
) -> Result<Dataset, CsvError> {
    let chunks = split_at_lines(text, threads.max(1));
    let results: Vec<Result<Chunk, ChunkError>> = if chunks.len() <= 1 {
        chunks
            .iter()
            .map(|&(offset, part)| parse_chunk(part, offset, layout))
            .collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|&(offset, part)| scope.spawn(move || parse_chunk(part, offset, layout)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(ChunkError {
                            offset: 0,
                            kind: ChunkErrorKind::Message("CSV parser thread failed".into()),
                        })
                    })
                })
                .collect()
        })
    };
    let line_of = |offset: usize| {
        text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    };
    let mut n_features: Option<(usize, usize)> = None;
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for result in results {
        let chunk = result.map_err(|e| match e.kind {
            ChunkErrorKind::Message(message) => CsvError::Malformed {
                source_name: source_name.to_string(),
                line: line_of(e.offset),
                message,
            },
            ChunkErrorKind::Columns { expected, found } => CsvError::ColumnCount {
                source_name: source_name.to_string(),
                line: line_of(e.offset),
                expected,
                found,
            },
        })?;
        let Some((nf, first_offset)) = chunk.n_features else {
            continue;
        };
        match n_features {
            None => n_features = Some((nf, first_offset)),
            Some((expected, _)) if expected != nf => {
                return Err(CsvError::ColumnCount {
                    source_name: source_name.to_string(),
                    line: line_of(first_offset),
                    expected,
                    found: nf,
                });
            }
            Some(_) => {}
        }
        if features.is_empty() {
            features = chunk.features;
            labels = chunk.labels;
        } else {
            features.extend(chunk.features);
            labels.extend(chunk.labels);
        }
    }
    match n_features {
        None => Err(CsvError::Empty {
            source_name: source_name.to_string(),
        }),
        Some((n_features, _)) => Ok(Dataset {
            n_features,
            features,
            labels,
        }),
    }
}

/// Reads and parses one CSV file, streaming (see [`read_csv_reader`]).
pub fn read_csv_file(path: &Path, layout: Layout, threads: usize) -> Result<Dataset, CsvError> {
    let name = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|source| CsvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_csv_reader(&mut file, layout, &name, READ_CHUNK_BYTES, threads)?
        .ok_or(CsvError::Empty { source_name: name })
}

/// The bytes of text [`read_csv_file`] reads at a time.
pub const READ_CHUNK_BYTES: usize = 4 << 20;

/// Reads CSV rows from `source` about `chunk` bytes at a time (plus the unfinished line carried
/// over to the next chunk), parsing each chunk into the data set as it comes: what is held is
/// the `f32` values and one chunk of text, never the whole text. Errors name `source_name` and
/// the line counted from the start of the stream, as [`parse_csv`] of the whole text would.
/// `Ok(None)` when the stream holds no rows.
pub fn read_csv_reader(
    source: &mut dyn Read,
    layout: Layout,
    source_name: &str,
    chunk: usize,
    threads: usize,
) -> Result<Option<Dataset>, CsvError> {
    let mut data: Option<Dataset> = None;
    for_each_csv_chunk(source, layout, source_name, chunk, threads, &mut |ds| {
        match data.as_mut() {
            None => data = Some(ds),
            Some(acc) => {
                acc.features.extend_from_slice(&ds.features);
                acc.labels.extend_from_slice(&ds.labels);
            }
        }
        Ok(())
    })?;
    Ok(data.filter(|d| d.n_rows() > 0))
}

/// Reads CSV rows from `source` as [`read_csv_reader`] does, but hands the rows of each chunk
/// to `each` as they are parsed instead of keeping them: what is held is one chunk of text
/// and its values. Every chunk has the number of features of the first (else the error
/// [`read_csv_reader`] gives); an error from `each` stops the reading and is returned.
pub fn for_each_csv_chunk(
    source: &mut dyn Read,
    layout: Layout,
    source_name: &str,
    chunk: usize,
    threads: usize,
    each: &mut dyn FnMut(Dataset) -> Result<(), CsvError>,
) -> Result<(), CsvError> {
    let chunk = chunk.max(1);
    let mut n_features: Option<usize> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(chunk);
    // lines of the stream before `buf`
    let mut lines_before = 0usize;
    let mut at_end = false;
    while !at_end {
        let before = buf.len();
        buf.resize(before + chunk, 0);
        let mut filled = before;
        while filled < buf.len() {
            match source.read(&mut buf[filled..]) {
                Ok(0) => {
                    at_end = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CsvError::Io {
                        path: PathBuf::from(source_name),
                        source,
                    });
                }
            }
        }
        buf.truncate(filled);
        let complete = if at_end {
            buf.len()
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => continue, // one line longer than a chunk: read on
            }
        };
        let part = &buf[..complete];
        let text = std::str::from_utf8(part).map_err(|e| CsvError::Malformed {
            source_name: source_name.to_string(),
            line: lines_before + count_newlines(&part[..e.valid_up_to()]) + 1,
            message: "the line is not UTF-8 text".into(),
        })?;
        if !text.trim().is_empty() {
            let ds = parse_csv(text, layout, source_name, threads).map_err(|e| match e {
                CsvError::Malformed {
                    source_name,
                    line,
                    message,
                } => CsvError::Malformed {
                    source_name,
                    line: line + lines_before,
                    message,
                },
                CsvError::ColumnCount {
                    source_name,
                    line,
                    expected,
                    found,
                } => CsvError::ColumnCount {
                    source_name,
                    line: line + lines_before,
                    expected,
                    found,
                },
                other => other,
            })?;
            match n_features {
                None => n_features = Some(ds.n_features),
                Some(expected) if expected != ds.n_features => {
                    let first_row = text
                        .split_inclusive('\n')
                        .position(|l| !l.trim().is_empty())
                        .unwrap_or(0);
                    return Err(CsvError::ColumnCount {
                        source_name: source_name.to_string(),
                        line: lines_before + first_row + 1,
                        expected,
                        found: ds.n_features,
                    });
                }
                Some(_) => {}
            }
            each(ds)?;
        }
        lines_before += count_newlines(part);
        buf.drain(..complete);
    }
    Ok(())
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

struct Chunk {
    /// Number of features and the byte offset of the first row.
    n_features: Option<(usize, usize)>,
    features: Vec<f32>,
    labels: Vec<f32>,
}

struct ChunkError {
    offset: usize,
    kind: ChunkErrorKind,
}

enum ChunkErrorKind {
    Message(String),
    Columns { expected: usize, found: usize },
}

fn split_at_lines(text: &str, parts: usize) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 1..parts {
        let mut cut = (text.len() * k / parts).max(start);
        while cut < bytes.len() && bytes[cut] != b'\n' {
            cut += 1;
        }
        if cut < bytes.len() {
            cut += 1; // keep the newline with the earlier part
        }
        if cut > start {
            out.push((start, &text[start..cut]));
            start = cut;
        }
    }
    if start < text.len() || out.is_empty() {
        out.push((start, &text[start..]));
    }
    out
}

fn parse_chunk(part: &str, base: usize, layout: Layout) -> Result<Chunk, ChunkError> {
    let mut n_features: Option<(usize, usize)> = None;
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut offset = base;
    for raw_line in part.split_inclusive('\n') {
        let line_offset = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| ChunkError {
            offset: line_offset,
            kind: ChunkErrorKind::Message(message),
        };
        let mut fields = line.split(',');
        let mut count = 0usize;
        if layout == Layout::LabelFirst {
            let field = fields.next().unwrap_or("").trim();
            if field.is_empty() {
                return Err(err("column 1 (the label) is empty".into()));
            }
            let label: f32 = field
                .parse()
                .map_err(|_| err(format!("column 1 (the label): {field:?} is not a number")))?;
            if !label.is_finite() {
                return Err(err(format!(
                    "column 1 (the label): {field:?} is not a finite number"
                )));
            }
            labels.push(label);
        } else {
            labels.push(0.0);
        }
        let first_col = if layout == Layout::LabelFirst { 2 } else { 1 };
        for field in fields {
            let field = field.trim();
            let value = if field.is_empty() {
                f32::NAN
            } else {
                field.parse::<f32>().map_err(|_| {
                    err(format!(
                        "column {}: {field:?} is not a number",
                        first_col + count
                    ))
                })?
            };
            if value.is_infinite() {
                return Err(err(format!(
                    "column {}: {field:?} is not a finite number",
                    first_col + count
                )));
            }
            features.push(value);
            count += 1;
        }
        match n_features {
            None => {
                if count == 0 {
                    return Err(err("the row has no feature columns".into()));
                }
                n_features = Some((count, line_offset));
            }
            Some((expected, _)) if expected != count => {
                return Err(ChunkError {
                    offset: line_offset,
                    kind: ChunkErrorKind::Columns {
                        expected,
                        found: count,
                    },
                });
            }
            Some(_) => {}
        }
    }
    Ok(Chunk {
        n_features,
        features,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_label_first_csv_when_parsed_then_rows_and_missing_values_are_kept() {
        let ds = parse_csv("1,2,3\n0,,5\r\n\n", Layout::LabelFirst, "x.csv", 1).unwrap();
        assert_eq!(ds.n_rows(), 2);
        assert_eq!(ds.n_features(), 2);
        assert_eq!(ds.labels(), &[1.0, 0.0]);
        assert!(ds.row(1).unwrap()[0].is_nan());
        assert_eq!(ds.row(1).unwrap()[1], 5.0);
    }

    #[test]
    fn given_bad_number_when_parsed_then_error_names_file_line_and_column() {
        let text = "1,2,3\n0,1,2\n1,abc,3\n";
        for threads in [1, 2, 3] {
            let err = parse_csv(text, Layout::LabelFirst, "train.csv", threads).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("train.csv line 3"), "{msg}");
            assert!(msg.contains("column 2"), "{msg}");
        }
    }

    #[test]
    fn given_ragged_rows_when_parsed_with_threads_then_column_count_error_has_line() {
        let mut text = String::new();
        for _ in 0..50 {
            text.push_str("1,2,3\n");
        }
        text.push_str("1,2\n");
        let err = parse_csv(&text, Layout::LabelFirst, "t.csv", 2).unwrap_err();
        assert!(
            matches!(
                err,
                CsvError::ColumnCount {
                    line: 51,
                    expected: 2,
                    found: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn given_empty_text_when_parsed_then_empty_error() {
        let err = parse_csv("\n\n", Layout::LabelFirst, "e.csv", 2).unwrap_err();
        assert!(matches!(err, CsvError::Empty { .. }));
    }

    #[test]
    fn given_missing_label_when_parsed_then_error() {
        let err = parse_csv(",1,2\n", Layout::LabelFirst, "e.csv", 1).unwrap_err();
        assert!(err.to_string().contains("label"), "{err}");
    }

    #[test]
    fn given_multithreaded_parse_when_compared_with_single_then_identical() {
        let mut text = String::new();
        for i in 0..1000 {
            text.push_str(&format!("{},{}.5,{}\n", i % 2, i, i * 3));
        }
        let a = parse_csv(&text, Layout::LabelFirst, "a", 1).unwrap();
        let b = parse_csv(&text, Layout::LabelFirst, "a", 4).unwrap();
        assert_eq!(a, b);
        let again = parse_csv(&a.to_csv(), Layout::LabelFirst, "a", 2).unwrap();
        assert_eq!(a, again);
    }

    fn numbered_rows(n: usize) -> String {
        (0..n)
            .map(|i| format!("{},{}.25,,{}\n", i % 3, i, i * 7))
            .collect()
    }

    #[test]
    fn given_a_stream_read_in_chunks_when_parsed_then_the_rows_of_the_whole_text() {
        let text = numbered_rows(700);
        let whole = parse_csv(&text, Layout::LabelFirst, "w", 1).unwrap();
        for chunk in [1, 5, 64, 4096, 1 << 20] {
            for threads in [1, 3] {
                let mut src = text.as_bytes();
                let ds = read_csv_reader(&mut src, Layout::LabelFirst, "s", chunk, threads)
                    .unwrap()
                    .unwrap();
                assert_eq!(ds.labels(), whole.labels(), "chunk {chunk}");
                assert_eq!(ds.to_csv(), whole.to_csv(), "chunk {chunk}");
            }
        }
        let mut blank: &[u8] = b"\n \n";
        assert!(
            read_csv_reader(&mut blank, Layout::LabelFirst, "b", 2, 1)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn given_a_bad_row_in_a_later_chunk_when_streamed_then_the_line_counts_from_the_start() {
        let mut text = numbered_rows(300);
        text.push_str("1,x,2,3\n");
        let mut src = text.as_bytes();
        let err = read_csv_reader(&mut src, Layout::LabelFirst, "t.csv", 100, 2).unwrap_err();
        assert!(
            matches!(&err, CsvError::Malformed { line: 301, source_name, .. } if source_name == "t.csv"),
            "{err}"
        );
        let mut text = numbered_rows(300);
        text.push_str("\n1,2\n");
        let mut src = text.as_bytes();
        let err = read_csv_reader(&mut src, Layout::LabelFirst, "t.csv", 100, 1).unwrap_err();
        assert!(
            matches!(
                err,
                CsvError::ColumnCount {
                    line: 302,
                    expected: 3,
                    found: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn given_a_file_when_read_then_it_streams_to_the_same_rows_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let text = numbered_rows(50);
        std::fs::write(&path, &text).unwrap();
        let ds = read_csv_file(&path, Layout::LabelFirst, 2).unwrap();
        // (NaN != NaN, so the rows are compared as text)
        assert_eq!(ds.n_rows(), 50);
        assert_eq!(ds.to_csv(), text);
        assert_eq!(
            ds.to_csv(),
            parse_csv(&text, Layout::LabelFirst, "x", 1)
                .unwrap()
                .to_csv()
        );
        std::fs::write(&path, "\n").unwrap();
        let err = read_csv_file(&path, Layout::LabelFirst, 1).unwrap_err();
        assert!(matches!(err, CsvError::Empty { .. }), "{err}");
        assert!(err.to_string().contains("d.csv"), "{err}");
    }

    #[test]
    fn given_rows_written_a_row_at_a_time_then_the_text_is_to_csv_of_those_rows() {
        let ds = parse_csv(&numbered_rows(20), Layout::LabelFirst, "x", 1).unwrap();
        let mut all = Vec::new();
        ds.write_csv_rows(&mut all, &|_| true).unwrap();
        assert_eq!(String::from_utf8(all).unwrap(), ds.to_csv());
        let mut even = Vec::new();
        ds.write_csv_rows(&mut even, &|i| i % 2 == 0).unwrap();
        let expected: String = ds.to_csv().split_inclusive('\n').step_by(2).collect();
        assert_eq!(String::from_utf8(even).unwrap(), expected);
        assert_eq!(expected.lines().count(), 10);
    }

    #[test]
    fn given_features_only_layout_when_parsed_then_all_columns_are_features() {
        let ds = parse_csv("1,2\n3,4\n", Layout::FeaturesOnly, "p", 1).unwrap();
        assert_eq!(ds.n_features(), 2);
        assert_eq!(ds.row(1).unwrap(), &[3.0, 4.0]);
    }

    /// Appending adds rows, also to a data set of labels only (no feature column).
    #[test]
    fn appending_label_only_data_sets_keeps_every_row() {
        let mut a = Dataset::from_parts(0, vec![], vec![1.0, 2.0]).unwrap();
        a.append(Dataset::from_parts(0, vec![], vec![3.0]).unwrap())
            .unwrap();
        assert_eq!(a.labels(), &[1.0, 2.0, 3.0]);
    }

    /// A file is read in chunks of 4 MiB into the same rows as the text parsed whole; a stream
    /// of blank lines holds no rows.
    #[test]
    fn a_file_is_read_in_four_mib_chunks_into_the_rows_of_its_text() {
        assert_eq!(READ_CHUNK_BYTES, 4 * 1024 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.csv");
        let text = "1,2,3\n0,4,5\n";
        std::fs::write(&path, text).unwrap();
        let read = read_csv_file(&path, Layout::LabelFirst, 1).unwrap();
        assert_eq!(read, parse_csv(text, Layout::LabelFirst, "x", 1).unwrap());
        let blank = read_csv_reader(&mut "\n\n\n".as_bytes(), Layout::LabelFirst, "b", 2, 1);
        assert!(matches!(blank, Ok(None)), "{blank:?}");
    }

    /// A reader that fails (other than by an interruption) ends the reading with Io naming
    /// the source; an interrupted read is tried again.
    #[test]
    fn a_failing_reader_is_an_io_error_and_an_interrupted_one_is_retried() {
        struct Failing(std::io::ErrorKind, usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.1 == 0 {
                    return Ok(0);
                }
                self.1 -= 1;
                if self.0 == std::io::ErrorKind::Interrupted && self.1 == 0 {
                    buf[..6].copy_from_slice(b"1,2,3\n");
                    return Ok(6);
                }
                Err(std::io::Error::from(self.0))
            }
        }
        let failed = read_csv_reader(
            &mut Failing(std::io::ErrorKind::Other, 1),
            Layout::LabelFirst,
            "s3://b/k",
            64,
            1,
        );
        assert!(
            matches!(&failed, Err(CsvError::Io { path, .. }) if path == Path::new("s3://b/k")),
            "{failed:?}"
        );
        let retried = read_csv_reader(
            &mut Failing(std::io::ErrorKind::Interrupted, 3),
            Layout::LabelFirst,
            "s",
            64,
            1,
        );
        assert_eq!(retried.unwrap().map(|d| d.n_rows()), Some(1));
    }

    /// Errors in a later chunk name the line counted from the start of the stream: text that
    /// is not UTF-8 and a row with another number of columns than the first chunk's.
    #[test]
    fn errors_in_a_later_chunk_name_the_line_of_the_stream() {
        let mut bad_utf8: &[u8] = b"1,2\n3,4\n5,6\n7,\xff\n";
        match read_csv_reader(&mut bad_utf8, Layout::LabelFirst, "t.csv", 8, 1) {
            Err(CsvError::Malformed { line, message, .. }) => {
                assert_eq!((line, message.as_str()), (4, "the line is not UTF-8 text"));
            }
            other => panic!("{other:?}"),
        }
        let mut wider: &[u8] = b"1,2\n3,4\n5,6,7\n";
        match read_csv_reader(&mut wider, Layout::LabelFirst, "t.csv", 8, 1) {
            Err(CsvError::ColumnCount {
                line,
                expected,
                found,
                ..
            }) => assert_eq!((line, expected, found), (3, 1, 2)),
            other => panic!("{other:?}"),
        }
        // the later chunk starts with a blank line: the wider row is the stream's line 4
        let mut after_blank: &[u8] = b"1,2\n3,4\n\n5,6,7\n";
        match read_csv_reader(&mut after_blank, Layout::LabelFirst, "t.csv", 8, 1) {
            Err(CsvError::ColumnCount { line, .. }) => assert_eq!(line, 4),
            other => panic!("{other:?}"),
        }
    }

    /// Near-equal parts, each cut moved on to the end of its line (the newline stays with the
    /// earlier part), no empty part but the only one of an empty text.
    #[test]
    fn text_is_split_into_near_equal_parts_at_line_ends() {
        let lines16 = "1,2\n3,4\n5,6\n7,8\n";
        assert_eq!(
            split_at_lines(lines16, 2),
            [(0, "1,2\n3,4\n5,6\n"), (12, "7,8\n")]
        );
        let ones = "1\n".repeat(15);
        assert_eq!(
            split_at_lines(&ones, 3),
            [(0, &ones[..12]), (12, &ones[12..22]), (22, &ones[22..])]
        );
        assert_eq!(split_at_lines("1,2\n", 3), [(0, "1,2\n")]);
        assert_eq!(split_at_lines("1,2", 2), [(0, "1,2")]);
        assert_eq!(split_at_lines("", 2), [(0, "")]);
    }

    /// However many threads parse it, a text gives the rows one thread gives: with and without
    /// a last newline, blank lines, fewer lines than threads.
    #[test]
    fn every_thread_count_parses_the_same_rows() {
        for text in [
            "1,2\n3,4",
            "1,2\n3,4\n",
            "1,2",
            "\n\n1,2\n",
            "1,2\n\n\n3,4",
            "1,2\n3,4\n5,6\n7,8\n",
        ] {
            let one = parse_csv(text, Layout::LabelFirst, "t", 1).unwrap();
            for threads in 2..=8 {
                assert_eq!(
                    parse_csv(text, Layout::LabelFirst, "t", threads).unwrap(),
                    one,
                    "{text:?} {threads}"
                );
            }
        }
    }
}
