//! DNS over TCP: stream reassembly per direction, then RFC 1035 §4.2.2 framing (each
//! message after a 2-byte length).
//!
//! Each direction keeps the sequence number it expects next, the bytes of a message not
//! yet complete, and segments that arrived ahead of a hole. Retransmitted and overlapping
//! bytes are trimmed (the first copy wins). A hole that never fills (the capture lost
//! bytes) is detected when the peer acknowledges past it, when the direction's buffer
//! budget is used up, or when the flow ends; the stream then resumes at the next bytes it
//! has, and only goes on if they start a plausible DNS message (else it tries again at
//! the next segment). A stream picked up mid-flow (no SYN seen) is checked the same way.
//! Memory is bounded per flow, over all flows and in the number of flows.

use std::collections::HashMap;
use std::net::IpAddr;

use dnsrecall_model::{Record, SensorId};

use crate::counters::{Counters, reason};
use crate::dns::{DNS_HEADER_LEN, MessageDecoder, MessageMeta};
use crate::link::be16;

/// Most out-of-order segments held per direction.
pub const MAX_OUT_OF_ORDER_SEGMENTS: usize = 64;
/// A segment further ahead of the expected sequence number than this is not held for
/// later: the bytes before it are taken as lost.
pub const MAX_REORDER_DISTANCE: u32 = 1 << 20;
/// A buffer left empty keeps at most this much capacity.
const KEEP_CAPACITY: usize = 4096;

pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const ACK: u8 = 0x10;

/// The limits that apply to TCP reassembly (from [`crate::Config`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub flow_bytes: usize,
    pub total_bytes: usize,
    pub flows: usize,
    pub idle_us: i64,
}

/// One TCP segment of a flow on a DNS port.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment<'a> {
    pub ts: i64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: &'a [u8],
}

/// Where complete messages go.
pub(crate) struct Sink<'a> {
    pub dns: &'a mut MessageDecoder,
    pub counters: &'a mut Counters,
    pub out: &'a mut Vec<Record>,
    pub sensor_id: &'a SensorId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey {
    a: IpAddr,
    b: IpAddr,
    a_port: u16,
    b_port: u16,
}

impl FlowKey {
    /// The key of the segment's flow and the index of its direction (0: from `a`).
    fn of(seg: &Segment<'_>) -> (Self, usize) {
        if (seg.src, seg.sport) <= (seg.dst, seg.dport) {
            let k = Self {
                a: seg.src,
                b: seg.dst,
                a_port: seg.sport,
                b_port: seg.dport,
            };
            (k, 0)
        } else {
            let k = Self {
                a: seg.dst,
                b: seg.src,
                a_port: seg.dport,
                b_port: seg.sport,
            };
            (k, 1)
        }
    }

    /// Source and destination of direction `dir`.
    fn endpoints(&self, dir: usize) -> (IpAddr, IpAddr, u16, u16) {
        if dir == 0 {
            (self.a, self.b, self.a_port, self.b_port)
        } else {
            (self.b, self.a, self.b_port, self.a_port)
        }
    }
}

#[derive(Debug, Default)]
struct Flow {
    dirs: [Stream; 2],
    last_ts: i64,
}

impl Flow {
    fn buffered(&self) -> usize {
        self.dirs[0].buffered() + self.dirs[1].buffered()
    }
}

#[derive(Debug, Default)]
struct Stream {
    /// Sequence number of the next byte expected (after `buf`).
    next_seq: Option<u32>,
    /// Bytes of a message not yet complete.
    buf: Vec<u8>,
    /// Segments ahead of `next_seq`, by sequence number.
    ooo: Vec<(u32, Vec<u8>)>,
    ooo_bytes: usize,
    /// Sequence number after the last byte, once a FIN was seen.
    fin: Option<u32>,
    /// After lost bytes: the next message start is a guess, to be checked.
    uncertain: bool,
    /// Data after a gap did not look like DNS: ignored up to the next segment, where the
    /// stream tries again.
    desync: bool,
}

/// `a - b` in sequence space (RFC 793 arithmetic).
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

/// Per-message context of one direction.
struct Ctx<'s, 'a> {
    sink: &'s mut Sink<'a>,
    meta: MessageMeta,
}

impl Ctx<'_, '_> {
    fn message(&mut self, msg: &[u8]) {
        self.sink.counters.tcp_dns_messages += 1;
        self.sink
            .dns
            .decode(msg, &self.meta, self.sink.out, self.sink.counters);
    }
}

impl Stream {
    fn buffered(&self) -> usize {
        self.buf.len() + self.ooo_bytes
    }

    fn closed(&self) -> bool {
        matches!((self.fin, self.next_seq), (Some(f), Some(n)) if f == n) && self.ooo.is_empty()
    }

