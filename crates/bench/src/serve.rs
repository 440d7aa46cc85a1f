//! The `serve` scenario (issue 4, point 7): `dnsrecall serve` under load on loopback.
//!
//! 1. A base store of at least `min_tuples` tuples: the generator's log (seed `seed`) run
//!    through `dnsrecall ingest`, kept in `DIR/serve/base` and reused by later runs while
//!    it holds enough tuples.
//! 2. Each run copies it to `DIR/serve/run` (so runs start from the same data), adds a key
//!    and starts `dnsrecall serve --listen 127.0.0.1:0` on the copy.
//! 3. Alongside, a generator thread writes new log lines into `DIR/serve/run/follow.json`
//!    at `ingest_rate` lines/s, and `dnsrecall ingest --follow` (default flush interval)
//!    reads them into the same store; the rate it achieved is reported from its
//!    `--stats-json`.
//! 4. A client with `concurrency` connections (tokio + reqwest, HTTP/1.1 keep-alive) sends
//!    exact, `*.x` and IP lookups through the three API flavours (native `/api/v1/query`
//!    with `limit=100`, CIRCL `/pdns/query` with `dribble-paginate-count: 100`, DNSDB
//!    `/dnsdb/v2/lookup/rrset/name` and `/rdata/ip` with `limit=100`), interleaved, until
//!    `requests` requests were sent or `duration` passed. A request's latency is the time
//!    to the complete first page (the whole body). Patterns are sampled from the store
//!    (names owning tuples, their parents, stored IPv4 addresses).
//!
//! An error is a transport error, a status other than 200, or an answer that does not end
//! well (DNSDB without `succeeded`/`limited`, native with an `error` field). Answers with
//! no rows are counted apart (the patterns exist, so there should be none).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dnsrecall_store::SqliteStore;
use serde_json::json;

use crate::generator::{self, DEFAULT_START_TIME, GenConfig};
use crate::scenarios::{Rng, percentile, sample_addresses, sample_names};

/// How a run goes. [`ServeConfig::new`] gives the defaults of `dnsrecall-bench serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Working directory (`bench-data`): the generated log and `serve/`.
    pub dir: PathBuf,
    /// The `dnsrecall` binary.
    pub bin: PathBuf,
    /// Lines of the base log (12M give about 5.2M tuples).
    pub lines: u64,
    pub seed: u64,
    /// The base store is rebuilt when it holds fewer tuples.
    pub min_tuples: u64,
    /// Lines per second written for the concurrent `ingest --follow` (0: no ingest).
    pub ingest_rate: u64,
    /// Client connections sending requests at once.
    pub concurrency: usize,
    /// Most requests in the measured phase.
    pub requests: u64,
    /// Longest measured phase.
    pub duration: Duration,
    /// Patterns sampled per query kind.
    pub samples: usize,
    /// Rows asked for per request (the first page).
    pub page: u64,
    /// Requests per second over all connections (open loop: latency counts from when a
    /// request was due); 0: each connection sends its next request as soon as it has
    /// its answer (closed loop, the server's saturation).
    pub rate: u64,
}

impl ServeConfig {
    pub fn new(dir: PathBuf, bin: PathBuf) -> Self {
        Self {
            dir,
            bin,
            lines: 12_000_000,
            seed: 1,
            min_tuples: 5_000_000,
            ingest_rate: 100_000,
            concurrency: 64,
            requests: 400_000,
            duration: Duration::from_secs(120),
            samples: 1000,
            page: 100,
            rate: 0,
        }
    }
}

/// The API flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Native,
    Circl,
    Dnsdb,
}

impl Flavour {
    pub const ALL: [Flavour; 3] = [Flavour::Native, Flavour::Circl, Flavour::Dnsdb];

    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::Native => "native",
            Flavour::Circl => "circl",
            Flavour::Dnsdb => "dnsdb",
        }
    }
}

/// The query kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Exact,
    Wildcard,
    Ip,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Exact, Kind::Wildcard, Kind::Ip];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Exact => "exact",
            Kind::Wildcard => "*.x",
            Kind::Ip => "ip",
        }
    }
}

/// Figures of one (flavour, kind).
#[derive(Debug, Clone)]
pub struct Cell {
    pub flavour: Flavour,
    pub kind: Kind,
    pub requests: u64,
    pub per_second: f64,
    pub rows_mean: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub errors: u64,
    pub empty: u64,
}

