//! Link layers: from a captured frame to the IP packet inside.

use crate::counters::reason;

/// Most 802.1Q/802.1ad tags, MPLS labels or similar shims followed in one frame.
pub const MAX_LINK_TAGS: usize = 8;

/// A pcap `LINKTYPE_*` number: how the frames of a capture (or of one pcapng interface)
/// start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: Self = Self(0);
    /// Ethernet II, with 802.1Q / 802.1ad (QinQ) tags, MPLS and PPPoE followed.
    pub const ETHERNET: Self = Self(1);
    /// Raw IP (version from the first nibble).
    pub const RAW: Self = Self(101);
    /// 802.11 frames without radio header.
    pub const IEEE802_11: Self = Self(105);
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: Self = Self(108);
    /// Linux "cooked" capture v1 (`any` interface).
    pub const LINUX_SLL: Self = Self(113);
    /// 802.11 with a radiotap header.
    pub const IEEE802_11_RADIOTAP: Self = Self(127);
    /// Raw IPv4.
    pub const IPV4: Self = Self(228);
    /// Raw IPv6.
    pub const IPV6: Self = Self(229);
    /// Linux netfilter NFLOG.
    pub const NFLOG: Self = Self(239);
    /// Linux "cooked" capture v2.
    pub const LINUX_SLL2: Self = Self(276);
}

/// The network-layer packet found in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Network<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
}

/// Why nothing was found: an expected skip or an anomaly, with its reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    Skip(&'static str),
    Anomaly(&'static str),
}

type LinkResult<'a> = Result<Network<'a>, Miss>;

const SHORT: Miss = Miss::Anomaly(reason::SHORT_FRAME);

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(array(b, at)?))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(array(b, at)?))
}

/// `N` bytes at `at`, when there are that many.
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The IP packet inside a frame of the given link type.
pub(crate) fn network(link: LinkType, data: &[u8]) -> LinkResult<'_> {
    match link {
        LinkType::ETHERNET => ethernet(data),
        LinkType::NULL | LinkType::LOOP => bsd_loopback(data),
        LinkType::RAW => raw_ip(data),
        LinkType::IPV4 => Ok(Network::Ipv4(data)),
        LinkType::IPV6 => Ok(Network::Ipv6(data)),
        LinkType::LINUX_SLL => {
            let proto = be16(data, 14).ok_or(SHORT)?;
            if be16(data, 2) == Some(824) {
                // ARPHRD_NETLINK: netlink messages, not packets.
                return Err(Miss::Skip(reason::NON_IP));
            }
            ethertype(proto, data.get(16..).ok_or(SHORT)?)
        }
        LinkType::LINUX_SLL2 => {
            let proto = be16(data, 0).ok_or(SHORT)?;
            ethertype(proto, data.get(20..).ok_or(SHORT)?)
        }
        LinkType::NFLOG => nflog(data),
        LinkType::IEEE802_11 => wlan(data),
        LinkType::IEEE802_11_RADIOTAP => {
            let len = u16::from_le_bytes([*data.get(2).ok_or(SHORT)?, *data.get(3).ok_or(SHORT)?]);
            wlan(data.get(usize::from(len)..).ok_or(SHORT)?)
        }
        _ => Err(Miss::Skip(reason::UNSUPPORTED_LINK_TYPE)),
    }
}

/// Ethernet II (also inside VXLAN, GRE and ERSPAN).
pub(crate) fn ethernet(data: &[u8]) -> LinkResult<'_> {
    let et = be16(data, 12).ok_or(SHORT)?;
    ethertype(et, data.get(14..).ok_or(SHORT)?)
}

