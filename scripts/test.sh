#!/usr/bin/env bash
# Runs rsec's whole test suite. Installs Debian's `sec` (the reference program the
# differential tests compare against) when it is missing and this machine can.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v sec >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's sec package (the reference for the differential tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sec >/dev/null
  else
    echo "warning: real SEC is not installed (apt-get install sec); differential tests will skip (and fail when CI=true)"
  fi
fi
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
