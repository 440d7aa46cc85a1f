//! `dnsrecall dnstap`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use clap::Args;
use dnsrecall_dnstap::{ListenAddr, ListenOptions};
use dnsrecall_ingest::ClientPolicy;
use dnsrecall_ingest::capture::{Options, Progress};
use dnsrecall_ingest::dnstap::{self, Report};
use dnsrecall_ingest::log_output::LogFormat;
use serde_json::json;

use crate::config::{Config, finish_writes, open_writer};
use crate::ingest_cmd::{parse_clients, parse_interval};
use crate::sniff_cmd::PidFile;
use crate::{Cli, exit, usage};

/// Memory one aggregated entry takes, to turn --max-memory into an entry bound.
const BYTES_PER_ENTRY: u64 = 384;

#[derive(Debug, Args)]
#[command(after_help = "\
Receives dnstap from resolvers and authoritative servers (Unbound, BIND, Knot, dnsdist,
...) over Frame Streams, bidirectional (READY/ACCEPT/START ... STOP/FINISH), on unix
sockets or TCP, from several senders at once; or reads dnstap files (dnstap -w,
fstrm_capture). Every *_RESPONSE message is decoded like a captured answer: every answer
record, NXDOMAIN and other error answers; CLIENT_RESPONSE also records which client asked.
Queries are counted. The sensor id is --sensor, else each sender's dnstap identity.

Examples:
  dnsrecall dnstap --listen unix:/run/dnsrecall/dnstap.sock
  dnsrecall dnstap --listen tcp:127.0.0.1:6000 --listen unix:/run/dnstap.sock --sensor dns-1
  dnsrecall dnstap -r /var/log/unbound/dnstap.fstrm

Unbound: dnstap: dnstap-enable: yes, dnstap-socket-path: /run/dnsrecall/dnstap.sock,
  dnstap-send-identity: yes, dnstap-log-client-response-messages: yes,
  dnstap-log-resolver-response-messages: yes
BIND: dnstap { client response; resolver response; auth response; };
  dnstap-output unix \"/run/dnsrecall/dnstap.sock\";")]
pub struct DnstapArgs {
    /// Listen for dnstap senders: unix:PATH or tcp:ADDR:PORT (repeat for several).
    #[arg(long = "listen", value_name = "ADDR", conflicts_with = "files")]
    pub listen: Vec<String>,
    /// dnstap files to read (globs are expanded, also when quoted).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub files: Vec<String>,
    /// Sensor id stored with every record [default: the sender's dnstap identity].
    #[arg(long, value_name = "ID")]
    pub sensor: Option<String>,
    /// How client addresses are kept: store, hash (keyed), mask (/24, /64) or off.
    #[arg(long, value_name = "MODE")]
    pub clients: Option<String>,
    /// Memory for aggregation before a flush to the store, in MiB (nothing is dropped:
    /// a full aggregator is flushed).
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub max_memory: u64,
    /// Longest time data waits in memory before it is committed.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub flush_interval: String,
    /// How often the counters are printed while listening.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub report_interval: String,
    /// Longest Frame Streams data frame, in bytes; a longer one closes its connection.
    #[arg(long, default_value_t = dnsrecall_dnstap::fstrm::DEFAULT_MAX_FRAME_LEN, value_name = "BYTES")]
    pub max_frame_size: usize,
    /// Most senders connected at once; more are refused.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_connections: usize,
    /// Permissions of unix sockets, octal (the senders' users must be able to write).
    #[arg(long, default_value = "660", value_name = "MODE")]
    pub socket_mode: String,
    /// Also write every answer seen as gamelinux/passivedns JSON lines to FILE (appended;
    /// reopened on SIGHUP for logrotate).
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
}

