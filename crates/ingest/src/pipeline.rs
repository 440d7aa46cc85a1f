//! The log-file pipeline: read, parse, aggregate on this thread; write batches on a writer
//! thread that owns the store.
//!
//! Backpressure: the channel to the writer holds one batch, so while a batch commits the
//! reader fills the next one, and a slow store slows the reader instead of growing memory.
//!
//! Checkpoints: every batch carries, for every file, the offset just past the last line
//! whose records are in this batch or an earlier one, and the store commits them in the
//! same transaction as the data. A crash at any moment therefore resumes at a line
//! boundary whose data is committed: no line lost, none counted twice.
//!
//! Following (`--follow`) works like `tail -F`: a half-written last line waits for its
//! newline; a rename rotation is noticed when the path names another file, the old file is
//! read to its end (after a short grace for late writes) and the new one from its start;
//! a copytruncate is noticed when the file shrinks or its first bytes change. After a
//! restart, a checkpoint that names a file since rotated is found by inode beside the path.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use dnsrecall_model::SensorId;
use dnsrecall_sources::{
    Format, Line, LineContext, LineReader, LineState, Record, detect, parse_line_with,
};
use dnsrecall_store::{Checkpoint, DynStore, WriteError, WriteStats};

use crate::writer::StoreWriter;
use crate::{Aggregator, ClientPolicy};

/// Bytes of a file's head kept to recognise it (a new file on a reused inode differs).
const FINGERPRINT_LEN: usize = 256;
const READ_BUFFER_LEN: usize = 256 * 1024;
/// Lines read from one followed file before the others get a turn.
const FOLLOW_BUDGET: usize = 64 * 1024;

/// One input of an ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
}

/// How an ingest runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// `None`: detect per file from its first non-empty line.
    pub format: Option<Format>,
    pub follow: bool,
    pub sensor_id: SensorId,
    pub policy: ClientPolicy,
    /// Aggregator entries that trigger a flush (the memory bound).
    pub max_entries: usize,
    /// Longest time data waits in memory while following.
    pub flush_interval: Duration,
    /// Pause between looks at followed files that had nothing new.
    pub poll_interval: Duration,
    /// How long a rotated file is still watched for late writes before it is closed.
    pub rotate_grace: Duration,
    /// Ignore checkpoints and read files from their start (counts them again).
    pub reingest: bool,
    /// Bad lines reported one by one; the rest are only counted.
    pub bad_line_reports: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            format: None,
            follow: false,
            sensor_id: None,
            policy: ClientPolicy::without_key(dnsrecall_model::ClientMode::Store),
            max_entries: 1_000_000,
            flush_interval: Duration::from_secs(10),
            poll_interval: Duration::from_millis(200),
            rotate_grace: Duration::from_secs(1),
            reingest: false,
            bad_line_reports: 10,
        }
    }
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Counters {
    pub bytes: AtomicU64,
    pub lines: AtomicU64,
    pub bad_lines: AtomicU64,
    /// Tuples committed (new or updated), shared with the writer thread.
    pub tuples_committed: Arc<AtomicU64>,
}

/// A rejected line, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub source: String,
    pub line: u64,
    pub reason: &'static str,
    pub message: String,
}

