//! The native JSON API, `/api/v1`: every query form and filter of the query language.
//!
//! * `GET /api/v1/query?q=PATTERN` (or `rdata=NAME-PATTERN`; `negative=true` for negative
//!   answers) — tuples;
//! * `GET /api/v1/clients?q=PATTERN` — client sightings by name pattern, or by client
//!   address, prefix, range or `hash:` token;
//! * `GET /api/v1/negative?q=PATTERN` — negative answers;
//! * `GET /api/v1/stats` — the store's statistics;
//! * `GET /api/v1/openapi.json` — this API described.
//!
//! Filters: `type` (repeat or comma-separate), `after`, `before`, `strict`, `first_after`,
//! `first_before`, `last_after`, `last_before`, `sensor`, `sort` (name, first, last,
//! count), `desc`, `limit` (default 1000), `offset`. Answer: `{"rows":[...],
//! "truncated":bool, "offset":N, "limit":N}` streamed; an answer that fails or runs out of
//! time after it started ends with an `"error"` field.

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dnsrecall_model::ClientId;
use dnsrecall_query::output::OutputRow;
use dnsrecall_query::{Selector, TimeFormat, page, parse_name_pattern, parse_pattern};
use dnsrecall_store::{DynStore, QueryError, QueryStats, Sort, TupleFilter};

use crate::params::Params;
use crate::stream::Sink;
use crate::{ApiError, Caller, Shared, answer, audit};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/query", get(query))
        .route("/api/v1/negative", get(negative))
        .route("/api/v1/clients", get(clients))
        .route("/api/v1/stats", get(stats))
}

const DEFAULT_LIMIT: u64 = 1000;

/// What a tuple, negative or client request asks, parsed before anything runs.
struct Ask {
    selector: Option<Selector>,
    client_ids: Option<Vec<ClientId>>,
    filter: TupleFilter,
    sort: Sort,
    offset: usize,
    limit: usize,
}

fn parse_ask(
    p: &mut Params,
    caller: &Caller,
    state: &Shared,
    rdata_allowed: bool,
) -> Result<Ask, ApiError> {
    let q = p.one("q")?;
    let rdata = if rdata_allowed { p.one("rdata")? } else { None };
    let selector = match (q, rdata) {
        (Some(q), None) => parse_pattern(&q).map_err(|e| ApiError::param("q", e))?,
        (None, Some(r)) => {
            Selector::RdataName(parse_name_pattern(&r).map_err(|e| ApiError::param("rdata", e))?)
        }
        (Some(_), Some(_)) => return Err(ApiError::param("rdata", "give q or rdata, not both")),
        (None, None) => return Err(ApiError::param("q", "missing: what to look for")),
    };
    let (filter, sort, offset, limit) = parse_common(p, caller, state)?;
    Ok(Ask {
        selector: Some(selector),
        client_ids: None,
        filter,
        sort,
        offset,
        limit,
    })
}

fn parse_common(
    p: &mut Params,
    caller: &Caller,
    state: &Shared,
) -> Result<(TupleFilter, Sort, usize, usize), ApiError> {
    let spec = p.filter_spec()?;
    let (filter, sort) = spec
        .build(chrono::Utc::now().timestamp())
        .map_err(|e| ApiError::param(e.parameter, e.message))?;
    let max = caller.max_rows(&state.limits);
    let limit = p.number("limit")?.unwrap_or(DEFAULT_LIMIT.min(max));
    if limit == 0 {
        return Err(ApiError::param("limit", "must be at least 1"));
    }
    if limit > max {
        return Err(ApiError::param(
            "limit",
            format!("at most {max} rows per answer for this key"),
        ));
    }
    let offset = p.number("offset")?.unwrap_or(0);
    if offset > state.limits.max_rows.saturating_mul(10) {
        return Err(ApiError::param(
            "offset",
            "too far; narrow the query instead",
        ));
    }
    Ok((filter, sort, offset as usize, limit as usize))
}

/// A JSON answer written row by row: `{"rows":[...], ...}`.
struct JsonRows {
    n: u64,
    tf: TimeFormat,
}

impl JsonRows {
    fn begin(sink: &mut Sink) -> Self {
        let _ = sink.write(b"{\"rows\":[");
        Self {
            n: 0,
            tf: TimeFormat::default(),
        }
    }

