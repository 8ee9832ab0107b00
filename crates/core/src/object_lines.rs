//! Reading a stored object a line at a time, a range at a time ([`ObjectStore::get_range`]), so
//! that a handler streams an object of any size in memory bounded by the range size and its
//! longest line.
//!
//! [`ObjectLines`] gives the lines `str::lines` gives of the whole text: split at `\n`, a `\r`
//! before it dropped, the last line without its end, and no line after a final `\n`; a line split
//! across two ranges comes out whole. [`Rows`] adds the convention of the batch files (feature,
//! ground-truth and prediction CSV): blank lines at the end are not rows, a blank line before a
//! row is reported with it.

use crate::error::PortError;
use crate::ports::ObjectStore;
use crate::s3uri::S3Uri;

/// The range read at a time by default: 4 MiB.
pub const DEFAULT_RANGE_BYTES: u64 = 4 << 20;

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LinesError {
    /// The store failed (`PortError::NotFound` when the object does not exist).
    #[error("{0}")]
    Store(#[from] PortError),
    /// A line is not UTF-8 text.
    #[error("{uri} line {line}: not UTF-8 text: {source}")]
    NotUtf8 {
        uri: String,
        line: u64,
        source: std::str::Utf8Error,
    },
}

/// The lines of one object, read a range at a time.
pub struct ObjectLines<'s> {
    store: &'s dyn ObjectStore,
    uri: S3Uri,
    range: u64,
    /// Where the next range starts.
    offset: u64,
    /// Bytes read and not yet returned start at `start`; `scanned` bytes from there hold no `\n`.
    buf: Vec<u8>,
    start: usize,
    scanned: usize,
    /// The last range has been read.
    end: bool,
    /// The number of the last line returned (1-based; 0 before the first).
    line: u64,
}

impl<'s> ObjectLines<'s> {
    /// Lines of `uri`, read `range` bytes at a time (at least 1).
    pub fn new(store: &'s dyn ObjectStore, uri: S3Uri, range: u64) -> Self {
        ObjectLines {
            store,
            uri,
            range: range.max(1),
            offset: 0,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            end: false,
            line: 0,
        }
    }

    /// The object read.
    pub fn uri(&self) -> &S3Uri {
        &self.uri
    }

    /// The number of the last line returned (1-based).
    pub fn line_number(&self) -> u64 {
        self.line
    }

    /// The next line without its end (`\n` or `\r\n`), `None` after the last.
    pub async fn next_line(&mut self) -> Result<Option<&str>, LinesError> {
        let (from, to, next) = loop {
            let unread = &self.buf[self.start..];
            if let Some(at) = unread[self.scanned..].iter().position(|&b| b == b'\n') {
                let newline = self.start + self.scanned + at;
                let to = if newline > self.start && self.buf[newline - 1] == b'\r' {
                    newline - 1
                } else {
                    newline
                };
                break (self.start, to, newline + 1);
            }
            if self.end {
                if unread.is_empty() {
                    return Ok(None);
                }
                break (self.start, self.buf.len(), self.buf.len());
            }
            self.scanned = unread.len();
            self.read_range().await?;
        };
        self.start = next;
        self.scanned = 0;
        self.line += 1;
        std::str::from_utf8(&self.buf[from..to])
            .map(Some)
            .map_err(|source| LinesError::NotUtf8 {
                uri: self.uri.to_string(),
                line: self.line,
                source,
            })
    }

    /// Drops what was returned and appends the next range; a short range is the last.
    async fn read_range(&mut self) -> Result<(), PortError> {
        self.buf.drain(..self.start);
        self.start = 0;
        let bytes = self
            .store
            .get_range(&self.uri, self.offset, self.range)
            .await?;
        self.offset += bytes.len() as u64;
        self.end = (bytes.len() as u64) < self.range;
        self.buf.extend_from_slice(&bytes);
        Ok(())
    }
}

/// One row of a batch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// Its line number (1-based).
    pub line: u64,
    pub text: &'a str,
    /// The number of the first of the blank lines just before it, if any: a blank line inside
    /// the data, which the caller refuses or skips.
    pub blank_before: Option<u64>,
}

/// The rows of a batch file: its lines up to the last one that is not blank (a line of
/// whitespace is blank), as the whole-text parsers count them.
pub struct Rows<'s> {
    lines: ObjectLines<'s>,
}

impl<'s> Rows<'s> {
    pub fn new(lines: ObjectLines<'s>) -> Self {
        Rows { lines }
    }

    /// The object read.
    pub fn uri(&self) -> &S3Uri {
        self.lines.uri()
    }

    /// The next row, `None` once only blank lines (or nothing) are left.
    pub async fn next_row(&mut self) -> Result<Option<Row<'_>>, LinesError> {
        let mut blank_before = None;
        // Blank lines are skipped (their first number kept) until a row or the end.
        loop {
            let line = self.lines.line_number() + 1;
            match self.lines.next_line().await? {
                None => return Ok(None),
                Some(text) if text.trim().is_empty() => {
                    blank_before.get_or_insert(line);
                }
                Some(_) => break,
            }
        }
        // The borrow of the row's text is taken again once the loop no longer holds it.
        let line = self.lines.line_number();
        let text = self.lines.current();
        Ok(Some(Row {
            line,
            text,
            blank_before,
        }))
    }
}

