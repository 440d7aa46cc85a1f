//! Builders of DNS responses and dnstap frames, for tests, fuzz seeds and the benchmark's
//! generator: not for untrusted input.

use prost::Message as _;

use crate::proto::{Dnstap, DnstapType, Message, MessageType};

/// A name in wire format (no compression).
#[must_use]
pub fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend(label.as_bytes());
    }
    out.push(0);
    out
}

/// A DNS response to `qname`/`qtype` with `answers` `(owner, type, ttl, rdata bytes)`.
#[must_use]
pub fn dns_response(
    id: u16,
    qname: &str,
    qtype: u16,
    rcode: u8,
    answers: &[(&str, u16, u32, Vec<u8>)],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + answers.len() * 32);
    m.extend(id.to_be_bytes());
    m.extend((0x8180u16 | u16::from(rcode & 0xf)).to_be_bytes());
    m.extend(1u16.to_be_bytes());
    m.extend(u16::try_from(answers.len()).unwrap_or(0).to_be_bytes());
    m.extend([0, 0, 0, 0]);
    m.extend(wire_name(qname));
    m.extend(qtype.to_be_bytes());
    m.extend(1u16.to_be_bytes());
    for (owner, rrtype, ttl, rdata) in answers {
        m.extend(wire_name(owner));
        m.extend(rrtype.to_be_bytes());
        m.extend(1u16.to_be_bytes());
        m.extend(ttl.to_be_bytes());
        m.extend(u16::try_from(rdata.len()).unwrap_or(0).to_be_bytes());
        m.extend(rdata);
    }
    m
}

/// A dnstap frame of `kind` carrying `response`.
#[must_use]
pub fn frame(
    kind: i32,
    identity: &str,
    client: [u8; 4],
    server: [u8; 4],
    time_sec: u64,
    time_nsec: u32,
    response: Vec<u8>,
) -> Vec<u8> {
    Dnstap {
        identity: Some(identity.as_bytes().to_vec()),
        version: Some(b"dnsrecall-test".to_vec()),
        extra: None,
        r#type: Some(DnstapType::MESSAGE),
        message: Some(Message {
            r#type: Some(kind),
            socket_family: Some(1),
            socket_protocol: Some(1),
            query_address: Some(client.to_vec()),
            response_address: Some(server.to_vec()),
            query_port: Some(40000),
            response_port: Some(53),
            query_time_sec: Some(time_sec),
            query_time_nsec: Some(time_nsec),
            response_time_sec: Some(time_sec),
            response_time_nsec: Some(time_nsec),
            response_message: Some(response),
            ..Message::default()
        }),
    }
    .encode_to_vec()
}

/// A `CLIENT_RESPONSE` frame from 10.0.0.53 to 10.0.0.1 answering `qname A` with `addr`,
/// at `time_sec` plus 123 µs.
#[must_use]
pub fn client_response(qname: &str, addr: [u8; 4], time_sec: u64, identity: &str) -> Vec<u8> {
    let response = dns_response(1, qname, 1, 0, &[(qname, 1, 300, addr.to_vec())]);
    frame(
        MessageType::CLIENT_RESPONSE,
        identity,
        [10, 0, 0, 1],
        [10, 0, 0, 53],
        time_sec,
        123_456,
        response,
    )
}
