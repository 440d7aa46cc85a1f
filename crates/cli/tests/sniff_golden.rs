//! Done-when of `dnsrecall sniff` on the corpus: every capture of the shared corpus goes
//! through the real binary into a fresh store; each run ends with exit code 0, no panic and
//! its counters; then what the store holds (`query '*'` and `query '*' --negative`)
//! holds every reference answer of tshark and passivedns and every passivedns error
//! answer, except the differences listed in `crates/wire/tests/known-differences.tsv`
//! (a listed difference that no longer happens fails, as in the decoder's corpus test,
//! whose reference parsing and comparison this test shares).

mod common;
#[path = "../../wire/tests/refs/mod.rs"]
mod refs;

use std::collections::BTreeSet;
use std::path::Path;

use common::{run, run_ok};

/// Every row of `query '*'` (answers) or `query '*' --negative` as JSON objects.
fn query_all(data: &Path, negative: bool) -> Vec<serde_json::Value> {
    let mut args = vec!["query", "*", "--format", "json", "--limit", "1000000"];
    if negative {
        args.push("--negative");
    }
    let text = run_ok(data, &args);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json output");
    assert_eq!(v["truncated"], false, "{args:?} cut short");
    v["results"].as_array().cloned().unwrap_or_default()
}

fn field(row: &serde_json::Value, k: &str) -> String {
    row[k]
        .as_str()
        .unwrap_or_else(|| panic!("{k} missing in {row}"))
        .to_owned()
}

/// What one capture left in its store.
struct Stored {
    stats: serde_json::Value,
    /// Answers `(rrname, rrtype, rdata)` and negative answers `(qname, qtype, RCODE)`, as
    /// the decoder test compares them.
    keys: BTreeSet<refs::Key>,
    tuples: usize,
    negatives: usize,
}

/// Sniffs one capture into a fresh data directory and reads the store back; `Err` says
/// what went wrong with the run.
fn sniff(path: &Path, name: &str) -> Result<Stored, String> {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let capture = path.to_str().unwrap();
    let ports: Vec<String> = refs::extra_ports(name).iter().map(u16::to_string).collect();
    let mut args = vec!["sniff", "-r", capture, "--stats-json", "-"];
    for p in &ports {
        args.extend_from_slice(&["--dns-port", p]);
    }
    let out = run(&data, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(0) || stderr.contains("panicked") {
        return Err(format!(
            "{name}: dnsrecall {args:?} ended with {:?}:\n{stderr}",
            out.status
        ));
    }
    if !stderr.lines().any(|l| l.starts_with("decoder:")) {
        return Err(format!("{name}: no decoder counters on stderr:\n{stderr}"));
    }
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{name}: --stats-json - is no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    if stats["frames"].as_u64().unwrap_or(0) == 0 || stats["files"] != 1 {
        return Err(format!("{name}: counters say nothing was read: {stats}"));
    }
    if stats["failed"].as_array().is_none_or(|f| !f.is_empty()) {
        return Err(format!("{name}: failed files: {}", stats["failed"]));
    }

    let answers = query_all(&data, false);
    let negatives = query_all(&data, true);
    let mut keys = BTreeSet::new();
    for row in &answers {
        keys.insert((
            field(row, "rrname"),
            field(row, "rrtype"),
            field(row, "rdata"),
        ));
    }
    for row in &negatives {
        keys.insert((
            field(row, "qname"),
            field(row, "qtype"),
            field(row, "rcode"),
        ));
    }
    // A fresh store: every stored row is one the run reported as new, and no two rows
    // share a key.
    if stats["tuples_new"] != answers.len() || stats["negatives_new"] != negatives.len() {
        return Err(format!(
            "{name}: {} tuples and {} negatives stored, the run reported {} and {} new",
            answers.len(),
            negatives.len(),
            stats["tuples_new"],
            stats["negatives_new"]
        ));
    }
    if keys.len() != answers.len() + negatives.len() {
        return Err(format!("{name}: rows with the same key in the store"));
    }
    Ok(Stored {
        stats,
        keys,
        tuples: answers.len(),
        negatives: negatives.len(),
    })
}

#[test]
fn sniff_stores_every_reference_answer_of_the_corpus() {
    let started = std::time::Instant::now();
    let dir = refs::corpus_dir();
    let captures = refs::captures(&dir);
    let names: Vec<String> = captures.iter().map(|p| refs::capture_name(p)).collect();

    // Each capture is its own binary runs on its own store: a few at a time.
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get().min(8));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Stored, String>>> =
        (0..captures.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= captures.len() {
                        break;
                    }
                    let r = sniff(&captures[i], &names[i]);
                    slots.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });

    let mut comparison = refs::Comparison::new(&dir);
    let mut run_failures = Vec::new();
    let (mut frames, mut tuples, mut negatives) = (0, 0, 0);
    println!(
        "{:<40} {:>6} {:>9} {:>6} {:>9} {:>13} {:>13}",
        "capture", "frames", "responses", "tuples", "negatives", "tshark ok/n", "pdns ok/n"
    );
    for (name, result) in names.iter().zip(results) {
        let stored = match result.expect("every capture ran") {
            Ok(s) => s,
            Err(e) => {
                println!("{name:<40} FAILED");
                run_failures.push(e);
                continue;
            }
        };
        let responses = stored.stats["wire"]["responses"].as_u64().unwrap_or(0);
        let r = comparison.capture(name, &stored.keys, responses);
        let read = stored.stats["frames"].as_u64().unwrap_or(0);
        frames += read;
        tuples += stored.tuples;
        negatives += stored.negatives;
        println!(
            "{name:<40} {:>6} {:>9} {:>6} {:>9} {:>13} {:>13}",
            read,
            format!("{}/{}", r.responses.0, r.responses.1),
            stored.tuples,
            stored.negatives,
            format!("{}/{}", r.tshark.0, r.tshark.1),
            format!("{}/{}", r.passivedns.0, r.passivedns.1),
        );
    }
    println!(
        "\n{} captures sniffed ({} failed runs), {frames} frames: {tuples} tuples and {negatives} negative answers stored ({:.1} s)",
        captures.len(),
        run_failures.len(),
        started.elapsed().as_secs_f64()
    );
    let mut failures = run_failures;
    failures.extend(comparison.finish());
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The captures of what the corpus lacks (QinQ, reversed IPv4 fragments, a TCP stream with
/// wrapping sequence numbers, reordering and an overlapping retransmission), written by the
/// wire crate's tests: the store must hold exactly the answers listed beside each.
#[test]
fn sniff_stores_the_answers_of_the_testdata_captures() {
    let dir = common::repo().join("testdata/wire");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let pcap = entry.unwrap().path();
        if pcap.extension().is_none_or(|e| e != "pcap") {
            continue;
        }
        seen += 1;
        let data = tempfile::tempdir().unwrap();
        run_ok(data.path(), &["sniff", "-r", pcap.to_str().unwrap()]);
        let got: BTreeSet<String> = query_all(data.path(), false)
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    field(r, "rrname"),
                    field(r, "rrtype"),
                    field(r, "rdata")
                )
            })
            .collect();
        let want: BTreeSet<String> = std::fs::read_to_string(pcap.with_extension("expected"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(got, want, "{}", pcap.display());
    }
    assert_eq!(seen, 3, "captures under {}", dir.display());
}
