#!/usr/bin/env bash
# Side-by-side throughput on one capture, in one run: the frame-walk floor, iomt-sensor at 1/2/4/8
# workers (all parsers, models and EVE alerts on), tshark with its DICOM and HL7 dissectors, and
# Suricata with no rules and EVE off. Prints seconds, Gbit/s, frames/s, peak RSS and the ratios.
#
#   benches/compare.sh [CAPTURE]      (default: captures/big/hospital-1g.pcap; make it with
#                                      `python3 captures/gen/bigcapture.py captures/big/hospital-1g.pcap --gib 1.0`;
#                                      the packet-heavy one with
#                                      `python3 captures/gen/bigcapture.py captures/big/hospital-ward-1.5g.pcap --gib 1.4 --mix ward`)
#
# Needs tshark (Debian) and, for the Suricata column, suricata (Debian bookworm-backports); a missing
# tool's row says so and the rest still runs. Run it on an otherwise idle machine: wall time is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
cap=${1:-captures/big/hospital-1g.pcap}
[ -f "$cap" ] || { echo "compare.sh: no capture $cap (see the header of this script)" >&2; exit 2; }
cargo build --release -q -p iomt-sensor -p iomt-benches
bytes=$(stat -L -c %s "$cap")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
declare -A secs rss
run() { # name command...
  local name=$1; shift
  local t0 t1 s m
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$tmp/t" "$@" >"$tmp/out" 2>"$tmp/err" || { echo "compare.sh: $name failed: $(tail -1 "$tmp/err")" >&2; return 0; }
  t1=$(date +%s%N)
  s=$(echo "($t1-$t0)/1000000000" | bc -l); m=$(tail -1 "$tmp/t"); secs[$name]=$s; rss[$name]=$m
  printf '%-28s %8.2f s %8.2f Gbit/s %10.0f frames/s %9d kB peak RSS\n' "$name" "$s" \
    "$(echo "$bytes*8/$s/1000000000" | bc -l)" "$(echo "$frames/$s" | bc -l)" "$m"
}
cat "$cap" > /dev/null   # warm the page cache so every contender reads from memory
frames=$(target/release/framewalk "$cap" | sed -n 's/^framewalk: \([0-9]*\) frames.*/\1/p')
echo "capture: $cap ($bytes bytes, $frames frames), $(nproc) cores"
run "floor: frame walk (read)" target/release/framewalk "$cap"
run "floor: frame walk (mmap)" target/release/framewalk --mmap "$cap"
for t in 1 2 4 8; do
  run "iomt-sensor --threads $t" target/release/iomt-sensor replay --threads "$t" --state "$tmp/state-$t" --eve "$tmp/eve-$t.json" --stats "$cap"
  # Where the time went: CPU seconds of the reader, each worker and the merger (from --stats).
  sed -n 's/^iomt-sensor stats: cpu seconds: /    cpu seconds: /p' "$tmp/err"
done
if command -v tshark >/dev/null; then
  run "tshark (dicom, hl7)" tshark -n -r "$cap" -d tcp.port==104,dicom -d tcp.port==11112,dicom -d tcp.port==4242,dicom -d tcp.port==2575,hl7 -q -z io,phs
else echo "tshark: not installed"; fi
if command -v suricata >/dev/null; then
  mkdir -p "$tmp/suri"
  run "suricata (no rules, no EVE)" suricata -r "$cap" -S /dev/null -k none -l "$tmp/suri" --set outputs.1.eve-log.enabled=no --set outputs.0.fast.enabled=no
else echo "suricata: not installed (apt-get install -t bookworm-backports suricata)"; fi
best=${secs["iomt-sensor --threads 1"]:-0}
for t in 2 4 8; do s=${secs["iomt-sensor --threads $t"]:-}; [ -n "$s" ] && (( $(echo "$s < $best" | bc) )) && best=$s; done
echo
echo "ratios (best iomt-sensor run: $best s):"
for k in "floor: frame walk (read)" "tshark (dicom, hl7)" "suricata (no rules, no EVE)"; do
  s=${secs[$k]:-}; [ -n "$s" ] && printf '  %-28s %6.2fx iomt-sensor time\n' "$k" "$(echo "$s/$best" | bc -l)"
done
