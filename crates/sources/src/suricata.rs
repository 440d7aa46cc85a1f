//! Suricata `eve.json`: the `dns` events (other event types are skipped and counted as
//! `suricata_not_dns`; DNS requests as `suricata_request`).
//!
//! Three generations of the response format are read:
//!
//! * v1 (Suricata 4 and older, no `version`): one event per answer record,
//!   `{"type":"answer","rrname","rrtype","ttl","rdata","rcode"}`.
//! * v2 (Suricata 5 to 7): one event per response, `"type":"answer"`, the question in
//!   `rrname`/`rrtype`, answers in `answers` (detailed: owner, type, TTL, rdata each)
//!   and/or `grouped` (`{"A": [...], "CNAME": [...]}`, without owners: stored under the
//!   question name, see `docs/sources.md`), `authorities` beside them.
//! * v3 (Suricata 8): `"type":"response"`, the questions in `queries`, and the **address
//!   roles swapped**: in v1/v2 `src_ip` is the client (the flow's direction), in v3 the
//!   responder (the server) is `src_ip` and the client `dest_ip`.
//!
//! Answer records are kept like the wire decoder keeps them: every `answers` record, plus
//! `SOA` and `NS` from `authorities`. `SOA`, `SRV` and `SSHFP` come as objects and are
//! rebuilt in presentation form. Suricata logs only the exchange of an `MX` (no
//! preference): such answers are skipped and counted (`suricata_incomplete_rdata`), like
//! rdata that does not fit its type (`suricata_bad_rdata`). An error `rcode` gives a
//! negative answer per question.

use std::net::IpAddr;

use dnsrecall_model::{Name, NegativeObservation, Observation, Rcode, Rdata, RrType};
use serde_json::{Map, Value as Json};

use crate::fields;
use crate::{LineContext, LineError, LineState, Reason, Record};

/// Most answers read from one event (a DNS message holds at most 65,535 anyway).
const MAX_ANSWERS: usize = 65_535;

type Obj = Map<String, Json>;

pub(crate) fn parse(
    line: &[u8],
    ctx: &LineContext,
    state: &mut LineState,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
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
    if obj.get("event_type").and_then(Json::as_str) != Some("dns") {
        state.skip("suricata_not_dns");
        return Ok(());
    }
    let dns = obj
        .get("dns")
        .and_then(Json::as_object)
        .ok_or_else(|| LineError::new(Reason::MissingField, "dns is missing"))?;
    let kind = dns.get("type").and_then(Json::as_str).unwrap_or("");
    let v3 = match kind {
        "answer" => false,
        "response" => true,
        "query" | "request" => {
            state.skip("suricata_request");
            return Ok(());
        }
        other => {
            return Err(LineError::new(
                Reason::WrongType,
                format!("dns.type {other:?}: expected answer, response, query or request"),
            ));
        }
    };
    let time = match obj.get("timestamp") {
        Some(Json::String(s)) => iso8601_us("timestamp", s)?,
        Some(_) => {
            return Err(LineError::new(
                Reason::WrongType,
                "timestamp: expected a string",
            ));
        }
        None => return Err(LineError::new(Reason::MissingField, "timestamp is missing")),
    };
    let addr =
        |k: &str| fields::address_str(k, obj.get(k).and_then(Json::as_str).unwrap_or_default());
    let (src, dest) = (addr("src_ip")?, addr("dest_ip")?);
    // v3: the response's source is the responder; v1/v2 log in the flow's direction.
    let (client, server) = if v3 { (dest, src) } else { (src, dest) };
    let sensor_id = match ctx.sensor_id.clone() {
        Some(s) => Some(s),
        None => fields::sensor(
            "host",
            obj.get("host")
                .and_then(Json::as_str)
                .map(|h| crate::json::Value::Str(h.into()))
                .as_ref(),
        )?,
    };
    let base = Base {
        time,
        sensor_id,
        client,
        server,
    };

    // The questions: v3 `queries`, else the top-level `rrname`/`rrtype`.
    let mut questions: Vec<(Name, RrType)> = Vec::new();
    match dns.get("queries").and_then(Json::as_array) {
        Some(qs) => {
            for q in qs.iter().filter_map(Json::as_object).take(MAX_ANSWERS) {
                questions.push(question(q)?);
            }
        }
        None => {
            if dns.contains_key("rrname") {
                questions.push(question(dns)?);
            }
        }
    }
    let rcode = match dns.get("rcode").and_then(Json::as_str) {
        None => 0,
        Some(name) => Rcode::parse(name).map(|r| r.0).ok_or_else(|| {
            LineError::new(Reason::WrongType, format!("dns.rcode {name:?}: unknown"))
        })?,
    };
    if rcode != 0 {
        if questions.is_empty() {
            return Err(LineError::new(
                Reason::MissingField,
                "an error response without its question (rrname or queries)",
            ));
        }
        for (qname, qtype) in &questions {
            out.push(Record::Negative(NegativeObservation {
                time,
                sensor_id: base.sensor_id.clone(),
                client,
                server,
                qname: qname.clone(),
                qtype: *qtype,
                rcode: Rcode(rcode),
                count: 1,
            }));
        }
    }

    let has_detailed = dns.get("answers").and_then(Json::as_array).is_some();
    if let Some(answers) = dns.get("answers").and_then(Json::as_array) {
        for a in answers.iter().filter_map(Json::as_object).take(MAX_ANSWERS) {
            record(a, &base, state, out, |_| true)?;
        }
    } else if let Some(grouped) = dns.get("grouped").and_then(Json::as_object) {
        // Grouped answers have no owner names: the (first) question name stands in.
        let Some((owner, _)) = questions.first() else {
            return Err(LineError::new(
                Reason::MissingField,
                "grouped answers without their question (rrname or queries)",
            ));
        };
        for (ty, values) in grouped {
            let Some(rrtype) = RrType::parse(ty) else {
                state.skip("suricata_bad_rdata");
                continue;
            };
            for value in values.as_array().into_iter().flatten().take(MAX_ANSWERS) {
                match rdata_of(rrtype, value, None) {
                    Some(rdata) => out.push(base.answer(owner.clone(), rrtype, rdata, None)),
                    None => state.skip(incomplete_or_bad(rrtype)),
                }
            }
        }
    } else if !has_detailed && dns.contains_key("rdata") {
        // v1: the event is one answer record.
        record(dns, &base, state, out, |_| true)?;
    }
    if let Some(auth) = dns.get("authorities").and_then(Json::as_array) {
        for a in auth.iter().filter_map(Json::as_object).take(MAX_ANSWERS) {
            record(a, &base, state, out, |t| {
                matches!(t, RrType::SOA | RrType::NS)
            })?;
        }
    }
    Ok(())
}

