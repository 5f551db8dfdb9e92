#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: mosquitto (MQTT broker and
# mosquitto_passwd), influxdb (influxd 1.x) and openssl (test certificates for TLS).
# Used by `make test` and `make bench`.
set -euo pipefail

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)  # bench (a)
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # test certificates for TLS
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