    /// Adds in-sequence or out-of-order data starting at `seq`.
    fn data(
        &mut self,
        seq: u32,
        payload: &[u8],
        limits: &Limits,
        room: usize,
        ctx: &mut Ctx<'_, '_>,
    ) {
        if self.desync
            && let Some(next) = self.next_seq
            && seq_diff(seq, next) < 0
        {
            ctx.sink.counters.skip(reason::TCP_RETRANSMISSION);
            return;
        }
        if self.desync || self.next_seq.is_none() {
            // Picked up mid-stream, or lost: a segment start is where a message most
            // likely starts (servers write whole messages), so try there, checked.
            self.buf.clear();
            self.ooo.clear();
            self.ooo_bytes = 0;
            self.desync = false;
            self.uncertain = true;
            self.next_seq = Some(seq);
        }
        let next = self.next_seq.unwrap_or(seq);
        let diff = seq_diff(seq, next);
        if diff > 0 {
            self.ahead(seq, payload, limits, room, ctx);
            return;
        }
        // Bytes before `next` were seen already: keep the first copy.
        let overlap = usize::try_from(-diff).unwrap_or(usize::MAX);
        let Some(fresh) = payload.get(overlap..).filter(|f| !f.is_empty()) else {
            ctx.sink.counters.skip(reason::TCP_RETRANSMISSION);
            return;
        };
        self.append(fresh, limits, room, ctx);
        self.drain_ooo(limits, room, ctx);
    }

    /// Keeps a segment that arrived before the bytes preceding it.
    fn ahead(
        &mut self,
        seq: u32,
        payload: &[u8],
        limits: &Limits,
        room: usize,
        ctx: &mut Ctx<'_, '_>,
    ) {
        let Some(next) = self.next_seq else {
            return;
        };
        let too_far = seq.wrapping_sub(next) > MAX_REORDER_DISTANCE;
        let too_many = self.ooo.len() >= MAX_OUT_OF_ORDER_SEGMENTS;
        let too_big = self.buffered() + payload.len() > limits.flow_bytes || payload.len() > room;
        if too_far || too_many || too_big {
            if too_big {
                ctx.sink.counters.anomaly(reason::TCP_MEMORY_LIMIT);
            }
            // The holes will not be filled within our means: what is held goes first,
            // then this segment after a gap.
            self.skip_holes_until(None, limits, room, ctx);
            if self.desync {
                return;
            }
            if let Some(next) = self.next_seq
                && seq_diff(seq, next) > 0
            {
                self.skip_gap(seq, ctx);
            }
            self.data(seq, payload, limits, room, ctx);
            return;
        }
        self.ooo_bytes += payload.len();
        self.ooo.push((seq, payload.to_vec()));
    }

    /// Appends in-sequence bytes and hands out every complete message.
    fn append(&mut self, bytes: &[u8], limits: &Limits, room: usize, ctx: &mut Ctx<'_, '_>) {
        if let Some(n) = self.next_seq.as_mut() {
            *n = n.wrapping_add(bytes.len() as u32);
        }
        if self.buf.is_empty() {
            // Fast path: messages straight from the segment, only a tail is copied.
            let used = self.frames(bytes, ctx);
            if let Some(tail) = bytes.get(used..).filter(|t| !t.is_empty()) {
                if tail.len() > limits.flow_bytes || tail.len() > room {
                    ctx.sink.counters.anomaly(reason::TCP_MEMORY_LIMIT);
                    self.uncertain = true;
                } else if !self.desync {
                    self.buf.extend_from_slice(tail);
                }
            }
            return;
        }
        if self.buffered() + bytes.len() > limits.flow_bytes || bytes.len() > room {
            ctx.sink.counters.anomaly(reason::TCP_MEMORY_LIMIT);
            self.buf.clear();
            self.uncertain = true;
            return;
        }
        self.buf.extend_from_slice(bytes);
        let buf = std::mem::take(&mut self.buf);
        let used = self.frames(&buf, ctx);
        self.buf = buf;
        if self.desync {
            self.buf.clear();
        } else {
            self.buf.drain(..used.min(self.buf.len()));
        }
        if self.buf.is_empty() && self.buf.capacity() > KEEP_CAPACITY {
            self.buf.shrink_to(KEEP_CAPACITY);
        }
    }

    /// Decodes the complete length-prefixed messages at the start of `bytes`; returns how
    /// many bytes they took.
    fn frames(&mut self, bytes: &[u8], ctx: &mut Ctx<'_, '_>) -> usize {
        let mut pos = 0;
        loop {
            let Some(len) = be16(bytes, pos).map(usize::from) else {
                return pos;
            };
            if self.uncertain {
                // After lost bytes: only go on if this looks like the start of a message.
                let Some(header) = bytes.get(pos + 2..pos + 2 + DNS_HEADER_LEN) else {
                    return pos;
                };
                if !plausible(len, header) {
                    ctx.sink.counters.anomaly(reason::TCP_DESYNC);
                    self.desync = true;
                    return bytes.len();
                }
                self.uncertain = false;
            }
            let Some(msg) = bytes.get(pos + 2..pos + 2 + len) else {
                return pos;
            };
            ctx.message(msg);
            pos += 2 + len;
        }
    }

