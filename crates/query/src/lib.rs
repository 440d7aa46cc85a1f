//! The query language shared by the CLI, the web UI and the native API (DESIGN.md), and
//! the output formats.
//!
//! * [`parse_pattern`]: `isc.sans.org`, `*.sans.org`, `isc.sans.*`, `*sans*`, an address,
//!   a CIDR prefix or an address range, into a store [`Selector`].
//! * [`parse_types`]: `A,AAAA`, `ANY`, `ANY-DNSSEC`, `TYPE65534`.
//! * [`parse_time`]: epoch seconds, ISO 8601 dates and times, or a duration back from now
//!   (`30d`, `12h`, `-2w`).
//! * [`output`]: table, JSON, COF and CSV writers with strftime time formats.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod output;
mod pattern;
mod spec;
mod time;

pub use dnsrecall_store::{NameSelector, Selector};
pub use pattern::{PatternError, parse_name_pattern, parse_pattern, parse_types};
pub use spec::{FilterSpec, SpecError, page};
pub use time::{TimeError, TimeFormat, parse_duration, parse_time};
