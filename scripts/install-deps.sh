#!/usr/bin/env bash
# Installs what building and testing dnsrecall needs on Debian/Ubuntu (run as root).
# nsd and dnsutils (dig) serve and query a test zone in crates/cli/tests/live.rs.
# Idempotent: packages already present are kept; Rust comes from rustup only when no cargo
# is on the PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends \
    build-essential pkg-config ca-certificates curl git sqlite3 procps libpcap-dev \
    nsd dnsutils >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
cargo --version
