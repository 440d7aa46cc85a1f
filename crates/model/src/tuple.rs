use crate::{ClientId, Micros, Name, Observation, Rcode, Rdata, RrType, SensorId, micros_to_secs};

/// The identity of a tuple: `(rrname, rrtype, rdata)` as seen by one sensor.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TupleKey {
    pub sensor_id: SensorId,
    pub rrname: Name,
    pub rrtype: RrType,
    pub rdata: Rdata,
}

/// What is known about a key: first and last sighting (seconds), how many, and a TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TupleValue {
    pub time_first: i64,
    pub time_last: i64,
    pub count: u64,
    /// The largest TTL seen (max keeps the merge order-independent).
    pub ttl: Option<u32>,
}

impl TupleValue {
    /// One sighting (or `count`) at time `t`.
    #[must_use]
    pub fn at(t: Micros, count: u64, ttl: Option<u32>) -> Self {
        let s = micros_to_secs(t);
        Self {
            time_first: s,
            time_last: s,
            count,
            ttl,
        }
    }

    /// Folds `other` in: min `time_first`, max `time_last`, summed `count`, max `ttl`.
    /// Commutative and associative (the count saturates at `u64::MAX` rather than wrap).
    pub fn merge(&mut self, other: &Self) {
        self.time_first = self.time_first.min(other.time_first);
        self.time_last = self.time_last.max(other.time_last);
        self.count = self.count.saturating_add(other.count);
        self.ttl = self.ttl.max(other.ttl);
    }

    #[must_use]
    pub fn merged(mut self, other: &Self) -> Self {
        self.merge(other);
        self
    }
}

/// A key with its value: the COF record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuple {
    pub key: TupleKey,
    pub value: TupleValue,
}

impl Tuple {
    #[must_use]
    pub fn from_observation(o: &Observation) -> Self {
        Self {
            key: TupleKey {
                sensor_id: o.sensor_id.clone(),
                rrname: o.rrname.clone(),
                rrtype: o.rrtype,
                rdata: o.rdata.clone(),
            },
            value: TupleValue::at(o.time, o.count, o.ttl),
        }
    }
}

/// Identity of a negative answer: `(qname, qtype, rcode)` per sensor.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NegativeKey {
    pub sensor_id: SensorId,
    pub qname: Name,
    pub qtype: RrType,
    pub rcode: Rcode,
}

/// Identity of a client sighting: who asked for `(qname, qtype)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientKey {
    pub sensor_id: SensorId,
    pub client: ClientId,
    pub qname: Name,
    pub qtype: RrType,
}

/// A client sighting with its first/last/count (same merge as tuples; ttl unused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSighting {
    pub key: ClientKey,
    pub value: TupleValue,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn value() -> impl Strategy<Value = TupleValue> {
        (
            -10_000i64..10_000,
            0i64..10_000,
            1u64..1000,
            proptest::option::of(0u32..100),
        )
            .prop_map(|(first, span, count, ttl)| TupleValue {
                time_first: first,
                time_last: first + span,
                count,
                ttl,
            })
    }

    fn fold(batches: &[Vec<(u8, TupleValue)>]) -> BTreeMap<u8, TupleValue> {
        // Aggregate each batch on its own, then merge the batch results: what a flushing
        // aggregator followed by store upserts does.
        let mut store: BTreeMap<u8, TupleValue> = BTreeMap::new();
        for batch in batches {
            let mut agg: BTreeMap<u8, TupleValue> = BTreeMap::new();
            for (k, v) in batch {
                agg.entry(*k).and_modify(|e| e.merge(v)).or_insert(*v);
            }
            for (k, v) in agg {
                store.entry(k).and_modify(|e| e.merge(&v)).or_insert(v);
            }
        }
        store
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in value(), b in value()) {
            prop_assert_eq!(a.merged(&b), b.merged(&a));
        }

        #[test]
        fn merge_is_associative(a in value(), b in value(), c in value()) {
            prop_assert_eq!(a.merged(&b).merged(&c), a.merged(&b.merged(&c)));
        }

        #[test]
        fn order_and_batching_do_not_matter(
            obs in proptest::collection::vec((0u8..8, value()), 1..60),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
            seed in any::<u64>(),
        ) {
            let whole = fold(std::slice::from_ref(&obs));
            // Shuffle deterministically from the seed, then cut into batches.
            let mut shuffled = obs.clone();
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(shuffled.len())).collect();
            points.sort_unstable();
            let mut batches = Vec::new();
            let mut start = 0;
            for p in points { batches.push(shuffled[start..p].to_vec()); start = p; }
            batches.push(shuffled[start..].to_vec());
            let batched = fold(&batches);
            prop_assert_eq!(&whole, &batched);
            let total: u64 = obs.iter().map(|(_, v)| v.count).sum();
            prop_assert_eq!(batched.values().map(|v| v.count).sum::<u64>(), total);
        }
    }
}
