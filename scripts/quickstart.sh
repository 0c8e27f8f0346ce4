#!/usr/bin/env bash
# Installs what is needed, builds the sensor and replays the bundled captures with --stats.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -q
rm -f eve.json
mapfile -t pcaps < <(find captures -name '*.pcap' -o -name '*.pcapng' | grep -v '/scenario/' | sort)
target/release/iomt-sensor replay --stats --eve eve.json --eve-types all "${pcaps[@]}"
echo "iomt-sensor: $(wc -l < eve.json) EVE events written to eve.json"
