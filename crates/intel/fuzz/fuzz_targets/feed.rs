//! Any bytes as a feed document in every format (the first byte picks it), plus format
//! detection and the MISP feed manifest: no panic, no hang, and every indicator the
//! parsers return feeds the matcher, which must then find it.
#![no_main]

use dnsrecall_intel::matcher::Matcher;
use dnsrecall_intel::{FeedFormat, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let _ = dnsrecall_intel::detect(&text, Some("feed.rpz"));
    let _ = dnsrecall_intel::parse_manifest(&text);
    let format = FeedFormat::ALL[usize::from(pick) % FeedFormat::ALL.len()];
    let Ok(parsed) = dnsrecall_intel::parse(format, &text, Some("rpz.example")) else {
        return;
    };
    let mut m = Matcher::new();
    m.add_feed("fuzz", parsed.iocs.iter().cloned());
    let mut out = Vec::new();
    for ioc in &parsed.iocs {
        out.clear();
        match &ioc.target {
            Target::Domain { name, exact: true } => {
                m.match_name(name.as_str(), &mut out);
                assert!(!out.is_empty(), "{name} not found");
            }
            Target::Addresses { lo, hi } => {
                m.match_ip(*lo, &mut out);
                assert!(!out.is_empty(), "{lo} not found");
                out.clear();
                m.match_ip(*hi, &mut out);
                assert!(!out.is_empty(), "{hi} not found");
            }
            _ => {}
        }
    }
});
