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
