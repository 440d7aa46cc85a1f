//! Every capture of the shared corpus through the decoder, compared with the two reference
//! decoders' outputs (tshark and passivedns, see the corpus README).
//!
//! Every reference answer must be in our output, except the differences listed (with a
//! reason) in `tests/known-differences.tsv`; a listed difference that no longer happens
//! fails the test too, so the list stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dnsrecall_model::{Name, Rcode, Rdata, Record, RrType};
use dnsrecall_wire::{Config, Counters, Decoder, LinkType};
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("DNSRECALL_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    );
    assert!(
        dir.join("pcap").is_dir(),
        "corpus not found at {} (set DNSRECALL_CORPUS)",
        dir.display()
    );
    dir
}

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

/// Extra DNS ports for captures that use a non-standard one (an operator would
/// configure them the same way).
const EXTRA_PORTS: &[(&str, u16)] = &[("td-dns-udp-8053", 8053)];

fn decode(name: &str, frames: &[Frame]) -> (Vec<Record>, Counters) {
    let mut config = Config::default();
    for (capture, port) in EXTRA_PORTS {
        if *capture == name {
            config.dns_ports.push(*port);
        }
    }
    let mut decoder = Decoder::new(config);
    let mut out = Vec::new();
    for f in frames {
        decoder.frame(f.link, f.ts_us, &f.data, &mut out);
    }
    decoder.finish(&mut out);
    (out, decoder.counters().clone())
}

/// A comparable answer: `(rrname, rrtype, rdata)` canonical, or a negative answer
/// `(qname, qtype, RCODE)`.
type Key = (String, String, String);

fn answer_keys(records: &[Record]) -> BTreeSet<Key> {
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

/// tshark prints name octets as they are; the model takes octets outside printable
/// ASCII (and spaces) as RFC 1035 `\DDD` escapes, as the decoder writes them.
fn escape_octets(s: &str, escape_space: bool) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b >= 0x80 || (escape_space && b == b' ') {
            write!(out, "\\{b:03}").unwrap();
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// Type names tshark knows and the model does not.
fn parse_type(s: &str) -> Option<RrType> {
    RrType::parse(s).or(match s {
        "UINFO" => Some(RrType(100)),
        "UID" => Some(RrType(101)),
        "GID" => Some(RrType(102)),
        "UNSPEC" => Some(RrType(103)),
        _ => None,
    })
}

fn canonical(rrname: &str, rrtype: &str, rdata: &str) -> Result<Key, String> {
    let t = parse_type(rrtype).ok_or_else(|| format!("type {rrtype}"))?;
    let name = Name::new(&escape_octets(rrname, true)).map_err(|e| format!("name: {e}"))?;
    let whole_name = matches!(
        t,
        RrType::NS | RrType::CNAME | RrType::PTR | RrType::DNAME | RrType::MG | RrType::MB
    );
    // The RFC 3597 form keeps its space (and so is no name).
    let escape_space = whole_name && !rdata.starts_with("\\# ");
    let rdata =
        Rdata::new(t, &escape_octets(rdata, escape_space)).map_err(|e| format!("rdata: {e}"))?;
    Ok((name.to_string(), t.to_string(), rdata.to_string()))
}

/// The `an` rows of a tshark reference.
fn tshark_refs(path: &Path) -> (BTreeSet<Key>, Vec<String>) {
    let mut keys = BTreeSet::new();
    let mut refused = Vec::new();
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 20, "{}: {line}", path.display());
        if cols[14] != "an" {
            continue;
        }
        match canonical(cols[15], cols[16], cols[19]) {
            Ok(k) => {
                keys.insert(k);
            }
            Err(e) => refused.push(format!("{} {} {}: {e}", cols[15], cols[16], cols[19])),
        }
    }
    (keys, refused)
}

/// The responses tshark decoded: every response has at least one row (an answer, or
/// its `rcode` / `nodata` row). Rows without a transport are DNS quoted inside ICMP
/// errors, which are no responses.
fn tshark_responses(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && l.split('\t').nth(6).is_some_and(|l4| !l4.is_empty()))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (
                cols[0].to_owned(),
                cols[7].to_owned(),
                cols[2].to_owned(),
                cols[4].to_owned(),
            )
        })
        .collect::<BTreeSet<_>>()
        .len()
}

/// passivedns lines: answers and error answers (the rcode name in place of rdata).
fn passivedns_refs(path: &Path) -> (BTreeSet<Key>, Vec<String>) {
    let mut keys = BTreeSet::new();
    let mut refused = Vec::new();
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let (query, rrtype, answer) = (field("query"), field("type"), field("answer"));
        if let Some(rcode) = Rcode::from_passivedns(&answer) {
            match (Name::new(&escape_octets(&query, true)), parse_type(&rrtype)) {
                (Ok(n), Some(t)) => {
                    keys.insert((n.to_string(), t.to_string(), rcode.to_string()));
                }
                _ => refused.push(line.to_owned()),
            }
            continue;
        }
        match canonical(&query, &rrtype, &answer) {
            Ok(k) => {
                keys.insert(k);
            }
            Err(e) => refused.push(format!("{line}: {e}")),
        }
    }
    (keys, refused)
}

