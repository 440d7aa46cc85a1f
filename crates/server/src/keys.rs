//! API keys: created and revoked by `dnsrecall keys`, checked by the server.
//!
//! The key file (`api-keys.json` in the data directory, mode 0600) holds only SHA-256
//! hashes of the secrets: a secret is shown once, when it is made. Secrets are 160 random
//! bits, so an unsalted hash cannot be reversed by search. The server re-reads the file
//! when it changes, so `keys revoke` takes effect without a restart.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "api-keys.json";
const SECRET_PREFIX: &str = "dnsr_";

/// One key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// The first characters of the secret, to recognise it in lists.
    pub hint: String,
    pub created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Requests per minute; `None`: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_min: Option<u32>,
    /// Most rows one answer may hold; `None`: the server's maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<i64>,
}

impl KeyEntry {
    #[must_use]
    pub fn active(&self, now: i64) -> bool {
        self.revoked.is_none() && self.expires.is_none_or(|e| now < e)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFileDoc {
    version: u32,
    keys: Vec<KeyEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a key file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("a key named {0:?} exists already (revoke it first, or pick another name)")]
    Exists(String),
    #[error("no active key named {0:?}")]
    Unknown(String),
    #[error("key name {0:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'")]
    BadName(String),
    #[error("no randomness: {0}")]
    Random(String),
}

/// Limits given to a new key.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewKey {
    pub rate_per_min: Option<u32>,
    pub results_max: Option<u64>,
    pub expires: Option<i64>,
}

/// The key file of a data directory.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    #[must_use]
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(KEY_FILE),
        }
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key, revoked and expired ones included (the file is the audit trail of keys).
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn load(&self) -> Result<Vec<KeyEntry>, KeyError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(KeyError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let doc: KeyFileDoc = serde_json::from_str(&text).map_err(|source| KeyError::Parse {
            path: self.path.clone(),
            source,
        })?;
        Ok(doc.keys)
    }

    fn save(&self, keys: Vec<KeyEntry>) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: self.path.clone(),
            source,
        };
        let doc = KeyFileDoc { version: 1, keys };
        let text = serde_json::to_string_pretty(&doc).map_err(|e| io(e.into()))? + "\n";
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    /// Makes a key and returns its secret, which is not stored anywhere.
    ///
    /// # Errors
    /// When the name is taken or invalid, or the file cannot be written.
    pub fn add(&self, name: &str, limits: NewKey, now: i64) -> Result<String, KeyError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
        if !valid {
            return Err(KeyError::BadName(name.to_owned()));
        }
        let mut keys = self.load()?;
        if keys.iter().any(|k| k.name == name && k.revoked.is_none()) {
            return Err(KeyError::Exists(name.to_owned()));
        }
        let mut raw = [0u8; 20];
        getrandom::fill(&mut raw).map_err(|e| KeyError::Random(e.to_string()))?;
        let secret = format!("{SECRET_PREFIX}{}", hex::encode(raw));
        keys.push(KeyEntry {
            name: name.to_owned(),
            hash: hash_secret(&secret),
            hint: secret[..SECRET_PREFIX.len() + 6].to_owned(),
            created: now,
            expires: limits.expires,
            rate_per_min: limits.rate_per_min,
            results_max: limits.results_max,
            revoked: None,
        });
        self.save(keys)?;
        Ok(secret)
    }

    /// Revokes the active key of that name.
    ///
    /// # Errors
    /// When there is none, or the file cannot be written.
    pub fn revoke(&self, name: &str, now: i64) -> Result<(), KeyError> {
        let mut keys = self.load()?;
        let key = keys
            .iter_mut()
            .find(|k| k.name == name && k.revoked.is_none())
            .ok_or_else(|| KeyError::Unknown(name.to_owned()))?;
        key.revoked = Some(now);
        self.save(keys)
    }
}

/// SHA-256 of a secret, hex.
#[must_use]
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The server's view of the keys: reloaded when the file changes, with a token bucket per
/// rate-limited key.
#[derive(Debug)]
pub struct KeyRing {
    file: KeyFile,
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    by_hash: HashMap<String, KeyEntry>,
    modified: Option<SystemTime>,
    checked: Option<Instant>,
    buckets: HashMap<String, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No such key, revoked or expired (401).
    Unknown,
    /// Over its rate: retry after this many seconds (429).
    Rate {
        name: String,
        retry_after: u64,
        limit: u32,
    },
}

/// A key that passed: what the request may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub name: String,
    pub results_max: Option<u64>,
    pub rate_per_min: Option<u32>,
    /// Requests left in the current minute (rate-limited keys).
    pub remaining: Option<u32>,
    pub expires: Option<i64>,
}

