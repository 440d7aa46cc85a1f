//! A real ClickHouse server for tests: Debian's `/usr/sbin/clickhouse-server` (or
//! `$DNSRECALL_CLICKHOUSE_SERVER`) on free loopback ports, with a config and data directory
//! in a temporary directory; killed when dropped. A missing server FAILS the test.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dnsrecall_clickhouse::{ClickHouseStore, StoreUrl};

pub const DEFAULT_SERVER: &str = "/usr/sbin/clickhouse-server";

pub struct Server {
    child: Option<Child>,
    dir: tempfile::TempDir,
    binary: PathBuf,
    pub http_port: u16,
    pub tcp_port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub fn start() -> Self {
        let binary = PathBuf::from(
            std::env::var_os("DNSRECALL_CLICKHOUSE_SERVER")
                .unwrap_or_else(|| DEFAULT_SERVER.into()),
        );
        assert!(
            binary.exists(),
            "{} is missing: these tests need a real ClickHouse server. Install Debian's \
             clickhouse-server (scripts/install-deps.sh does), or point \
             DNSRECALL_CLICKHOUSE_SERVER at a clickhouse-server binary.",
            binary.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let mut s = Self {
            child: None,
            dir,
            binary,
            http_port: free_port(),
            tcp_port: free_port(),
        };
        s.write_config();
        s.launch();
        s
    }

    fn write_config(&self) {
        let d = self.dir.path().display();
        let config = format!(
            r"<yandex>
  <logger>
    <level>warning</level>
    <log>{d}/log/server.log</log>
    <errorlog>{d}/log/error.log</errorlog>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
</yandex>
",
            http = self.http_port,
            tcp = self.tcp_port,
        );
        let users = r"<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
";
        std::fs::write(self.dir.path().join("config.xml"), config).unwrap();
        std::fs::write(self.dir.path().join("users.xml"), users).unwrap();
    }

    fn launch(&mut self) {
        let d = self.dir.path();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("stdout.log"))
            .unwrap();
        let child = Command::new(&self.binary)
            .arg(format!("--config-file={}", d.join("config.xml").display()))
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.ping() {
                return;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("clickhouse-server exited ({status}):\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "clickhouse-server did not answer /ping within 30 s:\n{}",
            self.logs()
        );
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["stdout.log", "log/error.log"] {
            if let Ok(t) = std::fs::read_to_string(self.dir.path().join(f)) {
                let tail: Vec<&str> = t.lines().rev().take(30).collect();
                s.push_str(&format!("--- {f}\n"));
                for l in tail.into_iter().rev() {
                    s.push_str(l);
                    s.push('\n');
                }
            }
        }
        s
    }

    pub fn ping(&self) -> bool {
        let Ok(mut c) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        if c.write_all(b"GET /ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut buf = String::new();
        let _ = c.read_to_string(&mut buf);
        buf.starts_with("HTTP/1.") && buf.contains(" 200 ") && buf.ends_with("Ok.\n")
    }

    /// Runs one statement over plain HTTP and returns the body (for test set-up only).
    pub fn sql(&self, query: &str) -> String {
        let mut c = TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        write!(
            c,
            "POST / HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{query}",
            query.len()
        )
        .unwrap();
        let mut buf = String::new();
        c.read_to_string(&mut buf).unwrap();
        let (head, body) = buf.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(" 200 "), "{query}: {body}");
        body.to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the server (SIGKILL: no clean shutdown) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server as an operator does (SIGTERM: it finishes what runs and exits)
    /// and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(60) {
                    let _ = c.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data directory and ports.
    pub fn restart(&mut self) {
        self.kill();
        let start = Instant::now();
        // The ports are free again once the old process is gone; allow for slow release.
        loop {
            if TcpListener::bind(("127.0.0.1", self.http_port)).is_ok()
                && TcpListener::bind(("127.0.0.1", self.tcp_port)).is_ok()
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "ports still taken"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        self.launch();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self, database: &str) -> StoreUrl {
        format!("clickhouse://127.0.0.1:{}/{database}", self.http_port)
            .parse()
            .unwrap()
    }

    pub fn store(&self, database: &str) -> ClickHouseStore {
        ClickHouseStore::open(&self.url(database)).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
