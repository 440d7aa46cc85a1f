//! The read path: every query form is an index range scan (checked by tests with
//! `EXPLAIN QUERY PLAN`). Rows of one key seen by several sensors come out adjacent and are
//! merged here, so callers see one row per `(rrname, rrtype, rdata)`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use dnsrecall_model::{ClientId, Name, Rcode, RrType, TupleValue};
use rusqlite::types::Value;
use rusqlite::{Row, params_from_iter};

use crate::{QueryError, SqliteStore, codec};

/// Which names a query is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameSelector {
    /// Exactly this name.
    Exact(Name),
    /// Strict subdomains of this name (`*.sans.org`).
    Subdomains(Name),
    /// Names that start with these labels (`isc.sans.*`); holds `isc.sans`.
    Prefix(String),
    /// Names containing this text (`*sans*`); at least 3 characters.
    Substring(String),
}

/// What a tuple query selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Tuples owned by these names.
    Name(NameSelector),
    /// A and AAAA tuples whose address lies in `[lo, hi]` (same family).
    Address { lo: IpAddr, hi: IpAddr },
    /// Tuples whose rdata points at these names (CNAME, NS, MX, PTR, SRV, ... targets).
    RdataName(NameSelector),
}

/// DNSDB's four time fences, inclusive, in epoch seconds. Applied after merging sensors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeFence {
    pub first_after: Option<i64>,
    pub first_before: Option<i64>,
    pub last_after: Option<i64>,
    pub last_before: Option<i64>,
}

impl TimeFence {
    #[must_use]
    pub fn admits(&self, time_first: i64, time_last: i64) -> bool {
        self.first_after.is_none_or(|t| time_first >= t)
            && self.first_before.is_none_or(|t| time_first <= t)
            && self.last_after.is_none_or(|t| time_last >= t)
            && self.last_before.is_none_or(|t| time_last <= t)
    }
}

/// A set of record types: those listed, or all but those listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeSet {
    Only(Vec<RrType>),
    Except(Vec<RrType>),
}

impl TypeSet {
    #[must_use]
    pub fn contains(&self, t: RrType) -> bool {
        match self {
            Self::Only(ts) => ts.contains(&t),
            Self::Except(ts) => !ts.contains(&t),
        }
    }
}

/// Filters besides the selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TupleFilter {
    /// `None`: every type.
    pub rrtypes: Option<TypeSet>,
    /// `None`: every sensor (merged).
    pub sensors: Option<Vec<String>>,
    pub fence: TimeFence,
}

/// Result order. `Natural` is the index order (by name, reversed by label for `*.x`; by
/// address for address queries) and streams; the others sort and keep only what is asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Natural,
    TimeFirst {
        descending: bool,
    },
    TimeLast {
        descending: bool,
    },
    Count {
        descending: bool,
    },
    Name {
        descending: bool,
    },
}

/// One merged tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TupleRow {
    pub rrname: Name,
    pub rrtype: RrType,
    /// Presentation format, canonical (names without trailing dot).
    pub rdata: String,
    pub time_first: i64,
    pub time_last: i64,
    pub count: u64,
    pub ttl: Option<u32>,
    pub sensors: Vec<Arc<str>>,
}

/// One merged client sighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub client: ClientId,
    pub qname: Name,
    pub qtype: RrType,
    pub time_first: i64,
    pub time_last: i64,
    pub count: u64,
    pub sensors: Vec<Arc<str>>,
}

/// One merged negative answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegativeRow {
    pub qname: Name,
    pub qtype: RrType,
    pub rcode: Rcode,
    pub time_first: i64,
    pub time_last: i64,
    pub count: u64,
    pub sensors: Vec<Arc<str>>,
}

/// What a query did, for `--stats` and the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    pub rows_read: u64,
    pub rows_returned: u64,
}