    fn push<R: OutputRow>(&mut self, sink: &mut Sink, row: &R) -> ControlFlow<()> {
        if self.n > 0 && sink.write(b",").is_break() {
            return ControlFlow::Break(());
        }
        self.n += 1;
        sink.rows += 1;
        match serde_json::to_vec(&row.json(&self.tf)) {
            Ok(bytes) => sink.write(&bytes),
            Err(_) => ControlFlow::Break(()),
        }
    }

    fn finish(self, sink: &mut Sink, truncated: bool, ask: &Ask, error: Option<String>) {
        let mut tail = serde_json::json!({
            "truncated": truncated,
            "offset": ask.offset,
            "limit": ask.limit,
        });
        if let Some(e) = error {
            tail["error"] = serde_json::json!(e);
        }
        let tail = tail.to_string();
        let _ = sink.write(b"],");
        let _ = sink.write(&tail.as_bytes()[1..]);
    }
}

/// Streams one page of rows in natural order, without buffering.
fn run_page<R: OutputRow>(
    sink: &mut Sink,
    ask: &Ask,
    param: &str,
    stream: impl FnOnce(&mut dyn FnMut(R) -> ControlFlow<()>) -> Result<QueryStats, QueryError>,
) -> Result<(), ApiError> {
    let mut out = JsonRows::begin(sink);
    let mut skipped = 0usize;
    let mut taken = 0usize;
    let mut truncated = false;
    let result = stream(&mut |row| {
        if skipped < ask.offset {
            skipped += 1;
            return sink.tick();
        }
        if taken == ask.limit {
            truncated = true;
            return ControlFlow::Break(());
        }
        taken += 1;
        out.push(sink, &row)
    })
    .map(|_| truncated);
    finish(sink, out, ask, param, result)
}

fn write_rows<R: OutputRow>(
    sink: &mut Sink,
    ask: &Ask,
    param: &str,
    rows: Result<(Vec<R>, bool), QueryError>,
) -> Result<(), ApiError> {
    let mut out = JsonRows::begin(sink);
    let result = rows.map(|(rows, truncated)| {
        for r in &rows {
            if out.push(sink, r).is_break() {
                break;
            }
        }
        truncated
    });
    finish(sink, out, ask, param, result)
}

fn finish(
    sink: &mut Sink,
    out: JsonRows,
    ask: &Ask,
    param: &str,
    result: Result<bool, QueryError>,
) -> Result<(), ApiError> {
    match result {
        Ok(_) if sink.timed_out() => {
            out.finish(
                sink,
                true,
                ask,
                Some("time limit reached: the answer is incomplete; narrow the query".into()),
            );
            Ok(())
        }
        Ok(truncated) => {
            out.finish(sink, truncated, ask, None);
            Ok(())
        }
        Err(e) if !sink.started() => Err(ApiError::from_query(&e, param)),
        Err(e) => {
            let msg = ApiError::from_query(&e, param).message;
            out.finish(sink, true, ask, Some(msg));
            Ok(())
        }
    }
}

fn history_key<R: HasHistory>(r: &R) -> (i64, i64, u64) {
    r.history()
}

trait HasHistory {
    fn history(&self) -> (i64, i64, u64);
}

impl HasHistory for dnsrecall_store::ClientRow {
    fn history(&self) -> (i64, i64, u64) {
        (self.time_first, self.time_last, self.count)
    }
}

impl HasHistory for dnsrecall_store::NegativeRow {
    fn history(&self) -> (i64, i64, u64) {
        (self.time_first, self.time_last, self.count)
    }
}

type Record = Option<Extension<Arc<audit::Record>>>;

async fn query(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    record: Record,
    RawQuery(raw): RawQuery,
) -> Response {
    let prepared = (|| {
        let mut p = Params::parse(raw.as_deref())?;
        let negative = p.flag("negative")?;
        let ask = parse_ask(&mut p, &caller, &state, !negative)?;
        p.reject_unknown()?;
        Ok::<_, ApiError>((ask, negative))
    })();
    match prepared {
        Ok((ask, true)) => negatives(&state, record, ask).await,
        Ok((ask, false)) => tuples(&state, record, ask).await,
        Err(e) => e.into_response(),
    }
}

async fn negative(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    record: Record,
    RawQuery(raw): RawQuery,
) -> Response {
    let prepared = (|| {
        let mut p = Params::parse(raw.as_deref())?;
        let ask = parse_ask(&mut p, &caller, &state, false)?;
        p.reject_unknown()?;
        Ok::<_, ApiError>(ask)
    })();
    match prepared {
        Ok(ask) => negatives(&state, record, ask).await,
        Err(e) => e.into_response(),
    }
}

