//! `dnsrecall query`, `clients`, `stats`, `prune` and the configuration file against the
//! real binary: a small hand-written passivedns JSON log with known timestamps is ingested
//! into a temporary data directory, then every query form, filter, sort, output format and
//! exit code is checked against what the log says.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bin, query_json, run, run_ok};
use serde_json::Value;

/// 2024-01-01T00:00:00Z.
const B: i64 = 1_704_067_200;
const DAY: i64 = 86_400;

// ---------------------------------------------------------------------------------------
// Writing logs

/// One passivedns JSON (`-j`) line.
#[derive(Debug, Clone)]
struct Rec {
    ts: i64,
    client: &'static str,
    query: &'static str,
    rrtype: &'static str,
    answer: &'static str,
    ttl: u32,
    count: u64,
}

/// An answer seen once by 10.0.0.5 with ttl 300.
fn rec(ts: i64, query: &'static str, rrtype: &'static str, answer: &'static str) -> Rec {
    Rec {
        ts,
        client: "10.0.0.5",
        query,
        rrtype,
        answer,
        ttl: 300,
        count: 1,
    }
}

/// A negative answer (passivedns writes the rcode as the answer, with ttl 0).
fn neg(ts: i64, query: &'static str, rrtype: &'static str, rcode: &'static str) -> Rec {
    Rec {
        ttl: 0,
        ..rec(ts, query, rrtype, rcode)
    }
}

impl Rec {
    fn count(self, count: u64) -> Self {
        Self { count, ..self }
    }
    fn client(self, client: &'static str) -> Self {
        Self { client, ..self }
    }
    fn line(&self) -> String {
        let s = |v: &str| serde_json::to_string(v).unwrap();
        format!(
            r#"{{"timestamp_s":{},"timestamp_ms":123456,"client":{},"server":"10.0.0.1","class":"IN","query":{},"type":{},"answer":{},"ttl":{},"count":{}}}"#,
            self.ts,
            s(self.client),
            s(self.query),
            s(self.rrtype),
            s(self.answer),
            self.ttl,
            self.count
        )
    }
}

fn write_log(dir: &Path, name: &str, recs: &[Rec]) -> PathBuf {
    let path = dir.join(name);
    let text: String = recs.iter().map(|r| r.line() + "\n").collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn ingest(data: &Path, log: &Path, extra: &[&str]) {
    let mut args = vec!["ingest", "--no-progress"];
    args.extend_from_slice(extra);
    args.push(log.to_str().unwrap());
    let out = run(data, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "ingest {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The main log: the query forms (names, addresses, answers pointing at names, negative
/// answers), a time-fence set (`*.fence.test`) and a paging set (`*.page.test`).
fn main_log() -> Vec<Rec> {
    vec![
        // Query forms. www.example.com: two sightings, two spellings, two clients.
        rec(B + 100, "WWW.Example.com.", "A", "192.0.2.10"),
        rec(B + 200, "www.example.com.", "A", "192.0.2.10")
            .count(2)
            .client("10.0.0.6"),
        rec(B + 50, "example.com.", "A", "192.0.2.1"),
        rec(B + 51, "nine.example.net.", "A", "192.0.2.9"),
        rec(B + 60, "mail.example.com.", "MX", "mx1.mailhost.net."),
        rec(B + 70, "alias.example.com.", "CNAME", "cdn.provider.net."),
        rec(B + 80, "deep.sub.example.com.", "AAAA", "2001:db8:1:2::5"),
        rec(B + 90, "v6.example.org.", "AAAA", "2001:db8:1:3::9"),
        rec(B + 95, "other.example.org.", "A", "192.0.2.200").client("10.9.9.9"),
        rec(B + 96, "example.org.", "A", "198.51.100.7"),
        rec(B + 97, "txt.example.com.", "TXT", r#"say "hi", bye"#),
        rec(
            B + 98,
            "example.com.",
            "RRSIG",
            "A 8 2 300 20240201000000 20240101000000 12345 example.com. abc=",
        ),
        rec(B + 99, "example.com.", "DNSKEY", "257 3 8 AwEAAc="),
        neg(B + 110, "nx.example.com.", "A", "NXDOMAIN"),
        neg(B + 120, "nx.example.com.", "A", "NXDOMAIN").count(3),
        neg(B + 130, "sf.example.com.", "AAAA", "SERVFAIL"),
        // Time fences: old (Jan 1), mid (Jan 2 01:00 .. Jan 4 01:00), new (Jan 6).
        rec(B, "old.fence.test.", "A", "203.0.113.30").client("10.0.1.1"),
        rec(B + DAY + 3600, "mid.fence.test.", "A", "203.0.113.31").client("10.0.1.1"),
        rec(B + 3 * DAY + 3600, "mid.fence.test.", "A", "203.0.113.31")
            .client("10.0.1.1")
            .count(2),
        rec(B + 5 * DAY, "new.fence.test.", "A", "203.0.113.32").client("10.0.1.1"),
        // Paging and sorting: counts a5 b1 c3 d4 e2; first d a c b e; last a c b e d.
        rec(B + 10 * DAY, "a.page.test.", "A", "203.0.113.1")
            .client("10.0.2.1")
            .count(5),
        rec(B + 12 * DAY, "b.page.test.", "A", "203.0.113.2").client("10.0.2.1"),
        rec(B + 11 * DAY, "c.page.test.", "A", "203.0.113.3")
            .client("10.0.2.1")
            .count(3),
        rec(B + 9 * DAY, "d.page.test.", "A", "203.0.113.4").client("10.0.2.1"),
        rec(B + 14 * DAY, "d.page.test.", "A", "203.0.113.4")
            .client("10.0.2.1")
            .count(3),
        rec(B + 13 * DAY, "e.page.test.", "A", "203.0.113.5")
            .client("10.0.2.1")
            .count(2),
    ]
}

/// A data directory with the main log ingested (the directory lives as long as the guard).
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), "passivedns.json", &main_log());
    let data = dir.path().join("data");
    ingest(&data, &log, &[]);
    (dir, data)
}

// ---------------------------------------------------------------------------------------
// Reading results

fn q(data: &Path, args: &[&str]) -> Vec<Value> {
    query_json(data, args)
}

/// `rrname rrtype rdata` of each row, in order.
fn brief(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            format!(
                "{} {} {}",
                str_of(&r["rrname"]),
                str_of(&r["rrtype"]),
                str_of(&r["rdata"])
            )
        })
        .collect()
}

fn rrnames(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| str_of(&r["rrname"])).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn name_set(rows: &[Value]) -> BTreeSet<String> {
    rrnames(rows).into_iter().collect()
}

fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// `--format json` output of any command, parsed (the whole document).
fn json_doc(data: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&run_ok(data, &all)).expect("json output")
}

fn clients_json(data: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["clients"];
    all.extend_from_slice(args);
    let doc = json_doc(data, &all);
    assert_eq!(doc["truncated"], false);
    doc["results"].as_array().unwrap().clone()
}

