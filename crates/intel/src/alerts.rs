//! Live alerts: every record an ingest, capture or dnstap pipeline folds in is matched
//! against the watched feeds; a new match raises an alert to the sinks, once per (client,
//! indicator) and time window. Every alert is also appended to the alert store
//! (`intel/alerts.ndjson` in the data directory), which `dnsrecall alerts` and the web UI
//! read, and which primes the de-duplication after a restart so a replayed batch does not
//! alert twice.
//!
//! Sinks: an NDJSON file, syslog (`/dev/log`), a webhook (HTTP POST of the alert JSON, on
//! its own thread with a bounded queue, retried with exponential back-off), stdout.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dnsrecall_ingest::ClientPolicy;
use dnsrecall_ingest::watch::Watch;
use dnsrecall_model::{Record, RrType};
use serde::{Deserialize, Serialize};

use crate::matcher::Matchers;
use crate::matcher::Via;

/// The alert store's path under the data directory.
#[must_use]
pub fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join("intel").join("alerts.ndjson")
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// When the matching record was seen (epoch seconds).
    pub time: i64,
    /// When it was matched (epoch seconds).
    pub detected: i64,
    /// The client as stored under the privacy mode (`None`: unknown or not kept).
    pub client: Option<String>,
    pub query: String,
    pub qtype: String,
    /// The rdata of the answer, or the rcode of a negative answer.
    pub answer: String,
    pub ioc: String,
    pub feed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub via: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
}

/// Where alerts go, besides the alert store.
#[derive(Debug, Clone, Default)]
pub struct SinkConfig {
    pub file: Option<PathBuf>,
    pub webhook: Option<String>,
    /// Syslog socket (`/dev/log` when `None`).
    pub syslog: Option<PathBuf>,
    pub stdout: bool,
    /// One alert per (client, indicator) within this many seconds.
    pub window: i64,
}

/// Counters of the alert path.
#[derive(Debug, Default)]
pub struct AlertCounters {
    pub matched: AtomicU64,
    pub raised: AtomicU64,
    pub deduplicated: AtomicU64,
    pub suppressed: AtomicU64,
    pub excluded: AtomicU64,
    pub webhook_sent: AtomicU64,
    pub webhook_failed: AtomicU64,
    pub sink_errors: AtomicU64,
}

struct Sinks {
    store: std::fs::File,
    file: Option<std::fs::File>,
    syslog: Option<std::os::unix::net::UnixDatagram>,
    stdout: bool,
    webhook: Option<std::sync::mpsc::SyncSender<String>>,
}

/// De-duplication key: (client, feed, indicator as written).
type AlertKey = (Option<String>, String, String);

