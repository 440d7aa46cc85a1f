//! The `intel` scenario (issue 5, point 7): threat-intel feeds at scale.
//!
//! 1. **Load.** `iocs` generated indicators (about 70% domains: registrable domains, whose
//!    subdomains match too, host names and DGA-like names; 20% single IPv4/IPv6 addresses;
//!    10% CIDR prefixes and a few ranges), written as a plain list and as MISP
//!    `/attributes/restSearch` JSON. A small share of them (at most 1 in 500) are names
//!    and addresses of the generated log, so alerts fire; the rest are random and never
//!    match (random addresses avoid the log's /16 and /32 blocks). Each file goes through
//!    `dnsrecall intel add` (wall time, peak RSS of that process), then the matcher is
//!    built in this process from the stored indicators (`Intel::matchers`): time, RSS
//!    delta while it is alive, and this process's peak RSS.
//! 2. **Matching.** The first `match_lines` lines of the log, parsed once, go through
//!    `Matcher::match_answer` alone (single thread; observations/s), and through the
//!    live-alert `Watch` hook (the alert `Router` with an alert file; records/s). Then the
//!    whole log (`lines` lines, the first lines of the hunt log) goes through `dnsrecall
//!    ingest` into a fresh store twice: without feeds, and with the `iocs` feed
//!    registered (live matching runs, `--alert-file` to a file). The cost is the drop of
//!    the ingest's own lines/s (what `--stats-json` reports; the feed's load at start is
//!    counted apart, from the process's wall time).
//! 3. **Retro-hunt.** A store of at least `min_tuples` tuples from the `hunt_lines` log
//!    (reused from earlier runs, or copied from the `serve` scenario's base store when
//!    that was built from the same log, or built with `dnsrecall ingest`), hunted with
//!    the first `hunt_iocs` indicators of the list and with all of them: seconds (the
//!    hunt's own and the process's wall time) and hits.
//!
//! Files live in `DIR/intel/` (the generated log in `DIR`, shared with the other
//! scenarios); generated feeds, the ingest log and the hunt store are kept for later runs.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dnsrecall_intel::alerts::{Router, SinkConfig};
use dnsrecall_intel::feeds::Intel;
use dnsrecall_intel::matcher::{Matchers, Via};
use dnsrecall_model::{Record, RrType};
use dnsrecall_sources::{Format, LineContext};
use dnsrecall_store::SqliteStore;
use serde_json::json;

use crate::generator::{self, GenConfig};
use crate::scenarios::Rng;

/// How a run goes. [`IntelConfig::new`] gives the defaults of `dnsrecall-bench intel`.
#[derive(Debug, Clone)]
pub struct IntelConfig {
    /// Working directory (`bench-data`): the generated log and `intel/`.
    pub dir: PathBuf,
    /// The `dnsrecall` binary.
    pub bin: PathBuf,
    /// Indicators of the big feed.
    pub iocs: u64,
    /// Indicators of the hunt feed (the first ones of the big feed).
    pub hunt_iocs: u64,
    /// Lines ingested with and without feeds (the first lines of the hunt log).
    pub lines: u64,
    /// Lines parsed for the in-process matcher and watch passes.
    pub match_lines: u64,
    /// Lines of the log the hunt store is built from.
    pub hunt_lines: u64,
    /// The hunt store is rebuilt when it holds fewer tuples.
    pub min_tuples: u64,
    pub seed: u64,
    /// Ingest runs without and with the feed, in the order A B B A A B ...; the best of
    /// each is kept (other work on the machine only ever slows a run down).
    pub repeat: u32,
    /// Leave out the ingest comparison / the hunts.
    pub skip_ingest: bool,
    pub skip_hunt: bool,
}

impl IntelConfig {
    pub fn new(dir: PathBuf, bin: PathBuf) -> Self {
        Self {
            dir,
            bin,
            iocs: 1_000_000,
            hunt_iocs: 100_000,
            lines: 5_000_000,
            match_lines: 2_000_000,
            hunt_lines: 12_000_000,
            min_tuples: 5_000_000,
            seed: 1,
            repeat: 1,
            skip_ingest: false,
            skip_hunt: false,
        }
    }
}

/// What one `dnsrecall` run took.
#[derive(Debug, Clone, Copy, Default)]
pub struct Proc {
    pub seconds: f64,
    /// Its peak RSS (VmHWM, sampled every 20 ms until it exits), bytes.
    pub peak_rss: Option<u64>,
    /// CPU time of all its threads, user and system (read from `/proc/PID/stat` every
    /// 20 ms until it exits), seconds: unlike wall time, hardly changed by other work on
    /// the machine.
    pub cpu_seconds: Option<f64>,
}

/// One ingest run.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestRun {
    pub lines: u64,
    /// The pipeline's own rate (`--stats-json`), from the first line to the last commit.
    pub lines_per_second: f64,
    pub pipeline_seconds: f64,
    /// The process, feed loading included.
    pub proc: Proc,
    pub alerts: u64,
}

/// One hunt run.
#[derive(Debug, Clone, Default)]
pub struct HuntRun {
    pub feed: String,
    pub iocs: u64,
    pub hits: u64,
    pub answers_matched: u64,
    pub answers_checked: u64,
    /// The hunt itself, as `dnsrecall hunt` reports it (store open to last hit).
    pub hunt_seconds: f64,
    /// The process: loading the feed, building the matcher, hunting, printing.
    pub proc: Proc,
}

