//! Zeek `dns.log` (TSV and JSON) and Suricata `eve.json` (v1/v2 and the v3 of Suricata 8)
//! through `dnsrecall ingest`: the sample logs in `testdata/zeek/` and
//! `testdata/suricata/` (written from the published formats) are detected, and give the
//! expected tuples, negative answers and client sightings; what the formats cannot express
//! is counted as skipped. Resuming inside a Zeek TSV log re-reads its `#fields` header, and
//! `--follow` picks up appended eve.json lines.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{query_json, repo, run, run_ok};

type Tuple = (String, String, String);

fn t(name: &str, rrtype: &str, rdata: &str) -> Tuple {
    (name.to_owned(), rrtype.to_owned(), rdata.to_owned())
}

fn all_tuples(data: &Path) -> BTreeSet<Tuple> {
    ["*example*", "*in-addr*"]
        .iter()
        .flat_map(|p| query_json(data, &[p]))
        .map(|r| {
            t(
                r["rrname"].as_str().unwrap(),
                r["rrtype"].as_str().unwrap(),
                r["rdata"].as_str().unwrap(),
            )
        })
        .collect()
}

fn negatives(data: &Path) -> BTreeSet<Tuple> {
    query_json(data, &["*example*", "--negative"])
        .into_iter()
        .map(|r| {
            t(
                r["qname"].as_str().unwrap(),
                r["qtype"].as_str().unwrap(),
                r["rcode"].as_str().unwrap(),
            )
        })
        .collect()
}

/// `(client, query)` pairs of every sighting of `client`.
fn asked_by(data: &Path, client: &str) -> BTreeSet<String> {
    let text = run_ok(
        data,
        &["clients", client, "--format", "json", "--limit", "1000"],
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["query"].as_str().unwrap().to_owned())
        .collect()
}

fn stats(data: &Path, file: &Path, extra: &[&str]) -> serde_json::Value {
    let stats = data.with_extension("stats.json");
    let mut args = vec!["ingest", "--stats-json", stats.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    let out = run(data, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(stats).unwrap()).unwrap()
}

fn zeek_expected() -> BTreeSet<Tuple> {
    [
        t("www.example.com", "CNAME", "cdn.example.net"),
        t("www.example.com", "A", "192.0.2.10"),
        t("www.example.com", "A", "192.0.2.11"),
        t("example.com", "TXT", "\"v=spf1 include:_spf,x -all\""),
        t("10.2.0.192.in-addr.arpa", "PTR", "host.example.com"),
        t("v6.example.com", "AAAA", "2001:db8::6"),
    ]
    .into_iter()
    .collect()
}

#[test]
fn zeek_tsv_and_json_give_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [("dns.log", "auto"), ("dns.json", "zeek")] {
        let data = dir.path().join(name);
        let file = repo().join("testdata/zeek").join(name);
        let s = stats(&data, &file, &["--format", format]);
        assert_eq!(s["bad_lines"], 0, "{s}");
        assert_eq!(s["skipped_by_reason"]["zeek_incomplete_rdata"], 1, "{s}");
        assert_eq!(s["skipped_by_reason"]["zeek_no_response"], 1, "{s}");
        assert_eq!(all_tuples(&data), zeek_expected(), "{name}");
        assert_eq!(
            negatives(&data),
            [t("nosuch.example.com", "A", "NXDOMAIN")].into(),
            "{name}"
        );
        // TTLs are the parallel list, times keep their microseconds' second.
        let www = query_json(&data, &["www.example.com", "-t", "A"]);
        assert_eq!(www[0]["ttl"], 60);
        assert_eq!(www[0]["time_first"], 1_709_287_200);
        // Client: id.orig_h.
        assert_eq!(
            asked_by(&data, "10.0.0.5"),
            ["www.example.com", "10.2.0.192.in-addr.arpa"]
                .map(str::to_owned)
                .into()
        );
        assert!(asked_by(&data, "10.0.0.1").is_empty());
        assert!(asked_by(&data, "2001:db8::5").contains("v6.example.com"));
    }
}

#[test]
fn suricata_v2_answers_grouped_and_v1() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("v2");
    let s = stats(&data, &repo().join("testdata/suricata/eve-v2.json"), &[]);
    assert_eq!(s["bad_lines"], 0, "{s}");
    assert_eq!(s["skipped_by_reason"]["suricata_request"], 1, "{s}");
    assert_eq!(s["skipped_by_reason"]["suricata_not_dns"], 1, "{s}");
    assert_eq!(
        s["skipped_by_reason"]["suricata_incomplete_rdata"], 1,
        "{s}"
    );
    let want: BTreeSet<Tuple> = [
        // Detailed answers win over the grouped form: each record under its owner.
        t("www.example.org", "CNAME", "edge.cdn.example"),
        t("edge.cdn.example", "A", "198.51.100.7"),
        t(
            "example.org",
            "SOA",
            "ns1.example.org hostmaster.example.org 2024030101 7200 900 1209600 300",
        ),
        // Grouped only: the question name stands in for the owner.
        t("multi.example.org", "A", "192.0.2.21"),
        t("multi.example.org", "A", "192.0.2.22"),
        t("example.org", "TXT", "\"v=spf1 -all\""),
        // v1: one event per answer.
        t("old.example.org", "A", "203.0.113.9"),
    ]
    .into();
    assert_eq!(all_tuples(&data), want);
    assert_eq!(
        negatives(&data),
        [t("nosuch.example.org", "AAAA", "NXDOMAIN")].into()
    );
    // v2 logs in the flow's direction: src_ip is the client.
    assert!(asked_by(&data, "10.0.0.5").contains("www.example.org"));
    assert!(asked_by(&data, "10.0.0.6").contains("nosuch.example.org"));
    assert!(asked_by(&data, "10.0.0.1").is_empty());
    // The time zone offset is applied: 11:00:00.262+01:00 is 10:00:00Z.
    let www = query_json(&data, &["www.example.org"]);
    assert_eq!(www[0]["time_first"], 1_709_287_200);
}

