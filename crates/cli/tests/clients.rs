//! Real clients work unchanged (issue 4, point 2): Debian's `dnsdbq` (DNSDB API v2) and
//! PyPI's `pypdns` (CIRCL passive DNS API) against `dnsrecall serve` on loopback, with an
//! API key, over a store holding the corpus data (every passivedns reference `*.json` of
//! the shared corpus plus `testdata/sample-passivedns.json.gz`). Each client's answers are
//! compared, as sets of (rrname, rrtype, rdata, time_first, time_last, count), with
//! `dnsrecall query --format json` on the same store.
//!
//! dnsdbq: rrset lookups (exact, `*.x`, with `-t`), rdata name lookups (exact, `*.x`,
//! `-t`), rdata IP lookups (address and `/24`), `-A`/`-B` time fences loose and strict
//! (`-c`; the URL parameters are read from `-d` output), limits (`-l`) and a wrong key.
//! pypdns: `rfc_query` for names (owned records plus records pointing at the name) and
//! addresses, `iter_query` with `filter_rrtype` over answers of more than one page (its
//! page size is 50), and a wrong password (`UnauthorizedError`).
//!
//! Missing `dnsdbq` or the pypdns virtual environment fails the test (it does not skip):
//! run `scripts/install-deps.sh`. `DNSRECALL_DNSDBQ` and `DNSRECALL_PYENV` point at other
//! installations.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{corpus, query_json, repo, run_ok};
use serde_json::Value;

/// (rrname, rrtype, rdata, time_first, time_last, count), names without the trailing dot.
type Row = (String, String, String, i64, i64, u64);

const INSTALL_HINT: &str = "run scripts/install-deps.sh (as root); this test does not skip";

/// Kills the server when the test ends, pass or fail.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A store with the corpus data, an API key `ci` (returned), and a server on it.
fn setup(dir: &Path) -> (Server, String) {
    let data = dir.join("data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join("passivedns-ref"))
        .expect("read corpus")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".json") && !name.ends_with(".all.json")
        })
        .collect();
    files.sort();
    assert!(files.len() > 10, "corpus passivedns-ref looks empty");
    files.push(repo().join("testdata/sample-passivedns.json.gz"));
    let mut args: Vec<String> = vec!["ingest".into(), "--no-progress".into()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&data, &args);
    let secret = run_ok(&data, &["keys", "add", "ci"]).trim().to_owned();
    assert!(
        !secret.is_empty() && !secret.contains(char::is_whitespace),
        "keys add printed {secret:?}"
    );
    (start_server(&data, dir), secret)
}

