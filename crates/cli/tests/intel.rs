//! Threat intel end to end with list and RPZ feeds: load, ingest logs of known clients,
//! hunt (exactly those clients, with their first and last seen), live alerts to a webhook
//! receiver on loopback (retried after a failure), suppression and exclusion, reports,
//! and a failed refresh that keeps the last good version.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{run, run_ok};
use serde_json::Value;

/// A passivedns JSON line.
fn line(t: i64, client: &str, query: &str, ty: &str, answer: &str) -> String {
    format!(
        r#"{{"timestamp_s":{t},"timestamp_ms":0,"client":"{client}","server":"192.0.2.53","class":"IN","query":"{query}.","type":"{ty}","answer":"{answer}","ttl":60,"count":1}}"#
    )
}

type Shared<T> = Arc<Mutex<T>>;
/// (client, query, answer, first, last, count, feed, via)
type HitRow = (String, String, String, i64, i64, u64, String, String);

/// Records HTTP POST bodies; answers 503 to the first request, 200 after.
fn webhook_receiver() -> (String, Shared<Vec<String>>, Shared<u32>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(0u32));
    let (b, r) = (bodies.clone(), requests.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let n = {
                let mut r = r.lock().unwrap();
                *r += 1;
                *r
            };
            let status = if n == 1 {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            if n > 1 {
                b.lock().unwrap().push(String::from_utf8(body).unwrap());
            }
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, bodies, requests)
}

fn json_out(data: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&run_ok(data, args)).unwrap()
}

