//! Matching names and addresses against many indicators at once.
//!
//! * Domains: a hash map from name to indicators. A name is looked up as itself and as each
//!   of its parent suffixes (`a.b.example.com`, `b.example.com`, `example.com`, `com`):
//!   one hash lookup per label, whatever the number of indicators. Exact indicators only
//!   match the name itself.
//! * Addresses: every prefix, range or address is cut into CIDR blocks, kept in one hash
//!   map per prefix length; an address is masked and looked up once per length in use
//!   (a handful in practice).

use std::net::IpAddr;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::ioc::{Ioc, Target};

/// Index of an indicator in the matcher (and in [`Matcher::ioc`]).
pub type IocId = u32;

/// How an observation matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The query name is (under) a domain indicator.
    QueryName,
    /// A name inside the answer (CNAME, NS, MX ... target) is (under) a domain indicator.
    RdataName,
    /// An A/AAAA answer is in an address indicator.
    Address,
    /// An NS answer's target is (under) an `rpz-nsdname` indicator.
    NsName,
    /// An A/AAAA answer is in an `rpz-nsip` indicator.
    NsAddress,
}

/// An indicator with the feed it belongs to.
#[derive(Debug, Clone)]
pub struct Entry {
    pub feed: Arc<str>,
    pub ioc: Ioc,
}

/// Which names under an indicator's name match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// The name only.
    Exact,
    /// The name and its subdomains.
    Tree,
    /// Its subdomains only (RPZ `*.x` triggers).
    Below,
}

#[derive(Debug, Default)]
struct NameIndex {
    map: FxHashMap<Box<str>, Vec<(IocId, Reach)>>,
}

impl NameIndex {
    fn insert(&mut self, name: &str, id: IocId, reach: Reach) {
        self.map.entry(name.into()).or_default().push((id, reach));
    }

    fn lookup(&self, name: &str, out: &mut Vec<IocId>) {
        if self.map.is_empty() {
            return;
        }
        let mut suffix = name;
        let mut whole = true;
        loop {
            if let Some(ids) = self.map.get(suffix) {
                out.extend(
                    ids.iter()
                        .filter(|(_, reach)| match reach {
                            Reach::Exact => whole,
                            Reach::Tree => true,
                            Reach::Below => !whole,
                        })
                        .map(|(id, _)| *id),
                );
            }
            match suffix.find('.') {
                Some(i) => {
                    suffix = &suffix[i + 1..];
                    whole = false;
                }
                None => break,
            }
        }
    }
}

#[derive(Debug, Default)]
struct AddrIndex {
    /// Per prefix length (index 0..=128): masked network -> indicators.
    v4: Vec<FxHashMap<u32, Vec<IocId>>>,
    v6: Vec<FxHashMap<u128, Vec<IocId>>>,
    v4_lens: Vec<u8>,
    v6_lens: Vec<u8>,
}

fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len)))
    }
}

/// The CIDR blocks covering `lo..=hi` exactly (at most 2 × bits blocks); `lo <= hi`.
fn blocks(lo: u128, hi: u128, bits: u8) -> Vec<(u128, u8)> {
    // 2^size - 1, for sizes up to 128 (the whole IPv6 space).
    let span = |size: u32| {
        if size >= 128 {
            u128::MAX
        } else {
            (1u128 << size) - 1
        }
    };
    let mut out = Vec::new();
    let mut start = lo;
    loop {
        // The largest block aligned at `start` that stays within `hi` (size 0, one
        // address, always does: start <= hi here).
        let mut size = if start == 0 {
            u32::from(bits)
        } else {
            start.trailing_zeros().min(u32::from(bits))
        };
        while size > 0 && start.checked_add(span(size)).is_none_or(|last| last > hi) {
            size -= 1;
        }
        out.push((start, bits - size as u8));
        match start
            .checked_add(span(size))
            .and_then(|last| last.checked_add(1))
        {
            Some(next) if next <= hi => start = next,
            _ => break,
        }
    }
    out
}

impl AddrIndex {
    fn insert(&mut self, lo: IpAddr, hi: IpAddr, id: IocId) {
        match (lo, hi) {
            (IpAddr::V4(l), IpAddr::V4(h)) => {
                if self.v4.is_empty() {
                    self.v4 = vec![FxHashMap::default(); 33];
                }
                let (l, h) = (u32::from(l), u32::from(h));
                for (net, len) in blocks(u128::from(l.min(h)), u128::from(l.max(h)), 32) {
                    self.v4[usize::from(len)]
                        .entry(net as u32)
                        .or_default()
                        .push(id);
                    if !self.v4_lens.contains(&len) {
                        self.v4_lens.push(len);
                    }
                }
            }
            (IpAddr::V6(l), IpAddr::V6(h)) => {
                if self.v6.is_empty() {
                    self.v6 = vec![FxHashMap::default(); 129];
                }
                let (l, h) = (u128::from(l), u128::from(h));
                for (net, len) in blocks(l.min(h), l.max(h), 128) {
                    self.v6[usize::from(len)].entry(net).or_default().push(id);
                    if !self.v6_lens.contains(&len) {
                        self.v6_lens.push(len);
                    }
                }
            }
            _ => {}
        }
    }

