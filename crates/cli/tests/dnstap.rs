//! `dnsrecall dnstap` against real resolvers: the tests start Debian's `nsd` on loopback
//! with the zones in `testdata/live/` (the authoritative side), then `unbound` or `named`
//! (bind9) as resolvers for those zones, configured to send dnstap to a running
//! `dnsrecall dnstap --listen unix:...`; `dig` asks through them, and the stored tuples,
//! negative answers and client sightings are checked through `dnsrecall query/clients`.
//!
//! * `unbound_dnstap_to_the_store`, `bind9_dnstap_to_the_store`: the two resolvers.
//! * `dnstap_file_replayed`: unbound's stream captured to a file by `fstrm_capture`, then
//!   read with `dnsrecall dnstap -r FILE` and replayed into `dnsrecall dnstap --listen
//!   unix:... --listen tcp:127.0.0.1:0` with Debian's `dnstap` tool (`-U` unix socket, `-T`
//!   TCP) and `fstrm_replay`: both stores hold the same tuples, the replayed one counted
//!   three times.
//! * `dnstap_files_of_real_resolvers`: the files in `testdata/dnstap/` (captured from
//!   unbound and BIND) read with `dnstap -r`; needs no resolver.
//! * `path_equivalence_sniff_and_dnstap`: the same queries captured on `lo` (live by
//!   `dnsrecall sniff -i lo`, and as a pcap by `tcpdump` then read by `sniff -r`) and
//!   received as dnstap at the same time give the same `(rrname, rrtype, rdata)` set.
//!
//! Needs root (the capture on `lo`), nsd, unbound, bind9, dig, tcpdump, the dnstap tool
//! and fstrm-bin: `scripts/install-deps.sh` installs them. Anything missing fails, never skips.

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, query_json, repo, run_ok};

const NSD4: &str = "127.0.0.153";
/// The address dig asks from (`-b`): the client the store must name.
const CLIENT: &str = "127.0.0.9";
const ZONE: &str = "dnsrecall.test";
const SOA: &str = "ns1.dnsrecall.test. hostmaster.dnsrecall.test. 2024060101 3600 900 604800 300";
const STARTUP: Duration = Duration::from_secs(15);
const HINT: &str = "this test needs root, nsd, unbound, bind9, dig, tcpdump, the dnstap \
    tool (golang-github-dnstap-golang-dnstap-cli) and fstrm-bin: scripts/install-deps.sh";

/// The questions asked, and the tuples each must leave in the store.
const QUESTIONS: &[(&str, &str)] = &[
    ("www.dnsrecall.test", "A"),
    ("www.dnsrecall.test", "AAAA"),
    ("alias1.dnsrecall.test", "A"),
    ("dnsrecall.test", "MX"),
    ("txt.dnsrecall.test", "TXT"),
    ("quoted.dnsrecall.test", "TXT"),
    ("_sip._tcp.dnsrecall.test", "SRV"),
    ("10.2.0.192.in-addr.arpa", "PTR"),
    ("nope.dnsrecall.test", "A"),
];