pub fn run(cli: &Cli, config: &Config, args: &DnstapArgs) -> Result<u8> {
    if args.files.is_empty() && args.listen.is_empty() {
        return Err(usage(
            "give --listen unix:PATH or --listen tcp:ADDR:PORT, or dnstap files with -r FILE",
        ));
    }
    let addrs = args
        .listen
        .iter()
        .map(|a| {
            a.parse::<ListenAddr>()
                .map_err(|e| usage(format!("--listen: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let socket_mode = u32::from_str_radix(&args.socket_mode, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| {
            usage(format!(
                "--socket-mode {:?}: expected octal",
                args.socket_mode
            ))
        })?;
    if args.max_frame_size < 64 || args.max_connections == 0 {
        return Err(usage(
            "--max-frame-size must be at least 64 and --max-connections at least 1",
        ));
    }
    let mode = parse_clients(
        args.clients
            .as_deref()
            .or(config.clients.as_deref())
            .unwrap_or("store"),
    )?;
    let files = crate::sniff_cmd::expand(&args.files)?;
    let sensor: Option<Arc<str>> = args.sensor.clone().or(config.sensor.clone()).map(Arc::from);
    let max_entries =
        usize::try_from((args.max_memory.max(1) << 20) / BYTES_PER_ENTRY).unwrap_or(usize::MAX);
    let (when_full, spool_wait) = crate::config::spool_policy(files.is_empty());
    let (store, data_dir) = open_writer(cli, config, when_full)?;
    let policy = ClientPolicy::load(mode, &data_dir).context("loading the client hash key")?;
    // Live intel alerts, as for sniff: the aggregator's watch hook sees every record.
    let live = crate::intel_cmd::install_live(cli, config, &args.alerts, Some(policy.clone()))?;
    let opts = Options {
        sensor_id: sensor.clone(),
        policy,
        max_entries,
        flush_interval: parse_interval(&args.flush_interval)?,
        report_interval: parse_interval(&args.report_interval)?,
        wire: dnsrecall_wire::Config::default(),
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
    let progress = Progress::default();
    let (store, result) = if files.is_empty() {
        let listen = ListenOptions {
            max_frame_len: args.max_frame_size,
            max_connections: args.max_connections,
            sensor,
            socket_mode,
            ..ListenOptions::default()
        };
        let mut on_started = |bound: &[ListenAddr]| {
            let list: Vec<String> = bound.iter().map(ToString::to_string).collect();
            eprintln!(
                "listening for dnstap on {}; stop with Ctrl-C or SIGTERM",
                list.join(", ")
            );
        };
        let mut on_report = |r: &Report| print_report(r, false);
        let mut hooks = dnstap::Hooks {
            on_started: &mut on_started,
            on_report: &mut on_report,
        };
        dnstap::serve(store, &addrs, listen, &opts, &progress, &stop, &mut hooks)
    } else {
        dnstap::read_files(
            store,
            &files,
            sensor,
            args.max_frame_size,
            &opts,
            &progress,
            &stop,
        )
    };
    if let Some(router) = &live {
        router.finish();
        crate::intel_cmd::print_alert_summary(router);
    }
    let spool_empty = finish_writes(store, spool_wait);
    let report = result.context("dnstap stopped")?;
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

fn pairs(p: Vec<(String, u64)>) -> serde_json::Map<String, serde_json::Value> {
    p.into_iter().map(|(k, v)| (k, json!(v))).collect()
}

fn report_json(r: &Report) -> serde_json::Value {
    let secs = r.elapsed.as_secs_f64();
    json!({
        "files": r.files,
        "bytes": r.bytes,
        "frames": r.dnstap.frames,
        "records": r.records,
        "frames_per_second": if secs > 0.0 { r.dnstap.frames as f64 / secs } else { 0.0 },
        "dnstap": pairs(r.dnstap.to_pairs()),
        "wire": pairs(r.wire.to_pairs()),
        "tuples_new": r.write.tuples_new,
        "tuples_updated": r.write.tuples_updated,
        "negatives_new": r.write.negatives_new,
        "negatives_updated": r.write.negatives_updated,
        "clients_new": r.write.clients_new,
        "clients_updated": r.write.clients_updated,
        "batches": r.batches,
        "failed": r.failed.iter().map(|(f, e)| json!({"file": f, "error": e})).collect::<Vec<_>>(),
        "truncated": r.truncated,
        "elapsed_seconds": secs,
    })
}

fn print_report(r: &Report, last: bool) {
    let secs = r.elapsed.as_secs_f64().max(1e-6);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{} {} dnstap frames ({:.0}/s) from {} connections, {} files: records {}, tuples {} \
         new, {} updated; negative answers {} new; client sightings {} new",
        if last { "received" } else { "so far:" },
        r.dnstap.frames,
        r.dnstap.frames as f64 / secs,
        r.dnstap.connections,
        r.files,
        r.records,
        r.write.tuples_new,
        r.write.tuples_updated,
        r.write.negatives_new,
        r.write.clients_new,
    );
    let nonzero = |p: Vec<(String, u64)>| -> String {
        p.into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(err, "dnstap: {}", nonzero(r.dnstap.to_pairs()));
    let _ = writeln!(err, "decoder: {}", nonzero(r.wire.to_pairs()));
    for f in &r.truncated {
        let _ = writeln!(
            err,
            "{f}: the file ends inside a frame (cut short); what came before is kept"
        );
    }
    for (f, e) in &r.failed {
        let _ = writeln!(err, "error: {f}: {e}");
    }
}
