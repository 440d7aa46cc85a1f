//! Deterministic generator of pcap captures of DNS traffic, for the `dnsrecall sniff`
//! benchmark.
//!
//! The capture is a function of the [`PcapGenConfig`] only. It reuses the name universe,
//! the PRNG and the event mix of the log [`generator`](crate::generator) (Zipf-popular
//! names with a long tail of one-off names, the same A/AAAA/CNAME/MX/TXT/NS/PTR/NXDOMAIN
//! shares per transaction) and puts each transaction on the wire:
//!
//! - a legacy pcap file (microsecond timestamps, `LINKTYPE_ETHERNET`), packets in
//!   timestamp order; transactions start at `rate` per second on average and their
//!   packets interleave (cache hits answer in well under a millisecond, recursions in
//!   milliseconds, a few in hundreds of milliseconds);
//! - one query client -> resolver and one response resolver -> client per transaction,
//!   so about half the packets are responses; full RRsets (1-8 A or AAAA addresses,
//!   every MX and NS record), CNAME chains (one or two CNAMEs, then the target's A
//!   records in the same answer section), TXT, PTR, and NXDOMAIN (rcode 3 and the
//!   zone's SOA in the authority section); EDNS OPT records on most queries;
//! - names compressed like a real server does (every suffix already in the message
//!   becomes a pointer: answer owners point to the question name, `mx1.example.com.`
//!   to `example.com.`, ...);
//! - IPv4 mostly, 8% of transactions over IPv6; UDP port 53 mostly, 3% of transactions
//!   over TCP (SYN, SYN-ACK, ACK, the length-prefixed query, the length-prefixed
//!   response, FIN-ACK, FIN-ACK, ACK, with consistent sequence numbers; a quarter of
//!   the connections carry two pipelined queries, answered possibly out of order);
//! - valid IPv4 header checksums and UDP/TCP checksums (IPv4 and IPv6).
//!
//! The capture has exactly `packets` packets: near the end a transaction falls back
//! to UDP when a TCP connection no longer fits, and a last lone packet is a query
//! without answer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::mem;

use crate::generator::{
    Core, DEFAULT_START_TIME, GenConfig, Hll, LineKind, POPULAR_RANKS, Rand, SplitMix, TTL_POPULAR,
    TTL_TAIL, TTL_ZONE, hash_bytes, mix64, mx_count, mx_preference, ns_count, push_dashed,
    push_mx_exchange, push_ns_name,
};

/// Default transaction rate (DNS transactions per second of capture time).
pub const DEFAULT_RATE: u64 = 4_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapGenConfig {
    /// Number of packets to write (exactly).
    pub packets: u64,
    /// PRNG seed; the capture is a pure function of the whole config.
    pub seed: u64,
    /// Unix time (seconds, `0..=u32::MAX`) of the first packet.
    pub start_time: i64,
    /// Mean DNS transactions per second of capture time (at least 1).
    pub rate: u64,
}

impl PcapGenConfig {
    /// A config with the default start time and rate.
    pub fn new(packets: u64, seed: u64) -> Self {
        Self {
            packets,
            seed,
            start_time: DEFAULT_START_TIME,
            rate: DEFAULT_RATE,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcapGenStats {
    /// Packets written.
    pub packets: u64,
    /// Bytes written (the whole file).
    pub bytes: u64,
    /// DNS query messages.
    pub queries: u64,
    /// DNS response messages.
    pub responses: u64,
    /// Resource records in answer sections.
    pub answers: u64,
    /// NXDOMAIN responses.
    pub nxdomain: u64,
    /// Packets of TCP connections (handshake and teardown included).
    pub tcp_packets: u64,
    /// TCP connections.
    pub tcp_connections: u64,
    /// Packets over IPv6.
    pub ipv6_packets: u64,
    /// Distinct `(owner, type, rdata)` answer records (HyperLogLog, about 1% error).
    pub distinct_tuples: u64,
    /// Distinct `(name, type)` NXDOMAIN questions (HyperLogLog, about 1% error).
    pub distinct_nxdomain: u64,
    /// Unix time in microseconds of the first packet (0 when empty).
    pub first_ts_us: i64,
    /// Unix time in microseconds of the last packet (0 when empty).
    pub last_ts_us: i64,
    /// Responses per kind, indexed like [`LineKind::ALL`] (`Cname` counts A queries
    /// answered with a CNAME chain).
    pub per_kind: [u64; 8],
}

impl PcapGenStats {
    /// Number of responses of one kind.
    pub fn count(&self, kind: LineKind) -> u64 {
        self.per_kind[kind.index()]
    }
}

/// Writes a capture of `cfg.packets` packets to `out` (buffered internally; `out` is
/// flushed at the end).
pub fn generate_pcap<W: Write>(cfg: &PcapGenConfig, mut out: W) -> io::Result<PcapGenStats> {
    if !(0..=i64::from(u32::MAX)).contains(&cfg.start_time) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pcap start time must be in 0..=4294967295",
        ));
    }
    let mut g = PcapGen::new(cfg);
    g.out.extend_from_slice(&pcap_header());
    while g.scheduled < cfg.packets {
        g.transaction(cfg.packets - g.scheduled);
        if g.out.len() >= FLUSH_AT {
            out.write_all(&g.out)?;
            g.stats.bytes += g.out.len() as u64;
            g.out.clear();
        }
    }
    g.release(u64::MAX);
    out.write_all(&g.out)?;
    g.stats.bytes += g.out.len() as u64;
    out.flush()?;
    Ok(g.finish())
}

// ---------------------------------------------------------------------------------
// Tunables.

const FLUSH_AT: usize = 1 << 18;
/// Per mille of transactions over IPv6.
const IPV6_PER_MILLE: u64 = 80;
/// Per mille of transactions over TCP.
const TCP_PER_MILLE: u64 = 30;
/// Percent of TCP connections carrying two pipelined queries.
const PIPELINE_PCT: u64 = 25;
/// Percent of queries with an EDNS OPT record, and of those with the DO bit.
const EDNS_PCT: u64 = 70;
const DO_PCT: u64 = 15;
/// Percent of CNAME owners behind two CNAMEs rather than one.
const CNAME_HOP_PCT: u64 = 20;
const INTERMEDIATE: &[&[u8]] = &[
    b".edgekey.net.",
    b".trafficmanager.net.",
    b".azurefd.net.",
    b".elb.amazonaws.com.",
];
const TCP_PACKETS: u64 = 8;
const TCP_PIPELINED_PACKETS: u64 = 10;