fn expected_tuples() -> BTreeSet<(String, String, String)> {
    [
        ("www.dnsrecall.test", "A", "192.0.2.10"),
        ("www.dnsrecall.test", "A", "192.0.2.11"),
        ("www.dnsrecall.test", "AAAA", "2001:db8::10"),
        ("alias1.dnsrecall.test", "CNAME", "alias2.dnsrecall.test"),
        ("alias2.dnsrecall.test", "CNAME", "alias3.dnsrecall.test"),
        ("alias3.dnsrecall.test", "CNAME", "www.dnsrecall.test"),
        ("dnsrecall.test", "MX", "10 mail.dnsrecall.test"),
        ("dnsrecall.test", "MX", "20 mail2.dnsrecall.test"),
        (
            "txt.dnsrecall.test",
            "TXT",
            "\"v=spf1 ip4:192.0.2.0/24 -all\"",
        ),
        (
            "_sip._tcp.dnsrecall.test",
            "SRV",
            "10 60 5060 sip.dnsrecall.test",
        ),
        (
            "_sip._tcp.dnsrecall.test",
            "SRV",
            "20 0 5061 sip2.dnsrecall.test",
        ),
        ("10.2.0.192.in-addr.arpa", "PTR", "www.dnsrecall.test"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    .collect()
}

// ---------------------------------------------------------------------------------------
// processes

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not found; {HINT}");
}

/// A child in its own process group, stopped (TERM, then KILL) when dropped.
struct Proc {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Self {
        let out = File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}; {HINT}"));
        Self {
            name,
            child: Some(child),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }

    fn signal(&self, signal: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([signal, "--", &format!("-{}", c.id())])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// SIGTERM to the group; waits for the exit (KILL after `patience`).
    fn stop(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        self.child.as_ref()?;
        self.signal("-TERM");
        let start = Instant::now();
        while start.elapsed() < patience {
            if let Ok(Some(s)) = self.child.as_mut().unwrap().try_wait() {
                self.child = None;
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal("-KILL");
        let mut c = self.child.take().unwrap();
        let _ = c.kill();
        c.wait().ok()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

fn dig(server: &str, port: u16, args: &[&str]) -> Output {
    Command::new(tool("dig"))
        .args(["-b", CLIENT, "+time=2", "+tries=2", "-p", &port.to_string()])
        .arg(format!("@{server}"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("dig: {e}; {HINT}"))
}

/// A port free for UDP and TCP on `addr`.
fn free_port(addr: &str) -> u16 {
    for _ in 0..100 {
        let port = UdpSocket::bind((addr, 0))
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        if TcpListener::bind((addr, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on {addr}");
}

fn wait_for(what: &str, proc: &mut Proc, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        proc.assert_running();
        assert!(
            start.elapsed() < STARTUP,
            "{what} not ready after {STARTUP:?}:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// nsd serving `testdata/live/` on 127.0.0.153 (and ::1) at a free port.
fn start_nsd(dir: &Path) -> (Proc, u16) {
    let nsd_dir = dir.join("nsd");
    std::fs::create_dir_all(&nsd_dir).unwrap();
    for attempt in 0..3 {
        let port = free_port(NSD4);
        let conf = std::fs::read_to_string(repo().join("testdata/live/nsd.conf.in"))
            .unwrap()
            .replace("@DIR@", nsd_dir.to_str().unwrap())
            .replace("@PORT@", &port.to_string());
        std::fs::write(nsd_dir.join("nsd.conf"), conf).unwrap();
        for zone in ["dnsrecall.test.zone", "2.0.192.in-addr.arpa.zone"] {
            std::fs::copy(repo().join("testdata/live").join(zone), nsd_dir.join(zone)).unwrap();
        }
        let mut p = Proc::spawn(
            "nsd",
            Command::new(tool("nsd"))
                .arg("-d")
                .arg("-c")
                .arg(nsd_dir.join("nsd.conf")),
            nsd_dir.join("nsd.out"),
        );
        let start = Instant::now();
        loop {
            let up = String::from_utf8_lossy(
                &dig(NSD4, port, &[ZONE, "SOA", "+short", "+time=1"]).stdout,
            )
            .trim()
                == SOA;
            if up {
                return (p, port);
            }
            let exited = p.child.as_mut().unwrap().try_wait().unwrap().is_some();
            if exited || start.elapsed() > STARTUP {
                assert!(attempt < 2, "nsd does not start:\n{}", p.log());
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    unreachable!()
}

/// `dnsrecall dnstap` with `args`, logging to `DIR/NAME.log`, waiting for its socket.
fn start_dnsrecall(dir: &Path, name: &'static str, data: &Path, args: &[&str]) -> Proc {
    let mut cmd = Command::new(bin());
    cmd.arg("--data-dir")
        .arg(data)
        .args(["dnstap", "--flush-interval", "1s", "--socket-mode", "666"])
        .args(["--report-interval", "200ms"])
        .args(args)
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null");
    let mut p = Proc::spawn(name, &mut cmd, dir.join(format!("{name}.log")));
    let log = p.log.clone();
    wait_for(name, &mut p, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening for dnstap"))
    });
    p
}

/// Unbound resolving the test zones from nsd, sending dnstap to `sock` (client and
/// resolver queries and responses).
fn start_unbound(dir: &Path, nsd_port: u16, sock: &Path) -> (Proc, u16) {
    start_unbound_on(dir, nsd_port, sock, free_port("127.0.0.1"))
}

fn start_unbound_on(dir: &Path, nsd_port: u16, sock: &Path, port: u16) -> (Proc, u16) {
    let udir = dir.join("unbound");
    std::fs::create_dir_all(&udir).unwrap();
    let u = udir.display();
    let conf = format!(
        r#"server:
  interface: 127.0.0.1@{port}
  port: {port}
  do-ip6: no
  username: ""
  chroot: ""
  directory: "{u}"
  pidfile: "{u}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "test." nodefault
  local-zone: "2.0.192.in-addr.arpa." nodefault
stub-zone:
  name: "dnsrecall.test"
  stub-addr: {NSD4}@{nsd_port}
stub-zone:
  name: "2.0.192.in-addr.arpa"
  stub-addr: {NSD4}@{nsd_port}
remote-control:
  control-enable: no
dnstap:
  dnstap-enable: yes
  dnstap-socket-path: "{sock}"
  dnstap-send-identity: yes
  dnstap-identity: "unbound-test"
  dnstap-send-version: yes
  dnstap-log-client-query-messages: yes
  dnstap-log-client-response-messages: yes
  dnstap-log-resolver-query-messages: yes
  dnstap-log-resolver-response-messages: yes
"#,
        sock = sock.display()
    );
    std::fs::write(udir.join("unbound.conf"), conf).unwrap();
    let mut p = Proc::spawn(
        "unbound",
        Command::new(tool("unbound"))
            .arg("-d")
            .arg("-c")
            .arg(udir.join("unbound.conf")),
        udir.join("unbound.out"),
    );
    wait_for("unbound", &mut p, || {
        String::from_utf8_lossy(&dig("127.0.0.1", port, &[ZONE, "SOA", "+short"]).stdout).trim()
            == SOA
    });
    (p, port)
}

/// named (bind9) forwarding the test zones to nsd, sending dnstap to `sock`.
fn start_named(dir: &Path, nsd_port: u16, sock: &Path) -> (Proc, u16) {
    let bdir = dir.join("bind");
    std::fs::create_dir_all(&bdir).unwrap();
    let port = free_port("127.0.0.1");
    let b = bdir.display();
    let forward = |zone: &str| {
        format!(
            "zone \"{zone}\" {{ type forward; forward only; \
             forwarders {{ {NSD4} port {nsd_port}; }}; }};\n"
        )
    };
    let conf = format!(
        r#"options {{
  directory "{b}";
  pid-file "{b}/named.pid";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion yes;
  allow-query {{ any; }};
  allow-recursion {{ any; }};
  dnssec-validation no;
  empty-zones-enable no;
  dnstap {{ client; auth; resolver; forwarder; }};
  dnstap-output unix "{sock}";
  dnstap-identity "bind-test";
}};
controls {{ }};
{}{}"#,
        forward(ZONE),
        forward("2.0.192.in-addr.arpa"),
        sock = sock.display()
    );
    std::fs::write(bdir.join("named.conf"), conf).unwrap();
    let mut p = Proc::spawn(
        "named",
        Command::new(tool("named"))
            .arg("-g")
            .arg("-c")
            .arg(bdir.join("named.conf")),
        bdir.join("named.out"),
    );
    wait_for("named", &mut p, || {
        String::from_utf8_lossy(&dig("127.0.0.1", port, &[ZONE, "SOA", "+short"]).stdout).trim()
            == SOA
    });
    (p, port)
}

/// Unbound's dnstap thread sends on a timer and drops what it holds when stopped: wait
/// until `dnsrecall` has received a client response for every question (and the warm-up).
fn wait_received(rec: &mut Proc) {
    let want = QUESTIONS.len() + 1;
    let path = rec.log.clone();
    wait_for("the dnstap frames", rec, || {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        log.lines()
            .filter_map(|l| l.split("type.CLIENT_RESPONSE=").nth(1))
            .filter_map(|n| n.split_whitespace().next()?.parse::<usize>().ok())
            .any(|n| n >= want)
    });
}

fn ask_all(port: u16) {
    for (name, qtype) in QUESTIONS {
        let out = dig("127.0.0.1", port, &[name, qtype]);
        let text = String::from_utf8_lossy(&out.stdout);
        let want = if name.starts_with("nope") {
            "NXDOMAIN"
        } else {
            "NOERROR"
        };
        assert!(
            text.contains(&format!("status: {want}")),
            "{name} {qtype}:\n{text}"
        );
    }
}

/// Every stored `(rrname, rrtype, rdata)` under the test zones.
fn stored(data: &Path) -> BTreeSet<(String, String, String)> {
    let mut all = BTreeSet::new();
    for pattern in [
        "dnsrecall.test",
        "*.dnsrecall.test",
        "*.2.0.192.in-addr.arpa",
    ] {
        for r in query_json(data, &[pattern]) {
            all.insert((
                r["rrname"].as_str().unwrap().to_owned(),
                r["rrtype"].as_str().unwrap().to_owned(),
                r["rdata"].as_str().unwrap().to_owned(),
            ));
        }
    }
    all
}

fn check_store(data: &Path, sensor: &str) {
    let got = stored(data);
    let missing: Vec<_> = expected_tuples().difference(&got).cloned().collect();
    assert!(missing.is_empty(), "missing {missing:?}\nstored {got:#?}");
    let www = query_json(data, &["www.dnsrecall.test", "-t", "A"]);
    assert_eq!(www[0]["sensors"][0], sensor, "{www:?}");
    // NXDOMAIN kept as a negative answer.
    let neg = query_json(data, &["nope.dnsrecall.test", "--negative"]);
    assert_eq!(neg.len(), 1, "{neg:?}");
    assert_eq!(neg[0]["rcode"], "NXDOMAIN");
    // Client sightings from CLIENT_RESPONSE: every question by 127.0.0.9.
    let text = run_ok(data, &["clients", CLIENT, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let asked: BTreeSet<(String, String)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["query"].as_str().unwrap().to_owned(),
                r["qtype"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (name, qtype) in QUESTIONS {
        assert!(
            asked.contains(&((*name).to_owned(), (*qtype).to_owned()))
                || asked.iter().any(|(n, _)| n == name),
            "client sighting of {name} {qtype} missing: {asked:?}"
        );
    }
    // The resolver's own address never shows up as a client (RESOLVER_RESPONSE).
    let text = run_ok(data, &["clients", NSD4, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["results"].as_array().map_or(0, Vec::len), 0, "{text}");
}

/// Stops a `dnsrecall dnstap` and returns its log, asserting a clean exit.
fn stop_dnsrecall(p: &mut Proc) -> String {
    let status = p.stop(Duration::from_secs(15)).expect("running");
    let log = p.log();
    assert!(status.success(), "dnsrecall dnstap exited {status}:\n{log}");
    log
}

#[test]
fn unbound_dnstap_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (_nsd, nsd_port) = start_nsd(dir.path());
    let sock = dir.path().join("tap.sock");
    let data = dir.path().join("data");
    let passivedns_log = dir.path().join("answers.json");
    let mut rec = start_dnsrecall(
        dir.path(),
        "dnsrecall",
        &data,
        &[
            "--listen",
            &format!("unix:{}", sock.display()),
            "--log-json",
            passivedns_log.to_str().unwrap(),
        ],
    );
    let (mut unbound, port) = start_unbound(dir.path(), nsd_port, &sock);
    ask_all(port);
    wait_received(&mut rec);
    unbound.stop(Duration::from_secs(10));
    let log = stop_dnsrecall(&mut rec);
    assert!(log.contains("type.CLIENT_RESPONSE="), "{log}");
    assert!(log.contains("type.RESOLVER_RESPONSE="), "{log}");
    assert!(!log.contains("anomaly."), "{log}");
    check_store(&data, "unbound-test");
    // The passivedns-compatible log output, ingested, gives the same tuples.
    let again = dir.path().join("again");
    run_ok(&again, &["ingest", passivedns_log.to_str().unwrap()]);
    assert_eq!(stored(&again), stored(&data));
}

#[test]
fn bind9_dnstap_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (_nsd, nsd_port) = start_nsd(dir.path());
    let sock = dir.path().join("tap.sock");
    let data = dir.path().join("data");
    // A watched name: live intel alerts work on dnstap as on sniff.
    let feed = dir.path().join("watch.txt");
    std::fs::write(&feed, "mail.dnsrecall.test\n").unwrap();
    run_ok(&data, &["intel", "add", "watch", feed.to_str().unwrap()]);
    let alerts = dir.path().join("alerts.ndjson");
    let mut rec = start_dnsrecall(
        dir.path(),
        "dnsrecall",
        &data,
        &[
            "--listen",
            &format!("unix:{}", sock.display()),
            "--alert-file",
            alerts.to_str().unwrap(),
        ],
    );
    let (mut named, port) = start_named(dir.path(), nsd_port, &sock);
    ask_all(port);
    named.stop(Duration::from_secs(10));
    let log = stop_dnsrecall(&mut rec);
    assert!(log.contains("type.CLIENT_RESPONSE="), "{log}");
    assert!(!log.contains("anomaly."), "{log}");
    check_store(&data, "bind-test");
    let raised = std::fs::read_to_string(&alerts).unwrap_or_default();
    assert!(
        raised.contains("mail.dnsrecall.test") && raised.contains(CLIENT),
        "no alert for the watched name asked by {CLIENT}:\n{raised}\n{log}"
    );
}

#[test]
fn dnstap_file_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (_nsd, nsd_port) = start_nsd(dir.path());
    // fstrm_capture (fstrm-bin) captures unbound's stream to a file.
    let capture_sock = dir.path().join("capture.sock");
    let file = dir.path().join("unbound.dnstap");
    let mut capture = Proc::spawn(
        "fstrm_capture",
        Command::new(tool("fstrm_capture"))
            .args(["-t", "protobuf:dnstap.Dnstap", "-u"])
            .arg(&capture_sock)
            .arg("-w")
            .arg(&file),
        dir.path().join("fstrm-capture.log"),
    );
    wait_for("fstrm_capture", &mut capture, || capture_sock.exists());
    let (mut unbound, port) = start_unbound(dir.path(), nsd_port, &capture_sock);
    ask_all(port);
    // Unbound sends on a timer (about a second) and drops what it holds when stopped.
    std::thread::sleep(Duration::from_millis(2500));
    unbound.stop(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    capture.stop(Duration::from_secs(5));
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    assert!(size > 0, "fstrm_capture wrote nothing:\n{}", capture.log());

    // Read the file directly.
    let from_file = dir.path().join("from-file");
    let out = Command::new(bin())
        .arg("--data-dir")
        .arg(&from_file)
        .args(["dnstap", "-r"])
        .arg(&file)
        .env("DNSRECALL_CONFIG", "/dev/null")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("anomaly."), "{log}");
    check_store(&from_file, "unbound-test");

    // Replay it into a listening dnsrecall with Debian's dnstap tool (over the unix socket
    // and over TCP) and with fstrm_replay (all bidirectional senders).
    let sock = dir.path().join("replay.sock");
    let replayed = dir.path().join("replayed");
    let mut rec = start_dnsrecall(
        dir.path(),
        "dnsrecall-replay",
        &replayed,
        &[
            "--listen",
            &format!("unix:{}", sock.display()),
            "--listen",
            "tcp:127.0.0.1:0",
        ],
    );
    // The TCP port taken, as dnsrecall says it.
    let tcp = rec
        .log()
        .split("tcp:")
        .nth(1)
        .and_then(|rest| rest.split([';', ',', ' ']).next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no TCP address in:\n{}", rec.log()));
    let out = Command::new(tool("dnstap"))
        .arg("-r")
        .arg(&file)
        .arg("-T")
        .arg(&tcp)
        .output()
        .unwrap_or_else(|e| panic!("dnstap: {e}; {HINT}"));
    assert!(out.status.success(), "{out:?}");
    let out = Command::new(tool("dnstap"))
        .arg("-r")
        .arg(&file)
        .arg("-U")
        .arg(&sock)
        .output()
        .unwrap_or_else(|e| panic!("dnstap: {e}; {HINT}"));
    assert!(out.status.success(), "{out:?}");
    let status = Command::new(tool("fstrm_replay"))
        .args(["-t", "protobuf:dnstap.Dnstap", "-r"])
        .arg(&file)
        .arg("-u")
        .arg(&sock)
        .status()
        .unwrap_or_else(|e| panic!("fstrm_replay: {e}; {HINT}"));
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(700));
    let log = stop_dnsrecall(&mut rec);
    assert!(log.contains("connections=3"), "{log}");
    assert!(!log.contains("anomaly."), "{log}");
    assert_eq!(stored(&replayed), stored(&from_file));
    check_store(&replayed, "unbound-test");
    // Every tuple counted three times (three replays) against the file read once.
    let once = query_json(&from_file, &["www.dnsrecall.test", "-t", "A"]);
    let thrice = query_json(&replayed, &["www.dnsrecall.test", "-t", "A"]);
    assert_eq!(
        thrice[0]["count"].as_u64().unwrap(),
        3 * once[0]["count"].as_u64().unwrap()
    );
}

#[test]
fn path_equivalence_sniff_and_dnstap() {
    let dir = tempfile::tempdir().unwrap();
    let (_nsd, nsd_port) = start_nsd(dir.path());
    let sock = dir.path().join("tap.sock");
    let tap_data = dir.path().join("tap");
    let mut rec = start_dnsrecall(
        dir.path(),
        "dnsrecall",
        &tap_data,
        &["--listen", &format!("unix:{}", sock.display())],
    );
    // Unbound's port is chosen before the capture starts, so the filter can name it, and
    // the capture starts before unbound, so both paths see its warm-up queries too.
    let port = free_port("127.0.0.1");
    let sniff_data = dir.path().join("sniff");
    let mut sniff = Proc::spawn(
        "dnsrecall sniff",
        Command::new(bin())
            .arg("--data-dir")
            .arg(&sniff_data)
            .args(["sniff", "-i", "lo", "--bpf"])
            .arg(format!("port {port} or port {nsd_port}"))
            .args(["--dns-port", &port.to_string()])
            .args(["--dns-port", &nsd_port.to_string()])
            .env("DNSRECALL_CONFIG", "/dev/null"),
        dir.path().join("sniff.log"),
    );
    let log = sniff.log.clone();
    wait_for("sniff", &mut sniff, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("capturing on"))
    });
    // And a pcap of the same traffic, for `sniff -r`.
    let pcap = dir.path().join("lo.pcap");
    let mut tcpdump = Proc::spawn(
        "tcpdump",
        Command::new(tool("tcpdump"))
            .args(["-i", "lo", "-U", "-s", "0", "-w"])
            .arg(&pcap)
            .arg(format!("port {port} or port {nsd_port}")),
        dir.path().join("tcpdump.log"),
    );
    let tlog = tcpdump.log.clone();
    wait_for("tcpdump", &mut tcpdump, || {
        std::fs::read_to_string(&tlog).is_ok_and(|l| l.contains("listening on"))
    });
    std::thread::sleep(Duration::from_millis(300));
    let (mut unbound, _) = start_unbound_on(dir.path(), nsd_port, &sock, port);
    ask_all(port);
    wait_received(&mut rec);
    unbound.stop(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let status = sniff.stop(Duration::from_secs(15)).unwrap();
    assert!(status.success(), "{}", sniff.log());
    tcpdump.stop(Duration::from_secs(5));
    stop_dnsrecall(&mut rec);
    let pcap_data = dir.path().join("pcap");
    run_ok(
        &pcap_data,
        &[
            "sniff",
            "-r",
            pcap.to_str().unwrap(),
            "--dns-port",
            &port.to_string(),
            "--dns-port",
            &nsd_port.to_string(),
        ],
    );
    let from_tap = stored(&tap_data);
    assert!(from_tap.is_superset(&expected_tuples()));
    for (what, data) in [("sniff -i lo", &sniff_data), ("sniff -r", &pcap_data)] {
        let other = stored(data);
        let only_tap: Vec<_> = from_tap.difference(&other).collect();
        let only_other: Vec<_> = other.difference(&from_tap).collect();
        assert!(
            only_tap.is_empty() && only_other.is_empty(),
            "only in dnstap: {only_tap:?}\nonly in {what}: {only_other:?}"
        );
    }
}

/// The dnstap files in `testdata/dnstap/` (captured from unbound and BIND, see its
/// README), read with `dnstap -r`: every tuple, the NXDOMAIN, the client sightings.
/// Needs no resolver.
#[test]
fn dnstap_files_of_real_resolvers() {
    let dir = tempfile::tempdir().unwrap();
    let mut want = expected_tuples();
    for (n, t, r) in [
        ("alias1.dnsrecall.test", "CNAME", "alias2.dnsrecall.test"),
        ("dnsrecall.test", "NS", "ns1.dnsrecall.test"),
        ("dnsrecall.test", "NS", "ns2.dnsrecall.test"),
        (
            "dnsrecall.test",
            "SOA",
            "ns1.dnsrecall.test hostmaster.dnsrecall.test 2024060101 3600 900 604800 300",
        ),
        (
            "host.dnsrecall.test",
            "SSHFP",
            "1 1 0123456789abcdef0123456789abcdef01234567",
        ),
        (
            "host.dnsrecall.test",
            "SSHFP",
            "4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ),
        (
            "naptr.dnsrecall.test",
            "NAPTR",
            "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.dnsrecall.test",
        ),
        (
            "naptr.dnsrecall.test",
            "NAPTR",
            "102 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@dnsrecall.test!\" .",
        ),
        (
            "quoted.dnsrecall.test",
            "TXT",
            "\"a \\\\ backslash and  two spaces\"",
        ),
        (
            "quoted.dnsrecall.test",
            "TXT",
            "\"hello world\" \"she said \\\"hi\\\"; then left\"",
        ),
    ] {
        want.insert((n.to_owned(), t.to_owned(), r.to_owned()));
    }
    for (file, sensor, frames) in [
        ("unbound.dnstap", "unbound-test", 62),
        ("bind9.dnstap", "bind-test", 48),
    ] {
        let data = dir.path().join(file);
        let stats = dir.path().join(format!("{file}.json"));
        run_ok(
            &data,
            &[
                "dnstap",
                "-r",
                repo().join("testdata/dnstap").join(file).to_str().unwrap(),
                "--stats-json",
                stats.to_str().unwrap(),
            ],
        );
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
        assert_eq!(s["frames"], frames, "{s}");
        assert_eq!(s["dnstap"]["type.CLIENT_RESPONSE"], 11, "{s}");
        assert!(
            s["dnstap"]
                .as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("anomaly.")),
            "{s}"
        );
        assert_eq!(stored(&data), want, "{file}");
        let www = query_json(&data, &["www.dnsrecall.test", "-t", "A"]);
        assert_eq!(www[0]["sensors"][0], sensor);
        let neg = query_json(&data, &["nope.dnsrecall.test", "--negative"]);
        assert_eq!(neg[0]["rcode"], "NXDOMAIN", "{file}");
        let text = run_ok(&data, &["clients", CLIENT, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["results"].as_array().unwrap().len(), 14, "{file}: {text}");
        let text = run_ok(&data, &["clients", NSD4, "--format", "json"]);
        assert!(text.contains("\"results\": []"), "{file}: {text}");
    }
}