/// What an ingest did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub files: u64,
    pub lines: u64,
    pub bytes: u64,
    pub records: u64,
    pub bad_lines: u64,
    pub bad_by_reason: BTreeMap<&'static str, u64>,
    pub bad_examples: Vec<BadLine>,
    pub write: WriteStats,
    pub batches: u64,
    /// Inputs that could not be read, with why.
    pub failed: Vec<(String, String)>,
    /// Files resumed from a checkpoint: (file, line).
    pub resumed: Vec<(String, u64)>,
    /// Files skipped because a checkpoint says they were read to the end.
    pub already_ingested: Vec<String>,
    pub rotations: u64,
    pub truncations: u64,
    /// Answers and events skipped on purpose by the Zeek and Suricata formats, by reason
    /// (what their logs cannot express faithfully, non-DNS events).
    pub skipped_by_reason: BTreeMap<&'static str, u64>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "store write failed (the data of this batch is not committed; a rerun resumes at the last checkpoint): {0}"
    )]
    Write(#[from] WriteError),
    #[error("store checkpoint lookup failed: {0}")]
    Checkpoint(#[from] dnsrecall_store::QueryError),
    #[error("the writer thread stopped unexpectedly")]
    WriterGone,
    #[error("cannot start the store writer thread: {0}")]
    Thread(io::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ident {
    dev: u64,
    ino: u64,
    fingerprint: Vec<u8>,
}

type Reader = LineReader<Box<dyn BufRead + Send>>;

struct Source {
    display: String,
    /// Checkpoint key (absolute path); `None` for stdin.
    key: Option<String>,
    path: Option<PathBuf>,
    reader: Option<Reader>,
    ident: Option<Ident>,
    format: Option<Format>,
    rotation_seen: Option<Instant>,
    /// Where the file stands once closed, kept for later batches.
    last_checkpoint: Option<Checkpoint>,
    done: bool,
    /// Line-to-line state of the format (Zeek TSV headers), and skips.
    state: LineState,
}

impl Source {
    fn checkpoint(&self) -> Option<Checkpoint> {
        match (&self.key, &self.ident, &self.reader) {
            (Some(key), Some(id), Some(r)) => Some(Checkpoint {
                source: key.clone(),
                dev: id.dev,
                ino: id.ino,
                fingerprint: id.fingerprint.clone(),
                offset: r.offset(),
                line: r.line_number(),
            }),
            _ => self.last_checkpoint.clone(),
        }
    }
}

#[cfg(unix)]
fn dev_ino(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn dev_ino(_m: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

fn head(file: &mut File) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(FINGERPRINT_LEN);
    file.seek(SeekFrom::Start(0))?;
    file.by_ref()
        .take(FINGERPRINT_LEN as u64)
        .read_to_end(&mut buf)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(buf)
}

/// Whether a file whose head is `now` is the file a checkpoint fingerprinted as `then`.
fn same_content(then: &[u8], now: &[u8]) -> bool {
    now.len() >= then.len() && now[..then.len()] == *then
}

/// Opens a file at `offset`: plain files by seeking, gzipped ones by decompressing and
/// skipping. Returns the reader and the file's identity.
fn open_at(path: &Path, offset: u64, line: u64) -> io::Result<(Reader, Ident)> {
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    let (dev, ino) = dev_ino(&meta);
    let fingerprint = head(&mut file)?;
    let ident = Ident {
        dev,
        ino,
        fingerprint,
    };
    let reader: Box<dyn BufRead + Send> = if ident.fingerprint.starts_with(&[0x1f, 0x8b]) {
        let mut r = dnsrecall_sources::open_file(path)?;
        let skipped = io::copy(&mut r.by_ref().take(offset), &mut io::sink())?;
        if skipped < offset {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "compressed file is shorter than its checkpoint",
            ));
        }
        r
    } else {
        file.seek(SeekFrom::Start(offset))?;
        Box::new(BufReader::with_capacity(READ_BUFFER_LEN, file))
    };
    Ok((LineReader::new(reader, offset, line), ident))
}

/// Lines of a file's head read again when resuming inside it.
const HEAD_LINES: usize = 64;

/// Resuming inside a file: its first lines say what a line from the middle cannot, the
/// format (for detection) and a Zeek TSV log's `#` headers (its columns).
fn prime_from_head(s: &mut Source, path: &Path) {
    let Ok(file) = dnsrecall_sources::open_file(path) else {
        return;
    };
    let mut reader = LineReader::new(file, 0, 0);
    for _ in 0..HEAD_LINES {
        let Ok(Some(Line::Ok(bytes))) = reader.next_line(true) else {
            return;
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if s.format.is_none() {
            s.format = detect(bytes);
        }
        if bytes.first() != Some(&b'#') {
            return;
        }
        s.state.zeek.header_line(bytes);
    }
}

/// Finds, beside `path`, the file with this device and inode (a rotated log).
fn find_rotated(path: &Path, dev: u64, ino: u64) -> Option<PathBuf> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && dev_ino(&m) == (dev, ino)))
}

struct Run<'a> {
    opts: &'a Options,
    ctx: LineContext,
    agg: Aggregator,
    report: Report,
    counters: Arc<Counters>,
    writer: StoreWriter,
    records: Vec<Record>,
    on_bad: &'a mut dyn FnMut(&BadLine),
    last_flush: Instant,
    unpublished_lines: u64,
    unpublished_bytes: u64,
}

