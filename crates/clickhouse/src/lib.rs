//! The dnsrecall ClickHouse store: the scale-out backend behind the same write and read
//! API as [`dnsrecall_store::SqliteStore`], plus a bounded on-disk [`spool`] for when the
//! server is away.
//!
//! # Talking to the server
//! Plain HTTP (`ureq`), TabSeparated in both directions. Debian ships ClickHouse 18.16,
//! which has no bound query parameters: every value in SQL text is an escaped literal
//! (`sql::lit`, ASCII only, unit-tested), every value in an INSERT body an escaped TSV
//! field. Names and rdata come from attackers; nothing of theirs is ever spliced raw.
//! URL form: `clickhouse://[user:pass@]host:port/database[?cluster=NAME]` ([`StoreUrl`]).
//!
//! # Schema (see `docs/deploy-clickhouse.md`)
//! Sensors insert plain rows into `Null` landing tables (`tuples_in`, `answers_in`,
//! `negatives_in`, `clients_in`, `client_index_in`); one materialized view per landing
//! table turns each insert into `minState`/`maxState`/`sumState` rows of an
//! `AggregatingMergeTree` table, which the engine merges in the background:
//!
//! * `tuples`: ordered by `(rev_name, rrname, rrtype, rdata_key, target, rdata, sensor)`:
//!   exact names and `*.x` are primary-key ranges on the label-reversed name;
//! * `tuples_by_answer`: ordered by `(answer_kind, answer, rrname, ...)`: A/AAAA address
//!   ranges (4 or 16 address bytes) and rdata target names (label-reversed);
//! * `negatives`, `clients` (by query name) and `clients_by_client` (by client);
//! * all partitioned by month (`toYYYYMM` of the row's `time_last`), so retention drops
//!   whole partitions;
//! * `checkpoints` (file offsets, `ReplacingMergeTree` by version); `receipts` holds the
//!   receipts of schema version 1 only.
//!
//! **Why AggregatingMergeTree**: the merge of a tuple is exactly min/max/sum(/max ttl), and
//! those are associative: the engine folds batches and sensors into one row per key and
//! sensor as it merges parts, so storage grows with distinct keys, not with sightings.
//! A read still aggregates (`minMerge`, ...) over the parts not merged yet, which is cheap
//! and always exact. `ReplacingMergeTree` would need a read-modify-write per batch (or
//! `FINAL` on every read) to add counts, and `SummingMergeTree` cannot take min and max.
//! The states run on 18.16 and on current releases alike (`SimpleAggregateFunction`,
//! smaller, is 19.8+); every plain column is in the sorting key, which current releases
//! require of an AggregatingMergeTree. The same DDL and queries were checked on ClickHouse
//! 26.9 (`examples/release_check.rs`, `scripts/check-current-release.py`).
//!
//! **Sensors**: `sensor` (empty for none) is part of every key: rows of one key from
//! several sensors merge at read time, as SQLite's read path does.
//!
//! **Exactly once**: every batch has a [`BatchId`], and is written as one INSERT per
//! landing table and month. Each INSERT ends with a receipt row (empty name, the batch id
//! in a key column) that goes through the same view into the same part as the rows: a
//! part is committed whole or not at all, so rows and receipt are in together or not at
//! all. Before a retry, a batch looks up its receipts and skips the INSERTs already in, so
//! a batch retried after a lost answer, a refused INSERT or a server killed in the middle
//! counts once (see [`ClickHouseStore::write_batch_with_id`]). Reads leave receipt rows
//! out by their empty name.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod admin;
mod backend;
mod http;
pub mod local_server;
mod read;
mod scan;
mod schema;
pub mod spool;
mod sql;
mod write;

use std::time::Duration;

pub use admin::prune_cutoff_month;
pub use backend::{SpooledStore, ensure_schema};
pub use schema::SCHEMA_VERSION;
pub use write::{BatchId, insert_statements, month_of, receipts_sql};

/// Default time limit of one HTTP exchange with the server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("bad store URL: {0}")]
    Url(String),
    /// The server could not be reached or the exchange broke off: worth a retry.
    #[error("clickhouse unreachable: {0}")]
    Transport(String),
    /// The server answered with an error.
    #[error("clickhouse error (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    /// The server's answer did not have the expected shape.
    #[error("unexpected answer from clickhouse: {0}")]
    Protocol(String),
    #[error("store schema version {found} is newer than this dnsrecall supports ({supported})")]
    TooNew { found: u32, supported: u32 },
    #[error("store schema version {found} is older than this build's ({supported}): run migrate")]
    TooOld { found: u32, supported: u32 },
    /// The query cannot be asked (as [`dnsrecall_store::QueryError::Invalid`]).
    #[error("{0}")]
    Invalid(String),
}

/// A parsed `clickhouse://[user:pass@]host:port/database[?cluster=NAME]`.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl {
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub cluster: Option<String>,
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

