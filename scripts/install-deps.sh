#!/usr/bin/env bash
# Installs what building and testing dnsrecall needs on Debian/Ubuntu (run as root).
# nsd and dnsutils (dig) serve and query a test zone in crates/cli/tests/live.rs.
# dnsdbq and PyPI's pypdns (in a venv, /opt/dnsrecall/pyenv or $DNSRECALL_PYENV) are the
# real API clients of crates/cli/tests/clients.rs.
# unbound, bind9, the dnstap tool and fstrm-bin are the resolvers and replay tools of
# crates/cli/tests/dnstap.rs.
# Idempotent: packages already present are kept; Rust comes from rustup only when no cargo
# is on the PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends \
    build-essential pkg-config ca-certificates curl git sqlite3 procps libpcap-dev \
    nsd dnsutils chromium chromium-driver dnsdbq python3-venv \
    unbound bind9 golang-github-dnstap-golang-dnstap-cli fstrm-bin >/dev/null
fi
pyenv="${DNSRECALL_PYENV:-/opt/dnsrecall/pyenv}"
if ! "$pyenv/bin/python" -c 'import pypdns' >/dev/null 2>&1; then
  py=/usr/bin/python3; [ -x "$py" ] || py=python3   # Debian's, with python3-venv
  "$py" -m venv "$pyenv"
  "$pyenv/bin/pip" install -q pypdns
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
