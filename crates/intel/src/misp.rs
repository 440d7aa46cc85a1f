//! MISP formats: `/attributes/restSearch` JSON, event JSON (one event, a list of them, or
//! `/events/restSearch`'s `{"response":[{"Event":...}]}`), the CSV export, the text export
//! and a feed's `manifest.json` (each `UUID.json` of a feed is event JSON).
//!
//! Only the attribute types that concern DNS become indicators (see [`attribute_targets`]);
//! the others are counted as ignored. A value that its type says is a name or an address
//! but is not goes to `bad`, with its place (`Attribute[12]`, `Object[3].Attribute[1]`,
//! `line 7`).

use serde_json::Value;

use crate::FormatError;
use crate::ioc::{BadEntry, Ioc, IocMeta, Parsed, Target};
use crate::list::{domain_name, host_target, parse_addresses_strict, parse_lines, url_host};

/// The attribute types that become indicators.
pub const DNS_TYPES: &[&str] = &[
    "domain",
    "hostname",
    "domain|ip",
    "ip-src",
    "ip-dst",
    "ip-src|port",
    "ip-dst|port",
    "hostname|port",
    "url",
];

/// Longest manifest key taken as an event uuid (also a file name: `UUID.json`).
const MAX_UUID_LEN: usize = 64;

/// Event context is copied into every indicator of the event, so it is bounded: a hostile
/// event with huge tags or title and many attributes must not multiply memory. Real events
/// stay far below (the PyMISP OSINT events: at most 18 tags, 618 bytes, 88-byte titles).
pub const MAX_EVENT_TAGS: usize = 64;
/// See [`MAX_EVENT_TAGS`]: the total bytes of the event tags copied to each indicator.
pub const MAX_EVENT_TAG_BYTES: usize = 4096;
/// See [`MAX_EVENT_TAGS`]: the event title is cut to this many bytes in indicators.
pub const MAX_EVENT_INFO_BYTES: usize = 1024;

/// One event of a MISP feed's `manifest.json`; its attributes are in `UUID.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedEvent {
    /// The event uuid: hex digits and hyphens only, so `{uuid}.json` is a safe file name.
    pub uuid: String,
    pub info: Option<String>,
    /// `date` (`YYYY-MM-DD`).
    pub date: Option<String>,
    /// Epoch seconds of the event's last change.
    pub timestamp: Option<i64>,
    /// The creating organisation's name (`Orgc.name`).
    pub org: Option<String>,
    /// Event tag names.
    pub tags: Vec<String>,
    pub threat_level_id: Option<String>,
    pub analysis: Option<String>,
}

/// What is known of the event an attribute belongs to.
#[derive(Debug, Clone, Default)]
struct EventContext {
    /// Event id, or uuid when there is no id.
    event: Option<String>,
    info: Option<String>,
    tags: Vec<String>,
    timestamp: Option<i64>,
}

fn from_json(text: &str) -> Result<Value, FormatError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| FormatError::Json {
        place: format!("line {} column {}", e.line(), e.column()),
        reason: e.to_string(),
    })
}

