//! IP fragment reassembly (IPv4 and the IPv6 fragment header), bounded in memory.
//!
//! Fragments are kept by `(source, destination, identification, protocol)`. Overlaps keep
//! the bytes that arrived first (and are counted when they differ). All buffered datagrams
//! together hold at most `Config::max_fragment_bytes`: when a new fragment does not fit,
//! the oldest datagrams are dropped and counted. Datagrams whose fragments do not all
//! arrive within `Config::fragment_timeout_us` are dropped by `expire`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::counters::{Counters, reason};

/// Longest datagram that can be rebuilt (the IP total length is 16 bits).
pub const MAX_DATAGRAM_LEN: usize = 65_535;
/// Most datagrams being reassembled at once.
pub const MAX_FRAGMENT_DATAGRAMS: usize = 8192;
/// Rebuilt-datagram buffers kept for reuse.
const POOL_SIZE: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// The IPv4 protocol; 0 for IPv6 (its next header is in the first fragment only).
    pub proto: u8,
}

#[derive(Debug)]
struct Datagram {
    first_ts: i64,
    serial: u64,
    buf: Vec<u8>,
    /// Byte ranges received, sorted and merged.
    have: Vec<(usize, usize)>,
    total: Option<usize>,
    proto: Option<u8>,
}

/// One fragment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fragment<'a> {
    pub offset: usize,
    pub more: bool,
    pub data: &'a [u8],
    /// The upper-layer protocol, when this fragment says (IPv4: all; IPv6: the first).
    pub proto: Option<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct Defrag {
    map: HashMap<FragKey, Datagram>,
    order: VecDeque<(FragKey, u64)>,
    bytes: usize,
    next_serial: u64,
    pool: Vec<Vec<u8>>,
}

impl Defrag {
    /// Adds a fragment; returns the protocol and the rebuilt payload when it completes
    /// its datagram (hand the buffer back with [`Defrag::recycle`]).
    pub(crate) fn insert(
        &mut self,
        ts: i64,
        key: FragKey,
        frag: Fragment<'_>,
        max_bytes: usize,
        counters: &mut Counters,
    ) -> Option<(u8, Vec<u8>)> {
        let end = frag.offset + frag.data.len();
        if frag.data.is_empty() || end > MAX_DATAGRAM_LEN {
            counters.anomaly(reason::BAD_FRAGMENT);
            return None;
        }
        if !self.map.contains_key(&key) {
            if self.map.len() >= MAX_FRAGMENT_DATAGRAMS {
                self.evict_oldest(counters);
            }
            let serial = self.next_serial;
            self.next_serial += 1;
            self.order.push_back((key, serial));
            self.map.insert(
                key,
                Datagram {
                    first_ts: ts,
                    serial,
                    buf: self.pool.pop().unwrap_or_default(),
                    have: Vec::new(),
                    total: None,
                    proto: None,
                },
            );
        }
        // Room for the bytes this fragment adds, at the expense of older datagrams.
        let grow = end.saturating_sub(self.map.get(&key).map_or(0, |d| d.buf.len()));
        if grow > max_bytes {
            counters.anomaly(reason::FRAGMENT_MEMORY_LIMIT);
            self.drop_datagram(&key);
            return None;
        }
        while self.bytes + grow > max_bytes {
            if !self.evict_oldest_except(&key, counters) {
                counters.anomaly(reason::FRAGMENT_MEMORY_LIMIT);
                self.drop_datagram(&key);
                return None;
            }
        }
        let d = self.map.get_mut(&key)?;
        let inconsistent = match (frag.more, d.total) {
            (false, Some(t)) => t != end,
            (false, None) => d.have.last().is_some_and(|&(_, e)| e > end),
            (true, Some(t)) => end > t,
            (true, None) => false,
        };
        if inconsistent {
            counters.anomaly(reason::BAD_FRAGMENT);
            self.drop_datagram(&key);
            return None;
        }
        if !frag.more {
            d.total = Some(end);
        }
        if frag.proto.is_some() {
            d.proto = frag.proto;
        }
        if d.buf.len() < end {
            self.bytes += end - d.buf.len();
            d.buf.resize(end, 0);
        }
        if copy_new_bytes(d, frag.offset, frag.data) {
            counters.anomaly(reason::FRAGMENT_OVERLAP);
        }
        let complete = matches!((d.total, d.have.as_slice()), (Some(t), [(0, e)]) if *e == t);
        if !complete || d.proto.is_none() {
            return None;
        }
        let d = self.map.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(d.buf.len());
        let mut buf = d.buf;
        buf.truncate(d.total.unwrap_or(0));
        self.compact_order();
        Some((d.proto.unwrap_or(0), buf))
    }

