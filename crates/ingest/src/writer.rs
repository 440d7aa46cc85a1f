//! The store writer thread shared by every pipeline (log files, captures): it owns the
//! store and commits each batch in one transaction, in the order the batches were sent.
//!
//! The channel is a rendezvous: while a batch commits, the next one fills, and a sender
//! with a full batch waits for the writer. At most two batches exist (memory bound); a
//! slow store blocks the sender instead of growing memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

use dnsrecall_store::{Batch, DynStore, WriteError, WriteStats};

/// What the writer thread hands back: the store, what it wrote, and how it ended.
pub type Finished = (DynStore, WriteStats, Result<(), WriteError>);

/// A running writer thread.
#[derive(Debug)]
pub struct StoreWriter {
    tx: SyncSender<Batch>,
    handle: JoinHandle<Finished>,
}

/// The writer is gone (it failed; [`StoreWriter::finish`] says why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterGone;

impl StoreWriter {
    /// Starts the thread. `committed` counts tuples written (new or updated), for progress.
    ///
    /// # Errors
    /// When the thread cannot be started (the store is lost with it: nothing was written).
    pub fn start(mut store: DynStore, committed: Arc<AtomicU64>) -> std::io::Result<Self> {
        store.prepare_bulk_writes();
        let (tx, rx) = sync_channel::<Batch>(0);
        let handle = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let mut stats = WriteStats::default();
                for batch in rx {
                    match store.write_batch(&batch) {
                        Ok(s) => {
                            stats.add(&s);
                            committed.fetch_add(s.tuples_new + s.tuples_updated, Ordering::Relaxed);
                        }
                        Err(e) => return (store, stats, Err(e)),
                    }
                }
                (store, stats, Ok(()))
            })?;
        Ok(Self { tx, handle })
    }

    /// Queues a batch; blocks while the previous one is still being committed.
    ///
    /// # Errors
    /// When the writer stopped after a failed write.
    pub fn send(&self, batch: Batch) -> Result<(), WriterGone> {
        if batch.is_empty() {
            return Ok(());
        }
        self.tx.send(batch).map_err(|_| WriterGone)
    }

    /// Waits for the queued batches to be committed and returns the store.
    pub fn finish(self) -> Finished {
        drop(self.tx);
        match self.handle.join() {
            Ok(done) => done,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}
