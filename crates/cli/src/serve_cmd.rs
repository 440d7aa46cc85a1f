//! `dnsrecall serve` and `dnsrecall keys`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use dnsrecall_ingest::pipeline::Counters;
use dnsrecall_server::keys::{KeyFile, NewKey};
use dnsrecall_server::{MetricsHook, Options};

use crate::config::{Backend, Config, locate};
use crate::{Cli, exit, print_out, usage};

#[derive(Debug, Args)]
#[command(after_help = "\
APIs (see /api/v1/openapi.json on the running server):
  /api/v1/query?q=*.example.com&type=A     native JSON (also /clients, /negative, /stats)
  /pdns/query/example.com                   CIRCL passive DNS (COF NDJSON, Basic auth)
  /dnsdb/v2/lookup/rrset/name/example.com   DNSDB API v2 (SAF NDJSON, X-API-Key)
  /                                         the web UI; /healthz, /metrics

Every API request needs a key (dnsrecall keys add NAME) unless the server listens on
loopback with --no-auth. Requests are written to the audit log (audit.log in the data
directory). SIGINT/SIGTERM stop it after running answers finish.

Examples:
  dnsrecall serve --no-auth                                 # loopback, for yourself
  dnsrecall keys add soc-team && dnsrecall serve --listen 0.0.0.0:8053 \\
      --tls-cert cert.pem --tls-key key.pem
  dnsrecall serve --ingest /var/log/passivedns.json         # collect and serve at once
  DNSDB_SERVER=http://127.0.0.1:8053 DNSDB_API_KEY=... dnsdbq -r example.com")]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8053].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Serve without API keys (refused unless the address is loopback).
    #[arg(long)]
    pub no_auth: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Most rows one answer may hold (keys may lower it) [default: 1000000].
    #[arg(long, value_name = "N")]
    pub max_rows: Option<u64>,
    /// An answer still running after this long is ended, saying so [default: 120s].
    #[arg(long, value_name = "DURATION")]
    pub query_timeout: Option<String>,
    /// Queries running at once; more wait, then get 503 [default: 16].
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<usize>,
    /// Audit log file [default: audit.log in the data directory].
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Also follow these passivedns/COF logs into the same store (like `ingest --follow`).
    #[arg(long, value_name = "FILE")]
    pub ingest: Vec<PathBuf>,
    /// Also capture on this interface into the same store (like `sniff -i`).
    #[arg(long, value_name = "IFACE")]
    pub sniff: Vec<String>,
}

/// The `[serve]` section of the config file.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: Option<SocketAddr>,
    pub no_auth: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_rows: Option<u64>,
    pub query_timeout: Option<String>,
    pub max_concurrent: Option<usize>,
    pub audit_log: Option<PathBuf>,
}

