//! The dnstap receiver: Frame Streams over unix sockets and TCP, several senders at once.
//!
//! One accept thread polls every bound socket; each connection gets its own thread with
//! its own [`DnstapDecoder`] (decoding scales with senders) and hands records over a
//! bounded channel in batches (a slow consumer slows the senders: their sockets fill, as
//! with any Frame Streams receiver; nothing is dropped here). A connection whose stream is
//! malformed (over-long frame, bad control frame, wrong content type) is counted and
//! closed; the others go on. A sender that disconnects mid-frame loses only that frame.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use dnsrecall_model::{Record, SensorId};

use crate::decode::{Counters, DnstapDecoder};
use crate::fstrm::{CONTENT_TYPE_DNSTAP, Control, ControlType, Frame, FrameDecoder};

/// How long a connection read waits before it looks at the stop flag.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Pause of the accept loop when no connection is waiting.
const ACCEPT_POLL: Duration = Duration::from_millis(20);
/// After a stop, how long a connection still reads what its sender already sent.
const STOP_DRAIN: Duration = Duration::from_secs(1);

/// Where to listen: `unix:PATH` or `tcp:ADDR:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a socket path".into());
            }
            Ok(Self::Unix(PathBuf::from(path)))
        } else if let Some(addr) = s.strip_prefix("tcp:") {
            addr.parse()
                .map(Self::Tcp)
                .map_err(|_| format!("{addr:?} is not ADDR:PORT (IPv6 as [::1]:PORT)"))
        } else {
            Err(format!("{s:?}: expected unix:PATH or tcp:ADDR:PORT"))
        }
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// How the receiver runs.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// Longest data frame accepted; a longer one closes its connection.
    pub max_frame_len: usize,
    /// Most connections served at once; more are refused (closed at once) and counted.
    pub max_connections: usize,
    /// `--sensor`; `None` takes each sender's identity.
    pub sensor: SensorId,
    /// Records a connection gathers before handing them over.
    pub handoff_records: usize,
    /// Longest time records wait in a connection before they are handed over.
    pub handoff_interval: Duration,
    /// Permissions of unix sockets (the senders' users must be able to write to it).
    pub socket_mode: u32,
    /// Rendered rdata cached per connection (memory: this times `max_connections`).
    pub rdata_cache_bytes: usize,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            max_frame_len: crate::fstrm::DEFAULT_MAX_FRAME_LEN,
            max_connections: 64,
            sensor: None,
            handoff_records: 4096,
            handoff_interval: Duration::from_millis(200),
            socket_mode: 0o660,
            rdata_cache_bytes: crate::decode::DEFAULT_RDATA_CACHE_BYTES,
        }
    }
}

/// Counters shared by every connection: merged in at each handoff.
#[derive(Debug, Default)]
pub struct Totals {
    pub dnstap: Counters,
    pub wire: dnsrecall_wire::Counters,
}

