#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs every Rust test and the corpus facts check.
# Run as root on Debian 12 (the live-capture tests create network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace --release
python3 captures/check_facts.py