pub fn serve(cli: &Cli, config: &Config, args: &ServeArgs) -> Result<u8> {
    let file = config.serve.clone().unwrap_or_default();
    let loc = locate(cli, config)?;
    let data_dir = loc.dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let (store_path, opener) = match &loc.backend {
        Backend::Sqlite(file) => (file.clone(), None),
        Backend::ClickHouse(url) => {
            // Checked once here; the pool opens its handles without more round trips.
            crate::config::open_store(cli, config)?;
            let url = url.clone();
            let open: dnsrecall_server::StoreOpener = Arc::new(move || {
                Ok(Box::new(dnsrecall_clickhouse::ClickHouseStore::connect(
                    &url,
                    dnsrecall_clickhouse::DEFAULT_TIMEOUT,
                )) as dnsrecall_store::DynStore)
            });
            (data_dir.join("clickhouse"), Some(open))
        }
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8053)));
    let mut opts = Options::new(listen, store_path, data_dir);
    opts.open_store = opener;
    opts.no_auth = args.no_auth || file.no_auth.unwrap_or(false);
    opts.tls = match (
        args.tls_cert.clone().or(file.tls_cert),
        args.tls_key.clone().or(file.tls_key),
    ) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err(usage("give both --tls-cert and --tls-key")),
    };
    if let Some(n) = args.max_rows.or(file.max_rows) {
        opts.max_rows = n;
    }
    if let Some(t) = args.query_timeout.as_ref().or(file.query_timeout.as_ref()) {
        let secs = dnsrecall_query::parse_duration(t)
            .map_err(|e| usage(format!("--query-timeout: {e}")))?;
        opts.query_timeout = Duration::from_secs(secs.max(1) as u64);
    }
    if let Some(n) = args.max_concurrent.or(file.max_concurrent) {
        opts.max_concurrent = n;
    }
    opts.audit_log = args.audit_log.clone().or(file.audit_log);

    // Collection in the same process: the same store, counters exported as metrics.
    let mut workers = Vec::new();
    if !args.ingest.is_empty() {
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let hook: MetricsHook = Arc::new(move |out: &mut String| {
            use std::fmt::Write as _;
            let _ = writeln!(out, "# TYPE dnsrecall_ingest_lines_total counter");
            let _ = writeln!(
                out,
                "dnsrecall_ingest_lines_total {}",
                c.lines.load(Ordering::Relaxed)
            );
            let _ = writeln!(out, "# TYPE dnsrecall_ingest_bad_lines_total counter");
            let _ = writeln!(
                out,
                "dnsrecall_ingest_bad_lines_total {}",
                c.bad_lines.load(Ordering::Relaxed)
            );
            let _ = writeln!(out, "# TYPE dnsrecall_ingest_bytes_total counter");
            let _ = writeln!(
                out,
                "dnsrecall_ingest_bytes_total {}",
                c.bytes.load(Ordering::Relaxed)
            );
            let _ = writeln!(
                out,
                "# TYPE dnsrecall_ingest_tuples_committed_total counter"
            );
            let _ = writeln!(
                out,
                "dnsrecall_ingest_tuples_committed_total {}",
                c.tuples_committed.load(Ordering::Relaxed)
            );
        });
        opts.metrics_hooks.push(hook);
        let mut argv: Vec<std::ffi::OsString> = vec!["ingest".into(), "--follow".into()];
        argv.extend(args.ingest.iter().map(|p| p.clone().into_os_string()));
        let ingest = SubArgs::try_parse_from(argv).map_err(|e| usage(e.to_string()))?;
        workers.push(spawn_worker(
            cli,
            config,
            "ingest",
            move |cli, config| match &ingest.command {
                Sub::Ingest(a) => crate::ingest_cmd::run_counted(cli, config, a, counters),
                Sub::Sniff(_) => Ok(exit::OK),
            },
        )?);
    }
    for iface in &args.sniff {
        let sniff = SubArgs::try_parse_from(["sniff", "-i", iface.as_str()])
            .map_err(|e| usage(e.to_string()))?;
        workers.push(spawn_worker(
            cli,
            config,
            "sniff",
            move |cli, config| match &sniff.command {
                Sub::Sniff(a) => crate::sniff_cmd::run(cli, config, a),
                Sub::Ingest(_) => Ok(exit::OK),
            },
        )?);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
        .context("starting the async runtime")?;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let result = runtime.block_on(dnsrecall_server::serve(opts, shutdown_signal(), |addr| {
        // Scripts and tests read this line for the bound port.
        let _ = print_out(&format!("listening on {scheme}://{addr}\n"));
        tracing::info!("listening on {scheme}://{addr}");
    }));
    let mut code = exit::OK;
    for w in workers {
        match w.join() {
            Ok(Ok(c)) => code = code.max(c),
            Ok(Err(e)) => {
                eprintln!("error: {e:#}");
                code = exit::FAILURE;
            }
            Err(_) => code = exit::FAILURE,
        }
    }
    match result {
        Err(dnsrecall_server::ServeError::OpenBeyondLoopback(a)) => Err(usage(
            dnsrecall_server::ServeError::OpenBeyondLoopback(a).to_string(),
        )),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(code),
    }
}

/// `ingest` and `sniff` arguments parsed the way their own subcommands parse them.
#[derive(Debug, Parser)]
#[command(no_binary_name = false)]
struct SubArgs {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    Ingest(crate::ingest_cmd::IngestArgs),
    Sniff(crate::sniff_cmd::SniffArgs),
}

impl SubArgs {
    fn try_parse_from<I, T>(argv: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut all: Vec<std::ffi::OsString> = vec!["dnsrecall".into()];
        all.extend(argv.into_iter().map(Into::into));
        <Self as Parser>::try_parse_from(all)
    }
}

type Worker = std::thread::JoinHandle<Result<u8>>;

fn spawn_worker(
    cli: &Cli,
    config: &Config,
    name: &str,
    f: impl FnOnce(&Cli, &Config) -> Result<u8> + Send + 'static,
) -> Result<Worker> {
    let cli = Cli {
        data_dir: cli.data_dir.clone(),
        store: cli.store.clone(),
        spool_dir: cli.spool_dir.clone(),
        spool_max: cli.spool_max.clone(),
        config: cli.config.clone(),
        verbose: cli.verbose,
        command: crate::Command::Stats(crate::admin_cmd::StatsArgs { json: false }),
    };
    let config = config.clone();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || f(&cli, &config))
        .context("starting a collection thread")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Keys are kept hashed in api-keys.json in the data directory: a secret is shown once, when
