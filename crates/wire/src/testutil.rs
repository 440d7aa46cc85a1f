//! Builders of frames and DNS messages for tests.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A DNS response with one question and the given answers `(owner, type, ttl, rdata)`.
pub(crate) fn response(
    id: u16,
    rcode: u8,
    qname: &[u8],
    qtype: u16,
    answers: &[(&[u8], u16, u32, &[u8])],
) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x81, 0x80 | rcode]);
    m.extend_from_slice(&1_u16.to_be_bytes());
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(qname);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1_u16.to_be_bytes());
    for (owner, t, ttl, rdata) in answers {
        m.extend_from_slice(owner);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&1_u16.to_be_bytes());
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    m
}

/// `name.example A 192.0.2.<last>` answering `name.example A`.
pub(crate) fn a_response(id: u16, name: &str, last: u8) -> Vec<u8> {
    let qname = wire_name(name);
    response(
        id,
        0,
        &qname,
        1,
        &[(b"\xc0\x0c", 1, 300, &[192, 0, 2, last])],
    )
}

pub(crate) fn wire_name(name: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        w.push(label.len() as u8);
        w.extend_from_slice(label.as_bytes());
    }
    w.push(0);
    w
}

pub(crate) const SERVER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
pub(crate) const CLIENT4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

pub(crate) fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

pub(crate) fn tcp(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

/// An IPv4 packet; `frag` is the flags/offset field (MF = 0x2000, offset in 8 bytes).
pub(crate) fn ipv4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    id: u16,
    frag: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&((payload.len() + 20) as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 packet with the given extension headers `(type, body)` before `proto`.
pub(crate) fn ipv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ext: &[(u8, Vec<u8>)],
    proto: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (_, hdr)) in ext.iter().enumerate() {
        let next = ext.get(i + 1).map_or(proto, |(t, _)| *t);
        body.push(next);
        body.extend_from_slice(hdr);
    }
    body.extend_from_slice(payload);
    let first = ext.first().map_or(proto, |(t, _)| *t);
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(body.len() as u16).to_be_bytes());
    p.extend_from_slice(&[first, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&body);
    p
}

/// Ethernet with the given tags `(TPID, TCI)` before the ethertype.
pub(crate) fn ethernet(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A UDP DNS response from the server to the client in an Ethernet frame.
pub(crate) fn udp_response_frame(msg: &[u8]) -> Vec<u8> {
    let ip = ipv4(SERVER4, CLIENT4, 17, 1, 0, &udp(53, 40000, msg));
    ethernet(&[], 0x0800, &ip)
}

/// A query for `name A` (QR=0).
pub(crate) fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = response(id, 0, &wire_name(name), 1, &[]);
    m[2] = 0x01;
    m[3] = 0x00;
    m
}

/// A 100-answer response (1.6 KB): needs IP fragments over Ethernet.
pub(crate) fn big_response(id: u16) -> Vec<u8> {
    let rdatas: Vec<[u8; 4]> = (0..100).map(|i| [198, 51, 100, i]).collect();
    let answers: Vec<(&[u8], u16, u32, &[u8])> = rdatas
        .iter()
        .map(|r| (&b"\xc0\x0c"[..], 1, 60, &r[..]))
        .collect();
    response(id, 0, &wire_name("big.example"), 1, &answers)
}

pub(crate) fn tcp_frame(
    server_to_client: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let ip = if server_to_client {
        ipv4(
            SERVER4,
            CLIENT4,
            6,
            1,
            0,
            &tcp(53, 41000, seq, ack, flags, payload),
        )
    } else {
        ipv4(
            CLIENT4,
            SERVER4,
            6,
            1,
            0,
            &tcp(41000, 53, seq, ack, flags, payload),
        )
    };
    ethernet(&[], 0x0800, &ip)
}