/// A query in SQL: text and parameters.
struct Sql {
    text: String,
    params: Vec<Value>,
    /// Substring queries: the parameter that takes batches of candidate name ids (a JSON
    /// array), and the substring whose rarest trigram yields them.
    candidates: Option<(usize, String)>,
}

/// A trigram's posting list read forward in id order, for membership tests of ascending
/// ids: chunks that end before the asked id are skipped undecoded.
struct Postings {
    gram: u32,
    /// The key of the last chunk read.
    after: i64,
    ids: std::collections::VecDeque<i64>,
    exhausted: bool,
}

impl Postings {
    fn new(gram: u32) -> Self {
        Self {
            gram,
            after: i64::MIN,
            ids: std::collections::VecDeque::new(),
            exhausted: false,
        }
    }

    /// Reads more chunks holding ids at or after `from`.
    fn load(&mut self, conn: &rusqlite::Connection, from: i64) -> rusqlite::Result<()> {
        let mut st = conn.prepare_cached(
            "SELECT first_id, ids FROM grams WHERE gram = ?1 AND first_id > ?2 AND last_id >= ?3 \
             ORDER BY first_id LIMIT 8",
        )?;
        let mut rows = st.query(rusqlite::params![self.gram, self.after, from])?;
        let mut read = 0;
        let mut buf = Vec::new();
        while let Some(row) = rows.next()? {
            let first: i64 = row.get(0)?;
            let blob = row.get_ref(1)?.as_blob().unwrap_or_default();
            crate::grams::decode_chunk(first, blob, &mut buf);
            self.after = first;
            read += 1;
        }
        self.ids.extend(buf);
        self.exhausted = read < 8;
        Ok(())
    }

    /// The next id, in order.
    fn next(&mut self, conn: &rusqlite::Connection) -> rusqlite::Result<Option<i64>> {
        if self.ids.is_empty() && !self.exhausted {
            self.load(conn, i64::MIN)?;
        }
        Ok(self.ids.pop_front())
    }

    /// Whether `id` is in the list; ids must be asked in ascending order.
    fn contains(&mut self, conn: &rusqlite::Connection, id: i64) -> rusqlite::Result<bool> {
        loop {
            while let Some(&front) = self.ids.front() {
                if front < id {
                    self.ids.pop_front();
                } else {
                    return Ok(front == id);
                }
            }
            if self.exhausted {
                return Ok(false);
            }
            self.load(conn, id)?;
        }
    }
}

/// Candidate name ids for a substring: the posting list of its rarest trigram, kept only
/// where the second rarest holds them too, handed out in batches (primary-key range scans
/// of `grams`, in id order). The name itself confirms each candidate.
struct Candidates {
    rarest: Postings,
    second: Option<Postings>,
}

/// Candidates checked per statement run.
const CANDIDATE_BATCH: usize = 512;

