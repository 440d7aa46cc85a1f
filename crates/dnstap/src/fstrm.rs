//! Frame Streams (fstrm): the framing dnstap travels in.
//!
//! A stream is a sequence of frames, each a 32-bit big-endian length and that many bytes.
//! A length of 0 escapes a control frame: a 32-bit length, a 32-bit control type and
//! fields (32-bit field type, 32-bit length, bytes; the only field is `CONTENT_TYPE`).
//!
//! * Files and unidirectional streams: `START`, data frames, `STOP`.
//! * Bidirectional sockets: the sender says `READY` (with the content types it offers),
//!   the receiver answers `ACCEPT` (with the one it takes), then `START`, data, `STOP`,
//!   and the receiver answers `FINISH`.
//!
//! [`FrameDecoder`] is an incremental, bounded parser: bytes go in as they arrive (from a
//! socket with timeouts, or a file), complete frames come out; a frame over the limit or a
//! malformed control frame is an error after which the stream cannot be trusted (the
//! caller closes the connection).

use std::io::{self, Read, Write};

/// The content type dnstap frames carry.
pub const CONTENT_TYPE_DNSTAP: &[u8] = b"protobuf:dnstap.Dnstap";
/// Longest control frame (the fstrm specification's limit).
pub const MAX_CONTROL_FRAME_LEN: usize = 512;
/// Default longest data frame: a dnstap message holds at most a query and a response of
/// 64 KiB each plus a few addresses.
pub const DEFAULT_MAX_FRAME_LEN: usize = 256 * 1024;
/// Bytes asked of the reader at once.
const READ_CHUNK: usize = 64 * 1024;

/// A control frame type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlType(pub u32);

impl ControlType {
    pub const ACCEPT: Self = Self(1);
    pub const START: Self = Self(2);
    pub const STOP: Self = Self(3);
    pub const READY: Self = Self(4);
    pub const FINISH: Self = Self(5);
}

/// The control frame field holding a content type.
const FIELD_CONTENT_TYPE: u32 = 1;
/// Most content types one control frame may list.
const MAX_CONTENT_TYPES: usize = 16;

/// A decoded control frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    pub kind: ControlType,
    pub content_types: Vec<Vec<u8>>,
}

impl Control {
    #[must_use]
    pub fn new(kind: ControlType, content_type: Option<&[u8]>) -> Self {
        Self {
            kind,
            content_types: content_type.map(<[u8]>::to_vec).into_iter().collect(),
        }
    }

    /// Whether the frame offers `content_type` (a frame listing none accepts any).
    #[must_use]
    pub fn offers(&self, content_type: &[u8]) -> bool {
        self.content_types.is_empty() || self.content_types.iter().any(|c| c == content_type)
    }

    /// The frame as it goes on the wire, escape included.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut body = self.kind.0.to_be_bytes().to_vec();
        for ct in &self.content_types {
            body.extend(FIELD_CONTENT_TYPE.to_be_bytes());
            body.extend(u32::try_from(ct.len()).unwrap_or(0).to_be_bytes());
            body.extend(ct);
        }
        let mut out = Vec::with_capacity(8 + body.len());
        out.extend(0u32.to_be_bytes());
        out.extend(u32::try_from(body.len()).unwrap_or(0).to_be_bytes());
        out.extend(body);
        out
    }
}

/// One frame out of a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Data(&'a [u8]),
    Control(Control),
}

/// Why a stream cannot be read on. Each has a stable counter name ([`FrameError::reason`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("data frame of {0} bytes is over the limit")]
    FrameTooLong(u64),
    #[error("control frame of {0} bytes is over the {MAX_CONTROL_FRAME_LEN} byte limit")]
    ControlTooLong(u64),
    #[error("control frame shorter than its type")]
    ControlTooShort,
    #[error("control frame field overruns the frame")]
    BadControlField,
    #[error("control frame lists more than {MAX_CONTENT_TYPES} content types")]
    TooManyContentTypes,
}

