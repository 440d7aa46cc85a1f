//! The same commands on SQLite and on a real ClickHouse server hold the same answers.
//!
//! One store of each kind is filled by the same commands (a passivedns log, the same log
//! again from a second sensor, the corpus captures from a third, the dnstap files of two
//! resolvers); then every query form, filter, time fence, sort, limit and output format
//! of `query`, `clients`, `hunt`, `report` and `stats`, and the HTTP APIs of `serve`,
//! must print byte-identical answers on both. The fault test stops the server in the
//! middle of an ingest and checks the store ends up as a clean run's.
//!
//! The server is Debian's `/usr/sbin/clickhouse-server` (or
//! `$DNSRECALL_CLICKHOUSE_SERVER`), started by the test on loopback ports with its own
//! data directory; a missing server fails the test.

#[path = "../../clickhouse/tests/common/mod.rs"]
mod chserver;
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, corpus, repo};
use serde_json::Value;

/// Runs dnsrecall on a data directory, with a store URL when given.
fn run(data: &Path, store: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("--data-dir").arg(data);
    if let Some(url) = store {
        cmd.args(["--store", url]);
    }
    cmd.args(args)
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null")
        .output()
        .expect("run dnsrecall")
}

fn run_ok(data: &Path, store: Option<&str>, args: &[&str]) -> Output {
    let out = run(data, store, args);
    assert!(
        out.status.success(),
        "dnsrecall {store:?} {args:?} failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The two stores: SQLite in one data directory, ClickHouse (with its side files in
/// another data directory).
struct Pair {
    sqlite: PathBuf,
    ch_dir: PathBuf,
    url: String,
}

impl Pair {
    /// Runs a command on both and returns both outputs.
    fn both(&self, args: &[&str]) -> (Output, Output) {
        (
            run(&self.sqlite, None, args),
            run(&self.ch_dir, Some(&self.url), args),
        )
    }

    fn both_ok(&self, args: &[&str]) {
        run_ok(&self.sqlite, None, args);
        run_ok(&self.ch_dir, Some(&self.url), args);
    }
}

fn pcaps() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(corpus().join("pcap"))
        .expect("corpus pcap dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    assert!(v.len() >= 50, "the corpus has {} captures", v.len());
    v
}

/// Fills both stores with the same data through the same commands.
fn fill(pair: &Pair, work: &Path) {
    let sample = repo().join("testdata/sample-passivedns.json.gz");
    let second = work.join("second-sensor.json.gz");
    std::fs::copy(&sample, &second).expect("copy the sample");
    let sample = sample.display().to_string();
    let second = second.display().to_string();
    pair.both_ok(&["ingest", "--no-progress", &sample]);
    pair.both_ok(&["ingest", "--no-progress", "--sensor", "s2", &second]);
    let mut sniff = vec!["sniff", "--no-progress", "--sensor", "s3"];
    let files = pcaps();
    for f in &files {
        sniff.extend(["-r", f.as_str()]);
    }
    pair.both_ok(&sniff);
    for f in ["bind9.dnstap", "unbound.dnstap"] {
        let path = repo().join("testdata/dnstap").join(f);
        pair.both_ok(&[
            "dnstap",
            "--sensor",
            "s4",
            "-r",
            &path.display().to_string(),
        ]);
    }
    // Feeds live in each data directory: the same ones in both.
    let feed = work.join("watch.txt");
    std::fs::write(
        &feed,
        "# domains and addresses of the sample and the corpus\n\
         cloudfront.net\npixelwine.com\nsparkmetro.eu\nexample.com\n\
         13.32.0.0/16\n140.82.18.175\n2a00:1450::/32\n",
    )
    .expect("feed file");
    let seed = repo().join("testdata/sample-feed.txt");
    pair.both_ok(&["intel", "add", "watch", &feed.display().to_string()]);
    pair.both_ok(&["intel", "add", "seed", &seed.display().to_string()]);
}

/// Every query form, filter, fence, sort, limit and format (DESIGN.md), on names,
/// addresses and names inside answers.
fn query_cases(client: &str) -> Vec<Vec<String>> {
    let mut cases: Vec<Vec<&str>> = Vec::new();
    let patterns = [
        "search.pixelwine.com",
        "*.cloudfront.net",
        "int.download.*",
        "*pixel*",
        "*.net",
        "*.com",
        "*",
        "13.32.158.229",
        "13.32.0.0/16",
        "13.32.0.0-13.33.255.255",
        "140.82.0.0/15",
        "0.0.0.0/0",
        "::/0",
        "2000::/3",
        "2a00:1450::/32",
        "no-such-name.invalid",
    ];
    for p in patterns {
        cases.push(vec!["query", p, "--format", "json", "--limit", "100000"]);
    }
    for rdata in [
        "*.cloudfront.net",
        "healthdev.co.uk.cdn.cloudflare.net",
        "*.com",
        "*cdn*",
    ] {
        cases.push(vec![
            "query", "--rdata", rdata, "--format", "json", "--limit", "100000",
        ]);
    }
    let filters: Vec<Vec<&str>> = vec![
        vec!["-t", "A"],
        vec!["-t", "A,AAAA"],
        vec!["-t", "CNAME", "-t", "MX"],
        vec!["-t", "ANY"],
        vec!["-t", "ANY-DNSSEC"],
        vec!["--after", "2019-04-01"],
        vec!["--before", "2019-03-25"],
        vec![
            "--after",
            "2019-03-25",
            "--before",
            "2019-04-05",
            "--strict",
        ],
        vec!["--after", "2019-03-25", "--before", "2019-04-05"],
        vec!["--first-after", "2019-04-01"],
        vec!["--first-before", "2019-03-21"],
        vec!["--last-after", "2019-04-15"],
        vec!["--last-before", "2019-04-01"],
        vec!["--sensor", "s2"],
        vec!["--sensor", "s3"],
        vec!["--sensor", "s3", "--sensor", "s4"],
        vec!["--sensor", "nobody"],
        vec!["--sort", "first"],
        vec!["--sort", "last", "--desc"],
        vec!["--sort", "count", "--desc"],
        vec!["--sort", "name", "--desc"],
        vec!["--limit", "7"],
        vec!["--limit", "5", "--offset", "3"],
        vec![
            "--sort", "count", "--desc", "--limit", "10", "--offset", "10",
        ],
        vec!["--after", "30d"],
    ];
    for f in &filters {
        for p in ["*.net", "13.32.0.0/16", "*"] {
            let mut c = vec!["query", p, "--format", "json"];
            if !f.contains(&"--limit") {
                c.extend(["--limit", "100000"]);
            }
            c.extend(f.iter().copied());
            cases.push(c);
        }
        let mut c = vec!["query", "--rdata", "*.net", "--format", "json"];
        c.extend(f.iter().copied());
        cases.push(c);
    }
    for format in ["table", "csv", "cof"] {
        cases.push(vec!["query", "*.cloudfront.net", "--format", format]);
        cases.push(vec!["query", "13.32.0.0/16", "--format", format]);
    }
    cases.push(vec![
        "query",
        "*pixel*",
        "--time-format",
        "%d/%m/%Y %H:%M:%S",
    ]);
    cases.push(vec!["query", "*.com", "--negative", "--format", "json"]);
    cases.push(vec![
        "query",
        "*",
        "--negative",
        "--format",
        "json",
        "-t",
        "A",
    ]);
    cases.push(vec![
        "query",
        "*",
        "--negative",
        "--format",
        "csv",
        "--sensor",
        "s3",
    ]);
    for pattern in ["search.pixelwine.com", "*.cloudfront.net", "*", client] {
        cases.push(vec![
            "clients", pattern, "--format", "json", "--limit", "100000",
        ]);
        cases.push(vec!["clients", pattern, "--format", "csv", "-t", "A"]);
        cases.push(vec![
            "clients",
            pattern,
            "--format",
            "json",
            "--after",
            "2019-04-10",
        ]);
        cases.push(vec![
            "clients", pattern, "--format", "json", "--sensor", "s2",
        ]);
    }
    for c in [
        vec!["hunt", "--format", "json"],
        vec!["hunt", "--format", "csv"],
        vec!["hunt"],
        vec!["hunt", "--feed", "seed", "--format", "json"],
        vec!["hunt", "--since", "2019-04-10", "--format", "json"],
        vec!["hunt", "--format", "misp-sightings"],
        vec![
            "report",
            "top-clients",
            "--since",
            "2019-01-01",
            "--format",
            "json",
        ],
        vec![
            "report",
            "top-iocs",
            "--since",
            "2019-01-01",
            "--format",
            "json",
        ],
        vec![
            "report",
            "top-names",
            "--since",
            "2019-01-01",
            "--format",
            "json",
        ],
        vec![
            "report",
            "top-names",
            "--since",
            "2019-04-15",
            "--limit",
            "5",
        ],
        vec![
            "report",
            "new-domains",
            "--since",
            "2019-04-10",
            "--format",
            "json",
        ],
        vec![
            "report",
            "new-domains",
            "--since",
            "2000-01-01",
            "--limit",
            "50",
        ],
    ] {
        cases.push(c);
    }
    cases
        .into_iter()
        .map(|c| c.into_iter().map(str::to_owned).collect())
        .collect()
}

/// `stats --json` without what differs by design: where the store is, its size and its
/// schema version (each backend counts its own).
fn stats(data: &Path, store: Option<&str>) -> Value {
    let out = run_ok(data, store, &["stats", "--json"]);
    let mut v: Value = serde_json::from_slice(&out.stdout).expect("stats json");
    let obj = v.as_object_mut().expect("stats object");
    obj.remove("path");
    obj.remove("bytes_per_tuple");
    obj.remove("schema_version");
    obj.remove("bytes");
    v
}

fn start_server(data: &Path, store: Option<&str>, log: &Path) -> (Child, u16) {
    use std::ffi::OsStr;
    let mut args: Vec<&OsStr> = vec![OsStr::new("--data-dir"), data.as_os_str()];
    if let Some(url) = store {
        args.extend([OsStr::new("--store"), OsStr::new(url)]);
    }
    args.extend(["serve", "--listen", "127.0.0.1:0", "--no-auth"].map(OsStr::new));
    common::spawn_serve(&args, log)
}

/// A GET over HTTP/1.0: status and body.
fn get(port: u16, target: &str) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        c,
        "GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
    )
    .expect("send");
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("http answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, body.to_owned())
}

#[test]
fn sqlite_and_clickhouse_answer_the_same() {
    let server = chserver::Server::start();
    let work = tempfile::tempdir().expect("tempdir");
    let pair = Pair {
        sqlite: work.path().join("sqlite"),
        ch_dir: work.path().join("ch"),
        url: format!("clickhouse://127.0.0.1:{}/parity", server.http_port),
    };
    fill(&pair, work.path());

    // The stores hold the same things.
    let (a, b) = (
        stats(&pair.sqlite, None),
        stats(&pair.ch_dir, Some(&pair.url)),
    );
    assert_eq!(a, b, "stats differ");
    assert!(
        a["tuples"].as_u64().expect("tuples") > 3_000,
        "too little data: {a}"
    );
    let sensors = a["sensors"].to_string();
    for s in ["s2", "s3", "s4"] {
        assert!(sensors.contains(s), "sensor {s} missing: {sensors}");
    }

    // A client address that asked for something, for `clients ADDRESS`.
    let out = run_ok(
        &pair.sqlite,
        None,
        &["clients", "search.pixelwine.com", "--format", "json"],
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("clients json");
    let client = v["results"][0]["client"]
        .as_str()
        .expect("a client")
        .to_owned();

    let cases = query_cases(&client);
    let mut nonempty = 0;
    for case in &cases {
        let args: Vec<&str> = case.iter().map(String::as_str).collect();
        let (a, b) = pair.both(&args);
        assert_eq!(
            a.status.code(),
            b.status.code(),
            "{args:?}: exit codes differ\nsqlite: {}\nclickhouse: {}",
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        );
        assert!(
            a.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&a.stderr)
        );
        if a.stdout != b.stdout {
            let (sa, sb) = (
                String::from_utf8_lossy(&a.stdout),
                String::from_utf8_lossy(&b.stdout),
            );
            let first = sa
                .lines()
                .zip(sb.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(sa.lines().count().min(sb.lines().count()));
            panic!(
                "{args:?}: answers differ ({} vs {} lines), first at line {first}:\nsqlite:     {:?}\nclickhouse: {:?}",
                sa.lines().count(),
                sb.lines().count(),
                sa.lines().nth(first),
                sb.lines().nth(first)
            );
        }
        if a.stdout.len() > 200 {
            nonempty += 1;
        }
    }
    eprintln!(
        "{} commands answered the same on both stores ({nonempty} with rows)",
        cases.len()
    );
    assert!(nonempty * 10 >= cases.len() * 7, "too many empty answers");

    // The HTTP APIs of `serve` over each store.
    let (mut s1, p1) = start_server(&pair.sqlite, None, &work.path().join("serve1.log"));
    let (mut s2, p2) = start_server(
        &pair.ch_dir,
        Some(&pair.url),
        &work.path().join("serve2.log"),
    );
    let targets = [
        "/api/v1/query?q=*.cloudfront.net",
        "/api/v1/query?q=13.32.0.0/16&type=A&sort=count&desc=true&limit=20",
        "/api/v1/query?q=*.net&sensor=s3&after=2019-01-01",
        "/api/v1/clients?q=search.pixelwine.com",
        "/api/v1/negative?q=*.com",
        "/dnsdb/v2/lookup/rrset/name/*.cloudfront.net?limit=1000",
        "/dnsdb/v2/lookup/rdata/ip/13.32.0.0,16",
        "/dnsdb/v2/lookup/rdata/name/*.cloudfront.net/CNAME",
        "/dnsdb/v2/summarize/rrset/name/*.net",
        "/pdns/query/search.pixelwine.com",
        "/pdns/query/13.32.158.229",
        "/api/v1/intel",
    ];
    for t in targets {
        let (ca, ba) = get(p1, t);
        let (cb, bb) = get(p2, t);
        assert_eq!((ca, &ba), (cb, &bb), "GET {t} differs");
        assert_eq!(ca, 200, "GET {t}: {ba}");
        assert!(ba.len() > 20, "GET {t}: {ba}");
    }
    let (c, body) = get(p2, "/healthz");
    assert_eq!(c, 200, "{body}");
    for s in [&mut s1, &mut s2] {
        let _ = s.kill();
        let _ = s.wait();
    }
    drop(server);
}

/// Generated passivedns JSON lines: `n` lines over a few thousand names, answers and
/// clients, one second apart.
fn write_log(path: &Path, n: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("log file"));
    out.write_all(&log_lines(0..n)).expect("write log");
    out.flush().expect("flush log");
}

/// Lines `range` of the generated log.
fn log_lines(range: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..range.end {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if i < range.start {
            continue;
        }
        let name = format!("host{}.zone{}.example", x % 3_000, (x >> 20) % 40);
        let ip = format!(
            "10.{}.{}.{}",
            (x >> 8) % 4,
            (x >> 16) % 250,
            (x >> 24) % 250
        );
        let client = format!("192.168.{}.{}", (x >> 32) % 4, (x >> 40) % 200);
        writeln!(
            out,
            r#"{{"timestamp_s":{},"timestamp_ms":0,"client":"{client}","server":"10.0.0.53","class":"IN","query":"{name}.","type":"A","answer":"{ip}","ttl":300,"count":1}}"#,
            1_700_000_000 + i as u64
        )
        .expect("write log");
    }
    out
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open log");
    f.write_all(bytes).expect("append log");
}

/// Every tuple with its counts, in one canonical text (for comparing whole stores).
fn dump(data: &Path, store: Option<&str>) -> String {
    let out = run_ok(
        data,
        store,
        &["query", "*", "--format", "csv", "--limit", "10000000"],
    );
    let clients = run_ok(
        data,
        store,
        &["clients", "*", "--format", "csv", "--limit", "10000000"],
    );
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&clients.stdout)
    )
}

