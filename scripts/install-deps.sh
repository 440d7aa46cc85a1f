#!/usr/bin/env bash
# Installs what building and testing dnsrecall needs on Debian/Ubuntu (run as root).
# nsd and dnsutils (dig) serve and query a test zone in crates/cli/tests/live.rs.
# dnsdbq and PyPI's pypdns (in a venv, /opt/dnsrecall/pyenv or $DNSRECALL_PYENV) are the
# real API clients of crates/cli/tests/clients.rs.
# unbound, bind9, the dnstap tool, fstrm-bin and tcpdump are the resolvers, replay and
# capture tools of crates/cli/tests/dnstap.rs.
# clickhouse-server (18.16, /usr/sbin/clickhouse-server) is the real server that
# crates/clickhouse/tests start on loopback ports with a temporary config.
# Idempotent: packages already present are kept; Rust comes from rustup only when no cargo
# is on the PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends \
    build-essential pkg-config ca-certificates curl git sqlite3 procps libpcap-dev \
    nsd dnsutils chromium chromium-driver dnsdbq python3-venv \
    unbound bind9 golang-github-dnstap-golang-dnstap-cli fstrm-bin tcpdump \
    clickhouse-server clickhouse-client >/dev/null
fi
pyenv="${DNSRECALL_PYENV:-/opt/dnsrecall/pyenv}"
if ! "$pyenv/bin/python" -c 'import pypdns' >/dev/null 2>&1; then
  py=/usr/bin/python3; [ -x "$py" ] || py=python3   # Debian's, with python3-venv
  "$py" -m venv "$pyenv"
  "$pyenv/bin/pip" install -q pypdns
fi
# PyPI's pymisp in the same venv, and its source distribution unpacked in
# /opt/dnsrecall/pymisp-src (or $DNSRECALL_PYMISP_SRC): its tests/ holds the OSINT events
# that crates/intel/tests/misp_fixtures.rs turns into MISP feed fixtures.
pymisp_version=2.5.34.4
pymisp_src="${DNSRECALL_PYMISP_SRC:-/opt/dnsrecall/pymisp-src}"
if ! "$pyenv/bin/python" -c "import sys, pymisp; sys.exit(pymisp.__version__ != '$pymisp_version')" \
    >/dev/null 2>&1; then
  "$pyenv/bin/pip" install -q "pymisp==$pymisp_version"
fi
if ! grep -qx "Version: $pymisp_version" "$pymisp_src/PKG-INFO" 2>/dev/null \
    || [ ! -f "$pymisp_src/tests/reportlab_testfiles/long_event.json" ]; then
  sdist_dir="$(mktemp -d)"
  "$pyenv/bin/pip" download -q "pymisp==$pymisp_version" --no-binary :all: --no-deps -d "$sdist_dir"
  rm -rf "$pymisp_src" && mkdir -p "$pymisp_src"
  tar -xzf "$sdist_dir/pymisp-$pymisp_version.tar.gz" -C "$pymisp_src" --strip-components=1
  rm -rf "$sdist_dir"
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