impl Run<'_> {
    fn bad(&mut self, s: &Source, line: u64, reason: &'static str, message: String) {
        self.report.bad_lines += 1;
        self.counters.bad_lines.fetch_add(1, Ordering::Relaxed);
        *self.report.bad_by_reason.entry(reason).or_insert(0) += 1;
        if self.report.bad_examples.len() < self.opts.bad_line_reports {
            let b = BadLine {
                source: s.display.clone(),
                line,
                reason,
                message,
            };
            (self.on_bad)(&b);
            self.report.bad_examples.push(b);
        }
    }

    fn publish(&mut self) {
        self.counters
            .lines
            .fetch_add(self.unpublished_lines, Ordering::Relaxed);
        self.counters
            .bytes
            .fetch_add(self.unpublished_bytes, Ordering::Relaxed);
        self.report.lines += self.unpublished_lines;
        self.report.bytes += self.unpublished_bytes;
        self.unpublished_lines = 0;
        self.unpublished_bytes = 0;
    }

    fn flush(&mut self, sources: &[Source]) -> Result<(), Error> {
        self.publish();
        let mut batch = self.agg.take();
        batch.checkpoints = sources.iter().filter_map(Source::checkpoint).collect();
        if batch.is_empty() {
            self.last_flush = Instant::now();
            return Ok(());
        }
        self.report.batches += 1;
        let sent = self.writer.send(batch).map_err(|_| Error::WriterGone);
        // The interval runs from when the writer took the batch: the hand-over waits for
        // the previous commit, and timing from before it would make a following ingest
        // that lags behind flush after every read turn, in small, slow batches.
        self.last_flush = Instant::now();
        sent
    }

    /// Reads up to `budget` lines of one source; returns how many, and whether it hit EOF.
    fn pump(&mut self, s: &mut Source, budget: usize, final_partial: bool) -> (usize, bool) {
        let mut n = 0;
        while n < budget {
            let Some(reader) = s.reader.as_mut() else {
                return (n, true);
            };
            let line_no = reader.line_number() + 1;
            let line = match reader.next_line(final_partial) {
                Ok(Some(line)) => line,
                Ok(None) => return (n, true),
                Err(e) => {
                    self.report
                        .failed
                        .push((s.display.clone(), format!("read error: {e}")));
                    s.last_checkpoint = s.checkpoint();
                    s.reader = None;
                    s.done = true;
                    return (n, true);
                }
            };
            n += 1;
            self.unpublished_lines += 1;
            self.unpublished_bytes += match line {
                Line::Ok(b) => b.len() as u64 + 1,
                Line::TooLong { len } => len + 1,
            };
            match line {
                Line::TooLong { len } => {
                    let msg = format!(
                        "line of {len} bytes is over the {} byte limit",
                        dnsrecall_sources::MAX_LINE_LEN
                    );
                    self.bad(s, line_no, "line_too_long", msg);
                }
                Line::Ok(bytes) => {
                    let format = match s.format {
                        Some(f) => f,
                        None if bytes.iter().all(u8::is_ascii_whitespace) => continue,
                        None => match detect(bytes) {
                            Some(f) => {
                                s.format = Some(f);
                                f
                            }
                            None => {
                                let msg = "cannot tell the format of this line (expected passivedns JSON or text, COF, Zeek or Suricata); give --format".to_owned();
                                self.bad(s, line_no, "unknown_format", msg);
                                continue;
                            }
                        },
                    };
                    if self.unpublished_lines >= 4096 {
                        self.publish();
                    }
                    match parse_line_with(format, bytes, &self.ctx, &mut s.state, &mut self.records)
                    {
                        Ok(()) => {
                            for rec in self.records.drain(..) {
                                self.agg.record(rec);
                            }
                        }
                        Err(e) => {
                            let reason = e.reason.as_str();
                            self.bad(s, line_no, reason, e.message);
                        }
                    }
                }
            }
        }
        (n, false)
    }
}

/// Runs an ingest to the end of its inputs (or, when following, until `stop` is set),
/// returning the store (`None` only when the writer thread could not even start) and what
/// was done. `on_bad` sees the first bad lines as they come.
///
/// # Errors
/// When the store fails; what was committed before stays, with its checkpoints.
pub fn run(
    store: DynStore,
    inputs: &[Input],
    opts: &Options,
    counters: Arc<Counters>,
    stop: &AtomicBool,
    on_bad: &mut dyn FnMut(&BadLine),
) -> (Option<DynStore>, Result<Report, Error>) {
    let mut sources = Vec::new();
    let mut report = Report::default();
    for input in inputs {
        match prepare(&store, input, opts, &mut report) {
            Ok(s) => sources.push(s),
            Err(e) => return (Some(store), Err(e)),
        }
    }
    let writer = match StoreWriter::start(store, counters.tuples_committed.clone()) {
        Ok(w) => w,
        Err(e) => return (None, Err(Error::Thread(e))),
    };
    let mut run = Run {
        opts,
        ctx: LineContext {
            sensor_id: opts.sensor_id.clone(),
        },
        agg: Aggregator::new(opts.policy.clone()),
        report,
        counters,
        writer,
        records: Vec::new(),
        on_bad,
        last_flush: Instant::now(),
        unpublished_lines: 0,
        unpublished_bytes: 0,
    };
    let read_result = if opts.follow {
        follow(&mut run, &mut sources, stop)
    } else {
        whole(&mut run, &mut sources, stop)
    }
    .and_then(|()| run.flush(&sources));
    run.publish();
    let Run {
        writer,
        mut report,
        agg,
        ..
    } = run;
    report.records = agg.records;
    for s in &sources {
        for (k, v) in &s.state.skipped {
            *report.skipped_by_reason.entry(k).or_insert(0) += v;
        }
    }
    let (store, stats, write_result) = writer.finish();
    report.write = stats;
    let result = match (read_result, write_result) {
        (_, Err(e)) => Err(Error::Write(e)),
        (Err(e), Ok(())) => Err(e),
        (Ok(()), Ok(())) => Ok(report),
    };
    (Some(store), result)
}

