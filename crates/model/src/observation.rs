use std::net::IpAddr;
use std::sync::Arc;

use crate::{Micros, Name, Rcode, Rdata, RrType};

/// The sensor that saw an observation; `None` when the source does not say.
pub type SensorId = Option<Arc<str>>;

/// One answer record seen once (or `count` times, when a log line sums sightings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub time: Micros,
    pub sensor_id: SensorId,
    pub client: Option<IpAddr>,
    pub server: Option<IpAddr>,
    pub rrname: Name,
    pub rrtype: RrType,
    pub class: u16,
    pub rdata: Rdata,
    pub ttl: Option<u32>,
    /// At least 1.
    pub count: u64,
}

/// A question answered with NXDOMAIN or another error rcode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegativeObservation {
    pub time: Micros,
    pub sensor_id: SensorId,
    pub client: Option<IpAddr>,
    pub server: Option<IpAddr>,
    pub qname: Name,
    pub qtype: RrType,
    pub rcode: Rcode,
    /// At least 1.
    pub count: u64,
}

/// What a source hands to the aggregator: an answer, an error answer, or (from logs of
/// another passive DNS) an already aggregated tuple.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An answer record seen `count` times.
    Answer(Observation),
    /// An error answer (NXDOMAIN, SERVFAIL, ...) for a question.
    Negative(NegativeObservation),
    /// An aggregated record (COF): one per rdata.
    Tuple(crate::Tuple),
}
