//! Answers streamed from the store: a query runs on a blocking thread with a pooled
//! connection and hands its output through a small bounded channel, so a million-row
//! answer holds at most a few buffers in memory and a slow client slows the query, not
//! the server's memory. The response status is decided when the first buffer is ready:
//! a query that fails before writing anything is answered with a proper error status.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dnsrecall_store::DynStore;

use crate::StoreOpener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::error::ApiError;

/// Page cache of each pooled read connection, MiB.
const READER_CACHE_MIB: u32 = 8;

/// Flush to the client every this many bytes.
const CHUNK: usize = 32 * 1024;

/// Read connections to the store, opened on demand and reused; the semaphore bounds how
/// many queries run at once (the rest wait, up to a deadline).
impl std::fmt::Debug for StorePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorePool").finish_non_exhaustive()
    }
}

pub struct StorePool {
    open: StoreOpener,
    idle: Mutex<Vec<DynStore>>,
    permits: Arc<Semaphore>,
}

impl StorePool {
    #[must_use]
    pub fn new(open: StoreOpener, max_concurrent: usize) -> Self {
        Self {
            open,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    /// Waits for a query slot.
    pub(crate) async fn permit(&self, wait: Duration) -> Result<OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(ApiError::busy()),
        }
    }

    fn take(&self) -> Result<DynStore, ApiError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match idle {
            Some(s) => Ok(s),
            None => {
                let store = (self.open)().map_err(|e| {
                    tracing::error!("opening the store: {e}");
                    ApiError::internal("the store cannot be opened")
                })?;
                // Many readers at once: a modest cache each (the OS page cache is shared).
                if let Err(e) = store.set_cache_mib(READER_CACHE_MIB) {
                    tracing::warn!("setting the reader cache: {e}");
                }
                Ok(store)
            }
        }
    }

    fn give_back(&self, store: DynStore) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(store);
    }

    /// Runs `f` with a store connection on a blocking thread (for short answers).
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        wait: Duration,
        f: impl FnOnce(&mut DynStore) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.permit(wait).await?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut store = pool.take()?;
            let r = f(&mut store);
            pool.give_back(store);
            r
        })
        .await
        .map_err(|_| ApiError::internal("the query failed"))?
    }
}

/// Where a streaming query writes. Each `write_*` says whether to go on: `Break` when the
/// client went away or the time limit passed.
#[derive(Debug)]
pub struct Sink {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    start: Option<oneshot::Sender<Result<(), ApiError>>>,
    deadline: Instant,
    /// Rows written, for the audit log and metrics.
    pub rows: u64,
    gone: bool,
    timed_out: bool,
}

impl Sink {
    /// Appends bytes; flushes a full buffer.
    pub fn write(&mut self, bytes: &[u8]) -> ControlFlow<()> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.flush()
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Appends one JSON value and a newline.
    pub fn write_json_line(&mut self, v: &serde_json::Value) -> ControlFlow<()> {
        if serde_json::to_writer(&mut self.buf, v).is_err() {
            return ControlFlow::Break(());
        }
        self.write(b"\n")
    }

    /// Whether the answer's time ran out (the writer says so in its trailer).
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Whether anything reached the client (after which the status is fixed).
    #[must_use]
    pub fn started(&self) -> bool {
        self.start.is_none()
    }

    fn flush(&mut self) -> ControlFlow<()> {
        if let Some(start) = self.start.take() {
            let _ = start.send(Ok(()));
        }
        if self.gone {
            return ControlFlow::Break(());
        }
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            if self.tx.blocking_send(Ok(chunk)).is_err() {
                self.gone = true;
                return ControlFlow::Break(());
            }
        }
        if Instant::now() >= self.deadline {
            self.timed_out = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// Checks the deadline between rows that wrote nothing.
    pub fn tick(&mut self) -> ControlFlow<()> {
        if Instant::now() >= self.deadline {
            self.timed_out = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// What a streamed answer reports when it ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct Finished {
    pub rows: u64,
    pub status: u16,
}

/// Runs `f` on a blocking thread and streams what it writes. `on_end` gets the row count
/// when the answer is complete (or abandoned).
pub(crate) async fn streamed(
    pool: &Arc<StorePool>,
    wait: Duration,
    limit: Duration,
    content_type: &'static str,
    headers: HeaderMap,
    f: impl FnOnce(&mut DynStore, &mut Sink) -> Result<(), ApiError> + Send + 'static,
    on_end: impl FnOnce(Finished) + Send + 'static,
) -> Response {
    let permit = match pool.permit(wait).await {
        Ok(p) => p,
        Err(e) => {
            on_end(Finished {
                rows: 0,
                status: e.status.as_u16(),
            });
            return e.into_response();
        }
    };
    let (tx, rx) = mpsc::channel(4);
    let (start_tx, start_rx) = oneshot::channel();
    let pool = Arc::clone(pool);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut sink = Sink {
            buf: Vec::with_capacity(CHUNK + 1024),
            tx,
            start: Some(start_tx),
            deadline: Instant::now() + limit,
            rows: 0,
            gone: false,
            timed_out: false,
        };
        let result = pool.take().and_then(|mut store| {
            let r = f(&mut store, &mut sink);
            pool.give_back(store);
            r
        });
        let status = match result {
            Err(e) if !sink.started() => {
                let status = e.status.as_u16();
                if let Some(start) = sink.start.take() {
                    let _ = start.send(Err(e));
                }
                status
            }
            Err(e) => {
                tracing::warn!("answer ended early: {}", e.message);
                let _ = sink.flush();
                200
            }
            Ok(()) => {
                let _ = sink.flush();
                200
            }
        };
        on_end(Finished {
            rows: sink.rows,
            status,
        });
    });
    match start_rx.await {
        Ok(Ok(())) => {
            let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
            let mut resp = (StatusCode::OK, headers, body).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            resp
        }
        Ok(Err(e)) => {
            let mut resp = e.into_response();
            resp.headers_mut().extend(headers);
            resp
        }
        Err(_) => ApiError::internal("the query failed").into_response(),
    }
}
