//! The read path: one SELECT per query. Rows of one key (all sensors, all parts not merged
//! yet) are merged by `GROUP BY` with `minMerge`/`maxMerge`/`sumMerge`; the time fences
//! apply to the merged values (`HAVING`), as in SQLite's read path.
//!
//! Natural order follows SQLite's wherever SQLite's is defined by values: by name, by
//! label-reversed name for `*.x`, by address, by target name; then by type and the stored
//! rdata key. Where SQLite breaks ties by its internal name ids (insertion order: several
//! owners of one address or one target, several targets of one name and type, and the
//! whole order of substring queries), this store breaks them by name instead.

use std::ops::ControlFlow;
use std::sync::Arc;

use dnsrecall_model::{ClientId, Name, Rcode, RrType};
use dnsrecall_store::{
    ClientRow, NameSelector, NegativeRow, QueryStats, Selector, Sort, TimeFence, TupleFilter,
    TupleRow, TypeSet,
};

use crate::sql::{hex_lit, lit, unhex};
use crate::write::{ANSWER_NAME, ANSWER_V4, ANSWER_V6};
use crate::{ClickHouseStore, Error};

/// The merged columns every query selects after its key columns.
const MERGED: &str = "minMerge(time_first) AS tf, maxMerge(time_last) AS tl, \
                      sumMerge(count) AS c";
const SENSORS: &str = "arrayStringConcat(arrayMap(x -> hex(x), groupUniqArray(sensor)), ',')";

/// A name selector on a table: its condition and the column it orders by.
fn name_condition(
    sel: &NameSelector,
    name_col: &str,
    rev_col: &str,
) -> Result<(String, String), Error> {
    Ok(match sel {
        NameSelector::Exact(n) => (
            format!("{rev_col} = {}", lit(&n.reversed())),
            name_col.to_owned(),
        ),
        // Every name: all but the receipt rows, whose name is empty (see `write.rs`).
        NameSelector::Subdomains(n) if n.is_root() => {
            (format!("{rev_col} != ''"), rev_col.to_owned())
        }
        NameSelector::Subdomains(n) => {
            let rev = n.reversed();
            (
                format!(
                    "{rev_col} > {} AND {rev_col} < {}",
                    lit(&format!("{rev}.")),
                    lit(&format!("{rev}/"))
                ),
                rev_col.to_owned(),
            )
        }
        NameSelector::Prefix(p) => (
            format!(
                "{name_col} > {} AND {name_col} < {}",
                lit(&format!("{p}.")),
                lit(&format!("{p}/"))
            ),
            name_col.to_owned(),
        ),
        NameSelector::Substring(s) => {
            if s.len() < 3 {
                return Err(Error::Invalid(format!(
                    "substring {s:?} is too short: give at least 3 characters between the *s"
                )));
            }
            (
                format!("position({name_col}, {}) > 0", lit(s)),
                name_col.to_owned(),
            )
        }
    })
}

fn type_condition(column: &str, filter: &TupleFilter) -> String {
    let (op, types) = match &filter.rrtypes {
        None => return String::new(),
        Some(TypeSet::Only(ts)) if ts.is_empty() => return " AND 0".to_owned(),
        Some(TypeSet::Except(ts)) if ts.is_empty() => return String::new(),
        Some(TypeSet::Only(ts)) => ("IN", ts),
        Some(TypeSet::Except(ts)) => ("NOT IN", ts),
    };
    let list: Vec<String> = types.iter().map(|t| t.0.to_string()).collect();
    format!(" AND {column} {op} ({})", list.join(", "))
}

fn sensor_condition(filter: &TupleFilter) -> String {
    let Some(names) = &filter.sensors else {
        return String::new();
    };
    // The empty string is "no sensor", which no sensor filter names (as in SQLite).
    let list: Vec<String> = names
        .iter()
        .filter(|n| !n.is_empty())
        .map(|n| lit(n))
        .collect();
    if list.is_empty() {
        return " AND 0".to_owned();
    }
    format!(" AND sensor IN ({})", list.join(", "))
}

fn fence_condition(fence: &TimeFence) -> String {
    let mut c = Vec::new();
    if let Some(t) = fence.first_after {
        c.push(format!("tf >= {t}"));
    }
    if let Some(t) = fence.first_before {
        c.push(format!("tf <= {t}"));
    }
    if let Some(t) = fence.last_after {
        c.push(format!("tl >= {t}"));
    }
    if let Some(t) = fence.last_before {
        c.push(format!("tl <= {t}"));
    }
    if c.is_empty() {
        String::new()
    } else {
        format!(" HAVING {}", c.join(" AND "))
    }
}

/// One query before its ORDER BY: `SELECT {cols} FROM {from} WHERE {cond} GROUP BY {group}
/// HAVING {fence}`, and its natural order.
struct Query {
    cols: &'static str,
    from: &'static str,
    cond: String,
    group: &'static str,
    having: String,
    natural: String,
}

