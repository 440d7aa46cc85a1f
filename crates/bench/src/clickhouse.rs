//! The `clickhouse` scenario: the real `dnsrecall` binary in front of a private ClickHouse
//! server, on the same data as the SQLite benchmarks.
//!
//! 1. **Server.** Debian's `/usr/sbin/clickhouse-server` (or `--server`,
//!    `$DNSRECALL_CLICKHOUSE_SERVER`) with a config, data and logs in
//!    `DIR/clickhouse/server` (fresh each run), listening on free loopback ports only
//!    (HTTP and native TCP on `127.0.0.1`); stopped (SIGTERM) at the end, killed on error
//!    paths. A missing binary is an error, never a skip.
//! 2. **Ingest.** The generated log of the SQLite ingest benchmark (`DIR/gen-LINES-SEED.json`,
//!    12M lines, about 5.2M tuples; generated when missing) through `dnsrecall --store
//!    clickhouse://127.0.0.1:PORT/bench --spool-dir DIR/clickhouse/spool-ingest ingest`:
//!    lines/s as the ingest reports it (`--stats-json`: first line to last batch in
//!    ClickHouse) and over the process's wall time; the process's CPU time and peak RSS,
//!    the server's CPU time over the same run. Then `dnsrecall --store ... stats --json`:
//!    tuples, names, client sightings, bytes on disk (active parts of the database).
//! 3. **Queries.** The SQLite query benchmark's pattern set (`scenarios::patterns`: seed 7,
//!    300 per form, drawn from a SQLite store of the same log: `DIR/store`,
//!    `DIR/serve/base` or `DIR/intel/hunt` when its checkpoint shows it holds the whole log,
//!    else `DIR/store` is built), asked **in process** through `ClickHouseStore` behind the
//!    `dnsrecall_store::Store` trait (`query_tuples`, natural order, first 100 rows), as
//!    the SQLite benchmark asks `SqliteStore`; the first 10 patterns of each form warm the
//!    server unmeasured. Each form stops after `form_budget` (the slow scans would take
//!    much longer than the SQLite forms for 300 patterns); the table says how many ran.
//!    The rows of each answer are compared with the SQLite store's. Then the first
//!    `cli_samples` patterns of each form through `dnsrecall --store ... query PATTERN
//!    --limit 100 --format json`, one process each (process start, schema check and the
//!    query: what a script calling the CLI sees).
//! 4. **Sniff.** The sniff benchmark's generated capture (`DIR/gen-PACKETS-SEED.pcap`)
//!    through `dnsrecall --store clickhouse://.../bench_sniff sniff -r PCAP` into a fresh
//!    database: packets/s and answers/s (`--stats-json` and wall time), CPU, peak RSS.
//! 5. Server peak RSS (VmHWM of `/proc/PID/status`) after each phase, the load average
//!    before and after, and (with `sqlite`) the SQLite ingest, query and sniff benchmarks
//!    run in this process on the same data, for a comparison under the same conditions.
//!
//! Nothing asserts on time; the figures are printed (a table, then JSON lines).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dnsrecall_clickhouse::{ClickHouseStore, StoreUrl};
use dnsrecall_query::parse_pattern;
use dnsrecall_store::{Sort, SqliteStore, Store, TupleFilter};
use serde_json::json;

use crate::generator::{self, GenConfig};
use crate::intel::{Proc, cpu_seconds, run_measured};
use crate::pcapgen::{self, PcapGenConfig};
use crate::scenarios::{self, IngestFigures, QueryFigures, SniffFigures, percentile};
use crate::serve::proc_status;

/// How a run goes. [`ClickHouseConfig::new`] gives the defaults of `dnsrecall-bench
/// clickhouse`.
#[derive(Debug, Clone)]
pub struct ClickHouseConfig {
    /// Working directory (`bench-data`): the generated log and capture, `clickhouse/`.
    pub dir: PathBuf,
    /// The `dnsrecall` binary.
    pub bin: PathBuf,
    /// The `clickhouse-server` binary.
    pub server: PathBuf,
    /// Lines of the generated log (12M give about 5.2M tuples).
    pub lines: u64,
    /// Packets of the generated capture.
    pub packets: u64,
    pub seed: u64,
    /// Patterns per query form (the SQLite query benchmark's 300).
    pub samples: usize,
    /// Rows asked for per query.
    pub rows: usize,
    /// The query benchmark's pattern seed.
    pub query_seed: u64,
    /// Longest time spent measuring one query form in process.
    pub form_budget: Duration,
    /// Patterns per form also run as `dnsrecall query` processes.
    pub cli_samples: usize,
    /// Also run the SQLite ingest, query and sniff benchmarks on the same data.
    pub sqlite: bool,
    /// The run fails (after printing) when the ingested store holds fewer tuples.
    pub min_tuples: u64,
}