/// Figures of a run.
#[derive(Debug, Clone)]
pub struct ServeFigures {
    pub tuples_at_start: u64,
    pub concurrency: usize,
    pub seconds: f64,
    pub requests: u64,
    pub errors: u64,
    pub cells: Vec<Cell>,
    /// Overall first-page latency percentiles.
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Server peak RSS (VmHWM), bytes.
    pub server_peak_rss: Option<u64>,
    /// Its resident memory at the end of the load: anonymous (heap) and file-backed (the
    /// store's memory-mapped pages), bytes.
    pub server_rss_anon: Option<u64>,
    pub server_rss_file: Option<u64>,
    /// The asked request rate (0: closed loop).
    pub rate: u64,
    /// Lines the generator wrote, and in how long.
    pub ingest_written: u64,
    pub ingest_written_rate: f64,
    pub ingest_target_rate: u64,
    /// What `ingest --follow` reports (lines read and committed) and its rate over the
    /// measured phase.
    pub ingest_lines: u64,
    pub ingest_rate: f64,
    /// A few error messages, to see what went wrong.
    pub error_samples: Vec<String>,
    /// The machine's load average (1 min) before and after the measured phase: other
    /// work on the machine shows in the figures.
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
}

/// Kills a child process when dropped (error paths included).
#[derive(Debug)]
struct Reaped(Option<Child>);

