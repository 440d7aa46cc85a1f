//! Deterministic generator of synthetic gamelinux/passivedns JSON-lines logs.
//!
//! The output is a function of `(seed, lines, start_time)` only: the generator uses its
//! own PRNG (xoshiro256** seeded through splitmix64) and, for everything that reaches
//! the output, integer or correctly rounded IEEE arithmetic (`+ - * / sqrt`) only, so no
//! `rand` version or platform `libm` can change a byte.
//!
//! Shape of the traffic:
//!
//! - line types: A 55%, AAAA 15%, CNAME 10% (each CNAME line is followed by the A line
//!   of its target), MX 3%, TXT 4%, NS 3%, PTR 5%, NXDOMAIN 5%;
//! - A/AAAA/CNAME names come from a Zipf-popular universe (exponent 1 + 1/16, sized
//!   with the log) under a few hundred registrable domains, plus a stream of fresh
//!   one-off names (DGA-like, CDN-unique, tracking hosts), some repeated once soon
//!   after; this gives about half as many distinct `(query, type, answer)` tuples as
//!   lines;
//! - popular names resolve to 1-8 stable CDN addresses, tail names to addresses from a
//!   few /16 blocks, some of them rotating over days;
//! - timestamps start at `start_time` and advance with a diurnal rate so the log spans
//!   about 30 days; clients are a few thousand `10.x.y.z` with Zipf activity.

use std::collections::HashSet;
use std::io::{self, Write};

/// Default first timestamp: 2025-01-01T00:00:00Z.
pub const DEFAULT_START_TIME: i64 = 1_735_689_600;
/// Approximate time span of a generated log, whatever its length.
pub const SPAN_SECS: u64 = 30 * 86_400;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenConfig {
    /// Number of log lines to write.
    pub lines: u64,
    /// PRNG seed; the output is a pure function of `(seed, lines, start_time)`.
    pub seed: u64,
    /// Unix time (seconds) of the first line.
    pub start_time: i64,
}

impl GenConfig {
    /// A config with the default start time.
    pub fn new(lines: u64, seed: u64) -> Self {
        Self {
            lines,
            seed,
            start_time: DEFAULT_START_TIME,
        }
    }
}

/// Category of a generated line (NXDOMAIN lines carry their query type in `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
    Ptr,
    NxDomain,
}

impl LineKind {
    /// All kinds, in `GenStats::per_kind` order.
    pub const ALL: [LineKind; 8] = [
        LineKind::A,
        LineKind::Aaaa,
        LineKind::Cname,
        LineKind::Mx,
        LineKind::Txt,
        LineKind::Ns,
        LineKind::Ptr,
        LineKind::NxDomain,
    ];

    /// Display name (the `type` value, or `NXDOMAIN`).
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::A => "A",
            LineKind::Aaaa => "AAAA",
            LineKind::Cname => "CNAME",
            LineKind::Mx => "MX",
            LineKind::Txt => "TXT",
            LineKind::Ns => "NS",
            LineKind::Ptr => "PTR",
            LineKind::NxDomain => "NXDOMAIN",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Lines written.
    pub lines: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Distinct `query` values (HyperLogLog estimate, about 1% error).
    pub distinct_names: u64,
    /// Distinct `(query, type, answer)` tuples (HyperLogLog estimate, about 1% error).
    pub distinct_tuples: u64,
    /// `timestamp_s` of the first line (0 when empty).
    pub first_timestamp: i64,
    /// `timestamp_s` of the last line (0 when empty).
    pub last_timestamp: i64,
    /// Line counts indexed like [`LineKind::ALL`].
    pub per_kind: [u64; 8],
}

impl GenStats {
    /// Number of lines of one kind.
    pub fn count(&self, kind: LineKind) -> u64 {
        self.per_kind[kind.index()]
    }
}

/// Writes `cfg.lines` passivedns JSON lines to `out` (buffered internally; `out` is
/// flushed at the end).
pub fn generate<W: Write>(cfg: &GenConfig, mut out: W) -> io::Result<GenStats> {
    let mut g = Gen::new(cfg);
    while g.lines < cfg.lines {
        g.event(cfg.lines - g.lines);
        if g.buf.len() >= FLUSH_AT {
            out.write_all(&g.buf)?;
            g.buf.clear();
        }
    }
    out.write_all(&g.buf)?;
    out.flush()?;
    Ok(g.stats())
}

// ---------------------------------------------------------------------------------
// Tunables.

const FLUSH_AT: usize = 1 << 18;
/// Event mix in 1/10000 (a CNAME event writes two lines, CNAME + A): gives line shares
/// A 55%, AAAA 15%, CNAME 10%, MX 3%, TXT 4%, NS 3%, PTR 5%, NXDOMAIN 5%.
const EVENT_MIX: [(LineKind, u64); 8] = [
    (LineKind::A, 5000),
    (LineKind::Aaaa, 1667),
    (LineKind::Cname, 1111),
    (LineKind::Mx, 333),
    (LineKind::Txt, 444),
    (LineKind::Ns, 333),
    (LineKind::Ptr, 556),
    (LineKind::NxDomain, 556),
];
/// Address-name universe size = lines / this, clamped.
const UNIVERSE_DIVISOR: u64 = 4;
const UNIVERSE_MIN: u64 = 1_000;
const UNIVERSE_MAX: u64 = 8_000_000;
/// Names ranked below this are "popular": stable CDN addresses, 1-8 of them.
pub(crate) const POPULAR_RANKS: u64 = 2_000;
/// Names ranked below this use short, common labels.
const HEAD_RANKS: u64 = 3_000;
/// Per mille of A/AAAA/CNAME events that use a brand-new one-off name.
const FRESH_NEW: u64 = 330;
/// Per mille of A/AAAA/CNAME events that repeat a recent one-off name.
const FRESH_REPEAT: u64 = 50;
const FRESH_RING: usize = 4096;
const DOMAINS: usize = 400;
const CLIENTS: usize = 3_000;

const NS_ADDR: u64 = 1;
const NS_CNAME: u64 = 2;
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

// ---------------------------------------------------------------------------------
// Vocabulary.

const WORDS: &[&str] = &[
    "acme", "nord", "blue", "fox", "data", "cloud", "tech", "shop", "media", "news", "bank",
    "soft", "link", "web", "micro", "star", "north", "river", "stone", "green", "red", "iron",
    "alpha", "delta", "omega", "prime", "smart", "fast", "open", "secure", "global", "metro",
    "urban", "pixel", "quant", "nova", "terra", "zen", "apex", "core", "hub", "lab", "works",
    "mail", "host", "cast", "play", "game", "stream", "track", "sync", "ops", "base", "bit",
    "byte", "code", "dev", "sun", "moon", "sky", "sea", "bay", "peak", "wolf", "bear", "lynx",
    "oak", "pine", "maple", "cedar", "swift", "bright", "clear", "silver", "gold", "copper",
    "vision", "logic", "matrix", "vector", "signal", "pulse", "wave", "spark", "flux", "orbit",
    "rocket", "pilot", "harbor", "bridge", "tower", "garden", "market", "travel", "health",
    "energy", "power", "auto", "city", "home", "kids", "food", "wine", "sport", "music",
];
const TLDS: &[(&str, u32)] = &[
    ("com", 45),
    ("net", 10),
    ("org", 7),
    ("de", 6),
    ("io", 5),
    ("co.uk", 5),
    ("fr", 3),
    ("nl", 3),
    ("ru", 2),
    ("jp", 2),
    ("info", 2),
    ("eu", 2),
    ("ch", 2),
    ("se", 1),
    ("it", 1),
    ("com.au", 1),
    ("app", 1),
    ("dev", 1),
    ("cloud", 1),
];
const DGA_TLDS: &[&str] = &[
    "com", "net", "info", "biz", "org", "xyz", "top", "ru", "cn", "online", "site",
];
const LABELS: &[&str] = &[
    "www",
    "api",
    "cdn",
    "mail",
    "static",
    "img",
    "login",
    "auth",
    "app",
    "m",
    "assets",
    "media",
    "files",
    "docs",
    "blog",
    "shop",
    "support",
    "portal",
    "vpn",
    "smtp",
    "imap",
    "git",
    "status",
    "accounts",
    "search",
    "video",
    "images",
    "update",
    "download",
    "ws",
    "push",
    "metrics",
    "analytics",
    "sso",
    "id",
    "pay",
    "checkout",
    "news",
    "help",
    "dev",
];
const PREFIXES: &[&str] = &[
    "cdn", "edge", "web", "srv", "node", "img", "static", "api", "mx", "lb", "app", "cache",
];
const ENVS: &[&str] = &[
    "prod",
    "stage",
    "eu-west-1",
    "us-east-1",
    "ap-south-1",
    "eu-central-1",
    "int",
    "dev",
    "beta",
    "eu",
    "us",
    "asia",
];
const TRACK_LABELS: &[&str] = &["t", "px", "track", "metrics", "beacon", "ad", "sync", "c"];
const NX_COMMON: &[&str] = &[
    "wpad",
    "isatap",
    "_ldap._tcp.dc._msdcs",
    "autodiscover",
    "localhost",
    "printer",
    "nas",
    "old-www",
    "test",
    "intranet",
    "fileserver",
    "proxy",
];
const NS_CLOUDFLARE: &[&str] = &[
    "alice", "bob", "kate", "rick", "vera", "tom", "lara", "nick", "dana", "ivan", "olga", "pete",
];