    fn lookup(&self, ip: IpAddr, out: &mut Vec<IocId>) {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                for &len in &self.v4_lens {
                    if let Some(ids) = self.v4[usize::from(len)].get(&mask4(a, len)) {
                        out.extend_from_slice(ids);
                    }
                }
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                for &len in &self.v6_lens {
                    if let Some(ids) = self.v6[usize::from(len)].get(&mask6(a, len)) {
                        out.extend_from_slice(ids);
                    }
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.v4_lens.is_empty() && self.v6_lens.is_empty()
    }
}

/// Every loaded indicator, indexed.
#[derive(Debug, Default)]
pub struct Matcher {
    entries: Vec<Entry>,
    domains: NameIndex,
    ns_names: NameIndex,
    addrs: AddrIndex,
    ns_addrs: AddrIndex,
}

impl Matcher {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a feed's indicators.
    pub fn add_feed(&mut self, feed: &str, iocs: impl IntoIterator<Item = Ioc>) {
        let feed: Arc<str> = feed.into();
        for ioc in iocs {
            let Ok(id) = IocId::try_from(self.entries.len()) else {
                tracing::warn!("more than 4 billion indicators: the rest are left out");
                return;
            };
            // RPZ wildcard triggers (`*.x`, parsed as not exact) reach below x only.
            let rpz = ioc
                .meta
                .source_type
                .as_deref()
                .is_some_and(|t| t.starts_with("rpz-"));
            let reach = |exact: bool| match (exact, rpz) {
                (true, _) => Reach::Exact,
                (false, true) => Reach::Below,
                (false, false) => Reach::Tree,
            };
            match &ioc.target {
                Target::Domain { name, exact } => {
                    self.domains.insert(name.as_str(), id, reach(*exact));
                }
                Target::NsName { name, exact } => {
                    self.ns_names.insert(name.as_str(), id, reach(*exact));
                }
                Target::Addresses { lo, hi } => self.addrs.insert(*lo, *hi, id),
                Target::NsAddresses { lo, hi } => self.ns_addrs.insert(*lo, *hi, id),
            }
            self.entries.push(Entry {
                feed: feed.clone(),
                ioc,
            });
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[must_use]
    pub fn entry(&self, id: IocId) -> &Entry {
        &self.entries[id as usize]
    }

    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Domain indicators matching `name` (canonical, no trailing dot), appended to `out`.
    pub fn match_name(&self, name: &str, out: &mut Vec<IocId>) {
        self.domains.lookup(name, out);
    }

    /// `rpz-nsdname` indicators matching a name server name.
    pub fn match_ns_name(&self, name: &str, out: &mut Vec<IocId>) {
        self.ns_names.lookup(name, out);
    }

    /// Address indicators (and `rpz-nsip` ones, with `ns`) containing `ip`.
    pub fn match_ip(&self, ip: IpAddr, out: &mut Vec<IocId>) {
        self.addrs.lookup(ip, out);
    }

    pub fn match_ns_ip(&self, ip: IpAddr, out: &mut Vec<IocId>) {
        self.ns_addrs.lookup(ip, out);
    }

    /// Whether any address indicators exist (hunts skip the address pass otherwise).
    #[must_use]
    pub fn has_addresses(&self) -> bool {
        !self.addrs.is_empty() || !self.ns_addrs.is_empty()
    }

    /// Matches one answer: its owner name, the name inside its rdata, its address.
    pub fn match_answer(
        &self,
        rrname: &str,
        rrtype: dnsrecall_model::RrType,
        rdata: &str,
        out: &mut Vec<(IocId, Via)>,
    ) {
        let mut ids = Vec::new();
        self.match_name(rrname, &mut ids);
        out.extend(ids.drain(..).map(|i| (i, Via::QueryName)));
        use dnsrecall_model::RrType;
        if rrtype == RrType::A || rrtype == RrType::AAAA {
            if let Ok(ip) = rdata.parse::<IpAddr>() {
                self.match_ip(ip, &mut ids);
                out.extend(ids.drain(..).map(|i| (i, Via::Address)));
                self.match_ns_ip(ip, &mut ids);
                out.extend(ids.drain(..).map(|i| (i, Via::NsAddress)));
            }
            return;
        }
        with_target_name(rrtype, rdata, |t| {
            self.match_name(t, &mut ids);
            out.extend(ids.drain(..).map(|i| (i, Via::RdataName)));
            if rrtype == RrType::NS {
                self.match_ns_name(t, &mut ids);
                out.extend(ids.drain(..).map(|i| (i, Via::NsName)));
            }
        });
    }
}

/// Calls `f` with the name inside `rdata` (what [`dnsrecall_model::Rdata::target_name`]
/// gives), without copying anything when the name is already canonical, as it is in
/// stored and freshly parsed rdata; other names go through [`dnsrecall_model::Name::new`].
fn with_target_name(rrtype: dnsrecall_model::RrType, rdata: &str, f: impl FnOnce(&str)) {
    use dnsrecall_model::NameSlots;
    let token = match NameSlots::of(rrtype) {
        NameSlots::None => return,
        NameSlots::Whole => Some(rdata),
        NameSlots::Last => rdata.rsplit(' ').next(),
        NameSlots::Nth(i) => rdata.split(' ').nth(i),
    };
    let Some(token) = token else { return };
    if is_canonical_name(token) {
        f(token);
    } else if let Ok(name) = dnsrecall_model::Name::new(token) {
        f(name.as_str());
    }
}

/// Whether `Name::new(s)` would give `s` back unchanged: printable ASCII without upper
/// case letters, no trailing dot, no empty label, labels of at most 63 octets.
fn is_canonical_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= dnsrecall_model::MAX_NAME_LEN
        && !s.ends_with('.')
        && s.bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !b.is_ascii_uppercase())
        && s.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// The matchers built from the registry.
#[derive(Debug, Default)]
pub struct Matchers {
    pub watch: Matcher,
    pub watched: Vec<String>,
    /// Noise: suppression and exclusion feeds (left out of hunts, alerts and reports).
    pub suppress: Matcher,
    /// Exemptions of watched feeds (RPZ passthru rules): left out of hunts and alerts.
    pub allow: Matcher,
    pub exclude: Matcher,
}

impl Matchers {
    /// Whether hits on this name are kept out of hunts and alerts.
    #[must_use]
    pub fn quiet(&self, name: &str) -> bool {
        let mut ids = Vec::new();
        self.suppress.match_name(name, &mut ids);
        self.allow.match_name(name, &mut ids);
        !ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::IocMeta;
    use dnsrecall_model::{Name, RrType};
    use proptest::prelude::*;

    fn dom(n: &str, exact: bool) -> Ioc {
        Ioc {
            target: Target::Domain {
                name: Name::new(n).unwrap(),
                exact,
            },
            meta: IocMeta {
                original: n.into(),
                ..IocMeta::default()
            },
        }
    }

    fn net(lo: &str, hi: &str) -> Ioc {
        Ioc {
            target: Target::Addresses {
                lo: lo.parse().unwrap(),
                hi: hi.parse().unwrap(),
            },
            meta: IocMeta::default(),
        }
    }

    fn names(m: &Matcher, n: &str) -> Vec<IocId> {
        let mut v = Vec::new();
        m.match_name(n, &mut v);
        v.sort_unstable();
        v
    }

    fn ips(m: &Matcher, ip: &str) -> Vec<IocId> {
        let mut v = Vec::new();
        m.match_ip(ip.parse().unwrap(), &mut v);
        v.sort_unstable();
        v
    }

    #[test]
    fn domains_match_themselves_and_subdomains() {
        let mut m = Matcher::new();
        m.add_feed(
            "f",
            [
                dom("evil.example", false),
                dom("only.example", true),
                dom("com", false),
            ],
        );
        assert_eq!(names(&m, "evil.example"), vec![0]);
        assert_eq!(names(&m, "a.b.evil.example"), vec![0]);
        assert!(names(&m, "notevil.example").is_empty());
        assert_eq!(names(&m, "only.example"), vec![1]);
        assert!(names(&m, "www.only.example").is_empty());
        assert_eq!(names(&m, "x.com"), vec![2]);
        let mut hits = Vec::new();
        m.match_answer("www.good.org", RrType::CNAME, "cdn.evil.example", &mut hits);
        assert_eq!(hits, vec![(0, Via::RdataName)]);
        hits.clear();
        m.match_answer("good.org", RrType::MX, "10 mx.evil.example", &mut hits);
        assert_eq!(hits, vec![(0, Via::RdataName)]);
    }

    #[test]
    fn addresses_prefixes_and_ranges() {
        let mut m = Matcher::new();
        m.add_feed(
            "f",
            [
                net("10.0.0.1", "10.0.0.1"),
                net("192.0.2.0", "192.0.2.255"),
                net("198.51.100.7", "198.51.100.20"),
                net("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
                net("0.0.0.0", "255.255.255.255"),
            ],
        );
        assert_eq!(ips(&m, "10.0.0.1"), vec![0, 4]);
        assert_eq!(ips(&m, "192.0.2.77"), vec![1, 4]);
        assert_eq!(ips(&m, "198.51.100.6"), vec![4]);
        assert_eq!(ips(&m, "198.51.100.7"), vec![2, 4]);
        assert_eq!(ips(&m, "198.51.100.20"), vec![2, 4]);
        assert_eq!(ips(&m, "198.51.100.21"), vec![4]);
        assert_eq!(ips(&m, "2001:db8::5"), vec![3]);
        assert!(ips(&m, "2001:db9::5").is_empty());
    }

    #[test]
    fn rdata_names_match_like_rdata_target_name() {
        use dnsrecall_model::Rdata;
        let mut m = Matcher::new();
        m.add_feed("f", [dom("evil.example", false)]);
        let cases: &[(RrType, &str)] = &[
            (RrType::CNAME, "cdn.evil.example"),
            (RrType::CNAME, "CDN.Evil.Example."),
            (RrType::CNAME, "a..evil.example"),
            (RrType::CNAME, "."),
            (RrType::MX, "10 mx.evil.example"),
            (RrType::MX, "10 MX.EVIL.EXAMPLE."),
            (RrType::NS, "ns1.evil.example"),
            (RrType::SOA, "ns.evil.example hostmaster.x 1 2 3 4 5"),
            (RrType::TXT, "evil.example"),
            (RrType::PTR, "host.notevil.example"),
        ];
        for (t, rdata) in cases {
            let mut got = Vec::new();
            m.match_answer("x.org", *t, rdata, &mut got);
            let mut want = Vec::new();
            if let Some(n) = Rdata::from_canonical_unchecked((*rdata).to_owned()).target_name(*t) {
                m.match_name(n.as_str(), &mut want);
            }
            let got: Vec<IocId> = got
                .into_iter()
                .filter(|(_, v)| *v == Via::RdataName)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(got, want, "{t} {rdata}");
        }
    }

    #[test]
    fn whole_address_spaces() {
        let mut m = Matcher::new();
        m.add_feed("f", [net("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]);
        assert_eq!(ips(&m, "::"), vec![0]);
        assert_eq!(ips(&m, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), vec![0]);
        assert_eq!(ips(&m, "2001:db8::1"), vec![0]);
        assert_eq!(blocks(0, u128::MAX, 128), vec![(0, 0)]);
        assert_eq!(blocks(u128::MAX, u128::MAX, 128), vec![(u128::MAX, 128)]);
        assert_eq!(blocks(1, u128::MAX, 128).len(), 128);
        assert_eq!(blocks(0, u128::from(u32::MAX), 32), vec![(0, 0)]);
    }

    proptest! {
        #[test]
        fn blocks_cover_exactly(a in any::<u32>(), b in any::<u32>(), probe in any::<u32>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let mut m = Matcher::new();
            m.add_feed("f", [net(&std::net::Ipv4Addr::from(lo).to_string(), &std::net::Ipv4Addr::from(hi).to_string())]);
            let inside = (lo..=hi).contains(&probe);
            prop_assert_eq!(!ips(&m, &std::net::Ipv4Addr::from(probe).to_string()).is_empty(), inside);
            prop_assert_eq!(ips(&m, &std::net::Ipv4Addr::from(lo).to_string()).len(), 1);
            prop_assert_eq!(ips(&m, &std::net::Ipv4Addr::from(hi).to_string()).len(), 1);
            prop_assert!(blocks(u128::from(lo), u128::from(hi), 32).len() <= 64);
        }

        #[test]
        fn v6_blocks_tile_the_range(a in any::<u128>(), b in any::<u128>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let bl = blocks(lo, hi, 128);
            prop_assert!(bl.len() <= 256);
            prop_assert_eq!(bl[0].0, lo);
            let mut next = lo;
            for (net, len) in &bl {
                prop_assert_eq!(*net, next);
                let size = 128 - u32::from(*len);
                let last = if size >= 128 { u128::MAX } else { net + ((1u128 << size) - 1) };
                prop_assert!(last <= hi);
                next = last.wrapping_add(1);
            }
            prop_assert_eq!(next.wrapping_sub(1), hi);
        }
    }
}
