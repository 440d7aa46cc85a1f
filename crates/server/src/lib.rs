//! `dnsrecall serve`: the store over HTTP.
//!
//! * the native JSON API under `/api/v1` ([`native`]), described by `/api/v1/openapi.json`;
//! * CIRCL's passive DNS REST API, `/pdns/query/{value}` ([`circl`]);
//! * the DNSDB API v2, `/dnsdb/v2/...` with SAF framing ([`dnsdb`]);
//! * the analysts' web UI at `/` ([`ui`]);
//! * `/healthz` and Prometheus `/metrics` ([`metrics`]).
//!
//! Every API request needs a key ([`keys`]) unless the server listens on loopback with
//! `--no-auth`; every answered request goes to the audit log ([`audit`]). Answers stream
//! from the store ([`stream`]): memory does not grow with the answer.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod circl;
pub mod dnsdb;
pub mod error;
pub mod intel;
pub mod keys;
pub mod metrics;
pub mod native;
pub mod params;
pub mod stream;
mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dnsrecall_store::DynStore;

pub use error::ApiError;
pub use keys::{KeyFile, KeyRing};
pub use metrics::{Metrics, MetricsHook};
pub use stream::StorePool;

/// How the server runs. [`Options::new`] gives the defaults.
#[derive(Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// The SQLite store file.
    pub store_path: PathBuf,
    /// The data directory: key file, audit log.
    pub data_dir: PathBuf,
    /// Serve without keys (only on loopback).
    pub no_auth: bool,
    /// PEM certificate chain and private key: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Most rows one answer may hold, whatever `limit` asks.
    pub max_rows: u64,
    /// Most rows in one CIRCL page (`dribble-paginate-count`), which is held in memory
    /// to set the `x-dribble-cursor` header.
    pub max_page: u64,
    /// An answer still streaming after this long ends (DNSDB: `failed`, native: `error`).
    pub query_timeout: Duration,
    /// Queries running at once; the others wait up to `queue_wait`, then get 503.
    pub max_concurrent: usize,
    pub queue_wait: Duration,
    /// `None`: `audit.log` in the data directory.
    pub audit_log: Option<PathBuf>,
    /// On shutdown, running answers get this long to finish.
    pub shutdown_grace: Duration,
    /// Extra metrics (e.g. ingest counters when collection runs in the same process).
    pub metrics_hooks: Vec<MetricsHook>,
    /// Opens a read handle on the store; `None`: the SQLite file at `store_path`.
    pub open_store: Option<StoreOpener>,
}

/// Opens one read handle on the store (the pool calls it as it needs handles).
pub type StoreOpener = Arc<dyn Fn() -> Result<DynStore, String> + Send + Sync>;

