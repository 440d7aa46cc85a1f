use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Length of a keyed client hash: distinct from 4 and 16 so the stored bytes say what they are.
const HASH_LEN: usize = 12;

/// How client addresses are kept. Client data is personal data: pick the least you need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientMode {
    /// The address as seen.
    #[default]
    Store,
    /// A keyed hash of the address: the same client keeps the same token, but the address
    /// cannot be read back without the key.
    Hash,
    /// The network only: IPv4 masked to /24, IPv6 to /64.
    Mask,
    /// No client sightings at all.
    Off,
}

/// A client as stored: an address, a masked address, or a keyed hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientId {
    V4([u8; 4]),
    V6([u8; 16]),
    Hashed([u8; HASH_LEN]),
}

impl ClientId {
    #[must_use]
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => Self::V6(v6.octets()),
        }
    }

    /// The network part of an address: /24 for IPv4, /64 for IPv6.
    #[must_use]
    pub fn masked(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => {
                let mut o = v4.octets();
                o[3] = 0;
                Self::V4(o)
            }
            IpAddr::V6(v6) => {
                let mut o = v6.octets();
                o[8..].fill(0);
                Self::V6(o)
            }
        }
    }

    /// Wraps a keyed hash computed by the caller (the key lives with the store).
    #[must_use]
    pub fn hashed(digest: &[u8]) -> Self {
        let mut h = [0u8; HASH_LEN];
        let n = digest.len().min(HASH_LEN);
        h[..n].copy_from_slice(&digest[..n]);
        Self::Hashed(h)
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::V4(b) => b,
            Self::V6(b) => b,
            Self::Hashed(b) => b,
        }
    }

    /// Reads back stored bytes; `None` for a length no variant has.
    #[must_use]
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        match b.len() {
            4 => b.try_into().ok().map(Self::V4),
            16 => b.try_into().ok().map(Self::V6),
            HASH_LEN => b.try_into().ok().map(Self::Hashed),
            _ => None,
        }
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(b) => Ipv4Addr::from(*b).fmt(f),
            Self::V6(b) => Ipv6Addr::from(*b).fmt(f),
            Self::Hashed(b) => {
                f.write_str("hash:")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))
            }
        }
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let ip: IpAddr = "192.168.254.8".parse().unwrap();
        assert_eq!(ClientId::masked(ip).to_string(), "192.168.254.0");
        let ip6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(ClientId::masked(ip6).to_string(), "2001:db8:1:2::");
        let h = ClientId::hashed(&[0xab; 32]);
        assert_eq!(h.to_string(), format!("hash:{}", "ab".repeat(12)));
        assert_eq!(ClientId::from_bytes(h.as_bytes()), Some(h));
        assert_eq!(ClientId::from_bytes(&[1, 2, 3]), None);
    }
}
