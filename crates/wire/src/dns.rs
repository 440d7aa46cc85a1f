//! One DNS message to records.
//!
//! The message is walked once to find its questions and records (bounds-checked, without
//! following compression pointers), then each answer record becomes an [`Observation`].
//! Names are decompressed here with loop, bounds and length checks, so every problem has
//! its own counter; record data is decompressed into a self-contained buffer, which is
//! both the key of the render cache and what [`crate::render`] parses.

use std::collections::HashMap;
use std::net::IpAddr;

use dnsrecall_model::{
    Name, NegativeObservation, Observation, Rcode, Rdata, Record, RrType, SensorId,
};

use crate::counters::{Counters, reason};
use crate::link::{be16, be32};
use crate::render::{Rendered, generic, render_rdata, write_label};

/// Length of the fixed DNS header (RFC 1035 §4.1.1).
pub const DNS_HEADER_LEN: usize = 12;
/// Longest name on the wire, length octets and the root label included (RFC 1035 §3.1).
pub const MAX_WIRE_NAME_LEN: usize = 255;
/// Most compression pointers followed while reading one name (a legitimate name needs at
/// most one per label); more is counted as a loop.
pub const MAX_POINTER_HOPS: usize = 128;
/// Most pointers per name that do not point before the labels they follow. Pointers
/// that do can never loop (each goes further back), so every loop needs such a pointer:
/// this catches loops in a few steps, while the rare forward pointer (which tshark and
/// passivedns follow) still works.
pub const MAX_FORWARD_POINTERS: usize = 4;
/// Longest record data (after decompression) kept in the render cache; longer data is
/// rendered every time it is seen.
pub const MAX_CACHED_RDATA_LEN: usize = 2048;
/// Bookkeeping bytes charged per cache entry on top of its key and text.
const CACHE_ENTRY_OVERHEAD: usize = 64;

const OPCODE_QUERY: u8 = 0;
const RCODE_NXDOMAIN: u16 = 3;

/// Where a DNS message came from: what every record made from it carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageMeta {
    /// Capture time, microseconds since the Unix epoch.
    pub ts_us: i64,
    /// The querier: the destination of a response.
    pub client: Option<IpAddr>,
    /// The answering server: the source of a response.
    pub server: Option<IpAddr>,
    pub sensor_id: SensorId,
    /// Multicast DNS (RFC 6762): the top bit of a record's class is the cache-flush flag,
    /// not part of the class, and is cleared.
    pub mdns: bool,
}

/// Decodes one DNS message on its own (for fuzzing, dnstap, tests): appends a record for
/// every answer of a response to `out` and counts what it saw in `counters`.
///
/// Never panics; malformed input is counted in `counters.anomalies`. For many messages,
/// a [`MessageDecoder`] is faster: it keeps its buffers and a cache of rendered rdata.
pub fn decode_message(
    msg: &[u8],
    meta: &MessageMeta,
    out: &mut Vec<Record>,
    counters: &mut Counters,
) {
    MessageDecoder::new(0).decode(msg, meta, out, counters);
}

/// A reusable DNS message decoder: buffers and a bounded cache of rendered rdata.
#[derive(Debug)]
pub struct MessageDecoder {
    questions: Vec<(usize, u16)>,
    rrs: Vec<Rr>,
    wire: Vec<u8>,
    key: Vec<u8>,
    text: String,
    cache: RdataCache,
    owner: Option<(usize, Name)>,
}

#[derive(Clone, Copy, Debug)]
struct Rr {
    section: Section,
    name_pos: usize,
    rrtype: u16,
    class: u16,
    ttl: u32,
    rdata_start: usize,
    rdata_end: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Answer,
    Authority,
    Additional,
}

