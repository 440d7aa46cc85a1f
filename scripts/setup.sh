#!/usr/bin/env bash
# One command from a fresh Debian machine (as root) to answers: install what is needed,
# build dnsrecall, ingest the shipped sample passivedns log, and run the seed article's
# two searches on it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p dnsrecall-cli
install -m 0755 target/release/dnsrecall /usr/local/bin/dnsrecall
data=$(mktemp -d /tmp/dnsrecall-sample.XXXXXX)
echo "== dnsrecall ingest testdata/sample-passivedns.json.gz (store in $data)"
dnsrecall --data-dir "$data" ingest testdata/sample-passivedns.json.gz
echo
echo "== the seed's first search: query=\"*sans.*\" with first and last seen"
dnsrecall --data-dir "$data" query '*sans.*' --time-format '%d/%m/%Y %H:%M:%S'
echo
echo "== the seed's second search: which clients asked"
dnsrecall --data-dir "$data" clients '*.sans.org' --time-format '%d/%m/%Y %H:%M:%S'
echo
echo "== the same with threat intel: a feed (testdata/sample-feed.txt) hunted over the history"
dnsrecall --data-dir "$data" intel add sample testdata/sample-feed.txt
dnsrecall --data-dir "$data" hunt --since 2019-01-01 --time-format '%d/%m/%Y %H:%M:%S'
echo
echo "== what the sample holds"
dnsrecall --data-dir "$data" stats
echo
echo "dnsrecall is installed as /usr/local/bin/dnsrecall; try: dnsrecall --data-dir $data query '*.example.com'"
