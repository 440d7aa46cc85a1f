//! `dnsrecall ingest`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use dnsrecall_ingest::ClientPolicy;
use dnsrecall_ingest::pipeline::{self, Counters, Input, Options, Report};
use dnsrecall_model::ClientMode;
use dnsrecall_sources::Format;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::config::{Config, finish_writes, open_writer};
use crate::{Cli, exit, usage};

#[derive(Debug, Args)]
#[command(after_help = "\
Formats are detected per file from the first line: passivedns JSON (-j), passivedns text
(ts||client||server||class||query||type||answer||ttl||count), COF NDJSON, Zeek dns.log
(TSV or JSON) and Suricata eve.json (dns events, v1/v2/v3). Gzipped files
are read transparently. Each file's position is committed with its data, so running the
same command again (or after a crash) reads only what is new: use --reingest to count a
file again.

Examples:
  dnsrecall ingest /var/log/passivedns.json
  dnsrecall ingest --follow --sensor dmz-1 /var/log/passivedns.json
  zcat old/*.json.gz | dnsrecall ingest -
  dnsrecall ingest --format cof export-from-circl.ndjson
  dnsrecall ingest --follow /opt/zeek/logs/current/dns.log /var/log/suricata/eve.json")]
pub struct IngestArgs {
    /// Log files, or - for standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Input format: auto (detect per file), passivedns-json, passivedns-text, cof, zeek or
    /// suricata.
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub format: String,
    /// Keep reading as the files grow, across rotation (like tail -F), until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Sensor id stored with every record (default: passivedns's hostname field, if any).
    #[arg(long, value_name = "ID")]
    pub sensor: Option<String>,
    /// How client addresses are kept: store, hash (keyed), mask (/24, /64) or off.
    #[arg(long, value_name = "MODE")]
    pub clients: Option<String>,
    /// Write machine-readable statistics as JSON to FILE (- for standard output).
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    #[command(flatten)]
    pub alerts: crate::intel_cmd::AlertArgs,
    /// Aggregated entries held in memory before a flush to the store (memory bound;
    /// about 200 bytes each).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub batch_size: usize,
    /// While following: longest time new data waits before it is committed.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub flush_interval: String,
    /// Ignore the stored positions and read the files from their start again.
    #[arg(long)]
    pub reingest: bool,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// How long a file ingest waits at its end for a spooled ClickHouse store to take the
/// batches still in the spool.
pub const SPOOL_FLUSH_WAIT: Duration = Duration::from_secs(60);

/// The same for a live capture told to stop: shorter, as service managers wait only so
/// long for a stop (what is left stays in the spool for the next start).
pub const LIVE_SPOOL_FLUSH_WAIT: Duration = Duration::from_secs(10);

pub fn parse_clients(s: &str) -> Result<ClientMode> {
    Ok(match s {
        "store" => ClientMode::Store,
        "hash" => ClientMode::Hash,
        "mask" => ClientMode::Mask,
        "off" => ClientMode::Off,
        _ => {
            return Err(usage(format!(
                "--clients {s:?}: expected store, hash, mask or off"
            )));
        }
    })
}

pub fn parse_interval(s: &str) -> Result<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        let ms: u64 = ms
            .parse()
            .map_err(|_| usage(format!("bad interval {s:?}")))?;
        return Ok(Duration::from_millis(ms.max(1)));
    }
    let secs = dnsrecall_query::parse_duration(s).map_err(|e| usage(e.to_string()))?;
    Ok(Duration::from_secs(secs.unsigned_abs().max(1)))
}

pub fn run(cli: &Cli, config: &Config, args: &IngestArgs) -> Result<u8> {
    run_counted(cli, config, args, Arc::new(Counters::default()))
}

/// [`run`] with counters the caller can watch (`serve --ingest` exports them as metrics).
pub fn run_counted(
    cli: &Cli,
    config: &Config,
    args: &IngestArgs,
    counters: Arc<Counters>,
) -> Result<u8> {
    let format = match args.format.as_str() {
        "auto" => None,
        f => Some(
            f.parse::<Format>()
                .map_err(|e| usage(format!("--format: {e} (or auto)")))?,
        ),
    };
    let mode = parse_clients(
        args.clients
            .as_deref()
            .or(config.clients.as_deref())
            .unwrap_or("store"),
    )?;
    if args.batch_size == 0 {
        return Err(usage("--batch-size must be at least 1"));
    }
    let stdin_count = args.files.iter().filter(|f| f.as_os_str() == "-").count();
    if stdin_count > 1 {
        return Err(usage("- (standard input) can be given only once"));
    }
    let inputs: Vec<Input> = args
        .files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::Path(f.clone())
            }
        })
        .collect();
    let (when_full, spool_wait) = crate::config::spool_policy(false);
    let (store, data_dir) = open_writer(cli, config, when_full)?;
    let policy = ClientPolicy::load(mode, &data_dir).context("loading the client hash key")?;
    let live = crate::intel_cmd::install_live(cli, config, &args.alerts, Some(policy.clone()))?;
    let opts = Options {
        format,
        follow: args.follow,
        sensor_id: args.sensor.clone().or(config.sensor.clone()).map(Arc::from),
        policy,
        max_entries: args.batch_size,
        flush_interval: parse_interval(&args.flush_interval)?,
        reingest: args.reingest,
        ..Options::default()
    };

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let bar = progress_bar(args, &inputs);
    let ticker = bar.clone().map(|bar| {
        let counters = counters.clone();
        let done = Arc::new(AtomicBool::new(false));
        let done2 = done.clone();
        let handle = std::thread::spawn(move || {
            let started = Instant::now();
            while !done2.load(Ordering::Relaxed) {
                let lines = counters.lines.load(Ordering::Relaxed);
                let rate = lines as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_position(counters.bytes.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{lines} lines ({rate:.0} lines/s), {} bad",
                    counters.bad_lines.load(Ordering::Relaxed)
                ));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        (done, handle)
    });

    let started = Instant::now();
    let bar_for_bad = bar.clone();
    let mut on_bad = |b: &pipeline::BadLine| {
        let msg = format!(
            "warning: {}:{}: {}: {}",
            b.source, b.line, b.reason, b.message
        );
        match &bar_for_bad {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    };
    let (store, result) = pipeline::run(store, &inputs, &opts, counters, &stop, &mut on_bad);
    let spool_empty = finish_writes(store, spool_wait);
    if let Some((done, handle)) = ticker {
        done.store(true, Ordering::Relaxed);
        let _ = handle.join();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed();
    if let Some(router) = &live {
        router.finish();
        crate::intel_cmd::print_alert_summary(router);
    }
    let report = result.context("ingest stopped")?;
    print_summary(&report, elapsed, opts.bad_line_reports);
    if let Some(path) = &args.stats_json {
        write_stats_json(path, &report, elapsed)?;
    }
    Ok(if !report.failed.is_empty() || !spool_empty {
        exit::FAILURE
    } else if report.bad_lines > 0 {
        exit::EMPTY_OR_BAD_LINES
    } else {
        exit::OK
    })
}

fn progress_bar(args: &IngestArgs, inputs: &[Input]) -> Option<ProgressBar> {
    if args.no_progress || args.follow || !std::io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = inputs
        .iter()
        .map(|i| match i {
            Input::Path(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Input::Stdin => 0,
        })
        .sum();
    let compressed = inputs.iter().any(|i| match i {
        Input::Path(p) => p.extension().is_some_and(|e| e == "gz"),
        Input::Stdin => true,
    });
    let bar = if compressed || total == 0 {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed} {bytes} read ({bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    } else {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

fn print_summary(r: &Report, elapsed: Duration, shown: usize) {
    let secs = elapsed.as_secs_f64().max(1e-6);
    let w = &r.write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "ingested {} lines ({:.1} MB) in {:.2} s ({:.0} lines/s): tuples {} new, {} updated; \
         negative answers {} new, {} updated; client sightings {} new, {} updated; {} bad lines",
        r.lines,
        r.bytes as f64 / 1e6,
        secs,
        r.lines as f64 / secs,
        w.tuples_new,
        w.tuples_updated,
        w.negatives_new,
        w.negatives_updated,
        w.clients_new,
        w.clients_updated,
        r.bad_lines
    );
    if r.bad_lines > 0 {
        let reasons: Vec<String> = r
            .bad_by_reason
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(err, "bad lines by reason: {}", reasons.join(", "));
        if r.bad_lines as usize > shown {
            let _ = writeln!(
                err,
                "(the first {shown} bad lines were shown above; the rest only counted)"
            );
        }
    }
    if !r.skipped_by_reason.is_empty() {
        let skipped: Vec<String> = r
            .skipped_by_reason
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(err, "skipped on purpose: {}", skipped.join(", "));
    }
    for (file, line) in &r.resumed {
        let _ = writeln!(
            err,
            "{file}: resumed after line {line} (already ingested before)"
        );
    }
    for file in &r.already_ingested {
        let _ = writeln!(
            err,
            "{file}: already ingested to its end; nothing new (use --reingest to count it again)"
        );
    }
    for (file, why) in &r.failed {
        let _ = writeln!(err, "error: {file}: {why}");
    }
}

fn write_stats_json(path: &std::path::Path, r: &Report, elapsed: Duration) -> Result<()> {
    let secs = elapsed.as_secs_f64();
    let doc = json!({
        "files": r.files,
        "lines": r.lines,
        "bytes": r.bytes,
        "records": r.records,
        "bad_lines": r.bad_lines,
        "bad_by_reason": r.bad_by_reason,
        "skipped_by_reason": r.skipped_by_reason,
        "bad_examples": r.bad_examples.iter().map(|b| json!({
            "file": b.source, "line": b.line, "reason": b.reason, "message": b.message,
        })).collect::<Vec<_>>(),
        "tuples_new": r.write.tuples_new,
        "tuples_updated": r.write.tuples_updated,
        "negatives_new": r.write.negatives_new,
        "negatives_updated": r.write.negatives_updated,
        "clients_new": r.write.clients_new,
        "clients_updated": r.write.clients_updated,
        "names_new": r.write.names_new,
        "batches": r.batches,
        "rotations": r.rotations,
        "truncations": r.truncations,
        "resumed": r.resumed.iter().map(|(f, l)| json!({"file": f, "line": l})).collect::<Vec<_>>(),
        "already_ingested": r.already_ingested,
        "failed": r.failed.iter().map(|(f, why)| json!({"file": f, "error": why})).collect::<Vec<_>>(),
        "elapsed_seconds": secs,
        "lines_per_second": if secs > 0.0 { r.lines as f64 / secs } else { 0.0 },
    });
    crate::write_json(path, &doc)
}
