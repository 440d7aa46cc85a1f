//! `dnsrecall sniff -i lo` against a real authoritative server: the test starts Debian's
//! `nsd` on 127.0.0.153 and ::1 with the zones in `testdata/live/` (many record types, a
//! CNAME chain, TXT with spaces and quotes, a TXT RRset over 512 bytes, a reverse zone),
//! captures live on the loopback interface while `dig` asks over UDP and TCP, IPv4 and IPv6
//! (a truncated UDP answer retried over TCP, NXDOMAINs included), stops the capture with
//! SIGTERM and checks through `dnsrecall query` / `dnsrecall clients` that every answer dig
//! printed, every NXDOMAIN and every asking client is in the store.
//!
//! It needs root (or CAP_NET_RAW) for the capture, and `nsd` and `dig` (`dnsutils`):
//! `scripts/install-deps.sh` installs them. Anything missing fails the test, never skips it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, query_json, repo, run_ok};

/// Where nsd listens (IPv4; IPv6 is ::1). Not 127.0.0.1, so the BPF filter and the
/// client addresses tell server and client apart.
const SERVER4: &str = "127.0.0.153";
const SERVER6: &str = "::1";
/// The source addresses dig is told to use (`-b`): the clients the store must name.
const CLIENT4: &str = "127.0.0.1";
const CLIENT6: &str = "::1";
const ZONE: &str = "dnsrecall.test";
/// The apex SOA, as dig prints it: nsd is up when it answers this.
const SOA: &str = "ns1.dnsrecall.test. hostmaster.dnsrecall.test. 2024060101 3600 900 604800 300";
/// The TXT RRset over 512 bytes (testdata/live/dnsrecall.test.zone).
const BIG_TXT_RECORDS: usize = 14;
/// Longest wait for nsd to answer, for the capture to start, for sniff to stop.
const STARTUP: Duration = Duration::from_secs(10);
const HINT: &str = "this test needs root (or CAP_NET_RAW) for live capture on lo, and \
    nsd, dig (dnsutils) and libpcap: scripts/install-deps.sh installs them (as root)";

// ---------------------------------------------------------------------------------------
// The queries

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// NOERROR with answers.
    Answers,
    /// Over UDP the answer does not fit: TC=1, and dig asks again over TCP.
    TruncatedThenTcp,
    NxDomain,
}

#[derive(Debug, Clone, Copy)]
struct Query {
    name: &'static str,
    qtype: &'static str,
    transport: Transport,
    family: Family,
    /// More dig options.
    options: &'static [&'static str],
    expect: Expect,
}

const fn q(
    name: &'static str,
    qtype: &'static str,
    transport: Transport,
    family: Family,
    expect: Expect,
) -> Query {
    Query {
        name,
        qtype,
        transport,
        family,
        options: &[],
        expect,
    }
}

use Expect::{Answers, NxDomain, TruncatedThenTcp};
use Family::{V4, V6};
use Transport::{Tcp, Udp};

