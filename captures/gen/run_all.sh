#!/usr/bin/env bash
# Rebuild every committed capture under captures/, its tshark facts and the small labelled
# scenario, from real peers in private network namespaces. Run as root:
#   sudo captures/gen/run_all.sh
# Env: SKIP_INSTALL=1 (peers already installed), SDC11073_SRC=DIR (an sdc11073 source tree;
# default: git clone into $WORK), WORK=DIR (scratch, default /tmp/iomt-corpus-work),
# BIG=1 (also write the >= 1 GiB throughput capture under captures/big/).
set -euo pipefail
GEN=$(cd "$(dirname "$0")" && pwd)
CAP=$(dirname "$GEN")
WORK=${WORK:-/tmp/iomt-corpus-work}
PY=${PYTHON:-python3}
mkdir -p "$WORK"
[ "$(id -u)" = 0 ] || { echo "run_all.sh: must run as root (network namespaces, tcpdump)" >&2; exit 2; }

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  apt-get install -y --no-install-recommends dcmtk orthanc tcpdump tshark nmap dnsmasq-base \
      isc-dhcp-client chrony ethtool iproute2 openssl git lldpd arping
  $PY -m pip install pydicom==3.0.2 pynetdicom==3.0.4 hl7==0.4.5 hl7apy==1.3.5 sdc11073==3.0.0 \
      dpkt==1.9.8 numpy pillow zeroconf==0.154.0
fi
if [ -z "${SDC11073_SRC:-}" ]; then
  SDC11073_SRC="$WORK/sdc11073-src"
  if [ ! -d "$SDC11073_SRC/tutorial" ]; then
    git clone -q https://github.com/Draegerwerk/sdc11073 "$SDC11073_SRC"
    git -C "$SDC11073_SRC" checkout -q f376b9f
  fi
fi
export SDC11073_SRC

cleanup() { $PY "$GEN/lab.py" --cleanup || true; }
trap cleanup EXIT INT TERM
cleanup

cd "$CAP"
$PY "$GEN/synth.py"
$PY "$GEN/rec_dicom.py" "$CAP" all --work "$WORK"
$PY "$GEN/rec_hl7.py" "$CAP" all --work "$WORK"
$PY "$GEN/rec_sdc.py" "$CAP" all --work "$WORK"
$PY "$GEN/rec_noise.py" "$CAP" --work "$WORK"
$PY "$GEN/rec_netid.py" "$CAP" --work "$WORK"
# IEEE 11073-20601: only with a locally built antidote (ANTIDOTE_DIR), see rec_20601.py
$PY "$GEN/rec_20601.py" "$CAP"
$PY "$GEN/scenario.py" "$CAP/scenario" --small --baseline-days 2 --start 2026-11-18 --beds 3 --vitals-every 1200
$PY "$CAP/check_facts.py" --write
$PY "$CAP/check_facts.py"
if [ "${BIG:-0}" = 1 ]; then
  $PY "$GEN/rec_dicom.py" "$CAP" bigstore --work "$WORK"
  $PY "$GEN/bigcapture.py" "$CAP/big/hospital-1g.pcap" --gib 1.0 --work "$WORK"
fi
du -sh "$CAP"/dicom "$CAP"/hl7 "$CAP"/sdc "$CAP"/noise "$CAP"/scenario
