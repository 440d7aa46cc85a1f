//! The seed's second search with real MISP data: PyMISP's OSINT test events, in every
//! form MISP hands them out (event JSON, /attributes/restSearch, a feed made by PyMISP,
//! CSV and text exports), loaded from files and from URLs served on loopback. Logs with
//! some of their domains and addresses, asked by known clients, are ingested; `hunt`
//! must return exactly those clients with their first and last seen, for every form.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, run_ok};
use serde_json::Value;

const EVENT_FILES: &[&str] = &[
    "reportlab_testfiles/long_event.json",
    "reportlab_testfiles/to_delete1.json",
    "reportlab_testfiles/to_delete2.json",
    "reportlab_testfiles/to_delete3.json",
    "reportlab_testfiles/sighting_1.json",
    "reportlab_testfiles/HTML_event.json",
    "mispevent_testfiles/existing_event.json",
];

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// The fixtures written by crates/intel's script from the OSINT events.
fn make_fixtures(out: &Path) {
    let python = env_path("DNSRECALL_PYENV", "/opt/dnsrecall/pyenv").join("bin/python");
    let src = env_path("DNSRECALL_PYMISP_SRC", "/opt/dnsrecall/pymisp-src");
    assert!(
        python.exists() && src.join("tests").is_dir(),
        "pymisp venv ({}) or sdist ({}) missing: run scripts/install-deps.sh",
        python.display(),
        src.display()
    );
    let script = common::repo().join("crates/intel/tests/fixtures/make_misp_fixtures.py");
    let o = Command::new(&python)
        .arg(&script)
        .arg(out)
        .args(EVENT_FILES.iter().map(|f| src.join("tests").join(f)))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "fixture script failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Serves a directory over HTTP on loopback (GET only), for the URL forms.
fn serve_dir(root: PathBuf) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            if r.read_line(&mut first).is_err() {
                continue;
            }
            let mut auth = false;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                auth |= h.eq_ignore_ascii_case("authorization: test-misp-key\r\n");
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let file = root.join(path.trim_start_matches('/'));
            let (status, body) = match std::fs::read(&file) {
                _ if !auth => ("403 Forbidden", Vec::new()),
                Ok(b) if !path.contains("..") => ("200 OK", b),
                _ => ("404 Not Found", Vec::new()),
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(&body);
        }
    });
    base
}

fn line(t: i64, client: &str, query: &str, ty: &str, answer: &str) -> String {
    serde_json::json!({
        "timestamp_s": t, "timestamp_ms": 0, "client": client, "server": "192.0.2.53",
        "class": "IN", "query": format!("{query}."), "type": ty, "answer": answer,
        "ttl": 300, "count": 1,
    })
    .to_string()
}

type HitKey = (String, String, String, i64, i64, u64);

fn hunt(data: &Path, feed: &str) -> BTreeSet<HitKey> {
    let out = run_ok(data, &["hunt", "--feed", feed, "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array()
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
            )
        })
        .collect()
}

