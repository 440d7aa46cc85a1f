//! Helpers shared by the CLI integration tests: run the real binary on a data directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_dnsrecall")
}

/// The shared corpus beside the repository (`../shared/corpus`), or `DNSRECALL_CORPUS`.
/// Missing corpus is a failure, not a skip.
pub fn corpus() -> PathBuf {
    let dir = std::env::var_os("DNSRECALL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    assert!(
        dir.is_dir(),
        "corpus not found at {}: clone ../shared beside the repo",
        dir.display()
    );
    dir
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null")
        .output()
        .expect("run dnsrecall")
}

pub fn run_ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(
        out.status.success(),
        "dnsrecall {args:?} failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `query ... --format json` results as JSON values.
pub fn query_json(data: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["query"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json", "--limit", "100000"]);
    let text = run_ok(data, &all);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json output");
    assert_eq!(v["truncated"], false);
    v["results"].as_array().cloned().unwrap_or_default()
}

/// Starts `dnsrecall ARGS` (a `serve` with `--listen 127.0.0.1:0`), its stderr to `log`,
/// and waits for its `listening on http://127.0.0.1:PORT` line: the child and the port.
pub fn spawn_serve(args: &[&std::ffi::OsStr], log: &Path) -> (std::process::Child, u16) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let stderr = std::fs::File::create(log).expect("stderr file");
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start dnsrecall serve");
    let stdout = child.stdout.take().expect("serve stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keeps reading so the server never blocks on a full pipe.
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    loop {
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(rest) = line.trim().strip_prefix("listening on http://127.0.0.1:") {
                    return (child, rest.trim_end_matches('/').parse().expect("port"));
                }
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "dnsrecall serve did not say it listens ({e}):\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }
}
