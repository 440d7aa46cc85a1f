//! The write path: one INSERT per part of a batch (tuples, negatives, clients), then its
//! checkpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use dnsrecall_model::{NameSlots, RrType, SensorId, TupleValue, reverse_labels};
use dnsrecall_store::{Batch, Checkpoint, WriteStats};

use crate::sql::{hex, lit, tsv_field, unhex};
use crate::{ClickHouseStore, Error};

/// The identity of a batch: the same id written twice counts once. `seq` orders batches
/// of one writer (microseconds since the epoch at creation, strictly increasing within a
/// process) and versions their checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchId {
    pub seq: u64,
    /// 32 hex digits: 128 random bits.
    pub nonce: String,
}

static LAST_SEQ: AtomicU64 = AtomicU64::new(0);

impl BatchId {
    /// A new id.
    ///
    /// # Errors
    /// When the system has no randomness to give.
    pub fn new() -> Result<Self, Error> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| Error::Protocol(format!("no randomness: {e}")))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let mut last = LAST_SEQ.load(Ordering::Relaxed);
        let seq = loop {
            let seq = now.max(last + 1);
            match LAST_SEQ.compare_exchange(last, seq, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break seq,
                Err(x) => last = x,
            }
        };
        Ok(Self {
            seq,
            nonce: hex(&b),
        })
    }

    /// The text stored in `receipts.batch_id`.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{:020}-{}", self.seq, self.nonce)
    }

    /// Whether the id has the shape [`BatchId::new`] gives (ids read back from spool files).
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.nonce.len() == 32 && unhex(self.nonce.as_bytes()).is_some()
    }
}

/// `YYYYMM` of an epoch time (UTC), the partition of a row; times before 1970 go to 197001.
#[must_use]
pub fn month_of(secs: i64) -> u32 {
    let days = secs.max(0) / 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    u32::try_from(y * 100 + m).unwrap_or(u32::MAX)
}

/// How a tuple's rdata is laid out in the tables: the canonical text (the identity), the
/// sort key SQLite's layout gives it (address bytes; the text around a target name), the
/// target name, and the answer key of `tuples_by_answer`.
pub(crate) struct Layout {
    pub rdata: String,
    pub rdata_key: Vec<u8>,
    pub target: String,
    pub answer_kind: u8,
    pub answer: Vec<u8>,
}

pub(crate) const ANSWER_NAME: u8 = 1;
pub(crate) const ANSWER_V4: u8 = 4;
pub(crate) const ANSWER_V6: u8 = 6;

pub(crate) fn layout(rrtype: RrType, rdata: &dnsrecall_model::Rdata) -> Layout {
    let text = rdata.as_str();
    if rrtype == RrType::A
        && let Ok(ip) = text.parse::<Ipv4Addr>()
    {
        let b = ip.octets().to_vec();
        return Layout {
            rdata: ip.to_string(),
            rdata_key: b.clone(),
            target: String::new(),
            answer_kind: ANSWER_V4,
            answer: b,
        };
    }
    if rrtype == RrType::AAAA
        && let Ok(ip) = text.parse::<Ipv6Addr>()
    {
        let b = ip.octets().to_vec();
        return Layout {
            rdata: ip.to_string(),
            rdata_key: b.clone(),
            target: String::new(),
            answer_kind: ANSWER_V6,
            answer: b,
        };
    }
    let target = rdata.target_name(rrtype).map(String::from);
    let rdata_key = match (NameSlots::of(rrtype), &target) {
        (NameSlots::Whole, Some(_)) => String::new(),
        (NameSlots::Last, Some(_)) => text
            .rsplit_once(' ')
            .map(|(h, _)| h)
            .unwrap_or("")
            .to_owned(),
        _ => text.to_owned(),
    };
    match target {
        Some(t) => Layout {
            rdata: text.to_owned(),
            rdata_key: rdata_key.into_bytes(),
            answer: reverse_labels(&t).into_bytes(),
            target: t,
            answer_kind: ANSWER_NAME,
        },
        None => Layout {
            rdata: text.to_owned(),
            rdata_key: rdata_key.into_bytes(),
            target: String::new(),
            answer_kind: 0,
            answer: Vec::new(),
        },
    }
}

/// Builds a TabSeparated body one field at a time.
#[derive(Default)]
struct Tsv {
    body: Vec<u8>,
    first: bool,
}