fn stats_json(data: &Path) -> Value {
    serde_json::from_str(&run_ok(data, &["stats", "--json"])).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// 1. Query forms

#[test]
fn query_forms_end_to_end() {
    let (_dir, data) = fixture();

    // Exact name: any case, with or without the trailing dot; both spellings in the log
    // were folded into one tuple with the summed count and the outer times.
    for p in ["www.example.com", "www.example.com.", "WWW.EXAMPLE.COM"] {
        let rows = q(&data, &[p]);
        assert_eq!(brief(&rows), ["www.example.com A 192.0.2.10"], "{p}");
        assert_eq!(rows[0]["time_first"], B + 100, "{p}");
        assert_eq!(rows[0]["time_last"], B + 200, "{p}");
        assert_eq!(rows[0]["count"], 3, "{p}");
    }
    assert_eq!(
        brief(&q(&data, &["example.com"])),
        [
            "example.com A 192.0.2.1",
            "example.com RRSIG A 8 2 300 20240201000000 20240101000000 12345 example.com. abc=",
            "example.com DNSKEY 257 3 8 AwEAAc=",
        ]
    );
    assert!(q(&data, &["ww.example.com"]).is_empty());

    // *.x: strict subdomains at any depth, in reversed-label order; never x itself, and
    // names that merely end in the same text (nine.example.net) are not subdomains.
    assert_eq!(
        rrnames(&q(&data, &["*.example.com"])),
        [
            "alias.example.com",
            "mail.example.com",
            "deep.sub.example.com",
            "txt.example.com",
            "www.example.com",
        ]
    );
    assert_eq!(
        rrnames(&q(&data, &["*.sub.example.com"])),
        ["deep.sub.example.com"]
    );
    assert!(q(&data, &["*.deep.sub.example.com"]).is_empty());

    // x.*: names whose leading labels are x.
    assert_eq!(
        name_set(&q(&data, &["example.*"])),
        set(&["example.com", "example.org"])
    );
    assert_eq!(
        name_set(&q(&data, &["other.example.*"])),
        set(&["other.example.org"])
    );
    assert!(q(&data, &["exam.*"]).is_empty(), "x.* matches whole labels");

    // *sub*: substring anywhere in the name, case-insensitive.
    assert_eq!(
        name_set(&q(&data, &["*ample.org*"])),
        set(&["example.org", "other.example.org", "v6.example.org"])
    );
    assert_eq!(
        name_set(&q(&data, &["*AMPLE.ORG*"])),
        set(&["example.org", "other.example.org", "v6.example.org"])
    );
    assert_eq!(rrnames(&q(&data, &["*sub.exa*"])), ["deep.sub.example.com"]);
    assert!(q(&data, &["*zzzz*"]).is_empty());

    // IPv4: one address, a /24 in address order (numeric: .9 before .10), a range.
    assert_eq!(
        brief(&q(&data, &["192.0.2.10"])),
        ["www.example.com A 192.0.2.10"]
    );
    assert_eq!(
        brief(&q(&data, &["192.0.2.0/24"])),
        [
            "example.com A 192.0.2.1",
            "nine.example.net A 192.0.2.9",
            "www.example.com A 192.0.2.10",
            "other.example.org A 192.0.2.200",
        ]
    );
    assert_eq!(
        brief(&q(&data, &["192.0.2.5-192.0.2.100"])),
        [
            "nine.example.net A 192.0.2.9",
            "www.example.com A 192.0.2.10"
        ]
    );
    assert!(q(&data, &["192.0.2.11-192.0.2.199"]).is_empty());
    assert_eq!(q(&data, &["198.51.100.0/25"]).len(), 1);

    // IPv6: a /64 holds one of the two AAAA answers; an exact address the other.
    assert_eq!(
        brief(&q(&data, &["2001:db8:1:2::/64"])),
        ["deep.sub.example.com AAAA 2001:db8:1:2::5"]
    );
    assert_eq!(
        brief(&q(&data, &["2001:db8:1:3::9"])),
        ["v6.example.org AAAA 2001:db8:1:3::9"]
    );
    assert_eq!(q(&data, &["2001:db8::/32"]).len(), 2);

    // --rdata: names inside answers (CNAME and MX targets), exact or *.x.
    assert_eq!(
        brief(&q(&data, &["--rdata", "cdn.provider.net"])),
        ["alias.example.com CNAME cdn.provider.net"]
    );
    assert_eq!(
        brief(&q(&data, &["--rdata", "*.provider.net"])),
        ["alias.example.com CNAME cdn.provider.net"]
    );
    assert_eq!(
        brief(&q(&data, &["--rdata", "*.mailhost.net"])),
        ["mail.example.com MX mx1.mailhost.net"]
    );
    assert_eq!(
        brief(&q(&data, &["--rdata", "*mailhos*"])),
        ["mail.example.com MX mx1.mailhost.net"]
    );
    assert_eq!(
        brief(&q(&data, &["--rdata", "cdn.*"])),
        ["alias.example.com CNAME cdn.provider.net"]
    );
    assert_eq!(
        brief(&q(&data, &["--rdata", "*.provider.net", "-t", "MX"])),
        Vec::<String>::new()
    );
    assert!(
        q(&data, &["--rdata", "provider.net"]).is_empty(),
        "exact rdata name is not its parent"
    );
    assert!(
        q(&data, &["--rdata", "www.example.com"]).is_empty(),
        "an owner name is not a target"
    );

    // --negative: the NXDOMAIN (two sightings, summed) and SERVFAIL rows, not in tuples.
    let doc = json_doc(&data, &["query", "*.example.com", "--negative"]);
    let neg: Vec<String> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {}",
                str_of(&r["qname"]),
                str_of(&r["qtype"]),
                str_of(&r["rcode"]),
                r["time_first"],
                r["time_last"],
                r["count"]
            )
        })
        .collect();
    assert_eq!(
        neg,
        [
            format!("nx.example.com A NXDOMAIN {} {} 4", B + 110, B + 120),
            format!("sf.example.com AAAA SERVFAIL {} {} 1", B + 130, B + 130),
        ]
    );
    assert!(
        q(&data, &["nx.example.com"]).is_empty(),
        "no tuple for NXDOMAIN"
    );
    let only_a = json_doc(
        &data,
        &["query", "nx.example.com", "--negative", "-t", "AAAA"],
    );
    assert_eq!(only_a["count"], 0);
}

// ---------------------------------------------------------------------------------------
// 2. Filters

#[test]
fn type_filters() {
    let (_dir, data) = fixture();
    assert_eq!(
        brief(&q(&data, &["*.example.com", "-t", "A,AAAA"])),
        [
            "deep.sub.example.com AAAA 2001:db8:1:2::5",
            "www.example.com A 192.0.2.10"
        ]
    );
    // Repeated and lower-case types.
    assert_eq!(
        name_set(&q(&data, &["*.example.com", "-t", "mx", "-t", "cname"])),
        set(&["mail.example.com", "alias.example.com"])
    );
    // ANY: everything but DNSSEC. ANY-DNSSEC: only DNSSEC.
    assert_eq!(
        brief(&q(&data, &["example.com", "-t", "ANY"])),
        ["example.com A 192.0.2.1"]
    );
    let dnssec = q(&data, &["example.com", "-t", "ANY-DNSSEC"]);
    let types: BTreeSet<String> = dnssec.iter().map(|r| str_of(&r["rrtype"])).collect();
    assert_eq!(types, set(&["RRSIG", "DNSKEY"]));
    assert_eq!(q(&data, &["*ample*", "-t", "ANY"]).len(), 10);
    assert_eq!(q(&data, &["*ample*", "-t", "ANY-DNSSEC"]).len(), 2);
    // A type filter on an address query of the other family matches nothing.
    assert!(q(&data, &["192.0.2.0/24", "-t", "AAAA"]).is_empty());
    assert_eq!(q(&data, &["192.0.2.0/24", "-t", "A"]).len(), 4);
}

