//! Filters, order and paging as the user gives them (CLI options, API parameters), turned
//! into the store's [`TupleFilter`] and [`Sort`]. One place, so the CLI and every API
//! flavour read `after`, `first_after`, `type`, `sort` ... the same way.

use std::ops::ControlFlow;

use dnsrecall_store::{Sort, TimeFence, TupleFilter};

use crate::{parse_time, parse_types};

/// The raw values; names follow the API parameters (`first_after`; the CLI's
/// `--first-after`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSpec {
    /// Each may be a comma-separated list.
    pub types: Vec<String>,
    /// Loose fences: the sighting period overlaps (strict: lies inside).
    pub after: Option<String>,
    pub before: Option<String>,
    pub strict: bool,
    pub first_after: Option<String>,
    pub first_before: Option<String>,
    pub last_after: Option<String>,
    pub last_before: Option<String>,
    pub sensors: Vec<String>,
    /// `name` (default), `first`, `last` or `count`.
    pub sort: Option<String>,
    pub desc: bool,
}

/// A refused value and the parameter it came in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct SpecError {
    pub parameter: &'static str,
    pub message: String,
}

impl FilterSpec {
    /// # Errors
    /// The first bad value, with its parameter name.
    pub fn build(&self, now: i64) -> Result<(TupleFilter, Sort), SpecError> {
        let t = |v: &Option<String>, parameter: &'static str| {
            v.as_deref()
                .map(|s| {
                    parse_time(s, now).map_err(|e| SpecError {
                        parameter,
                        message: e.to_string(),
                    })
                })
                .transpose()
        };
        let mut fence = TimeFence {
            first_after: t(&self.first_after, "first_after")?,
            first_before: t(&self.first_before, "first_before")?,
            last_after: t(&self.last_after, "last_after")?,
            last_before: t(&self.last_before, "last_before")?,
        };
        let tighten = |slot: &mut Option<i64>, v: i64, after: bool| {
            *slot = Some(match *slot {
                Some(old) if after => old.max(v),
                Some(old) => old.min(v),
                None => v,
            });
        };
        if let Some(a) = t(&self.after, "after")? {
            let slot = if self.strict {
                &mut fence.first_after
            } else {
                &mut fence.last_after
            };
            tighten(slot, a, true);
        }
        if let Some(b) = t(&self.before, "before")? {
            let slot = if self.strict {
                &mut fence.last_before
            } else {
                &mut fence.first_before
            };
            tighten(slot, b, false);
        }
        let rrtypes = parse_types(&self.types).map_err(|e| SpecError {
            parameter: "type",
            message: e.to_string(),
        })?;
        let descending = self.desc;
        let sort = match self.sort.as_deref().unwrap_or("name") {
            "name" if !descending => Sort::Natural,
            "name" => Sort::Name { descending },
            "first" => Sort::TimeFirst { descending },
            "last" => Sort::TimeLast { descending },
            "count" => Sort::Count { descending },
            s => {
                return Err(SpecError {
                    parameter: "sort",
                    message: format!("{s:?}: expected name, first, last or count"),
                });
            }
        };
        let sensors = (!self.sensors.is_empty()).then(|| self.sensors.clone());
        Ok((
            TupleFilter {
                rrtypes,
                sensors,
                fence,
            },
            sort,
        ))
    }
}

