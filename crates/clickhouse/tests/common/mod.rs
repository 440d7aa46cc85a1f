//! A real ClickHouse server for tests ([`dnsrecall_clickhouse::local_server`]) in a
//! temporary directory, removed with it; any failure is a panic. A missing server FAILS
//! the test.
#![allow(dead_code)]

use dnsrecall_clickhouse::local_server::{LocalServer, server_binary};
use dnsrecall_clickhouse::{ClickHouseStore, StoreUrl};

pub struct Server {
    inner: LocalServer,
    pub http_port: u16,
    pub tcp_port: u16,
    // Dropped after `inner` (fields drop in order): the server stops before its files go.
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inner =
            LocalServer::start(&server_binary(), dir.path()).unwrap_or_else(|e| panic!("{e}"));
        Self {
            http_port: inner.http_port,
            tcp_port: inner.tcp_port,
            inner,
            _dir: dir,
        }
    }

    /// Runs one statement over plain HTTP and returns the body (for test set-up only).
    pub fn sql(&self, query: &str) -> String {
        self.inner.sql(query).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn pid(&self) -> u32 {
        self.inner.pid().unwrap_or(0)
    }

    /// Stops the server (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        self.inner.stop();
    }

    /// Kills the server (SIGKILL: no clean shutdown) and waits for it.
    pub fn kill(&mut self) {
        self.inner.kill();
    }

    /// Starts the server again on the same data directory and ports.
    pub fn restart(&mut self) {
        self.inner.restart().unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn url(&self, database: &str) -> StoreUrl {
        self.inner.url(database).parse().unwrap()
    }

    pub fn store(&self, database: &str) -> ClickHouseStore {
        ClickHouseStore::open(&self.url(database)).unwrap()
    }
}
