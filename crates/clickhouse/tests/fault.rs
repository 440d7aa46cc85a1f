//! The server goes away in the middle of a stream of batches and comes back: through the
//! spool, the stored data must equal a clean run's (nothing lost, nothing counted twice).

mod common;

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use dnsrecall_clickhouse::ClickHouseStore;
use dnsrecall_clickhouse::spool::{Spool, SpoolConfig, Submitted, WhenFull};
use dnsrecall_model::{
    ClientId, ClientKey, Name, NegativeKey, Rcode, Rdata, RrType, TupleKey, TupleValue,
};
use dnsrecall_store::{Batch, Checkpoint, NameSelector, Selector, TupleFilter, TupleRow};

fn batches(n: usize) -> Vec<Batch> {
    (0..n)
        .map(|b| {
            let mut batch = Batch::default();
            for i in 0..300usize {
                // Keys repeat across batches (i % 250), so counts add up across them.
                let k = (i * 7 + b) % 250;
                let v = TupleValue {
                    time_first: 1_546_300_800 + i64::try_from(b * 3600 + i).unwrap(),
                    time_last: 1_546_300_800 + i64::try_from(b * 3600 + i + 60).unwrap(),
                    count: u64::try_from(1 + i % 5).unwrap(),
                    ttl: Some(300),
                };
                batch.tuples.push((
                    TupleKey {
                        sensor_id: Some(if b.is_multiple_of(2) { "east" } else { "west" }.into()),
                        rrname: Name::new(&format!("host{k}.example.com")).unwrap(),
                        rrtype: RrType::A,
                        rdata: Rdata::new(RrType::A, &format!("10.0.{}.{}", k / 200, k % 200))
                            .unwrap(),
                    },
                    v,
                ));
                if i.is_multiple_of(10) {
                    batch.negatives.push((
                        NegativeKey {
                            sensor_id: None,
                            qname: Name::new(&format!("nx{k}.example.com")).unwrap(),
                            qtype: RrType::A,
                            rcode: Rcode::NXDOMAIN,
                        },
                        v,
                    ));
                    batch.clients.push((
                        ClientKey {
                            sensor_id: None,
                            client: ClientId::V4([10, 9, 0, u8::try_from(k % 200).unwrap()]),
                            qname: Name::new(&format!("host{k}.example.com")).unwrap(),
                            qtype: RrType::A,
                        },
                        v,
                    ));
                }
            }
            // Keys are unique within a batch, as the aggregator hands them out.
            batch.tuples.sort_by(|a, b| a.0.cmp(&b.0));
            batch.tuples.dedup_by(|a, b| a.0 == b.0);
            batch.negatives.sort_by(|a, b| a.0.cmp(&b.0));
            batch.negatives.dedup_by(|a, b| a.0 == b.0);
            batch.clients.sort_by(|a, b| a.0.cmp(&b.0));
            batch.clients.dedup_by(|a, b| a.0 == b.0);
            batch.checkpoints.push(Checkpoint {
                source: "/logs/stream.log".into(),
                dev: 1,
                ino: 2,
                fingerprint: vec![9],
                offset: 1000 * (b as u64 + 1),
                line: b as u64 + 1,
            });
            batch
        })
        .collect()
}

