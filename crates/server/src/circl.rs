//! CIRCL's passive DNS REST API: `GET /pdns/query/{value}` answers COF records as NDJSON
//! (draft-dulaunoy-dnsop-passive-dns-cof).
//!
//! * `value`: a name (records it owns, then records pointing at it: CNAME, NS, MX ...
//!   targets), an address (A/AAAA records with it), or any pattern of the query language;
//! * `dribble-filter-rrtype` request header: record types, comma-separated;
//! * `dribble-paginate-count` / `dribble-paginate-cursor`: page size and position; a page
//!   that is not the last carries `x-dribble-cursor`, the position of the next. A page is
//!   held in memory to know that, so it is capped at the server's page maximum; without
//!   paging the answer streams (up to the key's row maximum).
//!
//! Authentication: HTTP Basic with the API key as the password (any user name).

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dnsrecall_query::output::OutputRow;
use dnsrecall_query::{NameSelector, Selector, parse_pattern, parse_types};
use dnsrecall_store::{DynStore, TupleFilter, TupleRow};

use crate::stream::Sink;
use crate::{ApiError, Caller, Shared, answer, audit};

pub fn routes() -> Router<Shared> {
    Router::new().route("/pdns/query/{*value}", get(query))
}

/// The selectors for a CIRCL query value, run one after the other.
fn selectors(value: &str) -> Result<Vec<Selector>, ApiError> {
    let value = value.trim().trim_end_matches('.');
    if value.is_empty() {
        return Err(ApiError::param("value", "empty query"));
    }
    let sel = parse_pattern(value).map_err(|e| ApiError::param("value", e))?;
    Ok(match sel {
        Selector::Name(NameSelector::Exact(name)) => vec![
            Selector::Name(NameSelector::Exact(name.clone())),
            Selector::RdataName(NameSelector::Exact(name)),
        ],
        other => vec![other],
    })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

async fn query(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    record: Option<Extension<Arc<audit::Record>>>,
    Path(value): Path<String>,
    headers: HeaderMap,
) -> Response {
    let prepared = (|| {
        let sels = selectors(&value)?;
        let types: Vec<String> = header(&headers, "dribble-filter-rrtype")
            .map(|v| vec![v.to_owned()])
            .unwrap_or_default();
        let rrtypes =
            parse_types(&types).map_err(|e| ApiError::param("dribble-filter-rrtype", e))?;
        let number = |name: &str| -> Result<Option<u64>, ApiError> {
            header(&headers, name)
                .map(|v| {
                    v.parse::<i64>()
                        .map(|n| n.max(0) as u64)
                        .map_err(|_| ApiError::param(name, format!("{v:?}: expected a number")))
                })
                .transpose()
        };
        let count = number("dribble-paginate-count")?;
        let cursor = number("dribble-paginate-cursor")?.unwrap_or(0);
        let max = caller.max_rows(&state.limits);
        let page_max = state.limits.max_page.min(max);
        if let Some(c) = count
            && (c == 0 || c > page_max)
        {
            return Err(ApiError::param(
                "dribble-paginate-count",
                format!("a page holds 1 to {page_max} records"),
            ));
        }
        let filter = TupleFilter {
            rrtypes,
            ..TupleFilter::default()
        };
        Ok::<_, ApiError>((sels, filter, count, cursor, max))
    })();
    let (sels, filter, count, cursor, max) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let record = record.map(|e| e.0);
    match count {
        None => {
            answer(
                &state,
                record,
                "circl",
                "application/x-ndjson",
                HeaderMap::new(),
                move |store, sink| stream_all(store, sink, &sels, &filter, max),
            )
            .await
        }
        Some(count) => {
            let pool = Arc::clone(&state.pool);
            let page = pool
                .run(state.limits.queue_wait, move |store| {
                    collect_page(store, &sels, &filter, cursor, count)
                })
                .await;
            match page {
                Ok((body, rows, more)) => {
                    state.metrics.add_rows("circl", rows);
                    if let Some(r) = &record {
                        r.add_rows(rows);
                    }
                    let mut resp = body.into_response();
                    let h = resp.headers_mut();
                    h.insert(
                        axum::http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/x-ndjson"),
                    );
                    if more && let Ok(v) = HeaderValue::from_str(&(cursor + rows).to_string()) {
                        h.insert("x-dribble-cursor", v);
                    }
                    resp
                }
                Err(e) => e.into_response(),
            }
        }
    }
}

fn cof_line(row: &TupleRow) -> Vec<u8> {
    let mut v = row.cof().unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("origin".into(), "dnsrecall".into());
    }
    let mut line = v.to_string().into_bytes();
    line.push(b'\n');
    line
}

fn stream_all(
    store: &mut DynStore,
    sink: &mut Sink,
    sels: &[Selector],
    filter: &TupleFilter,
    max: u64,
) -> Result<(), ApiError> {
    for sel in sels {
        let mut stop = false;
        store
            .for_each_tuple(sel, filter, &mut |row| {
                if sink.rows >= max {
                    stop = true;
                    return ControlFlow::Break(());
                }
                sink.rows += 1;
                let flow = sink.write(&cof_line(&row));
                stop = flow.is_break();
                flow
            })
            .map_err(|e| ApiError::from_query(&e, "value"))?;
        if stop {
            break;
        }
    }
    Ok(())
}

/// One page: (body, rows in it, whether more follow).
fn collect_page(
    store: &mut DynStore,
    sels: &[Selector],
    filter: &TupleFilter,
    cursor: u64,
    count: u64,
) -> Result<(Vec<u8>, u64, bool), ApiError> {
    let mut body = Vec::new();
    let mut position = 0u64;
    let mut rows = 0u64;
    let mut more = false;
    for sel in sels {
        store
            .for_each_tuple(sel, filter, &mut |row| {
                position += 1;
                if position <= cursor {
                    return ControlFlow::Continue(());
                }
                if rows == count {
                    more = true;
                    return ControlFlow::Break(());
                }
                rows += 1;
                body.extend_from_slice(&cof_line(&row));
                ControlFlow::Continue(())
            })
            .map_err(|e| ApiError::from_query(&e, "value"))?;
        if more {
            break;
        }
    }
    Ok((body, rows, more))
}
