//! `dnsrecall prune`, `dnsrecall stats` and `dnsrecall migrate`.

use anyhow::Result;
use clap::Args;
use dnsrecall_query::{TimeFormat, parse_duration};

use crate::config::{Backend, Config, locate, open_store};
use std::fmt::Write as _;

use crate::{Cli, exit, print_out, usage};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  dnsrecall prune --older-than 400d
  dnsrecall prune --older-than 400d --clients-older-than 30d   # keep personal data shorter
  dnsrecall prune --older-than 400d --compact                  # and give the space back

On a ClickHouse store, retention drops whole months: a tuple keeps the sightings of the
months it was last seen in after the cut-off, and --compact merges every partition
(OPTIMIZE ... FINAL).")]
pub struct PruneArgs {
    /// Delete tuples and negative answers last seen longer ago than this (e.g. 400d).
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Delete client sightings last seen longer ago than this (default: --older-than).
    #[arg(long, value_name = "DURATION")]
    pub clients_older_than: Option<String>,
    /// Then rewrite the store with packed pages (SQLite VACUUM): gives back the space of
    /// what was deleted and of index slack. Needs free disk about the store's size; blocks
    /// ingest while it runs. On ClickHouse: merge the parts of every partition.
    #[arg(long)]
    pub compact: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  dnsrecall --store clickhouse://127.0.0.1:8123/pdns migrate
  dnsrecall --store 'clickhouse://dns:secret@ch-1:8123/pdns?cluster=dns' migrate --print

Writers (ingest, sniff, dnstap) create the schema in an empty database themselves; an
older schema is only ever upgraded here, by the operator. A SQLite store migrates itself
when it is opened.")]
pub struct MigrateArgs {
    /// Print the DDL of every schema version instead of running it (for review, or to run
    /// by hand on a cluster).
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn prune(cli: &Cli, config: &Config, args: &PruneArgs) -> Result<u8> {
    if args.older_than.is_none() && args.clients_older_than.is_none() && !args.compact {
        return Err(usage(
            "give --older-than, --clients-older-than and/or --compact",
        ));
    }
    let now = chrono::Utc::now().timestamp();
    let cutoff = |v: &Option<String>, what: &str| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| {
                parse_duration(s)
                    .map(|d| now - d)
                    .map_err(|e| usage(format!("--{what}: {e}")))
            })
            .transpose()
    };
    let older = cutoff(&args.older_than, "older-than")?;
    let clients = cutoff(&args.clients_older_than, "clients-older-than")?;
    let (mut store, _) = open_store(cli, config)?;
    if older.is_some() || clients.is_some() {
        let s = store.prune(older, clients)?;
        eprintln!(
            "pruned {} tuples, {} negative answers, {} client sightings, {} names",
            s.tuples, s.negatives, s.clients, s.names
        );
    }
    if args.compact {
        let (before, after) = store.compact()?;
        eprintln!(
            "compacted the store: {:.1} MB -> {:.1} MB",
            before as f64 / 1e6,
            after as f64 / 1e6
        );
    }
    Ok(exit::OK)
}

pub fn stats(cli: &Cli, config: &Config, args: &StatsArgs) -> Result<u8> {
    let (store, _) = open_store(cli, config)?;
    let s = store.stats()?;
    let tf = TimeFormat::default();
    if args.json {
        let doc = dnsrecall_query::output::stats_json(&s);
        print_out(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
        return Ok(exit::OK);
    }
    let mut text = String::new();
    let _ = writeln!(text, "store            {}", s.path);
    let _ = writeln!(text, "size             {:.1} MB", s.bytes as f64 / 1e6);
    let _ = writeln!(text, "schema version   {}", s.schema_version);
    let _ = writeln!(text, "tuples           {}", s.tuples);
    let _ = writeln!(text, "names            {}", s.names);
    let _ = writeln!(text, "negative answers {}", s.negatives);
    let _ = writeln!(text, "client sightings {}", s.clients);
    match (s.time_first, s.time_last) {
        (Some(a), Some(b)) => {
            let _ = writeln!(
                text,
                "time range       {} .. {}",
                tf.format(a),
                tf.format(b)
            );
        }
        _ => {
            let _ = writeln!(text, "time range       (empty)");
        }
    }
    let sensors: Vec<&str> = s.sensors.iter().map(|x| &**x).collect();
    let _ = writeln!(
        text,
        "sensors          {}",
        if sensors.is_empty() {
            "(none named)".into()
        } else {
            sensors.join(", ")
        }
    );
    let _ = writeln!(text, "tuples by type:");
    for (t, n) in &s.by_type {
        let _ = writeln!(text, "  {t:<10} {n}");
    }
    print_out(&text)?;
    Ok(exit::OK)
}

pub fn migrate(cli: &Cli, config: &Config, args: &MigrateArgs) -> Result<u8> {
    let loc = locate(cli, config)?;
    match &loc.backend {
        Backend::Sqlite(file) => {
            if args.print {
                return Err(usage(
                    "--print is for ClickHouse stores: give --store clickhouse://...",
                ));
            }
            let (store, _) = open_store(cli, config)?;
            store.ping()?;
            eprintln!(
                "sqlite store {} is at schema version {} (it migrates itself when opened)",
                file.display(),
                dnsrecall_store::SCHEMA_VERSION
            );
        }
        Backend::ClickHouse(url) => {
            use dnsrecall_clickhouse::{ClickHouseStore, DEFAULT_TIMEOUT, SCHEMA_VERSION};
            if args.print {
                let mut out = String::new();
                for s in ClickHouseStore::schema_statements(&url.database, url.cluster.as_deref()) {
                    let _ = writeln!(out, "{s};\n");
                }
                print_out(&out)?;
                return Ok(exit::OK);
            }
            let store = ClickHouseStore::connect(url, DEFAULT_TIMEOUT);
            let before = store
                .schema_version()
                .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
            let after = store
                .migrate()
                .map_err(|e| anyhow::anyhow!("migrating {url}: {e}"))?;
            let server = store
                .server_version()
                .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
            if before == after {
                eprintln!(
                    "{url} (ClickHouse {server}) is at schema version {after}, this build's ({SCHEMA_VERSION}): nothing to do"
                );
            } else {
                eprintln!("{url} (ClickHouse {server}): schema version {before} -> {after}");
            }
        }
    }
    Ok(exit::OK)
}