enum Bound {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

/// Bound sockets, ready to serve.
#[derive(Debug)]
pub struct Listener {
    bound: Vec<Bound>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(_, p) => write!(f, "unix:{}", p.display()),
            Self::Tcp(l) => write!(f, "tcp:{:?}", l.local_addr().ok()),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        for b in &self.bound {
            if let Bound::Unix(_, path) = b {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

impl Listener {
    /// Binds every address. A unix socket path that exists as a socket nobody listens on
    /// (left by a crash) is replaced; anything else there is an error.
    ///
    /// # Errors
    /// When an address cannot be bound.
    pub fn bind(addrs: &[ListenAddr], opts: &ListenOptions) -> io::Result<Self> {
        // Built as it goes: when a later address fails, dropping it removes the unix
        // sockets already created.
        let mut listener = Self { bound: Vec::new() };
        let bound = &mut listener.bound;
        for a in addrs {
            match a {
                ListenAddr::Unix(path) => {
                    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
                    if let Ok(meta) = std::fs::symlink_metadata(path) {
                        if !meta.file_type().is_socket() {
                            return Err(io::Error::new(
                                io::ErrorKind::AlreadyExists,
                                format!("{} exists and is not a socket", path.display()),
                            ));
                        }
                        if UnixStream::connect(path).is_ok() {
                            return Err(io::Error::new(
                                io::ErrorKind::AddrInUse,
                                format!("{}: another process listens there", path.display()),
                            ));
                        }
                        std::fs::remove_file(path)?;
                    }
                    let l = UnixListener::bind(path)?;
                    bound.push(Bound::Unix(l, path.clone()));
                    std::fs::set_permissions(
                        path,
                        std::fs::Permissions::from_mode(opts.socket_mode),
                    )?;
                    if let Some(Bound::Unix(l, _)) = bound.last() {
                        l.set_nonblocking(true)?;
                    }
                }
                ListenAddr::Tcp(addr) => {
                    let l = TcpListener::bind(addr)?;
                    l.set_nonblocking(true)?;
                    bound.push(Bound::Tcp(l));
                }
            }
        }
        Ok(listener)
    }

    /// The bound addresses (TCP port 0 resolved to the port taken).
    #[must_use]
    pub fn local_addrs(&self) -> Vec<ListenAddr> {
        self.bound
            .iter()
            .filter_map(|b| match b {
                Bound::Unix(_, p) => Some(ListenAddr::Unix(p.clone())),
                Bound::Tcp(l) => l.local_addr().ok().map(ListenAddr::Tcp),
            })
            .collect()
    }

    /// Serves until `stop` is set, then lets every connection read what its sender
    /// already sent (up to a second) and returns when all are closed. Records go to `tx`;
    /// counters into `totals`.
    ///
    /// # Errors
    /// When the accept thread cannot be started.
    pub fn spawn(
        self,
        opts: ListenOptions,
        stop: Arc<AtomicBool>,
        tx: SyncSender<Vec<Record>>,
        totals: Arc<Mutex<Totals>>,
    ) -> io::Result<JoinHandle<()>> {
        thread::Builder::new()
            .name("dnstap-accept".into())
            .spawn(move || self.accept_loop(&opts, &stop, &tx, &totals))
    }

    fn accept_loop(
        &self,
        opts: &ListenOptions,
        stop: &Arc<AtomicBool>,
        tx: &SyncSender<Vec<Record>>,
        totals: &Arc<Mutex<Totals>>,
    ) {
        let active = Arc::new(AtomicUsize::new(0));
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let mut accepted = false;
            for b in &self.bound {
                let conn: io::Result<Conn> = match b {
                    Bound::Unix(l, _) => l.accept().map(|(s, _)| Conn::Unix(s)),
                    Bound::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
                };
                let conn = match conn {
                    Ok(c) => c,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        tracing::warn!("dnstap: accept failed: {e}");
                        continue;
                    }
                };
                accepted = true;
                if active.load(Ordering::Relaxed) >= opts.max_connections {
                    lock(totals).dnstap.connections_refused += 1;
                    tracing::warn!(
                        "dnstap: connection refused: {} already open",
                        opts.max_connections
                    );
                    continue;
                }
                active.fetch_add(1, Ordering::Relaxed);
                lock(totals).dnstap.connections += 1;
                let (opts, stop, tx, totals, count) = (
                    opts.clone(),
                    stop.clone(),
                    tx.clone(),
                    totals.clone(),
                    active.clone(),
                );
                let spawned = thread::Builder::new()
                    .name("dnstap-conn".into())
                    .spawn(move || {
                        serve_connection(conn, &opts, &stop, &tx, &totals);
                        count.fetch_sub(1, Ordering::Relaxed);
                    });
                match spawned {
                    Ok(h) => threads.push(h),
                    Err(e) => {
                        active.fetch_sub(1, Ordering::Relaxed);
                        tracing::warn!("dnstap: cannot start a connection thread: {e}");
                    }
                }
            }
            threads.retain(|t| !t.is_finished());
            if !accepted {
                thread::sleep(ACCEPT_POLL);
            }
        }
        for t in threads {
            let _ = t.join();
        }
    }
}

fn lock(totals: &Mutex<Totals>) -> std::sync::MutexGuard<'_, Totals> {
    totals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn prepare(&self) -> io::Result<()> {
        match self {
            Self::Unix(s) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(READ_TIMEOUT))
            }
            Self::Tcp(s) => {
                s.set_nonblocking(false)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(READ_TIMEOUT))
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Unix(s) => s.read(buf),
            Self::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Unix(s) => s.write(buf),
            Self::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Unix(s) => s.flush(),
            Self::Tcp(s) => s.flush(),
        }
    }
}

/// Where a connection's stream stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing yet: `READY` (bidirectional) or `START` (unidirectional) may come.
    Opening,
    /// `READY` answered with `ACCEPT`: `START` comes next.
    Accepted,
    /// Data frames until `STOP`.
    Started,
}