#[test]
fn time_fences_epoch_and_iso() {
    let (_dir, data) = fixture();
    let f = |args: &[&str]| -> BTreeSet<String> {
        let mut all = vec!["*.fence.test"];
        all.extend_from_slice(args);
        q(&data, &all)
            .iter()
            .map(|r| {
                str_of(&r["rrname"])
                    .trim_end_matches(".fence.test")
                    .to_owned()
            })
            .collect()
    };
    let mid = q(&data, &["mid.fence.test"]);
    assert_eq!(mid[0]["time_first"], B + DAY + 3600);
    assert_eq!(mid[0]["time_last"], B + 3 * DAY + 3600);
    assert_eq!(mid[0]["count"], 3);

    assert_eq!(f(&[]), set(&["old", "mid", "new"]));
    assert_eq!(f(&["--first-after", "2024-01-02"]), set(&["mid", "new"]));
    assert_eq!(f(&["--first-before", "2024-01-02"]), set(&["old"]));
    assert_eq!(
        f(&["--last-after", "2024-01-04T00:00:00Z"]),
        set(&["mid", "new"])
    );
    assert_eq!(f(&["--last-after", "2024-01-04T02:00:00Z"]), set(&["new"]));
    let jan5 = (B + 4 * DAY).to_string();
    assert_eq!(f(&["--last-before", &jan5]), set(&["old", "mid"]));
    // Epoch bounds are inclusive.
    let mid_first = (B + DAY + 3600).to_string();
    assert_eq!(f(&["--first-after", &mid_first]), set(&["mid", "new"]));
    assert_eq!(f(&["--first-before", &mid_first]), set(&["old", "mid"]));
    let mid_last = (B + 3 * DAY + 3600).to_string();
    assert_eq!(f(&["--last-before", &mid_last]), set(&["old", "mid"]));
    assert_eq!(
        f(&["--last-before", &(B + 3 * DAY + 3599).to_string()]),
        set(&["old"])
    );
    // A date and time with a space, and an offset.
    assert_eq!(f(&["--first-after", "2024-01-02 01:00:01"]), set(&["new"]));
    assert_eq!(
        f(&["--first-before", "2024-01-02T03:00:00+02:00"]),
        set(&["old", "mid"])
    );
    // Combined fences.
    assert_eq!(
        f(&["--first-after", "2024-01-02", "--last-before", "2024-01-05"]),
        set(&["mid"])
    );

    // --after/--before overlap the sighting period; --strict needs it entirely inside.
    assert_eq!(f(&["--after", "2024-01-03"]), set(&["mid", "new"]));
    assert_eq!(f(&["--after", "2024-01-03", "--strict"]), set(&["new"]));
    assert_eq!(f(&["--before", "2024-01-03"]), set(&["old", "mid"]));
    assert_eq!(f(&["--before", "2024-01-03", "--strict"]), set(&["old"]));
    assert_eq!(
        f(&["--after", "2024-01-03", "--before", "2024-01-05"]),
        set(&["mid"])
    );
    assert!(
        f(&[
            "--after",
            "2024-01-03",
            "--before",
            "2024-01-05",
            "--strict"
        ])
        .is_empty()
    );
    assert_eq!(
        f(&[
            "--after",
            "2024-01-02",
            "--before",
            "2024-01-05",
            "--strict"
        ]),
        set(&["mid"])
    );
    // The fence applies to negative answers and client sightings too.
    let negs = json_doc(
        &data,
        &[
            "query",
            "*.example.com",
            "--negative",
            "--last-after",
            &(B + 125).to_string(),
        ],
    );
    assert_eq!(negs["count"], 1);
    assert_eq!(negs["results"][0]["qname"], "sf.example.com");
    let cl = clients_json(
        &data,
        &["*.fence.test", "--before", "2024-01-03", "--strict"],
    );
    assert_eq!(cl.len(), 1);
    assert_eq!(cl[0]["query"], "old.fence.test");
}

/// A log relative to now: recent answers, answers from two months ago, negative answers.
fn relative_log(now: i64) -> Vec<Rec> {
    vec![
        rec(now - 10 * DAY, "recent.rel.test.", "A", "192.0.2.77").client("10.3.0.1"),
        rec(now - 2 * DAY, "recent.rel.test.", "A", "192.0.2.77")
            .client("10.3.0.1")
            .count(2),
        rec(now - 2 * DAY, "recent.rel.test.", "AAAA", "2001:db8::77").client("10.3.0.1"),
        rec(now - 60 * DAY, "stale.rel.test.", "A", "192.0.2.78").client("10.3.0.2"),
        rec(
            now - 60 * DAY,
            "stale-alias.rel.test.",
            "CNAME",
            "recent.rel.test.",
        )
        .client("10.3.0.2"),
        neg(now - 45 * DAY, "gone.rel.test.", "A", "NXDOMAIN").client("10.3.0.3"),
        neg(now - DAY, "nx.rel.test.", "A", "NXDOMAIN")
            .client("10.3.0.3")
            .count(2),
    ]
}

#[test]
fn relative_times() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = write_log(dir.path(), "rel.json", &relative_log(now()));
    ingest(&data, &log, &[]);
    let f = |args: &[&str]| -> BTreeSet<String> {
        let mut all = vec!["*.rel.test"];
        all.extend_from_slice(args);
        q(&data, &all)
            .iter()
            .map(|r| format!("{} {}", str_of(&r["rrname"]), str_of(&r["rrtype"])))
            .collect()
    };
    let recent = set(&["recent.rel.test A", "recent.rel.test AAAA"]);
    let stale = set(&["stale.rel.test A", "stale-alias.rel.test CNAME"]);
    assert_eq!(f(&["--last-after", "30d"]), recent);
    assert_eq!(f(&["--after", "30d"]), recent);
    assert_eq!(f(&["--after", "2w"]), recent);
    assert_eq!(f(&["--after", "720h"]), recent);
    assert_eq!(f(&["--before", "30d"]), stale);
    // The negative forms (README: `-2w`; DNSDB: `-2592000`) given as separate arguments.
    assert_eq!(f(&["--last-before", "-30d"]), stale);
    assert_eq!(f(&["--after", "-2w"]), recent);
    assert_eq!(f(&["--last-after", "-2592000"]), recent);
    assert_eq!(f(&["--first-before", &format!("-{}", 30 * DAY)]), stale);
    // recent A was first seen 10 days ago, its AAAA 2 days ago.
    assert_eq!(f(&["--first-after", "1w"]), set(&["recent.rel.test AAAA"]));
    assert_eq!(f(&["--first-after", "12d"]), recent);
    assert!(f(&["--after", "1d"]).is_empty());
    let negs = json_doc(
        &data,
        &["query", "*.rel.test", "--negative", "--after", "30d"],
    );
    assert_eq!(negs["count"], 1);
    assert_eq!(negs["results"][0]["qname"], "nx.rel.test");
    let cl = clients_json(&data, &["10.3.0.0/24", "--after", "30d"]);
    let asked: BTreeSet<String> = cl.iter().map(|r| str_of(&r["query"])).collect();
    assert_eq!(asked, set(&["recent.rel.test", "nx.rel.test"]));
}