impl MessageDecoder {
    /// A decoder whose rdata cache holds at most `cache_bytes` (0 disables it).
    #[must_use]
    pub fn new(cache_bytes: usize) -> Self {
        Self {
            questions: Vec::new(),
            rrs: Vec::new(),
            wire: Vec::with_capacity(MAX_WIRE_NAME_LEN),
            key: Vec::new(),
            text: String::new(),
            cache: RdataCache::new(cache_bytes),
            owner: None,
        }
    }

    /// Decodes one message; see [`decode_message`].
    pub fn decode(
        &mut self,
        msg: &[u8],
        meta: &MessageMeta,
        out: &mut Vec<Record>,
        counters: &mut Counters,
    ) {
        counters.dns_messages += 1;
        let Some(header) = msg.get(..DNS_HEADER_LEN) else {
            counters.anomaly(reason::DNS_SHORT_HEADER);
            return;
        };
        let be = |i: usize| be16(header, i).unwrap_or(0);
        let flags = be(2);
        if flags & 0x8000 == 0 {
            counters.queries += 1;
            return;
        }
        counters.responses += 1;
        let opcode = ((flags >> 11) & 0xf) as u8;
        if opcode != OPCODE_QUERY {
            counters.skip(reason::DNS_OPCODE);
            return;
        }
        if flags & 0x0200 != 0 {
            counters.anomaly(reason::DNS_TRUNCATED_TC);
        }
        let counts = [be(4), be(6), be(8), be(10)];
        let opt_ttl = self.walk(msg, counts, counters);
        let mut rcode = flags & 0xf;
        if let Some(ttl) = opt_ttl {
            // EDNS extended rcode: the OPT TTL's top octet holds the upper 8 bits.
            rcode |= ((ttl >> 24) as u16) << 4;
        }
        self.owner = None;
        let mut answers = 0_usize;
        if rcode == 0 || rcode == RCODE_NXDOMAIN {
            // NXDOMAIN answers may hold the CNAME chain that led to the missing name,
            // and its authority the zone's SOA (RFC 2308 §2.1): real data, kept.
            let rrs = std::mem::take(&mut self.rrs);
            for rr in &rrs {
                let keep = match rr.section {
                    Section::Answer => true,
                    Section::Authority => {
                        matches!(RrType(rr.rrtype), RrType::SOA | RrType::NS)
                    }
                    Section::Additional => false,
                };
                if !keep {
                    continue;
                }
                if is_pseudo(rr.rrtype) {
                    counters.skip(reason::PSEUDO_RECORD);
                    continue;
                }
                if rr.section == Section::Answer {
                    answers += 1;
                }
                if let Some(obs) = self.observation(msg, rr, meta, counters) {
                    counters.answers += 1;
                    out.push(Record::Answer(obs));
                }
            }
            self.rrs = rrs;
        }
        if rcode == 0 {
            if answers == 0 {
                counters.nodata += 1;
            }
            return;
        }
        if self.questions.is_empty() {
            counters.anomaly(reason::DNS_ERROR_WITHOUT_QUESTION);
            return;
        }
        let questions = std::mem::take(&mut self.questions);
        for &(pos, qtype) in &questions {
            let Some(qname) = self.name_at(msg, pos, counters) else {
                continue;
            };
            counters.negatives += 1;
            out.push(Record::Negative(NegativeObservation {
                time: meta.ts_us,
                sensor_id: meta.sensor_id.clone(),
                client: meta.client,
                server: meta.server,
                qname,
                qtype: RrType(qtype),
                rcode: Rcode(rcode),
                count: 1,
            }));
        }
        self.questions = questions;
    }

