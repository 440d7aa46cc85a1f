//! Decoders of passive DNS log lines into model records, and the line input they read from.
//!
//! * [`parse_line`] turns one line of a [`Format`] into [`Record`]s: gamelinux/passivedns
//!   JSON (`-j`) and its default `||` text become [`Observation`]s (or
//!   [`NegativeObservation`]s for NXDOMAIN and other error answers); Passive DNS Common
//!   Output Format (COF) NDJSON lines become already-aggregated [`Tuple`]s; Zeek
//!   `dns.log` (TSV or JSON) and Suricata `eve.json` `dns` events become observations.
//! * [`detect`] picks the format from the first non-empty line of a file.
//! * [`parse_line_with`] keeps what a format carries from line to line in a [`LineState`]
//!   (Zeek's TSV headers) and counts answers a format cannot express faithfully.
//! * [`open_file`] opens plain or gzipped files; [`LineReader`] splits them into lines with
//!   bounded memory, tracks the byte offset and line number for checkpoints, and in tail
//!   mode leaves a half-written last line for the next call.
//!
//! Every input is treated as hostile: nothing here panics, allocation is bounded by the line
//! length limit ([`MAX_LINE_LEN`]), names and rdata go through the model's canonicalizing
//! constructors, and numbers through range checks. A rejected line yields a [`LineError`]
//! whose [`Reason`] is a stable counter key and whose message names the field and why.
//! This crate knows nothing about stores.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod cof;
mod error;
mod fields;
mod input;
mod json;
pub mod live_capture;
mod passivedns_log;
pub mod pcap_file;
mod suricata;
mod zeek;

use std::fmt;
use std::str::FromStr;

pub use dnsrecall_model::{NegativeObservation, Observation, Record, SensorId, Tuple};
pub use error::{LineError, Reason};
pub use fields::{MAX_COUNT, MAX_EPOCH_SECS, MAX_SENSOR_ID_LEN};
pub use input::{Line, LineReader, MAX_LINE_LEN, open_file};
pub use zeek::TsvHeader as ZeekTsvHeader;

use memchr::memmem;

/// A log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// gamelinux/passivedns JSON lines (`-j`).
    PassivednsJson,
    /// gamelinux/passivedns default text: `ts.usec||client||server||class||query||type||answer||ttl||count`.
    PassivednsText,
    /// Passive DNS Common Output Format, one JSON object per line.
    Cof,
    /// Zeek `dns.log`: TSV with `#` headers, or JSON lines.
    Zeek,
    /// Suricata `eve.json` (`dns` events; v1, v2 and the v3 of Suricata 8).
    Suricata,
}

impl Format {
    pub const ALL: [Self; 5] = [
        Self::PassivednsJson,
        Self::PassivednsText,
        Self::Cof,
        Self::Zeek,
        Self::Suricata,
    ];

    /// The name used on the command line and in configuration.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PassivednsJson => "passivedns-json",
            Self::PassivednsText => "passivedns-text",
            Self::Cof => "cof",
            Self::Zeek => "zeek",
            Self::Suricata => "suricata",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected passivedns-json, passivedns-text, cof, zeek or suricata")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Guesses the format from the first non-empty line of a file: a JSON object with an
/// `"event_type"` key is Suricata's eve.json, one with `"uid"` and `"id.orig_h"` Zeek's,
/// one with an `"rrname"` key is COF, one with `"timestamp_s"` or `"query"` is passivedns
/// JSON; a line starting `#separator` is a Zeek TSV log, and a line holding `||` is
/// passivedns text.
#[must_use]
pub fn detect(first_nonempty_line: &[u8]) -> Option<Format> {
    let line = trim_ascii_start(strip_bom(first_nonempty_line));
    if line.starts_with(b"#separator") {
        return Some(Format::Zeek);
    }
    if line.first() == Some(&b'{') {
        let has = |key: &[u8]| memmem::find(line, key).is_some();
        if has(b"\"event_type\"") {
            Some(Format::Suricata)
        } else if has(b"\"uid\"") && has(b"\"id.orig_h\"") {
            Some(Format::Zeek)
        } else if has(b"\"rrname\"") {
            Some(Format::Cof)
        } else if has(b"\"timestamp_s\"") || has(b"\"query\"") {
            Some(Format::PassivednsJson)
        } else {
            None
        }
    } else if memmem::find(line, b"||").is_some() {
        Some(Format::PassivednsText)
    } else {
        None
    }
}

/// What the caller knows about the lines beyond their content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineContext {
    /// The sensor given on the command line (`--sensor`). It wins over passivedns's
    /// `hostname`; a COF record's own `sensor_id` wins over it.
    pub sensor_id: SensorId,
}

/// What one input carries from line to line, and what its lines held that no record can
/// express (counted, by reason).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineState {
    /// The columns of a Zeek TSV log, from its `#` headers.
    pub zeek: zeek::TsvHeader,
    /// Answers or events skipped on purpose, by reason (`zeek_incomplete_rdata`,
    /// `suricata_not_dns`, ...): see the format modules.
    pub skipped: std::collections::BTreeMap<&'static str, u64>,
}

impl LineState {
    pub(crate) fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }
}

/// Decodes one line (with or without its line ending) and appends its records to `out`.
///
/// A blank line appends nothing. On error nothing is appended: a line is all or nothing.
/// Formats that need state across lines (Zeek TSV headers) use [`parse_line_with`].
///
/// # Errors
/// A [`LineError`] saying why the line was rejected; the caller counts it by
/// [`Reason::as_str`] and goes on with the next line.
pub fn parse_line(
    format: Format,
    line: &[u8],
    ctx: &LineContext,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
    parse_line_with(format, line, ctx, &mut LineState::default(), out)
}

/// [`parse_line`] with the input's [`LineState`]: Zeek TSV header lines update it, and
/// answers skipped on purpose are counted in it.
///
/// # Errors
/// As [`parse_line`].
pub fn parse_line_with(
    format: Format,
    line: &[u8],
    ctx: &LineContext,
    state: &mut LineState,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
    if line.len() > MAX_LINE_LEN {
        return Err(LineError::line_too_long(line.len() as u64));
    }
    let line = trim_line_end(strip_bom(line));
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let before = out.len();
    let result = match format {
        Format::PassivednsJson => passivedns_log::parse_json(line, ctx, out),
        Format::PassivednsText => passivedns_log::parse_text(line, ctx, out),
        Format::Cof => cof::parse(line, ctx, out),
        Format::Zeek => zeek::parse(line, ctx, state, out),
        Format::Suricata => suricata::parse(line, ctx, state, out),
    };
    if result.is_err() {
        out.truncate(before);
    }
    result
}

fn strip_bom(line: &[u8]) -> &[u8] {
    line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line)
}

fn trim_ascii_start(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    line.get(start..).unwrap_or_default()
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    line.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests;
