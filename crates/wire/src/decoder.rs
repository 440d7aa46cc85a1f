//! The frame decoder: link layer, IP (with defragmentation and tunnels), UDP and TCP, and
//! DNS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dnsrecall_model::{Record, SensorId};

use crate::counters::{Counters, reason};
use crate::defrag::{Defrag, FragKey, Fragment};
use crate::dns::{MessageDecoder, MessageMeta};
use crate::link::{self, LinkType, Miss, Network, array, be16, be32};
use crate::tcp::{self, Limits, Segment, Sink, TcpTable};

/// Most tunnel layers (IP-in-IP, GRE, VXLAN, Teredo, ...) followed in one frame.
pub const MAX_ENCAPSULATION_DEPTH: usize = 4;
/// Most IPv6 extension headers followed in one packet.
pub const MAX_IPV6_EXTENSION_HEADERS: usize = 16;
/// Capture-clock interval between automatic expiry runs inside [`Decoder::frame`].
pub const EXPIRE_INTERVAL_US: i64 = 1_000_000;

/// mDNS, whose records carry a cache-flush bit in their class.
pub const MDNS_PORT: u16 = 5353;
/// DNS over TLS and over QUIC: encrypted, counted as skipped.
pub const ENCRYPTED_DNS_PORT: u16 = 853;
/// VXLAN (RFC 7348).
pub const VXLAN_PORT: u16 = 4789;
/// Geneve (RFC 8926).
pub const GENEVE_PORT: u16 = 6081;
/// Teredo (RFC 4380).
pub const TEREDO_PORT: u16 = 3544;

/// Decoder settings; every size limit of the decoder is here or a named constant.
#[derive(Clone, Debug)]
pub struct Config {
    /// Stamped on every record.
    pub sensor_id: SensorId,
    /// UDP and TCP ports whose payload is DNS (either side).
    pub dns_ports: Vec<u16>,
    /// All buffered IP fragment bytes together; the oldest datagrams are dropped (and
    /// counted) to make room.
    pub max_fragment_bytes: usize,
    /// A datagram whose fragments do not all arrive within this is dropped.
    pub fragment_timeout_us: i64,
    /// Buffered bytes of one TCP flow (a partial message plus out-of-order segments).
    pub max_tcp_flow_bytes: usize,
    /// Buffered bytes of all TCP flows together.
    pub max_tcp_total_bytes: usize,
    /// A TCP flow without a segment for this long is flushed and forgotten.
    pub tcp_idle_timeout_us: i64,
    /// TCP flows tracked at once; segments of new flows beyond it are counted and ignored.
    pub max_tcp_flows: usize,
    /// Bytes of rendered rdata kept to skip re-rendering repeated answers (0: off).
    pub rdata_cache_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sensor_id: None,
            dns_ports: vec![53, MDNS_PORT, 5355],
            max_fragment_bytes: 8 << 20,
            fragment_timeout_us: 30_000_000,
            max_tcp_flow_bytes: 256 << 10,
            max_tcp_total_bytes: 64 << 20,
            tcp_idle_timeout_us: 60_000_000,
            max_tcp_flows: 100_000,
            rdata_cache_bytes: 16 << 20,
        }
    }
}

/// A set of ports as a bitmap: one lookup per packet, whatever the number of ports.
#[derive(Clone)]
struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    fn new(ports: &[u16]) -> Self {
        let mut bits = Box::new([0_u64; 1024]);
        for &p in ports {
            if let Some(word) = bits.get_mut(usize::from(p >> 6)) {
                *word |= 1 << (p & 63);
            }
        }
        Self(bits)
    }

    fn contains(&self, port: u16) -> bool {
        self.0
            .get(usize::from(port >> 6))
            .is_some_and(|word| word & (1 << (port & 63)) != 0)
    }
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports: Vec<u16> = (0..=u16::MAX).filter(|p| self.contains(*p)).collect();
        f.debug_tuple("PortSet").field(&ports).finish()
    }
}

/// Turns captured frames into DNS records: one per answer of every response seen.
///
/// Holds the state that spans frames (IP fragments, TCP streams, the rdata cache), all
/// bounded by [`Config`]. Feed frames in capture order with [`Decoder::frame`], call
/// [`Decoder::finish`] at the end of input.
#[derive(Debug)]
pub struct Decoder {
    config: Config,
    ports: PortSet,
    limits: Limits,
    counters: Counters,
    dns: MessageDecoder,
    defrag: Defrag,
    tcp: TcpTable,
    last_expire_us: Option<i64>,
}

/// One transport-layer packet: addresses, protocol and payload.
#[derive(Clone, Copy)]
struct Packet<'a> {
    ts: i64,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    payload: &'a [u8],
    depth: usize,
    /// Cut by the capture's snap length: not to be used as a fragment.
    truncated: bool,
}

impl Decoder {
    #[must_use]
    pub fn new(config: Config) -> Self {
        let limits = Limits {
            flow_bytes: config.max_tcp_flow_bytes,
            total_bytes: config.max_tcp_total_bytes,
            flows: config.max_tcp_flows,
            idle_us: config.tcp_idle_timeout_us,
        };
        Self {
            ports: PortSet::new(&config.dns_ports),
            limits,
            counters: Counters::default(),
            dns: MessageDecoder::new(config.rdata_cache_bytes),
            defrag: Defrag::default(),
            tcp: TcpTable::default(),
            last_expire_us: None,
            config,
        }
    }