/// /16 blocks for popular (CDN) addresses, with a PTR zone each.
const CDN_V4: &[([u8; 2], &str)] = &[
    ([104, 16], "cloudflare.net"),
    ([104, 18], "cloudflare.net"),
    ([151, 101], "fastly.net"),
    ([172, 217], "1e100.net"),
    ([142, 250], "1e100.net"),
    ([13, 32], "r.cloudfront.net"),
    ([13, 224], "r.cloudfront.net"),
    ([52, 84], "compute.amazonaws.com"),
    ([23, 32], "deploy.static.akamaitechnologies.com"),
    ([23, 192], "deploy.static.akamaitechnologies.com"),
    ([185, 199], "github.io"),
    ([140, 82], "github.com"),
    ([199, 232], "fastly.net"),
    ([31, 13], "fbcdn.net"),
    ([157, 240], "fbcdn.net"),
    ([20, 190], "msedge.net"),
    ([40, 126], "msedge.net"),
    ([93, 184], "edgecastcdn.net"),
];
/// /16 blocks for long-tail addresses.
const TAIL_V4: &[([u8; 2], &str)] = &[
    ([45, 33], "ip.linodeusercontent.com"),
    ([89, 163], "static.ovh.net"),
    ([185, 220], "hosted-by.example-isp.net"),
    ([5, 188], "static.hetzner.de"),
    ([91, 198], "clients.your-server.de"),
    ([176, 9], "clients.your-server.de"),
    ([62, 210], "poneytelecom.eu"),
    ([37, 187], "ip-37-187.eu"),
];
pub(crate) const SERVERS: &[(&str, u64)] = &[
    ("10.0.0.53", 45),
    ("10.0.1.53", 35),
    ("10.20.0.10", 12),
    ("8.8.8.8", 5),
    ("1.1.1.1", 3),
];
pub(crate) const TTL_POPULAR: &[u64] = &[20, 30, 60, 60, 120, 300, 300];
pub(crate) const TTL_TAIL: &[u64] = &[60, 300, 300, 600, 900, 1800, 3600, 3600, 7200, 14400, 86400];
pub(crate) const TTL_ZONE: &[u64] = &[300, 3600, 3600, 14400, 86400, 172_800];

// ---------------------------------------------------------------------------------
// Randomness.

