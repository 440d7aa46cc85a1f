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
# `scripts/bench.sh clickhouse` runs the ClickHouse backend through the real binary: its
# own clickhouse-server (Debian's /usr/sbin/clickhouse-server; data in
# bench-data/clickhouse/server, loopback ports only, stopped at the end), `dnsrecall --store
# clickhouse://127.0.0.1:PORT/bench ingest` of the same 12M-line log (lines/s, tuples, bytes
# per tuple on disk), the query benchmark's patterns against it in process and through
# `dnsrecall query` (p50/p99/max, first 100 rows), `sniff -r` of the same 5M-packet capture
# (packets/s), server peak RSS; SQLite's figures beside them (`--sqlite` measures them
# again in the same run, in bench-data/store). About 3 GB more in bench-data.
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
  clickhouse)
    shift
    cargo build --release --locked -p dnsrecall-cli -p dnsrecall-bench
    target/release/dnsrecall-bench clickhouse --dir "$dir" --bin target/release/dnsrecall \
      --lines "${LINES:-12000000}" --packets "${PACKETS:-5000000}" "$@"
    ;;
  "")
    cargo build --release --locked -p dnsrecall-bench
    target/release/dnsrecall-bench all --lines "${LINES:-12000000}" --dir "$dir"
    target/release/dnsrecall-bench sniff --packets "${PACKETS:-5000000}" --dir "$dir"
    target/release/dnsrecall-bench dnstap --messages "${MESSAGES:-5000000}" --dir "$dir"
    target/release/dnsrecall-bench dnstap --messages "${MESSAGES:-5000000}" --dir "$dir" --clients-off
    ;;
  *)
    echo "usage: scripts/bench.sh [serve|intel|clickhouse [dnsrecall-bench serve|intel|clickhouse options]]" >&2
    exit 2
    ;;
esac
