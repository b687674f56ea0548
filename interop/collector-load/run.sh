#!/usr/bin/env bash
# The fleet load bar of issue 19: 1,000 simulated devices (each its own ledger, log key and
# client certificate) push concurrently to two `vigil collector serve` processes sharing one
# PostgreSQL database; when half the pushes are acknowledged, with pushes in flight, one
# collector is killed with SIGKILL (and started again on its port); devices retry on the other.
# Then, for every device, what the collectors acknowledged (the size of its newest cosigned
# checkpoint, co-signed by the witness key) must be in `vc_entries` exactly once: rows
# 0..size, no gap, no extra row, each the device's own entry with its leaf hash, and the
# acknowledged root computed from the stored rows. Prints `N passed, N failed` (one check per
# device, plus the kill and "nothing stored for strangers").
#
#   VIGIL_LOAD_DEVICES=1000 VIGIL_LOAD_ROUNDS=3 VIGIL_LOAD_ENTRIES=20 interop/collector-load/run.sh
#
# The load generator is crates/vigil-collector/examples/fleet_load (built here, same profile as
# VIGIL_BIN); the throwaway PostgreSQL cluster is made with initdb in a temporary folder on a
# loopback port (as `postgres` when run as root), with default durability, and removed after.
set -euo pipefail
cd "$(dirname "$0")/../.."
profile="${VIGIL_PROFILE:-debug}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
flag=; [ "$profile" = release ] && flag=--release
if [ -z "${VIGIL_BIN:-}" ]; then
  cargo build $flag --quiet -p vigil-cli
  VIGIL_BIN="$target/$profile/vigil"
fi
cargo build $flag --quiet -p vigil-collector --example fleet_load
load="$target/$profile/examples/fleet_load"

pg_bin="${PG_BIN:-}"
if [ -z "$pg_bin" ]; then
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
fi
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  echo "FAIL: PostgreSQL (initdb, pg_ctl) is not installed (apt-get install postgresql)"
  echo "0 passed, 1 failed"
  exit 1
fi

tmp="$(mktemp -d)"
as_user=()
if [ "$(id -u)" = 0 ]; then as_user=(runuser -u postgres --); chown postgres "$tmp"; fi
pg() { "${as_user[@]}" "$pg_bin/$1" "${@:2}"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  pg pg_ctl -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
pg initdb -D "$tmp/pg" -U vigil --auth=trust -E UTF8 >/dev/null
pg pg_ctl -D "$tmp/pg" -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c max_connections=100" \
  -l "$tmp/pg.log" -w start >/dev/null
pg psql -h 127.0.0.1 -p "$port" -U vigil -d postgres -qc 'CREATE DATABASE load' >/dev/null

mkdir -p "$tmp/load"
start=$(date +%s)
status=0
VIGIL_BIN="$VIGIL_BIN" VIGIL_LOAD_DB="postgres://vigil@127.0.0.1:$port/load" \
  VIGIL_LOAD_DIR="$tmp/load" "$load" || status=$?
echo "collector-load: $(( $(date +%s) - start )) s, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit $status
