//! Same data through the SQLite store and a real ClickHouse server: every selector form,
//! type sets, sensor filters, the four time fences, every sort with offset and limit,
//! clients, negatives, stats, checkpoints and prune must give the same answers.
//!
//! Order: sorted queries must match exactly. Natural order must match on the selector's
//! order key (name, label-reversed name, address, target name, client), then by type; the
//! order *within* one key may differ, because SQLite breaks those ties by its internal
//! name ids (insertion order) and ClickHouse by name. Substring queries come in name-id
//! order from SQLite: only their contents are compared.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use dnsrecall_clickhouse::{BatchId, ClickHouseStore};
use dnsrecall_model::{
    ClientId, ClientKey, Name, NegativeKey, Rcode, Rdata, RrType, TupleKey, TupleValue,
    reverse_labels,
};
use dnsrecall_store::{
    Batch, Checkpoint, ClientRow, NameSelector, NegativeRow, Selector, Sort, SqliteStore,
    TimeFence, TupleFilter, TupleRow, TypeSet,
};

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

const T0: i64 = 1_546_300_800; // 2019-01-01
const DAY: i64 = 86_400;

fn sensors() -> Vec<Option<Arc<str>>> {
    vec![
        None,
        Some("s1".into()),
        Some("s2".into()),
        Some("evil'\\sensor\t\"x".into()),
    ]
}