impl KeyRing {
    /// # Errors
    /// When the key file exists and is unreadable.
    pub fn open(file: KeyFile) -> Result<Self, KeyError> {
        let ring = Self {
            file,
            inner: Mutex::new(Ring::default()),
        };
        ring.reload(true)?;
        Ok(ring)
    }

    /// Active keys now.
    #[must_use]
    pub fn active_count(&self) -> usize {
        let now = chrono::Utc::now().timestamp();
        let _ = self.reload(false);
        self.lock()
            .by_hash
            .values()
            .filter(|k| k.active(now))
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Re-reads the file when it changed (checked at most once a second unless forced).
    fn reload(&self, force: bool) -> Result<(), KeyError> {
        {
            let mut ring = self.lock();
            if !force && ring.checked.is_some_and(|t| t.elapsed().as_secs() < 1) {
                return Ok(());
            }
            ring.checked = Some(Instant::now());
            let modified = std::fs::metadata(self.file.path())
                .and_then(|m| m.modified())
                .ok();
            if !force && modified == ring.modified {
                return Ok(());
            }
            ring.modified = modified;
        }
        let keys = self.file.load()?;
        let mut ring = self.lock();
        ring.by_hash = keys.into_iter().map(|k| (k.hash.clone(), k)).collect();
        Ok(())
    }

    /// Checks a presented secret and takes one request from its rate.
    ///
    /// # Errors
    /// [`Refusal`] when the key is unknown, revoked, expired or over its rate.
    pub fn check(&self, secret: &str) -> Result<Grant, Refusal> {
        if let Err(e) = self.reload(false) {
            tracing::warn!("keeping the previous keys: {e}");
        }
        let hash = hash_secret(secret);
        let now = chrono::Utc::now().timestamp();
        let mut ring = self.lock();
        let key = match ring.by_hash.get(&hash) {
            Some(k) if k.active(now) => k.clone(),
            _ => return Err(Refusal::Unknown),
        };
        let mut remaining = None;
        if let Some(rate) = key.rate_per_min.filter(|r| *r > 0) {
            let per_sec = f64::from(rate) / 60.0;
            let cap = f64::from(rate);
            let t = Instant::now();
            let b = ring
                .buckets
                .entry(hash)
                .or_insert(Bucket { tokens: cap, at: t });
            b.tokens = (b.tokens + t.duration_since(b.at).as_secs_f64() * per_sec).min(cap);
            b.at = t;
            if b.tokens < 1.0 {
                let wait = ((1.0 - b.tokens) / per_sec).ceil().max(1.0);
                return Err(Refusal::Rate {
                    name: key.name,
                    retry_after: wait as u64,
                    limit: rate,
                });
            }
            b.tokens -= 1.0;
            remaining = Some(b.tokens.floor() as u32);
        }
        Ok(Grant {
            name: key.name,
            results_max: key.results_max,
            rate_per_min: key.rate_per_min,
            remaining,
            expires: key.expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_check_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::in_dir(dir.path());
        let secret = file.add("alice", NewKey::default(), 100).unwrap();
        assert!(secret.starts_with("dnsr_"));
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(!text.contains(&secret), "the secret itself is never stored");
        assert!(matches!(
            file.add("alice", NewKey::default(), 100),
            Err(KeyError::Exists(_))
        ));
        let ring = KeyRing::open(file.clone()).unwrap();
        assert_eq!(ring.check(&secret).unwrap().name, "alice");
        assert_eq!(ring.check("dnsr_wrong"), Err(Refusal::Unknown));
        file.revoke("alice", 200).unwrap();
        ring.reload(true).unwrap();
        assert_eq!(ring.check(&secret), Err(Refusal::Unknown));
        assert!(matches!(
            file.add("bad name", NewKey::default(), 1),
            Err(KeyError::BadName(_))
        ));
    }

    #[test]
    fn rate_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::in_dir(dir.path());
        let limited = NewKey {
            rate_per_min: Some(2),
            ..NewKey::default()
        };
        let s = file.add("bob", limited, 1).unwrap();
        let old = NewKey {
            expires: Some(10),
            ..NewKey::default()
        };
        let e = file.add("carol", old, 1).unwrap();
        let ring = KeyRing::open(file).unwrap();
        assert_eq!(ring.check(&s).unwrap().remaining, Some(1));
        assert!(ring.check(&s).is_ok());
        match ring.check(&s) {
            Err(Refusal::Rate {
                retry_after, limit, ..
            }) => {
                assert_eq!(limit, 2);
                assert!((1..=30).contains(&retry_after), "{retry_after}");
            }
            other => panic!("expected a rate refusal, got {other:?}"),
        }
        assert_eq!(ring.check(&e), Err(Refusal::Unknown), "expired");
    }
}
