//! Retro-hunts: which clients resolved something in the feeds, when, how often.
//!
//! 1. Find the stored answers that match: per indicator with index range scans (a domain
//!    and its subdomains as owners and as names inside answers; an address range), or,
//!    with many domain indicators, one pass over every stored name through the matcher.
//! 2. Every matching answer is checked by the matcher itself (so both paths agree), and
//!    dropped when its owner is in a suppression feed.
//! 3. For each matching answer, the clients that asked for its owner name and type; with
//!    no client sightings (clients off) the answer itself is the hit.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use dnsrecall_model::{ClientId, Name, RrType};
use dnsrecall_store::{
    DynStore, NameSelector, QueryError, Selector, TimeFence, TupleFilter, TupleRow,
};

use crate::ioc::Target;
use crate::matcher::Matchers;
use crate::matcher::{IocId, Via};

/// Above this many domain indicators a hunt scans every stored name instead of running
/// range scans per indicator.
pub const SCAN_THRESHOLD: usize = 20_000;

#[derive(Debug, Clone, Default)]
pub struct HuntOptions {
    /// Only sightings last seen at or after this time.
    pub since: Option<i64>,
    /// Force the name scan (tests) or the per-indicator path.
    pub scan: Option<bool>,
}

/// One hit: a client (when known) got this answer, which matched this indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub client: Option<ClientId>,
    pub query: Name,
    pub qtype: RrType,
    /// The answer that matched (rdata).
    pub answer: String,
    pub time_first: i64,
    pub time_last: i64,
    pub count: u64,
    pub ioc: IocId,
    pub via: Via,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HuntStats {
    pub answers_checked: u64,
    pub answers_matched: u64,
    pub suppressed: u64,
    pub hits: u64,
    pub scanned_names: bool,
}

type AnswerKey = (Name, RrType, String);
/// A matching answer and how it matched.
type Matched = (AnswerKey, TupleRow, Vec<(IocId, Via)>);

