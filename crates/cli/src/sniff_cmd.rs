//! `dnsrecall sniff`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use dnsrecall_ingest::ClientPolicy;
use dnsrecall_ingest::capture::{self, Options, Progress, Report};
use dnsrecall_ingest::log_output::LogFormat;
use dnsrecall_sources::live_capture::LiveOptions;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::config::{Config, finish_writes, open_writer};
use crate::ingest_cmd::{parse_clients, parse_interval};
use crate::{Cli, exit, usage};

/// Memory one aggregated entry takes, to turn --max-memory into an entry bound.
const BYTES_PER_ENTRY: u64 = 384;

#[derive(Debug, Args)]
#[command(after_help = "\
Reads DNS answers from capture files (pcap, pcapng, gzipped, globs) or live interfaces
(libpcap) into the store: every answer record, NXDOMAIN and other error answers, and which
client asked. DNS is looked for on UDP and TCP port 53, 5353 (mDNS) and 5355 (LLMNR);
IP fragments and TCP streams are reassembled, VLAN tags and common tunnels decoded.

Examples:
  dnsrecall sniff -r capture.pcap
  dnsrecall sniff -r '/var/spool/pcap/*.pcap.gz' --sensor dmz-1
  dnsrecall sniff -i eth1 --sensor dmz-1                 # until Ctrl-C / SIGTERM
  dnsrecall sniff -i eth1 -i eth2 --bpf 'port 53 or port 5353'")]
pub struct SniffArgs {
    /// Capture files to read (globs are expanded, also when quoted).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interfaces"
    )]
    pub files: Vec<String>,
    /// Interfaces to capture on live (repeat for several).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// Capture filter for live capture (tcpdump syntax).
    #[arg(long, default_value = "port 53", value_name = "FILTER")]
    pub bpf: String,
    /// Put the interfaces in promiscuous mode.
    #[arg(long)]
    pub promisc: bool,
    /// Bytes kept of each captured frame.
    #[arg(long, default_value_t = 65_535, value_name = "BYTES")]
    pub snaplen: i32,
    /// Kernel capture buffer per interface, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub buffer_size: i32,
    /// Also look for DNS on these ports (UDP and TCP); 53, 5353 and 5355 always.
    #[arg(long = "dns-port", value_name = "PORT")]
    pub dns_ports: Vec<u16>,
    /// Sensor id stored with every record.
    #[arg(long, value_name = "ID")]
    pub sensor: Option<String>,
    /// How client addresses are kept: store, hash (keyed), mask (/24, /64) or off.
    #[arg(long, value_name = "MODE")]
    pub clients: Option<String>,
    /// Memory for aggregation before a flush to the store, in MiB (nothing is dropped:
    /// a full aggregator is flushed).
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub max_memory: u64,
    /// Longest time data waits in memory before it is committed (live capture).
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub flush_interval: String,
    /// How often live capture prints its counters (kernel drops included).
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub report_interval: String,
    /// Also write every answer seen as gamelinux/passivedns JSON lines to FILE (appended;
    /// reopened on SIGHUP for logrotate), for pipelines built on passivedns.
    #[arg(long, value_name = "FILE")]
    pub log_json: Option<PathBuf>,
    /// Also write every answer seen as COF NDJSON to FILE (appended; reopened on SIGHUP).
    #[arg(long, value_name = "FILE")]
    pub log_cof: Option<PathBuf>,
    /// Write the process id to FILE while running (removed on exit).
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Write the final counters as JSON to FILE (- for standard output).
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    #[command(flatten)]
    pub alerts: crate::intel_cmd::AlertArgs,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// File arguments with their globs expanded (`-r` of `sniff` and `dnstap`).
pub(crate) fn expand(patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in patterns {
        let is_glob = p.contains(['*', '?', '[']);
        if !is_glob {
            out.push(PathBuf::from(p));
            continue;
        }
        let matches: Vec<PathBuf> = glob::glob(p)
            .map_err(|e| usage(format!("-r {p:?}: {e}")))?
            .filter_map(std::result::Result::ok)
            .collect();
        if matches.is_empty() {
            return Err(usage(format!("-r {p:?}: no file matches")));
        }
        out.extend(matches);
    }
    Ok(out)
}

/// `--pid-file`: written at start, removed when dropped.
pub(crate) struct PidFile(PathBuf);

