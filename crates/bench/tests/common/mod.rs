//! Shared by the scenario smoke tests: the `dnsrecall` binary of the same build.

use std::path::PathBuf;

/// `$DNSRECALL_BIN`, or `target/<profile>/dnsrecall` beside the test executable; missing
/// is a failure.
pub fn dnsrecall_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DNSRECALL_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/TEST-HASH -> target/<profile>/dnsrecall
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("dnsrecall"))
        .expect("target directory");
    assert!(
        bin.is_file(),
        "{} not found: build it first (cargo build -p dnsrecall-cli, or run cargo test \
         --workspace) or set DNSRECALL_BIN",
        bin.display()
    );
    bin
}
