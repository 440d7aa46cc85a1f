//! Benchmark scenarios over the real code paths: the ingest pipeline (parse, aggregate,
//! commit) and the store's query path. Each prints its figures; none asserts on time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dnsrecall_ingest::pipeline::{self, Counters, Input, Options};
use dnsrecall_query::parse_pattern;
use dnsrecall_store::{Selector, Sort, SqliteStore, TupleFilter};
use serde_json::json;

/// Figures of one ingest run.
#[derive(Debug, Clone)]
pub struct IngestFigures {
    pub lines: u64,
    pub seconds: f64,
    pub lines_per_second: f64,
    pub tuples: u64,
    pub bytes: u64,
    pub bytes_per_tuple: f64,
}

/// Ingests `log` into a fresh store in `store_dir` through the production pipeline.
pub fn ingest(log: &Path, store_dir: &Path, clients_off: bool) -> Result<IngestFigures> {
    if store_dir.exists() {
        std::fs::remove_dir_all(store_dir)
            .with_context(|| format!("clearing {}", store_dir.display()))?;
    }
    let store = SqliteStore::open_dir(store_dir)?;
    let mut opts = Options::default();
    if clients_off {
        opts.policy = dnsrecall_ingest::ClientPolicy::without_key(dnsrecall_model::ClientMode::Off);
    }
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let (store, result) = pipeline::run(
        Box::new(store),
        &[Input::Path(log.to_path_buf())],
        &opts,
        Arc::new(Counters::default()),
        &stop,
        &mut |b| eprintln!("bad line {}:{}: {}", b.source, b.line, b.message),
    );
    let report = result?;
    drop(store.context("the ingest lost its store")?);
    let seconds = started.elapsed().as_secs_f64();
    let store = SqliteStore::open_dir(store_dir)?;
    // Fold the write-ahead log into the file so the size is the store's real size.
    store
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let stats = store.stats()?;
    Ok(IngestFigures {
        lines: report.lines,
        seconds,
        lines_per_second: report.lines as f64 / seconds,
        tuples: stats.tuples,
        bytes: stats.bytes,
        bytes_per_tuple: stats.bytes as f64 / stats.tuples.max(1) as f64,
    })
}

/// Latencies of one query form.
#[derive(Debug, Clone)]
pub struct QueryFigures {
    pub form: &'static str,
    pub queries: usize,
    pub rows_mean: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// The slowest pattern, to see what costs.
    pub slowest: String,
}

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Picks names that own tuples, spread over the id space.
pub(crate) fn sample_names(store: &SqliteStore, rng: &mut Rng, n: usize) -> Result<Vec<String>> {
    let conn = store.connection();
    let max: i64 = conn.query_row("SELECT max(id) FROM names", [], |r| r.get(0))?;
    let mut st = conn.prepare(
        "SELECT n.name FROM tuples t JOIN names n ON n.id = t.name_id WHERE t.name_id >= ?1 LIMIT 1",
    )?;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let start = (rng.next() % max.max(1) as u64) as i64;
        if let Ok(name) = st.query_row([start], |r| r.get::<_, String>(0)) {
            out.push(name);
        }
    }
    Ok(out)
}

pub(crate) fn sample_addresses(
    store: &SqliteStore,
    rng: &mut Rng,
    n: usize,
) -> Result<Vec<String>> {
    let conn = store.connection();
    let mut st =
        conn.prepare("SELECT rdata FROM tuples WHERE rrtype = 1 AND rdata >= ?1 LIMIT 1")?;
    let mut out = Vec::with_capacity(n);
    let mut tries = 0;
    while out.len() < n && tries < n * 20 {
        tries += 1;
        let start = (rng.next() as u32).to_be_bytes().to_vec();
        if let Ok(b) = st.query_row([start], |r| r.get::<_, Vec<u8>>(0))
            && b.len() == 4
        {
            out.push(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string());
        }
    }
    if out.is_empty() {
        bail!("the store holds no A records to sample");
    }
    Ok(out)
}

