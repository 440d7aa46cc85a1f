//! The feed registry: what `dnsrecall intel add` recorded, each feed's last good
//! indicators, and loading (files, MISP feed directories, http(s) URLs).
//!
//! Layout in the data directory:
//!
//! ```text
//! intel/feeds.json          the registry: each feed's source, format, filters, role, state
//! intel/feeds/NAME.json     the feed's last good indicators (after filters)
//! intel/feeds/NAME.bad.json the bad entries of that load (the first 1000), with places
//! ```
//!
//! A refresh that fails (unreachable URL, unparseable document, no usable entry) keeps the
//! last good indicators and records the error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ioc::{BadEntry, FeedFormat, Ioc, Parsed, Target};
use crate::matcher::Matchers;

/// Largest document fetched or read for one feed.
const MAX_DOCUMENT: u64 = 512 * 1024 * 1024;
/// Bad entries kept per load for `intel show` (all are counted).
const MAX_BAD_KEPT: usize = 1000;

/// What a feed is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Hunted and alerted on.
    #[default]
    Watch,
    /// Noise: names matching it are left out of hunts, alerts and reports.
    Suppress,
    /// Like suppress, and kept out of the store altogether at ingest.
    Exclude,
}

/// Which indicators of a source to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Only indicators whose timestamp is within this duration (e.g. `30d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// Only these MISP categories (case-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Only these MISP attribute types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Only attributes flagged `to_ids`.
    #[serde(default)]
    pub to_ids: bool,
    /// Domains match only themselves, not their subdomains.
    #[serde(default)]
    pub exact: bool,
}

/// A feed as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedConfig {
    pub name: String,
    /// A file, a MISP feed directory, or an http(s) URL.
    pub source: String,
    /// `None`: detected at each load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FeedFormat>,
    /// A header sent with URL requests, `Name: value` (MISP: `Authorization: KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// How often `intel refresh` reloads it (`1h`); `None`: only when asked by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    #[serde(default)]
    pub filters: Filters,
    #[serde(default)]
    pub role: Role,
}

/// What the last loads gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    /// When the indicators in use were loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaded_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FeedFormat>,
    pub iocs: u64,
    pub bad: u64,
    pub ignored: u64,
    /// Left out by the filters.
    pub filtered: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<i64>,
    /// The last refresh's failure (the previous indicators stay in use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    #[serde(flatten)]
    pub config: FeedConfig,
    #[serde(default)]
    pub state: FeedState,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Registry {
    version: u32,
    feeds: Vec<Feed>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Registry(String),
    #[error("no feed named {0:?}")]
    Unknown(String),
    #[error("a feed named {0:?} exists already (remove it first)")]
    Exists(String),
    #[error("feed name {0:?}: use 1 to 64 letters, digits, '.', '_' or '-'")]
    BadName(String),
    #[error("{0}")]
    Usage(String),
    #[error("fetching {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
}

/// What one load gave.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub format: Option<FeedFormat>,
    pub iocs: u64,
    pub bad: Vec<BadEntry>,
    pub bad_total: u64,
    pub ignored: u64,
    pub filtered: u64,
}

/// One feed's name and the outcome of its reload.
pub type Refreshed = (String, Result<LoadReport, FeedError>);

/// The intel directory of a data directory.
#[derive(Debug, Clone)]
pub struct Intel {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FeedError + '_ {
    move |source| FeedError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FeedError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl Intel {
    #[must_use]
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("intel"),
        }
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn registry_path(&self) -> PathBuf {
        self.dir.join("feeds.json")
    }

    fn iocs_path(&self, name: &str) -> PathBuf {
        self.dir.join("feeds").join(format!("{name}.json"))
    }

    fn bad_path(&self, name: &str) -> PathBuf {
        self.dir.join("feeds").join(format!("{name}.bad.json"))
    }

