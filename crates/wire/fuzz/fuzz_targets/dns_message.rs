//! `decode_message` on arbitrary bytes, and a differential check of the rdata cache:
//! a caching `MessageDecoder` must give the same records as the uncached one, on the
//! first decode (cache filled) and on the second (cache hits).
#![no_main]

use dnsrecall_wire::{Counters, MessageDecoder, MessageMeta, decode_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut meta = MessageMeta {
        ts_us: 1_700_000_000_000_000,
        client: Some("192.0.2.10".parse().unwrap()),
        server: Some("192.0.2.53".parse().unwrap()),
        sensor_id: None,
        mdns: false,
    };
    let mut counters = Counters::default();
    let mut plain = Vec::new();
    decode_message(data, &meta, &mut plain, &mut counters);

    let mut cached = MessageDecoder::new(1 << 20);
    for round in 0..2 {
        let mut out = Vec::new();
        cached.decode(data, &meta, &mut out, &mut counters);
        assert_eq!(
            plain, out,
            "rdata cache changed the records (round {round})"
        );
    }

    // mDNS: the cache-flush bit of the class is cleared.
    meta.mdns = true;
    let mut out = Vec::new();
    decode_message(data, &meta, &mut out, &mut counters);
});
