//! Plain indicator lists: one domain, address, CIDR prefix or range per line, hosts-file
//! lines, Adblock-style `||name^` rules and URLs (the host is taken), with `#`, `;` and `!`
//! comments. Also the value helpers every other format shares (address, prefix and name
//! checks, the host of a URL).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dnsrecall_model::Name;

use crate::ioc::{BadEntry, Ioc, IocMeta, Parsed, Target};

/// Names a hosts file maps to loopback or local addresses for its own use: never IOCs.
const HOSTS_LOCAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// Parses a plain list. `source` becomes `meta.event` (the list's file name or feed name).
#[must_use]
pub fn parse_list(text: &str, source: Option<&str>) -> Parsed {
    parse_lines(text, source, "list")
}

/// The common line parser of plain lists and MISP text exports; `source_type` is what
/// `meta.source_type` says (`list`, `misp-text`).
pub(crate) fn parse_lines(text: &str, source: Option<&str>, source_type: &str) -> Parsed {
    let mut out = Parsed::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let place = format!("line {}", index + 1);
        let meta = |original: &str| IocMeta {
            event: source.map(str::to_owned),
            source_type: Some(source_type.to_owned()),
            original: original.to_owned(),
            place: place.clone(),
            ..IocMeta::default()
        };
        match parse_line(line) {
            Line::Targets(targets) => out.iocs.extend(targets.into_iter().map(|target| Ioc {
                target,
                meta: meta(line),
            })),
            Line::Hosts { targets, bad } => {
                // Each name is its own original: copying the whole line per name would
                // multiply a long line's size.
                out.iocs
                    .extend(targets.into_iter().map(|(target, name)| Ioc {
                        target,
                        meta: meta(name),
                    }));
                out.bad.extend(bad.into_iter().map(|reason| BadEntry {
                    place: place.clone(),
                    reason,
                }));
            }
            Line::Ignored => out.ignored += 1,
            Line::Bad(reason) => out.bad.push(BadEntry { place, reason }),
        }
    }
    out
}

enum Line<'a> {
    Targets(Vec<Target>),
    /// A hosts-file line: the names it maps (with each as written), and the names that
    /// were not names.
    Hosts {
        targets: Vec<(Target, &'a str)>,
        bad: Vec<String>,
    },
    Ignored,
    Bad(String),
}

/// Cuts a `#` or `;` comment that starts the line or follows white space (so a URL's
/// `#fragment` is kept), and `!` comments that start the line (Adblock).
fn strip_comment(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with('!') || trimmed.starts_with('[') && trimmed.ends_with(']') {
        return "";
    }
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if (b == b'#' || b == b';') && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn parse_line(line: &str) -> Line<'_> {
    // Adblock cosmetic and exception rules do not name indicators.
    if line.contains("##") || line.contains("#@#") || line.contains("#?#") || line.starts_with("@@")
    {
        return Line::Ignored;
    }
    let tokens: Vec<&str> = line.split_whitespace().collect();
    match tokens.as_slice() {
        [] => Line::Ignored,
        [one] => match classify_value(one) {
            Ok(target) => Line::Targets(vec![target]),
            Err(reason) => Line::Bad(reason),
        },
        [lo, "-", hi] => match parse_addresses(&format!("{lo}-{hi}")) {
            Some(Ok((lo, hi))) => Line::Targets(vec![Target::Addresses { lo, hi }]),
            Some(Err(reason)) => Line::Bad(reason),
            None => Line::Bad(format!("{line:?} is not an address range")),
        },
        [first, names @ ..] if is_hosts_address(first) => hosts_line(names),
        _ => Line::Bad("more than one value on the line".to_owned()),
    }
}

/// The address that starts a hosts-file line (`fe80::1%lo0` has a zone).
fn is_hosts_address(token: &str) -> bool {
    token
        .split('%')
        .next()
        .is_some_and(|a| a.parse::<IpAddr>().is_ok())
}

