//! `dnsrecall serve` and `dnsrecall keys` as processes: key management, refusals, and
//! collection and serving in one process on one store.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, repo, run, run_ok};

/// A running `dnsrecall serve`, killed when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, args: &[&str]) -> Served {
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(data)
        .arg("serve")
        .args(args)
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start dnsrecall serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Served { child, addr }
}

/// A plain HTTP/1.0 GET: (status, body).
fn http_get(addr: SocketAddr, target: &str, key: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = key
        .map(|k| format!("X-API-Key: {k}\r\n"))
        .unwrap_or_default();
    write!(s, "GET {target} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

fn rows(body: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["rows"].as_array().cloned().unwrap_or_default()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn keys_are_managed_and_open_servers_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let secret = run_ok(
        data,
        &["keys", "add", "ci", "--rate", "600/min", "--expires", "90d"],
    );
    let secret = secret.trim();
    assert!(secret.starts_with("dnsr_") && secret.len() > 40, "{secret}");
    let list = run_ok(data, &["keys", "list"]);
    assert!(
        list.contains("ci") && list.contains("active") && list.contains("600"),
        "{list}"
    );
    assert!(!list.contains(secret), "secrets are never listed");
    let stored = std::fs::read_to_string(data.join("api-keys.json")).unwrap();
    assert!(!stored.contains(secret));
    let out = run(data, &["keys", "add", "ci"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a second active key of one name"
    );
    let out = run(data, &["keys", "add", "x", "--rate", "fast"]);
    assert_eq!(out.status.code(), Some(2));

    // --no-auth beyond loopback is refused before anything listens.
    let out = run(data, &["serve", "--no-auth", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));

    // The key works against a real server; revoked, it stops working.
    let s = serve(data, &["--listen", "127.0.0.1:0"]);
    let (st, _) = http_get(s.addr, "/api/v1/stats", Some(secret));
    assert_eq!(st, 200);
    let (st, _) = http_get(s.addr, "/api/v1/stats", None);
    assert_eq!(st, 401);
    run_ok(data, &["keys", "revoke", "ci"]);
    wait_for("revocation", || {
        http_get(s.addr, "/api/v1/stats", Some(secret)).0 == 401
    });
    let list = run_ok(data, &["keys", "list", "--json"]);
    let keys: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert!(keys[0]["revoked"].is_i64());
    assert_eq!(run(data, &["keys", "revoke", "ci"]).status.code(), Some(2));
    // With no active key left, a non-loopback server is refused.
    let out = run(data, &["serve", "--listen", "0.0.0.0:0"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("keys add"));
}

#[test]
fn serve_with_ingest_collects_and_answers_on_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("passivedns.json");
    std::fs::copy(repo().join("testdata/seed-example.json"), &log).unwrap();
    let log_arg = log.to_str().unwrap().to_owned();
    let mut s = serve(
        &data,
        &["--no-auth", "--listen", "127.0.0.1:0", "--ingest", &log_arg],
    );
    wait_for("the seed line", || {
        rows(&http_get(s.addr, "/api/v1/query?q=isc.sans.org", None).1).len() == 1
    });
    // A line written later is followed, committed, and served.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(
        f,
        r#"{{"timestamp_s":1553714400,"timestamp_ms":0,"client":"10.9.9.9","server":"192.0.2.53","class":"IN","query":"late.example.org.","type":"A","answer":"192.0.2.77","ttl":60,"count":1}}"#
    )
    .unwrap();
    drop(f);
    wait_for("the late line", || {
        rows(&http_get(s.addr, "/api/v1/query?q=late.example.org", None).1).len() == 1
    });
    let (st, metrics) = http_get(s.addr, "/metrics", None);
    assert_eq!(st, 200);
    assert!(
        metrics.contains("dnsrecall_ingest_lines_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("dnsrecall_http_requests_total{route=\"/api/v1/query\",status=\"200\"}")
    );
    let (_, clients) = http_get(s.addr, "/api/v1/clients?q=10.9.9.9", None);
    assert_eq!(rows(&clients)[0]["query"], "late.example.org");

    // SIGTERM stops serving and collecting; everything is in the store.
    let pid = s.child.id().to_string();
    let st = Command::new("/usr/bin/kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(st.success());
    let start = Instant::now();
    let code = loop {
        if let Some(c) = s.child.try_wait().unwrap() {
            break c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "{code:?}");
    let out = run_ok(&data, &["query", "*.example.org", "--format", "json"]);
    assert!(out.contains("late.example.org"));
    let audit = std::fs::read_to_string(data.join("audit.log")).unwrap();
    assert!(audit.contains("/api/v1/clients?q=10.9.9.9"));
}