impl Query {
    fn sql(&self, order: &str, limit: Option<(usize, usize)>) -> String {
        let mut s = format!(
            "SELECT {}, {MERGED}, {SENSORS} FROM {} WHERE {} GROUP BY {}{} ORDER BY {order}",
            self.cols, self.from, self.cond, self.group, self.having
        );
        if let Some((offset, n)) = limit {
            s.push_str(&format!(" LIMIT {offset}, {n}"));
        }
        s
    }
}

fn tuple_query(sel: &Selector, filter: &TupleFilter) -> Result<Query, Error> {
    const COLS: &str = "rrname, rrtype, rdata, maxMerge(ttl) AS ttl_max";
    let types = type_condition("rrtype", filter);
    let sensors = sensor_condition(filter);
    let having = fence_condition(&filter.fence);
    Ok(match sel {
        Selector::Name(ns) => {
            let (cond, order) = name_condition(ns, "rrname", "rev_name")?;
            Query {
                cols: COLS,
                from: "tuples",
                cond: format!("{cond}{types}{sensors}"),
                group: "rev_name, rrname, rrtype, rdata_key, target, rdata",
                having,
                natural: format!("{order}, rrtype, rdata_key, target, rdata"),
            }
        }
        Selector::Address { lo, hi } => {
            let (kind, rrtype) = if lo.is_ipv4() {
                (ANSWER_V4, RrType::A)
            } else {
                (ANSWER_V6, RrType::AAAA)
            };
            let mut types = String::new();
            if let Some(ts) = &filter.rrtypes
                && !ts.contains(rrtype)
            {
                types = " AND 0".to_owned();
            }
            Query {
                cols: COLS,
                from: "tuples_by_answer",
                cond: format!(
                    "answer_kind = {kind} AND answer >= {} AND answer <= {}{types}{sensors}",
                    hex_lit(&dnsrecall_store::address_key(*lo)),
                    hex_lit(&dnsrecall_store::address_key(*hi)),
                ),
                group: "answer, rrname, rrtype, rdata_key, target, rdata",
                having,
                natural: "answer, rrname, rrtype, rdata_key, target, rdata".to_owned(),
            }
        }
        Selector::RdataName(ns) => {
            let (cond, order) = name_condition(ns, "target", "answer")?;
            Query {
                cols: COLS,
                from: "tuples_by_answer",
                cond: format!("answer_kind = {ANSWER_NAME} AND {cond}{types}{sensors}"),
                group: "answer, target, rrname, rrtype, rdata_key, rdata",
                having,
                natural: format!("{order}, rrname, rrtype, rdata_key, target, rdata"),
            }
        }
    })
}

fn client_query(sel: &Selector, filter: &TupleFilter) -> Result<Query, Error> {
    const COLS: &str = "qname, qtype, hex(client)";
    let types = type_condition("qtype", filter);
    let sensors = sensor_condition(filter);
    let having = fence_condition(&filter.fence);
    Ok(match sel {
        Selector::Name(ns) => {
            let (cond, order) = name_condition(ns, "qname", "rev_name")?;
            Query {
                cols: COLS,
                from: "clients",
                cond: format!("{cond}{types}{sensors}"),
                group: "rev_name, qname, client, qtype",
                having,
                natural: format!("{order}, client, qtype"),
            }
        }
        Selector::Address { lo, hi } => {
            let lo = dnsrecall_store::address_key(*lo);
            let len = lo.len();
            Query {
                cols: COLS,
                from: "clients_by_client",
                cond: format!(
                    "client >= {} AND client <= {} AND length(client) = {len}{types}{sensors}",
                    hex_lit(&lo),
                    hex_lit(&dnsrecall_store::address_key(*hi))
                ),
                group: "client, qname, qtype",
                having,
                natural: "client, qname, qtype".to_owned(),
            }
        }
        Selector::RdataName(_) => {
            return Err(Error::Invalid(
                "client sightings are kept by query name: --rdata does not apply".into(),
            ));
        }
    })
}

fn negative_query(sel: &Selector, filter: &TupleFilter) -> Result<Query, Error> {
    let Selector::Name(ns) = sel else {
        return Err(Error::Invalid(
            "negative answers are kept by query name: give a name pattern".into(),
        ));
    };
    let (cond, order) = name_condition(ns, "qname", "rev_name")?;
    Ok(Query {
        cols: "qname, qtype, rcode",
        from: "negatives",
        cond: format!(
            "{cond}{}{}",
            type_condition("qtype", filter),
            sensor_condition(filter)
        ),
        group: "rev_name, qname, qtype, rcode",
        having: fence_condition(&filter.fence),
        natural: format!("{order}, qtype, rcode"),
    })
}

