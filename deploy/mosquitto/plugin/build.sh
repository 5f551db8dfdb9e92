#!/bin/sh
# Builds the Mosquitto plugins into OUTDIR (default: this folder): jagajalan_clientid.so (ties
# client ids to usernames) and jagajalan_ingest_gate.so (refuses readings after a broker start
# until ingest has subscribed). Used by deploy/mosquitto/Dockerfile, the tests and operators.
#   deploy/mosquitto/plugin/build.sh [OUTDIR]
# Needs a C compiler and the Mosquitto 2.x headers: Debian `mosquitto-dev libmosquitto-dev`,
# Alpine `mosquitto-dev`. CC and CFLAGS are taken from the environment if set.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
outdir=${1:-$here}
mkdir -p "$outdir"
for header in mosquitto.h mosquitto_broker.h mosquitto_plugin.h; do
    if ! printf '#include <%s>\n' "$header" | ${CC:-cc} ${CFLAGS:-} -E -x c - >/dev/null 2>&1; then
        echo "build.sh: <$header> not found; install the Mosquitto headers" \
            "(Debian: mosquitto-dev libmosquitto-dev, Alpine: mosquitto-dev)" >&2
        exit 1
    fi
done
# -shared without -lmosquitto: the plugin's mosquitto_* calls are resolved from the broker.
for name in jagajalan_clientid jagajalan_ingest_gate; do
    ${CC:-cc} ${CFLAGS:--O2} -std=c99 -shared -fPIC -Wall -Wextra -Werror \
        -o "$outdir/$name.so" "$here/$name.c"
    echo "$outdir/$name.so"
done
