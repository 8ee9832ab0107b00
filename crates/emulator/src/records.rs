//! The records of a batch transform's input object, as `TransformInput.SplitType` splits them.
//!
//! * `Line`: records end at `\n` (a `\r` before it dropped, blank lines skipped); each is sent
//!   with a `\n` after it.
//! * `RecordIO`: MXNet's RecordIO framing (SageMaker's `RecordIO`, as in
//!   `application/x-recordio-protobuf`). A part is the magic number `0xced7230a` (a
//!   little-endian `u32`), a little-endian `u32` length word whose upper 3 bits are a
//!   continuation flag (0: a whole record; 1, 2, 3: the first, a middle and the last part of a
//!   record the writer cut where its data held the magic number) and lower 29 bits the data's
//!   length, then the data, padded with zeros to a multiple of 4 bytes. A record is a part with
//!   flag 0, or parts flagged 1, 2…, 3.
//! * `TFRecord`: TensorFlow's framing: the data's length (`u64`, little endian), the masked
//!   CRC32C of those 8 bytes (`u32`), the data, the masked CRC32C of the data (`u32`). Both CRCs
//!   are checked.
//!
//! Framed records keep their framing in the payloads sent to the model server (a MultiRecord
//! mini-batch is the records' bytes as the object has them, which the model server splits
//! again). The API reference (`TransformInput.SplitType`) adds that when a binary format wraps
//! a record with padding bytes, "padding is removed" with SingleRecord and kept with
//! MultiRecord: a SingleRecord RecordIO payload is the record without the zeros that pad its
//! last part (the header still says the data's length; which bytes SageMaker calls padding is
//! our reading of that sentence). TFRecord has no padding.
//!
//! [`Splitter`] finds records in a buffer that holds the object from some offset on, so the
//! transform reads the object a range at a time: a record is only ever as large as the bytes it
//! spans, and a framed record longer than `MaxPayloadInMB`, or whose header puts its end past the
//! object's end, is refused from its header, before it is read. A line carried over several
//! reads is searched for its end once, from where the last search stopped.

/// How the records of an object are delimited (`TransformInput.SplitType`, None aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Line,
    RecordIo,
    TfRecord,
}

/// The RecordIO magic number (dmlc-core's `RecordIOWriter::kMagic`).
pub const RECORDIO_MAGIC: u32 = 0xced7_230a;
/// The length word's data-length bits (the upper 3 are the continuation flag).
const RECORDIO_LEN_MASK: u32 = (1 << 29) - 1;

/// Why an object's records could not be split. Offsets are bytes from the object's start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FramingError {
    #[error(
        "{object} is not RecordIO at byte offset {offset}: expected the magic number 0xced7230a, found 0x{found:08x}"
    )]
    BadMagic {
        object: String,
        offset: u64,
        found: u32,
    },
    #[error(
        "{object} has a RecordIO part at byte offset {offset} with continuation flag {flag} where {expected}"
    )]
    BadContinuation {
        object: String,
        offset: u64,
        flag: u32,
        expected: &'static str,
    },
    #[error(
        "{object} has a TFRecord at byte offset {offset} whose length CRC does not match (stored 0x{stored:08x}, computed 0x{computed:08x})"
    )]
    LengthCrc {
        object: String,
        offset: u64,
        stored: u32,
        computed: u32,
    },
    #[error(
        "{object} has a TFRecord at byte offset {offset} whose data CRC does not match (stored 0x{stored:08x}, computed 0x{computed:08x})"
    )]
    DataCrc {
        object: String,
        offset: u64,
        stored: u32,
        computed: u32,
    },
    #[error(
        "{object} ends inside the {framing} record at byte offset {offset}: the record needs {needed} more bytes than the object has"
    )]
    Truncated {
        object: String,
        framing: &'static str,
        offset: u64,
        needed: u64,
    },
    /// A record larger than `MaxPayloadInMB` (the emulator's wording: SageMaker's message for
    /// it was not found).
    #[error(
        "{object} has a record of {len} bytes at byte offset {offset}, larger than MaxPayloadInMB ({max} bytes)"
    )]
    TooLarge {
        object: String,
        offset: u64,
        len: u64,
        max: u64,
    },
}