const QUERIES: &[Query] = &[
    q("www.dnsrecall.test", "A", Udp, V4, Answers),
    q("www.dnsrecall.test", "AAAA", Udp, V6, Answers),
    // The answer's owner name keeps the question's case; the store lowercases it.
    q("WWW.DNSRecall.Test", "A", Tcp, V4, Answers),
    // CNAME chains: alias1 -> alias2 -> alias3 -> www.
    q("alias1.dnsrecall.test", "A", Udp, V4, Answers),
    q("alias2.dnsrecall.test", "AAAA", Tcp, V6, Answers),
    q("dnsrecall.test", "MX", Tcp, V6, Answers),
    q("mail.dnsrecall.test", "A", Udp, V6, Answers),
    q("dnsrecall.test", "NS", Udp, V4, Answers),
    q("dnsrecall.test", "SOA", Tcp, V4, Answers),
    q("dnsrecall.test", "CAA", Udp, V6, Answers),
    q("txt.dnsrecall.test", "TXT", Udp, V4, Answers),
    // Several strings, spaces, quotes, a backslash, a semicolon.
    q("quoted.dnsrecall.test", "TXT", Udp, V4, Answers),
    q("quoted.dnsrecall.test", "TXT", Tcp, V6, Answers),
    q("_sip._tcp.dnsrecall.test", "SRV", Udp, V6, Answers),
    q("10.2.0.192.in-addr.arpa", "PTR", Udp, V4, Answers),
    q("25.2.0.192.in-addr.arpa", "PTR", Tcp, V6, Answers),
    q("host.dnsrecall.test", "SSHFP", Udp, V4, Answers),
    q("host.dnsrecall.test", "HINFO", Tcp, V4, Answers),
    q("naptr.dnsrecall.test", "NAPTR", Udp, V6, Answers),
    Query {
        options: &["+bufsize=512"],
        ..q("big.dnsrecall.test", "TXT", Udp, V4, TruncatedThenTcp)
    },
    Query {
        options: &["+noedns"],
        ..q("big.dnsrecall.test", "TXT", Udp, V6, TruncatedThenTcp)
    },
    q("nope.dnsrecall.test", "A", Udp, V4, NxDomain),
    q("NoSuch.DNSRecall.test", "MX", Udp, V6, NxDomain),
    q("nope-tcp.dnsrecall.test", "AAAA", Tcp, V6, NxDomain),
];

/// The record types the zone and the queries above must show (so a change that loses one
/// is noticed).
const TYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR", "CAA", "SSHFP", "NAPTR", "HINFO",
];

impl Query {
    fn server(&self) -> &'static str {
        match self.family {
            Family::V4 => SERVER4,
            Family::V6 => SERVER6,
        }
    }

    fn client(&self) -> &'static str {
        match self.family {
            Family::V4 => CLIENT4,
            Family::V6 => CLIENT6,
        }
    }

    /// DNS messages (a query and its response) this exchange puts on UDP and on TCP.
    fn messages(&self) -> (u64, u64) {
        match (self.expect, self.transport) {
            (TruncatedThenTcp, _) => (2, 2),
            (_, Transport::Udp) => (2, 0),
            (_, Transport::Tcp) => (0, 2),
        }
    }
}

// ---------------------------------------------------------------------------------------
// External tools

/// `name` on the PATH or in the sbin directories (nsd lives in /usr/sbin), else a failure
/// that says how to install it.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found (PATH, /usr/sbin): {HINT}"))
}

/// Runs `dig` (no ~/.digrc) with a short timeout.
fn dig(dig: &Path, server: &str, port: u16, args: &[&str]) -> Output {
    Command::new(dig)
        .args(["-r", "+time=2", "+tries=2", "-p", &port.to_string()])
        .arg(format!("@{server}"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}; {HINT}", dig.display()))
}

/// A record of an answer section as dig prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rr {
    name: String,
    rrtype: String,
    rdata: String,
}

/// What dig printed for one query.
#[derive(Debug)]
struct DigResult {
    status: String,
    answers: Vec<Rr>,
    /// dig got TC=1 over UDP and asked again over TCP.
    retried_over_tcp: bool,
    /// The transport of the answer printed, when dig says (9.18 and later do).
    transport: Option<Transport>,
}

