//! Zeek `dns.log`, in its TSV form (ASCII writer, with `#separator`/`#fields` headers) and
//! in JSON (`LogAscii::use_json`), one DNS transaction per line.
//!
//! What Zeek gives, and what is therefore approximate (see `docs/sources.md`):
//!
//! * `answers` and `TTLs` are parallel lists of rdata *without owner names or types*. Every
//!   answer is stored under the question name (`query`): in a CNAME chain
//!   `www -> cdn -> 192.0.2.1`, the address is stored under `www`, not `cdn`.
//! * The type of an answer is inferred: an IPv4 address is `A`, an IPv6 address `AAAA`,
//!   `TXT n text` is `TXT`; a name is of the question type when that is `CNAME`, `NS`,
//!   `PTR` or `DNAME`, and otherwise a `CNAME` (a name answering an `A` question).
//! * Zeek logs only the target name of `MX`, `SRV` and `SOA` answers (no preference,
//!   port, serial...): such answers cannot be stored faithfully and are skipped and counted
//!   (`zeek_incomplete_rdata`), as are `<unknown type=N>` placeholders.
//! * A transaction with an error `rcode` (NXDOMAIN, SERVFAIL, ...) is a negative answer for
//!   `(query, qtype)`; one without a response (`rcode` unset) gives nothing.
//! * The client is `id.orig_h`, the server `id.resp_h`.

use std::borrow::Cow;
use std::net::IpAddr;

use dnsrecall_model::{NegativeObservation, Observation, Rcode, RrType};
use serde_json::Value as Json;

use crate::fields;
use crate::{LineContext, LineError, LineState, Reason, Record};

/// The columns of Zeek's `dns.log` in the order Zeek writes them, used until a `#fields`
/// header says otherwise.
const DEFAULT_FIELDS: [&str; 24] = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "trans_id",
    "rtt",
    "query",
    "qclass",
    "qclass_name",
    "qtype",
    "qtype_name",
    "rcode",
    "rcode_name",
    "AA",
    "TC",
    "RD",
    "RA",
    "Z",
    "answers",
    "TTLs",
    "rejected",
];
/// Most columns a `#fields` header may declare.
const MAX_FIELDS: usize = 256;

/// The columns a TSV `dns.log` declares in its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsvHeader {
    separator: u8,
    set_separator: u8,
    empty: String,
    unset: String,
    /// Column index of each field dnsrecall reads ([`Col`]).
    cols: [Option<usize>; COLS],
}

#[derive(Clone, Copy)]
enum Col {
    Ts,
    OrigH,
    RespH,
    Query,
    Qclass,
    Qtype,
    QtypeName,
    Rcode,
    RcodeName,
    Answers,
    Ttls,
}
const COLS: usize = 11;
const COL_NAMES: [&str; COLS] = [
    "ts",
    "id.orig_h",
    "id.resp_h",
    "query",
    "qclass",
    "qtype",
    "qtype_name",
    "rcode",
    "rcode_name",
    "answers",
    "TTLs",
];

impl Default for TsvHeader {
    fn default() -> Self {
        let mut h = Self {
            separator: b'\t',
            set_separator: b',',
            empty: "(empty)".into(),
            unset: "-".into(),
            cols: [None; COLS],
        };
        h.set_fields(DEFAULT_FIELDS.iter().copied());
        h
    }
}

impl TsvHeader {
    fn set_fields<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        self.cols = [None; COLS];
        for (i, name) in names.take(MAX_FIELDS).enumerate() {
            if let Some(c) = COL_NAMES.iter().position(|n| *n == name) {
                self.cols[c] = Some(i);
            }
        }
    }

    /// Takes in a `#` header line (`#separator`, `#set_separator`, `#empty_field`,
    /// `#unset_field`, `#fields`); other comment lines change nothing.
    pub fn header_line(&mut self, line: &[u8]) {
        let line = trim_end(line);
        if let Some(rest) = line.strip_prefix(b"#separator ") {
            if let Some(&b) = unescape(rest).first() {
                self.separator = b;
            }
            return;
        }
        let sep = self.separator;
        let mut parts = line.split(|&b| b == sep);
        let key = parts.next().unwrap_or_default();
        let value = |parts: &mut dyn Iterator<Item = &[u8]>| {
            String::from_utf8_lossy(&unescape(parts.next().unwrap_or_default())).into_owned()
        };
        match key {
            b"#set_separator" => {
                if let Some(&b) = value(&mut parts).as_bytes().first() {
                    self.set_separator = b;
                }
            }
            b"#empty_field" => self.empty = value(&mut parts),
            b"#unset_field" => self.unset = value(&mut parts),
            b"#fields" => {
                let names: Vec<String> = parts
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                self.set_fields(names.iter().map(String::as_str));
            }
            _ => {}
        }
    }
}

fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    line.get(..end).unwrap_or_default()
}

/// Zeek's ASCII escapes: `\xNN` is the byte NN; anything else is kept.
fn unescape(s: &[u8]) -> Cow<'_, [u8]> {
    if !s.contains(&b'\\') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'\\'
            && s.get(i + 1) == Some(&b'x')
            && let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// Bytes as presentation text: printable ASCII as is, other octets as `\DDD`.
fn presentation(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.bytes().all(|b| (0x20..0x7f).contains(&b)) => s.to_owned(),
        _ => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for &b in bytes {
                if (0x20..0x7f).contains(&b) {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("\\{b:03}"));
                }
            }
            out
        }
    }
}

/// One transaction, whichever form it came in.
struct Transaction {
    time: i64,
    client: Option<IpAddr>,
    server: Option<IpAddr>,
    query: Option<String>,
    class: u16,
    qtype: Option<RrType>,
    rcode: Option<u16>,
    answers: Vec<Vec<u8>>,
    ttls: Vec<Option<u32>>,
}

pub(crate) fn parse(
    line: &[u8],
    ctx: &LineContext,
    state: &mut LineState,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
    if line.first() == Some(&b'#') {
        state.zeek.header_line(line);
        return Ok(());
    }
    let tx = if line.first() == Some(&b'{') {
        from_json(line)?
    } else {
        from_tsv(line, &state.zeek)?
    };
    emit(tx, ctx, state, out)
}

fn from_tsv(line: &[u8], h: &TsvHeader) -> Result<Transaction, LineError> {
    let cells: Vec<&[u8]> = line.split(|&b| b == h.separator).collect();
    let get = |c: Col| -> Option<&[u8]> {
        let cell = *cells.get(h.cols[c as usize]?)?;
        (cell != h.unset.as_bytes()).then_some(cell)
    };
    let text = |c: Col| -> Result<Option<String>, LineError> {
        match get(c) {
            None => Ok(None),
            Some(b) => String::from_utf8(unescape(b).into_owned())
                .map(Some)
                .map_err(|_| {
                    LineError::new(
                        Reason::InvalidUtf8,
                        format!("{} is not UTF-8", COL_NAMES[c as usize]),
                    )
                }),
        }
    };
    let ts = text(Col::Ts)?.ok_or_else(|| LineError::new(Reason::MissingField, "ts is missing"))?;
    let list = |c: Col| -> Vec<Vec<u8>> {
        match get(c) {
            None => Vec::new(),
            Some(b) if b == h.empty.as_bytes() => Vec::new(),
            Some(b) => b
                .split(|&x| x == h.set_separator)
                .map(|e| unescape(e).into_owned())
                .collect(),
        }
    };
    let ttls = list(Col::Ttls)
        .iter()
        .map(|t| {
            std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|f| (0.0..=f64::from(u32::MAX)).contains(f))
                .map(|f| f as u32)
        })
        .collect();
    Ok(Transaction {
        time: time_text("ts", &ts)?,
        client: fields::address_str("id.orig_h", &text(Col::OrigH)?.unwrap_or_default())?,
        server: fields::address_str("id.resp_h", &text(Col::RespH)?.unwrap_or_default())?,
        query: text(Col::Query)?,
        class: number_u16("qclass", text(Col::Qclass)?.as_deref())?.unwrap_or(1),
        qtype: qtype(
            text(Col::QtypeName)?.as_deref(),
            number_u16("qtype", text(Col::Qtype)?.as_deref())?,
        ),
        rcode: match number_u16("rcode", text(Col::Rcode)?.as_deref())? {
            Some(r) => Some(r),
            None => text(Col::RcodeName)?
                .as_deref()
                .and_then(Rcode::parse)
                .map(|r| r.0),
        },
        answers: list(Col::Answers),
        ttls,
    })
}

fn number_u16(field: &str, s: Option<&str>) -> Result<Option<u16>, LineError> {
    match s {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            LineError::new(
                Reason::WrongType,
                format!("{field} {s:?}: not a 16-bit number"),
            )
        }),
    }
}

fn qtype(name: Option<&str>, number: Option<u16>) -> Option<RrType> {
    number.map(RrType).or_else(|| name.and_then(RrType::parse))
}