    /// One captured frame at time `ts_us` (µs since epoch). Appends records for every
    /// DNS response found (several when a frame completes TCP messages or fragments).
    pub fn frame(&mut self, link: LinkType, ts_us: i64, data: &[u8], out: &mut Vec<Record>) {
        self.counters.frames += 1;
        match self.last_expire_us {
            None => self.last_expire_us = Some(ts_us),
            Some(last) if ts_us.saturating_sub(last) >= EXPIRE_INTERVAL_US => {
                self.expire(ts_us, out);
            }
            Some(_) => {}
        }
        match link::network(link, data) {
            Ok(net) => self.network(ts_us, net, 0, out),
            Err(miss) => self.miss(miss),
        }
    }

    /// Expires idle TCP flows (decoding what they hold) and stale fragments. [`frame`]
    /// already does this once per second of capture time; call it when the capture is
    /// quiet to let go of memory.
    ///
    /// [`frame`]: Decoder::frame
    pub fn expire(&mut self, now_us: i64, out: &mut Vec<Record>) {
        self.last_expire_us = Some(now_us);
        self.defrag
            .expire(now_us, self.config.fragment_timeout_us, &mut self.counters);
        let mut sink = Sink {
            dns: &mut self.dns,
            counters: &mut self.counters,
            out,
            sensor_id: &self.config.sensor_id,
        };
        self.tcp.expire(now_us, &self.limits, &mut sink);
    }

    /// End of input: decodes what TCP streams still hold and drops incomplete fragments
    /// (counted).
    pub fn finish(&mut self, out: &mut Vec<Record>) {
        self.defrag.finish(&mut self.counters);
        let mut sink = Sink {
            dns: &mut self.dns,
            counters: &mut self.counters,
            out,
            sensor_id: &self.config.sensor_id,
        };
        self.tcp.finish(&self.limits, &mut sink);
    }

    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn miss(&mut self, miss: Miss) {
        match miss {
            Miss::Skip(r) => self.counters.skip(r),
            Miss::Anomaly(r) => self.counters.anomaly(r),
        }
    }

    fn network(&mut self, ts: i64, net: Network<'_>, depth: usize, out: &mut Vec<Record>) {
        if depth > MAX_ENCAPSULATION_DEPTH {
            self.counters.anomaly(reason::TOO_MANY_LAYERS);
            return;
        }
        match net {
            Network::Ipv4(p) => self.ipv4(ts, p, depth, out),
            Network::Ipv6(p) => self.ipv6(ts, p, depth, out),
        }
    }

    fn ipv4(&mut self, ts: i64, pkt: &[u8], depth: usize, out: &mut Vec<Record>) {
        self.counters.ip_packets += 1;
        let (Some(&vihl), Some(total), Some(frag), Some(&proto)) =
            (pkt.first(), be16(pkt, 2), be16(pkt, 6), pkt.get(9))
        else {
            self.counters.anomaly(reason::BAD_IP_HEADER);
            return;
        };
        let ihl = usize::from(vihl & 0xf) * 4;
        let (Some(src), Some(dst)) = (array::<4>(pkt, 12), array::<4>(pkt, 16)) else {
            self.counters.anomaly(reason::BAD_IP_HEADER);
            return;
        };
        if vihl >> 4 != 4 || ihl < 20 || pkt.len() < ihl {
            self.counters.anomaly(reason::BAD_IP_HEADER);
            return;
        }
        let total = usize::from(total);
        let mut truncated = false;
        // A zero total length is what segmentation offload leaves in captures.
        let end = if total == 0 {
            pkt.len()
        } else if total < ihl {
            self.counters.anomaly(reason::BAD_IP_HEADER);
            return;
        } else if total > pkt.len() {
            truncated = true;
            self.counters.anomaly(reason::IP_TRUNCATED);
            pkt.len()
        } else {
            total
        };
        let (src, dst) = (
            IpAddr::V4(Ipv4Addr::from(src)),
            IpAddr::V4(Ipv4Addr::from(dst)),
        );
        let payload = pkt.get(ihl..end).unwrap_or_default();
        let more = frag & 0x2000 != 0;
        let offset = usize::from(frag & 0x1fff) * 8;
        let packet = Packet {
            ts,
            src,
            dst,
            proto,
            payload,
            depth,
            truncated,
        };
        if !more && offset == 0 {
            self.transport(packet, out);
            return;
        }
        if truncated {
            // A fragment cut by the snap length would poison its datagram.
            return;
        }
        let key = FragKey {
            src,
            dst,
            id: u32::from(be16(pkt, 4).unwrap_or(0)),
            proto,
        };
        let frag = Fragment {
            offset,
            more,
            data: payload,
            proto: Some(proto),
        };
        self.reassemble(packet, key, frag, out);
    }

    fn reassemble(
        &mut self,
        packet: Packet<'_>,
        key: FragKey,
        frag: Fragment<'_>,
        out: &mut Vec<Record>,
    ) {
        self.counters.ip_fragments += 1;
        let max = self.config.max_fragment_bytes;
        let Some((proto, buf)) = self
            .defrag
            .insert(packet.ts, key, frag, max, &mut self.counters)
        else {
            return;
        };
        self.counters.ip_reassembled += 1;
        let whole = Packet {
            proto,
            payload: &buf,
            ..packet
        };
        if key.proto == 0 {
            // IPv6: the rebuilt payload may start with more extension headers.
            self.ipv6_chain(whole, true, out);
        } else {
            self.transport(whole, out);
        }
        self.defrag.recycle(buf);
    }

