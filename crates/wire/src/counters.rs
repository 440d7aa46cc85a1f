use std::collections::BTreeMap;

/// What the decoder saw, by layer, plus every anomaly and every skip by reason.
///
/// Nothing the decoder meets is thrown away silently: a frame, packet or record that does
/// not become an observation is counted in `skipped` (expected: not DNS, not supported) or
/// in `anomalies` (unexpected: malformed, truncated, over a limit). Reason names are the
/// constants in [`reason`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Frames handed to [`crate::Decoder::frame`].
    pub frames: u64,
    /// IPv4 and IPv6 packets parsed, tunnelled ones included (each layer counts).
    pub ip_packets: u64,
    /// IP fragments buffered for reassembly.
    pub ip_fragments: u64,
    /// Datagrams rebuilt from fragments.
    pub ip_reassembled: u64,
    /// UDP datagrams on a DNS port.
    pub udp_dns: u64,
    /// TCP segments on a DNS port.
    pub tcp_segments: u64,
    /// DNS messages taken out of TCP streams.
    pub tcp_dns_messages: u64,
    /// DNS messages decoded (UDP, TCP and direct calls to [`crate::decode_message`]).
    pub dns_messages: u64,
    /// Messages with QR=1.
    pub responses: u64,
    /// Messages with QR=0.
    pub queries: u64,
    /// Answer observations emitted (answer section, plus authority SOA/NS).
    pub answers: u64,
    /// Negative observations emitted (one per question of an error response).
    pub negatives: u64,
    /// NOERROR responses without any answer record (NODATA); no record is emitted.
    pub nodata: u64,
    /// Rendered rdata found in the cache.
    pub rdata_cache_hits: u64,
    /// Rdata rendered because it was not in the cache.
    pub rdata_cache_misses: u64,
    /// Unexpected input, by reason: malformed, truncated, over a limit.
    pub anomalies: BTreeMap<&'static str, u64>,
    /// Input that is fine but not for us (not IP, not DNS, encrypted, unsupported).
    pub skipped: BTreeMap<&'static str, u64>,
}

impl Counters {
    pub(crate) fn anomaly(&mut self, reason: &'static str) {
        *self.anomalies.entry(reason).or_insert(0) += 1;
    }

    pub(crate) fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// The count of one anomaly reason (0 when never seen).
    #[must_use]
    pub fn anomaly_count(&self, reason: &str) -> u64 {
        self.anomalies.get(reason).copied().unwrap_or(0)
    }

    /// The count of one skip reason (0 when never seen).
    #[must_use]
    pub fn skipped_count(&self, reason: &str) -> u64 {
        self.skipped.get(reason).copied().unwrap_or(0)
    }