#[test]
fn list_and_rpz_feeds_hunt_alert_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = |f: &str| dir.path().join(f);
    std::fs::write(
        p("blocklist.txt"),
        "# compromise list\nevil.example\n0.0.0.0 c2.example  # hosts-file form\n203.0.113.0/28\nnot a domain!\n",
    )
    .unwrap();
    std::fs::write(
        p("corp.rpz"),
        "$TTL 300\n$ORIGIN rpz.corp.\n@ SOA ns.corp. admin.corp. 1 3600 600 86400 300\n@ NS ns.corp.\n\
         *.bad.example CNAME .\n32.7.100.51.198.rpz-ip CNAME rpz-drop.\nok.example CNAME rpz-passthru.\n",
    )
    .unwrap();
    std::fs::write(p("ads.txt"), "ads.evil.example\n").unwrap();
    std::fs::write(p("trackers.txt"), "tracker.example\n").unwrap();

    // Clients and what they resolved.
    let lines = [
        line(1_000, "10.0.0.1", "evil.example", "A", "192.0.2.10"),
        line(1_500, "10.0.0.1", "evil.example", "A", "192.0.2.10"),
        line(1_200, "10.0.0.2", "www.evil.example", "A", "192.0.2.11"),
        line(
            1_300,
            "10.0.0.3",
            "cdn.good.example",
            "CNAME",
            "edge.c2.example",
        ),
        line(1_400, "10.0.0.4", "x.bad.example", "A", "192.0.2.12"),
        line(1_450, "10.0.0.4", "bad.example", "A", "192.0.2.13"),
        line(1_600, "10.0.0.5", "innocent.example", "A", "198.51.100.7"),
        line(1_700, "10.0.0.5", "host.example", "A", "203.0.113.9"),
        line(1_800, "10.0.0.6", "ads.evil.example", "A", "192.0.2.14"),
        line(1_900, "10.0.0.7", "tracker.example", "A", "192.0.2.15"),
        line(2_000, "10.0.0.8", "ok.example", "A", "192.0.2.16"),
        line(2_100, "10.0.0.8", "benign.example", "A", "192.0.2.17"),
    ];
    std::fs::write(p("passivedns.json"), lines.join("\n") + "\n").unwrap();

    let d = data.as_path();
    let out = run(
        d,
        &[
            "intel",
            "add",
            "blocklist",
            p("blocklist.txt").to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("3 indicators") && msg.contains("1 bad entry"),
        "{msg}"
    );
    assert!(msg.contains("line 5"), "the bad entry's place: {msg}");
    run_ok(
        d,
        &[
            "intel",
            "add",
            "corp-rpz",
            p("corp.rpz").to_str().unwrap(),
            "--format",
            "rpz",
        ],
    );
    run_ok(
        d,
        &[
            "intel",
            "add",
            "ads",
            p("ads.txt").to_str().unwrap(),
            "--suppress",
        ],
    );
    run_ok(
        d,
        &[
            "intel",
            "add",
            "trackers",
            p("trackers.txt").to_str().unwrap(),
            "--exclude",
        ],
    );
    let feeds = json_out(d, &["intel", "list", "--json"]);
    assert_eq!(feeds.as_array().unwrap().len(), 4);

    let (url, bodies, requests) = webhook_receiver();
    let alert_file = p("alerts.ndjson");
    let syslog_path = p("syslog.sock");
    let syslog = std::os::unix::net::UnixDatagram::bind(&syslog_path).unwrap();
    syslog.set_nonblocking(true).unwrap();
    let out = run(
        d,
        &[
            "ingest",
            p("passivedns.json").to_str().unwrap(),
            "--alert-webhook",
            &url,
            "--alert-file",
            alert_file.to_str().unwrap(),
            "--alert-syslog",
            syslog_path.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("records excluded"), "{summary}");

    // The hunt: exactly these clients, with their first and last seen.
    let hits = json_out(d, &["hunt", "--format", "json"]);
    let got: BTreeSet<HitRow> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["client"].as_str().unwrap().to_owned(),
                h["query"].as_str().unwrap().to_owned(),
                h["answer"].as_str().unwrap().to_owned(),
                h["time_first"].as_i64().unwrap(),
                h["time_last"].as_i64().unwrap(),
                h["count"].as_u64().unwrap(),
                h["feed"].as_str().unwrap().to_owned(),
                h["via"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |x: &str| x.to_owned();
    let want: BTreeSet<_> = [
        (
            s("10.0.0.1"),
            s("evil.example"),
            s("192.0.2.10"),
            1_000,
            1_500,
            2,
            s("blocklist"),
            s("query"),
        ),
        (
            s("10.0.0.2"),
            s("www.evil.example"),
            s("192.0.2.11"),
            1_200,
            1_200,
            1,
            s("blocklist"),
            s("query"),
        ),
        (
            s("10.0.0.3"),
            s("cdn.good.example"),
            s("edge.c2.example"),
            1_300,
            1_300,
            1,
            s("blocklist"),
            s("answer name"),
        ),
        (
            s("10.0.0.4"),
            s("x.bad.example"),
            s("192.0.2.12"),
            1_400,
            1_400,
            1,
            s("corp-rpz"),
            s("query"),
        ),
        (
            s("10.0.0.5"),
            s("innocent.example"),
            s("198.51.100.7"),
            1_600,
            1_600,
            1,
            s("corp-rpz"),
            s("address"),
        ),
        (
            s("10.0.0.5"),
            s("host.example"),
            s("203.0.113.9"),
            1_700,
            1_700,
            1,
            s("blocklist"),
            s("address"),
        ),
    ]
    .into_iter()
    .collect();
    // bad.example itself is not under *.bad.example; ads are suppressed; ok.example is an
    // RPZ passthru (an exemption); the tracker was never stored.
    assert_eq!(got, want);

    // Live alerts: one per (client, indicator), also through the webhook after a 503.
    let stored: Vec<Value> = std::fs::read_to_string(&alert_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(stored.len(), 6, "{stored:?}");
    let mut delivered: Vec<Value> = Vec::new();
    for _ in 0..100 {
        delivered = bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect();
        if delivered.len() == stored.len() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        delivered.len(),
        stored.len(),
        "every alert reaches the webhook"
    );
    assert_eq!(
        *requests.lock().unwrap() as usize,
        stored.len() + 1,
        "one retry after the 503"
    );
    let set = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .map(|a| format!("{}|{}|{}", a["client"], a["query"], a["ioc"]))
            .collect()
    };
    assert_eq!(set(&delivered), set(&stored));
    let mut buf = [0u8; 4096];
    let mut syslogged = 0;
    while let Ok(n) = syslog.recv(&mut buf) {
        let msg = String::from_utf8_lossy(&buf[..n]);
        assert!(msg.starts_with("<132>dnsrecall["), "{msg}");
        syslogged += 1;
    }
    assert_eq!(syslogged, stored.len());
    let listed = run_ok(d, &["alerts", "--format", "json"]);
    assert_eq!(listed.lines().count(), 6);

    // Exclusion kept the tracker out of the store; suppression kept ads out of the hunt.
    let q = run_ok(d, &["query", "tracker.example", "--format", "json"]);
    assert!(!q.contains("192.0.2.15"));
    let q = run_ok(d, &["query", "ads.evil.example", "--format", "json"]);
    assert!(
        q.contains("192.0.2.14"),
        "suppressed, not excluded: still stored"
    );

    // Cron use and time windows.
    assert_eq!(run(d, &["hunt", "--fail-on-hit"]).status.code(), Some(1));
    let none = run(d, &["hunt", "--since", "2030-01-01", "--fail-on-hit"]);
    assert_eq!(none.status.code(), Some(0));
    let rpz_only = json_out(d, &["hunt", "--feed", "corp-rpz", "--format", "json"]);
    assert_eq!(rpz_only.as_array().unwrap().len(), 2);
    let sightings = json_out(d, &["hunt", "--format", "misp-sightings"]);
    assert!(
        sightings
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["values"][0] == "evil.example")
    );

    // Reports.
    let top = json_out(
        d,
        &["report", "top-clients", "--since", "0", "--format", "json"],
    );
    let first = &top.as_array().unwrap()[0];
    assert_eq!(
        (first["client"].as_str(), first["hits"].as_u64()),
        (Some("10.0.0.1"), Some(2))
    );
    let iocs = json_out(
        d,
        &["report", "top-iocs", "--since", "0", "--format", "json"],
    );
    assert_eq!(iocs[0]["ioc"], "evil.example");
    assert_eq!(iocs[0]["hits"], 3);
    assert_eq!(iocs[0]["clients"], 2);
    let names = json_out(
        d,
        &["report", "top-names", "--since", "0", "--format", "json"],
    );
    assert!(
        names
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["name"] != "ads.evil.example")
    );
    let new = json_out(
        d,
        &[
            "report",
            "new-domains",
            "--since",
            "2000",
            "--format",
            "json",
        ],
    );
    let new: BTreeSet<&str> = new
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(new, BTreeSet::from(["ok.example", "benign.example"]));

    // A refreshed feed is hunted over the whole history at once.
    let out = run(d, &["intel", "refresh", "corp-rpz", "--hunt-on-refresh"]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("x.bad.example") && table.contains("innocent.example"),
        "{table}"
    );
    assert!(
        !table.contains("evil.example"),
        "only the refreshed feed: {table}"
    );

    // A refresh that finds only garbage keeps the last good version.
    std::fs::write(p("blocklist.txt"), "not a domain!\n!!!\n").unwrap();
    let out = run(d, &["intel", "refresh", "blocklist"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("previous version stays in use"));
    let feeds = json_out(d, &["intel", "list", "--json"]);
    let bl = feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "blocklist")
        .unwrap();
    assert_eq!(bl["state"]["iocs"], 3);
    assert!(bl["state"]["last_error"].is_string());
    let again = json_out(d, &["hunt", "--format", "json"]);
    assert_eq!(
        again.as_array().unwrap().len(),
        hits.as_array().unwrap().len()
    );
}
