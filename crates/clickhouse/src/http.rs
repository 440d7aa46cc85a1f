//! The ClickHouse HTTP interface: statements in the POST body, INSERT data as a
//! TabSeparated body after `?query=INSERT ... FORMAT TabSeparated`.

use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::time::Duration;

use crate::sql::{tsv_row, url_encode};
use crate::{Error, StoreUrl};

/// Largest error message kept from a response body.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// Rows of one INSERT that ClickHouse may keep in one block (one part per month): a batch
/// must be one block so that its receipt and its rows are written by the same insert.
pub(crate) const MAX_INSERT_BLOCK_ROWS: u64 = 16 * 1024 * 1024;

/// With `MAX_INSERT_BLOCK_ROWS` as the row minimum: a view's output is squashed into one
/// block until this many bytes, so one INSERT (one month) makes one part of its table.
const MIN_INSERT_BLOCK_BYTES: u64 = 4 << 30;

pub(crate) struct Http {
    agent: ureq::Agent,
    /// `http://host:port/?user=..&password=..`
    root: String,
    /// `root` with `&database=..`
    base: String,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").finish_non_exhaustive()
    }
}

impl Http {
    /// `keep_alive: false` opens a connection per exchange: a writer that never pauses
    /// must not keep a stopping server busy (ClickHouse serves open keep-alive
    /// connections until they go quiet, so a restart would wait for the sensors).
    pub(crate) fn new(url: &StoreUrl, timeout: Duration, keep_alive: bool) -> Self {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false);
        if !keep_alive {
            config = config
                .max_idle_connections(0)
                .max_idle_connections_per_host(0);
        }
        let agent: ureq::Agent = config.build().into();
        let mut root = format!("http://{}:{}/?", url.host, url.port);
        if let Some(user) = &url.user {
            root.push_str("user=");
            root.push_str(&url_encode(user));
            root.push('&');
        }
        if let Some(pw) = &url.password {
            root.push_str("password=");
            root.push_str(&url_encode(pw));
            root.push('&');
        }
        root.push_str("max_query_size=1048576");
        let base = format!("{root}&database={}", url_encode(&url.database));
        Self { agent, root, base }
    }

    fn post(&self, params: &str, body: &[u8]) -> Result<ureq::http::Response<ureq::Body>, Error> {
        self.post_to(&self.base, params, body)
    }

    fn post_to(
        &self,
        base: &str,
        params: &str,
        body: &[u8],
    ) -> Result<ureq::http::Response<ureq::Body>, Error> {
        let url = format!("{base}{params}");
        let mut resp = self
            .agent
            .post(&url)
            .send(body)
            .map_err(|e| Error::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let text = resp
                .body_mut()
                .with_config()
                .limit(MAX_ERROR_BODY)
                .read_to_vec()
                .unwrap_or_default();
            return Err(Error::Server {
                status,
                message: String::from_utf8_lossy(&text).trim().to_owned(),
            });
        }
        Ok(resp)
    }

    /// Runs a statement that returns nothing of interest (DDL, ALTER).
    pub(crate) fn execute(&self, sql: &str) -> Result<(), Error> {
        tracing::trace!(sql, "clickhouse execute");
        let mut resp = self.post("", sql.as_bytes())?;
        // The statement ran (status 200): what follows is of no interest.
        let _ = small_body(&mut resp);
        Ok(())
    }

    /// Runs a statement outside the store's database (creating it).
    pub(crate) fn execute_root(&self, sql: &str) -> Result<(), Error> {
        let mut resp = self.post_to(&self.root, "", sql.as_bytes())?;
        // The statement ran (status 200): what follows is of no interest.
        let _ = small_body(&mut resp);
        Ok(())
    }

    /// Whether a database exists (asked outside it, so a missing one is not an error).
    pub(crate) fn database_exists(&self, db: &str) -> Result<bool, Error> {
        let sql = format!(
            "SELECT count() FROM system.databases WHERE name = {}\nFORMAT TabSeparated",
            crate::sql::lit(db)
        );
        let mut resp = self.post_to(&self.root, "", sql.as_bytes())?;
        Ok(small_body(&mut resp)?.trim_ascii() == b"1")
    }

    /// Inserts a TabSeparated body into `table` (a name this crate wrote).
    pub(crate) fn insert(&self, table: &str, columns: &str, body: &[u8]) -> Result<(), Error> {
        let query = format!("INSERT INTO {table} ({columns}) FORMAT TabSeparated");
        let params = format!(
            "&max_insert_block_size={MAX_INSERT_BLOCK_ROWS}\
             &min_insert_block_size_rows={MAX_INSERT_BLOCK_ROWS}\
             &min_insert_block_size_bytes={MIN_INSERT_BLOCK_BYTES}\
             &insert_distributed_sync=1&query={}",
            url_encode(&query)
        );
        let mut resp = self.post(&params, body)?;
        // The statement ran (status 200): what follows is of no interest.
        let _ = small_body(&mut resp);
        Ok(())
    }

    /// Runs a SELECT (without FORMAT) and hands each row, split into unescaped fields, to
    /// `f` until it breaks. The server finishes the query before it answers
    /// (`wait_end_of_query`), so an error in the middle is an HTTP error, never a row.
    pub(crate) fn select(
        &self,
        sql: &str,
        mut f: impl FnMut(Vec<Vec<u8>>) -> Result<ControlFlow<()>, Error>,
    ) -> Result<u64, Error> {
        tracing::trace!(sql, "clickhouse select");
        let text = format!("{sql}\nFORMAT TabSeparated");
        let resp = self.post("&wait_end_of_query=1&buffer_size=67108864", text.as_bytes())?;
        let reader = resp.into_body().into_reader();
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let mut line = Vec::new();
        let mut rows = 0;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::Transport(e.to_string()))?;
            if n == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            rows += 1;
            if f(tsv_row(&line))?.is_break() {
                break;
            }
        }
        Ok(rows)
    }

    /// Every row of a SELECT.
    pub(crate) fn select_all(&self, sql: &str) -> Result<Vec<Vec<Vec<u8>>>, Error> {
        let mut out = Vec::new();
        self.select(sql, |row| {
            out.push(row);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// The first field of the first row, as text (`None` when there is no row).
    pub(crate) fn select_one(&self, sql: &str) -> Result<Option<String>, Error> {
        let mut out = None;
        self.select(sql, |mut row| {
            if !row.is_empty() {
                out = Some(String::from_utf8_lossy(&row.swap_remove(0)).into_owned());
            }
            Ok(ControlFlow::Break(()))
        })?;
        Ok(out)
    }
}

/// The whole body of an answer expected to be short (at most `MAX_ERROR_BODY`).
fn small_body(resp: &mut ureq::http::Response<ureq::Body>) -> Result<Vec<u8>, Error> {
    resp.body_mut()
        .with_config()
        .limit(MAX_ERROR_BODY)
        .read_to_vec()
        .map_err(|e| Error::Transport(e.to_string()))
}