pub(crate) fn framed(msg: &[u8]) -> Vec<u8> {
    let mut f = (msg.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(msg);
    f
}

// Scenarios the shared corpus lacks, also written as captures under testdata/wire/.

/// One response untagged, 802.1Q, 802.1ad QinQ and a triple tag.
pub(crate) fn scenario_vlan_qinq() -> Vec<Vec<u8>> {
    let msg = a_response(1, "www.example.com", 7);
    let ip = ipv4(SERVER4, CLIENT4, 17, 1, 0, &udp(53, 40000, &msg));
    vec![
        ethernet(&[], 0x0800, &ip),
        ethernet(&[(0x8100, 5)], 0x0800, &ip),
        ethernet(&[(0x88a8, 100), (0x8100, 5)], 0x0800, &ip),
        ethernet(&[(0x9100, 1), (0x8100, 2), (0x8100, 3)], 0x0800, &ip),
    ]
}

/// A large UDP response in two IPv4 fragments, the last one first.
pub(crate) fn scenario_ipv4_fragments_reversed() -> Vec<Vec<u8>> {
    let datagram = udp(53, 40000, &big_response(3));
    let cut = 800;
    let first = ipv4(SERVER4, CLIENT4, 17, 77, 0x2000, &datagram[..cut]);
    let second = ipv4(SERVER4, CLIENT4, 17, 77, (cut / 8) as u16, &datagram[cut..]);
    vec![
        ethernet(&[], 0x0800, &second),
        ethernet(&[], 0x0800, &first),
    ]
}

/// A TCP connection whose sequence numbers wrap, with two responses in one segment and a
/// third split in three parts delivered out of order with an overlapping retransmission.
pub(crate) fn scenario_tcp_reordered() -> Vec<Vec<u8>> {
    let (m1, m2, m3) = (
        framed(&a_response(11, "one.example", 1)),
        framed(&a_response(12, "two.example", 2)),
        framed(&a_response(13, "three.example", 3)),
    );
    let isn = 4_294_967_000_u32; // sequence numbers wrap inside the stream
    let s1 = isn.wrapping_add(1);
    let mut seg1 = m1.clone();
    seg1.extend_from_slice(&m2);
    let s3 = s1.wrapping_add(seg1.len() as u32);
    let (p1, p2, p3) = (&m3[..10], &m3[10..25], &m3[25..]);
    let at = |off: usize| s3.wrapping_add(off as u32);
    let (syn, ack) = (crate::tcp::SYN, crate::tcp::ACK);
    let q = framed(&query(11, "one.example"));
    let c_end = 101 + q.len() as u32;
    let frames = vec![
        tcp_frame(false, 100, 0, syn, &[]),
        tcp_frame(true, isn, 101, syn | ack, &[]),
        tcp_frame(false, 101, s1, ack, &q),
        tcp_frame(true, s1, c_end, ack, &seg1),
        // The last part first, then the first, a retransmission overlapping the
        // first and second parts, and the second.
        tcp_frame(true, at(25), c_end, ack, p3),
        tcp_frame(true, at(0), c_end, ack, p1),
        tcp_frame(true, at(5), c_end, ack, &m3[5..20]),
        tcp_frame(true, at(10), c_end, ack, p2),
        tcp_frame(true, at(0), c_end, ack, p1),
        tcp_frame(true, at(m3.len()), c_end, crate::tcp::FIN | ack, &[]),
        tcp_frame(false, c_end, at(m3.len() + 1), crate::tcp::FIN | ack, &[]),
    ];
    frames
}

/// A legacy pcap (Ethernet, microseconds) of frames one millisecond apart.
pub(crate) fn pcap_file(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [
        0xa1b2_c3d4_u32.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
    ] {
        out.extend_from_slice(v);
    }
    for v in [0u32, 0, 65_535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len()).unwrap_or(u32::MAX);
        let usec = u32::try_from(i * 1000).unwrap_or(0);
        for v in [1_700_000_000_u32, usec, len, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}
