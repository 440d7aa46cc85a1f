//! The DNSDB API v2 (what `dnsdbq` and DNSDB integrations speak), under `/dnsdb/v2`.
//!
//! * `lookup|summarize / rrset/name/{owner}[/{rrtype}[/{bailiwick}]]` — `owner` may be
//!   `*.example.com` (left-hand wildcard) or `www.example.*` (right-hand);
//! * `lookup|summarize / rrset/raw/{hex wire name}[/{rrtype}[/{bailiwick}]]`;
//! * `lookup|summarize / rdata/name/{name}[/{rrtype}]` — names inside answers;
//! * `lookup|summarize / rdata/ip/{addr | addr,prefixlen | addr-addr}`;
//! * `lookup|summarize / rdata/raw/{hex}[/{rrtype}]` — 4 or 16 bytes: an address; else a
//!   wire name;
//! * `ping`, `rate_limit`.
//!
//! Parameters: `limit` (default 10000, 0 = the key's maximum), `offset`, `max_count`
//! (summarize), `time_first_before`, `time_first_after`, `time_last_before`,
//! `time_last_after` (epoch seconds, or negative: seconds back from now); others
//! (`swclient`, `version`, `aggr`, `humantime`, `id`) are accepted and ignored.
//!
//! Answers use SAF framing, one JSON object per line: `{"cond":"begin"}`, `{"obj":{...}}`
//! per result, then `{"cond":"succeeded"}`, `{"cond":"limited","msg":...}` when `limit`
//! cut the result, or `{"cond":"failed","msg":...}`.
//!
//! What differs from DNSDB: each result holds one rdata (dnsrecall keeps first/last/count
//! per answer, not per RRset), and there is no bailiwick data: a bailiwick in the path only
//! requires the owner to be at or under it.

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dnsrecall_model::{Name, Rdata};
use dnsrecall_query::{NameSelector, Selector, parse_name_pattern, parse_pattern, parse_types};
use dnsrecall_store::{DynStore, TimeFence, TupleFilter, TupleRow};
use serde_json::{Value, json};

use crate::params::Params;
use crate::stream::Sink;
use crate::{ApiError, Caller, Shared, answer, audit};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/dnsdb/v2/ping", get(ping))
        .route("/dnsdb/v2/rate_limit", get(rate_limit))
        .route("/dnsdb/v2/lookup/{*path}", get(lookup))
        .route("/dnsdb/v2/summarize/{*path}", get(summarize))
}

const DEFAULT_LIMIT: u64 = 10_000;

/// A parsed lookup path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub selector: Selector,
    /// rrset lookups: the owner must be at or under this name.
    pub bailiwick: Option<Name>,
    pub types: Option<String>,
    /// rdata lookups print `rdata` as a string, rrset lookups as a list.
    pub rrset: bool,
}

fn bad_path(msg: impl std::fmt::Display) -> ApiError {
    ApiError::param("path", msg)
}

/// Parses `rrset/name/...`, `rdata/ip/...` and the other lookup paths.
///
/// # Errors
/// 400 naming the part of the path that is wrong.
pub fn parse_lookup(path: &str) -> Result<Lookup, ApiError> {
    let mut parts = path.trim_matches('/').split('/');
    let side = parts.next().unwrap_or_default();
    let kind = parts.next().unwrap_or_default();
    let value = parts
        .next()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad_path("expected {rrset|rdata}/{name|ip|raw}/VALUE[/RRTYPE]"))?;
    let rrtype = parts.next().filter(|t| !t.is_empty()).map(str::to_owned);
    let bailiwick = parts.next().filter(|b| !b.is_empty());
    if parts.next().is_some() {
        return Err(bad_path("too many parts"));
    }
    if bailiwick.is_some() && side != "rrset" {
        return Err(bad_path("a bailiwick is only for rrset lookups"));
    }
    let bailiwick = bailiwick
        .map(|b| Name::new(b).map_err(|e| bad_path(format!("bailiwick {b:?}: {e}"))))
        .transpose()?;
    let selector = match (side, kind) {
        ("rrset", "name") => Selector::Name(name_pattern(value)?),
        ("rrset", "raw") => Selector::Name(NameSelector::Exact(wire_name(&hex_bytes(value)?)?)),
        ("rdata", "name") => Selector::RdataName(name_pattern(value)?),
        ("rdata", "ip") => {
            if rrtype.is_some() {
                return Err(bad_path("rdata/ip takes no rrtype"));
            }
            let pattern = value.replacen(',', "/", 1);
            match parse_pattern(&pattern) {
                Ok(sel @ Selector::Address { .. }) => sel,
                _ => {
                    return Err(bad_path(format!(
                        "{value:?}: expected an address, ADDR,PREFIXLEN or ADDR-ADDR"
                    )));
                }
            }
        }
        ("rdata", "raw") => {
            let bytes = hex_bytes(value)?;
            match bytes.len() {
                4 => {
                    let ip = std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
                    Selector::Address {
                        lo: ip.into(),
                        hi: ip.into(),
                    }
                }
                16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&bytes);
                    let ip = std::net::Ipv6Addr::from(a);
                    Selector::Address {
                        lo: ip.into(),
                        hi: ip.into(),
                    }
                }
                _ => Selector::RdataName(NameSelector::Exact(wire_name(&bytes)?)),
            }
        }
        ("rrset" | "rdata", _) => {
            return Err(bad_path(format!(
                "{side}/{kind}: expected name, ip (rdata only) or raw"
            )));
        }
        _ => return Err(bad_path(format!("{side:?}: expected rrset or rdata"))),
    };
    Ok(Lookup {
        selector,
        bailiwick,
        types: rrtype,
        rrset: side == "rrset",
    })
}