/// passivedns prints only part of some rdata (MX/SRV target, SOA mname, TXT first
/// string, ...): such a reference matches an answer of ours with the same owner and type
/// whose rdata holds that part in that place.
fn passivedns_matches(ours: &BTreeSet<Key>, want: &Key) -> bool {
    if ours.contains(want) {
        return true;
    }
    let (name, t, rdata) = want;
    ours.iter()
        .filter(|(n, ot, _)| n == name && ot == t)
        .any(|(_, _, r)| match t.as_str() {
            "MX" | "SRV" | "KX" | "AFSDB" | "RT" | "NAPTR" => r.rsplit(' ').next() == Some(rdata),
            "SOA" | "RP" | "MINFO" => r.split(' ').next() == Some(rdata),
            // The first string (TXT), the hash parameters without the bitmap (NSEC3).
            "TXT" | "SPF" | "NSEC3" => r.starts_with(rdata.as_str()),
            _ => false,
        })
}

/// `source capture rrname rrtype rdata reason`, tab-separated.
fn known_differences() -> BTreeMap<(String, String, Key), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/known-differences.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut known = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 6, "known-differences.tsv: {line}");
        assert!(
            !cols[5].trim().is_empty(),
            "a difference needs a reason: {line}"
        );
        let key = (
            cols[0].to_owned(),
            cols[1].to_owned(),
            (cols[2].to_owned(), cols[3].to_owned(), cols[4].to_owned()),
        );
        assert!(
            known.insert(key, cols[5].to_owned()).is_none(),
            "listed twice: {line}"
        );
    }
    known
}

#[derive(Default)]
struct Tally {
    refs: usize,
    agree: usize,
    listed: usize,
    refused: usize,
}

#[test]
fn corpus_agrees_with_references() {
    let dir = corpus_dir();
    let mut captures: Vec<PathBuf> = std::fs::read_dir(dir.join("pcap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    captures.sort();
    assert!(captures.len() >= 60, "only {} captures", captures.len());

    let known = known_differences();
    let mut seen_known = BTreeSet::new();
    let mut failures = Vec::new();
    let (mut tshark, mut pdns) = (Tally::default(), Tally::default());
    let mut total = Counters::default();
    let mut ours_total = 0;
    println!(
        "{:<40} {:>6} {:>9} {:>13} {:>13} {:>9}",
        "capture", "ours", "responses", "tshark ok/n", "pdns ok/n", "anomalies"
    );
    for path in &captures {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let frames = read_capture(path);
        let (records, counters) = decode(&name, &frames);
        let ours = answer_keys(&records);
        ours_total += ours.len();
        total.merge(&counters);

        let tsv = dir.join("tshark-ref").join(format!("{name}.tsv"));
        let t_responses = tshark_responses(&tsv);
        if counters.responses != t_responses as u64 {
            failures.push(format!(
                "{name}: {} responses decoded, tshark decoded {t_responses}",
                counters.responses
            ));
        }
        let mut check = |source: &str,
                         refs: BTreeSet<Key>,
                         refused: Vec<String>,
                         tally: &mut Tally,
                         pd: bool| {
            let (mut ok, mut n) = (0, 0);
            tally.refused += refused.len();
            for r in refused {
                println!("  {source} {name}: reference not representable: {r}");
            }
            for want in refs {
                n += 1;
                let found = if pd {
                    passivedns_matches(&ours, &want)
                } else {
                    ours.contains(&want)
                };
                let k = (source.to_owned(), name.clone(), want.clone());
                match (found, known.contains_key(&k)) {
                    (true, false) => ok += 1,
                    (false, true) => {
                        tally.listed += 1;
                        seen_known.insert(k);
                    }
                    (false, false) => failures.push(format!(
                        "{source}\t{name}\t{}\t{}\t{}\tMISSING",
                        want.0, want.1, want.2
                    )),
                    (true, true) => failures.push(format!(
                        "{source}\t{name}\t{}\t{}\t{}\tlisted as a difference but found",
                        want.0, want.1, want.2
                    )),
                }
            }
            tally.refs += n;
            tally.agree += ok;
            (ok, n)
        };
        let (tr, trefused) = tshark_refs(&tsv);
        let (t_ok, t_n) = check("tshark", tr, trefused, &mut tshark, false);
        let (pr, prefused) =
            passivedns_refs(&dir.join("passivedns-ref").join(format!("{name}.all.json")));
        let (p_ok, p_n) = check("passivedns", pr, prefused, &mut pdns, true);
        println!(
            "{name:<40} {:>6} {:>9} {:>13} {:>13} {:>9}",
            ours.len(),
            format!("{}/{t_responses}", counters.responses),
            format!("{t_ok}/{t_n}"),
            format!("{p_ok}/{p_n}"),
            counters.total_anomalies()
        );
    }
    for k in known.keys() {
        if !seen_known.contains(k) {
            failures.push(format!("{k:?}: listed but no such reference row"));
        }
    }
    println!(
        "\nours: {ours_total} distinct answers and negatives over {} captures",
        captures.len()
    );
    for (label, t) in [("tshark", &tshark), ("passivedns", &pdns)] {
        println!(
            "{label}: {} reference keys, {} agree, {} listed differences, {} not representable in the model",
            t.refs, t.agree, t.listed, t.refused
        );
    }
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