/// One record found in the buffer: its bytes are `buf[start..end]`, and `send_end` is where the
/// bytes sent for it with SingleRecord end (RecordIO's last padding dropped; the line end left
/// out for Line). `next` is where the following record starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub start: usize,
    pub end: usize,
    pub single_end: usize,
    pub next: usize,
}

/// What [`Splitter::next`] found at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Record(Found),
    /// Only skipped bytes (blank lines) up to `next`.
    Skip {
        next: usize,
    },
    /// The record needs bytes beyond the buffer: at least `at_least` in all from its start.
    NeedMore {
        at_least: usize,
    },
    /// Nothing is left.
    End,
}

/// Splits an object's bytes into records; `object` names it in errors, `size` is its length in
/// bytes, `max` is the largest record (its bytes as sent: `single` says SingleRecord) allowed.
pub(crate) struct Splitter {
    pub framing: Framing,
    pub object: String,
    pub size: u64,
    pub max: u64,
    pub single: bool,
    /// Line: the object's bytes before this offset are searched for a line end and hold none
    /// after the start of the line being read, so a line carried over several reads is searched
    /// once, not again from its start after every read.
    line_searched_to: u64,
    /// The bytes the line search has examined (tests check that each is examined once).
    #[cfg(test)]
    examined: u64,
}