impl PidFile {
    pub(crate) fn write(path: Option<&PathBuf>) -> Result<Option<Self>> {
        let Some(p) = path else { return Ok(None) };
        std::fs::write(p, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing {}", p.display()))?;
        Ok(Some(Self(p.clone())))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn run(cli: &Cli, config: &Config, args: &SniffArgs) -> Result<u8> {
    if args.files.is_empty() && args.interfaces.is_empty() {
        return Err(usage(
            "give capture files with -r FILE or interfaces with -i IFACE",
        ));
    }
    let mode = parse_clients(
        args.clients
            .as_deref()
            .or(config.clients.as_deref())
            .unwrap_or("store"),
    )?;
    let files = expand(&args.files)?;
    let mut wire = dnsrecall_wire::Config {
        sensor_id: args.sensor.clone().or(config.sensor.clone()).map(Arc::from),
        ..dnsrecall_wire::Config::default()
    };
    for p in &args.dns_ports {
        if !wire.dns_ports.contains(p) {
            wire.dns_ports.push(*p);
        }
    }
    let max_entries =
        usize::try_from((args.max_memory.max(1) << 20) / BYTES_PER_ENTRY).unwrap_or(usize::MAX);
    let (when_full, spool_wait) = crate::config::spool_policy(files.is_empty());
    let (store, data_dir) = open_writer(cli, config, when_full)?;
    let policy = ClientPolicy::load(mode, &data_dir).context("loading the client hash key")?;
    let live = crate::intel_cmd::install_live(cli, config, &args.alerts, Some(policy.clone()))?;
    let opts = Options {
        sensor_id: wire.sensor_id.clone(),
        policy,
        max_entries,
        flush_interval: parse_interval(&args.flush_interval)?,
        report_interval: parse_interval(&args.report_interval)?,
        wire,
        logs: [
            (&args.log_json, LogFormat::PassivednsJson),
            (&args.log_cof, LogFormat::Cof),
        ]
        .into_iter()
        .filter_map(|(p, f)| p.clone().map(|p| (p, f)))
        .collect(),
        reopen_logs: Arc::new(AtomicBool::new(false)),
    };
    signal_hook::flag::register(signal_hook::consts::SIGHUP, opts.reopen_logs.clone())
        .context("installing the SIGHUP handler")?;
    let _pid = PidFile::write(args.pid_file.as_ref())?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let progress = Arc::new(Progress::default());
    let (store, result) = if files.is_empty() {
        let live: Vec<LiveOptions> = args
            .interfaces
            .iter()
            .map(|i| LiveOptions {
                interface: i.clone(),
                bpf: args.bpf.clone(),
                promisc: args.promisc,
                snaplen: args.snaplen,
                buffer_size: args.buffer_size.saturating_mul(1 << 20),
                ..LiveOptions::default()
            })
            .collect();
        // Said once every interface is open, so a typo fails without claiming to capture.
        let mut on_started = || {
            eprintln!(
                "capturing on {} (filter {:?}); stop with Ctrl-C or SIGTERM",
                args.interfaces.join(", "),
                args.bpf
            );
        };
        let mut on_report = |r: &Report| print_report(r, false);
        capture::sniff_live(
            store,
            &live,
            &opts,
            &progress,
            &stop,
            &mut on_started,
            &mut on_report,
        )
    } else {
        let total: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum();
        let bar = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let ticker = bar.clone().map(|bar| {
            let progress = progress.clone();
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            let handle = std::thread::spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    bar.set_position(progress.bytes.load(Ordering::Relaxed));
                    bar.set_message(format!(
                        "{} frames",
                        progress.frames.load(Ordering::Relaxed)
                    ));
                    std::thread::sleep(Duration::from_millis(100));
                }
                bar.finish_and_clear();
            });
            (done, handle)
        });
        let out = capture::sniff_files(store, &files, &opts, &progress, &stop);
        if let Some((done, handle)) = ticker {
            done.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
        out
    };
    if let Some(router) = &live {
        router.finish();
        crate::intel_cmd::print_alert_summary(router);
    }
    let spool_empty = finish_writes(store, spool_wait);
    let report = result.context("sniff stopped")?;
    print_report(&report, true);
    if let Some(path) = &args.stats_json {
        crate::write_json(path, &report_json(&report))?;
    }
    Ok(if report.failed.is_empty() && spool_empty {
        exit::OK
    } else {
        exit::FAILURE
    })
}

fn report_json(r: &Report) -> serde_json::Value {
    let secs = r.elapsed.as_secs_f64();
    json!({
        "files": r.files,
        "frames": r.frames,
        "bytes": r.bytes,
        "records": r.records,
        "frames_per_second": if secs > 0.0 { r.frames as f64 / secs } else { 0.0 },
        "wire": r.wire.to_pairs().into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<_, _>>(),
        "tuples_new": r.write.tuples_new,
        "tuples_updated": r.write.tuples_updated,
        "negatives_new": r.write.negatives_new,
        "negatives_updated": r.write.negatives_updated,
        "clients_new": r.write.clients_new,
        "clients_updated": r.write.clients_updated,
        "batches": r.batches,
        "failed": r.failed.iter().map(|(f, e)| json!({"file": f, "error": e})).collect::<Vec<_>>(),
        "truncated": r.truncated,
        "live": r.live.iter().map(|(i, s)| json!({
            "interface": i, "received": s.received, "dropped": s.dropped, "if_dropped": s.if_dropped,
        })).collect::<Vec<_>>(),
        "elapsed_seconds": secs,
    })
}

fn print_report(r: &Report, last: bool) {
    let secs = r.elapsed.as_secs_f64().max(1e-6);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{} {} frames ({:.0}/s) from {} files: records {}, tuples {} new, {} updated; \
         negative answers {} new; client sightings {} new",
        if last { "sniffed" } else { "so far:" },
        r.frames,
        r.frames as f64 / secs,
        r.files,
        r.records,
        r.write.tuples_new,
        r.write.tuples_updated,
        r.write.negatives_new,
        r.write.clients_new,
    );
    let counters: Vec<String> = r
        .wire
        .to_pairs()
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(err, "decoder: {}", counters.join(" "));
    for (iface, s) in &r.live {
        let _ = writeln!(
            err,
            "{iface}: {} received, {} dropped by the kernel, {} dropped by the interface",
            s.received, s.dropped, s.if_dropped
        );
    }
    for f in &r.truncated {
        let _ = writeln!(
            err,
            "{f}: the capture ends inside a frame (cut short); what came before is kept"
        );
    }
    for (_, e) in &r.failed {
        let _ = writeln!(err, "error: {e}");
    }
}
