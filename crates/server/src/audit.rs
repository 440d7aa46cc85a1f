//! The audit log: one JSON line per API request, written when its answer has ended, with
//! who asked (key name and address), what (method and request target), when, the status
//! and how many rows went out. Client sightings are personal data; this is the record of
//! who looked at them.
//!
//! ```json
//! {"time":"2026-11-27T07:00:00Z","key":"alice","remote":"127.0.0.1:50432","method":"GET","target":"/api/v1/clients?q=evil.example","status":200,"rows":3,"ms":4}
//! ```

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;

/// The audit log's name in the data directory.
pub const AUDIT_FILE: &str = "audit.log";

#[derive(Debug)]
pub struct AuditLog {
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens for appending (created 0600: it names clients' queries).
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        Ok(Self {
            file: Mutex::new(opts.open(path)?),
        })
    }

    fn write(&self, line: &serde_json::Value) {
        let mut text = line.to_string();
        text.push('\n');
        let mut f = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = f.write_all(text.as_bytes()) {
            tracing::error!("audit log: {e}");
        }
    }
}

/// One request's audit record, shared by the middleware and the answer's stream; written
/// when the last holder lets go, i.e. when the answer has ended.
#[derive(Debug)]
pub struct Record {
    log: Arc<AuditLog>,
    time: i64,
    started: Instant,
    remote: Option<SocketAddr>,
    method: String,
    target: String,
    key: Mutex<Option<String>>,
    status: AtomicU16,
    rows: AtomicU64,
}

impl Record {
    #[must_use]
    pub fn new(log: Arc<AuditLog>, remote: Option<SocketAddr>, method: &str, target: &str) -> Self {
        Self {
            log,
            time: chrono::Utc::now().timestamp(),
            started: Instant::now(),
            remote,
            method: method.to_owned(),
            target: target.to_owned(),
            key: Mutex::new(None),
            status: AtomicU16::new(0),
            rows: AtomicU64::new(0),
        }
    }

    pub fn set_key(&self, name: &str) {
        *self
            .key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(name.to_owned());
    }

    pub fn set_status(&self, status: u16) {
        // An answer that failed after its headers keeps the status it sent.
        let _ = self
            .status
            .compare_exchange(0, status, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let key = self
            .key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let time = chrono::DateTime::from_timestamp(self.time, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        self.log.write(&json!({
            "time": time,
            "key": key,
            "remote": self.remote.map(|r| r.to_string()),
            "method": self.method,
            "target": self.target,
            "status": self.status.load(Ordering::Relaxed),
            "rows": self.rows.load(Ordering::Relaxed),
            "ms": self.started.elapsed().as_millis() as u64,
        }));
    }
}

/// Standard base64 (HTTP Basic credentials); `None` when malformed.
#[must_use]
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}
