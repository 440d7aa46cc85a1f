//! The write path: one transaction per aggregator flush.

use std::collections::HashMap;
use std::sync::Arc;

use dnsrecall_model::{ClientKey, NegativeKey, SensorId, TupleKey, TupleValue};
use rusqlite::{Transaction, params};

use crate::{NAME_CACHE_MAX, SqliteStore, WriteError, codec};

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

const MERGE_TIMES: &str = "
    time_first = min(time_first, excluded.time_first),
    time_last = max(time_last, excluded.time_last),
    count = CASE WHEN count > 9223372036854775807 - excluded.count
                 THEN 9223372036854775807 ELSE count + excluded.count END";

impl SqliteStore {
    /// Writes a batch in one transaction: all of it, with its checkpoints, or nothing.
    ///
    /// # Errors
    /// On SQLite failure; the transaction is rolled back and the batch can be retried.
    pub fn write_batch(&mut self, batch: &Batch) -> Result<WriteStats, WriteError> {
        if self.name_ids.len() > NAME_CACHE_MAX {
            self.name_ids.clear();
        }
        let mut stats = WriteStats::default();
        let tx = self.conn.transaction()?;
        let mut ids = Ids {
            names: &mut self.name_ids,
            sensors: &mut self.sensor_ids,
        };
        write_tuples(&tx, &mut ids, &batch.tuples, &mut stats)?;
        write_negatives(&tx, &mut ids, &batch.negatives, &mut stats)?;
        write_clients(&tx, &mut ids, &batch.clients, &mut stats)?;
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
        match tx.commit() {
            Ok(()) => Ok(stats),
            Err(e) => {
                // Ids handed out inside the failed transaction are gone with it.
                self.name_ids.clear();
                self.sensor_ids.clear();
                Err(e.into())
            }
        }
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
    names: &'a mut HashMap<String, i64>,
    sensors: &'a mut HashMap<Arc<str>, i64>,
}

impl Ids<'_> {
    fn name(
        &mut self,
        tx: &Transaction<'_>,
        name: &str,
        stats: &mut WriteStats,
    ) -> rusqlite::Result<i64> {
        if let Some(id) = self.names.get(name) {
            return Ok(*id);
        }
        let found: Option<i64> = {
            let mut st = tx.prepare_cached("SELECT id FROM names WHERE name = ?1")?;
            let mut rows = st.query([name])?;
            rows.next()?.map(|r| r.get(0)).transpose()?
        };
        let id = match found {
            Some(id) => id,
            None => {
                tx.prepare_cached("INSERT INTO names (name) VALUES (?1)")?
                    .execute([name])?;
                let id = tx.last_insert_rowid();
                tx.prepare_cached("INSERT INTO names_fts (rowid, name) VALUES (?1, ?2)")?
                    .execute(params![id, name])?;
                stats.names_new += 1;
                id
            }
        };
        self.names.insert(name.to_owned(), id);
        Ok(id)
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

fn write_tuples(
    tx: &Transaction<'_>,
    ids: &mut Ids<'_>,
    tuples: &[(TupleKey, TupleValue)],
    stats: &mut WriteStats,
) -> rusqlite::Result<()> {
    let mut rows = Vec::with_capacity(tuples.len());
    for (key, value) in tuples {
        let name_id = ids.name(tx, key.rrname.as_str(), stats)?;
        let enc = codec::encode(key.rrtype, &key.rdata);
        let target = match &enc.target {
            Some(t) => ids.name(tx, t, stats)?,
            None => 0,
        };
        let sensor = ids.sensor(tx, &key.sensor_id)?;
        rows.push((name_id, key.rrtype.0, enc.rdata, target, sensor, value));
    }
    // Key order keeps the b-tree writes local.
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    let mut st = tx.prepare_cached(&format!(
        "INSERT INTO tuples (name_id, rrtype, rdata, target, sensor, time_first, time_last, count, ttl)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (name_id, rrtype, rdata, target, sensor) DO UPDATE SET {MERGE_TIMES},
            ttl = CASE WHEN ttl IS NULL THEN excluded.ttl WHEN excluded.ttl IS NULL THEN ttl
                       ELSE max(ttl, excluded.ttl) END
         RETURNING count"
    ))?;
    for (name_id, rrtype, rdata, target, sensor, v) in rows {
        let count = count_i64(v.count);
        let stored: i64 = st.query_row(
            params![
                name_id,
                rrtype,
                rdata,
                target,
                sensor,
                v.time_first,
                v.time_last,
                count,
                v.ttl
            ],
            |r| r.get(0),
        )?;
        if stored == count {
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
    let mut st = tx.prepare_cached(&format!(
        "INSERT INTO negatives (name_id, qtype, rcode, sensor, time_first, time_last, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (name_id, qtype, rcode, sensor) DO UPDATE SET {MERGE_TIMES}
         RETURNING count"
    ))?;
    for (key, v) in negatives {
        let name_id = ids.name(tx, key.qname.as_str(), stats)?;
        let sensor = ids.sensor(tx, &key.sensor_id)?;
        let count = count_i64(v.count);
        let stored: i64 = st.query_row(
            params![
                name_id,
                key.qtype.0,
                key.rcode.0,
                sensor,
                v.time_first,
                v.time_last,
                count
            ],
            |r| r.get(0),
        )?;
        if stored == count {
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
    let mut st = tx.prepare_cached(&format!(
        "INSERT INTO clients (name_id, client, qtype, sensor, time_first, time_last, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (name_id, client, qtype, sensor) DO UPDATE SET {MERGE_TIMES}
         RETURNING count"
    ))?;
    for (key, v) in clients {
        let name_id = ids.name(tx, key.qname.as_str(), stats)?;
        let sensor = ids.sensor(tx, &key.sensor_id)?;
        let count = count_i64(v.count);
        let stored: i64 = st.query_row(
            params![
                name_id,
                key.client.as_bytes(),
                key.qtype.0,
                sensor,
                v.time_first,
                v.time_last,
                count
            ],
            |r| r.get(0),
        )?;
        if stored == count {
            stats.clients_new += 1;
        } else {
            stats.clients_updated += 1;
        }
    }
    Ok(())
}
