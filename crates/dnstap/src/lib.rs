//! dnstap: DNS messages streamed by resolvers and authoritative servers (BIND, Unbound,
//! Knot, dnsdist, ...) over Frame Streams.
//!
//! ```text
//! unix:PATH / tcp:ADDR:PORT ─▶ Listener ─▶ one thread per connection:
//!                                          FrameDecoder ─▶ StreamSession ─▶ DnstapDecoder ─▶ Vec<Record>
//! FILE (dnstap -w, fstrm_capture) ─▶ read_file ─▶ (same session, unidirectional)       (channel)
//! ```
//!
//! * [`fstrm`]: Frame Streams framing, control frames, the bidirectional handshake; a
//!   bounded incremental parser ([`fstrm::FrameDecoder`]) and a writer.
//! * [`proto`]: the dnstap protobuf message, written from the published field numbers.
//! * [`DnstapDecoder`]: one data frame to records; the DNS message inside goes through the
//!   `wire` crate's decoder, like captured packets.
//! * [`listener`]: sockets, connections, the stream state machine ([`StreamSession`]).
//! * [`mod@file`]: dnstap files.
//!
//! Hostile input never panics: frames are bounded ([`fstrm::DEFAULT_MAX_FRAME_LEN`],
//! [`fstrm::MAX_CONTROL_FRAME_LEN`]), a malformed stream is counted and its connection
//! closed while the others go on, and every frame that gives no record is counted.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod decode;
pub mod file;
pub mod fstrm;
pub mod listener;
pub mod proto;
pub mod testing;

pub use decode::{Counters, DEFAULT_RDATA_CACHE_BYTES, DnstapDecoder};
pub use file::{FileStats, read_file};
pub use listener::{ListenAddr, ListenOptions, Listener, Step, StreamSession, Totals};

#[cfg(test)]
use testing as test_message;
