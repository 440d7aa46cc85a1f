//! Frame Streams bytes as a sender would write them, fed to a bidirectional session in
//! chunks (the first byte picks the chunk size): no panic, the buffer stays bounded, and
//! every frame decoded goes through the dnstap decoder.
#![no_main]

use dnsrecall_dnstap::{Step, StreamSession};
use libfuzzer_sys::fuzz_target;

const MAX_FRAME: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let mut session = StreamSession::new(MAX_FRAME, None, true);
    let mut records = Vec::new();
    let mut replies = Vec::new();
    for c in rest.chunks(usize::from(chunk).max(1)) {
        session.frames.push(c);
        match session.process(&mut records, &mut replies) {
            Step::More => assert!(session.frames.pending() <= MAX_FRAME + 4 + 255),
            Step::Done | Step::Failed(_) => break,
        }
        records.clear();
    }
});