    /// Applies held segments that the stream has now reached.
    fn drain_ooo(&mut self, limits: &Limits, room: usize, ctx: &mut Ctx<'_, '_>) {
        while !self.desync {
            let Some(next) = self.next_seq else {
                return;
            };
            let Some(i) = self.ooo.iter().position(|(s, _)| seq_diff(*s, next) <= 0) else {
                return;
            };
            let (seq, bytes) = self.ooo.swap_remove(i);
            self.ooo_bytes = self.ooo_bytes.saturating_sub(bytes.len());
            let overlap = usize::try_from(seq_diff(next, seq)).unwrap_or(usize::MAX);
            if let Some(fresh) = bytes.get(overlap..).filter(|f| !f.is_empty()) {
                self.append(fresh, limits, room, ctx);
            }
        }
    }

    /// The bytes from `next_seq` up to `to` will never be seen.
    fn skip_gap(&mut self, to: u32, ctx: &mut Ctx<'_, '_>) {
        ctx.sink.counters.anomaly(reason::TCP_GAP);
        self.buf.clear();
        self.next_seq = Some(to);
        self.uncertain = true;
    }

    /// Resolves holes: every one before `until` (the peer's acknowledgement), or all of
    /// them when `until` is `None` (the flow ends or is over budget).
    fn skip_holes_until(
        &mut self,
        until: Option<u32>,
        limits: &Limits,
        room: usize,
        ctx: &mut Ctx<'_, '_>,
    ) {
        // Each round either applies a held segment or ends; bounded by their number.
        for _ in 0..=MAX_OUT_OF_ORDER_SEGMENTS {
            if self.desync {
                return;
            }
            let Some(next) = self.next_seq else {
                return;
            };
            let earliest = self
                .ooo
                .iter()
                .map(|(s, _)| *s)
                .min_by_key(|s| seq_diff(*s, next));
            let to = match (until, earliest) {
                (Some(ack), Some(e)) if seq_diff(e, ack) < 0 => e,
                (Some(ack), _) => ack,
                (None, Some(e)) => e,
                (None, None) => return,
            };
            if seq_diff(to, next) <= 0 {
                return;
            }
            self.skip_gap(to, ctx);
            self.drain_ooo(limits, room, ctx);
        }
    }

    /// End of the direction: whatever held segments give, then count what is left.
    fn flush(&mut self, limits: &Limits, ctx: &mut Ctx<'_, '_>) {
        self.skip_holes_until(None, limits, usize::MAX, ctx);
        if !self.buf.is_empty() && !self.desync {
            ctx.sink.counters.anomaly(reason::TCP_INCOMPLETE_MESSAGE);
        }
        self.buf = Vec::new();
        self.ooo = Vec::new();
        self.ooo_bytes = 0;
    }
}

/// Whether `header` can start a DNS message of `len` bytes: what a resynchronised stream
/// must show before it is trusted again.
fn plausible(len: usize, header: &[u8]) -> bool {
    let be = |i: usize| be16(header, i).unwrap_or(u16::MAX);
    let opcode = header.get(2).map_or(15, |f| (f >> 3) & 0xf);
    let records = usize::from(be(6)) + usize::from(be(8)) + usize::from(be(10));
    len >= DNS_HEADER_LEN
        && be(4) <= 1
        && matches!(opcode, 0 | 4 | 5)
        && DNS_HEADER_LEN + records * 11 <= len
}

/// All TCP flows on DNS ports.
#[derive(Debug, Default)]
pub(crate) struct TcpTable {
    flows: HashMap<FlowKey, Flow>,
    total_bytes: usize,
}

