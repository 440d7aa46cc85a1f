//! `dnsrecall ingest --follow` against the real binary: crashes (SIGKILL) at arbitrary
//! moments, rename rotation with late writes, copytruncate, restart across a rotation, and
//! whole-file re-ingest. Every test compares the store with a clean ingest of the same
//! lines: the same tuples, negative answers and client sightings, counts included.

mod common;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{bin, run, run_ok};

/// How long a poll for the store to catch up may take before the test fails.
const CATCH_UP: Duration = Duration::from_secs(60);
/// Longer than a flush interval and a poll interval of the follower: after this long
/// without new input, everything it read is committed.
const SETTLE: Duration = Duration::from_millis(700);

// ---------------------------------------------------------------------------------------
// Input generation

/// splitmix64: deterministic pseudo-random numbers without a dependency.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Line `i` of the test log: about 1500 names with two answers each, so keys repeat many
/// times; every timestamp is distinct; every 23rd line is an NXDOMAIN (a negative answer).
/// Each line counts 1, so the store's counts add up to the number of lines.
fn log_line(i: u64) -> String {
    let n = Rng(i).next() % 1500;
    let ts = 1_700_000_000 + i;
    let client = format!("10.0.{}.{}", n % 8, (n * 7 + i % 3) % 250);
    let (query, answer, ttl) = if i.is_multiple_of(23) {
        (format!("nx{}.example.", n % 100), "NXDOMAIN".to_owned(), 0)
    } else {
        (
            format!("h{n}.example."),
            format!("192.0.2.{}", (n + i % 2) % 256),
            60,
        )
    };
    format!(
        r#"{{"timestamp_s":{ts},"timestamp_ms":{},"client":"{client}","server":"10.0.0.1","class":"IN","query":"{query}","type":"A","answer":"{answer}","ttl":{ttl},"count":1}}"#,
        i % 1000
    )
}