impl Tsv {
    fn field(&mut self, v: &[u8]) -> &mut Self {
        if !self.first {
            self.body.push(b'\t');
        }
        self.first = false;
        tsv_field(&mut self.body, v);
        self
    }
    fn num(&mut self, v: impl std::fmt::Display) -> &mut Self {
        self.field(v.to_string().as_bytes())
    }
    fn end(&mut self) {
        self.body.push(b'\n');
        self.first = true;
    }
    fn start(&mut self, batch: &str, month: u32, sensor: &str) -> &mut Self {
        self.first = true;
        self.field(batch.as_bytes())
            .num(month)
            .field(sensor.as_bytes())
    }
}

/// The rows of one landing table for one batch, one body per month (partition): each body
/// is one INSERT, which becomes one part of the table behind the landing table's view.
#[derive(Default)]
struct Months(BTreeMap<u32, (Tsv, u64)>);

/// One month's INSERT body of a landing table and the rows in it (without the receipt).
/// Shared: the client index and the clients table get the same bodies.
type MonthBody = (u32, Rc<[u8]>, u64);

impl Months {
    /// A new row of `v`'s month.
    fn row(&mut self, batch: &str, v: &TupleValue, sensor: &SensorId) -> &mut Tsv {
        let month = month_of(v.time_last);
        let (t, rows) = self.0.entry(month).or_default();
        *rows += 1;
        t.start(batch, month, sensor.as_deref().unwrap_or(""));
        t
    }

    /// Each month's body with the part's receipt row last.
    fn finish(self, batch: &str, receipt: fn(&mut Tsv, &str, u32)) -> Vec<MonthBody> {
        self.0
            .into_iter()
            .map(|(month, (mut t, rows))| {
                receipt(&mut t, batch, month);
                t.end();
                (month, Rc::from(t.body), rows)
            })
            .collect()
    }
}

// Receipt rows. A receipt travels in the same INSERT as the rows it vouches for, through
// the same view into the same part: the part is committed whole or not at all, so rows and
// receipt are either both in or both out (`ClickHouseStore::write_batch_with_id`). A
// receipt has an empty name (real names never are: the root is `.`), counts nothing, and
// holds the batch key in a key column, so one primary-key lookup finds it. Reads leave
// receipts out by their empty name (see `read.rs`, `scan.rs`, `admin.rs`).

fn tuple_receipt(t: &mut Tsv, batch: &str, month: u32) {
    // rrname, rev_name, rrtype, rdata = key, rdata_key, target, t_first, t_last, n, ttl
    t.start(batch, month, "")
        .field(b"")
        .field(b"")
        .num(0)
        .field(batch.as_bytes())
        .field(b"")
        .field(b"")
        .num(0)
        .num(0)
        .num(0)
        .num(-1);
}

fn answer_receipt(t: &mut Tsv, batch: &str, month: u32) {
    // answer_kind 0 (real answers are 1, 4 or 6), answer, rrname, rrtype, rdata = key, ...
    t.start(batch, month, "")
        .num(0)
        .field(b"")
        .field(b"")
        .num(0)
        .field(batch.as_bytes())
        .field(b"")
        .field(b"")
        .num(0)
        .num(0)
        .num(0)
        .num(-1);
}

fn negative_receipt(t: &mut Tsv, batch: &str, month: u32) {
    // The key in `sensor`: negatives have no other free text column.
    t.start(batch, month, batch)
        .field(b"")
        .field(b"")
        .num(0)
        .num(0)
        .num(0)
        .num(0)
        .num(0);
}

fn client_receipt(t: &mut Tsv, batch: &str, month: u32) {
    // qname, rev_name, client = key (real clients are 4, 16 or hash bytes), qtype, ...
    t.start(batch, month, "")
        .field(b"")
        .field(b"")
        .field(batch.as_bytes())
        .num(0)
        .num(0)
        .num(0)
        .num(0);
}

