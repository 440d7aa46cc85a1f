//! The ClickHouse store behind the commands' [`Store`] trait, directly
//! ([`ClickHouseStore`]: reads, and writes that fail when the server is away) or with a
//! spool in front of its writes ([`SpooledStore`]: what `ingest`, `sniff` and `dnstap`
//! use, so nothing is lost while the server is down or slow).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use dnsrecall_model::ClientId;
use dnsrecall_store::{
    Batch, Checkpoint, ClientRow, NameTotal, NegativeRow, PruneStats, QueryError, QueryStats,
    Selector, Sort, Store, StoreStats, TupleFilter, TupleRow, Visit, WriteError, WriteStats,
};

use crate::spool::{
    BackgroundSpool, BatchSink, Spool, SpoolConfig, SpoolError, SpoolStats, Submitted,
};
use crate::{BatchId, ClickHouseStore, Error, SCHEMA_VERSION, StoreUrl};

fn read_err(e: Error) -> QueryError {
    match e {
        Error::Invalid(m) => QueryError::Invalid(m),
        e => QueryError::Backend(e.to_string()),
    }
}

fn write_err(e: impl std::fmt::Display) -> WriteError {
    WriteError::Backend(e.to_string())
}

impl Store for ClickHouseStore {
    fn location(&self) -> String {
        self.url().to_string()
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<WriteStats, WriteError> {
        ClickHouseStore::write_batch(self, batch).map_err(write_err)
    }

    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, QueryError> {
        ClickHouseStore::checkpoint(self, source).map_err(read_err)
    }

    fn for_each_tuple(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, TupleRow>,
    ) -> Result<QueryStats, QueryError> {
        ClickHouseStore::for_each_tuple(self, sel, filter, f).map_err(read_err)
    }

    fn query_tuples(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<TupleRow>, bool), QueryError> {
        ClickHouseStore::query_tuples(self, sel, filter, sort, offset, limit).map_err(read_err)
    }

    fn for_each_client(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, ClientRow>,
    ) -> Result<QueryStats, QueryError> {
        ClickHouseStore::for_each_client(self, sel, filter, f).map_err(read_err)
    }

    fn for_each_client_id(
        &mut self,
        ids: &[ClientId],
        filter: &TupleFilter,
        f: Visit<'_, ClientRow>,
    ) -> Result<QueryStats, QueryError> {
        ClickHouseStore::for_each_client_id(self, ids, filter, f).map_err(read_err)
    }

    fn for_each_negative(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, NegativeRow>,
    ) -> Result<QueryStats, QueryError> {
        ClickHouseStore::for_each_negative(self, sel, filter, f).map_err(read_err)
    }

    fn for_each_name(&self, f: &mut dyn FnMut(&str) -> ControlFlow<()>) -> Result<u64, QueryError> {
        ClickHouseStore::for_each_name(self, f).map_err(read_err)
    }

    fn top_names(
        &self,
        since: Option<i64>,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        ClickHouseStore::top_names(self, since, limit, keep).map_err(read_err)
    }

    fn new_names(
        &self,
        since: i64,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        ClickHouseStore::new_names(self, since, limit, keep).map_err(read_err)
    }

    fn stats(&self) -> Result<StoreStats, QueryError> {
        ClickHouseStore::stats(self).map_err(read_err)
    }

    fn prune(
        &mut self,
        older_than: Option<i64>,
        clients_older_than: Option<i64>,
    ) -> Result<PruneStats, WriteError> {
        ClickHouseStore::prune(self, older_than, clients_older_than).map_err(write_err)
    }

    fn compact(&mut self) -> Result<(u64, u64), WriteError> {
        ClickHouseStore::compact(self).map_err(write_err)
    }

    fn ping(&self) -> Result<(), QueryError> {
        ClickHouseStore::ping(self).map_err(read_err)
    }
}

/// The store behind a spool: before its first write it makes sure the schema is there
/// (creating it in an empty database), so a sensor started while ClickHouse is away
/// spools, and writes once the server is back.
#[derive(Debug)]
struct SchemaSink {
    store: ClickHouseStore,
    ready: bool,
}

impl BatchSink for SchemaSink {
    fn write(&mut self, id: &BatchId, batch: &Batch) -> Result<(), Error> {
        if !self.ready {
            ensure_schema(&self.store)?;
            self.ready = true;
        }
        self.store.write_batch_with_id(id, batch).map(|_| ())
    }
}

/// Creates the schema in a database without one; refuses an older one (upgrades are
/// `dnsrecall migrate`, run by the operator) or a newer one.
///
/// # Errors
/// When the server fails or the schema is not this build's.
pub fn ensure_schema(store: &ClickHouseStore) -> Result<(), Error> {
    match store.schema_version()? {
        0 => store.migrate().map(|_| ()),
        v if v == SCHEMA_VERSION => Ok(()),
        _ => store.check(),
    }
}

/// How long a file ingest waits for an unreachable server to tell where an input stands.
const CHECKPOINT_PATIENCE: Duration = Duration::from_secs(60);

/// How the spool in front of a [`SpooledStore`] runs.
enum SpoolKind {
    /// In the writer's thread: a batch goes straight in while the server answers
    /// (file ingest, [`crate::spool::WhenFull::Block`]).
    Foreground(Box<Spool<SchemaSink>>),
    /// Every batch through the spool directory, fed to the server by its own thread
    /// (live capture, [`crate::spool::WhenFull::DropNewest`]).
    Background(BackgroundSpool),
}

/// A ClickHouse store whose writes go through a bounded on-disk spool; reads go to the
/// server directly.
pub struct SpooledStore {
    reader: ClickHouseStore,
    spool: SpoolKind,
    dir: PathBuf,
}

impl std::fmt::Debug for SpooledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpooledStore")
            .field("url", self.reader.url())
            .field("spool", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SpooledStore {
    /// A spool in the caller's thread in front of the store at `url` (file ingest).
    /// The server need not answer yet: batches wait in the spool until it does.
    ///
    /// # Errors
    /// When the spool directory cannot be created or read.
    pub fn foreground(url: &StoreUrl, cfg: SpoolConfig) -> Result<Self, SpoolError> {
        let dir = cfg.dir.clone();
        Ok(Self {
            reader: ClickHouseStore::connect(url, crate::DEFAULT_TIMEOUT),
            spool: SpoolKind::Foreground(Box::new(Spool::open(sink(url), cfg)?)),
            dir,
        })
    }

    /// A spool with its own writer thread in front of the store at `url` (live capture).
    /// The server need not answer yet: batches wait in the spool until it does.
    ///
    /// # Errors
    /// When the spool directory cannot be created or read, or the thread cannot start.
    pub fn background(url: &StoreUrl, cfg: SpoolConfig) -> Result<Self, SpoolError> {
        let dir = cfg.dir.clone();
        Ok(Self {
            reader: ClickHouseStore::connect(url, crate::DEFAULT_TIMEOUT),
            spool: SpoolKind::Background(BackgroundSpool::start(sink(url), cfg)?),
            dir,
        })
    }

    /// Where the batches went so far.
    #[must_use]
    pub fn spool_stats(&self) -> SpoolStats {
        match &self.spool {
            SpoolKind::Foreground(s) => s.stats(),
            SpoolKind::Background(s) => s.stats(),
        }
    }

    /// Spooled batches not yet in the store, and their bytes.
    #[must_use]
    pub fn pending(&self) -> (usize, u64) {
        match &self.spool {
            SpoolKind::Foreground(s) => s.pending(),
            SpoolKind::Background(s) => s.pending(),
        }
    }

    fn spooled_checkpoint(&self, source: &str) -> Option<Checkpoint> {
        let files = match &self.spool {
            SpoolKind::Foreground(s) => s.pending_files(),
            SpoolKind::Background(s) => s.pending_files(),
        };
        crate::spool::latest_checkpoint(&files, source)
    }
}

/// The writer's own handle: a connection per exchange (see `ClickHouseStore::connect_writer`).
fn sink(url: &StoreUrl) -> SchemaSink {
    SchemaSink {
        store: ClickHouseStore::connect_writer(url, crate::DEFAULT_TIMEOUT),
        ready: false,
    }
}

impl Store for SpooledStore {
    fn location(&self) -> String {
        self.reader.url().to_string()
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<WriteStats, WriteError> {
        let submitted = match &mut self.spool {
            SpoolKind::Foreground(s) => s.submit(batch),
            SpoolKind::Background(s) => s.submit(batch),
        }
        .map_err(write_err)?;
        Ok(match submitted {
            // Rows, not keys: ClickHouse cannot tell new keys from updated ones.
            Submitted::Written | Submitted::Spooled => WriteStats {
                tuples_new: batch.tuples.len() as u64,
                negatives_new: batch.negatives.len() as u64,
                clients_new: batch.clients.len() as u64,
                ..WriteStats::default()
            },
            Submitted::Dropped => WriteStats::default(),
        })
    }

    /// The newest checkpoint of a batch still in the spool, else the server's: a batch
    /// spooled but not yet stored has already been read from its file. An unreachable
    /// server is asked again for a while (a sensor may start before ClickHouse).
    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, QueryError> {
        if let Some(c) = self.spooled_checkpoint(source) {
            return Ok(Some(c));
        }
        let start = std::time::Instant::now();
        let mut wait = Duration::from_millis(200);
        loop {
            match ClickHouseStore::checkpoint(&self.reader, source) {
                Ok(c) => return Ok(c),
                Err(Error::Transport(e)) if start.elapsed() < CHECKPOINT_PATIENCE => {
                    tracing::warn!(
                        error = %e,
                        source,
                        "clickhouse unreachable: waiting for it to read where this input stands"
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(Error::Transport(e)) => {
                    return Err(QueryError::Backend(format!(
                        "clickhouse unreachable for {} s, so where {source} stands is unknown: {e}",
                        CHECKPOINT_PATIENCE.as_secs()
                    )));
                }
                Err(e) => return Err(read_err(e)),
            }
        }
    }

    fn for_each_tuple(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, TupleRow>,
    ) -> Result<QueryStats, QueryError> {
        Store::for_each_tuple(&mut self.reader, sel, filter, f)
    }

    fn query_tuples(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<TupleRow>, bool), QueryError> {
        Store::query_tuples(&mut self.reader, sel, filter, sort, offset, limit)
    }

    fn for_each_client(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, ClientRow>,
    ) -> Result<QueryStats, QueryError> {
        Store::for_each_client(&mut self.reader, sel, filter, f)
    }

    fn for_each_client_id(
        &mut self,
        ids: &[ClientId],
        filter: &TupleFilter,
        f: Visit<'_, ClientRow>,
    ) -> Result<QueryStats, QueryError> {
        Store::for_each_client_id(&mut self.reader, ids, filter, f)
    }

    fn for_each_negative(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, NegativeRow>,
    ) -> Result<QueryStats, QueryError> {
        Store::for_each_negative(&mut self.reader, sel, filter, f)
    }

    fn for_each_name(&self, f: &mut dyn FnMut(&str) -> ControlFlow<()>) -> Result<u64, QueryError> {
        Store::for_each_name(&self.reader, f)
    }

    fn top_names(
        &self,
        since: Option<i64>,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        Store::top_names(&self.reader, since, limit, keep)
    }

    fn new_names(
        &self,
        since: i64,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        Store::new_names(&self.reader, since, limit, keep)
    }

    fn stats(&self) -> Result<StoreStats, QueryError> {
        Store::stats(&self.reader)
    }

    fn prune(
        &mut self,
        older_than: Option<i64>,
        clients_older_than: Option<i64>,
    ) -> Result<PruneStats, WriteError> {
        Store::prune(&mut self.reader, older_than, clients_older_than)
    }

    fn compact(&mut self) -> Result<(u64, u64), WriteError> {
        Store::compact(&mut self.reader)
    }

    fn ping(&self) -> Result<(), QueryError> {
        Store::ping(&self.reader)
    }

    fn flush(&mut self, within: Duration) -> bool {
        match &mut self.spool {
            SpoolKind::Foreground(s) => s.flush(within).unwrap_or_else(|e| {
                tracing::error!(error = %e, "spool flush failed");
                false
            }),
            SpoolKind::Background(s) => s.flush(within),
        }
    }

    fn write_summary(&self) -> Option<String> {
        let s = self.spool_stats();
        let (files, bytes) = self.pending();
        let batches = |n: u64| format!("{n} batch{}", if n == 1 { "" } else { "es" });
        let mut line = format!(
            "clickhouse: {} stored at once, {} spooled, {} replayed from the spool",
            batches(s.written),
            s.spooled,
            s.replayed
        );
        if s.failures > 0 {
            line.push_str(&format!(", {} failed attempts", s.failures));
        }
        if s.dropped > 0 {
            line.push_str(&format!(
                ", {} DROPPED with {} tuples (spool full)",
                batches(s.dropped),
                s.dropped_tuples
            ));
        }
        if s.unreadable > 0 {
            line.push_str(&format!(
                ", {} unreadable spool files set aside",
                s.unreadable
            ));
        }
        if files > 0 {
            line.push_str(&format!(
                "; {} ({bytes} bytes) still spooled in {}: they go in on the next run",
                batches(files as u64),
                self.dir.display()
            ));
        }
        Some(line)
    }
}