/// Figures of a run.
#[derive(Debug, Clone, Default)]
pub struct IntelFigures {
    pub iocs: u64,
    pub hit_iocs: u64,
    pub list_bytes: u64,
    pub misp_bytes: u64,
    pub add_list: Proc,
    pub add_misp: Proc,
    pub matcher_indicators: u64,
    pub matcher_seconds: f64,
    /// RSS growth while the matchers are alive (indicators with their metadata, and the
    /// indexes), bytes.
    pub matcher_rss_delta: Option<i64>,
    /// This process's peak RSS while building them (the feed file and its parse too).
    pub matcher_peak_rss: Option<u64>,
    pub match_observations: u64,
    pub match_per_second: f64,
    /// Observations with at least one hit, of `match_observations`.
    pub match_hits: u64,
    pub watch_records: u64,
    pub watch_per_second: f64,
    pub watch_alerts: u64,
    /// The best ingest run without and with the feed.
    pub ingest_plain: Option<IngestRun>,
    pub ingest_feed: Option<IngestRun>,
    /// The lines/s of every run, in order.
    pub ingest_rates_plain: Vec<f64>,
    pub ingest_rates_feed: Vec<f64>,
    /// The CPU seconds of every run's process, in order.
    pub ingest_cpu_plain: Vec<f64>,
    pub ingest_cpu_feed: Vec<f64>,
    pub hunt_tuples: u64,
    pub hunts: Vec<HuntRun>,
}

impl IntelFigures {
    /// How much more CPU time per line the ingest takes with the feed (whole processes,
    /// the feed's load at start included), in % of the time without.
    /// The least of each kind's runs (same log).
    pub fn ingest_cpu_cost_percent(&self) -> Option<f64> {
        let min = |v: &[f64]| v.iter().copied().reduce(f64::min);
        let (a, b) = (min(&self.ingest_cpu_plain)?, min(&self.ingest_cpu_feed)?);
        (a > 0.0).then(|| (b - a) * 100.0 / a)
    }

    /// How much slower the ingest is with the feed, in % of the rate without.
    pub fn ingest_cost_percent(&self) -> Option<f64> {
        let (a, b) = (self.ingest_plain?, self.ingest_feed?);
        (a.lines_per_second > 0.0)
            .then(|| (a.lines_per_second - b.lines_per_second) * 100.0 / a.lines_per_second)
    }
}

// ---------------------------------------------------------------------------------
// Small helpers.

fn dnsrecall(bin: &Path, data: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("--data-dir")
        .arg(data)
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null");
    c
}

