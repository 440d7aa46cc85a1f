#!/usr/bin/env bash
# The benchmarks, each on generated data over the production code paths:
#  1. ingest: a 12M-line passivedns log (about 5.2M tuples): lines/s and bytes per tuple;
#  2. query: latency p50/p99 of every query form over that store (first 100 rows);
#  3. sniff: a 5M-packet capture: packets/s, answers/s and peak RSS.
# Needs about 8 GB of free disk in bench-data/ (or $BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p dnsrecall-bench
dir="${BENCH_DIR:-bench-data}"
target/release/dnsrecall-bench all --lines "${LINES:-12000000}" --dir "$dir"
target/release/dnsrecall-bench sniff --packets "${PACKETS:-5000000}" --dir "$dir"