    fn ipv6(&mut self, ts: i64, pkt: &[u8], depth: usize, out: &mut Vec<Record>) {
        self.counters.ip_packets += 1;
        let (Some(&v), Some(plen), Some(&next), Some(src), Some(dst)) = (
            pkt.first(),
            be16(pkt, 4),
            pkt.get(6),
            array::<16>(pkt, 8),
            array::<16>(pkt, 24),
        ) else {
            self.counters.anomaly(reason::BAD_IP_HEADER);
            return;
        };
        if v >> 4 != 6 {
            self.counters.anomaly(reason::BAD_IP_HEADER);
            return;
        }
        let plen = usize::from(plen);
        // Zero: a jumbogram or segmentation offload; take what was captured.
        let truncated = plen != 0 && 40 + plen > pkt.len();
        let end = if plen == 0 {
            pkt.len()
        } else if truncated {
            self.counters.anomaly(reason::IP_TRUNCATED);
            pkt.len()
        } else {
            40 + plen
        };
        let packet = Packet {
            ts,
            src: IpAddr::V6(Ipv6Addr::from(src)),
            dst: IpAddr::V6(Ipv6Addr::from(dst)),
            proto: next,
            payload: pkt.get(40..end).unwrap_or_default(),
            depth,
            truncated,
        };
        self.ipv6_chain(packet, false, out);
    }

    /// Walks IPv6 extension headers from `packet.proto`; at a fragment header hands the
    /// rest to reassembly.
    fn ipv6_chain(&mut self, mut packet: Packet<'_>, reassembled: bool, out: &mut Vec<Record>) {
        for _ in 0..MAX_IPV6_EXTENSION_HEADERS {
            let p = packet.payload;
            let len = match packet.proto {
                // Hop-by-hop, routing, destination options, mobility, HIP, shim6,
                // experimental: (length + 1) * 8 octets.
                0 | 43 | 60 | 135 | 139 | 140 | 253 | 254 => {
                    p.get(1).map(|l| (usize::from(*l) + 1) * 8)
                }
                // Authentication header: (length + 2) * 4 octets.
                51 => p.get(1).map(|l| (usize::from(*l) + 2) * 4),
                44 => {
                    let (Some(&next), Some(off)) = (p.first(), be16(p, 2)) else {
                        self.counters.anomaly(reason::BAD_IPV6_EXTENSION);
                        return;
                    };
                    let data = p.get(8..).unwrap_or_default();
                    let (offset, more) = (usize::from(off >> 3) * 8, off & 1 == 1);
                    if offset == 0 && !more {
                        // An atomic fragment (RFC 6946): nothing to reassemble.
                        packet.proto = next;
                        packet.payload = data;
                        continue;
                    }
                    if reassembled {
                        self.counters.anomaly(reason::BAD_FRAGMENT);
                        return;
                    }
                    if packet.truncated {
                        // A fragment cut by the snap length would poison its datagram.
                        return;
                    }
                    let id = be32(p, 4).unwrap_or(0);
                    let key = FragKey {
                        src: packet.src,
                        dst: packet.dst,
                        id,
                        proto: 0,
                    };
                    let frag = Fragment {
                        offset,
                        more,
                        data,
                        proto: (offset == 0).then_some(next),
                    };
                    self.reassemble(packet, key, frag, out);
                    return;
                }
                _ => {
                    self.transport(packet, out);
                    return;
                }
            };
            let (Some(len), Some(&next)) = (len, p.first()) else {
                self.counters.anomaly(reason::BAD_IPV6_EXTENSION);
                return;
            };
            let Some(rest) = p.get(len..) else {
                self.counters.anomaly(reason::BAD_IPV6_EXTENSION);
                return;
            };
            packet.proto = next;
            packet.payload = rest;
        }
        self.counters.anomaly(reason::BAD_IPV6_EXTENSION);
    }

    fn transport(&mut self, packet: Packet<'_>, out: &mut Vec<Record>) {
        match packet.proto {
            17 => self.udp(packet, out),
            6 => self.tcp(packet, out),
            4 => self.network(
                packet.ts,
                Network::Ipv4(packet.payload),
                packet.depth + 1,
                out,
            ),
            41 => self.network(
                packet.ts,
                Network::Ipv6(packet.payload),
                packet.depth + 1,
                out,
            ),
            47 => self.gre(packet, out),
            50 => self.counters.skip(reason::ESP),
            _ => self.counters.skip(reason::NON_UDP_TCP),
        }
    }

