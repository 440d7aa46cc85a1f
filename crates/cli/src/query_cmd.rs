//! `dnsrecall query` and `dnsrecall clients`.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Result;
use clap::Args;
use dnsrecall_model::{ClientId, ClientMode};
use dnsrecall_query::output::{self, Cut, Format, OutputRow};
use dnsrecall_query::{
    Selector, TimeFormat, parse_name_pattern, parse_pattern, parse_time, parse_types,
};
use dnsrecall_store::{Sort, SqliteStore, TimeFence, TupleFilter};

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
    let now = chrono::Utc::now().timestamp();
    let t = |v: &Option<String>, what: &str| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| parse_time(s, now).map_err(|e| usage(format!("--{what}: {e}"))))
            .transpose()
    };
    let mut fence = TimeFence {
        first_after: t(&common.first_after, "first-after")?,
        first_before: t(&common.first_before, "first-before")?,
        last_after: t(&common.last_after, "last-after")?,
        last_before: t(&common.last_before, "last-before")?,
    };
    let tighten = |slot: &mut Option<i64>, v: i64, after: bool| {
        *slot = Some(match *slot {
            Some(old) if after => old.max(v),
            Some(old) => old.min(v),
            None => v,
        });
    };
    if let Some(a) = t(&common.after, "after")? {
        if common.strict {
            tighten(&mut fence.first_after, a, true);
        } else {
            tighten(&mut fence.last_after, a, true);
        }
    }
    if let Some(b) = t(&common.before, "before")? {
        if common.strict {
            tighten(&mut fence.last_before, b, false);
        } else {
            tighten(&mut fence.first_before, b, false);
        }
    }
    let rrtypes = parse_types(&common.types).map_err(|e| usage(format!("--type: {e}")))?;
    let descending = common.desc;
    let sort = match common.sort.as_str() {
        "name" if !descending => Sort::Natural,
        "name" => Sort::Name { descending },
        "first" => Sort::TimeFirst { descending },
        "last" => Sort::TimeLast { descending },
        "count" => Sort::Count { descending },
        s => {
            return Err(usage(format!(
                "--sort {s:?}: expected name, first, last or count"
            )));
        }
    };
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
    let sensors = (!common.sensor.is_empty()).then(|| common.sensor.clone());
    Ok(Prepared {
        filter: TupleFilter {
            rrtypes,
            sensors,
            fence,
        },
        sort,
        format,
        time_format,
    })
}

/// Collects up to offset+limit+1 rows from a streaming query, for the row types that are
/// only streamed (clients, negatives), applying the sort the way the store does for tuples.
fn page<R>(
    stream: impl FnOnce(&mut dyn FnMut(R) -> ControlFlow<()>) -> Result<()>,
    sort: Sort,
    key: impl Fn(&R) -> (i64, i64, u64),
    offset: usize,
    limit: usize,
) -> Result<(Vec<R>, bool)> {
    let mut rows = Vec::new();
    let want = offset.saturating_add(limit).saturating_add(1);
    let natural = matches!(sort, Sort::Natural);
    stream(&mut |r| {
        rows.push(r);
        if natural && rows.len() >= want {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    match sort {
        Sort::TimeFirst { descending } => sort_by(&mut rows, |r| key(r).0 as i128, descending),
        Sort::TimeLast { descending } => sort_by(&mut rows, |r| key(r).1 as i128, descending),
        Sort::Count { descending } => sort_by(&mut rows, |r| key(r).2 as i128, descending),
        Sort::Name { descending } => {
            if descending {
                rows.reverse();
            }
        }
        Sort::Natural => {}
    }
    let truncated = rows.len() > offset.saturating_add(limit);
    let rows: Vec<R> = rows.into_iter().skip(offset).take(limit).collect();
    Ok((rows, truncated))
}

fn sort_by<R>(rows: &mut [R], k: impl Fn(&R) -> i128, descending: bool) {
    rows.sort_by(|a, b| {
        let o = k(a).cmp(&k(b));
        if descending { o.reverse() } else { o }
    });
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

fn open(cli: &Cli, config: &Config) -> Result<SqliteStore> {
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

/// The stored forms one client can have: its address, its masked network (`--clients
/// mask`), and its keyed-hash token when the data directory holds the key (`--clients
/// hash`), so `clients 10.1.2.3` finds it whatever the privacy mode was.
fn client_forms(ip: std::net::IpAddr, data_dir: &std::path::Path) -> Result<Vec<ClientId>> {
    let mut forms = vec![ClientId::from_ip(ip), ClientId::masked(ip)];
    if data_dir.join(dnsrecall_ingest::KEY_FILE).exists() {
        let policy = dnsrecall_ingest::ClientPolicy::load(ClientMode::Hash, data_dir)
            .map_err(|e| anyhow::anyhow!("reading the client hash key: {e}"))?;
        forms.extend(policy.apply(ip));
    }
    Ok(forms)
}

/// A `hash:` token as printed for hashed clients.
fn parse_token(s: &str) -> Option<ClientId> {
    let hex = s.strip_prefix("hash:")?;
    if hex.len() != 24 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..12)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    ClientId::from_bytes(&bytes)
}

pub fn run_clients(cli: &Cli, config: &Config, args: &ClientsArgs) -> Result<u8> {
    let p = prepare(&args.common, config)?;
    let exact: Option<Vec<ClientId>>;
    let selector;
    let (mut store, data_dir) = open_store(cli, config)?;
    if args.pattern.starts_with("hash:") {
        let token = parse_token(&args.pattern).ok_or_else(|| {
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
            Selector::Address { lo, hi } if lo == hi => Some(client_forms(*lo, &data_dir)?),
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
