//! RPZ (DNS response policy zone) files in master file syntax: `$ORIGIN`, `$TTL`, `@`,
//! relative and absolute owners, blank owners (the previous one), `;` comments,
//! parentheses across lines, optional TTL and class. SOA and NS at the apex are skipped.
//!
//! Triggers, relative to the zone apex: QNAME (`bad.example` exact, `*.bad.example` the
//! subdomains), `rpz-ip` (`32.1.0.0.10.rpz-ip`, `48.zz.db8.2001.rpz-ip`), `rpz-nsdname`,
//! `rpz-nsip`; `rpz-client-ip` triggers are counted as ignored. The action goes to
//! `meta.action`: `NXDOMAIN` (`CNAME .`), `NODATA` (`CNAME *.`), `PASSTHRU`, `DROP`,
//! `TCP-ONLY`, `CNAME target` or `local-data` (any other record type).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dnsrecall_model::Name;
use rustc_hash::FxHashSet;

use crate::FormatError;
use crate::ioc::{BadEntry, Ioc, IocMeta, Parsed, Target};
use crate::list::cidr;

/// Parses an RPZ zone. The zone apex is, in this order: a `$ORIGIN` before the first
/// record; the owner of a first SOA record written absolute; `origin` (the configured zone
/// name, or a guess from the file name). With none, absolute owners are cut at their
/// `rpz-ip`/`rpz-nsip`/`rpz-nsdname`/`rpz-client-ip` label and relative owners are taken
/// as relative to the apex. An `origin` that is not a name is reported in `bad` (place
/// `origin`) and not used.
///
/// # Errors
/// None so far: every problem is an entry in `bad`; the `Result` leaves room for
/// whole-document failures.
pub fn parse_rpz(text: &str, origin: Option<&str>) -> Result<Parsed, FormatError> {
    let mut out = Parsed::default();
    let origin = origin.and_then(|o| {
        let name = absolute_name(o);
        if name.is_none() {
            out.bad.push(BadEntry {
                place: "origin".to_owned(),
                reason: format!("{o:?} is not a zone name; not used"),
            });
        }
        name
    });
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut state = State {
        zone: None,
        current: origin.clone(),
        default_zone: origin,
        seen_record: false,
        last_owner: None,
        seen: FxHashSet::default(),
        out,
    };
    // Records are handled as they are read: no token list of the whole file is kept.
    tokenize(text, |record| state.record(record));
    Ok(state.out)
}

/// A name in lowercase without its trailing dot; the root is "".
fn absolute_name(text: &str) -> Option<String> {
    let name = Name::new(text).ok()?;
    Some(if name.is_root() {
        String::new()
    } else {
        name.as_str().to_owned()
    })
}

/// One logical record: tokens across parenthesized lines, comments removed.
#[derive(Debug, Default)]
struct RawRecord {
    line: usize,
    /// The record starts with white space: its owner is the previous record's.
    blank_owner: bool,
    tokens: Vec<String>,
    error: Option<String>,
}

