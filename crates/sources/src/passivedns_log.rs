//! gamelinux/passivedns logs: the JSON lines of `-j` and the default `||`-separated text.
//!
//! passivedns prints one line per `(query, type, answer)` when it first sees it and again
//! when its cache entry is flushed; `count` is the number of sightings since the previous
//! print, so counts are summed downstream. An error response is printed with the rcode name
//! in place of the answer and a TTL of 0; such lines become [`Record::Negative`].
//!
//! Quirk kept as is: for an error response whose query type passivedns has no mnemonic
//! for, it prints the number of ldns's *rdf* type of the owner name (always `1`) rather
//! than the query type, so such negative records carry qtype 1.

use std::borrow::Cow;
use std::net::IpAddr;

use dnsrecall_model::{Micros, NegativeObservation, Observation, RrType, SensorId};
use memchr::memmem;

use crate::fields::{self, check_epoch};
use crate::json::{self, Value};
use crate::{LineContext, LineError, Reason, Record};

const KEYS: [&str; 11] = [
    "timestamp_s",
    "timestamp_ms",
    "client",
    "server",
    "class",
    "query",
    "type",
    "answer",
    "ttl",
    "count",
    "hostname",
];
const TIMESTAMP_S: usize = 0;
const TIMESTAMP_MS: usize = 1;
const CLIENT: usize = 2;
const SERVER: usize = 3;
const CLASS: usize = 4;
const QUERY: usize = 5;
const TYPE: usize = 6;
const ANSWER: usize = 7;
const TTL: usize = 8;
const COUNT: usize = 9;
const HOSTNAME: usize = 10;

/// Left and right double quotation marks, as a blog or word processor "corrects" them.
const TYPOGRAPHIC_QUOTES: [char; 2] = ['\u{201C}', '\u{201D}'];

pub(crate) fn parse_json(
    line: &[u8],
    ctx: &LineContext,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
    match parse_json_strict(line, ctx, out) {
        // Lines copied from web pages come with typographic quotes; retry once with plain
        // ones. Only on the failure path, so well-formed input pays nothing for it.
        Err(e) if e.reason == Reason::InvalidJson && has_typographic_quotes(line) => {
            match std::str::from_utf8(line) {
                Ok(text) => {
                    let fixed = text.replace(TYPOGRAPHIC_QUOTES, "\"");
                    parse_json_strict(fixed.as_bytes(), ctx, out)
                }
                Err(_) => Err(e),
            }
        }
        other => other,
    }
}

fn has_typographic_quotes(line: &[u8]) -> bool {
    let mut buf = [0u8; 4];
    TYPOGRAPHIC_QUOTES
        .iter()
        .any(|q| memmem::find(line, q.encode_utf8(&mut buf).as_bytes()).is_some())
}