/// Collects one page (`offset`, `limit`) of a streamed query in the order `sort` asks,
/// for the row kinds the store only streams (client sightings, negative answers). Memory
/// stays within about twice `offset + limit` rows whatever the stream's length. The flag
/// says whether more rows matched than the page holds.
///
/// # Errors
/// What the stream returns.
pub fn page<R, E>(
    stream: impl FnOnce(&mut dyn FnMut(R) -> ControlFlow<()>) -> Result<(), E>,
    sort: Sort,
    key: impl Fn(&R) -> (i64, i64, u64),
    offset: usize,
    limit: usize,
) -> Result<(Vec<R>, bool), E> {
    let want = offset.saturating_add(limit);
    let keep = want.saturating_add(1);
    let mut rows: Vec<R> = Vec::new();
    let mut seen: usize = 0;
    let order = |rows: &mut Vec<R>| match sort {
        Sort::TimeFirst { descending } => sort_by(rows, |r| i128::from(key(r).0), descending),
        Sort::TimeLast { descending } => sort_by(rows, |r| i128::from(key(r).1), descending),
        Sort::Count { descending } => sort_by(rows, |r| i128::from(key(r).2), descending),
        Sort::Natural | Sort::Name { .. } => {}
    };
    stream(&mut |r| {
        seen += 1;
        rows.push(r);
        match sort {
            Sort::Natural if rows.len() >= keep => return ControlFlow::Break(()),
            Sort::Natural => {}
            Sort::Name { .. } => {
                // Descending by name: the last rows of the natural order, reversed.
                if rows.len() >= keep.saturating_mul(2) {
                    rows.drain(..rows.len() - keep);
                }
            }
            _ => {
                if rows.len() >= keep.saturating_mul(2) {
                    order(&mut rows);
                    rows.truncate(keep);
                }
            }
        }
        ControlFlow::Continue(())
    })?;
    if let Sort::Name { descending: true } = sort {
        let cut = rows.len().saturating_sub(keep);
        rows.drain(..cut);
        rows.reverse();
    } else {
        order(&mut rows);
    }
    let truncated = seen > want;
    let rows: Vec<R> = rows.into_iter().skip(offset).take(limit).collect();
    Ok((rows, truncated))
}

fn sort_by<R>(rows: &mut [R], k: impl Fn(&R) -> i128, descending: bool) {
    rows.sort_by(|a, b| {
        let o = k(a).cmp(&k(b));
        if descending { o.reverse() } else { o }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_and_strict_fences() {
        let spec = FilterSpec {
            after: Some("100".into()),
            before: Some("200".into()),
            ..FilterSpec::default()
        };
        let (f, _) = spec.build(1000).unwrap();
        assert_eq!(
            (f.fence.last_after, f.fence.first_before),
            (Some(100), Some(200))
        );
        let strict = FilterSpec {
            strict: true,
            ..spec
        };
        let (f, _) = strict.build(1000).unwrap();
        assert_eq!(
            (f.fence.first_after, f.fence.last_before),
            (Some(100), Some(200))
        );
    }

    #[test]
    fn page_keeps_memory_bounded_and_order_exact() {
        let data: Vec<(i64, i64, u64)> = (0..1000u64)
            .map(|i| ((i * 7919 % 1000) as i64, (i * 104_729 % 997) as i64, i % 13))
            .collect();
        for sort in [
            Sort::Natural,
            Sort::Name { descending: true },
            Sort::TimeFirst { descending: false },
            Sort::TimeLast { descending: true },
            Sort::Count { descending: true },
        ] {
            let (got, cut) = page(
                |f| {
                    for r in &data {
                        if f(*r).is_break() {
                            break;
                        }
                    }
                    Ok::<(), ()>(())
                },
                sort,
                |r| *r,
                5,
                10,
            )
            .unwrap();
            let mut all = data.clone();
            match sort {
                Sort::Name { .. } => all.reverse(),
                Sort::TimeFirst { .. } => all.sort_by_key(|r| r.0),
                Sort::TimeLast { .. } => all.sort_by_key(|r| std::cmp::Reverse(r.1)),
                Sort::Count { .. } => all.sort_by_key(|r| std::cmp::Reverse(r.2)),
                Sort::Natural => {}
            }
            assert_eq!(got, all[5..15].to_vec(), "{sort:?}");
            assert!(cut);
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        let bad = FilterSpec {
            first_after: Some("yesterday".into()),
            ..FilterSpec::default()
        };
        assert_eq!(bad.build(0).unwrap_err().parameter, "first_after");
        let bad = FilterSpec {
            types: vec!["A,BOGUS".into()],
            ..FilterSpec::default()
        };
        assert_eq!(bad.build(0).unwrap_err().parameter, "type");
        let bad = FilterSpec {
            sort: Some("size".into()),
            ..FilterSpec::default()
        };
        assert_eq!(bad.build(0).unwrap_err().parameter, "sort");
    }
}
