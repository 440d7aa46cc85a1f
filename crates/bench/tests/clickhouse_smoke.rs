//! The `clickhouse` scenario end to end at tiny sizes (20,000 lines, 20,000 packets): its
//! own clickhouse-server on loopback, `dnsrecall --store clickhouse://... ingest` and
//! `sniff`, every query form in process and through `dnsrecall query`, and the SQLite
//! benchmarks on the same data; the ClickHouse store must hold what SQLite holds.
//!
//! It needs Debian's `/usr/sbin/clickhouse-server` (or `$DNSRECALL_CLICKHOUSE_SERVER`):
//! a missing server FAILS the test. It runs the `dnsrecall` binary of the same build
//! (`target/debug/dnsrecall`, which `cargo test --workspace` builds), or
//! `$DNSRECALL_BIN`; a missing binary fails the test too.

use std::time::Duration;

mod common;

use common::dnsrecall_bin;
use dnsrecall_bench::clickhouse::{self, ClickHouseConfig};

#[test]
fn clickhouse_scenario_matches_sqlite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cfg = ClickHouseConfig::new(tmp.path().to_path_buf(), dnsrecall_bin());
    assert!(
        cfg.server.is_file(),
        "{} is missing: this test needs a real ClickHouse server (Debian's \
         clickhouse-server, or DNSRECALL_CLICKHOUSE_SERVER)",
        cfg.server.display()
    );
    cfg.lines = 20_000;
    cfg.packets = 20_000;
    cfg.samples = 40;
    cfg.cli_samples = 3;
    cfg.form_budget = Duration::from_secs(120);
    cfg.sqlite = true;
    cfg.min_tuples = 0;
    let f = clickhouse::run(&cfg).expect("clickhouse scenario");
    clickhouse::print_clickhouse(&f);

    assert!(!f.server_version.is_empty());
    assert!(
        !std::path::Path::new(&format!("/proc/{}", f.server_pid)).exists(),
        "clickhouse-server {} still runs",
        f.server_pid
    );
    assert!(f.server_rss_end.is_some_and(|b| b > 0));

    let sqlite = f.sqlite_ingest.as_ref().expect("SQLite ingest figures");
    assert_eq!(f.ingest.items, 20_000);
    assert_eq!(f.ingest.bad_lines, 0);
    assert!(f.ingest.per_second > 0.0 && f.ingest.wall_per_second > 0.0);
    assert!(f.ingest.proc.cpu_seconds.is_some());
    assert!(f.store.tuples > 5_000, "{} tuples", f.store.tuples);
    assert_eq!(f.store.tuples, sqlite.tuples);
    assert_eq!(f.store.tuples, f.sqlite_tuples);
    assert!(f.store.bytes > 0 && f.store.bytes_per_tuple > 0.0);
    assert!(f.ingest.spool.contains("0 spooled"), "{}", f.ingest.spool);
    let tuples_table = f.tables.iter().find(|t| t.table == "tuples");
    assert!(
        tuples_table.is_some_and(|t| t.rows > 0 && t.bytes > 0),
        "{:?}",
        f.tables
    );

    assert_eq!(f.queries.len(), 6);
    assert_eq!(f.sqlite_query.len(), 6);
    for q in &f.queries {
        let g = &q.figures;
        assert_eq!(g.queries, q.planned, "{}: not every pattern ran", g.form);
        assert!(g.queries > 0 && g.rows_mean >= 1.0, "{}: no rows", g.form);
        assert_eq!(q.rows_differ, 0, "{}: rows differ from SQLite", g.form);
        assert!(g.p50 <= g.p99 && g.p99 <= g.max);
    }
    assert_eq!(f.cli_queries.len(), 6);
    for g in &f.cli_queries {
        assert_eq!(g.queries, 3, "{}", g.form);
        assert!(
            g.rows_mean >= 1.0,
            "{}: no rows through dnsrecall query",
            g.form
        );
    }

    let sniffed = f.sqlite_sniff.as_ref().expect("SQLite sniff figures");
    assert_eq!(f.sniff.items, 20_000);
    assert!(f.sniff.answers > 0 && f.sniff.per_second > 0.0);
    assert!(f.sniff_store.tuples > 0);
    assert_eq!(f.sniff_store.tuples, sniffed.tuples);
}
