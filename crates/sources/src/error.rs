use std::fmt;

/// Longest excerpt of an offending value quoted in a [`LineError`] message.
const MAX_SNIPPET_CHARS: usize = 64;

/// Why a line was rejected. The [`Reason::as_str`] names are stable: callers use them as
/// counter keys, so a name never changes meaning once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// Not JSON, or JSON with trailing garbage.
    InvalidJson,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// A required field is absent (or `null`).
    MissingField,
    /// A field holds the wrong JSON type (an object where a string belongs, ...).
    WrongType,
    /// A text line without the expected number of `||`-separated fields.
    WrongFieldCount,
    /// A name that is not a valid domain name (empty label, bad IDNA, ...).
    BadName,
    /// A name longer than 253 characters.
    NameTooLong,
    /// A control character (or space) inside a name or rdata.
    ControlCharacter,
    /// Rdata that does not fit its type (an A record that is not an IPv4 address, ...).
    BadRdata,
    /// A timestamp that is not a number, or outside 1970..2200.
    BadTime,
    /// A count that is not a number, below 1 or implausibly large.
    BadCount,
    /// A TTL that is not a number or outside `0..=u32::MAX`.
    BadTtl,
    /// A class that is not `IN`, `CH`, `HS`, `NONE`, `ANY`, `CLASSnnn` or a number.
    BadClass,
    /// A client or server field that is not an IP address.
    BadAddress,
    /// A sensor name (`hostname`, `sensor_id`) that is too long or holds control characters.
    BadSensorId,
    /// A record type that is neither a known mnemonic, `TYPEnnn`, nor a number.
    UnknownType,
    /// A line longer than [`crate::MAX_LINE_LEN`].
    LineTooLong,
}

impl Reason {
    /// Every reason, for callers that pre-register counters.
    pub const ALL: [Self; 17] = [
        Self::InvalidJson,
        Self::InvalidUtf8,
        Self::MissingField,
        Self::WrongType,
        Self::WrongFieldCount,
        Self::BadName,
        Self::NameTooLong,
        Self::ControlCharacter,
        Self::BadRdata,
        Self::BadTime,
        Self::BadCount,
        Self::BadTtl,
        Self::BadClass,
        Self::BadAddress,
        Self::BadSensorId,
        Self::UnknownType,
        Self::LineTooLong,
    ];

    /// The stable snake_case name, used as a counter key.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::MissingField => "missing_field",
            Self::WrongType => "wrong_type",
            Self::WrongFieldCount => "wrong_field_count",
            Self::BadName => "bad_name",
            Self::NameTooLong => "name_too_long",
            Self::ControlCharacter => "control_character",
            Self::BadRdata => "bad_rdata",
            Self::BadTime => "bad_time",
            Self::BadCount => "bad_count",
            Self::BadTtl => "bad_ttl",
            Self::BadClass => "bad_class",
            Self::BadAddress => "bad_address",
            Self::BadSensorId => "bad_sensor_id",
            Self::UnknownType => "unknown_type",
            Self::LineTooLong => "line_too_long",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A rejected line: a stable [`Reason`] to count, and a message naming the field and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct LineError {
    pub reason: Reason,
    pub message: String,
}

impl LineError {
    #[must_use]
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// The error for a line of `len` bytes over [`crate::MAX_LINE_LEN`] (as reported by
    /// [`crate::Line::TooLong`]).
    #[must_use]
    pub fn line_too_long(len: u64) -> Self {
        Self::new(
            Reason::LineTooLong,
            format!(
                "line of {len} bytes is over the {} byte limit",
                crate::MAX_LINE_LEN
            ),
        )
    }

    /// A field whose value is wrong: `field "value…": why`.
    pub(crate) fn field(reason: Reason, field: &str, value: &str, why: impl fmt::Display) -> Self {
        Self::new(reason, format!("{field} {}: {why}", snippet(value)))
    }
}

/// A short, escaped excerpt of untrusted text, safe to print in a log line.
pub(crate) fn snippet(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(MAX_SNIPPET_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        }));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Reason::ALL.len());
    }

    #[test]
    fn snippets_are_escaped_and_bounded() {
        assert_eq!(snippet("a\u{1}b"), "\"a\\u{1}b\"");
        let long = "x".repeat(500);
        let s = snippet(&long);
        assert!(s.len() < 80 && s.ends_with('…'), "{s}");
    }
}
