//! Schema and versioned migrations.
//!
//! Every step is a list of `IF NOT EXISTS` statements, so a step cut short is simply run
//! again; `schema_migrations` records the steps done. A store whose recorded version is
//! newer than [`SCHEMA_VERSION`] is refused.
//!
//! With `?cluster=NAME`, every storage table becomes `<name>_local` (a `Replicated*`
//! engine under `/clickhouse/tables/{shard}/<db>/<name>`) on every node (`ON CLUSTER`),
//! and `<name>` becomes a `Distributed` table over it, so the rest of this crate reads and
//! writes the same names in both deployments. Landing tables are sharded by `batch_id`:
//! a whole batch lands on one shard, whose receipts then cover all of it (see `write.rs`).
//!
//! Version 1 fed each landing table into a data view and a receipt view (into
//! `receipts`); a kill between the two could leave rows without their receipt. Version 2
//! drops the receipt views: each landing table feeds exactly one view, and the receipt is
//! a row of the INSERT itself, committed in the same part as the rows (`write.rs`).

use crate::Error;
use crate::http::Http;
use crate::sql::lit;

/// The schema this build writes.
pub const SCHEMA_VERSION: u32 = 2;

/// The merged state columns of a sightings table.
const STATES: &str = "time_first AggregateFunction(min, Int64), \
                      time_last AggregateFunction(max, Int64), \
                      count AggregateFunction(sum, UInt64)";

/// The state expressions of a materialized view, from a landing table's plain columns.
const STATE_EXPRS: &str =
    "minState(t_first) AS time_first, maxState(t_last) AS time_last, sumState(n) AS count";

