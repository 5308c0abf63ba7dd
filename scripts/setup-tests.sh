#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, in one command (run as root, from the
# repository): the Debian packages the suite drives for real (Chromium for the discovery page, BIND 9 and
# its tools for the end-to-end suite, python3 for the full-accept-queue server, iproute2 for the network
# namespace suite), then exactly the lockfile's npm packages (npm ci). Packages already present are kept.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v named >/dev/null 2>&1 || need+=(bind9)
command -v nsupdate >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v ip >/dev/null 2>&1 || need+=(iproute2)

if [ "${#need[@]}" -eq 0 ]; then
  echo "system packages present"
else
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
