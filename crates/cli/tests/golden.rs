//! Done-when of the foundation: ingest the seed's example line and every passivedns
//! reference log of the corpus, then every `(query, type, answer)` in them comes back from
//! `dnsrecall query` as one row with the right first and last times and the summed count.

mod common;

use std::collections::BTreeMap;

use common::{corpus, query_json, repo, run, run_ok};
use dnsrecall_model::{Name, Rcode, Rdata, RrType};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Expect {
    first: i64,
    last: i64,
    count: u64,
}

impl Expect {
    fn add(&mut self, t: i64, c: u64) {
        if self.count == 0 {
            *self = Expect {
                first: t,
                last: t,
                count: c,
            };
        } else {
            self.first = self.first.min(t);
            self.last = self.last.max(t);
            self.count += c;
        }
    }
}

#[test]
fn corpus_logs_and_seed_line_query_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut files: Vec<_> = std::fs::read_dir(corpus().join("passivedns-ref"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() > 100,
        "expected the whole corpus, found {} files",
        files.len()
    );
    let seed = repo().join("testdata/seed-example.json");
    files.push(seed.clone());

    // Expected values from the files themselves (the seed line has typographic quotes).
    let mut answers: BTreeMap<(String, RrType, String), Expect> = BTreeMap::new();
    let mut negatives: BTreeMap<(String, RrType, Rcode), Expect> = BTreeMap::new();
    for f in &files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let line = line.replace(['\u{201c}', '\u{201d}'], "\"");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let name = Name::new(v["query"].as_str().unwrap()).unwrap().to_string();
            let t = RrType::parse(v["type"].as_str().unwrap()).unwrap();
            let answer = v["answer"].as_str().unwrap();
            let (ts, count) = (
                v["timestamp_s"].as_i64().unwrap(),
                v["count"].as_u64().unwrap(),
            );
            match Rcode::from_passivedns(answer) {
                Some(rcode) if v["ttl"].as_u64() == Some(0) => {
                    negatives
                        .entry((name, t, rcode))
                        .or_default()
                        .add(ts, count);
                }
                _ => {
                    let rdata = Rdata::new(t, answer).unwrap().to_string();
                    answers.entry((name, t, rdata)).or_default().add(ts, count);
                }
            }
        }
    }
    assert!(answers.len() > 250 && negatives.len() >= 5);

    let mut args = vec!["ingest"];
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = run(data, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let names: std::collections::BTreeSet<&String> = answers.keys().map(|k| &k.0).collect();
    let mut got: BTreeMap<(String, RrType, String), Expect> = BTreeMap::new();
    for name in names {
        for row in query_json(data, &[name]) {
            let key = (
                row["rrname"].as_str().unwrap().to_owned(),
                RrType::parse(row["rrtype"].as_str().unwrap()).unwrap(),
                row["rdata"].as_str().unwrap().to_owned(),
            );
            let e = Expect {
                first: row["time_first"].as_i64().unwrap(),
                last: row["time_last"].as_i64().unwrap(),
                count: row["count"].as_u64().unwrap(),
            };
            assert!(got.insert(key.clone(), e).is_none(), "two rows for {key:?}");
        }
    }
    assert_eq!(got, answers, "stored tuples differ from the logs");

    for ((name, t, rcode), want) in &negatives {
        let text = run_ok(data, &["query", name, "--negative", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let rows: Vec<_> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["qtype"] == t.to_string() && r["rcode"] == rcode.to_string())
            .collect();
        assert_eq!(rows.len(), 1, "{name} {t} {rcode}: {v}");
        let e = Expect {
            first: rows[0]["time_first"].as_i64().unwrap(),
            last: rows[0]["time_last"].as_i64().unwrap(),
            count: rows[0]["count"].as_u64().unwrap(),
        };
        assert_eq!(&e, want, "{name} {t} {rcode}");
    }

    // The seed's first Splunk search: query="*sans.*", first and last seen, its time format.
    let table = run_ok(
        data,
        &["query", "*sans.*", "--time-format", "%d/%m/%Y %H:%M:%S"],
    );
    assert!(
        table.contains(
            "isc.sans.org  A       204.51.94.153  27/03/2019 19:19:32  27/03/2019 19:19:32  1"
        ),
        "{table}"
    );
    // The seed's second search: which client asked.
    let clients = run_ok(data, &["clients", "isc.sans.org", "--format", "csv"]);
    assert!(
        clients.contains("192.168.254.8,isc.sans.org,A,2019-03-27T19:19:32Z"),
        "{clients}"
    );
}

#[test]
fn bad_lines_are_counted_reported_and_do_not_stop_the_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mixed.json");
    let good = r#"{"timestamp_s":1553714372,"timestamp_ms":1,"client":"10.0.0.1","server":"10.0.0.2","class":"IN","query":"good.example.","type":"A","answer":"192.0.2.1","ttl":10,"count":1}"#;
    let long_name = format!("{}.example.", vec!["a".repeat(60); 5].join("."));
    let lines = [
        good.to_owned(),
        "{not json".to_owned(),
        r#"{"timestamp_s":1553714372,"query":"x.example.","type":"A"}"#.to_owned(),
        good.replace("\"ttl\":10", "\"ttl\":\"ten\""),
        good.replace("\"query\":\"good.example.\"", "\"query\":5"),
        good.replace("good.example.", &long_name),
        good.replace("good.example.", "bad\\u0001name.example."),
        good.replace("192.0.2.1", "192.0.2.300"),
        good.replace("good.example.", "good2.example."),
    ];
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let data = dir.path().join("data");
    let out = run(
        &data,
        &["ingest", log.to_str().unwrap(), "--stats-json", "-"],
    );
    assert_eq!(out.status.code(), Some(1), "bad lines seen: exit code 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mixed.json:2: invalid_json"), "{stderr}");
    assert!(stderr.contains("mixed.json:3: missing_field"), "{stderr}");
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["lines"], 9);
    assert_eq!(stats["bad_lines"], 7);
    assert_eq!(stats["tuples_new"], 2);
    let reasons = stats["bad_by_reason"].as_object().unwrap();
    for r in [
        "invalid_json",
        "missing_field",
        "bad_ttl",
        "wrong_type",
        "name_too_long",
        "control_character",
        "bad_rdata",
    ] {
        assert!(reasons.contains_key(r), "{r} missing in {reasons:?}");
    }
    assert_eq!(
        query_json(&data, &["good2.example"]).len(),
        1,
        "lines after bad ones are kept"
    );
}

