#!/usr/bin/env bash
# Installs what is needed, builds the sensor, and runs its main job on the bundled captures:
#  1. every protocol capture replayed with --stats, all events to eve.json;
#  2. the labelled hospital scenario: learn a baseline, then detect on the test day (alerts on stdout).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -q
rm -rf eve.json iomt-state
mapfile -t pcaps < <(find captures -name '*.pcap' -o -name '*.pcapng' | grep -v -e '/scenario/' -e '/big/' | sort)
target/release/iomt-sensor replay --stats --eve eve.json --eve-types all "${pcaps[@]}"
echo "iomt-sensor: $(wc -l < eve.json) EVE events written to eve.json"
target/release/iomt-sensor replay --mode learn captures/scenario/baseline.pcap
target/release/iomt-sensor replay --mode detect --eve - captures/scenario/test.pcap