fn name_pattern(value: &str) -> Result<NameSelector, ApiError> {
    let v = value.strip_suffix('.').unwrap_or(value);
    parse_name_pattern(v).map_err(bad_path)
}

fn hex_bytes(value: &str) -> Result<Vec<u8>, ApiError> {
    if value.len() > 1024 {
        return Err(bad_path("raw value too long"));
    }
    hex::decode(value).map_err(|_| bad_path(format!("{value:?}: expected hex digits")))
}

/// An uncompressed wire-format name.
fn wire_name(bytes: &[u8]) -> Result<Name, ApiError> {
    let mut labels: Vec<String> = Vec::new();
    let mut i = 0;
    loop {
        let len = *bytes
            .get(i)
            .ok_or_else(|| bad_path("raw name: ends before its root label"))?
            as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return Err(bad_path("raw name: label longer than 63 bytes"));
        }
        let label = bytes
            .get(i..i + len)
            .ok_or_else(|| bad_path("raw name: label runs past the end"))?;
        if label
            .iter()
            .any(|b| *b == b'.' || !(0x21..0x7f).contains(b))
        {
            return Err(bad_path("raw name: label with a dot or unprintable byte"));
        }
        labels.push(String::from_utf8_lossy(label).into_owned());
        i += len;
    }
    if i != bytes.len() {
        return Err(bad_path("raw name: bytes after the root label"));
    }
    if labels.is_empty() {
        return Ok(Name::root());
    }
    Name::new(&labels.join(".")).map_err(|e| bad_path(format!("raw name: {e}")))
}

/// The query parameters DNSDB defines.
struct Knobs {
    filter: TupleFilter,
    limit: u64,
    offset: u64,
    max_count: Option<u64>,
}

fn knobs(
    raw: Option<&str>,
    lookup: &Lookup,
    caller: &Caller,
    state: &Shared,
) -> Result<Knobs, ApiError> {
    let mut p = Params::parse(raw)?;
    let now = chrono::Utc::now().timestamp();
    let mut time = |key: &'static str| -> Result<Option<i64>, ApiError> {
        p.one(key)?
            .map(|v| dnsrecall_query::parse_time(&v, now).map_err(|e| ApiError::param(key, e)))
            .transpose()
    };
    let fence = TimeFence {
        first_before: time("time_first_before")?,
        first_after: time("time_first_after")?,
        last_before: time("time_last_before")?,
        last_after: time("time_last_after")?,
    };
    let max = caller.max_rows(&state.limits);
    let limit = match p.number("limit")? {
        None => DEFAULT_LIMIT.min(max),
        Some(0) => max,
        Some(n) => n.min(max),
    };
    let offset = p.number("offset")?.unwrap_or(0);
    if offset > max.saturating_mul(10) {
        return Err(ApiError::param(
            "offset",
            "too far; narrow the query instead",
        ));
    }
    let max_count = p.number("max_count")?;
    let types: Vec<String> = lookup.types.iter().cloned().collect();
    let rrtypes = parse_types(&types).map_err(|e| ApiError::param("rrtype", e))?;
    Ok(Knobs {
        filter: TupleFilter {
            rrtypes,
            sensors: None,
            fence,
        },
        limit,
        offset,
        max_count,
    })
}