    /// Adds every counter of `other` to this one (for per-thread decoders).
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.scalars_mut().into_iter().zip(other.scalars()) {
            *mine.1 = mine.1.saturating_add(theirs.1);
        }
        for (k, v) in &other.anomalies {
            let e = self.anomalies.entry(k).or_insert(0);
            *e = e.saturating_add(*v);
        }
        for (k, v) in &other.skipped {
            let e = self.skipped.entry(k).or_insert(0);
            *e = e.saturating_add(*v);
        }
    }

    /// Every counter as `name -> value`: the scalar counters by field name, then
    /// `anomaly.REASON` and `skipped.REASON`. Zero scalars are listed too.
    #[must_use]
    pub fn to_pairs(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .scalars()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        out.extend(
            self.anomalies
                .iter()
                .map(|(k, v)| (format!("anomaly.{k}"), *v)),
        );
        out.extend(
            self.skipped
                .iter()
                .map(|(k, v)| (format!("skipped.{k}"), *v)),
        );
        out
    }

    /// Total of all anomaly counters.
    #[must_use]
    pub fn total_anomalies(&self) -> u64 {
        self.anomalies.values().sum()
    }

    fn scalars(&self) -> [(&'static str, u64); 15] {
        [
            ("frames", self.frames),
            ("ip_packets", self.ip_packets),
            ("ip_fragments", self.ip_fragments),
            ("ip_reassembled", self.ip_reassembled),
            ("udp_dns", self.udp_dns),
            ("tcp_segments", self.tcp_segments),
            ("tcp_dns_messages", self.tcp_dns_messages),
            ("dns_messages", self.dns_messages),
            ("responses", self.responses),
            ("queries", self.queries),
            ("answers", self.answers),
            ("negatives", self.negatives),
            ("nodata", self.nodata),
            ("rdata_cache_hits", self.rdata_cache_hits),
            ("rdata_cache_misses", self.rdata_cache_misses),
        ]
    }

    fn scalars_mut(&mut self) -> [(&'static str, &mut u64); 15] {
        [
            ("frames", &mut self.frames),
            ("ip_packets", &mut self.ip_packets),
            ("ip_fragments", &mut self.ip_fragments),
            ("ip_reassembled", &mut self.ip_reassembled),
            ("udp_dns", &mut self.udp_dns),
            ("tcp_segments", &mut self.tcp_segments),
            ("tcp_dns_messages", &mut self.tcp_dns_messages),
            ("dns_messages", &mut self.dns_messages),
            ("responses", &mut self.responses),
            ("queries", &mut self.queries),
            ("answers", &mut self.answers),
            ("negatives", &mut self.negatives),
            ("nodata", &mut self.nodata),
            ("rdata_cache_hits", &mut self.rdata_cache_hits),
            ("rdata_cache_misses", &mut self.rdata_cache_misses),
        ]
    }
}

/// The reason names used as keys of [`Counters::anomalies`] and [`Counters::skipped`].
pub mod reason {
    // ---- skipped: fine input that is not for us ----
    /// A pcap link type the decoder does not parse.
    pub const UNSUPPORTED_LINK_TYPE: &str = "unsupported_link_type";
    /// An Ethernet (or SLL, GRE, ...) frame whose payload is not IPv4 or IPv6.
    pub const NON_IP: &str = "non_ip";
    /// An 802.11 frame that is not an unprotected data frame.
    pub const WLAN_NON_DATA: &str = "wlan_non_data";
    /// A transport protocol other than UDP and TCP (and the tunnels decoded).
    pub const NON_UDP_TCP: &str = "non_udp_tcp";
    /// UDP or TCP where neither port is a configured DNS port.
    pub const NON_DNS_PORT: &str = "non_dns_port";
    /// DNS over TLS or QUIC (port 853): encrypted, nothing to decode.
    pub const ENCRYPTED_DNS: &str = "encrypted_dns";
    /// IPsec ESP: encrypted.
    pub const ESP: &str = "esp";
    /// A tunnel payload that is not Ethernet or IP (GRE with another protocol, ...).
    pub const TUNNEL_PAYLOAD: &str = "tunnel_payload";
    /// DNS messages that are not QUERY, IQUERY or STATUS responses (UPDATE, NOTIFY, ...).
    pub const DNS_OPCODE: &str = "dns_opcode";
    /// OPT, TSIG, TKEY and SIG(0) pseudo-records.
    pub const PSEUDO_RECORD: &str = "pseudo_record";
    /// A TCP segment without payload (handshake, ACK).
    pub const TCP_NO_PAYLOAD: &str = "tcp_no_payload";
    /// A TCP segment entirely made of bytes already seen (retransmission).
    pub const TCP_RETRANSMISSION: &str = "tcp_retransmission";
    /// A TCP flow idle longer than the timeout (its buffers are flushed).
    pub const TCP_IDLE_TIMEOUT: &str = "tcp_idle_timeout";

    // ---- anomalies: malformed, truncated, over a limit ----
    /// A frame shorter than its link-layer header.
    pub const SHORT_FRAME: &str = "short_frame";
    /// More VLAN/MPLS tags or tunnel layers than the decoder follows.
    pub const TOO_MANY_LAYERS: &str = "too_many_layers";
    /// An IP header that is short, of the wrong version or inconsistent.
    pub const BAD_IP_HEADER: &str = "bad_ip_header";
    /// An IP packet cut short by the capture's snap length (decoded as far as present).
    pub const IP_TRUNCATED: &str = "ip_truncated";
    /// An IPv6 extension header chain that is too long or cut short.
    pub const BAD_IPV6_EXTENSION: &str = "bad_ipv6_extension";
    /// A UDP or TCP header that is short or inconsistent.
    pub const BAD_TRANSPORT_HEADER: &str = "bad_transport_header";
    /// A fragment that is empty, too far out or inconsistent with its datagram.
    pub const BAD_FRAGMENT: &str = "bad_fragment";
    /// Fragments with different bytes for the same offset (the first copy is kept).
    pub const FRAGMENT_OVERLAP: &str = "fragment_overlap";
    /// A datagram dropped because fragment memory was full (oldest first).
    pub const FRAGMENT_MEMORY_LIMIT: &str = "fragment_memory_limit";
    /// A datagram dropped because its fragments did not all arrive in time (or by `finish`).
    pub const FRAGMENT_TIMEOUT: &str = "fragment_timeout";
    /// A TCP segment ignored because the flow table is full.
    pub const TCP_FLOW_TABLE_FULL: &str = "tcp_flow_table_full";
    /// Buffered TCP data dropped because a flow or all flows hold too many bytes.
    pub const TCP_MEMORY_LIMIT: &str = "tcp_memory_limit";
    /// Bytes missing from a TCP stream (never captured): the stream resynchronises after
    /// the hole.
    pub const TCP_GAP: &str = "tcp_gap";
    /// A TCP direction whose data after a gap does not look like DNS: dropped until the
    /// flow ends.
    pub const TCP_DESYNC: &str = "tcp_desync";
    /// A partial DNS message left in a TCP stream when it closed or expired.
    pub const TCP_INCOMPLETE_MESSAGE: &str = "tcp_incomplete_message";
    /// A TCP segment overlapping bytes already seen with different content (the first
    /// copy is kept).
    pub const TCP_OVERLAP_MISMATCH: &str = "tcp_overlap_mismatch";
    /// A DNS message shorter than its 12-byte header.
    pub const DNS_SHORT_HEADER: &str = "dns_short_header";
    /// A response with TC=1: what it holds is kept.
    pub const DNS_TRUNCATED_TC: &str = "dns_truncated_tc";
    /// A section that ends before its count of records says (message cut short).
    pub const DNS_TRUNCATED_RECORD: &str = "dns_truncated_record";
    /// Bytes after the last record the header announces.
    pub const DNS_TRAILING_BYTES: &str = "dns_trailing_bytes";
    /// A compression pointer chain that loops or is too long.
    pub const DNS_COMPRESSION_LOOP: &str = "dns_compression_loop";
    /// A compression pointer outside the message.
    pub const DNS_POINTER_OUT_OF_BOUNDS: &str = "dns_pointer_out_of_bounds";
    /// A label type other than a normal label or a pointer (0x40, 0x80: RFC 6891 §5).
    pub const DNS_BAD_LABEL_TYPE: &str = "dns_bad_label_type";
    /// A name longer than 255 octets on the wire.
    pub const DNS_NAME_TOO_LONG: &str = "dns_name_too_long";
    /// A name the model refuses (see `dnsrecall_model::NameError`).
    pub const DNS_INVALID_NAME: &str = "dns_invalid_name";
    /// Record data that does not parse for its type (rendered RFC 3597 instead).
    pub const DNS_MALFORMED_RDATA: &str = "dns_malformed_rdata";
    /// Record data the model refuses (see `dnsrecall_model::RdataError`): record skipped.
    pub const DNS_INVALID_RDATA: &str = "dns_invalid_rdata";
    /// An error response without a question: nothing to attach the rcode to.
    pub const DNS_ERROR_WITHOUT_QUESTION: &str = "dns_error_without_question";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_everything() {
        let mut a = Counters {
            frames: 2,
            answers: 1,
            ..Counters::default()
        };
        a.anomaly(reason::DNS_TRAILING_BYTES);
        let mut b = Counters {
            frames: 3,
            nodata: 4,
            ..Counters::default()
        };
        b.anomaly(reason::DNS_TRAILING_BYTES);
        b.skip(reason::NON_DNS_PORT);
        a.merge(&b);
        assert_eq!(a.frames, 5);
        assert_eq!(a.answers, 1);
        assert_eq!(a.nodata, 4);
        assert_eq!(a.anomaly_count(reason::DNS_TRAILING_BYTES), 2);
        assert_eq!(a.skipped_count(reason::NON_DNS_PORT), 1);
        let pairs = a.to_pairs();
        assert!(pairs.contains(&("frames".to_owned(), 5)));
        assert!(pairs.contains(&("anomaly.dns_trailing_bytes".to_owned(), 2)));
        assert!(pairs.contains(&("skipped.non_dns_port".to_owned(), 1)));
        assert_eq!(a.total_anomalies(), 2);
    }
}
