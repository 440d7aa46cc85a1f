//! `dnsrecall-bench`: data generators and benchmark scenarios.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use dnsrecall_bench::generator::{self, DEFAULT_START_TIME, GenConfig, GenStats, LineKind};
use dnsrecall_bench::pcapgen::{self, DEFAULT_RATE, PcapGenConfig, PcapGenStats};
use dnsrecall_bench::{clickhouse, intel, scenarios, serve};

#[derive(Debug, Parser)]
#[command(
    name = "dnsrecall-bench",
    version,
    about = "dnsrecall data generators and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a deterministic synthetic gamelinux/passivedns JSON-lines log.
    Gen(GenArgs),
    /// Write a deterministic synthetic pcap capture of DNS traffic (for `dnsrecall
    /// sniff`).
    GenPcap(GenPcapArgs),
    /// Generate a log (unless --log), ingest it into a fresh store, print lines/s and
    /// bytes per tuple.
    Ingest(IngestArgs),
    /// Query latency (p50/p99, first rows) of every query form over a store.
    Query(QueryArgs),
    /// Both: ingest, then query the same store (the README's benchmark command).
    All(IngestArgs),
    /// Generate a pcap (unless --pcap), `sniff -r` it into a fresh store: packets/s,
    /// answers/s and peak RSS.
    Sniff(SniffArgs),
    /// dnstap messages over a unix socket from generated senders into a fresh store:
    /// messages/s end to end.
    Dnstap(DnstapArgs),
    /// `dnsrecall serve` under load: 64 connections sending exact, `*.x` and IP lookups
    /// through the native, CIRCL and DNSDB APIs over a >= 5M-tuple store while `ingest
    /// --follow` runs alongside: requests/s, first-page latency, errors, server peak RSS.
    Serve(serve::ServeArgs),
    /// Threat intel at scale: `intel add` of a 1M-indicator list and MISP JSON (time,
    /// memory), matcher observations/s, ingest lines/s without and with the feed (live
    /// matching cost), and retro-hunts with 100k and 1M indicators over a >= 5M-tuple
    /// store.
    Intel(IntelArgs),
    /// The ClickHouse backend through the real binary: a private clickhouse-server on
    /// loopback, `dnsrecall --store clickhouse://... ingest` of the ingest benchmark's log
    /// (lines/s, tuples, bytes per tuple), the query benchmark's patterns against it
    /// (p50/p99), `sniff -r` of the sniff benchmark's capture (packets/s), server peak
    /// RSS; SQLite's figures beside them.
    Clickhouse(ClickhouseArgs),
}