/// Follows VLAN tags, MPLS labels and PPPoE to an IP packet.
fn ethertype(mut et: u16, mut rest: &[u8]) -> LinkResult<'_> {
    for _ in 0..MAX_LINK_TAGS {
        match et {
            0x0800 => return Ok(Network::Ipv4(rest)),
            0x86dd => return Ok(Network::Ipv6(rest)),
            // 802.1Q, 802.1ad and the pre-standard QinQ types.
            0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
                et = be16(rest, 2).ok_or(SHORT)?;
                rest = rest.get(4..).ok_or(SHORT)?;
            }
            0x8847 | 0x8848 => return mpls(rest),
            // PPPoE session: 6-byte header, then the PPP protocol.
            0x8864 => {
                let ppp = be16(rest, 6).ok_or(SHORT)?;
                let inner = rest.get(8..).ok_or(SHORT)?;
                return match ppp {
                    0x0021 => Ok(Network::Ipv4(inner)),
                    0x0057 => Ok(Network::Ipv6(inner)),
                    _ => Err(Miss::Skip(reason::NON_IP)),
                };
            }
            _ => return Err(Miss::Skip(reason::NON_IP)),
        }
    }
    Err(Miss::Anomaly(reason::TOO_MANY_LAYERS))
}

/// MPLS: labels up to the bottom of the stack, then IP by its version nibble.
fn mpls(mut rest: &[u8]) -> LinkResult<'_> {
    for _ in 0..MAX_LINK_TAGS {
        let bottom = rest.get(2).ok_or(SHORT)? & 1 == 1;
        rest = rest.get(4..).ok_or(SHORT)?;
        if bottom {
            return raw_ip(rest).map_err(|_| Miss::Skip(reason::NON_IP));
        }
    }
    Err(Miss::Anomaly(reason::TOO_MANY_LAYERS))
}

fn raw_ip(data: &[u8]) -> LinkResult<'_> {
    match data.first().ok_or(SHORT)? >> 4 {
        4 => Ok(Network::Ipv4(data)),
        6 => Ok(Network::Ipv6(data)),
        _ => Err(Miss::Anomaly(reason::BAD_IP_HEADER)),
    }
}

/// `AF_INET` is 2 everywhere; `AF_INET6` is 10 (Linux), 24 (NetBSD, OpenBSD), 28
/// (FreeBSD) or 30 (macOS). The family is read in both byte orders.
fn bsd_loopback(data: &[u8]) -> LinkResult<'_> {
    let family: [u8; 4] = data.get(..4).ok_or(SHORT)?.try_into().map_err(|_| SHORT)?;
    let rest = data.get(4..).ok_or(SHORT)?;
    let (le, be) = (u32::from_le_bytes(family), u32::from_be_bytes(family));
    let is = |v: u32| le == v || be == v;
    if is(2) {
        Ok(Network::Ipv4(rest))
    } else if is(10) || is(24) || is(28) || is(30) {
        Ok(Network::Ipv6(rest))
    } else {
        Err(Miss::Skip(reason::NON_IP))
    }
}

/// NFLOG: a 4-byte header, then TLVs (length and type in host byte order, padded to 4)
/// of which type 9 holds the packet.
fn nflog(data: &[u8]) -> LinkResult<'_> {
    const NFULA_PAYLOAD: u16 = 9;
    let family = *data.first().ok_or(SHORT)?;
    let mut pos = 4;
    while let (Some(&a), Some(&b), Some(&c), Some(&d)) = (
        data.get(pos),
        data.get(pos + 1),
        data.get(pos + 2),
        data.get(pos + 3),
    ) {
        let remaining = data.len() - pos;
        let (le_len, le_type) = (u16::from_le_bytes([a, b]), u16::from_le_bytes([c, d]));
        let (be_len, be_type) = (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
        let fits = |l: u16| usize::from(l) >= 4 && usize::from(l) <= remaining;
        let (len, tlv_type) = if fits(le_len) {
            (usize::from(le_len), le_type)
        } else if fits(be_len) {
            (usize::from(be_len), be_type)
        } else {
            return Err(SHORT);
        };
        if tlv_type & 0x7fff == NFULA_PAYLOAD {
            let packet = data.get(pos + 4..pos + len).ok_or(SHORT)?;
            return match family {
                2 => Ok(Network::Ipv4(packet)),
                10 => Ok(Network::Ipv6(packet)),
                _ => raw_ip(packet),
            };
        }
        pos += len.div_ceil(4) * 4;
    }
    Err(Miss::Skip(reason::NON_IP))
}

