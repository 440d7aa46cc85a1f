//! Reading log files line by line with bounded memory, for whole files and for tailing.

use std::fs::File;
use std::io::{self, BufRead, BufReader, ErrorKind};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

/// Longest line accepted (without its newline). Longer lines are skipped without being
/// buffered and reported as [`Line::TooLong`].
pub const MAX_LINE_LEN: usize = 1 << 20;

/// Read buffer size: large enough that most lines are handed out without a copy.
const READ_BUFFER_LEN: usize = 256 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens a log file for reading, transparently decompressing it when it starts with the
/// gzip magic (concatenated gzip members, as `logrotate` and `cat a.gz b.gz` make, are read
/// as one stream). Offsets of a [`LineReader`] over a gzipped file count decompressed bytes.
///
/// # Errors
/// When the file cannot be opened or its first bytes cannot be read.
pub fn open_file(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let mut reader = BufReader::with_capacity(READ_BUFFER_LEN, File::open(path)?);
    let gzipped = loop {
        match reader.fill_buf() {
            Ok(head) => break head.starts_with(&GZIP_MAGIC),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    if gzipped {
        Ok(Box::new(BufReader::with_capacity(
            READ_BUFFER_LEN,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// One line handed out by [`LineReader::next_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line's bytes, without the trailing `\n` or `\r\n`.
    Ok(&'a [u8]),
    /// A line over [`MAX_LINE_LEN`], skipped; `len` is its length without the newline.
    TooLong { len: u64 },
}

/// Splits a byte stream into lines without unbounded allocation, and keeps the byte
/// offset and number of the last line handed out, so a caller can checkpoint and resume.
///
/// Lines that lie inside the reader's buffer are lent without a copy; a line that straddles
/// two reads is assembled in an internal buffer of at most [`MAX_LINE_LEN`] bytes.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: R,
    /// The start of an unfinished line (empty while skipping an over-long one).
    partial: Vec<u8>,
    /// Bytes of the unfinished line read so far, including skipped ones.
    partial_len: u64,
    /// The unfinished line is over the limit: its bytes are being discarded.
    skipping: bool,
    /// `partial` holds the line handed out last time: clear it before reading on.
    partial_returned: bool,
    /// Bytes of the reader's buffer lent out last time, consumed on the next call.
    pending_consume: usize,
    offset: u64,
    line_number: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Starts reading at `start_offset` (the reader must already be positioned there),
    /// where `start_line` lines precede: pass the values of [`Self::offset`] and
    /// [`Self::line_number`] from a checkpoint, or `0, 0` for a fresh file.
    pub fn new(reader: R, start_offset: u64, start_line: u64) -> Self {
        Self {
            reader,
            partial: Vec::new(),
            partial_len: 0,
            skipping: false,
            partial_returned: false,
            pending_consume: 0,
            offset: start_offset,
            line_number: start_line,
        }
    }

    /// Next complete line (without the trailing `\n` or `\r\n`). Returns `Ok(None)` at EOF.
    ///
    /// A final line without `\n` is returned only when `final_partial` is true (whole-file
    /// mode); otherwise (tail mode: it may be half-written) it is kept buffered, and
    /// [`Self::offset`] does not advance past it, so a later call after more data has been
    /// appended completes it.
    ///
    /// # Errors
    /// Read errors of the underlying reader (interrupted reads are retried).
    pub fn next_line(&mut self, final_partial: bool) -> io::Result<Option<Line<'_>>> {
        self.reader
            .consume(std::mem::take(&mut self.pending_consume));
        if self.partial_returned {
            self.partial.clear();
            self.partial_returned = false;
        }
        loop {
            let (newline, available) = match self.reader.fill_buf() {
                Ok(buf) => (memchr::memchr(b'\n', buf), buf.len()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available == 0 {
                return Ok(self.finish_partial(final_partial));
            }
            let Some(end) = newline else {
                // No newline yet: keep the bytes (or count them, past the limit) and read on.
                let total = self.partial_len + available as u64;
                if !self.skipping && total > MAX_LINE_LEN as u64 {
                    self.skipping = true;
                    self.partial = Vec::new();
                }
                if !self.skipping {
                    let buf = self.reader.fill_buf()?;
                    self.partial
                        .extend_from_slice(buf.get(..available).unwrap_or(buf));
                }
                self.partial_len = total;
                self.reader.consume(available);
                continue;
            };
            let len = self.partial_len + end as u64;
            self.offset += len + 1;
            self.line_number += 1;
            if self.skipping || len > MAX_LINE_LEN as u64 {
                self.reader.consume(end + 1);
                self.skipping = false;
                self.partial_len = 0;
                return Ok(Some(Line::TooLong { len }));
            }
            if self.partial_len == 0 {
                // The whole line is in the reader's buffer: lend it, consume it next call.
                self.pending_consume = end + 1;
                let buf = self.reader.fill_buf()?;
                let line = buf.get(..end).ok_or_else(buffer_shrank)?;
                return Ok(Some(Line::Ok(strip_cr(line))));
            }
            let buf = self.reader.fill_buf()?;
            self.partial
                .extend_from_slice(buf.get(..end).ok_or_else(buffer_shrank)?);
            self.reader.consume(end + 1);
            self.partial_len = 0;
            self.partial_returned = true;
            return Ok(Some(Line::Ok(strip_cr(&self.partial))));
        }
    }

    /// At EOF: hand out the unfinished line in whole-file mode, keep it in tail mode.
    fn finish_partial(&mut self, final_partial: bool) -> Option<Line<'_>> {
        if self.partial_len == 0 || !final_partial {
            return None;
        }
        let len = self.partial_len;
        self.offset += len;
        self.line_number += 1;
        self.partial_len = 0;
        if self.skipping {
            self.skipping = false;
            return Some(Line::TooLong { len });
        }
        self.partial_returned = true;
        Some(Line::Ok(strip_cr(&self.partial)))
    }

    /// Byte offset just after the last line handed out (its newline included).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// 1-based number of the last line handed out (0 before the first).
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// Whether an unfinished line is buffered (tail mode, waiting for the rest).
    pub fn has_partial(&self) -> bool {
        self.partial_len > 0
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn buffer_shrank() -> io::Error {
    io::Error::other("reader's buffer shrank between two fill_buf calls")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read, Write};

    fn collect<R: BufRead>(r: &mut LineReader<R>, final_partial: bool) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(line) = r.next_line(final_partial).unwrap() {
            out.push(match line {
                Line::Ok(b) => String::from_utf8_lossy(b).into_owned(),
                Line::TooLong { len } => format!("<too long {len}>"),
            });
        }
        out
    }

    #[test]
    fn lines_offsets_and_crlf() {
        let data = b"a\r\nbb\n\nccc";
        let mut r = LineReader::new(Cursor::new(&data[..]), 0, 0);
        assert_eq!(collect(&mut r, false), ["a", "bb", ""]);
        assert_eq!((r.offset(), r.line_number()), (7, 3));
        assert!(r.has_partial());
        assert_eq!(collect(&mut r, true), ["ccc"]);
        assert_eq!((r.offset(), r.line_number()), (10, 4));
        assert_eq!(r.next_line(true).unwrap(), None);
    }

    #[test]
    fn tiny_buffer_assembles_lines() {
        // A 3-byte buffer forces every line through the partial path.
        let data = b"hello\nworld\r\nx\n";
        let reader = BufReader::with_capacity(3, Cursor::new(&data[..]));
        let mut r = LineReader::new(reader, 100, 10);
        assert_eq!(collect(&mut r, true), ["hello", "world", "x"]);
        assert_eq!((r.offset(), r.line_number()), (115, 13));
    }

    #[test]
    fn too_long_lines_are_skipped_unbuffered() {
        let mut data = vec![b'x'; MAX_LINE_LEN + 5];
        data.extend_from_slice(b"\nok\n");
        data.extend(vec![b'y'; MAX_LINE_LEN + 1]);
        let reader = BufReader::with_capacity(4096, Cursor::new(data));
        let mut r = LineReader::new(reader, 0, 0);
        let got = collect(&mut r, true);
        assert_eq!(
            got,
            [
                format!("<too long {}>", MAX_LINE_LEN + 5),
                "ok".to_owned(),
                format!("<too long {}>", MAX_LINE_LEN + 1)
            ]
        );
        assert!(r.partial.capacity() <= MAX_LINE_LEN + 4096);
        assert_eq!(r.offset(), (2 * MAX_LINE_LEN + 10) as u64);
        // Exactly at the limit is fine.
        let mut exact = vec![b'z'; MAX_LINE_LEN];
        exact.push(b'\n');
        let mut r = LineReader::new(Cursor::new(exact), 0, 0);
        assert!(matches!(r.next_line(true).unwrap(), Some(Line::Ok(l)) if l.len() == MAX_LINE_LEN));
    }

    #[test]
    fn tail_mode_completes_a_half_written_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut w = File::create(&path).unwrap();
        w.write_all(b"first\nsec").unwrap();
        w.flush().unwrap();

        let mut r = LineReader::new(open_file(&path).unwrap(), 0, 0);
        assert_eq!(collect(&mut r, false), ["first"]);
        assert_eq!((r.offset(), r.line_number()), (6, 1));
        // Nothing new: still waiting, offset unchanged.
        assert_eq!(r.next_line(false).unwrap(), None);
        assert_eq!(r.offset(), 6);

        w.write_all(b"ond\r\nthird\n").unwrap();
        w.flush().unwrap();
        assert_eq!(collect(&mut r, false), ["second", "third"]);
        assert_eq!((r.offset(), r.line_number()), (20, 3));
        assert!(!r.has_partial());

        // Resuming from the checkpoint in a new reader sees only what follows.
        w.write_all(b"fourth\n").unwrap();
        let mut f = File::open(&path).unwrap();
        let mut skip = vec![0u8; 20];
        f.read_exact(&mut skip).unwrap();
        let mut r = LineReader::new(BufReader::new(f), 20, 3);
        assert_eq!(collect(&mut r, false), ["fourth"]);
        assert_eq!((r.offset(), r.line_number()), (27, 4));
    }

    #[test]
    fn gzip_is_transparent_and_multi_member() {
        use flate2::{Compression, write::GzEncoder};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.gz");
        let mut bytes = Vec::new();
        for part in [&b"one\ntwo\n"[..], b"three\n"] {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(part).unwrap();
            bytes.extend(enc.finish().unwrap());
        }
        std::fs::write(&path, bytes).unwrap();
        let mut r = LineReader::new(open_file(&path).unwrap(), 0, 0);
        assert_eq!(collect(&mut r, true), ["one", "two", "three"]);

        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"\x1fnot gzip\n").unwrap();
        let mut r = LineReader::new(open_file(&plain).unwrap(), 0, 0);
        assert_eq!(collect(&mut r, true), ["\u{1f}not gzip"]);
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let mut r = LineReader::new(open_file(&empty).unwrap(), 0, 0);
        assert!(collect(&mut r, true).is_empty());
    }
}