fn dump(store: &mut ClickHouseStore) -> Vec<TupleRow> {
    let mut out = Vec::new();
    store
        .for_each_tuple(
            &Selector::Name(NameSelector::Subdomains(Name::root())),
            &TupleFilter::default(),
            |r| {
                out.push(r);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    out
}

/// Tuples, negative answers and client sightings, one line each.
fn dump_all(store: &mut ClickHouseStore) -> Vec<String> {
    let all = Selector::Name(NameSelector::Subdomains(Name::root()));
    let f = TupleFilter::default();
    let mut out: Vec<String> = dump(store).iter().map(|r| format!("{r:?}")).collect();
    store
        .for_each_negative(&all, &f, |r| {
            out.push(format!("{r:?}"));
            ControlFlow::Continue(())
        })
        .unwrap();
    store
        .for_each_client(&all, &f, |r| {
            out.push(format!("{r:?}"));
            ControlFlow::Continue(())
        })
        .unwrap();
    out
}

fn config(dir: &std::path::Path) -> SpoolConfig {
    SpoolConfig {
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..SpoolConfig::new(dir.to_owned(), 64 << 20, WhenFull::Block)
    }
}

#[test]
fn server_killed_mid_stream_loses_nothing_and_counts_once() {
    let mut server = common::Server::start();
    let input = batches(40);

    let mut clean = server.store("clean");
    for b in &input {
        clean.write_batch(b).unwrap();
    }
    let want_stats = clean.stats().unwrap();
    let want = dump(&mut clean);

    let spool_dir = tempfile::tempdir().unwrap();
    let store = server.store("faulty");
    let store = ClickHouseStore::connect(store.url(), Duration::from_secs(5));
    let mut spool = Spool::open(store, config(spool_dir.path())).unwrap();
    let mut outcomes = Vec::new();
    for b in &input[..15] {
        outcomes.push(spool.submit(b).unwrap());
    }
    server.kill();
    for b in &input[15..30] {
        outcomes.push(spool.submit(b).unwrap());
    }
    assert!(spool.pending().0 >= 15, "{:?}", spool.pending());
    server.restart();
    for b in &input[30..] {
        outcomes.push(spool.submit(b).unwrap());
    }
    assert!(
        spool.flush(Duration::from_secs(60)).unwrap(),
        "spool not drained"
    );
    let s = spool.stats();
    println!("outcomes: {outcomes:?}\nspool stats: {s:?}");
    assert_eq!(s.dropped, 0);
    assert_eq!(s.written + s.spooled, 40);
    assert_eq!(s.replayed, s.spooled);
    assert!(s.spooled >= 15 && s.failures >= 1);
    assert!(outcomes[15..30].iter().all(|o| *o == Submitted::Spooled));

    let faulty = spool.sink_mut();
    let got_stats = faulty.stats().unwrap();
    assert_eq!(
        (
            got_stats.tuples,
            got_stats.negatives,
            got_stats.clients,
            got_stats.names
        ),
        (
            want_stats.tuples,
            want_stats.negatives,
            want_stats.clients,
            want_stats.names
        )
    );
    assert_eq!(
        dump(faulty),
        want,
        "stored tuples differ from the clean run's"
    );
    assert_eq!(
        faulty.checkpoint("/logs/stream.log").unwrap(),
        clean.checkpoint("/logs/stream.log").unwrap()
    );
}

/// The server is killed (SIGKILL: no clean shutdown) at an arbitrary moment from another
/// thread while batches keep coming, possibly in the middle of an INSERT, then restarted;
/// several rounds, each killing at a different moment. Every round's store must equal a
/// clean run's exactly: a receipt is committed in the same part as its rows, so a kill
/// can leave a part of a batch in or out, never its rows without their receipt.
#[test]
fn server_killed_at_a_random_moment() {
    let mut server = common::Server::start();
    let input = batches(60);
    let mut clean = server.store("clean");
    for b in &input {
        clean.write_batch(b).unwrap();
    }
    let want = dump_all(&mut clean);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    for round in 0..5u32 {
        let spool_dir = tempfile::tempdir().unwrap();
        let store = server.store(&format!("faulty{round}"));
        let store = ClickHouseStore::connect(store.url(), Duration::from_secs(5));
        let mut spool = Spool::open(store, config(spool_dir.path())).unwrap();
        let start = Instant::now();
        // A batch between 10 and 29, and 0-9 ms into its submit: before, during or
        // after one of its INSERTs.
        let kill_at = 10 + ((seed >> round) % 20) as usize;
        let delay = u64::from((seed / 7 + round * 3) % 10);
        for (i, b) in input.iter().enumerate() {
            if i == kill_at {
                let pid = server.pid();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(delay));
                    let _ = std::process::Command::new("/usr/bin/kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                });
            }
            spool.submit(b).unwrap();
            if i == kill_at + 15 {
                server.restart();
            }
        }
        assert!(spool.flush(Duration::from_secs(60)).unwrap());
        println!(
            "round {round}: killed {delay} ms into batch {kill_at}; spool stats {:?}; {:?}",
            spool.stats(),
            start.elapsed()
        );
        let got = dump_all(spool.sink_mut());
        assert_eq!(
            got.len(),
            want.len(),
            "round {round}: keys lost or invented"
        );
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                g, w,
                "round {round} (killed {delay} ms into batch {kill_at}): differs from a clean run"
            );
        }
    }
}

/// The same with the writer-thread spool (live capture's form): submitting never waits
/// for the server, and what it took equals a clean run's.
#[test]
fn background_spool_rides_out_a_restart() {
    use dnsrecall_clickhouse::spool::BackgroundSpool;

    let mut server = common::Server::start();
    let input = batches(40);
    let mut clean = server.store("clean");
    for b in &input {
        clean.write_batch(b).unwrap();
    }
    let want = dump(&mut clean);

    let spool_dir = tempfile::tempdir().unwrap();
    let url = server.url("faulty");
    let store = ClickHouseStore::open(&url).unwrap();
    let store = ClickHouseStore::connect(store.url(), Duration::from_secs(5));
    let spool = BackgroundSpool::start(store, config(spool_dir.path())).unwrap();
    for b in &input[..15] {
        assert_eq!(spool.submit(b).unwrap(), Submitted::Spooled);
    }
    server.kill();
    let start = Instant::now();
    for b in &input[15..30] {
        assert_eq!(spool.submit(b).unwrap(), Submitted::Spooled);
    }
    let submit_time = start.elapsed();
    server.restart();
    for b in &input[30..] {
        spool.submit(b).unwrap();
    }
    assert!(spool.flush(Duration::from_secs(60)), "spool not drained");
    let s = spool.stats();
    println!("background spool stats: {s:?}; 15 submits while down took {submit_time:?}");
    assert_eq!((s.spooled, s.replayed, s.dropped), (40, 40, 0));
    drop(spool);
    let mut faulty = ClickHouseStore::open(&url).unwrap();
    assert_eq!(
        dump(&mut faulty),
        want,
        "stored tuples differ from the clean run's"
    );
    assert_eq!(
        faulty.checkpoint("/logs/stream.log").unwrap(),
        clean.checkpoint("/logs/stream.log").unwrap()
    );
}
