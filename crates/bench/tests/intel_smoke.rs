//! The `intel` scenario end to end at tiny sizes (seconds): generated feeds loaded with
//! `dnsrecall intel add` (list and MISP JSON), the matcher passes, ingest without and
//! with the feed (alerts fire), and both hunts over a small store, with hits.
//!
//! It runs the `dnsrecall` binary of the same build (`target/debug/dnsrecall`, which
//! `cargo test --workspace` builds), or `$DNSRECALL_BIN`; a missing binary fails the test.

mod common;

use common::dnsrecall_bin;
use dnsrecall_bench::intel::{self, IntelConfig};

#[test]
fn intel_scenario_runs_and_hits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cfg = IntelConfig::new(tmp.path().to_path_buf(), dnsrecall_bin());
    cfg.iocs = 5_000;
    cfg.hunt_iocs = 1_000;
    cfg.lines = 20_000;
    cfg.match_lines = 20_000;
    cfg.hunt_lines = 30_000;
    cfg.min_tuples = 5_000;
    let f = intel::run(&cfg).expect("intel scenario");
    intel::print_intel(&f);

    assert_eq!(f.matcher_indicators, 5_000);
    assert!(f.hit_iocs >= 3, "{} indicators from the log", f.hit_iocs);
    assert!(f.add_list.seconds > 0.0 && f.add_misp.seconds > 0.0);
    assert!(f.add_list.peak_rss.is_some_and(|b| b > 0));
    assert!(f.match_observations > 10_000 && f.match_per_second > 0.0);
    // Some observations hit, most do not.
    assert!(f.match_hits > 0, "no observation matched");
    assert!(
        f.match_hits * 20 < f.match_observations,
        "{} hits",
        f.match_hits
    );
    assert!(f.watch_alerts > 0, "the watch hook raised no alert");

    let (plain, fed) = (f.ingest_plain.expect("plain"), f.ingest_feed.expect("fed"));
    assert_eq!(plain.lines, 20_000);
    assert_eq!(fed.lines, 20_000);
    assert_eq!(plain.alerts, 0);
    assert!(fed.alerts > 0, "ingest with the feed raised no alert");
    assert!(f.ingest_cost_percent().is_some());
    assert!(f.ingest_cpu_cost_percent().is_some(), "no CPU times read");

    assert!(f.hunt_tuples >= 5_000, "{}", f.hunt_tuples);
    assert_eq!(f.hunts.len(), 2);
    assert_eq!(f.hunts[0].iocs, 1_000);
    assert_eq!(f.hunts[1].iocs, 5_000);
    assert!(f.hunts[1].hits > 0, "the big hunt found nothing");
    assert!(f.hunts[1].hits >= f.hunts[0].hits);

    // A second run reuses the feeds and the hunt store.
    let again = intel::run(&IntelConfig {
        skip_ingest: true,
        ..cfg
    })
    .expect("second run");
    assert_eq!(again.hit_iocs, f.hit_iocs);
    assert_eq!(again.hunt_tuples, f.hunt_tuples);
    assert_eq!(again.hunts[1].hits, f.hunts[1].hits);
}
