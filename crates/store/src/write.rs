//! The write path: one transaction per aggregator flush.

use std::sync::Arc;

use dnsrecall_model::{ClientKey, NegativeKey, SensorId, TupleKey, TupleValue};
use rusqlite::{Transaction, params};

use crate::{FxHashMap, NAME_CACHE_MAX, SqliteStore, WriteError, codec};

/// What one flush writes: merged tuples, negative answers, client sightings, and where
/// each input stands once they are stored.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub tuples: Vec<(TupleKey, TupleValue)>,
    pub negatives: Vec<(NegativeKey, TupleValue)>,
    pub clients: Vec<(ClientKey, TupleValue)>,
    pub checkpoints: Vec<Checkpoint>,
}

impl Batch {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tuples.is_empty()
            && self.negatives.is_empty()
            && self.clients.is_empty()
            && self.checkpoints.is_empty()
    }
}

/// How far an input file has been read, committed with the data read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The path as given (made absolute by the caller).
    pub source: String,
    pub dev: u64,
    pub ino: u64,
    /// A hash of the file's first bytes, to tell a new file on a reused inode.
    pub fingerprint: Vec<u8>,
    /// Byte offset just past the last line whose data is in this batch.
    pub offset: u64,
    /// Number of that line.
    pub line: u64,
}

/// What a write changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    pub tuples_new: u64,
    pub tuples_updated: u64,
    pub negatives_new: u64,
    pub negatives_updated: u64,
    pub clients_new: u64,
    pub clients_updated: u64,
    pub names_new: u64,
}

impl WriteStats {
    pub fn add(&mut self, o: &Self) {
        self.tuples_new += o.tuples_new;
        self.tuples_updated += o.tuples_updated;
        self.negatives_new += o.negatives_new;
        self.negatives_updated += o.negatives_updated;
        self.clients_new += o.clients_new;
        self.clients_updated += o.clients_updated;
        self.names_new += o.names_new;
    }
}

const MAX_COUNT: i64 = i64::MAX;

fn count_i64(c: u64) -> i64 {
    i64::try_from(c).unwrap_or(MAX_COUNT)
}

impl SqliteStore {
    /// Writes a batch in one transaction: all of it, with its checkpoints, or nothing.
    ///
    /// # Errors
    /// On SQLite failure; the transaction is rolled back and the batch can be retried.
    pub fn write_batch(&mut self, batch: &Batch) -> Result<WriteStats, WriteError> {
        let result = self.write_batch_tx(batch);
        if result.is_err() {
            // Ids and chunk tails handed out inside the failed transaction are gone with it.
            self.name_ids.clear();
            self.sensor_ids.clear();
            self.gram_tails.clear();
        }
        result
    }

    fn write_batch_tx(&mut self, batch: &Batch) -> Result<WriteStats, WriteError> {
        if self.name_ids.len() > NAME_CACHE_MAX {
            self.name_ids.clear();
        }
        let mut stats = WriteStats::default();
        let tx = self.conn.transaction()?;
        let mut ids = Ids {
            names: &mut self.name_ids,
            sensors: &mut self.sensor_ids,
            new_names: Vec::new(),
        };
        let t0 = std::time::Instant::now();
        write_tuples(&tx, &mut ids, &batch.tuples, &mut stats)?;
        let t1 = std::time::Instant::now();
        write_negatives(&tx, &mut ids, &batch.negatives, &mut stats)?;
        write_clients(&tx, &mut ids, &batch.clients, &mut stats)?;
        let t2 = std::time::Instant::now();
        crate::grams::index_names(&tx, &mut self.gram_tails, &ids.new_names)?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO checkpoints
                 (source, dev, ino, fingerprint, offset, line, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, unixepoch())",
            )?;
            for c in &batch.checkpoints {
                st.execute(params![
                    c.source,
                    c.dev.cast_signed(),
                    c.ino.cast_signed(),
                    c.fingerprint,
                    c.offset.cast_signed(),
                    c.line.cast_signed()
                ])?;
            }
        }
        let t3 = std::time::Instant::now();
        let committed = tx.commit();
        tracing::debug!(
            tuples_ms = (t1 - t0).as_millis(),
            negatives_clients_ms = (t2 - t1).as_millis(),
            grams_checkpoints_ms = (t3 - t2).as_millis(),
            commit_ms = t3.elapsed().as_millis(),
            "batch written"
        );
        committed?;
        Ok(stats)
    }

    /// The checkpoint stored for a source path, if any.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, crate::QueryError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT dev, ino, fingerprint, offset, line FROM checkpoints WHERE source = ?1",
                [source],
                |r| {
                    Ok(Checkpoint {
                        source: source.to_owned(),
                        dev: r.get::<_, i64>(0)?.cast_unsigned(),
                        ino: r.get::<_, i64>(1)?.cast_unsigned(),
                        fingerprint: r.get(2)?,
                        offset: r.get::<_, i64>(3)?.cast_unsigned(),
                        line: r.get::<_, i64>(4)?.cast_unsigned(),
                    })
                },
            )
            .optional()?)
    }
}