    /// Finds the questions and records (in `self.questions` and `self.rrs`); returns the
    /// TTL field of the first OPT record, if any.
    fn walk(&mut self, msg: &[u8], counts: [u16; 4], counters: &mut Counters) -> Option<u32> {
        self.questions.clear();
        self.rrs.clear();
        let mut pos = DNS_HEADER_LEN;
        for _ in 0..counts[0] {
            let end = skip_name(msg, pos, counters)?;
            let Some(qtype) = be16(msg, end) else {
                counters.anomaly(reason::DNS_TRUNCATED_RECORD);
                return None;
            };
            if msg.len() < end + 4 {
                counters.anomaly(reason::DNS_TRUNCATED_RECORD);
                return None;
            }
            self.questions.push((pos, qtype));
            pos = end + 4;
        }
        let mut opt_ttl = None;
        let sections = [
            (Section::Answer, counts[1]),
            (Section::Authority, counts[2]),
            (Section::Additional, counts[3]),
        ];
        for (section, count) in sections {
            for _ in 0..count {
                let Some(end) = skip_name(msg, pos, counters) else {
                    return opt_ttl;
                };
                let (Some(rrtype), Some(class), Some(ttl), Some(rdlen)) = (
                    be16(msg, end),
                    be16(msg, end + 2),
                    be32(msg, end + 4),
                    be16(msg, end + 8),
                ) else {
                    counters.anomaly(reason::DNS_TRUNCATED_RECORD);
                    return opt_ttl;
                };
                let rdata_start = end + 10;
                let rdata_end = rdata_start + usize::from(rdlen);
                if rdata_end > msg.len() {
                    counters.anomaly(reason::DNS_TRUNCATED_RECORD);
                    return opt_ttl;
                }
                if rrtype == RrType::OPT.0 && opt_ttl.is_none() {
                    opt_ttl = Some(ttl);
                }
                self.rrs.push(Rr {
                    section,
                    name_pos: pos,
                    rrtype,
                    class,
                    ttl,
                    rdata_start,
                    rdata_end,
                });
                pos = rdata_end;
            }
        }
        if pos < msg.len() {
            counters.anomaly(reason::DNS_TRAILING_BYTES);
        }
        opt_ttl
    }

    fn observation(
        &mut self,
        msg: &[u8],
        rr: &Rr,
        meta: &MessageMeta,
        counters: &mut Counters,
    ) -> Option<Observation> {
        let rrname = self.owner_name(msg, rr.name_pos, counters)?;
        let rdata = self.rdata(msg, rr, counters)?;
        let class = if meta.mdns {
            rr.class & 0x7fff
        } else {
            rr.class
        };
        Some(Observation {
            time: meta.ts_us,
            sensor_id: meta.sensor_id.clone(),
            client: meta.client,
            server: meta.server,
            rrname,
            rrtype: RrType(rr.rrtype),
            class,
            rdata,
            ttl: Some(rr.ttl),
            count: 1,
        })
    }

    /// The owner name at `pos`, reusing the previous record's when both point at the
    /// same place (the usual `C0 0C` of every answer).
    fn owner_name(&mut self, msg: &[u8], pos: usize, counters: &mut Counters) -> Option<Name> {
        let target = match (msg.get(pos), msg.get(pos + 1)) {
            (Some(&hi), Some(&lo)) if hi & 0xc0 == 0xc0 => {
                usize::from(hi & 0x3f) << 8 | usize::from(lo)
            }
            _ => pos,
        };
        if let Some((at, name)) = &self.owner
            && *at == target
        {
            return Some(name.clone());
        }
        let name = self.name_at(msg, pos, counters)?;
        self.owner = Some((target, name.clone()));
        Some(name)
    }

    fn name_at(&mut self, msg: &[u8], pos: usize, counters: &mut Counters) -> Option<Name> {
        self.wire.clear();
        if let Err(e) = read_name(msg, pos, &mut self.wire) {
            counters.anomaly(e.reason());
            return None;
        }
        self.text.clear();
        wire_to_text(&self.wire, &mut self.text);
        match Name::new(&self.text) {
            Ok(n) => Some(n),
            Err(_) => {
                counters.anomaly(reason::DNS_INVALID_NAME);
                None
            }
        }
    }