/// 802.11: unprotected data frames with an LLC/SNAP header.
fn wlan(data: &[u8]) -> LinkResult<'_> {
    let fc0 = *data.first().ok_or(SHORT)?;
    let fc1 = *data.get(1).ok_or(SHORT)?;
    let (frame_type, subtype) = ((fc0 >> 2) & 3, fc0 >> 4);
    // Data frames only; subtypes with bit 2 set carry no body; protected ones are
    // encrypted.
    if frame_type != 2 || subtype & 0x4 != 0 || fc1 & 0x40 != 0 {
        return Err(Miss::Skip(reason::WLAN_NON_DATA));
    }
    let mut header = 24;
    if fc1 & 0x03 == 0x03 {
        header += 6; // four addresses
    }
    if subtype & 0x8 != 0 {
        header += 2; // QoS control
        if fc1 & 0x80 != 0 {
            header += 4; // HT control
        }
    }
    let llc: [u8; 8] = array(data, header).ok_or(SHORT)?;
    let [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, et_hi, et_lo] = llc else {
        return Err(Miss::Skip(reason::NON_IP));
    };
    let et = u16::from_be_bytes([et_hi, et_lo]);
    ethertype(et, data.get(header + 8..).ok_or(SHORT)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &[u8] = &[0x45, 0, 0, 20];
    const V6: &[u8] = &[0x60, 0, 0, 0];

    fn eth(et: &[u8], body: &[u8]) -> Vec<u8> {
        let mut f = vec![0; 12];
        f.extend_from_slice(et);
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn link_layers() {
        let qinq = eth(
            &[0x88, 0xa8],
            &[0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00, 0x45, 0, 0, 20],
        );
        let mut sll = vec![0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd];
        sll.extend_from_slice(V6);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0; 18]);
        sll2.extend_from_slice(V4);
        let mut null_le = vec![2, 0, 0, 0];
        null_le.extend_from_slice(V4);
        let mut loop_be = vec![0, 0, 0, 30];
        loop_be.extend_from_slice(V6);
        let mut nflog = vec![2, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0, 8, 0, 9, 0];
        nflog.extend_from_slice(V4);
        let mut wlan = vec![0x88, 0x02];
        wlan.extend_from_slice(&[0; 24]);
        wlan.extend_from_slice(&[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00]);
        wlan.extend_from_slice(V4);
        let mut mpls = eth(&[0x88, 0x47], &[0, 0, 0x10, 64, 0, 0, 0x21, 64]);
        mpls.extend_from_slice(V6);
        let cases: Vec<(LinkType, Vec<u8>, LinkResult<'_>)> = vec![
            (
                LinkType::ETHERNET,
                qinq.clone(),
                Ok(Network::Ipv4(&qinq[22..])),
            ),
            (
                LinkType::ETHERNET,
                eth(&[0x08, 0x06], &[0; 28]),
                Err(Miss::Skip(reason::NON_IP)),
            ),
            (LinkType::ETHERNET, vec![0; 13], Err(SHORT)),
            (LinkType::LINUX_SLL, sll.clone(), Ok(Network::Ipv6(V6))),
            (LinkType::LINUX_SLL2, sll2.clone(), Ok(Network::Ipv4(V4))),
            (LinkType::NULL, null_le.clone(), Ok(Network::Ipv4(V4))),
            (LinkType::LOOP, loop_be.clone(), Ok(Network::Ipv6(V6))),
            (LinkType::RAW, V6.to_vec(), Ok(Network::Ipv6(V6))),
            (LinkType::NFLOG, nflog.clone(), Ok(Network::Ipv4(V4))),
            (LinkType::IEEE802_11, wlan.clone(), Ok(Network::Ipv4(V4))),
            (LinkType::ETHERNET, mpls.clone(), Ok(Network::Ipv6(V6))),
            (
                LinkType(147),
                vec![0; 40],
                Err(Miss::Skip(reason::UNSUPPORTED_LINK_TYPE)),
            ),
        ];
        for (link, frame, want) in &cases {
            assert_eq!(&network(*link, frame), want, "{link:?} {frame:?}");
        }
    }
}
