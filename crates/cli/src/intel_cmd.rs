//! `dnsrecall intel`, `hunt`, `alerts`, `report`, and live matching for the collectors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use dnsrecall_intel::alerts::{self, Router, SinkConfig};
use dnsrecall_intel::feeds::{FeedConfig, FeedError, Filters, Intel, LoadReport, Role};
use dnsrecall_intel::hunt::{Hit, HuntOptions};
use dnsrecall_intel::matcher::Matchers;
use dnsrecall_query::{TimeFormat, parse_duration};
use serde_json::json;

use crate::config::{Config, locate, open_store};
use crate::{Cli, exit, print_out, usage};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  dnsrecall intel add misp https://misp.example/attributes/restSearch/json \\
      --header 'Authorization: MISPKEY' --last 30d --category 'Network activity' --refresh 1h
  dnsrecall intel add osint /srv/misp-feed/                 # a MISP feed directory
  dnsrecall intel add corp-rpz /etc/bind/rpz.corp.zone       # an RPZ zone
  dnsrecall intel add ads /etc/hosts.ads --suppress          # noise: kept out of alerts and reports
  dnsrecall intel refresh                                    # reload the feeds that are due
  dnsrecall hunt --since 30d --fail-on-hit                   # the seed's second search")]
pub struct IntelArgs {
    #[command(subcommand)]
    pub command: IntelCommand,
}