    fn registry(&self) -> Result<Registry, FeedError> {
        let path = self.registry_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| FeedError::Registry(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry {
                version: 1,
                feeds: Vec::new(),
            }),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn save(&self, reg: &Registry) -> Result<(), FeedError> {
        let text =
            serde_json::to_vec_pretty(reg).map_err(|e| FeedError::Registry(e.to_string()))?;
        write_atomic(&self.registry_path(), &text)
    }

    /// Every feed, in the order added.
    ///
    /// # Errors
    /// When the registry cannot be read.
    pub fn list(&self) -> Result<Vec<Feed>, FeedError> {
        Ok(self.registry()?.feeds)
    }

    /// One feed.
    ///
    /// # Errors
    /// When it does not exist or the registry cannot be read.
    pub fn get(&self, name: &str) -> Result<Feed, FeedError> {
        self.list()?
            .into_iter()
            .find(|f| f.config.name == name)
            .ok_or_else(|| FeedError::Unknown(name.to_owned()))
    }

    /// Adds a feed and loads it; a feed whose first load fails is not added.
    ///
    /// # Errors
    /// A bad or taken name, or a failed first load.
    pub fn add(&self, config: FeedConfig, now: i64) -> Result<LoadReport, FeedError> {
        let valid = !config.name.is_empty()
            && config.name.len() <= 64
            && config
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(FeedError::BadName(config.name));
        }
        if let Some(r) = &config.refresh {
            dnsrecall_query::parse_duration(r)
                .map_err(|e| FeedError::Usage(format!("--refresh: {e}")))?;
        }
        if let Some(l) = &config.filters.last {
            dnsrecall_query::parse_duration(l)
                .map_err(|e| FeedError::Usage(format!("--last: {e}")))?;
        }
        let mut reg = self.registry()?;
        if reg.feeds.iter().any(|f| f.config.name == config.name) {
            return Err(FeedError::Exists(config.name));
        }
        let (iocs, report) = load(&config, now)?;
        self.store_load(&config.name, &iocs, &report)?;
        reg.feeds.push(Feed {
            state: state_after(&report, now),
            config,
        });
        self.save(&reg)?;
        Ok(report)
    }

    fn store_load(&self, name: &str, iocs: &[Ioc], report: &LoadReport) -> Result<(), FeedError> {
        let text = serde_json::to_vec(iocs).map_err(|e| FeedError::Registry(e.to_string()))?;
        write_atomic(&self.iocs_path(name), &text)?;
        let bad = serde_json::to_vec_pretty(&report.bad)
            .map_err(|e| FeedError::Registry(e.to_string()))?;
        write_atomic(&self.bad_path(name), &bad)
    }

    /// Removes a feed and its indicators.
    ///
    /// # Errors
    /// When it does not exist or files cannot be written.
    pub fn remove(&self, name: &str) -> Result<(), FeedError> {
        let mut reg = self.registry()?;
        let before = reg.feeds.len();
        reg.feeds.retain(|f| f.config.name != name);
        if reg.feeds.len() == before {
            return Err(FeedError::Unknown(name.to_owned()));
        }
        self.save(&reg)?;
        for p in [self.iocs_path(name), self.bad_path(name)] {
            let _ = std::fs::remove_file(p);
        }
        Ok(())
    }

    /// Reloads feeds: the named ones, or (with no names) every feed whose refresh interval
    /// has passed (`force`: every feed). A failed reload keeps the last good indicators.
    /// Returns each reloaded feed's outcome.
    ///
    /// # Errors
    /// When a named feed does not exist or the registry cannot be written.
    pub fn refresh(
        &self,
        names: &[String],
        force: bool,
        now: i64,
    ) -> Result<Vec<Refreshed>, FeedError> {
        let mut reg = self.registry()?;
        for n in names {
            if !reg.feeds.iter().any(|f| &f.config.name == n) {
                return Err(FeedError::Unknown(n.clone()));
            }
        }
        let mut out = Vec::new();
        for feed in &mut reg.feeds {
            let due = if names.is_empty() {
                force || is_due(feed, now)
            } else {
                names.contains(&feed.config.name)
            };
            if !due {
                continue;
            }
            feed.state.last_attempt = Some(now);
            let result = load(&feed.config, now).and_then(|(iocs, report)| {
                self.store_load(&feed.config.name, &iocs, &report)?;
                Ok(report)
            });
            match &result {
                Ok(report) => feed.state = state_after(report, now),
                Err(e) => feed.state.last_error = Some(e.to_string()),
            }
            out.push((feed.config.name.clone(), result));
        }
        self.save(&reg)?;
        Ok(out)
    }

