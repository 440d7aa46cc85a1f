//! The dnstap pipeline behind `dnsrecall dnstap`: dnstap senders (sockets) or files, the
//! same aggregator, store writer and passivedns-compatible log outputs as `sniff`.
//!
//! * Sockets: the `dnstap` crate's listener decodes on one thread per connection and hands
//!   records over a bounded channel to this thread, which aggregates and flushes every
//!   `flush_interval` or when the aggregator holds `max_entries` (a slow store slows the
//!   senders; nothing is dropped here).
//! * Files: read one after the other on this thread.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dnsrecall_dnstap::{ListenAddr, ListenOptions, Listener, StreamSession, Totals};
use dnsrecall_model::{Record, SensorId};
use dnsrecall_store::{DynStore, WriteStats};
use dnsrecall_wire::Counters as WireCounters;

use crate::capture::{self, Options, Progress};

/// Records gathered from a file before they are folded in.
const FILE_BATCH: usize = 4096;

/// What a dnstap run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dnstap: dnsrecall_dnstap::Counters,
    pub wire: WireCounters,
    pub records: u64,
    pub write: WriteStats,
    pub batches: u64,
    pub files: u64,
    pub bytes: u64,
    /// Files that could not be read to their end, with why.
    pub failed: Vec<(String, String)>,
    /// Files that end inside a frame.
    pub truncated: Vec<String>,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Capture(#[from] capture::Error),
    // Not `source`: thiserror would chain it, and the message would print it twice.
    #[error("cannot listen on {addr}: {cause}")]
    Bind { addr: String, cause: std::io::Error },
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

type Outcome = (Option<DynStore>, Result<Report, Error>);

fn finish(fold: capture::Fold, read: Result<(), capture::Error>, mut report: Report) -> Outcome {
    let mut r = capture::Report::default();
    let (store, result) = fold.finish(read, &mut r);
    report.records = r.records;
    report.batches = r.batches;
    report.write = r.write;
    (store, result.map(|()| report).map_err(Error::from))
}

fn start_fold(
    store: DynStore,
    opts: &Options,
    progress: &Progress,
) -> Result<capture::Fold, Box<(Option<DynStore>, Error)>> {
    capture::start(store, opts, progress).map_err(|failed| {
        let (store, e) = *failed;
        Box::new((store, Error::Capture(e)))
    })
}

/// What [`serve`] tells its caller while it runs.
#[expect(
    missing_debug_implementations,
    reason = "closures have no Debug; nothing to show"
)]
pub struct Hooks<'a> {
    /// Once every address is bound (TCP port 0 resolved).
    pub on_started: &'a mut dyn FnMut(&[ListenAddr]),
    /// Every `report_interval`.
    pub on_report: &'a mut dyn FnMut(&Report),
}

/// Listens on `addrs` until `stop` is set, telling `hooks` when it started and how it goes.
pub fn serve(
    store: DynStore,
    addrs: &[ListenAddr],
    listen: ListenOptions,
    opts: &Options,
    progress: &Progress,
    stop: &Arc<AtomicBool>,
    hooks: &mut Hooks<'_>,
) -> Outcome {
    let started = Instant::now();
    let listener = match Listener::bind(addrs, &listen) {
        Ok(l) => l,
        Err(cause) => {
            let addr = addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            return (Some(store), Err(Error::Bind { addr, cause }));
        }
    };
    let bound = listener.local_addrs();
    let mut fold = match start_fold(store, opts, progress) {
        Ok(f) => f,
        Err(failed) => {
            let (store, e) = *failed;
            return (store, Err(e));
        }
    };
    let totals = Arc::new(Mutex::new(Totals::default()));
    let (tx, rx) = sync_channel::<Vec<Record>>(16);
    let accept = match listener.spawn(listen, stop.clone(), tx, totals.clone()) {
        Ok(h) => h,
        Err(e) => {
            let r = finish(fold, Ok(()), Report::default());
            return (r.0, Err(Error::Thread(e)));
        }
    };
    (hooks.on_started)(&bound);
    let snapshot = |fold: &capture::Fold| {
        let t = totals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Report {
            dnstap: t.dnstap.clone(),
            wire: t.wire.clone(),
            records: fold.agg.records,
            batches: fold.batches,
            elapsed: started.elapsed(),
            ..Report::default()
        }
    };
    let mut result = Ok(());
    let mut last_report = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(mut batch) => {
                if result.is_ok()
                    && let Err(e) = fold.add(&mut batch)
                {
                    result = Err(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if result.is_ok() && fold.last_flush.elapsed() >= opts.flush_interval {
            result = fold.flush();
            if result.is_err() {
                // A failed store ends the run: senders are not read on for nothing.
                stop.store(true, Ordering::Relaxed);
            }
        }
        if last_report.elapsed() >= opts.report_interval {
            (hooks.on_report)(&snapshot(&fold));
            last_report = Instant::now();
        }
    }
    if let Err(panic) = accept.join() {
        std::panic::resume_unwind(panic);
    }
    let report = snapshot(&fold);
    let mut out = finish(fold, result, report);
    if let (_, Ok(r)) = &mut out {
        r.elapsed = started.elapsed();
    }
    out
}

/// Reads dnstap files (unidirectional Frame Streams) in order into the store.
pub fn read_files(
    store: DynStore,
    files: &[PathBuf],
    sensor: SensorId,
    max_frame_len: usize,
    opts: &Options,
    progress: &Progress,
    stop: &AtomicBool,
) -> Outcome {
    let started = Instant::now();
    let mut fold = match start_fold(store, opts, progress) {
        Ok(f) => f,
        Err(failed) => {
            let (store, e) = *failed;
            return (store, Err(e));
        }
    };
    let mut report = Report::default();
    let mut result = Ok(());
    for path in files {
        if stop.load(Ordering::Relaxed) || result.is_err() {
            break;
        }
        report.files += 1;
        let mut session = StreamSession::new(max_frame_len, sensor.clone(), false);
        let read = dnsrecall_dnstap::read_file(path, &mut session, FILE_BATCH, &mut |recs| {
            if let Err(e) = fold.add(recs) {
                result = Err(e);
                return ControlFlow::Break(());
            }
            if stop.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        let (d, w) = session.decoder.take_counters();
        progress.frames.fetch_add(d.frames, Ordering::Relaxed);
        report.dnstap.merge(&d);
        report.wire.merge(&w);
        match read {
            Ok(s) => {
                report.bytes += s.bytes;
                progress.bytes.fetch_add(s.bytes, Ordering::Relaxed);
                if s.truncated {
                    report.truncated.push(path.display().to_string());
                }
                if let Some(reason) = s.failed {
                    report.failed.push((
                        path.display().to_string(),
                        format!("malformed stream ({reason}); what came before is kept"),
                    ));
                }
            }
            Err(e) => report
                .failed
                .push((path.display().to_string(), e.to_string())),
        }
    }
    let mut out = finish(fold, result, report);
    if let (_, Ok(r)) = &mut out {
        r.elapsed = started.elapsed();
    }
    out
}
