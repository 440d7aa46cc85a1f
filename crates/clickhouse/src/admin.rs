//! Statistics and retention.
//!
//! Retention drops whole monthly partitions: `prune(older_than)` forgets every sighting
//! recorded in a month that ended before `older_than`'s month began. SQLite deletes a
//! tuple when its merged `time_last` is older than the cutoff and otherwise keeps it all;
//! here a tuple seen both before and after the cutoff month keeps only its later
//! sightings (its `time_first` and `count` then start in the kept months). Both agree on
//! tuples whose sightings lie on one side of a month boundary cutoff.

use std::sync::Arc;

use dnsrecall_model::RrType;
use dnsrecall_store::{PruneStats, StoreStats};

use crate::sql::lit;
use crate::write::month_of;
use crate::{ClickHouseStore, Error};

/// The first month `prune(older_than)` keeps.
#[must_use]
pub fn prune_cutoff_month(older_than: i64) -> u32 {
    month_of(older_than)
}

impl ClickHouseStore {
    fn count(&self, sql: &str) -> Result<u64, Error> {
        Ok(self
            .http
            .select_one(sql)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    fn distinct_keys(&self, table: &str, key: &str, cond: &str) -> Result<u64, Error> {
        self.count(&format!(
            "SELECT count() FROM (SELECT 1 FROM {table} WHERE rev_name != '' AND {cond} \
             GROUP BY {key})"
        ))
    }

    fn distinct_names(&self) -> Result<u64, Error> {
        self.count(
            "SELECT uniqExact(n) FROM (\
               SELECT rrname AS n FROM tuples WHERE rrname != '' \
               UNION ALL SELECT target AS n FROM tuples WHERE target != '' \
               UNION ALL SELECT qname AS n FROM negatives WHERE qname != '' \
               UNION ALL SELECT qname AS n FROM clients WHERE qname != '')",
        )
    }

    /// Sizes and counts of the whole store, counted as SQLite counts them: tuples,
    /// negatives and clients per key and sensor; names over owners, targets and query
    /// names. Reads every key: seconds to minutes on large stores.
    ///
    /// # Errors
    /// When the server fails.
    pub fn stats(&self) -> Result<StoreStats, Error> {
        const TUPLE_KEY: &str = "rev_name, rrtype, rdata_key, target, rdata, sensor";
        let mut by_type: Vec<(RrType, u64)> = Vec::new();
        for r in self.http.select_all(&format!(
            "SELECT rrtype, count() AS n FROM (SELECT rrtype FROM tuples WHERE rev_name != '' GROUP BY {TUPLE_KEY}) \
             GROUP BY rrtype ORDER BY n DESC, rrtype"
        ))? {
            let num = |i: usize| {
                r.get(i)
                    .and_then(|f| std::str::from_utf8(f).ok())
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| Error::Protocol("bad by-type row".into()))
            };
            by_type.push((RrType(u16::try_from(num(0)?).unwrap_or(0)), num(1)?));
        }
        let times = self.http.select_all(
            "SELECT min(t0), max(t1), sum(k) FROM (\
               SELECT minMerge(time_first) AS t0, maxMerge(time_last) AS t1, count() AS k \
               FROM tuples WHERE rev_name != '' \
               UNION ALL SELECT minMerge(time_first) AS t0, maxMerge(time_last) AS t1, \
               count() AS k FROM negatives WHERE rev_name != '') WHERE k > 0",
        )?;
        let (mut time_first, mut time_last) = (None, None);
        if let Some(r) = times.first() {
            let rows: u64 = r
                .get(2)
                .and_then(|f| std::str::from_utf8(f).ok()?.parse().ok())
                .unwrap_or(0);
            if rows > 0 {
                let t =
                    |i: usize| -> Option<i64> { std::str::from_utf8(r.get(i)?).ok()?.parse().ok() };
                (time_first, time_last) = (t(0), t(1));
            }
        }
        let mut sensors: Vec<Arc<str>> = Vec::new();
        for r in self.http.select_all(
            "SELECT s FROM (\
               SELECT DISTINCT sensor AS s FROM tuples WHERE rev_name != '' \
               UNION ALL SELECT DISTINCT sensor AS s FROM negatives WHERE rev_name != '' \
               UNION ALL SELECT DISTINCT sensor AS s FROM clients WHERE rev_name != '') \
             WHERE s != '' GROUP BY s ORDER BY s",
        )? {
            if let Some(s) = r.first() {
                sensors.push(Arc::from(String::from_utf8_lossy(s).as_ref()));
            }
        }
        Ok(StoreStats {
            path: self.url.to_string(),
            bytes: self.count(&format!(
                "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = {} AND active",
                lit(&self.url.database)
            ))?,
            schema_version: i64::from(self.schema_version()?),
            tuples: by_type.iter().map(|(_, n)| n).sum(),
            names: self.distinct_names()?,
            negatives: self.distinct_keys("negatives", "rev_name, qtype, rcode, sensor", "1")?,
            clients: self.distinct_keys("clients", "rev_name, client, qtype, sensor", "1")?,
            by_type,
            time_first,
            time_last,
            sensors,
        })
    }

    /// Monthly partitions of a table, as `YYYYMM`.
    fn partitions(&self, table: &str) -> Result<Vec<u32>, Error> {
        let stored = match &self.url.cluster {
            Some(_) => format!("{table}_local"),
            None => table.to_owned(),
        };
        let mut out: Vec<u32> = self
            .http
            .select_all(&format!(
                "SELECT DISTINCT partition FROM system.parts \
                 WHERE database = {} AND table = {} AND active",
                lit(&self.url.database),
                lit(&stored)
            ))?
            .into_iter()
            .filter_map(|r| std::str::from_utf8(r.first()?).ok()?.parse().ok())
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn drop_before(&self, tables: &[&str], month: u32) -> Result<(), Error> {
        for table in tables {
            for p in self.partitions(table)? {
                if p < month {
                    let (stored, on) = match &self.url.cluster {
                        Some(c) => (format!("{table}_local"), format!(" ON CLUSTER {c}")),
                        None => ((*table).to_owned(), String::new()),
                    };
                    self.http
                        .execute(&format!("ALTER TABLE {stored}{on} DROP PARTITION {p}"))?;
                }
            }
        }
        Ok(())
    }

    /// Drops the monthly partitions of tuples and negative answers before the month of
    /// `older_than`, and those of client sightings before the month of
    /// `clients_older_than` (or `older_than`), and the batch receipts received before the
    /// month of `older_than`. The counts are of the keys (per sensor)
    /// that had sightings in the dropped months; `names` is how many fewer distinct
    /// names the store holds afterwards. See the module doc for how this differs from
    /// SQLite's row-wise prune.
    ///
    /// # Errors
    /// When the server fails (partitions dropped so far stay dropped).
    pub fn prune(
        &mut self,
        older_than: Option<i64>,
        clients_older_than: Option<i64>,
    ) -> Result<PruneStats, Error> {
        let mut stats = PruneStats::default();
        let names_before = self.distinct_names()?;
        if let Some(t) = older_than {
            let m = prune_cutoff_month(t);
            let cond = format!("month < {m}");
            stats.tuples = self.distinct_keys(
                "tuples",
                "rev_name, rrtype, rdata_key, target, rdata, sensor",
                &cond,
            )?;
            stats.negatives =
                self.distinct_keys("negatives", "rev_name, qtype, rcode, sensor", &cond)?;
            // Receipts received before the cutoff month go too: a batch spooled that long
            // ago and replayed now would be counted again, a risk accepted for a bounded
            // receipts table.
            self.drop_before(&["tuples", "tuples_by_answer", "negatives", "receipts"], m)?;
        }
        if let Some(t) = clients_older_than.or(older_than) {
            let m = prune_cutoff_month(t);
            stats.clients = self.distinct_keys(
                "clients",
                "rev_name, client, qtype, sensor",
                &format!("month < {m}"),
            )?;
            self.drop_before(&["clients", "clients_by_client"], m)?;
        }
        stats.names = names_before.saturating_sub(self.distinct_names()?);
        Ok(stats)
    }

    /// Merges every part of the sightings tables into one per partition
    /// (`OPTIMIZE TABLE ... FINAL`): reads then fold fewer rows. Returns the bytes on disk
    /// before and after (old parts linger a few minutes before the server removes them).
    ///
    /// # Errors
    /// When the server fails.
    pub fn compact(&mut self) -> Result<(u64, u64), Error> {
        let size = |s: &Self| {
            s.count(&format!(
                "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = {} AND active",
                lit(&s.url.database)
            ))
        };
        let before = size(self)?;
        for table in [
            "tuples",
            "tuples_by_answer",
            "negatives",
            "clients",
            "clients_by_client",
        ] {
            let (stored, on) = match &self.url.cluster {
                Some(c) => (format!("{table}_local"), format!(" ON CLUSTER {c}")),
                None => (table.to_owned(), String::new()),
            };
            self.http
                .execute(&format!("OPTIMIZE TABLE {stored}{on} FINAL"))?;
        }
        Ok((before, size(self)?))
    }
}