/// Runs a hunt; hits come out ordered by query name, type, answer, client.
///
/// # Errors
/// When the store fails.
pub fn hunt(
    store: &mut DynStore,
    m: &Matchers,
    opts: &HuntOptions,
    mut emit: impl FnMut(Hit),
) -> Result<HuntStats, QueryError> {
    let mut stats = HuntStats::default();
    let fence = TimeFence {
        last_after: opts.since,
        ..TimeFence::default()
    };
    let filter = TupleFilter {
        fence,
        ..TupleFilter::default()
    };
    // Matching answers: (owner, type, rdata) -> (first, last, count, hits).
    let mut matched: BTreeMap<AnswerKey, (TupleRow, Vec<(IocId, Via)>)> = BTreeMap::new();
    let mut seen: BTreeSet<AnswerKey> = BTreeSet::new();
    let mut check = |row: TupleRow, stats: &mut HuntStats| {
        let key = (row.rrname.clone(), row.rrtype, row.rdata.clone());
        if !seen.insert(key.clone()) {
            return;
        }
        stats.answers_checked += 1;
        let mut hits = Vec::new();
        m.watch
            .match_answer(row.rrname.as_str(), row.rrtype, &row.rdata, &mut hits);
        if hits.is_empty() {
            return;
        }
        if m.quiet(row.rrname.as_str()) {
            stats.suppressed += 1;
            return;
        }
        hits.sort_unstable_by_key(|(id, via)| (*id, *via as u8));
        hits.dedup();
        stats.answers_matched += 1;
        matched.insert(key, (row, hits));
    };

    let domain_iocs: Vec<(Name, bool)> = m
        .watch
        .entries()
        .iter()
        .filter_map(|e| match &e.ioc.target {
            Target::Domain { name, exact } | Target::NsName { name, exact } => {
                Some((name.clone(), *exact))
            }
            _ => None,
        })
        .collect();
    let scan = opts.scan.unwrap_or(domain_iocs.len() > SCAN_THRESHOLD);
    stats.scanned_names = scan;
    let mut rows = Vec::new();
    let run = |store: &mut DynStore, sel: &Selector, rows: &mut Vec<TupleRow>| {
        store.for_each_tuple(sel, &filter, &mut |r| {
            rows.push(r);
            ControlFlow::Continue(())
        })
    };
    if scan {
        let mut candidates = Vec::new();
        let mut ids = Vec::new();
        store.for_each_name(&mut |name| {
            ids.clear();
            m.watch.match_name(name, &mut ids);
            m.watch.match_ns_name(name, &mut ids);
            if !ids.is_empty() {
                candidates.push(name.to_owned());
            }
            ControlFlow::Continue(())
        })?;
        for c in candidates {
            let Ok(name) = Name::new(&c) else { continue };
            for sel in [
                Selector::Name(NameSelector::Exact(name.clone())),
                Selector::RdataName(NameSelector::Exact(name)),
            ] {
                run(store, &sel, &mut rows)?;
                for r in rows.drain(..) {
                    check(r, &mut stats);
                }
            }
        }
    } else {
        for (name, exact) in &domain_iocs {
            let mut sels = vec![
                Selector::Name(NameSelector::Exact(name.clone())),
                Selector::RdataName(NameSelector::Exact(name.clone())),
            ];
            if !exact {
                sels.push(Selector::Name(NameSelector::Subdomains(name.clone())));
                sels.push(Selector::RdataName(NameSelector::Subdomains(name.clone())));
            }
            for sel in &sels {
                run(store, sel, &mut rows)?;
                for r in rows.drain(..) {
                    check(r, &mut stats);
                }
            }
        }
    }
    for e in m.watch.entries() {
        if let Target::Addresses { lo, hi } | Target::NsAddresses { lo, hi } = e.ioc.target {
            run(store, &Selector::Address { lo, hi }, &mut rows)?;
            for r in rows.drain(..) {
                check(r, &mut stats);
            }
        }
    }

    // Clients per owner name, once per name.
    let mut by_owner: BTreeMap<Name, Vec<Matched>> = BTreeMap::new();
    for (k, (row, hits)) in matched {
        by_owner
            .entry(k.0.clone())
            .or_default()
            .push((k, row, hits));
    }
    for (owner, answers) in by_owner {
        let mut clients = Vec::new();
        store.for_each_client(
            &Selector::Name(NameSelector::Exact(owner.clone())),
            &filter,
            &mut |c| {
                clients.push(c);
                ControlFlow::Continue(())
            },
        )?;
        clients.sort_by(|a, b| a.client.as_bytes().cmp(b.client.as_bytes()));
        for (_, row, hits) in answers {
            let askers: Vec<_> = clients.iter().filter(|c| c.qtype == row.rrtype).collect();
            for (ioc, via) in hits {
                if askers.is_empty() {
                    stats.hits += 1;
                    emit(Hit {
                        client: None,
                        query: owner.clone(),
                        qtype: row.rrtype,
                        answer: row.rdata.clone(),
                        time_first: row.time_first,
                        time_last: row.time_last,
                        count: row.count,
                        ioc,
                        via,
                    });
                }
                for c in &askers {
                    stats.hits += 1;
                    emit(Hit {
                        client: Some(c.client),
                        query: owner.clone(),
                        qtype: c.qtype,
                        answer: row.rdata.clone(),
                        time_first: c.time_first,
                        time_last: c.time_last,
                        count: c.count,
                        ioc,
                        via,
                    });
                }
            }
        }
    }
    Ok(stats)
}

/// How a hit matched, in words.
#[must_use]
pub fn via_name(v: Via) -> &'static str {
    match v {
        Via::QueryName => "query",
        Via::RdataName => "answer name",
        Via::Address => "address",
        Via::NsName => "ns name",
        Via::NsAddress => "ns address",
    }
}

/// A hit as JSON (`hunt --format json`, the API): the sighting and the indicator.
#[must_use]
pub fn hit_json(m: &Matchers, h: &Hit, tf: &dnsrecall_query::TimeFormat) -> serde_json::Value {
    let e = m.watch.entry(h.ioc);
    serde_json::json!({
        "client": h.client.map(|c| c.to_string()),
        "query": h.query.as_str(),
        "qtype": h.qtype.to_string(),
        "answer": h.answer,
        "time_first": h.time_first,
        "time_last": h.time_last,
        "first_seen": tf.format(h.time_first),
        "last_seen": tf.format(h.time_last),
        "count": h.count,
        "ioc": e.ioc.meta.original,
        "via": via_name(h.via),
        "feed": &*e.feed,
        "event": e.ioc.meta.event,
        "event_info": e.ioc.meta.event_info,
        "category": e.ioc.meta.category,
    })
}
