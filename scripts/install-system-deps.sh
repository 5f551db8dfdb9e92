#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: mosquitto (MQTT broker and
# mosquitto_passwd), influxdb (influxd 1.x), openssl (test certificates for TLS), a C
# compiler with the Mosquitto plugin headers (the broker tests build deploy/mosquitto/plugin),
# chromium (headless, for the tests of pages), systemd's systemd-analyze (the shipped units
# are verified), minisign (firmware bundles' signatures, checked both ways), wamerican
# (/usr/share/dict/american-english: the English word list the language tests use to find
# English words in Bahasa Indonesia messages), and iproute2 and nftables (the chaos tests:
# network namespaces, veth pairs, tbf and nftables loss rules).
# Used by `make test`, `make bench` and `make chaos`.
set -euo pipefail

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)  # bench (a)
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # test certificates for TLS
# deploy/mosquitto/plugin/build.sh: compiler, C library headers, Mosquitto plugin headers.
command -v cc >/dev/null 2>&1 || missing+=(gcc)
[ -f /usr/include/string.h ] || missing+=(libc6-dev)
[ -f /usr/include/mosquitto_broker.h ] || missing+=(mosquitto-dev)
[ -f /usr/include/mosquitto.h ] || missing+=(libmosquitto-dev)
# headless browser for the page tests (tests/api/test_docs_offline.py: /docs without internet)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# tests/deploy/test_systemd_units.py: systemd-analyze verify on the shipped units.
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ -f /usr/share/dict/american-english ] || missing+=(wamerican)  # tests/kernel/test_language.py
# tests/firmware_tools/test_minisign_interop.py: the stock tool checks our signed bundles
command -v minisign >/dev/null 2>&1 || missing+=(minisign)
# tests/chaos and `make chaos` (testkit/netns.py): ip netns, veth, tc tbf, nftables numgen.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
command -v tc >/dev/null 2>&1 || [ -x /usr/sbin/tc ] || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages' own services are not wanted: tests start their own processes on free ports.