impl ClickHouseConfig {
    pub fn new(dir: PathBuf, bin: PathBuf) -> Self {
        Self {
            dir,
            bin,
            server: dnsrecall_clickhouse::local_server::server_binary(),
            lines: 12_000_000,
            packets: 5_000_000,
            seed: 1,
            samples: 300,
            rows: 100,
            query_seed: 7,
            form_budget: Duration::from_secs(90),
            cli_samples: 20,
            sqlite: false,
            min_tuples: 5_000_000,
        }
    }
}

/// A private `clickhouse-server` on free loopback ports; killed when dropped.
pub use dnsrecall_clickhouse::local_server::LocalServer as Server;

/// Starts `binary` with its config and data in `dir` (emptied first).
///
/// # Errors
/// When the binary is missing, or the server exits or does not answer within 60 s.
fn start_server(binary: &Path, dir: &Path) -> Result<Server> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    Server::start(binary, dir).map_err(|e| anyhow::anyhow!("{e}"))
}

/// What `dnsrecall --store ... stats --json` says.
#[derive(Debug, Clone, Default)]
pub struct StoreFigures {
    pub tuples: u64,
    pub names: u64,
    pub negatives: u64,
    pub clients: u64,
    /// Bytes on disk (the active parts of the database).
    pub bytes: u64,
    pub bytes_per_tuple: f64,
    /// How long `stats` took (it reads every key).
    pub seconds: f64,
}

/// One `dnsrecall ingest` or `sniff` run into ClickHouse.
#[derive(Debug, Clone, Default)]
pub struct WriteRun {
    /// Lines (ingest) or frames (sniff) read.
    pub items: u64,
    /// Answers decoded (sniff).
    pub answers: u64,
    /// The command's own rate (`--stats-json`: from the first item to the last batch in
    /// ClickHouse) and its seconds.
    pub per_second: f64,
    pub pipeline_seconds: f64,
    /// Over the process's wall time (start, schema check, spool flush included).
    pub wall_per_second: f64,
    pub proc: Proc,
    /// CPU seconds the server spent during the run.
    pub server_cpu_seconds: Option<f64>,
    pub batches: u64,
    /// Lines the ingest refused (none expected in the generated log).
    pub bad_lines: u64,
    /// The command's closing line about the spool (`clickhouse: N batches stored at
    /// once, ...`).
    pub spool: String,
}

/// One stored table of the database (active parts, from `system.parts`).
#[derive(Debug, Clone, Default)]
pub struct TableSize {
    pub table: String,
    pub parts: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// One query form against ClickHouse.
#[derive(Debug, Clone)]
pub struct FormFigures {
    pub figures: QueryFigures,
    /// Patterns of the set (the others did not fit the time budget).
    pub planned: usize,
    /// Queries whose row count differs from the SQLite store's (for the same pattern).
    pub rows_differ: usize,
}

/// Figures of a run.
#[derive(Debug, Clone, Default)]
pub struct ClickHouseFigures {
    pub server_version: String,
    /// The server's process id (stopped by the end of the run).
    pub server_pid: u32,
    pub lines: u64,
    pub packets: u64,
    pub ingest: WriteRun,
    pub store: StoreFigures,
    /// The same stats at the end of the run (background merges had time).
    pub store_later: Option<StoreFigures>,
    /// Where the bytes are, table by table, after the ingest.
    pub tables: Vec<TableSize>,
    pub queries: Vec<FormFigures>,
    pub rows: usize,
    /// The same forms through `dnsrecall query` processes.
    pub cli_queries: Vec<QueryFigures>,
    pub sniff: WriteRun,
    pub sniff_store: StoreFigures,
    /// Server peak RSS (VmHWM) after ingest, after the queries, after sniff.
    pub server_rss_ingest: Option<u64>,
    pub server_rss_query: Option<u64>,
    pub server_rss_end: Option<u64>,
    /// `/proc/loadavg` (1, 5, 15 min) before and after.
    pub load_before: String,
    pub load_after: String,
    /// Tuples of the SQLite store of the same log (the query patterns' source).
    pub sqlite_tuples: u64,
    /// SQLite, measured in this run (`sqlite`).
    pub sqlite_ingest: Option<IngestFigures>,
    pub sqlite_query: Vec<QueryFigures>,
    pub sqlite_sniff: Option<SniffFigures>,
    /// The SQLite figures of docs/benchmarks.md (quiet machine), for the default sizes.
    pub reference: Option<Reference>,
}

/// The quiet-machine SQLite figures of docs/benchmarks.md (2026-11-27): 12M lines, 5M
/// packets, seed 1.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    pub lines_per_second: f64,
    pub tuples: u64,
    pub bytes_per_tuple: f64,
    /// (form, p50 ms, p99 ms)
    pub queries: [(&'static str, f64, f64); 6],
    pub packets_per_second: f64,
    pub sniff_peak_rss_mb: f64,
}

pub const REFERENCE: Reference = Reference {
    lines_per_second: 88_614.0,
    tuples: 5_222_404,
    bytes_per_tuple: 299.6,
    queries: [
        ("exact", 0.027, 0.074),
        ("*.x", 0.210, 0.742),
        ("x.*", 0.008, 0.047),
        ("substring", 0.65, 3.1),
        ("ip", 0.004, 0.044),
        ("cidr", 0.239, 0.867),
    ],
    packets_per_second: 141_451.0,
    sniff_peak_rss_mb: 287.0,
};

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `DIR/gen-LINES-SEED.json`, generated when missing (the file the other scenarios use).
fn ensure_log(dir: &Path, lines: u64, seed: u64) -> Result<PathBuf> {
    let log = dir.join(format!("gen-{lines}-{seed}.json"));
    if !log.exists() {
        eprintln!("generating {lines} lines into {} ...", log.display());
        let tmp = log.with_extension("partial");
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        generator::generate(&GenConfig::new(lines, seed), &mut out)?;
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, &log)?;
    }
    Ok(log)
}

/// `DIR/gen-PACKETS-SEED.pcap`, generated when missing (the sniff scenario's file).
fn ensure_pcap(dir: &Path, packets: u64, seed: u64) -> Result<PathBuf> {
    let pcap = dir.join(format!("gen-{packets}-{seed}.pcap"));
    if !pcap.exists() {
        eprintln!("generating {packets} packets into {} ...", pcap.display());
        let tmp = pcap.with_extension("partial");
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        pcapgen::generate_pcap(&PcapGenConfig::new(packets, seed), &mut out)?;
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, &pcap)?;
    }
    Ok(pcap)
}