    fn rdata(&mut self, msg: &[u8], rr: &Rr, counters: &mut Counters) -> Option<Rdata> {
        self.key.clear();
        self.key.extend_from_slice(&rr.rrtype.to_be_bytes());
        match expand_rdata(msg, rr.rrtype, rr.rdata_start, rr.rdata_end, &mut self.key) {
            Expanded::Yes => {}
            Expanded::Broken(why) => {
                counters.anomaly(why);
                return None;
            }
            Expanded::Overrun => {
                // The data's own structure is wrong: show its bytes.
                counters.anomaly(reason::DNS_MALFORMED_RDATA);
                let raw = msg.get(rr.rdata_start..rr.rdata_end).unwrap_or_default();
                self.text.clear();
                generic(raw, &mut self.text);
                return match Rdata::new(RrType(rr.rrtype), &self.text) {
                    Ok(r) => Some(r),
                    Err(_) => {
                        counters.anomaly(reason::DNS_INVALID_RDATA);
                        None
                    }
                };
            }
        }
        if let Some(hit) = self.cache.get(&self.key) {
            counters.rdata_cache_hits += 1;
            return hit.report(counters);
        }
        counters.rdata_cache_misses += 1;
        let data = self.key.get(2..).unwrap_or_default();
        let rendered = render_rdata(rr.rrtype, data, &mut self.text);
        let entry = Cached {
            malformed: rendered == Rendered::Malformed,
            rdata: Rdata::new(RrType(rr.rrtype), &self.text).ok(),
        };
        let result = entry.report(counters);
        self.cache.insert(&self.key, entry);
        result
    }
}

fn is_pseudo(rrtype: u16) -> bool {
    matches!(
        RrType(rrtype),
        RrType::OPT | RrType::TSIG | RrType::TKEY | RrType::IXFR | RrType::AXFR | RrType::ANY
    )
}

/// Why a name could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameError {
    Truncated,
    Loop,
    PointerOutOfBounds,
    BadLabelType,
    TooLong,
}

impl NameError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Truncated => reason::DNS_TRUNCATED_RECORD,
            Self::Loop => reason::DNS_COMPRESSION_LOOP,
            Self::PointerOutOfBounds => reason::DNS_POINTER_OUT_OF_BOUNDS,
            Self::BadLabelType => reason::DNS_BAD_LABEL_TYPE,
            Self::TooLong => reason::DNS_NAME_TOO_LONG,
        }
    }
}

/// The position after the name at `pos`, without following pointers (so no loop can
/// happen here); counts the anomaly when the name cannot even be skipped.
fn skip_name(msg: &[u8], mut pos: usize, counters: &mut Counters) -> Option<usize> {
    let start = pos;
    loop {
        let Some(&len) = msg.get(pos) else {
            counters.anomaly(reason::DNS_TRUNCATED_RECORD);
            return None;
        };
        match len {
            0 => return Some(pos + 1),
            1..=63 => {
                pos += 1 + usize::from(len);
                if pos - start >= MAX_WIRE_NAME_LEN {
                    counters.anomaly(reason::DNS_NAME_TOO_LONG);
                    return None;
                }
            }
            0xc0..=0xff => {
                if msg.len() < pos + 2 {
                    counters.anomaly(reason::DNS_TRUNCATED_RECORD);
                    return None;
                }
                return Some(pos + 2);
            }
            _ => {
                counters.anomaly(reason::DNS_BAD_LABEL_TYPE);
                return None;
            }
        }
    }
}

