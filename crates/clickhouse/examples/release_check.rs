//! Writes the schema, a batch of data (with hostile names, sensors and rdata) and every
//! query form as SQL text to a JSON file, with the answers Debian's ClickHouse 18.16 gives.
//! `scripts/check-current-release.py` replays the file on a current ClickHouse (the
//! in-process engine of PyPI's `chdb-core`) and compares the answers.
//!
//! ```text
//! cargo run -p dnsrecall-clickhouse --example release_check -- OUT.json
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::IpAddr;

use dnsrecall_clickhouse::{BatchId, ClickHouseStore, insert_statements, receipts_sql};
use dnsrecall_model::{
    ClientId, ClientKey, Name, NegativeKey, Rcode, Rdata, RrType, TupleKey, TupleValue,
};
use dnsrecall_store::{Batch, NameSelector, Selector, Sort, TimeFence, TupleFilter, TypeSet};

fn data() -> Vec<Batch> {
    let owners = [
        "www.example.com",
        "mail.example.com",
        "evil'co.de",
        "back\\slash.org",
        "a/b.example.com",
        "isc.sans.org",
        "com",
    ];
    let sensors: [Option<&str>; 4] = [None, Some("s1"), Some("s2"), Some("evil'\\sensor\t\"x")];
    let answers: [(RrType, &str); 8] = [
        (RrType::A, "10.0.0.1"),
        (RrType::A, "10.0.1.7"),
        (RrType::AAAA, "2001:db8::1"),
        (RrType::CNAME, "cdn.example.net"),
        (RrType::MX, "10 mail.example.com"),
        (RrType::TXT, "\"v=spf1 'x' \\\\ -all\""),
        (RrType::NS, "ns1.evil'co.de"),
        (RrType::SOA, "ns1.example.com host.example.com 1 2 3 4 5"),
    ];
    (0..3)
        .map(|b: i64| {
            let mut batch = Batch::default();
            for (i, owner) in owners.iter().enumerate() {
                for (j, (t, rdata)) in answers.iter().enumerate() {
                    if (i + j + usize::try_from(b).unwrap()) % 3 == 0 {
                        continue;
                    }
                    let t0 = 1_546_300_800 + b * 20 * 86_400 + i64::try_from(i * 100 + j).unwrap();
                    batch.tuples.push((
                        TupleKey {
                            sensor_id: sensors[(i + j) % 4].map(Into::into),
                            rrname: Name::new(owner).unwrap(),
                            rrtype: *t,
                            rdata: Rdata::new(*t, rdata).unwrap(),
                        },
                        TupleValue {
                            time_first: t0,
                            time_last: t0 + 3600,
                            count: u64::try_from(i + j).unwrap() + 1,
                            ttl: if j % 2 == 0 { Some(300) } else { None },
                        },
                    ));
                }
                let v = TupleValue {
                    time_first: 1_546_300_800 + b * 86_400,
                    time_last: 1_546_300_800 + b * 86_400 + 10,
                    count: 2,
                    ttl: None,
                };
                batch.negatives.push((
                    NegativeKey {
                        sensor_id: sensors[i % 4].map(Into::into),
                        qname: Name::new(&format!("nx.{owner}")).unwrap(),
                        qtype: RrType::A,
                        rcode: Rcode::NXDOMAIN,
                    },
                    v,
                ));
                batch.clients.push((
                    ClientKey {
                        sensor_id: sensors[i % 4].map(Into::into),
                        client: if i % 2 == 0 {
                            ClientId::V4([10, 9, 0, u8::try_from(i).unwrap()])
                        } else {
                            ClientId::hashed(&[u8::try_from(i).unwrap(); 12])
                        },
                        qname: Name::new(owner).unwrap(),
                        qtype: RrType::A,
                    },
                    v,
                ));
            }
            batch
        })
        .collect()
}

