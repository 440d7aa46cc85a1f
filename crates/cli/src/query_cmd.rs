//! `dnsrecall query` and `dnsrecall clients`.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use dnsrecall_model::ClientId;
use dnsrecall_query::output::{self, Cut, Format, OutputRow};
use dnsrecall_query::{FilterSpec, Selector, TimeFormat, page, parse_name_pattern, parse_pattern};
use dnsrecall_store::{DynStore, Sort, TupleFilter};

use crate::config::{Config, open_store};
use crate::{Cli, exit, usage};

/// Filters, paging and output shared by `query` and `clients`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Record types (repeat or comma-separate): A, AAAA, MX, TYPE65534, ANY (all but
    /// DNSSEC), ANY-DNSSEC. Default: every type.
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Seen at or after TIME (loose: the sighting period overlaps; see --strict).
    /// TIME: epoch seconds, 2026-11-01, 2026-11-01T12:00:00Z, or back from now: 30d, 12h.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub after: Option<String>,
    /// Seen at or before TIME (loose: the sighting period overlaps; see --strict).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub before: Option<String>,
    /// Make --after/--before strict: the whole sighting period lies inside the fence.
    #[arg(long)]
    pub strict: bool,
    /// DNSDB time fence: first seen at or after TIME.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub first_after: Option<String>,
    /// DNSDB time fence: first seen at or before TIME.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub first_before: Option<String>,
    /// DNSDB time fence: last seen at or after TIME.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub last_after: Option<String>,
    /// DNSDB time fence: last seen at or before TIME.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub last_before: Option<String>,
    /// Only what these sensors saw (repeat for several); default: all, merged.
    #[arg(long, value_name = "ID")]
    pub sensor: Vec<String>,
    /// At most N rows; a cut result always says so.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub limit: usize,
    /// Skip the first N rows (paging).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub offset: usize,
    /// Order: name (the index order, fastest), first, last or count.
    #[arg(long, default_value = "name", value_name = "KEY")]
    pub sort: String,
    /// Sort descending (e.g. --sort last --desc: most recent first).
    #[arg(long)]
    pub desc: bool,
    /// Output: table, json, cof (NDJSON) or csv.
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    pub format: String,
    /// strftime pattern for first_seen/last_seen (default ISO 8601 UTC), e.g. the
    /// seed's "%d/%m/%Y %H:%M:%S".
    #[arg(long, value_name = "PATTERN")]
    pub time_format: Option<String>,
    /// Exit with code 1 when nothing matched.
    #[arg(long)]
    pub fail_empty: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Patterns:
  isc.sans.org        exact name            *.sans.org       its subdomains
  isc.sans.*          names starting so     *sans*           names containing 'sans'
  204.51.94.153       answers with address  204.51.94.0/24   answers in a prefix
  10.0.0.1-10.0.0.9   answers in a range    2001:db8::/32    IPv6 too

Examples:
  dnsrecall query '*sans.*' --time-format '%d/%m/%Y %H:%M:%S'
  dnsrecall query '*.example.com' -t A,AAAA --last-after 30d --sort last --desc
  dnsrecall query --rdata '*.cloudfront.net' --format json
  dnsrecall query '*.example.com' --negative        # NXDOMAIN and other error answers")]