fn in_bailiwick(row: &TupleRow, bailiwick: Option<&Name>) -> bool {
    let Some(b) = bailiwick else { return true };
    if b.is_root() {
        return true;
    }
    let name = row.rrname.as_str();
    name == b.as_str()
        || name
            .strip_suffix(b.as_str())
            .is_some_and(|head| head.ends_with('.'))
}

/// One result object, as DNSDB writes it (names absolute).
fn object(row: &TupleRow, rrset: bool) -> Value {
    let rdata = Rdata::from_canonical_unchecked(row.rdata.clone()).to_absolute(row.rrtype);
    json!({
        "count": row.count,
        "time_first": row.time_first,
        "time_last": row.time_last,
        "rrname": row.rrname.to_absolute(),
        "rrtype": row.rrtype.to_string(),
        "rdata": if rrset { json!([rdata]) } else { json!(rdata) },
    })
}

fn end(sink: &mut Sink, cond: &str, msg: Option<&str>) {
    let mut v = json!({ "cond": cond });
    if let Some(m) = msg {
        v["msg"] = json!(m);
    }
    let _ = sink.write_json_line(&v);
}

/// Ends the stream after a query: `failed` on error (or an error status when nothing was
/// sent yet), else what `ok` says.
fn close(
    sink: &mut Sink,
    r: Result<dnsrecall_store::QueryStats, dnsrecall_store::QueryError>,
    limited: bool,
) -> Result<(), ApiError> {
    match r {
        Err(e) if !sink.started() => Err(ApiError::from_query(&e, "path")),
        Err(e) => {
            end(
                sink,
                "failed",
                Some(&ApiError::from_query(&e, "path").message),
            );
            Ok(())
        }
        Ok(_) if sink.timed_out() => {
            end(sink, "failed", Some("time limit reached; narrow the query"));
            Ok(())
        }
        Ok(_) if limited => {
            end(sink, "limited", Some("Result limit reached"));
            Ok(())
        }
        Ok(_) => {
            end(sink, "succeeded", None);
            Ok(())
        }
    }
}

type Record = Option<Extension<Arc<audit::Record>>>;

async fn lookup(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    record: Record,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let prepared = parse_lookup(&path)
        .and_then(|l| knobs(raw.as_deref(), &l, &caller, &state).map(|k| (l, k)));
    let (lookup, knobs) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if knobs.max_count.is_some() {
        return ApiError::param("max_count", "only for summarize").into_response();
    }
    answer(
        &state,
        record.map(|e| e.0),
        "dnsdb",
        "application/x-ndjson",
        HeaderMap::new(),
        move |store: &mut DynStore, sink: &mut Sink| {
            end(sink, "begin", None);
            let (mut skipped, mut taken, mut limited) = (0u64, 0u64, false);
            let bailiwick = lookup.bailiwick.as_ref();
            let r = store.for_each_tuple(&lookup.selector, &knobs.filter, &mut |row| {
                if !in_bailiwick(&row, bailiwick) {
                    return sink.tick();
                }
                if skipped < knobs.offset {
                    skipped += 1;
                    return sink.tick();
                }
                if taken == knobs.limit {
                    limited = true;
                    return ControlFlow::Break(());
                }
                taken += 1;
                sink.rows += 1;
                sink.write_json_line(&json!({ "obj": object(&row, lookup.rrset) }))
            });
            close(sink, r, limited)
        },
    )
    .await
}

async fn summarize(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    record: Record,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let prepared = parse_lookup(&path)
        .and_then(|l| knobs(raw.as_deref(), &l, &caller, &state).map(|k| (l, k)));
    let (lookup, knobs) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if knobs.offset > 0 {
        return ApiError::param("offset", "only for lookup").into_response();
    }
    answer(
        &state,
        record.map(|e| e.0),
        "dnsdb",
        "application/x-ndjson",
        HeaderMap::new(),
        move |store: &mut DynStore, sink: &mut Sink| {
            let (mut count, mut results, mut first, mut last) = (0u64, 0u64, i64::MAX, i64::MIN);
            let mut limited = false;
            let bailiwick = lookup.bailiwick.as_ref();
            let r = store.for_each_tuple(&lookup.selector, &knobs.filter, &mut |row| {
                if !in_bailiwick(&row, bailiwick) {
                    return sink.tick();
                }
                if results == knobs.limit {
                    limited = true;
                    return ControlFlow::Break(());
                }
                results += 1;
                count = count.saturating_add(row.count);
                first = first.min(row.time_first);
                last = last.max(row.time_last);
                if knobs.max_count.is_some_and(|m| count >= m) {
                    return ControlFlow::Break(());
                }
                sink.tick()
            });
            if let Err(e) = &r {
                return Err(ApiError::from_query(e, "path"));
            }
            end(sink, "begin", None);
            if results > 0 {
                sink.rows += 1;
                let _ = sink.write_json_line(&json!({ "obj": {
                    "count": count,
                    "num_results": results,
                    "time_first": first,
                    "time_last": last,
                }}));
            }
            close(sink, r, limited)
        },
    )
    .await
}