    fn udp(&mut self, packet: Packet<'_>, out: &mut Vec<Record>) {
        let p = packet.payload;
        let (Some(sport), Some(dport), Some(ulen)) = (be16(p, 0), be16(p, 2), be16(p, 4)) else {
            self.counters.anomaly(reason::BAD_TRANSPORT_HEADER);
            return;
        };
        let ulen = usize::from(ulen);
        let end = if ulen < 8 {
            // Zero in IPv6 jumbograms; anything else below 8 is wrong, take what is there.
            p.len()
        } else if ulen > p.len() {
            self.counters.anomaly(reason::IP_TRUNCATED);
            p.len()
        } else {
            ulen
        };
        let data = p.get(8..end).unwrap_or_default();
        if self.ports.contains(sport) || self.ports.contains(dport) {
            self.counters.udp_dns += 1;
            let meta = MessageMeta {
                ts_us: packet.ts,
                client: Some(packet.dst),
                server: Some(packet.src),
                sensor_id: self.config.sensor_id.clone(),
                mdns: sport == MDNS_PORT || dport == MDNS_PORT,
            };
            self.dns.decode(data, &meta, out, &mut self.counters);
            return;
        }
        let inner = packet.depth + 1;
        if sport == ENCRYPTED_DNS_PORT || dport == ENCRYPTED_DNS_PORT {
            self.counters.skip(reason::ENCRYPTED_DNS);
        } else if dport == VXLAN_PORT {
            // 8-byte header with the I flag, then Ethernet.
            match data.get(8..) {
                Some(frame) if data.first().is_some_and(|f| f & 0x08 != 0) => {
                    self.ethernet_payload(packet.ts, frame, inner, out);
                }
                _ => self.counters.skip(reason::TUNNEL_PAYLOAD),
            }
        } else if dport == GENEVE_PORT {
            let opt_len = data.first().map_or(0, |b| usize::from(b & 0x3f) * 4);
            match (be16(data, 2), data.get(8 + opt_len..)) {
                (Some(0x6558), Some(frame)) => self.ethernet_payload(packet.ts, frame, inner, out),
                (Some(0x0800), Some(ip)) => self.network(packet.ts, Network::Ipv4(ip), inner, out),
                (Some(0x86dd), Some(ip)) => self.network(packet.ts, Network::Ipv6(ip), inner, out),
                _ => self.counters.skip(reason::TUNNEL_PAYLOAD),
            }
        } else if sport == TEREDO_PORT || dport == TEREDO_PORT {
            match teredo_ipv6(data) {
                Some(ip) => self.network(packet.ts, Network::Ipv6(ip), inner, out),
                None => self.counters.skip(reason::TUNNEL_PAYLOAD),
            }
        } else {
            self.counters.skip(reason::NON_DNS_PORT);
        }
    }

    fn ethernet_payload(&mut self, ts: i64, frame: &[u8], depth: usize, out: &mut Vec<Record>) {
        match link::ethernet(frame) {
            Ok(net) => self.network(ts, net, depth, out),
            Err(miss) => self.miss(miss),
        }
    }

    fn gre(&mut self, packet: Packet<'_>, out: &mut Vec<Record>) {
        let p = packet.payload;
        let (Some(flags), Some(proto)) = (be16(p, 0), be16(p, 2)) else {
            self.counters.anomaly(reason::BAD_TRANSPORT_HEADER);
            return;
        };
        // Version 0 only (1 is PPTP's enhanced GRE); no source routing.
        if flags & 0x7 != 0 || flags & 0x4000 != 0 {
            self.counters.skip(reason::TUNNEL_PAYLOAD);
            return;
        }
        let mut header = 4;
        for bit in [0x8000, 0x2000, 0x1000] {
            if flags & bit != 0 {
                header += 4;
            }
        }
        let Some(inner) = p.get(header..) else {
            self.counters.anomaly(reason::BAD_TRANSPORT_HEADER);
            return;
        };
        let depth = packet.depth + 1;
        match proto {
            0x0800 => self.network(packet.ts, Network::Ipv4(inner), depth, out),
            0x86dd => self.network(packet.ts, Network::Ipv6(inner), depth, out),
            0x6558 => self.ethernet_payload(packet.ts, inner, depth, out),
            // ERSPAN type II: an 8-byte header when GRE has a sequence number (type I
            // has none), then Ethernet.
            0x88be => {
                let skip = if flags & 0x1000 != 0 { 8 } else { 0 };
                match inner.get(skip..) {
                    Some(frame) => self.ethernet_payload(packet.ts, frame, depth, out),
                    None => self.counters.anomaly(reason::BAD_TRANSPORT_HEADER),
                }
            }
            _ => self.counters.skip(reason::TUNNEL_PAYLOAD),
        }
    }

    fn tcp(&mut self, packet: Packet<'_>, out: &mut Vec<Record>) {
        let p = packet.payload;
        let (Some(sport), Some(dport), Some(seq), Some(ack), Some(&off), Some(&flags)) = (
            be16(p, 0),
            be16(p, 2),
            be32(p, 4),
            be32(p, 8),
            p.get(12),
            p.get(13),
        ) else {
            self.counters.anomaly(reason::BAD_TRANSPORT_HEADER);
            return;
        };
        if !(self.ports.contains(sport) || self.ports.contains(dport)) {
            if sport == ENCRYPTED_DNS_PORT || dport == ENCRYPTED_DNS_PORT {
                self.counters.skip(reason::ENCRYPTED_DNS);
            } else {
                self.counters.skip(reason::NON_DNS_PORT);
            }
            return;
        }
        let header = usize::from(off >> 4) * 4;
        let Some(payload) = p.get(header..).filter(|_| header >= 20) else {
            self.counters.anomaly(reason::BAD_TRANSPORT_HEADER);
            return;
        };
        self.counters.tcp_segments += 1;
        let seg = Segment {
            ts: packet.ts,
            src: packet.src,
            dst: packet.dst,
            sport,
            dport,
            seq,
            ack,
            flags: flags & (tcp::FIN | tcp::SYN | tcp::RST | tcp::ACK),
            payload,
        };
        let mut sink = Sink {
            dns: &mut self.dns,
            counters: &mut self.counters,
            out,
            sensor_id: &self.config.sensor_id,
        };
        self.tcp.segment(&seg, &self.limits, &mut sink);
    }
}