fn status_kb(path: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn self_rss() -> Option<u64> {
    status_kb("/proc/self/status", "VmRSS:").map(|kb| kb * 1024)
}

fn self_hwm() -> Option<u64> {
    status_kb("/proc/self/status", "VmHWM:").map(|kb| kb * 1024)
}

/// Runs a command with stdout and stderr to files, sampling its peak RSS; fails on a
/// status other than 0 (or 1, "bad lines / hits", when `one_ok`).
pub(crate) fn run_measured(
    mut cmd: Command,
    what: &str,
    out: &Path,
    err: &Path,
) -> Result<(Proc, i32)> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(File::create(out)?))
        .stderr(Stdio::from(File::create(err)?))
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let status_path = format!("/proc/{}/status", child.id());
    let stat_path = format!("/proc/{}/stat", child.id());
    let mut peak = None;
    let mut cpu = None;
    let status: ExitStatus = loop {
        if let Some(kb) = status_kb(&status_path, "VmHWM:") {
            peak = Some(kb * 1024);
        }
        // A zombie's stat still holds its times: the last read is at most 20 ms old.
        if let Some(c) = cpu_seconds(&stat_path) {
            cpu = Some(c);
        }
        if let Some(s) = child.try_wait()? {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = started.elapsed().as_secs_f64();
    let code = status.code().unwrap_or(-1);
    if code != 0 && code != 1 {
        bail!(
            "{what} failed ({status}):\n{}",
            std::fs::read_to_string(err).unwrap_or_default()
        );
    }
    Ok((
        Proc {
            seconds,
            peak_rss: peak,
            cpu_seconds: cpu,
        },
        code,
    ))
}

/// utime + stime of a process (fields 14 and 15 of `/proc/PID/stat`; USER_HZ is 100 on
/// Linux).
pub(crate) fn cpu_seconds(stat_path: &str) -> Option<f64> {
    let text = std::fs::read_to_string(stat_path).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn hash(s: &[u8]) -> u64 {
    // FNV-1a, then a splitmix64 finalizer: deterministic across platforms and runs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn tuples_in(data: &Path) -> Result<u64> {
    let store = SqliteStore::open_dir(data)?;
    let n: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM tuples", [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn remove_dir(p: &Path) -> Result<()> {
    if p.exists() {
        std::fs::remove_dir_all(p).with_context(|| format!("clearing {}", p.display()))?;
    }
    Ok(())
}

/// Calls `f` for each record of the first `limit` lines of a passivedns log.
fn for_each_record(log: &Path, limit: u64, mut f: impl FnMut(Record)) -> Result<u64> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(log)?);
    let ctx = LineContext::default();
    let mut line = Vec::new();
    let mut out = Vec::new();
    let mut n = 0;
    while n < limit {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        n += 1;
        if dnsrecall_sources::parse_line(Format::PassivednsJson, &line, &ctx, &mut out).is_ok() {
            for rec in out.drain(..) {
                f(rec);
            }
        }
        out.clear();
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------
// Logs.

/// The hunt log, `DIR/gen-LINES-SEED.json` (the name the other scenarios use).
fn hunt_log(cfg: &IntelConfig) -> Result<PathBuf> {
    std::fs::create_dir_all(&cfg.dir)?;
    let log = cfg
        .dir
        .join(format!("gen-{}-{}.json", cfg.hunt_lines, cfg.seed));
    if !log.exists() {
        eprintln!(
            "generating {} lines into {} ...",
            cfg.hunt_lines,
            log.display()
        );
        let tmp = log.with_extension("partial");
        let out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        generator::generate(&GenConfig::new(cfg.hunt_lines, cfg.seed), out)?;
        std::fs::rename(&tmp, &log)?;
    }
    Ok(log)
}

/// The ingest log: the first `lines` lines of the hunt log (so its indicators that hit
/// are in the hunt store too).
fn ingest_log(cfg: &IntelConfig, hunt_log: &Path) -> Result<PathBuf> {
    if cfg.lines >= cfg.hunt_lines {
        return Ok(hunt_log.to_path_buf());
    }
    let log = cfg.dir.join("intel").join(format!(
        "log-{}-of-{}-{}.json",
        cfg.lines, cfg.hunt_lines, cfg.seed
    ));
    if log.exists() {
        return Ok(log);
    }
    eprintln!(
        "writing the first {} lines into {} ...",
        cfg.lines,
        log.display()
    );
    let tmp = log.with_extension("partial");
    let mut r = BufReader::with_capacity(1 << 20, File::open(hunt_log)?);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    let mut line = Vec::new();
    for _ in 0..cfg.lines {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        w.write_all(&line)?;
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, &log)?;
    Ok(log)
}

// ---------------------------------------------------------------------------------
// Indicators.

/// Names and addresses of the log that become indicators, and the address blocks the
/// random indicators stay out of.
#[derive(Debug, Default)]
struct Sample {
    names: BTreeMap<u64, String>,
    parents: BTreeMap<u64, String>,
    addrs: BTreeMap<u64, String>,
    v4_blocks: HashSet<u16>,
    v6_blocks: HashSet<u32>,
}

fn sample_log(log: &Path, lines: u64) -> Result<Sample> {
    let mut s = Sample::default();
    for_each_record(log, lines, |rec| {
        let Record::Answer(o) = rec else { return };
        let name = o.rrname.as_str();
        let h = hash(name.as_bytes());
        // 1 in 1000 names (whatever their popularity: mostly long-tail names).
        if h.is_multiple_of(1000) {
            s.names.entry(h).or_insert_with(|| name.to_owned());
        }
        if let Some((_, parent)) = name.split_once('.')
            && parent.contains('.')
        {
            let hp = hash(parent.as_bytes());
            if hp.is_multiple_of(5000) {
                s.parents.entry(hp).or_insert_with(|| parent.to_owned());
            }
        }
        if o.rrtype == RrType::A || o.rrtype == RrType::AAAA {
            let Ok(ip) = o.rdata.as_str().parse::<IpAddr>() else {
                return;
            };
            match ip {
                IpAddr::V4(a) => {
                    s.v4_blocks.insert((u32::from(a) >> 16) as u16);
                }
                IpAddr::V6(a) => {
                    s.v6_blocks.insert((u128::from(a) >> 96) as u32);
                }
            }
            let ha = hash(o.rdata.as_str().as_bytes());
            if ha.is_multiple_of(1000) {
                s.addrs
                    .entry(ha)
                    .or_insert_with(|| o.rdata.as_str().to_owned());
            }
        }
    })?;
    Ok(s)
}

const TLDS: &[&str] = &[
    "com", "net", "org", "top", "xyz", "info", "club", "online", "site", "ru", "cn", "biz", "icu",
    "live", "pw", "cc", "su", "ws", "io", "shop",
];
const HOST_LABELS: &[&str] = &[
    "cdn", "login", "update", "api", "mail", "secure", "static", "dl", "c2", "ns1", "portal",
    "auth", "files", "img", "track", "panel", "vpn", "owa", "account", "verify",
];
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn label(rng: &mut Rng, min: u64, max: u64) -> String {
    let len = min + rng.next() % (max - min + 1);
    let mut s = String::with_capacity(len as usize);
    // A letter first.
    s.push(char::from(ALNUM[(rng.next() % 26) as usize]));
    for _ in 1..len {
        s.push(char::from(ALNUM[(rng.next() % 36) as usize]));
    }
    s
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[(rng.next() % items.len() as u64) as usize]
}

fn random_v4(rng: &mut Rng, avoid: &HashSet<u16>) -> u32 {
    loop {
        let a = rng.next() as u32;
        let first = a >> 24;
        if first == 0 || first == 10 || first == 127 || first >= 224 {
            continue;
        }
        if !avoid.contains(&((a >> 16) as u16)) {
            return a;
        }
    }
}

fn random_v6(rng: &mut Rng, avoid: &HashSet<u32>) -> u128 {
    loop {
        // 2000::/3, global unicast.
        let a = (((u128::from(rng.next()) << 64) | u128::from(rng.next())) >> 3) | (1u128 << 125);
        if !avoid.contains(&((a >> 96) as u32)) {
            return a;
        }
    }
}

/// One random indicator: its value and MISP attribute type.
fn random_ioc(rng: &mut Rng, s: &Sample) -> (String, &'static str) {
    let kind = rng.next() % 100;
    match kind {
        // Registrable domains (subdomains match too).
        0..=27 => (
            format!("{}.{}", label(rng, 6, 14), pick(rng, TLDS)),
            "domain",
        ),
        // Host names under a malicious domain.
        28..=55 => {
            let mut host = pick(rng, HOST_LABELS).to_owned();
            if rng.next().is_multiple_of(3) {
                host.push_str(&(rng.next() % 20).to_string());
            }
            (
                format!("{host}.{}.{}", label(rng, 5, 12), pick(rng, TLDS)),
                "hostname",
            )
        }
        // DGA-like names.
        56..=69 => (
            format!("{}.{}", label(rng, 10, 20), pick(rng, TLDS)),
            "domain",
        ),
        // Single addresses.
        70..=84 => {
            let a = std::net::Ipv4Addr::from(random_v4(rng, &s.v4_blocks));
            let t = if rng.next().is_multiple_of(4) {
                "ip-src"
            } else {
                "ip-dst"
            };
            (a.to_string(), t)
        }
        85..=89 => (
            std::net::Ipv6Addr::from(random_v6(rng, &s.v6_blocks)).to_string(),
            "ip-dst",
        ),
        // Prefixes.
        90..=96 => {
            const LENS: [u32; 11] = [16, 18, 20, 22, 24, 24, 24, 26, 28, 29, 30];
            let len = LENS[(rng.next() % LENS.len() as u64) as usize];
            let a = random_v4(rng, &s.v4_blocks) & (u32::MAX << (32 - len));
            (format!("{}/{len}", std::net::Ipv4Addr::from(a)), "ip-dst")
        }
        97..=98 => {
            const LENS: [u32; 7] = [32, 40, 48, 48, 56, 64, 64];
            let len = LENS[(rng.next() % LENS.len() as u64) as usize];
            let a = random_v6(rng, &s.v6_blocks) & (u128::MAX << (128 - len));
            (format!("{}/{len}", std::net::Ipv6Addr::from(a)), "ip-dst")
        }
        // Ranges of 2 to 1024 addresses inside one /16.
        _ => {
            let lo = random_v4(rng, &s.v4_blocks);
            let size = 1 + (rng.next() % 1023) as u32;
            let hi = (lo | 0xffff).min(lo.saturating_add(size)).max(lo + 1);
            (
                format!(
                    "{}-{}",
                    std::net::Ipv4Addr::from(lo),
                    std::net::Ipv4Addr::from(hi)
                ),
                "ip-dst",
            )
        }
    }
}

/// The indicators of the log that go into the feed, at most `cap`.
fn chosen_hits(s: &Sample, cap: usize) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let addr_cap = cap * 35 / 100;
    for a in s.addrs.values().take(addr_cap) {
        out.push((a.clone(), "ip-dst"));
    }
    // Two registrable-like parents: every name below them matches.
    for p in s.parents.values().take(2.min(cap / 50)) {
        out.push((p.clone(), "domain"));
    }
    let rest = cap.saturating_sub(out.len());
    for n in s.names.values().take(rest) {
        out.push((n.clone(), "hostname"));
    }
    // Spread over the list in a fixed but mixed order.
    out.sort_by_key(|(v, _)| hash(v.as_bytes()));
    out
}

/// Paths of the generated feeds.
struct FeedFiles {
    list: PathBuf,
    misp: PathBuf,
    hunt_list: PathBuf,
    hit_iocs: u64,
}

/// Writes the list, the MISP JSON and the hunt list (the list's first `hunt_iocs`
/// lines), unless they exist.
fn write_feeds(cfg: &IntelConfig, log: &Path) -> Result<FeedFiles> {
    let dir = cfg.dir.join("intel");
    std::fs::create_dir_all(&dir)?;
    let stem = format!("iocs-{}-{}-{}", cfg.iocs, cfg.lines, cfg.seed);
    let files = FeedFiles {
        list: dir.join(format!("{stem}.txt")),
        misp: dir.join(format!("{stem}.misp.json")),
        hunt_list: dir.join(format!("{stem}.first-{}.txt", cfg.hunt_iocs)),
        hit_iocs: 0,
    };
    let hits_path = dir.join(format!("{stem}.hits"));
    if files.list.exists()
        && files.misp.exists()
        && files.hunt_list.exists()
        && let Ok(text) = std::fs::read_to_string(&hits_path)
        && let Ok(hit_iocs) = text.trim().parse()
    {
        return Ok(FeedFiles { hit_iocs, ..files });
    }
    let sample_lines = cfg.lines.min(1_000_000);
    eprintln!(
        "sampling names and addresses of the first {sample_lines} lines of {} ...",
        log.display()
    );
    let sample = sample_log(log, sample_lines)?;
    let n = usize::try_from(cfg.iocs).unwrap_or(usize::MAX);
    let hits = chosen_hits(&sample, (n / 500).max(3));
    eprintln!(
        "writing {n} indicators ({} of them from the log) into {} and {} ...",
        hits.len(),
        files.list.display(),
        files.misp.display()
    );
    let mut rng = Rng(cfg.seed ^ 0x1e7e_1000);
    let mut list = BufWriter::with_capacity(1 << 20, File::create(&files.list)?);
    let mut hunt = BufWriter::with_capacity(1 << 20, File::create(&files.hunt_list)?);
    let mut misp = BufWriter::with_capacity(1 << 20, File::create(&files.misp)?);
    writeln!(list, "# dnsrecall-bench intel: {n} generated indicators")?;
    writeln!(
        hunt,
        "# dnsrecall-bench intel: the first {} indicators",
        cfg.hunt_iocs
    )?;
    misp.write_all(b"{\"response\":{\"Attribute\":[\n")?;
    let mut next_hit = 0usize;
    for i in 0..n {
        // Hit j sits at j * n / hits: every prefix of the list holds its share.
        let (value, kind) = if next_hit < hits.len() && i == next_hit * n / hits.len() {
            next_hit += 1;
            hits[next_hit - 1].clone()
        } else {
            random_ioc(&mut rng, &sample)
        };
        writeln!(list, "{value}")?;
        if (i as u64) < cfg.hunt_iocs {
            writeln!(hunt, "{value}")?;
        }
        if i > 0 {
            misp.write_all(b",\n")?;
        }
        let attr = json!({
            "id": (i + 1).to_string(),
            "event_id": (1 + i % 2000).to_string(),
            "category": "Network activity",
            "type": kind,
            "value": value,
            "to_ids": true,
            "timestamp": (1_700_000_000 + i as u64).to_string(),
        });
        serde_json::to_writer(&mut misp, &attr)?;
    }
    misp.write_all(b"\n]}}\n")?;
    for w in [&mut list, &mut hunt, &mut misp] {
        w.flush()?;
    }
    std::fs::write(&hits_path, format!("{}\n", hits.len()))?;
    Ok(FeedFiles {
        hit_iocs: hits.len() as u64,
        ..files
    })
}

// ---------------------------------------------------------------------------------
// The steps.

/// `dnsrecall intel add NAME FILE --format FORMAT` into a fresh data directory.
fn intel_add(
    cfg: &IntelConfig,
    data: &Path,
    name: &str,
    file: &Path,
    format: &str,
) -> Result<Proc> {
    remove_dir(data)?;
    std::fs::create_dir_all(data)?;
    let mut cmd = dnsrecall(&cfg.bin, data);
    cmd.args(["intel", "add", name])
        .arg(file)
        .args(["--format", format]);
    let (p, _) = run_measured(
        cmd,
        "dnsrecall intel add",
        &data.join("add.out"),
        &data.join("add.err"),
    )?;
    eprintln!(
        "  {}",
        std::fs::read_to_string(data.join("add.err"))
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or("")
    );
    Ok(p)
}

/// The in-process matcher build: time, RSS delta, peak RSS.
fn build_matchers(data: &Path, f: &mut IntelFigures) -> Result<Matchers> {
    // Forget the peak of what ran before: Linux resets VmHWM on "5".
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = self_rss();
    let started = Instant::now();
    let m = Intel::in_dir(data)
        .matchers(&[])
        .context("building the matchers")?;
    f.matcher_seconds = started.elapsed().as_secs_f64();
    f.matcher_peak_rss = self_hwm();
    f.matcher_rss_delta = self_rss()
        .zip(before)
        .map(|(a, b)| i64::try_from(a).unwrap_or(0) - i64::try_from(b).unwrap_or(0));
    f.matcher_indicators = m.watch.len() as u64;
    Ok(m)
}

/// Observations/s through `Matcher::match_answer` alone, and records/s through the
/// watch hook; returns (observations, best rate, observations with a hit).
fn match_passes(
    m: Matchers,
    records: &[Record],
    watch_dir: &Path,
    f: &mut IntelFigures,
) -> Result<()> {
    let answers: Vec<(&str, RrType, &str)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Answer(o) => Some((o.rrname.as_str(), o.rrtype, o.rdata.as_str())),
            _ => None,
        })
        .collect();
    let mut out: Vec<(u32, Via)> = Vec::new();
    let mut best = f64::MAX;
    let mut matched = 0u64;
    for _ in 0..3 {
        matched = 0;
        let started = Instant::now();
        for &(name, t, rdata) in &answers {
            out.clear();
            m.watch.match_answer(name, t, rdata, &mut out);
            matched += u64::from(!out.is_empty());
        }
        std::hint::black_box(&out);
        best = best.min(started.elapsed().as_secs_f64());
    }
    f.match_observations = answers.len() as u64;
    f.match_per_second = answers.len() as f64 / best.max(1e-9);
    f.match_hits = matched;
    drop(answers);

    // The live path: the alert router's watcher, an alert file, the alert store.
    remove_dir(watch_dir)?;
    std::fs::create_dir_all(watch_dir)?;
    let sinks = SinkConfig {
        file: Some(watch_dir.join("alerts-file.ndjson")),
        window: 3600,
        ..SinkConfig::default()
    };
    let router = Router::new(watch_dir, Arc::new(m), None, &sinks)?;
    let mut w = router.watcher();
    let started = Instant::now();
    for r in records {
        std::hint::black_box(w.observe(r));
    }
    let secs = started.elapsed().as_secs_f64();
    router.finish();
    f.watch_records = records.len() as u64;
    f.watch_per_second = records.len() as f64 / secs.max(1e-9);
    f.watch_alerts = router
        .counters
        .raised
        .load(std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// `dnsrecall ingest LOG` into a fresh store, with the feeds of `intel_from` (its
/// `intel/` directory copied) or none.
fn ingest(
    cfg: &IntelConfig,
    data: &Path,
    log: &Path,
    intel_from: Option<&Path>,
) -> Result<IngestRun> {
    remove_dir(data)?;
    std::fs::create_dir_all(data)?;
    if let Some(src) = intel_from {
        let (from, to) = (src.join("intel"), data.join("intel"));
        std::fs::create_dir_all(to.join("feeds"))?;
        std::fs::copy(from.join("feeds.json"), to.join("feeds.json"))?;
        for e in std::fs::read_dir(from.join("feeds"))? {
            let e = e?;
            std::fs::copy(e.path(), to.join("feeds").join(e.file_name()))?;
        }
    }
    let stats = data.join("stats.json");
    let alert_file = data.join("alerts-file.ndjson");
    let mut cmd = dnsrecall(&cfg.bin, data);
    cmd.args(["ingest", "--no-progress", "--stats-json"])
        .arg(&stats)
        .arg("--alert-file")
        .arg(&alert_file)
        .arg(log);
    let (proc, _) = run_measured(
        cmd,
        "dnsrecall ingest",
        &data.join("ingest.out"),
        &data.join("ingest.err"),
    )?;
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats)?)?;
    let alerts = std::fs::read(&alert_file)
        .map(|b| b.iter().filter(|c| **c == b'\n').count() as u64)
        .unwrap_or(0);
    Ok(IngestRun {
        lines: doc["lines"].as_u64().unwrap_or(0),
        lines_per_second: doc["lines_per_second"].as_f64().unwrap_or(0.0),
        pipeline_seconds: doc["elapsed_seconds"].as_f64().unwrap_or(0.0),
        proc,
        alerts,
    })
}