fn parse_json_strict(
    line: &[u8],
    ctx: &LineContext,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
    let mut slots: [Option<Value<'_>>; KEYS.len()] = [const { None }; KEYS.len()];
    json::read_object(line, &KEYS, &mut slots)?;
    let seconds = fields::epoch_secs(
        KEYS[TIMESTAMP_S],
        fields::require(KEYS[TIMESTAMP_S], &slots[TIMESTAMP_S])?,
    )?;
    let micros = fields::micros_part(KEYS[TIMESTAMP_MS], slots[TIMESTAMP_MS].as_ref())?;
    let sensor_id = match &ctx.sensor_id {
        Some(s) => Some(s.clone()),
        None => fields::sensor(KEYS[HOSTNAME], slots[HOSTNAME].as_ref())?,
    };
    let line = LogLine {
        time: seconds * 1_000_000 + micros,
        sensor_id,
        client: fields::address(KEYS[CLIENT], slots[CLIENT].as_ref())?,
        server: fields::address(KEYS[SERVER], slots[SERVER].as_ref())?,
        class: fields::class(KEYS[CLASS], slots[CLASS].as_ref())?,
        query: fields::string(KEYS[QUERY], fields::require(KEYS[QUERY], &slots[QUERY])?)?,
        rrtype: fields::rrtype(KEYS[TYPE], fields::require(KEYS[TYPE], &slots[TYPE])?)?,
        answer: fields::string(KEYS[ANSWER], fields::require(KEYS[ANSWER], &slots[ANSWER])?)?,
        ttl: fields::ttl(KEYS[TTL], slots[TTL].as_ref())?,
        count: fields::count(KEYS[COUNT], slots[COUNT].as_ref())?,
    };
    line.emit(out)
}

/// The default text format: `ts.usec||client||server||class||query||type||answer||ttl||count`.
///
/// passivedns does not escape the answer, so TXT data may itself hold `||`: the four
/// leading and two trailing fields are split off first and the answer keeps the rest.
pub(crate) fn parse_text(
    line: &[u8],
    ctx: &LineContext,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
    let text = std::str::from_utf8(line)
        .map_err(|_| LineError::new(Reason::InvalidUtf8, "line is not valid UTF-8"))?;
    let [ts, client, server, class, query, rrtype, answer, ttl, count] = split_text(text)
        .ok_or_else(|| {
            LineError::new(
                Reason::WrongFieldCount,
                "expected 9 `||`-separated fields: ts||client||server||class||query||type||answer||ttl||count",
            )
        })?;
    let borrowed = |s| Value::Str(Cow::Borrowed(s));
    let line = LogLine {
        time: text_time(ts)?,
        sensor_id: ctx.sensor_id.clone(),
        client: fields::address_str("client", client)?,
        server: fields::address_str("server", server)?,
        class: fields::class("class", Some(&borrowed(class)))?,
        query,
        rrtype: fields::rrtype("type", &borrowed(rrtype))?,
        answer,
        ttl: fields::ttl("ttl", Some(&borrowed(ttl)))?,
        count: fields::count("count", Some(&borrowed(count)))?,
    };
    line.emit(out)
}

fn split_text(text: &str) -> Option<[&str; 9]> {
    let mut left = text.splitn(5, "||");
    let (ts, client, server, class) = (left.next()?, left.next()?, left.next()?, left.next()?);
    let mut right = left.next()?.rsplitn(3, "||");
    let (count, ttl) = (right.next()?, right.next()?);
    let mut middle = right.next()?.splitn(3, "||");
    let (query, rrtype, answer) = (middle.next()?, middle.next()?, middle.next()?);
    Some([ts, client, server, class, query, rrtype, answer, ttl, count])
}

/// `1553714372.268056` (passivedns prints `%lu.%06lu`); a bare number of seconds and
/// shorter fractions are accepted too.
fn text_time(s: &str) -> Result<Micros, LineError> {
    let bad = |why| LineError::field(Reason::BadTime, "timestamp", s, why);
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || secs.len() > 18 || !all_digits(secs) {
        return Err(bad("expected seconds.microseconds"));
    }
    if frac.len() > 6 || !all_digits(frac) {
        return Err(bad("expected at most 6 digits of microseconds"));
    }
    let seconds = check_epoch(
        "timestamp",
        secs.parse::<i128>().map_err(|_| bad("too large"))?,
    )?;
    let mut micros: i64 = 0;
    for i in 0..6 {
        let digit = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        micros = micros * 10 + digit;
    }
    Ok(seconds * 1_000_000 + micros)
}

/// One log line, its fields typed but its names and rdata not yet validated.
struct LogLine<'a> {
    time: Micros,
    sensor_id: SensorId,
    client: Option<IpAddr>,
    server: Option<IpAddr>,
    class: u16,
    query: &'a str,
    rrtype: RrType,
    answer: &'a str,
    ttl: Option<u32>,
    count: u64,
}

impl LogLine<'_> {
    fn emit(self, out: &mut Vec<Record>) -> Result<(), LineError> {
        let name = fields::name("query", self.query)?;
        // An rcode name is an error record only with no TTL: a real record could in
        // principle carry such text (a TXT answer would be quoted, but be strict anyway).
        let rcode = match self.ttl {
            None | Some(0) => fields::error_rcode(self.answer),
            Some(_) => None,
        };
        out.push(match rcode {
            Some(rcode) => Record::Negative(NegativeObservation {
                time: self.time,
                sensor_id: self.sensor_id,
                client: self.client,
                server: self.server,
                qname: name,
                qtype: self.rrtype,
                rcode,
                count: self.count,
            }),
            None => Record::Answer(Observation {
                time: self.time,
                sensor_id: self.sensor_id,
                client: self.client,
                server: self.server,
                rrname: name,
                rrtype: self.rrtype,
                class: self.class,
                rdata: fields::rdata("answer", self.rrtype, self.answer)?,
                ttl: self.ttl,
                count: self.count,
            }),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_split_keeps_pipes_in_the_answer() {
        let f = split_text("1.5||c||s||IN||q.||TXT||\"a||b\"||60||2").unwrap();
        assert_eq!(
            f,
            ["1.5", "c", "s", "IN", "q.", "TXT", "\"a||b\"", "60", "2"]
        );
        assert!(split_text("1||c||s||IN||q.||A||60||2").is_none());
        assert!(split_text("").is_none());
    }

    #[test]
    fn text_times() {
        let cases = [
            ("1553714372.268056", Some(1_553_714_372_268_056)),
            ("1553714372", Some(1_553_714_372_000_000)),
            ("1553714372.5", Some(1_553_714_372_500_000)),
            ("1553714372.", Some(1_553_714_372_000_000)),
            ("1553714372.1234567", None),
            ("-1.0", None),
            ("", None),
            ("99999999999999999.0", None),
            ("1e9", None),
        ];
        for (s, want) in cases {
            assert_eq!(text_time(s).ok(), want, "{s}");
        }
    }

    #[test]
    fn typographic_quotes_are_found() {
        assert!(has_typographic_quotes("a\u{201D}b".as_bytes()));
        assert!(has_typographic_quotes("\u{201C}".as_bytes()));
        assert!(!has_typographic_quotes(b"{\"a\":1}"));
    }
}
