//! Prometheus metrics in the text exposition format: requests by route and status,
//! latency histograms by route (time to the response headers), rows answered, store size,
//! and whatever the hooks add (ingest counters when collection runs in this process).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::Shared;

/// Adds lines to the exposition (`# TYPE` lines included).
pub type MetricsHook = Arc<dyn Fn(&mut String) + Send + Sync>;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    rows: BTreeMap<String, u64>,
}

pub struct Metrics {
    inner: Mutex<Inner>,
    store_path: PathBuf,
    hooks: Vec<MetricsHook>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    #[must_use]
    pub fn new(store_path: PathBuf, hooks: Vec<MetricsHook>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            store_path,
            hooks,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn observe(&self, route: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut m = self.lock();
        *m.requests.entry((route.to_owned(), status)).or_default() += 1;
        let h = m.latency.entry(route.to_owned()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.buckets[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Rows sent by an API flavour.
    pub fn add_rows(&self, flavour: &str, n: u64) {
        *self.lock().rows.entry(flavour.to_owned()).or_default() += n;
    }

    /// The exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let m = self.lock();
        out.push_str("# HELP dnsrecall_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE dnsrecall_http_requests_total counter\n");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "dnsrecall_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP dnsrecall_http_request_duration_seconds Time to the response headers.\n",
        );
        out.push_str("# TYPE dnsrecall_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let r = escape(route);
            for (le, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "dnsrecall_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "dnsrecall_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "dnsrecall_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "dnsrecall_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP dnsrecall_answer_rows_total Rows sent in answers, by API flavour.\n");
        out.push_str("# TYPE dnsrecall_answer_rows_total counter\n");
        for (flavour, n) in &m.rows {
            let _ = writeln!(out, "dnsrecall_answer_rows_total{{api=\"{flavour}\"}} {n}");
        }
        drop(m);
        let size = |suffix: &str| {
            let mut p = self.store_path.clone().into_os_string();
            p.push(suffix);
            std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        };
        out.push_str("# HELP dnsrecall_store_bytes Size of the store files.\n");
        out.push_str("# TYPE dnsrecall_store_bytes gauge\n");
        let _ = writeln!(out, "dnsrecall_store_bytes{{file=\"db\"}} {}", size(""));
        let _ = writeln!(
            out,
            "dnsrecall_store_bytes{{file=\"wal\"}} {}",
            size("-wal")
        );
        for hook in &self.hooks {
            hook(&mut out);
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn handler(State(state): State<Shared>) -> Response {
    let mut resp = state.metrics.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