/// `dnsrecall serve --listen 127.0.0.1:0` (keys required), waiting for its
/// `listening on http://127.0.0.1:PORT` line.
fn start_server(data: &Path, dir: &Path) -> Server {
    let (child, port) = common::spawn_serve(
        &[
            "--data-dir".as_ref(),
            data.as_os_str(),
            "serve".as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
        ],
        &dir.join("serve.stderr"),
    );
    Server { child, port }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Names without their trailing dot, also inside the rdata of types holding names.
fn norm_rdata(rrtype: &str, rdata: &str) -> String {
    match rrtype {
        "CNAME" | "NS" | "PTR" | "DNAME" | "MX" | "SRV" | "SOA" | "NAPTR" | "RP" => rdata
            .split(' ')
            .map(|t| t.strip_suffix('.').unwrap_or(t))
            .collect::<Vec<_>>()
            .join(" "),
        _ => rdata.to_owned(),
    }
}

/// Rows of a result object (dnsrecall JSON, COF, or DNSDB with rdata as a list).
fn rows_of(v: &Value) -> Vec<Row> {
    let rrname = s(&v["rrname"]);
    let rrname = rrname.strip_suffix('.').unwrap_or(&rrname).to_owned();
    let rrtype = s(&v["rrtype"]);
    let rdatas: Vec<String> = match &v["rdata"] {
        Value::Array(a) => a.iter().map(s).collect(),
        other => vec![s(other)],
    };
    rdatas
        .iter()
        .map(|r| {
            (
                rrname.clone(),
                rrtype.clone(),
                norm_rdata(&rrtype, r),
                v["time_first"].as_i64().expect("time_first"),
                v["time_last"].as_i64().expect("time_last"),
                v["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

fn set_of(values: &[Value]) -> BTreeSet<Row> {
    values.iter().flat_map(rows_of).collect()
}

/// `dnsrecall query ARGS --format json` as a set (asserting it is not cut).
fn expect(data: &Path, args: &[&str]) -> BTreeSet<Row> {
    set_of(&query_json(data, args))
}

// ---------------------------------------------------------------------------------------
// dnsdbq

fn dnsdbq_exe() -> PathBuf {
    let exe = std::env::var_os("DNSRECALL_DNSDBQ")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("dnsdbq"));
    let ok = Command::new(&exe)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("dnsdbq"))
        .unwrap_or(false);
    assert!(
        ok,
        "dnsdbq not found or not working ({}): install Debian's dnsdbq: {INSTALL_HINT}",
        exe.display()
    );
    exe
}

struct Dnsdbq {
    exe: PathBuf,
    server: String,
    key: String,
}

/// One dnsdbq run: its JSON lines, its debug output (stderr) and exit status.
struct DnsdbqRun {
    rows: Vec<Value>,
    stderr: String,
    output: Output,
}

impl DnsdbqRun {
    /// The URL dnsdbq asked for (from `-d` output).
    fn url(&self) -> &str {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("debug: url [")?.strip_suffix(']'))
            .unwrap_or_else(|| panic!("no url in dnsdbq -d output:\n{}", self.stderr))
    }

    /// A query parameter of that URL.
    fn param(&self, key: &str) -> Option<i64> {
        let query = self.url().split_once('?')?.1;
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| v.parse().expect("numeric parameter"))
        })
    }

    fn set(&self) -> BTreeSet<Row> {
        set_of(&self.rows)
    }
}

impl Dnsdbq {
    fn run_with_key(&self, key: &str, args: &[&str]) -> DnsdbqRun {
        let output = Command::new(&self.exe)
            .args(["-j", "-d", "-d"])
            .args(args)
            .env("DNSDB_SERVER", &self.server)
            .env("DNSDB_API_KEY", key)
            .env("DNSDBQ_CONFIG_FILE", "/dev/null")
            .env("TZ", "UTC")
            .env_remove("DNSDBQ_SYSTEM")
            .env_remove("APIKEY")
            .stdin(Stdio::null())
            .output()
            .expect("run dnsdbq");
        let stdout = String::from_utf8(output.stdout.clone()).expect("utf-8 from dnsdbq");
        let rows = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("dnsdbq line {l:?}: {e}")))
            .collect();
        DnsdbqRun {
            rows,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            output,
        }
    }

    /// Runs dnsdbq, which must succeed without warnings.
    fn run(&self, args: &[&str]) -> DnsdbqRun {
        let r = self.run_with_key(&self.key, args);
        assert!(
            r.output.status.success() && !r.stderr.contains("warning"),
            "dnsdbq {args:?} failed ({:?}):\n{}",
            r.output.status,
            r.stderr
        );
        r
    }

    /// dnsdbq ARGS and `dnsrecall query EXPECT` give the same non-empty set (of at least
    /// `min` rows); returns it.
    fn same(&self, data: &Path, args: &[&str], expect_args: &[&str], min: usize) -> BTreeSet<Row> {
        let got = self.run(args);
        let want = expect(data, expect_args);
        assert!(
            want.len() >= min,
            "dnsrecall query {expect_args:?}: {} rows, the case needs at least {min}",
            want.len()
        );
        assert_eq!(
            got.rows.len(),
            want.len(),
            "dnsdbq {args:?} ({}) printed {} rows, dnsrecall query {expect_args:?} {}",
            got.url(),
            got.rows.len(),
            want.len()
        );
        assert_eq!(
            got.set(),
            want,
            "dnsdbq {args:?} ({}) vs dnsrecall query {expect_args:?}",
            got.url()
        );
        eprintln!("dnsdbq {args:?}: {} rows match", want.len());
        want
    }
}

