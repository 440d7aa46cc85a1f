//! Live watching of every record on its way into the store: threat-intel matching
//! (alerts) and exclusion lists. A collector installs one factory at start
//! ([`install`]); every [`crate::Aggregator`] made afterwards (log ingest, capture,
//! dnstap) gets its own watcher from it, so every source is watched the same way.

use std::sync::{Arc, OnceLock};

use dnsrecall_model::Record;

/// Sees each record before it is folded in.
pub trait Watch: Send + std::fmt::Debug {
    /// Returns `false` to keep the record out of the store (an exclusion list matched).
    fn observe(&mut self, rec: &Record) -> bool;
}

/// Makes a watcher for each aggregator.
pub type WatchFactory = Arc<dyn Fn() -> Box<dyn Watch> + Send + Sync>;

static FACTORY: OnceLock<WatchFactory> = OnceLock::new();

/// Installs the process's watcher factory; `false` when one was installed already.
pub fn install(factory: WatchFactory) -> bool {
    FACTORY.set(factory).is_ok()
}

pub(crate) fn make() -> Option<Box<dyn Watch>> {
    FACTORY.get().map(|f| f())
}
