//! Store statistics and retention.

use std::sync::Arc;

use dnsrecall_model::RrType;

use crate::{QueryError, SqliteStore, WriteError};

/// What `dnsrecall stats` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub path: String,
    /// Database file plus write-ahead log, in bytes.
    pub bytes: u64,
    pub schema_version: i64,
    pub tuples: u64,
    pub names: u64,
    pub negatives: u64,
    pub clients: u64,
    pub by_type: Vec<(RrType, u64)>,
    pub time_first: Option<i64>,
    pub time_last: Option<i64>,
    pub sensors: Vec<Arc<str>>,
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneStats {
    pub tuples: u64,
    pub negatives: u64,
    pub clients: u64,
    pub names: u64,
}

fn count(store: &SqliteStore, sql: &str) -> Result<u64, QueryError> {
    Ok(store
        .conn
        .query_row(sql, [], |r| r.get::<_, i64>(0))?
        .cast_unsigned())
}

impl SqliteStore {
    /// Sizes and counts of the whole store (reads every tuple: seconds on large stores).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn stats(&self) -> Result<StoreStats, QueryError> {
        let file = |suffix: &str| {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        };
        let mut by_type = Vec::new();
        {
            let mut st = self.conn.prepare(
                "SELECT rrtype, count(*) FROM tuples GROUP BY rrtype ORDER BY count(*) DESC",
            )?;
            let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (t, n) = row?;
                by_type.push((RrType(u16::try_from(t).unwrap_or(0)), n.cast_unsigned()));
            }
        }
        let (time_first, time_last) = self.conn.query_row(
            "SELECT min(t0), max(t1) FROM (
                SELECT min(time_first) AS t0, max(time_last) AS t1 FROM tuples
                UNION ALL SELECT min(time_first), max(time_last) FROM negatives)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut sensors = Vec::new();
        {
            let mut st = self
                .conn
                .prepare("SELECT name FROM sensors ORDER BY name")?;
            for n in st.query_map([], |r| r.get::<_, String>(0))? {
                sensors.push(Arc::from(n?));
            }
        }
        Ok(StoreStats {
            path: self.path.display().to_string(),
            bytes: file("") + file("-wal"),
            schema_version: self.conn.query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )?,
            tuples: by_type.iter().map(|(_, n)| n).sum(),
            names: count(self, "SELECT count(*) FROM names")?,
            negatives: count(self, "SELECT count(*) FROM negatives")?,
            clients: count(self, "SELECT count(*) FROM clients")?,
            by_type,
            time_first,
            time_last,
            sensors,
        })
    }

    /// Deletes tuples and negative answers last seen before `older_than`, client sightings
    /// last seen before `clients_older_than`, then the names nothing refers to any more.
    /// The substring index keeps the deleted ids: harmless, since every substring candidate
    /// is checked against the name itself.
    ///
    /// # Errors
    /// On SQLite failure (nothing is deleted then).
    pub fn prune(
        &mut self,
        older_than: Option<i64>,
        clients_older_than: Option<i64>,
    ) -> Result<PruneStats, WriteError> {
        let tx = self.conn.transaction()?;
        let mut stats = PruneStats::default();
        if let Some(t) = older_than {
            stats.tuples = tx.execute("DELETE FROM tuples WHERE time_last < ?1", [t])? as u64;
            stats.negatives = tx.execute("DELETE FROM negatives WHERE time_last < ?1", [t])? as u64;
        }
        if let Some(t) = clients_older_than.or(older_than) {
            stats.clients = tx.execute("DELETE FROM clients WHERE time_last < ?1", [t])? as u64;
        }
        tx.execute_batch(
            "CREATE TEMP TABLE orphans AS SELECT id FROM names n
               WHERE NOT EXISTS (SELECT 1 FROM tuples t WHERE t.name_id = n.id)
                 AND NOT EXISTS (SELECT 1 FROM tuples t WHERE t.target = n.id AND t.target <> 0)
                 AND NOT EXISTS (SELECT 1 FROM negatives g WHERE g.name_id = n.id)
                 AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.name_id = n.id);",
        )?;
        stats.names =
            tx.execute("DELETE FROM names WHERE id IN (SELECT id FROM orphans)", [])? as u64;
        tx.execute_batch("DROP TABLE orphans")?;
        tx.commit()?;
        self.name_ids.clear();
        self.gram_tails.clear();
        Ok(stats)
    }

    /// Rewrites the database file with packed pages (SQLite `VACUUM`): returns the space of
    /// deleted rows and the slack that random-order index inserts leave in pages. Needs
    /// free disk about the size of the store and blocks writers while it runs.
    ///
    /// # Errors
    /// On SQLite failure (the store is left as it was).
    pub fn compact(&mut self) -> Result<(u64, u64), WriteError> {
        let size = |c: &rusqlite::Connection| -> rusqlite::Result<u64> {
            let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok((pages * page).cast_unsigned())
        };
        let before = size(&self.conn)?;
        self.conn.execute_batch("VACUUM")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok((before, size(&self.conn)?))
    }
}