/// Reads the fields of one result row.
pub(crate) struct Fields<'a>(pub(crate) &'a [Vec<u8>]);

impl Fields<'_> {
    pub(crate) fn bytes(&self, i: usize) -> Result<&[u8], Error> {
        self.0.get(i).map(Vec::as_slice).ok_or_else(|| {
            Error::Protocol(format!("row has {} fields, wanted {}", self.0.len(), i + 1))
        })
    }
    pub(crate) fn text(&self, i: usize) -> Result<String, Error> {
        String::from_utf8(self.bytes(i)?.to_vec())
            .map_err(|_| Error::Protocol("text field is not UTF-8".into()))
    }
    pub(crate) fn num<T: std::str::FromStr>(&self, i: usize) -> Result<T, Error> {
        std::str::from_utf8(self.bytes(i)?)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Protocol(format!("field {i} is not a number")))
    }
    /// The comma-separated hex sensor names, sorted, without the empty "no sensor".
    fn sensors(&self, i: usize) -> Result<Vec<Arc<str>>, Error> {
        let mut out: Vec<Arc<str>> = Vec::new();
        for h in self.bytes(i)?.split(|b| *b == b',') {
            if h.is_empty() {
                continue;
            }
            let raw = unhex(h).ok_or_else(|| Error::Protocol("bad sensor hex".into()))?;
            let s = String::from_utf8(raw)
                .map_err(|_| Error::Protocol("sensor is not UTF-8".into()))?;
            out.push(Arc::from(s));
        }
        out.sort();
        Ok(out)
    }
}

fn tuple_row(r: &[Vec<u8>]) -> Result<TupleRow, Error> {
    let f = Fields(r);
    let ttl: i64 = f.num(3)?;
    Ok(TupleRow {
        rrname: Name::from_canonical_unchecked(f.text(0)?),
        rrtype: RrType(f.num(1)?),
        rdata: f.text(2)?,
        ttl: u32::try_from(ttl).ok(),
        time_first: f.num(4)?,
        time_last: f.num(5)?,
        count: f.num(6)?,
        sensors: f.sensors(7)?,
    })
}

fn client_row(r: &[Vec<u8>]) -> Result<ClientRow, Error> {
    let f = Fields(r);
    let raw = unhex(f.bytes(2)?).ok_or_else(|| Error::Protocol("bad client hex".into()))?;
    Ok(ClientRow {
        qname: Name::from_canonical_unchecked(f.text(0)?),
        qtype: RrType(f.num(1)?),
        client: ClientId::from_bytes(&raw)
            .ok_or_else(|| Error::Protocol(format!("client of {} bytes", raw.len())))?,
        time_first: f.num(3)?,
        time_last: f.num(4)?,
        count: f.num(5)?,
        sensors: f.sensors(6)?,
    })
}

fn negative_row(r: &[Vec<u8>]) -> Result<NegativeRow, Error> {
    let f = Fields(r);
    Ok(NegativeRow {
        qname: Name::from_canonical_unchecked(f.text(0)?),
        qtype: RrType(f.num(1)?),
        rcode: Rcode(f.num(2)?),
        time_first: f.num(3)?,
        time_last: f.num(4)?,
        count: f.num(5)?,
        sensors: f.sensors(6)?,
    })
}

impl ClickHouseStore {
    fn stream<R>(
        &self,
        sql: &str,
        parse: fn(&[Vec<u8>]) -> Result<R, Error>,
        mut f: impl FnMut(R) -> ControlFlow<()>,
    ) -> Result<QueryStats, Error> {
        let mut stats = QueryStats::default();
        self.http.select(sql, |row| {
            stats.rows_read += 1;
            let r = parse(&row)?;
            stats.rows_returned += 1;
            Ok(f(r))
        })?;
        Ok(stats)
    }

    /// Streams merged tuples in natural order to `f` until it breaks.
    ///
    /// # Errors
    /// When the selector is invalid or the server fails.
    pub fn for_each_tuple(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: impl FnMut(TupleRow) -> ControlFlow<()>,
    ) -> Result<QueryStats, Error> {
        let q = tuple_query(sel, filter)?;
        self.stream(&q.sql(&q.natural, None), tuple_row, f)
    }