#[test]
fn sensors_merge_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let one = write_log(
        dir.path(),
        "one.json",
        &[
            rec(B, "shared.sensor.test.", "A", "192.0.2.50"),
            rec(B + 100, "one.sensor.test.", "A", "192.0.2.50"),
            neg(B + 100, "nx.sensor.test.", "A", "NXDOMAIN"),
        ],
    );
    let two = write_log(
        dir.path(),
        "two.json",
        &[
            rec(B + 3600, "shared.sensor.test.", "A", "192.0.2.50").count(4),
            rec(B + 200, "two.sensor.test.", "A", "192.0.2.50"),
            neg(B + 150, "nx.sensor.test.", "A", "NXDOMAIN").count(2),
        ],
    );
    ingest(&data, &one, &["--sensor", "s1"]);
    ingest(&data, &two, &["--sensor", "s2"]);

    // Sorted: rows of one address come in store order.
    let describe = |rows: &[Value]| -> Vec<String> {
        let mut v: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {} {}",
                    str_of(&r["rrname"]),
                    r["time_first"],
                    r["time_last"],
                    r["count"],
                    r["sensors"]
                )
            })
            .collect();
        v.sort();
        v
    };
    // Merged across sensors: one row per tuple, outer times, summed count, both sensors;
    // by name and by address alike.
    for p in ["*.sensor.test", "192.0.2.50", "*sensor*"] {
        assert_eq!(
            describe(&q(&data, &[p])),
            [
                format!("one.sensor.test {} {} 1 [\"s1\"]", B + 100, B + 100),
                format!("shared.sensor.test {B} {} 5 [\"s1\",\"s2\"]", B + 3600),
                format!("two.sensor.test {} {} 1 [\"s2\"]", B + 200, B + 200),
            ],
            "{p}"
        );
    }
    assert_eq!(
        describe(&q(&data, &["*.sensor.test", "--sensor", "s1"])),
        [
            format!("one.sensor.test {} {} 1 [\"s1\"]", B + 100, B + 100),
            format!("shared.sensor.test {B} {B} 1 [\"s1\"]"),
        ]
    );
    assert_eq!(
        describe(&q(&data, &["192.0.2.50", "--sensor", "s2"])),
        [
            format!("shared.sensor.test {} {} 4 [\"s2\"]", B + 3600, B + 3600),
            format!("two.sensor.test {} {} 1 [\"s2\"]", B + 200, B + 200),
        ]
    );
    assert_eq!(
        q(
            &data,
            &["*.sensor.test", "--sensor", "s1", "--sensor", "s2"]
        )
        .len(),
        3
    );
    assert!(q(&data, &["*.sensor.test", "--sensor", "nope"]).is_empty());
    // The time fence applies after the merge: shared was last seen by s2.
    assert_eq!(
        rrnames(&q(
            &data,
            &[
                "shared.sensor.test",
                "--last-after",
                &(B + 3600).to_string()
            ]
        )),
        ["shared.sensor.test"]
    );

    // Negative answers and client sightings merge the same way.
    let negs = json_doc(&data, &["query", "nx.sensor.test", "--negative"]);
    assert_eq!(negs["count"], 1);
    assert_eq!(negs["results"][0]["count"], 3);
    assert_eq!(negs["results"][0]["time_first"], B + 100);
    assert_eq!(negs["results"][0]["time_last"], B + 150);
    assert_eq!(
        negs["results"][0]["sensors"],
        serde_json::json!(["s1", "s2"])
    );
    let s2 = json_doc(
        &data,
        &["query", "nx.sensor.test", "--negative", "--sensor", "s2"],
    );
    assert_eq!(s2["results"][0]["count"], 2);
    let cl = clients_json(&data, &["shared.sensor.test"]);
    assert_eq!(cl.len(), 1);
    assert_eq!(cl[0]["count"], 5);
    assert_eq!(cl[0]["sensors"], serde_json::json!(["s1", "s2"]));
    let cl1 = clients_json(&data, &["shared.sensor.test", "--sensor", "s1"]);
    assert_eq!(cl1[0]["count"], 1);

    let stats = stats_json(&data);
    assert_eq!(stats["sensors"], serde_json::json!(["s1", "s2"]));
    assert_eq!(stats["tuples"], 4, "one row per sensor in the store");
}

// ---------------------------------------------------------------------------------------
// 3. Paging and sorting

#[test]
fn paging_and_sorting() {
    let (_dir, data) = fixture();
    let page = |args: &[&str]| -> (Vec<String>, Value) {
        let mut all = vec!["query", "*.page.test"];
        all.extend_from_slice(args);
        let doc = json_doc(&data, &all);
        let names = doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                str_of(&r["rrname"])
                    .trim_end_matches(".page.test")
                    .to_owned()
            })
            .collect();
        (names, doc["truncated"].clone())
    };
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(page(&[]), (names(&["a", "b", "c", "d", "e"]), false.into()));

    // --limit: exactly as many rows as match is not a cut; one fewer is.
    assert_eq!(
        page(&["--limit", "5"]),
        (names(&["a", "b", "c", "d", "e"]), false.into())
    );
    assert_eq!(
        page(&["--limit", "4"]),
        (names(&["a", "b", "c", "d"]), true.into())
    );
    assert_eq!(page(&["--limit", "2"]), (names(&["a", "b"]), true.into()));
    // --offset pages on.
    assert_eq!(
        page(&["--limit", "2", "--offset", "2"]),
        (names(&["c", "d"]), true.into())
    );
    assert_eq!(
        page(&["--limit", "2", "--offset", "4"]),
        (names(&["e"]), false.into())
    );
    assert_eq!(page(&["--offset", "9"]), (names(&[]), false.into()));

    // Sorting (counts a5 b1 c3 d4 e2; first d a c b e; last a c b e d).
    assert_eq!(
        page(&["--sort", "count", "--desc"]).0,
        names(&["a", "d", "c", "e", "b"])
    );
    assert_eq!(
        page(&["--sort", "count"]).0,
        names(&["b", "e", "c", "d", "a"])
    );
    assert_eq!(
        page(&["--sort", "last"]).0,
        names(&["a", "c", "b", "e", "d"])
    );
    assert_eq!(
        page(&["--sort", "last", "--desc"]).0,
        names(&["d", "e", "b", "c", "a"])
    );
    assert_eq!(
        page(&["--sort", "first"]).0,
        names(&["d", "a", "c", "b", "e"])
    );
    assert_eq!(
        page(&["--sort", "first", "--desc"]).0,
        names(&["e", "b", "c", "a", "d"])
    );
    assert_eq!(
        page(&["--sort", "name", "--desc"]).0,
        names(&["e", "d", "c", "b", "a"])
    );
    // Sort, then page: the cut is taken from the sorted order.
    assert_eq!(
        page(&["--sort", "count", "--desc", "--limit", "2"]),
        (names(&["a", "d"]), true.into())
    );
    assert_eq!(
        page(&["--sort", "count", "--desc", "--limit", "2", "--offset", "2"]),
        (names(&["c", "e"]), true.into())
    );
    assert_eq!(
        page(&["--sort", "count", "--desc", "--limit", "2", "--offset", "3"]),
        (names(&["e", "b"]), false.into())
    );

    // Client sightings page and sort the same way (one client per name, same counts).
    let cl = |args: &[&str]| -> (Vec<String>, Value) {
        let mut all = vec!["clients", "*.page.test"];
        all.extend_from_slice(args);
        let doc = json_doc(&data, &all);
        let names = doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                str_of(&r["query"])
                    .trim_end_matches(".page.test")
                    .to_owned()
            })
            .collect();
        (names, doc["truncated"].clone())
    };
    assert_eq!(
        cl(&["--sort", "count", "--desc"]).0,
        names(&["a", "d", "c", "e", "b"])
    );
    assert_eq!(
        cl(&["--sort", "last", "--limit", "3"]),
        (names(&["a", "c", "b"]), true.into())
    );
    assert_eq!(
        cl(&["--sort", "first", "--offset", "3"]),
        (names(&["b", "e"]), false.into())
    );
    assert_eq!(
        cl(&["--limit", "5"]),
        (names(&["a", "b", "c", "d", "e"]), false.into())
    );

    // Negative answers too (nx: 4, sf: 1).
    let negs = json_doc(
        &data,
        &[
            "query",
            "*.example.com",
            "--negative",
            "--limit",
            "1",
            "--sort",
            "count",
        ],
    );
    assert_eq!(negs["truncated"], true);
    assert_eq!(negs["results"][0]["qname"], "sf.example.com");
    let negs = json_doc(
        &data,
        &[
            "query",
            "*.example.com",
            "--negative",
            "--offset",
            "1",
            "--sort",
            "count",
            "--desc",
        ],
    );
    assert_eq!(negs["truncated"], false);
    assert_eq!(negs["results"][0]["qname"], "sf.example.com");

    // The cut in the other formats: a closing line in the table, a note on stderr for
    // csv and cof (their stdout holds only rows).
    let table = run(&data, &["query", "*.page.test", "--limit", "2"]);
    assert_eq!(table.status.code(), Some(0));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1].starts_with("a.page.test"), "{text}");
    assert!(lines[2].starts_with("b.page.test"), "{text}");
    assert!(
        lines[3].starts_with("-- 2 rows shown") && lines[3].contains("--offset 2"),
        "{text}"
    );
    let full = stdout(&run(&data, &["query", "*.page.test", "--limit", "5"]));
    assert!(!full.contains("rows shown"), "{full}");
    assert_eq!(full.lines().count(), 6);
    for format in ["csv", "cof"] {
        let out = run(
            &data,
            &[
                "query",
                "*.page.test",
                "--limit",
                "2",
                "--offset",
                "1",
                "--format",
                format,
            ],
        );
        assert_eq!(out.status.code(), Some(0));
        let rows = stdout(&out).lines().count();
        assert_eq!(rows, if format == "csv" { 3 } else { 2 }, "{format}");
        assert!(!stdout(&out).contains("rows shown"), "{format}");
        let err = stderr(&out);
        assert!(
            err.contains("2 rows shown") && err.contains("--limit 2") && err.contains("--offset 3"),
            "{format}: {err}"
        );
        let all = run(&data, &["query", "*.page.test", "--format", format]);
        assert!(!stderr(&all).contains("rows shown"), "{format}");
    }
}

