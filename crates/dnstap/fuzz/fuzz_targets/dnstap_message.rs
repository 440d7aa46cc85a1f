//! One dnstap data frame (the protobuf and the DNS message inside): no panic, every
//! frame counted.
#![no_main]

use dnsrecall_dnstap::DnstapDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = DnstapDecoder::new(None);
    let mut records = Vec::new();
    decoder.frame(data, &mut records);
    assert_eq!(decoder.counters().frames, 1);
});