impl TcpTable {
    pub(crate) fn segment(&mut self, seg: &Segment<'_>, limits: &Limits, sink: &mut Sink<'_>) {
        let (key, dir) = FlowKey::of(seg);
        if seg.flags & RST != 0 {
            if let Some(mut flow) = self.flows.remove(&key) {
                self.total_bytes = self.total_bytes.saturating_sub(flow.buffered());
                if !seg.payload.is_empty() {
                    // Data on a RST is not delivered to the application (RFC 9293 §3.5.2).
                    sink.counters.skip(reason::TCP_NO_PAYLOAD);
                }
                Self::flush_flow(&key, &mut flow, limits, sink);
            }
            return;
        }
        let is_new = !self.flows.contains_key(&key);
        if is_new {
            if seg.payload.is_empty() && seg.flags & SYN == 0 {
                sink.counters.skip(reason::TCP_NO_PAYLOAD);
                return;
            }
            if self.flows.len() >= limits.flows {
                sink.counters.anomaly(reason::TCP_FLOW_TABLE_FULL);
                return;
            }
        }
        let room = limits.total_bytes.saturating_sub(self.total_bytes);
        let flow = self.flows.entry(key).or_default();
        let before = flow.buffered();
        flow.last_ts = seg.ts;
        let mut ctx = Ctx {
            meta: meta_for(&key, dir, seg.ts, sink.sensor_id),
            sink,
        };
        let [d0, d1] = &mut flow.dirs;
        let (stream, reverse) = if dir == 0 { (d0, d1) } else { (d1, d0) };
        let mut data_seq = seg.seq;
        if seg.flags & SYN != 0 {
            data_seq = seg.seq.wrapping_add(1);
            if stream.next_seq != Some(data_seq) {
                if stream.next_seq.is_some() {
                    // A new connection on the same ports: end the old stream.
                    stream.flush(limits, &mut ctx);
                }
                *stream = Stream {
                    next_seq: Some(data_seq),
                    ..Stream::default()
                };
            }
        }
        if seg.payload.is_empty() {
            if seg.flags & (SYN | FIN) == 0 {
                ctx.sink.counters.skip(reason::TCP_NO_PAYLOAD);
            }
        } else {
            stream.data(data_seq, seg.payload, limits, room, &mut ctx);
        }
        if seg.flags & FIN != 0 {
            stream.fin = Some(data_seq.wrapping_add(seg.payload.len() as u32));
        }
        if seg.flags & ACK != 0 {
            // The peer has every byte before `ack`: holes before it are lost to us.
            let other = 1 - dir;
            if let Some(next) = reverse.next_seq
                && seq_diff(seg.ack, next) > 0
                && !reverse.desync
                && (reverse.fin.is_none() || reverse.fin != Some(next))
            {
                let mut rctx = Ctx {
                    meta: meta_for(&key, other, seg.ts, ctx.sink.sensor_id),
                    sink: &mut *ctx.sink,
                };
                reverse.skip_holes_until(Some(seg.ack), limits, room, &mut rctx);
            }
        }
        let after = flow.buffered();
        self.total_bytes = (self.total_bytes + after).saturating_sub(before);
        let closed = flow.dirs.iter().all(Stream::closed);
        if closed && let Some(mut flow) = self.flows.remove(&key) {
            self.total_bytes = self.total_bytes.saturating_sub(flow.buffered());
            Self::flush_flow(&key, &mut flow, limits, sink);
        }
    }

    /// Ends flows idle since before `now_us - idle`.
    pub(crate) fn expire(&mut self, now_us: i64, limits: &Limits, sink: &mut Sink<'_>) {
        let deadline = now_us.saturating_sub(limits.idle_us);
        let idle: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| f.last_ts < deadline)
            .map(|(k, _)| *k)
            .collect();
        for key in idle {
            if let Some(mut flow) = self.flows.remove(&key) {
                self.total_bytes = self.total_bytes.saturating_sub(flow.buffered());
                sink.counters.skip(reason::TCP_IDLE_TIMEOUT);
                Self::flush_flow(&key, &mut flow, limits, sink);
            }
        }
    }

    /// Ends every flow (end of input).
    pub(crate) fn finish(&mut self, limits: &Limits, sink: &mut Sink<'_>) {
        let mut flows: Vec<(FlowKey, Flow)> = self.flows.drain().collect();
        // Deterministic output order whatever the hash order.
        flows.sort_by_key(|(k, f)| (f.last_ts, *k));
        for (key, mut flow) in flows {
            Self::flush_flow(&key, &mut flow, limits, sink);
        }
        self.total_bytes = 0;
    }

    fn flush_flow(key: &FlowKey, flow: &mut Flow, limits: &Limits, sink: &mut Sink<'_>) {
        for (dir, stream) in flow.dirs.iter_mut().enumerate() {
            let mut ctx = Ctx {
                meta: meta_for(key, dir, flow.last_ts, sink.sensor_id),
                sink: &mut *sink,
            };
            stream.flush(limits, &mut ctx);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.flows.len()
    }

    #[cfg(test)]
    pub(crate) fn total_bytes(&self) -> usize {
        self.total_bytes
    }
}

/// The message context of direction `dir`: its source is the server of a response.
fn meta_for(key: &FlowKey, dir: usize, ts: i64, sensor_id: &SensorId) -> MessageMeta {
    let (src, dst, sport, dport) = key.endpoints(dir);
    MessageMeta {
        ts_us: ts,
        client: Some(dst),
        server: Some(src),
        sensor_id: sensor_id.clone(),
        mdns: sport == 5353 || dport == 5353,
    }
}
