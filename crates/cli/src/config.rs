//! The TOML configuration file: the same keys as the global and common options.
//!
//! ```toml
//! data_dir = "/var/lib/dnsrecall"   # or: store = "sqlite:/var/lib/dnsrecall/dnsrecall.db"
//! # store = "clickhouse://dns:secret@ch-1:8123/pdns"   # data_dir then holds side files
//! # spool_max = "4G"                                   # spool_dir = "/var/spool/dnsrecall"
//! clients = "hash"                  # store | hash | mask | off
//! sensor = "dmz-1"
//! time_format = "%d/%m/%Y %H:%M:%S"
//!
//! [serve]
//! listen = "127.0.0.1:8053"
//! max_rows = 100000
//! ```
//! Command-line options win over the environment, which wins over the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dnsrecall_clickhouse::spool::{SpoolConfig, WhenFull};
use dnsrecall_clickhouse::{ClickHouseStore, SpooledStore, StoreUrl};
use dnsrecall_store::{DynStore, SqliteStore};

use crate::{Cli, usage};

#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: Option<PathBuf>,
    pub store: Option<String>,
    /// `--spool-dir` and `--spool-max` (ClickHouse stores).
    pub spool_dir: Option<PathBuf>,
    pub spool_max: Option<String>,
    pub clients: Option<String>,
    pub sensor: Option<String>,
    pub time_format: Option<String>,
    /// `[serve]`: the options of `dnsrecall serve`.
    pub serve: Option<crate::serve_cmd::ServeConfig>,
    /// `[alerts]`: sinks for live intel alerts.
    pub alerts: Option<crate::intel_cmd::AlertConfig>,
}

impl Config {
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let env = std::env::var_os("DNSRECALL_CONFIG").map(PathBuf::from);
        let (path, required) = match explicit.map(Path::to_path_buf).or(env) {
            Some(p) => (p, true),
            None => match dirs::config_dir() {
                Some(d) => (d.join("dnsrecall").join("config.toml"), false),
                None => return Ok(Self::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(e) => return Err(e).with_context(|| format!("reading config {}", path.display())),
        };
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))
    }
}

/// Which store the commands use.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite(PathBuf),
    /// A ClickHouse server.
    ClickHouse(StoreUrl),
}

/// The store and the data directory (side files: feeds, keys, audit log, spool, the
/// client hash key).
#[derive(Debug, Clone)]
pub struct Location {
    pub backend: Backend,
    pub dir: PathBuf,
}

/// Where the store is. `--data-dir` (or `DNSRECALL_DATA_DIR`) picks the SQLite file in
/// that directory, unless `--store` names a ClickHouse server: then it holds the side
/// files only.
pub fn locate(cli: &Cli, config: &Config) -> Result<Location> {
    let env_dir = std::env::var_os("DNSRECALL_DATA_DIR").map(PathBuf::from);
    let explicit_dir = cli.data_dir.clone().or(env_dir);
    let default_dir = || -> Result<PathBuf> {
        if let Some(d) = &config.data_dir {
            return Ok(d.clone());
        }
        let base = dirs::data_dir().context("no platform data directory: give --data-dir")?;
        Ok(base.join("dnsrecall"))
    };
    let url = cli.store.as_ref().or(config.store.as_ref());
    if let Some(url) = url
        && !url.starts_with("sqlite:")
        && !url.starts_with("clickhouse:")
    {
        return Err(usage(format!(
            "--store {url:?}: expected sqlite:PATH or clickhouse://[user:pass@]host:port/database"
        )));
    }
    if let Some(url) = url
        && url.starts_with("clickhouse:")
    {
        let parsed: StoreUrl = url
            .parse()
            .map_err(|e: dnsrecall_clickhouse::Error| usage(format!("--store: {e}")))?;
        let dir = match explicit_dir {
            Some(d) => d,
            None => default_dir()?,
        };
        return Ok(Location {
            backend: Backend::ClickHouse(parsed),
            dir,
        });
    }
    if let Some(dir) = explicit_dir {
        return Ok(Location {
            backend: Backend::Sqlite(dir.join(dnsrecall_store::DB_FILE)),
            dir,
        });
    }
    if let Some(url) = url {
        let Some(path) = url.strip_prefix("sqlite:") else {
            return Err(usage(format!(
                "--store {url:?}: expected sqlite:PATH or clickhouse://[user:pass@]host:port/database"
            )));
        };
        let file = PathBuf::from(path.trim_start_matches("//"));
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        return Ok(Location {
            backend: Backend::Sqlite(file),
            dir,
        });
    }
    let dir = default_dir()?;
    Ok(Location {
        backend: Backend::Sqlite(dir.join(dnsrecall_store::DB_FILE)),
        dir,
    })
}

/// A ClickHouse handle whose schema is this build's. `create`: a database without any
/// dnsrecall schema gets it (writers); an older schema always needs `dnsrecall migrate`.
fn clickhouse(url: &StoreUrl, create: bool) -> Result<ClickHouseStore> {
    let store = ClickHouseStore::connect(url, dnsrecall_clickhouse::DEFAULT_TIMEOUT);
    let found = store
        .schema_version()
        .with_context(|| format!("opening store {url}"))?;
    if found == 0 && create {
        store
            .migrate()
            .with_context(|| format!("creating the schema in {url}"))?;
        return Ok(store);
    }
    if found == 0 {
        return Err(anyhow::anyhow!(
            "store {url} has no dnsrecall schema yet: run `dnsrecall --store {url} migrate` (or ingest into it)"
        ));
    }
    store
        .check()
        .with_context(|| format!("opening store {url}"))?;
    Ok(store)
}