impl Reaped {
    fn id(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// SIGINT (via /usr/bin/kill), then waits up to `grace` before killing.
    fn interrupt(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.0.take()?;
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn dnsrecall(bin: &Path, data: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("--data-dir")
        .arg(data)
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null");
    c
}

fn run_ok(mut cmd: Command, what: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn tuples_in(data: &Path) -> Result<u64> {
    let store = SqliteStore::open_dir(data)?;
    let n: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM tuples", [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The base store (built when missing or too small); returns its directory.
pub fn prepare_base(cfg: &ServeConfig) -> Result<PathBuf> {
    let base = cfg.dir.join("serve").join("base");
    if base.join(dnsrecall_store::DB_FILE).exists() {
        let n = tuples_in(&base)?;
        if n >= cfg.min_tuples {
            eprintln!("reusing {} ({n} tuples)", base.display());
            return Ok(base);
        }
        eprintln!(
            "{} holds {n} tuples, fewer than {}: rebuilding",
            base.display(),
            cfg.min_tuples
        );
    }
    std::fs::create_dir_all(&cfg.dir)?;
    let log = cfg.dir.join(format!("gen-{}-{}.json", cfg.lines, cfg.seed));
    if !log.exists() {
        eprintln!("generating {} lines into {} ...", cfg.lines, log.display());
        let tmp = log.with_extension("partial");
        let out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        generator::generate(&GenConfig::new(cfg.lines, cfg.seed), out)?;
        std::fs::rename(&tmp, &log)?;
    }
    let partial = cfg.dir.join("serve").join("base.partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    if base.exists() {
        std::fs::remove_dir_all(&base)?;
    }
    eprintln!("dnsrecall ingest {} ...", log.display());
    let started = Instant::now();
    let mut cmd = dnsrecall(&cfg.bin, &partial);
    cmd.arg("ingest").arg("--no-progress").arg(&log);
    run_ok(cmd, "dnsrecall ingest")?;
    // Fold the write-ahead log in, so a copy of the file is the whole store.
    {
        let store = SqliteStore::open_dir(&partial)?;
        store
            .connection()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    std::fs::rename(&partial, &base)?;
    let n = tuples_in(&base)?;
    eprintln!(
        "base store: {n} tuples in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if n < cfg.min_tuples {
        bail!(
            "the base store holds {n} tuples, fewer than {}: give more --lines",
            cfg.min_tuples
        );
    }
    Ok(base)
}

/// A fresh copy of the base store in `DIR/serve/run`.
fn fresh_copy(base: &Path, run: &Path) -> Result<()> {
    if run.exists() {
        std::fs::remove_dir_all(run).with_context(|| format!("clearing {}", run.display()))?;
    }
    std::fs::create_dir_all(run)?;
    for entry in std::fs::read_dir(base)? {
        let entry = entry?;
        let name = entry.file_name();
        let s = name.to_string_lossy();
        // The store file and its write-ahead log; not the shared-memory index, keys or logs.
        if s == dnsrecall_store::DB_FILE || s.ends_with("-wal") {
            std::fs::copy(entry.path(), run.join(&name))
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The patterns of each kind, from the store.
fn sample(run: &Path, samples: usize, seed: u64) -> Result<[Vec<String>; 3]> {
    let store = SqliteStore::open_dir(run)?;
    let mut rng = Rng(seed);
    let names = sample_names(&store, &mut rng, samples)?;
    // `*.PARENT` for names below a registered-domain-like parent (it holds the name, so
    // the answer is not empty); `*.NAME` only when no sampled name has such a parent.
    let mut parents: Vec<String> = names
        .iter()
        .filter_map(|n| {
            let (_, parent) = n.split_once('.')?;
            parent.contains('.').then(|| format!("*.{parent}"))
        })
        .collect();
    if parents.is_empty() {
        parents = names.iter().map(|n| format!("*.{n}")).collect();
    }
    let addrs = sample_addresses(&store, &mut rng, samples)?;
    Ok([names, parents, addrs])
}

/// A `Write` that lets lines through at `rate` per second and fails once `stop` is set.
struct Paced<W> {
    inner: W,
    rate: u64,
    started: Instant,
    lines: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl<W: Write> Write for Paced<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("stopped"));
        }
        self.inner.write_all(buf)?;
        self.inner.flush()?;
        let n = self
            .lines
            .fetch_add(memchr_count(buf), Ordering::Relaxed)
            .saturating_add(memchr_count(buf));
        // Sleep until the lines written so far are due.
        let due = Duration::from_secs_f64(n as f64 / self.rate.max(1) as f64);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn memchr_count(buf: &[u8]) -> u64 {
    buf.iter().filter(|b| **b == b'\n').count() as u64
}

/// One request's outcome.
#[derive(Debug, Clone, Copy)]
struct Sample {
    cell: u8,
    micros: u32,
    rows: u32,
    error: bool,
}

/// The request of a cell for a pattern.
fn request(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    flavour: Flavour,
    kind: Kind,
    pattern: &str,
    page: u64,
) -> reqwest::RequestBuilder {
    match flavour {
        Flavour::Native => client
            .get(format!("{base}/api/v1/query"))
            .query(&[("q", pattern), ("limit", &page.to_string())])
            .header("X-API-Key", key),
        Flavour::Circl => client
            .get(format!("{base}/pdns/query/{pattern}"))
            .header("dribble-paginate-count", page.to_string())
            .basic_auth("bench", Some(key)),
        Flavour::Dnsdb => {
            let path = match kind {
                Kind::Ip => "rdata/ip",
                Kind::Exact | Kind::Wildcard => "rrset/name",
            };
            client
                .get(format!("{base}/dnsdb/v2/lookup/{path}/{pattern}"))
                .query(&[("limit", page)])
                .header("X-API-Key", key)
        }
    }
}

/// Rows in an answer, or why it is an error.
fn check(flavour: Flavour, body: &[u8]) -> std::result::Result<u32, String> {
    let text = std::str::from_utf8(body).map_err(|_| "answer not UTF-8".to_owned())?;
    match flavour {
        Flavour::Native => {
            let tail = &text[text.len().saturating_sub(300)..];
            if !text.trim_end().ends_with('}') || tail.contains("\"error\"") {
                return Err(format!("native answer ends badly: {tail}"));
            }
            Ok(text.matches("\"rrname\"").count() as u32)
        }
        Flavour::Circl => Ok(text.lines().filter(|l| !l.trim().is_empty()).count() as u32),
        Flavour::Dnsdb => {
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            if last.contains("\"succeeded\"") || last.contains("\"limited\"") {
                Ok(text.lines().filter(|l| l.starts_with("{\"obj\"")).count() as u32)
            } else {
                Err(format!("DNSDB answer ends with {last:?}"))
            }
        }
    }
}

struct Load {
    base: String,
    key: String,
    page: u64,
    patterns: Arc<[Vec<String>; 3]>,
    requests: u64,
    /// Open loop: request i is due at `start + i / rate`.
    rate: u64,
    start: Instant,
    deadline: Instant,
    next: AtomicU64,
    errors: std::sync::Mutex<Vec<String>>,
}

const CELLS: usize = 9;

fn cell_of(i: usize) -> (Flavour, Kind) {
    (Flavour::ALL[i / 3], Kind::ALL[i % 3])
}

async fn worker(load: Arc<Load>, client: reqwest::Client) -> Vec<Sample> {
    let mut out = Vec::new();
    loop {
        let i = load.next.fetch_add(1, Ordering::Relaxed);
        if i >= load.requests || Instant::now() >= load.deadline {
            return out;
        }
        let cell = (i % CELLS as u64) as usize;
        let (flavour, kind) = cell_of(cell);
        let pats = &load.patterns[cell % 3];
        let pattern = &pats[((i / CELLS as u64) % pats.len().max(1) as u64) as usize];
        let started = if load.rate > 0 {
            let due = load.start + Duration::from_secs_f64(i as f64 / load.rate as f64);
            if due >= load.deadline {
                return out;
            }
            tokio::time::sleep_until(due.into()).await;
            due
        } else {
            Instant::now()
        };
        let req = request(
            &client, &load.base, &load.key, flavour, kind, pattern, load.page,
        );
        let outcome = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(body) if status == reqwest::StatusCode::OK => check(flavour, &body),
                    Ok(body) => Err(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    )),
                    Err(e) => Err(format!("reading the body: {e}")),
                }
            }
            Err(e) => Err(format!("request: {e}")),
        };
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        let (rows, error) = match outcome {
            Ok(rows) => (rows, false),
            Err(msg) => {
                if let Ok(mut errs) = load.errors.lock()
                    && errs.len() < 10
                {
                    errs.push(format!(
                        "{} {} {pattern}: {msg}",
                        flavour.as_str(),
                        kind.as_str()
                    ));
                }
                (0, true)
            }
        };
        out.push(Sample {
            cell: cell as u8,
            micros,
            rows,
            error,
        });
    }
}

/// Starts `dnsrecall serve` on a loopback port; returns it and its base URL.
fn start_server(bin: &Path, run: &Path) -> Result<(Reaped, String)> {
    let stderr = File::create(run.join("serve.stderr"))?;
    let mut child = dnsrecall(bin, run)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .context("starting dnsrecall serve")?;
    let stdout = child.stdout.take().context("serve stdout")?;
    let reaped = Reaped(Some(child));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                if let Some(rest) = line.trim().strip_prefix("listening on ") {
                    return Ok((reaped, rest.trim_end_matches('/').to_owned()));
                }
            }
            Err(_) => {
                let log = std::fs::read_to_string(run.join("serve.stderr")).unwrap_or_default();
                bail!("dnsrecall serve did not start:\n{log}");
            }
        }
    }
}

/// The 1-minute load average (`/proc/loadavg`).
fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A memory figure of a process from `/proc/PID/status` (`VmHWM`, `RssAnon`, ...), bytes.
pub(crate) fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs the scenario (building the base store when needed).
pub fn run(cfg: &ServeConfig) -> Result<ServeFigures> {
    if !cfg.bin.is_file() {
        bail!(
            "{} not found: build it (cargo build --release -p dnsrecall-cli) or give --bin",
            cfg.bin.display()
        );
    }
    let base = prepare_base(cfg)?;
    let run = cfg.dir.join("serve").join("run");
    eprintln!("copying the base store to {} ...", run.display());
    fresh_copy(&base, &run)?;
    let tuples_at_start = tuples_in(&run)?;
    let patterns = sample(&run, cfg.samples, cfg.seed.wrapping_add(6))?;

    let mut keys = dnsrecall(&cfg.bin, &run);
    keys.args(["keys", "add", "bench"]);
    let key = run_ok(keys, "dnsrecall keys add")?.trim().to_owned();
    let (mut server, url) = start_server(&cfg.bin, &run)?;
    let server_pid = server.id().context("server pid")?;
    eprintln!("serving {tuples_at_start} tuples on {url}");

    // The ingest alongside.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let follow_log = run.join("follow.json");
    let stats_path = run.join("follow-stats.json");
    let mut generator_thread = None;
    let mut ingest = Reaped(None);
    let gen_started = Instant::now();
    if cfg.ingest_rate > 0 {
        File::create(&follow_log)?;
        let child = dnsrecall(&cfg.bin, &run)
            .arg("ingest")
            .arg("--follow")
            .arg("--no-progress")
            .arg("--stats-json")
            .arg(&stats_path)
            .arg(&follow_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(run.join("ingest.stderr"))?)
            .spawn()
            .context("starting dnsrecall ingest --follow")?;
        ingest = Reaped(Some(child));
        let paced = Paced {
            inner: File::options().append(true).open(&follow_log)?,
            rate: cfg.ingest_rate,
            started: gen_started,
            lines: Arc::clone(&written),
            stop: Arc::clone(&stop),
        };
        // Enough lines for the whole phase; new names (another seed), later times.
        let gen_cfg = GenConfig {
            lines: cfg
                .ingest_rate
                .saturating_mul(cfg.duration.as_secs().saturating_add(120)),
            seed: cfg.seed.wrapping_add(1000),
            start_time: DEFAULT_START_TIME + 40 * 86_400,
        };
        generator_thread = Some(std::thread::spawn(move || {
            let _ = generator::generate(&gen_cfg, paced);
        }));
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // reqwest may be built with rustls (features unify across the workspace): give it a
    // crypto provider, as the server does, even though this client speaks plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(cfg.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let patterns = Arc::new(patterns);
    let make_load = |requests: u64, rate: u64, deadline: Instant| {
        Arc::new(Load {
            rate,
            start: Instant::now(),
            base: url.clone(),
            key: key.clone(),
            page: cfg.page,
            patterns: Arc::clone(&patterns),
            requests,
            deadline,
            next: AtomicU64::new(0),
            errors: std::sync::Mutex::new(Vec::new()),
        })
    };

    // Warm-up (not measured): 200 requests of each kind and flavour.
    let warm = make_load(
        (CELLS as u64 * 200).min(cfg.requests),
        0,
        Instant::now() + Duration::from_secs(60),
    );
    rt.block_on(async {
        let tasks: Vec<_> = (0..cfg.concurrency)
            .map(|_| tokio::spawn(worker(Arc::clone(&warm), client.clone())))
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });

    eprintln!(
        "load: {} connections, {}, up to {} requests or {} s ...",
        cfg.concurrency,
        if cfg.rate > 0 {
            format!("{} requests/s", cfg.rate)
        } else {
            "as fast as answers come".to_owned()
        },
        cfg.requests,
        cfg.duration.as_secs()
    );
    let load_before = loadavg();
    let started = Instant::now();
    let load = make_load(cfg.requests, cfg.rate, started + cfg.duration);
    let samples: Vec<Sample> = rt.block_on(async {
        let tasks: Vec<_> = (0..cfg.concurrency)
            .map(|_| tokio::spawn(worker(Arc::clone(&load), client.clone())))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            if let Ok(v) = t.await {
                all.extend(v);
            }
        }
        all
    });
    let seconds = started.elapsed().as_secs_f64();
    let load_after = loadavg();
    let server_peak_rss = proc_status(server_pid, "VmHWM");
    let server_rss_anon = proc_status(server_pid, "RssAnon");
    let server_rss_file = proc_status(server_pid, "RssFile");

    // Stop the ingest (it writes its statistics on SIGINT), then the server.
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = generator_thread {
        let _ = t.join();
    }
    let total_written = written.load(Ordering::Relaxed);
    let gen_seconds = gen_started.elapsed().as_secs_f64();
    let mut ingest_lines = 0;
    let mut ingest_rate = 0.0;
    if ingest.0.is_some() {
        ingest.interrupt(Duration::from_secs(60));
        if let Ok(text) = std::fs::read_to_string(&stats_path)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        {
            ingest_lines = v["lines"].as_u64().unwrap_or(0);
            let secs = v["elapsed_seconds"].as_f64().unwrap_or(0.0);
            if secs > 0.0 {
                ingest_rate = ingest_lines as f64 / secs;
            }
        }
    }
    server.interrupt(Duration::from_secs(30));
    drop(rt);

    let errors_list = load.errors.lock().map(|e| e.clone()).unwrap_or_default();
    Ok(summarize(
        &samples,
        SummaryContext {
            tuples_at_start,
            concurrency: cfg.concurrency,
            seconds,
            server_peak_rss,
            server_rss_anon,
            server_rss_file,
            rate: cfg.rate,
            ingest_written: total_written,
            ingest_written_rate: total_written as f64 / gen_seconds.max(1e-9),
            ingest_target_rate: cfg.ingest_rate,
            ingest_lines,
            ingest_rate,
            error_samples: errors_list,
            load_before,
            load_after,
        },
    ))
}

struct SummaryContext {
    tuples_at_start: u64,
    concurrency: usize,
    seconds: f64,
    server_peak_rss: Option<u64>,
    server_rss_anon: Option<u64>,
    server_rss_file: Option<u64>,
    rate: u64,
    ingest_written: u64,
    ingest_written_rate: f64,
    ingest_target_rate: u64,
    ingest_lines: u64,
    ingest_rate: f64,
    error_samples: Vec<String>,
    load_before: Option<f64>,
    load_after: Option<f64>,
}

fn summarize(samples: &[Sample], ctx: SummaryContext) -> ServeFigures {
    let secs = ctx.seconds.max(1e-9);
    let mut cells = Vec::new();
    let mut all: Vec<Duration> = samples
        .iter()
        .map(|s| Duration::from_micros(u64::from(s.micros)))
        .collect();
    all.sort_unstable();
    for i in 0..CELLS {
        let (flavour, kind) = cell_of(i);
        let mine: Vec<&Sample> = samples
            .iter()
            .filter(|s| usize::from(s.cell) == i)
            .collect();
        let mut times: Vec<Duration> = mine
            .iter()
            .map(|s| Duration::from_micros(u64::from(s.micros)))
            .collect();
        times.sort_unstable();
        let ok: Vec<&&Sample> = mine.iter().filter(|s| !s.error).collect();
        let rows: u64 = ok.iter().map(|s| u64::from(s.rows)).sum();
        cells.push(Cell {
            flavour,
            kind,
            requests: mine.len() as u64,
            per_second: mine.len() as f64 / secs,
            rows_mean: rows as f64 / ok.len().max(1) as f64,
            p50: percentile(&times, 0.50),
            p99: percentile(&times, 0.99),
            max: times.last().copied().unwrap_or_default(),
            errors: mine.iter().filter(|s| s.error).count() as u64,
            empty: ok.iter().filter(|s| s.rows == 0).count() as u64,
        });
    }
    ServeFigures {
        tuples_at_start: ctx.tuples_at_start,
        concurrency: ctx.concurrency,
        seconds: ctx.seconds,
        requests: samples.len() as u64,
        errors: samples.iter().filter(|s| s.error).count() as u64,
        cells,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        max: all.last().copied().unwrap_or_default(),
        server_peak_rss: ctx.server_peak_rss,
        server_rss_anon: ctx.server_rss_anon,
        server_rss_file: ctx.server_rss_file,
        rate: ctx.rate,
        ingest_written: ctx.ingest_written,
        ingest_written_rate: ctx.ingest_written_rate,
        ingest_target_rate: ctx.ingest_target_rate,
        ingest_lines: ctx.ingest_lines,
        ingest_rate: ctx.ingest_rate,
        error_samples: ctx.error_samples,
        load_before: ctx.load_before,
        load_after: ctx.load_after,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn print_serve(f: &ServeFigures) {
    println!(
        "serve: {} tuples at start, {} connections{}, {} requests in {:.1} s = {:.0} requests/s, {} errors",
        f.tuples_at_start,
        f.concurrency,
        if f.rate > 0 {
            format!(
                " paced at {} requests/s (latency from when each was due)",
                f.rate
            )
        } else {
            " (closed loop)".to_owned()
        },
        f.requests,
        f.seconds,
        f.requests as f64 / f.seconds.max(1e-9),
        f.errors
    );
    println!(
        "  first page (100 rows max), time to the complete answer: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(f.p50),
        ms(f.p99),
        ms(f.max)
    );
    println!(
        "  {:<7} {:<6} {:>9} {:>8} {:>7} {:>8} {:>8} {:>8} {:>7} {:>6}",
        "api",
        "kind",
        "requests",
        "req/s",
        "rows/q",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "empty"
    );
    for c in &f.cells {
        println!(
            "  {:<7} {:<6} {:>9} {:>8.0} {:>7.1} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>6}",
            c.flavour.as_str(),
            c.kind.as_str(),
            c.requests,
            c.per_second,
            c.rows_mean,
            ms(c.p50),
            ms(c.p99),
            ms(c.max),
            c.errors,
            c.empty
        );
    }
    let mb = |b: Option<u64>| {
        b.map_or("unknown".to_owned(), |b| {
            format!("{:.0} MB", b as f64 / 1e6)
        })
    };
    println!(
        "  server peak RSS (VmHWM): {}; at the end: {} anonymous (heap), {} file-backed (mapped store pages)",
        mb(f.server_peak_rss),
        mb(f.server_rss_anon),
        mb(f.server_rss_file)
    );
    if f.ingest_target_rate > 0 {
        println!(
            "  ingest alongside: generator asked for {} lines/s, wrote {} lines = {:.0} lines/s; `ingest --follow` read and committed {} lines = {:.0} lines/s over its run",
            f.ingest_target_rate,
            f.ingest_written,
            f.ingest_written_rate,
            f.ingest_lines,
            f.ingest_rate
        );
    } else {
        println!("  no ingest alongside");
    }
    let load = |l: Option<f64>| l.map_or("unknown".to_owned(), |l| format!("{l:.1}"));
    println!(
        "  machine load average (1 min): {} before, {} after the measured phase ({} CPUs)",
        load(f.load_before),
        load(f.load_after),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    for e in &f.error_samples {
        println!("  error: {e}");
    }
    for c in &f.cells {
        println!(
            "{}",
            json!({"scenario": "serve", "api": c.flavour.as_str(), "kind": c.kind.as_str(),
                   "requests": c.requests, "requests_per_second": c.per_second,
                   "rows_mean": c.rows_mean, "p50_ms": ms(c.p50), "p99_ms": ms(c.p99),
                   "max_ms": ms(c.max), "errors": c.errors, "empty": c.empty})
        );
    }
    println!(
        "{}",
        json!({"scenario": "serve", "tuples": f.tuples_at_start, "connections": f.concurrency,
               "seconds": f.seconds, "requests": f.requests, "errors": f.errors,
               "requests_per_second": f.requests as f64 / f.seconds.max(1e-9),
               "p50_ms": ms(f.p50), "p99_ms": ms(f.p99), "max_ms": ms(f.max),
               "rate": f.rate,
               "load_before": f.load_before, "load_after": f.load_after,
               "server_peak_rss_bytes": f.server_peak_rss,
               "server_rss_anon_bytes": f.server_rss_anon,
               "server_rss_file_bytes": f.server_rss_file,
               "ingest_target_lines_per_second": f.ingest_target_rate,
               "ingest_written_lines": f.ingest_written,
               "ingest_written_lines_per_second": f.ingest_written_rate,
               "ingest_lines": f.ingest_lines,
               "ingest_lines_per_second": f.ingest_rate})
    );
}

/// `dnsrecall-bench serve` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Working directory: the generated log and serve/ (base store, run copy)
    /// [default: bench-data].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The dnsrecall binary [default: $DNSRECALL_BIN, or the one beside this binary].
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Lines of the generated log the base store is built from.
    #[arg(long, default_value_t = 12_000_000)]
    pub lines: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Rebuild the base store when it holds fewer tuples than this.
    #[arg(long, default_value_t = 5_000_000)]
    pub min_tuples: u64,
    /// Lines per second written for `ingest --follow` alongside (0: none).
    #[arg(long, default_value_t = 100_000)]
    pub ingest_rate: u64,
    /// Client connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Most requests measured.
    #[arg(long, default_value_t = 400_000)]
    pub requests: u64,
    /// Longest measured phase, seconds.
    #[arg(long, default_value_t = 120)]
    pub seconds: u64,
    /// Patterns sampled per query kind.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Requests per second over all connections (open loop; latency counts from when
    /// each request was due). 0: as fast as answers come (closed loop).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
}

/// `dnsrecall-bench serve`: runs the scenario and prints its figures.
///
/// # Errors
/// When the store cannot be built or the server or ingest cannot run.
pub fn main(args: &ServeArgs) -> Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench-data"));
    let bin = args.bin.clone().unwrap_or_else(default_bin);
    let mut cfg = ServeConfig::new(dir, bin);
    cfg.lines = args.lines;
    cfg.seed = args.seed;
    cfg.min_tuples = args.min_tuples;
    cfg.ingest_rate = args.ingest_rate;
    cfg.concurrency = args.connections;
    cfg.requests = args.requests;
    cfg.duration = Duration::from_secs(args.seconds);
    cfg.samples = args.samples;
    cfg.rate = args.rate;
    let figures = run(&cfg)?;
    print_serve(&figures);
    Ok(())
}

/// The `dnsrecall` binary beside this one (`target/release/dnsrecall` for
/// `target/release/dnsrecall-bench`), or `DNSRECALL_BIN`.
pub fn default_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DNSRECALL_BIN") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("dnsrecall")))
        .unwrap_or_else(|| PathBuf::from("dnsrecall"))
}