/// The receipts of a batch found in the store: (part, month) pairs (public for the
/// release check).
#[doc(hidden)]
#[must_use]
pub fn receipts_sql(key: &str) -> String {
    let k = lit(key);
    format!(
        "SELECT 'tuples' AS part, month FROM tuples WHERE rev_name = '' AND rrname = '' AND rrtype = 0 \
           AND rdata_key = '' AND target = '' AND rdata = {k} GROUP BY month \
         UNION ALL SELECT 'answers' AS part, month FROM tuples_by_answer WHERE answer_kind = 0 \
           AND answer = '' AND rrname = '' AND rrtype = 0 AND rdata_key = '' AND target = '' \
           AND rdata = {k} GROUP BY month \
         UNION ALL SELECT 'negatives' AS part, month FROM negatives WHERE rev_name = '' AND qname = '' \
           AND qtype = 0 AND rcode = 0 AND sensor = {k} GROUP BY month \
         UNION ALL SELECT 'clients' AS part, month FROM clients WHERE rev_name = '' AND qname = '' \
           AND client = {k} GROUP BY month \
         UNION ALL SELECT 'client_index' AS part, month FROM clients_by_client WHERE client = {k} \
           AND qname = '' GROUP BY month"
    )
}

const TUPLE_COLUMNS: &str = "batch_id, month, sensor, rrname, rev_name, rrtype, rdata, rdata_key, \
                             target, t_first, t_last, n, ttl_seen";
const ANSWER_COLUMNS: &str = "batch_id, month, sensor, answer_kind, answer, rrname, rrtype, rdata, \
                              rdata_key, target, t_first, t_last, n, ttl_seen";
const NEGATIVE_COLUMNS: &str =
    "batch_id, month, sensor, qname, rev_name, qtype, rcode, t_first, t_last, n";
const CLIENT_COLUMNS: &str =
    "batch_id, month, sensor, qname, rev_name, client, qtype, t_first, t_last, n";
const CHECKPOINT_COLUMNS: &str = "source, dev, ino, fingerprint, byte_offset, line_number, version";

fn tuples_body(id: &str, batch: &Batch, layouts: &[Layout]) -> Vec<MonthBody> {
    let mut m = Months::default();
    for ((k, v), l) in batch.tuples.iter().zip(layouts) {
        let name = k.rrname.as_str();
        let t = m.row(id, v, &k.sensor_id);
        t.field(name.as_bytes())
            .field(reverse_labels(name).as_bytes())
            .num(k.rrtype.0)
            .field(l.rdata.as_bytes())
            .field(&l.rdata_key)
            .field(l.target.as_bytes())
            .num(v.time_first)
            .num(v.time_last)
            .num(v.count)
            .num(v.ttl.map_or(-1, i64::from));
        t.end();
    }
    m.finish(id, tuple_receipt)
}

/// The rows of `tuples_by_answer`: tuples with an address or a target name.
fn answers_body(id: &str, batch: &Batch, layouts: &[Layout]) -> Vec<MonthBody> {
    let mut m = Months::default();
    for ((k, v), l) in batch.tuples.iter().zip(layouts) {
        if l.answer_kind == 0 {
            continue;
        }
        let t = m.row(id, v, &k.sensor_id);
        t.num(l.answer_kind)
            .field(&l.answer)
            .field(k.rrname.as_str().as_bytes())
            .num(k.rrtype.0)
            .field(l.rdata.as_bytes())
            .field(&l.rdata_key)
            .field(l.target.as_bytes())
            .num(v.time_first)
            .num(v.time_last)
            .num(v.count)
            .num(v.ttl.map_or(-1, i64::from));
        t.end();
    }
    m.finish(id, answer_receipt)
}

fn negatives_body(id: &str, batch: &Batch) -> Vec<MonthBody> {
    let mut m = Months::default();
    for (k, v) in &batch.negatives {
        let name = k.qname.as_str();
        let t = m.row(id, v, &k.sensor_id);
        t.field(name.as_bytes())
            .field(reverse_labels(name).as_bytes())
            .num(k.qtype.0)
            .num(k.rcode.0)
            .num(v.time_first)
            .num(v.time_last)
            .num(v.count);
        t.end();
    }
    m.finish(id, negative_receipt)
}

fn clients_body(id: &str, batch: &Batch) -> Vec<MonthBody> {
    let mut m = Months::default();
    for (k, v) in &batch.clients {
        let name = k.qname.as_str();
        let t = m.row(id, v, &k.sensor_id);
        t.field(name.as_bytes())
            .field(reverse_labels(name).as_bytes())
            .field(k.client.as_bytes())
            .num(k.qtype.0)
            .num(v.time_first)
            .num(v.time_last)
            .num(v.count);
        t.end();
    }
    m.finish(id, client_receipt)
}

