#!/usr/bin/env bash
# Fuzzes the wire decoder (crates/wire/fuzz), the dnstap receiver (crates/dnstap/fuzz:
# Frame Streams and the dnstap protobuf) and the intel feed parsers (crates/intel/fuzz),
# cargo-fuzz + libFuzzer, for a bounded time:
# builds every target, then runs each for FUZZ_SECONDS (default 30 for wire, 20 for
# dnstap) from its committed seeds (crates/CRATE/fuzz/seeds/TARGET) plus what earlier runs
# on this machine found (crates/CRATE/fuzz/corpus/TARGET, not committed). Fails on any
# crash, panic, sanitizer report, leak, timeout or out-of-memory; the input is left in
# crates/CRATE/fuzz/artifacts/TARGET/ (reproduce: cd crates/CRATE && RUSTC_BOOTSTRAP=1
# cargo fuzz run TARGET fuzz/artifacts/TARGET/FILE).
#
# Stable Rust only: RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo-fuzz passes. Built
# with AddressSanitizer (and debug assertions and overflow checks, cargo-fuzz's default);
# without a sanitizer if that build fails (FUZZ_SANITIZER=none forces it).
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh            # longer
#   scripts/fuzz.sh tcp_stream frame_stream     # some targets
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1

sanitizer="${FUZZ_SANITIZER:-address}"
cargo_fuzz_version=0.13.2
wire_targets=(frame tcp_stream dns_message)
dnstap_targets=(frame_stream dnstap_message)
intel_targets=(feed)
if [ "$#" -gt 0 ]; then
  wanted=("$@")
else
  wanted=("${wire_targets[@]}" "${dnstap_targets[@]}" "${intel_targets[@]}")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

start=$SECONDS
failed=()
# fuzz_crate CRATE SECONDS TARGET...: builds the crate's targets and runs each.
fuzz_crate() {
  local crate=$1 seconds=$2
  shift 2
  local targets=("$@") sanitizer=$sanitizer
  [ "${#targets[@]}" -gt 0 ] || return 0
  pushd "crates/$crate" >/dev/null
  echo "== fuzz: building the $crate fuzz targets (sanitizer: $sanitizer)"
  local t0=$SECONDS
  if ! cargo fuzz build -s "$sanitizer"; then
    if [ "$sanitizer" = none ]; then
      exit 1
    fi
    echo "fuzz: the $sanitizer sanitizer build failed; building without a sanitizer" >&2
    sanitizer=none
    cargo fuzz build -s none
  fi
  echo "== fuzz: built in $((SECONDS - t0)) s"
  local logs=fuzz/target/logs
  mkdir -p "$logs"
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
      echo "fuzz: $t FAILED; its log from the first error (crates/$crate/$logs/$t.log):" >&2
      first=$(grep -n -m1 -E 'panicked at|ERROR: |SUMMARY: ' "$logs/$t.log" | cut -d: -f1 || true)
      { tail -n +"${first:-1}" "$logs/$t.log" | head -n 150; } >&2 || true
      failed+=("$crate/$t")
    fi
  done
  popd >/dev/null
}
pick() { # pick TARGET...: those of the wanted targets that are in the list
  local t w
  for t in "$@"; do
    for w in "${wanted[@]}"; do
      [ "$t" = "$w" ] && echo "$t"
    done
  done
}
mapfile -t wire < <(pick "${wire_targets[@]}")
mapfile -t dnstap < <(pick "${dnstap_targets[@]}")
mapfile -t intel < <(pick "${intel_targets[@]}")
fuzz_crate wire "${FUZZ_SECONDS:-30}" "${wire[@]}"
fuzz_crate dnstap "${FUZZ_SECONDS:-20}" "${dnstap[@]}"
fuzz_crate intel "${FUZZ_SECONDS:-20}" "${intel[@]}"
echo "== fuzz: done in $((SECONDS - start)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}; inputs in crates/*/fuzz/artifacts/" >&2
  exit 1
fi