/// Epoch seconds with a fraction (Zeek's default) or ISO 8601 (`JSON::TS_ISO8601`), to µs.
fn time_text(field: &str, s: &str) -> Result<i64, LineError> {
    if s.contains('T') {
        return crate::suricata::iso8601_us(field, s);
    }
    let bad = || LineError::new(Reason::BadTime, format!("{field} {s:?}: not a time"));
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i128 = secs.parse().map_err(|_| bad())?;
    let secs = fields::check_epoch(field, secs)?;
    let digits: String = frac.chars().take(6).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let us: i64 = format!("{digits:0<6}").parse().map_err(|_| bad())?;
    Ok(secs * 1_000_000 + us)
}

fn from_json(line: &[u8]) -> Result<Transaction, LineError> {
    let v: Json = serde_json::from_slice(line).map_err(|e| {
        if std::str::from_utf8(line).is_err() {
            LineError::new(Reason::InvalidUtf8, "line is not valid UTF-8")
        } else {
            LineError::new(Reason::InvalidJson, e.to_string())
        }
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| LineError::new(Reason::WrongType, "line is not a JSON object"))?;
    let s = |k: &str| obj.get(k).and_then(Json::as_str);
    let n = |k: &str| -> Result<Option<u16>, LineError> {
        match obj.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(x) => x
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| LineError::new(Reason::WrongType, format!("{k}: not a number"))),
        }
    };
    let time = match obj.get("ts") {
        Some(Json::Number(x)) => time_text("ts", &x.to_string())?,
        Some(Json::String(t)) => time_text("ts", t)?,
        Some(other) => return Err(fields::wrong_type("ts", "a time", &json_kind(other))),
        None => return Err(LineError::new(Reason::MissingField, "ts is missing")),
    };
    let strings = |k: &str| -> Vec<Vec<u8>> {
        obj.get(k)
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(|x| x.as_bytes().to_vec())
                    .collect()
            })
            .unwrap_or_default()
    };
    let ttls = obj
        .get("TTLs")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .map(|t| {
                    t.as_f64()
                        .filter(|f| (0.0..=f64::from(u32::MAX)).contains(f))
                        .map(|f| f as u32)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Transaction {
        time,
        client: fields::address_str("id.orig_h", s("id.orig_h").unwrap_or_default())?,
        server: fields::address_str("id.resp_h", s("id.resp_h").unwrap_or_default())?,
        query: s("query").map(str::to_owned),
        class: n("qclass")?.unwrap_or(1),
        qtype: qtype(s("qtype_name"), n("qtype")?),
        rcode: match n("rcode")? {
            Some(r) => Some(r),
            None => s("rcode_name").and_then(Rcode::parse).map(|r| r.0),
        },
        answers: strings("answers"),
        ttls,
    })
}

/// A stand-in with the JSON kind, for the shared wrong-type message.
fn json_kind(v: &Json) -> crate::json::Value<'static> {
    use crate::json::Value;
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(_) => Value::UInt(0),
        Json::String(_) => Value::Str(Cow::Borrowed("")),
        Json::Array(_) => Value::List(Vec::new()),
        Json::Object(_) => Value::Object,
    }
}

fn emit(
    tx: Transaction,
    ctx: &LineContext,
    state: &mut LineState,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
    // A query without a response (or without a name) holds nothing to keep.
    let (Some(query), Some(rcode)) = (tx.query.as_deref(), tx.rcode) else {
        state.skip("zeek_no_response");
        return Ok(());
    };
    let rrname = fields::name("query", &presentation(&unescape(query.as_bytes())))?;
    let qtype = tx.qtype.unwrap_or(RrType::A);
    if rcode != 0 {
        out.push(Record::Negative(NegativeObservation {
            time: tx.time,
            sensor_id: ctx.sensor_id.clone(),
            client: tx.client,
            server: tx.server,
            qname: rrname.clone(),
            qtype,
            rcode: Rcode(rcode),
            count: 1,
        }));
    }
    let ttls_fit = tx.ttls.len() == tx.answers.len();
    for (i, answer) in tx.answers.iter().enumerate() {
        let Some((rrtype, text)) = infer(answer, qtype) else {
            state.skip("zeek_incomplete_rdata");
            continue;
        };
        let rdata = fields::rdata("answers", rrtype, &text)?;
        out.push(Record::Answer(Observation {
            time: tx.time,
            sensor_id: ctx.sensor_id.clone(),
            client: tx.client,
            server: tx.server,
            rrname: rrname.clone(),
            rrtype,
            class: tx.class,
            rdata,
            ttl: if ttls_fit {
                tx.ttls.get(i).copied().flatten()
            } else {
                None
            },
            count: 1,
        }));
    }
    Ok(())
}

