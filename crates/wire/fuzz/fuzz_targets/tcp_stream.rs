//! TCP reassembly: segments of one DNS-over-TCP flow, in any order, with arbitrary
//! sequence and acknowledgement numbers, overlaps, gaps and flags, built into raw IPv4
//! frames and fed to one `Decoder`.
//!
//! Input layout (big-endian):
//!
//! ```text
//! limits u8, isn_client u32, isn_server u32,
//! then per segment:  ctl u8, seq_off u32, ack_off u32, len u16, payload[len]
//! ```
//!
//! `limits` sets the decoder's TCP budgets, so that their paths are reached with small
//! inputs: bits 0-3 the bytes of one flow (16 << n: 16 B to 256 KiB, the default, at
//! 14 and 15), bits 4-6 the bytes of all flows (256 << n: 256 B to 32 KiB), bit 7 one
//! flow at most in the table.
//!
//! `ctl` bits: 0 FIN, 1 SYN, 2 RST, 3 ACK, 4 direction (0: client to server, 1: server
//! to client), 5-6 time step before the segment (1 µs, 1 ms, 1 s: an expiry run, 61 s:
//! past the idle timeout), 7: the segment goes to the other flow's ports (a second
//! connection of the same hosts). The segment's sequence number is its direction's ISN
//! plus `seq_off`, its acknowledgement the other direction's ISN plus `ack_off` (the
//! offsets make overlaps and nearby numbers easy to reach; wrap-around comes from the
//! ISNs). A payload longer than what is left is cut there.
#![no_main]

use dnsrecall_wire::{Config, Decoder, LinkType};
use libfuzzer_sys::fuzz_target;

const CLIENT: [u8; 4] = [192, 0, 2, 10];
const SERVER: [u8; 4] = [192, 0, 2, 53];
const SERVER_PORT: u16 = 53;
const CLIENT_PORTS: [u16; 2] = [40000, 40001];
/// Most segments taken from one input.
const MAX_SEGMENTS: usize = 256;
/// Largest TCP payload that fits an IPv4 packet with 20-byte IP and TCP headers.
const MAX_PAYLOAD: usize = u16::MAX as usize - 40;

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A raw IPv4 packet holding one TCP segment.
fn frame(
    to_server: bool,
    client_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let (src, dst, sport, dport) = if to_server {
        (CLIENT, SERVER, client_port, SERVER_PORT)
    } else {
        (SERVER, CLIENT, SERVER_PORT, client_port)
    };
    let total = (40 + payload.len()) as u16;
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let (Some(limits), Some(isn_client), Some(isn_server)) = (input.u8(), input.u32(), input.u32())
    else {
        return;
    };
    let config = Config {
        max_tcp_flow_bytes: 16 << (limits & 0x0f).min(14),
        max_tcp_total_bytes: 256 << ((limits >> 4) & 7),
        max_tcp_flows: if limits & 0x80 != 0 { 1 } else { 100_000 },
        ..Config::default()
    };
    let mut dec = Decoder::new(config);
    let mut out = Vec::new();
    let mut ts: i64 = 1_700_000_000_000_000;
    for _ in 0..MAX_SEGMENTS {
        let (Some(ctl), Some(seq_off), Some(ack_off), Some(len)) =
            (input.u8(), input.u32(), input.u32(), input.u16())
        else {
            break;
        };
        let len = usize::from(len).min(input.0.len()).min(MAX_PAYLOAD);
        let payload = input.take(len).unwrap_or_default();
        let to_server = ctl & 0x10 == 0;
        let (isn, peer_isn) = if to_server {
            (isn_client, isn_server)
        } else {
            (isn_server, isn_client)
        };
        // FIN, SYN, RST and ACK in their TCP header positions.
        let flags = (ctl & 0x07) | ((ctl & 0x08) << 1);
        ts += [1, 1_000, 1_000_000, 61_000_000][usize::from((ctl >> 5) & 3)];
        let client_port = CLIENT_PORTS[usize::from(ctl >> 7)];
        let f = frame(
            to_server,
            client_port,
            isn.wrapping_add(seq_off),
            peer_isn.wrapping_add(ack_off),
            flags,
            payload,
        );
        dec.frame(LinkType::IPV4, ts, &f, &mut out);
    }
    dec.expire(ts + 1, &mut out);
    dec.finish(&mut out);
});