#[test]
fn misp_forms_from_files_and_urls_hunt_the_same_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = tmp.path().join("fixtures");
    make_fixtures(&fx);
    let data = tmp.path().join("data");

    // Indicators to plant: top-level domain/hostname and ip-dst attributes of the events.
    let events: Value =
        serde_json::from_str(&std::fs::read_to_string(fx.join("events.json")).unwrap()).unwrap();
    let mut domains = BTreeSet::new();
    let mut addrs = BTreeSet::new();
    for e in events.as_array().unwrap() {
        for a in e["Event"]["Attribute"].as_array().into_iter().flatten() {
            let v = a["value"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            match a["type"].as_str() {
                Some("domain" | "hostname")
                    if v.contains('.')
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') =>
                {
                    domains.insert(v);
                }
                Some("ip-dst") if v.parse::<std::net::Ipv4Addr>().is_ok() => {
                    addrs.insert(v);
                }
                _ => {}
            }
        }
    }
    let domains: Vec<String> = domains.into_iter().take(3).collect();
    let addrs: Vec<String> = addrs.into_iter().take(2).collect();
    assert_eq!(
        (domains.len(), addrs.len()),
        (3, 2),
        "the OSINT events changed?"
    );

    // Known clients ask for them; others ask for harmless names.
    let mut lines = Vec::new();
    let mut want: BTreeSet<HitKey> = BTreeSet::new();
    for (i, d) in domains.iter().enumerate() {
        let client = format!("10.20.0.{}", i + 1);
        let t0 = 1_700_000_000 + i as i64 * 1000;
        lines.push(line(t0, &client, d, "A", "192.0.2.200"));
        lines.push(line(t0 + 500, &client, d, "A", "192.0.2.200"));
        want.insert((client, d.clone(), "192.0.2.200".into(), t0, t0 + 500, 2));
    }
    for (i, a) in addrs.iter().enumerate() {
        let client = format!("10.30.0.{}", i + 1);
        let name = format!("cdn{i}.harmless.dnsrecall.test");
        let t = 1_700_100_000 + i as i64;
        lines.push(line(t, &client, &name, "A", a));
        want.insert((client, name, a.clone(), t, t, 1));
    }
    for i in 0..50 {
        lines.push(line(
            1_700_200_000 + i,
            "10.99.0.1",
            &format!("w{i}.harmless.dnsrecall.test"),
            "A",
            "192.0.2.1",
        ));
    }
    let log = tmp.path().join("passivedns.json");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    run_ok(&data, &["ingest", log.to_str().unwrap()]);

    let base = serve_dir(fx.clone());
    let one_event = std::fs::read_dir(fx.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            domains
                .iter()
                .all(|d| text.to_ascii_lowercase().contains(&format!("\"{d}\"")))
        });
    let p = |f: &str| fx.join(f).to_string_lossy().into_owned();
    let mut forms: Vec<(String, String, Option<&str>)> = vec![
        ("events-list".into(), p("events.json"), None),
        ("attributes".into(), p("attributes.json"), None),
        ("feed-dir".into(), p("feed"), None),
        ("csv".into(), p("export.csv"), None),
        ("text".into(), p("export.txt"), Some("misp-text")),
        (
            "attributes-url".into(),
            format!("{base}/attributes.json"),
            None,
        ),
        ("feed-url".into(), format!("{base}/feed"), Some("misp-feed")),
        ("csv-url".into(), format!("{base}/export.csv"), None),
    ];
    if let Some(ev) = &one_event {
        forms.push(("one-event".into(), ev.to_string_lossy().into_owned(), None));
    }
    for (name, source, format) in &forms {
        let mut args = vec!["intel", "add", name.as_str(), source.as_str()];
        if let Some(f) = format {
            args.extend(["--format", f]);
        }
        if source.starts_with("http") {
            args.extend(["--header", "Authorization: test-misp-key"]);
        }
        let out = run(&data, &args);
        assert!(
            out.status.success(),
            "intel add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let feeds: Value = serde_json::from_str(&run_ok(&data, &["intel", "list", "--json"])).unwrap();
    for f in feeds.as_array().unwrap() {
        assert!(f["state"]["iocs"].as_u64().unwrap() > 10, "{f}");
    }

    // Every form finds exactly the planted clients, with their first and last seen
    // (the single event holds only its own indicators: a subset).
    for (name, _, _) in &forms {
        let got = hunt(&data, name);
        if name == "one-event" {
            assert!(!got.is_empty() && got.is_subset(&want), "{name}: {got:?}");
        } else {
            assert_eq!(got, want, "form {name}");
        }
    }
    // Hits carry the MISP event and category where the form has them.
    let rich: Value = serde_json::from_str(&run_ok(
        &data,
        &["hunt", "--feed", "attributes", "--format", "json"],
    ))
    .unwrap();
    assert!(
        rich.as_array()
            .unwrap()
            .iter()
            .all(|h| h["event"].is_string() && h["category"].is_string())
    );

    // Filters: only domain attributes; a wrong key is refused and nothing is added.
    let typed = "attributes-domains";
    run_ok(
        &data,
        &[
            "intel",
            "add",
            typed,
            &p("attributes.json"),
            "--type",
            "domain",
            "--type",
            "hostname",
        ],
    );
    let got = hunt(&data, typed);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|h| domains.contains(&h.1)));
    let refused = run(
        &data,
        &[
            "intel",
            "add",
            "nokey",
            &format!("{base}/attributes.json"),
            "--header",
            "Authorization: wrong",
        ],
    );
    assert_ne!(refused.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("403"));
}
