use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dnsrecall_model::{Name, RrType};
use dnsrecall_store::{NameSelector, Selector, TypeSet};

/// Longest pattern accepted (a name is at most 253 characters; ranges are two addresses).
const MAX_PATTERN_LEN: usize = 512;

/// Why a pattern or type list was refused; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(String);

fn err(msg: impl Into<String>) -> PatternError {
    PatternError(msg.into())
}

const EXPECTED: &str = "expected a name (isc.sans.org), *.name, name.*, *text*, * (everything), \
                        an address, a CIDR prefix (10.0.0.0/8) or a range (10.0.0.1-10.0.0.9)";

/// Parses a query pattern of the query language.
///
/// # Errors
/// When the pattern is none of the forms of the language.
pub fn parse_pattern(input: &str) -> Result<Selector, PatternError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(err(format!("empty pattern: {EXPECTED}")));
    }
    if s.len() > MAX_PATTERN_LEN {
        return Err(err(format!(
            "pattern longer than {MAX_PATTERN_LEN} characters"
        )));
    }
    if let Some(sel) = parse_address(s)? {
        return Ok(sel);
    }
    parse_name_pattern(s).map(Selector::Name)
}

/// Parses a name pattern (the forms without addresses), as `--rdata` takes.
///
/// # Errors
/// When the pattern is not a name form.
pub fn parse_name_pattern(input: &str) -> Result<NameSelector, PatternError> {
    let s = input.trim();
    let stars = s.matches('*').count();
    let name = |n: &str| {
        Name::new(n).map_err(|e| err(format!("{n:?} is not a valid name ({e}): {EXPECTED}")))
    };
    if stars == 0 {
        return name(s).map(NameSelector::Exact);
    }
    if s == "*" {
        // Every name (the root's subdomains): a full index scan, in reversed-label order.
        return Ok(NameSelector::Subdomains(Name::root()));
    }
    if stars == 2 && s.len() > 2 && s.starts_with('*') && s.ends_with('*') {
        let inner = s[1..s.len() - 1].to_ascii_lowercase();
        if inner.chars().count() < 3 {
            return Err(err(format!(
                "{s:?}: a substring search needs at least 3 characters between the *s"
            )));
        }
        if inner.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err(format!(
                "{s:?}: control characters or spaces in the substring"
            )));
        }
        return Ok(NameSelector::Substring(inner));
    }
    if stars == 1 {
        if let Some(rest) = s.strip_prefix("*.") {
            return name(rest).map(NameSelector::Subdomains);
        }
        if let Some(rest) = s.strip_suffix(".*") {
            let n = name(rest)?;
            return Ok(NameSelector::Prefix(n.as_str().to_owned()));
        }
    }
    Err(err(format!(
        "{s:?}: a * may only stand at the start (*.x), at the end (x.*) or at both ends (*text*); {EXPECTED}"
    )))
}

fn parse_address(s: &str) -> Result<Option<Selector>, PatternError> {
    let looks_like_address = s.contains(':')
        || s.chars().next().is_some_and(|c| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '/' | '-'))
            && (s.contains('/') || s.contains('-') || s.matches('.').count() == 3);
    if !looks_like_address {
        return Ok(None);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Some(Selector::Address { lo: ip, hi: ip }));
    }
    if let Some((addr, len)) = s.split_once('/') {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| err(format!("{addr:?} is not an address")))?;
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        let len: u32 = len
            .parse()
            .ok()
            .filter(|l| *l <= bits)
            .ok_or_else(|| err(format!("{s:?}: prefix length must be 0..={bits}")))?;
        let (lo, hi) = prefix_bounds(ip, len);
        return Ok(Some(Selector::Address { lo, hi }));
    }
    if let Some((a, b)) = s.split_once('-') {
        let lo: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| err(format!("{a:?} is not an address")))?;
        let hi: IpAddr = b
            .trim()
            .parse()
            .map_err(|_| err(format!("{b:?} is not an address")))?;
        if lo.is_ipv4() != hi.is_ipv4() {
            return Err(err(format!(
                "{s:?}: both ends of a range must be IPv4 or both IPv6"
            )));
        }
        if lo > hi {
            return Err(err(format!("{s:?}: the range starts after it ends")));
        }
        return Ok(Some(Selector::Address { lo, hi }));
    }
    if s.contains(':') {
        return Err(err(format!("{s:?} is not an IPv6 address")));
    }
    // Four dotted numbers that do not parse: a bad IPv4 address, not a name.
    Err(err(format!("{s:?} is not an IPv4 address")))
}