#[test]
fn gzip_stdin_text_and_cof_inputs() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let text = "1553714372.268056||192.168.254.8||204.51.94.8||IN||isc.sans.org.||A||204.51.94.153||10||3\n";
    let gz = dir.path().join("log.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    run_ok(&data, &["ingest", gz.to_str().unwrap()]);
    let cof = r#"{"rrname":"isc.sans.org","rrtype":"A","rdata":["204.51.94.153","204.51.94.154"],"time_first":1500000000,"time_last":1600000000,"count":7,"sensor_id":"circl"}"#;
    let mut child = std::process::Command::new(common::bin())
        .args(["--data-dir", data.to_str().unwrap(), "ingest", "-"])
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{cof}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let rows = query_json(&data, &["isc.sans.org"]);
    let brief: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r["rdata"], r["time_first"], r["time_last"], r["count"], r["sensors"]
            )
        })
        .collect();
    assert_eq!(
        brief,
        [
            "\"204.51.94.153\" 1500000000 1600000000 10 [\"circl\"]",
            "\"204.51.94.154\" 1500000000 1600000000 7 [\"circl\"]",
        ]
    );
    let only_circl = query_json(&data, &["isc.sans.org", "--sensor", "circl"]);
    assert_eq!(only_circl[0]["count"], 7);
}
