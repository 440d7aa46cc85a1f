//! The store as the commands see it: one object-safe trait that the embedded SQLite store
//! and the ClickHouse store (crate `dnsrecall-clickhouse`) both implement, so `ingest`,
//! `sniff`, `query`, `serve`, `hunt`, `report`, `prune` and `stats` run the same code on
//! either. Callbacks are `&mut dyn FnMut` so the trait stays object-safe
//! (`Box<dyn Store>`).

use std::ops::ControlFlow;
use std::time::Duration;

use dnsrecall_model::ClientId;

use crate::{
    Batch, Checkpoint, ClientRow, NameTotal, NegativeRow, PruneStats, QueryError, QueryStats,
    Selector, Sort, SqliteStore, StoreStats, TupleFilter, TupleRow, WriteError, WriteStats,
};

/// A row callback: return `Break` to stop the scan.
pub type Visit<'a, R> = &'a mut dyn FnMut(R) -> ControlFlow<()>;

/// What a store does for the commands. Reads merge a key's rows across sensors; writes
/// are all-or-nothing per batch with its checkpoints, counted once.
pub trait Store: Send {
    /// Where the store is (a file path or a URL without its password), for messages.
    fn location(&self) -> String;

    /// Writes a batch with its checkpoints.
    ///
    /// # Errors
    /// When the batch is not (known to be) stored; it can be sent again.
    fn write_batch(&mut self, batch: &Batch) -> Result<WriteStats, WriteError>;

    /// The latest checkpoint stored for an input path.
    ///
    /// # Errors
    /// When the store cannot be read.
    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, QueryError>;

    /// Streams merged tuples in natural order until the callback breaks.
    ///
    /// # Errors
    /// When the selector is invalid or the store fails.
    fn for_each_tuple(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, TupleRow>,
    ) -> Result<QueryStats, QueryError>;

    /// A sorted page of tuples; the flag says whether rows beyond it matched.
    ///
    /// # Errors
    /// When the selector is invalid or the store fails.
    fn query_tuples(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<TupleRow>, bool), QueryError>;

    /// Streams merged client sightings by query name or client range.
    ///
    /// # Errors
    /// When the selector does not apply or the store fails.
    fn for_each_client(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, ClientRow>,
    ) -> Result<QueryStats, QueryError>;

    /// Streams merged client sightings of exactly these stored clients.
    ///
    /// # Errors
    /// When the store fails.
    fn for_each_client_id(
        &mut self,
        ids: &[ClientId],
        filter: &TupleFilter,
        f: Visit<'_, ClientRow>,
    ) -> Result<QueryStats, QueryError>;

    /// Streams merged negative answers for a name selector.
    ///
    /// # Errors
    /// When the selector does not apply or the store fails.
    fn for_each_negative(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, NegativeRow>,
    ) -> Result<QueryStats, QueryError>;

    /// Every stored name (query names and names inside answers), each once.
    ///
    /// # Errors
    /// When the store fails.
    fn for_each_name(&self, f: &mut dyn FnMut(&str) -> ControlFlow<()>) -> Result<u64, QueryError>;

    /// Names by total count since `since`, most first, those `keep` accepts.
    ///
    /// # Errors
    /// When the store fails.
    fn top_names(
        &self,
        since: Option<i64>,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError>;

    /// Names first seen at or after `since`, newest first, those `keep` accepts.
    ///
    /// # Errors
    /// When the store fails.
    fn new_names(
        &self,
        since: i64,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError>;

    /// Sizes and counts of the whole store.
    ///
    /// # Errors
    /// When the store fails.
    fn stats(&self) -> Result<StoreStats, QueryError>;

    /// Deletes what was last seen before the cut-offs.
    ///
    /// # Errors
    /// When the store fails.
    fn prune(
        &mut self,
        older_than: Option<i64>,
        clients_older_than: Option<i64>,
    ) -> Result<PruneStats, WriteError>;

    /// Packs the store; returns its size before and after, in bytes.
    ///
    /// # Errors
    /// When the store fails.
    fn compact(&mut self) -> Result<(u64, u64), WriteError>;

    /// Checks the store answers (health checks).
    ///
    /// # Errors
    /// When it does not.
    fn ping(&self) -> Result<(), QueryError>;

    /// Sizes this handle's cache for a pool of many readers (a no-op where it means
    /// nothing).
    ///
    /// # Errors
    /// When the store fails.
    fn set_cache_mib(&self, _mib: u32) -> Result<(), QueryError> {
        Ok(())
    }

    /// Readies the handle for a long run of writes (SQLite: a background WAL checkpointer).
    fn prepare_bulk_writes(&mut self) {}

    /// Waits up to `within` for writes accepted but not yet in the store (a spool) to
    /// reach it. True when nothing is left waiting.
    fn flush(&mut self, _within: Duration) -> bool {
        true
    }

    /// A line on where the batches went, when that is worth telling (a spool's counts).
    fn write_summary(&self) -> Option<String> {
        None
    }
}

/// A store of either kind.
pub type DynStore = Box<dyn Store>;

impl Store for SqliteStore {
    fn location(&self) -> String {
        self.path().display().to_string()
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<WriteStats, WriteError> {
        SqliteStore::write_batch(self, batch)
    }

    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, QueryError> {
        SqliteStore::checkpoint(self, source)
    }

    fn for_each_tuple(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, TupleRow>,
    ) -> Result<QueryStats, QueryError> {
        SqliteStore::for_each_tuple(self, sel, filter, f)
    }

    fn query_tuples(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<TupleRow>, bool), QueryError> {
        SqliteStore::query_tuples(self, sel, filter, sort, offset, limit)
    }

    fn for_each_client(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, ClientRow>,
    ) -> Result<QueryStats, QueryError> {
        SqliteStore::for_each_client(self, sel, filter, f)
    }

    fn for_each_client_id(
        &mut self,
        ids: &[ClientId],
        filter: &TupleFilter,
        f: Visit<'_, ClientRow>,
    ) -> Result<QueryStats, QueryError> {
        SqliteStore::for_each_client_id(self, ids, filter, f)
    }

    fn for_each_negative(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: Visit<'_, NegativeRow>,
    ) -> Result<QueryStats, QueryError> {
        SqliteStore::for_each_negative(self, sel, filter, f)
    }

    fn for_each_name(&self, f: &mut dyn FnMut(&str) -> ControlFlow<()>) -> Result<u64, QueryError> {
        SqliteStore::for_each_name(self, f)
    }

    fn top_names(
        &self,
        since: Option<i64>,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        SqliteStore::top_names(self, since, limit, keep)
    }

    fn new_names(
        &self,
        since: i64,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        SqliteStore::new_names(self, since, limit, keep)
    }

    fn stats(&self) -> Result<StoreStats, QueryError> {
        SqliteStore::stats(self)
    }

    fn prune(
        &mut self,
        older_than: Option<i64>,
        clients_older_than: Option<i64>,
    ) -> Result<PruneStats, WriteError> {
        SqliteStore::prune(self, older_than, clients_older_than)
    }

    fn compact(&mut self) -> Result<(u64, u64), WriteError> {
        SqliteStore::compact(self)
    }

    fn ping(&self) -> Result<(), QueryError> {
        SqliteStore::ping(self)
    }

    fn set_cache_mib(&self, mib: u32) -> Result<(), QueryError> {
        SqliteStore::set_cache_mib(self, mib)
    }

    fn prepare_bulk_writes(&mut self) {
        if let Err(e) = self.checkpoint_in_background() {
            tracing::warn!("no background checkpoints ({e}): commits will checkpoint themselves");
        }
    }
}