fn hosts_line<'a>(names: &[&'a str]) -> Line<'a> {
    let mut targets = Vec::new();
    let mut bad = Vec::new();
    for name_text in names {
        let name = *name_text;
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        if HOSTS_LOCAL_NAMES.contains(&lower.as_str()) {
            continue;
        }
        match domain_name(name) {
            Ok(name) => targets.push((Target::Domain { name, exact: false }, *name_text)),
            Err(reason) => bad.push(reason),
        }
    }
    if targets.is_empty() && bad.is_empty() {
        Line::Ignored
    } else {
        Line::Hosts { targets, bad }
    }
}

/// Classifies a value of unknown type (a list line, a MISP text export line): an address,
/// a CIDR prefix or range; a URL (its host); `*.name` or an Adblock `||name^` (the name
/// and its subdomains); a domain name.
///
/// # Errors
/// When it is none of these; the reason says why.
pub fn classify_value(value: &str) -> Result<Target, String> {
    let refanged = refang(value.trim());
    let value = refanged.as_str();
    if value.is_empty() {
        return Err("empty value".to_owned());
    }
    if let Some(rule) = value.strip_prefix("||") {
        let end = rule.find(['^', '$', '/']).unwrap_or(rule.len());
        return host_target(&rule[..end]);
    }
    if let Some(addresses) = parse_addresses(value) {
        return addresses.map(|(lo, hi)| Target::Addresses { lo, hi });
    }
    if value.contains("://") || value.contains('/') {
        return match url_host(value) {
            Some(host) => host_target(host),
            None => Err(format!("{value:?}: URL without a host")),
        };
    }
    if let Some(base) = value.strip_prefix("*.") {
        return domain_name_allow_single(base).map(|name| Target::Domain { name, exact: false });
    }
    domain_name(value).map(|name| Target::Domain { name, exact: false })
}

/// Undoes the usual defanging of published indicators: `[.]`, `(.)`, `[dot]`, `hxxp`.
fn refang(value: &str) -> String {
    let mut v = value
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[dot]", ".");
    for (defanged, scheme) in [("hxxps://", "https://"), ("hxxp://", "http://")] {
        if v.get(..defanged.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(defanged))
        {
            v.replace_range(..defanged.len(), scheme);
        }
    }
    v
}

/// The target of a host taken from a URL or a `host|port` value: an address or a name.
pub(crate) fn host_target(host: &str) -> Result<Target, String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Target::Addresses { lo: ip, hi: ip });
    }
    domain_name(host).map(|name| Target::Domain { name, exact: false })
}

/// The host of a URL (`scheme://user@host:port/path?q#f`), or of a scheme-less one
/// (`host/path`, as MISP `url` attributes sometimes are). IPv6 hosts keep their brackets.
#[must_use]
pub fn url_host(url: &str) -> Option<&str> {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
    let host_port = match authority.rfind('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    let host = if host_port.starts_with('[') {
        &host_port[..host_port.find(']').map_or(host_port.len(), |i| i + 1)]
    } else if host_port.matches(':').count() == 1 {
        &host_port[..host_port.find(':').unwrap_or(host_port.len())]
    } else {
        host_port
    };
    (!host.is_empty()).then_some(host)
}

/// Whether a value is written like an address, prefix or range (digits, dots, slash and
/// dash only, or hex and colons), so that it is an address or bad, never a name: no top
/// level domain is all digits.
fn looks_like_addresses(value: &str) -> bool {
    let b = value.as_bytes();
    let v4ish = b.first().is_some_and(u8::is_ascii_digit)
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'/' | b'-'));
    let v6ish = value.contains(':')
        && b.iter()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.' | b'/' | b'-'));
    v4ish || v6ish
}

/// Parses an address, a CIDR prefix (host bits are cleared) or a range `lo-hi` into
/// `(lo, hi)`. `None` when the value is not written like one (it may be a name).
#[must_use]
pub fn parse_addresses(value: &str) -> Option<Result<(IpAddr, IpAddr), String>> {
    let value = value.trim();
    if !looks_like_addresses(value) {
        return None;
    }
    Some(parse_addresses_strict(value))
}

