//! Ingest throughput into ClickHouse on loopback: batches/s and tuples/s, and the latency
//! of a few queries afterwards.
//!
//! ```text
//! cargo run --release -p dnsrecall-clickhouse --example throughput -- [BATCHES] [TUPLES_PER_BATCH]
//! ```
//! Starts its own server (`/usr/sbin/clickhouse-server`, or `$DNSRECALL_CLICKHOUSE_SERVER`)
//! in a temporary directory, or uses `$DNSRECALL_CLICKHOUSE_URL` when set.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::ops::ControlFlow;
use std::time::Instant;

use dnsrecall_clickhouse::{ClickHouseStore, StoreUrl};
use dnsrecall_model::{ClientId, ClientKey, Name, Rdata, RrType, TupleKey, TupleValue};
use dnsrecall_store::{Batch, NameSelector, Selector, Sort, TupleFilter};

fn batch(b: usize, n: usize) -> Batch {
    let mut batch = Batch::default();
    for i in 0..n {
        // Half the keys recur from batch to batch (a busy resolver's steady set), half
        // are new.
        let k = if i.is_multiple_of(2) { i } else { b * n + i };
        let t = 1_700_000_000 + i64::try_from(b * 60).unwrap();
        let v = TupleValue {
            time_first: t,
            time_last: t + 30,
            count: 3,
            ttl: Some(300),
        };
        let rrname = Name::new(&format!("h{k}.zone{}.example.com", k % 97)).unwrap();
        let (rrtype, rdata) = if i.is_multiple_of(3) {
            (RrType::CNAME, format!("edge{}.cdn.example.net", k % 1000))
        } else {
            (
                RrType::A,
                format!("10.{}.{}.{}", (k >> 16) & 255, (k >> 8) & 255, k & 255),
            )
        };
        batch.tuples.push((
            TupleKey {
                sensor_id: Some(format!("sensor{}", b % 4).into()),
                rrname: rrname.clone(),
                rrtype,
                rdata: Rdata::new(rrtype, &rdata).unwrap(),
            },
            v,
        ));
        if i.is_multiple_of(4) {
            batch.clients.push((
                ClientKey {
                    sensor_id: Some(format!("sensor{}", b % 4).into()),
                    client: ClientId::V4([
                        10,
                        9,
                        u8::try_from((i >> 8) & 255).unwrap(),
                        u8::try_from(i & 255).unwrap(),
                    ]),
                    qname: rrname,
                    qtype: rrtype,
                },
                v,
            ));
        }
    }
    batch
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let batches = args.first().copied().unwrap_or(100);
    let per_batch = args.get(1).copied().unwrap_or(10_000);
    let (_server, url): (Option<common::Server>, StoreUrl) =
        match std::env::var("DNSRECALL_CLICKHOUSE_URL") {
            Ok(u) => (None, u.parse().unwrap()),
            Err(_) => {
                let s = common::Server::start();
                let url = s.url("bench");
                (Some(s), url)
            }
        };
    let mut store = ClickHouseStore::open(&url).unwrap();
    println!("server {} at {url}", store.server_version().unwrap());
    let input: Vec<Batch> = (0..batches).map(|b| batch(b, per_batch)).collect();
    let start = Instant::now();
    for b in &input {
        store.write_batch(b).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let tuples = (batches * per_batch) as f64;
    println!(
        "ingest: {batches} batches of {per_batch} tuples (+{} client sightings each) in {secs:.2} s: \
         {:.1} batches/s, {:.0} tuples/s",
        per_batch / 4,
        batches as f64 / secs,
        tuples / secs
    );
    let stats = store.stats().unwrap();
    println!(
        "stored: {} tuples, {} clients, {} names, {} bytes on disk",
        stats.tuples, stats.clients, stats.names, stats.bytes
    );
    let queries = [
        (
            "exact name",
            Selector::Name(NameSelector::Exact(
                Name::new("h2.zone2.example.com").unwrap(),
            )),
        ),
        (
            "*.zone5.example.com",
            Selector::Name(NameSelector::Subdomains(
                Name::new("zone5.example.com").unwrap(),
            )),
        ),
        (
            "prefix h1.*",
            Selector::Name(NameSelector::Prefix("h1".into())),
        ),
        (
            "substring *one7*",
            Selector::Name(NameSelector::Substring("one7".into())),
        ),
        (
            "address 10.0.1.0/24",
            Selector::Address {
                lo: "10.0.1.0".parse().unwrap(),
                hi: "10.0.1.255".parse().unwrap(),
            },
        ),
        (
            "rdata edge7.cdn.example.net",
            Selector::RdataName(NameSelector::Exact(
                Name::new("edge7.cdn.example.net").unwrap(),
            )),
        ),
    ];
    for (what, sel) in queries {
        let t = Instant::now();
        let mut n = 0;
        store
            .for_each_tuple(&sel, &TupleFilter::default(), |_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
        let stream = t.elapsed();
        let t = Instant::now();
        store
            .query_tuples(
                &sel,
                &TupleFilter::default(),
                Sort::Count { descending: true },
                0,
                100,
            )
            .unwrap();
        println!(
            "query {what}: {n} rows streamed in {:.1} ms; top 100 by count in {:.1} ms",
            stream.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}