fn queries() -> Vec<String> {
    let n = |s: &str| Name::new(s).unwrap();
    let names = [
        NameSelector::Exact(n("www.example.com")),
        NameSelector::Exact(n("evil'co.de")),
        NameSelector::Subdomains(Name::root()),
        NameSelector::Subdomains(n("example.com")),
        NameSelector::Prefix("www".into()),
        NameSelector::Prefix("x') OR 1=1 --".into()),
        NameSelector::Substring("exa".into()),
        NameSelector::Substring("\\sl".into()),
    ];
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let mut sels: Vec<Selector> = names.iter().cloned().map(Selector::Name).collect();
    sels.push(Selector::Address {
        lo: ip("10.0.0.0"),
        hi: ip("10.0.0.255"),
    });
    sels.push(Selector::Address {
        lo: ip("::"),
        hi: ip("2001:db8::ffff"),
    });
    sels.extend(names.iter().cloned().map(Selector::RdataName));
    let filters = [
        TupleFilter::default(),
        TupleFilter {
            rrtypes: Some(TypeSet::Except(vec![RrType::A])),
            ..TupleFilter::default()
        },
        TupleFilter {
            sensors: Some(vec!["evil'\\sensor\t\"x".into(), "s1".into()]),
            ..TupleFilter::default()
        },
        TupleFilter {
            fence: TimeFence {
                first_after: Some(1_546_300_800 + 86_400),
                first_before: Some(1_546_300_800 + 50 * 86_400),
                last_after: Some(1_546_300_800),
                last_before: Some(1_546_300_800 + 45 * 86_400),
            },
            ..TupleFilter::default()
        },
    ];
    let sorts = [
        Sort::Natural,
        Sort::Count { descending: true },
        Sort::TimeFirst { descending: false },
        Sort::TimeLast { descending: true },
        Sort::Name { descending: true },
    ];
    let mut out = Vec::new();
    for sel in &sels {
        for f in &filters {
            for (i, sort) in sorts.iter().enumerate() {
                if let Ok(q) = ClickHouseStore::tuple_sql(sel, f, *sort, i, 5 + i) {
                    out.push(q);
                }
            }
            if let Ok(q) = ClickHouseStore::tuple_sql(sel, f, Sort::Natural, 0, usize::MAX - 1) {
                out.push(q);
            }
            if let Ok(q) = ClickHouseStore::client_sql(sel, f) {
                out.push(q);
            }
            if let Ok(q) = ClickHouseStore::negative_sql(sel, f) {
                out.push(q);
            }
        }
    }
    out
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .expect("usage: release_check OUT.json");
    let server = common::Server::start();
    let db = "release_check";
    let store = ClickHouseStore::open(&server.url(db)).unwrap();
    let mut inserts = Vec::new();
    let mut ids = Vec::new();
    for b in data() {
        let id = BatchId::new().unwrap();
        ids.push(id.key());
        for st in insert_statements(&id, &b) {
            // The same text on 18.16, so both engines get exactly the same statements.
            server.sql(&format!(
                "INSERT INTO {db}.{}",
                st.trim_start_matches("INSERT INTO ")
            ));
            inserts.push(st);
        }
    }
    let mut checked = Vec::new();
    // The receipt lookups of a retry: one batch written, one never written.
    let receipts = ids
        .iter()
        .map(String::as_str)
        .chain(["00000000000000000000-00000000000000000000000000000000"])
        .map(|k| {
            format!(
                "SELECT part, month FROM ({}) ORDER BY part, month",
                receipts_sql(k)
            )
        });
    for q in queries().into_iter().chain(receipts) {
        let rows = store.select_rows(&q).unwrap();
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|f| f.iter().map(|b| format!("{b:02x}")).collect())
                    .collect()
            })
            .collect();
        checked.push(serde_json::json!({ "sql": q, "rows": rows }));
    }
    let doc = serde_json::json!({
        "server": store.server_version().unwrap(),
        "database": db,
        "ddl": ClickHouseStore::schema_statements(db, None),
        "inserts": inserts,
        "queries": checked,
    });
    std::fs::write(&out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    println!(
        "{out}: {} DDL statements, {} inserts, {} queries with their answers from ClickHouse {}",
        doc["ddl"].as_array().unwrap().len(),
        doc["inserts"].as_array().unwrap().len(),
        doc["queries"].as_array().unwrap().len(),
        doc["server"]
    );
}