/// Like [`parse_addresses`] for a value that must be an address (a MISP `ip-dst`).
pub(crate) fn parse_addresses_strict(value: &str) -> Result<(IpAddr, IpAddr), String> {
    let value = value.trim();
    if let Some((addr, len)) = value.split_once('/') {
        let ip: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{value:?}: not an address before the '/'"))?;
        let len: u8 = match len.trim().parse::<Ipv4Addr>() {
            // `10.0.0.0/255.0.0.0`: a netmask, when its ones are contiguous.
            Ok(mask) if ip.is_ipv4() => {
                let bits = u32::from(mask);
                if bits.leading_ones() + bits.trailing_zeros() != 32 {
                    return Err(format!("{value:?}: netmask is not contiguous"));
                }
                // At most 32: fits.
                bits.leading_ones() as u8
            }
            _ => len
                .trim()
                .parse()
                .map_err(|_| format!("{value:?}: bad prefix length"))?,
        };
        return cidr(ip, len).ok_or_else(|| format!("{value:?}: prefix length too long"));
    }
    if let Some((lo, hi)) = value.split_once('-') {
        let lo: IpAddr = lo
            .trim()
            .parse()
            .map_err(|_| format!("{value:?}: range start is not an address"))?;
        let hi: IpAddr = hi
            .trim()
            .parse()
            .map_err(|_| format!("{value:?}: range end is not an address"))?;
        return match (lo, hi) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) if lo <= hi => {
                Ok((lo, hi))
            }
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                Err(format!("{value:?}: range start after its end"))
            }
            _ => Err(format!("{value:?}: range mixes IPv4 and IPv6")),
        };
    }
    value
        .parse::<IpAddr>()
        .map(|ip| (ip, ip))
        .map_err(|_| format!("{value:?}: not an address"))
}