enum Engine {
    /// A landing table: holds nothing, feeds its materialized views.
    Null,
    /// Merges rows of one sort key into min/max/sum states.
    Aggregating,
    /// Keeps the row with the highest version of each sort key.
    Replacing(&'static str),
    MergeTree,
}

struct Table {
    name: &'static str,
    columns: String,
    engine: Engine,
    partition: Option<&'static str>,
    order: &'static str,
    /// The `Distributed` sharding expression.
    shard: &'static str,
}

struct View {
    name: &'static str,
    to: &'static str,
    from: &'static str,
    /// `SELECT {cols} FROM {from} {tail}`
    select: String,
    tail: &'static str,
}

fn tables_v1() -> Vec<Table> {
    let landing = |name, cols: &str| Table {
        name,
        columns: format!("batch_id String, month UInt32, sensor String, {cols}"),
        engine: Engine::Null,
        partition: None,
        order: "",
        shard: "cityHash64(batch_id)",
    };
    let merged = |name, cols: &str, order, shard| Table {
        name,
        columns: format!("month UInt32, {cols}, sensor String, {STATES}"),
        engine: Engine::Aggregating,
        partition: Some("month"),
        order,
        shard,
    };
    vec![
        Table {
            name: "schema_migrations",
            columns: "version UInt32, applied DateTime".into(),
            engine: Engine::MergeTree,
            partition: None,
            order: "version",
            shard: "version",
        },
        landing(
            "tuples_in",
            "rrname String, rev_name String, rrtype UInt16, rdata String, rdata_key String, \
             target String, t_first Int64, t_last Int64, n UInt64, ttl_seen Int64",
        ),
        landing(
            "answers_in",
            "answer_kind UInt8, answer String, rrname String, rrtype UInt16, rdata String, \
             rdata_key String, target String, t_first Int64, t_last Int64, n UInt64, \
             ttl_seen Int64",
        ),
        landing(
            "negatives_in",
            "qname String, rev_name String, qtype UInt16, rcode UInt16, \
             t_first Int64, t_last Int64, n UInt64",
        ),
        landing(
            "clients_in",
            "qname String, rev_name String, client String, qtype UInt16, \
             t_first Int64, t_last Int64, n UInt64",
        ),
        landing(
            "client_index_in",
            "qname String, rev_name String, client String, qtype UInt16, \
             t_first Int64, t_last Int64, n UInt64",
        ),
        {
            let mut t = merged(
                "tuples",
                "rev_name String, rrname String, rrtype UInt16, rdata_key String, \
                 target String, rdata String",
                "(rev_name, rrname, rrtype, rdata_key, target, rdata, sensor)",
                "cityHash64(rev_name)",
            );
            t.columns.push_str(", ttl AggregateFunction(max, Int64)");
            t
        },
        {
            let mut t = merged(
                "tuples_by_answer",
                "answer_kind UInt8, answer String, rrname String, rrtype UInt16, \
                 rdata_key String, target String, rdata String",
                "(answer_kind, answer, rrname, rrtype, rdata_key, target, rdata, sensor)",
                "cityHash64(answer)",
            );
            t.columns.push_str(", ttl AggregateFunction(max, Int64)");
            t
        },
        merged(
            "negatives",
            "rev_name String, qname String, qtype UInt16, rcode UInt16",
            "(rev_name, qname, qtype, rcode, sensor)",
            "cityHash64(rev_name)",
        ),
        merged(
            "clients",
            "rev_name String, qname String, client String, qtype UInt16",
            "(rev_name, qname, client, qtype, sensor)",
            "cityHash64(rev_name)",
        ),
        merged(
            "clients_by_client",
            "client String, qname String, qtype UInt16",
            "(client, qname, qtype, sensor)",
            "cityHash64(client)",
        ),
        Table {
            name: "receipts",
            columns: "batch_id String, part String, rows UInt64, received Date".into(),
            engine: Engine::MergeTree,
            partition: Some("toYYYYMM(received)"),
            order: "(batch_id, part)",
            shard: "cityHash64(batch_id)",
        },
        Table {
            name: "checkpoints",
            columns: "source String, dev UInt64, ino UInt64, fingerprint String, \
                      byte_offset UInt64, line_number UInt64, version UInt64"
                .into(),
            engine: Engine::Replacing("version"),
            partition: None,
            order: "source",
            shard: "cityHash64(source)",
        },
    ]
}

fn views_v1() -> Vec<View> {
    let receipt = |name, from, part: &str| View {
        name,
        to: "receipts",
        from,
        select: format!(
            "batch_id, {} AS part, count() AS rows, today() AS received",
            lit(part)
        ),
        tail: "GROUP BY batch_id",
    };
    vec![
        View {
            name: "tuples_mv",
            to: "tuples",
            from: "tuples_in",
            select: format!(
                "month, rev_name, rrname, rrtype, rdata_key, target, rdata, \
                 sensor, {STATE_EXPRS}, maxState(ttl_seen) AS ttl"
            ),
            tail: "GROUP BY month, rev_name, rrname, rrtype, rdata_key, target, rdata, sensor",
        },
        View {
            name: "answers_mv",
            to: "tuples_by_answer",
            from: "answers_in",
            select: format!(
                "month, answer_kind, answer, rrname, rrtype, rdata_key, target, rdata, \
                 sensor, {STATE_EXPRS}, maxState(ttl_seen) AS ttl"
            ),
            tail: "GROUP BY month, answer_kind, answer, rrname, rrtype, rdata_key, target, \
                   rdata, sensor",
        },
        View {
            name: "negatives_mv",
            to: "negatives",
            from: "negatives_in",
            select: format!("month, rev_name, qname, qtype, rcode, sensor, {STATE_EXPRS}"),
            tail: "GROUP BY month, rev_name, qname, qtype, rcode, sensor",
        },
        View {
            name: "clients_mv",
            to: "clients",
            from: "clients_in",
            select: format!("month, rev_name, qname, client, qtype, sensor, {STATE_EXPRS}"),
            tail: "GROUP BY month, rev_name, qname, client, qtype, sensor",
        },
        View {
            name: "client_index_mv",
            to: "clients_by_client",
            from: "client_index_in",
            select: format!("month, client, qname, qtype, sensor, {STATE_EXPRS}"),
            tail: "GROUP BY month, client, qname, qtype, sensor",
        },
        receipt("tuples_receipts_mv", "tuples_in", "tuples"),
        receipt("answers_receipts_mv", "answers_in", "answers"),
        receipt("negatives_receipts_mv", "negatives_in", "negatives"),
        receipt("clients_receipts_mv", "clients_in", "clients"),
        receipt(
            "client_index_receipts_mv",
            "client_index_in",
            "client_index",
        ),
    ]
}

/// The DDL of a schema version, for one node or for a cluster.
pub(crate) fn statements(version: u32, db: &str, cluster: Option<&str>) -> Vec<String> {
    let on = cluster.map_or(String::new(), |c| format!(" ON CLUSTER {c}"));
    let local = |name: &str| match cluster {
        Some(_) => format!("{name}_local"),
        None => name.to_owned(),
    };
    match version {
        1 => statements_v1(db, cluster, &on, &local),
        // Version 2: receipts travel with the rows, in the same part (`write.rs`); the
        // receipt views of version 1 go. Their `receipts` table stays, read for batches
        // written before the upgrade.
        2 => RECEIPT_VIEWS_V1
            .iter()
            .map(|v| format!("DROP TABLE IF EXISTS {db}.{v}{on}"))
            .collect(),
        _ => Vec::new(),
    }
}

/// The receipt views of schema version 1.
const RECEIPT_VIEWS_V1: [&str; 5] = [
    "tuples_receipts_mv",
    "answers_receipts_mv",
    "negatives_receipts_mv",
    "clients_receipts_mv",
    "client_index_receipts_mv",
];

fn statements_v1(
    db: &str,
    cluster: Option<&str>,
    on: &str,
    local: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables_v1() {
        let stored = local(t.name);
        let zk = format!(
            "'/clickhouse/tables/{{shard}}/{db}/{}', '{{replica}}'",
            t.name
        );
        let engine = match (&t.engine, cluster) {
            (Engine::Null, _) => "Null".to_owned(),
            (Engine::Aggregating, None) => "AggregatingMergeTree()".to_owned(),
            (Engine::Aggregating, Some(_)) => format!("ReplicatedAggregatingMergeTree({zk})"),
            (Engine::Replacing(v), None) => format!("ReplacingMergeTree({v})"),
            (Engine::Replacing(v), Some(_)) => format!("ReplicatedReplacingMergeTree({zk}, {v})"),
            (Engine::MergeTree, None) => "MergeTree()".to_owned(),
            (Engine::MergeTree, Some(_)) => format!("ReplicatedMergeTree({zk})"),
        };
        let mut ddl = format!(
            "CREATE TABLE IF NOT EXISTS {db}.{stored}{on} ({}) ENGINE = {engine}",
            t.columns
        );
        if let Some(p) = t.partition {
            ddl.push_str(&format!(" PARTITION BY {p}"));
        }
        if !t.order.is_empty() {
            ddl.push_str(&format!(" ORDER BY {}", t.order));
        }
        out.push(ddl);
        if let Some(c) = cluster {
            out.push(format!(
                "CREATE TABLE IF NOT EXISTS {db}.{}{on} AS {db}.{stored} \
                 ENGINE = Distributed({c}, {db}, {stored}, {})",
                t.name, t.shard
            ));
        }
    }
    for v in views_v1() {
        out.push(format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{}{on} TO {db}.{} AS SELECT {} FROM {db}.{} {}",
            v.name,
            local(v.to),
            v.select,
            local(v.from),
            v.tail
        ));
    }
    out
}

