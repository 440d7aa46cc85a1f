//! Live capture through libpcap: one interface per [`LiveCapture`], a BPF filter, kernel
//! drop counters.

use std::time::Duration;

use crate::pcap_file::Frame;

/// How to open an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    pub interface: String,
    /// BPF filter (`port 53` by default on the command line).
    pub bpf: String,
    pub promisc: bool,
    /// Bytes kept of each frame.
    pub snaplen: i32,
    /// Kernel buffer, bytes.
    pub buffer_size: i32,
    /// How long a read waits for a frame, so the caller can look at its stop flag.
    pub read_timeout: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            interface: "any".into(),
            bpf: "port 53".into(),
            promisc: false,
            snaplen: 65_535,
            buffer_size: 64 << 20,
            read_timeout: Duration::from_millis(200),
        }
    }
}

/// Packet counts from the capture library: what the filter passed, and what the kernel
/// (or the interface) dropped because this process did not read fast enough.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    #[error("interface {interface}: {message}")]
    Open { interface: String, message: String },
    #[error("interface {interface}: filter {bpf:?}: {message}")]
    Filter {
        interface: String,
        bpf: String,
        message: String,
    },
    #[error("interface {interface}: capture failed: {message}")]
    Read { interface: String, message: String },
}

/// An open interface.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    link: u32,
    interface: String,
    /// How long `next_frame` sleeps when nothing is ready.
    idle_wait: Duration,
}

/// Longest sleep of a read that finds nothing ready: short against the kernel buffer, so a
/// burst that arrives meanwhile is not dropped.
const IDLE_WAIT: Duration = Duration::from_millis(10);

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("interface", &self.interface)
            .finish_non_exhaustive()
    }
}

impl LiveCapture {
    /// Opens and activates the interface and installs the filter.
    ///
    /// # Errors
    /// When the interface does not exist, capture is not permitted, or the filter does not
    /// compile.
    pub fn open(o: &LiveOptions) -> Result<Self, LiveError> {
        let open_err = |e: pcap::Error| LiveError::Open {
            interface: o.interface.clone(),
            message: e.to_string(),
        };
        let timeout = i32::try_from(o.read_timeout.as_millis())
            .unwrap_or(1000)
            .max(1);
        let mut cap = pcap::Capture::from_device(o.interface.as_str())
            .map_err(open_err)?
            .promisc(o.promisc)
            .snaplen(o.snaplen)
            .buffer_size(o.buffer_size)
            .timeout(timeout)
            .open()
            .map_err(open_err)?
            // In blocking mode libpcap on Linux polls again whenever its timeout expires
            // with no packet, so a read on a quiet link never returns: the caller would
            // neither hand over what it holds nor see its stop flag (SIGTERM hung). Reads
            // are non-blocking and `next_frame` waits itself.
            .setnonblock()
            .map_err(open_err)?;
        cap.filter(&o.bpf, true).map_err(|e| LiveError::Filter {
            interface: o.interface.clone(),
            bpf: o.bpf.clone(),
            message: e.to_string(),
        })?;
        let link = u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX);
        Ok(Self {
            cap,
            link,
            interface: o.interface.clone(),
            idle_wait: o.read_timeout.min(IDLE_WAIT),
        })
    }

    #[must_use]
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The next frame, or `None` when nothing was ready (after a short sleep, at most the
    /// read timeout).
    ///
    /// # Errors
    /// When the capture failed (the interface went away).
    #[expect(
        clippy::useless_conversion,
        reason = "time_t and suseconds_t differ by platform"
    )]
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, LiveError> {
        match self.cap.next_packet() {
            Ok(p) => {
                let ts_us = i64::from(p.header.ts.tv_sec)
                    .saturating_mul(1_000_000)
                    .saturating_add(i64::from(p.header.ts.tv_usec));
                Ok(Some(Frame {
                    link: self.link,
                    ts_us,
                    data: p.data,
                    orig_len: p.header.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                std::thread::sleep(self.idle_wait);
                Ok(None)
            }
            Err(e) => Err(LiveError::Read {
                interface: self.interface.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// Counters of the capture library (kernel drops included).
    #[must_use]
    pub fn stats(&mut self) -> LiveStats {
        self.cap
            .stats()
            .map(|s| LiveStats {
                received: u64::from(s.received),
                dropped: u64::from(s.dropped),
                if_dropped: u64::from(s.if_dropped),
            })
            .unwrap_or_default()
    }
}