#[test]
fn suricata_v3_response_source_is_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("v3");
    let s = stats(&data, &repo().join("testdata/suricata/eve-v3.json"), &[]);
    assert_eq!(s["bad_lines"], 0, "{s}");
    let want: BTreeSet<Tuple> = [
        t("www.example.net", "CNAME", "web.example.net"),
        t("web.example.net", "A", "192.0.2.80"),
        t(
            "example.net",
            "SOA",
            "ns.example.net admin.example.net 7 3600 600 86400 900",
        ),
        t("_sip._udp.example.net", "SRV", "10 20 5060 sip.example.net"),
        t("v6.example.net", "AAAA", "2001:db8::80"),
    ]
    .into();
    assert_eq!(all_tuples(&data), want);
    assert_eq!(
        negatives(&data),
        [t("missing.example.net", "A", "NXDOMAIN")].into()
    );
    // In v3 the response's src_ip (10.0.0.1) is the server: the client is dest_ip.
    assert!(
        asked_by(&data, "10.0.0.1").is_empty(),
        "the server taken for a client"
    );
    assert!(asked_by(&data, "10.0.0.5").contains("www.example.net"));
    assert!(asked_by(&data, "10.0.0.6").contains("missing.example.net"));
    assert!(asked_by(&data, "2001:db8::5").contains("v6.example.net"));
}

#[test]
fn resuming_inside_a_zeek_log_rereads_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("dns.log");
    // Columns in an unusual order: only the header can tell.
    let head = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n\
                #unset_field\t-\n#fields\tquery\tanswers\tts\tid.orig_h\tid.resp_h\tqtype_name\t\
                rcode\tTTLs\n";
    let line = |n: u32| {
        format!("h{n}.example.com\t192.0.2.{n}\t1709287200.0\t10.0.0.{n}\t10.0.0.1\tA\t0\t30.0\n")
    };
    std::fs::write(&log, format!("{head}{}{}", line(1), line(2))).unwrap();
    run_ok(&data, &["ingest", log.to_str().unwrap()]);
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(format!("{}{}", line(3), line(4)).as_bytes())
        .unwrap();
    drop(f);
    let out = run(&data, &["ingest", log.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("resumed after line"), "{err}");
    let got = all_tuples(&data);
    let want: BTreeSet<Tuple> = (1..=4)
        .map(|n| t(&format!("h{n}.example.com"), "A", &format!("192.0.2.{n}")))
        .collect();
    assert_eq!(got, want);
    let h4 = query_json(&data, &["h4.example.com"]);
    assert_eq!(h4[0]["count"], 1);
    assert_eq!(h4[0]["ttl"], 30);
}

#[test]
fn follow_an_eve_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let eve = dir.path().join("eve.json");
    let lines: Vec<String> = std::fs::read_to_string(repo().join("testdata/suricata/eve-v3.json"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    std::fs::write(&eve, format!("{}\n", lines[..2].join("\n"))).unwrap();
    let child = Command::new(common::bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", "--follow", "--flush-interval", "1s"])
        .arg(&eve)
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut f = std::fs::OpenOptions::new().append(true).open(&eve).unwrap();
    f.write_all(format!("{}\n", lines[2..].join("\n")).as_bytes())
        .unwrap();
    drop(f);
    let start = Instant::now();
    loop {
        let n = run(&data, &["query", "*.example.net", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&n.stdout).unwrap_or_default();
        if v["count"].as_u64() == Some(4) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not followed: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        negatives(&data),
        [t("missing.example.net", "A", "NXDOMAIN")].into()
    );
}

#[test]
fn detection_and_wrong_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A Zeek log read as Suricata: every data line is bad, counted with its place.
    let out = run(
        &data,
        &[
            "ingest",
            "--format",
            "suricata",
            repo().join("testdata/zeek/dns.json").to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "non-dns JSON objects are skipped"
    );
    let out = run(
        &data,
        &[
            "ingest",
            "--format",
            "suricata",
            repo().join("testdata/zeek/dns.log").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_json"), "{err}");
    let out = run(&data, &["ingest", "--format", "bro", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zeek or suricata"));
}
