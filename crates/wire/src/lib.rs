//! Captured frames to DNS observations, with no I/O.
//!
//! ```text
//! frame ─▶ link ─▶ IPv4 / IPv6 ─┬─▶ UDP (DNS port) ───────────────┐
//!          (Ethernet, VLAN,     ├─▶ TCP: stream reassembly ───────┼─▶ DNS message ─▶ Record
//!           SLL, NULL, ...)     ├─▶ fragments: reassembly ─▶ ↑    │   (answers, negatives)
//!                               └─▶ tunnels: IP-in-IP, GRE, VXLAN, Geneve, Teredo ─▶ IP
//! ```
//!
//! * [`Decoder`] takes frames one at a time ([`Decoder::frame`]) with their pcap
//!   [`LinkType`] and capture time, and appends the model's `Record`s for every DNS
//!   response it finds. It keeps the state that spans frames (IP fragments, TCP streams,
//!   a cache of rendered rdata), each bounded by [`Config`] or a named constant.
//! * [`decode_message`] (and the reusable [`MessageDecoder`]) decode one DNS message on
//!   its own, for dnstap and fuzzing.
//! * Nothing panics on any input and nothing is dropped silently: every frame, packet or
//!   record that does not become a record is counted in [`Counters`], as `skipped`
//!   (expected: not DNS, encrypted, unsupported) or as an anomaly (malformed, truncated,
//!   over a limit), by reason (see [`reason`]).
//!
//! What a response becomes (QR=1, opcode QUERY; the client is its destination, the
//! server its source):
//!
//! * NOERROR and NXDOMAIN: an `Observation` per answer-section record, owned by the
//!   record's own owner name (so a CNAME chain stays under each owner), and per authority
//!   SOA and NS. OPT, TSIG and TKEY are skipped. NXDOMAIN keeps its CNAME chain and SOA
//!   (RFC 2308 §2.1).
//! * Any error rcode (EDNS extended ones included): a `NegativeObservation` per question.
//! * NOERROR without answers (NODATA): counted, no record.
//! * TC=1: what the message holds is kept, and counted.
//!
//! Rdata is rendered in master-file presentation format (RFC 3597 `\# len hex` for types
//! without one) and canonicalized by the model (`Rdata::new`), names by `Name::new` from
//! their RFC 1035 presentation form (octets outside printable ASCII as `\DDD`). The DNS
//! library (`domain`) is used inside this crate only.
//!
//! Modules: `link` (frames to IP), `decoder` (IP, tunnels, UDP, TCP dispatch), `defrag`
//! (IP fragments), `tcp` (stream reassembly), `dns` (messages to records), `render`
//! (rdata text), `counters`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::panic))]

mod counters;
mod decoder;
mod defrag;
mod dns;
mod link;
mod render;
mod tcp;
#[cfg(test)]
mod testutil;

pub use counters::{Counters, reason};
pub use decoder::{
    Config, Decoder, ENCRYPTED_DNS_PORT, EXPIRE_INTERVAL_US, GENEVE_PORT, MAX_ENCAPSULATION_DEPTH,
    MAX_IPV6_EXTENSION_HEADERS, MDNS_PORT, TEREDO_PORT, VXLAN_PORT,
};
pub use defrag::{MAX_DATAGRAM_LEN, MAX_FRAGMENT_DATAGRAMS};
pub use dns::{
    DNS_HEADER_LEN, MAX_CACHED_RDATA_LEN, MAX_FORWARD_POINTERS, MAX_POINTER_HOPS,
    MAX_WIRE_NAME_LEN, MessageDecoder, MessageMeta, decode_message,
};
pub use link::{LinkType, MAX_LINK_TAGS};
pub use tcp::{MAX_OUT_OF_ORDER_SEGMENTS, MAX_REORDER_DISTANCE};