/// Resolvers, in the order of the log generator's `SERVERS`.
const SERVER_V4: [[u8; 4]; 5] = [
    [10, 0, 0, 53],
    [10, 0, 1, 53],
    [10, 20, 0, 10],
    [8, 8, 8, 8],
    [1, 1, 1, 1],
];
const SERVER_V6: [[u16; 8]; 5] = [
    [0xfd00, 0x10, 0, 0, 0, 0, 0, 0x53],
    [0xfd00, 0x10, 0, 1, 0, 0, 0, 0x53],
    [0xfd00, 0x10, 0x20, 0, 0, 0, 0, 0x10],
    [0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888],
    [0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111],
];
/// IP TTL / hop limit of resolver packets as seen at the capture point.
const SERVER_HOPS: [u8; 5] = [64, 64, 63, 118, 57];
/// Round-trip time range (microseconds) client <-> resolver.
const SERVER_RTT: [(u64, u64); 5] = [
    (120, 450),
    (150, 500),
    (300, 900),
    (8_000, 20_000),
    (4_000, 12_000),
];
const GATEWAY_MAC: [u8; 6] = [0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d];
const SERVER_MAC: [[u8; 6]; 5] = [
    [0x00, 0x16, 0x3e, 0x5a, 0x00, 0x53],
    [0x00, 0x16, 0x3e, 0x5a, 0x01, 0x53],
    GATEWAY_MAC,
    GATEWAY_MAC,
    GATEWAY_MAC,
];

// DNS constants.
const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_CNAME: u16 = 5;
const TYPE_SOA: u16 = 6;
const TYPE_PTR: u16 = 12;
const TYPE_MX: u16 = 15;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
const FLAGS_QUERY: u16 = 0x0100; // RD
const FLAGS_RESPONSE: u16 = 0x8180; // QR RD RA
const RCODE_NXDOMAIN: u16 = 3;
const SECTION_ANSWER: usize = 1;
const SECTION_AUTHORITY: usize = 2;
const SECTION_ADDITIONAL: usize = 3;

// TCP flags.
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

// ---------------------------------------------------------------------------------
// Wire helpers.

/// The pcap global header: little-endian, version 2.4, microseconds, Ethernet.
fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0.
    h[16..20].copy_from_slice(&65_535u32.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    h
}

fn v6_bytes(groups: [u16; 8]) -> [u8; 16] {
    let mut b = [0u8; 16];
    for (i, g) in groups.iter().enumerate() {
        b[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
    }
    b
}

/// Sum of `data` as big-endian 16-bit words (an odd last byte padded with zero), not
/// folded; summed four bytes at a time, which is the same modulo 0xffff.
#[inline]
fn csum_add(data: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc + u64::from(u32::from_be_bytes(tail))
}

/// The Internet checksum of a sum from [`csum_add`].
#[inline]
fn csum_fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Name compression state of one message: every suffix written so far, by offset.
#[derive(Debug, Default)]
struct Encoder {
    /// `(message offset, start in text, length)`.
    suffixes: Vec<(u16, u32, u32)>,
    text: Vec<u8>,
}

impl Encoder {
    fn reset(&mut self) {
        self.suffixes.clear();
        self.text.clear();
    }

    /// Appends `name` (absolute, dotted, `www.example.com.`) to the message `m`,
    /// replacing its longest suffix already in the message by a pointer.
    fn name(&mut self, m: &mut Vec<u8>, name: &[u8]) {
        debug_assert!(name.ends_with(b"."), "relative name {name:?}");
        let base = self.text.len();
        self.text.extend_from_slice(name);
        let mut pos = 0;
        while pos + 1 < name.len() {
            let suffix = &name[pos..];
            let text = &self.text;
            if let Some(&(off, _, _)) = self.suffixes.iter().find(|&&(_, s, l)| {
                l as usize == suffix.len() && &text[s as usize..(s + l) as usize] == suffix
            }) {
                m.extend_from_slice(&(0xc000 | off).to_be_bytes());
                return;
            }
            let len = suffix
                .iter()
                .position(|&c| c == b'.')
                .unwrap_or(suffix.len());
            debug_assert!((1..=63).contains(&len), "label in {name:?}");
            if m.len() < 0x4000 {
                self.suffixes
                    .push((m.len() as u16, (base + pos) as u32, suffix.len() as u32));
            }
            m.push(len as u8);
            m.extend_from_slice(&suffix[..len]);
            pos += len + 1;
        }
        m.push(0);
    }
}

/// A DNS message being written.
struct Msg<'a> {
    m: &'a mut Vec<u8>,
    enc: &'a mut Encoder,
    counts: [u16; 4],
}