/// Lines `range` of the test log, each with its newline.
fn log_lines(range: std::ops::Range<u64>) -> String {
    let mut s = String::new();
    for i in range {
        s.push_str(&log_line(i));
        s.push('\n');
    }
    s
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

// ---------------------------------------------------------------------------------------
// The store, seen through `dnsrecall query` and `dnsrecall clients`

type Key = (String, String, String);
type Seen = (i64, i64, u64);

/// Everything a store holds about the test names: answers, negative answers, clients.
#[derive(Debug, Default, PartialEq, Eq)]
struct Snapshot {
    tuples: BTreeMap<Key, Seen>,
    negatives: BTreeMap<Key, Seen>,
    clients: BTreeMap<Key, Seen>,
}

impl Snapshot {
    /// Lines accounted for: every line counts 1 as an answer or as a negative answer.
    fn total(&self) -> u64 {
        self.tuples
            .values()
            .chain(self.negatives.values())
            .map(|s| s.2)
            .sum()
    }

    fn client_total(&self) -> u64 {
        self.clients.values().map(|s| s.2).sum()
    }
}

fn rows(data: &Path, args: &[&str], key: [&str; 3]) -> BTreeMap<Key, Seen> {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json", "--limit", "1000000"]);
    let text = run_ok(data, &all);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json output");
    assert_eq!(v["truncated"], false, "{args:?}");
    let mut map = BTreeMap::new();
    for r in v["results"].as_array().expect("results") {
        let k = key.map(|f| {
            r[f].as_str()
                .unwrap_or_else(|| panic!("{f} in {r}"))
                .to_owned()
        });
        let seen = (
            r["time_first"].as_i64().unwrap(),
            r["time_last"].as_i64().unwrap(),
            r["count"].as_u64().unwrap(),
        );
        let k = (k[0].clone(), k[1].clone(), k[2].clone());
        assert!(map.insert(k.clone(), seen).is_none(), "two rows for {k:?}");
    }
    map
}

fn snapshot(data: &Path) -> Snapshot {
    Snapshot {
        tuples: rows(data, &["query", "*example*"], ["rrname", "rrtype", "rdata"]),
        negatives: rows(
            data,
            &["query", "*example*", "--negative"],
            ["qname", "qtype", "rcode"],
        ),
        clients: rows(
            data,
            &["clients", "*example*"],
            ["client", "query", "qtype"],
        ),
    }
}

/// Lines accounted for in the store (answers and negative answers).
fn store_total(data: &Path) -> u64 {
    let tuples = rows(data, &["query", "*example*"], ["rrname", "rrtype", "rdata"]);
    let negatives = rows(
        data,
        &["query", "*example*", "--negative"],
        ["qname", "qtype", "rcode"],
    );
    tuples.values().chain(negatives.values()).map(|s| s.2).sum()
}

/// Creates the store before any follower runs, so a poll's query and a starting follower
/// never both create the schema of a fresh store at once.
fn init_store(data: &Path) {
    assert_eq!(store_total(data), 0);
}

/// Polls until the store accounts for exactly `want` lines; fails on more (a line
/// counted twice) or after [`CATCH_UP`].
fn wait_total(data: &Path, want: u64, follower: &mut Follower) {
    let start = Instant::now();
    loop {
        follower.assert_running();
        let got = store_total(data);
        assert!(
            got <= want,
            "store holds {got} lines, only {want} were written; follower's stderr:\n{}",
            follower.stderr()
        );
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < CATCH_UP,
            "store holds {got} of {want} lines after {CATCH_UP:?}; follower's stderr:\n{}",
            follower.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A clean whole-file ingest of `content` into a fresh data directory.
fn clean_snapshot(dir: &Path, name: &str, content: &str) -> Snapshot {
    let file = dir.join(format!("{name}.log"));
    std::fs::write(&file, content).unwrap();
    let data = dir.join(format!("{name}-data"));
    let out = run(&data, &["ingest", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines = content.lines().count();
    assert!(
        stderr.contains(&format!("ingested {lines} lines")),
        "{stderr}"
    );
    let snap = snapshot(&data);
    assert_eq!(snap.total(), lines as u64);
    snap
}

fn assert_same(got: &Snapshot, want: &Snapshot) {
    // Compare piecewise first for a readable message.
    assert_eq!(got.total(), want.total(), "lines accounted for");
    assert_eq!(got.tuples.len(), want.tuples.len(), "number of tuples");
    for (k, w) in &want.tuples {
        assert_eq!(got.tuples.get(k), Some(w), "tuple {k:?}");
    }
    assert_eq!(got.negatives, want.negatives, "negative answers");
    assert_eq!(got.clients, want.clients, "client sightings");
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------------------
// A following ingest

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Follower {
    child: Option<Child>,
    stderr: PathBuf,
    stats: PathBuf,
}

impl Follower {
    /// `dnsrecall ingest --follow --flush-interval 200ms FILE`, with its stderr and
    /// statistics written beside the data directory.
    fn start(data: &Path, file: &Path) -> Self {
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let base = data.parent().unwrap();
        let stderr = base.join(format!("follower-{n}.stderr"));
        let stats = base.join(format!("follower-{n}.stats.json"));
        let child = Command::new(bin())
            .arg("--data-dir")
            .arg(data)
            .args([
                "ingest",
                "--follow",
                "--flush-interval",
                "200ms",
                "--stats-json",
            ])
            .arg(&stats)
            .arg(file)
            .env_remove("DNSRECALL_DATA_DIR")
            .env_remove("RUST_LOG")
            .env("DNSRECALL_CONFIG", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("start dnsrecall ingest --follow");
        Self {
            child: Some(child),
            stderr,
            stats,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// A follower runs until it is stopped: fails if it has exited by itself.
    fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("running");
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the follower exited by itself ({status}):\n{}",
                self.stderr()
            );
        }
    }

    /// SIGKILL: no chance to flush.
    fn kill9(mut self) {
        self.assert_running();
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM: stops cleanly, flushes, exits 0. Returns stderr and the statistics.
    fn stop(mut self) -> (String, serde_json::Value) {
        self.assert_running();
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the follower did not stop on SIGTERM:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = self.stderr();
        assert_eq!(status.code(), Some(0), "follower on SIGTERM:\n{stderr}");
        let stats = std::fs::read_to_string(&self.stats).expect("statistics written on stop");
        (stderr, serde_json::from_str(&stats).unwrap())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn kill_9_at_random_moments_loses_and_doubles_nothing() {
    const LINES: u64 = 40_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("passivedns.json");
    File::create(&log).unwrap();
    init_store(&data);
    let content = log_lines(0..LINES);

    // The writer: chunks of arbitrary length, so a chunk nearly always ends inside a
    // line and the follower often sees a half-written last line.
    let writer = {
        let log = log.clone();
        let bytes = content.clone().into_bytes();
        std::thread::spawn(move || {
            let mut rng = Rng(0x5eed_0001);
            let mut f = OpenOptions::new().append(true).open(&log).unwrap();
            let mut at = 0;
            while at < bytes.len() {
                let len = rng.range(1, 16 * 1024) as usize;
                let end = (at + len).min(bytes.len());
                f.write_all(&bytes[at..end]).unwrap();
                at = end;
                let pause = if rng.next().is_multiple_of(25) { 60 } else { 5 };
                std::thread::sleep(Duration::from_millis(pause));
            }
        })
    };

    let mut rng = Rng(0x5eed_0002);
    let mut committed = Vec::new();
    for _ in 0..20 {
        let follower = Follower::start(&data, &log);
        std::thread::sleep(Duration::from_millis(rng.range(50, 400)));
        follower.kill9();
        committed.push(store_total(&data));
    }
    writer.join().unwrap();
    eprintln!("lines committed after each of the 20 kills: {committed:?}");
    assert!(
        committed.windows(2).all(|w| w[0] <= w[1]),
        "committed lines went back: {committed:?}"
    );

    let mut follower = Follower::start(&data, &log);
    wait_total(&data, LINES, &mut follower);
    std::thread::sleep(SETTLE);
    let (stderr, stats) = follower.stop();
    assert_eq!(stats["bad_lines"], 0, "{stderr}");

    let got = snapshot(&data);
    assert_eq!(got.total(), LINES, "every line counted exactly once");
    assert_eq!(got.client_total(), LINES);
    let want = clean_snapshot(dir.path(), "clean", &content);
    assert_same(&got, &want);
}

#[test]
fn rename_rotation_with_late_writes_reads_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");
    let mut all = String::new();
    let mut write = |f: &mut File, range: std::ops::Range<u64>| {
        let text = log_lines(range);
        f.write_all(text.as_bytes()).unwrap();
        all.push_str(&text);
    };

    let mut old = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    write(&mut old, 0..2000);
    init_store(&data);
    let mut follower = Follower::start(&data, &log);
    wait_total(&data, 2000, &mut follower);

    // First rotation, right after a write the follower may not have read yet; the logger
    // still writes to its open file for a moment (before and after the new file appears).
    write(&mut old, 2000..4000);
    std::fs::rename(&log, &rotated).unwrap();
    write(&mut old, 4000..4200);
    let mut new = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    write(&mut new, 4200..5000);
    write(&mut old, 5000..5100);
    drop(old);
    write(&mut new, 5100..6000);
    wait_total(&data, 6000, &mut follower);

    // Second rotation (logrotate style: .1 -> .2, current -> .1), with a late write.
    write(&mut new, 6000..6500);
    std::fs::rename(&rotated, dir.path().join("app.log.2")).unwrap();
    std::fs::rename(&log, &rotated).unwrap();
    write(&mut new, 6500..6600);
    let mut newer = File::create(&log).unwrap();
    write(&mut newer, 6600..7000);
    write(&mut new, 7000..7050);
    write(&mut newer, 7050..8000);
    wait_total(&data, 8000, &mut follower);
    std::thread::sleep(SETTLE);

    let (stderr, stats) = follower.stop();
    assert_eq!(stats["rotations"], 2, "{stderr}");
    assert_eq!(stats["lines"], 8000, "{stderr}");
    assert_eq!(stats["bad_lines"], 0, "{stderr}");
    let got = snapshot(&data);
    let want = clean_snapshot(dir.path(), "clean", &all);
    assert_eq!(got.total(), 8000);
    assert_same(&got, &want);
}

#[test]
fn copytruncate_reads_new_lines_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("app.log");
    let mut all = String::new();
    let mut write = |f: &mut File, range: std::ops::Range<u64>| {
        let text = log_lines(range);
        f.write_all(text.as_bytes()).unwrap();
        all.push_str(&text);
    };
    // The logger's file, opened for appending as loggers do: after a truncation its
    // writes land at the new end.
    let mut logger = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let copytruncate = |n: u32| {
        std::fs::copy(&log, dir.path().join(format!("app.log.{n}"))).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(0)
            .unwrap();
    };

    init_store(&data);
    let mut follower = Follower::start(&data, &log);
    write(&mut logger, 0..2000);
    wait_total(&data, 2000, &mut follower);

    // Truncated, then fewer bytes written than the follower had read: the file shrank.
    copytruncate(1);
    write(&mut logger, 2000..2500);
    wait_total(&data, 2500, &mut follower);
    write(&mut logger, 2500..2800);
    wait_total(&data, 2800, &mut follower);
    std::thread::sleep(SETTLE);

    // Truncated, then at once more bytes written than the follower had read: the file
    // grew past the follower's position before it looked again; only its head changed.
    copytruncate(2);
    write(&mut logger, 2800..4800);
    wait_total(&data, 4800, &mut follower);
    write(&mut logger, 4800..5000);
    wait_total(&data, 5000, &mut follower);
    std::thread::sleep(SETTLE);

    let (stderr, stats) = follower.stop();
    assert_eq!(stats["truncations"], 2, "{stderr}");
    assert_eq!(stats["bad_lines"], 0, "{stderr}");
    assert_eq!(stats["lines"], 5000, "{stderr}");
    let got = snapshot(&data);
    let want = clean_snapshot(dir.path(), "clean", &all);
    assert_eq!(got.total(), 5000);
    assert_same(&got, &want);
}

#[test]
fn restart_after_rotation_finishes_the_rotated_file_by_inode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");

    // 3000 lines and half of the next one: the follower commits the 3000 and is killed.
    let a = log_lines(0..3000);
    let next = log_lines(3000..3001);
    let (half, rest) = next.split_at(next.len() / 2);
    append(&log, &a);
    append(&log, half);
    init_store(&data);
    let mut follower = Follower::start(&data, &log);
    wait_total(&data, 3000, &mut follower);
    std::thread::sleep(SETTLE);
    follower.kill9();
    assert_eq!(store_total(&data), 3000);

    // Rotated while no follower runs; the old file still grows, a new one appears.
    std::fs::rename(&log, &rotated).unwrap();
    let b = log_lines(3001..4000);
    append(&rotated, rest);
    append(&rotated, &b);
    let c = log_lines(4000..6000);
    append(&log, &c);

    let mut follower = Follower::start(&data, &log);
    wait_total(&data, 6000, &mut follower);
    std::thread::sleep(SETTLE);
    let (stderr, stats) = follower.stop();
    assert!(stderr.contains("resumed after line 3000"), "{stderr}");
    assert_eq!(stats["rotations"], 1, "{stderr}");
    assert_eq!(stats["lines"], 3000, "{stderr}");
    assert_eq!(stats["bad_lines"], 0, "{stderr}");

    let got = snapshot(&data);
    let want = clean_snapshot(dir.path(), "clean", &format!("{a}{next}{b}{c}"));
    assert_eq!(got.total(), 6000);
    assert_same(&got, &want);
}

#[test]
fn whole_file_reingest_is_idempotent_and_reads_only_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("app.log");
    let path = log.to_str().unwrap();
    let ingest = |extra: &[&str]| {
        let mut args = vec!["ingest"];
        args.extend_from_slice(extra);
        args.push(path);
        let out = run(&data, &args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        stderr
    };

    let a = log_lines(0..1000);
    append(&log, &a);
    let stderr = ingest(&[]);
    assert!(stderr.contains("ingested 1000 lines"), "{stderr}");
    let first = snapshot(&data);
    assert_eq!(first.total(), 1000);
    assert_same(&first, &clean_snapshot(dir.path(), "clean-a", &a));

    let stderr = ingest(&[]);
    assert!(stderr.contains("ingested 0 lines"), "{stderr}");
    assert!(stderr.contains("already ingested to its end"), "{stderr}");
    assert_same(&snapshot(&data), &first);

    let b = log_lines(1000..1500);
    append(&log, &b);
    let stderr = ingest(&[]);
    assert!(stderr.contains("ingested 500 lines"), "{stderr}");
    assert!(stderr.contains("resumed after line 1000"), "{stderr}");
    let second = snapshot(&data);
    assert_eq!(second.total(), 1500);
    assert_same(
        &second,
        &clean_snapshot(dir.path(), "clean-ab", &format!("{a}{b}")),
    );

    // --reingest counts the whole file again: every count doubles, times stay.
    let stderr = ingest(&["--reingest"]);
    assert!(stderr.contains("ingested 1500 lines"), "{stderr}");
    let third = snapshot(&data);
    assert_eq!(third.total(), 3000);
    let doubled = |m: &BTreeMap<Key, Seen>| -> BTreeMap<Key, Seen> {
        m.iter()
            .map(|(k, &(first, last, count))| (k.clone(), (first, last, 2 * count)))
            .collect()
    };
    assert_eq!(third.tuples, doubled(&second.tuples));
    assert_eq!(third.negatives, doubled(&second.negatives));
    assert_eq!(third.clients, doubled(&second.clients));

    // And after --reingest the checkpoint is at the end again.
    let stderr = ingest(&[]);
    assert!(stderr.contains("already ingested to its end"), "{stderr}");
    assert_eq!(snapshot(&data), third);
}

#[test]
fn a_followed_gzipped_file_is_read_once_also_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("old.json.gz");
    let content = log_lines(0..3000);
    let mut enc =
        flate2::write::GzEncoder::new(File::create(&log).unwrap(), flate2::Compression::default());
    enc.write_all(content.as_bytes()).unwrap();
    enc.finish().unwrap();
    init_store(&data);

    // Several polls at the end of the file: its compressed size is below the offset in
    // decompressed bytes, which is no truncation.
    let mut follower = Follower::start(&data, &log);
    wait_total(&data, 3000, &mut follower);
    std::thread::sleep(SETTLE * 2);
    let (stderr, stats) = follower.stop();
    assert_eq!(stats["lines"], 3000, "{stderr}");
    assert_eq!(stats["truncations"], 0, "{stderr}");

    let mut follower = Follower::start(&data, &log);
    std::thread::sleep(SETTLE);
    follower.assert_running();
    let (stderr, stats) = follower.stop();
    assert_eq!(stats["lines"], 0, "{stderr}");
    assert!(stderr.contains("resumed after line 3000"), "{stderr}");

    let got = snapshot(&data);
    assert_eq!(got.total(), 3000);
    assert_same(&got, &clean_snapshot(dir.path(), "clean", &content));
}