fn names() -> Vec<String> {
    let bases = [
        "example.com",
        "example.net",
        "sans.org",
        "isc.sans.org",
        "evil'co.de",
        "back\\slash.org",
        "a/b.example.com",
        "xn--bcher-kva.de",
        "com",
        "exam.ple",
    ];
    let labels = [
        "www", "mail", "api", "cdn", "ns1", "ns2", "dev", "x1", "x2", "deep.er",
    ];
    let mut out: Vec<String> = bases.iter().map(|b| (*b).to_owned()).collect();
    for b in bases {
        for l in labels {
            out.push(format!("{l}.{b}"));
        }
    }
    out
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// Tuples, negatives, clients and checkpoints in `batches` batches, with keys repeating
/// across batches and sensors.
fn generate(seed: u64, batches: usize, per_batch: usize, months: i64) -> Vec<Batch> {
    let mut rng = Rng(seed);
    let names = names();
    let sensors = sensors();
    let types = [
        RrType::A,
        RrType::A,
        RrType::AAAA,
        RrType::CNAME,
        RrType::NS,
        RrType::MX,
        RrType::TXT,
        RrType::SOA,
        RrType::SRV,
        RrType::PTR,
    ];
    let mut out = Vec::new();
    for b in 0..batches {
        let mut tuples: HashMap<TupleKey, TupleValue> = HashMap::new();
        let mut negatives: HashMap<NegativeKey, TupleValue> = HashMap::new();
        let mut clients: HashMap<ClientKey, TupleValue> = HashMap::new();
        let value = |rng: &mut Rng, ttl: bool| {
            let t =
                T0 + i64::try_from(rng.below(usize::try_from(months * 30 * DAY).unwrap())).unwrap();
            TupleValue {
                time_first: t,
                time_last: t + i64::try_from(rng.below(3 * 3600)).unwrap(),
                count: 1 + rng.next() % 100,
                ttl: if ttl && rng.below(4) > 0 {
                    Some(u32::try_from(rng.below(86_400)).unwrap())
                } else {
                    None
                },
            }
        };
        for _ in 0..per_batch {
            let owner = &names[rng.below(names.len())];
            let rrtype = types[rng.below(types.len())];
            let target = &names[rng.below(names.len())];
            let text = match rrtype {
                RrType::A => format!("10.{}.{}.{}", rng.below(3), rng.below(4), rng.below(6)),
                RrType::AAAA => format!("2001:db8::{:x}", rng.below(40)),
                RrType::CNAME | RrType::NS | RrType::PTR => target.clone(),
                RrType::MX => format!("{} {target}", 10 * rng.below(3)),
                RrType::TXT => format!("\"v=spf1 'x{}' \\\\ -all\"", rng.below(5)),
                RrType::SOA => format!("{target} host.{target} {} 2 3 4 5", rng.below(3)),
                _ => format!("0 5 {} {target}", 5000 + rng.below(3)),
            };
            let key = TupleKey {
                sensor_id: sensors[rng.below(sensors.len())].clone(),
                rrname: name(owner),
                rrtype,
                rdata: Rdata::new(rrtype, &text).unwrap(),
            };
            let v = value(&mut rng, true);
            tuples.entry(key).and_modify(|e| e.merge(&v)).or_insert(v);
        }
        for _ in 0..per_batch / 10 {
            let qname = if rng.below(2) == 0 {
                names[rng.below(names.len())].clone()
            } else {
                format!("nx{}.{}", rng.below(20), names[rng.below(names.len())])
            };
            let key = NegativeKey {
                sensor_id: sensors[rng.below(sensors.len())].clone(),
                qname: name(&qname),
                qtype: [RrType::A, RrType::AAAA, RrType::MX][rng.below(3)],
                rcode: [Rcode::NXDOMAIN, Rcode::SERVFAIL, Rcode::REFUSED][rng.below(3)],
            };
            let v = value(&mut rng, false);
            negatives
                .entry(key)
                .and_modify(|e| e.merge(&v))
                .or_insert(v);
        }
        for _ in 0..per_batch / 5 {
            let client = match rng.below(4) {
                0 => ClientId::V6(
                    "2001:db8:1::1"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets()
                        .map(|o| o ^ u8::try_from(rng.below(3)).unwrap()),
                ),
                1 => ClientId::hashed(&[u8::try_from(rng.below(4)).unwrap(); 12]),
                _ => ClientId::V4([
                    10,
                    9,
                    u8::try_from(rng.below(3)).unwrap(),
                    u8::try_from(rng.below(20)).unwrap(),
                ]),
            };
            let key = ClientKey {
                sensor_id: sensors[rng.below(sensors.len())].clone(),
                client,
                qname: name(&names[rng.below(names.len())]),
                qtype: [RrType::A, RrType::AAAA, RrType::MX, RrType::TXT][rng.below(4)],
            };
            let v = value(&mut rng, false);
            clients.entry(key).and_modify(|e| e.merge(&v)).or_insert(v);
        }
        out.push(Batch {
            tuples: tuples.into_iter().collect(),
            negatives: negatives.into_iter().collect(),
            clients: clients.into_iter().collect(),
            checkpoints: vec![Checkpoint {
                source: "/logs/it's a \"log\".json".into(),
                dev: 7,
                ino: 1000 + (b as u64),
                fingerprint: vec![0, 0xff, u8::try_from(b).unwrap()],
                offset: 4096 * (b as u64 + 1),
                line: 10 * (b as u64 + 1),
            }],
        });
    }
    out
}

fn both(
    server: &common::Server,
    db: &str,
    batches: &[Batch],
) -> (SqliteStore, ClickHouseStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = SqliteStore::open_dir(dir.path()).unwrap();
    let mut ch = server.store(db);
    for b in batches {
        sqlite.write_batch(b).unwrap();
        ch.write_batch(b).unwrap();
    }
    (sqlite, ch, dir)
}

fn norm_t(mut r: TupleRow) -> TupleRow {
    r.sensors.sort();
    r
}
fn norm_c(mut r: ClientRow) -> ClientRow {
    r.sensors.sort();
    r
}
fn norm_n(mut r: NegativeRow) -> NegativeRow {
    r.sensors.sort();
    r
}

fn ord_t(r: &TupleRow) -> (String, u16, String) {
    (r.rrname.to_string(), r.rrtype.0, r.rdata.clone())
}

/// The order key of a tuple under a selector's natural order (`None`: not compared).
fn tuple_key(sel: &Selector, r: &TupleRow) -> Option<(Vec<u8>, u16)> {
    let k = match sel {
        Selector::Name(NameSelector::Exact(_) | NameSelector::Prefix(_)) => {
            r.rrname.as_str().as_bytes().to_vec()
        }
        Selector::Name(NameSelector::Subdomains(_)) => {
            reverse_labels(r.rrname.as_str()).into_bytes()
        }
        Selector::Name(NameSelector::Substring(_))
        | Selector::RdataName(NameSelector::Substring(_)) => {
            return None;
        }
        Selector::Address { .. } => {
            let ip: IpAddr = r.rdata.parse().unwrap();
            return Some((dnsrecall_store::address_key(ip), 0));
        }
        Selector::RdataName(ns) => {
            let t = Rdata::from_canonical_unchecked(r.rdata.clone())
                .target_name(r.rrtype)
                .unwrap();
            let t = t.as_str().to_owned();
            // Within one target SQLite orders by owner name id, then type: the key is
            // the target alone.
            let k = if matches!(ns, NameSelector::Subdomains(_)) {
                reverse_labels(&t).into_bytes()
            } else {
                t.into_bytes()
            };
            return Some((k, 0));
        }
    };
    Some((k, r.rrtype.0))
}

#[derive(Default)]
struct Tally {
    cases: usize,
    rows: usize,
    exact_order: usize,
    key_order_only: usize,
    failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        if self.failures.len() < 20 {
            self.failures.push(what);
        } else if self.failures.len() == 20 {
            self.failures.push("...".into());
        }
    }
}