/// Handles one stream to its end. The stream's protocol is run by [`StreamSession`];
/// this adds the socket, the handoff and the stop flag.
fn serve_connection(
    mut conn: Conn,
    opts: &ListenOptions,
    stop: &AtomicBool,
    tx: &SyncSender<Vec<Record>>,
    totals: &Mutex<Totals>,
) {
    let mut session = StreamSession::new(opts.max_frame_len, opts.sensor.clone(), true);
    session.decoder = DnstapDecoder::with_cache(opts.sensor.clone(), opts.rdata_cache_bytes);
    let mut records = Vec::new();
    let mut last_handoff = Instant::now();
    let mut stop_seen: Option<Instant> = None;
    let hand_off = |session: &mut StreamSession, records: &mut Vec<Record>| {
        let (d, w) = session.decoder.take_counters();
        {
            let mut t = lock(totals);
            t.dnstap.merge(&d);
            t.wire.merge(&w);
        }
        if !records.is_empty() {
            // A closed receiver means the run is ending: nothing more can be kept.
            let _ = tx.send(std::mem::take(records));
        }
    };
    if let Err(e) = conn.prepare() {
        tracing::warn!("dnstap: connection setup failed: {e}");
        session.decoder.counters_mut().connections_failed += 1;
        hand_off(&mut session, &mut records);
        return;
    }
    loop {
        let outcome = session.process(&mut records, &mut conn);
        if records.len() >= opts.handoff_records || last_handoff.elapsed() >= opts.handoff_interval
        {
            hand_off(&mut session, &mut records);
            last_handoff = Instant::now();
        }
        match outcome {
            Step::Done => break,
            Step::Failed(reason) => {
                let c = session.decoder.counters_mut();
                c.anomaly(reason);
                c.connections_failed += 1;
                break;
            }
            Step::More => {}
        }
        if stop.load(Ordering::Relaxed) {
            let seen = *stop_seen.get_or_insert_with(Instant::now);
            if seen.elapsed() >= STOP_DRAIN {
                break;
            }
        }
        match session.frames.read_from(&mut conn) {
            Ok(0) => {
                if session.frames.pending() > 0 {
                    session.decoder.counters_mut().anomaly("truncated_frame");
                }
                break;
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if stop_seen.is_some() {
                    break; // stopping, and the sender has nothing more in flight
                }
            }
            Err(e) => {
                tracing::debug!("dnstap: connection read failed: {e}");
                session.decoder.counters_mut().anomaly("read_error");
                break;
            }
        }
    }
    hand_off(&mut session, &mut records);
}

/// What [`StreamSession::process`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Needs more bytes.
    More,
    /// The stream ended properly (`STOP`).
    Done,
    /// The stream is malformed (reason): close it.
    Failed(&'static str),
}

/// The Frame Streams protocol of one stream, without I/O of its own: bytes go into
/// `frames`, [`StreamSession::process`] decodes what is complete and writes the control
/// replies (`ACCEPT`, `FINISH`) of a bidirectional stream to `reply`.
#[derive(Debug)]
pub struct StreamSession {
    pub frames: FrameDecoder,
    pub decoder: DnstapDecoder,
    state: State,
    bidirectional: bool,
}

impl StreamSession {
    /// `bidirectional`: answer `READY` and `STOP` (sockets); files are unidirectional.
    #[must_use]
    pub fn new(max_frame_len: usize, sensor: SensorId, bidirectional: bool) -> Self {
        Self {
            frames: FrameDecoder::new(max_frame_len),
            decoder: DnstapDecoder::new(sensor),
            state: State::Opening,
            bidirectional,
        }
    }

    /// Decodes every complete frame buffered.
    pub fn process<W: Write>(&mut self, out: &mut Vec<Record>, reply: &mut W) -> Step {
        loop {
            let frame = match self.frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return Step::More,
                Err(e) => return Step::Failed(e.reason()),
            };
            match frame {
                Frame::Data(bytes) => {
                    if self.state != State::Started {
                        self.decoder.counters_mut().anomaly("data_before_start");
                    }
                    self.decoder.frame(bytes, out);
                }
                Frame::Control(c) => match self.control(&c, reply) {
                    Step::More => {}
                    other => return other,
                },
            }
        }
    }

    fn control<W: Write>(&mut self, c: &Control, reply: &mut W) -> Step {
        match (c.kind, self.state) {
            (ControlType::READY, State::Opening) if self.bidirectional => {
                if !c.offers(CONTENT_TYPE_DNSTAP) {
                    return Step::Failed("content_type_mismatch");
                }
                let accept = Control::new(ControlType::ACCEPT, Some(CONTENT_TYPE_DNSTAP));
                if reply
                    .write_all(&accept.encode())
                    .and_then(|()| reply.flush())
                    .is_err()
                {
                    return Step::Failed("write_error");
                }
                self.state = State::Accepted;
                Step::More
            }
            (ControlType::START, State::Opening | State::Accepted) => {
                if !c.offers(CONTENT_TYPE_DNSTAP) {
                    return Step::Failed("content_type_mismatch");
                }
                self.state = State::Started;
                Step::More
            }
            (ControlType::STOP, _) => {
                if self.bidirectional {
                    let finish = Control::new(ControlType::FINISH, None);
                    let _ = reply
                        .write_all(&finish.encode())
                        .and_then(|()| reply.flush());
                }
                Step::Done
            }
            _ => Step::Failed("unexpected_control_frame"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            "unix:/run/dnstap.sock".parse::<ListenAddr>().unwrap(),
            ListenAddr::Unix("/run/dnstap.sock".into())
        );
        assert_eq!(
            "tcp:[::1]:6000".parse::<ListenAddr>().unwrap(),
            ListenAddr::Tcp("[::1]:6000".parse().unwrap())
        );
        for bad in ["unix:", "tcp:1.2.3.4", "file:/x", "/x"] {
            assert!(bad.parse::<ListenAddr>().is_err(), "{bad}");
        }
    }
}
