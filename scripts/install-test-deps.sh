#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Chromium (the discovery page test) and
# BIND 9 with its tools (the end-to-end suite). Run as root; does nothing for packages already present.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v named >/dev/null 2>&1 || need+=(bind9)
command -v nsupdate >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)

if [ "${#need[@]}" -eq 0 ]; then
  echo "test dependencies present"
  exit 0
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
