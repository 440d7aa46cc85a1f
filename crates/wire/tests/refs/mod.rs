//! The shared corpus's reference outputs (tshark-ref, passivedns-ref, see the corpus
//! README) as comparable keys, the accepted differences of `known-differences.tsv`, and
//! the comparison of a capture's answers with them.
//!
//! Shared by the decoder test (`crates/wire/tests/corpus.rs`) and the CLI test of what
//! `dnsrecall sniff` stores (`crates/cli/tests/sniff_golden.rs`, which includes this file
//! with `#[path]`), so both hold the same references to the same list of differences.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dnsrecall_model::{Name, Rcode, Rdata, RrType};

/// The shared corpus beside the repository (`../shared/corpus`), or `DNSRECALL_CORPUS`.
/// Missing corpus is a failure, not a skip.
pub fn corpus_dir() -> PathBuf {
    // Every crate sits at `crates/<name>`, so this is the same place from each of them.
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

/// Every capture of the corpus (`pcap/*.pcap`, `pcap/*.pcapng`), sorted.
pub fn captures(dir: &Path) -> Vec<PathBuf> {
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
    captures
}

/// The capture's name: its file name without the extension, as the references are named.
pub fn capture_name(path: &Path) -> String {
    path.file_stem().unwrap().to_str().unwrap().to_owned()
}

/// Extra DNS ports for captures that use a non-standard one (an operator would
/// configure them the same way).
const EXTRA_PORTS: &[(&str, u16)] = &[("td-dns-udp-8053", 8053)];

/// The extra DNS ports to configure for this capture.
pub fn extra_ports(name: &str) -> Vec<u16> {
    EXTRA_PORTS
        .iter()
        .filter(|(capture, _)| *capture == name)
        .map(|(_, port)| *port)
        .collect()
}

/// A comparable answer: `(rrname, rrtype, rdata)` canonical, or a negative answer
/// `(qname, qtype, RCODE)`.
pub type Key = (String, String, String);

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
pub fn tshark_refs(path: &Path) -> (BTreeSet<Key>, Vec<String>) {
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
pub fn tshark_responses(path: &Path) -> usize {
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
pub fn passivedns_refs(path: &Path) -> (BTreeSet<Key>, Vec<String>) {
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
pub fn passivedns_matches(ours: &BTreeSet<Key>, want: &Key) -> bool {
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

/// `source capture rrname rrtype rdata reason`, tab-separated (`known-differences.tsv`
/// beside this directory).
pub fn known_differences() -> BTreeMap<(String, String, Key), String> {
    let text = include_str!("../known-differences.tsv");
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

/// Reference keys of one oracle over the corpus.
#[derive(Debug, Default)]
pub struct Tally {
    pub refs: usize,
    pub agree: usize,
    pub listed: usize,
    pub refused: usize,
}

/// How one capture compared: responses (ours, tshark's) and `(agreeing, reference keys)`
/// per oracle.
#[derive(Debug)]
pub struct CaptureResult {
    pub responses: (u64, usize),
    pub tshark: (usize, usize),
    pub passivedns: (usize, usize),
}

/// The comparison of every capture's answers with the references: every reference answer
/// must be among ours, except the listed differences, and a listed difference must still
/// happen.
#[derive(Debug)]
pub struct Comparison {
    dir: PathBuf,
    known: BTreeMap<(String, String, Key), String>,
    seen_known: BTreeSet<(String, String, Key)>,
    pub failures: Vec<String>,
    pub tshark: Tally,
    pub passivedns: Tally,
}

impl Comparison {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            known: known_differences(),
            seen_known: BTreeSet::new(),
            failures: Vec::new(),
            tshark: Tally::default(),
            passivedns: Tally::default(),
        }
    }

    /// Compares one capture's answers and negative answers (`ours`) and its count of
    /// decoded responses with the references; differences go to `failures`.
    pub fn capture(&mut self, name: &str, ours: &BTreeSet<Key>, responses: u64) -> CaptureResult {
        let tsv = self.dir.join("tshark-ref").join(format!("{name}.tsv"));
        let t_responses = tshark_responses(&tsv);
        if responses != t_responses as u64 {
            self.failures.push(format!(
                "{name}: {responses} responses decoded, tshark decoded {t_responses}"
            ));
        }
        let (tr, trefused) = tshark_refs(&tsv);
        let tshark = self.check("tshark", name, ours, tr, trefused);
        let json = self
            .dir
            .join("passivedns-ref")
            .join(format!("{name}.all.json"));
        let (pr, prefused) = passivedns_refs(&json);
        let passivedns = self.check("passivedns", name, ours, pr, prefused);
        CaptureResult {
            responses: (responses, t_responses),
            tshark,
            passivedns,
        }
    }

    fn check(
        &mut self,
        source: &str,
        name: &str,
        ours: &BTreeSet<Key>,
        refs: BTreeSet<Key>,
        refused: Vec<String>,
    ) -> (usize, usize) {
        let pd = source == "passivedns";
        let tally = if pd {
            &mut self.passivedns
        } else {
            &mut self.tshark
        };
        let (mut ok, mut n) = (0, 0);
        tally.refused += refused.len();
        for r in refused {
            println!("  {source} {name}: reference not representable: {r}");
        }
        for want in refs {
            n += 1;
            let found = if pd {
                passivedns_matches(ours, &want)
            } else {
                ours.contains(&want)
            };
            let k = (source.to_owned(), name.to_owned(), want.clone());
            match (found, self.known.contains_key(&k)) {
                (true, false) => ok += 1,
                (false, true) => {
                    tally.listed += 1;
                    self.seen_known.insert(k);
                }
                (false, false) => self.failures.push(format!(
                    "{source}\t{name}\t{}\t{}\t{}\tMISSING",
                    want.0, want.1, want.2
                )),
                (true, true) => self.failures.push(format!(
                    "{source}\t{name}\t{}\t{}\t{}\tlisted as a difference but found",
                    want.0, want.1, want.2
                )),
            }
        }
        tally.refs += n;
        tally.agree += ok;
        (ok, n)
    }

    /// After the last capture: prints the summary per oracle and returns every failure
    /// (a listed difference that no longer happens included).
    pub fn finish(mut self) -> Vec<String> {
        for k in self.known.keys() {
            if !self.seen_known.contains(k) {
                self.failures
                    .push(format!("{k:?}: listed but no such reference row"));
            }
        }
        for (label, t) in [("tshark", &self.tshark), ("passivedns", &self.passivedns)] {
            println!(
                "{label}: {} reference keys, {} agree, {} listed differences, {} not representable in the model",
                t.refs, t.agree, t.listed, t.refused
            );
        }
        self.failures
    }
}
