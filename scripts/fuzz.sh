#!/usr/bin/env bash
# Fuzzes the wire decoder (crates/wire/fuzz, cargo-fuzz + libFuzzer) for a bounded time:
# builds every target, then runs each for FUZZ_SECONDS (default 30) from its committed
# seeds (crates/wire/fuzz/seeds/TARGET) plus what earlier runs on this machine found
# (crates/wire/fuzz/corpus/TARGET, not committed). Fails on any crash, panic, sanitizer
# report, leak, timeout or out-of-memory; the input is left in
# crates/wire/fuzz/artifacts/TARGET/ (reproduce: cd crates/wire && RUSTC_BOOTSTRAP=1
# cargo fuzz run TARGET fuzz/artifacts/TARGET/FILE).
#
# Stable Rust only: RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo-fuzz passes. Built
# with AddressSanitizer (and debug assertions and overflow checks, cargo-fuzz's default);
# without a sanitizer if that build fails (FUZZ_SANITIZER=none forces it).
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh            # longer
#   scripts/fuzz.sh tcp_stream                  # one target
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1

seconds="${FUZZ_SECONDS:-30}"
sanitizer="${FUZZ_SANITIZER:-address}"
cargo_fuzz_version=0.13.2
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=(frame tcp_stream dns_message)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

cd crates/wire
start=$SECONDS
echo "== fuzz: building the fuzz targets (sanitizer: $sanitizer)"
if ! cargo fuzz build -s "$sanitizer"; then
  if [ "$sanitizer" = none ]; then
    exit 1
  fi
  echo "fuzz: the $sanitizer sanitizer build failed; building without a sanitizer" >&2
  sanitizer=none
  cargo fuzz build -s none
fi
echo "== fuzz: built in $((SECONDS - start)) s"

logs=fuzz/target/logs
mkdir -p "$logs"
failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  echo "== fuzz: $t for ${seconds} s"
  t0=$SECONDS
  # The first corpus folder receives new inputs; the seeds are only read.
  if cargo fuzz run -s "$sanitizer" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$logs/$t.log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added)' \
      "$logs/$t.log" || true
    echo "fuzz: $t ok ($((SECONDS - t0)) s, corpus: $(find "fuzz/corpus/$t" -type f | wc -l) inputs)"
  else
    echo "fuzz: $t FAILED; its log from the first error ($logs/$t.log):" >&2
    first=$(grep -n -m1 -E 'panicked at|ERROR: |SUMMARY: ' "$logs/$t.log" | cut -d: -f1 || true)
    { tail -n +"${first:-1}" "$logs/$t.log" | head -n 150; } >&2 || true
    failed+=("$t")
  fi
done
echo "== fuzz: done in $((SECONDS - start)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}; inputs in crates/wire/fuzz/artifacts/" >&2
  exit 1
fi