struct Ids<'a> {
    names: &'a mut FxHashMap<String, i64>,
    sensors: &'a mut FxHashMap<Arc<str>, i64>,
    /// Names created in this transaction, ids ascending, for the substring index.
    new_names: Vec<(i64, String)>,
}

impl Ids<'_> {
    /// Gives every name of the batch an id: from the cache, else by inserting it (most
    /// names missing from the cache are new), else by looking it up.
    fn resolve<'n>(
        &mut self,
        tx: &Transaction<'_>,
        names: impl Iterator<Item = &'n str>,
        stats: &mut WriteStats,
    ) -> rusqlite::Result<()> {
        let mut missing: Vec<&str> = names.filter(|n| !self.names.contains_key(*n)).collect();
        missing.sort_unstable();
        missing.dedup();
        let mut insert =
            tx.prepare("INSERT INTO names (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?;
        let mut select = tx.prepare("SELECT id FROM names WHERE name = ?1")?;
        for name in missing {
            let id = if insert.execute([name])? == 1 {
                stats.names_new += 1;
                let id = tx.last_insert_rowid();
                self.new_names.push((id, name.to_owned()));
                id
            } else {
                select.query_row([name], |r| r.get(0))?
            };
            self.names.insert(name.to_owned(), id);
        }
        Ok(())
    }

    fn name(&self, name: &str) -> rusqlite::Result<i64> {
        self.names
            .get(name)
            .copied()
            .ok_or(rusqlite::Error::QueryReturnedNoRows)
    }

    fn sensor(&mut self, tx: &Transaction<'_>, sensor: &SensorId) -> rusqlite::Result<i64> {
        let Some(s) = sensor else { return Ok(0) };
        if let Some(id) = self.sensors.get(s) {
            return Ok(*id);
        }
        tx.prepare_cached("INSERT OR IGNORE INTO sensors (name) VALUES (?1)")?
            .execute([&**s])?;
        let id: i64 = tx
            .prepare_cached("SELECT id FROM sensors WHERE name = ?1")?
            .query_row([&**s], |r| r.get(0))?;
        self.sensors.insert(s.clone(), id);
        Ok(id)
    }
}

/// Upserts one table's rows: insert, and where the key exists, merge into it. Two plain
/// statements are cheaper than an upsert with RETURNING, and say which rows are new.
struct Upsert<'t> {
    insert: rusqlite::Statement<'t>,
    update: rusqlite::Statement<'t>,
}

impl<'t> Upsert<'t> {
    fn new(
        tx: &'t Transaction<'_>,
        table: &str,
        key: &[&str],
        extra: &[&str],
    ) -> rusqlite::Result<Self> {
        let mut cols: Vec<&str> = key.to_vec();
        cols.extend_from_slice(&["time_first", "time_last", "count"]);
        cols.extend_from_slice(extra);
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let insert = tx.prepare(&format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
            cols.join(", "),
            marks.join(", ")
        ))?;
        let n = key.len();
        let mut set = vec![
            format!("time_first = min(time_first, ?{})", n + 1),
            format!("time_last = max(time_last, ?{})", n + 2),
            format!(
                "count = CASE WHEN count > 9223372036854775807 - ?{c} \
                 THEN 9223372036854775807 ELSE count + ?{c} END",
                c = n + 3
            ),
        ];
        for (i, col) in extra.iter().enumerate() {
            let p = n + 4 + i;
            set.push(format!(
                "{col} = CASE WHEN {col} IS NULL THEN ?{p} WHEN ?{p} IS NULL THEN {col} \
                 ELSE max({col}, ?{p}) END"
            ));
        }
        let cond: Vec<String> = key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ?{}", i + 1))
            .collect();
        let update = tx.prepare(&format!(
            "UPDATE {table} SET {} WHERE {}",
            set.join(", "),
            cond.join(" AND ")
        ))?;
        Ok(Self { insert, update })
    }

    /// True when the row is new.
    fn run(&mut self, params: &[&dyn rusqlite::ToSql]) -> rusqlite::Result<bool> {
        if self.insert.execute(params)? == 1 {
            return Ok(true);
        }
        self.update.execute(params)?;
        Ok(false)
    }
}