/// The version recorded in the store (0: none yet).
pub(crate) fn version(http: &Http, db: &str) -> Result<u32, Error> {
    if !http.database_exists(db)? {
        return Ok(0);
    }
    let exists = http.select_one(&format!(
        "SELECT count() FROM system.tables WHERE database = {} AND name = 'schema_migrations'",
        lit(db)
    ))?;
    if exists.as_deref() != Some("1") {
        return Ok(0);
    }
    let v = http.select_one("SELECT max(version) FROM schema_migrations")?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Creates the database and runs the steps not run yet; returns the version now recorded.
pub(crate) fn migrate(http: &Http, db: &str, cluster: Option<&str>) -> Result<u32, Error> {
    let on = cluster.map_or(String::new(), |c| format!(" ON CLUSTER {c}"));
    http.execute_root(&format!("CREATE DATABASE IF NOT EXISTS {db}{on}"))?;
    let current = version(http, db)?;
    if current > SCHEMA_VERSION {
        return Err(Error::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for v in current + 1..=SCHEMA_VERSION {
        for st in statements(v, db, cluster) {
            http.execute(&st)?;
        }
        http.execute(&format!(
            "INSERT INTO schema_migrations (version, applied) VALUES ({v}, now())"
        ))?;
        tracing::info!(version = v, "clickhouse schema migrated");
    }
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_node_ddl() {
        let st = statements(1, "pdns", None);
        assert!(st.iter().all(|s| s.contains("IF NOT EXISTS pdns.")));
        assert!(st.iter().all(|s| !s.contains("ON CLUSTER")));
        let tuples = st
            .iter()
            .find(|s| s.starts_with("CREATE TABLE IF NOT EXISTS pdns.tuples ("))
            .unwrap();
        assert!(tuples.contains("AggregatingMergeTree() PARTITION BY month"));
        assert!(tuples.contains("ORDER BY (rev_name,"));
        let v2 = statements(2, "pdns", None);
        assert_eq!(v2.len(), 5);
        assert!(v2.iter().all(|s| s.starts_with("DROP TABLE IF EXISTS pdns.")
            && s.ends_with("_receipts_mv")));
        assert!(statements(3, "pdns", None).is_empty());
    }

    #[test]
    fn one_view_per_landing_table_after_all_migrations() {
        // Version 2 drops the receipt views of version 1: each landing table then feeds
        // exactly one view, so one INSERT writes one part of one table (the receipt row
        // travels in it, `write.rs`).
        let live: Vec<View> = views_v1()
            .into_iter()
            .filter(|v| !RECEIPT_VIEWS_V1.contains(&v.name))
            .collect();
        for t in tables_v1()
            .iter()
            .filter(|t| matches!(t.engine, Engine::Null))
        {
            let on: Vec<&View> = live.iter().filter(|v| v.from == t.name).collect();
            assert_eq!(on.len(), 1, "{}", t.name);
            assert_ne!(on[0].to, "receipts");
        }
        assert_eq!(views_v1().len(), live.len() + RECEIPT_VIEWS_V1.len());
    }

    #[test]
    fn cluster_ddl() {
        let st = statements(1, "pdns", Some("dns"));
        assert!(st.iter().all(|s| s.contains(" ON CLUSTER dns")));
        assert!(st.iter().any(|s| {
            s.contains(
            "pdns.tuples_local ON CLUSTER dns (month UInt32, rev_name String"
        ) && s.contains(
            "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/pdns/tuples', '{replica}')"
        )
        }));
        assert!(st.iter().any(|s| s.contains(
            "pdns.tuples_in ON CLUSTER dns AS pdns.tuples_in_local \
             ENGINE = Distributed(dns, pdns, tuples_in_local, cityHash64(batch_id))"
        )));
        assert!(st.iter().any(|s| s.contains(
            "MATERIALIZED VIEW IF NOT EXISTS pdns.tuples_mv ON CLUSTER dns TO pdns.tuples_local"
        ) && s.contains("FROM pdns.tuples_in_local")));
    }
}
