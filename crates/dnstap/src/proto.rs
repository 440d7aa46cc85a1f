//! The dnstap protobuf schema (<https://dnstap.info>), written from its published field
//! numbers as `prost` messages: no build step, no protoc.
//!
//! Only what dnsrecall reads is declared; protobuf skips unknown fields, so newer senders
//! (policy, HTTP protocol fields) decode fine.

/// The outer message of every data frame.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Dnstap {
    /// The sender's identity (server name), for `--sensor`.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub identity: Option<Vec<u8>>,
    /// The sender's software version.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub version: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub extra: Option<Vec<u8>>,
    #[prost(message, optional, tag = "14")]
    pub message: Option<Message>,
    /// [`DnstapType`]; `MESSAGE` (1) is the only one defined.
    #[prost(int32, optional, tag = "15")]
    pub r#type: Option<i32>,
}

/// `Dnstap.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnstapType;

impl DnstapType {
    pub const MESSAGE: i32 = 1;
}

/// One DNS message with where and when it was seen.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Message {
    /// [`MessageType`].
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    /// 1 INET, 2 INET6.
    #[prost(int32, optional, tag = "2")]
    pub socket_family: Option<i32>,
    /// 1 UDP, 2 TCP, 3 DOT, 4 DOH, 5 DNSCrypt UDP, 6 DNSCrypt TCP, 7 DOQ.
    #[prost(int32, optional, tag = "3")]
    pub socket_protocol: Option<i32>,
    /// The address of the side that sent the query (the initiator).
    #[prost(bytes = "vec", optional, tag = "4")]
    pub query_address: Option<Vec<u8>>,
    /// The address of the side that answered.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub response_address: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "6")]
    pub query_port: Option<u32>,
    #[prost(uint32, optional, tag = "7")]
    pub response_port: Option<u32>,
    #[prost(uint64, optional, tag = "8")]
    pub query_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "9")]
    pub query_time_nsec: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "10")]
    pub query_message: Option<Vec<u8>>,
    /// The zone (bailiwick) of a resolver query, in wire format.
    #[prost(bytes = "vec", optional, tag = "11")]
    pub query_zone: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "12")]
    pub response_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "13")]
    pub response_time_nsec: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "14")]
    pub response_message: Option<Vec<u8>>,
}

/// The part of [`Dnstap`] the receiver reads. Protobuf skips the fields a message type
/// does not declare without allocating, so decoding into this leaves out the version, the
/// query message and the zone: fewer copies per frame.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct DnstapRead {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub identity: Option<Vec<u8>>,
    #[prost(message, optional, tag = "14")]
    pub message: Option<MessageRead>,
    #[prost(int32, optional, tag = "15")]
    pub r#type: Option<i32>,
}

/// The part of [`Message`] the receiver reads (same field numbers).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct MessageRead {
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub query_address: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "5")]
    pub response_address: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "8")]
    pub query_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "9")]
    pub query_time_nsec: Option<u32>,
    #[prost(uint64, optional, tag = "12")]
    pub response_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "13")]
    pub response_time_nsec: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "14")]
    pub response_message: Option<Vec<u8>>,
}

/// `Message.type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageType;

impl MessageType {
    pub const AUTH_QUERY: i32 = 1;
    pub const AUTH_RESPONSE: i32 = 2;
    pub const RESOLVER_QUERY: i32 = 3;
    pub const RESOLVER_RESPONSE: i32 = 4;
    pub const CLIENT_QUERY: i32 = 5;
    pub const CLIENT_RESPONSE: i32 = 6;
    pub const FORWARDER_QUERY: i32 = 7;
    pub const FORWARDER_RESPONSE: i32 = 8;
    pub const STUB_QUERY: i32 = 9;
    pub const STUB_RESPONSE: i32 = 10;
    pub const TOOL_QUERY: i32 = 11;
    pub const TOOL_RESPONSE: i32 = 12;
    pub const UPDATE_QUERY: i32 = 13;
    pub const UPDATE_RESPONSE: i32 = 14;

