//! Store tests: query plans are index range scans, and answers equal an in-memory model.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use dnsrecall_model::{
    ClientId, ClientKey, Name, NegativeKey, Rcode, Rdata, RrType, TupleKey, TupleValue,
};
use dnsrecall_store::{
    Batch, NameSelector, Selector, Sort, SqliteStore, TimeFence, TupleFilter, TupleRow, TypeSet,
};

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn key(sensor: Option<&str>, owner: &str, t: RrType, rdata: &str) -> TupleKey {
    TupleKey {
        sensor_id: sensor.map(Arc::from),
        rrname: name(owner),
        rrtype: t,
        rdata: Rdata::new(t, rdata).unwrap(),
    }
}

fn v(first: i64, last: i64, count: u64) -> TupleValue {
    TupleValue {
        time_first: first,
        time_last: last,
        count,
        ttl: Some(60),
    }
}

fn sample_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_dir(dir.path()).unwrap();
    let tuples = vec![
        (
            key(None, "isc.sans.org", RrType::A, "204.51.94.153"),
            v(100, 200, 3),
        ),
        (
            key(Some("s1"), "isc.sans.org", RrType::A, "204.51.94.153"),
            v(50, 150, 2),
        ),
        (
            key(None, "www.sans.org", RrType::CNAME, "isc.sans.org"),
            v(10, 20, 1),
        ),
        (
            key(None, "sans.org", RrType::MX, "10 mail.sans.org"),
            v(10, 20, 1),
        ),
        (
            key(None, "sans.org", RrType::NS, "ns1.sans.org"),
            v(10, 20, 1),
        ),
        (
            key(None, "v6.sans.org", RrType::AAAA, "2001:db8::1"),
            v(10, 30, 4),
        ),
        (key(None, "example.com", RrType::A, "10.0.0.1"), v(5, 5, 1)),
        (
            key(None, "example.com", RrType::TXT, "\"v=spf1 -all\""),
            v(5, 6, 1),
        ),
        (
            key(
                None,
                "_sip._udp.example.com",
                RrType::SRV,
                "0 5 5060 sip.sans.org",
            ),
            v(7, 8, 1),
        ),
    ];
    let negatives = vec![(
        NegativeKey {
            sensor_id: None,
            qname: name("nope.sans.org"),
            qtype: RrType::A,
            rcode: Rcode::NXDOMAIN,
        },
        v(1, 2, 5),
    )];
    let clients = vec![(
        ClientKey {
            sensor_id: None,
            client: ClientId::from_ip("192.168.254.8".parse().unwrap()),
            qname: name("isc.sans.org"),
            qtype: RrType::A,
        },
        v(100, 200, 3),
    )];
    store
        .write_batch(&Batch {
            tuples,
            negatives,
            clients,
            checkpoints: vec![],
        })
        .unwrap();
    (dir, store)
}

fn run(store: &mut SqliteStore, sel: Selector) -> Vec<TupleRow> {
    store
        .query_tuples(&sel, &TupleFilter::default(), Sort::Natural, 0, 1000)
        .unwrap()
        .0
}

fn brief(rows: &[TupleRow]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{} {} {} {}", r.rrname, r.rrtype, r.rdata, r.count))
        .collect()
}

#[test]
fn every_query_form_is_an_index_range_scan() {
    let (_dir, store) = sample_store();
    let forms = [
        Selector::Name(NameSelector::Exact(name("isc.sans.org"))),
        Selector::Name(NameSelector::Subdomains(name("sans.org"))),
        Selector::Name(NameSelector::Prefix("isc.sans".into())),
        Selector::Name(NameSelector::Substring("sans".into())),
        Selector::Address {
            lo: "204.51.94.153".parse().unwrap(),
            hi: "204.51.94.153".parse().unwrap(),
        },
        Selector::Address {
            lo: "204.51.94.0".parse().unwrap(),
            hi: "204.51.94.255".parse().unwrap(),
        },
        Selector::Address {
            lo: "2001:db8::".parse().unwrap(),
            hi: "2001:db8::ffff".parse().unwrap(),
        },
        Selector::RdataName(NameSelector::Exact(name("isc.sans.org"))),
        Selector::RdataName(NameSelector::Subdomains(name("sans.org"))),
    ];
    let filters = [
        TupleFilter::default(),
        TupleFilter {
            rrtypes: Some(TypeSet::Only(vec![RrType::A, RrType::AAAA])),
            sensors: Some(vec!["s1".into()]),
            fence: TimeFence::default(),
        },
    ];
    for sel in &forms {
        for filter in &filters {
            let plan = store.explain_tuples(sel, filter).unwrap();
            assert_plan_uses_indexes(&plan, &format!("{sel:?}"));
        }
    }
    for clients in [true, false] {
        for sel in &forms[..4] {
            let plan = store
                .explain_other(clients, sel, &TupleFilter::default())
                .unwrap();
            assert_plan_uses_indexes(&plan, &format!("clients={clients} {sel:?}"));
        }
    }
    let plan = store
        .explain_other(true, &forms[5], &TupleFilter::default())
        .unwrap();
    assert_plan_uses_indexes(&plan, "clients by address");
}

