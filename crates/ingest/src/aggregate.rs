use std::collections::HashMap;

use dnsrecall_model::{ClientKey, NegativeKey, Tuple, TupleKey, TupleValue};
use dnsrecall_sources::Record;
use dnsrecall_store::Batch;

use crate::ClientPolicy;

/// Folds records into tuples, negative answers and client sightings. Counts are exact:
/// nothing is sampled or dropped; the caller flushes ([`Aggregator::take`]) when
/// [`Aggregator::len`] reaches its bound, which is what keeps memory bounded.
#[derive(Debug)]
pub struct Aggregator {
    tuples: HashMap<TupleKey, TupleValue>,
    negatives: HashMap<NegativeKey, TupleValue>,
    clients: HashMap<ClientKey, TupleValue>,
    policy: ClientPolicy,
    /// Live matching and exclusion ([`crate::watch`]).
    watch: Option<Box<dyn crate::watch::Watch>>,
    /// Records folded in since creation.
    pub records: u64,
    /// Records kept out of the store by an exclusion list.
    pub excluded: u64,
}

fn fold<K: std::hash::Hash + Eq>(map: &mut HashMap<K, TupleValue>, k: K, v: TupleValue) {
    map.entry(k).and_modify(|e| e.merge(&v)).or_insert(v);
}

impl Aggregator {
    #[must_use]
    pub fn new(policy: ClientPolicy) -> Self {
        Self {
            tuples: HashMap::new(),
            negatives: HashMap::new(),
            clients: HashMap::new(),
            policy,
            watch: crate::watch::make(),
            records: 0,
            excluded: 0,
        }
    }

    /// Folds one record in.
    pub fn record(&mut self, rec: Record) {
        self.records += 1;
        if let Some(w) = self.watch.as_mut()
            && !w.observe(&rec)
        {
            self.excluded += 1;
            return;
        }
        match rec {
            Record::Answer(o) => {
                let value = TupleValue::at(o.time, o.count, o.ttl);
                if let Some(client) = o.client.and_then(|ip| self.policy.apply(ip)) {
                    let key = ClientKey {
                        sensor_id: o.sensor_id.clone(),
                        client,
                        qname: o.rrname.clone(),
                        qtype: o.rrtype,
                    };
                    fold(&mut self.clients, key, TupleValue { ttl: None, ..value });
                }
                let key = TupleKey {
                    sensor_id: o.sensor_id,
                    rrname: o.rrname,
                    rrtype: o.rrtype,
                    rdata: o.rdata,
                };
                fold(&mut self.tuples, key, value);
            }
            Record::Negative(n) => {
                let value = TupleValue::at(n.time, n.count, None);
                if let Some(client) = n.client.and_then(|ip| self.policy.apply(ip)) {
                    let key = ClientKey {
                        sensor_id: n.sensor_id.clone(),
                        client,
                        qname: n.qname.clone(),
                        qtype: n.qtype,
                    };
                    fold(&mut self.clients, key, value);
                }
                let key = NegativeKey {
                    sensor_id: n.sensor_id,
                    qname: n.qname,
                    qtype: n.qtype,
                    rcode: n.rcode,
                };
                fold(&mut self.negatives, key, value);
            }
            Record::Tuple(Tuple { key, value }) => fold(&mut self.tuples, key, value),
        }
    }

    /// Entries held (tuples, negative answers and client sightings).
    #[must_use]
    pub fn len(&self) -> usize {
        self.tuples.len() + self.negatives.len() + self.clients.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands everything over as a batch (without checkpoints) and starts empty.
    pub fn take(&mut self) -> Batch {
        Batch {
            tuples: self.tuples.drain().collect(),
            negatives: self.negatives.drain().collect(),
            clients: self.clients.drain().collect(),
            checkpoints: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsrecall_model::{ClientMode, Name, Observation, Rdata, RrType};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn obs(i: u8, t: i64, count: u64) -> Record {
        Record::Answer(Observation {
            time: t * 1_000_000,
            sensor_id: None,
            client: Some(format!("10.0.0.{}", i % 3).parse().unwrap()),
            server: None,
            rrname: Name::new(&format!("n{}.example", i % 5)).unwrap(),
            rrtype: RrType::A,
            class: 1,
            rdata: Rdata::new(RrType::A, &format!("192.0.2.{}", i % 4)).unwrap(),
            ttl: Some(u32::from(i)),
            count,
        })
    }

    type Snapshot = (
        BTreeMap<String, (i64, i64, u64)>,
        BTreeMap<String, (i64, i64, u64)>,
    );

    fn run(records: &[(u8, i64, u64)], flush_every: usize) -> Snapshot {
        let mut agg = Aggregator::new(ClientPolicy::without_key(ClientMode::Store));
        let mut tuples = BTreeMap::new();
        let mut clients = BTreeMap::new();
        let mut drain = |agg: &mut Aggregator| {
            let b = agg.take();
            for (k, v) in b.tuples {
                let e = tuples
                    .entry(format!("{} {}", k.rrname, k.rdata))
                    .or_insert((i64::MAX, i64::MIN, 0));
                *e = (e.0.min(v.time_first), e.1.max(v.time_last), e.2 + v.count);
            }
            for (k, v) in b.clients {
                let e = clients
                    .entry(format!("{} {}", k.client, k.qname))
                    .or_insert((i64::MAX, i64::MIN, 0));
                *e = (e.0.min(v.time_first), e.1.max(v.time_last), e.2 + v.count);
            }
        };
        for (n, &(i, t, c)) in records.iter().enumerate() {
            agg.record(obs(i, t, c));
            if (n + 1) % flush_every == 0 {
                drain(&mut agg);
            }
        }
        drain(&mut agg);
        (tuples, clients)
    }

    proptest! {
        #[test]
        fn flush_points_and_order_do_not_change_results(
            records in proptest::collection::vec((any::<u8>(), 0i64..1000, 1u64..5), 1..200),
            flush_every in 1usize..50,
        ) {
            let whole = run(&records, usize::MAX);
            prop_assert_eq!(&run(&records, flush_every), &whole);
            let mut reversed = records.clone();
            reversed.reverse();
            prop_assert_eq!(&run(&reversed, flush_every), &whole);
            let total: u64 = records.iter().map(|r| r.2).sum();
            prop_assert_eq!(whole.0.values().map(|v| v.2).sum::<u64>(), total);
            prop_assert_eq!(whole.1.values().map(|v| v.2).sum::<u64>(), total);
        }
    }
}