/// Without the password.
impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("clickhouse://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        write!(f, "{}:{}/{}", self.host, self.port, self.database)?;
        if let Some(c) = &self.cluster {
            write!(f, "?cluster={c}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::Url(format!(
                "{why} (want clickhouse://[user:pass@]host:port/database[?cluster=NAME])"
            ))
        };
        let rest = s
            .strip_prefix("clickhouse://")
            .ok_or_else(|| bad("not a clickhouse:// URL"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        let (user, password) = match auth {
            None => (None, None),
            Some(a) => {
                let (u, p) = match a.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (a, None),
                };
                let dec = |x: &str| sql::url_decode(x).ok_or_else(|| bad("bad %-escape"));
                (Some(dec(u)?), p.map(dec).transpose()?)
            }
        };
        let (hostport, database) = rest.split_once('/').ok_or_else(|| bad("no /database"))?;
        let (host, port) = hostport.rsplit_once(':').ok_or_else(|| bad("no :port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(bad("bad host"));
        }
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        if !sql::is_identifier(database) {
            return Err(bad(
                "the database must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)",
            ));
        }
        let mut cluster = None;
        for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("cluster", c)) if sql::is_identifier(c) => cluster = Some(c.to_owned()),
                Some(("cluster", _)) => return Err(bad("the cluster must be a plain identifier")),
                _ => return Err(bad(&format!("unknown parameter {kv:?}"))),
            }
        }
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        Ok(Self {
            user,
            password,
            host,
            port,
            database: database.to_owned(),
            cluster,
        })
    }
}

/// The ClickHouse store.
#[derive(Debug)]
pub struct ClickHouseStore {
    http: http::Http,
    url: StoreUrl,
}

impl ClickHouseStore {
    /// Connects, creates the database and migrates the schema to this build's version.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses the DDL, or the schema is newer.
    pub fn open(url: &StoreUrl) -> Result<Self, Error> {
        let store = Self::connect(url, DEFAULT_TIMEOUT);
        store.migrate()?;
        Ok(store)
    }

    /// A handle without any exchange with the server (see [`ClickHouseStore::check`]).
    #[must_use]
    pub fn connect(url: &StoreUrl, timeout: Duration) -> Self {
        Self {
            http: http::Http::new(url, timeout, true),
            url: url.clone(),
        }
    }

    /// A handle for a writer that sends batch after batch: a new connection per
    /// exchange, so a server told to stop is not kept busy by it (see `http.rs`).
    #[must_use]
    pub fn connect_writer(url: &StoreUrl, timeout: Duration) -> Self {
        Self {
            http: http::Http::new(url, timeout, false),
            url: url.clone(),
        }
    }

    /// Creates or migrates the schema (`dnsrecall migrate`); returns the version.
    ///
    /// # Errors
    /// When the server fails, or the stored schema is newer than this build.
    pub fn migrate(&self) -> Result<u32, Error> {
        schema::migrate(&self.http, &self.url.database, self.url.cluster.as_deref())
    }

    /// The schema version recorded in the store (0 when there is none).
    ///
    /// # Errors
    /// When the server fails.
    pub fn schema_version(&self) -> Result<u32, Error> {
        schema::version(&self.http, &self.url.database)
    }

    /// Checks the server answers and the schema is this build's.
    ///
    /// # Errors
    /// When the server fails, or the schema is missing, older or newer.
    pub fn check(&self) -> Result<(), Error> {
        let found = self.schema_version()?;
        match found.cmp(&SCHEMA_VERSION) {
            std::cmp::Ordering::Equal => Ok(()),
            std::cmp::Ordering::Less => Err(Error::TooOld {
                found,
                supported: SCHEMA_VERSION,
            }),
            std::cmp::Ordering::Greater => Err(Error::TooNew {
                found,
                supported: SCHEMA_VERSION,
            }),
        }
    }

    /// Checks the server answers (for health checks).
    ///
    /// # Errors
    /// When it does not.
    pub fn ping(&self) -> Result<(), Error> {
        self.http.select_one("SELECT 1").map(|_| ())
    }

    #[must_use]
    pub fn url(&self) -> &StoreUrl {
        &self.url
    }

    /// The DDL of every schema version, in order, as [`ClickHouseStore::migrate`] runs it
    /// (for `dnsrecall migrate --print` and for checking it on other releases).
    #[must_use]
    pub fn schema_statements(database: &str, cluster: Option<&str>) -> Vec<String> {
        (1..=SCHEMA_VERSION)
            .flat_map(|v| schema::statements(v, database, cluster))
            .collect()
    }

    /// The DDL of one schema version (for upgrade tests).
    #[doc(hidden)]
    #[must_use]
    pub fn schema_statements_of(version: u32, database: &str) -> Vec<String> {
        schema::statements(version, database, None)
    }

    /// The server's version string.
    ///
    /// # Errors
    /// When the server fails.
    pub fn server_version(&self) -> Result<String, Error> {
        Ok(self
            .http
            .select_one("SELECT version()")?
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: StoreUrl = "clickhouse://127.0.0.1:8123/pdns".parse().unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.database.as_str()),
            ("127.0.0.1", 8123, "pdns")
        );
        assert_eq!((u.user, u.password, u.cluster), (None, None, None));
        let u: StoreUrl = "clickhouse://dns:p%40ss@ch-1.example:8123/pdns?cluster=dns_cluster"
            .parse()
            .unwrap();
        assert_eq!(u.user.as_deref(), Some("dns"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.cluster.as_deref(), Some("dns_cluster"));
        assert_eq!(
            u.to_string(),
            "clickhouse://dns@ch-1.example:8123/pdns?cluster=dns_cluster"
        );
        let u: StoreUrl = "clickhouse://[::1]:8123/pdns".parse().unwrap();
        assert_eq!(u.host, "[::1]");
        for bad in [
            "http://x:1/db",
            "clickhouse://x/db",
            "clickhouse://x:1",
            "clickhouse://x:1/db;drop",
            "clickhouse://x:99999/db",
            "clickhouse://x:1/db?cluster=a b",
            "clickhouse://x:1/db?other=1",
            "clickhouse://x/y:1/db",
        ] {
            assert!(bad.parse::<StoreUrl>().is_err(), "{bad}");
        }
    }
}
