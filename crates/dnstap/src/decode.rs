//! One dnstap data frame to records: the protobuf is decoded, the response message goes
//! through the same `wire` DNS decoder as captured packets.
//!
//! * `*_RESPONSE` types (`CLIENT`, `RESOLVER`, `AUTH`, `FORWARDER`, `STUB`, `TOOL`,
//!   `UPDATE`): the `response_message` is decoded. The server is `response_address`.
//!   Only `CLIENT_RESPONSE` names a client (`query_address`): in the other types the
//!   querier is the resolver itself or another server, not a user.
//! * `*_QUERY` types are counted by type and otherwise skipped (queries hold no answers).
//! * The time is the response time, else the query time, else the time of decoding.
//! * The sensor is the one given (`--sensor`), else the sender's `identity`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use dnsrecall_model::{Record, SensorId};
use dnsrecall_wire::{MessageDecoder, MessageMeta};
use prost::Message as _;

use crate::proto::{DnstapRead, DnstapType, MessageType};

/// Bytes of rendered rdata a decoder caches by default (one decoder per connection).
pub const DEFAULT_RDATA_CACHE_BYTES: usize = 2 << 20;
/// Longest identity used as a sensor id.
const MAX_IDENTITY_LEN: usize = 255;

/// What the dnstap layer saw. Wire-level counts (answers, DNS anomalies) are in the
/// `wire` counters kept beside these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Data frames handed to the decoder.
    pub frames: u64,
    /// Frames by dnstap message type (`CLIENT_RESPONSE`, `RESOLVER_QUERY`, ..., `OTHER`).
    pub by_type: BTreeMap<&'static str, u64>,
    /// Responses whose DNS message was decoded.
    pub responses: u64,
    /// Query messages (counted, not decoded).
    pub queries: u64,
    /// Unexpected input, by reason: `bad_protobuf`, `no_message`,
    /// `response_without_message`, `bad_address`, plus the stream errors of the listener
    /// and file reader (`frame_too_long`, `truncated_frame`, ...).
    pub anomalies: BTreeMap<&'static str, u64>,
    /// Fine but not for us, by reason: `not_a_message` (a `Dnstap.type` other than MESSAGE).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Connections accepted (listener).
    pub connections: u64,
    /// Connections closed because their stream was malformed.
    pub connections_failed: u64,
    /// Connections refused because too many were open.
    pub connections_refused: u64,
}

impl Counters {
    pub fn anomaly(&mut self, reason: &'static str) {
        *self.anomalies.entry(reason).or_insert(0) += 1;
    }

    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// Adds `other` into this one.
    pub fn merge(&mut self, other: &Self) {
        self.frames += other.frames;
        self.responses += other.responses;
        self.queries += other.queries;
        self.connections += other.connections;
        self.connections_failed += other.connections_failed;
        self.connections_refused += other.connections_refused;
        for (mine, theirs) in [
            (&mut self.by_type, &other.by_type),
            (&mut self.anomalies, &other.anomalies),
            (&mut self.skipped, &other.skipped),
        ] {
            for (k, v) in theirs {
                *mine.entry(k).or_insert(0) += v;
            }
        }
    }

    /// Every counter as `name -> value` (`type.X`, `anomaly.X`, `skipped.X`).
    #[must_use]
    pub fn to_pairs(&self) -> Vec<(String, u64)> {
        let mut out = vec![
            ("frames".to_owned(), self.frames),
            ("responses".to_owned(), self.responses),
            ("queries".to_owned(), self.queries),
            ("connections".to_owned(), self.connections),
            ("connections_failed".to_owned(), self.connections_failed),
            ("connections_refused".to_owned(), self.connections_refused),
        ];
        for (prefix, map) in [
            ("type", &self.by_type),
            ("anomaly", &self.anomalies),
            ("skipped", &self.skipped),
        ] {
            out.extend(map.iter().map(|(k, v)| (format!("{prefix}.{k}"), *v)));
        }
        out
    }
}