/// True when the SQLite store in `dir` holds the whole of `log` (its checkpoint names the
/// file and its last line).
fn holds_log(dir: &Path, log: &Path, lines: u64) -> bool {
    let name = log.file_name().map(|n| n.to_string_lossy().into_owned());
    dir.join(dnsrecall_store::DB_FILE).exists()
        && !dir.with_extension("partial").exists()
        && SqliteStore::open_dir(dir)
            .ok()
            .and_then(|s| {
                s.connection()
                    .query_row("SELECT source, line FROM checkpoints", [], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .ok()
            })
            .is_some_and(|(source, line)| {
                Some(source.rsplit('/').next().unwrap_or("").to_owned()) == name
                    && u64::try_from(line).ok() == Some(lines)
            })
}

/// A SQLite store of `log` to draw the query patterns from (and to compare rows with):
/// built into `DIR/store` with `sqlite`, else an existing one of the same log, else built.
fn sqlite_reference(
    cfg: &ClickHouseConfig,
    log: &Path,
) -> Result<(PathBuf, Option<IngestFigures>)> {
    let own = cfg.dir.join("store");
    if !cfg.sqlite {
        for dir in [
            own.clone(),
            cfg.dir.join("serve").join("base"),
            cfg.dir.join("intel").join("hunt"),
        ] {
            if holds_log(&dir, log, cfg.lines) {
                eprintln!("query patterns from the SQLite store {}", dir.display());
                return Ok((dir, None));
            }
        }
    }
    eprintln!(
        "SQLite ingest of {} into {} (query patterns, and SQLite's figures) ...",
        log.display(),
        own.display()
    );
    let figures = scenarios::ingest(log, &own, false)?;
    Ok((own, Some(figures)))
}

/// `dnsrecall --data-dir CLI --store URL`.
fn dnsrecall(cfg: &ClickHouseConfig, url: &str) -> Command {
    let mut c = Command::new(&cfg.bin);
    c.arg("--data-dir")
        .arg(cfg.dir.join("clickhouse").join("cli"))
        .arg("--store")
        .arg(url)
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null");
    c
}

fn stats(cfg: &ClickHouseConfig, url: &str) -> Result<StoreFigures> {
    let started = Instant::now();
    let out = dnsrecall(cfg, url)
        .args(["stats", "--json"])
        .stdin(Stdio::null())
        .output()
        .context("running dnsrecall stats")?;
    if !out.status.success() {
        bail!(
            "dnsrecall stats failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("dnsrecall stats --json")?;
    let n = |k: &str| doc[k].as_u64().unwrap_or(0);
    let tuples = n("tuples");
    let bytes = n("bytes");
    Ok(StoreFigures {
        tuples,
        names: n("names"),
        negatives: n("negatives"),
        clients: n("clients"),
        bytes,
        bytes_per_tuple: bytes as f64 / tuples.max(1) as f64,
        seconds,
    })
}

/// The `clickhouse: ...` line the command prints about its spool.
fn spool_line(err: &Path) -> String {
    std::fs::read_to_string(err)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| l.starts_with("clickhouse: "))
        .unwrap_or("")
        .to_owned()
}

/// Runs `dnsrecall --store URL --spool-dir SPOOL <args> --stats-json F` measured; the
/// parsed stats document and the run's figures.
fn write_run(
    cfg: &ClickHouseConfig,
    server: &Server,
    url: &str,
    name: &str,
    args: &[&std::ffi::OsStr],
) -> Result<(serde_json::Value, WriteRun)> {
    let work = cfg.dir.join("clickhouse");
    let stats_file = work.join(format!("{name}-stats.json"));
    let spool = work.join(format!("spool-{name}"));
    if spool.exists() {
        std::fs::remove_dir_all(&spool)?;
    }
    let mut cmd = dnsrecall(cfg, url);
    cmd.arg("--spool-dir").arg(&spool).args(args);
    cmd.arg("--stats-json").arg(&stats_file);
    let stat = server.pid().map(|p| format!("/proc/{p}/stat"));
    let cpu_before = stat.as_deref().and_then(cpu_seconds);
    let err = work.join(format!("{name}.err"));
    // 1 is "bad lines seen" (counted below); a failed store or input exits 3, an error.
    let (proc, _) = run_measured(
        cmd,
        &format!("dnsrecall {name}"),
        &work.join(format!("{name}.out")),
        &err,
    )?;
    let cpu_after = stat.as_deref().and_then(cpu_seconds);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats_file)?)
        .with_context(|| format!("reading {}", stats_file.display()))?;
    let run = WriteRun {
        pipeline_seconds: doc["elapsed_seconds"].as_f64().unwrap_or(0.0),
        batches: doc["batches"].as_u64().unwrap_or(0),
        bad_lines: doc["bad_lines"].as_u64().unwrap_or(0),
        proc,
        server_cpu_seconds: cpu_before.zip(cpu_after).map(|(a, b)| b - a),
        spool: spool_line(&err),
        ..WriteRun::default()
    };
    Ok((doc, run))
}

