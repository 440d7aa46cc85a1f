//! The data model every dnsrecall part shares (see `docs/spec-canonical.md`).
//!
//! * [`Name`]: a canonical owner or target name: lowercase ASCII (A-labels), no trailing dot.
//! * [`RrType`] and [`Rcode`]: open newtypes over the wire numbers, with the usual mnemonics.
//! * [`Observation`] / [`NegativeObservation`]: one answer (or error answer) seen once.
//! * [`Tuple`]: the COF record `(rrname, rrtype, rdata)` with `time_first`, `time_last` and
//!   `count`, and its merge rule ([`TupleValue::merge`]) which is commutative and associative.
//! * [`ClientSighting`]: who asked for a name, for the "which of our hosts" searches.
//!
//! Nothing here performs I/O.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod client;
mod name;
mod observation;
mod rdata;
mod rrtype;
mod tuple;

pub use client::{ClientId, ClientMode};
pub use name::{MAX_NAME_LEN, Name, NameError, reverse_labels};
pub use observation::{NegativeObservation, Observation, Record, SensorId};
pub use rdata::{MAX_RDATA_LEN, NameSlots, Rdata, RdataError};
pub use rrtype::{Rcode, RrType};
pub use tuple::{ClientKey, ClientSighting, NegativeKey, Tuple, TupleKey, TupleValue};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// Whole seconds of a microsecond timestamp (floor, also for times before 1970).
#[must_use]
pub fn micros_to_secs(t: Micros) -> i64 {
    t.div_euclid(1_000_000)
}
