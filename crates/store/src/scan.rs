//! Whole-store passes for hunts and reports: every stored name, the most asked names,
//! the names first seen in a window. These read every row of a table; they are for
//! batch work (`hunt` with many indicators, `report`), not for interactive queries.

use std::ops::ControlFlow;

use crate::{QueryError, SqliteStore};

/// A name with its total count and first/last sighting (over all its answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTotal {
    pub name: String,
    pub count: u64,
    pub time_first: i64,
    pub time_last: i64,
    /// Answers (tuples) the name has.
    pub answers: u64,
}

impl SqliteStore {
    /// Every stored name (query names and names inside answers), in id order.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn for_each_name(
        &self,
        mut f: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<u64, QueryError> {
        let mut st = self.conn.prepare("SELECT name FROM names")?;
        let mut rows = st.query([])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            n += 1;
            let name: String = row.get(0)?;
            if f(&name).is_break() {
                break;
            }
        }
        Ok(n)
    }

    /// Names by total count of answers seen since `since` (last seen at or after it),
    /// most first. `keep` decides which names count (suppression).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn top_names(
        &self,
        since: Option<i64>,
        limit: usize,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        self.name_totals(
            "SELECT n.name, sum(t.count), min(t.time_first), max(t.time_last), count(*) \
             FROM tuples t JOIN names n ON n.id = t.name_id \
             WHERE t.time_last >= ?1 GROUP BY t.name_id ORDER BY sum(t.count) DESC, n.name",
            since.unwrap_or(i64::MIN),
            limit,
            &mut keep,
        )
    }

    /// Names first seen at or after `since` and never before (over all their answers),
    /// newest first.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn new_names(
        &self,
        since: i64,
        limit: usize,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        self.name_totals(
            "SELECT n.name, sum(t.count), min(t.time_first), max(t.time_last), count(*) \
             FROM tuples t JOIN names n ON n.id = t.name_id \
             GROUP BY t.name_id HAVING min(t.time_first) >= ?1 \
             ORDER BY min(t.time_first) DESC, n.name",
            since,
            limit,
            &mut keep,
        )
    }

    /// The rows of a name-totals query (one time parameter) that `keep` accepts, up to
    /// `limit`.
    fn name_totals(
        &self,
        sql: &str,
        time: i64,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, QueryError> {
        let mut st = self.conn.prepare(sql)?;
        let mut rows = st.query([time])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            if !keep(&name) {
                continue;
            }
            out.push(NameTotal {
                name,
                count: row.get::<_, i64>(1)?.max(0) as u64,
                time_first: row.get(2)?,
                time_last: row.get(3)?,
                answers: row.get::<_, i64>(4)?.max(0) as u64,
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}
