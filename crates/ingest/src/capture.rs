//! The capture pipeline behind `dnsrecall sniff`: frames from capture files or live
//! interfaces go through the `wire` decoder into records, the [`Aggregator`] folds them,
//! and the [`StoreWriter`] commits batches.
//!
//! * Files are read one after the other through one decoder (a TCP flow may continue in the
//!   next file of a rotated capture), on this thread; the writer commits on its own.
//! * Live interfaces each get a thread that captures and decodes; records reach this thread
//!   through a bounded channel (a slow store slows capture, and the kernel's drop counter
//!   shows it). Batches are flushed every `flush_interval` and whenever the aggregator holds
//!   `max_entries`; memory stays bounded, nothing is dropped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dnsrecall_model::{Record, SensorId};
use dnsrecall_sources::live_capture::{LiveCapture, LiveOptions, LiveStats};
use dnsrecall_sources::pcap_file::{self, CaptureError};
use dnsrecall_store::{DynStore, WriteError, WriteStats};
use dnsrecall_wire::{Counters as WireCounters, Decoder, LinkType};

use crate::log_output::{LogFormat, LogOutput};
use crate::writer::StoreWriter;
use crate::{Aggregator, ClientPolicy};

/// Records a capture thread gathers before handing them over.
const HANDOFF_RECORDS: usize = 4096;
/// Capture time between expiries of idle TCP flows and stale fragments.
const EXPIRE_EVERY_US: i64 = 1_000_000;

/// How a capture runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub sensor_id: SensorId,
    pub policy: ClientPolicy,
    /// Aggregator entries that trigger a flush (the memory bound).
    pub max_entries: usize,
    /// Longest time data waits in memory (live capture).
    pub flush_interval: Duration,
    /// How often live capture reports its counters.
    pub report_interval: Duration,
    pub wire: dnsrecall_wire::Config,
    /// passivedns-compatible outputs (`--log-json`, `--log-cof`).
    pub logs: Vec<(PathBuf, LogFormat)>,
    /// Set on SIGHUP: the log outputs are reopened (logrotate).
    pub reopen_logs: Arc<AtomicBool>,
}

/// Live progress, for a progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub tuples_committed: Arc<AtomicU64>,
}