struct Base {
    time: i64,
    sensor_id: dnsrecall_model::SensorId,
    client: Option<IpAddr>,
    server: Option<IpAddr>,
}

impl Base {
    fn answer(&self, rrname: Name, rrtype: RrType, rdata: Rdata, ttl: Option<u32>) -> Record {
        Record::Answer(Observation {
            time: self.time,
            sensor_id: self.sensor_id.clone(),
            client: self.client,
            server: self.server,
            rrname,
            rrtype,
            class: 1,
            rdata,
            ttl,
            count: 1,
        })
    }
}

fn question(q: &Obj) -> Result<(Name, RrType), LineError> {
    let rrname = q
        .get("rrname")
        .and_then(Json::as_str)
        .ok_or_else(|| LineError::new(Reason::MissingField, "rrname is missing"))?;
    let rrtype = match q.get("rrtype").and_then(Json::as_str) {
        Some(t) => RrType::parse(t)
            .ok_or_else(|| LineError::new(Reason::UnknownType, format!("rrtype {t:?}: unknown")))?,
        None => RrType::A,
    };
    // Suricata writes the root name as "<root>".
    let rrname = if rrname == "<root>" { "." } else { rrname };
    Ok((fields::name("rrname", rrname)?, rrtype))
}

/// One detailed record (`answers`/`authorities` element, or a v1 event), kept when `keep`
/// says so for its type.
fn record(
    a: &Obj,
    base: &Base,
    state: &mut LineState,
    out: &mut Vec<Record>,
    keep: impl Fn(RrType) -> bool,
) -> Result<(), LineError> {
    let (rrname, rrtype) = question(a)?;
    if !keep(rrtype) {
        return Ok(());
    }
    let ttl = a
        .get("ttl")
        .and_then(Json::as_u64)
        .and_then(|t| u32::try_from(t).ok());
    let value = ["rdata", "soa", "srv", "sshfp"]
        .iter()
        .find_map(|k| a.get(*k))
        .unwrap_or(&Json::Null);
    match rdata_of(rrtype, value, Some(a)) {
        Some(rdata) => out.push(base.answer(rrname, rrtype, rdata, ttl)),
        None => state.skip(incomplete_or_bad(rrtype)),
    }
    Ok(())
}

fn incomplete_or_bad(rrtype: RrType) -> &'static str {
    if rrtype == RrType::MX {
        "suricata_incomplete_rdata"
    } else {
        "suricata_bad_rdata"
    }
}