/// Shared by the watchers of one process.
pub struct Router {
    matchers: Arc<Matchers>,
    policy: Option<ClientPolicy>,
    window: i64,
    sinks: Mutex<Sinks>,
    /// (client, feed, indicator) -> last alert time.
    recent: Mutex<HashMap<AlertKey, i64>>,
    pub counters: Arc<AlertCounters>,
    webhook_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

/// Most alerts waiting for the webhook; more are counted as failed (they stay in the
/// alert store).
const WEBHOOK_QUEUE: usize = 10_000;
/// Most de-duplication entries kept (oldest dropped first).
const MAX_RECENT: usize = 1_000_000;

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

impl Router {
    /// # Errors
    /// When the alert store or the alert file cannot be opened, or syslog is asked for and
    /// `/dev/log` cannot be reached.
    pub fn new(
        data_dir: &Path,
        matchers: Arc<Matchers>,
        policy: Option<ClientPolicy>,
        config: &SinkConfig,
    ) -> std::io::Result<Arc<Self>> {
        let store = store_path(data_dir);
        let recent = prime(&store, config.window);
        let syslog = match &config.syslog {
            Some(path) => {
                let s = std::os::unix::net::UnixDatagram::unbound()?;
                s.connect(path).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("syslog socket {}: {e}", path.display()))
                })?;
                Some(s)
            }
            None => None,
        };
        let counters = Arc::new(AlertCounters::default());
        let (webhook, thread) = match &config.webhook {
            Some(url) => {
                let (tx, rx) = std::sync::mpsc::sync_channel::<String>(WEBHOOK_QUEUE);
                let url = url.clone();
                let c = counters.clone();
                let h = std::thread::Builder::new()
                    .name("alert-webhook".into())
                    .spawn(move || webhook_loop(&url, &rx, &c))?;
                (Some(tx), Some(h))
            }
            None => (None, None),
        };
        Ok(Arc::new(Self {
            matchers,
            policy,
            window: config.window.max(0),
            sinks: Mutex::new(Sinks {
                store: open_append(&store)?,
                file: config.file.as_deref().map(open_append).transpose()?,
                syslog,
                stdout: config.stdout,
                webhook,
            }),
            recent: Mutex::new(recent),
            counters,
            webhook_thread: Mutex::new(thread),
        }))
    }

    /// A watcher for one aggregator.
    #[must_use]
    pub fn watcher(self: &Arc<Self>) -> Box<dyn Watch> {
        Box::new(Watcher {
            router: Arc::clone(self),
            ids: Vec::new(),
            hits: Vec::new(),
        })
    }

    /// Waits until the webhook queue is delivered (or given up), for a clean exit.
    pub fn finish(&self) {
        if let Ok(mut s) = self.sinks.lock() {
            s.webhook = None;
        }
        let handle = self.webhook_thread.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    fn client_label(&self, ip: Option<IpAddr>) -> Option<String> {
        let ip = ip?;
        match &self.policy {
            Some(p) => p.apply(ip).map(|c| c.to_string()),
            None => Some(ip.to_string()),
        }
    }

    fn raise(&self, alert: Alert) {
        let key = (alert.client.clone(), alert.feed.clone(), alert.ioc.clone());
        {
            let mut recent = self
                .recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(last) = recent.get(&key)
                && alert.time >= *last
                && alert.time - *last < self.window
            {
                self.counters.deduplicated.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if recent.len() >= MAX_RECENT {
                let cutoff = alert.time - self.window;
                recent.retain(|_, t| *t >= cutoff);
                if recent.len() >= MAX_RECENT {
                    recent.clear();
                }
            }
            recent.insert(key, alert.time);
        }
        self.counters.raised.fetch_add(1, Ordering::Relaxed);
        let Ok(line) = serde_json::to_string(&alert) else {
            return;
        };
        let mut s = self
            .sinks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ok = writeln!(s.store, "{line}").is_ok();
        if let Some(f) = s.file.as_mut() {
            ok &= writeln!(f, "{line}").is_ok();
        }
        if let Some(sock) = &s.syslog {
            // RFC 3164: facility local0, severity warning.
            let msg = format!("<132>dnsrecall[{}]: {line}", std::process::id());
            ok &= sock.send(msg.as_bytes()).is_ok();
        }
        if s.stdout {
            println!("{line}");
        }
        if let Some(tx) = &s.webhook
            && tx.try_send(line).is_err()
        {
            self.counters.webhook_failed.fetch_add(1, Ordering::Relaxed);
        }
        if !ok {
            self.counters.sink_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// De-duplication state from the alert store: the latest alert per key.
fn prime(store: &Path, window: i64) -> HashMap<AlertKey, i64> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read_to_string(store) else {
        return out;
    };
    let alerts: Vec<Alert> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let newest = alerts.iter().map(|a| a.time).max().unwrap_or(0);
    for a in alerts {
        if a.time >= newest - window {
            let t = out.entry((a.client, a.feed, a.ioc)).or_insert(a.time);
            *t = (*t).max(a.time);
        }
    }
    out
}

fn webhook_loop(url: &str, rx: &std::sync::mpsc::Receiver<String>, c: &AlertCounters) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(true)
        .build()
        .into();
    while let Ok(body) = rx.recv() {
        let mut delay = Duration::from_millis(250);
        let mut sent = false;
        for _ in 0..8 {
            let r = agent
                .post(url)
                .header("content-type", "application/json")
                .send(body.as_bytes());
            if r.is_ok() {
                sent = true;
                break;
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(30));
        }
        if sent {
            c.webhook_sent.fetch_add(1, Ordering::Relaxed);
        } else {
            tracing::warn!("webhook {url}: giving up on an alert after 8 tries");
            c.webhook_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[derive(Debug)]
struct Watcher {
    router: Arc<Router>,
    ids: Vec<u32>,
    hits: Vec<(u32, Via)>,
}

fn via_str(v: Via) -> &'static str {
    match v {
        Via::QueryName => "query_name",
        Via::RdataName => "rdata_name",
        Via::Address => "address",
        Via::NsName => "ns_name",
        Via::NsAddress => "ns_address",
    }
}

impl Watch for Watcher {
    fn observe(&mut self, rec: &Record) -> bool {
        let r = &*self.router;
        let m = &r.matchers;
        let (name, client, time, sensor) = match rec {
            Record::Answer(o) => (&o.rrname, o.client, o.time, &o.sensor_id),
            Record::Negative(n) => (&n.qname, n.client, n.time, &n.sensor_id),
            Record::Tuple(t) => (
                &t.key.rrname,
                None,
                t.value.time_last * 1_000_000,
                &t.key.sensor_id,
            ),
        };
        if !m.exclude.is_empty() {
            self.ids.clear();
            m.exclude.match_name(name.as_str(), &mut self.ids);
            if !self.ids.is_empty() {
                r.counters.excluded.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        if m.watch.is_empty() {
            return true;
        }
        self.hits.clear();
        // Match first; the alert's text is only made for the rare record that hits.
        let qtype: RrType = match rec {
            Record::Answer(o) => {
                m.watch.match_answer(
                    o.rrname.as_str(),
                    o.rrtype,
                    o.rdata.as_str(),
                    &mut self.hits,
                );
                o.rrtype
            }
            Record::Negative(n) => {
                self.ids.clear();
                m.watch.match_name(n.qname.as_str(), &mut self.ids);
                self.hits
                    .extend(self.ids.iter().map(|i| (*i, Via::QueryName)));
                n.qtype
            }
            Record::Tuple(t) => {
                m.watch.match_answer(
                    t.key.rrname.as_str(),
                    t.key.rrtype,
                    t.key.rdata.as_str(),
                    &mut self.hits,
                );
                t.key.rrtype
            }
        };
        if self.hits.is_empty() {
            return true;
        }
        r.counters
            .matched
            .fetch_add(self.hits.len() as u64, Ordering::Relaxed);
        if m.quiet(name.as_str()) {
            r.counters.suppressed.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let answer = match rec {
            Record::Answer(o) => o.rdata.as_str().to_owned(),
            Record::Negative(n) => n.rcode.to_string(),
            Record::Tuple(t) => t.key.rdata.as_str().to_owned(),
        };
        let client = r.client_label(client);
        let now = chrono::Utc::now().timestamp();
        for (id, via) in self.hits.drain(..) {
            let e = m.watch.entry(id);
            r.raise(Alert {
                time: dnsrecall_model::micros_to_secs(time),
                detected: now,
                client: client.clone(),
                query: name.as_str().to_owned(),
                qtype: qtype.to_string(),
                answer: answer.clone(),
                ioc: e.ioc.meta.original.clone(),
                feed: e.feed.to_string(),
                event: e.ioc.meta.event.clone(),
                category: e.ioc.meta.category.clone(),
                via: via_str(via).to_owned(),
                sensor: sensor.as_ref().map(|s| s.to_string()),
            });
        }
        true
    }
}

/// Reads the alert store: alerts detected for records seen at or after `since`.
///
/// # Errors
/// When the store exists but cannot be read.
pub fn read_alerts(data_dir: &Path, since: Option<i64>) -> std::io::Result<Vec<Alert>> {
    let text = match std::fs::read_to_string(store_path(data_dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Alert>(l).ok())
        .filter(|a| since.is_none_or(|s| a.time >= s))
        .collect())
}