fn checkpoints_body(version: u64, batch: &Batch) -> Vec<u8> {
    let mut t = Tsv::default();
    for c in &batch.checkpoints {
        t.first = true;
        t.field(c.source.as_bytes())
            .num(c.dev)
            .num(c.ino)
            .field(hex(&c.fingerprint).as_bytes())
            .num(c.offset)
            .num(c.line)
            .num(version);
        t.end();
    }
    t.body
}

/// Which parts of a batch are in the store.
#[derive(Debug, Default)]
struct Receipts {
    /// (part, month) with a receipt row in its data table.
    parts: BTreeSet<(String, u32)>,
    /// Parts with a schema-1 receipt (all months of them).
    whole: BTreeSet<String>,
}

impl Receipts {
    fn has(&self, part: &str, month: u32) -> bool {
        self.whole.contains(part) || self.parts.contains(&(part.to_owned(), month))
    }
}

/// One INSERT of a batch: the receipt part name, the landing table, its columns, the
/// month (partition) and the TabSeparated body ending with the receipt row.
struct Part {
    name: &'static str,
    table: &'static str,
    columns: &'static str,
    month: u32,
    body: Rc<[u8]>,
    rows: u64,
}

/// The INSERTs of a batch in write order: per landing table (each with one data view),
/// one per month; checkpoints go after all of them.
fn parts(key: &str, batch: &Batch) -> Vec<Part> {
    // Each tuple's layout once, for both tuple tables.
    let layouts: Vec<Layout> = batch
        .tuples
        .iter()
        .map(|(k, _)| layout(k.rrtype, &k.rdata))
        .collect();
    let clients = clients_body(key, batch);
    let tables: [(&'static str, &'static str, &'static str, Vec<MonthBody>); 5] = [
        (
            "tuples",
            "tuples_in",
            TUPLE_COLUMNS,
            tuples_body(key, batch, &layouts),
        ),
        (
            "answers",
            "answers_in",
            ANSWER_COLUMNS,
            answers_body(key, batch, &layouts),
        ),
        (
            "negatives",
            "negatives_in",
            NEGATIVE_COLUMNS,
            negatives_body(key, batch),
        ),
        (
            "client_index",
            "client_index_in",
            CLIENT_COLUMNS,
            // The same rows as `clients`: the bodies are shared, not copied.
            clients.clone(),
        ),
        ("clients", "clients_in", CLIENT_COLUMNS, clients),
    ];
    let mut out = Vec::new();
    for (name, table, columns, months) in tables {
        for (month, body, rows) in months {
            out.push(Part {
                name,
                table,
                columns,
                month,
                body,
                rows,
            });
        }
    }
    out
}

/// Columns that hold numbers (written bare in VALUES).
const NUMERIC: &[&str] = &[
    "month",
    "rrtype",
    "answer_kind",
    "t_first",
    "t_last",
    "n",
    "ttl_seen",
    "qtype",
    "rcode",
    "dev",
    "ino",
    "byte_offset",
    "line_number",
    "version",
];

/// The INSERT statements of a batch as plain-ASCII SQL text (`VALUES` with escaped
/// literals) instead of TabSeparated bodies: to check the schema on other releases or
/// engines that take SQL text only (an in-process ClickHouse).
#[doc(hidden)]
#[must_use]
pub fn insert_statements(id: &BatchId, batch: &Batch) -> Vec<String> {
    let key = id.key();
    let mut parts: Vec<(&str, &str, Vec<u8>)> = parts(&key, batch)
        .into_iter()
        .map(|p| (p.table, p.columns, p.body.to_vec()))
        .collect();
    parts.push((
        "checkpoints",
        CHECKPOINT_COLUMNS,
        checkpoints_body(id.seq, batch),
    ));
    let mut out = Vec::new();
    for (table, columns, body) in parts {
        if body.is_empty() {
            continue;
        }
        let numeric: Vec<bool> = columns
            .split(',')
            .map(|c| NUMERIC.contains(&c.trim()))
            .collect();
        let rows: Vec<String> = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|line| {
                let fields: Vec<String> = crate::sql::tsv_row(line)
                    .iter()
                    .zip(&numeric)
                    .map(|(f, num)| {
                        if *num {
                            String::from_utf8_lossy(f).into_owned()
                        } else {
                            crate::sql::lit_bytes(f)
                        }
                    })
                    .collect();
                format!("({})", fields.join(", "))
            })
            .collect();
        out.push(format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            rows.join(", ")
        ));
    }
    out
}