async fn ping() -> Response {
    axum::Json(json!({ "ping": "ok" })).into_response()
}

async fn rate_limit(State(state): State<Shared>, Extension(caller): Extension<Caller>) -> Response {
    let max = caller.max_rows(&state.limits);
    let key = caller.key.as_ref();
    let mut rate = json!({
        "reset": "n/a",
        "limit": "unlimited",
        "remaining": "n/a",
        "results_max": max,
        "offset_max": max.saturating_mul(10),
    });
    if let Some(r) = key.and_then(|k| k.rate_per_min) {
        rate["burst_size"] = json!(r);
        rate["burst_window"] = json!(60);
    }
    rate["expires"] = match key.and_then(|k| k.expires) {
        Some(e) => json!(e),
        None => json!("n/a"),
    };
    axum::Json(json!({ "rate": rate })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths() {
        let l = parse_lookup("rrset/name/*.example.com/A/example.com").unwrap();
        assert_eq!(
            l.selector,
            Selector::Name(NameSelector::Subdomains(Name::new("example.com").unwrap()))
        );
        assert_eq!(l.types.as_deref(), Some("A"));
        assert!(l.rrset);
        let l = parse_lookup("rdata/ip/10.0.0.0,24").unwrap();
        assert!(matches!(l.selector, Selector::Address { .. }));
        let l = parse_lookup("rdata/ip/10.0.0.1-10.0.0.9").unwrap();
        assert!(matches!(l.selector, Selector::Address { .. }));
        let l = parse_lookup("rdata/raw/0a000001").unwrap();
        assert_eq!(
            l.selector,
            Selector::Address {
                lo: "10.0.0.1".parse().unwrap(),
                hi: "10.0.0.1".parse().unwrap()
            }
        );
        let l = parse_lookup("rrset/raw/03777777076578616d706c6503636f6d00").unwrap();
        assert_eq!(
            l.selector,
            Selector::Name(NameSelector::Exact(Name::new("www.example.com").unwrap()))
        );
        let l = parse_lookup("rrset/name/www.example.*").unwrap();
        assert_eq!(
            l.selector,
            Selector::Name(NameSelector::Prefix("www.example".into()))
        );
        for bad in [
            "rrset",
            "rrset/name",
            "rrset/ip/1.2.3.4",
            "rdata/ip/1.2.3.4/A",
            "rdata/name/x.com/A/x.com",
            "zone/name/x",
            "rrset/raw/zz",
            "rrset/raw/03777777",
            "rrset/name/a.b/A/c/d",
        ] {
            let e = parse_lookup(bad).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(e.parameter.as_deref(), Some("path"), "{bad}");
        }
    }

    #[test]
    fn bailiwick() {
        let row = |n: &str| TupleRow {
            rrname: Name::new(n).unwrap(),
            rrtype: dnsrecall_model::RrType::A,
            rdata: "1.2.3.4".into(),
            time_first: 1,
            time_last: 2,
            count: 1,
            ttl: None,
            sensors: vec![],
        };
        let b = Name::new("example.com").unwrap();
        assert!(in_bailiwick(&row("www.example.com"), Some(&b)));
        assert!(in_bailiwick(&row("example.com"), Some(&b)));
        assert!(!in_bailiwick(&row("badexample.com"), Some(&b)));
        assert!(!in_bailiwick(&row("example.org"), Some(&b)));
    }

    proptest! {
        #[test]
        fn any_path_is_an_answer_not_a_panic(path in "[a-z0-9/.,*:\\-]{0,80}") {
            let _ = parse_lookup(&path);
        }

        #[test]
        fn any_raw_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse_lookup(&format!("rrset/raw/{}", hex::encode(&bytes)));
            let _ = parse_lookup(&format!("rdata/raw/{}", hex::encode(&bytes)));
        }
    }
}
