//! A private `clickhouse-server` for tests and benchmarks: Debian's
//! `/usr/sbin/clickhouse-server` (or `$DNSRECALL_CLICKHOUSE_SERVER`) with its own config,
//! data and logs in a directory, listening on free loopback ports only (HTTP and native
//! TCP on `127.0.0.1`). Killed when dropped. Not used by `dnsrecall` itself.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's ClickHouse server.
pub const DEFAULT_SERVER: &str = "/usr/sbin/clickhouse-server";

/// How long a start (or a restart) may take before it is an error.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// The server binary: `$DNSRECALL_CLICKHOUSE_SERVER`, else Debian's.
#[must_use]
pub fn server_binary() -> PathBuf {
    std::env::var_os("DNSRECALL_CLICKHOUSE_SERVER")
        .map_or_else(|| PathBuf::from(DEFAULT_SERVER), PathBuf::from)
}

/// A running private server.
#[derive(Debug)]
pub struct LocalServer {
    child: Option<Child>,
    binary: PathBuf,
    dir: PathBuf,
    pub http_port: u16,
    pub tcp_port: u16,
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

impl LocalServer {
    /// Writes a config into `dir` (created when missing), starts `binary` on free
    /// loopback ports and waits until it answers `/ping`.
    ///
    /// # Errors
    /// When the binary is missing, or the server exits or does not answer within 60 s.
    pub fn start(binary: &Path, dir: &Path) -> Result<Self, String> {
        if !binary.is_file() {
            return Err(format!(
                "{} is missing: this needs a real ClickHouse server. Install Debian's \
                 clickhouse-server (scripts/install-deps.sh does), or point \
                 DNSRECALL_CLICKHOUSE_SERVER at a clickhouse-server binary",
                binary.display()
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut server = Self {
            child: None,
            binary: binary.to_owned(),
            dir,
            http_port: free_port()?,
            tcp_port: free_port()?,
        };
        server.write_config()?;
        server.launch()?;
        Ok(server)
    }

    /// Loopback only; 2 GB per query, a 64 MB mark cache.
    fn write_config(&self) -> Result<(), String> {
        let d = self.dir.display();
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
        for (name, text) in [("config.xml", config.as_str()), ("users.xml", users)] {
            let path = self.dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = self.dir.join("stdout.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(&self.binary)
            .arg(format!(
                "--config-file={}",
                self.dir.join("config.xml").display()
            ))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < START_PATIENCE {
            if self.ping() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(format!(
                    "clickhouse-server exited ({status}):\n{}",
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "clickhouse-server did not answer /ping within {} s:\n{}",
            START_PATIENCE.as_secs(),
            self.logs()
        ))
    }

    /// Whether the server answers `/ping`.
    #[must_use]
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

    /// The last lines of its output and error log.
    #[must_use]
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["stdout.log", "log/error.log"] {
            if let Ok(t) = std::fs::read_to_string(self.dir.join(f)) {
                s.push_str(&format!("--- {f}\n"));
                let tail: Vec<&str> = t.lines().rev().take(30).collect();
                for l in tail.into_iter().rev() {
                    s.push_str(l);
                    s.push('\n');
                }
            }
        }
        s
    }

    /// Runs one statement over plain HTTP and returns the body.
    ///
    /// # Errors
    /// When the server cannot be reached or answers with an error.
    pub fn sql(&self, query: &str) -> Result<String, String> {
        let mut c = TcpStream::connect(("127.0.0.1", self.http_port))
            .map_err(|e| format!("{query}: {e}"))?;
        write!(
            c,
            "POST / HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{query}",
            query.len()
        )
        .map_err(|e| format!("{query}: {e}"))?;
        let mut buf = String::new();
        c.read_to_string(&mut buf)
            .map_err(|e| format!("{query}: {e}"))?;
        let (head, body) = buf
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("{query}: not an HTTP answer"))?;
        if head.contains(" 200 ") {
            Ok(body.to_owned())
        } else {
            Err(format!("{query}: {body}"))
        }
    }

    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `clickhouse://127.0.0.1:PORT/DATABASE`.
    #[must_use]
    pub fn url(&self, database: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{database}", self.http_port)
    }

    /// Stops the server as an operator does (SIGTERM: it finishes what runs and exits)
    /// and waits for it; SIGKILL after 60 s.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let start = Instant::now();
        while c.try_wait().ok().flatten().is_none() {
            if start.elapsed() > START_PATIENCE {
                let _ = c.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.wait();
    }

    /// Kills the server (SIGKILL: no clean shutdown) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data directory and ports (killing it first
    /// when it runs).
    ///
    /// # Errors
    /// When the ports stay taken or the server does not come up.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        let start = Instant::now();
        while TcpListener::bind(("127.0.0.1", self.http_port)).is_err()
            || TcpListener::bind(("127.0.0.1", self.tcp_port)).is_err()
        {
            if start.elapsed() > START_PATIENCE {
                return Err("the server's ports stay taken".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.launch()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
    }
}