/// Appends the uncompressed wire form of the name at `start` (labels and the root octet)
/// to `wire`, following compression pointers anywhere in the message (forward ones too,
/// as tshark and passivedns do). Returns the position after the name where it sits.
pub(crate) fn read_name(msg: &[u8], start: usize, wire: &mut Vec<u8>) -> Result<usize, NameError> {
    let base = wire.len();
    let mut pos = start;
    let mut after = None;
    let (mut hops, mut forward) = (0, 0);
    // Where the labels being read began: a pointer before it cannot lead back here.
    let mut segment = start;
    loop {
        let Some(&len) = msg.get(pos) else {
            return Err(NameError::Truncated);
        };
        match len {
            0 => {
                wire.push(0);
                return Ok(after.unwrap_or(pos + 1));
            }
            1..=63 => {
                let l = usize::from(len);
                let Some(label) = msg.get(pos + 1..pos + 1 + l) else {
                    return Err(NameError::Truncated);
                };
                // This label, and the root octet still to come, must fit in 255.
                if wire.len() - base + 1 + l + 1 > MAX_WIRE_NAME_LEN {
                    return Err(NameError::TooLong);
                }
                wire.push(len);
                wire.extend_from_slice(label);
                pos += 1 + l;
            }
            0xc0..=0xff => {
                let Some(&lo) = msg.get(pos + 1) else {
                    return Err(NameError::Truncated);
                };
                let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                if after.is_none() {
                    after = Some(pos + 2);
                }
                if target >= msg.len() {
                    return Err(NameError::PointerOutOfBounds);
                }
                hops += 1;
                if target >= segment {
                    forward += 1;
                }
                segment = target;
                if hops > MAX_POINTER_HOPS || forward > MAX_FORWARD_POINTERS {
                    return Err(NameError::Loop);
                }
                pos = target;
            }
            _ => return Err(NameError::BadLabelType),
        }
    }
}

/// Presentation form of an uncompressed wire name (without the trailing dot; `.` for the
/// root), for [`Name::new`].
pub(crate) fn wire_to_text(wire: &[u8], out: &mut String) {
    let mut rest = wire;
    let mut first = true;
    while let Some((&len, tail)) = rest.split_first() {
        if len == 0 {
            break;
        }
        let l = usize::from(len);
        let Some(label) = tail.get(..l) else {
            break;
        };
        if !first {
            out.push('.');
        }
        first = false;
        write_label(label, out);
        rest = tail.get(l..).unwrap_or_default();
    }
    if first {
        out.push('.');
    }
}

/// What [`expand_rdata`] made of the record data.
enum Expanded {
    /// Self-contained data appended.
    Yes,
    /// A name in it is broken (loop, bad pointer, ...): the record is dropped.
    Broken(&'static str),
    /// Its fields run past its length: shown in the generic form.
    Overrun,
}

/// One field of record data, for decompression.
#[derive(Clone, Copy)]
enum Field {
    Fixed(usize),
    Name,
    CharStr,
}

/// The fields up to and including the last name, for types whose data holds names.
/// Decompression is applied to every type that names here, even those where RFC 3597 §4
/// forbids compression: some servers compress them anyway, and decompressing an
/// uncompressed name changes nothing.
fn layout(rrtype: u16) -> &'static [Field] {
    use Field::{CharStr, Fixed, Name};
    match RrType(rrtype) {
        RrType::NS
        | RrType::MD
        | RrType::MF
        | RrType::CNAME
        | RrType::MB
        | RrType::MG
        | RrType::MR
        | RrType::PTR
        | RrType::DNAME
        | RrType::NSEC => &[Name],
        RrType::SOA | RrType::MINFO | RrType::RP => &[Name, Name],
        RrType::MX | RrType::AFSDB | RrType::RT | RrType::KX | RrType::SVCB | RrType::HTTPS => {
            &[Fixed(2), Name]
        }
        RrType::PX => &[Fixed(2), Name, Name],
        RrType::SRV => &[Fixed(6), Name],
        RrType::NAPTR => &[Fixed(4), CharStr, CharStr, CharStr, Name],
        RrType::RRSIG | RrType::SIG => &[Fixed(18), Name],
        _ => &[],
    }
}