fn align4(n: u64) -> u64 {
    n.div_ceil(4) * 4
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl Splitter {
    pub(crate) fn new(
        framing: Framing,
        object: String,
        size: u64,
        max: u64,
        single: bool,
    ) -> Splitter {
        Splitter {
            framing,
            object,
            size,
            max,
            single,
            line_searched_to: 0,
            #[cfg(test)]
            examined: 0,
        }
    }

    fn name(&self) -> &'static str {
        match self.framing {
            Framing::Line => "Line",
            Framing::RecordIo => "RecordIO",
            Framing::TfRecord => "TFRecord",
        }
    }

    fn too_large(&self, offset: u64, len: u64) -> FramingError {
        FramingError::TooLarge {
            object: self.object.clone(),
            offset,
            len,
            max: self.max,
        }
    }

    /// The record at the front of `buf`, which holds the object from byte `offset` on; `last`
    /// says that the object ends with `buf`. A framed record whose header puts its end past the
    /// object's `size` is refused as soon as the header is read, not after the rest of the
    /// object (with no `MaxPayloadInMB` limit, the whole of it) has been read into the buffer.
    pub(crate) fn next(
        &mut self,
        buf: &[u8],
        offset: u64,
        last: bool,
    ) -> Result<Next, FramingError> {
        if buf.is_empty() {
            return Ok(Next::End);
        }
        let found = match self.framing {
            Framing::Line => self.line(buf, offset, last),
            Framing::RecordIo => self.recordio(buf, offset)?,
            Framing::TfRecord => self.tfrecord(buf, offset)?,
        };
        // where the object ends: at the buffer's end if it is the last, else at its size (a
        // framed record's header that puts its end further is known to be cut short at once)
        let object_end = if last {
            offset + buf.len() as u64
        } else {
            self.size
        };
        match found {
            Next::NeedMore { at_least } if self.framing == Framing::Line && last => {
                // a last line without its end is a whole record
                unreachable!("Line takes the rest at the end: {at_least}")
            }
            Next::NeedMore { at_least }
                if self.framing != Framing::Line
                    && offset.saturating_add(at_least as u64) > object_end =>
            {
                Err(FramingError::Truncated {
                    object: self.object.clone(),
                    framing: self.name(),
                    offset,
                    needed: offset.saturating_add(at_least as u64) - object_end,
                })
            }
            // what the header says (RecordIO: a SingleRecord payload may be 3 bytes of padding
            // shorter), or a line already longer than the limit without its end
            Next::NeedMore { at_least } if (at_least as u64) > self.max.saturating_add(3) => {
                Err(self.too_large(offset, at_least as u64))
            }
            Next::Record(f) if self.sent_len(&f) > self.max => {
                Err(self.too_large(offset, self.sent_len(&f)))
            }
            other => Ok(other),
        }
    }

    /// The bytes a record takes in a payload: what is sent of it, and a Line record's `\n`.
    fn sent_len(&self, f: &Found) -> u64 {
        let end = if self.single { f.single_end } else { f.end };
        (end - f.start) as u64 + u64::from(self.framing == Framing::Line)
    }

    fn line(&mut self, buf: &[u8], offset: u64, last: bool) -> Next {
        // the bytes of this line already searched by an earlier call (its start is `offset`)
        let from = usize::try_from(self.line_searched_to.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let found = buf[from..].iter().position(|b| *b == b'\n');
        #[cfg(test)]
        {
            self.examined += found.map_or(buf.len() - from, |i| i + 1) as u64;
        }
        let (end, next) = match found {
            Some(i) => (from + i, from + i + 1),
            None if last => (buf.len(), buf.len()),
            None => {
                self.line_searched_to = offset + buf.len() as u64;
                return Next::NeedMore {
                    at_least: buf.len() + 1,
                };
            }
        };
        let end = if end > 0 && buf[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        if end == 0 {
            return Next::Skip { next };
        }
        Next::Record(Found {
            start: 0,
            end,
            single_end: end,
            next,
        })
    }

    fn recordio(&self, buf: &[u8], offset: u64) -> Result<Next, FramingError> {
        let mut at = 0usize;
        let mut first = true;
        loop {
            let part_offset = offset + at as u64;
            if buf.len() < at + 8 {
                return Ok(Next::NeedMore { at_least: at + 8 });
            }
            let magic = u32_at(buf, at);
            if magic != RECORDIO_MAGIC {
                return Err(FramingError::BadMagic {
                    object: self.object.clone(),
                    offset: part_offset,
                    found: magic,
                });
            }
            let word = u32_at(buf, at + 4);
            let flag = word >> 29;
            let len = u64::from(word & RECORDIO_LEN_MASK);
            let expected = if first {
                (flag == 0 || flag == 1).then_some(()).ok_or(
                    "a record starts (flag 0, a whole record, or 1, its first part, expected)",
                )
            } else {
                (flag == 2 || flag == 3)
                    .then_some(())
                    .ok_or("a record goes on (flag 2, a middle part, or 3, its last, expected)")
            };
            if let Err(expected) = expected {
                return Err(FramingError::BadContinuation {
                    object: self.object.clone(),
                    offset: part_offset,
                    flag,
                    expected,
                });
            }
            let data_end = at as u64 + 8 + len;
            let part_end = at as u64 + 8 + align4(len);
            if (buf.len() as u64) < part_end {
                return Ok(Next::NeedMore {
                    at_least: usize::try_from(part_end).unwrap_or(usize::MAX),
                });
            }
            if flag == 0 || flag == 3 {
                return Ok(Next::Record(Found {
                    start: 0,
                    end: part_end as usize,
                    single_end: data_end as usize,
                    next: part_end as usize,
                }));
            }
            at = part_end as usize;
            first = false;
        }
    }

    fn tfrecord(&self, buf: &[u8], offset: u64) -> Result<Next, FramingError> {
        if buf.len() < 12 {
            return Ok(Next::NeedMore { at_least: 12 });
        }
        let stored = u32_at(buf, 8);
        let computed = masked_crc32c(&buf[..8]);
        if stored != computed {
            return Err(FramingError::LengthCrc {
                object: self.object.clone(),
                offset,
                stored,
                computed,
            });
        }
        let len = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
        let end = 12u64.saturating_add(len).saturating_add(4);
        if (buf.len() as u64) < end {
            return Ok(Next::NeedMore {
                at_least: usize::try_from(end).unwrap_or(usize::MAX),
            });
        }
        let end = end as usize;
        let data = &buf[12..end - 4];
        let stored = u32_at(buf, end - 4);
        let computed = masked_crc32c(data);
        if stored != computed {
            return Err(FramingError::DataCrc {
                object: self.object.clone(),
                offset,
                stored,
                computed,
            });
        }
        Ok(Next::Record(Found {
            start: 0,
            end,
            single_end: end,
            next: end,
        }))
    }
}

/// CRC32C (Castagnoli, reflected polynomial 0x82f63b78) of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82f6_3b78
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    !data.iter().fold(!0u32, |c, b| {
        table[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// TFRecord's masked CRC32C: the CRC rotated right by 15 bits plus 0xa282ead8.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    crc32c(data).rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One RecordIO record of `data` as dmlc-core's writer frames it (cut into parts where the
/// data holds the magic number at a 4-byte boundary). For tests and the fake container.
pub fn encode_recordio(data: &[u8]) -> Vec<u8> {
    let magic = RECORDIO_MAGIC.to_le_bytes();
    // cut points: 4-aligned offsets where the magic number starts
    let mut cuts = Vec::new();
    let mut i = 0;
    while i + 4 <= data.len() {
        if data[i..i + 4] == magic {
            cuts.push(i);
        }
        i += 4;
    }
    let mut out = Vec::with_capacity(data.len() + 16);
    let part = |out: &mut Vec<u8>, flag: u32, bytes: &[u8]| {
        out.extend_from_slice(&magic);
        out.extend_from_slice(&((flag << 29) | bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
        out.resize(
            out.len() + (align4(bytes.len() as u64) as usize - bytes.len()),
            0,
        );
    };
    if cuts.is_empty() {
        part(&mut out, 0, data);
        return out;
    }
    let mut start = 0;
    for (k, cut) in cuts.iter().enumerate() {
        part(&mut out, if k == 0 { 1 } else { 2 }, &data[start..*cut]);
        start = cut + 4;
    }
    part(&mut out, 3, &data[start..]);
    out
}

/// One TFRecord of `data`.
pub fn encode_tfrecord(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

/// The data of each record in `bytes` (framed records one after the other; a missing last
/// padding tolerated, as a SingleRecord RecordIO payload has none). For the fake container.
pub fn decode(framing_name: &str, bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match framing_name {
            "RecordIO" => {
                let mut data = Vec::new();
                loop {
                    if bytes.len() < at + 8 || u32_at(bytes, at) != RECORDIO_MAGIC {
                        return Err(format!("no RecordIO part at byte {at}"));
                    }
                    let word = u32_at(bytes, at + 4);
                    let (flag, len) = (word >> 29, (word & RECORDIO_LEN_MASK) as usize);
                    let end = at + 8 + len;
                    if bytes.len() < end {
                        return Err(format!("RecordIO part at byte {at} is cut short"));
                    }
                    if flag == 2 || flag == 3 {
                        data.extend_from_slice(&RECORDIO_MAGIC.to_le_bytes());
                    }
                    data.extend_from_slice(&bytes[at + 8..end]);
                    at = (at + 8 + align4(len as u64) as usize).min(bytes.len());
                    if flag == 0 || flag == 3 {
                        break;
                    }
                }
                out.push(data);
            }
            "TFRecord" => {
                if bytes.len() < at + 12 {
                    return Err(format!("TFRecord at byte {at} is cut short"));
                }
                let len = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
                // the length comes from the payload: no arithmetic on it may overflow
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|len| (at + 12).checked_add(len))
                    .filter(|end| end.checked_add(4).is_some_and(|e| e <= bytes.len()))
                    .ok_or_else(|| format!("TFRecord at byte {at} is cut short"))?;
                out.push(bytes[at + 12..end].to_vec());
                at = end + 4;
            }
            other => return Err(format!("unknown framing {other}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A splitter of an object whose size is not known to it (tests that pass `last`).
    fn splitter(framing: Framing, max: u64) -> Splitter {
        Splitter::new(framing, "s3://b/in/x".into(), u64::MAX, max, false)
    }

    /// A record's bytes as MultiRecord and as SingleRecord send them.
    type Sent = (Vec<u8>, Vec<u8>);

    /// Every record of `bytes` read whole (offset 0, last).
    fn all(s: &mut Splitter, bytes: &[u8]) -> Result<Vec<Sent>, FramingError> {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            match s.next(&bytes[at..], at as u64, true)? {
                Next::Record(f) => {
                    out.push((
                        bytes[at + f.start..at + f.end].to_vec(),
                        bytes[at + f.start..at + f.single_end].to_vec(),
                    ));
                    at += f.next;
                }
                Next::Skip { next } => at += next,
                Next::End => return Ok(out),
                Next::NeedMore { .. } => unreachable!("last"),
            }
        }
    }

    #[test]
    fn crc32c_matches_the_published_check_values() {
        // RFC 3720 B.4: 32 bytes of zeros, of 0xff; the "123456789" check value
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn recordio_records_keep_their_framing_and_single_records_lose_the_last_padding() {
        let mut bytes = encode_recordio(b"abcde");
        assert_eq!(bytes.len(), 8 + 8, "5 bytes padded to 8");
        // data holding the magic number at a 4-byte boundary: three parts
        let mut tricky = b"xxxx".to_vec();
        tricky.extend_from_slice(&RECORDIO_MAGIC.to_le_bytes());
        tricky.extend_from_slice(b"yy");
        tricky.extend_from_slice(&RECORDIO_MAGIC.to_le_bytes());
        tricky.extend_from_slice(b"z");
        let framed = encode_recordio(&tricky);
        assert_eq!(u32_at(&framed, 4) >> 29, 1, "first part");
        bytes.extend_from_slice(&framed);
        bytes.extend_from_slice(&encode_recordio(b""));
        let mut s = splitter(Framing::RecordIo, 1 << 20);
        let records = all(&mut s, &bytes).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].0, encode_recordio(b"abcde"));
        assert_eq!(records[0].1, encode_recordio(b"abcde")[..13].to_vec());
        assert_eq!(records[1].0, framed);
        assert_eq!(records[2].0.len(), 8);
        let decoded = decode("RecordIO", &bytes).unwrap();
        assert_eq!(decoded, vec![b"abcde".to_vec(), tricky, Vec::new()]);
        // a single record without its padding still decodes
        assert_eq!(
            decode("RecordIO", &records[0].1).unwrap(),
            vec![b"abcde".to_vec()]
        );
    }

    #[test]
    fn tfrecords_are_split_and_their_crcs_checked() {
        let mut bytes = encode_tfrecord(b"first");
        bytes.extend_from_slice(&encode_tfrecord(b""));
        bytes.extend_from_slice(&encode_tfrecord(&[7u8; 300]));
        let mut s = splitter(Framing::TfRecord, 1 << 20);
        let records = all(&mut s, &bytes).unwrap();
        let sizes: Vec<usize> = records.iter().map(|r| r.0.len()).collect();
        assert_eq!(sizes, vec![21, 16, 316]);
        assert_eq!(records[2].0, records[2].1, "nothing is dropped");
        assert_eq!(
            decode("TFRecord", &bytes).unwrap(),
            vec![b"first".to_vec(), Vec::new(), vec![7u8; 300]]
        );
    }

    #[test]
    fn a_corrupt_or_truncated_record_is_named_with_its_object_and_offset() {
        let tf = |records: &[&[u8]]| -> Vec<u8> {
            records.iter().flat_map(|r| encode_tfrecord(r)).collect()
        };
        let mut s = splitter(Framing::TfRecord, 1 << 20);
        // a data byte of the second record flipped: its data CRC fails at offset 21
        let mut bad = tf(&[b"first", b"second"]);
        bad[21 + 12] ^= 0x01;
        let e = all(&mut s, &bad).unwrap_err();
        assert!(
            matches!(e, FramingError::DataCrc { offset: 21, .. }),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("s3://b/in/x has a TFRecord at byte offset 21 whose data CRC"),
            "{e}"
        );
        // a length byte changed: the length CRC fails first
        let mut bad = tf(&[b"first"]);
        bad[0] = 6;
        assert!(matches!(
            all(&mut s, &bad).unwrap_err(),
            FramingError::LengthCrc { offset: 0, .. }
        ));
        // cut short: 3 bytes of the last record's CRC missing
        let whole = tf(&[b"first", b"second"]);
        let e = all(&mut s, &whole[..whole.len() - 3]).unwrap_err();
        assert_eq!(
            e,
            FramingError::Truncated {
                object: "s3://b/in/x".into(),
                framing: "TFRecord",
                offset: 21,
                needed: 3
            }
        );
        // RecordIO: a bad magic number in the second record
        let mut r = splitter(Framing::RecordIo, 1 << 20);
        let mut bad = encode_recordio(b"abcd");
        bad.extend_from_slice(&encode_recordio(b"efgh"));
        bad[12] = 0;
        let e = all(&mut r, &bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s3://b/in/x is not RecordIO at byte offset 12: expected the magic number 0xced7230a, found 0xced72300"
        );
        // a middle part where a record starts
        let mut bad = encode_recordio(b"abcd");
        bad[7] |= 0x40; // flag 2
        assert!(matches!(
            all(&mut r, &bad).unwrap_err(),
            FramingError::BadContinuation {
                offset: 0,
                flag: 2,
                ..
            }
        ));
    }

    #[test]
    fn decode_refuses_a_tfrecord_length_past_the_payload_without_overflowing() {
        for len in [u64::MAX, u64::MAX - 11, 1 << 40, 5] {
            let mut bytes = len.to_le_bytes().to_vec();
            bytes.extend_from_slice(&[0u8; 8]);
            assert_eq!(
                decode("TFRecord", &bytes).unwrap_err(),
                "TFRecord at byte 0 is cut short",
                "length {len}"
            );
        }
    }

    #[test]
    fn a_record_over_the_payload_limit_is_refused_from_its_header() {
        let mut s = splitter(Framing::TfRecord, 100);
        let big = encode_tfrecord(&[1u8; 1000]);
        // only the header is there: the length says it is too large
        let e = s.next(&big[..12], 40, false).unwrap_err();
        assert!(
            matches!(e, FramingError::TooLarge { offset: 40, max: 100, len, .. } if len == 1016),
            "{e:?}"
        );
        // a record of exactly the limit passes
        let fits = encode_tfrecord(&[1u8; 84]);
        assert!(matches!(
            s.next(&fits, 0, true).unwrap(),
            Next::Record(Found { end: 100, .. })
        ));
        // a line and its `\n` must fit
        let mut l = splitter(Framing::Line, 4);
        assert!(matches!(
            l.next(b"abc\n", 0, true).unwrap(),
            Next::Record(_)
        ));
        assert!(matches!(
            l.next(b"abcd\n", 0, true).unwrap_err(),
            FramingError::TooLarge { len: 5, .. }
        ));
        // SingleRecord RecordIO: the payload without the last padding counts
        let mut r = splitter(Framing::RecordIo, 13);
        let rec = encode_recordio(b"abcde");
        assert!(r.next(&rec, 0, true).is_err(), "16 framed bytes");
        r.single = true;
        assert!(r.next(&rec, 0, true).is_ok(), "13 bytes sent");
    }

    #[test]
    fn a_framed_header_that_ends_past_the_object_is_truncated_before_more_is_read() {
        const SIZE: u64 = 20 << 20;
        let sized = |framing| Splitter::new(framing, "s3://b/in/x".into(), SIZE, u64::MAX, false);
        // a TFRecord header claiming 1 TiB at offset 40, with only its header in the buffer
        let len = 1u64 << 40;
        let mut header = len.to_le_bytes().to_vec();
        header.extend_from_slice(&masked_crc32c(&len.to_le_bytes()).to_le_bytes());
        let e = sized(Framing::TfRecord)
            .next(&header, 40, false)
            .unwrap_err();
        assert_eq!(
            e,
            FramingError::Truncated {
                object: "s3://b/in/x".into(),
                framing: "TFRecord",
                offset: 40,
                needed: 40 + 12 + len + 4 - SIZE
            }
        );
        // a RecordIO record whose first part claims the most a part may hold (2^29 - 1 bytes)
        let mut part = RECORDIO_MAGIC.to_le_bytes().to_vec();
        part.extend_from_slice(&RECORDIO_LEN_MASK.to_le_bytes());
        assert!(matches!(
            sized(Framing::RecordIo).next(&part, 8, false).unwrap_err(),
            FramingError::Truncated { offset: 8, needed, .. } if needed == 8 + 8 + (1 << 29) - SIZE
        ));
        // a RecordIO record of first and middle parts that reach the object's end without a
        // last part: the next part's header is past it
        let mut parts = Vec::new();
        for flag in [1u32, 2, 2] {
            parts.extend_from_slice(&RECORDIO_MAGIC.to_le_bytes());
            parts.extend_from_slice(&((flag << 29) | 4).to_le_bytes());
            parts.extend_from_slice(b"abcd");
        }
        let mut ends = Splitter::new(
            Framing::RecordIo,
            "s3://b/in/x".into(),
            100 + parts.len() as u64,
            u64::MAX,
            false,
        );
        assert!(matches!(
            ends.next(&parts, 100, false).unwrap_err(),
            FramingError::Truncated {
                offset: 100,
                needed: 8,
                ..
            }
        ));
        // a record that ends within the object asks for more
        let fits = encode_tfrecord(&[3u8; 100]);
        assert_eq!(
            sized(Framing::TfRecord)
                .next(&fits[..50], 0, false)
                .unwrap(),
            Next::NeedMore { at_least: 116 }
        );
        // a line without its end where the listed size ends is still read on (the next read
        // says whether the object ends there)
        let mut line = Splitter::new(Framing::Line, "s3://b/in/x".into(), 4, u64::MAX, false);
        assert_eq!(
            line.next(b"abcd", 0, false).unwrap(),
            Next::NeedMore { at_least: 5 }
        );
    }

    #[test]
    fn a_long_line_carried_over_many_reads_is_searched_once() {
        // as the transform reads it: a short line, then a line of 1 MiB that arrives 4 KiB a
        // read, each read appended to what is carried (the short line gone once it is sent)
        let long = 1usize << 20;
        let mut object = b"ab\n".to_vec();
        object.extend(std::iter::repeat_n(b'x', long));
        object.extend_from_slice(b"\nlast\n");
        let mut s = Splitter::new(
            Framing::Line,
            "s3://b/in/x".into(),
            object.len() as u64,
            u64::MAX,
            false,
        );
        let (mut carry, mut carry_at, mut read_at) = (Vec::new(), 0usize, 0usize);
        let mut records = Vec::new();
        let mut reads = 0;
        while read_at < object.len() {
            let part = &object[read_at..(read_at + 4096).min(object.len())];
            read_at += part.len();
            reads += 1;
            carry.extend_from_slice(part);
            let mut at = 0;
            loop {
                match s
                    .next(
                        &carry[at..],
                        (carry_at + at) as u64,
                        read_at == object.len(),
                    )
                    .unwrap()
                {
                    Next::Record(f) => {
                        records.push(carry[at..at + f.end].len());
                        at += f.next;
                    }
                    Next::Skip { next } => at += next,
                    Next::NeedMore { .. } | Next::End => break,
                }
            }
            carry.drain(..at);
            carry_at += at;
        }
        assert!(reads > 250, "{reads} reads");
        assert_eq!(records, vec![2, long, 4]);
        // every byte examined once: each line and its end
        assert_eq!(s.examined, object.len() as u64);
    }
}