/// Decodes dnstap frames into records; one per thread (it keeps buffers and a cache).
#[derive(Debug)]
pub struct DnstapDecoder {
    sensor: SensorId,
    messages: MessageDecoder,
    counters: Counters,
    wire: dnsrecall_wire::Counters,
    /// The last identity seen and its shared sensor id (senders repeat it every frame).
    identity: Option<(Vec<u8>, Arc<str>)>,
}

impl DnstapDecoder {
    /// `sensor`: the sensor id to give every record; `None` takes each frame's identity.
    #[must_use]
    pub fn new(sensor: SensorId) -> Self {
        Self::with_cache(sensor, DEFAULT_RDATA_CACHE_BYTES)
    }

    /// A decoder whose cache of rendered rdata holds at most `cache_bytes`.
    #[must_use]
    pub fn with_cache(sensor: SensorId, cache_bytes: usize) -> Self {
        Self {
            sensor,
            messages: MessageDecoder::new(cache_bytes),
            counters: Counters::default(),
            wire: dnsrecall_wire::Counters::default(),
            identity: None,
        }
    }

    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
    }

    /// Hands over the counters gathered since the last call, and starts them again.
    pub fn take_counters(&mut self) -> (Counters, dnsrecall_wire::Counters) {
        (
            std::mem::take(&mut self.counters),
            std::mem::take(&mut self.wire),
        )
    }

    /// The DNS decoder's counters.
    #[must_use]
    pub fn wire_counters(&self) -> &dnsrecall_wire::Counters {
        &self.wire
    }

    /// Decodes one data frame, appending the records of its response to `out`. Never
    /// panics; malformed frames are counted.
    pub fn frame(&mut self, frame: &[u8], out: &mut Vec<Record>) {
        self.counters.frames += 1;
        let Ok(tap) = DnstapRead::decode(frame) else {
            self.counters.anomaly("bad_protobuf");
            return;
        };
        if tap.r#type.is_some_and(|t| t != DnstapType::MESSAGE) {
            self.counters.skip("not_a_message");
            return;
        }
        let Some(msg) = tap.message else {
            self.counters.anomaly("no_message");
            return;
        };
        let kind = msg.r#type.unwrap_or(0);
        *self
            .counters
            .by_type
            .entry(MessageType::name(kind))
            .or_insert(0) += 1;
        if !MessageType::is_response(kind) {
            self.counters.queries += 1;
            return;
        }
        let Some(response) = msg.response_message.as_deref() else {
            self.counters.anomaly("response_without_message");
            return;
        };
        let server = self.address(msg.response_address.as_deref());
        let client = if kind == MessageType::CLIENT_RESPONSE {
            self.address(msg.query_address.as_deref())
        } else {
            None
        };
        let ts_us = time_us(msg.response_time_sec, msg.response_time_nsec)
            .or_else(|| time_us(msg.query_time_sec, msg.query_time_nsec))
            .unwrap_or_else(now_us);
        let sensor_id = match &self.sensor {
            Some(s) => Some(s.clone()),
            None => tap
                .identity
                .as_deref()
                .and_then(|i| self.identity_sensor(i)),
        };
        let meta = MessageMeta {
            ts_us,
            client,
            server,
            sensor_id,
            mdns: false,
        };
        self.counters.responses += 1;
        self.messages.decode(response, &meta, out, &mut self.wire);
    }

    fn address(&mut self, bytes: Option<&[u8]>) -> Option<IpAddr> {
        match bytes {
            None | Some([]) => None,
            Some(b) => match <[u8; 4]>::try_from(b) {
                Ok(v4) => Some(IpAddr::V4(Ipv4Addr::from(v4))),
                Err(_) => match <[u8; 16]>::try_from(b) {
                    Ok(v6) => Some(IpAddr::V6(Ipv6Addr::from(v6))),
                    Err(_) => {
                        self.counters.anomaly("bad_address");
                        None
                    }
                },
            },
        }
    }

    fn identity_sensor(&mut self, identity: &[u8]) -> Option<Arc<str>> {
        if let Some((bytes, id)) = &self.identity
            && bytes == identity
        {
            return Some(id.clone());
        }
        let text = std::str::from_utf8(identity).ok().filter(|s| {
            !s.is_empty() && s.len() <= MAX_IDENTITY_LEN && !s.chars().any(char::is_control)
        });
        let Some(text) = text else {
            self.counters.anomaly("bad_identity");
            return None;
        };
        let id: Arc<str> = Arc::from(text);
        self.identity = Some((identity.to_vec(), id.clone()));
        Some(id)
    }
}