/// Appends the record data at `start..end` to `out` with every name in it decompressed.
fn expand_rdata(msg: &[u8], rrtype: u16, start: usize, end: usize, out: &mut Vec<u8>) -> Expanded {
    let Some(raw) = msg.get(start..end) else {
        return Expanded::Overrun;
    };
    let fields = layout(rrtype);
    if fields.is_empty() || raw.is_empty() {
        out.extend_from_slice(raw);
        return Expanded::Yes;
    }
    let mut pos = start;
    for field in fields {
        match *field {
            Field::Fixed(n) => {
                let Some(bytes) = msg.get(pos..pos + n).filter(|_| pos + n <= end) else {
                    return Expanded::Overrun;
                };
                out.extend_from_slice(bytes);
                pos += n;
            }
            Field::CharStr => {
                let Some(&len) = msg.get(pos).filter(|_| pos < end) else {
                    return Expanded::Overrun;
                };
                let n = 1 + usize::from(len);
                let Some(bytes) = msg.get(pos..pos + n).filter(|_| pos + n <= end) else {
                    return Expanded::Overrun;
                };
                out.extend_from_slice(bytes);
                pos += n;
            }
            Field::Name => {
                if pos >= end {
                    return Expanded::Overrun;
                }
                // Only the part of the name that sits in place must stay in the data;
                // pointers may go anywhere in the message.
                match read_name(msg, pos, out) {
                    Ok(after) if after <= end => pos = after,
                    Ok(_) | Err(NameError::Truncated) => return Expanded::Overrun,
                    Err(e) => return Expanded::Broken(e.reason()),
                }
            }
        }
    }
    out.extend_from_slice(msg.get(pos..end).unwrap_or_default());
    Expanded::Yes
}

/// A rendered and canonicalized rdata, or the fact that it is invalid.
#[derive(Clone, Debug)]
struct Cached {
    rdata: Option<Rdata>,
    malformed: bool,
}

impl Cached {
    fn report(&self, counters: &mut Counters) -> Option<Rdata> {
        if self.malformed {
            counters.anomaly(reason::DNS_MALFORMED_RDATA);
        }
        if self.rdata.is_none() {
            counters.anomaly(reason::DNS_INVALID_RDATA);
        }
        self.rdata.clone()
    }
}

/// Rendered rdata by `(rrtype, decompressed rdata)`, bounded in bytes: when full, it is
/// cleared (cheap, and a busy resolver's hot set refills it at once).
#[derive(Debug)]
struct RdataCache {
    map: HashMap<Box<[u8]>, Cached>,
    bytes: usize,
    max_bytes: usize,
}

impl RdataCache {
    fn new(max_bytes: usize) -> Self {
        Self {
            map: HashMap::new(),
            bytes: 0,
            max_bytes,
        }
    }

    fn get(&self, key: &[u8]) -> Option<&Cached> {
        if self.max_bytes == 0 {
            return None;
        }
        self.map.get(key)
    }

    fn insert(&mut self, key: &[u8], value: Cached) {
        if key.len() > MAX_CACHED_RDATA_LEN + 2 {
            return;
        }
        let cost =
            key.len() + value.rdata.as_ref().map_or(0, |r| r.as_str().len()) + CACHE_ENTRY_OVERHEAD;
        if cost > self.max_bytes {
            return;
        }
        if self.bytes + cost > self.max_bytes {
            self.map.clear();
            self.bytes = 0;
        }
        self.bytes += cost;
        self.map.insert(key.into(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::response;

    fn decode(msg: &[u8]) -> (Vec<Record>, Counters) {
        let mut out = Vec::new();
        let mut counters = Counters::default();
        let meta = MessageMeta {
            ts_us: 1_000_000,
            client: Some("192.0.2.1".parse().unwrap()),
            server: Some("192.0.2.53".parse().unwrap()),
            ..MessageMeta::default()
        };
        let mut dec = MessageDecoder::new(1 << 20);
        dec.decode(msg, &meta, &mut out, &mut counters);
        (out, counters)
    }

    fn answers(records: &[Record]) -> Vec<(String, String, String)> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Answer(o) => Some((
                    o.rrname.to_string(),
                    o.rrtype.to_string(),
                    o.rdata.to_string(),
                )),
                _ => None,
            })
            .collect()
    }