fn ingest(cfg: &ClickHouseConfig, server: &Server, url: &str, log: &Path) -> Result<WriteRun> {
    let (doc, mut run) = write_run(
        cfg,
        server,
        url,
        "ingest",
        &["ingest".as_ref(), "--no-progress".as_ref(), log.as_os_str()],
    )?;
    run.items = doc["lines"].as_u64().unwrap_or(0);
    run.per_second = doc["lines_per_second"].as_f64().unwrap_or(0.0);
    run.wall_per_second = run.items as f64 / run.proc.seconds.max(1e-9);
    Ok(run)
}

fn sniff(cfg: &ClickHouseConfig, server: &Server, url: &str, pcap: &Path) -> Result<WriteRun> {
    let (doc, mut run) = write_run(
        cfg,
        server,
        url,
        "sniff",
        &[
            "sniff".as_ref(),
            "--no-progress".as_ref(),
            "-r".as_ref(),
            pcap.as_os_str(),
        ],
    )?;
    run.items = doc["frames"].as_u64().unwrap_or(0);
    run.answers = doc["wire"]["answers"].as_u64().unwrap_or(0);
    run.per_second = doc["frames_per_second"].as_f64().unwrap_or(0.0);
    run.wall_per_second = run.items as f64 / run.proc.seconds.max(1e-9);
    Ok(run)
}

/// Patterns warmed (unmeasured) per form before measuring.
const WARM: usize = 10;

