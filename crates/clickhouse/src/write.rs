//! The write path: one INSERT per part of a batch (tuples, negatives, clients), then its
//! checkpoints.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
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
    fn start(&mut self, batch: &str, v: &TupleValue, sensor: &SensorId) -> &mut Self {
        self.first = true;
        self.field(batch.as_bytes())
            .num(month_of(v.time_last))
            .field(sensor.as_deref().unwrap_or("").as_bytes())
    }
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

fn tuples_body(id: &str, batch: &Batch) -> Vec<u8> {
    let mut t = Tsv::default();
    for (k, v) in &batch.tuples {
        let l = layout(k.rrtype, &k.rdata);
        let name = k.rrname.as_str();
        t.start(id, v, &k.sensor_id)
            .field(name.as_bytes())
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
    t.body
}

/// The rows of `tuples_by_answer`: tuples with an address or a target name.
fn answers_body(id: &str, batch: &Batch) -> Vec<u8> {
    let mut t = Tsv::default();
    for (k, v) in &batch.tuples {
        let l = layout(k.rrtype, &k.rdata);
        if l.answer_kind == 0 {
            continue;
        }
        t.start(id, v, &k.sensor_id)
            .num(l.answer_kind)
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
    t.body
}

fn negatives_body(id: &str, batch: &Batch) -> Vec<u8> {
    let mut t = Tsv::default();
    for (k, v) in &batch.negatives {
        let name = k.qname.as_str();
        t.start(id, v, &k.sensor_id)
            .field(name.as_bytes())
            .field(reverse_labels(name).as_bytes())
            .num(k.qtype.0)
            .num(k.rcode.0)
            .num(v.time_first)
            .num(v.time_last)
            .num(v.count);
        t.end();
    }
    t.body
}

fn clients_body(id: &str, batch: &Batch) -> Vec<u8> {
    let mut t = Tsv::default();
    for (k, v) in &batch.clients {
        let name = k.qname.as_str();
        t.start(id, v, &k.sensor_id)
            .field(name.as_bytes())
            .field(reverse_labels(name).as_bytes())
            .field(k.client.as_bytes())
            .num(k.qtype.0)
            .num(v.time_first)
            .num(v.time_last)
            .num(v.count);
        t.end();
    }
    t.body
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

/// The parts of a batch in write order: receipt part name, landing table, columns and
/// TabSeparated body (empty: nothing to write). Each is one INSERT into a landing table
/// with one data view; checkpoints go last.
fn parts(key: &str, batch: &Batch) -> Vec<(&'static str, &'static str, &'static str, Vec<u8>)> {
    let clients = clients_body(key, batch);
    vec![
        (
            "tuples",
            "tuples_in",
            TUPLE_COLUMNS,
            tuples_body(key, batch),
        ),
        (
            "answers",
            "answers_in",
            ANSWER_COLUMNS,
            answers_body(key, batch),
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
            clients.clone(),
        ),
        ("clients", "clients_in", CLIENT_COLUMNS, clients),
    ]
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
        .map(|(_, table, columns, body)| (table, columns, body))
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
    /// What holds: each part (tuples, the answer index, negatives, the client index,
    /// clients) is one INSERT into its own `Null` landing table, one block (at most
    /// 16 Mi rows), which feeds one data view and then
    /// (views run in name order on 18.16, and stop at the first failure) the view that
    /// writes the part's receipt. A lost answer, a dropped connection, a timeout, a
    /// server restart between INSERTs, or an INSERT refused by the data table ("too many
    /// parts") leave each part either in with its receipt or not in at all, so a retry
    /// with the same id counts every sighting once. Not covered: the data written and the
    /// receipt not (a crash or a refused write between the two views of one INSERT), which
    /// a retry counts twice; and a block spread over several monthly partitions is
    /// several parts, committed one by one. ClickHouse has no transaction across tables
    /// or parts. On a cluster with `Replicated*` tables, the same retried block is also
    /// deduplicated by the replicas (`insert_deduplicate`).
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

    fn write_parts(
        &mut self,
        id: &BatchId,
        batch: &Batch,
        check_receipts: bool,
    ) -> Result<WriteStats, Error> {
        let key = id.key();
        let mut stats = WriteStats::default();
        let done: BTreeSet<String> = if !check_receipts
            || (batch.tuples.is_empty() && batch.negatives.is_empty() && batch.clients.is_empty())
        {
            BTreeSet::new()
        } else {
            self.http
                .select_all(&format!(
                    "SELECT part FROM receipts WHERE batch_id = {} GROUP BY part",
                    lit(&key)
                ))?
                .into_iter()
                .filter_map(|mut r| r.drain(..).next())
                .map(|p| String::from_utf8_lossy(&p).into_owned())
                .collect()
        };
        for (part, table, columns, body) in parts(&key, batch) {
            if body.is_empty() || done.contains(part) {
                continue;
            }
            self.http.insert(table, columns, &body)?;
            match part {
                "tuples" => stats.tuples_new = batch.tuples.len() as u64,
                "negatives" => stats.negatives_new = batch.negatives.len() as u64,
                "clients" => stats.clients_new = batch.clients.len() as u64,
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
        if !done.is_empty() {
            tracing::info!(batch = %key, parts = ?done, "batch partly or wholly in already: skipped those parts");
        }
        Ok(stats)
    }

    /// Whether every part of this batch is in the store (for tests and the spool).
    ///
    /// # Errors
    /// When the server fails.
    pub fn batch_parts_in(&self, id: &BatchId) -> Result<Vec<String>, Error> {
        Ok(self
            .http
            .select_all(&format!(
                "SELECT part FROM receipts WHERE batch_id = {} GROUP BY part ORDER BY part",
                lit(&id.key())
            ))?
            .into_iter()
            .filter_map(|mut r| r.drain(..).next())
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .collect())
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