    const QNAME: &[u8] = b"\x03www\x07Example\x03com\x00";

    #[test]
    fn cname_chain_keeps_each_owner() {
        // www.example.com CNAME a.example.com (compressed), a.example.com A 192.0.2.7
        let msg = response(
            1,
            0,
            QNAME,
            1,
            &[
                (b"\xc0\x0c", 5, 300, b"\x01a\xc0\x10"),
                (b"\x01A\xc0\x10", 1, 60, &[192, 0, 2, 7]),
            ],
        );
        let (out, c) = decode(&msg);
        assert_eq!(
            answers(&out),
            vec![
                (
                    "www.example.com".into(),
                    "CNAME".into(),
                    "a.example.com".into()
                ),
                ("a.example.com".into(), "A".into(), "192.0.2.7".into()),
            ]
        );
        assert_eq!((c.responses, c.answers, c.total_anomalies()), (1, 2, 0));
        let Record::Answer(o) = &out[0] else {
            panic!("not an answer")
        };
        assert_eq!(o.client, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(o.ttl, Some(300));
        assert_eq!(o.time, 1_000_000);
    }

    #[test]
    fn nxdomain_gives_one_negative_per_question() {
        let msg = response(2, 3, QNAME, 28, &[]);
        let (out, c) = decode(&msg);
        assert_eq!(out.len(), 1);
        let Record::Negative(n) = &out[0] else {
            panic!("not a negative")
        };
        assert_eq!(n.qname.as_str(), "www.example.com");
        assert_eq!(n.qtype, RrType::AAAA);
        assert_eq!(n.rcode, Rcode::NXDOMAIN);
        assert_eq!((c.negatives, c.nodata), (1, 0));
    }

    #[test]
    fn nodata_is_counted_and_queries_are_not_decoded() {
        let (out, c) = decode(&response(3, 0, QNAME, 1, &[]));
        assert!(out.is_empty());
        assert_eq!(c.nodata, 1);
        let mut query = response(4, 0, QNAME, 1, &[]);
        query[2] = 0x01;
        let (out, c) = decode(&query);
        assert!(out.is_empty());
        assert_eq!((c.queries, c.responses), (1, 0));
    }

    #[test]
    fn anomalies_are_counted_not_thrown() {
        let a: &[u8] = &[192, 0, 2, 1];
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "pointer loop in owner",
                response(5, 0, QNAME, 1, &[(b"\x01x\xc0\x21", 1, 1, a)]),
                reason::DNS_COMPRESSION_LOOP,
            ),
            (
                "pointer to itself",
                response(5, 0, QNAME, 1, &[(b"\xc0\x21", 1, 1, a)]),
                reason::DNS_COMPRESSION_LOOP,
            ),
            (
                "pointer out of bounds",
                response(5, 0, QNAME, 1, &[(b"\xc3\xff", 1, 1, a)]),
                reason::DNS_POINTER_OUT_OF_BOUNDS,
            ),
            (
                "bad label type",
                response(5, 0, QNAME, 1, &[(b"\x41x\x00", 1, 1, a)]),
                reason::DNS_BAD_LABEL_TYPE,
            ),
            (
                "loop inside rdata",
                response(5, 0, QNAME, 5, &[(b"\xc0\x0c", 5, 1, b"\xc0\x2d")]),
                reason::DNS_COMPRESSION_LOOP,
            ),
            (
                "truncated message",
                {
                    let mut m = response(5, 0, QNAME, 1, &[(b"\xc0\x0c", 1, 1, a)]);
                    m.truncate(m.len() - 2);
                    m
                },
                reason::DNS_TRUNCATED_RECORD,
            ),
            (
                "trailing bytes",
                {
                    let mut m = response(5, 0, QNAME, 1, &[(b"\xc0\x0c", 1, 1, a)]);
                    m.extend_from_slice(b"junk");
                    m
                },
                reason::DNS_TRAILING_BYTES,
            ),
            (
                "short header",
                vec![0x81, 0x80, 0],
                reason::DNS_SHORT_HEADER,
            ),
            (
                "TC=1",
                {
                    let mut m = response(5, 0, QNAME, 1, &[(b"\xc0\x0c", 1, 1, a)]);
                    m[2] |= 0x02;
                    m
                },
                reason::DNS_TRUNCATED_TC,
            ),
            (
                "malformed A",
                response(5, 0, QNAME, 1, &[(b"\xc0\x0c", 1, 1, &[1, 2, 3])]),
                reason::DNS_MALFORMED_RDATA,
            ),
        ];
        for (what, msg, want) in cases {
            let (_, c) = decode(&msg);
            assert_eq!(c.anomaly_count(want), 1, "{what}: {:?}", c.anomalies);
        }
    }

    #[test]
    fn pointer_chains_are_bounded() {
        // A NULL record whose data is a chain of pointers, each to the one before; the
        // second record's owner points at the end of the chain.
        let chain_len = |n: usize| {
            let rdata_at = 12 + QNAME.len() + 4 + 2 + 10;
            let mut rdata = vec![0xc0, 0x0c];
            for i in 1..n {
                let prev = (rdata_at + 2 * (i - 1)) as u16;
                rdata.extend_from_slice(&(0xc000 | prev).to_be_bytes());
            }
            let last = (0xc000 | (rdata_at + 2 * (n - 1)) as u16).to_be_bytes();
            let msg = response(
                9,
                0,
                QNAME,
                1,
                &[(b"\xc0\x0c", 10, 1, &rdata), (&last, 1, 1, &[1, 2, 3, 4])],
            );
            decode(&msg)
        };
        let (out, c) = chain_len(MAX_POINTER_HOPS - 1);
        assert_eq!(answers(&out)[1].0, "www.example.com");
        assert_eq!(c.total_anomalies(), 0);
        let (out, c) = chain_len(MAX_POINTER_HOPS + 1);
        assert_eq!(out.len(), 1);
        assert_eq!(c.anomaly_count(reason::DNS_COMPRESSION_LOOP), 1);
    }

    #[test]
    fn long_names_are_refused() {
        // 5 labels of 63 octets: 320 octets on the wire.
        let mut owner = Vec::new();
        for _ in 0..5 {
            owner.push(63);
            owner.extend_from_slice(&[b'a'; 63]);
        }
        owner.push(0);
        let msg = response(6, 0, QNAME, 1, &[(&owner, 1, 1, &[1, 2, 3, 4])]);
        let (out, c) = decode(&msg);
        assert!(out.is_empty());
        assert_eq!(c.anomaly_count(reason::DNS_NAME_TOO_LONG), 1);
    }

    #[test]
    fn forward_pointers_are_followed() {
        // The owner points forward at a name placed in the rdata of a later record.
        let mut msg = response(
            7,
            0,
            QNAME,
            1,
            &[
                (b"\xc0\x00", 1, 1, &[1, 2, 3, 4]),
                (b"\xc0\x0c", 5, 1, b"\x03fwd\x00"),
            ],
        );
        let fwd = msg.len() - 5;
        msg[34] = fwd as u8;
        let (out, _) = decode(&msg);
        assert_eq!(answers(&out)[0].0, "fwd");
    }

    #[test]
    fn cache_hits_give_the_same_rdata() {
        let msg = response(
            8,
            0,
            QNAME,
            1,
            &[
                (b"\xc0\x0c", 1, 1, &[1, 2, 3, 4]),
                (b"\xc0\x0c", 1, 1, &[1, 2, 3, 4]),
            ],
        );
        let (out, c) = decode(&msg);
        assert_eq!(answers(&out)[0], answers(&out)[1]);
        assert_eq!((c.rdata_cache_hits, c.rdata_cache_misses), (1, 1));
    }
}
