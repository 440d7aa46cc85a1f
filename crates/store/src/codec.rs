//! How rdata is laid out in the `tuples` table (see `docs/spec-store.md`).
//!
//! * A and AAAA: the address as a 4- or 16-octet blob, so prefixes and ranges are index
//!   range scans over `(rrtype, rdata)`.
//! * Types whose rdata is one name (CNAME, NS, PTR, DNAME, ...): `rdata` is empty and
//!   `target` holds the name's id, so `--rdata` lookups are scans of the `target` index.
//! * Types whose last token is a name (MX, SRV, ...): `rdata` holds the text before the name.
//! * Types with a name at a fixed place (SOA, SVCB, ...): the whole text, plus `target`.
//! * Everything else: the presentation text.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dnsrecall_model::{NameSlots, Rdata, RrType};
use rusqlite::types::{Value, ValueRef};

/// The stored form of one rdata: the `rdata` column and the name (if any) for `target`.
#[derive(Debug)]
pub(crate) struct Encoded<'a> {
    pub rdata: Value,
    pub target: Option<std::borrow::Cow<'a, str>>,
}

pub(crate) fn encode(rrtype: RrType, rdata: &Rdata) -> Encoded<'_> {
    let text = rdata.as_str();
    match rrtype {
        RrType::A => {
            if let Ok(ip) = text.parse::<Ipv4Addr>() {
                return Encoded {
                    rdata: Value::Blob(ip.octets().to_vec()),
                    target: None,
                };
            }
        }
        RrType::AAAA => {
            if let Ok(ip) = text.parse::<Ipv6Addr>() {
                return Encoded {
                    rdata: Value::Blob(ip.octets().to_vec()),
                    target: None,
                };
            }
        }
        _ => {}
    }
    let target = rdata
        .target_name(rrtype)
        .map(|n| std::borrow::Cow::Owned(String::from(n)));
    let column = match (NameSlots::of(rrtype), &target) {
        (NameSlots::Whole, Some(_)) => String::new(),
        (NameSlots::Last, Some(_)) => text
            .rsplit_once(' ')
            .map(|(h, _)| h)
            .unwrap_or("")
            .to_owned(),
        _ => text.to_owned(),
    };
    Encoded {
        rdata: Value::Text(column),
        target,
    }
}

/// Rebuilds the presentation text from the stored columns and the target's name.
pub(crate) fn decode(rrtype: RrType, rdata: ValueRef<'_>, target: Option<&str>) -> String {
    match rdata {
        ValueRef::Blob(b) if b.len() == 4 && rrtype == RrType::A => {
            let o: [u8; 4] = [b[0], b[1], b[2], b[3]];
            Ipv4Addr::from(o).to_string()
        }
        ValueRef::Blob(b) if b.len() == 16 && rrtype == RrType::AAAA => {
            let mut o = [0u8; 16];
            o.copy_from_slice(b);
            Ipv6Addr::from(o).to_string()
        }
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            let text = String::from_utf8_lossy(t);
            match (NameSlots::of(rrtype), target) {
                (NameSlots::Whole, Some(name)) => name.to_owned(),
                (NameSlots::Last, Some(name)) if text.is_empty() => name.to_owned(),
                (NameSlots::Last, Some(name)) => format!("{text} {name}"),
                _ => text.into_owned(),
            }
        }
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Null => String::new(),
    }
}

/// The sortable blob of an address, as stored for A and AAAA.
#[must_use]
pub fn address_key(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let cases = [
            (RrType::A, "10.1.2.3"),
            (RrType::AAAA, "2001:db8::1"),
            (RrType::CNAME, "a.example.com"),
            (RrType::MX, "10 mail.example.com"),
            (RrType::MX, "mail.example.com"),
            (RrType::SRV, "0 5 5060 sip.example.com"),
            (RrType::SOA, "ns1.x.de host.x.de 1 2 3 4 5"),
            (RrType::TXT, "\"v=spf1 -all\""),
            (RrType(65280), "\\# 2 abcd"),
        ];
        for (t, text) in cases {
            let rdata = Rdata::new(t, text).unwrap();
            let enc = encode(t, &rdata);
            let target = enc.target.as_deref();
            let back = decode(t, ValueRef::from(&enc.rdata), target);
            assert_eq!(back, text, "{t}");
        }
    }
}