/// The opener of the SQLite store file at `path`.
#[must_use]
pub fn sqlite_opener(path: PathBuf) -> StoreOpener {
    Arc::new(move || {
        dnsrecall_store::SqliteStore::open(&path)
            .map(|s| Box::new(s) as DynStore)
            .map_err(|e| e.to_string())
    })
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("listen", &self.listen)
            .field("store_path", &self.store_path)
            .field("no_auth", &self.no_auth)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Options {
    #[must_use]
    pub fn new(listen: SocketAddr, store_path: PathBuf, data_dir: PathBuf) -> Self {
        Self {
            listen,
            store_path,
            data_dir,
            no_auth: false,
            tls: None,
            max_rows: 1_000_000,
            max_page: 10_000,
            query_timeout: Duration::from_secs(120),
            max_concurrent: 16,
            queue_wait: Duration::from_secs(10),
            audit_log: None,
            shutdown_grace: Duration::from_secs(30),
            open_store: None,
            metrics_hooks: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to serve {0} without keys: --no-auth is only for loopback addresses; create keys with `dnsrecall keys add NAME` and drop --no-auth"
    )]
    OpenBeyondLoopback(SocketAddr),
    #[error(
        "refusing to serve {0}: no active API key exists, so nobody could use it; create one with `dnsrecall keys add NAME`"
    )]
    NoKeys(SocketAddr),
    #[error("keys: {0}")]
    Keys(#[from] keys::KeyError),
    #[error("audit log {path}: {source}")]
    Audit {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the store {path}: {message}")]
    Store { path: PathBuf, message: String },
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub pool: Arc<StorePool>,
    /// The data directory (client hash key for address lookups).
    pub data_dir: PathBuf,
    pub keys: Option<KeyRing>,
    pub audit: Arc<audit::AuditLog>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

/// The answer limits handlers apply.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_rows: u64,
    pub max_page: u64,
    pub query_timeout: Duration,
    pub queue_wait: Duration,
}

pub type Shared = Arc<AppState>;

/// Checks the options and builds the shared state.
///
/// # Errors
/// When auth would be open beyond loopback, the key file or audit log is unusable, or the
/// store cannot be opened.
pub fn state(opts: &Options) -> Result<Shared, ServeError> {
    let loopback = opts.listen.ip().is_loopback();
    let keys = if opts.no_auth {
        if !loopback {
            return Err(ServeError::OpenBeyondLoopback(opts.listen));
        }
        None
    } else {
        let ring = KeyRing::open(KeyFile::in_dir(&opts.data_dir))?;
        if ring.active_count() == 0 {
            if !loopback {
                return Err(ServeError::NoKeys(opts.listen));
            }
            tracing::warn!(
                "no active API key: every request will be refused; create one with `dnsrecall keys add NAME`, or use --no-auth on loopback"
            );
        }
        Some(ring)
    };
    // Open once now, so a bad store is an error at start, not on the first request.
    let opener = opts
        .open_store
        .clone()
        .unwrap_or_else(|| sqlite_opener(opts.store_path.clone()));
    opener().map_err(|message| ServeError::Store {
        path: opts.store_path.clone(),
        message,
    })?;
    let audit_path = opts
        .audit_log
        .clone()
        .unwrap_or_else(|| opts.data_dir.join(audit::AUDIT_FILE));
    let audit = audit::AuditLog::open(&audit_path).map_err(|source| ServeError::Audit {
        path: audit_path.clone(),
        source,
    })?;
    let metrics = Metrics::new(opts.store_path.clone(), opts.metrics_hooks.clone());
    Ok(Arc::new(AppState {
        pool: Arc::new(StorePool::new(opener, opts.max_concurrent)),
        data_dir: opts.data_dir.clone(),
        keys,
        audit: Arc::new(audit),
        metrics: Arc::new(metrics),
        limits: Limits {
            max_rows: opts.max_rows.max(1),
            max_page: opts.max_page.max(1),
            query_timeout: opts.query_timeout,
            queue_wait: opts.queue_wait,
        },
    }))
}

/// Streams an answer (see [`stream`]) and accounts for it: rows to the audit record and
/// the metrics of `flavour`.
pub(crate) async fn answer(
    state: &Shared,
    record: Option<Arc<audit::Record>>,
    flavour: &'static str,
    content_type: &'static str,
    headers: HeaderMap,
    f: impl FnOnce(&mut DynStore, &mut stream::Sink) -> Result<(), ApiError> + Send + 'static,
) -> Response {
    let metrics = Arc::clone(&state.metrics);
    stream::streamed(
        &state.pool,
        state.limits.queue_wait,
        state.limits.query_timeout,
        content_type,
        headers,
        f,
        move |done| {
            metrics.add_rows(flavour, done.rows);
            if let Some(r) = record {
                r.add_rows(done.rows);
                r.set_status(done.status);
            }
        },
    )
    .await
}

/// Longest request target accepted (path and query string).
const MAX_URI: usize = 8 * 1024;

/// Every route.
pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .merge(native::routes())
        .merge(circl::routes())
        .merge(dnsdb::routes())
        .merge(intel::routes())
        .route("/metrics", get(metrics::handler))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(native::openapi))
        .merge(ui::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(state)
}

async fn healthz(State(state): State<Shared>) -> Response {
    let ok = state
        .pool
        .run(Duration::from_secs(5), |store| {
            store.ping().map_err(|e| ApiError::internal(e.to_string()))
        })
        .await;
    match ok {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store: {}\n", e.message),
        )
            .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// Who asked: set by [`authorize`] for the handlers (result limits) and the audit log.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Option<keys::Grant>,
}

impl Caller {
    /// The most rows this caller may get in one answer.
    #[must_use]
    pub fn max_rows(&self, limits: &Limits) -> u64 {
        self.key
            .as_ref()
            .and_then(|k| k.results_max)
            .map_or(limits.max_rows, |m| m.min(limits.max_rows))
    }
}

/// The secret a request presents: `X-API-Key`, `Authorization: Bearer`, or HTTP Basic
/// (the CIRCL clients: the password, or the user name when the password is empty).
fn presented_secret(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_owned());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = auth.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = audit::base64_decode(rest.trim())?;
        let text = String::from_utf8(raw).ok()?;
        let (user, pass) = text.split_once(':')?;
        return Some(if pass.is_empty() { user } else { pass }.to_owned());
    }
    None
}