fn shape(place: &str, reason: &str) -> FormatError {
    FormatError::Shape {
        place: place.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Parses `/attributes/restSearch` JSON: `{"response":{"Attribute":[...]}}`, and the forms
/// seen around it: `{"Attribute":[...]}`, `{"response":[{"Attribute":{...}}, ...]}`,
/// `{"response":[{...attribute...}]}` and a bare array of attributes.
///
/// # Errors
/// When the text is not JSON or holds no attribute list.
pub fn parse_attributes(text: &str) -> Result<Parsed, FormatError> {
    let doc = from_json(text)?;
    let mut out = Parsed::default();
    let list: &[Value] = match &doc {
        Value::Object(top) => match top.get("response").unwrap_or(&doc) {
            Value::Object(resp) => match resp.get("Attribute") {
                Some(Value::Array(a)) => a,
                Some(Value::Null) => &[],
                _ => return Err(shape("response", "no \"Attribute\" list")),
            },
            Value::Array(a) => a,
            _ => return Err(shape("response", "neither an object nor a list")),
        },
        Value::Array(a) => a,
        _ => return Err(shape("top", "neither an object nor a list")),
    };
    let none = EventContext::default();
    for (i, item) in list.iter().enumerate() {
        let place = format!("Attribute[{i}]");
        // `{"Attribute":{...}}` wrappers (older `response` lists).
        let attr = match item.get("Attribute") {
            Some(inner @ Value::Object(_)) => inner,
            _ => item,
        };
        let ctx = attribute_event_context(attr);
        attribute(attr, ctx.as_ref().unwrap_or(&none), &place, &mut out);
    }
    Ok(out)
}

/// The event an attribute of a restSearch answer names: `event_id`, its `Event` object
/// (`id`, `uuid`, `info`); `None` when it names none.
fn attribute_event_context(attr: &Value) -> Option<EventContext> {
    let event = attr.get("Event");
    let id = attr
        .get("event_id")
        .and_then(text_of)
        .or_else(|| event.and_then(|e| e.get("id")).and_then(text_of))
        .or_else(|| event.and_then(|e| e.get("uuid")).and_then(text_of))
        .or_else(|| attr.get("event_uuid").and_then(text_of));
    let info = event
        .and_then(|e| e.get("info"))
        .and_then(text_of)
        .map(|i| truncate(&i, MAX_EVENT_INFO_BYTES).to_owned());
    let (tags, _) = event.map(bounded_event_tags).unwrap_or_default();
    let timestamp = event.and_then(|e| e.get("timestamp")).and_then(epoch_of);
    (id.is_some() || info.is_some() || !tags.is_empty()).then_some(EventContext {
        event: id,
        info,
        tags,
        timestamp,
    })
}

/// An event's tags within [`MAX_EVENT_TAGS`] and [`MAX_EVENT_TAG_BYTES`], and how many
/// were left out.
fn bounded_event_tags(event: &Value) -> (Vec<String>, usize) {
    let all = tag_names(event);
    let mut bytes = 0;
    let mut kept = Vec::new();
    for tag in &all {
        if kept.len() == MAX_EVENT_TAGS || bytes + tag.len() > MAX_EVENT_TAG_BYTES {
            break;
        }
        bytes += tag.len();
        kept.push(tag.clone());
    }
    let left_out = all.len() - kept.len();
    (kept, left_out)
}

/// Parses MISP event JSON: `{"Event":{...}}`, an array of those (`/events/restSearch`),
/// `{"response":[{"Event":...}]}`, or an event object without its wrapper. Attributes
/// inside objects count too; event tags are added to each attribute's.
///
/// # Errors
/// When the text is not JSON or holds no event.
pub fn parse_events(text: &str) -> Result<Parsed, FormatError> {
    let doc = from_json(text)?;
    let mut out = Parsed::default();
    let list: &[Value] = match &doc {
        Value::Object(top) => match top.get("response") {
            Some(Value::Array(a)) => a,
            Some(_) => return Err(shape("response", "not a list of events")),
            None => {
                let Some(event) = unwrap(&doc) else {
                    return Err(shape("top", "no \"Event\""));
                };
                one_event(event, "", &mut out);
                return Ok(out);
            }
        },
        Value::Array(a) => a,
        _ => return Err(shape("top", "neither an object nor a list")),
    };
    for (i, item) in list.iter().enumerate() {
        let prefix = format!("Event[{i}].");
        match unwrap(item) {
            Some(event) => one_event(event, &prefix, &mut out),
            None => out.bad.push(BadEntry {
                place: format!("Event[{i}]"),
                reason: "not an event".to_owned(),
            }),
        }
    }
    Ok(out)
}

/// The event object of `{"Event":{...}}`, or the object itself when it is an event.
fn unwrap(v: &Value) -> Option<&Value> {
    match v.get("Event") {
        Some(e @ Value::Object(_)) => Some(e),
        _ if v.get("Attribute").is_some() || v.get("Object").is_some() => Some(v),
        _ => None,
    }
}

fn one_event(event: &Value, prefix: &str, out: &mut Parsed) {
    let (tags, left_out) = bounded_event_tags(event);
    if left_out > 0 {
        out.bad.push(BadEntry {
            place: format!("{prefix}Tag"),
            reason: format!(
                "{left_out} event tags beyond {MAX_EVENT_TAGS} tags or {MAX_EVENT_TAG_BYTES} \
                 bytes are not copied to the indicators"
            ),
        });
    }
    let ctx = EventContext {
        event: event
            .get("id")
            .and_then(text_of)
            .or_else(|| event.get("uuid").and_then(text_of)),
        info: event
            .get("info")
            .and_then(text_of)
            .map(|i| truncate(&i, MAX_EVENT_INFO_BYTES).to_owned()),
        tags,
        timestamp: event.get("timestamp").and_then(epoch_of),
    };
    if let Some(list) = event.get("Attribute").and_then(Value::as_array) {
        for (i, attr) in list.iter().enumerate() {
            attribute(attr, &ctx, &format!("{prefix}Attribute[{i}]"), out);
        }
    }
    if let Some(objects) = event.get("Object").and_then(Value::as_array) {
        for (o, object) in objects.iter().enumerate() {
            let deleted = object.get("deleted").is_some_and(truthy);
            if let Some(list) = object.get("Attribute").and_then(Value::as_array) {
                if deleted {
                    out.ignored += list.len() as u64;
                    continue;
                }
                for (i, attr) in list.iter().enumerate() {
                    let place = format!("{prefix}Object[{o}].Attribute[{i}]");
                    attribute(attr, &ctx, &place, out);
                }
            }
        }
    }
}

/// One attribute: its indicators, or a count in `ignored`, or entries in `bad`.
fn attribute(attr: &Value, ctx: &EventContext, place: &str, out: &mut Parsed) {
    if !attr.is_object() {
        out.bad.push(BadEntry {
            place: place.to_owned(),
            reason: "attribute is not an object".to_owned(),
        });
        return;
    }
    let (Some(kind), Some(value)) = (
        attr.get("type").and_then(Value::as_str),
        attr.get("value").and_then(text_of),
    ) else {
        out.bad.push(BadEntry {
            place: place.to_owned(),
            reason: "attribute without a \"type\" or \"value\" string".to_owned(),
        });
        return;
    };
    if attr.get("deleted").is_some_and(truthy) {
        out.ignored += 1;
        return;
    }
    let mut tags = tag_names(attr);
    for tag in &ctx.tags {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    let meta = IocMeta {
        event: ctx.event.clone(),
        event_info: ctx.info.clone(),
        category: attr.get("category").and_then(text_of),
        source_type: Some(kind.to_owned()),
        to_ids: attr.get("to_ids").is_some_and(truthy),
        tags,
        timestamp: attr.get("timestamp").and_then(epoch_of).or(ctx.timestamp),
        action: None,
        original: value.clone(),
        place: place.to_owned(),
    };
    push_targets(kind, &value, meta, out);
}

/// Turns one typed value into indicators in `out`, or counts it.
fn push_targets(kind: &str, value: &str, meta: IocMeta, out: &mut Parsed) {
    match attribute_targets(kind, value) {
        None => out.ignored += 1,
        Some(results) => {
            for result in results {
                match result {
                    Ok(target) => out.iocs.push(Ioc {
                        target,
                        meta: meta.clone(),
                    }),
                    Err(reason) => out.bad.push(BadEntry {
                        place: meta.place.clone(),
                        reason: format!("{kind}: {reason}"),
                    }),
                }
            }
        }
    }
}

/// The indicators of one MISP attribute: `None` for a type that does not concern DNS;
/// otherwise one result per half (`domain|ip` gives two).
#[must_use]
pub fn attribute_targets(kind: &str, value: &str) -> Option<Vec<Result<Target, String>>> {
    let value = value.trim();
    let name = |v: &str| domain_name(v).map(|name| Target::Domain { name, exact: false });
    let addresses =
        |v: &str| parse_addresses_strict(v).map(|(lo, hi)| Target::Addresses { lo, hi });
    Some(match kind {
        "domain" | "hostname" => vec![name(value)],
        "ip-src" | "ip-dst" => vec![addresses(value)],
        "domain|ip" => match value.split_once('|') {
            Some((d, ip)) => vec![name(d), addresses(ip)],
            None => vec![Err(format!("{value:?}: no '|' between domain and address"))],
        },
        "ip-src|port" | "ip-dst|port" => vec![addresses(strip_port(value))],
        "hostname|port" => vec![name(strip_port(value))],
        "url" => vec![match url_host(value) {
            Some(host) => host_target(host),
            None => Err(format!("{value:?}: URL without a host")),
        }],
        _ => return None,
    })
}

/// `host|port` -> `host`; also the `1.2.3.4:80` spelling of IPv4 with a port.
fn strip_port(value: &str) -> &str {
    if let Some((host, _)) = value.rsplit_once('|') {
        return host;
    }
    match value.rsplit_once(':') {
        Some((host, port))
            if !host.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            host
        }
        _ => value,
    }
}

/// Parses a MISP CSV export. Columns are found by header name; `type` and `value` are
/// required, the others (`event_id`, `category`, `to_ids`, `date`, `attribute_tag`, and
/// `event_info`/`event_uuid` when the export has context) are used when present.
///
/// # Errors
/// When there is no header or it lacks `type` or `value`.
pub fn parse_csv(text: &str) -> Result<Parsed, FormatError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| FormatError::Shape {
            place: "line 1".to_owned(),
            reason: format!("CSV header: {e}"),
        })?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(type_col), Some(value_col)) = (column("type"), column("value")) else {
        return Err(shape(
            "line 1",
            "CSV header without \"type\" and \"value\" columns",
        ));
    };
    let event_col = column("event_id").or_else(|| column("event_uuid"));
    let info_col = column("event_info");
    let category_col = column("category");
    let to_ids_col = column("to_ids");
    let date_col = column("date").or_else(|| column("timestamp"));
    let tag_col = column("attribute_tag");
    let mut out = Parsed::default();
    let mut record = csv::StringRecord::new();
    // The reader's own line numbers are off by one with CRLF line ends: count them here.
    let mut lines = LineCounter::new(text);
    loop {
        let before = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(before, csv::Position::byte);
                out.bad.push(BadEntry {
                    place: format!("line {}", lines.line_at(at)),
                    reason: format!("CSV: {e}"),
                });
                // A reader of a string has no I/O or UTF-8 errors to give; should one come
                // that does not move the reader on, stop rather than loop.
                if reader.position().byte() == before {
                    break;
                }
                continue;
            }
        }
        let at = record.position().map_or(before, csv::Position::byte);
        let place = format!("line {}", lines.line_at(at));
        let get = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let (Some(kind), Some(value)) = (get(Some(type_col)), get(Some(value_col))) else {
            out.bad.push(BadEntry {
                place,
                reason: "row without a type or value".to_owned(),
            });
            continue;
        };
        let meta = IocMeta {
            event: get(event_col).map(str::to_owned),
            event_info: get(info_col).map(str::to_owned),
            category: get(category_col).map(str::to_owned),
            source_type: Some(kind.to_owned()),
            to_ids: get(to_ids_col).is_some_and(truthy_str),
            tags: get(tag_col)
                .map(|t| {
                    t.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            timestamp: get(date_col).and_then(epoch_of_str),
            action: None,
            original: value.to_owned(),
            place,
        };
        push_targets(kind, value, meta, &mut out);
    }
    Ok(out)
}