it is made. A running server notices changes within a second.

Examples:
  dnsrecall keys add soc-team --rate 600/min --results-max 100000 --expires 2027-06-30
  dnsrecall keys list
  dnsrecall keys revoke soc-team")]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key and print its secret (once).
    Add {
        /// Who or what uses the key (letters, digits, . _ - @).
        name: String,
        /// Requests per minute, like 600/min (default: unlimited).
        #[arg(long, value_name = "N/min")]
        rate: Option<String>,
        /// Most rows in one answer for this key (default: the server's maximum).
        #[arg(long, value_name = "N")]
        results_max: Option<u64>,
        /// Stop working at this time (2027-06-30, or a duration from now like 90d).
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
    },
    /// List keys (never their secrets).
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key now.
    Revoke { name: String },
}

pub fn keys(cli: &Cli, config: &Config, args: &KeysArgs) -> Result<u8> {
    let data_dir = locate(cli, config)?.dir;
    let file = KeyFile::in_dir(&data_dir);
    let now = chrono::Utc::now().timestamp();
    match &args.command {
        KeysCommand::Add {
            name,
            rate,
            results_max,
            expires,
        } => {
            let rate_per_min = rate
                .as_deref()
                .map(|r| {
                    let n = r.strip_suffix("/min").unwrap_or(r);
                    n.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| usage(format!("--rate {r:?}: expected N/min, like 600/min")))
                })
                .transpose()?;
            let expires = expires
                .as_deref()
                .map(|e| {
                    // A bare duration counts forward from now.
                    match dnsrecall_query::parse_duration(e) {
                        Ok(d) => Ok(now + d),
                        Err(_) => dnsrecall_query::parse_time(e, now)
                            .map_err(|err| usage(format!("--expires: {err}"))),
                    }
                })
                .transpose()?;
            if expires.is_some_and(|e| e <= now) {
                return Err(usage("--expires is in the past"));
            }
            let limits = NewKey {
                rate_per_min,
                results_max: results_max.filter(|n| *n > 0),
                expires,
            };
            let secret = file.add(name, limits, now).map_err(|e| match e {
                dnsrecall_server::keys::KeyError::Exists(_)
                | dnsrecall_server::keys::KeyError::BadName(_) => usage(e.to_string()),
                other => anyhow::Error::new(other),
            })?;
            eprintln!(
                "key {name:?} created; its secret is shown only now. Send it as X-API-Key (DNSDB, native API) or as the HTTP Basic password (CIRCL clients):"
            );
            print_out(&format!("{secret}\n"))?;
        }
        KeysCommand::List { json } => {
            let keys = file.load()?;
            if *json {
                print_out(&(serde_json::to_string_pretty(&keys)? + "\n"))?;
                return Ok(exit::OK);
            }
            let tf = dnsrecall_query::TimeFormat::default();
            let mut text = format!(
                "{:<20} {:<12} {:<10} {:<12} {:<21} {:<21} {}\n",
                "name", "hint", "rate/min", "results_max", "created", "expires", "state"
            );
            for k in &keys {
                let state = match (k.revoked, k.expires) {
                    (Some(r), _) => format!("revoked {}", tf.format(r)),
                    (None, Some(e)) if e <= now => "expired".into(),
                    _ => "active".into(),
                };
                text.push_str(&format!(
                    "{:<20} {:<12} {:<10} {:<12} {:<21} {:<21} {}\n",
                    k.name,
                    format!("{}…", k.hint),
                    k.rate_per_min.map_or("-".into(), |r| r.to_string()),
                    k.results_max.map_or("-".into(), |r| r.to_string()),
                    tf.format(k.created),
                    k.expires.map_or("-".into(), |e| tf.format(e)),
                    state
                ));
            }
            if keys.is_empty() {
                text = "no keys; create one with: dnsrecall keys add NAME\n".into();
            }
            print_out(&text)?;
        }
        KeysCommand::Revoke { name } => {
            file.revoke(name, now).map_err(|e| match e {
                dnsrecall_server::keys::KeyError::Unknown(_) => usage(e.to_string()),
                other => anyhow::Error::new(other),
            })?;
            eprintln!("key {name:?} revoked");
        }
    }
    Ok(exit::OK)
}