impl<'a> Msg<'a> {
    fn start(m: &'a mut Vec<u8>, enc: &'a mut Encoder, id: u16, flags: u16) -> Self {
        m.clear();
        enc.reset();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0; 8]);
        Self {
            m,
            enc,
            counts: [0; 4],
        }
    }

    fn question(&mut self, qname: &[u8], qtype: u16) {
        self.enc.name(self.m, qname);
        self.m.extend_from_slice(&qtype.to_be_bytes());
        self.m.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.counts[0] += 1;
    }

    /// Starts a record; returns the offset of its RDLENGTH for [`Msg::rr_end`].
    fn rr(&mut self, section: usize, owner: &[u8], rtype: u16, ttl: u64) -> usize {
        self.enc.name(self.m, owner);
        self.m.extend_from_slice(&rtype.to_be_bytes());
        self.m.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.m.extend_from_slice(&(ttl as u32).to_be_bytes());
        self.counts[section] += 1;
        let at = self.m.len();
        self.m.extend_from_slice(&[0, 0]);
        at
    }

    fn rr_end(&mut self, at: usize) {
        let len = (self.m.len() - at - 2) as u16;
        self.m[at..at + 2].copy_from_slice(&len.to_be_bytes());
    }

    fn name(&mut self, name: &[u8]) {
        self.enc.name(self.m, name);
    }

    /// An EDNS OPT pseudo-record in the additional section.
    fn opt(&mut self, udp_size: u16, dnssec_ok: bool) {
        self.m.push(0);
        self.m.extend_from_slice(&TYPE_OPT.to_be_bytes());
        self.m.extend_from_slice(&udp_size.to_be_bytes());
        self.m
            .extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        self.counts[SECTION_ADDITIONAL] += 1;
    }

    fn finish(self) {
        for (i, c) in self.counts.iter().enumerate() {
            self.m[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
    }
}

/// Endpoints of one client <-> resolver conversation.
#[derive(Debug, Clone, Copy)]
struct Flow {
    v6: bool,
    client_mac: [u8; 6],
    server_mac: [u8; 6],
    client4: [u8; 4],
    server4: [u8; 4],
    client6: [u8; 16],
    server6: [u8; 16],
    client_port: u16,
    server_hops: u8,
    flow_label: u32,
}

#[derive(Debug, Clone, Copy)]
enum L4 {
    Udp,
    Tcp {
        seq: u32,
        ack: u32,
        flags: u8,
        /// MSS option (SYN segments).
        mss: Option<u16>,
    },
}

/// Writes one Ethernet frame into `b`; a TCP payload gets its 2-byte length prefix.
fn frame(b: &mut Vec<u8>, f: &Flow, from_client: bool, ip_id: u16, l4: L4, msg: &[u8]) {
    b.clear();
    let (dst_mac, src_mac) = if from_client {
        (f.server_mac, f.client_mac)
    } else {
        (f.client_mac, f.server_mac)
    };
    b.extend_from_slice(&dst_mac);
    b.extend_from_slice(&src_mac);
    b.extend_from_slice(if f.v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });

    let (sport, dport) = if from_client {
        (f.client_port, 53)
    } else {
        (53, f.client_port)
    };
    let (proto, hdr_len, prefix) = match l4 {
        L4::Udp => (17u8, 8, 0),
        L4::Tcp { mss, .. } => (6u8, if mss.is_some() { 24 } else { 20 }, 2),
    };
    let payload_len = if msg.is_empty() {
        0
    } else {
        prefix + msg.len()
    };
    let l4_len = hdr_len + payload_len;
    let hops = if from_client { 64 } else { f.server_hops };
    let pseudo = if f.v6 {
        let (src, dst) = if from_client {
            (&f.client6, &f.server6)
        } else {
            (&f.server6, &f.client6)
        };
        b.extend_from_slice(&((6u32 << 28) | f.flow_label).to_be_bytes());
        b.extend_from_slice(&(l4_len as u16).to_be_bytes());
        b.extend_from_slice(&[proto, hops]);
        b.extend_from_slice(src);
        b.extend_from_slice(dst);
        csum_add(src) + csum_add(dst) + l4_len as u64 + u64::from(proto)
    } else {
        let (src, dst) = if from_client {
            (&f.client4, &f.server4)
        } else {
            (&f.server4, &f.client4)
        };
        let ip_at = b.len();
        let df: u8 = if proto == 6 { 0x40 } else { 0 };
        b.extend_from_slice(&[0x45, 0]);
        b.extend_from_slice(&((20 + l4_len) as u16).to_be_bytes());
        b.extend_from_slice(&ip_id.to_be_bytes());
        b.extend_from_slice(&[df, 0, hops, proto, 0, 0]);
        b.extend_from_slice(src);
        b.extend_from_slice(dst);
        let c = csum_fold(csum_add(&b[ip_at..ip_at + 20]));
        b[ip_at + 10..ip_at + 12].copy_from_slice(&c.to_be_bytes());
        csum_add(src) + csum_add(dst) + l4_len as u64 + u64::from(proto)
    };

    let l4_at = b.len();
    b.extend_from_slice(&sport.to_be_bytes());
    b.extend_from_slice(&dport.to_be_bytes());
    let csum_at = match l4 {
        L4::Udp => {
            b.extend_from_slice(&(l4_len as u16).to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            l4_at + 6
        }
        L4::Tcp {
            seq,
            ack,
            flags,
            mss,
        } => {
            b.extend_from_slice(&seq.to_be_bytes());
            b.extend_from_slice(&ack.to_be_bytes());
            let window: u16 = if from_client { 64_240 } else { 65_160 };
            b.extend_from_slice(&[((hdr_len / 4) << 4) as u8, flags]);
            b.extend_from_slice(&window.to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            if let Some(mss) = mss {
                b.extend_from_slice(&[2, 4]);
                b.extend_from_slice(&mss.to_be_bytes());
            }
            if !msg.is_empty() {
                b.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            }
            l4_at + 16
        }
    };
    b.extend_from_slice(msg);
    let mut c = csum_fold(csum_add(&b[l4_at..]) + pseudo);
    if c == 0 && matches!(l4, L4::Udp) {
        c = 0xffff; // 0 means "no checksum" in UDP
    }
    b[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
}

#[inline]
fn tuple_hash(owner: u64, rtype: u16, rdata: u64) -> u64 {
    mix64(owner.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ rdata.rotate_left(23) ^ u64::from(rtype))
}

// ---------------------------------------------------------------------------------
// The generator.

/// One DNS transaction, encoded.
#[derive(Debug)]
struct Exchange {
    query: Vec<u8>,
    response: Vec<u8>,
    kind: LineKind,
    answers: u64,
    /// `(qname, qtype)` hash of an NXDOMAIN response.
    nx: Option<u64>,
    tuples: Vec<u64>,
}

impl Default for Exchange {
    fn default() -> Self {
        Self {
            query: Vec::with_capacity(128),
            response: Vec::with_capacity(512),
            kind: LineKind::A,
            answers: 0,
            nx: None,
            tuples: Vec::with_capacity(16),
        }
    }
}

#[derive(Debug)]
struct PcapGen {
    c: Core,
    mean_gap_us: u64,
    start_us: i64,
    /// Capture clock: microseconds since the first packet.
    now: u64,
    transactions: u64,
    /// Packets waiting for their time: `(timestamp, sequence, slab slot)`.
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slab: Vec<Vec<u8>>,
    free: Vec<u32>,
    seq: u64,
    scheduled: u64,
    out: Vec<u8>,
    enc: Encoder,
    scratch: Vec<u8>,
    seen: Vec<u64>,
    ex: [Exchange; 2],
    client6: Vec<[u8; 16]>,
    client_mac: Vec<[u8; 6]>,
    tuples: Hll,
    nx_names: Hll,
    stats: PcapGenStats,
}

impl PcapGen {
    fn new(cfg: &PcapGenConfig) -> Self {
        // Size the name universe like a log of one line per transaction.
        let c = Core::new(&GenConfig::new(cfg.packets / 2, cfg.seed));
        let salt = mix64(cfg.seed ^ 0x7063_6170);
        let (client6, client_mac) =
            c.t.client_ips
                .iter()
                .enumerate()
                .map(|(i, ip)| {
                    let h = mix64(salt ^ i as u64);
                    let mut a = [0u8; 16];
                    a[..6].copy_from_slice(&[0xfd, 0x00, 0x00, 0x10, 0x00, ip[1]]);
                    a[6] = ip[2];
                    a[7] = 0;
                    a[8..].copy_from_slice(&(h | 0x0200_0000_0000_0000).to_be_bytes());
                    let m = h.to_be_bytes();
                    (a, [0x3c, 0x22, 0xfb, m[5], m[6], m[7]])
                })
                .unzip();
        Self {
            c,
            mean_gap_us: 1_000_000 / cfg.rate.clamp(1, 1_000_000),
            start_us: cfg.start_time * 1_000_000,
            now: 0,
            transactions: 0,
            heap: BinaryHeap::with_capacity(1 << 12),
            slab: Vec::new(),
            free: Vec::new(),
            seq: 0,
            scheduled: 0,
            out: Vec::with_capacity(FLUSH_AT + (1 << 16)),
            enc: Encoder::default(),
            scratch: Vec::with_capacity(256),
            seen: Vec::with_capacity(16),
            ex: [Exchange::default(), Exchange::default()],
            client6,
            client_mac,
            tuples: Hll::new(),
            nx_names: Hll::new(),
            stats: PcapGenStats::default(),
        }
    }

    fn finish(mut self) -> PcapGenStats {
        self.stats.distinct_tuples = self.tuples.estimate();
        self.stats.distinct_nxdomain = self.nx_names.estimate();
        self.stats
    }

    /// One UDP transaction, or one TCP connection carrying one or two transactions;
    /// schedules at most `remaining` packets.
    fn transaction(&mut self, remaining: u64) {
        if self.transactions > 0 {
            self.now += self.c.rng.below(2 * self.mean_gap_us + 1);
            self.c.t_us = self.now;
        }
        self.transactions += 1;
        // Nothing scheduled from now on is earlier than `now`.
        self.release(self.now);

        let client = self.c.t.client_zipf.sample(self.c.rng.next_u64());
        let server = self.c.server();
        let v6 = self.c.rng.below(1000) < IPV6_PER_MILLE;
        let tcp = self.c.rng.below(1000) < TCP_PER_MILLE && remaining >= TCP_PACKETS;
        let flow = Flow {
            v6,
            client_mac: self.client_mac[client],
            server_mac: SERVER_MAC[server],
            client4: self.c.t.client_ips[client],
            server4: SERVER_V4[server],
            client6: self.client6[client],
            server6: v6_bytes(SERVER_V6[server]),
            client_port: self.c.rng.range(32_768, 60_999) as u16,
            server_hops: SERVER_HOPS[server],
            flow_label: (self.c.rng.next_u64() & 0xf_ffff) as u32,
        };
        let (lo, hi) = SERVER_RTT[server];
        let rtt = self.c.rng.range(lo, hi);
        let mut ex = mem::take(&mut self.ex);
        if tcp {
            let n = if remaining >= TCP_PIPELINED_PACKETS && self.c.rng.below(100) < PIPELINE_PCT {
                2
            } else {
                1
            };
            for e in &mut ex[..n] {
                self.exchange(e);
            }
            self.tcp(&flow, rtt, &ex[..n]);
        } else {
            self.exchange(&mut ex[0]);
            let tq = self.now;
            self.emit(tq, &flow, true, L4::Udp, &ex[0].query);
            self.stats.queries += 1;
            if remaining >= 2 {
                let tr = tq + rtt + self.processing();
                self.emit(tr, &flow, false, L4::Udp, &ex[0].response);
                self.answered(&ex[0]);
            }
        }
        self.ex = ex;
    }

    /// Server-side time to answer: cache hit, recursion, or a slow authority.
    fn processing(&mut self) -> u64 {
        let r = &mut self.c.rng;
        match r.below(1000) {
            0..750 => r.range(15, 250),
            750..970 => r.range(1_000, 80_000),
            _ => r.range(100_000, 900_000),
        }
    }

    fn tcp(&mut self, f: &Flow, rtt: u64, ex: &[Exchange]) {
        self.stats.tcp_connections += 1;
        let mss = Some(if f.v6 { 1440 } else { 1460 });
        let c0 = self.c.rng.next_u64() as u32;
        let s0 = self.c.rng.next_u64() as u32;
        let c1 = c0.wrapping_add(1);
        let s1 = s0.wrapping_add(1);
        let tcp = |seq: u32, ack: u32, flags: u8| L4::Tcp {
            seq,
            ack,
            flags,
            mss: None,
        };

        let t0 = self.now;
        let syn = L4::Tcp {
            seq: c0,
            ack: 0,
            flags: SYN,
            mss,
        };
        self.emit(t0, f, true, syn, &[]);
        let t1 = t0 + rtt;
        let syn_ack = L4::Tcp {
            seq: s0,
            ack: c1,
            flags: SYN | ACK,
            mss,
        };
        self.emit(t1, f, false, syn_ack, &[]);
        let mut t = t1 + self.c.rng.range(8, 60);
        self.emit(t, f, true, tcp(c1, s1, ACK), &[]);

        // Queries, back to back; `sent[i]` is the client stream offset after query i.
        let n = ex.len();
        let mut tq = [0u64; 2];
        let mut sent = [0u32; 2];
        let mut off = 0u32;
        for (i, e) in ex.iter().enumerate() {
            t += self.c.rng.range(5, 80);
            tq[i] = t;
            self.emit(
                t,
                f,
                true,
                tcp(c1.wrapping_add(off), s1, PSH | ACK),
                &e.query,
            );
            off += 2 + e.query.len() as u32;
            sent[i] = off;
            self.stats.queries += 1;
        }
        let client_bytes = off;

        // Responses in the order the resolver finishes them.
        let mut tr = [0u64; 2];
        for i in 0..n {
            tr[i] = tq[i] + rtt + self.processing();
        }
        let order: &[usize] = match n {
            2 if tr[1] < tr[0] => &[1, 0],
            2 => &[0, 1],
            _ => &[0],
        };
        let mut off = 0u32;
        for &i in order {
            // The resolver acknowledges the queries it had received.
            let acked = (0..n)
                .filter(|&k| tq[k] + rtt <= tr[i])
                .map(|k| sent[k])
                .max()
                .unwrap_or(0);
            let l4 = tcp(s1.wrapping_add(off), c1.wrapping_add(acked), PSH | ACK);
            self.emit(tr[i], f, false, l4, &ex[i].response);
            off += 2 + ex[i].response.len() as u32;
            self.answered(&ex[i]);
        }
        let server_bytes = off;

        // The client closes.
        let cf = c1.wrapping_add(client_bytes);
        let sf = s1.wrapping_add(server_bytes);
        let t = tr[..n].iter().copied().max().unwrap_or(t) + self.c.rng.range(20, 300);
        self.emit(t, f, true, tcp(cf, sf, FIN | ACK), &[]);
        let t = t + rtt;
        self.emit(t, f, false, tcp(sf, cf.wrapping_add(1), FIN | ACK), &[]);
        let t = t + self.c.rng.range(5, 40);
        self.emit(
            t,
            f,
            true,
            tcp(cf.wrapping_add(1), sf.wrapping_add(1), ACK),
            &[],
        );
    }

    fn answered(&mut self, e: &Exchange) {
        self.stats.responses += 1;
        self.stats.answers += e.answers;
        self.stats.per_kind[e.kind.index()] += 1;
        if let Some(h) = e.nx {
            self.stats.nxdomain += 1;
            self.nx_names.add(h);
        }
        for &h in &e.tuples {
            self.tuples.add(h);
        }
    }

    /// Builds and queues one packet.
    fn emit(&mut self, ts: u64, f: &Flow, from_client: bool, l4: L4, msg: &[u8]) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slab.push(Vec::with_capacity(600));
                (self.slab.len() - 1) as u32
            }
        };
        let ip_id = self.c.rng.next_u64() as u16;
        frame(
            &mut self.slab[slot as usize],
            f,
            from_client,
            ip_id,
            l4,
            msg,
        );
        self.heap.push(Reverse((ts, self.seq, slot)));
        self.seq += 1;
        self.scheduled += 1;
        if matches!(l4, L4::Tcp { .. }) {
            self.stats.tcp_packets += 1;
        }
        if f.v6 {
            self.stats.ipv6_packets += 1;
        }
    }

    /// Writes every queued packet stamped at or before `limit`.
    fn release(&mut self, limit: u64) {
        while let Some(&Reverse((ts, _, slot))) = self.heap.peek() {
            if ts > limit {
                break;
            }
            self.heap.pop();
            let abs = self.start_us + ts as i64;
            let data = &self.slab[slot as usize];
            let o = &mut self.out;
            o.extend_from_slice(&(abs.div_euclid(1_000_000) as u32).to_le_bytes());
            o.extend_from_slice(&(abs.rem_euclid(1_000_000) as u32).to_le_bytes());
            o.extend_from_slice(&(data.len() as u32).to_le_bytes());
            o.extend_from_slice(&(data.len() as u32).to_le_bytes());
            o.extend_from_slice(data);
            self.free.push(slot);
            if self.stats.packets == 0 {
                self.stats.first_ts_us = abs;
            }
            self.stats.last_ts_us = abs;
            self.stats.packets += 1;
        }
    }

    /// Draws one transaction and encodes its query and response into `e`.
    fn exchange(&mut self, e: &mut Exchange) {
        let Self {
            c,
            enc,
            scratch,
            seen,
            ..
        } = self;
        e.answers = 0;
        e.nx = None;
        e.tuples.clear();
        seen.clear();
        let kind = c.kind();
        e.kind = kind;
        c.query.clear();
        c.answer.clear();
        let id = c.rng.below(1 << 16) as u16;
        let edns = c.rng.below(100) < EDNS_PCT;
        let dnssec_ok = edns && c.rng.below(100) < DO_PCT;
        let udp_size = if c.rng.below(100) < 60 { 1232 } else { 4096 };

        let mut qtype = TYPE_A;
        let mut r = Msg::start(&mut e.response, enc, id, FLAGS_RESPONSE);
        match kind {
            LineKind::A | LineKind::Aaaa | LineKind::Cname => {
                let (owner_h, set, ttl) = if kind == LineKind::Cname {
                    let (h, popular) = c.cname_name();
                    let th = c.t.cname_target(h, &c.query, &mut c.answer);
                    let cttl = c.ttl(h, if popular { TTL_POPULAR } else { TTL_TAIL });
                    r.question(&c.query, TYPE_A);
                    let qh = hash_bytes(&c.query);
                    let ah = hash_bytes(&c.answer);
                    let mut s = SplitMix(h ^ 0xc4a1);
                    if s.below(100) < CNAME_HOP_PCT {
                        scratch.clear();
                        push_dashed(scratch, &c.query);
                        scratch.extend_from_slice(s.pick(INTERMEDIATE));
                        let ih = hash_bytes(scratch);
                        let at = r.rr(SECTION_ANSWER, &c.query, TYPE_CNAME, cttl);
                        r.name(scratch);
                        r.rr_end(at);
                        let at = r.rr(SECTION_ANSWER, scratch, TYPE_CNAME, cttl);
                        r.name(&c.answer);
                        r.rr_end(at);
                        e.tuples.push(tuple_hash(qh, TYPE_CNAME, ih));
                        e.tuples.push(tuple_hash(ih, TYPE_CNAME, ah));
                    } else {
                        let at = r.rr(SECTION_ANSWER, &c.query, TYPE_CNAME, cttl);
                        r.name(&c.answer);
                        r.rr_end(at);
                        e.tuples.push(tuple_hash(qh, TYPE_CNAME, ah));
                    }
                    let set = c.addr_set(th, Some(if popular { 0 } else { POPULAR_RANKS }), false);
                    let ttl = c.ttl(th, set.ttl_table());
                    (ah, set, ttl)
                } else {
                    let v6 = kind == LineKind::Aaaa;
                    qtype = if v6 { TYPE_AAAA } else { TYPE_A };
                    let (h, rank) = c.addr_name();
                    let set = c.addr_set(h, rank, v6);
                    let ttl = c.ttl(h, set.ttl_table());
                    r.question(&c.query, qtype);
                    (hash_bytes(&c.query), set, ttl)
                };
                let owner: &[u8] = if kind == LineKind::Cname {
                    &c.answer
                } else {
                    &c.query
                };
                // The whole RRset, rotated like a round-robin server does.
                let j0 = c.rng.below(set.k);
                for i in 0..set.k {
                    let j = (j0 + i) % set.k;
                    let (bytes, len) = if qtype == TYPE_AAAA {
                        (v6_bytes(set.v6(j)), 16)
                    } else {
                        let mut b = [0u8; 16];
                        b[..4].copy_from_slice(&set.v4(j));
                        (b, 4)
                    };
                    let rh = hash_bytes(&bytes[..len]);
                    if seen.contains(&rh) {
                        continue;
                    }
                    seen.push(rh);
                    let at = r.rr(SECTION_ANSWER, owner, qtype, ttl);
                    r.m.extend_from_slice(&bytes[..len]);
                    r.rr_end(at);
                    e.tuples.push(tuple_hash(owner_h, qtype, rh));
                }
            }
            LineKind::Mx | LineKind::Ns => {
                let mx = kind == LineKind::Mx;
                qtype = if mx { TYPE_MX } else { TYPE_NS };
                let zh = c.zone(if mx { 30 } else { 20 });
                let n = if mx { mx_count(zh) } else { ns_count(zh) };
                let ttl = c.ttl(zh, TTL_ZONE);
                r.question(&c.query, qtype);
                let qh = hash_bytes(&c.query);
                for j in 0..n {
                    scratch.clear();
                    if mx {
                        push_mx_exchange(scratch, zh, &c.query, j);
                    } else {
                        push_ns_name(scratch, zh, &c.query, j);
                    }
                    let pref = if mx { mx_preference(zh, j) } else { 0 };
                    let rh = hash_bytes(scratch) ^ u64::from(pref);
                    if seen.contains(&rh) {
                        continue;
                    }
                    seen.push(rh);
                    let at = r.rr(SECTION_ANSWER, &c.query, qtype, ttl);
                    if mx {
                        r.m.extend_from_slice(&pref.to_be_bytes());
                    }
                    r.name(scratch);
                    r.rr_end(at);
                    e.tuples.push(tuple_hash(qh, qtype, rh));
                }
            }
            LineKind::Txt => {
                qtype = TYPE_TXT;
                let h = c.txt(b"");
                let ttl = c.ttl(h, TTL_ZONE);
                r.question(&c.query, qtype);
                let at = r.rr(SECTION_ANSWER, &c.query, qtype, ttl);
                for chunk in c.answer.chunks(255) {
                    r.m.push(chunk.len() as u8);
                    r.m.extend_from_slice(chunk);
                }
                r.rr_end(at);
                let rh = hash_bytes(&c.answer);
                e.tuples.push(tuple_hash(hash_bytes(&c.query), qtype, rh));
            }
            LineKind::Ptr => {
                qtype = TYPE_PTR;
                let h = c.ptr();
                let ttl = c.ttl(h, TTL_ZONE);
                r.question(&c.query, qtype);
                let at = r.rr(SECTION_ANSWER, &c.query, qtype, ttl);
                r.name(&c.answer);
                r.rr_end(at);
                let rh = hash_bytes(&c.answer);
                e.tuples.push(tuple_hash(hash_bytes(&c.query), qtype, rh));
            }
            LineKind::NxDomain => {
                let (qt, zone_at) = c.nx();
                qtype = match qt {
                    b"AAAA" => TYPE_AAAA,
                    b"TXT" => TYPE_TXT,
                    b"MX" => TYPE_MX,
                    _ => TYPE_A,
                };
                r.m[2..4].copy_from_slice(&(FLAGS_RESPONSE | RCODE_NXDOMAIN).to_be_bytes());
                r.question(&c.query, qtype);
                e.nx = Some(tuple_hash(hash_bytes(&c.query), qtype, 0x4e58));
                // The zone's SOA; its minimum is the negative TTL.
                let zone = &c.query[zone_at..];
                let zh = hash_bytes(zone);
                let mut s = SplitMix(zh ^ 0x50a);
                let minimum = s.pick(&[300u32, 900, 1800, 3600, 3600, 86_400]);
                let at = r.rr(SECTION_AUTHORITY, zone, TYPE_SOA, u64::from(minimum));
                scratch.clear();
                if zone.iter().filter(|&&b| b == b'.').count() == 1 {
                    // A TLD.
                    scratch.extend_from_slice(b"a.nic.");
                    scratch.extend_from_slice(zone);
                    r.name(scratch);
                    scratch.clear();
                    scratch.extend_from_slice(b"hostmaster.nic.");
                    scratch.extend_from_slice(zone);
                } else {
                    push_ns_name(scratch, zh, zone, 0);
                    r.name(scratch);
                    scratch.clear();
                    scratch.extend_from_slice(b"hostmaster.");
                    scratch.extend_from_slice(zone);
                }
                r.name(scratch);
                let serial = 2_025_010_100 + s.below(100) as u32;
                for v in [serial, 7_200, 3_600, 1_209_600, minimum] {
                    r.m.extend_from_slice(&v.to_be_bytes());
                }
                r.rr_end(at);
            }
        }
        e.answers = u64::from(r.counts[SECTION_ANSWER]);
        if edns {
            r.opt(1232, dnssec_ok);
        }
        r.finish();

        let mut q = Msg::start(&mut e.query, enc, id, FLAGS_QUERY);
        q.question(&c.query, qtype);
        if edns {
            q.opt(udp_size, dnssec_ok);
        }
        q.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::SERVERS;
    use domain::base::iana::{Rcode, Rtype};
    use domain::base::{Message, ParsedName};
    use domain::rdata::AllRecordData;
    use std::collections::{HashMap, HashSet};

    fn gen_bytes(packets: u64, seed: u64) -> (Vec<u8>, PcapGenStats) {
        let mut out = Vec::new();
        let stats = generate_pcap(&PcapGenConfig::new(packets, seed), &mut out).expect("gen");
        (out, stats)
    }

    #[test]
    fn deterministic_per_seed() {
        let (a, sa) = gen_bytes(30_000, 7);
        let (b, sb) = gen_bytes(30_000, 7);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        let (c, _) = gen_bytes(30_000, 8);
        assert_ne!(a, c);
    }

    #[test]
    fn checksum_known_vector() {
        // The IPv4 header example of RFC 1071 / Wikipedia: checksum 0xb861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(csum_fold(csum_add(&hdr)), 0xb861);
        // Odd lengths pad with a zero byte.
        assert_eq!(csum_add(&[0x12, 0x34, 0x56]), 0x1234_5600);
    }

    #[test]
    fn resolvers_match_the_log_generator() {
        for (i, (text, _)) in SERVERS.iter().enumerate() {
            let ip: std::net::Ipv4Addr = text.parse().expect("server");
            assert_eq!(ip.octets(), SERVER_V4[i]);
        }
        assert_eq!(SERVERS.len(), SERVER_V4.len());
    }

    #[test]
    fn compression_points_to_earlier_suffixes() {
        let mut m = vec![0u8; 12];
        let mut enc = Encoder::default();
        enc.name(&mut m, b"www.example.com.");
        assert_eq!(&m[12..], b"\x03www\x07example\x03com\x00");
        let at = m.len();
        enc.name(&mut m, b"www.example.com.");
        assert_eq!(&m[at..], &[0xc0, 12]);
        let at = m.len();
        enc.name(&mut m, b"mx1.example.com.");
        assert_eq!(&m[at..], b"\x03mx1\xc0\x10");
        let at = m.len();
        enc.name(&mut m, b"ns.other.net.");
        assert_eq!(&m[at..], b"\x02ns\x05other\x03net\x00");
    }

    /// Exact packet counts, including the tiny ones where TCP cannot fit.
    #[test]
    fn exact_packet_counts() {
        for n in (0..25).chain([1_001, 4_097]) {
            let (bytes, s) = gen_bytes(n, 3);
            assert_eq!(s.packets, n);
            assert_eq!(s.bytes, bytes.len() as u64);
            let (_, cap) = pcap_parser::parse_pcap(&bytes).expect("pcap");
            assert_eq!(cap.blocks.len() as u64, n);
        }
    }

    #[test]
    fn rejects_negative_start() {
        let mut cfg = PcapGenConfig::new(10, 1);
        cfg.start_time = -1;
        assert!(generate_pcap(&cfg, Vec::new()).is_err());
    }

    /// What a test decoder found in a capture.
    #[derive(Debug, Default)]
    struct Seen {
        packets: u64,
        queries: u64,
        responses: u64,
        answers: u64,
        nxdomain: u64,
        tcp_packets: u64,
        tcp_connections: u64,
        pipelined: u64,
        ipv6_packets: u64,
        kinds: HashMap<&'static str, u64>,
        tuples: HashSet<(String, u16, String)>,
        max_rrset: usize,
        compressed_owners: u64,
        udp_payloads: u64,
    }

    /// One direction of a TCP connection.
    #[derive(Debug, Default)]
    struct Half {
        isn: Option<u32>,
        next: u32,
        fin: bool,
        data: Vec<u8>,
        messages: u32,
    }

    #[derive(Debug, Default)]
    struct Conn {
        client: Half,
        server: Half,
        handshake: u8,
        done: bool,
    }

    fn be16(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn name_str(n: &ParsedName<&[u8]>) -> String {
        let s = n.to_string();
        if s.ends_with('.') { s } else { format!("{s}.") }
    }

    /// Parses one DNS message and records what it holds.
    fn check_dns(msg: &[u8], from_client: bool, seen: &mut Seen) {
        let m = Message::from_slice(msg).expect("dns header");
        let hdr = m.header();
        assert_eq!(hdr.qr(), !from_client, "QR bit");
        let counts = m.header_counts();
        assert_eq!(counts.qdcount(), 1);
        let q = m
            .question()
            .next()
            .expect("a question")
            .expect("question parses");
        let qname = name_str(q.qname());
        let qtype = q.qtype();
        let mut parsed = [0u16; 3];
        let mut answer_types = Vec::new();
        let mut answer_owners = Vec::new();
        let mut soa_in_authority = false;
        let mut section = m.answer().expect("answer section");
        for (si, count) in parsed.iter_mut().enumerate() {
            for rec in &mut section {
                let rec = rec.expect("record header");
                let rtype = rec.rtype();
                let data = rec
                    .to_record::<AllRecordData<_, ParsedName<_>>>()
                    .expect("record data parses")
                    .expect("known record type");
                *count += 1;
                if si == 0 {
                    let owner = name_str(data.owner());
                    let rdata = match data.data() {
                        AllRecordData::A(a) => a.addr().to_string(),
                        AllRecordData::Aaaa(a) => a.addr().to_string(),
                        AllRecordData::Cname(c) => name_str(c.cname()),
                        AllRecordData::Ns(n) => name_str(n.nsdname()),
                        AllRecordData::Ptr(p) => name_str(p.ptrdname()),
                        AllRecordData::Mx(x) => {
                            format!("{} {}", x.preference(), name_str(x.exchange()))
                        }
                        AllRecordData::Txt(t) => {
                            let mut s = Vec::new();
                            for part in t.iter() {
                                s.extend_from_slice(part);
                            }
                            String::from_utf8(s).expect("ascii txt")
                        }
                        other => panic!("unexpected answer {other:?}"),
                    };
                    seen.tuples.insert((owner.clone(), rtype.to_int(), rdata));
                    answer_types.push(rtype);
                    answer_owners.push(owner);
                } else if si == 1 {
                    assert_eq!(rtype, Rtype::SOA);
                    soa_in_authority = true;
                    assert!(qname.ends_with(&name_str(data.owner())), "SOA owner");
                } else {
                    assert_eq!(rtype, Rtype::OPT);
                }
            }
            if si < 2 {
                section = section
                    .next_section()
                    .expect("next section parses")
                    .expect("next section");
            }
        }
        assert_eq!(parsed[0], counts.ancount());
        assert_eq!(parsed[1], counts.nscount());
        assert_eq!(parsed[2], counts.arcount());

        if from_client {
            assert_eq!(parsed, [0, 0, parsed[2]]);
            seen.queries += 1;
            return;
        }
        seen.responses += 1;
        seen.answers += u64::from(parsed[0]);
        // Owners of answers are compressed to the question name.
        if msg.windows(2).skip(12).any(|w| w == [0xc0, 12]) {
            seen.compressed_owners += 1;
        }
        let kind = if hdr.rcode() == Rcode::NXDOMAIN {
            assert!(soa_in_authority, "NXDOMAIN without SOA");
            assert!(answer_types.is_empty());
            seen.nxdomain += 1;
            "NXDOMAIN"
        } else {
            assert_eq!(hdr.rcode(), Rcode::NOERROR);
            assert!(!answer_types.is_empty(), "empty answer for {qname}");
            assert_eq!(answer_owners[0], qname, "first owner is the question");
            if answer_types[0] == Rtype::CNAME {
                assert_eq!(qtype, Rtype::A);
                // CNAME chain, then the target's A records.
                let ncname = answer_types.iter().filter(|&&t| t == Rtype::CNAME).count();
                assert!((1..=2).contains(&ncname));
                assert!(answer_types[ncname..].iter().all(|&t| t == Rtype::A));
                assert!(answer_types.len() > ncname);
                "CNAME"
            } else {
                assert!(answer_types.iter().all(|&t| t == qtype));
                assert!(answer_owners.iter().all(|o| *o == qname));
                seen.max_rrset = seen.max_rrset.max(answer_types.len());
                match qtype {
                    Rtype::A => {
                        assert!(answer_types.len() <= 8);
                        "A"
                    }
                    Rtype::AAAA => "AAAA",
                    Rtype::MX => "MX",
                    Rtype::TXT => "TXT",
                    Rtype::NS => "NS",
                    Rtype::PTR => "PTR",
                    other => panic!("unexpected qtype {other}"),
                }
            }
        };
        *seen.kinds.entry(kind).or_default() += 1;
    }

    /// Decodes a whole capture, checking every layer; panics on the first problem.
    fn decode(bytes: &[u8]) -> Seen {
        let (rest, cap) = pcap_parser::parse_pcap(bytes).expect("pcap parses");
        assert!(rest.is_empty(), "trailing bytes");
        assert_eq!(cap.header.network, pcap_parser::Linktype::ETHERNET);
        assert!(!cap.header.is_nanosecond_precision());
        assert_eq!((cap.header.version_major, cap.header.version_minor), (2, 4));
        let mut seen = Seen::default();
        let mut conns: HashMap<(Vec<u8>, u16), Conn> = HashMap::new();
        let mut prev_ts = (0u32, 0u32);
        for block in &cap.blocks {
            seen.packets += 1;
            let ts = (block.ts_sec, block.ts_usec);
            assert!(block.ts_usec < 1_000_000);
            assert!(ts >= prev_ts, "timestamps go back");
            prev_ts = ts;
            assert_eq!(block.caplen, block.origlen);
            let p = block.data;
            assert_eq!(p.len(), block.caplen as usize);
            let ethertype = be16(p, 12);
            let (proto, l4, pseudo, src, dst) = match ethertype {
                0x0800 => {
                    let ip = &p[14..];
                    assert_eq!(ip[0], 0x45);
                    assert_eq!(be16(ip, 2) as usize, ip.len(), "IPv4 total length");
                    assert_eq!(csum_fold(csum_add(&ip[..20])), 0, "IPv4 header checksum");
                    let l4 = &ip[20..];
                    let pseudo = csum_add(&ip[12..20]) + u64::from(ip[9]) + l4.len() as u64;
                    (ip[9], l4, pseudo, ip[12..16].to_vec(), ip[16..20].to_vec())
                }
                0x86dd => {
                    seen.ipv6_packets += 1;
                    let ip = &p[14..];
                    assert_eq!(ip[0] >> 4, 6);
                    assert_eq!(be16(ip, 4) as usize, ip.len() - 40, "IPv6 payload length");
                    let l4 = &ip[40..];
                    let pseudo = csum_add(&ip[8..40]) + u64::from(ip[6]) + l4.len() as u64;
                    (ip[6], l4, pseudo, ip[8..24].to_vec(), ip[24..40].to_vec())
                }
                other => panic!("ethertype {other:#x}"),
            };
            assert_eq!(csum_fold(csum_add(l4) + pseudo), 0, "L4 checksum");
            let (sport, dport) = (be16(l4, 0), be16(l4, 2));
            assert!(sport == 53 || dport == 53);
            let from_client = dport == 53;
            match proto {
                17 => {
                    assert_eq!(be16(l4, 4) as usize, l4.len(), "UDP length");
                    assert_ne!(be16(l4, 6), 0, "UDP checksum present");
                    seen.udp_payloads += 1;
                    check_dns(&l4[8..], from_client, &mut seen);
                }
                6 => {
                    seen.tcp_packets += 1;
                    let key = if from_client {
                        (src.clone(), sport)
                    } else {
                        (dst.clone(), dport)
                    };
                    let seq = be32(l4, 4);
                    let ack = be32(l4, 8);
                    let hlen = usize::from(l4[12] >> 4) * 4;
                    let flags = l4[13];
                    let payload = &l4[hlen..];
                    if from_client && flags == SYN {
                        // A new connection (the client port may be reused later).
                        let old = conns.insert(key.clone(), Conn::default());
                        assert!(old.is_none_or(|c| c.done), "SYN on an open connection");
                    }
                    let conn = conns
                        .get_mut(&key)
                        .expect("segment of an unknown connection");
                    assert!(!conn.done, "segment after the connection closed");
                    let (me, peer) = if from_client {
                        (&mut conn.client, &mut conn.server)
                    } else {
                        (&mut conn.server, &mut conn.client)
                    };
                    if flags & SYN != 0 {
                        assert!(me.isn.is_none(), "second SYN");
                        assert!(payload.is_empty());
                        me.isn = Some(seq);
                        me.next = seq.wrapping_add(1);
                        if from_client {
                            assert_eq!(flags, SYN);
                            assert_eq!(conn.handshake, 0);
                        } else {
                            assert_eq!(flags, SYN | ACK);
                            assert_eq!(ack, peer.next, "SYN-ACK acks the SYN");
                            assert_eq!(conn.handshake, 1);
                        }
                        conn.handshake += 1;
                        continue;
                    }
                    assert_eq!(seq, me.next, "in-order sequence number");
                    assert!(flags & ACK != 0);
                    // Acks nothing the peer has not sent.
                    let unsent = peer.next.wrapping_sub(ack);
                    assert!(unsent < 1 << 31, "ack beyond what was sent");
                    me.next = me.next.wrapping_add(payload.len() as u32);
                    me.data.extend_from_slice(payload);
                    // Each complete length-prefixed message is a DNS message.
                    while me.data.len() >= 2 {
                        let len = usize::from(be16(&me.data, 0));
                        if me.data.len() < 2 + len {
                            break;
                        }
                        let msg: Vec<u8> = me.data[2..2 + len].to_vec();
                        me.data.drain(..2 + len);
                        me.messages += 1;
                        check_dns(&msg, from_client, &mut seen);
                    }
                    if flags & FIN != 0 {
                        assert!(!me.fin);
                        me.fin = true;
                        me.next = me.next.wrapping_add(1);
                    }
                    if conn.client.fin && conn.server.fin && flags == ACK {
                        // The last ACK: everything was exchanged.
                        assert!(conn.client.data.is_empty() && conn.server.data.is_empty());
                        assert_eq!(ack, conn.server.next);
                        conn.done = true;
                        seen.tcp_connections += 1;
                        assert_eq!(conn.client.messages, conn.server.messages);
                        assert!((1..=2).contains(&conn.client.messages));
                        if conn.client.messages == 2 {
                            seen.pipelined += 1;
                        }
                    }
                }
                other => panic!("IP protocol {other}"),
            }
        }
        assert!(conns.values().all(|c| c.done), "unfinished TCP connection");
        seen
    }

    #[test]
    fn every_packet_parses() {
        let packets = 200_000;
        let (bytes, stats) = gen_bytes(packets, 42);
        let seen = decode(&bytes);
        assert_eq!(seen.packets, packets);
        assert_eq!(stats.packets, packets);
        assert_eq!(stats.bytes, bytes.len() as u64);
        assert_eq!(seen.queries, stats.queries);
        assert_eq!(seen.responses, stats.responses);
        assert_eq!(seen.answers, stats.answers);
        assert_eq!(seen.nxdomain, stats.nxdomain);
        assert_eq!(seen.tcp_packets, stats.tcp_packets);
        assert_eq!(seen.tcp_connections, stats.tcp_connections);
        assert_eq!(seen.ipv6_packets, stats.ipv6_packets);
        assert_eq!(stats.first_ts_us, DEFAULT_START_TIME * 1_000_000);

        // About half the packets are responses.
        let resp = seen.responses as f64 / seen.packets as f64;
        assert!((0.43..0.5).contains(&resp), "responses {resp:.3}");
        // 3% of transactions over TCP, a quarter of them pipelined; 8% over IPv6.
        let tx = seen.responses as f64;
        let tcp = seen.tcp_connections as f64 * 1.25 / tx;
        assert!((0.02..0.04).contains(&tcp), "tcp {tcp:.4}");
        assert!(seen.pipelined > 0);
        let v6 = seen.ipv6_packets as f64 / seen.packets as f64;
        assert!((0.06..0.10).contains(&v6), "ipv6 {v6:.4}");
        assert_eq!(seen.max_rrset, 8);
        // Most answers name the question by a pointer.
        assert!(seen.compressed_owners as f64 > 0.9 * (tx - seen.nxdomain as f64));

        // Response kinds follow the log generator's event mix.
        let expected = [
            ("A", 50.0),
            ("AAAA", 16.67),
            ("CNAME", 11.11),
            ("MX", 3.33),
            ("TXT", 4.44),
            ("NS", 3.33),
            ("PTR", 5.56),
            ("NXDOMAIN", 5.56),
        ];
        for (kind, pct) in expected {
            let n = *seen.kinds.get(kind).unwrap_or(&0);
            let got = n as f64 * 100.0 / tx;
            assert!((got - pct).abs() < 1.0, "{kind}: {got:.2}% vs {pct}%");
            let k = LineKind::ALL
                .iter()
                .find(|k| k.as_str() == kind)
                .expect("kind");
            assert_eq!(stats.count(*k), n, "{kind}");
        }

        // The distinct-tuple estimate is close to the exact count, and names repeat.
        let exact = seen.tuples.len() as f64;
        let rel = (stats.distinct_tuples as f64 - exact).abs() / exact;
        assert!(rel < 0.05, "{} vs {exact}", stats.distinct_tuples);
        assert!(
            exact < seen.answers as f64 * 0.8,
            "{exact} of {}",
            seen.answers
        );
    }

    #[test]
    fn timestamps_follow_the_rate() {
        let cfg = PcapGenConfig {
            packets: 100_000,
            seed: 9,
            start_time: 1_600_000_000,
            rate: 2_000,
        };
        let mut out = Vec::new();
        let s = generate_pcap(&cfg, &mut out).expect("gen");
        let span = (s.last_ts_us - s.first_ts_us) as f64 / 1e6;
        let want = s.responses as f64 / 2_000.0;
        assert!(
            (span - want).abs() < want * 0.05,
            "span {span:.1}s vs {want:.1}s"
        );
        assert_eq!(s.first_ts_us, 1_600_000_000 * 1_000_000);
    }
}