/// Line numbers of byte offsets asked in increasing order, counted once over the text.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The 1-based line of a record starting at a byte offset. The reader puts a record
    /// after a CRLF at the LF: that LF still belongs to the line before.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut byte = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        if self.text.get(byte) == Some(&b'\n') {
            byte += 1;
        }
        if byte < self.byte {
            self.byte = 0;
            self.line = 1;
        }
        let newlines = self.text[self.byte..byte]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line += newlines as u64;
        self.byte = byte;
        self.line
    }
}

/// Parses a MISP text export (one value per line, type unknown): the list parser, with
/// `meta.source_type` `misp-text`.
#[must_use]
pub fn parse_text(text: &str, source: Option<&str>) -> Parsed {
    parse_lines(text, source, "misp-text")
}

/// Parses a feed's `manifest.json` (`{uuid: {info, date, timestamp, Orgc, Tag,
/// threat_level_id, analysis}}`), sorted by uuid.
///
/// # Errors
/// When the text is not JSON, not an object, an entry is not an object, or a key is not a
/// uuid (hex digits and hyphens): the keys become file names, so none is let through.
pub fn parse_manifest(text: &str) -> Result<Vec<FeedEvent>, FormatError> {
    let doc = from_json(text)?;
    let Value::Object(map) = doc else {
        return Err(shape("top", "a manifest is an object of event uuids"));
    };
    let mut events = Vec::with_capacity(map.len());
    for (uuid, entry) in &map {
        if uuid.is_empty()
            || uuid.len() > MAX_UUID_LEN
            || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return Err(shape(
                &format!("key {:?}", truncate(uuid, MAX_UUID_LEN)),
                "not an event uuid",
            ));
        }
        if !entry.is_object() {
            return Err(shape(
                &format!("{uuid:?}"),
                "manifest entry is not an object",
            ));
        }
        events.push(FeedEvent {
            uuid: uuid.clone(),
            info: entry.get("info").and_then(text_of),
            date: entry.get("date").and_then(text_of),
            timestamp: entry.get("timestamp").and_then(epoch_of),
            org: entry
                .get("Orgc")
                .and_then(|o| o.get("name"))
                .and_then(text_of),
            tags: tag_names(entry),
            threat_level_id: entry.get("threat_level_id").and_then(text_of),
            analysis: entry.get("analysis").and_then(text_of),
        });
    }
    events.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    Ok(events)
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Tag names of an attribute or event: `Tag: [{name}]`, also `Tag: ["name"]` and
/// `EventTag: [{Tag: {name}}]`; duplicates dropped, order kept.
fn tag_names(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: Option<String>| {
        if let Some(name) = name.filter(|n| !n.is_empty() && !names.contains(n)) {
            names.push(name);
        }
    };
    if let Some(tags) = v.get("Tag").and_then(Value::as_array) {
        for tag in tags {
            add(match tag {
                Value::String(s) => Some(s.clone()),
                _ => tag.get("name").and_then(text_of),
            });
        }
    }
    if let Some(tags) = v.get("EventTag").and_then(Value::as_array) {
        for tag in tags {
            add(tag.get("Tag").and_then(|t| t.get("name")).and_then(text_of));
        }
    }
    names
}

