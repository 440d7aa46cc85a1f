//! The TOML configuration file: the same keys as the global and common options.
//!
//! ```toml
//! data_dir = "/var/lib/dnsrecall"   # or: store = "sqlite:/var/lib/dnsrecall/dnsrecall.db"
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
use dnsrecall_store::SqliteStore;

use crate::{Cli, usage};

#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: Option<PathBuf>,
    pub store: Option<String>,
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

/// Where the embedded store lives: (database file, data directory for side files).
pub fn store_location(cli: &Cli, config: &Config) -> Result<(PathBuf, PathBuf)> {
    let env_dir = std::env::var_os("DNSRECALL_DATA_DIR").map(PathBuf::from);
    if let Some(dir) = cli.data_dir.clone().or(env_dir) {
        return Ok((dir.join(dnsrecall_store::DB_FILE), dir));
    }
    if let Some(url) = cli.store.as_ref().or(config.store.as_ref()) {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let file = PathBuf::from(path.trim_start_matches("//"));
            let dir = file
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            return Ok((file, dir));
        }
        if url.starts_with("clickhouse:") {
            return Err(usage(format!(
                "--store {url}: the ClickHouse backend is not in this build yet; use sqlite:PATH or --data-dir"
            )));
        }
        return Err(usage(format!("--store {url:?}: expected sqlite:PATH")));
    }
    if let Some(dir) = &config.data_dir {
        return Ok((dir.join(dnsrecall_store::DB_FILE), dir.clone()));
    }
    let base = dirs::data_dir().context("no platform data directory: give --data-dir")?;
    let dir = base.join("dnsrecall");
    Ok((dir.join(dnsrecall_store::DB_FILE), dir))
}

pub fn open_store(cli: &Cli, config: &Config) -> Result<(SqliteStore, PathBuf)> {
    let (file, dir) = store_location(cli, config)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let store =
        SqliteStore::open(&file).with_context(|| format!("opening store {}", file.display()))?;
    Ok((store, dir))
}