fn assert_plan_uses_indexes(plan: &[String], what: &str) {
    for step in plan {
        let full_scan = step.starts_with("SCAN ") && !step.contains("VIRTUAL TABLE INDEX");
        assert!(!full_scan, "{what}: table scan in plan {plan:#?}");
        // Answers naming one target are sorted among themselves (owner, type, rdata), and
        // so are the sightings of one client (name, type): a sort of one group's rows at a
        // time, which streams from group to group.
        let per_target_sort = (what.starts_with("RdataName") || what == "clients by address")
            && (step.contains("TEMP B-TREE FOR LAST") || step.contains("TEMP B-TREE FOR RIGHT"));
        assert!(
            !step.contains("TEMP B-TREE") || per_target_sort,
            "{what}: sort in plan {plan:#?}"
        );
    }
    assert!(
        plan.iter().any(|s| s.starts_with("SEARCH")),
        "{what}: no index search in {plan:#?}"
    );
}

#[test]
fn query_forms_answer_right() {
    let (_dir, mut store) = sample_store();
    let exact = run(
        &mut store,
        Selector::Name(NameSelector::Exact(name("isc.sans.org"))),
    );
    assert_eq!(brief(&exact), ["isc.sans.org A 204.51.94.153 5"]);
    assert_eq!(
        (exact[0].time_first, exact[0].time_last),
        (50, 200),
        "merged across sensors"
    );
    assert_eq!(exact[0].sensors.len(), 1);

    let subs = run(
        &mut store,
        Selector::Name(NameSelector::Subdomains(name("sans.org"))),
    );
    assert_eq!(
        brief(&subs),
        [
            "isc.sans.org A 204.51.94.153 5",
            "v6.sans.org AAAA 2001:db8::1 4",
            "www.sans.org CNAME isc.sans.org 1"
        ]
    );
    let prefix = run(
        &mut store,
        Selector::Name(NameSelector::Prefix("sans".into())),
    );
    assert_eq!(
        brief(&prefix),
        [
            "sans.org NS ns1.sans.org 1",
            "sans.org MX 10 mail.sans.org 1"
        ]
    );
    let prefix = run(
        &mut store,
        Selector::Name(NameSelector::Prefix("isc.sans".into())),
    );
    assert_eq!(brief(&prefix), ["isc.sans.org A 204.51.94.153 5"]);
    let prefix = run(
        &mut store,
        Selector::Name(NameSelector::Prefix("isc.sans.org".into())),
    );
    assert!(
        prefix.is_empty(),
        "isc.sans.org.* has no names under it: {prefix:?}"
    );
    let prefix = run(
        &mut store,
        Selector::Name(NameSelector::Prefix("www".into())),
    );
    assert_eq!(brief(&prefix), ["www.sans.org CNAME isc.sans.org 1"]);
    let sub = run(
        &mut store,
        Selector::Name(NameSelector::Substring("ans.o".into())),
    );
    assert_eq!(sub.len(), 5, "{sub:?}");
    let cidr = run(
        &mut store,
        Selector::Address {
            lo: "204.51.0.0".parse().unwrap(),
            hi: "204.51.255.255".parse().unwrap(),
        },
    );
    assert_eq!(brief(&cidr), ["isc.sans.org A 204.51.94.153 5"]);
    let v6 = run(
        &mut store,
        Selector::Address {
            lo: "2001:db8::".parse().unwrap(),
            hi: "2001:db8::1".parse().unwrap(),
        },
    );
    assert_eq!(brief(&v6), ["v6.sans.org AAAA 2001:db8::1 4"]);
    let targets = run(
        &mut store,
        Selector::RdataName(NameSelector::Subdomains(name("sans.org"))),
    );
    assert_eq!(
        brief(&targets),
        [
            "www.sans.org CNAME isc.sans.org 1",
            "sans.org MX 10 mail.sans.org 1",
            "sans.org NS ns1.sans.org 1",
            "_sip._udp.example.com SRV 0 5 5060 sip.sans.org 1",
        ]
    );
    let txt = run(
        &mut store,
        Selector::Name(NameSelector::Exact(name("example.com"))),
    );
    assert_eq!(
        brief(&txt),
        [
            "example.com A 10.0.0.1 1",
            "example.com TXT \"v=spf1 -all\" 1"
        ]
    );
    assert!(
        store
            .query_tuples(
                &Selector::Name(NameSelector::Substring("ab".into())),
                &TupleFilter::default(),
                Sort::Natural,
                0,
                10
            )
            .is_err()
    );
}