pub struct QueryArgs {
    /// What to look for (see Patterns below).
    #[arg(value_name = "PATTERN", required_unless_present = "rdata")]
    pub pattern: Option<String>,
    /// Look for names inside answers instead (CNAME, NS, MX, PTR, SRV, ... targets).
    #[arg(long, value_name = "NAME-PATTERN", conflicts_with = "pattern")]
    pub rdata: Option<String>,
    /// List negative answers (NXDOMAIN, SERVFAIL, ...) for the names instead.
    #[arg(long)]
    pub negative: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
PATTERN is a name pattern (which clients asked for these names), an address, prefix or
range (what these clients asked for), or a hash: token as printed for hashed clients. One
address also finds its masked network (--clients mask) and, when the data directory holds
the key, its hash token (--clients hash).

Examples:
  dnsrecall clients '*.evil.example' --after 30d
  dnsrecall clients 10.1.2.0/24 --format csv")]
pub struct ClientsArgs {
    /// Name pattern or client address / prefix / range.
    #[arg(value_name = "PATTERN")]
    pub pattern: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

struct Prepared {
    filter: TupleFilter,
    sort: Sort,
    format: Format,
    time_format: TimeFormat,
}

fn prepare(common: &CommonArgs, config: &Config) -> Result<Prepared> {
    let spec = FilterSpec {
        types: common.types.clone(),
        after: common.after.clone(),
        before: common.before.clone(),
        strict: common.strict,
        first_after: common.first_after.clone(),
        first_before: common.first_before.clone(),
        last_after: common.last_after.clone(),
        last_before: common.last_before.clone(),
        sensors: common.sensor.clone(),
        sort: Some(common.sort.clone()),
        desc: common.desc,
    };
    let (filter, sort) = spec.build(chrono::Utc::now().timestamp()).map_err(|e| {
        usage(format!(
            "--{}: {}",
            e.parameter.replace('_', "-"),
            e.message
        ))
    })?;
    let format: Format = common
        .format
        .parse()
        .map_err(|e: String| usage(format!("--format: {e}")))?;
    let time_format = match common.time_format.as_ref().or(config.time_format.as_ref()) {
        Some(p) => TimeFormat::strftime(p).map_err(|e| usage(format!("--time-format: {e}")))?,
        None => TimeFormat::default(),
    };
    if common.limit == 0 {
        return Err(usage("--limit must be at least 1"));
    }
    Ok(Prepared {
        filter,
        sort,
        format,
        time_format,
    })
}

fn emit<R: OutputRow>(
    p: &Prepared,
    common: &CommonArgs,
    rows: &[R],
    truncated: bool,
) -> Result<u8> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let cut = Cut {
        truncated,
        offset: common.offset,
        limit: common.limit,
    };
    let pending = match output::write_rows(&mut out, p.format, rows, &p.time_format, cut) {
        Ok(pending) => pending,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(exit::OK),
        Err(e) => return Err(e.into()),
    };
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(exit::OK),
        r => r?,
    }
    if pending {
        eprintln!(
            "note: {} rows shown; more match: the result was cut at --limit {} (next page: --offset {})",
            rows.len(),
            common.limit,
            common.offset + rows.len()
        );
    }
    if rows.is_empty() {
        if p.format == Format::Table {
            eprintln!("no results");
        }
        if common.fail_empty {
            return Ok(exit::EMPTY_OR_BAD_LINES);
        }
    }
    Ok(exit::OK)
}

fn open(cli: &Cli, config: &Config) -> Result<DynStore> {
    Ok(open_store(cli, config)?.0)
}

pub fn run_query(cli: &Cli, config: &Config, args: &QueryArgs) -> Result<u8> {
    let p = prepare(&args.common, config)?;
    let selector = match (&args.pattern, &args.rdata) {
        (Some(pat), None) => parse_pattern(pat).map_err(|e| usage(e.to_string()))?,
        (None, Some(r)) => {
            Selector::RdataName(parse_name_pattern(r).map_err(|e| usage(format!("--rdata: {e}")))?)
        }
        _ => return Err(usage("give a PATTERN or --rdata NAME-PATTERN")),
    };
    let mut store = open(cli, config)?;
    let (offset, limit) = (args.common.offset, args.common.limit);
    if args.negative {
        let (rows, truncated) = page(
            |f| {
                store
                    .for_each_negative(&selector, &p.filter, f)
                    .map(|_| ())
                    .map_err(query_error)
            },
            p.sort,
            |r| (r.time_first, r.time_last, r.count),
            offset,
            limit,
        )?;
        return emit(&p, &args.common, &rows, truncated);
    }
    let (rows, truncated) = store
        .query_tuples(&selector, &p.filter, p.sort, offset, limit)
        .map_err(query_error)?;
    emit(&p, &args.common, &rows, truncated)
}

pub fn run_clients(cli: &Cli, config: &Config, args: &ClientsArgs) -> Result<u8> {
    let p = prepare(&args.common, config)?;
    let exact: Option<Vec<ClientId>>;
    let selector;
    let (mut store, data_dir) = open_store(cli, config)?;
    if args.pattern.starts_with("hash:") {
        let token = dnsrecall_ingest::parse_token(&args.pattern).ok_or_else(|| {
            usage(format!(
                "{:?}: a client token is hash: and 24 hex digits",
                args.pattern
            ))
        })?;
        exact = Some(vec![token]);
        selector = None;
    } else {
        let sel = parse_pattern(&args.pattern).map_err(|e| usage(e.to_string()))?;
        exact = match &sel {
            Selector::Address { lo, hi } if lo == hi => Some(
                dnsrecall_ingest::stored_forms(*lo, &data_dir)
                    .map_err(|e| anyhow::anyhow!("reading the client hash key: {e}"))?,
            ),
            _ => None,
        };
        selector = Some(sel);
    }
    let (rows, truncated) = page(
        |f| {
            match (&exact, &selector) {
                (Some(ids), _) => store.for_each_client_id(ids, &p.filter, f),
                (None, Some(sel)) => store.for_each_client(sel, &p.filter, f),
                (None, None) => Ok(Default::default()),
            }
            .map(|_| ())
            .map_err(query_error)
        },
        p.sort,
        |r| (r.time_first, r.time_last, r.count),
        args.common.offset,
        args.common.limit,
    )?;
    emit(&p, &args.common, &rows, truncated)
}

fn query_error(e: dnsrecall_store::QueryError) -> anyhow::Error {
    match e {
        dnsrecall_store::QueryError::Invalid(msg) => usage(msg),
        other => anyhow::Error::new(other),
    }
}