fn tokenize(text: &str, mut emit: impl FnMut(RawRecord)) {
    let mut record = RawRecord {
        line: 1,
        ..RawRecord::default()
    };
    let mut token = String::new();
    let mut line = 1usize;
    let mut depth = 0usize;
    let mut in_quote = false;
    let mut at_record_start = true;
    let mut chars = text.chars().peekable();
    let end_token = |token: &mut String, record: &mut RawRecord| {
        if !token.is_empty() {
            record.tokens.push(std::mem::take(token));
        }
    };
    while let Some(c) = chars.next() {
        if at_record_start {
            record.line = line;
            record.blank_owner = c == ' ' || c == '\t';
            at_record_start = false;
        }
        match c {
            '\\' => {
                token.push(c);
                if let Some(&next) = chars.peek() {
                    if next == '\n' {
                        line += 1;
                    }
                    token.push(next);
                    chars.next();
                }
            }
            '"' => {
                in_quote = !in_quote;
                token.push(c);
            }
            _ if in_quote => {
                if c == '\n' {
                    line += 1;
                }
                token.push(c);
            }
            ';' => {
                // Comment to the end of the line; the newline itself is handled next.
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '(' => {
                end_token(&mut token, &mut record);
                depth += 1;
            }
            ')' => {
                end_token(&mut token, &mut record);
                if depth == 0 {
                    record
                        .error
                        .get_or_insert_with(|| "')' without '('".to_owned());
                } else {
                    depth -= 1;
                }
            }
            '\n' => {
                end_token(&mut token, &mut record);
                line += 1;
                if depth == 0 {
                    if !record.tokens.is_empty() || record.error.is_some() {
                        emit(std::mem::take(&mut record));
                    } else {
                        record = RawRecord::default();
                    }
                    at_record_start = true;
                }
            }
            c if c.is_whitespace() => end_token(&mut token, &mut record),
            c => token.push(c),
        }
    }
    end_token(&mut token, &mut record);
    if in_quote {
        record
            .error
            .get_or_insert_with(|| "unterminated quoted string".to_owned());
    } else if depth > 0 {
        record
            .error
            .get_or_insert_with(|| "'(' without ')' before the end".to_owned());
    }
    if !record.tokens.is_empty() || record.error.is_some() {
        emit(record);
    }
}

#[derive(Debug, Clone)]
enum Owner {
    /// Absolute, lowercase, no trailing dot.
    Absolute(String),
    /// Relative with no origin known: taken as relative to the zone apex.
    Relative(String),
}

struct State {
    /// The zone apex once known.
    zone: Option<String>,
    /// The origin relative names are completed with.
    current: Option<String>,
    /// The `origin` argument: the apex unless a `$ORIGIN` comes before the first record.
    default_zone: Option<String>,
    seen_record: bool,
    /// The previous owner, and how it was written.
    last_owner: Option<(Owner, String)>,
    seen: FxHashSet<(Target, String)>,
    out: Parsed,
}

const CLASSES: &[&str] = &["IN", "CH", "HS", "CS", "ANY"];

impl State {
    fn bad(&mut self, line: usize, reason: impl Into<String>) {
        self.out.bad.push(BadEntry {
            place: format!("line {line}"),
            reason: reason.into(),
        });
    }

    fn record(&mut self, record: RawRecord) {
        let line = record.line;
        if let Some(error) = record.error {
            self.bad(line, error);
            return;
        }
        let tokens = record.tokens;
        // Directives belong in the first column; an indented one is still taken as one.
        if let Some(first) = tokens.first().filter(|t| t.starts_with('$')) {
            let directive = first.to_ascii_uppercase();
            match directive.as_str() {
                "$ORIGIN" => match tokens.get(1).map(|t| self.complete(t)) {
                    Some(Some(Owner::Absolute(o))) => {
                        if !self.seen_record && self.zone.is_none() {
                            self.zone = Some(o.clone());
                        }
                        self.current = Some(o);
                    }
                    _ => self.bad(line, "$ORIGIN without a usable name"),
                },
                "$TTL" => {}
                "$INCLUDE" => self.bad(line, "$INCLUDE is not followed"),
                other => self.bad(line, format!("unsupported directive {other}")),
            }
            return;
        }
        let mut rest = tokens.iter();
        let (owner, written) = if record.blank_owner {
            match &self.last_owner {
                Some(o) => o.clone(),
                None => {
                    self.bad(line, "record without an owner");
                    return;
                }
            }
        } else {
            let Some(tok) = rest.next() else { return };
            match self.complete(tok) {
                Some(o) => (o, tok.clone()),
                None => {
                    self.bad(line, format!("owner {tok:?} is not a name"));
                    return;
                }
            }
        };
        self.last_owner = Some((owner.clone(), written.clone()));
        // Optional TTL and class, in either order.
        let mut rtype = None;
        for tok in rest.by_ref() {
            let upper = tok.to_ascii_uppercase();
            if CLASSES.contains(&upper.as_str()) || is_ttl(tok) {
                continue;
            }
            rtype = Some(upper);
            break;
        }
        let Some(rtype) = rtype else {
            self.bad(line, "record without a type");
            return;
        };
        let rdata: Vec<&String> = rest.collect();
        if !self.seen_record {
            self.seen_record = true;
            // No `$ORIGIN` came first: a leading SOA's owner names the apex better than a
            // guess from the file name; relative names are then relative to it.
            if self.zone.is_none() {
                if let ("SOA", Owner::Absolute(apex)) = (rtype.as_str(), &owner) {
                    self.zone = Some(apex.clone());
                    self.current = Some(apex.clone());
                } else {
                    self.zone = self.default_zone.clone();
                }
            }
        }
        let Some(trigger) = self.trigger(&owner) else {
            self.bad(
                line,
                format!("owner {written:?} is outside the zone (or the zone origin is unknown)"),
            );
            return;
        };
        if trigger.is_empty() {
            if rtype != "SOA" && rtype != "NS" {
                self.out.ignored += 1;
            }
            return;
        }
        if rtype == "SOA" || rtype == "NS" {
            self.out.ignored += 1;
            return;
        }
        let action = match rtype.as_str() {
            "CNAME" => match rdata.first() {
                Some(target) => self.action(target, &trigger),
                None => {
                    self.bad(line, "CNAME without a target");
                    return;
                }
            },
            _ => "local-data".to_owned(),
        };
        let (target, source_type) = match trigger_target(&trigger) {
            Ok(Some(t)) => t,
            Ok(None) => {
                self.out.ignored += 1;
                return;
            }
            Err(reason) => {
                self.bad(line, format!("{written:?}: {reason}"));
                return;
            }
        };
        if !self.seen.insert((target.clone(), action.clone())) {
            return;
        }
        self.out.iocs.push(Ioc {
            target,
            meta: IocMeta {
                event: self.zone.clone().filter(|z| !z.is_empty()),
                source_type: Some(source_type.to_owned()),
                action: Some(action),
                original: written,
                place: format!("line {line}"),
                ..IocMeta::default()
            },
        });
    }

    /// Completes a written name with the current origin.
    fn complete(&self, tok: &str) -> Option<Owner> {
        if tok == "@" {
            return self.current.clone().map(Owner::Absolute);
        }
        if tok.ends_with('.') && !tok.ends_with("\\.") {
            return absolute_name(tok).map(Owner::Absolute);
        }
        match &self.current {
            Some(o) if o.is_empty() => absolute_name(tok).map(Owner::Absolute),
            Some(o) => absolute_name(&format!("{tok}.{o}")).map(Owner::Absolute),
            None => absolute_name(tok).map(Owner::Relative),
        }
    }

    /// The owner relative to the zone apex: "" at the apex, `None` when outside it.
    fn trigger(&self, owner: &Owner) -> Option<String> {
        match owner {
            Owner::Relative(r) => Some(r.clone()),
            Owner::Absolute(a) => {
                if let Some(zone) = &self.zone {
                    if zone.is_empty() {
                        return Some(a.clone());
                    }
                    if a == zone {
                        return Some(String::new());
                    }
                    if let Some(rel) = a
                        .strip_suffix(zone.as_str())
                        .and_then(|r| r.strip_suffix('.'))
                    {
                        return Some(rel.to_owned());
                    }
                }
                // No apex known (or outside it): cut at the special label if there is one.
                let labels: Vec<&str> = a.split('.').collect();
                let cut = labels.iter().position(|l| {
                    matches!(*l, "rpz-ip" | "rpz-nsip" | "rpz-nsdname" | "rpz-client-ip")
                })?;
                Some(labels[..=cut].join("."))
            }
        }
    }

    fn action(&self, target: &str, trigger: &str) -> String {
        let lower = target.to_ascii_lowercase();
        match lower.as_str() {
            "." => "NXDOMAIN".to_owned(),
            "*." => "NODATA".to_owned(),
            "rpz-passthru." => "PASSTHRU".to_owned(),
            "rpz-drop." => "DROP".to_owned(),
            "rpz-tcp-only." => "TCP-ONLY".to_owned(),
            _ => match self.complete(&lower) {
                // The old spelling of PASSTHRU: a CNAME to the trigger name itself.
                Some(Owner::Absolute(t)) if t == trigger => "PASSTHRU".to_owned(),
                Some(Owner::Absolute(t)) => format!("CNAME {t}."),
                _ => format!("CNAME {lower}"),
            },
        }
    }
}

fn is_ttl(tok: &str) -> bool {
    tok.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && tok
            .bytes()
            .all(|b| b.is_ascii_digit() || b"sSmMhHdDwW".contains(&b))
}

/// The indicator of a trigger (the owner relative to the apex); `Ok(None)` for triggers
/// that say nothing about DNS answers (`rpz-client-ip`).
fn trigger_target(trigger: &str) -> Result<Option<(Target, &'static str)>, String> {
    let labels: Vec<&str> = trigger.split('.').collect();
    let Some((&last, prefix)) = labels.split_last() else {
        return Err("empty trigger".to_owned());
    };
    Ok(Some(match last {
        "rpz-ip" => {
            let (lo, hi) = rpz_ip(prefix)?;
            (Target::Addresses { lo, hi }, "rpz-ip")
        }
        "rpz-nsip" => {
            let (lo, hi) = rpz_ip(prefix)?;
            (Target::NsAddresses { lo, hi }, "rpz-nsip")
        }
        "rpz-client-ip" => return Ok(None),
        "rpz-nsdname" => {
            let (name, exact) = wildcard_name(&prefix.join("."))?;
            (Target::NsName { name, exact }, "rpz-nsdname")
        }
        _ => {
            let (name, exact) = wildcard_name(trigger)?;
            (Target::Domain { name, exact }, "rpz-qname")
        }
    }))
}

/// `*.x` -> (x, subdomains only, so not exact); `x` -> (x, exact).
fn wildcard_name(text: &str) -> Result<(Name, bool), String> {
    let (base, exact) = match text.strip_prefix("*.") {
        Some(base) => (base, false),
        None => (text, true),
    };
    if base.is_empty() || base.split('.').any(|l| l == "*") {
        return Err("not a trigger name".to_owned());
    }
    let name = Name::new(base).map_err(|e| format!("not a name: {e}"))?;
    if name.is_root() {
        return Err("not a trigger name".to_owned());
    }
    Ok((name, exact))
}

/// Decodes the labels of an `rpz-ip`/`rpz-nsip` trigger: prefix length first, then the
/// address in reverse (`32.1.0.0.10` = 10.0.0.1/32; `128.1.zz.db8.2001` = 2001:db8::1/128,
/// `zz` standing for the `::` run). Host bits, if any, are cleared.
fn rpz_ip(labels: &[&str]) -> Result<(IpAddr, IpAddr), String> {
    let Some((len, parts)) = labels.split_first() else {
        return Err("no prefix length".to_owned());
    };
    let len: u8 = len
        .parse()
        .map_err(|_| format!("prefix length {len:?} is not a number"))?;
    let is_v4 = parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    let ip = if is_v4 {
        let mut octets = [0u8; 4];
        for (i, p) in parts.iter().rev().enumerate() {
            octets[i] = p.parse().map_err(|_| format!("octet {p:?} out of range"))?;
        }
        if !(1..=32).contains(&len) {
            return Err(format!("IPv4 prefix length {len} out of 1..=32"));
        }
        IpAddr::V4(Ipv4Addr::from(octets))
    } else {
        if !(1..=128).contains(&len) {
            return Err(format!("IPv6 prefix length {len} out of 1..=128"));
        }
        IpAddr::V6(rpz_ipv6(parts)?)
    };
    cidr(ip, len).ok_or_else(|| "prefix length too long".to_owned())
}

fn rpz_ipv6(parts: &[&str]) -> Result<Ipv6Addr, String> {
    let zz = parts.iter().filter(|p| **p == "zz").count();
    if zz > 1 {
        return Err("more than one 'zz'".to_owned());
    }
    let explicit = parts.len() - zz;
    if (zz == 0 && explicit != 8) || (zz == 1 && explicit > 7) {
        return Err(format!("{} groups do not make an address", parts.len()));
    }
    let mut groups = [0u16; 8];
    let mut i = 0;
    for p in parts.iter().rev() {
        if *p == "zz" {
            i += 8 - explicit;
            continue;
        }
        if p.is_empty() || p.len() > 4 {
            return Err(format!("group {p:?} is not 1 to 4 hex digits"));
        }
        groups[i] =
            u16::from_str_radix(p, 16).map_err(|_| format!("group {p:?} is not hex digits"))?;
        i += 1;
    }
    Ok(Ipv6Addr::from(groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(s: &str, exact: bool) -> Target {
        Target::Domain {
            name: Name::new(s).unwrap(),
            exact,
        }
    }

    fn addrs(lo: &str, hi: &str) -> Target {
        Target::Addresses {
            lo: lo.parse().unwrap(),
            hi: hi.parse().unwrap(),
        }
    }

    const ZONE: &str = "$TTL 300\n\
$ORIGIN rpz.example.\n\
@ IN SOA ns.rpz.example. admin.rpz.example. (\n\
        2024010101 ; serial\n\
        3600 600 86400 60 )\n\
\x20 IN NS ns.rpz.example.\n\
bad.example CNAME .\n\
*.bad.example CNAME .\n\
nodata.example 60 IN CNAME *.\n\
ok.example IN 60 CNAME rpz-passthru.\n\
drop.example CNAME rpz-drop.\n\
tcp.example CNAME rpz-tcp-only.\n\
garden.example CNAME walled.garden.example.\n\
old-pass.example CNAME old-pass.example.\n\
local.example A 192.0.2.1\n\
\x20 AAAA 2001:db8::1 ; same owner, same indicator\n\
abs.example.rpz.example. CNAME .\n\
32.1.0.0.10.rpz-ip CNAME .\n\
24.0.2.0.192.rpz-ip CNAME rpz-drop.\n\
128.1.zz.db8.2001.rpz-ip CNAME .\n\
48.zz.db8.2001.rpz-ip CNAME .\n\
ns.evil.example.rpz-nsdname CNAME .\n\
*.evil.example.rpz-nsdname CNAME .\n\
32.53.2.0.192.rpz-nsip CNAME .\n\
32.7.2.0.192.rpz-client-ip CNAME rpz-drop.\n\
33.1.0.0.10.rpz-ip CNAME .\n\
1.2.3.rpz-ip CNAME .\n\
128.1.zz.zz.2001.rpz-ip CNAME .\n\
other.zone. CNAME .\n\
bad..example CNAME .\n\
broken.example CNAME\n\
$INCLUDE other.rpz\n\
paren.example ( CNAME\n\
\x20 . )\n\
unclosed.example TXT ( \"x\"\n";

    #[test]
    fn zone_triggers_and_actions() {
        let parsed = parse_rpz(ZONE, None).unwrap();
        let got: Vec<(String, Target, String, String)> = parsed
            .iocs
            .iter()
            .map(|i| {
                (
                    i.meta.place.clone(),
                    i.target.clone(),
                    i.meta.action.clone().unwrap(),
                    i.meta.source_type.clone().unwrap(),
                )
            })
            .collect();
        let q =
            |l: &str, t: Target, a: &str, s: &str| (l.to_owned(), t, a.to_owned(), s.to_owned());
        let want = vec![
            q("line 7", dom("bad.example", true), "NXDOMAIN", "rpz-qname"),
            q("line 8", dom("bad.example", false), "NXDOMAIN", "rpz-qname"),
            q("line 9", dom("nodata.example", true), "NODATA", "rpz-qname"),
            q("line 10", dom("ok.example", true), "PASSTHRU", "rpz-qname"),
            q("line 11", dom("drop.example", true), "DROP", "rpz-qname"),
            q("line 12", dom("tcp.example", true), "TCP-ONLY", "rpz-qname"),
            q(
                "line 13",
                dom("garden.example", true),
                "CNAME walled.garden.example.",
                "rpz-qname",
            ),
            q(
                "line 14",
                dom("old-pass.example", true),
                "PASSTHRU",
                "rpz-qname",
            ),
            q(
                "line 15",
                dom("local.example", true),
                "local-data",
                "rpz-qname",
            ),
            q("line 17", dom("abs.example", true), "NXDOMAIN", "rpz-qname"),
            q(
                "line 18",
                addrs("10.0.0.1", "10.0.0.1"),
                "NXDOMAIN",
                "rpz-ip",
            ),
            q(
                "line 19",
                addrs("192.0.2.0", "192.0.2.255"),
                "DROP",
                "rpz-ip",
            ),
            q(
                "line 20",
                addrs("2001:db8::1", "2001:db8::1"),
                "NXDOMAIN",
                "rpz-ip",
            ),
            q(
                "line 21",
                addrs("2001:db8::", "2001:db8:0:ffff:ffff:ffff:ffff:ffff"),
                "NXDOMAIN",
                "rpz-ip",
            ),
            q(
                "line 22",
                Target::NsName {
                    name: Name::new("ns.evil.example").unwrap(),
                    exact: true,
                },
                "NXDOMAIN",
                "rpz-nsdname",
            ),
            q(
                "line 23",
                Target::NsName {
                    name: Name::new("evil.example").unwrap(),
                    exact: false,
                },
                "NXDOMAIN",
                "rpz-nsdname",
            ),
            q(
                "line 24",
                Target::NsAddresses {
                    lo: "192.0.2.53".parse().unwrap(),
                    hi: "192.0.2.53".parse().unwrap(),
                },
                "NXDOMAIN",
                "rpz-nsip",
            ),
            q(
                "line 33",
                dom("paren.example", true),
                "NXDOMAIN",
                "rpz-qname",
            ),
        ];
        assert_eq!(got, want);
        assert_eq!(parsed.iocs[0].meta.event.as_deref(), Some("rpz.example"));
        assert_eq!(parsed.iocs[0].meta.original, "bad.example");
        let bad: Vec<&str> = parsed.bad.iter().map(|b| b.place.as_str()).collect();
        assert_eq!(
            bad,
            [
                "line 26", "line 27", "line 28", "line 29", "line 30", "line 31", "line 32",
                "line 35"
            ],
            "{:#?}",
            parsed.bad
        );
        // rpz-client-ip.
        assert_eq!(parsed.ignored, 1);
    }

    #[test]
    fn origin_from_argument_soa_or_special_labels() {
        let text = "bad.example CNAME .\n32.1.0.0.10.rpz-ip CNAME .\n";
        let parsed = parse_rpz(text, Some("rpz.local.")).unwrap();
        assert_eq!(parsed.iocs.len(), 2);
        assert_eq!(parsed.iocs[0].meta.event.as_deref(), Some("rpz.local"));

        let soa = "rpz.local. 60 IN SOA ns. admin. 1 2 3 4 5\n\
                   bad.example.rpz.local. 60 IN CNAME .\n\
                   bad2.example CNAME .\n";
        let parsed = parse_rpz(soa, None).unwrap();
        assert_eq!(parsed.iocs.len(), 2, "{parsed:?}");
        assert_eq!(parsed.iocs[1].target, dom("bad2.example", true));

        let no_origin = "x.example.some.zone. CNAME .\n24.0.2.0.192.rpz-ip.some.zone. CNAME .\n";
        let parsed = parse_rpz(no_origin, None).unwrap();
        assert_eq!(parsed.iocs.len(), 1);
        assert_eq!(parsed.iocs[0].target, addrs("192.0.2.0", "192.0.2.255"));
        assert_eq!(parsed.bad.len(), 1);

        // Quoted strings keep their `;` and parentheses.
        let txt = "txt.example TXT \"a ; b ( c\"\nnext.example CNAME .\n";
        let parsed = parse_rpz(txt, Some("rpz.example")).unwrap();
        assert!(parsed.bad.is_empty(), "{:?}", parsed.bad);
        assert_eq!(parsed.iocs.len(), 2);
        assert_eq!(parsed.iocs[0].meta.action.as_deref(), Some("local-data"));
        assert_eq!(parsed.iocs[1].meta.place, "line 2");

        // Relative owners with no origin at all are taken relative to the zone.
        let parsed = parse_rpz("bad.example CNAME .\n", None).unwrap();
        assert_eq!(parsed.iocs[0].target, dom("bad.example", true));

        let parsed = parse_rpz("bad.example CNAME .\n", Some("my feed.txt")).unwrap();
        assert_eq!(parsed.iocs[0].target, dom("bad.example", true));
        assert_eq!(parsed.bad[0].place, "origin");

        // A leading absolute SOA wins over an origin guessed from the file name.
        let soa = "rpz.local. SOA ns. admin. 1 2 3 4 5\nbad.example CNAME .\n\
                   b2.example.rpz.local. CNAME rpz-drop.\n";
        let parsed = parse_rpz(soa, Some("blocklist")).unwrap();
        assert!(parsed.bad.is_empty(), "{:?}", parsed.bad);
        assert_eq!(parsed.iocs.len(), 2);
        assert_eq!(parsed.iocs[0].meta.event.as_deref(), Some("rpz.local"));
    }

    #[test]
    fn sub_origins_and_indented_directives() {
        let text = "$ORIGIN rpz.example.\n\
                    @ SOA ns. admin. 1 2 3 4 5\n\
                    \x20 $ORIGIN rpz-ip.rpz.example.\n\
                    32.1.0.0.10 CNAME .\n\
                    $ORIGIN rpz.example.\n\
                    bad.example CNAME .\n\
                    $GENERATE 1-2 host$ CNAME .\n";
        let parsed = parse_rpz(text, Some("ignored.example")).unwrap();
        let targets: Vec<&Target> = parsed.iocs.iter().map(|i| &i.target).collect();
        assert_eq!(
            targets,
            [&addrs("10.0.0.1", "10.0.0.1"), &dom("bad.example", true)]
        );
        assert_eq!(parsed.iocs[0].meta.event.as_deref(), Some("rpz.example"));
        assert_eq!(parsed.bad.len(), 1, "{:?}", parsed.bad);
        assert_eq!(parsed.bad[0].place, "line 7");
    }

    #[test]
    fn rpz_ip_forms() {
        let ok: &[(&str, &str, &str)] = &[
            ("32.1.0.0.10", "10.0.0.1", "10.0.0.1"),
            ("8.0.0.0.10", "10.0.0.0", "10.255.255.255"),
            ("128.1.zz.db8.2001", "2001:db8::1", "2001:db8::1"),
            ("128.1.0.0.0.0.0.db8.2001", "2001:db8::1", "2001:db8::1"),
            ("128.zz.1", "1::", "1::"),
            ("128.1.zz", "::1", "::1"),
            (
                "64.zz.1.0.db8.2001",
                "2001:db8:0:1::",
                "2001:db8:0:1:ffff:ffff:ffff:ffff",
            ),
        ];
        for (labels, lo, hi) in ok {
            let labels: Vec<&str> = labels.split('.').collect();
            assert_eq!(
                rpz_ip(&labels).unwrap(),
                (lo.parse().unwrap(), hi.parse().unwrap()),
                "{labels:?}"
            );
        }
        for bad in [
            "",
            "x.1.0.0.10",
            "0.1.0.0.10",
            "33.1.0.0.10",
            "32.256.0.0.10",
            "129.1.zz",
            "128.zz.zz",
            "128.1.2.3",
            "128.12345.zz",
            "128.g.zz",
        ] {
            let labels: Vec<&str> = bad.split('.').collect();
            assert!(rpz_ip(&labels).is_err(), "{bad}");
        }
    }
}
