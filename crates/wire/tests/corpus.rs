//! Every capture of the shared corpus through the decoder, compared with the two reference
//! decoders' outputs (tshark and passivedns, see the corpus README).
//!
//! Every reference answer must be in our output, except the differences listed (with a
//! reason) in `tests/known-differences.tsv`; a listed difference that no longer happens
//! fails the test too, so the list stays true. The references and the comparison are in
//! `tests/refs/mod.rs`, shared with the CLI test of what `dnsrecall sniff` stores.

mod refs;

use std::collections::BTreeSet;
use std::path::Path;

use dnsrecall_model::Record;
use dnsrecall_wire::{Config, Counters, Decoder, LinkType};
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

struct Frame {
    link: LinkType,
    ts_us: i64,
    data: Vec<u8>,
}

/// Reads a legacy pcap or a pcapng file (several interfaces, each with its own link type
/// and time resolution).
fn read_capture(path: &Path) -> Vec<Frame> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = create_reader(1 << 16, file).unwrap();
    let mut frames = Vec::new();
    let mut legacy = (LinkType::ETHERNET, 1_000_000_u64);
    let mut interfaces: Vec<(LinkType, u64)> = Vec::new();
    let mut size = 1 << 16;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        let res = if h.is_nanosecond_precision() {
                            1_000_000_000
                        } else {
                            1_000_000
                        };
                        legacy = (LinkType(h.network.0 as u32), res);
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let frac = i64::from(b.ts_usec) * 1_000_000 / legacy.1 as i64;
                        let len = (b.caplen as usize).min(b.data.len());
                        frames.push(Frame {
                            link: legacy.0,
                            ts_us: i64::from(b.ts_sec) * 1_000_000 + frac,
                            data: b.data[..len].to_vec(),
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push((
                            LinkType(idb.linktype.0 as u32),
                            idb.ts_resolution().unwrap_or(1_000_000),
                        ));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let (link, res) = interfaces[epb.if_id as usize];
                        let ticks = (u128::from(epb.ts_high) << 32) | u128::from(epb.ts_low);
                        let ts_us = (ticks * 1_000_000 / u128::from(res)) as i64;
                        let len = (epb.caplen as usize).min(epb.data.len());
                        frames.push(Frame {
                            link,
                            ts_us,
                            data: epb.data[..len].to_vec(),
                        });
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() {
                    break;
                }
                reader.refill().unwrap();
            }
            Err(PcapError::BufferTooSmall) => {
                size *= 2;
                reader.grow(size);
                reader.refill().unwrap();
            }
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    frames
}

fn decode(name: &str, frames: &[Frame]) -> (Vec<Record>, Counters) {
    let mut config = Config::default();
    config.dns_ports.extend(refs::extra_ports(name));
    let mut decoder = Decoder::new(config);
    let mut out = Vec::new();
    for f in frames {
        decoder.frame(f.link, f.ts_us, &f.data, &mut out);
    }
    decoder.finish(&mut out);
    (out, decoder.counters().clone())
}

fn answer_keys(records: &[Record]) -> BTreeSet<refs::Key> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Answer(o) => Some((
                o.rrname.to_string(),
                o.rrtype.to_string(),
                o.rdata.to_string(),
            )),
            Record::Negative(n) => Some((
                n.qname.to_string(),
                n.qtype.to_string(),
                n.rcode.to_string(),
            )),
            Record::Tuple(_) => None,
        })
        .collect()
}

#[test]
fn corpus_agrees_with_references() {
    let dir = refs::corpus_dir();
    let captures = refs::captures(&dir);
    let mut comparison = refs::Comparison::new(&dir);
    let mut total = Counters::default();
    let mut ours_total = 0;
    println!(
        "{:<40} {:>6} {:>9} {:>13} {:>13} {:>9}",
        "capture", "ours", "responses", "tshark ok/n", "pdns ok/n", "anomalies"
    );
    for path in &captures {
        let name = refs::capture_name(path);
        let frames = read_capture(path);
        let (records, counters) = decode(&name, &frames);
        let ours = answer_keys(&records);
        ours_total += ours.len();
        total.merge(&counters);
        let r = comparison.capture(&name, &ours, counters.responses);
        println!(
            "{name:<40} {:>6} {:>9} {:>13} {:>13} {:>9}",
            ours.len(),
            format!("{}/{}", r.responses.0, r.responses.1),
            format!("{}/{}", r.tshark.0, r.tshark.1),
            format!("{}/{}", r.passivedns.0, r.passivedns.1),
            counters.total_anomalies()
        );
    }
    println!(
        "\nours: {ours_total} distinct answers and negatives over {} captures",
        captures.len()
    );
    let failures = comparison.finish();
    println!("counters over the corpus:");
    for (k, v) in total.to_pairs() {
        if v > 0 {
            println!("  {k} = {v}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