#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
fn mul_hi(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

pub(crate) trait Rand {
    fn next_u64(&mut self) -> u64;

    /// Uniform in `0..n` (`n > 0`).
    #[inline]
    fn below(&mut self, n: u64) -> u64 {
        mul_hi(self.next_u64(), n)
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    #[inline]
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// splitmix64: used to derive stable per-entity values from a hash.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(pub(crate) u64);

impl Rand for SplitMix {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }
}

/// xoshiro256**: the main event stream.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro([u64; 4]);

impl Xoshiro {
    fn new(seed: u64) -> Self {
        let mut sm = SplitMix(seed);
        Self([sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()])
    }
}

impl Rand for Xoshiro {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

/// Walker/Vose alias table: O(1) sampling of a fixed discrete distribution.
#[derive(Debug)]
pub(crate) struct Alias {
    /// `(threshold, alias)` per slot: slot `i` yields `i` when the coin is at most the
    /// threshold, else the alias (one cache line per sample).
    slots: Vec<(u32, u32)>,
}

impl Alias {
    fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        assert!(n > 0 && n < u32::MAX as usize, "alias table size");
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut slots: Vec<(u32, u32)> = (0..n as u32).map(|i| (u32::MAX, i)).collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| scaled[i as usize] < 1.0);
        while let Some(s) = small.pop() {
            let Some(&l) = large.last() else { break };
            let (su, lu) = (s as usize, l as usize);
            slots[su] = ((scaled[su] * 4_294_967_296.0) as u32, l);
            scaled[lu] = (scaled[lu] + scaled[su]) - 1.0;
            if scaled[lu] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        Self { slots }
    }

    /// Zipf weights `1 / (k + offset)^(1 + 1/2^sqrts)` for `k = 1..=n`, computed with
    /// square roots only (deterministic across platforms).
    fn zipf(n: u64, offset: f64, sqrts: u32) -> Self {
        let weights: Vec<f64> = (1..=n)
            .map(|k| {
                let x = k as f64 + offset;
                let mut r = x;
                for _ in 0..sqrts {
                    r = r.sqrt();
                }
                1.0 / if sqrts == 0 { x } else { x * r }
            })
            .collect();
        Self::new(&weights)
    }

    #[inline]
    pub(crate) fn sample(&self, r: u64) -> usize {
        let p = u128::from(r) * self.slots.len() as u128;
        let i = (p >> 64) as usize;
        let coin = ((p as u64) >> 32) as u32;
        let (threshold, alias) = self.slots[i];
        if coin <= threshold { i } else { alias as usize }
    }
}

// ---------------------------------------------------------------------------------
// Distinct counting.

const HLL_P: u32 = 14;

#[derive(Debug, Clone)]
pub(crate) struct Hll(Vec<u8>);

impl Hll {
    pub(crate) fn new() -> Self {
        Self(vec![0; 1 << HLL_P])
    }

    #[inline]
    pub(crate) fn add(&mut self, h: u64) {
        let idx = (h >> (64 - HLL_P)) as usize;
        let rank = ((h << HLL_P) | (1 << (HLL_P - 1))).leading_zeros() as u8 + 1;
        if rank > self.0[idx] {
            self.0[idx] = rank;
        }
    }

    pub(crate) fn estimate(&self) -> u64 {
        let m = self.0.len() as f64;
        let mut sum = 0.0;
        let mut zeros = 0u32;
        for &r in &self.0 {
            sum += 1.0 / (1u64 << r) as f64;
            zeros += u32::from(r == 0);
        }
        let e = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        if e <= 2.5 * m && zeros > 0 {
            (m * (m / f64::from(zeros)).ln()).round() as u64
        } else {
            e.round() as u64
        }
    }
}

#[inline]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = GOLDEN ^ b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        h = (h ^ v).wrapping_mul(0xff51_afd7_ed55_8ccd).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    mix64(h)
}

// ---------------------------------------------------------------------------------
// Formatting.

#[inline]
fn push_u64(b: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

#[inline]
fn push_i64(b: &mut Vec<u8>, n: i64) {
    if n < 0 {
        b.push(b'-');
    }
    push_u64(b, n.unsigned_abs());
}

/// Zero-padded decimal of exactly `width` digits.
fn push_dec_fixed(b: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = b.len();
    b.resize(start + width, b'0');
    for i in (start..start + width).rev() {
        b[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Lowercase hex without leading zeros (an IPv6 group).
#[inline]
fn push_hex_group(b: &mut Vec<u8>, g: u64) {
    let g = g & 0xffff;
    let mut started = false;
    for shift in [12u32, 8, 4, 0] {
        let d = ((g >> shift) & 0xf) as usize;
        if d != 0 || started || shift == 0 {
            b.push(HEX[d]);
            started = true;
        }
    }
}

fn push_hex_fixed(b: &mut Vec<u8>, x: u64, digits: u32) {
    for i in (0..digits).rev() {
        b.push(HEX[((x >> (4 * i)) & 0xf) as usize]);
    }
}

fn push_chars(b: &mut Vec<u8>, s: &mut SplitMix, alphabet: &[u8], len: u64) {
    for _ in 0..len {
        b.push(s.pick(alphabet));
    }
}

fn push_letters(b: &mut Vec<u8>, s: &mut SplitMix, len: u64) {
    push_chars(b, s, &BASE36[10..], len);
}

#[inline]
fn push_ipv4(b: &mut Vec<u8>, ip: [u8; 4]) {
    push_u8(b, ip[0]);
    for &o in &ip[1..] {
        b.push(b'.');
        push_u8(b, o);
    }
}

#[inline]
fn push_u8(b: &mut Vec<u8>, n: u8) {
    if n >= 100 {
        b.extend_from_slice(&[b'0' + n / 100, b'0' + n / 10 % 10, b'0' + n % 10]);
    } else if n >= 10 {
        b.extend_from_slice(&[b'0' + n / 10, b'0' + n % 10]);
    } else {
        b.push(b'0' + n);
    }
}

fn push_ipv4_dashed(b: &mut Vec<u8>, ip: [u8; 4]) {
    for (i, o) in ip.iter().enumerate() {
        if i > 0 {
            b.push(b'-');
        }
        push_u64(b, u64::from(*o));
    }
}

fn push_arpa(b: &mut Vec<u8>, ip: [u8; 4]) {
    for o in ip.iter().rev() {
        push_u64(b, u64::from(*o));
        b.push(b'.');
    }
    b.extend_from_slice(b"in-addr.arpa.");
}

/// `name` with its trailing dot removed and `.` replaced by `-`.
pub(crate) fn push_dashed(b: &mut Vec<u8>, name: &[u8]) {
    let name = name.strip_suffix(b".").unwrap_or(name);
    b.extend(name.iter().map(|&c| if c == b'.' { b'-' } else { c }));
}

fn push_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(s.as_bytes());
}

/// `domain.` (absolute).
fn push_abs(b: &mut Vec<u8>, domain: &[u8]) {
    b.extend_from_slice(domain);
    b.push(b'.');
}

/// An escaped double quote inside a JSON string (TXT rdata is quoted).
const TXT_QUOTE: &[u8] = b"\\\"";

// ---------------------------------------------------------------------------------
// Static tables derived from the seed.

#[derive(Debug)]
pub(crate) struct Tables {
    salt: u64,
    domains: Vec<Vec<u8>>,
    domain_zipf: Alias,
    pub(crate) client_ips: Vec<[u8; 4]>,
    clients: Vec<Vec<u8>>,
    pub(crate) client_zipf: Alias,
    addr_zipf: Alias,
    cname_zipf: Alias,
}

fn pick_weighted<T: Copy>(r: u64, items: &[(T, u32)]) -> T {
    let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut x = mul_hi(r, total);
    for (item, w) in items {
        if x < u64::from(*w) {
            return *item;
        }
        x -= u64::from(*w);
    }
    items[items.len() - 1].0
}

/// A word-based registrable domain such as `nordpixel.de` or `blue-river42.com`.
fn push_registrable(b: &mut Vec<u8>, s: &mut SplitMix) {
    push_str(b, s.pick(WORDS));
    let p = s.below(100);
    if p < 70 {
        if p < 12 {
            b.push(b'-');
        }
        push_str(b, s.pick(WORDS));
    }
    if s.below(100) < 8 {
        push_u64(b, s.range(1, 99));
    }
    b.push(b'.');
    push_str(b, pick_weighted(s.next_u64(), TLDS));
}

impl Tables {
    fn new(cfg: &GenConfig) -> Self {
        let salt = mix64(cfg.seed ^ 0x6e73_7265_6361_6c6c);
        let mut s = SplitMix(salt);

        let mut seen = HashSet::new();
        let mut domains = Vec::with_capacity(DOMAINS);
        while domains.len() < DOMAINS {
            let mut d = Vec::new();
            push_registrable(&mut d, &mut s);
            if seen.insert(d.clone()) {
                domains.push(d);
            }
        }

        let mut seen = HashSet::new();
        let mut client_ips = Vec::with_capacity(CLIENTS);
        while client_ips.len() < CLIENTS {
            let ip = [
                10,
                s.below(16) as u8,
                s.below(256) as u8,
                s.range(2, 254) as u8,
            ];
            if seen.insert(ip) {
                client_ips.push(ip);
            }
        }
        let clients = client_ips
            .iter()
            .map(|&ip| {
                let mut b = Vec::new();
                push_ipv4(&mut b, ip);
                b
            })
            .collect();

        let universe = (cfg.lines / UNIVERSE_DIVISOR).clamp(UNIVERSE_MIN, UNIVERSE_MAX);
        Self {
            salt,
            domains,
            domain_zipf: Alias::zipf(DOMAINS as u64, 2.0, 0),
            client_ips,
            clients,
            client_zipf: Alias::zipf(CLIENTS as u64, 1.0, 0),
            addr_zipf: Alias::zipf(universe, 0.0, 4),
            cname_zipf: Alias::zipf((universe / 5).max(UNIVERSE_MIN), 0.0, 4),
        }
    }

    #[inline]
    fn domain(&self, r: u64) -> &[u8] {
        &self.domains[self.domain_zipf.sample(r)]
    }

    fn entity_hash(&self, ns: u64, id: u64) -> u64 {
        mix64(self.salt ^ ns.wrapping_mul(GOLDEN) ^ mix64(id ^ 0xd6e8_feb8_6659_fd93))
    }

    /// Appends the host name of universe entry `rank`; returns its hash.
    fn universe_name(&self, ns: u64, rank: u64, b: &mut Vec<u8>) -> u64 {
        let h = self.entity_hash(ns, rank);
        let mut s = SplitMix(h);
        let domain = self.domain(s.next_u64());
        let p = s.below(100);
        if rank < HEAD_RANKS {
            match p {
                0..60 => push_str(b, s.pick(LABELS)),
                60..75 => {
                    push_str(b, s.pick(PREFIXES));
                    b.push(b'-');
                    push_u64(b, s.range(1, 399));
                }
                75..85 => {
                    push_str(b, s.pick(ENVS));
                    b.push(b'.');
                    push_str(b, s.pick(LABELS));
                }
                85..95 => {}
                _ => {
                    push_str(b, s.pick(LABELS));
                    b.push(b'.');
                    push_str(b, s.pick(LABELS));
                }
            }
        } else {
            match p {
                0..20 => {
                    push_str(b, s.pick(PREFIXES));
                    b.push(b'-');
                    push_u64(b, s.range(1, 9999));
                }
                20..35 => {
                    push_str(b, s.pick(LABELS));
                    push_u64(b, s.range(1, 99));
                    b.push(b'.');
                    push_str(b, s.pick(ENVS));
                }
                35..60 => {
                    push_chars(b, &mut s, BASE36, 8);
                    b.push(b'.');
                    push_str(b, s.pick(LABELS));
                }
                60..75 => {
                    push_str(b, s.pick(ENVS));
                    b.push(b'.');
                    push_str(b, s.pick(PREFIXES));
                    b.push(b'-');
                    push_u64(b, s.range(1, 999));
                }
                75..88 => {
                    push_str(b, s.pick(WORDS));
                    push_u64(b, s.range(1, 99_999));
                }
                _ => push_hex_fixed(b, s.next_u64(), 12),
            }
        }
        if !b.is_empty() && b.last() != Some(&b'.') {
            b.push(b'.');
        }
        push_abs(b, domain);
        h
    }

    /// Appends a one-off name (DGA-like, CDN-unique or tracking host); returns its hash.
    fn fresh_name(&self, id: u64, b: &mut Vec<u8>) -> u64 {
        let h = self.entity_hash(0xf4e5, id);
        let mut s = SplitMix(h);
        match s.below(100) {
            0..30 => {
                let len = s.range(8, 16);
                push_letters(b, &mut s, len);
                b.push(b'.');
                push_str(b, s.pick(DGA_TLDS));
                b.push(b'.');
            }
            30..42 => {
                b.push(b'd');
                push_chars(b, &mut s, BASE36, 13);
                b.extend_from_slice(b".cloudfront.net.");
            }
            42..50 => {
                b.push(b'e');
                push_u64(b, s.range(1_000_000, 9_999_999));
                b.extend_from_slice(b".dsc");
                push_letters(b, &mut s, 1);
                b.extend_from_slice(b".akamaiedge.net.");
            }
            50..55 => {
                b.extend_from_slice(b"rr");
                push_u64(b, s.range(1, 9));
                b.extend_from_slice(b"---sn-");
                push_chars(b, &mut s, BASE36, 8);
                b.extend_from_slice(b".googlevideo.com.");
            }
            55..85 => {
                push_hex_fixed(b, s.next_u64(), 16);
                b.push(b'.');
                push_str(b, s.pick(TRACK_LABELS));
                b.push(b'.');
                push_abs(b, self.domain(s.next_u64()));
            }
            85..93 => {
                let (ip, _) = ipv4_from(s.next_u64(), false);
                b.extend_from_slice(b"ec2-");
                push_ipv4_dashed(b, ip);
                b.extend_from_slice(if s.below(2) == 0 {
                    b".compute-1.amazonaws.com."
                } else {
                    b".eu-west-1.compute.amazonaws.com."
                });
            }
            _ => {
                push_chars(b, &mut s, BASE36, 6);
                b.push(b'-');
                push_chars(b, &mut s, BASE36, 4);
                b.push(b'.');
                push_abs(b, self.domain(s.next_u64()));
            }
        }
        h
    }

    /// Appends the CNAME target of a name with hash `h`; returns the target's hash.
    pub(crate) fn cname_target(&self, h: u64, name: &[u8], b: &mut Vec<u8>) -> u64 {
        let mut s = SplitMix(h ^ 0xc0a3_e000);
        match s.below(100) {
            0..30 => {
                b.extend_from_slice(name);
                b.extend_from_slice(b"cdn.cloudflare.net.");
            }
            30..55 => {
                b.push(b'd');
                push_chars(b, &mut s, BASE36, 13);
                b.extend_from_slice(b".cloudfront.net.");
            }
            55..75 => {
                b.push(b'e');
                push_u64(b, s.range(1_000_000, 9_999_999));
                b.extend_from_slice(b".a.akamaiedge.net.");
            }
            75..90 => {
                push_dashed(b, name);
                b.push(b'-');
                push_chars(b, &mut s, BASE36, 6);
                b.extend_from_slice(b".azureedge.net.");
            }
            _ => {
                push_dashed(b, name);
                b.extend_from_slice(b".global.ssl.fastly.net.");
            }
        }
        mix64(s.next_u64())
    }
}

/// An IPv4 address from a popular (CDN) or tail /16 block, and its PTR zone.
#[inline]
fn ipv4_from(x: u64, popular: bool) -> ([u8; 4], &'static str) {
    let pool = if popular { CDN_V4 } else { TAIL_V4 };
    let (p, zone) = pool[mul_hi(x, pool.len() as u64) as usize];
    let ip = [p[0], p[1], (x >> 8) as u8, 1 + ((x >> 16) % 254) as u8];
    (ip, zone)
}

/// The eight groups of an IPv6 address from a popular (CDN) or tail prefix; the
/// non-prefix groups are non-zero except one run of at least two zero groups.
pub(crate) fn ipv6_groups(x: u64, popular: bool) -> [u16; 8] {
    fn g(s: &mut SplitMix) -> u16 {
        s.range(1, 0xffff) as u16
    }
    fn r(s: &mut SplitMix, lo: u64, hi: u64) -> u16 {
        s.range(lo, hi) as u16
    }
    let mut s = SplitMix(x);
    if popular {
        match s.below(3) {
            0 => {
                let a = r(&mut s, 0x4001, 0x4028);
                let b = r(&mut s, 0x800, 0x83f);
                let c = r(&mut s, 0x2001, 0x200e);
                [0x2a00, 0x1450, a, b, 0, 0, 0, c]
            }
            1 => {
                let a = g(&mut s);
                let b = r(&mut s, 0x6810, 0x6813);
                let c = g(&mut s);
                [0x2606, 0x4700, a, 0, 0, 0, b, c]
            }
            _ => {
                let a = r(&mut s, 1, 0x7f);
                let b = r(&mut s, 1, 0x3ff);
                [0x2a04, 0x4e42, a, 0, 0, 0, 0, b]
            }
        }
    } else if s.below(2) == 0 {
        let a = g(&mut s);
        let b = g(&mut s);
        let c = g(&mut s);
        [0x2001, 0xdb8, a, b, 0, 0, 0, c]
    } else {
        let a = g(&mut s);
        let b = g(&mut s);
        let c = g(&mut s);
        let d = g(&mut s);
        [0x2a00, a, b, 0, 0, 0, c, d]
    }
}

/// Appends an IPv6 address in canonical (RFC 5952) form: lowercase hex without leading
/// zeros, the first longest run of two or more zero groups elided.
pub(crate) fn push_ipv6_groups(b: &mut Vec<u8>, groups: [u16; 8]) {
    let (mut best, mut best_len) = (8, 1);
    let mut i = 0;
    while i < 8 {
        if groups[i] == 0 {
            let start = i;
            while i < 8 && groups[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                (best, best_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    let write = |b: &mut Vec<u8>, range: std::ops::Range<usize>| {
        for (n, k) in range.enumerate() {
            if n > 0 {
                b.push(b':');
            }
            push_hex_group(b, u64::from(groups[k]));
        }
    };
    if best == 8 {
        write(b, 0..8);
    } else {
        write(b, 0..best);
        b.extend_from_slice(b"::");
        write(b, best + best_len..8);
    }
}

/// Appends a canonical IPv6 address (see [`ipv6_groups`]).
fn push_ipv6(b: &mut Vec<u8>, x: u64, popular: bool) {
    push_ipv6_groups(b, ipv6_groups(x, popular));
}

/// Number of MX records of the zone with hash `zh`.
pub(crate) fn mx_count(zh: u64) -> u64 {
    match SplitMix(zh ^ 0x3e3e).below(100) {
        0..40 => 2,
        40..70 => 4,
        _ => 1,
    }
}

/// Preference of MX record `j` of the zone with hash `zh`.
pub(crate) fn mx_preference(zh: u64, j: u64) -> u16 {
    match SplitMix(zh ^ 0x3e3e).below(100) {
        0..40 => 10 * (j as u16 + 1),
        40..70 => [1, 5, 5, 10][j as usize % 4],
        70..90 => 0,
        _ => 10,
    }
}

/// Appends the exchange of MX record `j < mx_count(zh)` of `zone` (absolute).
pub(crate) fn push_mx_exchange(a: &mut Vec<u8>, zh: u64, zone: &[u8], j: u64) {
    let mut s = SplitMix(zh ^ 0x3e3e);
    match s.below(100) {
        0..40 => {
            a.extend_from_slice(if j == 0 { b"mx1." } else { b"mx2." });
            a.extend_from_slice(zone);
        }
        40..70 => {
            a.extend_from_slice(
                [
                    &b"aspmx.l.google.com."[..],
                    b"alt1.aspmx.l.google.com.",
                    b"alt2.aspmx.l.google.com.",
                    b"alt3.aspmx.l.google.com.",
                ][j as usize % 4],
            );
        }
        70..90 => {
            push_dashed(a, zone);
            a.extend_from_slice(b".mail.protection.outlook.com.");
        }
        _ => {
            a.extend_from_slice(b"mx");
            push_u64(a, s.range(1, 40));
            a.extend_from_slice(if s.below(2) == 0 {
                b".mailgun.org."
            } else {
                b".sendgrid.net."
            });
        }
    }
}

/// Number of NS records of the zone with hash `zh` (names may repeat).
pub(crate) fn ns_count(zh: u64) -> u64 {
    match SplitMix(zh ^ 0x4e54).below(100) {
        0..35 => 3,
        60..85 => 2,
        _ => 4,
    }
}

/// Appends name server `j < ns_count(zh)` of `zone` (absolute).
pub(crate) fn push_ns_name(a: &mut Vec<u8>, zh: u64, zone: &[u8], j: u64) {
    let mut s = SplitMix(zh ^ 0x4e54);
    match s.below(100) {
        0..35 => {
            a.extend_from_slice(b"ns");
            push_u64(a, j + 1);
            a.push(b'.');
            a.extend_from_slice(zone);
        }
        35..60 => {
            let mut s = SplitMix(zh ^ j);
            a.extend_from_slice(b"ns-");
            push_u64(a, s.range(1, 2047));
            a.extend_from_slice(b".awsdns-");
            push_dec_fixed(a, s.range(0, 63), 2);
            a.extend_from_slice([&b".com."[..], b".net.", b".org.", b".co.uk."][j as usize % 4]);
        }
        60..85 => {
            let mut s = SplitMix(zh ^ (j + 7));
            push_str(a, s.pick(NS_CLOUDFLARE));
            a.extend_from_slice(b".ns.cloudflare.com.");
        }
        _ => {
            a.extend_from_slice(b"dns");
            push_u64(a, j + 1);
            a.extend_from_slice(b".p0");
            push_u64(a, s.range(1, 9));
            a.extend_from_slice(b".nsone.net.");
        }
    }
}

// ---------------------------------------------------------------------------------
// The event content, shared by the log and the pcap generators.

#[derive(Debug, Clone, Copy)]
enum Source {
    Universe(u64),
    Fresh(u64),
}

/// The address set of one name: `k` addresses, the same for everyone within a churn
/// epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddrSet {
    base: u64,
    epoch: u64,
    pub(crate) popular: bool,
    pub(crate) k: u64,
}

impl AddrSet {
    /// The hash of address `j < k`.
    #[inline]
    pub(crate) fn x(&self, j: u64) -> u64 {
        mix64(self.base ^ j.wrapping_mul(GOLDEN) ^ self.epoch.wrapping_mul(0x1234_5678_9abc_def1))
    }

    pub(crate) fn v4(&self, j: u64) -> [u8; 4] {
        ipv4_from(self.x(j), self.popular).0
    }

    pub(crate) fn v6(&self, j: u64) -> [u16; 8] {
        ipv6_groups(self.x(j), self.popular)
    }

    pub(crate) fn ttl_table(&self) -> &'static [u64] {
        if self.popular { TTL_POPULAR } else { TTL_TAIL }
    }
}

/// Tables, the event PRNG and the name-source state; writes the query name into
/// `query` and a textual answer into `answer`.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) t: Tables,
    pub(crate) rng: Xoshiro,
    /// Microseconds since the start (drives address churn).
    pub(crate) t_us: u64,
    fresh_next: u64,
    ring: Vec<u64>,
    pub(crate) query: Vec<u8>,
    pub(crate) answer: Vec<u8>,
}

impl Core {
    pub(crate) fn new(cfg: &GenConfig) -> Self {
        Self {
            t: Tables::new(cfg),
            rng: Xoshiro::new(cfg.seed),
            t_us: 0,
            fresh_next: 0,
            ring: Vec::with_capacity(FRESH_RING),
            query: Vec::with_capacity(256),
            answer: Vec::with_capacity(256),
        }
    }

    /// Draws an event kind from [`EVENT_MIX`].
    pub(crate) fn kind(&mut self) -> LineKind {
        let mut x = self.rng.below(10_000);
        for (k, share) in EVENT_MIX {
            if x < share {
                return k;
            }
            x -= share;
        }
        LineKind::A
    }

    /// Draws a server index into [`SERVERS`].
    pub(crate) fn server(&mut self) -> usize {
        let mut sx = self.rng.below(100);
        for (i, (_, w)) in SERVERS.iter().enumerate() {
            if sx < *w {
                return i;
            }
            sx -= w;
        }
        SERVERS.len() - 1
    }

    fn source(&mut self) -> Source {
        let p = self.rng.below(1000);
        if p < FRESH_NEW || (p < FRESH_NEW + FRESH_REPEAT && self.ring.is_empty()) {
            let id = self.fresh_next;
            self.fresh_next += 1;
            if self.ring.len() < FRESH_RING {
                self.ring.push(id);
            } else {
                self.ring[(id % FRESH_RING as u64) as usize] = id;
            }
            Source::Fresh(id)
        } else if p < FRESH_NEW + FRESH_REPEAT {
            Source::Fresh(self.rng.pick(&self.ring))
        } else {
            Source::Universe(self.t.addr_zipf.sample(self.rng.next_u64()) as u64)
        }
    }

    /// A TTL from `table` (chosen per name hash `h`), as seen from a cache: the full
    /// value half of the time, else counted down.
    pub(crate) fn ttl(&mut self, h: u64, table: &[u64]) -> u64 {
        let base = table[mul_hi(mix64(h ^ 0x7711), table.len() as u64) as usize];
        if self.rng.below(2) == 0 {
            base
        } else {
            self.rng.range(1, base)
        }
    }

    /// The address set of a name with hash `h` (`rank` in the universe, `None` for a
    /// one-off name).
    pub(crate) fn addr_set(&self, h: u64, rank: Option<u64>, v6: bool) -> AddrSet {
        let mut s = SplitMix(h ^ if v6 { 0x6666 } else { 0x4444 });
        let (popular, k, churn_days) = match rank {
            Some(r) if r < POPULAR_RANKS => (true, s.range(1, 8), 0),
            Some(r) => {
                let k = if r < 50_000 {
                    s.range(1, 3)
                } else {
                    1 + u64::from(s.below(4) == 0)
                };
                let churn = s.pick(&[0, 0, 0, 0, 0, 0, 7, 7, 3, 1]);
                (s.below(3) == 0, k, churn)
            }
            None => (s.below(10) < 3, 1 + u64::from(s.below(5) == 0), 0),
        };
        let epoch = if churn_days == 0 {
            0
        } else {
            self.t_us / (churn_days * 86_400_000_000)
        };
        AddrSet {
            base: s.next_u64(),
            epoch,
            popular,
            k,
        }
    }

    /// Writes an A/AAAA query name into `query`; returns its hash and universe rank.
    pub(crate) fn addr_name(&mut self) -> (u64, Option<u64>) {
        match self.source() {
            Source::Universe(r) => (self.t.universe_name(NS_ADDR, r, &mut self.query), Some(r)),
            Source::Fresh(id) => (self.t.fresh_name(id, &mut self.query), None),
        }
    }

    /// Writes a CNAME owner into `query`; returns its hash and whether it is popular.
    pub(crate) fn cname_name(&mut self) -> (u64, bool) {
        match self.source() {
            Source::Universe(_) => {
                let r = self.t.cname_zipf.sample(self.rng.next_u64()) as u64;
                (
                    self.t.universe_name(NS_CNAME, r, &mut self.query),
                    r < POPULAR_RANKS,
                )
            }
            Source::Fresh(id) => (self.t.fresh_name(id, &mut self.query), false),
        }
    }

    /// Picks a zone apex: a table domain (mostly) or a one-off registrable domain.
    /// Writes `domain.` into `self.query` and returns the zone hash.
    pub(crate) fn zone(&mut self, fresh_pct: u64) -> u64 {
        if self.rng.below(100) < fresh_pct {
            let mut s = SplitMix(self.rng.next_u64());
            push_registrable(&mut self.query, &mut s);
            self.query.push(b'.');
            hash_bytes(&self.query)
        } else {
            let i = self.t.domain_zipf.sample(self.rng.next_u64());
            push_abs(&mut self.query, &self.t.domains[i]);
            self.t.entity_hash(0x2011e, i as u64)
        }
    }

    /// Writes a TXT query name into `query` and its text, between `quote`s, into
    /// `answer`; returns the name hash.
    pub(crate) fn txt(&mut self, quote: &[u8]) -> u64 {
        let p = self.rng.below(100);
        let h;
        match p {
            0..40 => {
                h = self.zone(20);
                let zone = self.query.clone();
                let mut s = SplitMix(h ^ 0x7e7e ^ self.rng.below(3));
                let a = &mut self.answer;
                a.extend_from_slice(quote);
                match s.below(5) {
                    0 | 1 => {
                        a.extend_from_slice(b"v=spf1 ");
                        match s.below(3) {
                            0 => a.extend_from_slice(b"include:_spf.google.com"),
                            1 => a.extend_from_slice(b"include:spf.protection.outlook.com"),
                            _ => {
                                a.extend_from_slice(b"mx include:_spf.");
                                a.extend_from_slice(zone.strip_suffix(b".").unwrap_or(&zone));
                            }
                        }
                        a.extend_from_slice(if s.below(2) == 0 { b" ~all" } else { b" -all" });
                    }
                    2 => {
                        a.extend_from_slice(b"google-site-verification=");
                        push_chars(a, &mut s, &BASE64[..62], 43);
                    }
                    3 => {
                        a.extend_from_slice(b"MS=ms");
                        push_dec_fixed(a, s.below(100_000_000), 8);
                    }
                    _ => {
                        a.extend_from_slice(b"facebook-domain-verification=");
                        push_chars(a, &mut s, BASE36, 30);
                    }
                }
                self.answer.extend_from_slice(quote);
            }
            40..60 => {
                self.query.extend_from_slice(b"_dmarc.");
                h = self.zone(20);
                let zone = self.query[7..].to_vec();
                let mut s = SplitMix(h ^ 0xd3a4);
                let a = &mut self.answer;
                a.extend_from_slice(quote);
                a.extend_from_slice(b"v=DMARC1; p=");
                a.extend_from_slice(s.pick(&[&b"none"[..], b"quarantine", b"reject"]));
                a.extend_from_slice(b"; rua=mailto:dmarc@");
                a.extend_from_slice(zone.strip_suffix(b".").unwrap_or(&zone));
                a.extend_from_slice(quote);
            }
            60..75 => {
                let sel =
                    self.rng
                        .pick(&[&b"selector1"[..], b"selector2", b"google", b"k1", b"s1"]);
                self.query.extend_from_slice(sel);
                self.query.extend_from_slice(b"._domainkey.");
                h = self.zone(10);
                let mut s = SplitMix(h ^ hash_bytes(sel));
                let a = &mut self.answer;
                a.extend_from_slice(quote);
                a.extend_from_slice(b"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ");
                push_chars(a, &mut s, BASE64, 64);
                a.extend_from_slice(quote);
            }
            _ => {
                // One-off verification / tracking tokens.
                let mut s = SplitMix(self.rng.next_u64());
                if s.below(2) == 0 {
                    self.query.extend_from_slice(b"_acme-challenge.");
                } else {
                    push_hex_fixed(&mut self.query, s.next_u64(), 10);
                    self.query.extend_from_slice(b".t.");
                }
                h = self.zone(10);
                let a = &mut self.answer;
                a.extend_from_slice(quote);
                push_chars(a, &mut s, &BASE64[..62], 43);
                a.extend_from_slice(quote);
            }
        }
        h
    }

    /// Writes a PTR query (`in-addr.arpa`) into `query` and its target into `answer`;
    /// returns the hash for the TTL.
    pub(crate) fn ptr(&mut self) -> u64 {
        let p = self.rng.below(100);
        let (ip, h) = match p {
            0..40 => {
                let i = self.t.client_zipf.sample(self.rng.next_u64());
                let ip = self.t.client_ips[i];
                let a = &mut self.answer;
                a.extend_from_slice(if i % 10 == 9 { b"prn-" } else { b"wks-" });
                push_dec_fixed(a, i as u64, 4);
                a.extend_from_slice(b".corp.");
                push_abs(a, &self.t.domains[0]);
                (ip, i as u64)
            }
            _ => {
                let x = if p < 75 {
                    // An address some popular-ish name resolves to.
                    let r = self.t.addr_zipf.sample(self.rng.next_u64()) as u64;
                    self.t.entity_hash(NS_ADDR, r) ^ 0x9999
                } else {
                    self.rng.next_u64()
                };
                let popular = x % 3 == 0;
                let (ip, zone) = ipv4_from(mix64(x), popular);
                let a = &mut self.answer;
                if popular {
                    a.extend_from_slice(b"server-");
                    push_ipv4_dashed(a, ip);
                } else {
                    a.extend_from_slice(b"static.");
                    for o in ip.iter().rev() {
                        push_u64(a, u64::from(*o));
                        a.push(b'.');
                    }
                    a.pop();
                }
                a.push(b'.');
                push_str(a, zone);
                a.push(b'.');
                (ip, x)
            }
        };
        push_arpa(&mut self.query, ip);
        h
    }

    /// Writes a name that does not exist into `query`; returns the query type and the
    /// offset in `query` of the zone apex (a registrable domain or a TLD).
    pub(crate) fn nx(&mut self) -> (&'static [u8], usize) {
        let mut s = SplitMix(self.rng.next_u64());
        let q = &mut self.query;
        let zone_at;
        match s.below(100) {
            0..75 => {
                let len = s.range(6, 14);
                push_chars(q, &mut s, BASE36, len);
                q.push(b'.');
                zone_at = q.len();
                push_abs(q, self.t.domain(s.next_u64()));
            }
            75..85 => {
                let len = s.range(5, 10);
                push_letters(q, &mut s, len);
                q.push(b'.');
                push_str(q, s.pick(LABELS));
                q.push(b'.');
                zone_at = q.len();
                push_abs(q, self.t.domain(s.next_u64()));
            }
            85..95 => {
                push_str(q, s.pick(NX_COMMON));
                q.push(b'.');
                zone_at = q.len();
                push_abs(q, self.t.domain(s.next_u64()));
            }
            _ => {
                let len = s.range(10, 20);
                push_letters(q, &mut s, len);
                q.push(b'.');
                zone_at = q.len();
                push_str(q, s.pick(DGA_TLDS));
                q.push(b'.');
            }
        }
        let qtype: &'static [u8] = match s.below(100) {
            0..65 => b"A",
            65..90 => b"AAAA",
            90..95 => b"TXT",
            _ => b"MX",
        };
        (qtype, zone_at)
    }
}

// ---------------------------------------------------------------------------------
// The log generator state machine.

#[derive(Debug)]
struct Gen {
    c: Core,
    start_time: i64,
    mean_us: u64,
    ts_s: i64,
    ts_us: u64,
    client: usize,
    server: usize,
    count: u64,
    buf: Vec<u8>,
    lines: u64,
    bytes: u64,
    names: Hll,
    tuples: Hll,
    per_kind: [u64; 8],
}

impl Gen {
    fn new(cfg: &GenConfig) -> Self {
        Self {
            c: Core::new(cfg),
            start_time: cfg.start_time,
            mean_us: SPAN_SECS * 1_000_000 / cfg.lines.max(1),
            ts_s: cfg.start_time,
            ts_us: 0,
            client: 0,
            server: 0,
            count: 1,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            lines: 0,
            bytes: 0,
            names: Hll::new(),
            tuples: Hll::new(),
            per_kind: [0; 8],
        }
    }

    fn stats(&self) -> GenStats {
        GenStats {
            lines: self.lines,
            bytes: self.bytes,
            distinct_names: self.names.estimate(),
            distinct_tuples: self.tuples.estimate(),
            first_timestamp: if self.lines > 0 { self.start_time } else { 0 },
            last_timestamp: if self.lines > 0 { self.ts_s } else { 0 },
            per_kind: self.per_kind,
        }
    }

    /// Advances the clock by one inter-arrival gap per line; the rate follows a daily
    /// triangle wave (x0.25 at 01:00 UTC, x1.6 at 13:00 UTC) that averages to one.
    fn advance(&mut self, lines: u64) {
        for _ in 0..lines {
            let sod = (self.ts_s.rem_euclid(86_400)) as u64;
            let d = sod.abs_diff(46_800);
            let d = d.min(86_400 - d);
            let rate_milli = 1_600 - d / 36;
            let mean = self.mean_us * 1_000 / rate_milli;
            self.c.t_us += self.c.rng.below(2 * mean + 1);
        }
        self.ts_s = self.start_time + (self.c.t_us / 1_000_000) as i64;
        self.ts_us = self.c.t_us % 1_000_000;
    }

    fn event(&mut self, remaining: u64) {
        let mut kind = self.c.kind();
        if kind == LineKind::Cname && remaining < 2 {
            kind = LineKind::A;
        }
        let nlines = if kind == LineKind::Cname { 2 } else { 1 };
        if self.lines > 0 {
            self.advance(nlines);
        }
        self.client = self.c.t.client_zipf.sample(self.c.rng.next_u64());
        self.server = self.c.server();
        self.count = match self.c.rng.below(100) {
            0..85 => 1,
            85..93 => 2,
            93..97 => 3,
            97..99 => 4,
            _ => 5,
        };
        self.c.query.clear();
        self.c.answer.clear();
        match kind {
            LineKind::A => self.ev_addr(false),
            LineKind::Aaaa => self.ev_addr(true),
            LineKind::Cname => self.ev_cname(),
            LineKind::Mx => self.ev_mx(),
            LineKind::Txt => self.ev_txt(),
            LineKind::Ns => self.ev_ns(),
            LineKind::Ptr => self.ev_ptr(),
            LineKind::NxDomain => self.ev_nx(),
        }
    }

    /// Writes one address of the set of a name with hash `h` into `answer`; returns
    /// the TTL table to use.
    fn address(&mut self, h: u64, rank: Option<u64>, v6: bool) -> &'static [u64] {
        let set = self.c.addr_set(h, rank, v6);
        let j = self.c.rng.below(set.k);
        if v6 {
            push_ipv6(&mut self.c.answer, set.x(j), set.popular);
        } else {
            push_ipv4(&mut self.c.answer, set.v4(j));
        }
        set.ttl_table()
    }

    fn ev_addr(&mut self, v6: bool) {
        let (h, rank) = self.c.addr_name();
        let table = self.address(h, rank, v6);
        let ttl = self.c.ttl(h, table);
        if v6 {
            self.emit(LineKind::Aaaa, b"AAAA", ttl);
        } else {
            self.emit(LineKind::A, b"A", ttl);
        }
    }

    fn ev_cname(&mut self) {
        let (h, popular) = self.c.cname_name();
        let th = self.c.t.cname_target(h, &self.c.query, &mut self.c.answer);
        let ttl = self.c.ttl(h, if popular { TTL_POPULAR } else { TTL_TAIL });
        self.emit(LineKind::Cname, b"CNAME", ttl);
        // The target's A record, in the same response.
        std::mem::swap(&mut self.c.query, &mut self.c.answer);
        self.c.answer.clear();
        let table = self.address(th, Some(if popular { 0 } else { POPULAR_RANKS }), false);
        let ttl = self.c.ttl(th, table);
        self.emit(LineKind::A, b"A", ttl);
    }

    fn ev_mx(&mut self) {
        let zh = self.c.zone(30);
        let n = mx_count(zh);
        let j = if n > 1 { self.c.rng.below(n) } else { 0 };
        push_mx_exchange(&mut self.c.answer, zh, &self.c.query, j);
        let ttl = self.c.ttl(zh, TTL_ZONE);
        self.emit(LineKind::Mx, b"MX", ttl);
    }

    fn ev_txt(&mut self) {
        let h = self.c.txt(TXT_QUOTE);
        let ttl = self.c.ttl(h, TTL_ZONE);
        self.emit(LineKind::Txt, b"TXT", ttl);
    }

    fn ev_ns(&mut self) {
        let zh = self.c.zone(20);
        let j = self.c.rng.below(ns_count(zh));
        push_ns_name(&mut self.c.answer, zh, &self.c.query, j);
        let ttl = self.c.ttl(zh, TTL_ZONE);
        self.emit(LineKind::Ns, b"NS", ttl);
    }

    fn ev_ptr(&mut self) {
        let h = self.c.ptr();
        let ttl = self.c.ttl(h, TTL_ZONE);
        self.emit(LineKind::Ptr, b"PTR", ttl);
    }

    fn ev_nx(&mut self) {
        let (qtype, _) = self.c.nx();
        self.c.answer.extend_from_slice(b"NXDOMAIN");
        self.emit(LineKind::NxDomain, qtype, 0);
    }

    /// Appends one JSON line built from the current event state.
    fn emit(&mut self, kind: LineKind, qtype: &[u8], ttl: u64) {
        let b = &mut self.buf;
        let start = b.len();
        b.extend_from_slice(b"{\"timestamp_s\":");
        push_i64(b, self.ts_s);
        b.extend_from_slice(b",\"timestamp_ms\":");
        push_u64(b, self.ts_us);
        b.extend_from_slice(b",\"client\":\"");
        b.extend_from_slice(&self.c.t.clients[self.client]);
        b.extend_from_slice(b"\",\"server\":\"");
        b.extend_from_slice(SERVERS[self.server].0.as_bytes());
        b.extend_from_slice(b"\",\"class\":\"IN\",\"query\":\"");
        b.extend_from_slice(&self.c.query);
        b.extend_from_slice(b"\",\"type\":\"");
        b.extend_from_slice(qtype);
        b.extend_from_slice(b"\",\"answer\":\"");
        b.extend_from_slice(&self.c.answer);
        b.extend_from_slice(b"\",\"ttl\":");
        push_u64(b, ttl);
        b.extend_from_slice(b",\"count\":");
        push_u64(b, self.count);
        b.extend_from_slice(b"}\n");
        self.bytes += (b.len() - start) as u64;

        let qh = hash_bytes(&self.c.query);
        self.names.add(qh);
        let ah = hash_bytes(&self.c.answer);
        let th = hash_bytes(qtype);
        self.tuples.add(mix64(
            qh.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ ah.rotate_left(23) ^ th,
        ));
        self.per_kind[kind.index()] += 1;
        self.lines += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn gen_bytes(lines: u64, seed: u64) -> (Vec<u8>, GenStats) {
        let mut out = Vec::new();
        let stats = generate(&GenConfig::new(lines, seed), &mut out).expect("generate");
        (out, stats)
    }

    #[test]
    fn deterministic_per_seed() {
        let (a, sa) = gen_bytes(20_000, 7);
        let (b, sb) = gen_bytes(20_000, 7);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        let (c, _) = gen_bytes(20_000, 8);
        assert_ne!(a, c);
    }

    #[test]
    fn empty_and_tiny() {
        let (a, s) = gen_bytes(0, 1);
        assert!(a.is_empty());
        assert_eq!(s.lines, 0);
        for n in 1..5 {
            let (a, s) = gen_bytes(n, 3);
            assert_eq!(s.lines, n);
            assert_eq!(a.iter().filter(|&&c| c == b'\n').count() as u64, n);
            assert_eq!(s.bytes, a.len() as u64);
        }
    }

    #[test]
    fn lines_are_passivedns_json() {
        const KEYS: [&str; 10] = [
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
        ];
        let cfg = GenConfig {
            lines: 100_000,
            seed: 42,
            start_time: 1_553_714_372,
        };
        let mut out = Vec::new();
        let stats = generate(&cfg, &mut out).expect("generate");
        let text = std::str::from_utf8(&out).expect("utf8");
        let mut shares: HashMap<String, u64> = HashMap::new();
        let mut prev = (i64::MIN, 0u64);
        let mut n = 0u64;
        let mut tuples = HashSet::new();
        let mut names = HashSet::new();
        let mut prev_cname_target: Option<String> = None;
        for line in text.lines() {
            n += 1;
            assert!(
                !line.contains(": ") && !line.contains(", "),
                "spaces: {line}"
            );
            let v: serde_json::Value = serde_json::from_str(line).expect(line);
            let obj = v.as_object().expect("object");
            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            let mut sorted_expected = KEYS.to_vec();
            sorted_expected.sort_unstable();
            let mut sorted_keys = keys.clone();
            sorted_keys.sort_unstable();
            assert_eq!(sorted_keys, sorted_expected);
            // Key order as written by passivedns.
            let mut pos = 0;
            for k in KEYS {
                let p = line.find(&format!("\"{k}\":")).expect(k);
                assert!(p >= pos, "key order in {line}");
                pos = p;
            }
            let ts = v["timestamp_s"].as_i64().expect("ts");
            let us = v["timestamp_ms"].as_u64().expect("us");
            assert!(us < 1_000_000);
            assert!((ts, us) >= prev, "time went back: {line}");
            prev = (ts, us);
            assert_eq!(v["class"], "IN");
            let query = v["query"].as_str().expect("query");
            let typ = v["type"].as_str().expect("type");
            let answer = v["answer"].as_str().expect("answer");
            assert!(query.ends_with('.'), "{line}");
            assert!(!query.contains(".."), "{line}");
            let ttl = v["ttl"].as_u64().expect("ttl");
            let count = v["count"].as_u64().expect("count");
            assert!((1..=5).contains(&count));
            assert!(v["client"].as_str().expect("client").starts_with("10."));
            if let Some(target) = prev_cname_target.take() {
                assert_eq!(typ, "A", "CNAME must be followed by the target's A: {line}");
                assert_eq!(query, target);
            }
            let kind = if answer == "NXDOMAIN" {
                assert_eq!(ttl, 0);
                "NXDOMAIN"
            } else {
                match typ {
                    "A" => {
                        assert!(answer.parse::<std::net::Ipv4Addr>().is_ok(), "{line}");
                    }
                    "AAAA" => {
                        let ip: std::net::Ipv6Addr = answer.parse().expect(line);
                        assert_eq!(ip.to_string(), answer, "non-canonical IPv6");
                    }
                    "PTR" => assert!(query.ends_with(".in-addr.arpa."), "{line}"),
                    "TXT" => assert!(answer.starts_with('"') && answer.ends_with('"'), "{line}"),
                    "CNAME" => prev_cname_target = Some(answer.to_owned()),
                    "MX" | "NS" => assert!(answer.ends_with('.'), "{line}"),
                    other => panic!("unexpected type {other}"),
                }
                typ
            };
            *shares.entry(kind.to_owned()).or_default() += 1;
            tuples.insert((query.to_owned(), typ.to_owned(), answer.to_owned()));
            names.insert(query.to_owned());
        }
        assert_eq!(n, cfg.lines);
        assert_eq!(stats.lines, n);
        assert_eq!(stats.bytes, out.len() as u64);
        assert_eq!(stats.first_timestamp, cfg.start_time);

        let expected = [
            ("A", 55.0),
            ("AAAA", 15.0),
            ("CNAME", 10.0),
            ("MX", 3.0),
            ("TXT", 4.0),
            ("NS", 3.0),
            ("PTR", 5.0),
            ("NXDOMAIN", 5.0),
        ];
        for (kind, pct) in expected {
            let got = *shares.get(kind).unwrap_or(&0) as f64 * 100.0 / n as f64;
            assert!((got - pct).abs() < 1.0, "{kind}: {got:.2}% vs {pct}%");
            let k = LineKind::ALL
                .iter()
                .find(|k| k.as_str() == kind)
                .expect("kind");
            assert_eq!(stats.count(*k), *shares.get(kind).unwrap_or(&0));
        }

        // The HyperLogLog estimates are close to the exact counts.
        let rel = |est: u64, exact: usize| (est as f64 - exact as f64).abs() / exact as f64;
        assert!(
            rel(stats.distinct_tuples, tuples.len()) < 0.05,
            "{} vs {}",
            stats.distinct_tuples,
            tuples.len()
        );
        assert!(
            rel(stats.distinct_names, names.len()) < 0.05,
            "{} vs {}",
            stats.distinct_names,
            names.len()
        );
        // Realistic shape: about half the lines are new tuples, and traffic is skewed.
        let ratio = tuples.len() as f64 / n as f64;
        assert!((0.35..0.7).contains(&ratio), "tuple ratio {ratio}");
    }

    #[test]
    fn spans_about_thirty_days() {
        let (_, s) = gen_bytes(50_000, 5);
        let span = (s.last_timestamp - s.first_timestamp) as f64;
        let want = SPAN_SECS as f64;
        assert!((span - want).abs() < want * 0.1, "span {span}");
    }

    #[test]
    fn popularity_is_skewed() {
        let (out, _) = gen_bytes(100_000, 11);
        let text = String::from_utf8(out).expect("utf8");
        let mut per_name: HashMap<String, u64> = HashMap::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            *per_name
                .entry(v["query"].as_str().expect("q").to_owned())
                .or_default() += 1;
        }
        let mut counts: Vec<u64> = per_name.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let total: u64 = counts.iter().sum();
        let top: u64 = counts.iter().take(counts.len() / 100).sum();
        let singles = counts.iter().filter(|&&c| c <= 2).count();
        // The top 1% of names carry a large share; most names are seen once or twice.
        assert!(
            top * 100 / total >= 25,
            "top 1% share {}",
            top * 100 / total
        );
        assert!(
            singles * 100 / counts.len() >= 70,
            "singles {}",
            singles * 100 / counts.len()
        );
    }

    #[test]
    fn ipv6_text_is_canonical() {
        let mut rng = Xoshiro::new(3);
        let check = |groups: [u16; 8]| {
            let mut b = Vec::new();
            push_ipv6_groups(&mut b, groups);
            let want = std::net::Ipv6Addr::from(groups).to_string();
            assert_eq!(String::from_utf8(b).expect("ascii"), want);
        };
        for i in 0..20_000 {
            check(ipv6_groups(rng.next_u64(), i % 2 == 0));
        }
        // Zero runs anywhere (std prints IPv4-mapped addresses differently).
        for _ in 0..20_000 {
            let r = rng.next_u64();
            let groups: [u16; 8] = std::array::from_fn(|k| {
                if (r >> k) & 1 == 0 {
                    0
                } else {
                    (r >> (8 + 4 * k)) as u16 | 1
                }
            });
            if groups[..5] != [0; 5] || groups[5] != 0xffff {
                check(groups);
            }
        }
    }

    #[test]
    fn alias_matches_weights() {
        let a = Alias::new(&[1.0, 2.0, 3.0, 4.0]);
        let mut rng = Xoshiro::new(1);
        let mut c = [0u64; 4];
        for _ in 0..100_000 {
            c[a.sample(rng.next_u64())] += 1;
        }
        for (i, &n) in c.iter().enumerate() {
            let want = (i as f64 + 1.0) / 10.0 * 100_000.0;
            assert!((n as f64 - want).abs() < want * 0.05, "{i}: {n}");
        }
    }
}