impl FrameError {
    /// Stable snake_case name, for counters.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::FrameTooLong(_) => "frame_too_long",
            Self::ControlTooLong(_) => "control_frame_too_long",
            Self::ControlTooShort => "control_frame_too_short",
            Self::BadControlField => "bad_control_field",
            Self::TooManyContentTypes => "too_many_content_types",
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn parse_control(body: &[u8]) -> Result<Control, FrameError> {
    let kind = be32(body, 0).ok_or(FrameError::ControlTooShort)?;
    let mut content_types = Vec::new();
    let mut at = 4;
    while at < body.len() {
        let field = be32(body, at).ok_or(FrameError::BadControlField)?;
        let len = be32(body, at + 4).ok_or(FrameError::BadControlField)? as usize;
        let start = at + 8;
        let value = start
            .checked_add(len)
            .and_then(|end| body.get(start..end))
            .ok_or(FrameError::BadControlField)?;
        if field == FIELD_CONTENT_TYPE {
            if content_types.len() == MAX_CONTENT_TYPES {
                return Err(FrameError::TooManyContentTypes);
            }
            content_types.push(value.to_vec());
        }
        at = start + len;
    }
    Ok(Control {
        kind: ControlType(kind),
        content_types,
    })
}

/// An incremental Frame Streams parser with a bounded buffer.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max_frame_len: usize,
}

impl FrameDecoder {
    /// A decoder refusing data frames over `max_frame_len` bytes.
    #[must_use]
    pub fn new(max_frame_len: usize) -> Self {
        Self {
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            max_frame_len,
        }
    }

    /// Bytes received but not yet returned as frames.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends bytes (for tests and fuzzing; readers use [`FrameDecoder::read_from`]).
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Reads once from `r` into the buffer; returns the bytes read (0 at end of stream).
    /// The buffer never holds more than one frame's limit plus one read.
    ///
    /// # Errors
    /// The reader's errors (timeouts included: the caller decides whether to retry).
    pub fn read_from<R: Read>(&mut self, r: &mut R) -> io::Result<usize> {
        self.compact();
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let n = match r.read(&mut self.buf[len..]) {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(len);
                return Err(e);
            }
        };
        self.buf.truncate(len + n);
        Ok(n)
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// A frame over its limit or a malformed control frame: the stream is out of step and
    /// must be closed.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        let avail = &self.buf[self.start..];
        let Some(len) = be32(avail, 0) else {
            return Ok(None);
        };
        if len == 0 {
            let Some(clen) = be32(avail, 4) else {
                return Ok(None);
            };
            let clen = clen as usize;
            if clen > MAX_CONTROL_FRAME_LEN {
                return Err(FrameError::ControlTooLong(clen as u64));
            }
            let Some(body) = avail.get(8..8 + clen) else {
                return Ok(None);
            };
            let control = parse_control(body)?;
            self.start += 8 + clen;
            return Ok(Some(Frame::Control(control)));
        }
        let len = len as usize;
        if len > self.max_frame_len {
            return Err(FrameError::FrameTooLong(len as u64));
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        let begin = self.start + 4;
        self.start = begin + len;
        Ok(Some(Frame::Data(&self.buf[begin..begin + len])))
    }
}

/// Writes a Frame Streams stream (files, and the sending side of sockets: tests, replay,
/// the benchmark's generator).
#[derive(Debug)]
pub struct FrameWriter<W: Write> {
    inner: W,
}

impl<W: Write> FrameWriter<W> {
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    /// Writes a control frame.
    ///
    /// # Errors
    /// The writer's.
    pub fn control(&mut self, kind: ControlType, content_type: Option<&[u8]>) -> io::Result<()> {
        self.inner
            .write_all(&Control::new(kind, content_type).encode())
    }