#[test]
fn dnsdbq_answers_match_dnsrecall_query() {
    let exe = dnsdbq_exe();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, key) = setup(tmp.path());
    let data = tmp.path().join("data");
    let q = Dnsdbq {
        exe,
        server: server.base(),
        key,
    };

    // rrset lookups: exact and left-hand wildcard, with and without -t.
    q.same(&data, &["-r", "google.com"], &["google.com"], 20);
    q.same(
        &data,
        &["-r", "google.com", "-t", "A"],
        &["google.com", "-t", "A"],
        10,
    );
    q.same(
        &data,
        &["-r", "google.com/AAAA"],
        &["google.com", "-t", "AAAA"],
        2,
    );
    q.same(
        &data,
        &["-r", "www.google.com", "-t", "CNAME"],
        &["www.google.com", "-t", "CNAME"],
        1,
    );
    let wild = q.same(&data, &["-r", "*.google.com"], &["*.google.com"], 100);
    q.same(
        &data,
        &["-r", "*.google.com", "-t", "A"],
        &["*.google.com", "-t", "A"],
        100,
    );
    q.same(
        &data,
        &["-r", "*.google.com", "-t", "CNAME"],
        &["*.google.com", "-t", "CNAME"],
        10,
    );
    // A bailiwick: only owners at or under it.
    q.same(
        &data,
        &["-r", "*.l.google.com/A/google.com"],
        &["*.l.google.com", "-t", "A"],
        10,
    );

    // rdata name lookups.
    q.same(
        &data,
        &["-n", "aspmx.l.google.com"],
        &["--rdata", "aspmx.l.google.com"],
        10,
    );
    q.same(
        &data,
        &["-n", "aspmx.l.google.com", "-t", "MX"],
        &["--rdata", "aspmx.l.google.com", "-t", "MX"],
        10,
    );
    q.same(
        &data,
        &["-n", "*.ns.cloudflare.com"],
        &["--rdata", "*.ns.cloudflare.com"],
        30,
    );
    q.same(
        &data,
        &["-n", "*.google.com", "-t", "CNAME"],
        &["--rdata", "*.google.com", "-t", "CNAME"],
        2,
    );

    // rdata IP lookups: dnsdbq takes ADDR/PFXLEN and sends ADDR,PFXLEN.
    q.same(&data, &["-i", "74.125.225.64"], &["74.125.225.64"], 5);
    let r = q.run(&["-i", "74.125.225.0/24"]);
    assert!(r.url().contains("/rdata/ip/74.125.225.0,24"), "{}", r.url());
    q.same(&data, &["-i", "74.125.225.0/24"], &["74.125.225.0/24"], 100);
    q.same(&data, &["-i", "2a00:1450::/32"], &["2a00:1450::/32"], 100);
    q.same(
        &data,
        &["-i", "74.125.225.64-74.125.225.70"],
        &["74.125.225.64-74.125.225.70"],
        30,
    );
    // Raw lookups (hex wire name, hex address) and the right-hand wildcard.
    q.same(
        &data,
        &["-R", "06676f6f676c6503636f6d00"],
        &["google.com"],
        20,
    );
    q.same(&data, &["-N", "4a7de140"], &["74.125.225.64"], 5);
    q.same(&data, &["-r", "google.*"], &["google.*"], 20);

    // Time fences. dnsdbq: -A is time_last_after, -B time_first_before (loose: the
    // sighting period overlaps the fence), with -c time_first_after / time_last_before
    // (strict: inside the fence): dnsrecall's --after/--before [--strict].
    let all = expect(&data, &["--rdata", "*.ns.cloudflare.com"]);
    let fence = |dq: &[&str], param: &str, dr: &[&str]| {
        let mut args = vec!["-n", "*.ns.cloudflare.com"];
        args.extend_from_slice(dq);
        let r = q.run(&args);
        let t = r
            .param(param)
            .unwrap_or_else(|| panic!("dnsdbq {dq:?}: no {param} in {}", r.url()));
        let t = t.to_string();
        let mut want_args = vec!["--rdata", "*.ns.cloudflare.com"];
        for a in dr {
            want_args.push(if *a == "T" { &t } else { a });
        }
        let want = expect(&data, &want_args);
        assert!(
            !want.is_empty() && want.len() < all.len(),
            "fence {dq:?} should cut the answer: {} of {}",
            want.len(),
            all.len()
        );
        assert_eq!(
            r.set(),
            want,
            "dnsdbq {args:?} ({}) vs {want_args:?}",
            r.url()
        );
        (t, want)
    };
    let (_, loose_after) = fence(&["-A", "2019-04-01"], "time_last_after", &["--after", "T"]);
    let (_, strict_after) = fence(
        &["-A", "2019-04-01", "-c"],
        "time_first_after",
        &["--after", "T", "--strict"],
    );
    assert!(strict_after.len() < loose_after.len() && strict_after.is_subset(&loose_after));
    let (_, loose_before) = fence(
        &["-B", "2019-04-10"],
        "time_first_before",
        &["--before", "T"],
    );
    let (_, strict_before) = fence(
        &["-B", "2019-04-10", "-c"],
        "time_last_before",
        &["--before", "T", "--strict"],
    );
    assert!(strict_before.len() < loose_before.len());
    // Both fences at once, loose and strict; the URL carries both parameters.
    for strict in [false, true] {
        let mut args = vec![
            "-n",
            "*.ns.cloudflare.com",
            "-A",
            "2019-04-01",
            "-B",
            "2019-04-10",
        ];
        if strict {
            args.push("-c");
        }
        let r = q.run(&args);
        let (pa, pb) = if strict {
            ("time_first_after", "time_last_before")
        } else {
            ("time_last_after", "time_first_before")
        };
        let a = r.param(pa).expect("after parameter").to_string();
        let b = r.param(pb).expect("before parameter").to_string();
        let mut want_args = vec![
            "--rdata",
            "*.ns.cloudflare.com",
            "--after",
            &a,
            "--before",
            &b,
        ];
        if strict {
            want_args.push("--strict");
        }
        let want = expect(&data, &want_args);
        assert!(
            !want.is_empty() && want.len() < all.len(),
            "{args:?}: {}",
            want.len()
        );
        assert_eq!(
            r.set(),
            want,
            "dnsdbq {args:?} ({}) vs {want_args:?}",
            r.url()
        );
    }
    // The same fence on an rrset wildcard with -t.
    let r = q.run(&["-r", "*.com", "-t", "A", "-A", "2019-04-01", "-c"]);
    let t = r
        .param("time_first_after")
        .expect("time_first_after")
        .to_string();
    let want = expect(&data, &["*.com", "-t", "A", "--after", &t, "--strict"]);
    assert!(want.len() > 100, "{}", want.len());
    assert_eq!(r.set(), want);

    // Limits: -l N gives N rows (of the full answer), and dnsdbq sees the answer was cut
    // (SAF `limited` from the server, or its own output limit): its saf_cond is then 4 or
    // 6, never 3 (succeeded).
    for n in [1usize, 5, 50] {
        let r = q.run(&["-r", "*.google.com", "-l", &n.to_string()]);
        assert_eq!(r.param("limit"), Some(n as i64), "{}", r.url());
        assert_eq!(r.rows.len(), n, "dnsdbq -l {n}");
        assert!(
            r.set().is_subset(&wild),
            "-l {n}: rows not in the full answer"
        );
        assert!(
            r.stderr.contains("saf_cond 4") || r.stderr.contains("saf_cond 6"),
            "dnsdbq -l {n} did not see a limited answer:\n{}",
            r.stderr
        );
    }
    let r = q.run(&["-r", "*.google.com"]);
    assert!(r.stderr.contains("saf_cond 3"), "{}", r.stderr);
    // A limit above the answer's size: everything, and `succeeded`.
    let r = q.run(&["-r", "*.google.com", "-l", "1000"]);
    assert_eq!(r.set(), wild);
    assert!(r.stderr.contains("saf_cond 3"), "{}", r.stderr);
    // Offset (-O) with a limit: the next rows of the same order, no overlap.
    let first = q.run(&["-r", "*.google.com", "-l", "10"]);
    let next = q.run(&["-r", "*.google.com", "-l", "10", "-O", "10"]);
    assert_eq!(next.param("offset"), Some(10), "{}", next.url());
    assert_eq!(next.rows.len(), 10);
    assert!(next.set().is_subset(&wild) && next.set().is_disjoint(&first.set()));
    let got = q.run(&["-r", "*.google.com", "-l", "20"]);
    let mut both = first.set();
    both.extend(next.set());
    assert_eq!(both, got.set(), "-O 10 -l 10 continues -l 10");

    // Summarize (-V summarize): one object over the same rows.
    let r = q.run(&["-V", "summarize", "-r", "*.google.com"]);
    assert_eq!(r.rows.len(), 1, "summarize: {:?}", r.rows);
    let sum = &r.rows[0];
    assert_eq!(
        sum["num_results"].as_u64(),
        Some(wild.len() as u64),
        "{sum}"
    );
    assert_eq!(
        sum["count"].as_u64(),
        Some(wild.iter().map(|w| w.5).sum::<u64>()),
        "{sum}"
    );
    assert_eq!(
        sum["time_first"].as_i64(),
        wild.iter().map(|w| w.3).min(),
        "{sum}"
    );
    assert_eq!(
        sum["time_last"].as_i64(),
        wild.iter().map(|w| w.4).max(),
        "{sum}"
    );

    // A wrong key: no rows, and dnsdbq says why (HTTP 401) or fails.
    let r = q.run_with_key("dnsr_not_a_key", &["-r", "google.com"]);
    assert!(r.rows.is_empty(), "rows with a wrong key: {:?}", r.rows);
    assert!(
        !r.output.status.success() || r.stderr.contains("401"),
        "dnsdbq with a wrong key neither failed nor reported 401:\n{}",
        r.stderr
    );
    drop(server);
}