/// The pattern sets in process through the `Store` trait, each form within the budget.
fn query_in_process(
    cfg: &ClickHouseConfig,
    store: &mut dyn Store,
    sqlite: &mut SqliteStore,
    sets: &[(&'static str, Vec<String>)],
) -> Result<Vec<FormFigures>> {
    let filter = TupleFilter::default();
    for (_, pats) in sets {
        for p in pats.iter().take(WARM) {
            store.query_tuples(&parse_pattern(p)?, &filter, Sort::Natural, 0, cfg.rows)?;
        }
    }
    let mut out = Vec::new();
    for (form, pats) in sets {
        eprintln!("  {form}: up to {} queries ...", pats.len());
        let started = Instant::now();
        let mut times = Vec::with_capacity(pats.len());
        let mut total_rows = 0usize;
        let mut rows_differ = 0usize;
        let mut slowest = (Duration::ZERO, String::new());
        for p in pats {
            if started.elapsed() >= cfg.form_budget {
                break;
            }
            let sel = parse_pattern(p)?;
            let t = Instant::now();
            let (got, _) = store.query_tuples(&sel, &filter, Sort::Natural, 0, cfg.rows)?;
            let took = t.elapsed();
            if took > slowest.0 {
                slowest = (took, p.clone());
            }
            times.push(took);
            total_rows += got.len();
            let (want, _) = sqlite.query_tuples(&sel, &filter, Sort::Natural, 0, cfg.rows)?;
            if want.len() != got.len() {
                rows_differ += 1;
            }
        }
        times.sort_unstable();
        out.push(FormFigures {
            figures: QueryFigures {
                form,
                queries: times.len(),
                rows_mean: total_rows as f64 / times.len().max(1) as f64,
                p50: percentile(&times, 0.50),
                p99: percentile(&times, 0.99),
                max: times.last().copied().unwrap_or_default(),
                slowest: slowest.1,
            },
            planned: pats.len(),
            rows_differ,
        });
    }
    Ok(out)
}

/// The first `cli_samples` patterns of each form as `dnsrecall query` processes.
fn query_cli(
    cfg: &ClickHouseConfig,
    url: &str,
    sets: &[(&'static str, Vec<String>)],
) -> Result<Vec<QueryFigures>> {
    let mut out = Vec::new();
    for (form, pats) in sets {
        let started = Instant::now();
        let mut times = Vec::new();
        let mut total_rows = 0u64;
        let mut slowest = (Duration::ZERO, String::new());
        for p in pats.iter().take(cfg.cli_samples) {
            if started.elapsed() >= cfg.form_budget {
                break;
            }
            let mut cmd = dnsrecall(cfg, url);
            cmd.args(["query", "--limit"])
                .arg(cfg.rows.to_string())
                .args(["--format", "json", "--"])
                .arg(p)
                .stdin(Stdio::null());
            let t = Instant::now();
            let res = cmd.output().context("running dnsrecall query")?;
            let took = t.elapsed();
            if !res.status.success() {
                bail!(
                    "dnsrecall query {p} failed ({}):\n{}",
                    res.status,
                    String::from_utf8_lossy(&res.stderr)
                );
            }
            let doc: serde_json::Value = serde_json::from_slice(&res.stdout)
                .with_context(|| format!("dnsrecall query {p}: not JSON"))?;
            total_rows += doc["count"].as_u64().unwrap_or(0);
            if took > slowest.0 {
                slowest = (took, p.clone());
            }
            times.push(took);
        }
        times.sort_unstable();
        out.push(QueryFigures {
            form,
            queries: times.len(),
            rows_mean: total_rows as f64 / times.len().max(1) as f64,
            p50: percentile(&times, 0.50),
            p99: percentile(&times, 0.99),
            max: times.last().copied().unwrap_or_default(),
            slowest: slowest.1,
        });
    }
    Ok(out)
}

/// The active parts of `database`, table by table, largest first.
fn table_sizes(store: &ClickHouseStore, database: &str) -> Result<Vec<TableSize>> {
    let rows = store.select_rows(&format!(
        "SELECT table, count(), sum(rows), sum(bytes_on_disk) AS b FROM system.parts \
         WHERE database = '{database}' AND active GROUP BY table ORDER BY b DESC, table"
    ))?;
    let num = |f: Option<&Vec<u8>>| -> u64 {
        f.and_then(|b| std::str::from_utf8(b).ok()?.parse().ok())
            .unwrap_or(0)
    };
    Ok(rows
        .iter()
        .map(|r| TableSize {
            table: r
                .first()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
            parts: num(r.get(1)),
            rows: num(r.get(2)),
            bytes: num(r.get(3)),
        })
        .collect())
}

fn server_rss(server: &Server) -> Option<u64> {
    proc_status(server.pid()?, "VmHWM")
}

/// Runs the scenario.
///
/// # Errors
/// When the server, the binary or a step fails (the server is stopped in every case).
pub fn run(cfg: &ClickHouseConfig) -> Result<ClickHouseFigures> {
    if !cfg.bin.is_file() {
        bail!(
            "{} not found: build it (cargo build --release -p dnsrecall-cli) or give --bin",
            cfg.bin.display()
        );
    }
    std::fs::create_dir_all(&cfg.dir)?;
    let work = cfg.dir.join("clickhouse");
    std::fs::create_dir_all(&work)?;
    let log = ensure_log(&cfg.dir, cfg.lines, cfg.seed)?;
    let pcap = ensure_pcap(&cfg.dir, cfg.packets, cfg.seed)?;

    let mut f = ClickHouseFigures {
        lines: cfg.lines,
        packets: cfg.packets,
        rows: cfg.rows,
        ..ClickHouseFigures::default()
    };
    if cfg.lines == 12_000_000 && cfg.packets == 5_000_000 && cfg.seed == 1 {
        f.reference = Some(REFERENCE);
    }
    // SQLite first (its own figures, and the store the patterns come from), so the
    // ClickHouse server does not run alongside it.
    let (sqlite_dir, sqlite_ingest) = sqlite_reference(cfg, &log)?;
    f.sqlite_ingest = sqlite_ingest;
    if cfg.sqlite {
        eprintln!("SQLite query benchmark ...");
        f.sqlite_query = scenarios::query(&sqlite_dir, cfg.samples, cfg.rows, cfg.query_seed)?;
        eprintln!("SQLite sniff of {} ...", pcap.display());
        f.sqlite_sniff = Some(scenarios::sniff(&pcap, &work.join("sqlite-sniff"), 64)?);
    }
    let mut sqlite = SqliteStore::open_dir(&sqlite_dir)?;
    f.sqlite_tuples = sqlite.stats()?.tuples;
    let sets = scenarios::patterns(&sqlite, cfg.samples, cfg.query_seed)?;

    f.load_before = loadavg();
    let mut server = start_server(&cfg.server, &work.join("server"))?;
    eprintln!(
        "clickhouse-server (pid {}) on 127.0.0.1:{} (HTTP), :{} (TCP)",
        server.pid().unwrap_or(0),
        server.http_port,
        server.tcp_port
    );
    f.server_pid = server.pid().unwrap_or(0);
    let url = server.url("bench");
    let parsed: StoreUrl = url.parse().map_err(|e| anyhow::anyhow!("{e}"))?;

    eprintln!("dnsrecall --store {url} ingest {} ...", log.display());
    f.ingest = ingest(cfg, &server, &url, &log)?;
    f.server_rss_ingest = server_rss(&server);
    eprintln!("dnsrecall --store {url} stats --json ...");
    f.store = stats(cfg, &url)?;

    eprintln!("queries in process ({} patterns per form) ...", cfg.samples);
    let mut store = ClickHouseStore::open(&parsed)?;
    f.server_version = store.server_version().unwrap_or_default();
    f.tables = table_sizes(&store, "bench")?;
    f.queries = query_in_process(cfg, &mut store, &mut sqlite, &sets)?;
    eprintln!(
        "queries through dnsrecall query ({} per form) ...",
        cfg.cli_samples
    );
    f.cli_queries = query_cli(cfg, &url, &sets)?;
    f.server_rss_query = server_rss(&server);

    let sniff_url = server.url("bench_sniff");
    eprintln!(
        "dnsrecall --store {sniff_url} sniff -r {} ...",
        pcap.display()
    );
    f.sniff = sniff(cfg, &server, &sniff_url, &pcap)?;
    f.sniff_store = stats(cfg, &sniff_url)?;
    f.store_later = Some(stats(cfg, &url)?);
    f.server_rss_end = server_rss(&server);
    f.load_after = loadavg();
    server.stop();
    Ok(f)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mb(b: Option<u64>) -> String {
    b.map_or("unknown".to_owned(), |b| {
        format!("{:.0} MB", b as f64 / 1e6)
    })
}

fn secs(s: Option<f64>) -> String {
    s.map_or("?".to_owned(), |s| format!("{s:.1} s"))
}

/// Prints the figures: a table with SQLite beside them, then JSON lines.
pub fn print_clickhouse(f: &ClickHouseFigures) {
    println!(
        "ClickHouse {} on loopback; load average {} before, {} after",
        f.server_version, f.load_before, f.load_after
    );
    let i = &f.ingest;
    println!(
        "ingest: {} lines in {:.2} s = {:.0} lines/s as ingest reports it, {:.0} lines/s over \
         the process ({:.2} s); {} batches, {} bad lines",
        i.items,
        i.pipeline_seconds,
        i.per_second,
        i.wall_per_second,
        i.proc.seconds,
        i.batches,
        i.bad_lines
    );
    println!(
        "        dnsrecall CPU {}, peak RSS {}; clickhouse-server CPU {} meanwhile",
        secs(i.proc.cpu_seconds),
        mb(i.proc.peak_rss),
        secs(i.server_cpu_seconds)
    );
    println!("        {}", i.spool);
    let s = &f.store;
    println!(
        "store:  {} tuples ({} in SQLite from the same log), {} names, {} client sightings, \
         {} negatives; {:.1} MB on disk = {:.1} bytes per tuple (stats took {:.1} s)",
        s.tuples,
        f.sqlite_tuples,
        s.names,
        s.clients,
        s.negatives,
        s.bytes as f64 / 1e6,
        s.bytes_per_tuple,
        s.seconds
    );
    if let Some(l) = &f.store_later {
        println!(
            "        at the end of the run (background merges): {:.1} MB = {:.1} bytes per tuple",
            l.bytes as f64 / 1e6,
            l.bytes_per_tuple
        );
    }
    for t in &f.tables {
        println!(
            "        {:<18} {:>4} parts {:>11} rows {:>9.1} MB = {:>6.1} bytes per tuple",
            t.table,
            t.parts,
            t.rows,
            t.bytes as f64 / 1e6,
            t.bytes as f64 / s.tuples.max(1) as f64
        );
    }
    println!(
        "query latency, first {} rows, in process (ClickHouseStore via the Store trait):",
        f.rows
    );
    println!(
        "  {:<10} {:>9} {:>7} {:>10} {:>10} {:>10} {:>6}  slowest",
        "form", "queries", "rows/q", "p50 ms", "p99 ms", "max ms", "!=rows"
    );
    for q in &f.queries {
        let g = &q.figures;
        println!(
            "  {:<10} {:>4}/{:<4} {:>7.1} {:>10.3} {:>10.3} {:>10.3} {:>6}  {}",
            g.form,
            g.queries,
            q.planned,
            g.rows_mean,
            ms(g.p50),
            ms(g.p99),
            ms(g.max),
            q.rows_differ,
            g.slowest
        );
    }
    println!(
        "query latency through `dnsrecall query --limit {} --format json` (one process each):",
        f.rows
    );
    println!(
        "  {:<10} {:>9} {:>7} {:>10} {:>10} {:>10}",
        "form", "queries", "rows/q", "p50 ms", "p99 ms", "max ms"
    );
    for g in &f.cli_queries {
        println!(
            "  {:<10} {:>9} {:>7.1} {:>10.3} {:>10.3} {:>10.3}",
            g.form,
            g.queries,
            g.rows_mean,
            ms(g.p50),
            ms(g.p99),
            ms(g.max)
        );
    }
    let n = &f.sniff;
    println!(
        "sniff:  {} packets in {:.2} s = {:.0} packets/s as sniff reports it, {:.0} over the \
         process ({:.2} s); {} answers = {:.0} answers/s",
        n.items,
        n.pipeline_seconds,
        n.per_second,
        n.wall_per_second,
        n.proc.seconds,
        n.answers,
        n.answers as f64 / n.pipeline_seconds.max(1e-9)
    );
    println!(
        "        dnsrecall CPU {}, peak RSS {}; clickhouse-server CPU {}; {} tuples, {:.1} MB",
        secs(n.proc.cpu_seconds),
        mb(n.proc.peak_rss),
        secs(n.server_cpu_seconds),
        f.sniff_store.tuples,
        f.sniff_store.bytes as f64 / 1e6
    );
    println!("        {}", n.spool);
    println!(
        "clickhouse-server peak RSS (VmHWM): {} after ingest, {} after the queries, {} at the end",
        mb(f.server_rss_ingest),
        mb(f.server_rss_query),
        mb(f.server_rss_end)
    );
    print_side_by_side(f);
    print_json(f);
}

fn print_side_by_side(f: &ClickHouseFigures) {
    let now = f.sqlite_ingest.is_some() || f.sqlite_sniff.is_some();
    if f.reference.is_none() && !now {
        println!("(no SQLite figures at hand for these sizes: run with --sqlite)");
        return;
    }
    println!();
    println!(
        "  {:<30} {:>22} {:>22} {:>22}",
        "figure",
        "ClickHouse (this run)",
        if now { "SQLite (this run)" } else { "" },
        if f.reference.is_some() {
            "SQLite (docs, quiet)"
        } else {
            ""
        }
    );
    let row = |name: &str, ch: String, sq: Option<String>, rf: Option<String>| {
        println!(
            "  {:<30} {:>22} {:>22} {:>22}",
            name,
            ch,
            sq.unwrap_or_default(),
            rf.unwrap_or_default()
        );
    };
    let r = f.reference.as_ref();
    row(
        "ingest lines/s",
        format!("{:.0}", f.ingest.per_second),
        f.sqlite_ingest
            .as_ref()
            .map(|s| format!("{:.0}", s.lines_per_second)),
        r.map(|r| format!("{:.0}", r.lines_per_second)),
    );
    row(
        "tuples",
        f.store.tuples.to_string(),
        f.sqlite_ingest.as_ref().map(|s| s.tuples.to_string()),
        r.map(|r| r.tuples.to_string()),
    );
    row(
        "bytes/tuple on disk",
        format!("{:.1}", f.store.bytes_per_tuple),
        f.sqlite_ingest
            .as_ref()
            .map(|s| format!("{:.1}", s.bytes_per_tuple)),
        r.map(|r| format!("{:.1}", r.bytes_per_tuple)),
    );
    for (k, q) in f.queries.iter().enumerate() {
        let g = &q.figures;
        let sq = f
            .sqlite_query
            .iter()
            .find(|s| s.form == g.form)
            .map(|s| format!("{:.3} / {:.3}", ms(s.p50), ms(s.p99)));
        let rf = r
            .and_then(|r| r.queries.get(k))
            .filter(|(form, ..)| *form == g.form)
            .map(|(_, p50, p99)| format!("{p50:.3} / {p99:.3}"));
        row(
            &format!("query {} p50 / p99 ms", g.form),
            format!("{:.3} / {:.3}", ms(g.p50), ms(g.p99)),
            sq,
            rf,
        );
    }
    row(
        "sniff packets/s",
        format!("{:.0}", f.sniff.per_second),
        f.sqlite_sniff
            .as_ref()
            .map(|s| format!("{:.0}", s.packets_per_second)),
        r.map(|r| format!("{:.0}", r.packets_per_second)),
    );
    row(
        "sniff tuples",
        f.sniff_store.tuples.to_string(),
        f.sqlite_sniff.as_ref().map(|s| s.tuples.to_string()),
        None,
    );
    row(
        "sniff peak RSS (dnsrecall)",
        mb(f.sniff.proc.peak_rss),
        f.sqlite_sniff.as_ref().map(|s| mb(s.peak_rss_bytes)),
        r.map(|r| format!("{:.0} MB", r.sniff_peak_rss_mb)),
    );
}

fn print_json(f: &ClickHouseFigures) {
    println!(
        "{}",
        json!({"scenario": "clickhouse-ingest", "lines": f.ingest.items,
               "seconds": f.ingest.pipeline_seconds, "lines_per_second": f.ingest.per_second,
               "wall_seconds": f.ingest.proc.seconds,
               "wall_lines_per_second": f.ingest.wall_per_second,
               "cpu_seconds": f.ingest.proc.cpu_seconds,
               "peak_rss_bytes": f.ingest.proc.peak_rss,
               "server_cpu_seconds": f.ingest.server_cpu_seconds,
               "tuples": f.store.tuples, "sqlite_tuples": f.sqlite_tuples,
               "bytes": f.store.bytes, "bytes_per_tuple": f.store.bytes_per_tuple,
               "bytes_later": f.store_later.as_ref().map(|s| s.bytes),
               "server_peak_rss_bytes": f.server_rss_ingest,
               "load_before": f.load_before,
               "tables": f.tables.iter().map(|t| json!({"table": t.table, "parts": t.parts,
                   "rows": t.rows, "bytes": t.bytes})).collect::<Vec<_>>()})
    );
    for q in &f.queries {
        let g = &q.figures;
        println!(
            "{}",
            json!({"scenario": "clickhouse-query", "form": g.form, "queries": g.queries,
                   "planned": q.planned, "rows_mean": g.rows_mean,
                   "rows_differ_from_sqlite": q.rows_differ,
                   "p50_ms": ms(g.p50), "p99_ms": ms(g.p99), "max_ms": ms(g.max)})
        );
    }
    for g in &f.cli_queries {
        println!(
            "{}",
            json!({"scenario": "clickhouse-query-cli", "form": g.form, "queries": g.queries,
                   "rows_mean": g.rows_mean, "p50_ms": ms(g.p50), "p99_ms": ms(g.p99),
                   "max_ms": ms(g.max)})
        );
    }
    println!(
        "{}",
        json!({"scenario": "clickhouse-sniff", "packets": f.sniff.items,
               "seconds": f.sniff.pipeline_seconds,
               "packets_per_second": f.sniff.per_second,
               "wall_packets_per_second": f.sniff.wall_per_second,
               "answers": f.sniff.answers, "tuples": f.sniff_store.tuples,
               "cpu_seconds": f.sniff.proc.cpu_seconds,
               "peak_rss_bytes": f.sniff.proc.peak_rss,
               "server_cpu_seconds": f.sniff.server_cpu_seconds,
               "server_peak_rss_bytes": f.server_rss_end,
               "load_after": f.load_after})
    );
}