    /// A feed's indicators in use.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn iocs(&self, name: &str) -> Result<Vec<Ioc>, FeedError> {
        let path = self.iocs_path(name);
        let text = std::fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&text)
            .map_err(|e| FeedError::Registry(format!("{}: {e}", path.display())))
    }

    /// The bad entries of a feed's last load (the first 1000).
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn bad_entries(&self, name: &str) -> Result<Vec<BadEntry>, FeedError> {
        let path = self.bad_path(name);
        match std::fs::read(&path) {
            Ok(text) => serde_json::from_slice(&text)
                .map_err(|e| FeedError::Registry(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Matchers for hunting and alerting: the watched feeds (only `names` when given),
    /// and the suppression feeds (suppress and exclude roles), and the exclusion feeds.
    ///
    /// # Errors
    /// When a named feed does not exist, or indicators cannot be read.
    pub fn matchers(&self, names: &[String]) -> Result<Matchers, FeedError> {
        let feeds = self.list()?;
        for n in names {
            if !feeds.iter().any(|f| &f.config.name == n) {
                return Err(FeedError::Unknown(n.clone()));
            }
        }
        let mut m = Matchers::default();
        for f in &feeds {
            let name = &f.config.name;
            match f.config.role {
                Role::Watch if names.is_empty() || names.contains(name) => {
                    // RPZ passthru rules are allow-list entries: they exempt, not match.
                    let (allow, watch): (Vec<Ioc>, Vec<Ioc>) = self
                        .iocs(name)?
                        .into_iter()
                        .partition(|i| i.meta.action.as_deref() == Some("PASSTHRU"));
                    m.watch.add_feed(name, watch);
                    m.allow.add_feed(name, allow);
                    m.watched.push(name.clone());
                }
                Role::Watch => {}
                Role::Suppress => m.suppress.add_feed(name, self.iocs(name)?),
                Role::Exclude => {
                    let iocs = self.iocs(name)?;
                    m.suppress.add_feed(name, iocs.clone());
                    m.exclude.add_feed(name, iocs);
                }
            }
        }
        Ok(m)
    }
}

fn is_due(feed: &Feed, now: i64) -> bool {
    let Some(every) = feed
        .config
        .refresh
        .as_deref()
        .and_then(|r| dnsrecall_query::parse_duration(r).ok())
    else {
        return false;
    };
    let last = feed
        .state
        .last_attempt
        .or(feed.state.loaded_at)
        .unwrap_or(0);
    now - last >= every
}

fn state_after(report: &LoadReport, now: i64) -> FeedState {
    FeedState {
        loaded_at: Some(now),
        format: report.format,
        iocs: report.iocs,
        bad: report.bad_total,
        ignored: report.ignored,
        filtered: report.filtered,
        last_attempt: Some(now),
        last_error: None,
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Reads a document: a URL (with the feed's header) or a file.
fn fetch(config: &FeedConfig, location: &str) -> Result<String, FeedError> {
    if is_url(location) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(true)
            .build()
            .into();
        let mut req = agent.get(location);
        if let Some(h) = &config.header {
            let (k, v) = h.split_once(':').ok_or_else(|| {
                FeedError::Usage(format!("--header {h:?}: expected 'Name: value'"))
            })?;
            req = req.header(k.trim(), v.trim());
        }
        let fetch_err = |message: String| FeedError::Fetch {
            url: location.to_owned(),
            message,
        };
        let mut resp = req.call().map_err(|e| fetch_err(e.to_string()))?;
        return resp
            .body_mut()
            .with_config()
            .limit(MAX_DOCUMENT)
            .read_to_string()
            .map_err(|e| fetch_err(e.to_string()));
    }
    let path = Path::new(location);
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if meta.len() > MAX_DOCUMENT {
        return Err(FeedError::Parse {
            source_name: location.to_owned(),
            message: format!("larger than {MAX_DOCUMENT} bytes"),
        });
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn join(base: &str, file: &str) -> String {
    if is_url(base) {
        format!("{}/{file}", base.trim_end_matches('/'))
    } else {
        Path::new(base).join(file).to_string_lossy().into_owned()
    }
}

/// Loads a feed's source: fetched, parsed, filtered.
///
/// # Errors
/// When the source cannot be read or parsed as a whole, or holds no usable entry while
/// it had bad ones.
pub fn load(config: &FeedConfig, now: i64) -> Result<(Vec<Ioc>, LoadReport), FeedError> {
    let source = config.source.as_str();
    let is_dir = !is_url(source) && Path::new(source).is_dir();
    let parse_err = |message: String| FeedError::Parse {
        source_name: source.to_owned(),
        message,
    };
    let mut parsed = Parsed::default();
    let format;
    if is_dir || config.format == Some(FeedFormat::MispFeed) {
        format = FeedFormat::MispFeed;
        let manifest = fetch(config, &join(source, "manifest.json"))?;
        let events = crate::parse_manifest(&manifest).map_err(|e| parse_err(e.to_string()))?;
        for ev in events {
            let file = format!("{}.json", ev.uuid);
            let text = match fetch(config, &join(source, &file)) {
                Ok(t) => t,
                Err(e) => {
                    parsed.bad.push(BadEntry {
                        place: file,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            match crate::parse(FeedFormat::MispEvent, &text, None) {
                Ok(p) => {
                    parsed.iocs.extend(p.iocs);
                    parsed.bad.extend(p.bad.into_iter().map(|mut b| {
                        b.place = format!("{file}: {}", b.place);
                        b
                    }));
                    parsed.ignored += p.ignored;
                }
                Err(e) => parsed.bad.push(BadEntry {
                    place: file,
                    reason: e.to_string(),
                }),
            }
        }
    } else {
        let text = fetch(config, source)?;
        let hint = source.rsplit('/').next();
        format = match config.format {
            Some(f) => f,
            None => {
                let head: String = text.chars().take(8192).collect();
                crate::detect(&head, hint)
                    .ok_or_else(|| parse_err("cannot tell the format; give --format".into()))?
            }
        };
        let origin = (format == FeedFormat::Rpz)
            .then(|| hint.map(|h| h.trim_end_matches(".zone").trim_end_matches(".rpz")))
            .flatten();
        parsed = crate::parse(format, &text, origin).map_err(|e| parse_err(e.to_string()))?;
    }
    if parsed.iocs.is_empty() && !parsed.bad.is_empty() {
        return Err(parse_err(format!(
            "no usable entry ({} bad; first: {}: {})",
            parsed.bad.len(),
            parsed.bad[0].place,
            parsed.bad[0].reason
        )));
    }
    let before = parsed.iocs.len() as u64;
    let cutoff = config
        .filters
        .last
        .as_deref()
        .and_then(|l| dnsrecall_query::parse_duration(l).ok())
        .map(|d| now - d);
    let f = &config.filters;
    let mut iocs: Vec<Ioc> = parsed
        .iocs
        .into_iter()
        .filter(|i| cutoff.is_none_or(|c| i.meta.timestamp.is_none_or(|t| t >= c)))
        .filter(|i| {
            f.categories.is_empty()
                || i.meta
                    .category
                    .as_deref()
                    .is_some_and(|c| f.categories.iter().any(|want| want.eq_ignore_ascii_case(c)))
        })
        .filter(|i| {
            f.types.is_empty()
                || i.meta
                    .source_type
                    .as_deref()
                    .is_some_and(|t| f.types.iter().any(|want| want == t))
        })
        .filter(|i| !f.to_ids || i.meta.to_ids)
        .collect();
    if f.exact {
        for i in &mut iocs {
            if let Target::Domain { exact, .. } | Target::NsName { exact, .. } = &mut i.target {
                *exact = true;
            }
        }
    }
    let bad_total = parsed.bad.len() as u64;
    parsed.bad.truncate(MAX_BAD_KEPT);
    let report = LoadReport {
        format: Some(format),
        iocs: iocs.len() as u64,
        bad: parsed.bad,
        bad_total,
        ignored: parsed.ignored,
        filtered: before - iocs.len() as u64,
    };
    Ok((iocs, report))
}