    /// The schema's name of a message type (a stable counter key), `OTHER` when unknown.
    #[must_use]
    pub fn name(t: i32) -> &'static str {
        const NAMES: [&str; 14] = [
            "AUTH_QUERY",
            "AUTH_RESPONSE",
            "RESOLVER_QUERY",
            "RESOLVER_RESPONSE",
            "CLIENT_QUERY",
            "CLIENT_RESPONSE",
            "FORWARDER_QUERY",
            "FORWARDER_RESPONSE",
            "STUB_QUERY",
            "STUB_RESPONSE",
            "TOOL_QUERY",
            "TOOL_RESPONSE",
            "UPDATE_QUERY",
            "UPDATE_RESPONSE",
        ];
        usize::try_from(t)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| NAMES.get(i))
            .copied()
            .unwrap_or("OTHER")
    }

    /// Whether the type carries a response (even numbers up to `UPDATE_RESPONSE`).
    #[must_use]
    pub fn is_response(t: i32) -> bool {
        (2..=14).contains(&t) && t % 2 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    /// A dnstap frame as the Go reference library writes it (field numbers by hand).
    #[test]
    fn decodes_hand_encoded_fields() {
        let mut b = vec![0x0a, 3, b'n', b's', b'1', 0x12, 1, b'v'];
        let mut m = vec![
            0x08, 6, 0x10, 1, 0x18, 1, 0x22, 4, 10, 0, 0, 1, 0x2a, 4, 10, 0, 0, 2,
        ];
        m.extend([0x30, 0xe6, 0xae, 0x03, 0x38, 53]);
        m.extend([0x60, 100, 0x6d, 0x10, 0, 0, 0]); // response_time_sec=100, nsec=16
        m.extend([0x72, 2, 0xab, 0xcd]); // response_message
        b.push(0x72);
        b.push(u8::try_from(m.len()).unwrap());
        b.extend(&m);
        b.extend([0x78, 1]);
        let d = Dnstap::decode(b.as_slice()).unwrap();
        assert_eq!(d.identity.as_deref(), Some(&b"ns1"[..]));
        assert_eq!(d.r#type, Some(DnstapType::MESSAGE));
        let m = d.message.clone().unwrap();
        assert_eq!(m.r#type, Some(MessageType::CLIENT_RESPONSE));
        assert_eq!(m.query_address.as_deref(), Some(&[10, 0, 0, 1][..]));
        assert_eq!(m.query_port, Some(55142));
        assert_eq!(m.response_port, Some(53));
        assert_eq!(m.response_time_sec, Some(100));
        assert_eq!(m.response_time_nsec, Some(16));
        assert_eq!(m.response_message.as_deref(), Some(&[0xab, 0xcd][..]));
        assert_eq!(d.encode_to_vec(), b);
    }

    #[test]
    fn the_read_subset_decodes_the_same_fields() {
        let full = Dnstap::decode(
            crate::testing::client_response("a.example", [1, 2, 3, 4], 9, "id").as_slice(),
        )
        .unwrap();
        let read = DnstapRead::decode(full.encode_to_vec().as_slice()).unwrap();
        let (f, r) = (full.message.unwrap(), read.message.unwrap());
        assert_eq!(read.identity, full.identity);
        assert_eq!(read.r#type, full.r#type);
        assert_eq!(
            (
                r.r#type,
                r.query_address,
                r.response_address,
                r.response_message
            ),
            (
                f.r#type,
                f.query_address,
                f.response_address,
                f.response_message
            )
        );
        assert_eq!(
            (r.response_time_sec, r.response_time_nsec, r.query_time_sec),
            (f.response_time_sec, f.response_time_nsec, f.query_time_sec)
        );
    }

    #[test]
    fn names() {
        assert_eq!(MessageType::name(6), "CLIENT_RESPONSE");
        assert_eq!(MessageType::name(0), "OTHER");
        assert_eq!(MessageType::name(99), "OTHER");
        assert!(MessageType::is_response(MessageType::STUB_RESPONSE));
        assert!(!MessageType::is_response(MessageType::CLIENT_QUERY));
    }
}