fn prefix_bounds(ip: IpAddr, len: u32) -> (IpAddr, IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let x = u32::from(v4);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (
                Ipv4Addr::from(x & mask).into(),
                Ipv4Addr::from(x | !mask).into(),
            )
        }
        IpAddr::V6(v6) => {
            let x = u128::from(v6);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (
                Ipv6Addr::from(x & mask).into(),
                Ipv6Addr::from(x | !mask).into(),
            )
        }
    }
}

/// Parses `--type` values (each may be a comma-separated list). `ANY` means every type but
/// the DNSSEC ones, `ANY-DNSSEC` the DNSSEC ones (as DNSDB); no value at all: every type.
///
/// # Errors
/// On an unknown type name.
pub fn parse_types(values: &[String]) -> Result<Option<TypeSet>, PatternError> {
    let mut out: Vec<RrType> = Vec::new();
    let mut any = false;
    for v in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if v.eq_ignore_ascii_case("ANY") {
            any = true;
        } else if v.eq_ignore_ascii_case("ANY-DNSSEC") {
            out.extend(RrType::DNSSEC);
        } else {
            out.push(RrType::parse(v).ok_or_else(|| {
                err(format!("unknown record type {v:?}: expected a name like A, AAAA, MX, TYPE65534, or ANY / ANY-DNSSEC"))
            })?);
        }
    }
    out.sort_unstable();
    out.dedup();
    if any {
        let excluded: Vec<RrType> = RrType::DNSSEC
            .into_iter()
            .filter(|t| !out.contains(t))
            .collect();
        return Ok(if excluded.is_empty() {
            None
        } else {
            Some(TypeSet::Except(excluded))
        });
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(TypeSet::Only(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn show(s: &str) -> String {
        match parse_pattern(s) {
            Ok(Selector::Name(NameSelector::Exact(n))) => format!("exact {n}"),
            Ok(Selector::Name(NameSelector::Subdomains(n))) => format!("sub {n}"),
            Ok(Selector::Name(NameSelector::Prefix(n))) => format!("prefix {n}"),
            Ok(Selector::Name(NameSelector::Substring(n))) => format!("substr {n}"),
            Ok(Selector::Address { lo, hi }) => format!("addr {lo} {hi}"),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error {e}"),
        }
    }

    #[test]
    fn forms() {
        let cases = [
            ("isc.sans.org", "exact isc.sans.org"),
            ("ISC.sans.org.", "exact isc.sans.org"),
            ("*.sans.org", "sub sans.org"),
            ("isc.sans.*", "prefix isc.sans"),
            ("*sans*", "substr sans"),
            ("*sans.*", "substr sans."),
            ("*SANS*", "substr sans"),
            ("204.51.94.153", "addr 204.51.94.153 204.51.94.153"),
            ("204.51.94.0/24", "addr 204.51.94.0 204.51.94.255"),
            ("10.0.0.1-10.0.0.9", "addr 10.0.0.1 10.0.0.9"),
            (
                "2001:db8::/32",
                "addr 2001:db8:: 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
            ("0.0.0.0/0", "addr 0.0.0.0 255.255.255.255"),
            ("1.0.0.127.in-addr.arpa", "exact 1.0.0.127.in-addr.arpa"),
        ];
        for (input, want) in cases {
            assert_eq!(show(input), want, "{input}");
        }
        assert_eq!(show("*"), "sub .");
        for bad in [
            "",
            "**",
            "*ab*",
            "a*b.com",
            "*.",
            "10.0.0.300",
            "10.0.0.0/33",
            "10.0.0.9-10.0.0.1",
            "10.0.0.1-::1",
            "a..b",
            "2001:db8::/129",
            "x.*.y",
        ] {
            assert!(show(bad).starts_with("error"), "{bad:?} gave {}", show(bad));
        }
    }

    #[test]
    fn types() {
        assert_eq!(parse_types(&[]).unwrap(), None);
        let t = parse_types(&["a,AAAA".into(), "mx".into()])
            .unwrap()
            .unwrap();
        assert_eq!(t, TypeSet::Only(vec![RrType::A, RrType::MX, RrType::AAAA]));
        let d = parse_types(&["ANY-DNSSEC".into()]).unwrap().unwrap();
        assert!(d.contains(RrType::RRSIG) && !d.contains(RrType::A));
        let any = parse_types(&["ANY".into()]).unwrap().unwrap();
        assert!(any.contains(RrType::A) && !any.contains(RrType::RRSIG));
        assert!(any.contains(RrType(65000)));
        let both = parse_types(&["ANY".into(), "ANY-DNSSEC".into()]).unwrap();
        assert_eq!(both, None);
        assert!(parse_types(&["BOGUS".into()]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = parse_pattern(&s);
            let _ = parse_types(&[s]);
        }
    }
}