fn collect_tuples_sqlite(
    s: &mut SqliteStore,
    sel: &Selector,
    f: &TupleFilter,
) -> Result<Vec<TupleRow>, String> {
    let mut v = Vec::new();
    s.for_each_tuple(sel, f, |r| {
        v.push(norm_t(r));
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?;
    Ok(v)
}

fn collect_tuples_ch(
    s: &mut ClickHouseStore,
    sel: &Selector,
    f: &TupleFilter,
) -> Result<Vec<TupleRow>, String> {
    let mut v = Vec::new();
    s.for_each_tuple(sel, f, |r| {
        v.push(norm_t(r));
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?;
    Ok(v)
}

fn compare_stream<R: Clone + PartialEq + std::fmt::Debug, K: PartialEq + std::fmt::Debug>(
    tally: &mut Tally,
    what: &str,
    a: Result<Vec<R>, String>,
    b: Result<Vec<R>, String>,
    key: impl Fn(&R) -> Option<K>,
    ord: impl Fn(&R, &R) -> std::cmp::Ordering,
) {
    tally.cases += 1;
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(_), Err(_)) => return,
        (a, b) => {
            tally.fail(format!(
                "{what}: sqlite {:?} vs clickhouse {:?}",
                a.err(),
                b.err()
            ));
            return;
        }
    };
    tally.rows += a.len();
    if a == b {
        tally.exact_order += 1;
        return;
    }
    let (mut sa, mut sb) = (a.clone(), b.clone());
    sa.sort_by(&ord);
    sb.sort_by(&ord);
    if sa != sb {
        let first = sa.iter().zip(&sb).position(|(x, y)| x != y);
        tally.fail(format!(
            "{what}: contents differ ({} vs {} rows); first difference at {first:?}: {:?} vs {:?}",
            sa.len(),
            sb.len(),
            first.and_then(|i| sa.get(i)),
            first.and_then(|i| sb.get(i)),
        ));
        return;
    }
    let ka: Vec<Option<K>> = a.iter().map(&key).collect();
    let kb: Vec<Option<K>> = b.iter().map(&key).collect();
    if ka != kb {
        let i = ka.iter().zip(&kb).position(|(x, y)| x != y);
        tally.fail(format!(
            "{what}: natural order differs at {i:?}: {:?} vs {:?}",
            i.map(|i| &ka[i]),
            i.map(|i| &kb[i])
        ));
        return;
    }
    tally.key_order_only += 1;
}

fn name_selectors() -> Vec<NameSelector> {
    vec![
        NameSelector::Exact(name("www.example.com")),
        NameSelector::Exact(name("example.com")),
        NameSelector::Exact(name("evil'co.de")),
        NameSelector::Exact(name("www.back\\slash.org")),
        NameSelector::Exact(name("absent.example")),
        NameSelector::Subdomains(Name::root()),
        NameSelector::Subdomains(name("example.com")),
        NameSelector::Subdomains(name("sans.org")),
        NameSelector::Subdomains(name("com")),
        NameSelector::Subdomains(name("evil'co.de")),
        NameSelector::Subdomains(name("b.example.com")),
        NameSelector::Prefix("www".into()),
        NameSelector::Prefix("mail.example".into()),
        NameSelector::Prefix("a/b".into()),
        NameSelector::Prefix("deep".into()),
        NameSelector::Substring("exa".into()),
        NameSelector::Substring("'co".into()),
        NameSelector::Substring("\\sl".into()),
        NameSelector::Substring("zzzz".into()),
        NameSelector::Substring("ab".into()), // too short: an error from both
        // Hostile text stays data.
        NameSelector::Prefix("x') OR 1=1 --".into()),
        NameSelector::Substring("' OR '1'='1".into()),
        NameSelector::Substring("\\'\t\n\0".into()),
    ]
}

fn selectors() -> Vec<Selector> {
    let mut v: Vec<Selector> = name_selectors().into_iter().map(Selector::Name).collect();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    v.push(Selector::Address {
        lo: ip("0.0.0.0"),
        hi: ip("255.255.255.255"),
    });
    v.push(Selector::Address {
        lo: ip("10.1.0.0"),
        hi: ip("10.1.255.255"),
    });
    v.push(Selector::Address {
        lo: ip("10.2.3.4"),
        hi: ip("10.2.3.4"),
    });
    v.push(Selector::Address {
        lo: ip("::"),
        hi: ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    });
    v.push(Selector::Address {
        lo: ip("2001:db8::10"),
        hi: ip("2001:db8::1f"),
    });
    for ns in name_selectors() {
        v.push(Selector::RdataName(ns));
    }
    v
}

fn filters() -> Vec<(String, TupleFilter)> {
    let base = TupleFilter::default();
    let mut v = vec![("all".to_owned(), base.clone())];
    let types = [
        ("only A", TypeSet::Only(vec![RrType::A])),
        (
            "only CNAME MX",
            TypeSet::Only(vec![RrType::CNAME, RrType::MX]),
        ),
        ("except A", TypeSet::Except(vec![RrType::A])),
        ("only none", TypeSet::Only(vec![])),
        ("except none", TypeSet::Except(vec![])),
    ];
    for (n, t) in types {
        v.push((
            n.into(),
            TupleFilter {
                rrtypes: Some(t),
                ..base.clone()
            },
        ));
    }
    let sens: [(&str, Vec<String>); 5] = [
        ("sensor s1", vec!["s1".into()]),
        ("sensors s1 s2", vec!["s1".into(), "s2".into()]),
        ("sensor evil", vec!["evil'\\sensor\t\"x".into()]),
        ("sensor unknown", vec!["nope".into()]),
        ("sensors none", vec![]),
    ];
    for (n, s) in sens {
        v.push((
            n.into(),
            TupleFilter {
                sensors: Some(s),
                ..base.clone()
            },
        ));
    }
    let m = T0 + 40 * DAY;
    let fences = [
        (
            "first_after",
            TimeFence {
                first_after: Some(m),
                ..TimeFence::default()
            },
        ),
        (
            "first_before",
            TimeFence {
                first_before: Some(m),
                ..TimeFence::default()
            },
        ),
        (
            "last_after",
            TimeFence {
                last_after: Some(m),
                ..TimeFence::default()
            },
        ),
        (
            "last_before",
            TimeFence {
                last_before: Some(m),
                ..TimeFence::default()
            },
        ),
        (
            "all four",
            TimeFence {
                first_after: Some(T0 + 5 * DAY),
                first_before: Some(m),
                last_after: Some(T0 + 20 * DAY),
                last_before: Some(T0 + 70 * DAY),
            },
        ),
    ];
    for (n, f) in fences {
        v.push((
            n.into(),
            TupleFilter {
                fence: f,
                ..base.clone()
            },
        ));
    }
    v.push((
        "A s2 fenced".into(),
        TupleFilter {
            rrtypes: Some(TypeSet::Only(vec![RrType::A, RrType::AAAA])),
            sensors: Some(vec!["s2".into()]),
            fence: TimeFence {
                last_after: Some(m),
                ..TimeFence::default()
            },
        },
    ));
    v
}

fn sorts() -> Vec<Sort> {
    let mut v = vec![Sort::Natural];
    for d in [false, true] {
        v.push(Sort::TimeFirst { descending: d });
        v.push(Sort::TimeLast { descending: d });
        v.push(Sort::Count { descending: d });
        v.push(Sort::Name { descending: d });
    }
    v
}

fn run_suite(
    sqlite: &mut SqliteStore,
    ch: &mut ClickHouseStore,
    tally: &mut Tally,
    sorted_too: bool,
) {
    for sel in selectors() {
        for (fname, filter) in filters() {
            let what = format!("tuples {sel:?} [{fname}]");
            let a = collect_tuples_sqlite(sqlite, &sel, &filter);
            let b = collect_tuples_ch(ch, &sel, &filter);
            compare_stream(
                tally,
                &what,
                a,
                b,
                |r| tuple_key(&sel, r),
                |x, y| ord_t(x).cmp(&ord_t(y)),
            );
            // Sorted pages: every sort, on a subset of the filters (the filters themselves
            // are all checked above).
            if !sorted_too
                || ![
                    "all",
                    "only CNAME MX",
                    "sensors s1 s2",
                    "all four",
                    "A s2 fenced",
                ]
                .contains(&fname.as_str())
            {
                continue;
            }
            for sort in sorts() {
                for (offset, limit) in [(0, 10), (5, 7), (0, 100_000), (3000, 10)] {
                    let what = format!("{what} sort {sort:?} offset {offset} limit {limit}");
                    tally.cases += 1;
                    let a = sqlite
                        .query_tuples(&sel, &filter, sort, offset, limit)
                        .map(|(r, t)| (r.into_iter().map(norm_t).collect::<Vec<_>>(), t));
                    let b = ch
                        .query_tuples(&sel, &filter, sort, offset, limit)
                        .map(|(r, t)| (r.into_iter().map(norm_t).collect::<Vec<_>>(), t));
                    match (a, b) {
                        (Err(_), Err(_)) => {}
                        (Ok((ra, ta)), Ok((rb, tb))) => {
                            tally.rows += ra.len();
                            if ta != tb {
                                tally.fail(format!("{what}: truncated {ta} vs {tb}"));
                            } else if sort == Sort::Natural {
                                let ka: Vec<_> = ra.iter().map(|r| tuple_key(&sel, r)).collect();
                                let kb: Vec<_> = rb.iter().map(|r| tuple_key(&sel, r)).collect();
                                if ra.len() != rb.len()
                                    || (ka != kb && ka.iter().all(Option::is_some))
                                {
                                    tally.fail(format!("{what}: natural page differs"));
                                } else if ra == rb {
                                    tally.exact_order += 1;
                                } else {
                                    tally.key_order_only += 1;
                                }
                            } else if ra != rb {
                                let i = ra.iter().zip(&rb).position(|(x, y)| x != y);
                                tally.fail(format!(
                                    "{what}: {} vs {} rows, first difference at {i:?}: {:?} vs {:?}",
                                    ra.len(),
                                    rb.len(),
                                    i.map(|i| &ra[i]),
                                    i.map(|i| &rb[i])
                                ));
                            } else {
                                tally.exact_order += 1;
                            }
                        }
                        (a, b) => tally.fail(format!(
                            "{what}: sqlite {:?} vs clickhouse {:?}",
                            a.err(),
                            b.err()
                        )),
                    }
                }
            }
        }
    }
    // Clients and negatives: every selector (the ones that do not apply must fail in both).
    let ord_c = |x: &ClientRow, y: &ClientRow| {
        (x.client.as_bytes(), x.qname.as_str(), x.qtype).cmp(&(
            y.client.as_bytes(),
            y.qname.as_str(),
            y.qtype,
        ))
    };
    for sel in selectors() {
        for (fname, filter) in filters() {
            let what = format!("clients {sel:?} [{fname}]");
            let mut a = Vec::new();
            let ra = sqlite
                .for_each_client(&sel, &filter, |r| {
                    a.push(norm_c(r));
                    ControlFlow::Continue(())
                })
                .map(|_| a)
                .map_err(|e| e.to_string());
            let mut b = Vec::new();
            let rb = ch
                .for_each_client(&sel, &filter, |r| {
                    b.push(norm_c(r));
                    ControlFlow::Continue(())
                })
                .map(|_| b)
                .map_err(|e| e.to_string());
            let sel2 = sel.clone();
            compare_stream(
                tally,
                &what,
                ra,
                rb,
                move |r: &ClientRow| match &sel2 {
                    Selector::Name(NameSelector::Substring(_)) => None,
                    Selector::Name(NameSelector::Subdomains(_)) => Some((
                        reverse_labels(r.qname.as_str()).into_bytes(),
                        r.client.as_bytes().to_vec(),
                    )),
                    Selector::Name(_) => Some((
                        r.qname.as_str().as_bytes().to_vec(),
                        r.client.as_bytes().to_vec(),
                    )),
                    _ => Some((r.client.as_bytes().to_vec(), Vec::new())),
                },
                ord_c,
            );
            let what = format!("negatives {sel:?} [{fname}]");
            let mut a = Vec::new();
            let ra = sqlite
                .for_each_negative(&sel, &filter, |r| {
                    a.push(norm_n(r));
                    ControlFlow::Continue(())
                })
                .map(|_| a)
                .map_err(|e| e.to_string());
            let mut b = Vec::new();
            let rb = ch
                .for_each_negative(&sel, &filter, |r| {
                    b.push(norm_n(r));
                    ControlFlow::Continue(())
                })
                .map(|_| b)
                .map_err(|e| e.to_string());
            let sel2 = sel.clone();
            compare_stream(
                tally,
                &what,
                ra,
                rb,
                move |r: &NegativeRow| match &sel2 {
                    Selector::Name(NameSelector::Substring(_)) => None,
                    Selector::Name(NameSelector::Subdomains(_)) => {
                        Some((reverse_labels(r.qname.as_str()), r.qtype.0, r.rcode.0))
                    }
                    _ => Some((r.qname.to_string(), r.qtype.0, r.rcode.0)),
                },
                |x: &NegativeRow, y: &NegativeRow| {
                    (x.qname.as_str(), x.qtype, x.rcode).cmp(&(y.qname.as_str(), y.qtype, y.rcode))
                },
            );
        }
    }
    // Client ids.
    let id_sets: Vec<Vec<ClientId>> = vec![
        vec![ClientId::V4([10, 9, 1, 3])],
        vec![
            ClientId::V4([10, 9, 0, 0]),
            ClientId::V4([10, 9, 2, 19]),
            ClientId::hashed(&[1; 12]),
        ],
        vec![
            ClientId::hashed(&[3; 12]),
            ClientId::V4([10, 9, 1, 3]),
            ClientId::V4([10, 9, 1, 3]),
        ],
        vec![],
    ];
    for ids in id_sets {
        for (fname, filter) in filters() {
            let what = format!("client ids {ids:?} [{fname}]");
            let mut a = Vec::new();
            let ra = sqlite
                .for_each_client_id(&ids, &filter, |r| {
                    a.push(norm_c(r));
                    ControlFlow::Continue(())
                })
                .map(|_| a)
                .map_err(|e| e.to_string());
            let mut b = Vec::new();
            let rb = ch
                .for_each_client_id(&ids, &filter, |r| {
                    b.push(norm_c(r));
                    ControlFlow::Continue(())
                })
                .map(|_| b)
                .map_err(|e| e.to_string());
            compare_stream(
                tally,
                &what,
                ra,
                rb,
                |r: &ClientRow| Some(r.client.as_bytes().to_vec()),
                ord_c,
            );
        }
    }
}

fn check_stats(sqlite: &SqliteStore, ch: &ClickHouseStore) {
    check_stats_with(sqlite, ch, true);
}

/// `sensors`: whether to compare the sensor lists (SQLite keeps a sensor's name after a
/// prune removed all its rows; ClickHouse lists the sensors of the rows it holds).
fn check_stats_with(sqlite: &SqliteStore, ch: &ClickHouseStore, sensors: bool) {
    let a = sqlite.stats().unwrap();
    let b = ch.stats().unwrap();
    assert_eq!(
        (a.tuples, a.negatives, a.clients, a.names),
        (b.tuples, b.negatives, b.clients, b.names),
        "stats counts"
    );
    assert_eq!(
        (a.time_first, a.time_last),
        (b.time_first, b.time_last),
        "stats times"
    );
    let mut ta = a.by_type.clone();
    let mut tb = b.by_type.clone();
    ta.sort();
    tb.sort();
    assert_eq!(ta, tb, "stats by type");
    let mut sa = a.sensors.clone();
    sa.sort();
    if sensors {
        assert_eq!(sa, b.sensors, "stats sensors");
    }
    assert_eq!(
        b.schema_version,
        i64::from(dnsrecall_clickhouse::SCHEMA_VERSION)
    );
}

/// The whole-store passes of hunts and reports.
fn check_scans(sqlite: &SqliteStore, ch: &ClickHouseStore) {
    let mut a = Vec::new();
    sqlite
        .for_each_name(|n| {
            a.push(n.to_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
    let mut b = Vec::new();
    ch.for_each_name(|n| {
        b.push(n.to_owned());
        ControlFlow::Continue(())
    })
    .unwrap();
    a.sort();
    assert_eq!(
        a, b,
        "for_each_name (SQLite in id order, ClickHouse in name order)"
    );
    let keep_all = |_: &str| true;
    let no_com = |n: &str| !n.ends_with(".com");
    for since in [None, Some(T0), Some(T0 + 40 * DAY), Some(T0 + 400 * DAY)] {
        for limit in [0, 1, 10, 100_000] {
            assert_eq!(
                sqlite.top_names(since, limit, keep_all).unwrap(),
                ch.top_names(since, limit, keep_all).unwrap(),
                "top_names {since:?} {limit}"
            );
            assert_eq!(
                sqlite.top_names(since, limit, no_com).unwrap(),
                ch.top_names(since, limit, no_com).unwrap(),
                "top_names {since:?} {limit} without .com"
            );
            let s = since.unwrap_or(0);
            assert_eq!(
                sqlite.new_names(s, limit, keep_all).unwrap(),
                ch.new_names(s, limit, keep_all).unwrap(),
                "new_names {s} {limit}"
            );
            assert_eq!(
                sqlite.new_names(s, limit, no_com).unwrap(),
                ch.new_names(s, limit, no_com).unwrap(),
                "new_names {s} {limit} without .com"
            );
        }
    }
}

fn report(name: &str, tally: &Tally) {
    println!(
        "{name}: {} cases, {} rows compared; {} identical in order, {} identical on the order key \
         (ties ordered differently), {} failures",
        tally.cases,
        tally.rows,
        tally.exact_order,
        tally.key_order_only,
        tally.failures.len()
    );
    assert!(
        tally.failures.is_empty(),
        "{name}: differences:\n{}",
        tally.failures.join("\n")
    );
}

#[test]
fn generated_data_answers_the_same() {
    let server = common::Server::start();
    let batches = generate(0x5eed_1234_abcd_0001, 6, 600, 3);
    let tuples: usize = batches.iter().map(|b| b.tuples.len()).sum();
    assert!(tuples > 3000, "{tuples}");
    let (mut sqlite, mut ch, _dir) = both(&server, "parity", &batches);
    check_stats(&sqlite, &ch);
    check_scans(&sqlite, &ch);
    let mut tally = Tally::default();
    run_suite(&mut sqlite, &mut ch, &mut tally, true);
    report("generated", &tally);
    // Checkpoints: the last batch's, in both.
    let source = &batches[0].checkpoints[0].source;
    let a = sqlite.checkpoint(source).unwrap();
    let b = ch.checkpoint(source).unwrap();
    assert_eq!(a, b);
    assert_eq!(b.unwrap().offset, 4096 * 6);
    assert_eq!(ch.checkpoint("/absent").unwrap(), None);
}

#[test]
fn passivedns_log_answers_the_same() {
    use dnsrecall_ingest::{Aggregator, ClientPolicy};
    use dnsrecall_model::ClientMode;
    use dnsrecall_sources::{Format, LineContext, LineReader, LineState, parse_line_with};

    let server = common::Server::start();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sample-passivedns.json.gz");
    let mut reader = LineReader::new(dnsrecall_sources::open_file(&path).unwrap(), 0, 0);
    let mut agg = Aggregator::new(ClientPolicy::without_key(ClientMode::Store));
    let mut state = LineState::default();
    let mut batches = Vec::new();
    let mut records = Vec::new();
    let mut lines = 0u64;
    while let Some(line) = reader.next_line(true).unwrap() {
        let dnsrecall_sources::Line::Ok(bytes) = line else {
            continue;
        };
        lines += 1;
        // Two sensors, alternating in blocks, so keys merge across sensors.
        let ctx = LineContext {
            sensor_id: Some(
                if (lines / 700).is_multiple_of(2) {
                    "east"
                } else {
                    "west"
                }
                .into(),
            ),
        };
        records.clear();
        if parse_line_with(
            Format::PassivednsJson,
            bytes,
            &ctx,
            &mut state,
            &mut records,
        )
        .is_ok()
        {
            for r in records.drain(..) {
                agg.record(r);
            }
        }
        if agg.len() >= 400 {
            let mut b = agg.take();
            b.checkpoints.push(Checkpoint {
                source: path.display().to_string(),
                dev: 1,
                ino: 2,
                fingerprint: vec![1, 2, 3],
                offset: reader.offset(),
                line: reader.line_number(),
            });
            batches.push(b);
        }
    }
    batches.push(agg.take());
    assert!(
        lines > 5000 && batches.len() > 5,
        "{lines} lines, {} batches",
        batches.len()
    );
    let (mut sqlite, mut ch, _dir) = both(&server, "parity_log", &batches);
    check_stats(&sqlite, &ch);
    check_scans(&sqlite, &ch);
    let everything = Selector::Name(NameSelector::Subdomains(Name::root()));
    let all = collect_tuples_ch(&mut ch, &everything, &TupleFilter::default()).unwrap();
    assert!(all.len() > 1000, "{} tuples", all.len());
    let mut tally = Tally::default();
    run_suite(&mut sqlite, &mut ch, &mut tally, false);
    for sort in sorts() {
        for (offset, limit) in [(0, 25), (100, 50), (0, 1_000_000)] {
            tally.cases += 1;
            let a = sqlite
                .query_tuples(&everything, &TupleFilter::default(), sort, offset, limit)
                .unwrap();
            let b = ch
                .query_tuples(&everything, &TupleFilter::default(), sort, offset, limit)
                .unwrap();
            let a = (a.0.into_iter().map(norm_t).collect::<Vec<_>>(), a.1);
            let b = (b.0.into_iter().map(norm_t).collect::<Vec<_>>(), b.1);
            if sort == Sort::Natural {
                let ka: Vec<_> = a.0.iter().map(|r| tuple_key(&everything, r)).collect();
                let kb: Vec<_> = b.0.iter().map(|r| tuple_key(&everything, r)).collect();
                if ka != kb || a.1 != b.1 {
                    tally.fail(format!("log natural {offset} {limit}"));
                }
            } else if a != b {
                tally.fail(format!("log {sort:?} {offset} {limit}"));
            }
        }
    }
    report("passivedns log", &tally);
    let src = path.display().to_string();
    assert_eq!(
        sqlite.checkpoint(&src).unwrap(),
        ch.checkpoint(&src).unwrap()
    );
}

/// The parts of a batch in the store, without their months.
fn part_names(ch: &ClickHouseStore, id: &BatchId) -> Vec<String> {
    let mut names: Vec<String> = ch
        .batch_parts_in(id)
        .unwrap()
        .iter()
        .map(|p| p.split('/').next().unwrap().to_owned())
        .collect();
    names.dedup();
    names
}

#[test]
fn retried_batch_counts_once() {
    let server = common::Server::start();
    let batches = generate(7, 2, 300, 1);
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = SqliteStore::open_dir(dir.path()).unwrap();
    let mut ch = server.store("retry");
    for b in &batches {
        sqlite.write_batch(b).unwrap();
        let id = BatchId::new().unwrap();
        ch.write_batch_with_id(&id, b).unwrap();
        // The answer was "lost": the same batch again, twice.
        let again = ch.write_batch_with_id(&id, b).unwrap();
        assert_eq!(
            again.tuples_new + again.negatives_new + again.clients_new,
            0
        );
        ch.write_batch_with_id(&id, b).unwrap();
        assert_eq!(
            part_names(&ch, &id),
            ["answers", "client_index", "clients", "negatives", "tuples"]
        );
    }
    check_stats(&sqlite, &ch);
    let mut tally = Tally::default();
    let sel = Selector::Name(NameSelector::Subdomains(Name::root()));
    let f = TupleFilter::default();
    let a = collect_tuples_sqlite(&mut sqlite, &sel, &f);
    let b = collect_tuples_ch(&mut ch, &sel, &f);
    compare_stream(
        &mut tally,
        "everything",
        a,
        b,
        |r| tuple_key(&sel, r),
        |x, y| ord_t(x).cmp(&ord_t(y)),
    );
    report("retry", &tally);
}

#[test]
fn prune_by_month_matches_sqlite_on_month_aligned_data() {
    let server = common::Server::start();
    // Every key's sightings lie in one month (three months of keys, disjoint by sensor
    // and month), so dropping the partitions before March equals SQLite's row-wise prune.
    // (Where a key has sightings on both sides of the cutoff month, the two differ: see
    // the crate's admin module.)
    let month_starts = [T0, 1_548_979_200, 1_551_398_400]; // Jan, Feb, Mar 2019
    let fit = |start: i64, v: &mut TupleValue| {
        let first = start + (v.time_first - T0).rem_euclid(27 * DAY);
        let span = (v.time_last - v.time_first).clamp(0, DAY);
        (v.time_first, v.time_last) = (first, first + span);
    };
    fn merge_into<K: std::hash::Hash + Eq>(rows: Vec<(K, TupleValue)>) -> Vec<(K, TupleValue)> {
        let mut m: HashMap<K, TupleValue> = HashMap::new();
        for (k, v) in rows {
            m.entry(k).and_modify(|e| e.merge(&v)).or_insert(v);
        }
        m.into_iter().collect()
    }
    let mut batches = generate(99, 3, 400, 1);
    for (i, b) in batches.iter_mut().enumerate() {
        let sensor: Arc<str> = format!("m{i}").into();
        for (k, v) in &mut b.tuples {
            k.sensor_id = Some(sensor.clone());
            fit(month_starts[i], v);
        }
        for (k, v) in &mut b.negatives {
            k.sensor_id = Some(sensor.clone());
            fit(month_starts[i], v);
        }
        for (k, v) in &mut b.clients {
            k.sensor_id = Some(sensor.clone());
            fit(month_starts[i], v);
        }
        b.tuples = merge_into(std::mem::take(&mut b.tuples));
        b.negatives = merge_into(std::mem::take(&mut b.negatives));
        b.clients = merge_into(std::mem::take(&mut b.clients));
    }
    let (mut sqlite, mut ch, _dir) = both(&server, "prune", &batches);
    check_stats(&sqlite, &ch);
    let march = 1_551_398_400; // 2019-03-01
    let feb = 1_548_979_200; // 2019-02-01
    let a = sqlite.prune(Some(march), Some(feb)).unwrap();
    let b = ch.prune(Some(march), Some(feb)).unwrap();
    assert_eq!(
        (a.tuples, a.negatives, a.clients),
        (b.tuples, b.negatives, b.clients)
    );
    assert!(a.tuples > 0 && a.clients > 0);
    check_stats_with(&sqlite, &ch, false);
    let mut tally = Tally::default();
    run_suite(&mut sqlite, &mut ch, &mut tally, false);
    report("after prune", &tally);
}

#[test]
fn schema_is_versioned() {
    let server = common::Server::start();
    let ch = server.store("versions");
    assert_eq!(
        ch.schema_version().unwrap(),
        dnsrecall_clickhouse::SCHEMA_VERSION
    );
    ch.check().unwrap();
    // Migrating again is a no-op.
    assert_eq!(ch.migrate().unwrap(), dnsrecall_clickhouse::SCHEMA_VERSION);
    assert!(ch.server_version().unwrap().starts_with(char::is_numeric));
    let other = dnsrecall_clickhouse::ClickHouseStore::connect(
        &server.url("fresh"),
        std::time::Duration::from_secs(5),
    );
    assert!(
        other.check().is_err(),
        "a database without schema is not usable"
    );
    // A store of version 1 (receipts written by views into `receipts`) is upgraded:
    // its receipt views go, its data stays readable.
    server.sql("CREATE DATABASE old");
    for st in ClickHouseStore::schema_statements_of(1, "old") {
        server.sql(&st);
    }
    server.sql("INSERT INTO old.schema_migrations (version, applied) VALUES (1, now())");
    let mut old = ClickHouseStore::connect(&server.url("old"), std::time::Duration::from_secs(5));
    assert!(matches!(
        old.check(),
        Err(dnsrecall_clickhouse::Error::TooOld { found: 1, .. })
    ));
    let views = |db: &str| {
        server
            .sql(&format!(
                "SELECT count() FROM system.tables WHERE database = '{db}' \
                 AND name LIKE '%receipts_mv'"
            ))
            .trim()
            .to_owned()
    };
    assert_eq!(views("old"), "5");
    assert_eq!(old.migrate().unwrap(), dnsrecall_clickhouse::SCHEMA_VERSION);
    assert_eq!(views("old"), "0");
    old.check().unwrap();
    let b = &generate(3, 1, 50, 1)[0];
    let id = BatchId::new().unwrap();
    old.write_batch_with_id(&id, b).unwrap();
    old.write_batch_with_id(&id, b).unwrap();
    assert_eq!(
        old.stats().unwrap().tuples,
        u64::try_from(b.tuples.len()).unwrap()
    );
    // A store written by a newer build is refused, by check and by migrate.
    server.sql("INSERT INTO versions.schema_migrations (version, applied) VALUES (99, now())");
    assert!(matches!(
        ch.check(),
        Err(dnsrecall_clickhouse::Error::TooNew { found: 99, .. })
    ));
    assert!(matches!(
        ch.migrate(),
        Err(dnsrecall_clickhouse::Error::TooNew { found: 99, .. })
    ));
}

/// A part refused by the server in the middle of a batch (its data table is gone for a
/// moment: the INSERT fails inside its data view) leaves no receipt; the retry with the
/// same id writes that part and the ones after it, and skips the ones before.
#[test]
fn refused_part_is_retried_once() {
    let server = common::Server::start();
    let batches = generate(11, 3, 300, 1);
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = SqliteStore::open_dir(dir.path()).unwrap();
    let mut ch = server.store("refused");
    for (i, b) in batches.iter().enumerate() {
        sqlite.write_batch(b).unwrap();
        let id = BatchId::new().unwrap();
        if i == 1 {
            server.sql("DETACH TABLE refused.tuples_by_answer");
            let err = ch.write_new_batch(&id, b).unwrap_err();
            assert!(err.to_string().contains("tuples_by_answer"), "{err}");
            server.sql("ATTACH TABLE refused.tuples_by_answer");
            assert_eq!(part_names(&ch, &id), ["tuples"]);
        }
        ch.write_batch_with_id(&id, b).unwrap();
        assert_eq!(
            part_names(&ch, &id),
            ["answers", "client_index", "clients", "negatives", "tuples"]
        );
    }
    check_stats(&sqlite, &ch);
    let mut tally = Tally::default();
    run_suite(&mut sqlite, &mut ch, &mut tally, false);
    report("refused part", &tally);
}