#[test]
fn filters_limits_and_sorts() {
    let (_dir, mut store) = sample_store();
    let all = Selector::Name(NameSelector::Substring("org".into()));
    let only_a = TupleFilter {
        rrtypes: Some(TypeSet::Only(vec![RrType::A])),
        ..Default::default()
    };
    let (rows, cut) = store
        .query_tuples(&all, &only_a, Sort::Natural, 0, 10)
        .unwrap();
    assert_eq!((rows.len(), cut), (1, false));
    let s1 = TupleFilter {
        sensors: Some(vec!["s1".into()]),
        ..Default::default()
    };
    let (rows, _) = store.query_tuples(&all, &s1, Sort::Natural, 0, 10).unwrap();
    assert_eq!(brief(&rows), ["isc.sans.org A 204.51.94.153 2"]);
    let fence = TupleFilter {
        fence: TimeFence {
            last_after: Some(25),
            ..Default::default()
        },
        ..Default::default()
    };
    let (rows, _) = store
        .query_tuples(&all, &fence, Sort::Natural, 0, 10)
        .unwrap();
    assert_eq!(rows.len(), 2);
    let (rows, cut) = store
        .query_tuples(
            &all,
            &TupleFilter::default(),
            Sort::Count { descending: true },
            0,
            2,
        )
        .unwrap();
    assert_eq!(
        brief(&rows),
        [
            "isc.sans.org A 204.51.94.153 5",
            "v6.sans.org AAAA 2001:db8::1 4"
        ]
    );
    assert!(cut);
    let (rows, cut) = store
        .query_tuples(
            &all,
            &TupleFilter::default(),
            Sort::Count { descending: true },
            1,
            1,
        )
        .unwrap();
    assert_eq!(brief(&rows), ["v6.sans.org AAAA 2001:db8::1 4"]);
    assert!(cut);
    let (rows, cut) = store
        .query_tuples(&all, &TupleFilter::default(), Sort::Natural, 4, 10)
        .unwrap();
    assert_eq!((rows.len(), cut), (1, false));
}