#[derive(Debug, Args)]
struct ClickhouseArgs {
    /// Working directory: the generated log and capture, `clickhouse/` (server data,
    /// spools, logs), `store/` (the SQLite store of the same log).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The `dnsrecall` binary [default: `dnsrecall` next to this program].
    #[arg(long)]
    bin: Option<PathBuf>,
    /// The clickhouse-server binary [default: $DNSRECALL_CLICKHOUSE_SERVER, else
    /// /usr/sbin/clickhouse-server].
    #[arg(long)]
    server: Option<PathBuf>,
    /// Lines of the generated log (12M give about 5.2M tuples).
    #[arg(long, default_value_t = 12_000_000)]
    lines: u64,
    /// Packets of the generated capture.
    #[arg(long, default_value_t = 5_000_000)]
    packets: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Query patterns per form (the query benchmark's).
    #[arg(long, default_value_t = 300)]
    samples: usize,
    /// Rows fetched per query.
    #[arg(long, default_value_t = 100)]
    rows: usize,
    /// Longest time, in seconds, spent measuring one query form.
    #[arg(long, default_value_t = 90)]
    form_budget: u64,
    /// Patterns per form also timed as `dnsrecall query` processes.
    #[arg(long, default_value_t = 20)]
    cli_samples: usize,
    /// Also run the SQLite ingest, query and sniff benchmarks on the same data (in this
    /// process, before the server starts), for figures under the same conditions.
    #[arg(long)]
    sqlite: bool,
    /// Fail (after printing) when the ClickHouse store holds fewer tuples.
    #[arg(long, default_value_t = 5_000_000)]
    min_tuples: u64,
}

#[derive(Debug, Args)]
struct IntelArgs {
    /// Working directory: the generated log, and `intel/` (feeds, stores).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The `dnsrecall` binary [default: `dnsrecall` next to this program].
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Indicators of the big feed.
    #[arg(long, default_value_t = 1_000_000)]
    iocs: u64,
    /// Indicators of the hunt feed (the big feed's first ones).
    #[arg(long, default_value_t = 100_000)]
    hunt_iocs: u64,
    /// Lines ingested without and with the feed (the first lines of the hunt log).
    #[arg(long, default_value_t = 5_000_000)]
    lines: u64,
    /// Lines parsed for the in-process matcher and watch-hook passes.
    #[arg(long, default_value_t = 2_000_000)]
    match_lines: u64,
    /// Lines of the generated log the hunt store is built from (12M: ~5.2M tuples).
    #[arg(long, default_value_t = 12_000_000)]
    hunt_lines: u64,
    /// The hunt store is rebuilt when it holds fewer tuples.
    #[arg(long, default_value_t = 5_000_000)]
    min_tuples: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Ingest runs without and with the feed, in the order A B B A ... (the best of each
    /// counts).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Leave out the ingest comparison.
    #[arg(long)]
    skip_ingest: bool,
    /// Leave out the hunts.
    #[arg(long)]
    skip_hunt: bool,
}

#[derive(Debug, Args)]
struct DnstapArgs {
    #[arg(long, default_value_t = 5_000_000)]
    messages: u64,
    /// Senders connected at once (each on its own thread).
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Distinct question names (Zipf-like popularity).
    #[arg(long, default_value_t = 200_000)]
    names: u32,
    /// Distinct clients.
    #[arg(long, default_value_t = 5_000)]
    clients: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Working directory for the socket and the store.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Aggregation memory, MiB (the CLI's --max-memory).
    #[arg(long, default_value_t = 64)]
    max_memory: u64,
    /// Keep no client sightings (`--clients off`): the tuple path alone.
    #[arg(long)]
    clients_off: bool,
}

#[derive(Debug, Args)]
struct SniffArgs {
    #[arg(long, default_value_t = 5_000_000)]
    packets: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Use this capture instead of generating one.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Working directory for the capture and the store.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Aggregation memory, MiB (the CLI's --max-memory).
    #[arg(long, default_value_t = 64)]
    max_memory: u64,
}

#[derive(Debug, Args)]
struct IngestArgs {
    /// Lines to generate (12M give about 5.2M tuples besides NXDOMAIN answers).
    #[arg(long, default_value_t = 12_000_000)]
    lines: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Use this log instead of generating one.
    #[arg(long)]
    log: Option<PathBuf>,
    /// Working directory for the log and the store.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Do not keep client sightings (measures the tuple store alone).
    #[arg(long)]
    clients_off: bool,
    /// Query samples per form (for `all`).
    #[arg(long, default_value_t = 300)]
    samples: usize,
    /// Rows fetched per query (for `all`).
    #[arg(long, default_value_t = 100)]
    rows: usize,
}

#[derive(Debug, Args)]
struct QueryArgs {
    /// Working directory holding `store/` from an ingest run.
    #[arg(long)]
    dir: Option<PathBuf>,
    #[arg(long, default_value_t = 300)]
    samples: usize,
    #[arg(long, default_value_t = 100)]
    rows: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[derive(Debug, Args)]
struct GenArgs {
    /// Number of lines to write.
    #[arg(long)]
    lines: u64,
    /// PRNG seed: the same (seed, lines, start time) always gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file, or `-` for standard output.
    #[arg(long, default_value = "-")]
    out: PathBuf,
    /// Unix time (seconds) of the first line; the log spans about 30 days.
    #[arg(long, default_value_t = DEFAULT_START_TIME, allow_negative_numbers = true)]
    start_time: i64,
}

#[derive(Debug, Args)]
struct GenPcapArgs {
    /// Number of packets to write (about half are DNS responses).
    #[arg(long)]
    packets: u64,
    /// PRNG seed: the same options always give the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file, or `-` for standard output.
    #[arg(long)]
    out: PathBuf,
    /// Unix time (seconds) of the first packet.
    #[arg(long, default_value_t = DEFAULT_START_TIME)]
    start_time: i64,
    /// Mean DNS transactions per second of capture time.
    #[arg(
        long,
        default_value_t = DEFAULT_RATE,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000)
    )]
    rate: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Gen(args) => cmd_gen(&args),
        Command::GenPcap(args) => cmd_gen_pcap(&args),
        Command::Sniff(args) => {
            let dir = scenarios::work_dir(args.dir.clone());
            std::fs::create_dir_all(&dir)?;
            let pcap = match &args.pcap {
                Some(p) => p.clone(),
                None => {
                    let p = dir.join(format!("gen-{}-{}.pcap", args.packets, args.seed));
                    if !p.exists() {
                        eprintln!(
                            "generating {} packets into {} ...",
                            args.packets,
                            p.display()
                        );
                        let tmp = p.with_extension("partial");
                        cmd_gen_pcap(&GenPcapArgs {
                            packets: args.packets,
                            seed: args.seed,
                            out: tmp.clone(),
                            start_time: DEFAULT_START_TIME,
                            rate: DEFAULT_RATE,
                        })?;
                        std::fs::rename(&tmp, &p)?;
                    }
                    p
                }
            };
            eprintln!("sniffing {} ...", pcap.display());
            let figures = scenarios::sniff(&pcap, &dir.join("sniff-store"), args.max_memory)?;
            scenarios::print_sniff(&figures);
            Ok(())
        }
        Command::Dnstap(args) => {
            let cfg = dnsrecall_bench::dnstap::Config {
                messages: args.messages,
                connections: args.connections.max(1),
                names: args.names.max(1),
                clients: args.clients.max(1),
                seed: args.seed,
                max_memory_mib: args.max_memory,
                clients_off: args.clients_off,
            };
            let dir = scenarios::work_dir(args.dir.clone());
            let figures = dnsrecall_bench::dnstap::run(&cfg, &dir)?;
            dnsrecall_bench::dnstap::print(&figures, &cfg);
            Ok(())
        }
        Command::Serve(args) => serve::main(&args),
        Command::Intel(args) => {
            let bin = match args.bin {
                Some(b) => b,
                None => std::env::current_exe()?
                    .parent()
                    .context("no directory for this program")?
                    .join("dnsrecall"),
            };
            let cfg = intel::IntelConfig {
                iocs: args.iocs.max(1),
                hunt_iocs: args.hunt_iocs.clamp(1, args.iocs.max(1)),
                lines: args.lines.max(1),
                match_lines: args.match_lines.max(1),
                hunt_lines: args.hunt_lines.max(args.lines),
                min_tuples: args.min_tuples,
                seed: args.seed,
                repeat: args.repeat.max(1),
                skip_ingest: args.skip_ingest,
                skip_hunt: args.skip_hunt,
                ..intel::IntelConfig::new(scenarios::work_dir(args.dir), bin)
            };
            let figures = intel::run(&cfg)?;
            intel::print_intel(&figures);
            Ok(())
        }
        Command::Clickhouse(args) => {
            let bin = args.bin.unwrap_or_else(serve::default_bin);
            let mut cfg = clickhouse::ClickHouseConfig::new(scenarios::work_dir(args.dir), bin);
            if let Some(server) = args.server {
                cfg.server = server;
            }
            cfg.lines = args.lines.max(1);
            cfg.packets = args.packets.max(1);
            cfg.seed = args.seed;
            cfg.samples = args.samples.max(1);
            cfg.rows = args.rows.max(1);
            cfg.form_budget = std::time::Duration::from_secs(args.form_budget);
            cfg.cli_samples = args.cli_samples;
            cfg.sqlite = args.sqlite;
            cfg.min_tuples = args.min_tuples;
            let figures = clickhouse::run(&cfg)?;
            clickhouse::print_clickhouse(&figures);
            if figures.store.tuples < cfg.min_tuples {
                anyhow::bail!(
                    "the ClickHouse store holds {} tuples, fewer than {}: give more --lines",
                    figures.store.tuples,
                    cfg.min_tuples
                );
            }
            Ok(())
        }
        Command::Ingest(args) => cmd_ingest(&args).map(|_| ()),
        Command::Query(args) => {
            let dir = scenarios::work_dir(args.dir.clone()).join("store");
            let figures = scenarios::query(&dir, args.samples, args.rows, args.seed)?;
            scenarios::print_query(&figures, args.rows);
            Ok(())
        }
        Command::All(args) => {
            let dir = cmd_ingest(&args)?;
            let figures = scenarios::query(&dir, args.samples, args.rows, args.seed)?;
            scenarios::print_query(&figures, args.rows);
            Ok(())
        }
    }
}

/// Generates the log when needed, ingests it, prints the figures; returns the store dir.
fn cmd_ingest(args: &IngestArgs) -> anyhow::Result<PathBuf> {
    let dir = scenarios::work_dir(args.dir.clone());
    std::fs::create_dir_all(&dir)?;
    let log = match &args.log {
        Some(log) => log.clone(),
        None => {
            let log = dir.join(format!("gen-{}-{}.json", args.lines, args.seed));
            if !log.exists() {
                eprintln!("generating {} lines into {} ...", args.lines, log.display());
                let tmp = log.with_extension("partial");
                let cfg = GenConfig {
                    lines: args.lines,
                    seed: args.seed,
                    start_time: DEFAULT_START_TIME,
                };
                let started = Instant::now();
                let file = File::create(&tmp)?;
                let stats = run_to(ThreadedWriter::new(file), |w| generator::generate(&cfg, w))?;
                report(&stats, started.elapsed().as_secs_f64());
                std::fs::rename(&tmp, &log)?;
            }
            log
        }
    };
    let store = dir.join("store");
    eprintln!("ingesting {} into {} ...", log.display(), store.display());
    let figures = scenarios::ingest(&log, &store, args.clients_off)?;
    scenarios::print_ingest(&figures);
    Ok(store)
}

fn cmd_gen(args: &GenArgs) -> anyhow::Result<()> {
    let cfg = GenConfig {
        lines: args.lines,
        seed: args.seed,
        start_time: args.start_time,
    };
    let started = Instant::now();
    let writer = if args.out.as_os_str() == "-" {
        ThreadedWriter::new(io::stdout())
    } else {
        let file = File::create(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        ThreadedWriter::new(file)
    };
    let result = run_to(writer, |w| generator::generate(&cfg, w));
    let stats = match result {
        Ok(stats) => stats,
        // `dnsrecall-bench gen ... | head` is fine.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => {
            return Err(e).with_context(|| format!("writing {}", args.out.display()));
        }
    };
    report(&stats, started.elapsed().as_secs_f64());
    Ok(())
}

fn cmd_gen_pcap(args: &GenPcapArgs) -> anyhow::Result<()> {
    let cfg = PcapGenConfig {
        packets: args.packets,
        seed: args.seed,
        start_time: args.start_time,
        rate: args.rate,
    };
    let started = Instant::now();
    let writer = if args.out.as_os_str() == "-" {
        ThreadedWriter::new(io::stdout())
    } else {
        let file = File::create(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        ThreadedWriter::new(file)
    };
    let stats = match run_to(writer, |w| pcapgen::generate_pcap(&cfg, w)) {
        Ok(stats) => stats,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => {
            return Err(e).with_context(|| format!("writing {}", args.out.display()));
        }
    };
    report_pcap(&stats, started.elapsed().as_secs_f64());
    Ok(())
}

fn report_pcap(s: &PcapGenStats, secs: f64) {
    let mut e = io::stderr().lock();
    let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let pct = |n: u64, of: u64| {
        if of > 0 {
            n as f64 * 100.0 / of as f64
        } else {
            0.0
        }
    };
    let _ = writeln!(
        e,
        "generated {} packets, {:.1} MiB in {:.2}s ({:.2} M packets/s, {:.0} MiB/s)",
        s.packets,
        s.bytes as f64 / 1_048_576.0,
        secs,
        per_sec(s.packets) / 1e6,
        per_sec(s.bytes) / 1_048_576.0,
    );
    let _ = writeln!(
        e,
        "{} queries, {} responses ({:.1}% of packets), {} answer records, {} NXDOMAIN",
        s.queries,
        s.responses,
        pct(s.responses, s.packets),
        s.answers,
        s.nxdomain
    );
    let _ = writeln!(
        e,
        "TCP: {} connections, {} packets ({:.1}%); IPv6: {} packets ({:.1}%)",
        s.tcp_connections,
        s.tcp_packets,
        pct(s.tcp_packets, s.packets),
        s.ipv6_packets,
        pct(s.ipv6_packets, s.packets)
    );
    let _ = writeln!(
        e,
        "distinct (name,type,rdata) answers ~{}, NXDOMAIN questions ~{} (HyperLogLog, ~1%)",
        s.distinct_tuples, s.distinct_nxdomain
    );
    let _ = writeln!(
        e,
        "capture time {:.1}s from {}",
        (s.last_ts_us - s.first_ts_us) as f64 / 1e6,
        s.first_ts_us / 1_000_000
    );
    let mix: Vec<String> = LineKind::ALL
        .iter()
        .map(|k| format!("{} {:.1}%", k.as_str(), pct(s.count(*k), s.responses)))
        .collect();
    let _ = writeln!(e, "responses: {}", mix.join(", "));
}

fn report(s: &GenStats, secs: f64) {
    let mut e = io::stderr().lock();
    let rate = if secs > 0.0 {
        s.lines as f64 / secs
    } else {
        0.0
    };
    let _ = writeln!(
        e,
        "generated {} lines, {:.1} MiB in {:.2}s ({:.2} M lines/s, {:.0} MiB/s)",
        s.lines,
        s.bytes as f64 / 1_048_576.0,
        secs,
        rate / 1e6,
        if secs > 0.0 {
            s.bytes as f64 / 1_048_576.0 / secs
        } else {
            0.0
        },
    );
    let _ = writeln!(
        e,
        "distinct names ~{}, distinct (query,type,answer) tuples ~{} (HyperLogLog, ~1%)",
        s.distinct_names, s.distinct_tuples
    );
    let _ = writeln!(
        e,
        "time span {} .. {} ({:.1} days)",
        s.first_timestamp,
        s.last_timestamp,
        (s.last_timestamp - s.first_timestamp) as f64 / 86_400.0
    );
    let mix: Vec<String> = LineKind::ALL
        .iter()
        .map(|k| {
            let pct = if s.lines > 0 {
                s.count(*k) as f64 * 100.0 / s.lines as f64
            } else {
                0.0
            };
            format!("{} {:.1}%", k.as_str(), pct)
        })
        .collect();
    let _ = writeln!(e, "types: {}", mix.join(", "));
}

/// Runs `f` against `writer`, then waits for every byte to reach the output.
fn run_to<T>(
    mut writer: ThreadedWriter,
    f: impl FnOnce(&mut ThreadedWriter) -> io::Result<T>,
) -> io::Result<T> {
    let result = f(&mut writer);
    let finished = writer.finish();
    let value = result?;
    finished?;
    Ok(value)
}

/// A `Write` that hands 1 MiB chunks to a writer thread, so generating the next chunk
/// overlaps the write system calls of the previous one (a 10M-line log is ~2 GB, and
/// on a small VM the page cache alone costs as much time as generating it).
#[derive(Debug)]
struct ThreadedWriter {
    buf: Vec<u8>,
    full: Option<SyncSender<Vec<u8>>>,
    empty: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

const CHUNK: usize = 1 << 20;

impl ThreadedWriter {
    fn new<W: Write + Send + 'static>(mut inner: W) -> Self {
        let (full_tx, full_rx) = sync_channel::<Vec<u8>>(4);
        let (empty_tx, empty_rx) = channel::<Vec<u8>>();
        let thread = std::thread::spawn(move || -> io::Result<()> {
            for mut chunk in full_rx {
                inner.write_all(&chunk)?;
                chunk.clear();
                // The generator may be gone already; the buffer is then just dropped.
                let _ = empty_tx.send(chunk);
            }
            inner.flush()
        });
        Self {
            buf: Vec::with_capacity(CHUNK),
            full: Some(full_tx),
            empty: empty_rx,
            thread: Some(thread),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let chunk = std::mem::replace(&mut self.buf, next);
        let sent = self.full.as_ref().map(|tx| tx.send(chunk).is_ok());
        if sent == Some(true) {
            Ok(())
        } else {
            // The writer thread stopped: report its error.
            self.join()
                .and(Err(io::Error::other("writer thread stopped")))
        }
    }

    fn join(&mut self) -> io::Result<()> {
        self.full = None;
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("writer thread panicked"))),
            None => Ok(()),
        }
    }

    /// Writes what is left and waits for the writer thread.
    fn finish(mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.join()
    }
}

impl Write for ThreadedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    /// Chunks are written by the thread; `finish` waits for them.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