/// The IPv6 packet in a Teredo datagram, after its optional authentication and origin
/// indicators (RFC 4380 §5.1.1).
fn teredo_ipv6(mut data: &[u8]) -> Option<&[u8]> {
    if be16(data, 0) == Some(0x0001) {
        let id_len = usize::from(*data.get(2)?);
        let au_len = usize::from(*data.get(3)?);
        data = data.get(4 + id_len + au_len + 9..)?;
    }
    if be16(data, 0) == Some(0x0000) {
        data = data.get(8..)?;
    }
    (data.first()? >> 4 == 6 && data.len() >= 40).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use proptest::prelude::*;

    const ETH: LinkType = LinkType::ETHERNET;

    fn run_with(config: Config, frames: &[Vec<u8>]) -> (Vec<Record>, Counters) {
        let mut dec = Decoder::new(config);
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            dec.frame(ETH, 1_000_000 + i as i64 * 1000, f, &mut out);
        }
        dec.finish(&mut out);
        (out, dec.counters().clone())
    }

    fn run(frames: &[Vec<u8>]) -> (Vec<Record>, Counters) {
        run_with(Config::default(), frames)
    }

    fn answers(out: &[Record]) -> Vec<String> {
        out.iter()
            .map(|r| match r {
                Record::Answer(o) => format!("{} {} {}", o.rrname, o.rrtype, o.rdata),
                Record::Negative(n) => format!("{} {} {}", n.qname, n.qtype, n.rcode),
                Record::Tuple(_) => String::new(),
            })
            .collect()
    }

    /// The scenarios the corpus lacks are also kept as captures under `testdata/wire/`,
    /// with the answers they hold (`dnsrecall sniff` is checked on them end to end by the
    /// CLI's golden test). `DNSRECALL_BLESS=1` rewrites them after a deliberate change.
    #[test]
    fn testdata_captures_match_their_scenarios() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/wire");
        let bless = std::env::var_os("DNSRECALL_BLESS").is_some();
        let scenarios = [
            ("vlan-qinq", scenario_vlan_qinq()),
            (
                "ipv4-fragments-reversed",
                scenario_ipv4_fragments_reversed(),
            ),
            ("tcp-reordered", scenario_tcp_reordered()),
        ];
        for (name, frames) in scenarios {
            let bytes = pcap_file(&frames);
            let (out, c) = run(&frames);
            assert_eq!(c.total_anomalies(), 0, "{name}");
            let mut lines = answers(&out);
            lines.sort();
            lines.dedup();
            let expected = lines.join("\n") + "\n";
            let (pcap, exp) = (
                dir.join(format!("{name}.pcap")),
                dir.join(format!("{name}.expected")),
            );
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&pcap, &bytes).unwrap();
                std::fs::write(&exp, &expected).unwrap();
            }
            let hint = "out of date: rerun with DNSRECALL_BLESS=1 after checking the change";
            assert!(
                std::fs::read(&pcap).unwrap() == bytes,
                "{} {hint}",
                pcap.display()
            );
            assert_eq!(
                std::fs::read_to_string(&exp).unwrap(),
                expected,
                "{} {hint}",
                exp.display()
            );
        }
    }

    #[test]
    fn ethernet_vlan_and_qinq_udp_responses() {
        let (out, c) = run(&scenario_vlan_qinq());
        assert_eq!(answers(&out), vec!["www.example.com A 192.0.2.7"; 4]);
        let Record::Answer(o) = &out[0] else {
            panic!("not an answer")
        };
        assert_eq!(o.server, Some(IpAddr::V4(SERVER4)));
        assert_eq!(o.client, Some(IpAddr::V4(CLIENT4)));
        assert_eq!(o.time, 1_000_000);
        assert_eq!((c.frames, c.udp_dns, c.responses), (4, 4, 4));
        assert_eq!(c.total_anomalies(), 0);
    }

    #[test]
    fn ipv6_with_extension_headers() {
        let (src, dst) = (
            "2001:db8::53".parse().unwrap(),
            "2001:db8::10".parse().unwrap(),
        );
        let msg = a_response(2, "v6.example", 9);
        let hop_by_hop = (0, vec![0, 1, 4, 0, 0, 0, 0]);
        let dest_opts = (60, vec![0, 1, 4, 0, 0, 0, 0]);
        let frames = vec![
            ethernet(
                &[],
                0x86dd,
                &ipv6(
                    src,
                    dst,
                    std::slice::from_ref(&hop_by_hop),
                    17,
                    &udp(53, 5000, &msg),
                ),
            ),
            ethernet(
                &[],
                0x86dd,
                &ipv6(src, dst, &[hop_by_hop, dest_opts], 17, &udp(53, 5000, &msg)),
            ),
        ];
        let (out, c) = run(&frames);
        assert_eq!(answers(&out), vec!["v6.example A 192.0.2.9"; 2]);
        let Record::Answer(o) = &out[0] else {
            panic!("not an answer")
        };
        assert_eq!(o.client, Some(IpAddr::V6(dst)));
        assert_eq!(c.total_anomalies(), 0);
    }

    /// A response large enough to need fragments: many A records.
    #[test]
    fn fragmented_ipv4_out_of_order() {
        let (out, c) = run(&scenario_ipv4_fragments_reversed());
        assert_eq!(out.len(), 100);
        assert_eq!(answers(&out)[99], "big.example A 198.51.100.99");
        assert_eq!((c.ip_fragments, c.ip_reassembled), (2, 1));
        assert_eq!(c.total_anomalies(), 0);
    }

    #[test]
    fn fragmented_ipv6() {
        let (src, dst) = (
            "2001:db8::53".parse().unwrap(),
            "2001:db8::10".parse().unwrap(),
        );
        let datagram = udp(53, 40000, &big_response(4));
        let cut = 1000;
        let frag = |off: usize, more: bool, id: u32| {
            let mut h = vec![0];
            h.extend_from_slice(&(((off / 8) as u16) << 3 | u16::from(more)).to_be_bytes());
            h.extend_from_slice(&id.to_be_bytes());
            (44_u8, h)
        };
        let first = ipv6(src, dst, &[frag(0, true, 9)], 17, &datagram[..cut]);
        let second = ipv6(src, dst, &[frag(cut, false, 9)], 17, &datagram[cut..]);
        let (out, c) = run(&[
            ethernet(&[], 0x86dd, &first),
            ethernet(&[], 0x86dd, &second),
        ]);
        assert_eq!(out.len(), 100);
        assert_eq!(c.ip_reassembled, 1);
        assert_eq!(c.total_anomalies(), 0);
    }

    #[test]
    fn tcp_reassembly_out_of_order_and_retransmitted() {
        let frames = scenario_tcp_reordered();
        let mut dec = Decoder::new(Config::default());
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            dec.frame(ETH, 1_000_000 + i as i64, f, &mut out);
        }
        assert_eq!(
            answers(&out),
            vec![
                "one.example A 192.0.2.1",
                "two.example A 192.0.2.2",
                "three.example A 192.0.2.3",
            ]
        );
        assert_eq!(dec.tcp.len(), 0, "both FINs close the flow");
        let c = dec.counters();
        assert_eq!((c.tcp_dns_messages, c.responses, c.queries), (4, 3, 1));
        assert_eq!(c.skipped_count(reason::TCP_RETRANSMISSION), 1);
        assert_eq!(c.total_anomalies(), 0, "{:?}", c.anomalies);
        let Record::Answer(o) = &out[2] else {
            panic!("not an answer")
        };
        assert_eq!(o.server, Some(IpAddr::V4(SERVER4)));
        assert_eq!(
            o.time, 1_000_007,
            "time of the segment completing the message"
        );
    }

    #[test]
    fn tcp_gap_resynchronises_on_ack() {
        let (m1, m2, m3) = (
            framed(&a_response(21, "one.example", 1)),
            framed(&a_response(22, "lost.example", 2)),
            framed(&a_response(23, "three.example", 3)),
        );
        let s1 = 5000_u32;
        let s2 = s1 + m1.len() as u32;
        let s3 = s2 + m2.len() as u32;
        let end = s3 + m3.len() as u32;
        let frames = vec![
            tcp_frame(true, s1, 1, tcp::ACK, &m1),
            // m2 is never captured; m3 waits for it until the client acknowledges all.
            tcp_frame(true, s3, 1, tcp::ACK, &m3),
            tcp_frame(false, 1, end, tcp::ACK, &[]),
        ];
        let (out, c) = run(&frames);
        assert_eq!(
            answers(&out),
            vec!["one.example A 192.0.2.1", "three.example A 192.0.2.3"]
        );
        assert_eq!(c.anomaly_count(reason::TCP_GAP), 1);
    }

    #[test]
    fn tcp_gap_into_garbage_resynchronises_at_the_next_segment() {
        let m1 = framed(&a_response(31, "one.example", 1));
        let m2 = framed(&a_response(32, "two.example", 2));
        let after = 100 + m1.len() as u32;
        let frames = vec![
            tcp_frame(true, 100, 1, tcp::ACK, &m1[..20]),
            // The rest of m1 is lost; what follows starts mid-message.
            tcp_frame(true, 100 + 30, 1, tcp::ACK, &m1[30..]),
            tcp_frame(false, 1, after, tcp::ACK, &[]),
            // A retransmission of skipped bytes changes nothing; the next segment
            // starts a message again.
            tcp_frame(true, 100 + 30, 1, tcp::ACK, &m1[30..]),
            tcp_frame(true, after, 1, tcp::ACK, &m2),
        ];
        let (out, c) = run(&frames);
        assert_eq!(answers(&out), vec!["two.example A 192.0.2.2"]);
        assert_eq!(c.anomaly_count(reason::TCP_GAP), 1);
        assert_eq!(c.anomaly_count(reason::TCP_DESYNC), 1);
    }

    #[test]
    fn tcp_picked_up_mid_message() {
        let m1 = framed(&a_response(33, "one.example", 1));
        let m2 = framed(&a_response(34, "two.example", 2));
        let frames = vec![
            // The capture starts inside m1: its tail must not be taken as a message.
            tcp_frame(true, 500, 1, tcp::ACK, &m1[7..]),
            tcp_frame(true, 500 + (m1.len() - 7) as u32, 1, tcp::ACK, &m2),
        ];
        let (out, c) = run(&frames);
        assert_eq!(answers(&out), vec!["two.example A 192.0.2.2"]);
        assert_eq!(c.anomaly_count(reason::TCP_DESYNC), 1);
    }

    #[test]
    fn tcp_limits_and_idle_expiry() {
        let m1 = framed(&a_response(41, "one.example", 1));
        // Per flow: a partial message over the budget is dropped, and counted.
        let config = Config {
            max_tcp_flow_bytes: 10,
            ..Config::default()
        };
        let (out, c) = run_with(config, &[tcp_frame(true, 1, 1, tcp::ACK, &m1[..20])]);
        assert!(out.is_empty());
        assert_eq!(c.anomaly_count(reason::TCP_MEMORY_LIMIT), 1);

        // Flow table: one flow at most.
        let config = Config {
            max_tcp_flows: 1,
            ..Config::default()
        };
        let other = ethernet(
            &[],
            0x0800,
            &ipv4(
                SERVER4,
                CLIENT4,
                6,
                1,
                0,
                &tcp(53, 41001, 1, 1, tcp::ACK, &m1),
            ),
        );
        let (out, c) = run_with(config, &[tcp_frame(true, 1, 1, tcp::ACK, &m1[..20]), other]);
        assert!(out.is_empty());
        assert_eq!(c.anomaly_count(reason::TCP_FLOW_TABLE_FULL), 1);
        assert_eq!(
            c.anomaly_count(reason::TCP_INCOMPLETE_MESSAGE),
            1,
            "at finish"
        );

        // Idle flows are flushed by the capture clock.
        let mut dec = Decoder::new(Config::default());
        let mut out = Vec::new();
        dec.frame(
            ETH,
            0,
            &tcp_frame(true, 1, 1, tcp::ACK, &m1[..20]),
            &mut out,
        );
        assert_eq!(dec.tcp.len(), 1);
        assert!(dec.tcp.total_bytes() > 0);
        dec.expire(61_000_000, &mut out);
        assert_eq!(dec.tcp.len(), 0);
        assert_eq!(dec.tcp.total_bytes(), 0);
        assert_eq!(dec.counters().skipped_count(reason::TCP_IDLE_TIMEOUT), 1);
        assert_eq!(
            dec.counters().anomaly_count(reason::TCP_INCOMPLETE_MESSAGE),
            1
        );
    }

    #[test]
    fn tcp_reset_ends_the_flow() {
        let m1 = framed(&a_response(51, "one.example", 1));
        let frames = vec![
            tcp_frame(true, 1, 1, tcp::ACK, &m1[..20]),
            tcp_frame(false, 1, 21, tcp::RST, &[]),
            tcp_frame(true, 21, 1, tcp::ACK, &m1[20..]),
        ];
        let (out, c) = run(&frames);
        assert!(out.is_empty());
        // One partial message dropped by the reset; the tail after it starts a new flow
        // mid-message, which does not look like DNS.
        assert_eq!(c.anomaly_count(reason::TCP_INCOMPLETE_MESSAGE), 1);
        assert_eq!(c.anomaly_count(reason::TCP_DESYNC), 1);
    }

    #[test]
    fn negative_answers_and_skips() {
        let nx = response(61, 3, &wire_name("nope.example"), 28, &[]);
        let arp = ethernet(&[], 0x0806, &[0; 28]);
        let https = ethernet(
            &[],
            0x0800,
            &ipv4(SERVER4, CLIENT4, 17, 1, 0, &udp(443, 5000, &nx)),
        );
        let dot = ethernet(
            &[],
            0x0800,
            &ipv4(
                SERVER4,
                CLIENT4,
                6,
                1,
                0,
                &tcp(853, 5000, 1, 1, tcp::ACK, &nx),
            ),
        );
        let icmp = ethernet(&[], 0x0800, &ipv4(SERVER4, CLIENT4, 1, 1, 0, &[8, 0, 0, 0]));
        let frames = vec![udp_response_frame(&nx), arp, https, dot, icmp, vec![0; 6]];
        let (out, c) = run(&frames);
        assert_eq!(answers(&out), vec!["nope.example AAAA NXDOMAIN"]);
        assert_eq!(c.negatives, 1);
        for r in [
            reason::NON_IP,
            reason::NON_DNS_PORT,
            reason::ENCRYPTED_DNS,
            reason::NON_UDP_TCP,
        ] {
            assert_eq!(c.skipped_count(r), 1, "{r}");
        }
        assert_eq!(c.anomaly_count(reason::SHORT_FRAME), 1);
        let mut dec = Decoder::new(Config::default());
        dec.frame(LinkType(147), 0, &[0; 64], &mut Vec::new());
        assert_eq!(
            dec.counters().skipped_count(reason::UNSUPPORTED_LINK_TYPE),
            1
        );
    }

    #[test]
    fn malformed_messages_in_frames_are_counted() {
        let qname = wire_name("loop.example");
        let looped = response(71, 0, &qname, 1, &[(b"\xc0\x1e", 1, 1, &[1, 2, 3, 4])]);
        let mut cut = a_response(72, "cut.example", 1);
        cut.truncate(cut.len() - 3);
        let (out, c) = run(&[udp_response_frame(&looped), udp_response_frame(&cut)]);
        assert!(out.is_empty());
        assert_eq!(c.anomaly_count(reason::DNS_COMPRESSION_LOOP), 1);
        assert_eq!(c.anomaly_count(reason::DNS_TRUNCATED_RECORD), 1);
    }

    #[test]
    fn tunnels() {
        let msg = a_response(81, "tunnel.example", 5);
        let inner_ip = ipv4(SERVER4, CLIENT4, 17, 1, 0, &udp(53, 40000, &msg));
        let inner_eth = ethernet(&[], 0x0800, &inner_ip);
        let outer = |proto: u8, payload: &[u8]| {
            ethernet(
                &[],
                0x0800,
                &ipv4(
                    [10, 0, 0, 1].into(),
                    [10, 0, 0, 2].into(),
                    proto,
                    9,
                    0,
                    payload,
                ),
            )
        };
        let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vxlan.extend_from_slice(&inner_eth);
        let mut gre_ip = vec![0, 0, 0x08, 0x00];
        gre_ip.extend_from_slice(&inner_ip);
        let mut gre_teb = vec![0x20, 0, 0x65, 0x58, 0, 0, 0, 7];
        gre_teb.extend_from_slice(&inner_eth);
        let v6 = ipv6(
            "2001:db8::53".parse().unwrap(),
            "2001:0:4136:e378::1".parse().unwrap(),
            &[],
            17,
            &udp(53, 40000, &msg),
        );
        let mut teredo = vec![0, 0, 0x9c, 0x40, 1, 2, 3, 4];
        teredo.extend_from_slice(&v6);
        let frames = vec![
            outer(17, &udp(50000, VXLAN_PORT, &vxlan)),
            outer(47, &gre_ip),
            outer(47, &gre_teb),
            outer(4, &inner_ip),
            outer(41, &v6),
            outer(17, &udp(TEREDO_PORT, 50001, &teredo)),
        ];
        let (out, c) = run(&frames);
        assert_eq!(answers(&out), vec!["tunnel.example A 192.0.2.5"; 6]);
        assert_eq!(c.total_anomalies(), 0, "{:?}", c.anomalies);

        // A tunnel in a tunnel in ... stops at the depth limit.
        let mut nested = inner_ip.clone();
        for _ in 0..=MAX_ENCAPSULATION_DEPTH {
            nested = ipv4([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4, 9, 0, &nested);
        }
        let (out, c) = run(&[ethernet(&[], 0x0800, &nested)]);
        assert!(out.is_empty());
        assert_eq!(c.anomaly_count(reason::TOO_MANY_LAYERS), 1);
    }

    #[test]
    fn mdns_cache_flush_bit_is_not_class() {
        let mut msg = a_response(0, "host.local", 4);
        let class_at = msg.len() - 10;
        msg[class_at] = 0x80;
        let ip = ipv4(
            SERVER4,
            [224, 0, 0, 251].into(),
            17,
            1,
            0,
            &udp(5353, 5353, &msg),
        );
        let (out, _) = run(&[ethernet(&[], 0x0800, &ip)]);
        let Record::Answer(o) = &out[0] else {
            panic!("not an answer")
        };
        assert_eq!(o.class, 1);
    }

    fn valid_frames() -> Vec<Vec<u8>> {
        let msg = big_response(90);
        let datagram = udp(53, 40000, &msg);
        vec![
            udp_response_frame(&a_response(91, "a.example", 1)),
            udp_response_frame(&msg),
            ethernet(
                &[(0x8100, 3)],
                0x0800,
                &ipv4(SERVER4, CLIENT4, 17, 5, 0x2000, &datagram[..512]),
            ),
            ethernet(
                &[],
                0x0800,
                &ipv4(SERVER4, CLIENT4, 17, 5, 64, &datagram[512..]),
            ),
            tcp_frame(
                true,
                7,
                1,
                tcp::ACK,
                &framed(&a_response(92, "t.example", 2)),
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(
            link in prop::sample::select(vec![0_u32, 1, 101, 105, 108, 113, 127, 228, 229, 239, 276]),
            data in prop::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut dec = Decoder::new(Config::default());
            let mut out = Vec::new();
            dec.frame(LinkType(link), 0, &data, &mut out);
            dec.finish(&mut out);
            let mut counters = Counters::default();
            crate::decode_message(&data, &MessageMeta::default(), &mut out, &mut counters);
        }

        #[test]
        fn mutated_frames_never_panic(
            which in 0_usize..5,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut frames = valid_frames();
            let mut frame = frames.swap_remove(which);
            for (at, byte) in edits {
                let i = at.index(frame.len());
                frame[i] = byte;
            }
            if truncate {
                let n = cut.index(frame.len());
                frame.truncate(n);
            }
            let mut dec = Decoder::new(Config::default());
            let mut out = Vec::new();
            for f in valid_frames().iter().chain(std::iter::once(&frame)) {
                dec.frame(ETH, 0, f, &mut out);
            }
            dec.frame(ETH, 1, &frame, &mut out);
            dec.finish(&mut out);
            // The DNS payload on its own, mutated the same way.
            let mut counters = Counters::default();
            crate::decode_message(frame.get(42..).unwrap_or_default(), &MessageMeta::default(), &mut out, &mut counters);
        }

        #[test]
        fn mutated_messages_never_panic(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            rrtype in any::<u16>(),
        ) {
            // Every record type, with its rdata bytes mutated.
            let rdata = [0x03, b'a', b'b', b'c', 0xc0, 0x0c, 0, 1, 0, 2, 0x05, b'h', b'e', b'l', b'l', b'o', 0, 0, 0, 0, 1, 2];
            let mut msg = response(1, 0, &wire_name("x.example"), rrtype, &[(b"\xc0\x0c", rrtype, 1, &rdata)]);
            for (at, byte) in edits {
                let i = at.index(msg.len());
                msg[i] = byte;
            }
            let mut out = Vec::new();
            let mut counters = Counters::default();
            crate::decode_message(&msg, &MessageMeta::default(), &mut out, &mut counters);
        }
    }
}