fn write_tuples(
    tx: &Transaction<'_>,
    ids: &mut Ids<'_>,
    tuples: &[(TupleKey, TupleValue)],
    stats: &mut WriteStats,
) -> rusqlite::Result<()> {
    let encoded: Vec<codec::Encoded<'_>> = tuples
        .iter()
        .map(|(k, _)| codec::encode(k.rrtype, &k.rdata))
        .collect();
    let names = tuples
        .iter()
        .map(|(k, _)| k.rrname.as_str())
        .chain(encoded.iter().filter_map(|e| e.target.as_deref()));
    ids.resolve(tx, names, stats)?;
    let mut rows = Vec::with_capacity(tuples.len());
    for ((key, value), enc) in tuples.iter().zip(encoded) {
        let name_id = ids.name(key.rrname.as_str())?;
        let target = match &enc.target {
            Some(t) => ids.name(t)?,
            None => 0,
        };
        let sensor = ids.sensor(tx, &key.sensor_id)?;
        rows.push((name_id, key.rrtype.0, enc.rdata, target, sensor, value));
    }
    // Key order keeps the b-tree writes local.
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    let mut up = Upsert::new(
        tx,
        "tuples",
        &["name_id", "rrtype", "rdata", "target", "sensor"],
        &["ttl"],
    )?;
    for (name_id, rrtype, rdata, target, sensor, v) in rows {
        let count = count_i64(v.count);
        if up.run(rusqlite::params![
            name_id,
            rrtype,
            rdata,
            target,
            sensor,
            v.time_first,
            v.time_last,
            count,
            v.ttl
        ])? {
            stats.tuples_new += 1;
        } else {
            stats.tuples_updated += 1;
        }
    }
    Ok(())
}

fn write_negatives(
    tx: &Transaction<'_>,
    ids: &mut Ids<'_>,
    negatives: &[(NegativeKey, TupleValue)],
    stats: &mut WriteStats,
) -> rusqlite::Result<()> {
    ids.resolve(tx, negatives.iter().map(|(k, _)| k.qname.as_str()), stats)?;
    let mut up = Upsert::new(
        tx,
        "negatives",
        &["name_id", "qtype", "rcode", "sensor"],
        &[],
    )?;
    for (key, v) in negatives {
        let name_id = ids.name(key.qname.as_str())?;
        let sensor = ids.sensor(tx, &key.sensor_id)?;
        let count = count_i64(v.count);
        if up.run(params![
            name_id,
            key.qtype.0,
            key.rcode.0,
            sensor,
            v.time_first,
            v.time_last,
            count
        ])? {
            stats.negatives_new += 1;
        } else {
            stats.negatives_updated += 1;
        }
    }
    Ok(())
}

fn write_clients(
    tx: &Transaction<'_>,
    ids: &mut Ids<'_>,
    clients: &[(ClientKey, TupleValue)],
    stats: &mut WriteStats,
) -> rusqlite::Result<()> {
    ids.resolve(tx, clients.iter().map(|(k, _)| k.qname.as_str()), stats)?;
    let mut rows = Vec::with_capacity(clients.len());
    for (key, v) in clients {
        rows.push((ids.name(key.qname.as_str())?, key, v));
    }
    rows.sort_unstable_by_key(|r| r.0);
    let mut up = Upsert::new(
        tx,
        "clients",
        &["name_id", "client", "qtype", "sensor"],
        &[],
    )?;
    for (name_id, key, v) in rows {
        let sensor = ids.sensor(tx, &key.sensor_id)?;
        let count = count_i64(v.count);
        if up.run(params![
            name_id,
            key.client.as_bytes(),
            key.qtype.0,
            sensor,
            v.time_first,
            v.time_last,
            count
        ])? {
            stats.clients_new += 1;
        } else {
            stats.clients_updated += 1;
        }
    }
    Ok(())
}