fn prepare(
    store: &DynStore,
    input: &Input,
    opts: &Options,
    report: &mut Report,
) -> Result<Source, Error> {
    let mut s = Source {
        display: String::new(),
        key: None,
        path: None,
        reader: None,
        ident: None,
        format: opts.format,
        rotation_seen: None,
        last_checkpoint: None,
        done: false,
        state: LineState::default(),
    };
    let path = match input {
        Input::Stdin => {
            s.display = "<stdin>".into();
            let stdin: Box<dyn BufRead + Send> =
                Box::new(BufReader::with_capacity(READ_BUFFER_LEN, io::stdin()));
            s.reader = Some(LineReader::new(stdin, 0, 0));
            return Ok(s);
        }
        Input::Path(p) => p,
    };
    report.files += 1;
    s.display = path.display().to_string();
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    s.key = Some(abs.display().to_string());
    s.path = Some(abs.clone());
    let cp = if opts.reingest {
        None
    } else {
        store.checkpoint(&abs.display().to_string())?
    };
    open_source(&mut s, cp.as_ref(), opts, report);
    Ok(s)
}

/// Opens a source's file, resuming from its checkpoint where the checkpoint still
/// describes it (or, when following, the rotated file it describes).
fn open_source(s: &mut Source, cp: Option<&Checkpoint>, opts: &Options, report: &mut Report) {
    let Some(path) = s.path.clone() else { return };
    let current = std::fs::metadata(&path);
    let mut target = (path.clone(), 0u64, 0u64);
    if let Some(cp) = cp {
        let here = current.as_ref().ok().map(dev_ino);
        if here == Some((cp.dev, cp.ino)) {
            target = (path.clone(), cp.offset, cp.line);
        } else if opts.follow
            && let Some(rotated) = find_rotated(&path, cp.dev, cp.ino)
        {
            target = (rotated, cp.offset, cp.line);
        }
    }
    if let Err(e) = &current
        && target.0 == path
    {
        if opts.follow && e.kind() == io::ErrorKind::NotFound {
            return; // tail -F: wait for it to appear
        }
        report.failed.push((s.display.clone(), e.to_string()));
        s.done = true;
        return;
    }
    let (file, offset, line) = target;
    let opened = open_at(&file, offset, line).map(|(reader, ident)| {
        let resumed = cp.is_some_and(|cp| cp.offset == offset && offset > 0);
        let same = cp.is_none_or(|cp| same_content(&cp.fingerprint, &ident.fingerprint));
        (reader, ident, resumed, same)
    });
    match opened {
        Ok((reader, ident, resumed, same)) if same => {
            if resumed {
                let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                let gz = ident.fingerprint.starts_with(&[0x1f, 0x8b]);
                if !opts.follow && !gz && offset >= size {
                    report.already_ingested.push(s.display.clone());
                } else {
                    report.resumed.push((s.display.clone(), line));
                }
            }
            s.reader = Some(reader);
            s.ident = Some(ident);
            if offset > 0 {
                prime_from_head(s, &file);
            }
        }
        Ok(_) => {
            // Same inode, other content: a new file. Read it from the start.
            match open_at(&path, 0, 0) {
                Ok((reader, ident)) => {
                    s.reader = Some(reader);
                    s.ident = Some(ident);
                }
                Err(e) => {
                    report.failed.push((s.display.clone(), e.to_string()));
                    s.done = true;
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof || file != path => {
            // The checkpoint does not fit (a shorter file) or the rotated file is gone:
            // start the path afresh.
            match open_at(&path, 0, 0) {
                Ok((reader, ident)) => {
                    s.reader = Some(reader);
                    s.ident = Some(ident);
                }
                Err(e) => {
                    report.failed.push((s.display.clone(), e.to_string()));
                    s.done = true;
                }
            }
        }
        Err(e) => {
            report.failed.push((s.display.clone(), e.to_string()));
            s.done = true;
        }
    }
}

fn whole(run: &mut Run<'_>, sources: &mut [Source], stop: &AtomicBool) -> Result<(), Error> {
    for i in 0..sources.len() {
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let (_, eof) = run.pump(&mut sources[i], 16 * 1024, true);
            if run.agg.len() >= run.opts.max_entries {
                run.flush(sources)?;
            }
            if eof {
                break;
            }
        }
        let s = &mut sources[i];
        s.last_checkpoint = s.checkpoint();
        s.reader = None;
        s.done = true;
    }
    Ok(())
}

fn follow(run: &mut Run<'_>, sources: &mut [Source], stop: &AtomicBool) -> Result<(), Error> {
    let mut moved_since_flush = false;
    // Whether a source's last pump reached its end.
    let mut at_eof = vec![false; sources.len()];
    while !stop.load(Ordering::Relaxed) {
        let mut progress = false;
        for i in 0..sources.len() {
            if sources[i].done {
                continue;
            }
            if sources[i].reader.is_none() {
                open_source(&mut sources[i], None, run.opts, &mut run.report);
            }
            let is_stdin = sources[i].key.is_none();
            // Look for rotation and truncation before reading on, not after: a file
            // truncated and written past our offset since the last look must be read from
            // its start, not from the old offset (that would read the new lines twice).
            if !is_stdin && check_rotation(run, &mut sources[i], at_eof[i]) {
                progress = true;
                moved_since_flush = true;
            }
            let (n, eof) = run.pump(&mut sources[i], FOLLOW_BUDGET, is_stdin);
            at_eof[i] = eof;
            progress |= n > 0;
            moved_since_flush |= n > 0;
            if is_stdin && eof {
                sources[i].done = true;
            }
            if run.agg.len() >= run.opts.max_entries {
                run.flush(sources)?;
                moved_since_flush = false;
            }
        }
        if moved_since_flush && run.last_flush.elapsed() >= run.opts.flush_interval {
            run.flush(sources)?;
            moved_since_flush = false;
        }
        if sources.iter().all(|s| s.done) {
            break;
        }
        if !progress {
            thread::sleep(run.opts.poll_interval);
        }
    }
    Ok(())
}

/// Before reading a followed file on: notices truncation, and rotation once the old file
/// was read to its end (`at_eof`). True when it switched.
fn check_rotation(run: &mut Run<'_>, s: &mut Source, at_eof: bool) -> bool {
    let (Some(path), Some(ident)) = (s.path.clone(), s.ident.clone()) else {
        return false;
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return false; // moved away and not yet recreated: the old file may still grow
    };
    if dev_ino(&meta) != (ident.dev, ident.ino) {
        if !at_eof {
            return false; // read the old file to its end first
        }
        let seen = *s.rotation_seen.get_or_insert_with(Instant::now);
        if seen.elapsed() < run.opts.rotate_grace {
            return false;
        }
        // The old file is done: its last line needs no newline any more.
        run.pump(s, usize::MAX, true);
        match open_at(&path, 0, 0) {
            Ok((reader, ident)) => {
                s.reader = Some(reader);
                s.ident = Some(ident);
                s.rotation_seen = None;
                run.report.rotations += 1;
                tracing::info!(file = %s.display, "log rotated: reading the new file");
                true
            }
            Err(_) => false,
        }
    } else {
        let offset = s.reader.as_ref().map_or(0, LineReader::offset);
        let head_now = File::open(&path)
            .and_then(|mut f| head(&mut f))
            .unwrap_or_default();
        // A gzipped file's offset counts decompressed bytes: only its head can tell.
        let gz = ident.fingerprint.starts_with(&[0x1f, 0x8b]);
        let truncated = (!gz && meta.len() < offset)
            || (!head_now.is_empty()
                && !same_content(
                    &ident.fingerprint[..ident.fingerprint.len().min(head_now.len())],
                    &head_now,
                ));
        if !truncated {
            // A file that was shorter than the fingerprint when opened: refresh its head.
            if head_now.len() > ident.fingerprint.len()
                && let Some(id) = s.ident.as_mut()
            {
                id.fingerprint = head_now;
            }
            return false;
        }
        match open_at(&path, 0, 0) {
            Ok((reader, ident)) => {
                s.reader = Some(reader);
                s.ident = Some(ident);
                run.report.truncations += 1;
                tracing::info!(file = %s.display, "log truncated (copytruncate): reading from its start");
                true
            }
            Err(_) => false,
        }
    }
}
