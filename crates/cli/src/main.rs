//! `dnsrecall`: argument parsing and wiring only; the work happens in the library crates.

mod admin_cmd;
mod config;
mod dnstap_cmd;
mod ingest_cmd;
mod intel_cmd;
mod query_cmd;
mod serve_cmd;
mod sniff_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc returns freed memory to the system more readily than glibc's allocator with
/// several threads (lower peak RSS for sniff and ingest), and is faster for small objects.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes (documented in `dnsrecall --help`).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// No results (with `--fail-empty`), or bad input lines seen during an ingest.
    pub const EMPTY_OR_BAD_LINES: u8 = 1;
    /// Usage error: bad option, pattern or time.
    pub const USAGE: u8 = 2;
    /// Runtime failure: the store or an input could not be used.
    pub const FAILURE: u8 = 3;
}

const AFTER_HELP: &str = "\
Exit codes: 0 ok; 1 no results (with --fail-empty) or bad input lines seen by ingest;
2 usage error; 3 the store or an input failed.

Examples:
  dnsrecall ingest /var/log/passivedns.json          # import a passivedns log
  dnsrecall ingest --follow /var/log/passivedns.json  # keep importing as it grows
  dnsrecall query '*sans*'                            # names containing 'sans'
  dnsrecall query '*.sans.org' --type A --last-after 30d
  dnsrecall query 204.51.94.0/24                      # answers in a prefix
  dnsrecall query --rdata '*.cloudfront.net'          # who points at these names
  dnsrecall clients isc.sans.org --after 30d          # which hosts asked";

/// Self-hosted passive DNS: collect DNS answers, keep their history, search it.
#[derive(Debug, Parser)]
#[command(name = "dnsrecall", version, about, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Directory of the embedded store [env: DNSRECALL_DATA_DIR; default: the platform
    /// data directory, e.g. ~/.local/share/dnsrecall].
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,
    /// Store URL: sqlite:PATH (a database file), or
    /// clickhouse://[user:pass@]host:port/database[?cluster=NAME] (ClickHouse's HTTP port;
    /// --data-dir then holds only feeds, keys and the spool).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "URL"
    )]
    pub store: Option<String>,
    /// With a ClickHouse store: where batches wait while the server is away or slow
    /// [default: DATA_DIR/spool/HOST_PORT_DATABASE]. File ingest waits when it is full;
    /// live capture drops new batches and counts them.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub spool_dir: Option<PathBuf>,
    /// With a ClickHouse store: most bytes the spool may hold, e.g. 512M, 4G [default: 1G].
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "SIZE"
    )]
    pub spool_max: Option<String>,
    /// TOML configuration file [env: DNSRECALL_CONFIG; default:
    /// ~/.config/dnsrecall/config.toml when it exists].
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// More log output (-v info, -vv debug); RUST_LOG works too.
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import passive DNS logs (passivedns JSON or text, COF), whole or followed.
    Ingest(ingest_cmd::IngestArgs),
    /// Capture DNS answers from pcap files or live interfaces.
    Sniff(sniff_cmd::SniffArgs),
    /// Receive dnstap from resolvers (unix or TCP sockets), or read dnstap files.
    Dnstap(dnstap_cmd::DnstapArgs),
    /// Search the history by name, address, or names inside answers.
    Query(query_cmd::QueryArgs),
    /// Which clients asked for these names (or what a client asked for).
    Clients(query_cmd::ClientsArgs),
    /// Threat-intel feeds (MISP, RPZ, lists): add, list, show, remove, refresh.
    Intel(intel_cmd::IntelArgs),
    /// Which clients resolved something in the feeds (retro-hunt over the history).
    Hunt(intel_cmd::HuntArgs),
    /// Alerts raised by live matching during ingest, sniff and dnstap.
    Alerts(intel_cmd::AlertsArgs),
    /// Reports: top clients and indicators per feed, top names, newly seen domains.
    Report(intel_cmd::ReportArgs),
    /// Serve the HTTP APIs (native, CIRCL, DNSDB v2) and the web UI.
    Serve(serve_cmd::ServeArgs),
    /// Manage API keys for serve: add, list, revoke.
    Keys(serve_cmd::KeysArgs),
    /// Delete history older than a retention period.
    Prune(admin_cmd::PruneArgs),
    /// Store size, tuple counts by type, time range and sensors.
    Stats(admin_cmd::StatsArgs),
    /// Create or upgrade the schema of a ClickHouse store.
    Migrate(admin_cmd::MigrateArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_logging(cli.verbose);
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let result = match &cli.command {
        Command::Ingest(a) => ingest_cmd::run(&cli, &config, a),
        Command::Sniff(a) => sniff_cmd::run(&cli, &config, a),
        Command::Dnstap(a) => dnstap_cmd::run(&cli, &config, a),
        Command::Query(a) => query_cmd::run_query(&cli, &config, a),
        Command::Clients(a) => query_cmd::run_clients(&cli, &config, a),
        Command::Intel(a) => intel_cmd::run_intel(&cli, &config, a),
        Command::Hunt(a) => intel_cmd::run_hunt(&cli, &config, a),
        Command::Alerts(a) => intel_cmd::run_alerts(&cli, &config, a),
        Command::Report(a) => intel_cmd::run_report(&cli, &config, a),
        Command::Serve(a) => serve_cmd::serve(&cli, &config, a),
        Command::Keys(a) => serve_cmd::keys(&cli, &config, a),
        Command::Prune(a) => admin_cmd::prune(&cli, &config, a),
        Command::Stats(a) => admin_cmd::stats(&cli, &config, a),
        Command::Migrate(a) => admin_cmd::migrate(&cli, &config, a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = if e.downcast_ref::<UsageError>().is_some() {
                exit::USAGE
            } else {
                exit::FAILURE
            };
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

/// An error in what the user asked for (exit code 2), as opposed to a failure.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Writes to standard output; a closed pipe (`dnsrecall stats | head`) is not an error.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Writes a JSON document (`--stats-json`) to a file, or to standard output for `-`.
pub fn write_json(path: &std::path::Path, doc: &serde_json::Value) -> anyhow::Result<()> {
    use anyhow::Context;
    let text = serde_json::to_string_pretty(doc)? + "\n";
    if path.as_os_str() == "-" {
        print_out(&text)
    } else {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