/// Patterns of every query form, derived from data in the store.
pub(crate) fn patterns(
    store: &SqliteStore,
    samples: usize,
    seed: u64,
) -> Result<Vec<(&'static str, Vec<String>)>> {
    let mut rng = Rng(seed);
    let names = sample_names(store, &mut rng, samples)?;
    let parents: Vec<String> = names
        .iter()
        .map(|n| match n.split_once('.') {
            Some((_, parent)) if parent.contains('.') => format!("*.{parent}"),
            _ => format!("*.{n}"),
        })
        .collect();
    let prefixes: Vec<String> = names
        .iter()
        .map(|n| match n.rsplit_once('.') {
            Some((head, _)) => format!("{head}.*"),
            None => format!("{n}.*"),
        })
        .collect();
    let substrings: Vec<String> = names
        .iter()
        .map(|n| {
            let chars: Vec<char> = n.chars().collect();
            let len = 5.min(chars.len());
            let start = (rng.next() as usize) % (chars.len() - len + 1);
            format!("*{}*", chars[start..start + len].iter().collect::<String>())
        })
        .filter(|p| p.len() >= 5)
        .collect();
    let addrs = sample_addresses(store, &mut rng, samples)?;
    let cidrs: Vec<String> = addrs
        .iter()
        .map(|a| {
            let mut o: Vec<&str> = a.split('.').collect();
            o[3] = "0";
            format!("{}/24", o.join("."))
        })
        .collect();
    Ok(vec![
        ("exact", names),
        ("*.x", parents),
        ("x.*", prefixes),
        ("substring", substrings),
        ("ip", addrs),
        ("cidr", cidrs),
    ])
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs every query form `samples` times asking for the first `rows` rows.
pub fn query(
    store_dir: &Path,
    samples: usize,
    rows: usize,
    seed: u64,
) -> Result<Vec<QueryFigures>> {
    let mut store = SqliteStore::open_dir(store_dir)?;
    let sets = patterns(&store, samples, seed)?;
    let filter = TupleFilter::default();
    // Warm the page cache the way a running service is: one pass before measuring.
    for (_, pats) in &sets {
        for p in pats {
            let sel = parse_pattern(p)?;
            store.query_tuples(&sel, &filter, Sort::Natural, 0, rows)?;
        }
    }
    let mut out = Vec::new();
    for (form, pats) in sets {
        let mut times = Vec::with_capacity(pats.len());
        let mut total_rows = 0usize;
        let mut slowest = (Duration::ZERO, String::new());
        for p in &pats {
            let sel: Selector = parse_pattern(p)?;
            let t = Instant::now();
            let (got, _) = store.query_tuples(&sel, &filter, Sort::Natural, 0, rows)?;
            let took = t.elapsed();
            if took > slowest.0 {
                slowest = (took, p.clone());
            }
            times.push(took);
            total_rows += got.len();
        }
        times.sort_unstable();
        out.push(QueryFigures {
            form,
            queries: pats.len(),
            rows_mean: total_rows as f64 / pats.len().max(1) as f64,
            p50: percentile(&times, 0.50),
            p99: percentile(&times, 0.99),
            max: times.last().copied().unwrap_or_default(),
            slowest: slowest.1,
        });
    }
    Ok(out)
}

pub fn print_ingest(f: &IngestFigures) {
    println!(
        "ingest: {} lines in {:.2} s = {:.0} lines/s end to end (parse, aggregate, committed)",
        f.lines, f.seconds, f.lines_per_second
    );
    println!(
        "store:  {} tuples, {:.1} MB on disk (indexes included) = {:.1} bytes per tuple",
        f.tuples,
        f.bytes as f64 / 1e6,
        f.bytes_per_tuple
    );
    println!(
        "{}",
        json!({"scenario": "ingest", "lines": f.lines, "seconds": f.seconds,
               "lines_per_second": f.lines_per_second, "tuples": f.tuples,
               "bytes": f.bytes, "bytes_per_tuple": f.bytes_per_tuple})
    );
}

pub fn print_query(figures: &[QueryFigures], rows: usize) {
    println!("query latency, first {rows} rows, warm store:");
    println!(
        "  {:<10} {:>7} {:>9} {:>10} {:>10} {:>10}  slowest",
        "form", "queries", "rows/q", "p50 ms", "p99 ms", "max ms"
    );
    for f in figures {
        println!(
            "  {:<10} {:>7} {:>9.1} {:>10.3} {:>10.3} {:>10.3}  {}",
            f.form,
            f.queries,
            f.rows_mean,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.max.as_secs_f64() * 1e3,
            f.slowest
        );
    }
    for f in figures {
        println!(
            "{}",
            json!({"scenario": "query", "form": f.form, "queries": f.queries,
                   "rows_mean": f.rows_mean, "p50_ms": f.p50.as_secs_f64() * 1e3,
                   "p99_ms": f.p99.as_secs_f64() * 1e3, "max_ms": f.max.as_secs_f64() * 1e3})
        );
    }
}

/// Where a scenario keeps its files.
pub fn work_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| PathBuf::from("bench-data"))
}