/// The first whitespace-separated field of `s` and the rest.
fn field(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn parse_dig(text: &str) -> DigResult {
    let mut status = String::new();
    let mut answers = Vec::new();
    let mut in_answer = false;
    let mut transport = None;
    for line in text.lines() {
        if let Some(rest) = line.split_once("status: ").map(|(_, r)| r) {
            status = rest.split(',').next().unwrap_or_default().to_owned();
        }
        if line.starts_with(";; SERVER:") {
            if line.ends_with("(TCP)") {
                transport = Some(Transport::Tcp);
            } else if line.ends_with("(UDP)") {
                transport = Some(Transport::Udp);
            }
        }
        if line.starts_with(";; ANSWER SECTION:") {
            in_answer = true;
            continue;
        }
        if in_answer {
            if line.trim().is_empty() || line.starts_with(';') {
                in_answer = false;
                continue;
            }
            let (name, rest) = field(line);
            let (_ttl, rest) = field(rest);
            let (class, rest) = field(rest);
            let (rrtype, rest) = field(rest);
            assert_eq!(class, "IN", "dig answer line {line:?}");
            answers.push(Rr {
                name: name.to_owned(),
                rrtype: rrtype.to_owned(),
                rdata: rest.trim().to_owned(),
            });
        }
    }
    DigResult {
        status,
        answers,
        retried_over_tcp: text.contains(";; Truncated, retrying in TCP mode."),
        transport,
    }
}

// ---------------------------------------------------------------------------------------
// Canonical form (docs/spec-canonical.md): lowercase names without the trailing dot, also
// inside rdata; free text as it is; digests in lowercase hex without spaces.

fn canonical_name(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.strip_suffix('.') {
        Some("") | None => n,
        Some(stripped) => stripped.to_owned(),
    }
}

fn canonical_rdata(rrtype: &str, rdata: &str) -> String {
    let last_token_is_name = |s: &str| match s.rsplit_once(' ') {
        Some((head, last)) => format!("{head} {}", canonical_name(last)),
        None => canonical_name(s),
    };
    match rrtype {
        "CNAME" | "NS" | "PTR" | "DNAME" => canonical_name(rdata),
        "MX" | "SRV" | "NAPTR" | "KX" | "AFSDB" | "RT" => last_token_is_name(rdata),
        "SOA" => {
            let mut parts = rdata.splitn(3, ' ');
            let (m, r, rest) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            format!("{} {} {rest}", canonical_name(m), canonical_name(r))
        }
        // dig writes the fingerprint in uppercase hex, split into chunks.
        "SSHFP" | "DS" | "TLSA" => {
            let fixed = if rrtype == "TLSA" { 3 } else { 2 };
            let parts: Vec<&str> = rdata.split_whitespace().collect();
            let (head, digest) = parts.split_at(fixed.min(parts.len()));
            format!(
                "{} {}",
                head.join(" "),
                digest.concat().to_ascii_lowercase()
            )
        }
        _ => rdata.to_owned(),
    }
}

fn canonical(rr: &Rr) -> (String, String, String) {
    (
        canonical_name(&rr.name),
        rr.rrtype.clone(),
        canonical_rdata(&rr.rrtype, &rr.rdata),
    )
}

// ---------------------------------------------------------------------------------------
// nsd

/// A running nsd (its own process group), stopped when dropped.
struct Nsd {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nsd {
    fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("{}{}", read("nsd.out"), read("nsd.log"))
    }

    /// Starts nsd on `port` and waits until it answers on both addresses; `Err` with its
    /// log when it exits or does not answer.
    fn start(nsd: &Path, dig_bin: &Path, dir: &Path, port: u16) -> Result<Self, String> {
        let template = std::fs::read_to_string(repo().join("testdata/live/nsd.conf.in"))
            .expect("testdata/live/nsd.conf.in");
        let dir_text = dir.to_str().expect("utf-8 temporary directory");
        let conf = template
            .replace("@DIR@", dir_text)
            .replace("@PORT@", &port.to_string());
        std::fs::write(dir.join("nsd.conf"), conf).unwrap();
        for zone in ["dnsrecall.test.zone", "2.0.192.in-addr.arpa.zone"] {
            std::fs::copy(repo().join("testdata/live").join(zone), dir.join(zone)).unwrap();
        }
        let _ = std::fs::remove_file(dir.join("nsd.log"));
        let out = File::create(dir.join("nsd.out")).unwrap();
        let child = Command::new(nsd)
            .arg("-d")
            .arg("-c")
            .arg(dir.join("nsd.conf"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}; {HINT}", nsd.display()));
        let mut nsd = Self {
            child,
            dir: dir.to_owned(),
            port,
        };
        let start = Instant::now();
        loop {
            if let Some(status) = nsd.child.try_wait().unwrap() {
                return Err(format!("nsd exited ({status}):\n{}", nsd.log()));
            }
            let up = [SERVER4, SERVER6].iter().all(|server| {
                let out = dig(dig_bin, server, port, &[ZONE, "SOA", "+short", "+time=1"]);
                String::from_utf8_lossy(&out.stdout).trim() == SOA
            });
            if up {
                return Ok(nsd);
            }
            if start.elapsed() > STARTUP {
                return Err(format!(
                    "nsd does not answer on port {port} after {STARTUP:?}:\n{}",
                    nsd.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        // nsd -d forks its server and xfrd processes: stop the whole group.
        self.signal_group("-TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal_group("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether UDP and TCP `port` are free on both server addresses.
fn port_free(port: u16) -> bool {
    [SERVER4, SERVER6].iter().all(|addr| {
        let a = (*addr, port);
        UdpSocket::bind(a).is_ok() && TcpListener::bind(a).is_ok()
    })
}

/// Port 53, else an ephemeral port free on both addresses.
fn candidate_ports() -> Vec<u16> {
    let mut ports = Vec::new();
    if port_free(53) {
        ports.push(53);
    }
    for _ in 0..50 {
        if ports.len() >= 3 {
            break;
        }
        let port = UdpSocket::bind((SERVER4, 0))
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("binding 127.0.0.153 (loopback)");
        if port_free(port) && !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports
}

fn start_nsd(nsd: &Path, dig_bin: &Path, dir: &Path) -> Nsd {
    let mut errors = Vec::new();
    for port in candidate_ports() {
        match Nsd::start(nsd, dig_bin, dir, port) {
            Ok(n) => return n,
            Err(e) => errors.push(format!("port {port}: {e}")),
        }
    }
    panic!(
        "nsd could not be started on {SERVER4} / {SERVER6}:\n{}\n{HINT}",
        errors.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// sniff

/// A running `dnsrecall sniff -i lo`, killed when dropped before it was stopped.
struct Sniffer {
    child: Option<Child>,
    stderr: PathBuf,
}

impl Sniffer {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Fails with sniff's stderr when it has exited.
    fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("sniff running");
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "dnsrecall sniff -i lo exited ({status}): the capture could not be opened?\n{}\n{HINT}",
                self.stderr()
            );
        }
    }

    /// SIGTERM through /usr/bin/kill, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("sniff running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > STARTUP {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sniff did not stop on SIGTERM:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The test

#[test]
fn live_capture_of_a_real_authoritative_server() {
    let started = Instant::now();
    let nsd_bin = tool("nsd");
    let dig_bin = tool("dig");
    let tmp = tempfile::tempdir().unwrap();
    let nsd_dir = tmp.path().join("nsd");
    std::fs::create_dir(&nsd_dir).unwrap();
    let data = tmp.path().join("data");
    let stats = tmp.path().join("stats.json");
    let pid_file = tmp.path().join("sniff.pid");

    let nsd = start_nsd(&nsd_bin, &dig_bin, &nsd_dir);
    let port = nsd.port;
    let port_text = port.to_string();
    eprintln!("nsd answers on port {port} after {:?}", started.elapsed());

    // The capture: only this server's traffic, on whichever port it got.
    let bpf = format!("port {port} and (host {SERVER4} or host {SERVER6})");
    let mut args: Vec<&str> = vec![
        "sniff",
        "-i",
        "lo",
        "--flush-interval",
        "1s",
        "--bpf",
        &bpf,
        "--no-progress",
    ];
    if port != 53 {
        args.extend_from_slice(&["--dns-port", &port_text]);
    }
    let stderr = tmp.path().join("sniff.stderr");
    let child = Command::new(bin())
        .arg("--data-dir")
        .arg(&data)
        .args(&args)
        .arg("--stats-json")
        .arg(&stats)
        .arg("--pid-file")
        .arg(&pid_file)
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr).unwrap())
        .spawn()
        .expect("start dnsrecall sniff");
    let mut sniffer = Sniffer {
        child: Some(child),
        stderr,
    };

    // Up: the "capturing on" line (printed before the interface is opened), then a warm-up
    // query, asked again every 300 ms, that reaches the store (the capture is open and the
    // flush works) before the queries that count.
    let start = Instant::now();
    while !sniffer.stderr().contains("capturing on lo") {
        sniffer.assert_running();
        assert!(
            start.elapsed() < STARTUP,
            "sniff did not start capturing:\n{}",
            sniffer.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let warm_up = "ready.dnsrecall.test";
    'ready: loop {
        let out = dig(
            &dig_bin,
            SERVER4,
            port,
            &["-b", CLIENT4, warm_up, "TXT", "+short"],
        );
        assert!(!out.stdout.is_empty(), "nsd stopped answering");
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_millis(300) {
            sniffer.assert_running();
            if !query_json(&data, &[warm_up]).is_empty() {
                break 'ready;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            start.elapsed() < STARTUP,
            "the warm-up query never reached the store: is the capture on lo working?\n{}\n{HINT}",
            sniffer.stderr()
        );
    }
    eprintln!("capture up after {:?}", started.elapsed());
    assert!(pid_file.is_file(), "--pid-file written while running");

    // The queries that count.
    let mut results = Vec::new();
    for query in QUERIES {
        let mut args = vec!["-b", query.client(), query.name, query.qtype];
        if query.transport == Transport::Tcp {
            args.push("+tcp");
        }
        args.extend_from_slice(query.options);
        let out = dig(&dig_bin, query.server(), port, &args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "dig {args:?}:\n{text}");
        let r = parse_dig(&text);
        match query.expect {
            Expect::Answers | Expect::TruncatedThenTcp => {
                assert_eq!(r.status, "NOERROR", "{query:?}:\n{text}");
                assert!(!r.answers.is_empty(), "{query:?}: no answer:\n{text}");
            }
            Expect::NxDomain => {
                assert_eq!(r.status, "NXDOMAIN", "{query:?}:\n{text}");
                assert!(r.answers.is_empty(), "{query:?}:\n{text}");
            }
        }
        let tcp_answer = query.transport == Transport::Tcp || query.expect == TruncatedThenTcp;
        assert_eq!(
            r.retried_over_tcp,
            query.expect == TruncatedThenTcp,
            "{query:?}: dig's TCP retry after a truncated UDP answer:\n{text}"
        );
        if let Some(t) = r.transport {
            assert_eq!(tcp_answer, t == Transport::Tcp, "{query:?}:\n{text}");
        }
        if query.expect == TruncatedThenTcp {
            assert_eq!(r.answers.len(), BIG_TXT_RECORDS, "{query:?}:\n{text}");
        }
        results.push((query, r));
    }
    let (udp_messages, tcp_messages) = QUERIES
        .iter()
        .map(Query::messages)
        .fold((0, 0), |(u, t), (du, dt)| (u + du, t + dt));

    // Stop: SIGTERM flushes everything, exit 0, the pid file goes.
    let status = sniffer.stop();
    let sniff_stderr = sniffer.stderr();
    assert_eq!(status.code(), Some(0), "sniff on SIGTERM:\n{sniff_stderr}");
    assert!(!pid_file.exists(), "--pid-file removed on exit");
    drop(nsd);
    eprintln!("{sniff_stderr}");

    // Every answer record dig printed is in the store.
    let store: BTreeMap<(String, String, String), u64> = query_json(&data, &["*"])
        .iter()
        .map(|r| {
            let s = |f: &str| {
                r[f].as_str()
                    .unwrap_or_else(|| panic!("{f} in {r}"))
                    .to_owned()
            };
            (
                (s("rrname"), s("rrtype"), s("rdata")),
                r["count"].as_u64().expect("count"),
            )
        })
        .collect();
    let mut expected = BTreeSet::new();
    let mut missing = Vec::new();
    for (query, r) in &results {
        for rr in &r.answers {
            let key = canonical(rr);
            match store.get(&key) {
                Some(count) => assert!(*count >= 1, "{key:?} has count {count}"),
                None => missing.push(format!("{key:?} (from {query:?}: {rr:?})")),
            }
            expected.insert(key);
        }
    }
    assert!(
        missing.is_empty(),
        "answers dig printed but the store lacks:\n{}\n\nthe store holds:\n{}\n\nsniff's stderr:\n{sniff_stderr}",
        missing.join("\n"),
        store
            .keys()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let types: BTreeSet<&str> = expected.iter().map(|k| k.1.as_str()).collect();
    for t in TYPES {
        assert!(
            types.contains(t),
            "no {t} answer among the queries: {types:?}"
        );
    }
    assert_eq!(
        expected
            .iter()
            .filter(|k| k.0 == "big.dnsrecall.test" && k.1 == "TXT")
            .count(),
        BIG_TXT_RECORDS
    );

    // Every NXDOMAIN is a negative answer.
    let negatives: BTreeMap<(String, String), String> = query_json(&data, &["*", "--negative"])
        .iter()
        .map(|r| {
            let s = |f: &str| {
                r[f].as_str()
                    .unwrap_or_else(|| panic!("{f} in {r}"))
                    .to_owned()
            };
            assert!(r["count"].as_u64().expect("count") >= 1);
            ((s("qname"), s("qtype")), s("rcode"))
        })
        .collect();
    for query in QUERIES.iter().filter(|q| q.expect == NxDomain) {
        let key = (canonical_name(query.name), query.qtype.to_owned());
        assert_eq!(
            negatives.get(&key).map(String::as_str),
            Some("NXDOMAIN"),
            "{key:?} not a negative answer; negatives: {negatives:?}"
        );
    }

    // The client that asked is listed for the question and for every answer's owner.
    let text = run_ok(
        &data,
        &["clients", "*", "--format", "json", "--limit", "100000"],
    );
    let v: serde_json::Value = serde_json::from_str(&text).expect("json output");
    assert_eq!(v["truncated"], false);
    let clients: BTreeSet<(String, String)> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let s = |f: &str| {
                r[f].as_str()
                    .unwrap_or_else(|| panic!("{f} in {r}"))
                    .to_owned()
            };
            (s("client"), s("query"))
        })
        .collect();
    for (query, r) in &results {
        let names = std::iter::once(canonical_name(query.name))
            .chain(r.answers.iter().map(|rr| canonical_name(&rr.name)));
        for name in names {
            let key = (query.client().to_owned(), name);
            assert!(
                clients.contains(&key),
                "client {} not listed for {} ({query:?}); clients: {clients:?}",
                key.0,
                key.1
            );
        }
    }

    // The statistics show the UDP and TCP messages and the truncated UDP answers.
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("--stats-json written"))
            .unwrap();
    let wire = &stats["wire"];
    let counter = |k: &str| wire[k].as_u64().unwrap_or(0);
    assert_eq!(stats["failed"], serde_json::json!([]), "{stats}");
    assert!(
        counter("tcp_dns_messages") >= tcp_messages,
        "{tcp_messages} DNS messages went over TCP: {stats}"
    );
    assert!(counter("tcp_segments") > tcp_messages, "{stats}");
    assert!(
        counter("udp_dns") >= udp_messages,
        "{udp_messages} DNS messages went over UDP: {stats}"
    );
    let truncated = QUERIES
        .iter()
        .filter(|q| q.expect == TruncatedThenTcp)
        .count() as u64;
    assert!(
        counter("anomaly.dns_truncated_tc") >= truncated,
        "{truncated} truncated UDP answers: {stats}"
    );
    assert_eq!(stats["live"][0]["interface"], "lo", "{stats}");
    assert!(
        stats["live"][0]["received"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    eprintln!("live test done in {:?}", started.elapsed());
}
