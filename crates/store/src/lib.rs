//! The dnsrecall store: tuples, negative answers, client sightings and ingest checkpoints.
//!
//! [`SqliteStore`] is the embedded default: one SQLite file in WAL mode. Its layout
//! (`docs/spec-store.md`) makes every query form of the query language an index range
//! scan. A batch from the aggregator is written in one transaction together with the
//! checkpoints of the input it came from ([`Batch`]), so a crash loses nothing and counts
//! nothing twice.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod admin;
mod backend;
mod codec;
mod grams;
mod read;
mod scan;
mod schema;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub use admin::{PruneStats, StoreStats};
pub use backend::{DynStore, Store, Visit};
pub use codec::address_key;
pub use read::{
    ClientRow, NameSelector, NegativeRow, QueryStats, Selector, Sort, TimeFence, TupleFilter,
    TupleRow, TypeSet,
};
pub use scan::NameTotal;
pub use schema::SCHEMA_VERSION;
pub use write::{Batch, Checkpoint, WriteStats};

/// Name of the database file inside a data directory.
pub const DB_FILE: &str = "dnsrecall.db";

pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, rustc_hash::FxBuildHasher>;

/// Names cached in memory for id lookups while writing; beyond this the cache is cleared.
const NAME_CACHE_MAX: usize = 1 << 18;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store schema version {found} is newer than this dnsrecall supports ({supported})")]
    TooNew { found: i64, supported: i64 },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error("sqlite write failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Another backend (ClickHouse) failed.
    #[error("{0}")]
    Backend(String),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("sqlite query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Invalid(String),
    /// Another backend (ClickHouse) failed.
    #[error("{0}")]
    Backend(String),
}

/// Copies the write-ahead log into the database file from its own thread and connection,
/// so a bulk writer does not stop at every commit to do it (see
/// [`SqliteStore::checkpoint_in_background`]).
struct Checkpointer {
    /// Dropping it wakes the thread and ends it.
    stop: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The embedded store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    name_ids: FxHashMap<String, i64>,
    sensor_ids: FxHashMap<Arc<str>, i64>,
    checkpointer: Option<Checkpointer>,
    gram_tails: grams::Tails,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the store in a data directory.
    ///
    /// # Errors
    /// When the directory cannot be created, the file cannot be opened, or the schema is
    /// newer than this build.
    pub fn open_dir(dir: &Path) -> Result<Self, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        Self::open(&dir.join(DB_FILE))
    }

    /// Opens (creating and migrating as needed) the store file at `path`.
    ///
    /// # Errors
    /// As [`SqliteStore::open_dir`].
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // WAL: readers (queries, the HTTP API) never block the writer. NORMAL sync keeps
        // every committed transaction across a process crash; only an OS crash or power
        // loss can take back the last transactions, never corrupt the file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -65_536)?; // 64 MiB
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        register_functions(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            name_ids: FxHashMap::default(),
            sensor_ids: FxHashMap::default(),
            checkpointer: None,
            gram_tails: grams::Tails::default(),
        })
    }

    /// For bulk writers: a second connection on its own thread checkpoints the write-ahead
    /// log (passively: it never blocks the writer), and this connection gets a larger page
    /// cache (64 MiB). Stops when the store is dropped.
    ///
    /// # Errors
    /// When the second connection cannot be opened.
    pub fn checkpoint_in_background(&mut self) -> Result<(), OpenError> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        self.conn.pragma_update(None, "cache_size", -65_536)?; // 64 MiB
        let other = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        other.busy_timeout(std::time::Duration::from_millis(100))?;
        let (stop, wake) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                let tick = std::time::Duration::from_millis(250);
                while let Err(RecvTimeoutError::Timeout) = wake.recv_timeout(tick) {
                    if let Err(e) =
                        other.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!("background checkpoint: {e}");
                    }
                }
                // Leave a short log behind for readers that open next.
                let _ = other.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            })
            .map_err(OpenError::Thread)?;
        self.checkpointer = Some(Checkpointer {
            stop: Some(stop),
            handle: Some(handle),
        });
        Ok(())
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw connection, for tests that look at query plans.
    #[doc(hidden)]
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Sets this connection's page cache (readers that run many at once, like the HTTP
    /// server's pool, want less than the 64 MiB a writer gets).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn set_cache_mib(&self, mib: u32) -> Result<(), QueryError> {
        self.conn
            .pragma_update(None, "cache_size", -i64::from(mib) * 1024)?;
        Ok(())
    }

    /// Checks the store can be read (for health checks).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn ping(&self) -> Result<(), QueryError> {
        self.conn
            .query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0))?;
        Ok(())
    }

    /// A value from the `meta` table.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, QueryError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Stores a value in the `meta` table.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn meta_set(&self, key: &str, value: &[u8]) -> Result<(), WriteError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![key, value],
        )?;
        Ok(())
    }
}

fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "rev_labels",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let s: String = ctx.get(0)?;
            Ok(dnsrecall_model::reverse_labels(&s))
        },
    )
}
