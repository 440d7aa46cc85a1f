//! Schema creation and forward migrations. `meta.schema_version` says which steps ran;
//! each step runs once, in order, inside one transaction.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::OpenError;

/// The schema this build writes. Older stores are migrated forward on open; newer ones
/// are refused, so an old binary never damages a store it does not understand.
pub const SCHEMA_VERSION: i64 = 1;

const MIGRATIONS: &[&str] = &[
    // 1: the initial layout (docs/spec-store.md).
    r"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID;
    CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE UNIQUE INDEX names_name ON names (name);
    CREATE INDEX names_rev ON names (rev_labels(name));
    CREATE TABLE grams (
        gram INTEGER NOT NULL,
        first_id INTEGER NOT NULL,
        last_id INTEGER NOT NULL,
        ids BLOB NOT NULL,
        PRIMARY KEY (gram, first_id)
    ) WITHOUT ROWID;
    CREATE TABLE sensors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE tuples (
        name_id INTEGER NOT NULL,
        rrtype INTEGER NOT NULL,
        rdata BLOB NOT NULL,
        target INTEGER NOT NULL,
        sensor INTEGER NOT NULL,
        time_first INTEGER NOT NULL,
        time_last INTEGER NOT NULL,
        count INTEGER NOT NULL,
        ttl INTEGER,
        PRIMARY KEY (name_id, rrtype, rdata, target, sensor)
    ) WITHOUT ROWID;
    CREATE INDEX tuples_a ON tuples (rdata) WHERE rrtype = 1;
    CREATE INDEX tuples_aaaa ON tuples (rdata) WHERE rrtype = 28;
    CREATE INDEX tuples_target ON tuples (target) WHERE target <> 0;
    CREATE TABLE negatives (
        name_id INTEGER NOT NULL,
        qtype INTEGER NOT NULL,
        rcode INTEGER NOT NULL,
        sensor INTEGER NOT NULL,
        time_first INTEGER NOT NULL,
        time_last INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (name_id, qtype, rcode, sensor)
    ) WITHOUT ROWID;
    CREATE TABLE clients (
        name_id INTEGER NOT NULL,
        client BLOB NOT NULL,
        qtype INTEGER NOT NULL,
        sensor INTEGER NOT NULL,
        time_first INTEGER NOT NULL,
        time_last INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (name_id, client, qtype, sensor)
    ) WITHOUT ROWID;
    CREATE INDEX clients_client ON clients (client);
    CREATE TABLE checkpoints (
        source TEXT PRIMARY KEY,
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        fingerprint BLOB NOT NULL,
        offset INTEGER NOT NULL,
        line INTEGER NOT NULL,
        updated INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
];

fn version(conn: &Connection) -> rusqlite::Result<i64> {
    let has_meta: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if !has_meta {
        return Ok(0);
    }
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key='schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

pub(crate) fn migrate(conn: &mut Connection) -> Result<i64, OpenError> {
    // The common case reads without locking, so opening a store for a query never waits
    // for an ingest's commit.
    if version(conn)? == SCHEMA_VERSION {
        return Ok(SCHEMA_VERSION);
    }
    // Under the write lock: two processes opening a new store at once must not both
    // create the schema; the second waits (busy timeout) and then finds it there.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = version(&tx)?;
    if current > SCHEMA_VERSION {
        return Err(OpenError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    let done = usize::try_from(current).unwrap_or(0);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(done) {
        let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
        tx.execute_batch(step)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![version],
        )?;
    }
    tx.commit()?;
    Ok(SCHEMA_VERSION)
}