    /// The SQL of a tuple query (for `--explain`, and to check it on other releases). It
    /// asks for one row more than `limit`, which tells whether the limit cut the result.
    ///
    /// # Errors
    /// When the selector is invalid.
    pub fn tuple_sql(
        sel: &Selector,
        filter: &TupleFilter,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<String, Error> {
        let q = tuple_query(sel, filter)?;
        let dir = |d: bool| if d { "DESC" } else { "ASC" };
        let order = match sort {
            Sort::Natural => q.natural.clone(),
            Sort::TimeFirst { descending } => {
                format!("tf {}, rrname, rrtype, rdata", dir(descending))
            }
            Sort::TimeLast { descending } => {
                format!("tl {}, rrname, rrtype, rdata", dir(descending))
            }
            Sort::Count { descending } => format!("c {}, rrname, rrtype, rdata", dir(descending)),
            Sort::Name { descending } => {
                let d = dir(descending);
                format!("rrname {d}, rrtype {d}, rdata {d}")
            }
        };
        Ok(q.sql(&order, Some((offset, limit.saturating_add(1)))))
    }

    /// Runs a tuple query with order, offset and limit; the flag says whether more rows
    /// matched than were returned. Order, offset and limit run in the server.
    ///
    /// # Errors
    /// When the selector is invalid or the server fails.
    pub fn query_tuples(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<TupleRow>, bool), Error> {
        let sql = Self::tuple_sql(sel, filter, sort, offset, limit)?;
        let mut out = Vec::new();
        self.stream(&sql, tuple_row, |r| {
            out.push(r);
            ControlFlow::Continue(())
        })?;
        let truncated = out.len() > limit;
        out.truncate(limit);
        Ok((out, truncated))
    }

    /// The SQL of a client query (for `--explain` and checks on other releases).
    ///
    /// # Errors
    /// When the selector does not apply.
    pub fn client_sql(sel: &Selector, filter: &TupleFilter) -> Result<String, Error> {
        let q = client_query(sel, filter)?;
        Ok(q.sql(&q.natural, None))
    }

    /// The SQL of a negative-answer query (for `--explain` and checks on other releases).
    ///
    /// # Errors
    /// When the selector does not apply.
    pub fn negative_sql(sel: &Selector, filter: &TupleFilter) -> Result<String, Error> {
        let q = negative_query(sel, filter)?;
        Ok(q.sql(&q.natural, None))
    }

    /// Streams merged client sightings: by query name, or by client address range.
    ///
    /// # Errors
    /// When the selector does not apply or the server fails.
    pub fn for_each_client(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: impl FnMut(ClientRow) -> ControlFlow<()>,
    ) -> Result<QueryStats, Error> {
        let q = client_query(sel, filter)?;
        self.stream(&q.sql(&q.natural, None), client_row, f)
    }

    /// Streams merged client sightings of exactly these stored clients, in client order.
    ///
    /// # Errors
    /// When the server fails.
    pub fn for_each_client_id(
        &mut self,
        ids: &[ClientId],
        filter: &TupleFilter,
        f: impl FnMut(ClientRow) -> ControlFlow<()>,
    ) -> Result<QueryStats, Error> {
        let list: Vec<String> = ids.iter().map(|c| hex_lit(c.as_bytes())).collect();
        let cond = if list.is_empty() {
            "0".to_owned()
        } else {
            format!("client IN ({})", list.join(", "))
        };
        let q = Query {
            cols: "qname, qtype, hex(client)",
            from: "clients_by_client",
            cond: format!(
                "{cond}{}{}",
                type_condition("qtype", filter),
                sensor_condition(filter)
            ),
            group: "client, qname, qtype",
            having: fence_condition(&filter.fence),
            natural: "client, qname, qtype".to_owned(),
        };
        self.stream(&q.sql(&q.natural, None), client_row, f)
    }

    /// Streams merged negative answers for a name selector.
    ///
    /// # Errors
    /// When the selector does not apply or the server fails.
    pub fn for_each_negative(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: impl FnMut(NegativeRow) -> ControlFlow<()>,
    ) -> Result<QueryStats, Error> {
        let q = negative_query(sel, filter)?;
        self.stream(&q.sql(&q.natural, None), negative_row, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_literals() {
        let sel = NameSelector::Substring("x') OR 1=1 --".into());
        let (cond, _) = name_condition(&sel, "rrname", "rev_name").unwrap();
        assert_eq!(cond, r"position(rrname, 'x\') OR 1=1 --') > 0");
        assert!(name_condition(&NameSelector::Substring("ab".into()), "a", "b").is_err());
        let f = TupleFilter {
            sensors: Some(vec!["s'1".into(), String::new()]),
            ..TupleFilter::default()
        };
        assert_eq!(sensor_condition(&f), r" AND sensor IN ('s\'1')");
    }

    #[test]
    fn type_sets() {
        let f = |t| TupleFilter {
            rrtypes: Some(t),
            ..TupleFilter::default()
        };
        assert_eq!(
            type_condition("rrtype", &f(TypeSet::Only(vec![]))),
            " AND 0"
        );
        assert_eq!(type_condition("rrtype", &f(TypeSet::Except(vec![]))), "");
        assert_eq!(
            type_condition("rrtype", &f(TypeSet::Except(vec![RrType::A, RrType::NS]))),
            " AND rrtype NOT IN (1, 2)"
        );
    }
}
