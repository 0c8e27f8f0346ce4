#!/usr/bin/env bash
# Soak: replay the >= 1 GiB hospital capture and the pathological captures (benches/pathological.py)
# with --stats; prints each run's counters and peak RSS (the caps must hold whatever the input).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p iomt-sensor
[ -f captures/big/syn-flood.pcap ] || python3 benches/pathological.py captures/big
for f in captures/big/hospital-1g.pcap captures/big/syn-flood.pcap captures/big/ooo-storm.pcap captures/big/dicom-endless.pcap; do
  [ -f "$f" ] || { echo "soak: $f missing (see captures/README.md and benches/pathological.py)"; continue; }
  echo "== $f ($(stat -c %s "$f") bytes)"
  /usr/bin/time -f "peak RSS %M kB, %e s" target/release/iomt-sensor replay --stats --state "$(mktemp -d)" "$f" 2>&1 \
    | grep -E "frames [0-9]|flows:|reassembly:|events:|memory:|peak RSS"
done