fn time_us(sec: Option<u64>, nsec: Option<u32>) -> Option<i64> {
    let sec = i64::try_from(sec?).ok()?;
    let us = i64::from(nsec.unwrap_or(0).min(999_999_999) / 1000);
    sec.checked_mul(1_000_000)?.checked_add(us)
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Dnstap, Message};
    use crate::test_message;

    #[test]
    fn client_response_has_client_server_time_and_identity() {
        let frame = test_message::client_response(
            "www.example.com",
            [192, 0, 2, 7],
            1_700_000_000,
            "resolver-1",
        );
        let mut d = DnstapDecoder::new(None);
        let mut out = Vec::new();
        d.frame(&frame, &mut out);
        assert_eq!(out.len(), 1, "{:?}", d.wire_counters());
        let Record::Answer(o) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(o.rrname.as_str(), "www.example.com");
        assert_eq!(o.rdata.as_str(), "192.0.2.7");
        assert_eq!(o.client, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(o.server, Some("10.0.0.53".parse().unwrap()));
        assert_eq!(o.time, 1_700_000_000_000_123);
        assert_eq!(o.sensor_id.as_deref(), Some("resolver-1"));
        let mut d = DnstapDecoder::new(Some(Arc::from("given")));
        out.clear();
        d.frame(&frame, &mut out);
        let Record::Answer(o) = &out[0] else { panic!() };
        assert_eq!(o.sensor_id.as_deref(), Some("given"));
    }

    #[test]
    fn other_responses_have_no_client_and_queries_are_counted() {
        let mut tap = Dnstap::decode(
            test_message::client_response("a.example", [1, 2, 3, 4], 5, "x").as_slice(),
        )
        .unwrap();
        let m = tap.message.as_mut().unwrap();
        m.r#type = Some(MessageType::RESOLVER_RESPONSE);
        let mut d = DnstapDecoder::new(None);
        let mut out = Vec::new();
        d.frame(&tap.encode_to_vec(), &mut out);
        let Record::Answer(o) = &out[0] else { panic!() };
        assert_eq!(o.client, None);
        tap.message = Some(Message {
            r#type: Some(MessageType::CLIENT_QUERY),
            ..Message::default()
        });
        d.frame(&tap.encode_to_vec(), &mut out);
        assert_eq!(d.counters().queries, 1);
        assert_eq!(d.counters().by_type["CLIENT_QUERY"], 1);
        assert_eq!(d.counters().by_type["RESOLVER_RESPONSE"], 1);
    }

    #[test]
    fn garbage_is_counted() {
        let mut d = DnstapDecoder::new(None);
        let mut out = Vec::new();
        for bad in [&[0xff_u8, 0xff, 0xff][..], &[0x0a, 0x05, 1], &[]] {
            d.frame(bad, &mut out);
        }
        let tap = Dnstap {
            message: Some(Message {
                r#type: Some(MessageType::AUTH_RESPONSE),
                response_address: Some(vec![1, 2, 3]),
                ..Message::default()
            }),
            ..Dnstap::default()
        };
        d.frame(&tap.encode_to_vec(), &mut out);
        assert!(out.is_empty());
        let c = d.counters();
        assert_eq!(c.frames, 4);
        assert_eq!(c.anomalies["bad_protobuf"], 2, "{c:?}");
        assert_eq!(c.anomalies["no_message"], 1, "{c:?}");
        assert_eq!(c.anomalies["response_without_message"], 1, "{c:?}");
    }
}