async fn tuples(state: &Shared, record: Record, ask: Ask) -> Response {
    answer(
        state,
        record.map(|e| e.0),
        "native",
        "application/json",
        HeaderMap::new(),
        move |store: &mut DynStore, sink: &mut Sink| {
            let Some(sel) = &ask.selector else {
                return Err(ApiError::param("q", "missing"));
            };
            if matches!(ask.sort, Sort::Natural) {
                run_page(sink, &ask, "q", |f| {
                    store.for_each_tuple(sel, &ask.filter, f)
                })
            } else {
                let rows = store.query_tuples(sel, &ask.filter, ask.sort, ask.offset, ask.limit);
                write_rows(sink, &ask, "q", rows)
            }
        },
    )
    .await
}

async fn negatives(state: &Shared, record: Record, ask: Ask) -> Response {
    answer(
        state,
        record.map(|e| e.0),
        "native",
        "application/json",
        HeaderMap::new(),
        move |store: &mut DynStore, sink: &mut Sink| {
            let Some(sel) = &ask.selector else {
                return Err(ApiError::param("q", "missing"));
            };
            if matches!(ask.sort, Sort::Natural) {
                run_page(sink, &ask, "q", |f| {
                    store.for_each_negative(sel, &ask.filter, f)
                })
            } else {
                let rows = page(
                    |f| store.for_each_negative(sel, &ask.filter, f).map(|_| ()),
                    ask.sort,
                    history_key,
                    ask.offset,
                    ask.limit,
                );
                write_rows(sink, &ask, "q", rows)
            }
        },
    )
    .await
}

async fn clients(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    record: Record,
    RawQuery(raw): RawQuery,
) -> Response {
    let prepared = (|| {
        let mut p = Params::parse(raw.as_deref())?;
        let q = p
            .one("q")?
            .ok_or_else(|| ApiError::param("q", "missing: a name pattern or client address"))?;
        let (filter, sort, offset, limit) = parse_common(&mut p, &caller, &state)?;
        p.reject_unknown()?;
        let (selector, client_ids) = if q.starts_with("hash:") {
            let token = dnsrecall_ingest::parse_token(&q)
                .ok_or_else(|| ApiError::param("q", "a client token is hash: and 24 hex digits"))?;
            (None, Some(vec![token]))
        } else {
            let sel = parse_pattern(&q).map_err(|e| ApiError::param("q", e))?;
            match &sel {
                Selector::Address { lo, hi } if lo == hi => {
                    let forms = dnsrecall_ingest::stored_forms(*lo, &state.data_dir)
                        .map_err(|e| ApiError::internal(format!("client hash key: {e}")))?;
                    (None, Some(forms))
                }
                _ => (Some(sel), None),
            }
        };
        Ok::<_, ApiError>(Ask {
            selector,
            client_ids,
            filter,
            sort,
            offset,
            limit,
        })
    })();
    let ask = match prepared {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    answer(
        &state,
        record.map(|e| e.0),
        "native",
        "application/json",
        HeaderMap::new(),
        move |store: &mut DynStore, sink: &mut Sink| {
            let mut run = |f: &mut dyn FnMut(dnsrecall_store::ClientRow) -> ControlFlow<()>| match (
                &ask.client_ids,
                &ask.selector,
            ) {
                (Some(ids), _) => store.for_each_client_id(ids, &ask.filter, f),
                (None, Some(sel)) => store.for_each_client(sel, &ask.filter, f),
                (None, None) => Ok(QueryStats::default()),
            };
            if matches!(ask.sort, Sort::Natural) {
                run_page(sink, &ask, "q", |f| run(f))
            } else {
                let rows = page(
                    |f| run(f).map(|_| ()),
                    ask.sort,
                    history_key,
                    ask.offset,
                    ask.limit,
                );
                write_rows(sink, &ask, "q", rows)
            }
        },
    )
    .await
}

async fn stats(State(state): State<Shared>) -> Response {
    let r = state
        .pool
        .run(state.limits.queue_wait, |store| {
            store
                .stats()
                .map(|s| dnsrecall_query::output::stats_json(&s))
                .map_err(|e| ApiError::from_query(&e, "stats"))
        })
        .await;
    match r {
        Ok(doc) => axum::Json(doc).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The OpenAPI 3 document of this API (and the CIRCL and DNSDB flavours).
pub async fn openapi() -> Response {
    let mut resp = OPENAPI.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The document, checked against the router by a test.
pub const OPENAPI: &str = include_str!("../openapi.json");