/// Figures of one capture run.
#[derive(Debug, Clone)]
pub struct SniffFigures {
    pub packets: u64,
    pub seconds: f64,
    pub packets_per_second: f64,
    pub answers: u64,
    pub answers_per_second: f64,
    pub tuples: u64,
    pub peak_rss_bytes: Option<u64>,
}

/// Peak resident memory of this process so far (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs the production capture pipeline over `pcap` into a fresh store, with the CLI's
/// default memory bound, and measures it (peak RSS counted from the start of the run).
pub fn sniff(pcap: &Path, store_dir: &Path, max_memory_mib: u64) -> Result<SniffFigures> {
    use dnsrecall_ingest::capture::{self, Progress};
    if store_dir.exists() {
        std::fs::remove_dir_all(store_dir)?;
    }
    let store = SqliteStore::open_dir(store_dir)?;
    let opts = capture::Options {
        sensor_id: None,
        policy: dnsrecall_ingest::ClientPolicy::without_key(dnsrecall_model::ClientMode::Store),
        max_entries: usize::try_from((max_memory_mib << 20) / 384).unwrap_or(usize::MAX),
        flush_interval: Duration::from_secs(10),
        report_interval: Duration::from_secs(60),
        wire: dnsrecall_wire::Config::default(),
        logs: Vec::new(),
        reopen_logs: std::sync::Arc::new(AtomicBool::new(false)),
    };
    // Forget the peak of what ran before (generation): Linux resets VmHWM on "5".
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let (store, result) = capture::sniff_files(
        Box::new(store),
        &[pcap.to_path_buf()],
        &opts,
        &Progress::default(),
        &AtomicBool::new(false),
    );
    let report = result?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss();
    let store = store.context("the capture lost its store")?;
    let tuples = store.stats()?.tuples;
    Ok(SniffFigures {
        packets: report.frames,
        seconds,
        packets_per_second: report.frames as f64 / seconds,
        answers: report.wire.answers,
        answers_per_second: report.wire.answers as f64 / seconds,
        tuples,
        peak_rss_bytes: peak,
    })
}

pub fn print_sniff(f: &SniffFigures) {
    println!(
        "sniff: {} packets in {:.2} s = {:.0} packets/s end to end (decoded, aggregated, committed)",
        f.packets, f.seconds, f.packets_per_second
    );
    println!(
        "       {} answers = {:.0} answers/s; {} tuples stored; peak RSS {}",
        f.answers,
        f.answers_per_second,
        f.tuples,
        f.peak_rss_bytes.map_or("unknown".to_owned(), |b| format!(
            "{:.0} MB",
            b as f64 / 1e6
        ))
    );
    println!(
        "{}",
        json!({"scenario": "sniff", "packets": f.packets, "seconds": f.seconds,
               "packets_per_second": f.packets_per_second, "answers": f.answers,
               "answers_per_second": f.answers_per_second, "tuples": f.tuples,
               "peak_rss_bytes": f.peak_rss_bytes})
    );
}