impl Candidates {
    /// `None` when one of the substring's trigrams is in no name (no match possible).
    fn new(conn: &rusqlite::Connection, substring: &str) -> rusqlite::Result<Option<Self>> {
        let mut size = conn.prepare_cached(
            "SELECT count(*), coalesce(sum(length(ids)), 0) FROM grams WHERE gram = ?1",
        )?;
        let mut costs: Vec<(i64, u32)> = Vec::new();
        for g in crate::grams::grams_of(substring.as_bytes()) {
            let (chunks, bytes): (i64, i64) =
                size.query_row([g], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if chunks == 0 {
                return Ok(None);
            }
            costs.push((bytes + chunks, g));
        }
        costs.sort_unstable();
        let mut grams = costs.into_iter().map(|(_, g)| Postings::new(g));
        Ok(grams.next().map(|rarest| Self {
            rarest,
            second: grams.next(),
        }))
    }

    fn next_batch(&mut self, conn: &rusqlite::Connection) -> rusqlite::Result<Vec<i64>> {
        let mut out = Vec::with_capacity(CANDIDATE_BATCH);
        while out.len() < CANDIDATE_BATCH {
            let Some(id) = self.rarest.next(conn)? else {
                break;
            };
            let keep = match self.second.as_mut() {
                Some(p) => p.contains(conn, id)?,
                None => true,
            };
            if keep {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// How a name selector reads `names` under an alias: the FROM source, the condition, the
/// ORDER BY that follows the index, and the parameters.
struct NameSql {
    /// Substring: its first parameter is the candidate list, fed batch by batch.
    candidates: Option<String>,
    from: String,
    cond: String,
    order: String,
    params: Vec<Value>,
}

fn name_condition(sel: &NameSelector, alias: &str) -> Result<NameSql, QueryError> {
    let plain = |cond: String, order: String, params: Vec<Value>| NameSql {
        candidates: None,
        from: format!("names {alias}"),
        cond,
        order,
        params,
    };
    Ok(match sel {
        NameSelector::Exact(n) => plain(
            format!("{alias}.name = ?"),
            format!("{alias}.name"),
            vec![Value::Text(n.to_string())],
        ),
        NameSelector::Subdomains(n) if n.is_root() => plain(
            format!("rev_labels({alias}.name) >= ''"),
            format!("rev_labels({alias}.name)"),
            vec![],
        ),
        NameSelector::Subdomains(n) => {
            let rev = n.reversed();
            plain(
                format!("rev_labels({alias}.name) > ? AND rev_labels({alias}.name) < ?"),
                format!("rev_labels({alias}.name)"),
                vec![
                    Value::Text(format!("{rev}.")),
                    Value::Text(format!("{rev}/")),
                ],
            )
        }
        NameSelector::Prefix(p) => plain(
            format!("{alias}.name > ? AND {alias}.name < ?"),
            format!("{alias}.name"),
            vec![Value::Text(format!("{p}.")), Value::Text(format!("{p}/"))],
        ),
        NameSelector::Substring(s) => {
            if s.len() < 3 {
                return Err(QueryError::Invalid(format!(
                    "substring {s:?} is too short: give at least 3 characters between the *s"
                )));
            }
            // Candidates come from the trigram index in id order (see `Candidates`); the
            // name itself confirms each one.
            NameSql {
                candidates: Some(s.clone()),
                from: format!("names {alias}"),
                cond: format!(
                    "{alias}.id IN (SELECT value FROM json_each(?)) AND instr({alias}.name, ?) > 0"
                ),
                order: format!("{alias}.id"),
                params: vec![Value::Text("[]".into()), Value::Text(s.clone())],
            }
        }
    })
}

fn type_condition(column: &str, filter: &TupleFilter, params: &mut Vec<Value>) -> String {
    let (op, types) = match &filter.rrtypes {
        None => return String::new(),
        Some(TypeSet::Only(ts)) => ("IN", ts),
        Some(TypeSet::Except(ts)) => ("NOT IN", ts),
    };
    let marks = vec!["?"; types.len().max(1)].join(", ");
    if types.is_empty() {
        params.push(Value::Integer(-1));
    }
    params.extend(types.iter().map(|t| Value::Integer(i64::from(t.0))));
    format!(" AND {column} {op} ({marks})")
}

impl SqliteStore {
    fn sensor_condition(
        &self,
        column: &str,
        filter_sensors: Option<&Vec<String>>,
        params: &mut Vec<Value>,
    ) -> Result<String, QueryError> {
        let Some(names) = filter_sensors else {
            return Ok(String::new());
        };
        let mut ids = Vec::new();
        for n in names {
            let id: Option<i64> = self
                .conn
                .prepare_cached("SELECT id FROM sensors WHERE name = ?1")?
                .query_row([n], |r| r.get(0))
                .ok();
            ids.push(id.unwrap_or(-1));
        }
        if ids.is_empty() {
            ids.push(-1);
        }
        let marks = vec!["?"; ids.len()].join(", ");
        params.extend(ids.into_iter().map(Value::Integer));
        Ok(format!(" AND {column} IN ({marks})"))
    }

    /// A query that starts from the names a selector picks (under `alias`), joins `join`,
    /// and filters by type and sensor: in the names' index order.
    #[expect(
        clippy::too_many_arguments,
        reason = "one SQL shape, spelled out by its callers"
    )]
    fn starting_from_names(
        &self,
        cols: &str,
        ns: &NameSelector,
        alias: &str,
        join: &str,
        extra: &str,
        (type_col, sensor_col): (&str, &str),
        filter: &TupleFilter,
    ) -> Result<Sql, QueryError> {
        let NameSql {
            candidates,
            from,
            cond,
            order,
            mut params,
        } = name_condition(ns, alias)?;
        // The candidate list is the name condition's first parameter, and it comes first.
        let candidates = candidates.map(|c| (0, c));
        let types = type_condition(type_col, filter, &mut params);
        let sensors = self.sensor_condition(sensor_col, filter.sensors.as_ref(), &mut params)?;
        Ok(Sql {
            text: format!(
                "SELECT {cols} FROM {from} {join} \
                 WHERE {cond}{extra}{types}{sensors} ORDER BY {order}"
            ),
            params,
            candidates,
        })
    }

    /// The steps of a statement's `EXPLAIN QUERY PLAN`.
    fn plan(&self, sql: &Sql) -> Result<Vec<String>, QueryError> {
        let mut st = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))?;
        let rows = st.query_map(params_from_iter(sql.params.iter()), |r| {
            r.get::<_, String>(3)
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn tuple_sql(&self, sel: &Selector, filter: &TupleFilter) -> Result<Sql, QueryError> {
        const COLS: &str = "n.name, t.rrtype, t.rdata, tn.name, t.sensor, t.time_first, \
                            t.time_last, t.count, t.ttl";
        let mut params = Vec::new();
        let text = match sel {
            Selector::Name(ns) => {
                return self.starting_from_names(
                    COLS,
                    ns,
                    "n",
                    "JOIN tuples t ON t.name_id = n.id LEFT JOIN names tn ON tn.id = t.target",
                    "",
                    ("t.rrtype", "t.sensor"),
                    filter,
                );
            }
            Selector::Address { lo, hi } => {
                let rrtype = if lo.is_ipv4() { 1 } else { 28 };
                params.push(Value::Blob(codec::address_key(*lo)));
                params.push(Value::Blob(codec::address_key(*hi)));
                let mut types = String::new();
                if let Some(ts) = &filter.rrtypes
                    && !ts.contains(RrType(rrtype))
                {
                    types = " AND 0".to_owned();
                }
                let sensors =
                    self.sensor_condition("t.sensor", filter.sensors.as_ref(), &mut params)?;
                format!(
                    "SELECT {COLS} FROM tuples t JOIN names n ON n.id = t.name_id \
                     LEFT JOIN names tn ON tn.id = t.target \
                     WHERE t.rrtype = {rrtype} AND t.rdata >= ? AND t.rdata <= ?{types}{sensors} \
                     ORDER BY t.rdata"
                )
            }
            Selector::RdataName(ns) => {
                let mut sql = self.starting_from_names(
                    COLS,
                    ns,
                    "tn",
                    "JOIN tuples t ON t.target = tn.id JOIN names n ON n.id = t.name_id",
                    " AND t.target <> 0",
                    ("t.rrtype", "t.sensor"),
                    filter,
                )?;
                // The answers naming one target in (owner, type, rdata) order, not in the
                // order they were stored: the same on every store, and rows of one key
                // from several sensors stay adjacent (SQLite sorts each target's rows).
                sql.text.push_str(", n.name, t.rrtype, t.rdata");
                return Ok(sql);
            }
        };
        Ok(Sql {
            text,
            params,
            candidates: None,
        })
    }

    /// The SQL plan of a tuple query, one line per step (for tests and `--explain`).
    ///
    /// # Errors
    /// When the selector is invalid or SQLite fails.
    pub fn explain_tuples(
        &self,
        sel: &Selector,
        filter: &TupleFilter,
    ) -> Result<Vec<String>, QueryError> {
        let sql = self.tuple_sql(sel, filter)?;
        self.plan(&sql)
    }

    /// Streams merged tuples in natural order to `f` until it breaks.
    ///
    /// # Errors
    /// When the selector is invalid or SQLite fails.
    pub fn for_each_tuple(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: impl FnMut(TupleRow) -> ControlFlow<()>,
    ) -> Result<QueryStats, QueryError> {
        let sql = self.tuple_sql(sel, filter)?;
        self.stream_merged(&sql, filter.fence, tuple_from_row, f)
    }

    /// Runs `sql`, merges adjacent rows with the same identity (one key seen by several
    /// sensors), and hands each merged row to `f` (`None`: filtered out).
    fn stream_merged<R: Merged>(
        &self,
        sql: &Sql,
        fence: TimeFence,
        decode: impl Fn(&Row<'_>) -> rusqlite::Result<Decoded<R>>,
        mut f: impl FnMut(R) -> ControlFlow<()>,
    ) -> Result<QueryStats, QueryError> {
        let mut stats = QueryStats::default();
        let mut names: HashMap<i64, Option<Arc<str>>> = HashMap::new();
        let mut sensor = |id: i64| -> Option<Arc<str>> {
            if id == 0 {
                return None;
            }
            names
                .entry(id)
                .or_insert_with(|| {
                    self.conn
                        .query_row("SELECT name FROM sensors WHERE id = ?1", [id], |r| {
                            r.get::<_, String>(0)
                        })
                        .ok()
                        .map(Arc::from)
                })
                .clone()
        };
        let mut st = self.conn.prepare_cached(&sql.text)?;
        let mut pending: Option<(Decoded<R>, Vec<Arc<str>>)> = None;
        let mut finish = |p: Option<(Decoded<R>, Vec<Arc<str>>)>, stats: &mut QueryStats| {
            let Some((mut d, sensors)) = p else {
                return false;
            };
            if !fence.admits(d.value.time_first, d.value.time_last) {
                return false;
            }
            d.row.set_merged(&d.value, sensors);
            stats.rows_returned += 1;
            f(d.row).is_break()
        };
        // One run of the statement, or one per batch of substring candidates: rows of one
        // name never span two batches, so merging across sensors works the same.
        let mut candidates = match &sql.candidates {
            None => None,
            Some((_, substring)) => match Candidates::new(&self.conn, substring)? {
                Some(c) => Some(c),
                None => return Ok(stats), // a trigram no name has: nothing matches
            },
        };
        let mut params = sql.params.clone();
        loop {
            if let (Some(c), Some((slot, _))) = (candidates.as_mut(), &sql.candidates) {
                let batch = c.next_batch(&self.conn)?;
                if batch.is_empty() {
                    break;
                }
                let json = batch
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                params[*slot] = Value::Text(format!("[{json}]"));
            }
            let mut rows = st.query(params_from_iter(params.iter()))?;
            while let Some(row) = rows.next()? {
                stats.rows_read += 1;
                let d = decode(row)?;
                let s = sensor(d.sensor);
                match &mut pending {
                    Some((p, sensors)) if p.identity == d.identity => {
                        p.value.merge(&d.value);
                        if let Some(s) = s
                            && !sensors.contains(&s)
                        {
                            sensors.push(s);
                        }
                    }
                    _ => {
                        let done = pending.replace((d, s.into_iter().collect()));
                        if finish(done, &mut stats) {
                            return Ok(stats);
                        }
                    }
                }
            }
            if candidates.is_none() {
                break;
            }
        }
        finish(pending.take(), &mut stats);
        Ok(stats)
    }

    /// Runs a tuple query with order, offset and limit. The flag says whether more rows
    /// matched than were returned (the limit cut the result).
    ///
    /// # Errors
    /// When the selector is invalid or SQLite fails.
    pub fn query_tuples(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<TupleRow>, bool), QueryError> {
        let mut out = Vec::new();
        let mut truncated = false;
        match sort {
            Sort::Natural => {
                let mut skipped = 0;
                self.for_each_tuple(sel, filter, |row| {
                    if skipped < offset {
                        skipped += 1;
                        return ControlFlow::Continue(());
                    }
                    if out.len() == limit {
                        truncated = true;
                        return ControlFlow::Break(());
                    }
                    out.push(row);
                    ControlFlow::Continue(())
                })?;
            }
            _ => {
                let keep = offset.saturating_add(limit);
                let mut seen = 0usize;
                self.for_each_tuple(sel, filter, |row| {
                    seen += 1;
                    out.push(row);
                    if out.len() >= keep.saturating_mul(2).max(1024) {
                        sort_rows(&mut out, sort);
                        out.truncate(keep);
                    }
                    ControlFlow::Continue(())
                })?;
                sort_rows(&mut out, sort);
                truncated = seen > keep;
                out.truncate(keep);
                out.drain(..offset.min(out.len()));
            }
        }
        Ok((out, truncated))
    }
}

fn sort_rows(rows: &mut [TupleRow], sort: Sort) {
    let natural = |a: &TupleRow, b: &TupleRow| {
        (a.rrname.as_str(), a.rrtype, &a.rdata).cmp(&(b.rrname.as_str(), b.rrtype, &b.rdata))
    };
    let dir = |o: std::cmp::Ordering, d: bool| if d { o.reverse() } else { o };
    match sort {
        Sort::Natural => {}
        Sort::TimeFirst { descending } => rows.sort_by(|a, b| {
            dir(a.time_first.cmp(&b.time_first), descending).then_with(|| natural(a, b))
        }),
        Sort::TimeLast { descending } => rows.sort_by(|a, b| {
            dir(a.time_last.cmp(&b.time_last), descending).then_with(|| natural(a, b))
        }),
        Sort::Count { descending } => {
            rows.sort_by(|a, b| dir(a.count.cmp(&b.count), descending).then_with(|| natural(a, b)));
        }
        Sort::Name { descending } => rows.sort_by(|a, b| dir(natural(a, b), descending)),
    }
}

/// A result row that takes the merged value of its key and the sensors that saw it.
trait Merged {
    fn set_merged(&mut self, v: &TupleValue, sensors: Vec<Arc<str>>);
}

impl Merged for TupleRow {
    fn set_merged(&mut self, v: &TupleValue, sensors: Vec<Arc<str>>) {
        (self.time_first, self.time_last, self.count, self.ttl) =
            (v.time_first, v.time_last, v.count, v.ttl);
        self.sensors = sensors;
    }
}

impl Merged for ClientRow {
    fn set_merged(&mut self, v: &TupleValue, sensors: Vec<Arc<str>>) {
        (self.time_first, self.time_last, self.count) = (v.time_first, v.time_last, v.count);
        self.sensors = sensors;
    }
}

impl Merged for NegativeRow {
    fn set_merged(&mut self, v: &TupleValue, sensors: Vec<Arc<str>>) {
        (self.time_first, self.time_last, self.count) = (v.time_first, v.time_last, v.count);
        self.sensors = sensors;
    }
}

/// A row as read: the caller's row, its identity (rows of one key from several sensors
/// share it), its value and its sensor id.
struct Decoded<R> {
    row: R,
    identity: Vec<u8>,
    value: TupleValue,
    sensor: i64,
}

fn identity_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut id = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts {
        id.extend_from_slice(p);
        id.push(0xff);
    }
    id
}

fn value_from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<TupleValue> {
    Ok(TupleValue {
        time_first: row.get(first)?,
        time_last: row.get(first + 1)?,
        count: row.get::<_, i64>(first + 2)?.cast_unsigned(),
        ttl: None,
    })
}

fn rrtype_at(row: &Row<'_>, i: usize) -> rusqlite::Result<RrType> {
    Ok(RrType(u16::try_from(row.get::<_, i64>(i)?).unwrap_or(0)))
}

fn tuple_from_row(row: &Row<'_>) -> rusqlite::Result<Decoded<TupleRow>> {
    let rrname: String = row.get(0)?;
    let rrtype = rrtype_at(row, 1)?;
    let raw = row.get_ref(2)?;
    let target: Option<String> = row.get(3)?;
    let rdata = codec::decode(rrtype, raw, target.as_deref());
    let identity = identity_of(&[
        rrname.as_bytes(),
        &rrtype.0.to_be_bytes(),
        raw.as_bytes().unwrap_or_default(),
        target.as_deref().unwrap_or("").as_bytes(),
    ]);
    let mut value = value_from_row(row, 5)?;
    value.ttl = row
        .get::<_, Option<i64>>(8)?
        .and_then(|t| u32::try_from(t).ok());
    Ok(Decoded {
        row: TupleRow {
            rrname: Name::from_canonical_unchecked(rrname),
            rrtype,
            rdata,
            time_first: value.time_first,
            time_last: value.time_last,
            count: value.count,
            ttl: value.ttl,
            sensors: Vec::new(),
        },
        identity,
        value,
        sensor: row.get(4)?,
    })
}

fn client_from_row(row: &Row<'_>) -> rusqlite::Result<Decoded<ClientRow>> {
    let qname: String = row.get(0)?;
    let client_raw: Vec<u8> = row.get(1)?;
    let qtype = rrtype_at(row, 2)?;
    let identity = identity_of(&[qname.as_bytes(), &client_raw, &qtype.0.to_be_bytes()]);
    let value = value_from_row(row, 4)?;
    let client = ClientId::from_bytes(&client_raw).unwrap_or(ClientId::V4([0; 4]));
    Ok(Decoded {
        row: ClientRow {
            client,
            qname: Name::from_canonical_unchecked(qname),
            qtype,
            time_first: value.time_first,
            time_last: value.time_last,
            count: value.count,
            sensors: Vec::new(),
        },
        identity,
        value,
        sensor: row.get(3)?,
    })
}

fn negative_from_row(row: &Row<'_>) -> rusqlite::Result<Decoded<NegativeRow>> {
    let qname: String = row.get(0)?;
    let qtype = rrtype_at(row, 1)?;
    let rcode = Rcode(u16::try_from(row.get::<_, i64>(2)?).unwrap_or(0));
    let identity = identity_of(&[
        qname.as_bytes(),
        &qtype.0.to_be_bytes(),
        &rcode.0.to_be_bytes(),
    ]);
    let value = value_from_row(row, 4)?;
    Ok(Decoded {
        row: NegativeRow {
            qname: Name::from_canonical_unchecked(qname),
            qtype,
            rcode,
            time_first: value.time_first,
            time_last: value.time_last,
            count: value.count,
            sensors: Vec::new(),
        },
        identity,
        value,
        sensor: row.get(3)?,
    })
}

impl SqliteStore {
    fn client_sql(&self, sel: &Selector, filter: &TupleFilter) -> Result<Sql, QueryError> {
        const COLS: &str =
            "n.name, c.client, c.qtype, c.sensor, c.time_first, c.time_last, c.count";
        let mut params = Vec::new();
        let text = match sel {
            Selector::Name(ns) => {
                return self.starting_from_names(
                    COLS,
                    ns,
                    "n",
                    "JOIN clients c ON c.name_id = n.id",
                    "",
                    ("c.qtype", "c.sensor"),
                    filter,
                );
            }
            Selector::Address { lo, hi } => {
                let lo = codec::address_key(*lo);
                let len = lo.len();
                params.push(Value::Blob(lo));
                params.push(Value::Blob(codec::address_key(*hi)));
                let types = type_condition("c.qtype", filter, &mut params);
                let sensors =
                    self.sensor_condition("c.sensor", filter.sensors.as_ref(), &mut params)?;
                format!(
                    "SELECT {COLS} FROM clients c JOIN names n ON n.id = c.name_id \
                     WHERE c.client >= ? AND c.client <= ? AND length(c.client) = {len}\
                     {types}{sensors} ORDER BY c.client, n.name, c.qtype"
                )
            }
            Selector::RdataName(_) => {
                return Err(QueryError::Invalid(
                    "client sightings are kept by query name: --rdata does not apply".into(),
                ));
            }
        };
        Ok(Sql {
            text,
            params,
            candidates: None,
        })
    }

    fn negative_sql(&self, sel: &Selector, filter: &TupleFilter) -> Result<Sql, QueryError> {
        let Selector::Name(ns) = sel else {
            return Err(QueryError::Invalid(
                "negative answers are kept by query name: give a name pattern".into(),
            ));
        };
        self.starting_from_names(
            "n.name, g.qtype, g.rcode, g.sensor, g.time_first, g.time_last, g.count",
            ns,
            "n",
            "JOIN negatives g ON g.name_id = n.id",
            "",
            ("g.qtype", "g.sensor"),
            filter,
        )
    }

    /// Streams merged client sightings of exactly these stored clients (an address, its
    /// masked network, or a keyed-hash token), in client order.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn for_each_client_id(
        &mut self,
        ids: &[ClientId],
        filter: &TupleFilter,
        f: impl FnMut(ClientRow) -> ControlFlow<()>,
    ) -> Result<QueryStats, QueryError> {
        let mut ids: Vec<ClientId> = ids.to_vec();
        ids.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        ids.dedup();
        let mut params: Vec<Value> = ids
            .iter()
            .map(|c| Value::Blob(c.as_bytes().to_vec()))
            .collect();
        let marks = vec!["?"; params.len().max(1)].join(", ");
        if params.is_empty() {
            params.push(Value::Null);
        }
        let types = type_condition("c.qtype", filter, &mut params);
        let sensors = self.sensor_condition("c.sensor", filter.sensors.as_ref(), &mut params)?;
        let sql = Sql {
            text: format!(
                "SELECT n.name, c.client, c.qtype, c.sensor, c.time_first, c.time_last, c.count \
                 FROM clients c JOIN names n ON n.id = c.name_id \
                 WHERE c.client IN ({marks}){types}{sensors} ORDER BY c.client, n.name, c.qtype"
            ),
            params,
            candidates: None,
        };
        self.stream_merged(&sql, filter.fence, client_from_row, f)
    }

    /// Streams merged client sightings: by query name, or by client address range.
    ///
    /// # Errors
    /// When the selector does not apply or SQLite fails.
    pub fn for_each_client(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: impl FnMut(ClientRow) -> ControlFlow<()>,
    ) -> Result<QueryStats, QueryError> {
        let sql = self.client_sql(sel, filter)?;
        self.stream_merged(&sql, filter.fence, client_from_row, f)
    }

    /// Streams merged negative answers (NXDOMAIN and other rcodes) for a name selector.
    ///
    /// # Errors
    /// When the selector does not apply or SQLite fails.
    pub fn for_each_negative(
        &mut self,
        sel: &Selector,
        filter: &TupleFilter,
        f: impl FnMut(NegativeRow) -> ControlFlow<()>,
    ) -> Result<QueryStats, QueryError> {
        let sql = self.negative_sql(sel, filter)?;
        self.stream_merged(&sql, filter.fence, negative_from_row, f)
    }

    /// Query plans of the client and negative queries, for tests.
    ///
    /// # Errors
    /// When the selector does not apply or SQLite fails.
    pub fn explain_other(
        &self,
        clients: bool,
        sel: &Selector,
        filter: &TupleFilter,
    ) -> Result<Vec<String>, QueryError> {
        let sql = if clients {
            self.client_sql(sel, filter)?
        } else {
            self.negative_sql(sel, filter)?
        };
        self.plan(&sql)
    }
}
