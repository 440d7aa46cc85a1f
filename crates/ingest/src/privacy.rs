use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;

use dnsrecall_model::{ClientId, ClientMode};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// File in the data directory that holds the client hashing key. Deleting it makes the
/// stored hashes unlinkable to new traffic (and to addresses anyone can try).
pub const KEY_FILE: &str = "client-hash.key";

/// The privacy mode for client addresses, with the key hashing needs.
#[derive(Clone)]
pub struct ClientPolicy {
    mode: ClientMode,
    key: [u8; 32],
}

impl std::fmt::Debug for ClientPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPolicy")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ClientPolicy {
    /// A policy that needs no key (store, mask, off).
    #[must_use]
    pub fn without_key(mode: ClientMode) -> Self {
        Self { mode, key: [0; 32] }
    }

    /// Loads the hashing key from the data directory, creating it (mode 0600) on first use.
    ///
    /// # Errors
    /// When the key file cannot be read or written, or holds the wrong number of bytes.
    pub fn load(mode: ClientMode, data_dir: &Path) -> io::Result<Self> {
        if mode != ClientMode::Hash {
            return Ok(Self::without_key(mode));
        }
        let path = data_dir.join(KEY_FILE);
        let key = match std::fs::read(&path) {
            Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} must hold 32 bytes", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
                std::fs::create_dir_all(data_dir)?;
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(&path)?;
                f.write_all(&key)?;
                f.sync_all()?;
                key
            }
            Err(e) => return Err(e),
        };
        Ok(Self { mode, key })
    }

    #[must_use]
    pub fn mode(&self) -> ClientMode {
        self.mode
    }

    /// The client as it may be kept, or `None` when clients are off.
    #[must_use]
    pub fn apply(&self, ip: IpAddr) -> Option<ClientId> {
        match self.mode {
            ClientMode::Store => Some(ClientId::from_ip(ip)),
            ClientMode::Mask => Some(ClientId::masked(ip)),
            ClientMode::Off => None,
            ClientMode::Hash => {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
                    return None;
                };
                mac.update(ClientId::from_ip(ip).as_bytes());
                Some(ClientId::hashed(&mac.finalize().into_bytes()))
            }
        }
    }
}

/// The stored forms one client address can have: the address, its masked network
/// (`--clients mask`) and, when the data directory holds the key, its keyed-hash token
/// (`--clients hash`). Looking up all of them finds the client whatever the privacy mode
/// was when it was stored.
///
/// # Errors
/// When the key file exists but cannot be read.
pub fn stored_forms(ip: IpAddr, data_dir: &Path) -> io::Result<Vec<ClientId>> {
    let mut forms = vec![ClientId::from_ip(ip), ClientId::masked(ip)];
    if data_dir.join(KEY_FILE).exists() {
        forms.extend(ClientPolicy::load(ClientMode::Hash, data_dir)?.apply(ip));
    }
    Ok(forms)
}

/// A `hash:` token as printed for hashed clients (`hash:` and 24 hex digits).
#[must_use]
pub fn parse_token(s: &str) -> Option<ClientId> {
    let hex = s.strip_prefix("hash:")?;
    if hex.len() != 24 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..12)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    ClientId::from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let hash = ClientPolicy::load(ClientMode::Hash, dir.path()).unwrap();
        let a = hash.apply(ip).unwrap();
        assert!(a.to_string().starts_with("hash:"));
        // Same key from disk: same token; a new key: another token.
        let again = ClientPolicy::load(ClientMode::Hash, dir.path()).unwrap();
        assert_eq!(again.apply(ip), Some(a));
        let other =
            ClientPolicy::load(ClientMode::Hash, tempfile::tempdir().unwrap().path()).unwrap();
        assert_ne!(other.apply(ip), Some(a));
        assert_eq!(ClientPolicy::without_key(ClientMode::Off).apply(ip), None);
        assert_eq!(
            ClientPolicy::without_key(ClientMode::Mask)
                .apply(ip)
                .unwrap()
                .to_string(),
            "10.1.2.0"
        );
    }
}
