//! Threat intel over HTTP, for the web UI's intel page and scripts.
//!
//! * `GET /api/v1/intel?since=30d&feed=NAME&limit=1000` — the feeds, the retro-hunt hits
//!   within the window (`rows`), and the newest live alerts;
//! * `GET /api/v1/intel/alerts?since=7d&feed=NAME&limit=1000` — live alerts, newest last.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dnsrecall_intel::feeds::Intel;
use dnsrecall_intel::hunt::{HuntOptions, hit_json};
use dnsrecall_query::TimeFormat;
use serde_json::json;

use crate::params::Params;
use crate::{ApiError, Caller, Shared, audit};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/intel", get(hits))
        .route("/api/v1/intel/alerts", get(alerts))
        .route("/api/v1/intel/report", get(report))
}

struct Window {
    since: Option<i64>,
    feeds: Vec<String>,
    limit: usize,
}

fn window(raw: Option<&str>, default_since: &str, max: u64) -> Result<Window, ApiError> {
    let mut p = Params::parse(raw)?;
    let now = chrono::Utc::now().timestamp();
    let since = p.one("since")?.unwrap_or_else(|| default_since.to_owned());
    let since =
        dnsrecall_query::parse_time(&since, now).map_err(|e| ApiError::param("since", e))?;
    let feeds = p.all("feed");
    let limit = p.number("limit")?.unwrap_or(1000);
    if limit == 0 || limit > max {
        return Err(ApiError::param("limit", format!("1 to {max}")));
    }
    p.reject_unknown()?;
    Ok(Window {
        since: Some(since),
        feeds,
        limit: limit as usize,
    })
}

async fn hits(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    record: Option<Extension<Arc<audit::Record>>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let w = match window(raw.as_deref(), "30d", caller.max_rows(&state.limits)) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let intel = Intel::in_dir(&state.data_dir);
    let dir = state.data_dir.clone();
    let result = state
        .pool
        .run(state.limits.queue_wait, move |store| {
            let feeds = intel
                .list()
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let matchers = intel.matchers(&w.feeds).map_err(|e| match e {
                dnsrecall_intel::feeds::FeedError::Unknown(_) => ApiError::param("feed", e),
                other => ApiError::internal(other.to_string()),
            })?;
            let tf = TimeFormat::default();
            let mut rows = Vec::new();
            let mut total = 0usize;
            if !matchers.watch.is_empty() {
                let opts = HuntOptions {
                    since: w.since,
                    scan: None,
                };
                dnsrecall_intel::hunt::hunt(store, &matchers, &opts, |h| {
                    total += 1;
                    if rows.len() < w.limit {
                        rows.push(hit_json(&matchers, &h, &tf));
                    }
                })
                .map_err(|e| ApiError::from_query(&e, "since"))?;
            }
            let alerts = dnsrecall_intel::alerts::read_alerts(&dir, w.since).unwrap_or_default();
            let skip = alerts.len().saturating_sub(100);
            Ok(json!({
                "rows": rows,
                "truncated": total > w.limit,
                "since": w.since,
                "feeds": feeds.iter().map(|f| json!({
                    "name": f.config.name,
                    "role": f.config.role,
                    "format": f.state.format,
                    "iocs": f.state.iocs,
                    "bad": f.state.bad,
                    "loaded_at": f.state.loaded_at,
                    "last_error": f.state.last_error,
                })).collect::<Vec<_>>(),
                "alerts": &alerts[skip..],
            }))
        })
        .await;
    match result {
        Ok(doc) => {
            let n = doc["rows"].as_array().map_or(0, Vec::len) as u64;
            state.metrics.add_rows("intel", n);
            if let Some(r) = record {
                r.0.add_rows(n);
            }
            axum::Json(doc).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn alerts(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Response {
    let w = match window(raw.as_deref(), "7d", caller.max_rows(&state.limits)) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let dir = state.data_dir.clone();
    let list = tokio::task::spawn_blocking(move || {
        dnsrecall_intel::alerts::read_alerts(&dir, w.since).map(|mut l| {
            l.retain(|a| w.feeds.is_empty() || w.feeds.contains(&a.feed));
            let skip = l.len().saturating_sub(w.limit);
            let truncated = skip > 0;
            (l.split_off(skip), truncated)
        })
    })
    .await;
    match list {
        Ok(Ok((rows, truncated))) => {
            axum::Json(json!({ "rows": rows, "truncated": truncated })).into_response()
        }
        _ => ApiError::internal("the alert store cannot be read").into_response(),
    }
}

/// `GET /api/v1/intel/report?kind=top-clients|top-iocs|top-names|new-domains&since=7d&feed=&limit=20`
async fn report(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Response {
    let prepared = (|| {
        let mut p = Params::parse(raw.as_deref())?;
        let kind: dnsrecall_intel::report::Kind = p
            .one("kind")?
            .ok_or_else(|| ApiError::param("kind", "missing"))?
            .parse()
            .map_err(|e: String| ApiError::param("kind", e))?;
        let now = chrono::Utc::now().timestamp();
        let since = p.one("since")?.unwrap_or_else(|| "7d".into());
        let since =
            dnsrecall_query::parse_time(&since, now).map_err(|e| ApiError::param("since", e))?;
        let feeds = p.all("feed");
        let limit = p.number("limit")?.unwrap_or(20);
        if limit == 0 || limit > caller.max_rows(&state.limits).min(10_000) {
            return Err(ApiError::param("limit", "1 to 10000"));
        }
        p.reject_unknown()?;
        Ok((kind, since, feeds, limit as usize))
    })();
    let (kind, since, feeds, limit) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let intel = Intel::in_dir(&state.data_dir);
    let result = state
        .pool
        .run(state.limits.queue_wait, move |store| {
            let m = intel.matchers(&feeds).map_err(|e| match e {
                dnsrecall_intel::feeds::FeedError::Unknown(_) => ApiError::param("feed", e),
                other => ApiError::internal(other.to_string()),
            })?;
            let r = dnsrecall_intel::report::report(
                store,
                &m,
                kind,
                Some(since),
                limit,
                &TimeFormat::default(),
            )
            .map_err(|e| ApiError::from_query(&e, "kind"))?;
            Ok(json!({ "headers": r.headers, "rows": r.objects() }))
        })
        .await;
    match result {
        Ok(doc) => axum::Json(doc).into_response(),
        Err(e) => e.into_response(),
    }
}