/// Opens the store for reading and administration (query, clients, hunt, report, stats,
/// prune).
pub fn open_store(cli: &Cli, config: &Config) -> Result<(DynStore, PathBuf)> {
    let loc = locate(cli, config)?;
    std::fs::create_dir_all(&loc.dir).with_context(|| format!("creating {}", loc.dir.display()))?;
    let store: DynStore = match &loc.backend {
        Backend::Sqlite(file) => Box::new(
            SqliteStore::open(file).with_context(|| format!("opening store {}", file.display()))?,
        ),
        Backend::ClickHouse(url) => Box::new(clickhouse(url, false)?),
    };
    Ok((store, loc.dir))
}

/// Opens the store for an ingest, a capture or a dnstap receiver. With ClickHouse, the
/// batches go through the on-disk spool: in the writer's thread with `Block` (file
/// ingest: the input waits), or through its own thread with `DropNewest` (live capture).
pub fn open_writer(cli: &Cli, config: &Config, when_full: WhenFull) -> Result<(DynStore, PathBuf)> {
    let loc = locate(cli, config)?;
    std::fs::create_dir_all(&loc.dir).with_context(|| format!("creating {}", loc.dir.display()))?;
    let Backend::ClickHouse(url) = &loc.backend else {
        return open_store(cli, config);
    };
    // A sensor starts while ClickHouse is away: its batches wait in the spool. Anything
    // else wrong with the store (a schema to upgrade, a refused login) stops it here.
    match clickhouse(url, true) {
        Ok(_) => {}
        Err(e)
            if e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<dnsrecall_clickhouse::Error>(),
                    Some(dnsrecall_clickhouse::Error::Transport(_))
                )
            }) =>
        {
            eprintln!("warning: {e:#}: batches go to the spool until the server answers");
        }
        Err(e) => return Err(e),
    }
    let dir = cli
        .spool_dir
        .clone()
        .or_else(|| config.spool_dir.clone())
        .unwrap_or_else(|| loc.dir.join("spool").join(spool_name(url)));
    let max = match cli.spool_max.as_ref().or(config.spool_max.as_ref()) {
        Some(s) => parse_size(s).map_err(|e| usage(format!("--spool-max {s:?}: {e}")))?,
        None => DEFAULT_SPOOL_MAX,
    };
    let cfg = SpoolConfig::new(dir.clone(), max, when_full);
    let spooled = match when_full {
        WhenFull::Block => SpooledStore::foreground(url, cfg),
        WhenFull::DropNewest => SpooledStore::background(url, cfg),
    }
    .with_context(|| format!("opening the spool {}", dir.display()))?;
    Ok((Box::new(spooled), loc.dir))
}

/// How a writer treats a full spool, and how long it waits for the spool to empty at its
/// end: file input waits (the input stays on disk); live input cannot wait (the kernel or
/// the resolver would drop data uncounted), so it drops whole batches, counted, and a
/// stop waits briefly (service managers wait only so long).
pub fn spool_policy(live: bool) -> (WhenFull, std::time::Duration) {
    if live {
        (
            WhenFull::DropNewest,
            crate::ingest_cmd::LIVE_SPOOL_FLUSH_WAIT,
        )
    } else {
        (WhenFull::Block, crate::ingest_cmd::SPOOL_FLUSH_WAIT)
    }
}

/// Bytes the spool may hold unless `--spool-max` says otherwise.
pub const DEFAULT_SPOOL_MAX: u64 = 1 << 30;

/// One spool directory per server and database, so two stores never share batches.
fn spool_name(url: &StoreUrl) -> String {
    format!("{}_{}_{}", url.host, url.port, url.database)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `512M`, `2G`, `1048576`: bytes.
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        Some((i, 't' | 'T')) => (&t[..i], 1 << 40),
        _ => (t, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a size such as 512M, 2G or 1048576".to_owned())?;
    let bytes = n.checked_mul(mult).ok_or("too large")?;
    if bytes < 4 << 10 {
        return Err("the spool needs at least 4K".into());
    }
    Ok(bytes)
}

/// Waits for a spooled store to hand over what it holds and says where the batches went;
/// true when nothing waits in the spool.
pub fn finish_writes(store: Option<DynStore>, within: std::time::Duration) -> bool {
    let Some(mut store) = store else {
        return true;
    };
    let empty = store.flush(within);
    if let Some(line) = store.write_summary() {
        eprintln!("{line}");
    }
    if !empty {
        eprintln!(
            "warning: {} is not taking batches; they stay in the spool and go in first on the next ingest, sniff or dnstap run with this store",
            store.location()
        );
    }
    empty
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("1048576"), Ok(1 << 20));
        assert_eq!(super::parse_size("512M"), Ok(512 << 20));
        assert_eq!(super::parse_size("2g"), Ok(2 << 30));
        assert_eq!(super::parse_size("4k"), Ok(4096));
        for bad in ["", "x", "1k", "4000", "-1M", "99999999999T"] {
            assert!(super::parse_size(bad).is_err(), "{bad}");
        }
    }
}