#[derive(Debug, Subcommand)]
pub enum IntelCommand {
    /// Add a feed (file, MISP feed directory or http(s) URL) and load it.
    Add(AddArgs),
    /// List feeds with their indicator counts and state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One feed: configuration, state, bad entries with their places.
    Show { name: String },
    /// Remove a feed and its indicators.
    Remove { name: String },
    /// Reload feeds: the named ones, or every feed whose --refresh interval has passed.
    Refresh {
        names: Vec<String>,
        /// Reload every feed now.
        #[arg(long)]
        all: bool,
        /// Then hunt the whole history with each reloaded feed.
        #[arg(long)]
        hunt_on_refresh: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// A name for the feed (letters, digits, . _ -).
    pub name: String,
    /// A file, a MISP feed directory (manifest.json), or an http(s) URL.
    pub source: String,
    /// misp-attributes, misp-event, misp-feed, misp-csv, misp-text, rpz or list
    /// [default: detected].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// A header for URL requests, e.g. 'Authorization: MISPKEY'.
    #[arg(long, value_name = "NAME: VALUE")]
    pub header: Option<String>,
    /// Reload interval for `intel refresh` (e.g. 1h).
    #[arg(long, value_name = "DURATION")]
    pub refresh: Option<String>,
    /// Only indicators with a timestamp within this duration (e.g. 30d).
    #[arg(long, value_name = "DURATION")]
    pub last: Option<String>,
    /// Only this MISP category (repeat for several), e.g. "Network activity".
    #[arg(long, value_name = "CATEGORY")]
    pub category: Vec<String>,
    /// Only this MISP attribute type (repeat), e.g. domain, ip-dst.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only MISP attributes flagged to_ids.
    #[arg(long)]
    pub to_ids: bool,
    /// Domains match only themselves, not their subdomains.
    #[arg(long)]
    pub exact: bool,
    /// A noise list: matching names are kept out of hunts, alerts and reports.
    #[arg(long, conflicts_with = "exclude")]
    pub suppress: bool,
    /// Like --suppress, and matching records are not stored at all by ingest, sniff and
    /// dnstap.
    #[arg(long)]
    pub exclude: bool,
    /// Then hunt the whole history with it.
    #[arg(long)]
    pub hunt: bool,
}

fn feed_error(e: FeedError) -> anyhow::Error {
    match e {
        FeedError::Unknown(_)
        | FeedError::Exists(_)
        | FeedError::BadName(_)
        | FeedError::Usage(_) => usage(e.to_string()),
        other => anyhow::Error::new(other),
    }
}

fn intel(cli: &Cli, config: &Config) -> Result<(Intel, PathBuf)> {
    let dir = locate(cli, config)?.dir;
    Ok((Intel::in_dir(&dir), dir))
}

/// `1 indicator`, `2 indicators`.
fn count(n: impl Into<u64>, word: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn describe(r: &LoadReport) -> String {
    format!(
        "{} ({}), {}, {} not about DNS, {} left out by filters",
        count(r.iocs, "indicator"),
        r.format.map_or("?".into(), |f| f.to_string()),
        count(r.bad_total, "bad entry").replace("entrys", "entries"),
        r.ignored,
        r.filtered
    )
}

fn print_bad(r: &LoadReport) {
    for b in r.bad.iter().take(10) {
        eprintln!("  bad entry at {}: {}", b.place, b.reason);
    }
    if r.bad_total > 10 {
        eprintln!(
            "  ... {} more (dnsrecall intel show NAME lists them)",
            r.bad_total - 10
        );
    }
}

pub fn run_intel(cli: &Cli, config: &Config, args: &IntelArgs) -> Result<u8> {
    let (intel, _) = intel(cli, config)?;
    let now = chrono::Utc::now().timestamp();
    match &args.command {
        IntelCommand::Add(a) => {
            let format = a
                .format
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e: String| usage(format!("--format: {e}")))?;
            let role = if a.exclude {
                Role::Exclude
            } else if a.suppress {
                Role::Suppress
            } else {
                Role::Watch
            };
            let source = if a.source.starts_with("http://") || a.source.starts_with("https://") {
                a.source.clone()
            } else {
                std::fs::canonicalize(&a.source)
                    .with_context(|| format!("feed source {}", a.source))?
                    .to_string_lossy()
                    .into_owned()
            };
            let fc = FeedConfig {
                name: a.name.clone(),
                source,
                format,
                header: a.header.clone(),
                refresh: a.refresh.clone(),
                filters: Filters {
                    last: a.last.clone(),
                    categories: a.category.clone(),
                    types: a.types.clone(),
                    to_ids: a.to_ids,
                    exact: a.exact,
                },
                role,
            };
            let report = intel.add(fc, now).map_err(feed_error)?;
            eprintln!("feed {:?} added: {}", a.name, describe(&report));
            print_bad(&report);
            if a.hunt && role == Role::Watch {
                let hunt = HuntArgs::for_feeds(vec![a.name.clone()]);
                return run_hunt(cli, config, &hunt);
            }
            Ok(exit::OK)
        }
        IntelCommand::List { json } => {
            let feeds = intel.list().map_err(feed_error)?;
            if *json {
                print_out(&(serde_json::to_string_pretty(&feeds)? + "\n"))?;
                return Ok(exit::OK);
            }
            if feeds.is_empty() {
                print_out("no feeds; add one with: dnsrecall intel add NAME SOURCE\n")?;
                return Ok(exit::OK);
            }
            let tf = TimeFormat::default();
            let mut t = format!(
                "{:<16} {:<9} {:<16} {:>9} {:>6} {:<21} {}\n",
                "name", "role", "format", "iocs", "bad", "loaded", "source"
            );
            for f in feeds {
                t.push_str(&format!(
                    "{:<16} {:<9} {:<16} {:>9} {:>6} {:<21} {}{}\n",
                    f.config.name,
                    format!("{:?}", f.config.role).to_lowercase(),
                    f.state.format.map_or("-".into(), |x| x.to_string()),
                    f.state.iocs,
                    f.state.bad,
                    f.state.loaded_at.map_or("-".into(), |t| tf.format(t)),
                    f.config.source,
                    f.state
                        .last_error
                        .map(|e| format!(
                            "\n    last refresh failed (previous version in use): {e}"
                        ))
                        .unwrap_or_default()
                ));
            }
            print_out(&t)?;
            Ok(exit::OK)
        }
        IntelCommand::Show { name } => {
            let f = intel.get(name).map_err(feed_error)?;
            let bad = intel.bad_entries(name).map_err(feed_error)?;
            let iocs = intel.iocs(name).map_err(feed_error)?;
            let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
            for i in &iocs {
                let k = match i.target {
                    dnsrecall_intel::Target::Domain { .. } => "domain",
                    dnsrecall_intel::Target::Addresses { .. } => "address",
                    dnsrecall_intel::Target::NsName { .. } => "ns-name",
                    dnsrecall_intel::Target::NsAddresses { .. } => "ns-address",
                };
                *kinds.entry(k).or_default() += 1;
            }
            let doc = json!({
                "feed": f,
                "indicators_by_kind": kinds,
                "bad_entries": bad,
                "sample": iocs.iter().take(10).collect::<Vec<_>>(),
            });
            print_out(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
            Ok(exit::OK)
        }
        IntelCommand::Remove { name } => {
            intel.remove(name).map_err(feed_error)?;
            eprintln!("feed {name:?} removed");
            Ok(exit::OK)
        }
        IntelCommand::Refresh {
            names,
            all,
            hunt_on_refresh,
        } => {
            let results = intel.refresh(names, *all, now).map_err(feed_error)?;
            if results.is_empty() {
                eprintln!("no feed is due (give names or --all to reload now)");
            }
            let mut code = exit::OK;
            let mut refreshed = Vec::new();
            for (name, r) in results {
                match r {
                    Ok(report) => {
                        eprintln!("{name}: {}", describe(&report));
                        print_bad(&report);
                        refreshed.push(name);
                    }
                    Err(e) => {
                        eprintln!("{name}: refresh failed, the previous version stays in use: {e}");
                        code = exit::FAILURE;
                    }
                }
            }
            if *hunt_on_refresh && !refreshed.is_empty() {
                let watch: Vec<String> = intel
                    .list()
                    .map_err(feed_error)?
                    .into_iter()
                    .filter(|f| f.config.role == Role::Watch && refreshed.contains(&f.config.name))
                    .map(|f| f.config.name)
                    .collect();
                if !watch.is_empty() {
                    let c = run_hunt(cli, config, &HuntArgs::for_feeds(watch))?;
                    code = code.max(c);
                }
            }
            Ok(code)
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Lists every client that got an answer matching a watched feed: a domain (or its
subdomains) asked for or found inside an answer (CNAME, NS, MX ... targets), or an
address in an A/AAAA answer. Suppression feeds (intel add --suppress) are left out.

Examples:
  dnsrecall hunt --since 30d                      # did anyone resolve a feed's domain this month?
  dnsrecall hunt --feed misp --format csv > hits.csv
  dnsrecall hunt --since 1d --fail-on-hit         # for cron: exit 1 when anything matched
  dnsrecall hunt --format misp-sightings          # to post to MISP's /sightings/add")]
pub struct HuntArgs {
    /// Only these feeds (repeat); default: every watched feed.
    #[arg(long = "feed", value_name = "NAME")]
    pub feeds: Vec<String>,
    /// Only sightings last seen within this duration or after this time (30d, 2026-11-01).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// table, json, csv or misp-sightings.
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    pub format: String,
    /// strftime pattern for first_seen/last_seen (default ISO 8601 UTC).
    #[arg(long, value_name = "PATTERN")]
    pub time_format: Option<String>,
    /// Exit with code 1 when anything matched.
    #[arg(long)]
    pub fail_on_hit: bool,
}

impl HuntArgs {
    fn for_feeds(feeds: Vec<String>) -> Self {
        Self {
            feeds,
            since: None,
            format: "table".into(),
            time_format: None,
            fail_on_hit: false,
        }
    }
}

fn since(s: Option<&str>, what: &str) -> Result<Option<i64>> {
    let now = chrono::Utc::now().timestamp();
    s.map(|v| dnsrecall_query::parse_time(v, now).map_err(|e| usage(format!("--{what}: {e}"))))
        .transpose()
}

pub fn run_hunt(cli: &Cli, config: &Config, args: &HuntArgs) -> Result<u8> {
    let (intel, _) = intel(cli, config)?;
    let matchers = intel.matchers(&args.feeds).map_err(feed_error)?;
    if matchers.watch.is_empty() {
        return Err(usage(
            "no watched feed holds indicators; add one with: dnsrecall intel add NAME SOURCE",
        ));
    }
    let opts = HuntOptions {
        since: since(args.since.as_deref(), "since")?,
        scan: None,
    };
    let tf = match args.time_format.as_ref().or(config.time_format.as_ref()) {
        Some(p) => TimeFormat::strftime(p).map_err(|e| usage(format!("--time-format: {e}")))?,
        None => TimeFormat::default(),
    };
    if !["table", "json", "csv", "misp-sightings"].contains(&args.format.as_str()) {
        return Err(usage(format!(
            "--format {:?}: expected table, json, csv or misp-sightings",
            args.format
        )));
    }
    let (mut store, _) = open_store(cli, config)?;
    let mut hits: Vec<Hit> = Vec::new();
    let started = std::time::Instant::now();
    let stats = dnsrecall_intel::hunt::hunt(&mut store, &matchers, &opts, |h| hits.push(h))
        .context("hunt")?;
    tracing::info!(?stats, "hunt done in {:?}", started.elapsed());
    print_hits(&matchers, &hits, &args.format, &tf)?;
    eprintln!(
        "{}: {} matching answers of {} checked ({} suppressed), {} from {}, {:.2} s",
        count(hits.len() as u64, "hit"),
        stats.answers_matched,
        stats.answers_checked,
        stats.suppressed,
        count(matchers.watch.len() as u64, "indicator"),
        count(matchers.watched.len() as u64, "feed"),
        started.elapsed().as_secs_f64()
    );
    if args.fail_on_hit && !hits.is_empty() {
        return Ok(exit::EMPTY_OR_BAD_LINES);
    }
    Ok(exit::OK)
}

/// Left-aligned columns two spaces apart (columns padded to at most `cap` characters),
/// or `empty` when there are no rows.
fn aligned(headers: &[&str], rows: &[Vec<String>], cap: usize, empty: &str) -> String {
    if rows.is_empty() {
        return empty.to_owned();
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count()).min(cap);
        }
    }
    let line = |r: &mut dyn Iterator<Item = &str>| {
        r.zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
            + "\n"
    };
    let mut t = line(&mut headers.iter().copied());
    for r in rows {
        t.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    t
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn print_hits(m: &Matchers, hits: &[Hit], format: &str, tf: &TimeFormat) -> Result<()> {
    const COLS: [&str; 12] = [
        "client",
        "query",
        "qtype",
        "answer",
        "first_seen",
        "last_seen",
        "count",
        "ioc",
        "via",
        "feed",
        "event",
        "category",
    ];
    let cells = |h: &Hit| -> Vec<String> {
        let v = dnsrecall_intel::hunt::hit_json(m, h, tf);
        COLS.iter()
            .map(|c| match &v[*c] {
                serde_json::Value::Null => "-".to_owned(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    };
    let text = match format {
        "json" => {
            serde_json::to_string_pretty(
                &hits
                    .iter()
                    .map(|h| dnsrecall_intel::hunt::hit_json(m, h, tf))
                    .collect::<Vec<_>>(),
            )? + "\n"
        }
        "csv" => {
            let mut t = COLS.join(",") + "\n";
            for h in hits {
                t.push_str(
                    &cells(h)
                        .iter()
                        .map(|c| csv_cell(c))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                t.push('\n');
            }
            t
        }
        "misp-sightings" => {
            // One sighting per indicator value: MISP's /sightings/add body.
            let mut by_value: BTreeMap<String, (i64, u64)> = BTreeMap::new();
            for h in hits {
                let e = m.watch.entry(h.ioc);
                let s = by_value
                    .entry(e.ioc.meta.original.clone())
                    .or_insert((0, 0));
                s.0 = s.0.max(h.time_last);
                s.1 += h.count;
            }
            let list: Vec<_> = by_value
                .into_iter()
                .map(|(value, (last, count))| {
                    json!({
                        "values": [value],
                        "timestamp": last,
                        "source": format!("dnsrecall ({count} answers)"),
                        "type": "0",
                    })
                })
                .collect();
            serde_json::to_string_pretty(&list)? + "\n"
        }
        _ => {
            let rows: Vec<Vec<String>> = hits.iter().map(cells).collect();
            aligned(&COLS, &rows, 48, "no hits\n")
        }
    };
    print_out(&text)
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Only alerts for records seen within this duration or after this time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only this feed (repeat).
    #[arg(long = "feed", value_name = "NAME")]
    pub feeds: Vec<String>,
    /// table or json (NDJSON, as stored).
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    pub format: String,
    /// At most N (the newest).
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}

pub fn run_alerts(cli: &Cli, config: &Config, args: &AlertsArgs) -> Result<u8> {
    let dir = locate(cli, config)?.dir;
    let since = since(args.since.as_deref(), "since")?;
    let mut list = alerts::read_alerts(&dir, since).context("reading the alert store")?;
    list.retain(|a| args.feeds.is_empty() || args.feeds.contains(&a.feed));
    let skip = list.len().saturating_sub(args.limit);
    let list = &list[skip..];
    let text = match args.format.as_str() {
        "json" => list
            .iter()
            .filter_map(|a| serde_json::to_string(a).ok())
            .map(|l| l + "\n")
            .collect(),
        "table" => {
            let tf = TimeFormat::default();
            let mut t = format!(
                "{:<21} {:<24} {:<32} {:<6} {:<24} {:<24} {}\n",
                "time", "client", "query", "type", "answer", "ioc", "feed"
            );
            for a in list {
                t.push_str(&format!(
                    "{:<21} {:<24} {:<32} {:<6} {:<24} {:<24} {}\n",
                    tf.format(a.time),
                    a.client.as_deref().unwrap_or("-"),
                    a.query,
                    a.qtype,
                    a.answer,
                    a.ioc,
                    a.feed
                ));
            }
            if list.is_empty() {
                t = "no alerts\n".into();
            }
            t
        }
        f => return Err(usage(format!("--format {f:?}: expected table or json"))),
    };
    print_out(&text)?;
    Ok(exit::OK)
}

/// Alert sinks for the collectors (`ingest`, `sniff`, `serve --ingest`); also read from
/// the `[alerts]` config section.
#[derive(Debug, Clone, Default, Args)]
pub struct AlertArgs {
    /// Append alerts as NDJSON to FILE (they always go to the alert store too).
    #[arg(long, value_name = "FILE", help_heading = "Alerts")]
    pub alert_file: Option<PathBuf>,
    /// POST each alert as JSON to URL (retried with back-off).
    #[arg(long, value_name = "URL", help_heading = "Alerts")]
    pub alert_webhook: Option<String>,
    /// Send alerts to syslog (facility local0) through this socket [default: /dev/log].
    #[arg(long, value_name = "SOCKET", num_args = 0..=1, default_missing_value = "/dev/log", help_heading = "Alerts")]
    pub alert_syslog: Option<PathBuf>,
    /// Print alerts on standard output.
    #[arg(long, help_heading = "Alerts")]
    pub alert_stdout: bool,
    /// One alert per client and indicator within this window [default: 1h].
    #[arg(long, value_name = "DURATION", help_heading = "Alerts")]
    pub alert_window: Option<String>,
}

/// The `[alerts]` config section.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    pub file: Option<PathBuf>,
    pub webhook: Option<String>,
    /// A syslog socket path, or true for /dev/log.
    pub syslog: Option<toml::Value>,
    pub stdout: Option<bool>,
    pub window: Option<String>,
}

/// Turns on live matching for this process's collectors when feeds exist: every
/// aggregator gets a watcher. Returns the router (to finish the webhook queue at exit).
pub fn install_live(
    cli: &Cli,
    config: &Config,
    args: &AlertArgs,
    policy: Option<dnsrecall_ingest::ClientPolicy>,
) -> Result<Option<Arc<Router>>> {
    let (intel, dir) = intel(cli, config)?;
    let feeds = intel.list().map_err(feed_error)?;
    if feeds.is_empty() {
        return Ok(None);
    }
    let matchers = intel.matchers(&[]).map_err(feed_error)?;
    if matchers.watch.is_empty() && matchers.exclude.is_empty() {
        return Ok(None);
    }
    let file = config.alerts.clone().unwrap_or_default();
    let window = args
        .alert_window
        .as_ref()
        .or(file.window.as_ref())
        .map(|w| parse_duration(w).map_err(|e| usage(format!("--alert-window: {e}"))))
        .transpose()?
        .unwrap_or(3600);
    let sinks = SinkConfig {
        file: args.alert_file.clone().or(file.file),
        webhook: args.alert_webhook.clone().or(file.webhook),
        syslog: args.alert_syslog.clone().or(match file.syslog {
            Some(toml::Value::Boolean(true)) => Some(PathBuf::from("/dev/log")),
            Some(toml::Value::String(p)) => Some(PathBuf::from(p)),
            _ => None,
        }),
        stdout: args.alert_stdout || file.stdout.unwrap_or(false),
        window,
    };
    let router =
        Router::new(&dir, Arc::new(matchers), policy, &sinks).context("setting up alert sinks")?;
    let r = router.clone();
    dnsrecall_ingest::watch::install(Arc::new(move || r.watcher()));
    tracing::info!("live matching on: {} feeds", feeds.len());
    Ok(Some(router))
}

#[derive(Debug, Args)]
#[command(after_help = "\
Reports:
  top-clients   clients with the most hits on watched feeds (per feed)
  top-iocs      the indicators hit most, with how many clients
  top-names     the most asked names (suppression feeds left out)
  new-domains   names first seen inside the window, never before

Examples:
  dnsrecall report top-clients --since 7d --feed misp
  dnsrecall report new-domains --since 1d --limit 50")]
pub struct ReportArgs {
    /// top-clients, top-iocs, top-names or new-domains.
    pub kind: String,
    /// The window (7d, or a date) [default: 7d].
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only these feeds (top-clients, top-iocs).
    #[arg(long = "feed", value_name = "NAME")]
    pub feeds: Vec<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

pub fn run_report(cli: &Cli, config: &Config, args: &ReportArgs) -> Result<u8> {
    let since = since(Some(args.since.as_deref().unwrap_or("7d")), "since")?;
    let (intel, _) = intel(cli, config)?;
    let (mut store, _) = open_store(cli, config)?;
    let tf = TimeFormat::default();
    let kind: dnsrecall_intel::report::Kind = args
        .kind
        .parse()
        .map_err(|e: String| usage(format!("report {e}")))?;
    let m = intel.matchers(&args.feeds).map_err(feed_error)?;
    let report = dnsrecall_intel::report::report(&mut store, &m, kind, since, args.limit, &tf)?;
    let (headers, rows) = (report.headers, report.rows);
    let text = match args.format.as_str() {
        "json" => {
            let objs: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::Value::Object(
                        headers
                            .iter()
                            .zip(r)
                            .map(|(h, v)| ((*h).to_owned(), v.clone()))
                            .collect(),
                    )
                })
                .collect();
            serde_json::to_string_pretty(&objs)? + "\n"
        }
        "table" => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            o => o.to_string(),
                        })
                        .collect()
                })
                .collect();
            aligned(&headers, &cells, usize::MAX, "nothing in this window\n")
        }
        f => return Err(usage(format!("--format {f:?}: expected table or json"))),
    };
    print_out(&text)?;
    Ok(exit::OK)
}

/// One line on stderr: what live matching did.
pub fn print_alert_summary(router: &Router) {
    use std::sync::atomic::Ordering::Relaxed;
    let c = &router.counters;
    eprintln!(
        "intel: {} matches, {} alerts raised, {} de-duplicated, {} suppressed, {} records excluded; webhook {} sent, {} failed",
        c.matched.load(Relaxed),
        c.raised.load(Relaxed),
        c.deduplicated.load(Relaxed),
        c.suppressed.load(Relaxed),
        c.excluded.load(Relaxed),
        c.webhook_sent.load(Relaxed),
        c.webhook_failed.load(Relaxed)
    );
}