// ---------------------------------------------------------------------------------------
// pypdns

fn pyenv_python() -> PathBuf {
    let env = std::env::var_os("DNSRECALL_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/dnsrecall/pyenv"));
    let python = env.join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import pypdns"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "no Python virtual environment with pypdns at {}: {INSTALL_HINT}",
        env.display()
    );
    python
}

#[test]
fn pypdns_answers_match_dnsrecall_query() {
    let python = pyenv_python();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, key) = setup(tmp.path());
    let data = tmp.path().join("data");

    // What the script runs, and what dnsrecall query says for each.
    let both = |name: &str| -> BTreeSet<Row> {
        let mut set = expect(&data, &[name]);
        set.extend(expect(&data, &["--rdata", name]));
        set
    };
    let cases: Vec<(Value, BTreeSet<Row>, usize)> = vec![
        // A name: the records it owns, then those pointing at it.
        (
            serde_json::json!({"op": "rfc", "q": "google.com"}),
            both("google.com"),
            20,
        ),
        (
            serde_json::json!({"op": "rfc", "q": "aspmx.l.google.com"}),
            both("aspmx.l.google.com"),
            10,
        ),
        (
            serde_json::json!({"op": "rfc", "q": "www.google.com"}),
            both("www.google.com"),
            10,
        ),
        // An address: the A records holding it.
        (
            serde_json::json!({"op": "rfc", "q": "74.125.225.64"}),
            expect(&data, &["74.125.225.64"]),
            5,
        ),
        (
            serde_json::json!({"op": "rfc", "q": "google.com", "rrtype": "AAAA"}),
            expect(&data, &["google.com", "-t", "AAAA"]),
            2,
        ),
        // More than one page of 50: iter_query follows x-dribble-cursor.
        (
            serde_json::json!({"op": "iter", "q": "74.125.225.0/24", "rrtype": "A"}),
            expect(&data, &["74.125.225.0/24", "-t", "A"]),
            101,
        ),
        (
            serde_json::json!({"op": "iter", "q": "*.google.com", "rrtype": "A"}),
            expect(&data, &["*.google.com", "-t", "A"]),
            101,
        ),
        (
            serde_json::json!({"op": "iter", "q": "*.com", "rrtype": "A"}),
            expect(&data, &["*.com", "-t", "A"]),
            500,
        ),
        (
            serde_json::json!({"op": "iter", "q": "google.com", "rrtype": "A"}),
            expect(&data, &["google.com", "-t", "A"]),
            10,
        ),
        (
            serde_json::json!({"op": "unauthorized", "q": "google.com"}),
            BTreeSet::new(),
            0,
        ),
    ];
    let ops: Vec<Value> = cases.iter().map(|c| c.0.clone()).collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/pypdns_check.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(format!("{}/pdns/query", server.base()))
        .arg("ci")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pypdns_check.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&ops).expect("ops").as_bytes())
        .expect("write ops");
    let out = child.wait_with_output().expect("pypdns_check.py");
    assert!(
        out.status.success(),
        "pypdns_check.py failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("script output");
    assert_eq!(results.len(), cases.len());
    for ((op, want, min), got) in cases.iter().zip(&results) {
        if op["op"] == "unauthorized" {
            assert_eq!(
                got["error"], "UnauthorizedError",
                "a wrong password should raise UnauthorizedError: {got}"
            );
            continue;
        }
        assert!(got["error"].is_null(), "{op}: {got}");
        assert!(
            want.len() >= *min,
            "{op}: dnsrecall query has {} rows, the case needs at least {min}",
            want.len()
        );
        let records = got["records"].as_array().expect("records");
        // Each record once: pages neither overlap nor skip.
        assert_eq!(records.len(), want.len(), "{op}: record count");
        assert_eq!(&set_of(records), want, "{op}: pypdns vs dnsrecall query");
        for r in records {
            assert_eq!(r["origin"], "dnsrecall", "{op}: {r}");
        }
        eprintln!(
            "pypdns {op}: {} records match in {} requests",
            records.len(),
            got["pages"]
        );
        if op["op"] == "iter" && want.len() > 50 {
            let pages = got["pages"].as_u64().expect("pages");
            assert_eq!(
                pages,
                want.len().div_ceil(50) as u64,
                "{op}: pages of 50 requested"
            );
        }
    }

    // The COF output of `dnsrecall query` is what the API serves (origin aside).
    let cof = run_ok(
        &data,
        &[
            "query",
            "74.125.225.0/24",
            "--format",
            "cof",
            "--limit",
            "100000",
        ],
    );
    let cof: Vec<Value> = cof
        .lines()
        .map(|l| serde_json::from_str(l).expect("cof line"))
        .collect();
    let prefix_case = cases
        .iter()
        .position(|c| c.0["op"] == "iter" && c.0["q"] == "74.125.225.0/24")
        .expect("the prefix case");
    let iter_prefix = results[prefix_case]["records"].as_array().expect("records");
    assert_eq!(set_of(&cof), set_of(iter_prefix));
    drop(server);
}
