#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): installs what it needs, then formatting,
# lints, and every test (unit, property, golden over ../shared/corpus, store query plans,
# crash and rotation tests of --follow), then a bounded fuzzing run of the wire decoder and
# the dnstap receiver.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
if [ ! -d ../shared/corpus ] && [ -z "${DNSRECALL_CORPUS:-}" ]; then
  echo "error: ../shared/corpus is missing (the golden tests need it beside this repository)" >&2
  exit 1
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked --workspace
echo "== fuzz the wire decoder and the dnstap receiver (scripts/fuzz.sh)"
scripts/fuzz.sh
echo "== all tests passed"