impl ClickHouseStore {
    /// Runs a SELECT and returns its rows, fields unescaped (for checks and tools).
    ///
    /// # Errors
    /// When the server fails.
    #[doc(hidden)]
    pub fn select_rows(&self, sql: &str) -> Result<Vec<Vec<Vec<u8>>>, Error> {
        self.http.select_all(sql)
    }

    /// Writes a batch under a new id. A failed write cannot be retried exactly once
    /// through this call: keep the id with [`ClickHouseStore::write_batch_with_id`] (the
    /// [`crate::spool`] does).
    ///
    /// # Errors
    /// When the server fails.
    pub fn write_batch(&mut self, batch: &Batch) -> Result<WriteStats, Error> {
        // A fresh id has no receipts yet: no need to look them up.
        let id = BatchId::new()?;
        self.write_parts(&id, batch, false)
    }

    /// Writes a batch; a batch id already written (all of it, or some of its parts) has
    /// only its missing parts written. Parts go in order tuples, negatives, clients, and
    /// the checkpoints last, so a checkpoint is never ahead of the data.
    ///
    /// What holds: each part of a batch (tuples, the answer index, negatives, the client
    /// index, clients), split by month, is one INSERT into its own `Null` landing table:
    /// one block (at most 16 Mi rows), which feeds exactly one view, whose output is
    /// squashed into one block (`min_insert_block_size_*`) of one partition: one new part
    /// of the data table. The INSERT's last row is its receipt, so it lands in that same
    /// part, and a part is committed atomically (a rename on disk). A lost answer, a
    /// dropped connection, a timeout, a server stopped or killed at any moment, or an
    /// INSERT refused by the data table ("too many parts") leave each INSERT either in
    /// with its receipt or not in at all, so a retry with the same id counts every
    /// sighting once. The random-kill test in `tests/fault.rs` checks exactly this.
    /// Limits: a batch whose rows of one table and month exceed 16 Mi rows or 4 GiB
    /// would be cut into several parts (the aggregator's batches are far smaller); and a
    /// receipt is dropped with its month's partition by `prune`, so a batch replayed
    /// after its month was pruned counts again. On a cluster, a batch lands on one shard
    /// (sharded by batch id) and its `Replicated*` part is deduplicated by the replicas
    /// too (`insert_deduplicate`).
    ///
    /// Rows written are counted in `*_new` of the returned stats (ClickHouse cannot tell
    /// new keys from updated ones without a read).
    ///
    /// # Errors
    /// When the server fails; the batch can be retried with the same id.
    pub fn write_batch_with_id(
        &mut self,
        id: &BatchId,
        batch: &Batch,
    ) -> Result<WriteStats, Error> {
        self.write_parts(id, batch, true)
    }

    /// The first attempt to write a batch under a new id: nothing of it can be in the
    /// store yet, so its receipts are not looked up. Retries go through
    /// [`ClickHouseStore::write_batch_with_id`].
    ///
    /// # Errors
    /// When the server fails; the batch can be retried with the same id.
    pub fn write_new_batch(&mut self, id: &BatchId, batch: &Batch) -> Result<WriteStats, Error> {
        self.write_parts(id, batch, false)
    }

    fn write_parts(
        &mut self,
        id: &BatchId,
        batch: &Batch,
        check_receipts: bool,
    ) -> Result<WriteStats, Error> {
        let key = id.key();
        let mut stats = WriteStats::default();
        let parts = parts(&key, batch);
        let done = if check_receipts && !parts.is_empty() {
            self.receipts(&key)?
        } else {
            Receipts::default()
        };
        let mut skipped = 0;
        for p in &parts {
            if done.has(p.name, p.month) {
                skipped += 1;
                continue;
            }
            self.http.insert(p.table, p.columns, &p.body)?;
            // Rows, not keys: ClickHouse cannot tell new keys from updated ones.
            match p.name {
                "tuples" => stats.tuples_new += p.rows,
                "negatives" => stats.negatives_new += p.rows,
                "clients" => stats.clients_new += p.rows,
                _ => {}
            }
        }
        if !batch.checkpoints.is_empty() {
            // Idempotent by itself: the same rows again replace themselves.
            self.http.insert(
                "checkpoints",
                CHECKPOINT_COLUMNS,
                &checkpoints_body(id.seq, batch),
            )?;
        }
        if skipped > 0 {
            tracing::info!(batch = %key, skipped, of = parts.len(), "batch partly or wholly in already: skipped those parts");
        }
        Ok(stats)
    }