/// The type and presentation rdata of one Zeek answer, `None` when Zeek's text cannot be
/// stored faithfully.
fn infer(answer: &[u8], qtype: RrType) -> Option<(RrType, String)> {
    if let Ok(text) = std::str::from_utf8(answer) {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(match ip {
                IpAddr::V4(_) => (RrType::A, text.to_owned()),
                IpAddr::V6(_) => (RrType::AAAA, text.to_owned()),
            });
        }
        if text.starts_with('<') {
            return None; // <unknown type=N> and similar placeholders
        }
    }
    if answer.starts_with(b"TXT ") {
        return txt(answer).map(|t| (RrType::TXT, t));
    }
    if answer.contains(&b' ') || answer.is_empty() {
        return None;
    }
    let rrtype = match qtype {
        RrType::CNAME | RrType::NS | RrType::PTR | RrType::DNAME => qtype,
        RrType::MX | RrType::SRV | RrType::SOA | RrType::NAPTR | RrType::KX | RrType::AFSDB => {
            return None;
        }
        _ => RrType::CNAME,
    };
    Some((rrtype, presentation(answer)))
}

/// `TXT <len> <bytes>` repeated (one per character-string, space-separated), to quoted
/// presentation strings.
fn txt(mut rest: &[u8]) -> Option<String> {
    let mut out = String::new();
    while !rest.is_empty() {
        rest = rest.strip_prefix(b"TXT ")?;
        let sp = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(rest.get(..sp)?).ok()?.parse().ok()?;
        let body = rest.get(sp + 1..sp + 1 + len)?;
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('"');
        for &b in body {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x20..0x7f => out.push(char::from(b)),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('"');
        rest = rest.get(sp + 1 + len..)?;
        rest = rest.strip_prefix(b" ").unwrap_or(rest);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_answers() {
        assert_eq!(
            txt(b"TXT 11 hello world TXT 3 a\"b").as_deref(),
            Some(r#""hello world" "a\"b""#)
        );
        assert_eq!(txt(b"TXT 99 short"), None);
        assert_eq!(txt(b"TXT x y"), None);
    }

    #[test]
    fn inference() {
        type Case<'a> = (&'a [u8], RrType, Option<(RrType, &'a str)>);
        let cases: [Case<'_>; 8] = [
            (b"192.0.2.1", RrType::A, Some((RrType::A, "192.0.2.1"))),
            (
                b"2001:db8::1",
                RrType::ANY,
                Some((RrType::AAAA, "2001:db8::1")),
            ),
            (
                b"cdn.example",
                RrType::A,
                Some((RrType::CNAME, "cdn.example")),
            ),
            (
                b"ns1.example",
                RrType::NS,
                Some((RrType::NS, "ns1.example")),
            ),
            (
                b"host.example",
                RrType::PTR,
                Some((RrType::PTR, "host.example")),
            ),
            (b"mail.example", RrType::MX, None),
            (b"<unknown type=65>", RrType(65), None),
            (b"TXT 2 hi", RrType::TXT, Some((RrType::TXT, "\"hi\""))),
        ];
        for (answer, q, want) in cases {
            let got = infer(answer, q);
            assert_eq!(
                got.as_ref().map(|(t, s)| (*t, s.as_str())),
                want,
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[test]
    fn escapes_and_times() {
        assert_eq!(&*unescape(b"a\\x2cb\\x09c\\xzz"), b"a,b\tc\\xzz");
        assert_eq!(presentation(b"a\x01b"), "a\\001b");
        assert_eq!(
            time_text("ts", "1258531221.486539").unwrap(),
            1_258_531_221_486_539
        );
        assert_eq!(
            time_text("ts", "1258531221.5").unwrap(),
            1_258_531_221_500_000
        );
        assert_eq!(
            time_text("ts", "2009-11-18T08:00:21.486539Z").unwrap(),
            1_258_531_221_486_539
        );
        assert!(time_text("ts", "abc").is_err());
    }

    #[test]
    fn headers() {
        let mut h = TsvHeader::default();
        h.header_line(b"#separator \\x7c\n");
        assert_eq!(h.separator, b'|');
        h.header_line(b"#set_separator|;");
        h.header_line(b"#fields|query|ts|answers");
        assert_eq!(h.set_separator, b';');
        assert_eq!(h.cols[Col::Query as usize], Some(0));
        assert_eq!(h.cols[Col::Ts as usize], Some(1));
        assert_eq!(h.cols[Col::Rcode as usize], None);
    }
}