    /// Writes one data frame.
    ///
    /// # Errors
    /// The writer's; a frame longer than `u32::MAX` is refused.
    pub fn data(&mut self, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame length"))?;
        self.inner.write_all(&len.to_be_bytes())?;
        self.inner.write_all(payload)
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    /// The writer's.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Opens a bidirectional stream as a sender: `READY`, wait for `ACCEPT`, `START`.
///
/// # Errors
/// I/O errors, or a receiver that does not accept dnstap.
pub fn sender_handshake<S: Read + Write>(stream: &mut S) -> io::Result<()> {
    stream.write_all(&Control::new(ControlType::READY, Some(CONTENT_TYPE_DNSTAP)).encode())?;
    let mut dec = FrameDecoder::new(MAX_CONTROL_FRAME_LEN);
    loop {
        match dec.next_frame() {
            Ok(Some(Frame::Control(c))) if c.kind == ControlType::ACCEPT => break,
            Ok(Some(_)) | Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "receiver did not ACCEPT",
                ));
            }
            Ok(None) => {
                if dec.read_from(stream)? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
    }
    stream.write_all(&Control::new(ControlType::START, Some(CONTENT_TYPE_DNSTAP)).encode())
}

/// Closes a bidirectional stream as a sender: `STOP`, then wait for `FINISH`.
///
/// # Errors
/// I/O errors, or a receiver that closes without `FINISH`.
pub fn sender_stop<S: Read + Write>(stream: &mut S) -> io::Result<()> {
    stream.write_all(&Control::new(ControlType::STOP, None).encode())?;
    stream.flush()?;
    let mut dec = FrameDecoder::new(MAX_CONTROL_FRAME_LEN);
    loop {
        match dec.next_frame() {
            Ok(Some(Frame::Control(c))) if c.kind == ControlType::FINISH => return Ok(()),
            Ok(Some(_)) | Err(_) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "no FINISH"));
            }
            Ok(None) => {
                if dec.read_from(stream)? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(bytes: &[u8], chunk: usize) -> Result<Vec<String>, FrameError> {
        let mut d = FrameDecoder::new(64);
        let mut out = Vec::new();
        for c in bytes.chunks(chunk.max(1)) {
            d.push(c);
            while let Some(f) = d.next_frame()? {
                out.push(match f {
                    Frame::Data(b) => format!("data {}", String::from_utf8_lossy(b)),
                    Frame::Control(c) => format!("control {} {}", c.kind.0, c.content_types.len()),
                });
            }
        }
        Ok(out)
    }

    #[test]
    fn round_trip_in_any_chunking() {
        let mut w = FrameWriter::new(Vec::new());
        w.control(ControlType::START, Some(CONTENT_TYPE_DNSTAP))
            .unwrap();
        w.data(b"one").unwrap();
        w.data(b"two!").unwrap();
        w.control(ControlType::STOP, None).unwrap();
        let bytes = w.into_inner();
        let want = vec!["control 2 1", "data one", "data two!", "control 3 0"];
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(frames(&bytes, chunk).unwrap(), want, "chunk {chunk}");
        }
    }

    #[test]
    fn bounds_and_malformed_controls() {
        let cases: [(&[u8], &str); 5] = [
            (&[0, 0, 0, 65], "frame_too_long"),
            (&[0, 0, 0, 0, 0, 0, 2, 1], "control_frame_too_long"),
            (&[0, 0, 0, 0, 0, 0, 0, 2, 0, 1], "control_frame_too_short"),
            (
                &[0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9],
                "bad_control_field",
            ),
            (
                &[0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0],
                "bad_control_field",
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(frames(bytes, 100).unwrap_err().reason(), want, "{bytes:?}");
        }
        // Incomplete is not an error: it waits.
        assert_eq!(
            frames(&[0, 0, 0, 5, b'a'], 100).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn handshake_with_a_receiver() {
        use std::os::unix::net::UnixStream;
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let t = std::thread::spawn(move || {
            let mut d = FrameDecoder::new(1024);
            let mut seen = Vec::new();
            loop {
                match d.next_frame().unwrap() {
                    Some(Frame::Control(c)) => {
                        seen.push(c.kind.0);
                        if c.kind == ControlType::READY {
                            assert!(c.offers(CONTENT_TYPE_DNSTAP));
                            b.write_all(
                                &Control::new(ControlType::ACCEPT, Some(CONTENT_TYPE_DNSTAP))
                                    .encode(),
                            )
                            .unwrap();
                        }
                        if c.kind == ControlType::STOP {
                            b.write_all(&Control::new(ControlType::FINISH, None).encode())
                                .unwrap();
                            return seen;
                        }
                    }
                    Some(Frame::Data(x)) => seen.push(u32::from(x[0])),
                    None => {
                        d.read_from(&mut b).unwrap();
                    }
                }
            }
        });
        sender_handshake(&mut a).unwrap();
        FrameWriter::new(&mut a).data(b"\x09").unwrap();
        sender_stop(&mut a).unwrap();
        assert_eq!(t.join().unwrap(), vec![4, 2, 9, 3]);
    }
}
