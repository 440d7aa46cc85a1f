#!/usr/bin/env bash
# The foundation benchmark: generate a 12M-line passivedns log (about 5.2M tuples),
# ingest it end to end, then measure query latency of every query form. Prints lines/s,
# bytes per tuple and p50/p99 per form. Needs about 6 GB of free disk in bench-data/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p dnsrecall-bench
exec target/release/dnsrecall-bench all --lines "${LINES:-12000000}" --dir "${BENCH_DIR:-bench-data}" "$@"
