//! Whole-store passes for hunts and reports, as `dnsrecall_store`'s `scan` module: every
//! stored name, the most seen names, the names first seen in a window.

use std::ops::ControlFlow;

use dnsrecall_store::NameTotal;

use crate::read::Fields;
use crate::{ClickHouseStore, Error};

/// One merged row per tuple key and sensor, as SQLite stores them.
const PER_SENSOR: &str = "SELECT rrname, sumMerge(count) AS c, minMerge(time_first) AS tf, \
                          maxMerge(time_last) AS tl FROM tuples \
                          WHERE rev_name != '' \
                          GROUP BY rev_name, rrname, rrtype, rdata_key, target, rdata, sensor";

fn total(r: &[Vec<u8>]) -> Result<NameTotal, Error> {
    let f = Fields(r);
    Ok(NameTotal {
        name: f.text(0)?,
        count: f.num(1)?,
        time_first: f.num(2)?,
        time_last: f.num(3)?,
        answers: f.num(4)?,
    })
}

impl ClickHouseStore {
    /// Every stored name (owner names, names inside answers, queried names), once each,
    /// in name order (SQLite hands them out in id order). Returns how many were read.
    ///
    /// # Errors
    /// When the server fails.
    pub fn for_each_name(&self, mut f: impl FnMut(&str) -> ControlFlow<()>) -> Result<u64, Error> {
        self.http.select(
            "SELECT n FROM (\
               SELECT rrname AS n FROM tuples WHERE rrname != '' \
               UNION ALL SELECT target AS n FROM tuples WHERE target != '' \
               UNION ALL SELECT qname AS n FROM negatives WHERE qname != '' \
               UNION ALL SELECT qname AS n FROM clients WHERE qname != '') \
             GROUP BY n ORDER BY n",
            |row| {
                let name = Fields(&row).text(0)?;
                Ok(f(&name))
            },
        )
    }

    /// Names by total count of their answers last seen at or after `since` (per answer
    /// and sensor, as SQLite keeps them), most first, then by name; `keep` decides which
    /// names count (suppression), until `limit` are kept. `answers` counts answer rows per
    /// sensor, as SQLite does.
    ///
    /// # Errors
    /// When the server fails.
    pub fn top_names(
        &self,
        since: Option<i64>,
        limit: usize,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, Error> {
        let since = since.unwrap_or(i64::MIN);
        self.name_totals(
            &format!(
                "SELECT rrname, sum(c) AS total, min(tf), max(tl), count() \
                 FROM ({PER_SENSOR} HAVING tl >= {since}) \
                 GROUP BY rrname ORDER BY total DESC, rrname"
            ),
            limit,
            &mut keep,
        )
    }

    /// Names first seen at or after `since` and never before (over all their answers),
    /// newest first, then by name.
    ///
    /// # Errors
    /// When the server fails.
    pub fn new_names(
        &self,
        since: i64,
        limit: usize,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, Error> {
        self.name_totals(
            &format!(
                "SELECT rrname, sum(c), min(tf) AS first, max(tl), count() \
                 FROM ({PER_SENSOR}) \
                 GROUP BY rrname HAVING first >= {since} ORDER BY first DESC, rrname"
            ),
            limit,
            &mut keep,
        )
    }

    /// The rows of a name-totals query that `keep` accepts, up to `limit`.
    fn name_totals(
        &self,
        sql: &str,
        limit: usize,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<NameTotal>, Error> {
        let mut out = Vec::new();
        self.http.select(sql, |row| {
            let t = total(&row)?;
            if !keep(&t.name) {
                return Ok(ControlFlow::Continue(()));
            }
            out.push(t);
            // As SQLite's: the check follows the push (a limit of 0 keeps one).
            Ok(if out.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        Ok(out)
    }
}