/// What a capture did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub files: u64,
    pub frames: u64,
    pub bytes: u64,
    pub records: u64,
    pub wire: WireCounters,
    pub write: WriteStats,
    pub batches: u64,
    /// Files that could not be read to their end, with why.
    pub failed: Vec<(String, String)>,
    /// Files that ended inside a block (cut captures).
    pub truncated: Vec<String>,
    /// Per live interface: the capture library's counters (kernel drops).
    pub live: Vec<(String, LiveStats)>,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("store write failed (this batch is not committed): {0}")]
    Write(#[from] WriteError),
    #[error("the writer thread stopped unexpectedly")]
    WriterGone,
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    // Transparent: `{0}` with `#[from]` (a source) printed the message twice in a chain.
    #[error(transparent)]
    Live(#[from] dnsrecall_sources::live_capture::LiveError),
    #[error("log output {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(crate) struct Fold {
    logs: Vec<LogOutput>,
    reopen_logs: Arc<AtomicBool>,
    pub(crate) agg: Aggregator,
    writer: StoreWriter,
    max_entries: usize,
    pub(crate) batches: u64,
    pub(crate) last_flush: Instant,
}

impl Fold {
    fn log_error(log: &LogOutput, e: std::io::Error) -> Error {
        Error::Log {
            path: log.path().to_owned(),
            source: e,
        }
    }

    pub(crate) fn add(&mut self, records: &mut Vec<Record>) -> Result<(), Error> {
        if self.reopen_logs.swap(false, Ordering::Relaxed) {
            for log in &mut self.logs {
                log.reopen().map_err(|e| Self::log_error(log, e))?;
            }
        }
        for log in &mut self.logs {
            for r in records.iter() {
                log.write(r).map_err(|e| Self::log_error(log, e))?;
            }
        }
        for r in records.drain(..) {
            self.agg.record(r);
        }
        if self.agg.len() >= self.max_entries {
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        self.last_flush = Instant::now();
        for log in &mut self.logs {
            log.flush().map_err(|e| Self::log_error(log, e))?;
        }
        if self.agg.is_empty() {
            return Ok(());
        }
        self.batches += 1;
        self.writer
            .send(self.agg.take())
            .map_err(|_| Error::WriterGone)
    }

    pub(crate) fn finish(
        mut self,
        read: Result<(), Error>,
        report: &mut Report,
    ) -> (Option<DynStore>, Result<(), Error>) {
        let read = read.and_then(|()| self.flush());
        report.records = self.agg.records;
        report.batches = self.batches;
        let (store, stats, written) = self.writer.finish();
        report.write = stats;
        let result = match (read, written) {
            (_, Err(e)) => Err(Error::Write(e)),
            (Err(e), Ok(())) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        };
        (Some(store), result)
    }
}

/// Opens the log outputs and starts the writer; on failure hands back the store if it still
/// has it (a writer thread that could not start took it along).
pub(crate) fn start(
    store: DynStore,
    opts: &Options,
    progress: &Progress,
) -> Result<Fold, Box<(Option<DynStore>, Error)>> {
    let mut logs = Vec::new();
    for (path, format) in &opts.logs {
        match LogOutput::open(path, *format) {
            Ok(l) => logs.push(l),
            Err(source) => {
                let e = Error::Log {
                    path: path.clone(),
                    source,
                };
                return Err(Box::new((Some(store), e)));
            }
        }
    }
    let writer = match StoreWriter::start(store, progress.tuples_committed.clone()) {
        Ok(w) => w,
        Err(e) => return Err(Box::new((None, Error::Thread(e)))),
    };
    Ok(Fold {
        logs,
        reopen_logs: opts.reopen_logs.clone(),
        agg: Aggregator::new(opts.policy.clone()),
        writer,
        max_entries: opts.max_entries,
        batches: 0,
        last_flush: Instant::now(),
    })
}

/// Reads capture files in order into the store.
pub fn sniff_files(
    store: DynStore,
    files: &[PathBuf],
    opts: &Options,
    progress: &Progress,
    stop: &AtomicBool,
) -> (Option<DynStore>, Result<Report, Error>) {
    let started = Instant::now();
    let mut fold = match start(store, opts, progress) {
        Ok(f) => f,
        Err(failed) => {
            let (store, e) = *failed;
            return (store, Err(e));
        }
    };
    let mut report = Report::default();
    let mut decoder = Decoder::new(opts.wire.clone());
    let mut records = Vec::new();
    let mut next_expiry = i64::MIN;
    let mut result = Ok(());
    for path in files {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        report.files += 1;
        let read = pcap_file::read_frames(path, |frame| {
            decoder.frame(LinkType(frame.link), frame.ts_us, frame.data, &mut records);
            if frame.ts_us >= next_expiry {
                decoder.expire(frame.ts_us, &mut records);
                next_expiry = frame.ts_us.saturating_add(EXPIRE_EVERY_US);
            }
            progress.frames.fetch_add(1, Ordering::Relaxed);
            progress
                .bytes
                .fetch_add(frame.data.len() as u64, Ordering::Relaxed);
            if records.len() >= HANDOFF_RECORDS {
                if let Err(e) = fold.add(&mut records) {
                    result = Err(e);
                    return std::ops::ControlFlow::Break(());
                }
                if stop.load(Ordering::Relaxed) {
                    return std::ops::ControlFlow::Break(());
                }
            }
            std::ops::ControlFlow::Continue(())
        });
        match read {
            Ok(s) => {
                report.frames += s.frames;
                report.bytes += s.bytes;
                if s.truncated {
                    report.truncated.push(path.display().to_string());
                }
            }
            Err(e) => {
                let what = match &e {
                    CaptureError::Damaged { frames, .. } => {
                        report.frames += frames;
                        e.to_string()
                    }
                    _ => e.to_string(),
                };
                report.failed.push((path.display().to_string(), what));
            }
        }
        if result.is_err() {
            break;
        }
    }
    decoder.finish(&mut records);
    if result.is_ok() {
        result = fold.add(&mut records);
    }
    report.wire = decoder.counters().clone();
    let (store, result) = fold.finish(result, &mut report);
    report.elapsed = started.elapsed();
    (store, result.map(|()| report))
}

/// Captures on live interfaces until `stop` is set, reporting every `report_interval`.
pub fn sniff_live(
    store: DynStore,
    interfaces: &[LiveOptions],
    opts: &Options,
    progress: &Progress,
    stop: &AtomicBool,
    on_started: &mut dyn FnMut(),
    on_report: &mut dyn FnMut(&Report),
) -> (Option<DynStore>, Result<Report, Error>) {
    let started = Instant::now();
    // Open every interface first: a typo fails before anything runs.
    let mut captures = Vec::new();
    for o in interfaces {
        match LiveCapture::open(o) {
            Ok(c) => captures.push(c),
            Err(e) => return (Some(store), Err(e.into())),
        }
    }
    let mut fold = match start(store, opts, progress) {
        Ok(f) => f,
        Err(failed) => {
            let (store, e) = *failed;
            return (store, Err(e));
        }
    };
    on_started();
    let (tx, rx) = sync_channel::<Vec<Record>>(64);
    let halt = Arc::new(AtomicBool::new(false));
    let shared: Vec<Arc<Mutex<InterfaceState>>> = captures
        .iter()
        .map(|_| Arc::new(Mutex::new(Default::default())))
        .collect();
    let names: Vec<String> = captures.iter().map(|c| c.interface().to_owned()).collect();
    // After a stop, frames the kernel took before it can still wait in the ring: libpcap
    // hands a block over up to the read timeout after its first frame. Reading on that long
    // keeps them (stopping at once lost the last answers).
    let drain = interfaces
        .iter()
        .map(|o| o.read_timeout)
        .max()
        .unwrap_or_default()
        + Duration::from_millis(50);
    let mut threads = Vec::new();
    for (mut cap, slot) in captures.into_iter().zip(shared.iter().cloned()) {
        let tx = tx.clone();
        let halt_thread = halt.clone();
        let wire = opts.wire.clone();
        let spawned = thread::Builder::new()
            .name(format!("capture-{}", cap.interface()))
            .spawn(
                move || -> Result<(), dnsrecall_sources::live_capture::LiveError> {
                    let mut decoder = Decoder::new(wire);
                    let mut records = Vec::new();
                    let mut last_handoff = Instant::now();
                    let mut next_expiry = i64::MIN;
                    let (mut frames, mut bytes) = (0u64, 0u64);
                    let publish = |cap: &mut LiveCapture, d: &Decoder, frames: u64, bytes: u64| {
                        if let Ok(mut s) = slot.lock() {
                            *s = (cap.stats(), d.counters().clone(), frames, bytes);
                        }
                    };
                    let mut stop_at: Option<Instant> = None;
                    loop {
                        if stop_at.is_none() && halt_thread.load(Ordering::Relaxed) {
                            stop_at = Some(Instant::now() + drain);
                        }
                        if stop_at.is_some_and(|t| Instant::now() >= t) {
                            break;
                        }
                        let now_us = match cap.next_frame()? {
                            Some(frame) => {
                                frames += 1;
                                bytes += frame.data.len() as u64;
                                decoder.frame(
                                    LinkType(frame.link),
                                    frame.ts_us,
                                    frame.data,
                                    &mut records,
                                );
                                frame.ts_us
                            }
                            None => wall_clock_us(),
                        };
                        if now_us >= next_expiry {
                            decoder.expire(now_us, &mut records);
                            next_expiry = now_us.saturating_add(EXPIRE_EVERY_US);
                        }
                        if records.len() >= HANDOFF_RECORDS
                            || (last_handoff.elapsed() >= Duration::from_millis(200)
                                && !records.is_empty())
                        {
                            if tx.send(std::mem::take(&mut records)).is_err() {
                                break;
                            }
                            last_handoff = Instant::now();
                            publish(&mut cap, &decoder, frames, bytes);
                        }
                    }
                    decoder.finish(&mut records);
                    publish(&mut cap, &decoder, frames, bytes);
                    let _ = tx.send(records);
                    Ok(())
                },
            );
        match spawned {
            Ok(h) => threads.push(h),
            Err(e) => {
                halt.store(true, Ordering::Relaxed);
                return fold
                    .finish(Err(Error::Thread(e)), &mut Report::default())
                    .into_report(started);
            }
        }
    }
    drop(tx);
    let snapshot = |fold: &Fold| {
        let mut r = Report {
            batches: fold.batches,
            records: fold.agg.records,
            ..Report::default()
        };
        for (name, slot) in names.iter().zip(&shared) {
            if let Ok(s) = slot.lock() {
                r.live.push((name.clone(), s.0));
                r.wire.merge(&s.1);
                r.frames += s.2;
                r.bytes += s.3;
            }
        }
        r.elapsed = started.elapsed();
        r
    };
    let mut last_report = Instant::now();
    let mut result = Ok(());
    loop {
        if stop.load(Ordering::Relaxed) {
            halt.store(true, Ordering::Relaxed);
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(mut batch) => {
                if let Err(e) = fold.add(&mut batch) {
                    result = Err(e);
                    halt.store(true, Ordering::Relaxed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if result.is_ok() && fold.last_flush.elapsed() >= opts.flush_interval {
            result = fold.flush();
        }
        let snap = snapshot(&fold);
        progress.frames.store(snap.frames, Ordering::Relaxed);
        progress.bytes.store(snap.bytes, Ordering::Relaxed);
        if last_report.elapsed() >= opts.report_interval {
            on_report(&snap);
            last_report = Instant::now();
        }
    }
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) if result.is_ok() => result = Err(e.into()),
            Ok(Err(_)) => {}
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    let mut report = snapshot(&fold);
    let (store, result) = fold.finish(result, &mut report);
    report.elapsed = started.elapsed();
    (store, result.map(|()| report))
}

/// What a capture thread last published: library counters, decoder counters, frames, bytes.
type InterfaceState = (LiveStats, WireCounters, u64, u64);

trait IntoReport {
    fn into_report(self, started: Instant) -> (Option<DynStore>, Result<Report, Error>);
}

impl IntoReport for (Option<DynStore>, Result<(), Error>) {
    fn into_report(self, started: Instant) -> (Option<DynStore>, Result<Report, Error>) {
        let (store, r) = self;
        (
            store,
            r.map(|()| Report {
                elapsed: started.elapsed(),
                ..Report::default()
            }),
        )
    }
}

fn wall_clock_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
