//! The `serve` scenario end to end on a tiny store (a few seconds): it builds the store
//! with the generator and `dnsrecall ingest`, serves it, follows an ingest alongside and
//! sends every kind of request through every API flavour, without errors.
//!
//! It runs the `dnsrecall` binary of the same build (`target/debug/dnsrecall`, which
//! `cargo test --workspace` builds), or `$DNSRECALL_BIN`; a missing binary fails the test.

use std::time::Duration;

mod common;

use common::dnsrecall_bin;
use dnsrecall_bench::serve::{self, ServeConfig};

#[test]
fn serve_scenario_runs_without_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cfg = ServeConfig::new(tmp.path().to_path_buf(), dnsrecall_bin());
    cfg.lines = 20_000;
    cfg.min_tuples = 5_000;
    cfg.ingest_rate = 2_000;
    cfg.concurrency = 16;
    cfg.requests = 900;
    cfg.duration = Duration::from_secs(20);
    cfg.samples = 50;
    let f = serve::run(&cfg).expect("serve scenario");
    serve::print_serve(&f);
    assert!(f.tuples_at_start >= 5_000, "{}", f.tuples_at_start);
    assert_eq!(f.errors, 0, "errors: {:?}", f.error_samples);
    assert_eq!(f.cells.len(), 9);
    for c in &f.cells {
        assert!(
            c.requests >= 50,
            "{} {}: {} requests",
            c.flavour.as_str(),
            c.kind.as_str(),
            c.requests
        );
        assert_eq!(
            c.empty,
            0,
            "{} {}: empty answers",
            c.flavour.as_str(),
            c.kind.as_str()
        );
        assert!(c.rows_mean >= 1.0);
        assert!(c.p50 <= c.p99 && c.p99 <= c.max);
    }
    assert!(f.ingest_written > 0, "the generator wrote nothing");
    assert!(f.server_peak_rss.is_some_and(|b| b > 0));
    // Running it again reuses the store built the first time.
    let again = serve::prepare_base(&cfg).expect("reuse");
    assert!(again.ends_with("serve/base"));
}
