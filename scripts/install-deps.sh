#!/usr/bin/env bash
# Installs what building and testing iomt-sensor needs on Debian 12 (run as root). Idempotent.
set -euo pipefail
pkgs=(libpcap-dev pkg-config iproute2 tcpreplay tshark tcpdump python3 ieee-data python3-jsonschema rsyslog rsyslog-gnutls openssl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
