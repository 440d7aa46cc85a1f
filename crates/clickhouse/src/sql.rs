//! Values in SQL text and in TabSeparated bodies.
//!
//! ClickHouse 18.16 has no bound query parameters over HTTP (`{name:Type}` came in 19.x),
//! so every value that reaches SQL text goes through [`lit`] (strings) or [`hex_lit`]
//! (bytes), and every value in an INSERT body through [`tsv_field`]. Names and rdata come
//! from the network: these three functions are what keeps them data.

use std::fmt::Write as _;

/// A string literal: `'...'` with `\` and `'` escaped and every byte outside printable
/// ASCII written as `\xHH`, so the literal is plain ASCII whatever the input holds.
#[must_use]
pub(crate) fn lit(s: &str) -> String {
    lit_bytes(s.as_bytes())
}

/// [`lit`] for arbitrary bytes.
#[must_use]
pub(crate) fn lit_bytes(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
    out.push('\'');
    out
}

/// Bytes as an `unhex('..')` expression (addresses, client ids).
#[must_use]
pub(crate) fn hex_lit(b: &[u8]) -> String {
    format!("unhex('{}')", hex(b))
}

#[must_use]
pub(crate) fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02X}");
    }
    s
}

/// Decodes hex (either case); `None` on an odd length or a non-hex digit.
#[must_use]
pub(crate) fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16);
    s.chunks_exact(2)
        .map(|p| Some(u8::try_from(digit(p[0])? * 16 + digit(p[1])?).unwrap_or(0)))
        .collect()
}

/// Appends one TabSeparated field: `\`, tab, newline and the other control characters
/// ClickHouse's TSV reader knows are escaped; every other byte goes as is.
pub(crate) fn tsv_field(out: &mut Vec<u8>, field: &[u8]) {
    for &b in field {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\'' => out.extend_from_slice(b"\\'"),
            _ => out.push(b),
        }
    }
}

/// Reverses ClickHouse's TabSeparated output escaping of one field.
#[must_use]
pub(crate) fn tsv_unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b == b'\\' && i + 1 < field.len() {
            let c = field[i + 1];
            i += 2;
            match c {
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'a' => out.push(0x07),
                b'v' => out.push(0x0b),
                b'x' if i + 2 <= field.len() => match unhex(&field[i..i + 2]) {
                    Some(v) => {
                        out.extend_from_slice(&v);
                        i += 2;
                    }
                    None => out.push(b'x'),
                },
                other => out.push(other),
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Splits a TabSeparated row into unescaped fields.
#[must_use]
pub(crate) fn tsv_row(line: &[u8]) -> Vec<Vec<u8>> {
    line.split(|b| *b == b'\t').map(tsv_unescape).collect()
}

/// Percent-encodes a URL query value.
#[must_use]
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%HH` escapes (user and password in a store URL).
#[must_use]
pub(crate) fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.extend(unhex(b.get(i + 1..i + 3)?)?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `s` can stand unquoted as a database, cluster or table name in DDL.
#[must_use]
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_everything_that_could_end_them() {
        let cases: &[(&str, &str)] = &[
            ("plain.example", "'plain.example'"),
            ("a'b", r"'a\'b'"),
            (r"a\b", r"'a\\b'"),
            (
                r"x\'); DROP TABLE tuples; --",
                r"'x\\\'); DROP TABLE tuples; --'",
            ),
            ("tab\there", r"'tab\x09here'"),
            ("nl\n", r"'nl\x0A'"),
            ("nul\0", r"'nul\x00'"),
            ("é", r"'\xC3\xA9'"),
            ("", "''"),
        ];
        for (input, want) in cases {
            let got = lit(input);
            assert_eq!(&got, want, "{input:?}");
            assert!(got.is_ascii());
            // Inside the quotes, every quote is escaped.
            let inner = &got[1..got.len() - 1];
            let mut escaped = false;
            for c in inner.chars() {
                assert!(escaped || c != '\'', "unescaped quote in {got}");
                escaped = !escaped && c == '\\';
            }
            assert!(!escaped, "dangling backslash in {got}");
        }
    }

    #[test]
    fn tsv_round_trip() {
        let cases: &[&[u8]] = &[
            b"plain",
            b"a\tb\nc\\d'e",
            b"\x00\x01\x08\x0c\r\xff",
            b"",
            b"\\x41",
        ];
        for c in cases {
            let mut out = Vec::new();
            tsv_field(&mut out, c);
            assert!(!out.contains(&b'\t') && !out.contains(&b'\n'));
            assert_eq!(tsv_unescape(&out), *c, "{c:?}");
        }
        assert_eq!(tsv_row(b"a\\tb\tc"), vec![b"a\tb".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn hex_and_url() {
        assert_eq!(hex(&[0x0a, 0xff]), "0AFF");
        assert_eq!(unhex(b"0aFF"), Some(vec![0x0a, 0xff]));
        assert_eq!(unhex(b"0g"), None);
        assert_eq!(unhex(b"abc"), None);
        assert_eq!(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(url_decode("p%40ss%3A").as_deref(), Some("p@ss:"));
        assert_eq!(url_decode("%4"), None);
        assert!(is_identifier("dnsrecall_1"));
        assert!(!is_identifier("x;drop"));
        assert!(!is_identifier("1abc"));
        assert!(!is_identifier(""));
    }
}
