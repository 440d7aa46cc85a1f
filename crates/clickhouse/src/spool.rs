//! A bounded on-disk spool in front of the store, for when ClickHouse is down or slow.
//!
//! Two forms: [`Spool`] works in the caller's thread (file ingest); [`BackgroundSpool`]
//! spools every batch and lets a writer thread feed the store, so a slow store never holds
//! up the caller (live capture). Both use the same files and rules.
//!
//! Every batch gets its [`BatchId`] when it is submitted. With [`Spool`], a batch goes
//! straight to the store while the spool is empty and the store answers; otherwise it is
//! written to a file in `--spool-dir` (`<seq>-<nonce>.batch`, JSON, written to a temporary
//! name, synced and renamed, so a crash leaves either the whole file or none). Files are
//! replayed in name order (= submission order), oldest first, with exponential back-off
//! between failed attempts; a file is deleted only after the store took the batch. A replay after a lost
//! answer sends the same id again, which the store counts once
//! ([`ClickHouseStore::write_batch_with_id`]).
//!
//! The spool holds at most `max_bytes` of files. When a batch does not fit, [`WhenFull`]
//! says who pays: the caller waits ([`WhenFull::Block`], for file ingest: the input waits
//! on disk and its checkpoint does not move), or the batch is dropped and counted
//! ([`WhenFull::DropNewest`], for live capture, where waiting would drop packets in the
//! kernel instead, uncounted). A batch larger than the whole bound is still spooled when
//! the spool is empty (never a deadlock).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dnsrecall_model::{
    ClientId, ClientKey, Name, NegativeKey, Rcode, Rdata, RrType, TupleKey, TupleValue,
};
use dnsrecall_store::{Batch, Checkpoint};

use crate::sql::{hex, unhex};
use crate::{BatchId, ClickHouseStore, Error};

/// What happens to a batch that does not fit in a full spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// The caller waits until the store takes enough spooled batches (file ingest).
    Block,
    /// The new batch is dropped, counted in [`SpoolStats`] and logged (live capture).
    DropNewest,
}

/// Where the spool lives and how it behaves.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub when_full: WhenFull,
    /// First wait after a failed attempt; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Spooled batches replayed at most per [`Spool::submit`] (so a live capture is not
    /// held up long); [`Spool::flush`] replays all.
    pub replay_per_submit: usize,
}

impl SpoolConfig {
    #[must_use]
    pub fn new(dir: PathBuf, max_bytes: u64, when_full: WhenFull) -> Self {
        Self {
            dir,
            max_bytes,
            when_full,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            replay_per_submit: 16,
        }
    }
}

/// Where the batches went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Batches the store took at once.
    pub written: u64,
    /// Batches written to the spool.
    pub spooled: u64,
    /// Spooled batches the store took later.
    pub replayed: u64,
    /// Batches dropped by [`WhenFull::DropNewest`], and their tuples.
    pub dropped: u64,
    pub dropped_tuples: u64,
    /// Spool files that could not be read back (renamed to `*.bad`).
    pub unreadable: u64,
    /// Failed attempts to write to the store.
    pub failures: u64,
}

