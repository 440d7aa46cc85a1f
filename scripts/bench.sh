#!/usr/bin/env bash
# The benchmarks, each on generated data over the production code paths:
#  1. ingest: a 12M-line passivedns log (about 5.2M tuples): lines/s and bytes per tuple;
#  2. query: latency p50/p99 of every query form over that store (first 100 rows);
#  3. sniff: a 5M-packet capture: packets/s, answers/s and peak RSS.
#  4. dnstap: 5M generated messages over a unix socket from 2 senders: messages/s end to
#     end, with client sightings stored and with --clients off.
# `scripts/bench.sh serve` runs the HTTP load scenario instead: `dnsrecall serve` over a
# >= 5M-tuple store (built once in bench-data/serve/base, then reused), 64 connections
# sending exact, *.x and IP lookups through the native, CIRCL and DNSDB APIs while
# `ingest --follow` takes 100k lines/s: requests/s, first-page p50/p99, errors, peak RSS.
# `scripts/bench.sh intel` runs the threat-intel scenario: `intel add` of 1M generated
# indicators (list and MISP JSON: time, peak RSS), matcher observations/s, ingest lines/s
# of a 5M-line log without and with the feed (live matching cost), and `dnsrecall hunt`
# with 100k and 1M indicators over a >= 5M-tuple store (kept in bench-data/intel/hunt,
# or copied from the serve scenario's base). About 4 GB more in bench-data/intel.
# Needs about 8 GB of free disk in bench-data/ (or $BENCH_DIR); serve about 6 GB more.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${BENCH_DIR:-bench-data}"
case "${1:-}" in
  serve)
    shift
    cargo build --release --locked -p dnsrecall-cli -p dnsrecall-bench
    target/release/dnsrecall-bench serve --dir "$dir" --bin target/release/dnsrecall \
      --lines "${LINES:-12000000}" "$@"
    ;;
  intel)
    shift
    cargo build --release --locked -p dnsrecall-cli -p dnsrecall-bench
    target/release/dnsrecall-bench intel --dir "$dir" --bin target/release/dnsrecall "$@"
    ;;
  "")
    cargo build --release --locked -p dnsrecall-bench
    target/release/dnsrecall-bench all --lines "${LINES:-12000000}" --dir "$dir"
    target/release/dnsrecall-bench sniff --packets "${PACKETS:-5000000}" --dir "$dir"
    target/release/dnsrecall-bench dnstap --messages "${MESSAGES:-5000000}" --dir "$dir"
    target/release/dnsrecall-bench dnstap --messages "${MESSAGES:-5000000}" --dir "$dir" --clients-off
    ;;
  *)
    echo "usage: scripts/bench.sh [serve|intel [dnsrecall-bench serve|intel options]]" >&2
    exit 2
    ;;
esac