/// The first and last address of a prefix; `None` when `len` is too long for the family.
#[must_use]
pub fn cidr(ip: IpAddr, len: u8) -> Option<(IpAddr, IpAddr)> {
    match ip {
        IpAddr::V4(v4) => {
            if len > 32 {
                return None;
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            let lo = u32::from(v4) & mask;
            Some((
                IpAddr::V4(Ipv4Addr::from(lo)),
                IpAddr::V4(Ipv4Addr::from(lo | !mask)),
            ))
        }
        IpAddr::V6(v6) => {
            if len > 128 {
                return None;
            }
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            let lo = u128::from(v6) & mask;
            Some((
                IpAddr::V6(Ipv6Addr::from(lo)),
                IpAddr::V6(Ipv6Addr::from(lo | !mask)),
            ))
        }
    }
}

/// A domain name as an indicator: canonical, at least two labels, letters, digits,
/// hyphens and underscores only (internationalized names become A-labels), not an
/// address.
///
/// # Errors
/// When the value is not such a name.
pub fn domain_name(value: &str) -> Result<Name, String> {
    let name = domain_name_allow_single(value)?;
    if !name.as_str().contains('.') {
        return Err(format!("{value:?}: not a domain name (one label)"));
    }
    Ok(name)
}

/// [`domain_name`] allowing one label (the base of `*.tld`).
pub(crate) fn domain_name_allow_single(value: &str) -> Result<Name, String> {
    let trimmed = value.trim();
    if trimmed.parse::<IpAddr>().is_ok() {
        return Err(format!("{value:?}: an address, not a domain name"));
    }
    let name = Name::new(trimmed).map_err(|e| format!("{value:?}: not a domain name: {e}"))?;
    if name.is_root() {
        return Err(format!("{value:?}: the root is not a domain indicator"));
    }
    if !name
        .as_str()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!("{value:?}: not a domain name (character)"));
    }
    let tld = name.as_str().rsplit('.').next().unwrap_or_default();
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{value:?}: not a domain name (numeric top label)"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn classify_table() {
        let cases: &[(&str, Target)] = &[
            ("example.com", dom("example.com")),
            ("Example.COM.", dom("example.com")),
            ("*.example.com", dom("example.com")),
            ("*.tk", dom("tk")),
            ("||ads.example.com^", dom("ads.example.com")),
            ("||ads.example.com^$third-party", dom("ads.example.com")),
            ("bücher.example", dom("xn--bcher-kva.example")),
            ("10.0.0.1", addrs("10.0.0.1", "10.0.0.1")),
            ("10.1.2.3/8", addrs("10.0.0.0", "10.255.255.255")),
            ("192.0.2.0/24", addrs("192.0.2.0", "192.0.2.255")),
            ("0.0.0.0/0", addrs("0.0.0.0", "255.255.255.255")),
            ("10.0.0.1-10.0.0.9", addrs("10.0.0.1", "10.0.0.9")),
            ("2001:db8::1", addrs("2001:db8::1", "2001:db8::1")),
            (
                "2001:db8::/32",
                addrs("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
            ),
            ("http://evil.example/path?x#y", dom("evil.example")),
            ("https://user:pw@Evil.Example:8443/", dom("evil.example")),
            ("http://192.0.2.7:8080/x", addrs("192.0.2.7", "192.0.2.7")),
            (
                "http://[2001:db8::7]:80/",
                addrs("2001:db8::7", "2001:db8::7"),
            ),
            ("evil.example/gate.php", dom("evil.example")),
            ("evil[.]example", dom("evil.example")),
            ("hxxp://evil[.]example/x", dom("evil.example")),
            ("10.0.0.0/255.0.0.0", addrs("10.0.0.0", "10.255.255.255")),
        ];
        for (input, want) in cases {
            assert_eq!(&classify_value(input).unwrap(), want, "{input}");
        }
        for bad in [
            "1.2.3",
            "1.2.3.4/33",
            "10.0.0.9-10.0.0.1",
            "10.0.0.1-2001:db8::1",
            "e48fe20eb1f5a5887f2ac631fed9ed63",
            "evil/example.com/",
            "107.183.86",
            "host.123",
            "http:///path",
            "a..b",
            "10.0.0.0/255.0.255.0",
            "*.",
        ] {
            assert!(classify_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_lines() {
        let text = "\u{feff}# a list\n\
                    evil.example\n\
                    \n\
                    10.0.0.0/8 ; inline\n\
                    127.0.0.1 localhost\n\
                    ::1 localhost ip6-localhost ip6-loopback\n\
                    0.0.0.0 ads.example.com other.example # two names\n\
                    *.tracker.example\n\
                    ||adblock.example^\n\
                    example.com##.banner\n\
                    @@||good.example^\n\
                    ! adblock comment\n\
                    [Adblock Plus 2.0]\n\
                    not a value\n\
                    http://evil.example/x#frag\n\
                    192.0.2.1 - 192.0.2.9\n\
                    0.0.0.0 bad..name\n";
        let parsed = parse_list(text, Some("my.list"));
        let got: Vec<(String, Target)> = parsed
            .iocs
            .iter()
            .map(|i| (i.meta.place.clone(), i.target.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("line 2".into(), dom("evil.example")),
                ("line 4".into(), addrs("10.0.0.0", "10.255.255.255")),
                ("line 7".into(), dom("ads.example.com")),
                ("line 7".into(), dom("other.example")),
                ("line 8".into(), dom("tracker.example")),
                ("line 9".into(), dom("adblock.example")),
                ("line 15".into(), dom("evil.example")),
                ("line 16".into(), addrs("192.0.2.1", "192.0.2.9")),
            ]
        );
        assert_eq!(parsed.ignored, 4, "{parsed:?}");
        let bad: Vec<&str> = parsed.bad.iter().map(|b| b.place.as_str()).collect();
        assert_eq!(bad, ["line 14", "line 17"]);
        assert_eq!(parsed.iocs[0].meta.event.as_deref(), Some("my.list"));
        assert_eq!(parsed.iocs[0].meta.source_type.as_deref(), Some("list"));
        assert_eq!(parsed.iocs[2].meta.original, "ads.example.com");
        assert_eq!(parsed.iocs[3].meta.original, "other.example");
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("example.com/path"), Some("example.com"));
        assert_eq!(url_host("http://a.example"), Some("a.example"));
        assert_eq!(url_host("http://[::1]:80/"), Some("[::1]"));
        assert_eq!(url_host("ftp://u@h.example:21"), Some("h.example"));
        assert_eq!(url_host("http://"), None);
    }
}