impl ObjectLines<'_> {
    /// The last line returned by [`ObjectLines::next_line`] (valid UTF-8: it was checked then).
    fn current(&self) -> &str {
        let end = self.start;
        let mut to = end;
        if to > 0 && self.buf.get(to - 1) == Some(&b'\n') {
            to -= 1;
            if to > 0 && self.buf.get(to - 1) == Some(&b'\r') {
                to -= 1;
            }
        }
        let from = self.buf[..to]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        std::str::from_utf8(&self.buf[from..to]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::ports::ObjectInfo;

    /// One object in memory that answers only ranged reads, and records them.
    struct RangedObject {
        uri: S3Uri,
        body: Vec<u8>,
        ranges: Mutex<Vec<(u64, u64)>>,
    }

    impl RangedObject {
        fn new(body: &[u8]) -> Self {
            RangedObject {
                uri: "s3://bkt/k.csv".parse().unwrap(),
                body: body.to_vec(),
                ranges: Mutex::new(Vec::new()),
            }
        }
    }

    #[async_trait]
    impl ObjectStore for RangedObject {
        async fn get(&self, _: &S3Uri) -> Result<Vec<u8>, PortError> {
            panic!("the reader must read ranges, not the whole object");
        }
        async fn get_range(
            &self,
            uri: &S3Uri,
            offset: u64,
            len: u64,
        ) -> Result<Vec<u8>, PortError> {
            if *uri != self.uri {
                return Err(PortError::not_found(uri.to_string()));
            }
            self.ranges.lock().unwrap().push((offset, len));
            let start = (offset as usize).min(self.body.len());
            let end = (start + len as usize).min(self.body.len());
            Ok(self.body[start..end].to_vec())
        }
        async fn put(&self, _: &S3Uri, _: Vec<u8>) -> Result<(), PortError> {
            unreachable!()
        }
        async fn list(&self, _: &S3Uri) -> Result<Vec<ObjectInfo>, PortError> {
            unreachable!()
        }
        async fn exists(&self, _: &S3Uri) -> Result<bool, PortError> {
            unreachable!()
        }
    }

    async fn lines_of(body: &[u8], range: u64) -> Vec<String> {
        let store = RangedObject::new(body);
        let mut lines = ObjectLines::new(&store, store.uri.clone(), range);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            out.push(line.to_string());
            assert_eq!(lines.line_number(), out.len() as u64);
        }
        out
    }

    #[tokio::test]
    async fn lines_split_across_ranges_come_out_as_str_lines_gives_them() {
        let texts = [
            "",
            "a",
            "a\n",
            "\n",
            "\n\n",
            "one,two\nthree\n\nfour",
            "x\r\ny\r\n",
            "crlf split\r\nacross\r\n\r\nranges\r\nlast",
            "a lone \r inside\nand at the end\r",
            "0.1\n0.25\n0.5\n\n\n",
            "ünïcödé, multi-byte → split\nanywhere ✓\n",
        ];
        for text in texts {
            let want: Vec<String> = text.lines().map(str::to_string).collect();
            for range in 1..=9 {
                assert_eq!(
                    lines_of(text.as_bytes(), range).await,
                    want,
                    "{text:?} in ranges of {range}"
                );
            }
            assert_eq!(
                lines_of(text.as_bytes(), DEFAULT_RANGE_BYTES).await,
                want,
                "{text:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_object_is_read_in_ranges_of_the_given_size_once() {
        let store = RangedObject::new(b"0123456789\nabc\n");
        let mut lines = ObjectLines::new(&store, store.uri.clone(), 4);
        assert_eq!(lines.next_line().await.unwrap(), Some("0123456789"));
        assert_eq!(lines.next_line().await.unwrap(), Some("abc"));
        assert_eq!(lines.next_line().await.unwrap(), None);
        assert_eq!(lines.next_line().await.unwrap(), None);
        // 15 bytes: three full ranges, then a short one that ends the object.
        assert_eq!(
            *store.ranges.lock().unwrap(),
            [(0, 4), (4, 4), (8, 4), (12, 4)]
        );
    }

    #[tokio::test]
    async fn a_missing_object_is_not_found_and_a_bad_line_is_named_by_its_number() {
        let store = RangedObject::new(b"ok\nstill ok\nbad \xff byte\n");
        let mut missing = ObjectLines::new(&store, "s3://bkt/none".parse().unwrap(), 4);
        assert!(matches!(
            missing.next_line().await,
            Err(LinesError::Store(PortError::NotFound { .. }))
        ));
        let mut lines = ObjectLines::new(&store, store.uri.clone(), 5);
        lines.next_line().await.unwrap();
        lines.next_line().await.unwrap();
        let e = lines.next_line().await.unwrap_err();
        assert!(matches!(e, LinesError::NotUtf8 { line: 3, .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("s3://bkt/k.csv line 3: not UTF-8 text"),
            "{e}"
        );
    }

    async fn rows_of(body: &str, range: u64) -> Vec<(u64, String, Option<u64>)> {
        let store = RangedObject::new(body.as_bytes());
        let mut rows = Rows::new(ObjectLines::new(&store, store.uri.clone(), range));
        let mut out = Vec::new();
        while let Some(r) = rows.next_row().await.unwrap() {
            out.push((r.line, r.text.to_string(), r.blank_before));
        }
        out
    }

    #[tokio::test]
    async fn rows_end_at_the_last_line_that_is_not_blank_and_carry_blank_lines_before_them() {
        for range in [1, 2, 3, 7, 64] {
            assert_eq!(
                rows_of("1,a\r\n2,b\r\n \r\n\r\n", range).await,
                [(1, "1,a".into(), None), (2, "2,b".into(), None)],
                "range {range}"
            );
            assert_eq!(
                rows_of("1\n\n  \n4\n5", range).await,
                [
                    (1, "1".into(), None),
                    (4, "4".into(), Some(2)),
                    (5, "5".into(), None)
                ],
                "range {range}"
            );
            assert_eq!(rows_of("\n\n", range).await, []);
            assert_eq!(rows_of("", range).await, []);
        }
    }
}