// ---------------------------------------------------------------------------------------
// 4. Output formats

#[test]
fn output_formats() {
    let (_dir, data) = fixture();

    // Table: the header columns (no sensors column when no row has one), aligned rows.
    let table = run_ok(&data, &["query", "www.example.com"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "rrname",
            "rrtype",
            "rdata",
            "first_seen",
            "last_seen",
            "count"
        ]
    );
    assert_eq!(
        lines.next().unwrap(),
        "www.example.com  A       192.0.2.10  2024-01-01T00:01:40Z  2024-01-01T00:03:20Z  3"
    );
    assert_eq!(lines.next(), None);

    // JSON: the fields, times as epoch and as ISO 8601 UTC with Z.
    let doc = json_doc(&data, &["query", "www.example.com"]);
    assert_eq!(doc["count"], 1);
    assert_eq!(doc["offset"], 0);
    assert_eq!(doc["truncated"], false);
    let r = &doc["results"][0];
    assert_eq!(r["rrname"], "www.example.com");
    assert_eq!(r["rrtype"], "A");
    assert_eq!(r["rdata"], "192.0.2.10");
    assert_eq!(r["time_first"], B + 100);
    assert_eq!(r["time_last"], B + 200);
    assert_eq!(r["first_seen"], "2024-01-01T00:01:40Z");
    assert_eq!(r["last_seen"], "2024-01-01T00:03:20Z");
    assert_eq!(r["count"], 3);
    assert_eq!(r["ttl"], 300);
    assert_eq!(r["sensors"], serde_json::json!([]));

    // COF: one JSON object per line with the COF keys; names without the trailing dot.
    let cof = run_ok(&data, &["query", "*.example.com", "--format", "cof"]);
    let objs: Vec<Value> = cof
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(objs.len(), 5);
    for o in &objs {
        let keys: BTreeSet<String> = o.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            set(&[
                "rrname",
                "rrtype",
                "rdata",
                "time_first",
                "time_last",
                "count"
            ]),
            "{o}"
        );
        assert!(!str_of(&o["rrname"]).ends_with('.'), "{o}");
        assert!(o["time_first"].is_i64() && o["count"].is_u64(), "{o}");
    }
    let alias = objs
        .iter()
        .find(|o| o["rrname"] == "alias.example.com")
        .unwrap();
    assert_eq!(alias["rdata"], "cdn.provider.net");
    assert_eq!(alias["rrtype"], "CNAME");
    assert_eq!(alias["time_first"], B + 70);
    let www = objs
        .iter()
        .find(|o| o["rrname"] == "www.example.com")
        .unwrap();
    assert_eq!(
        (www["time_last"].as_i64(), www["count"].as_u64()),
        (Some(B + 200), Some(3))
    );

    // CSV: the header and RFC 4180 quoting of a TXT record holding a comma and quotes.
    let csv = run_ok(&data, &["query", "txt.example.com", "--format", "csv"]);
    assert_eq!(
        csv,
        "rrname,rrtype,rdata,first_seen,last_seen,count,sensors\n\
         txt.example.com,TXT,\"say \"\"hi\"\", bye\",2024-01-01T00:01:37Z,2024-01-01T00:01:37Z,1,\n"
    );

    // --time-format: the seed's strftime pattern in table, CSV and JSON; epochs unchanged.
    let seed = "%d/%m/%Y %H:%M:%S";
    let table = run_ok(&data, &["query", "www.example.com", "--time-format", seed]);
    assert!(
        table.contains(
            "www.example.com  A       192.0.2.10  01/01/2024 00:01:40  01/01/2024 00:03:20  3"
        ),
        "{table}"
    );
    let csv = run_ok(
        &data,
        &[
            "query",
            "www.example.com",
            "--time-format",
            seed,
            "--format",
            "csv",
        ],
    );
    assert!(
        csv.contains("www.example.com,A,192.0.2.10,01/01/2024 00:01:40,01/01/2024 00:03:20,3,"),
        "{csv}"
    );
    let doc = json_doc(&data, &["query", "www.example.com", "--time-format", seed]);
    assert_eq!(doc["results"][0]["first_seen"], "01/01/2024 00:01:40");
    assert_eq!(doc["results"][0]["time_first"], B + 100);

    // Clients and negatives have their own columns.
    let cl = run_ok(&data, &["clients", "www.example.com", "--format", "csv"]);
    assert_eq!(
        cl.lines().next().unwrap(),
        "client,query,qtype,first_seen,last_seen,count,sensors"
    );
    let negs = run_ok(&data, &["query", "nx.example.com", "--negative"]);
    let header: Vec<&str> = negs.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "qname",
            "qtype",
            "rcode",
            "first_seen",
            "last_seen",
            "count"
        ]
    );
    assert!(negs.contains("NXDOMAIN"), "{negs}");

    // An invalid strftime pattern is a usage error, before any output.
    let bad = run(&data, &["query", "www.example.com", "--time-format", "%Q"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stdout(&bad).is_empty());
    assert!(stderr(&bad).contains("--time-format"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("strftime"), "{}", stderr(&bad));
}

// ---------------------------------------------------------------------------------------
// 5. Exit codes

#[test]
fn exit_codes_and_usage_messages() {
    let (dir, data) = fixture();
    let code = |args: &[&str]| run(&data, args).status.code();

    assert_eq!(code(&["query", "www.example.com"]), Some(0));
    assert_eq!(code(&["query", "www.example.com", "--fail-empty"]), Some(0));
    // Empty: 0, and "no results" on stderr for the table; 1 with --fail-empty.
    let empty = run(&data, &["query", "missing.example.com"]);
    assert_eq!(empty.status.code(), Some(0));
    assert!(stderr(&empty).contains("no results"), "{}", stderr(&empty));
    for format in ["table", "json", "csv", "cof"] {
        let out = run(
            &data,
            &[
                "query",
                "missing.example.com",
                "--fail-empty",
                "--format",
                format,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{format}");
    }
    assert_eq!(
        code(&["clients", "missing.example.com", "--fail-empty"]),
        Some(1)
    );
    assert_eq!(
        code(&["query", "www.example.com", "--negative", "--fail-empty"]),
        Some(1)
    );
    assert_eq!(
        code(&["query", "nx.example.com", "--negative", "--fail-empty"]),
        Some(0)
    );

    // Usage errors: exit 2, and the message names what was expected.
    let cases: &[(&[&str], &[&str])] = &[
        (&["query", "a*b"], &["\"a*b\"", "*.x", "x.*", "*text*"]),
        (&["query", "*ab*"], &["\"*ab*\"", "at least 3 characters"]),
        (&["query", "10.0.0.0/33"], &["10.0.0.0/33", "0..=32"]),
        (&["query", "10.0.0.300"], &["10.0.0.300", "IPv4"]),
        (&["query", "10.0.0.9-10.0.0.1"], &["starts after it ends"]),
        (
            &["query", "x.example", "-t", "BOGUS"],
            &["--type", "\"BOGUS\"", "A, AAAA"],
        ),
        (
            &["query", "x.example", "--after", "yesterday"],
            &["--after", "\"yesterday\"", "epoch seconds", "30d"],
        ),
        (
            &["query", "x.example", "--last-before", "30x"],
            &["--last-before"],
        ),
        (
            &["query", "x.example", "--format", "xml"],
            &["--format", "\"xml\"", "table, json, cof or csv"],
        ),
        (
            &["query", "x.example", "--sort", "size"],
            &["--sort", "name, first, last or count"],
        ),
        (&["query", "x.example", "--limit", "0"], &["--limit"]),
        (&["query", "192.0.2.0/24", "--negative"], &["name pattern"]),
        (&["clients", "*x*"], &["at least 3 characters"]),
        (&["query"], &["PATTERN"]),
        (
            &["query", "x.example", "--bogus-option"],
            &["--bogus-option"],
        ),
        (&["prune"], &["--older-than"]),
        (&["prune", "--older-than", "soon"], &["--older-than"]),
    ];
    for (args, needles) in cases {
        let out = run(&data, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(stdout(&out).is_empty(), "{args:?}");
        for n in *needles {
            assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
        }
    }
    // Usage errors do not create a store where none was.
    let untouched = dir.path().join("untouched");
    let out = run(&untouched, &["query", "a*b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!untouched.exists());

    // Runtime failure: the data directory is a regular file.
    let file = dir.path().join("passivedns.json");
    for args in [
        &["query", "www.example.com"][..],
        &["clients", "www.example.com"],
        &["stats"],
        &["ingest", file.to_str().unwrap()],
    ] {
        let out = run(&file, args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error:"), "{args:?}");
    }
    // An input that cannot be read: 3.
    let out = run(
        &data,
        &["ingest", dir.path().join("no-such.json").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------------
// 6. Clients

#[test]
fn clients_by_name_and_by_network() {
    let (_dir, data) = fixture();
    let rows = clients_json(&data, &["www.example.com"]);
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {}",
                str_of(&r["client"]),
                str_of(&r["query"]),
                str_of(&r["qtype"]),
                str_of(&r["first_seen"]),
                str_of(&r["last_seen"]),
                r["count"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "10.0.0.5 www.example.com A 2024-01-01T00:01:40Z 2024-01-01T00:01:40Z 1",
            "10.0.0.6 www.example.com A 2024-01-01T00:03:20Z 2024-01-01T00:03:20Z 2",
        ]
    );
    let table = run_ok(&data, &["clients", "www.example.com"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "client",
            "query",
            "qtype",
            "first_seen",
            "last_seen",
            "count"
        ]
    );
    assert!(
        table.contains(
            "10.0.0.6  www.example.com  A      2024-01-01T00:03:20Z  2024-01-01T00:03:20Z  2"
        ),
        "{table}"
    );

    // Name patterns work for clients too; negative answers count as questions asked.
    let sub = clients_json(&data, &["*.example.com", "-t", "A"]);
    let asked: BTreeSet<String> = sub.iter().map(|r| str_of(&r["query"])).collect();
    assert_eq!(asked, set(&["www.example.com", "nx.example.com"]));
    let nx = sub.iter().find(|r| r["query"] == "nx.example.com").unwrap();
    assert_eq!(nx["count"], 4);

    // What a network asked: the /24 holds 10.0.0.5 and 10.0.0.6, not 10.9.9.9 or 10.0.1.1.
    let net = clients_json(&data, &["10.0.0.0/24"]);
    let who: BTreeSet<String> = net.iter().map(|r| str_of(&r["client"])).collect();
    assert_eq!(who, set(&["10.0.0.5", "10.0.0.6"]));
    let asked: BTreeSet<String> = net
        .iter()
        .map(|r| format!("{} {}", str_of(&r["query"]), str_of(&r["qtype"])))
        .collect();
    assert_eq!(
        asked,
        set(&[
            "www.example.com A",
            "example.com A",
            "example.com RRSIG",
            "example.com DNSKEY",
            "nine.example.net A",
            "mail.example.com MX",
            "alias.example.com CNAME",
            "deep.sub.example.com AAAA",
            "v6.example.org AAAA",
            "example.org A",
            "txt.example.com TXT",
            "nx.example.com A",
            "sf.example.com AAAA",
        ])
    );
    assert_eq!(net.len(), 14, "www.example.com from two clients");
    let one = clients_json(&data, &["10.0.0.6"]);
    assert_eq!(one.len(), 1);
    assert_eq!(
        (one[0]["query"].as_str(), one[0]["count"].as_u64()),
        (Some("www.example.com"), Some(2))
    );
    let range = clients_json(&data, &["10.0.0.6-10.9.9.9"]);
    let who: BTreeSet<String> = range.iter().map(|r| str_of(&r["client"])).collect();
    assert_eq!(who, set(&["10.0.0.6", "10.0.1.1", "10.0.2.1", "10.9.9.9"]));
    assert!(clients_json(&data, &["10.0.3.0/24"]).is_empty());
    assert!(clients_json(&data, &["2001:db8::/32"]).is_empty());
}

#[test]
fn client_privacy_modes() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_log(
        dir.path(),
        "first.json",
        &[
            rec(B, "a.priv.test.", "A", "192.0.2.1").client("10.1.2.3"),
            rec(B + 1, "a.priv.test.", "A", "192.0.2.1").client("2001:db8:aa:bb:cc::1"),
        ],
    );
    let second = write_log(
        dir.path(),
        "second.json",
        &[
            rec(B + 10, "b.priv.test.", "A", "192.0.2.2").client("10.1.2.3"),
            rec(B + 11, "b.priv.test.", "A", "192.0.2.2").client("10.1.2.4"),
        ],
    );
    let clients_of = |data: &Path, pattern: &str| -> Vec<(String, String)> {
        clients_json(data, &[pattern])
            .iter()
            .map(|r| (str_of(&r["query"]), str_of(&r["client"])))
            .collect()
    };

    // mask: the /24 (IPv4) or /64 (IPv6) network only.
    let mask = dir.path().join("mask");
    ingest(&mask, &first, &["--clients", "mask"]);
    let mut got = clients_of(&mask, "a.priv.test");
    got.sort();
    assert_eq!(
        got,
        [
            ("a.priv.test".to_owned(), "10.1.2.0".to_owned()),
            ("a.priv.test".to_owned(), "2001:db8:aa:bb::".to_owned()),
        ]
    );
    // An address finds the network it was masked to.
    assert_eq!(
        clients_of(&mask, "10.1.2.3"),
        [("a.priv.test".to_owned(), "10.1.2.0".to_owned())]
    );
    assert_eq!(clients_json(&mask, &["10.1.2.0/24"]).len(), 1);
    assert!(
        !mask.join("client-hash.key").exists(),
        "no key unless hashing"
    );

    // hash: keyed tokens, stable across ingests (the key is kept in the data directory).
    let hash = dir.path().join("hash");
    ingest(&hash, &first, &["--clients", "hash"]);
    ingest(&hash, &second, &["--clients", "hash"]);
    let key = hash.join("client-hash.key");
    let meta = std::fs::metadata(&key).expect("client-hash.key exists");
    assert_eq!(meta.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let rows = clients_of(&hash, "*.priv.test");
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (_, token) in &rows {
        let hex = token
            .strip_prefix("hash:")
            .unwrap_or_else(|| panic!("{token}"));
        assert_eq!(hex.len(), 24, "{token}");
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{token}"
        );
    }
    let tokens = |q: &str| -> BTreeSet<String> {
        rows.iter()
            .filter(|(n, _)| n == q)
            .map(|(_, t)| t.clone())
            .collect()
    };
    let (a, b) = (tokens("a.priv.test"), tokens("b.priv.test"));
    assert_eq!((a.len(), b.len()), (2, 2));
    assert_eq!(
        a.intersection(&b).count(),
        1,
        "10.1.2.3 has the same token in both ingests: {a:?} {b:?}"
    );
    let table = run_ok(&hash, &["clients", "*.priv.test"]);
    assert!(!table.contains("10.1.2"), "no address is kept: {table}");
    assert!(
        !table.contains("2001:db8:aa"),
        "no address is kept: {table}"
    );
    assert!(clients_json(&hash, &["10.1.2.0/24"]).is_empty());
    // A store with another key gives other tokens.
    let other = dir.path().join("hash2");
    ingest(&other, &first, &["--clients", "hash"]);
    let other_tokens: BTreeSet<String> = clients_of(&other, "a.priv.test")
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert!(other_tokens.is_disjoint(&a));

    // off: the tuples, but no client sightings.
    let off = dir.path().join("off");
    ingest(&off, &first, &["--clients", "off"]);
    ingest(&off, &second, &["--clients", "off"]);
    let stats = stats_json(&off);
    assert_eq!(stats["clients"], 0);
    assert_eq!(stats["tuples"], 2);
    assert!(clients_json(&off, &["*.priv.test"]).is_empty());
    assert_eq!(q(&off, &["b.priv.test"])[0]["count"], 2);

    // store (the default): addresses as seen.
    let store = dir.path().join("store");
    ingest(&store, &second, &[]);
    let mut got = clients_of(&store, "b.priv.test");
    got.sort();
    assert_eq!(
        got.iter().map(|(_, c)| c.as_str()).collect::<Vec<_>>(),
        ["10.1.2.3", "10.1.2.4"]
    );

    let bad = run(
        &store,
        &["ingest", "--clients", "maybe", second.to_str().unwrap()],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("store, hash, mask or off"),
        "{}",
        stderr(&bad)
    );
}

// ---------------------------------------------------------------------------------------
// 7. Stats and prune

#[test]
fn stats_json_after_a_known_ingest() {
    let (_dir, data) = fixture();
    let s = stats_json(&data);
    // Tuples: 13 in the query-form set (www counted once), 3 fence, 5 page.
    assert_eq!(s["tuples"], 12 + 3 + 5);
    assert_eq!(
        s["by_type"],
        serde_json::json!({
            "A": 5 + 3 + 5, "AAAA": 2, "CNAME": 1, "MX": 1, "TXT": 1, "RRSIG": 1, "DNSKEY": 1,
        })
    );
    // Names: owners (11 with tuples, nx and sf with negatives only) and the two targets.
    assert_eq!(s["names"], 10 + 2 + 2 + 3 + 5);
    assert_eq!(s["negatives"], 2);
    // Client sightings: per (client, name, type): www twice.
    assert_eq!(s["clients"], 14 + 1 + 3 + 5);
    assert_eq!(s["time_first"], B);
    assert_eq!(s["time_last"], B + 14 * DAY);
    assert_eq!(s["sensors"], serde_json::json!([]));
    assert_eq!(s["schema_version"], 1);
    assert!(s["bytes"].as_u64().unwrap() > 0);
    assert!(s["path"].as_str().unwrap().ends_with("dnsrecall.db"));

    let text = run_ok(&data, &["stats"]);
    assert!(text.contains("tuples           20"), "{text}");
    assert!(
        text.contains("time range       2024-01-01T00:00:00Z .. 2024-01-15T00:00:00Z"),
        "{text}"
    );

    // Ingesting the same file again counts nothing twice.
    let log = data.parent().unwrap().join("passivedns.json");
    let out = run(&data, &["ingest", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stats_json(&data)["tuples"], 20);
    assert_eq!(q(&data, &["www.example.com"])[0]["count"], 3);
}

#[test]
fn prune_retention_and_compact() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = write_log(dir.path(), "rel.json", &relative_log(now()));
    ingest(&data, &log, &[]);
    let s = stats_json(&data);
    assert_eq!(
        (
            s["tuples"].as_u64(),
            s["negatives"].as_u64(),
            s["clients"].as_u64(),
            s["names"].as_u64()
        ),
        (Some(4), Some(2), Some(6), Some(5)),
        "{s}"
    );

    // Client sightings only: the DNS history stays.
    let out = run(&data, &["prune", "--clients-older-than", "30d"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pruned 0 tuples, 0 negative answers, 3 client sightings"),
        "{}",
        stderr(&out)
    );
    let s = stats_json(&data);
    assert_eq!(
        (
            s["tuples"].as_u64(),
            s["negatives"].as_u64(),
            s["clients"].as_u64()
        ),
        (Some(4), Some(2), Some(3))
    );
    assert_eq!(q(&data, &["stale.rel.test"]).len(), 1);
    assert!(clients_json(&data, &["stale.rel.test"]).is_empty());
    assert_eq!(clients_json(&data, &["recent.rel.test"]).len(), 2);
    assert_eq!(clients_json(&data, &["nx.rel.test"]).len(), 1);

    // Everything last seen more than 30 days ago: tuples, negatives, orphaned names.
    let out = run(&data, &["prune", "--older-than", "30d"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pruned 2 tuples, 1 negative answers, 0 client sightings, 3 names"),
        "{}",
        stderr(&out)
    );
    let s = stats_json(&data);
    assert_eq!(
        (
            s["tuples"].as_u64(),
            s["negatives"].as_u64(),
            s["clients"].as_u64(),
            s["names"].as_u64()
        ),
        (Some(2), Some(1), Some(3), Some(2)),
        "{s}"
    );
    assert!(q(&data, &["stale.rel.test"]).is_empty());
    assert!(
        q(&data, &["--rdata", "recent.rel.test"]).is_empty(),
        "the CNAME was stale"
    );
    let recent = q(&data, &["recent.rel.test", "-t", "A"]);
    assert_eq!(
        recent[0]["count"], 3,
        "a kept tuple keeps its whole history"
    );
    assert_eq!(
        json_doc(&data, &["query", "*.rel.test", "--negative"])["results"][0]["qname"],
        "nx.rel.test"
    );
    assert_eq!(
        name_set(&q(&data, &["*rel.test*"])),
        set(&["recent.rel.test"]),
        "substring search after pruned names"
    );

    // New data after a prune: names get new ids, the substring index still finds them.
    let more = write_log(
        dir.path(),
        "more.json",
        &[rec(now() - 3600, "fresh.rel.test.", "A", "192.0.2.79").client("10.3.0.9")],
    );
    ingest(&data, &more, &[]);
    assert_eq!(
        name_set(&q(&data, &["*rel.test*"])),
        set(&["recent.rel.test", "fresh.rel.test"])
    );
    assert!(q(&data, &["*stale*"]).is_empty());

    // --compact rewrites the store and keeps the data.
    let out = run(&data, &["prune", "--compact"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("compacted the store"),
        "{}",
        stderr(&out)
    );
    let s = stats_json(&data);
    assert_eq!(
        (s["tuples"].as_u64(), s["clients"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(q(&data, &["*.rel.test"]).len(), 3);
    assert_eq!(q(&data, &["192.0.2.77"])[0]["count"], 3);
    // Prune and compact in one run.
    let out = run(&data, &["prune", "--older-than", "400d", "--compact"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("pruned 0 tuples"), "{}", stderr(&out));
    assert_eq!(stats_json(&data)["tuples"], 3);
}

// ---------------------------------------------------------------------------------------
// 8. Configuration file

/// Runs the binary with no --data-dir and a HOME of its own (so nothing defaults to the
/// real user's directories).
fn run_with_home(home: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("DNSRECALL_DATA_DIR")
        .env_remove("DNSRECALL_CONFIG")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("share"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .output()
        .expect("run dnsrecall")
}

#[test]
fn config_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let log = write_log(
        dir.path(),
        "log.json",
        &[rec(B + 100, "cfg.example.com.", "A", "192.0.2.10").client("10.1.2.3")],
    );
    let data = dir.path().join("from-config");
    let cfg = dir.path().join("dnsrecall.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {}\ntime_format = \"%d/%m/%Y %H:%M:%S\"\nclients = \"mask\"\nsensor = \"cfg-sensor\"\n",
            toml_str(data.to_str().unwrap())
        ),
    )
    .unwrap();
    let c = cfg.to_str().unwrap();

    let out = run_with_home(
        &home,
        &[
            "--config",
            c,
            "ingest",
            "--no-progress",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        data.join("dnsrecall.db").is_file(),
        "data_dir from the config"
    );
    assert!(
        !home.join("share").exists(),
        "nothing in the default data directory"
    );

    let out = run_with_home(&home, &["--config", c, "query", "cfg.example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("cfg.example.com  A       192.0.2.10  01/01/2024 00:01:40  01/01/2024 00:01:40  1      cfg-sensor"),
        "time_format and sensor from the config: {}",
        stdout(&out)
    );
    let out = run_with_home(
        &home,
        &[
            "--config",
            c,
            "clients",
            "cfg.example.com",
            "--format",
            "csv",
        ],
    );
    assert!(
        stdout(&out).contains("10.1.2.0,cfg.example.com,A,01/01/2024 00:01:40"),
        "clients mode from the config: {}",
        stdout(&out)
    );
    // The command line wins over the file.
    let out = run_with_home(
        &home,
        &[
            "--config",
            c,
            "query",
            "cfg.example.com",
            "--time-format",
            "%Y",
            "--format",
            "csv",
        ],
    );
    assert!(stdout(&out).contains(",2024,2024,1,"), "{}", stdout(&out));
    let elsewhere = dir.path().join("elsewhere");
    let out = run_with_home(
        &home,
        &[
            "--config",
            c,
            "--data-dir",
            elsewhere.to_str().unwrap(),
            "query",
            "cfg.example.com",
            "--fail-empty",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "--data-dir wins: {}",
        stderr(&out)
    );
    // DNSRECALL_CONFIG names the file too.
    let out = Command::new(bin())
        .args(["query", "cfg.example.com", "--format", "csv"])
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", &cfg)
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("share"))
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("01/01/2024 00:01:40"),
        "{}",
        stderr(&out)
    );

    // An unknown key, a bad value, a missing file: usage errors naming the problem.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "data_dir = \"/tmp/x\"\ncolour = \"red\"\n").unwrap();
    let out = run_with_home(&home, &["--config", bad.to_str().unwrap(), "stats"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("colour"), "{}", stderr(&out));
    std::fs::write(&bad, "time_format = 5\n").unwrap();
    let out = run_with_home(&home, &["--config", bad.to_str().unwrap(), "stats"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    std::fs::write(
        &bad,
        format!(
            "data_dir = {}\ntime_format = \"%Q\"\n",
            toml_str(data.to_str().unwrap())
        ),
    )
    .unwrap();
    let out = run_with_home(
        &home,
        &[
            "--config",
            bad.to_str().unwrap(),
            "query",
            "cfg.example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("%Q"), "{}", stderr(&out));
    let missing = dir.path().join("missing.toml");
    let out = run_with_home(&home, &["--config", missing.to_str().unwrap(), "stats"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn a_client_address_finds_its_masked_and_hashed_forms_and_tokens_pivot() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(
        dir.path(),
        "pivot.json",
        &[
            rec(B, "a.pivot.test.", "A", "192.0.2.1").client("10.9.8.7"),
            rec(B + 1, "b.pivot.test.", "A", "192.0.2.2").client("10.9.8.6"),
        ],
    );
    let queries = |data: &Path, pattern: &str| -> BTreeSet<String> {
        clients_json(data, &[pattern])
            .iter()
            .map(|r| str_of(&r["query"]))
            .collect()
    };
    // hash: the address finds its token's rows, and the token itself pivots.
    let hash = dir.path().join("hash");
    ingest(&hash, &log, &["--clients", "hash"]);
    assert_eq!(queries(&hash, "10.9.8.7"), set(&["a.pivot.test"]));
    let token = str_of(&clients_json(&hash, &["a.pivot.test"])[0]["client"]);
    assert!(token.starts_with("hash:"), "{token}");
    assert_eq!(queries(&hash, &token), set(&["a.pivot.test"]));
    assert!(queries(&hash, "10.9.8.5").is_empty());
    let bad = run(&hash, &["clients", "hash:xyz"]);
    assert_eq!(bad.status.code(), Some(2));
    // mask: an address finds its network's rows (both hosts share the /24).
    let mask = dir.path().join("mask");
    ingest(&mask, &log, &["--clients", "mask"]);
    assert_eq!(
        queries(&mask, "10.9.8.7"),
        set(&["a.pivot.test", "b.pivot.test"])
    );
    // store: exact.
    let store = dir.path().join("store");
    ingest(&store, &log, &[]);
    assert_eq!(queries(&store, "10.9.8.7"), set(&["a.pivot.test"]));
}