#[test]
fn stopping_clickhouse_mid_ingest_loses_and_doubles_nothing() {
    let mut server = chserver::Server::start();
    let work = tempfile::tempdir().expect("tempdir");
    let log = work.path().join("big.json");
    write_log(&log, 500_000);
    let log = log.display().to_string();

    // The clean run: SQLite, the reference.
    let clean = work.path().join("clean");
    run_ok(&clean, None, &["ingest", "--no-progress", &log]);

    let url = format!("clickhouse://127.0.0.1:{}/fault", server.http_port);
    let data = work.path().join("ch");
    let spool = work.path().join("spool");
    let spool_arg = spool.display().to_string();
    let stderr_path = work.path().join("ingest.stderr");
    let mut ingest = Command::new(bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["--store", &url, "--spool-dir", &spool_arg])
        .args(["ingest", "--no-progress", "--batch-size", "5000", &log])
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start ingest");

    // Parts of the tuples table so far: one more per batch (and month) stored.
    let parts = |server: &chserver::Server| -> u64 {
        server
            .sql(
                "SELECT count() FROM system.parts \
                 WHERE database = 'fault' AND table = 'tuples'",
            )
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let wait_for_batches = |server: &chserver::Server, ingest: &mut Child, from: u64| {
        let started = Instant::now();
        while parts(server) < from + 3 {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no batch reached clickhouse"
            );
            assert!(
                ingest.try_wait().expect("ingest status").is_none(),
                "the ingest ended before the server went away: make the log bigger"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // 1. Some batches in, then the server is stopped (SIGTERM, as `systemctl stop`)
    //    while the ingest goes on; batches go to the spool; the server comes back.
    wait_for_batches(&server, &mut ingest, 0);
    server.stop();
    let spooled = Instant::now();
    while std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(
            spooled.elapsed() < Duration::from_secs(60),
            "nothing was spooled while the server was down:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(2));
    server.restart();
    // 2. More batches in, then the server is killed (SIGKILL: wherever it is, maybe in
    //    the middle of an INSERT), and started again.
    let before = parts(&server);
    wait_for_batches(&server, &mut ingest, before);
    server.kill();
    std::thread::sleep(Duration::from_secs(1));
    server.restart();
    let status = ingest.wait().expect("ingest exit");
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(status.success(), "ingest failed ({status}):\n{stderr}");
    assert!(
        stderr.contains("spooled") && !stderr.contains(" 0 spooled"),
        "the ingest did not report spooling:\n{stderr}"
    );
    assert!(
        std::fs::read_dir(&spool).expect("spool dir").count() == 0,
        "batches left in the spool:\n{stderr}"
    );

    // The store equals the clean run's: every tuple and sighting, every count.
    assert_eq!(
        stats(&clean, None),
        stats(&data, Some(&url)),
        "stats differ from a clean run"
    );
    let (a, b) = (dump(&clean, None), dump(&data, Some(&url)));
    assert!(a.lines().count() > 10_000, "too little data");
    assert!(a == b, "the store after the fault differs from a clean run");

    // Ingesting the same file again adds nothing (the checkpoints came through too).
    run_ok(&data, Some(&url), &["ingest", "--no-progress", &log]);
    assert!(
        dump(&data, Some(&url)) == a,
        "a second ingest counted again"
    );
}

#[test]
fn unreachable_clickhouse_is_a_clear_error() {
    let work = tempfile::tempdir().expect("tempdir");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("clickhouse://127.0.0.1:{port}/pdns");
    let out = run(work.path(), Some(&url), &["query", "x.example"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("clickhouse://127.0.0.1:{port}/pdns")),
        "{err}"
    );
    assert!(err.contains("unreachable"), "{err}");
    for bad in [
        "clickhouse://127.0.0.1/pdns",
        "clickhouse://127.0.0.1:8123/pd;ns",
        "postgres://x",
    ] {
        let out = run(work.path(), Some(bad), &["query", "x.example"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--store"),
            "{bad}"
        );
    }
}

/// A live dnstap receiver while ClickHouse is away: it starts anyway, spools, and once
/// the small spool is full it drops whole batches, says so loudly and counts them; what
/// it spooled goes in when the server is back.
#[test]
fn live_capture_spools_then_drops_and_says_so() {
    let mut server = chserver::Server::start();
    let url = format!("clickhouse://127.0.0.1:{}/live", server.http_port);
    server.stop();
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let spool = work.path().join("spool");
    let sock = work.path().join("tap.sock");
    let stderr_path = work.path().join("dnstap.stderr");
    let spool_arg = spool.display().to_string();
    let mut rec = Command::new(bin())
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--store",
            &url,
            "--spool-dir",
            &spool_arg,
            "--spool-max",
            "4K",
        ])
        .args(["dnstap", "--flush-interval", "200ms", "--listen"])
        .arg(format!("unix:{}", sock.display()))
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start dnstap");
    let started = Instant::now();
    while !sock.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30) && rec.try_wait().ok().flatten().is_none(),
            "the receiver did not start:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let file = repo().join("testdata/dnstap/unbound.dnstap");
    for _ in 0..8 {
        let status = Command::new("fstrm_replay")
            .args(["-t", "protobuf:dnstap.Dnstap", "-r"])
            .arg(&file)
            .arg("-u")
            .arg(&sock)
            .status()
            .expect("fstrm_replay (Debian's fstrm-bin; scripts/install-deps.sh installs it)");
        assert!(status.success());
        // A flush per replay: one batch each.
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &rec.id().to_string()])
        .status();
    let status = rec.wait().expect("dnstap exit");
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(log.contains("batches go to the spool"), "{log}");
    assert!(log.contains("SPOOL FULL"), "{log}");
    assert!(log.contains("DROPPED"), "{log}");
    assert!(log.contains("still spooled"), "{log}");
    assert_eq!(status.code(), Some(3), "batches left in the spool: {log}");
    let spooled = std::fs::read_dir(&spool).expect("spool dir").count();
    assert!(spooled >= 1, "{log}");

    // The server is back: the next run sends the spooled batches first.
    server.restart();
    let out = run_ok(
        &data,
        Some(&url),
        &[
            "--spool-dir",
            &spool_arg,
            "dnstap",
            "-r",
            &file.display().to_string(),
        ],
    );
    let log2 = String::from_utf8_lossy(&out.stderr);
    assert!(log2.contains(&format!("{spooled} replayed")), "{log2}");
    assert_eq!(std::fs::read_dir(&spool).expect("spool dir").count(), 0);
    // The file read once, plus what was spooled: more than the file alone.
    let once = work.path().join("once");
    run_ok(&once, None, &["dnstap", "-r", &file.display().to_string()]);
    let count = |d: &Path, s: Option<&str>| -> u64 {
        let out = run_ok(
            d,
            s,
            &["query", "*", "--format", "json", "--limit", "100000"],
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        v["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["count"].as_u64().expect("count"))
            .sum()
    };
    let (base, got) = (count(&once, None), count(&data, Some(&url)));
    assert!(base > 0);
    assert!(
        got > base && got < base * 9,
        "{got} sightings: want the file's {base} plus some but not all of 8 replays"
    );
}

/// An ingest killed (SIGKILL) while ClickHouse is away leaves batches in the spool,
/// each with the checkpoint of the lines it holds. The next ingest sends them first and
/// resumes where they end, in the middle of the file: the store equals a clean run's.
#[test]
fn ingest_killed_while_clickhouse_is_away_resumes_from_the_spool() {
    let mut server = chserver::Server::start();
    let url = format!("clickhouse://127.0.0.1:{}/resume", server.http_port);
    let work = tempfile::tempdir().expect("tempdir");
    let path = work.path().join("growing.json");
    let log = path.display().to_string();
    // The log grows while it is followed: 100k lines, 100k more while the server is
    // away, and 100k after the ingest was killed.
    std::fs::write(&path, log_lines(0..100_000)).expect("log file");

    let data = work.path().join("ch");
    let spool = work.path().join("spool");
    let spool_arg = spool.display().to_string();
    let stderr_path = work.path().join("ingest.stderr");
    let mut ingest = Command::new(bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["--store", &url, "--spool-dir", &spool_arg])
        .args(["ingest", "--follow", "--flush-interval", "200ms"])
        .args(["--batch-size", "5000", &log])
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start ingest");
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let files = || {
        std::fs::read_dir(&spool)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "batch"))
                })
                .count()
            })
            .unwrap_or(0)
    };
    let started = Instant::now();
    let mut wait = |what: &str, ready: &dyn Fn() -> bool| {
        while !ready() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{what}:\n{}",
                stderr()
            );
            assert!(
                ingest.try_wait().expect("ingest status").is_none(),
                "the ingest ended:\n{}",
                stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // Batches reach the server; then it goes away, the log grows, batches pile up in the
    // spool; then the ingest is killed.
    wait("no batch reached clickhouse", &|| {
        server
            .sql(
                "SELECT count() FROM system.parts \
                 WHERE database = 'resume' AND table = 'tuples'",
            )
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
            >= 2
    });
    server.stop();
    append(&path, &log_lines(100_000..200_000));
    wait("nothing spooled", &|| files() >= 3);
    let _ = ingest.kill();
    let _ = ingest.wait();
    let left = files();
    append(&path, &log_lines(200_000..300_000));

    // The clean run: SQLite over the whole file.
    let clean = work.path().join("clean");
    run_ok(&clean, None, &["ingest", "--no-progress", &log]);

    server.restart();
    let out = run_ok(
        &data,
        Some(&url),
        &["--spool-dir", &spool_arg, "ingest", "--no-progress", &log],
    );
    let rerun = String::from_utf8_lossy(&out.stderr);
    // The batches left behind go first; batches of this run may queue behind them.
    let replayed: usize = rerun
        .split(" replayed from the spool")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no replay count in:\n{rerun}"));
    assert!(
        replayed >= left,
        "{left} batches left, {replayed} replayed:\n{rerun}"
    );
    // Where the killed run's last spooled batch ended, not at the start or the end.
    let resumed_at: u64 = rerun
        .split("resumed after line ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("did not resume:\n{rerun}"));
    assert!(
        resumed_at > 100_000 && resumed_at < 300_000,
        "resumed after line {resumed_at}:\n{rerun}"
    );
    assert_eq!(files(), 0, "{rerun}");
    assert_eq!(stats(&clean, None), stats(&data, Some(&url)));
    assert!(
        dump(&clean, None) == dump(&data, Some(&url)),
        "the store after the resumed ingest differs from a clean run"
    );
}

/// Several sensors write into one ClickHouse at the same time (two log ingests and a
/// capture, each with its own sensor name and spool); the store then answers as one
/// SQLite store filled by the same runs one after the other: merged across sensors, and
/// by sensor.
#[test]
fn several_sensors_at_once() {
    let server = chserver::Server::start();
    let url = format!("clickhouse://127.0.0.1:{}/sensors", server.http_port);
    let work = tempfile::tempdir().expect("tempdir");
    let sample = repo().join("testdata/sample-passivedns.json.gz");
    let second = work.path().join("second.json.gz");
    std::fs::copy(&sample, &second).expect("copy the sample");
    let pcaps = pcaps();
    let runs: Vec<Vec<String>> = vec![
        vec![
            "ingest".into(),
            "--no-progress".into(),
            "--sensor".into(),
            "east".into(),
            sample.display().to_string(),
        ],
        vec![
            "ingest".into(),
            "--no-progress".into(),
            "--sensor".into(),
            "west".into(),
            second.display().to_string(),
        ],
        std::iter::once("sniff".to_owned())
            .chain(["--no-progress", "--sensor", "tap"].map(str::to_owned))
            .chain(pcaps.iter().flat_map(|p| ["-r".to_owned(), p.clone()]))
            .collect(),
    ];
    // ClickHouse: all at once, each sensor with its own data directory and spool.
    let children: Vec<(Child, PathBuf)> = runs
        .iter()
        .enumerate()
        .map(|(i, args)| {
            let dir = work.path().join(format!("sensor{i}"));
            let log = work.path().join(format!("sensor{i}.stderr"));
            let child = Command::new(bin())
                .arg("--data-dir")
                .arg(&dir)
                .args(["--store", &url])
                .args(args)
                .env_remove("DNSRECALL_DATA_DIR")
                .env("DNSRECALL_CONFIG", "/dev/null")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("stderr file"))
                .spawn()
                .expect("start a sensor");
            (child, log)
        })
        .collect();
    for (mut child, log) in children {
        let status = child.wait().expect("sensor exit");
        assert!(
            status.success(),
            "{status}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    // SQLite: the same runs one after the other.
    let sqlite = work.path().join("sqlite");
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_ok(&sqlite, None, &args);
    }
    let analyst = work.path().join("analyst");
    assert_eq!(stats(&sqlite, None), stats(&analyst, Some(&url)));
    for args in [
        vec!["query", "*", "--format", "csv", "--limit", "1000000"],
        vec![
            "query", "*", "--sensor", "west", "--format", "csv", "--limit", "1000000",
        ],
        vec![
            "query", "*", "--sensor", "tap", "--format", "csv", "--limit", "1000000",
        ],
        vec!["clients", "*", "--format", "csv", "--limit", "1000000"],
        vec![
            "query",
            "*",
            "--negative",
            "--format",
            "csv",
            "--limit",
            "1000000",
        ],
    ] {
        let a = run_ok(&sqlite, None, &args);
        let b = run_ok(&analyst, Some(&url), &args);
        assert!(a.stdout.len() > 1000, "{args:?}: too little");
        assert!(a.stdout == b.stdout, "{args:?}: answers differ");
    }
}
