//! Decode throughput: synthetic frames (built in memory), and optionally capture files.
//!
//! ```text
//! cargo run --release -p dnsrecall-wire --example decode_throughput [-- FILE.pcap ...]
//! ```
//!
//! Synthetic mixes: a typical UDP response (CNAME + 2 A), the same with the rdata cache
//! off, a response with 8 distinct A records, queries only, non-DNS UDP, and DNS over
//! TCP. Each line prints frames per second for one core.

use std::hint::black_box;
use std::time::Instant;

use dnsrecall_model::Record;
use dnsrecall_wire::{Config, Decoder, LinkType};

fn name(n: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for l in n.split('.') {
        w.push(l.len() as u8);
        w.extend_from_slice(l.as_bytes());
    }
    w.push(0);
    w
}

fn message(id: u16, qr: bool, answers: &[(&[u8], u16, &[u8])]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[if qr { 0x81 } else { 0x01 }, if qr { 0x80 } else { 0 }]);
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 1]);
    m.extend_from_slice(&name("www.example.com"));
    m.extend_from_slice(&[0, 1, 0, 1]);
    for (owner, t, rdata) in answers {
        m.extend_from_slice(owner);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    // EDNS OPT
    m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    m
}

fn ipv4_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&((payload.len() + 28) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 53, 192, 0, 2, 10]);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn ipv4_tcp(seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&((payload.len() + 40) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 0, 64, 6, 0, 0, 192, 0, 2, 53, 192, 0, 2, 10]);
    f.extend_from_slice(&53_u16.to_be_bytes());
    f.extend_from_slice(&40000_u16.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

fn bench(label: &str, config: &Config, frames: &[Vec<u8>], link: LinkType, seconds: f64) {
    bench_with(label, config, frames.to_vec(), link, seconds, |_, _| {});
}

/// `next_round` prepares the frames for their next use (new TCP sequence numbers).
fn bench_with(
    label: &str,
    config: &Config,
    mut frames: Vec<Vec<u8>>,
    link: LinkType,
    seconds: f64,
    mut next_round: impl FnMut(&mut [Vec<u8>], u32),
) {
    let mut dec = Decoder::new(config.clone());
    let mut round = 0_u32;
    let mut out: Vec<Record> = Vec::with_capacity(1024);
    let mut n = 0_u64;
    let mut records = 0_u64;
    let start = Instant::now();
    let mut ts = 1_700_000_000_000_000_i64;
    while start.elapsed().as_secs_f64() < seconds {
        for f in &frames {
            ts += 10;
            dec.frame(link, ts, black_box(f), &mut out);
            n += 1;
        }
        round += 1;
        next_round(&mut frames, round);
        records += out.len() as u64;
        // The consumer (the aggregator) takes the records; keep the buffer.
        black_box(&out);
        out.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<44} {:>10.0} frames/s {:>10.0} records/s",
        n as f64 / secs,
        records as f64 / secs
    );
}

fn main() {
    let cname = name("www.example.com");
    let mut target = name("edge");
    target.truncate(target.len() - 1);
    target.extend_from_slice(&[0xc0, 0x0c]);
    let typical = message(
        1,
        true,
        &[
            (b"\xc0\x0c", 5, &target),
            (b"\xc0\x2d", 1, &[93, 184, 216, 34]),
            (b"\xc0\x2d", 1, &[93, 184, 216, 35]),
        ],
    );
    let _ = cname;
    let many: Vec<[u8; 4]> = (0..8).map(|i| [198, 51, 100, i]).collect();
    let many_answers: Vec<(&[u8], u16, &[u8])> =
        many.iter().map(|a| (&b"\xc0\x0c"[..], 1, &a[..])).collect();
    let eight = message(2, true, &many_answers);
    let query = message(3, false, &[]);

    let config = Config::default();
    let no_cache = Config {
        rdata_cache_bytes: 0,
        ..Config::default()
    };
    let eth = LinkType::ETHERNET;
    let seconds = 2.0;
    bench(
        "UDP response CNAME + 2 A",
        &config,
        &[ipv4_udp(53, 40000, &typical)],
        eth,
        seconds,
    );
    bench(
        "UDP response CNAME + 2 A, no rdata cache",
        &no_cache,
        &[ipv4_udp(53, 40000, &typical)],
        eth,
        seconds,
    );
    bench(
        "UDP response 8 A",
        &config,
        &[ipv4_udp(53, 40000, &eight)],
        eth,
        seconds,
    );
    bench(
        "UDP query",
        &config,
        &[ipv4_udp(40000, 53, &query)],
        eth,
        seconds,
    );
    bench(
        "UDP non-DNS (port 443)",
        &config,
        &[ipv4_udp(443, 40000, &typical)],
        eth,
        seconds,
    );
    let mut framed = (typical.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&typical);
    let tcp: Vec<Vec<u8>> = (0..64)
        .map(|i| ipv4_tcp(1000 + i * framed.len() as u32, &framed))
        .collect();
    let stride = (framed.len() * tcp.len()) as u32;
    bench_with(
        "TCP response CNAME + 2 A (one flow)",
        &config,
        tcp,
        eth,
        seconds,
        |frames, _| {
            // The stream goes on: every segment moves one round of bytes ahead.
            for f in frames.iter_mut() {
                let seq = u32::from_be_bytes([f[38], f[39], f[40], f[41]]).wrapping_add(stride);
                f[38..42].copy_from_slice(&seq.to_be_bytes());
            }
        },
    );
    let mix: Vec<Vec<u8>> = vec![
        ipv4_udp(40000, 53, &query),
        ipv4_udp(53, 40000, &typical),
        ipv4_udp(443, 40000, &typical),
        ipv4_udp(40000, 443, &typical),
    ];
    bench(
        "mix: query, response, 2 non-DNS",
        &config,
        &mix,
        eth,
        seconds,
    );

    for path in std::env::args().skip(1) {
        let frames = read_pcap(&path);
        let total: usize = frames.iter().map(|(_, f)| f.len()).sum();
        let mut dec = Decoder::new(Config::default());
        let mut out = Vec::new();
        let rounds = (2_000_000 / frames.len().max(1)).max(1);
        let start = Instant::now();
        for _ in 0..rounds {
            for (link, f) in &frames {
                dec.frame(*link, 0, f, &mut out);
            }
            out.clear();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{path}: {} frames x {rounds}: {:.0} frames/s, {:.1} MB/s",
            frames.len(),
            (frames.len() * rounds) as f64 / secs,
            (total * rounds) as f64 / secs / 1e6
        );
    }
}

/// Legacy pcap only (enough for the corpus files given on the command line).
fn read_pcap(path: &str) -> Vec<(LinkType, Vec<u8>)> {
    let data = std::fs::read(path).unwrap_or_default();
    if data.len() < 24 {
        return Vec::new();
    }
    let le = data[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || data[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32at = |i: usize| {
        let b = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let link = LinkType(u32at(20));
    let mut frames = Vec::new();
    let mut pos = 24;
    while pos + 16 <= data.len() {
        let cap = u32at(pos + 8) as usize;
        let end = (pos + 16 + cap).min(data.len());
        frames.push((link, data[pos + 16..end].to_vec()));
        pos += 16 + cap;
    }
    frames
}