/// A string or number as text (MISP writes ids both ways).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Epoch seconds written as a number or a string; a `YYYY-MM-DD` date is taken at 00:00 UTC.
fn epoch_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => epoch_of_str(s),
        _ => None,
    }
}

fn epoch_of_str(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

/// MISP booleans: `true`, `1`, `"1"`, `"true"`, `"True"`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        Value::String(s) => truthy_str(s),
        _ => false,
    }
}

fn truthy_str(s: &str) -> bool {
    matches!(s.trim(), "1" | "true" | "True" | "TRUE" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsrecall_model::Name;

    fn dom(s: &str) -> Target {
        Target::Domain {
            name: Name::new(s).unwrap(),
            exact: false,
        }
    }

    fn addrs(lo: &str, hi: &str) -> Target {
        Target::Addresses {
            lo: lo.parse().unwrap(),
            hi: hi.parse().unwrap(),
        }
    }

    #[test]
    fn every_type() {
        let cases: &[(&str, &str, &[Target])] = &[
            ("domain", "Evil.Example", &[dom("evil.example")]),
            ("hostname", "c2.evil.example.", &[dom("c2.evil.example")]),
            (
                "domain|ip",
                "evil.example|192.0.2.1",
                &[dom("evil.example"), addrs("192.0.2.1", "192.0.2.1")],
            ),
            ("ip-src", "192.0.2.1", &[addrs("192.0.2.1", "192.0.2.1")]),
            (
                "ip-dst",
                "192.0.2.0/24",
                &[addrs("192.0.2.0", "192.0.2.255")],
            ),
            (
                "ip-dst",
                "2001:db8::/126",
                &[addrs("2001:db8::", "2001:db8::3")],
            ),
            (
                "ip-src|port",
                "192.0.2.1|8080",
                &[addrs("192.0.2.1", "192.0.2.1")],
            ),
            (
                "ip-dst|port",
                "2001:db8::1|443",
                &[addrs("2001:db8::1", "2001:db8::1")],
            ),
            (
                "ip-dst|port",
                "192.0.2.1:443",
                &[addrs("192.0.2.1", "192.0.2.1")],
            ),
            (
                "hostname|port",
                "c2.evil.example|443",
                &[dom("c2.evil.example")],
            ),
            (
                "url",
                "http://c2.evil.example:8080/gate.php",
                &[dom("c2.evil.example")],
            ),
            (
                "url",
                "https://192.0.2.9/x",
                &[addrs("192.0.2.9", "192.0.2.9")],
            ),
            ("url", "evil.example/path", &[dom("evil.example")]),
        ];
        for (kind, value, want) in cases {
            let got: Vec<Target> = attribute_targets(kind, value)
                .unwrap()
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(&got, want, "{kind} {value}");
        }
        for kind in ["md5", "link", "uri", "filename", "text", "email-src", "AS"] {
            assert!(attribute_targets(kind, "x.example").is_none(), "{kind}");
        }
        for (kind, value) in [
            ("domain", "not a name"),
            ("domain", "192.0.2.1"),
            ("hostname", "x"),
            ("ip-dst", "evil.example"),
            ("ip-dst", "192.0.2.1/40"),
            ("ip-src|port", "nope|80"),
            ("url", "http://"),
            ("domain|ip", "evil.example"),
        ] {
            let results = attribute_targets(kind, value).unwrap();
            assert!(results.iter().all(Result::is_err), "{kind} {value}");
        }
    }

    const EVENT: &str = r#"{"Event":{"id":"42","uuid":"5a0d5bf4-99c8-4f15-9879-22b1950d210f",
        "info":"OSINT test","timestamp":"1510922000",
        "Tag":[{"name":"tlp:white"},{"name":"type:OSINT"}],
        "Attribute":[
          {"type":"domain","category":"Network activity","value":"evil.example","to_ids":true,
           "timestamp":"1510922092","Tag":[{"name":"kill-chain:c2"}]},
          {"type":"md5","category":"Payload delivery","value":"e48fe20eb1f5a5887f2ac631fed9ed63"},
          {"type":"ip-dst","category":"Network activity","value":"not-an-ip","to_ids":"1"},
          {"type":"domain|ip","value":"two.example|198.51.100.7","to_ids":false,"timestamp":1510000000},
          {"type":"domain","value":"deleted.example","deleted":true},
          "junk",
          {"value":"no-type.example"}
        ],
        "Object":[
          {"name":"file","Attribute":[{"type":"sha1","value":"f83f30bd284074d1daaf2e262a280ca780791f2c"}]},
          {"name":"ip-port","Attribute":[
            {"type":"ip-dst","value":"203.0.113.5","category":"Network activity","to_ids":true},
            {"type":"port","value":"443"}]}
        ]}}"#;

    #[test]
    fn event_json() {
        let parsed = parse_events(EVENT).unwrap();
        let got: Vec<(&str, &Target)> = parsed
            .iocs
            .iter()
            .map(|i| (i.meta.place.as_str(), &i.target))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Attribute[0]", &dom("evil.example")),
                ("Attribute[3]", &dom("two.example")),
                ("Attribute[3]", &addrs("198.51.100.7", "198.51.100.7")),
                (
                    "Object[1].Attribute[0]",
                    &addrs("203.0.113.5", "203.0.113.5")
                ),
            ]
        );
        let first = &parsed.iocs[0].meta;
        assert_eq!(first.event.as_deref(), Some("42"));
        assert_eq!(first.event_info.as_deref(), Some("OSINT test"));
        assert_eq!(first.category.as_deref(), Some("Network activity"));
        assert_eq!(first.source_type.as_deref(), Some("domain"));
        assert!(first.to_ids);
        assert_eq!(first.tags, ["kill-chain:c2", "tlp:white", "type:OSINT"]);
        assert_eq!(first.timestamp, Some(1_510_922_092));
        assert_eq!(parsed.iocs[1].meta.timestamp, Some(1_510_000_000));
        assert!(!parsed.iocs[1].meta.to_ids);
        assert_eq!(parsed.iocs[1].meta.original, "two.example|198.51.100.7");
        // Object attribute: event timestamp inherited, event tags too.
        assert_eq!(parsed.iocs[3].meta.timestamp, Some(1_510_922_000));
        assert_eq!(parsed.iocs[3].meta.tags, ["tlp:white", "type:OSINT"]);
        let bad: Vec<&str> = parsed.bad.iter().map(|b| b.place.as_str()).collect();
        assert_eq!(bad, ["Attribute[2]", "Attribute[5]", "Attribute[6]"]);
        // md5, deleted, sha1, port.
        assert_eq!(parsed.ignored, 4);
    }

    #[test]
    fn event_lists_and_uuid_fallback() {
        let feed_event = r#"{"Event":{"uuid":"abc-1","info":"feed","Attribute":[
            {"type":"hostname","value":"h.example"}]}}"#;
        let parsed = parse_events(feed_event).unwrap();
        assert_eq!(parsed.iocs[0].meta.event.as_deref(), Some("abc-1"));
        let list = format!("[{EVENT},{feed_event}, 3]");
        let parsed = parse_events(&list).unwrap();
        assert_eq!(parsed.iocs.len(), 5);
        assert_eq!(parsed.iocs[4].meta.place, "Event[1].Attribute[0]");
        assert_eq!(parsed.bad.last().unwrap().place, "Event[2]");
        let response = format!(r#"{{"response":[{EVENT}]}}"#);
        assert_eq!(parse_events(&response).unwrap().iocs.len(), 4);
        assert!(matches!(
            parse_events("{\"x\":1}"),
            Err(FormatError::Shape { .. })
        ));
        assert!(matches!(
            parse_events("{nope"),
            Err(FormatError::Json { .. })
        ));
    }

    #[test]
    fn attributes_rest_search() {
        let text = r#"{"response":{"Attribute":[
          {"id":"1","event_id":"7","category":"Network activity","type":"ip-dst|port",
           "value":"192.0.2.1|80","to_ids":true,"timestamp":"1600000000",
           "Event":{"id":"7","info":"Seven","uuid":"u7"},"Tag":[{"name":"tlp:green"}]},
          {"event_id":8,"type":"url","value":"http://evil.example/a","timestamp":1600000001},
          {"event_id":"8","type":"sha256","value":"00"},
          {"event_id":"8","type":"domain","value":"-"}
        ]}}"#;
        let parsed = parse_attributes(text).unwrap();
        assert_eq!(parsed.iocs.len(), 2);
        let m = &parsed.iocs[0].meta;
        assert_eq!(m.event.as_deref(), Some("7"));
        assert_eq!(m.event_info.as_deref(), Some("Seven"));
        assert_eq!(m.tags, ["tlp:green"]);
        assert_eq!(m.timestamp, Some(1_600_000_000));
        assert!(m.to_ids);
        assert_eq!(parsed.iocs[1].meta.event.as_deref(), Some("8"));
        assert_eq!(parsed.iocs[1].target, dom("evil.example"));
        assert_eq!(parsed.ignored, 1);
        assert_eq!(parsed.bad.len(), 1);
        assert_eq!(parsed.bad[0].place, "Attribute[3]");

        let wrapped =
            r#"{"response":[{"Attribute":{"event_id":"3","type":"domain","value":"a.example"}}]}"#;
        assert_eq!(parse_attributes(wrapped).unwrap().iocs.len(), 1);
        let bare = r#"{"Attribute":[{"type":"domain","value":"a.example"}]}"#;
        assert_eq!(parse_attributes(bare).unwrap().iocs.len(), 1);
        let array = r#"[{"type":"domain","value":"a.example"}]"#;
        assert_eq!(parse_attributes(array).unwrap().iocs.len(), 1);
        assert!(parse_attributes(r#"{"response":{"Event":[]}}"#).is_err());
        assert!(parse_attributes("12").is_err());
    }

    #[test]
    fn csv_export() {
        let text = "uuid,event_id,category,type,value,comment,to_ids,date,object_relation,attribute_tag,object_uuid,object_name,object_meta_category\n\
            u1,12,Network activity,domain,evil.example,\"a, comment\",1,1510922092,,\"tlp:white,type:OSINT\",,,\n\
            u2,12,Payload delivery,md5,e48fe20eb1f5a5887f2ac631fed9ed63,,0,1510922092,,,,,\n\
            u3,12,Network activity,ip-dst,198.51.100.0/24,\"multi\nline\",0,1510922093,ip,,o1,ip-port,network\n\
            u4,13,Network activity,domain,bad name,,1,1510922092,,,,,\n\
            u5,13,Network activity,url,https://x.example/p,,True,2020-01-02,,,,,\n";
        let parsed = parse_csv(text).unwrap();
        assert_eq!(parsed.iocs.len(), 3);
        let m = &parsed.iocs[0].meta;
        assert_eq!(m.event.as_deref(), Some("12"));
        assert_eq!(m.category.as_deref(), Some("Network activity"));
        assert_eq!(m.tags, ["tlp:white", "type:OSINT"]);
        assert!(m.to_ids);
        assert_eq!(m.timestamp, Some(1_510_922_092));
        assert_eq!(m.place, "line 2");
        assert_eq!(
            parsed.iocs[1].target,
            addrs("198.51.100.0", "198.51.100.255")
        );
        assert_eq!(parsed.iocs[1].meta.place, "line 4");
        assert!(!parsed.iocs[1].meta.to_ids);
        assert_eq!(parsed.iocs[2].meta.timestamp, Some(1_577_923_200));
        assert!(parsed.iocs[2].meta.to_ids);
        assert_eq!(parsed.ignored, 1);
        assert_eq!(parsed.bad.len(), 1);
        assert_eq!(parsed.bad[0].place, "line 6");
        assert!(parse_csv("a,b\n1,2\n").is_err());
        // Windows line ends and a byte order mark change nothing.
        let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
        let again = parse_csv(&crlf).unwrap();
        assert_eq!(again.iocs.len(), 3);
        assert_eq!(again.iocs[0].meta.tags, ["tlp:white", "type:OSINT"]);
        assert_eq!(again.bad[0].place, "line 6");
    }

    #[test]
    fn text_export() {
        let parsed = parse_text("evil.example\n192.0.2.1\nhttp://x.example/a\n\n", None);
        assert_eq!(parsed.iocs.len(), 3);
        assert_eq!(
            parsed.iocs[0].meta.source_type.as_deref(),
            Some("misp-text")
        );
        assert_eq!(parsed.iocs[2].meta.place, "line 3");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(parse_events(&deep), Err(FormatError::Json { .. })));
        assert!(matches!(
            parse_attributes(&deep),
            Err(FormatError::Json { .. })
        ));
        let deep_obj = format!(
            r#"{{"Event":{}1{}}}"#,
            r#"{"a":"#.repeat(50_000),
            "}".repeat(50_000)
        );
        assert!(parse_events(&deep_obj).is_err());
        assert!(parse_manifest(&deep_obj).is_err());
    }

    #[test]
    fn event_context_is_bounded() {
        let tags: Vec<String> = (0..MAX_EVENT_TAGS + 5)
            .map(|i| format!(r#"{{"name":"tag-{i}"}}"#))
            .collect();
        let info = "x".repeat(MAX_EVENT_INFO_BYTES * 2);
        let text = format!(
            r#"{{"Event":{{"id":"1","info":"{info}","Tag":[{}],
            "Attribute":[{{"type":"domain","value":"a.example"}}],
            "Object":[{{"deleted":true,"Attribute":[{{"type":"domain","value":"b.example"}},
                {{"type":"domain","value":"c.example"}}]}}]}}}}"#,
            tags.join(",")
        );
        let parsed = parse_events(&text).unwrap();
        assert_eq!(parsed.iocs.len(), 1);
        let meta = &parsed.iocs[0].meta;
        assert_eq!(meta.tags.len(), MAX_EVENT_TAGS);
        assert_eq!(
            meta.event_info.as_ref().unwrap().len(),
            MAX_EVENT_INFO_BYTES
        );
        assert_eq!(parsed.bad.len(), 1);
        assert_eq!(parsed.bad[0].place, "Tag");
        // The deleted object's two attributes.
        assert_eq!(parsed.ignored, 2);
    }

    #[test]
    fn rest_search_event_tags_and_timestamp() {
        let text = r#"{"response":{"Attribute":[{"event_id":"9","type":"hostname",
            "value":"h.example","Tag":[{"name":"a"}],
            "Event":{"id":"9","info":"Nine","timestamp":"77","Tag":[{"name":"a"},{"name":"b"}]}}]}}"#;
        let parsed = parse_attributes(text).unwrap();
        let meta = &parsed.iocs[0].meta;
        assert_eq!(meta.tags, ["a", "b"]);
        assert_eq!(meta.timestamp, Some(77));
        assert_eq!(meta.event_info.as_deref(), Some("Nine"));
    }

    #[test]
    fn manifest() {
        let text = r#"{"5a0d5bf4-99c8-4f15-9879-22b1950d210f":{"info":"HIDDEN COBRA","date":"2017-11-15",
            "timestamp":"1510922101","Orgc":{"name":"CIRCL","uuid":"x"},"Tag":[{"name":"tlp:white"}],
            "threat_level_id":"2","analysis":"2"},
            "0a0d5bf4-99c8-4f15-9879-22b1950d210f":{"info":"Other","timestamp":1}}"#;
        let events = parse_manifest(text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].uuid, "0a0d5bf4-99c8-4f15-9879-22b1950d210f");
        assert_eq!(events[0].timestamp, Some(1));
        let e = &events[1];
        assert_eq!(e.info.as_deref(), Some("HIDDEN COBRA"));
        assert_eq!(e.date.as_deref(), Some("2017-11-15"));
        assert_eq!(e.timestamp, Some(1_510_922_101));
        assert_eq!(e.org.as_deref(), Some("CIRCL"));
        assert_eq!(e.tags, ["tlp:white"]);
        assert_eq!(e.threat_level_id.as_deref(), Some("2"));
        assert_eq!(e.analysis.as_deref(), Some("2"));
        assert!(parse_manifest(r#"{"../../etc/passwd":{}}"#).is_err());
        assert!(parse_manifest(r#"{"abc":1}"#).is_err());
        assert!(parse_manifest("[]").is_err());
    }
}
