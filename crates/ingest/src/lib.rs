//! Ingest: from records to committed tuples.
//!
//! * [`Aggregator`]: a synchronous `record` / `take` core that folds observations into
//!   tuples, negative answers and client sightings in bounded maps, with exact counts. It
//!   knows nothing of threads or stores and is tested on its own.
//! * [`ClientPolicy`]: the privacy mode applied to client addresses before they are kept.
//! * [`pipeline`]: reads log files (whole, or followed across rotation), parses them,
//!   aggregates, and hands batches with their checkpoints to a writer thread that commits
//!   each in one store transaction.
//! * [`capture`] and [`dnstap`]: the same aggregator, writer and log outputs fed by the
//!   wire decoder (captures) or by dnstap senders and files.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod aggregate;
pub mod capture;
pub mod dnstap;
pub mod log_output;
pub mod pipeline;
mod privacy;
pub mod watch;
pub mod writer;

pub use aggregate::Aggregator;
pub use privacy::{ClientPolicy, KEY_FILE, parse_token, stored_forms};
