//! One captured frame of any supported link type, through a fresh `Decoder`.
//!
//! Input: the first byte picks the link type (modulo the list below), the rest is the
//! frame. The decoder then expires its state and finishes, so whatever the frame left in
//! fragment or TCP buffers is flushed too.
#![no_main]

use dnsrecall_wire::{Config, Decoder, LinkType};
use libfuzzer_sys::fuzz_target;

/// Every link type `dnsrecall_wire::link` decodes; the seeds' first bytes index this.
const LINK_TYPES: [LinkType; 11] = [
    LinkType::ETHERNET,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::RAW,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NFLOG,
    LinkType::IEEE802_11,
    LinkType::IEEE802_11_RADIOTAP,
];

const TS: i64 = 1_700_000_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
    let mut dec = Decoder::new(Config::default());
    let mut out = Vec::new();
    dec.frame(link, TS, frame, &mut out);
    // The same frame again: a retransmission, a duplicate fragment.
    dec.frame(link, TS + 1, frame, &mut out);
    dec.expire(TS + 1, &mut out);
    dec.expire(TS + 3_600_000_000, &mut out);
    dec.finish(&mut out);
});