async fn authorize(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let Some(ring) = &state.keys else {
        req.extensions_mut().insert(Caller { key: None });
        return next.run(req).await;
    };
    let unauthorized = |msg: &str| {
        let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, msg).into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"dnsrecall\""),
        );
        resp
    };
    let Some(secret) = presented_secret(req.headers()) else {
        return unauthorized("an API key is needed: X-API-Key header, Bearer token or Basic auth");
    };
    match ring.check(&secret) {
        Ok(grant) => {
            if let Some(a) = req.extensions().get::<Arc<audit::Record>>() {
                a.set_key(&grant.name);
            }
            let rate = grant.rate_per_min;
            let remaining = grant.remaining;
            req.extensions_mut().insert(Caller { key: Some(grant) });
            let mut resp = next.run(req).await;
            let h = resp.headers_mut();
            let set = |h: &mut HeaderMap, k: &'static str, v: String| {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(k, v);
                }
            };
            set(
                h,
                "x-ratelimit-limit",
                rate.map_or("unlimited".into(), |r| r.to_string()),
            );
            set(
                h,
                "x-ratelimit-remaining",
                remaining.map_or("n/a".into(), |r| r.to_string()),
            );
            set(
                h,
                "x-ratelimit-reset",
                rate.map_or("n/a".into(), |_| {
                    (chrono::Utc::now().timestamp() + 60).to_string()
                }),
            );
            resp
        }
        Err(keys::Refusal::Unknown) => unauthorized("unknown, revoked or expired API key"),
        Err(keys::Refusal::Rate {
            name,
            retry_after,
            limit,
        }) => {
            if let Some(a) = req.extensions().get::<Arc<audit::Record>>() {
                a.set_key(&name);
            }
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("over this key's rate of {limit} requests a minute"),
            );
            e.retry_after = Some(retry_after);
            let mut resp = e.into_response();
            if let Ok(v) = HeaderValue::from_str(&limit.to_string()) {
                resp.headers_mut().insert("x-ratelimit-limit", v);
            }
            resp.headers_mut()
                .insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            resp
        }
    }
}

/// Metrics and the audit record for every request; refuses over-long request targets.
async fn observe(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    if target.len() > MAX_URI {
        state.metrics.observe(&route, 414, started.elapsed());
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the request target is longer than {MAX_URI} bytes"),
        )
        .into_response();
    }
    let audited = route.starts_with("/api/v1/") && route != "/api/v1/openapi.json"
        || route.starts_with("/pdns/")
        || route.starts_with("/dnsdb/");
    let record = audited.then(|| {
        let r = Arc::new(audit::Record::new(
            Arc::clone(&state.audit),
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
            req.method().as_str(),
            &target,
        ));
        req.extensions_mut().insert(Arc::clone(&r));
        r
    });
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    if let Some(r) = record {
        r.set_status(status);
    }
    let took = started.elapsed();
    state.metrics.observe(&route, status, took);
    tracing::info!(
        route = %route,
        status,
        ms = took.as_millis() as u64,
        "request answered (headers sent)"
    );
    resp
}

/// Serves until `shutdown` resolves, then lets running answers finish (up to the grace
/// period). `ready` gets the bound address (useful with port 0).
///
/// # Errors
/// When the state cannot be built, TLS material is bad, or the address cannot be bound.
pub async fn serve(
    opts: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr) + Send,
) -> Result<(), ServeError> {
    let state = state(&opts)?;
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let listener =
        std::net::TcpListener::bind(opts.listen).map_err(|source| ServeError::Listen {
            addr: opts.listen,
            source,
        })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Listen {
            addr: opts.listen,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: opts.listen,
        source,
    })?;
    let handle = axum_server::Handle::<SocketAddr>::new();
    let grace = opts.shutdown_grace;
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing running answers");
        h.graceful_shutdown(Some(grace));
    });
    let listen_err = |source| ServeError::Listen {
        addr: bound,
        source,
    };
    match &opts.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    ServeError::Tls(format!("{} / {}: {e}", cert.display(), key.display()))
                })?;
            // No Nagle delay: a streamed answer's last small chunk goes out at once.
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
                .acceptor(axum_server::accept::NoDelayAcceptor::new());
            let mut server = axum_server::from_tcp(listener)
                .map_err(listen_err)?
                .acceptor(acceptor)
                .handle(handle);
            tune(server.http_builder());
            ready(bound);
            server.serve(app).await.map_err(listen_err)
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(listen_err)?
                .acceptor(axum_server::accept::NoDelayAcceptor::new())
                .handle(handle);
            tune(server.http_builder());
            ready(bound);
            server.serve(app).await.map_err(listen_err)
        }
    }
}

/// Request header limits and timeouts for slow or hostile clients.
fn tune(b: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>) {
    b.http1()
        .max_buf_size(64 * 1024)
        .header_read_timeout(Duration::from_secs(10))
        .timer(hyper_util::rt::TokioTimer::new());
    b.http2().max_header_list_size(64 * 1024);
}