    /// Returns a rebuilt buffer for reuse.
    pub(crate) fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL_SIZE {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Drops datagrams started before `now_us - timeout_us`.
    pub(crate) fn expire(&mut self, now_us: i64, timeout_us: i64, counters: &mut Counters) {
        let deadline = now_us.saturating_sub(timeout_us);
        while let Some(&(key, serial)) = self.order.front() {
            match self.map.get(&key) {
                Some(d) if d.serial == serial => {
                    if d.first_ts >= deadline {
                        break;
                    }
                    counters.anomaly(reason::FRAGMENT_TIMEOUT);
                    self.drop_datagram(&key);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Drops everything left (end of input), counting each incomplete datagram.
    pub(crate) fn finish(&mut self, counters: &mut Counters) {
        for _ in 0..self.map.len() {
            counters.anomaly(reason::FRAGMENT_TIMEOUT);
        }
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }

    fn drop_datagram(&mut self, key: &FragKey) {
        if let Some(d) = self.map.remove(key) {
            self.bytes = self.bytes.saturating_sub(d.buf.len());
            self.recycle(d.buf);
        }
    }

    fn evict_oldest(&mut self, counters: &mut Counters) {
        while let Some((key, serial)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|d| d.serial == serial) {
                counters.anomaly(reason::FRAGMENT_MEMORY_LIMIT);
                self.drop_datagram(&key);
                return;
            }
        }
    }

    /// Evicts the oldest datagram other than `keep`; false when there is none.
    fn evict_oldest_except(&mut self, keep: &FragKey, counters: &mut Counters) -> bool {
        let victim = self
            .order
            .iter()
            .find(|(k, s)| k != keep && self.map.get(k).is_some_and(|d| d.serial == *s))
            .map(|(k, _)| *k);
        match victim {
            Some(k) => {
                counters.anomaly(reason::FRAGMENT_MEMORY_LIMIT);
                self.drop_datagram(&k);
                self.compact_order();
                true
            }
            None => false,
        }
    }

    /// Forgets order entries of datagrams no longer held, once they outnumber the live.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|d| d.serial == *s));
        }
    }

    #[cfg(test)]
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// Copies the parts of `data` (at `offset`) not received yet; returns whether a part
/// already received differed (an overlap with other bytes).
fn copy_new_bytes(d: &mut Datagram, offset: usize, data: &[u8]) -> bool {
    let end = offset + data.len();
    let mut differs = false;
    let mut cursor = offset;
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(d.have.len() + 1);
    for &(s, e) in &d.have {
        if e < offset || s > end {
            merged.push((s, e));
            continue;
        }
        // Bytes before this received range are new.
        if cursor < s {
            copy_range(&mut d.buf, data, offset, cursor, s);
        }
        let (os, oe) = (s.max(offset), e.min(end));
        if os < oe && d.buf.get(os..oe) != data.get(os - offset..oe - offset) {
            differs = true;
        }
        cursor = cursor.max(e);
        merged.push((s, e));
    }
    if cursor < end {
        copy_range(&mut d.buf, data, offset, cursor, end);
    }
    merged.push((offset, end));
    merged.sort_unstable();
    d.have.clear();
    for (s, e) in merged {
        match d.have.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => d.have.push((s, e)),
        }
    }
    differs
}

fn copy_range(buf: &mut [u8], data: &[u8], offset: usize, from: usize, to: usize) {
    if let (Some(dst), Some(src)) = (buf.get_mut(from..to), data.get(from - offset..to - offset)) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FragKey {
        FragKey {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            id: 7,
            proto: 17,
        }
    }

    fn frag(offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            offset,
            more,
            data,
            proto: Some(17),
        }
    }

    #[test]
    fn out_of_order_overlapping_fragments() {
        let mut d = Defrag::default();
        let mut c = Counters::default();
        assert!(
            d.insert(0, key(), frag(16, false, b"QRSTUVWX"), 1 << 20, &mut c)
                .is_none()
        );
        assert!(
            d.insert(0, key(), frag(8, true, b"IJKLMNOP"), 1 << 20, &mut c)
                .is_none()
        );
        // Overlaps 8..16 with other bytes: the first copy wins, counted.
        let (proto, buf) = d
            .insert(
                0,
                key(),
                frag(0, true, b"ABCDEFGHzzzzzzzz"),
                1 << 20,
                &mut c,
            )
            .unwrap();
        assert_eq!(proto, 17);
        assert_eq!(buf, b"ABCDEFGHIJKLMNOPQRSTUVWX");
        assert_eq!(c.anomaly_count(reason::FRAGMENT_OVERLAP), 1);
        assert_eq!((d.len(), d.buffered_bytes()), (0, 0));
    }

    #[test]
    fn memory_bound_drops_oldest() {
        let mut d = Defrag::default();
        let mut c = Counters::default();
        let mut k = key();
        for id in 0..10 {
            k.id = id;
            d.insert(id.into(), k, frag(0, true, &[0; 800]), 4000, &mut c);
            assert!(d.buffered_bytes() <= 4000);
        }
        assert_eq!(d.len(), 5);
        assert_eq!(c.anomaly_count(reason::FRAGMENT_MEMORY_LIMIT), 5);
        d.expire(100, 50, &mut c);
        assert_eq!(d.len(), 0);
        assert_eq!(c.anomaly_count(reason::FRAGMENT_TIMEOUT), 5);
    }

    #[test]
    fn inconsistent_fragments_are_dropped() {
        let mut d = Defrag::default();
        let mut c = Counters::default();
        d.insert(0, key(), frag(0, false, &[1; 8]), 1 << 20, &mut c);
        // A last fragment ending elsewhere than the first one said.
        assert_eq!(d.len(), 0, "a lone unfragmented piece completes at once");
        d.insert(0, key(), frag(8, false, &[1; 8]), 1 << 20, &mut c);
        d.insert(0, key(), frag(16, false, &[1; 8]), 1 << 20, &mut c);
        assert_eq!(c.anomaly_count(reason::BAD_FRAGMENT), 1);
        assert!(
            d.insert(0, key(), frag(65_530, true, &[1; 8]), 1 << 20, &mut c)
                .is_none()
        );
        assert_eq!(c.anomaly_count(reason::BAD_FRAGMENT), 2);
    }
}