/// What [`Spool::submit`] did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    Written,
    Spooled,
    Dropped,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(#[from] Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where batches go: the store, or a fake in tests.
pub trait BatchSink {
    /// Writes a batch; the same id written again must count once.
    ///
    /// # Errors
    /// When the batch is not (known to be) stored.
    fn write(&mut self, id: &BatchId, batch: &Batch) -> Result<(), Error>;
}

impl BatchSink for ClickHouseStore {
    fn write(&mut self, id: &BatchId, batch: &Batch) -> Result<(), Error> {
        self.write_batch_with_id(id, batch).map(|_| ())
    }
}

/// The spool and the store behind it.
#[derive(Debug)]
pub struct Spool<S> {
    sink: S,
    cfg: SpoolConfig,
    /// Spooled files, oldest first, with their sizes.
    pending: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    retry_at: Option<Instant>,
    backoff: Duration,
    stats: SpoolStats,
}

const SUFFIX: &str = "batch";

impl<S: BatchSink> Spool<S> {
    /// Opens the spool directory (creating it) and picks up the files a previous run left.
    ///
    /// # Errors
    /// When the directory cannot be created or read.
    pub fn open(sink: S, cfg: SpoolConfig) -> Result<Self, SpoolError> {
        let files = scan_dir(&cfg.dir)?;
        let bytes = files.iter().map(|(_, n)| n).sum();
        Ok(Self {
            sink,
            backoff: cfg.backoff_min,
            cfg,
            pending: files.into(),
            bytes,
            retry_at: None,
            stats: SpoolStats::default(),
        })
    }

    #[must_use]
    pub fn stats(&self) -> SpoolStats {
        self.stats
    }

    /// Spooled batches and their bytes.
    #[must_use]
    pub fn pending(&self) -> (usize, u64) {
        (self.pending.len(), self.bytes)
    }

    /// The spooled files, oldest first.
    #[must_use]
    pub fn pending_files(&self) -> Vec<PathBuf> {
        self.pending.iter().map(|(p, _)| p.clone()).collect()
    }

    #[must_use]
    pub fn sink(&self) -> &S {
        &self.sink
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    fn ready(&self) -> bool {
        self.retry_at.is_none_or(|t| Instant::now() >= t)
    }

    fn failed(&mut self, e: &Error) {
        self.stats.failures += 1;
        tracing::warn!(error = %e, retry_in_ms = self.backoff.as_millis(), pending = self.pending.len(), "clickhouse write failed: spooling");
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(self.cfg.backoff_max);
    }

    fn succeeded(&mut self) {
        self.retry_at = None;
        self.backoff = self.cfg.backoff_min;
    }

    /// Hands a batch to the store, or to the spool. Order is kept: while anything is
    /// spooled, new batches queue behind it.
    ///
    /// # Errors
    /// When the spool cannot be written (the batch is then neither stored nor spooled).
    pub fn submit(&mut self, batch: &Batch) -> Result<Submitted, SpoolError> {
        let id = BatchId::new()?;
        self.replay(self.cfg.replay_per_submit)?;
        if self.pending.is_empty() && self.ready() {
            match self.sink.write(&id, batch) {
                Ok(()) => {
                    self.succeeded();
                    self.stats.written += 1;
                    return Ok(Submitted::Written);
                }
                Err(e) => self.failed(&e),
            }
        }
        self.spool(&id, batch)
    }

    fn spool(&mut self, id: &BatchId, batch: &Batch) -> Result<Submitted, SpoolError> {
        let data = encode(id, batch);
        let size = data.len() as u64;
        let mut warned = false;
        while !self.pending.is_empty() && self.bytes + size > self.cfg.max_bytes {
            match self.cfg.when_full {
                WhenFull::DropNewest => {
                    return Ok(drop_newest(&mut self.stats, self.bytes, batch));
                }
                WhenFull::Block => {
                    if !warned {
                        warn_waiting(self.bytes);
                        warned = true;
                    }
                    if let Some(t) = self.retry_at {
                        std::thread::sleep(t.saturating_duration_since(Instant::now()));
                    }
                    self.replay(usize::MAX)?;
                }
            }
        }
        let path = write_file(&self.cfg.dir, id, &data)?;
        self.pending.push_back((path, size));
        self.bytes += size;
        self.stats.spooled += 1;
        Ok(Submitted::Spooled)
    }

    /// Replays up to `max` spooled batches, oldest first, unless backing off; stops at the
    /// first failure. Returns how many the store took.
    ///
    /// # Errors
    /// When a spool file cannot be removed.
    pub fn replay(&mut self, max: usize) -> Result<usize, SpoolError> {
        let mut done = 0;
        while done < max && self.ready() {
            let Some((path, size)) = self.pending.front().cloned() else {
                break;
            };
            let decoded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| decode(&b));
            let (id, batch) = match decoded {
                Ok(x) => x,
                Err(why) => {
                    let bad = path.with_extension("bad");
                    tracing::error!(path = %path.display(), why, "unreadable spool file: set aside as *.bad");
                    let _ = std::fs::rename(&path, &bad);
                    self.stats.unreadable += 1;
                    self.pending.pop_front();
                    self.bytes = self.bytes.saturating_sub(size);
                    continue;
                }
            };
            match self.sink.write(&id, &batch) {
                Ok(()) => {
                    self.succeeded();
                    std::fs::remove_file(&path).map_err(io(&path))?;
                    self.pending.pop_front();
                    self.bytes = self.bytes.saturating_sub(size);
                    self.stats.replayed += 1;
                    done += 1;
                }
                Err(e) => {
                    self.failed(&e);
                    break;
                }
            }
        }
        Ok(done)
    }

    /// Replays everything spooled, waiting out back-offs, until the spool is empty or
    /// `within` has passed. True when empty.
    ///
    /// # Errors
    /// When a spool file cannot be removed.
    pub fn flush(&mut self, within: Duration) -> Result<bool, SpoolError> {
        let end = Instant::now() + within;
        loop {
            self.replay(usize::MAX)?;
            if self.pending.is_empty() {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= end {
                return Ok(false);
            }
            let wake = self.retry_at.unwrap_or(now).min(end);
            std::thread::sleep(
                wake.saturating_duration_since(now)
                    .max(Duration::from_millis(10)),
            );
        }
    }
}

/// The newest checkpoint for `source` in these spool files (newest file first): where
/// reading resumes while batches already read wait in the spool. Unreadable files are
/// skipped here (replay sets them aside).
#[must_use]
pub fn latest_checkpoint(files: &[PathBuf], source: &str) -> Option<Checkpoint> {
    files.iter().rev().find_map(|path| {
        let (_, batch) = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| decode(&b))
            .ok()?;
        batch
            .checkpoints
            .into_iter()
            .rev()
            .find(|c| c.source == source)
    })
}

/// [`WhenFull::DropNewest`] on a full spool: the batch is counted and said to be dropped.
fn drop_newest(stats: &mut SpoolStats, spool_bytes: u64, batch: &Batch) -> Submitted {
    stats.dropped += 1;
    stats.dropped_tuples += batch.tuples.len() as u64;
    tracing::error!(
        dropped_batches = stats.dropped,
        dropped_tuples = stats.dropped_tuples,
        spool_bytes,
        "SPOOL FULL: clickhouse is not taking batches; dropping this batch"
    );
    Submitted::Dropped
}

/// [`WhenFull::Block`] on a full spool, said once per wait.
fn warn_waiting(spool_bytes: u64) {
    tracing::error!(
        spool_bytes,
        "SPOOL FULL: waiting for clickhouse to take spooled batches"
    );
}

/// Writes a batch file: temporary name, synced, renamed, directory synced.
fn write_file(dir: &Path, id: &BatchId, data: &[u8]) -> Result<PathBuf, SpoolError> {
    use std::io::Write as _;
    let name = format!("{:020}-{}.{SUFFIX}", id.seq, id.nonce);
    let path = dir.join(&name);
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(data).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(path)
}

/// The spool files a previous run left, oldest first (removing half-written ones).
fn scan_dir(dir: &Path) -> Result<Vec<(PathBuf, u64)>, SpoolError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let path = e.path();
        match path.extension().and_then(|x| x.to_str()) {
            Some(SUFFIX) => {
                let len = e.metadata().map_err(io(&path))?.len();
                files.push((path, len));
            }
            Some("tmp") => {
                // A write cut short: its batch was never acknowledged as spooled.
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
    files.sort();
    if !files.is_empty() {
        tracing::warn!(files = files.len(), dir = %dir.display(), "spooled batches from an earlier run: replaying them first");
    }
    Ok(files)
}

/// The spool with its own writer thread: every batch is written to the spool directory
/// first (a file write and an fsync), and the thread hands the files to the store in
/// order, with back-off while it fails. A slow or absent ClickHouse never holds up the
/// caller until the spool is full; then [`WhenFull`] decides (the caller waits, or the
/// batch is dropped and counted). This is the form for live capture; [`Spool`] writes in
/// the caller's thread and suits file ingest.
///
/// Stats: `spooled` counts the batches accepted, `replayed` those the store took.
/// Dropping it stops the thread after the write in progress; files not yet taken stay
/// in the directory for the next start.
#[derive(Debug)]
pub struct BackgroundSpool {
    shared: std::sync::Arc<Shared>,
    handle: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    state: std::sync::Mutex<State>,
    changed: std::sync::Condvar,
    cfg: SpoolConfig,
}

#[derive(Debug, Default)]
struct State {
    pending: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    stats: SpoolStats,
    stop: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl BackgroundSpool {
    /// Picks up the files of an earlier run and starts the writer thread.
    ///
    /// # Errors
    /// When the directory cannot be created or read, or the thread cannot start.
    pub fn start<S: BatchSink + Send + 'static>(
        sink: S,
        cfg: SpoolConfig,
    ) -> Result<Self, SpoolError> {
        let files = scan_dir(&cfg.dir)?;
        let state = State {
            bytes: files.iter().map(|(_, n)| n).sum(),
            pending: files.into(),
            ..State::default()
        };
        let shared = std::sync::Arc::new(Shared {
            state: std::sync::Mutex::new(state),
            changed: std::sync::Condvar::new(),
            cfg,
        });
        let worker = shared.clone();
        let handle = std::thread::Builder::new()
            .name("clickhouse-spool".into())
            .spawn(move || writer(&worker, sink))
            .map_err(|e| SpoolError::Io {
                path: shared.cfg.dir.clone(),
                source: e,
            })?;
        Ok(Self {
            shared,
            handle: Some(handle),
        })
    }

    /// Spools a batch for the writer thread (or drops it, see [`WhenFull`]).
    ///
    /// # Errors
    /// When the spool file cannot be written (the batch is then not accepted).
    pub fn submit(&self, batch: &Batch) -> Result<Submitted, SpoolError> {
        let id = BatchId::new()?;
        let data = encode(&id, batch);
        let size = data.len() as u64;
        let sh = &self.shared;
        let mut st = sh.lock();
        let mut warned = false;
        while !st.pending.is_empty() && st.bytes + size > sh.cfg.max_bytes {
            match sh.cfg.when_full {
                WhenFull::DropNewest => {
                    let bytes = st.bytes;
                    return Ok(drop_newest(&mut st.stats, bytes, batch));
                }
                WhenFull::Block => {
                    if !warned {
                        warn_waiting(st.bytes);
                        warned = true;
                    }
                    st = sh
                        .changed
                        .wait(st)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            }
        }
        // Under the lock, so files are queued in the order they were accepted.
        let path = write_file(&sh.cfg.dir, &id, &data)?;
        st.pending.push_back((path, size));
        st.bytes += size;
        st.stats.spooled += 1;
        sh.changed.notify_all();
        Ok(Submitted::Spooled)
    }

    /// Waits until the store took every spooled batch, or `within` passed. True when the
    /// spool is empty.
    #[must_use]
    pub fn flush(&self, within: Duration) -> bool {
        let end = Instant::now() + within;
        let mut st = self.shared.lock();
        while !st.pending.is_empty() {
            let now = Instant::now();
            if now >= end {
                return false;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, end - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }

    #[must_use]
    pub fn stats(&self) -> SpoolStats {
        self.shared.lock().stats
    }

    /// Spooled batches and their bytes.
    #[must_use]
    pub fn pending(&self) -> (usize, u64) {
        let st = self.shared.lock();
        (st.pending.len(), st.bytes)
    }

    /// The spooled files, oldest first.
    #[must_use]
    pub fn pending_files(&self) -> Vec<PathBuf> {
        self.shared
            .lock()
            .pending
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }
}

impl Drop for BackgroundSpool {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The writer thread: the oldest file to the store, again and again.
fn writer<S: BatchSink>(sh: &Shared, mut sink: S) {
    let mut backoff = sh.cfg.backoff_min;
    loop {
        let (path, size) = {
            let mut st = sh.lock();
            while st.pending.is_empty() && !st.stop {
                st = sh
                    .changed
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if st.stop {
                return;
            }
            match st.pending.front() {
                Some(f) => f.clone(),
                None => continue,
            }
        };
        let decoded = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| decode(&b));
        let outcome = match decoded {
            Err(why) => {
                tracing::error!(path = %path.display(), why, "unreadable spool file: set aside as *.bad");
                let _ = std::fs::rename(&path, path.with_extension("bad"));
                Some(true)
            }
            Ok((id, batch)) => match sink.write(&id, &batch) {
                Ok(()) => {
                    if let Err(e) = std::fs::remove_file(&path) {
                        // Left behind, it would be replayed (and skipped by its receipts).
                        tracing::error!(path = %path.display(), error = %e, "cannot remove a stored spool file");
                    }
                    Some(false)
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis(), "clickhouse write failed: keeping the batch spooled");
                    None
                }
            },
        };
        let mut st = sh.lock();
        match outcome {
            Some(unreadable) => {
                st.pending.pop_front();
                st.bytes = st.bytes.saturating_sub(size);
                if unreadable {
                    st.stats.unreadable += 1;
                } else {
                    st.stats.replayed += 1;
                }
                backoff = sh.cfg.backoff_min;
                sh.changed.notify_all();
            }
            None => {
                st.stats.failures += 1;
                // New batches wake the condition too: wait out the whole back-off.
                let until = Instant::now() + backoff;
                while !st.stop {
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    st = sh
                        .changed
                        .wait_timeout(st, until - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
                backoff = (backoff * 2).min(sh.cfg.backoff_max);
            }
        }
    }
}

// The file format: a mirror of `Batch` (the store's types do not derive serde).

#[derive(serde::Serialize, serde::Deserialize)]
struct FileV1 {
    format: u32,
    id: BatchId,
    tuples: Vec<(Option<String>, String, u16, String, Value)>,
    negatives: Vec<(Option<String>, String, u16, u16, Value)>,
    clients: Vec<(Option<String>, String, String, u16, Value)>,
    checkpoints: Vec<(String, u64, u64, String, u64, u64)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Value(i64, i64, u64, Option<u32>);

impl From<&TupleValue> for Value {
    fn from(v: &TupleValue) -> Self {
        Self(v.time_first, v.time_last, v.count, v.ttl)
    }
}

impl From<&Value> for TupleValue {
    fn from(v: &Value) -> Self {
        Self {
            time_first: v.0,
            time_last: v.1,
            count: v.2,
            ttl: v.3,
        }
    }
}

fn sensor(s: &dnsrecall_model::SensorId) -> Option<String> {
    s.as_deref().map(str::to_owned)
}

fn encode(id: &BatchId, b: &Batch) -> Vec<u8> {
    let file = FileV1 {
        format: 1,
        id: id.clone(),
        tuples: b
            .tuples
            .iter()
            .map(|(k, v)| {
                (
                    sensor(&k.sensor_id),
                    k.rrname.as_str().to_owned(),
                    k.rrtype.0,
                    k.rdata.as_str().to_owned(),
                    v.into(),
                )
            })
            .collect(),
        negatives: b
            .negatives
            .iter()
            .map(|(k, v)| {
                (
                    sensor(&k.sensor_id),
                    k.qname.as_str().to_owned(),
                    k.qtype.0,
                    k.rcode.0,
                    v.into(),
                )
            })
            .collect(),
        clients: b
            .clients
            .iter()
            .map(|(k, v)| {
                (
                    sensor(&k.sensor_id),
                    hex(k.client.as_bytes()),
                    k.qname.as_str().to_owned(),
                    k.qtype.0,
                    v.into(),
                )
            })
            .collect(),
        checkpoints: b
            .checkpoints
            .iter()
            .map(|c| {
                (
                    c.source.clone(),
                    c.dev,
                    c.ino,
                    hex(&c.fingerprint),
                    c.offset,
                    c.line,
                )
            })
            .collect(),
    };
    serde_json::to_vec(&file).unwrap_or_default()
}

fn decode(data: &[u8]) -> Result<(BatchId, Batch), String> {
    let f: FileV1 = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    if f.format != 1 || !f.id.is_valid() {
        return Err(format!("unknown spool format {} or bad id", f.format));
    }
    let sensor = |s: Option<String>| s.map(std::sync::Arc::<str>::from);
    let mut b = Batch::default();
    for (s, name, t, rdata, v) in f.tuples {
        b.tuples.push((
            TupleKey {
                sensor_id: sensor(s),
                rrname: Name::from_canonical_unchecked(name),
                rrtype: RrType(t),
                rdata: Rdata::from_canonical_unchecked(rdata),
            },
            (&v).into(),
        ));
    }
    for (s, name, t, rcode, v) in f.negatives {
        b.negatives.push((
            NegativeKey {
                sensor_id: sensor(s),
                qname: Name::from_canonical_unchecked(name),
                qtype: RrType(t),
                rcode: Rcode(rcode),
            },
            (&v).into(),
        ));
    }
    for (s, client, name, t, v) in f.clients {
        let client = unhex(client.as_bytes())
            .and_then(|b| ClientId::from_bytes(&b))
            .ok_or("bad client id")?;
        b.clients.push((
            ClientKey {
                sensor_id: sensor(s),
                client,
                qname: Name::from_canonical_unchecked(name),
                qtype: RrType(t),
            },
            (&v).into(),
        ));
    }
    for (source, dev, ino, fp, offset, line) in f.checkpoints {
        b.checkpoints.push(Checkpoint {
            source,
            dev,
            ino,
            fingerprint: unhex(fp.as_bytes()).ok_or("bad fingerprint")?,
            offset,
            line,
        });
    }
    Ok((f.id, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A store that fails while `down` is set and counts what it took, once per id.
    #[derive(Clone, Default)]
    struct Fake {
        down: Arc<Mutex<bool>>,
        seen: Arc<Mutex<Vec<(String, u64)>>>,
    }

    impl BatchSink for Fake {
        fn write(&mut self, id: &BatchId, batch: &Batch) -> Result<(), Error> {
            if *self.down.lock().unwrap() {
                return Err(Error::Transport("down".into()));
            }
            let mut seen = self.seen.lock().unwrap();
            if !seen.iter().any(|(k, _)| *k == id.key()) {
                seen.push((id.key(), batch.tuples[0].1.count));
            }
            Ok(())
        }
    }

    /// A store that answers after 300 ms.
    struct Slow(Fake);

    impl BatchSink for Slow {
        fn write(&mut self, id: &BatchId, batch: &Batch) -> Result<(), Error> {
            std::thread::sleep(Duration::from_millis(300));
            self.0.write(id, batch)
        }
    }

    fn batch(n: u64) -> Batch {
        let key = TupleKey {
            sensor_id: Some("s1".into()),
            rrname: Name::new("x.example").unwrap(),
            rrtype: RrType::A,
            rdata: Rdata::new(RrType::A, "10.0.0.1").unwrap(),
        };
        Batch {
            tuples: vec![(
                key,
                TupleValue {
                    time_first: 1,
                    time_last: 2,
                    count: n,
                    ttl: Some(60),
                },
            )],
            negatives: vec![],
            clients: vec![(
                ClientKey {
                    sensor_id: None,
                    client: ClientId::V4([10, 0, 0, 9]),
                    qname: Name::new("x.example").unwrap(),
                    qtype: RrType::A,
                },
                TupleValue {
                    time_first: 1,
                    time_last: 2,
                    count: n,
                    ttl: None,
                },
            )],
            checkpoints: vec![Checkpoint {
                source: "/var/log/p.log".into(),
                dev: 1,
                ino: 2,
                fingerprint: vec![0xde, 0xad],
                offset: 100 * n,
                line: n,
            }],
        }
    }

    fn cfg(dir: &Path, max: u64, when_full: WhenFull) -> SpoolConfig {
        SpoolConfig {
            backoff_min: Duration::from_millis(1),
            backoff_max: Duration::from_millis(4),
            ..SpoolConfig::new(dir.to_owned(), max, when_full)
        }
    }

    #[test]
    fn file_round_trip() {
        let id = BatchId::new().unwrap();
        let b = batch(7);
        let (id2, b2) = decode(&encode(&id, &b)).unwrap();
        assert_eq!(id, id2);
        assert_eq!(b.tuples, b2.tuples);
        assert_eq!(b.clients, b2.clients);
        assert_eq!(b.checkpoints, b2.checkpoints);
        assert!(decode(b"{}").is_err());
    }

    #[test]
    fn order_kept_and_exactly_once_across_outage_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::default();
        let mut spool =
            Spool::open(fake.clone(), cfg(dir.path(), 1 << 20, WhenFull::Block)).unwrap();
        assert_eq!(spool.submit(&batch(1)).unwrap(), Submitted::Written);
        *fake.down.lock().unwrap() = true;
        for n in 2..=5 {
            assert_eq!(spool.submit(&batch(n)).unwrap(), Submitted::Spooled);
        }
        assert_eq!(spool.pending().0, 4);
        drop(spool);
        // A new process finds the files and replays them before anything new.
        *fake.down.lock().unwrap() = false;
        let mut spool =
            Spool::open(fake.clone(), cfg(dir.path(), 1 << 20, WhenFull::Block)).unwrap();
        assert_eq!(spool.pending().0, 4);
        spool.submit(&batch(6)).unwrap();
        assert!(spool.flush(Duration::from_secs(5)).unwrap());
        let counts: Vec<u64> = fake.seen.lock().unwrap().iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn full_spool_drops_or_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::default();
        *fake.down.lock().unwrap() = true;
        let one = encode(&BatchId::new().unwrap(), &batch(1)).len() as u64;
        let mut spool = Spool::open(
            fake.clone(),
            cfg(dir.path(), one * 2 + 10, WhenFull::DropNewest),
        )
        .unwrap();
        assert_eq!(spool.submit(&batch(1)).unwrap(), Submitted::Spooled);
        assert_eq!(spool.submit(&batch(2)).unwrap(), Submitted::Spooled);
        assert_eq!(spool.submit(&batch(3)).unwrap(), Submitted::Dropped);
        assert_eq!(
            (spool.stats().dropped, spool.stats().dropped_tuples),
            (1, 1)
        );
        drop(spool);

        // Block: the caller waits until the store is back and takes the spooled batches.
        let dir = tempfile::tempdir().unwrap();
        let mut spool =
            Spool::open(fake.clone(), cfg(dir.path(), one * 2 + 10, WhenFull::Block)).unwrap();
        spool.submit(&batch(1)).unwrap();
        spool.submit(&batch(2)).unwrap();
        let down = fake.down.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            *down.lock().unwrap() = false;
        });
        let start = Instant::now();
        assert_eq!(spool.submit(&batch(3)).unwrap(), Submitted::Spooled);
        assert!(start.elapsed() >= Duration::from_millis(150));
        t.join().unwrap();
        assert!(spool.flush(Duration::from_secs(5)).unwrap());
        assert_eq!(spool.stats().dropped, 0);
    }

    #[test]
    fn background_keeps_order_once_and_never_waits_on_a_slow_store() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::default();
        *fake.down.lock().unwrap() = true;
        let spool = BackgroundSpool::start(fake.clone(), cfg(dir.path(), 1 << 20, WhenFull::Block))
            .unwrap();
        for n in 1..=5 {
            assert_eq!(spool.submit(&batch(n)).unwrap(), Submitted::Spooled);
        }
        assert!(!spool.flush(Duration::from_millis(50)));
        *fake.down.lock().unwrap() = false;
        assert!(spool.flush(Duration::from_secs(5)));
        let counts: Vec<u64> = fake.seen.lock().unwrap().iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, vec![1, 2, 3, 4, 5]);
        let s = spool.stats();
        assert_eq!((s.spooled, s.replayed, s.dropped), (5, 5, 0));
        assert!(s.failures >= 1);

        // A store that takes 300 ms a batch: submitting does not wait for it.
        let slow = Slow(fake.clone());
        let dir = tempfile::tempdir().unwrap();
        let spool =
            BackgroundSpool::start(slow, cfg(dir.path(), 1 << 20, WhenFull::Block)).unwrap();
        let start = Instant::now();
        for n in 6..=8 {
            spool.submit(&batch(n)).unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
        assert!(spool.flush(Duration::from_secs(5)));
        let counts: Vec<u64> = fake.seen.lock().unwrap().iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn background_full_spool_drops_or_blocks() {
        let fake = Fake::default();
        *fake.down.lock().unwrap() = true;
        let one = encode(&BatchId::new().unwrap(), &batch(1)).len() as u64;
        let dir = tempfile::tempdir().unwrap();
        let spool = BackgroundSpool::start(
            fake.clone(),
            cfg(dir.path(), one * 2 + 10, WhenFull::DropNewest),
        )
        .unwrap();
        assert_eq!(spool.submit(&batch(1)).unwrap(), Submitted::Spooled);
        assert_eq!(spool.submit(&batch(2)).unwrap(), Submitted::Spooled);
        assert_eq!(spool.submit(&batch(3)).unwrap(), Submitted::Dropped);
        assert_eq!(spool.stats().dropped, 1);
        drop(spool);
        // The two accepted batches are still on disk for the next start.
        assert_eq!(scan_dir(dir.path()).unwrap().len(), 2);

        let dir = tempfile::tempdir().unwrap();
        let spool =
            BackgroundSpool::start(fake.clone(), cfg(dir.path(), one * 2 + 10, WhenFull::Block))
                .unwrap();
        spool.submit(&batch(1)).unwrap();
        spool.submit(&batch(2)).unwrap();
        let down = fake.down.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            *down.lock().unwrap() = false;
        });
        let start = Instant::now();
        assert_eq!(spool.submit(&batch(3)).unwrap(), Submitted::Spooled);
        assert!(start.elapsed() >= Duration::from_millis(150));
        t.join().unwrap();
        assert!(spool.flush(Duration::from_secs(5)));
    }

    #[test]
    fn unreadable_files_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("00000000000000000001-x.batch"), b"garbage").unwrap();
        std::fs::write(dir.path().join("00000000000000000002-x.batch.tmp"), b"half").unwrap();
        let fake = Fake::default();
        let mut spool = Spool::open(fake, cfg(dir.path(), 1 << 20, WhenFull::Block)).unwrap();
        assert_eq!(spool.pending().0, 1);
        assert!(spool.flush(Duration::from_secs(1)).unwrap());
        assert_eq!(spool.stats().unreadable, 1);
        assert!(dir.path().join("00000000000000000001-x.bad").exists());
        assert!(!dir.path().join("00000000000000000002-x.batch.tmp").exists());
    }
}
