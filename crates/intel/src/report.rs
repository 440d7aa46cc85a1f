//! Reports over a window: the clients with the most hits per feed, the most-hit
//! indicators, the most asked names, and names first seen inside the window. The CLI
//! prints them as tables, the web UI draws them as bar charts.

use std::collections::{BTreeMap, BTreeSet};

use dnsrecall_query::TimeFormat;
use dnsrecall_store::{DynStore, QueryError};
use serde_json::{Value, json};

use crate::hunt::{HuntOptions, hunt};
use crate::matcher::Matchers;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TopClients,
    TopIocs,
    TopNames,
    NewDomains,
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "top-clients" => Ok(Self::TopClients),
            "top-iocs" => Ok(Self::TopIocs),
            "top-names" => Ok(Self::TopNames),
            "new-domains" => Ok(Self::NewDomains),
            _ => Err(format!(
                "{s:?}: expected top-clients, top-iocs, top-names or new-domains"
            )),
        }
    }
}

/// A report: column names and rows of values in that order. The first column is the
/// label, the third (`hits` or `count`) the measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

impl Report {
    /// Rows as objects keyed by column name.
    #[must_use]
    pub fn objects(&self) -> Vec<Value> {
        self.rows
            .iter()
            .map(|r| {
                Value::Object(
                    self.headers
                        .iter()
                        .zip(r)
                        .map(|(h, v)| ((*h).to_owned(), v.clone()))
                        .collect(),
                )
            })
            .collect()
    }
}

type Tally = (u64, BTreeSet<String>, i64);

/// Computes a report. Hit reports use the watched feeds of `m`; name reports leave out
/// what its suppression feeds match.
///
/// # Errors
/// When the store fails.
pub fn report(
    store: &mut DynStore,
    m: &Matchers,
    kind: Kind,
    since: Option<i64>,
    limit: usize,
    tf: &TimeFormat,
) -> Result<Report, QueryError> {
    match kind {
        Kind::TopClients | Kind::TopIocs => {
            let mut hits = Vec::new();
            if !m.watch.is_empty() {
                hunt(store, m, &HuntOptions { since, scan: None }, |h| {
                    hits.push(h)
                })?;
            }
            let mut agg: BTreeMap<(String, String), Tally> = BTreeMap::new();
            for h in &hits {
                let e = m.watch.entry(h.ioc);
                let client = h.client.map_or("-".into(), |c| c.to_string());
                let (key, member) = if kind == Kind::TopClients {
                    ((e.feed.to_string(), client), e.ioc.meta.original.clone())
                } else {
                    ((e.ioc.meta.original.clone(), e.feed.to_string()), client)
                };
                let a = agg.entry(key).or_default();
                a.0 += h.count;
                a.1.insert(member);
                a.2 = a.2.max(h.time_last);
            }
            let mut v: Vec<_> = agg.into_iter().collect();
            v.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
            let rows = v
                .into_iter()
                .take(limit)
                .map(|((a, b), (n, set, last))| {
                    if kind == Kind::TopClients {
                        vec![
                            json!(b),
                            json!(a),
                            json!(n),
                            json!(set.len()),
                            json!(tf.format(last)),
                        ]
                    } else {
                        vec![
                            json!(a),
                            json!(b),
                            json!(n),
                            json!(set.len()),
                            json!(tf.format(last)),
                        ]
                    }
                })
                .collect();
            let headers = if kind == Kind::TopClients {
                vec!["client", "feed", "hits", "indicators", "last_seen"]
            } else {
                vec!["ioc", "feed", "hits", "clients", "last_seen"]
            };
            Ok(Report { headers, rows })
        }
        Kind::TopNames | Kind::NewDomains => {
            let mut ids = Vec::new();
            let mut keep = |name: &str| {
                ids.clear();
                m.suppress.match_name(name, &mut ids);
                ids.is_empty()
            };
            let list = if kind == Kind::TopNames {
                store.top_names(since, limit, &mut keep)?
            } else {
                store.new_names(since.unwrap_or(0), limit, &mut keep)?
            };
            Ok(Report {
                headers: vec!["name", "answers", "count", "first_seen", "last_seen"],
                rows: list
                    .into_iter()
                    .map(|n| {
                        vec![
                            json!(n.name),
                            json!(n.answers),
                            json!(n.count),
                            json!(tf.format(n.time_first)),
                            json!(tf.format(n.time_last)),
                        ]
                    })
                    .collect(),
            })
        }
    }
}