#[test]
fn clients_and_negatives() {
    let (_dir, mut store) = sample_store();
    let mut seen = Vec::new();
    store
        .for_each_client(
            &Selector::Name(NameSelector::Subdomains(name("sans.org"))),
            &TupleFilter::default(),
            |r| {
                seen.push(format!("{} {} {} {}", r.client, r.qname, r.qtype, r.count));
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(seen, ["192.168.254.8 isc.sans.org A 3"]);
    seen.clear();
    let lo: IpAddr = "192.168.254.0".parse().unwrap();
    let hi: IpAddr = "192.168.254.255".parse().unwrap();
    store
        .for_each_client(
            &Selector::Address { lo, hi },
            &TupleFilter::default(),
            |r| {
                seen.push(r.qname.to_string());
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(seen, ["isc.sans.org"]);
    seen.clear();
    store
        .for_each_negative(
            &Selector::Name(NameSelector::Exact(name("nope.sans.org"))),
            &TupleFilter::default(),
            |r| {
                seen.push(format!("{} {} {} {}", r.qname, r.qtype, r.rcode, r.count));
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(seen, ["nope.sans.org A NXDOMAIN 5"]);
}

#[test]
fn batches_merge_like_the_model_and_report_new_and_updated() {
    // Deterministic pseudo-random observations, written in batches of varying size; the
    // store must hold exactly what a BTreeMap model holds.
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_dir(dir.path()).unwrap();
    let mut model: BTreeMap<(String, u16, String), TupleValue> = BTreeMap::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut total_new = 0;
    for round in 0..20 {
        let mut batch = Batch::default();
        let mut agg: BTreeMap<TupleKey, TupleValue> = BTreeMap::new();
        for _ in 0..(round * 7 % 50 + 1) {
            let n = next();
            let owner = format!("h{}.d{}.example", n % 13, n % 3);
            let (t, rdata) = match n % 4 {
                0 => (RrType::A, format!("10.0.{}.{}", n % 5, n % 7)),
                1 => (RrType::CNAME, format!("t{}.example", n % 6)),
                2 => (RrType::MX, format!("{} mx{}.example", n % 3, n % 2)),
                _ => (RrType::TXT, format!("\"{}\"", n % 9)),
            };
            let k = key(None, &owner, t, &rdata);
            let val = v(
                (n % 1000) as i64,
                (n % 1000) as i64 + (n % 17) as i64,
                n % 4 + 1,
            );
            agg.entry(k.clone())
                .and_modify(|e| e.merge(&val))
                .or_insert(val);
            model
                .entry((k.rrname.to_string(), t.0, k.rdata.to_string()))
                .and_modify(|e| e.merge(&val))
                .or_insert(val);
        }
        batch.tuples = agg.into_iter().collect();
        let stats = store.write_batch(&batch).unwrap();
        assert_eq!(
            stats.tuples_new + stats.tuples_updated,
            batch.tuples.len() as u64
        );
        total_new += stats.tuples_new;
    }
    assert_eq!(total_new, model.len() as u64);
    let rows = run(
        &mut store,
        Selector::Name(NameSelector::Substring("example".into())),
    );
    let got: BTreeMap<(String, u16, String), (i64, i64, u64)> = rows
        .iter()
        .map(|r| {
            (
                (r.rrname.to_string(), r.rrtype.0, r.rdata.clone()),
                (r.time_first, r.time_last, r.count),
            )
        })
        .collect();
    let want: BTreeMap<(String, u16, String), (i64, i64, u64)> = model
        .iter()
        .map(|(k, v)| (k.clone(), (v.time_first, v.time_last, v.count)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn prune_and_stats() {
    let (_dir, mut store) = sample_store();
    let before = store.stats().unwrap();
    assert_eq!(before.tuples, 9);
    assert_eq!(before.time_first, Some(1));
    assert_eq!(before.sensors.len(), 1);
    let pruned = store.prune(Some(25), None).unwrap();
    assert_eq!(pruned.tuples, 6);
    assert_eq!(pruned.negatives, 1);
    let after = store.stats().unwrap();
    assert_eq!(after.tuples, 3);
    assert!(after.names < before.names);
    let rows = run(
        &mut store,
        Selector::Name(NameSelector::Substring("sans".into())),
    );
    assert_eq!(rows.len(), 2);
}

#[test]
fn reopening_keeps_data_and_schema_version() {
    let (dir, store) = sample_store();
    drop(store);
    let mut again = SqliteStore::open_dir(dir.path()).unwrap();
    assert_eq!(
        again.stats().unwrap().schema_version,
        dnsrecall_store::SCHEMA_VERSION
    );
    assert_eq!(
        run(
            &mut again,
            Selector::Name(NameSelector::Exact(name("example.com")))
        )
        .len(),
        2
    );
}

#[test]
fn concurrent_first_opens_create_the_schema_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let p = path.clone();
            std::thread::spawn(move || SqliteStore::open_dir(&p).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let (dir, store) = sample_store();
    store.meta_set("schema_version", b"").unwrap();
    store
        .connection()
        .execute(
            "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    drop(store);
    let err = SqliteStore::open_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn substring_index_spans_batches_and_chunks() {
    // Many names over several batches, so posting lists fill chunks and continue them; the
    // answers must equal a brute-force scan, with and without a limit.
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_dir(dir.path()).unwrap();
    let mut all = Vec::new();
    for b in 0..6 {
        let mut batch = Batch::default();
        for i in 0..1500 {
            let owner = format!("h{}x{i}.zone{}.example", b * 7919 % 97, i % 13);
            all.push(owner.clone());
            batch
                .tuples
                .push((key(None, &owner, RrType::A, "192.0.2.1"), v(1, 2, 1)));
        }
        store.write_batch(&batch).unwrap();
    }
    for needle in ["zone1", "x14", "e12.ex", "h0x1", ".zone12."] {
        let mut want: Vec<&String> = all.iter().filter(|n| n.contains(needle)).collect();
        want.sort_unstable();
        want.dedup();
        let sel = Selector::Name(NameSelector::Substring(needle.into()));
        let (rows, _) = store
            .query_tuples(&sel, &TupleFilter::default(), Sort::Natural, 0, 100_000)
            .unwrap();
        let mut got: Vec<String> = rows.iter().map(|r| r.rrname.to_string()).collect();
        got.sort_unstable();
        assert_eq!(got.len(), want.len(), "{needle}");
        assert!(got.iter().zip(&want).all(|(g, w)| g == *w), "{needle}");
        let (few, cut) = store
            .query_tuples(
                &Selector::Name(NameSelector::Substring(needle.into())),
                &TupleFilter::default(),
                Sort::Natural,
                0,
                3,
            )
            .unwrap();
        assert_eq!(few.len(), want.len().min(3));
        assert_eq!(cut, want.len() > 3);
    }
    assert!(
        run(
            &mut store,
            Selector::Name(NameSelector::Substring("qqq".into()))
        )
        .is_empty()
    );
    let plan: Vec<String> = store
        .connection()
        .prepare(
            "EXPLAIN QUERY PLAN SELECT first_id, ids FROM grams WHERE gram = ?1 AND first_id > ?2 \
             ORDER BY first_id LIMIT 8",
        )
        .unwrap()
        .query_map([1, 2], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter()
            .all(|p| p.starts_with("SEARCH grams USING PRIMARY KEY")),
        "{plan:?}"
    );
}