/// Presentation rdata from Suricata's form of it: a string, a list of strings (TXT), or
/// an object (SOA, SRV, SSHFP).
fn rdata_of(rrtype: RrType, value: &Json, _record: Option<&Obj>) -> Option<Rdata> {
    let text = match (rrtype, value) {
        // Only "pref exchange" is complete; Suricata writes the exchange alone.
        (RrType::MX, Json::String(s)) if s.split_whitespace().count() == 2 => s.clone(),
        (RrType::MX, _) => return None,
        (RrType::TXT | RrType::SPF, Json::String(s)) => quoted(&[s.as_str()]),
        (RrType::TXT | RrType::SPF, Json::Array(parts)) => {
            let parts: Vec<&str> = parts.iter().filter_map(Json::as_str).collect();
            quoted(&parts)
        }
        (_, Json::String(s)) => s.clone(),
        (RrType::SOA, Json::Object(o)) => {
            let s = |k: &str| o.get(k).and_then(Json::as_str);
            let n = |k: &str| o.get(k).and_then(Json::as_u64);
            format!(
                "{} {} {} {} {} {} {}",
                s("mname")?,
                s("rname")?,
                n("serial")?,
                n("refresh")?,
                n("retry")?,
                n("expire")?,
                n("minimum")?
            )
        }
        (RrType::SRV, Json::Object(o)) => {
            let n = |k: &str| o.get(k).and_then(Json::as_u64);
            format!(
                "{} {} {} {}",
                n("priority")?,
                n("weight")?,
                n("port")?,
                o.get("name").and_then(Json::as_str)?
            )
        }
        (RrType::SSHFP, Json::Object(o)) => {
            let n = |k: &str| o.get(k).and_then(Json::as_u64);
            let fp: String = o
                .get("fingerprint")
                .and_then(Json::as_str)?
                .chars()
                .filter(|c| *c != ':')
                .collect();
            format!("{} {} {fp}", n("algo")?, n("type")?)
        }
        _ => return None,
    };
    Rdata::new(rrtype, &text).ok()
}

/// Character-strings in presentation form, each at most 255 octets.
fn quoted(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        let bytes = part.as_bytes();
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![&[][..]]
        } else {
            bytes.chunks(255).collect()
        };
        for chunk in chunks {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push('"');
            for &b in chunk {
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
        }
    }
    out
}

/// An ISO 8601 / RFC 3339 time (`2024-03-01T10:46:10.393829+0100`, `...Z`, `+01:00`) to
/// microseconds since the epoch, UTC.
pub(crate) fn iso8601_us(field: &str, s: &str) -> Result<i64, LineError> {
    let bad = || {
        LineError::new(
            Reason::BadTime,
            format!("{field} {s:?}: not an ISO 8601 time"),
        )
    };
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, LineError> {
        let t = s.get(r).ok_or_else(bad)?;
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    if b.len() < 19
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(13) != Some(&b':')
    {
        return Err(bad());
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(16) != Some(&b':') {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(bad());
    }
    let mut i = 19;
    let mut us = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return Err(bad());
        }
        let digits = s.get(start..end.min(start + 6)).ok_or_else(bad)?;
        us = format!("{digits:0<6}").parse().map_err(|_| bad())?;
        i = end;
    }
    let offset_secs = match b.get(i) {
        None | Some(b'Z' | b'z') => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = s.get(i + 1..).ok_or_else(bad)?.replace(':', "");
            if rest.len() != 4 || !rest.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            let h: i64 = rest[..2].parse().map_err(|_| bad())?;
            let m: i64 = rest[2..].parse().map_err(|_| bad())?;
            let o = h * 3600 + m * 60;
            if sign == b'+' { o } else { -o }
        }
        _ => return Err(bad()),
    };
    // Days from the civil date (proleptic Gregorian), after H. Hinnant.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    let secs = fields::check_epoch(field, i128::from(secs))?;
    Ok(secs * 1_000_000 + us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let cases = [
            ("2017-01-05T10:46:10.393829+0100", 1_483_609_570_393_829),
            ("2017-01-05T09:46:10.393829Z", 1_483_609_570_393_829),
            ("2017-01-05T09:46:10.393829+00:00", 1_483_609_570_393_829),
            ("2017-01-05T04:46:10.3938-0500", 1_483_609_570_393_800),
            ("1970-01-01T00:00:00Z", 0),
            ("2024-02-29T12:00:00Z", 1_709_208_000_000_000),
        ];
        for (s, want) in cases {
            assert_eq!(iso8601_us("t", s).unwrap(), want, "{s}");
        }
        for bad in [
            "2017-13-05T10:46:10Z",
            "2017-01-05",
            "x",
            "2017-01-05T10:46:10+01",
            "",
        ] {
            assert_eq!(
                iso8601_us("t", bad).unwrap_err().reason,
                Reason::BadTime,
                "{bad}"
            );
        }
    }

    #[test]
    fn rdata_forms() {
        let soa = serde_json::json!({"mname":"ns1.example.","rname":"host.example.","serial":1,
            "refresh":2,"retry":3,"expire":4,"minimum":5});
        assert_eq!(
            rdata_of(RrType::SOA, &soa, None).unwrap().as_str(),
            "ns1.example host.example 1 2 3 4 5"
        );
        let srv = serde_json::json!({"priority":10,"weight":5,"port":5060,"name":"sip.example"});
        assert_eq!(
            rdata_of(RrType::SRV, &srv, None).unwrap().as_str(),
            "10 5 5060 sip.example"
        );
        assert_eq!(
            rdata_of(RrType::MX, &Json::from("mail.example"), None),
            None
        );
        assert_eq!(
            rdata_of(RrType::TXT, &Json::from("v=spf1 \"x\""), None)
                .unwrap()
                .as_str(),
            r#""v=spf1 \"x\"""#
        );
        assert_eq!(rdata_of(RrType::A, &Json::from("not-an-ip"), None), None);
    }
}