/// The hunt store `DIR/intel/hunt`: reused, copied from the serve scenario's base store
/// when that was built from the same log, or built with `dnsrecall ingest`.
fn prepare_hunt_store(cfg: &IntelConfig, log: &Path) -> Result<PathBuf> {
    let dir = cfg.dir.join("intel").join("hunt");
    if dir.join(dnsrecall_store::DB_FILE).exists() {
        let n = tuples_in(&dir)?;
        if n >= cfg.min_tuples {
            eprintln!("reusing {} ({n} tuples)", dir.display());
            return Ok(dir);
        }
    }
    let partial = cfg.dir.join("intel").join("hunt.partial");
    remove_dir(&partial)?;
    remove_dir(&dir)?;
    std::fs::create_dir_all(&partial)?;
    let base = cfg.dir.join("serve").join("base");
    let log_name = log.file_name().map(|n| n.to_string_lossy().into_owned());
    let same_log = base.join(dnsrecall_store::DB_FILE).exists()
        && !cfg.dir.join("serve").join("base.partial").exists()
        && SqliteStore::open_dir(&base)
            .ok()
            .and_then(|s| {
                s.connection()
                    .query_row("SELECT source, line FROM checkpoints", [], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .ok()
            })
            .is_some_and(|(source, line)| {
                Some(source.rsplit('/').next().unwrap_or("").to_owned()) == log_name
                    && u64::try_from(line).ok() == Some(cfg.hunt_lines)
            });
    if same_log {
        eprintln!(
            "copying the serve scenario's base store {} ...",
            base.display()
        );
        for e in std::fs::read_dir(&base)? {
            let e = e?;
            let name = e.file_name();
            let s = name.to_string_lossy();
            if s == dnsrecall_store::DB_FILE || s.ends_with("-wal") {
                std::fs::copy(e.path(), partial.join(&name))?;
            }
        }
    } else {
        eprintln!("dnsrecall ingest {} (the hunt store) ...", log.display());
        let mut cmd = dnsrecall(&cfg.bin, &partial);
        cmd.args(["ingest", "--no-progress"]).arg(log);
        run_measured(
            cmd,
            "dnsrecall ingest",
            &partial.join("ingest.out"),
            &partial.join("ingest.err"),
        )?;
        let store = SqliteStore::open_dir(&partial)?;
        store
            .connection()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    std::fs::rename(&partial, &dir)?;
    let n = tuples_in(&dir)?;
    if n < cfg.min_tuples {
        bail!(
            "the hunt store holds {n} tuples, fewer than {}: give more --hunt-lines",
            cfg.min_tuples
        );
    }
    Ok(dir)
}

/// `dnsrecall hunt --feed NAME --format csv`.
fn hunt(cfg: &IntelConfig, data: &Path, feed: &str, iocs: u64) -> Result<HuntRun> {
    let mut cmd = dnsrecall(&cfg.bin, data);
    cmd.args(["hunt", "--feed", feed, "--format", "csv"]);
    let (out, err) = (
        data.join(format!("hunt-{feed}.csv")),
        data.join(format!("hunt-{feed}.err")),
    );
    let (proc, _) = run_measured(cmd, "dnsrecall hunt", &out, &err)?;
    // "N hits: M matching answers of C checked (S suppressed), I indicators from F feeds, X s"
    let text = std::fs::read_to_string(&err)?;
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains(" hits: "))
        .with_context(|| format!("no summary from dnsrecall hunt:\n{text}"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| {
        words
            .get(i)
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let hunt_seconds = words
        .iter()
        .rev()
        .nth(1)
        .and_then(|w| w.parse::<f64>().ok())
        .unwrap_or(0.0);
    Ok(HuntRun {
        feed: feed.to_owned(),
        iocs,
        hits: num(0),
        answers_matched: num(2),
        answers_checked: num(6),
        hunt_seconds,
        proc,
    })
}

/// Runs the scenario.
pub fn run(cfg: &IntelConfig) -> Result<IntelFigures> {
    let mut f = IntelFigures {
        iocs: cfg.iocs,
        ..IntelFigures::default()
    };
    let work = cfg.dir.join("intel");
    std::fs::create_dir_all(&work)?;
    let big_log = hunt_log(cfg)?;
    let log = ingest_log(cfg, &big_log)?;
    let feeds = write_feeds(cfg, &log)?;
    f.hit_iocs = feeds.hit_iocs;
    f.list_bytes = std::fs::metadata(&feeds.list)?.len();
    f.misp_bytes = std::fs::metadata(&feeds.misp)?.len();

    // 1. Load.
    let list_data = work.join("load-list");
    let misp_data = work.join("load-misp");
    eprintln!(
        "dnsrecall intel add ioc {} --format list ...",
        feeds.list.display()
    );
    f.add_list = intel_add(cfg, &list_data, "ioc", &feeds.list, "list")?;
    eprintln!(
        "dnsrecall intel add ioc {} --format misp-attributes ...",
        feeds.misp.display()
    );
    f.add_misp = intel_add(cfg, &misp_data, "ioc", &feeds.misp, "misp-attributes")?;
    remove_dir(&misp_data)?;
    eprintln!("building the matcher in process ...");
    let m = build_matchers(&list_data, &mut f)?;

    // 2. Matching alone, then the watch hook.
    eprintln!(
        "parsing the first {} lines of {} ...",
        cfg.match_lines,
        log.display()
    );
    let mut records = Vec::new();
    for_each_record(&log, cfg.match_lines, |r| records.push(r))?;
    eprintln!("matching {} records ...", records.len());
    match_passes(m, &records, &work.join("watch"), &mut f)?;
    drop(records);
    remove_dir(&work.join("watch"))?;

    if !cfg.skip_ingest {
        // Read the log once, so both runs find it in the page cache.
        io::copy(&mut File::open(&log)?, &mut io::sink())?;
        let best = |old: Option<IngestRun>, new: IngestRun| match old {
            Some(o) if o.lines_per_second >= new.lines_per_second => Some(o),
            _ => Some(new),
        };
        // Runs go A B B A A B ...: each kind runs as often first as second, so whatever
        // drifts over the runs (the machine's other work, the disk writing back the store
        // of the run before) weighs on both alike.
        for i in 0..2 * cfg.repeat.max(1) {
            let with_feed = matches!(i % 4, 1 | 2);
            let round = i / 2 + 1;
            // Write back what the run before left, so it does not slow this one.
            let _ = Command::new("sync").status();
            if with_feed {
                eprintln!(
                    "dnsrecall ingest {} with the {}-indicator feed (run {round}) ...",
                    log.display(),
                    cfg.iocs
                );
                let fed = work.join("ingest-feed");
                let r = ingest(cfg, &fed, &log, Some(&list_data))?;
                eprintln!(
                    "  {:.0} lines/s, {:.1} s CPU, {} alerts",
                    r.lines_per_second,
                    r.proc.cpu_seconds.unwrap_or(0.0),
                    r.alerts
                );
                f.ingest_rates_feed.push(r.lines_per_second);
                f.ingest_cpu_feed.extend(r.proc.cpu_seconds);
                f.ingest_feed = best(f.ingest_feed, r);
                remove_dir(&fed)?;
            } else {
                eprintln!(
                    "dnsrecall ingest {} without feeds (run {round}) ...",
                    log.display()
                );
                let plain = work.join("ingest-plain");
                let r = ingest(cfg, &plain, &log, None)?;
                eprintln!(
                    "  {:.0} lines/s, {:.1} s CPU",
                    r.lines_per_second,
                    r.proc.cpu_seconds.unwrap_or(0.0)
                );
                f.ingest_rates_plain.push(r.lines_per_second);
                f.ingest_cpu_plain.extend(r.proc.cpu_seconds);
                f.ingest_plain = best(f.ingest_plain, r);
                remove_dir(&plain)?;
            }
        }
    }

    if !cfg.skip_hunt {
        let dir = prepare_hunt_store(cfg, &big_log)?;
        f.hunt_tuples = tuples_in(&dir)?;
        // Fresh feeds each run: the big one copied from the load step, the hunt one added.
        remove_dir(&dir.join("intel"))?;
        std::fs::create_dir_all(dir.join("intel").join("feeds"))?;
        let (from, to) = (list_data.join("intel"), dir.join("intel"));
        std::fs::copy(from.join("feeds.json"), to.join("feeds.json"))?;
        std::fs::copy(
            from.join("feeds").join("ioc.json"),
            to.join("feeds").join("ioc.json"),
        )?;
        let mut cmd = dnsrecall(&cfg.bin, &dir);
        cmd.args(["intel", "add", "hunt"])
            .arg(&feeds.hunt_list)
            .args(["--format", "list"]);
        run_measured(
            cmd,
            "dnsrecall intel add",
            &dir.join("add.out"),
            &dir.join("add.err"),
        )?;
        eprintln!(
            "dnsrecall hunt --feed hunt ({} indicators, {} tuples) ...",
            cfg.hunt_iocs, f.hunt_tuples
        );
        f.hunts.push(hunt(cfg, &dir, "hunt", cfg.hunt_iocs)?);
        eprintln!("dnsrecall hunt --feed ioc ({} indicators) ...", cfg.iocs);
        f.hunts.push(hunt(cfg, &dir, "ioc", cfg.iocs)?);
    }
    Ok(f)
}

fn mb(b: Option<u64>) -> String {
    b.map_or("unknown".to_owned(), |b| {
        format!("{:.0} MB", b as f64 / 1e6)
    })
}

pub fn print_intel(f: &IntelFigures) {
    println!(
        "intel load: {} indicators ({} of them names/addresses of the log), list {:.1} MB, MISP JSON {:.1} MB",
        f.iocs,
        f.hit_iocs,
        f.list_bytes as f64 / 1e6,
        f.misp_bytes as f64 / 1e6
    );
    println!(
        "  dnsrecall intel add, list:            {:.2} s wall, peak RSS {}",
        f.add_list.seconds,
        mb(f.add_list.peak_rss)
    );
    println!(
        "  dnsrecall intel add, MISP attributes: {:.2} s wall, peak RSS {}",
        f.add_misp.seconds,
        mb(f.add_misp.peak_rss)
    );
    println!(
        "  matcher from the stored indicators:   {:.2} s for {} indicators, RSS +{} while alive, peak RSS {}",
        f.matcher_seconds,
        f.matcher_indicators,
        f.matcher_rss_delta
            .map_or("unknown".to_owned(), |d| format!(
                "{:.0} MB",
                d as f64 / 1e6
            )),
        mb(f.matcher_peak_rss)
    );
    println!(
        "intel match: Matcher::match_answer alone {:.0} observations/s (1 thread, {} answers, {} with a hit = {:.3}%)",
        f.match_per_second,
        f.match_observations,
        f.match_hits,
        f.match_hits as f64 * 100.0 / f.match_observations.max(1) as f64
    );
    println!(
        "  through the Watch hook (alert router, alert file): {:.0} records/s ({} records, {} alerts)",
        f.watch_per_second, f.watch_records, f.watch_alerts
    );
    if let (Some(a), Some(b)) = (f.ingest_plain, f.ingest_feed) {
        println!(
            "  ingest, no feeds:      {} lines, {:.0} lines/s ({:.1} s; process {:.1} s, peak RSS {})",
            a.lines,
            a.lines_per_second,
            a.pipeline_seconds,
            a.proc.seconds,
            mb(a.proc.peak_rss)
        );
        println!(
            "  ingest, {} IOCs: {} lines, {:.0} lines/s ({:.1} s; process {:.1} s with the feed's load, peak RSS {}), {} alerts",
            f.iocs,
            b.lines,
            b.lines_per_second,
            b.pipeline_seconds,
            b.proc.seconds,
            mb(b.proc.peak_rss),
            b.alerts
        );
        let rates = |v: &[f64]| {
            v.iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rates_1 = |v: &[f64]| {
            v.iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "  live matching cost: {:.1}% of ingest throughput (target < 20%); best of {} runs each (lines/s without: {}; with: {})",
            f.ingest_cost_percent().unwrap_or(0.0),
            f.ingest_rates_plain.len(),
            rates(&f.ingest_rates_plain),
            rates(&f.ingest_rates_feed)
        );
        println!(
            "  CPU time of the ingest process: +{:.1}% with the feed (its load included; CPU s without: {}; with: {})",
            f.ingest_cpu_cost_percent().unwrap_or(0.0),
            rates_1(&f.ingest_cpu_plain),
            rates_1(&f.ingest_cpu_feed)
        );
    }
    for h in &f.hunts {
        println!(
            "intel hunt: {} indicators over {} tuples: {:.2} s hunting ({:.2} s process, peak RSS {}), {} hits from {} matching answers of {} checked",
            h.iocs,
            f.hunt_tuples,
            h.hunt_seconds,
            h.proc.seconds,
            mb(h.proc.peak_rss),
            h.hits,
            h.answers_matched,
            h.answers_checked
        );
    }
    let hunts: Vec<_> = f
        .hunts
        .iter()
        .map(|h| {
            json!({"iocs": h.iocs, "hits": h.hits, "answers_matched": h.answers_matched,
                   "hunt_seconds": h.hunt_seconds, "process_seconds": h.proc.seconds,
                   "peak_rss_bytes": h.proc.peak_rss})
        })
        .collect();
    let ingest = |r: Option<IngestRun>| {
        r.map(|r| {
            json!({"lines": r.lines, "lines_per_second": r.lines_per_second,
                   "pipeline_seconds": r.pipeline_seconds, "process_seconds": r.proc.seconds,
                   "peak_rss_bytes": r.proc.peak_rss, "alerts": r.alerts})
        })
    };
    println!(
        "{}",
        json!({"scenario": "intel", "iocs": f.iocs, "hit_iocs": f.hit_iocs,
               "add_list_seconds": f.add_list.seconds, "add_list_peak_rss_bytes": f.add_list.peak_rss,
               "add_misp_seconds": f.add_misp.seconds, "add_misp_peak_rss_bytes": f.add_misp.peak_rss,
               "matcher_seconds": f.matcher_seconds, "matcher_rss_delta_bytes": f.matcher_rss_delta,
               "matcher_peak_rss_bytes": f.matcher_peak_rss,
               "match_observations_per_second": f.match_per_second,
               "match_observations": f.match_observations, "match_hits": f.match_hits,
               "watch_records_per_second": f.watch_per_second, "watch_alerts": f.watch_alerts,
               "ingest_no_feeds": ingest(f.ingest_plain), "ingest_with_feed": ingest(f.ingest_feed),
               "ingest_cost_percent": f.ingest_cost_percent(),
               "ingest_rates_no_feeds": f.ingest_rates_plain, "ingest_rates_with_feed": f.ingest_rates_feed,
               "ingest_cpu_seconds_no_feeds": f.ingest_cpu_plain, "ingest_cpu_seconds_with_feed": f.ingest_cpu_feed,
               "ingest_cpu_cost_percent": f.ingest_cpu_cost_percent(),
               "hunt_tuples": f.hunt_tuples, "hunts": hunts})
    );
}