    /// The receipts of a batch: in the data tables (this schema), and in the `receipts`
    /// table of schema 1 (a batch spooled before an upgrade and replayed after it).
    fn receipts(&self, key: &str) -> Result<Receipts, Error> {
        let mut r = Receipts::default();
        for row in self.http.select_all(&receipts_sql(key))? {
            if let (Some(part), Some(month)) = (row.first(), row.get(1)) {
                let month = std::str::from_utf8(month)
                    .ok()
                    .and_then(|m| m.parse().ok())
                    .ok_or_else(|| Error::Protocol("bad month in a receipt".into()))?;
                r.parts
                    .insert((String::from_utf8_lossy(part).into_owned(), month));
            }
        }
        for row in self.http.select_all(&format!(
            "SELECT part FROM receipts WHERE batch_id = {} GROUP BY part",
            lit(key)
        ))? {
            if let Some(part) = row.first() {
                r.whole.insert(String::from_utf8_lossy(part).into_owned());
            }
        }
        Ok(r)
    }

    /// The parts of this batch in the store, as `part/YYYYMM` (for tests and tools).
    ///
    /// # Errors
    /// When the server fails.
    pub fn batch_parts_in(&self, id: &BatchId) -> Result<Vec<String>, Error> {
        let r = self.receipts(&id.key())?;
        let mut out: Vec<String> = r
            .parts
            .iter()
            .map(|(p, m)| format!("{p}/{m}"))
            .chain(r.whole.iter().cloned())
            .collect();
        out.sort();
        Ok(out)
    }

    /// The latest checkpoint stored for a source path, if any.
    ///
    /// # Errors
    /// When the server fails or answers something unreadable.
    pub fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, Error> {
        let rows = self.http.select_all(&format!(
            "SELECT argMax(dev, version), argMax(ino, version), argMax(fingerprint, version), \
             argMax(byte_offset, version), argMax(line_number, version) \
             FROM checkpoints WHERE source = {} GROUP BY source",
            lit(source)
        ))?;
        let Some(r) = rows.into_iter().next() else {
            return Ok(None);
        };
        let num = |i: usize| -> Result<u64, Error> {
            let f = r
                .get(i)
                .ok_or_else(|| Error::Protocol("short checkpoint row".into()))?;
            std::str::from_utf8(f)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::Protocol("bad number in checkpoint row".into()))
        };
        let fingerprint = r
            .get(2)
            .and_then(|f| unhex(f))
            .ok_or_else(|| Error::Protocol("bad fingerprint in checkpoint row".into()))?;
        Ok(Some(Checkpoint {
            source: source.to_owned(),
            dev: num(0)?,
            ino: num(1)?,
            fingerprint,
            offset: num(3)?,
            line: num(4)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsrecall_model::Rdata;

    #[test]
    fn months() {
        assert_eq!(month_of(0), 197_001);
        assert_eq!(month_of(-5), 197_001);
        assert_eq!(month_of(1_553_000_000), 201_903); // 2019-03-19
        assert_eq!(month_of(951_782_400), 200_002); // 2000-02-29
        assert_eq!(month_of(951_868_799), 200_002);
        assert_eq!(month_of(951_868_800), 200_003);
        assert_eq!(month_of(1_767_225_599), 202_512);
        assert_eq!(month_of(1_767_225_600), 202_601);
    }

    #[test]
    fn layouts() {
        let l = layout(RrType::A, &Rdata::new(RrType::A, "10.1.2.3").unwrap());
        assert_eq!(
            (l.answer_kind, l.answer.as_slice()),
            (ANSWER_V4, &[10, 1, 2, 3][..])
        );
        let l = layout(
            RrType::MX,
            &Rdata::new(RrType::MX, "10 mail.example.com").unwrap(),
        );
        assert_eq!(l.rdata_key, b"10");
        assert_eq!(l.target, "mail.example.com");
        assert_eq!(l.answer, b"com.example.mail");
        let l = layout(RrType::TXT, &Rdata::new(RrType::TXT, "\"x\"").unwrap());
        assert_eq!((l.answer_kind, l.target.as_str()), (0, ""));
    }

    #[test]
    fn batch_ids_grow() {
        let a = BatchId::new().unwrap();
        let b = BatchId::new().unwrap();
        assert!(b.seq > a.seq && a.is_valid() && a != b);
        assert!(a.key() < b.key());
    }
}
