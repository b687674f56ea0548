#!/usr/bin/env bash
# The collector's dashboard in a real browser: Debian's headless Chromium driven by Playwright
# (Python), with an operator's client certificate (Playwright's `client_certificates`). A
# collector on SQLite gets pushes from a device ledger made with `vigil log` (inference events,
# an extraction alarm) with drift results from `vigil drift test --json`; the test checks the
# fleet table, the alarm feed, a drift plot, inclusion proofs verified in the browser
# (WebCrypto), a tampered checkpoint caught, 403 for a device certificate, and no console
# error or failed request. Prints `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")"
VIGIL_BIN="${VIGIL_BIN:-../../target/debug/vigil}"
PYTHON="${PYTHON:-../../.venv/bin/python}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "FAIL: $CHROMIUM not found (apt-get install chromium)"
  echo "0 passed, 1 failed"
  exit 1
fi
tmp="$(mktemp -d)"
server=
cleanup() {
  # SIGTERM: the collector stops gracefully.
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  exec 3<&- 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
v() { "$VIGIL_BIN" "$@"; }

v tls demo-pki --out "$tmp/pki" >/dev/null
v key generate --algorithm ed25519 --out "$tmp/device-log" >/dev/null 2>&1
v key generate --algorithm ed25519 --out "$tmp/witness" >/dev/null 2>&1
vkey=$(v log init --db "$tmp/device.db" --origin bench-client --key "$tmp/device-log.pem" --json \
  | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["vkey"])')
model=$(printf 'ab%.0s' $(seq 32))
event() { # event_id client
  printf '{"type":"guard.inference","event_id":%d,"time_ms":1700000000000,"model":"%s","client":"%s","input_sha256":"%s","verdict":"accept","reason":null,"label":"benign","scores":{},"alarms":[]}\n' \
    "$1" "$model" "$2" "$model"
}
{ for i in $(seq 0 9); do event "$i" ward-7; done
  printf '{"type":"guard.alarm","event_id":10,"time_ms":1700000001000,"model":"%s","client":"<b>ward-9</b>","alarm":"extraction","detail":{"signal":"prada","statistic":0.81,"queries":150}}\n' "$model"
} | v log append --db "$tmp/device.db" >/dev/null
v log checkpoint --db "$tmp/device.db" --key "$tmp/device-log.pem" >/dev/null

cat > "$tmp/clients.toml" <<TOML
[[client]]
name = "demo-client"
role = "operator"

[[client]]
name = "bench-client"
role = "device"
ledger_vkey = "$vkey"
TOML

mkfifo "$tmp/out"
"$VIGIL_BIN" collector serve --db "sqlite:$tmp/collector.db" --addr 127.0.0.1:0 --tls-cert "$tmp/pki/server.crt" \
  --tls-key "$tmp/pki/server.key" --client-ca "$tmp/pki/ca.crt" --clients "$tmp/clients.toml" \
  --witness-key "$tmp/witness.pem" --json --log-level warn > "$tmp/out" &
server=$!
exec 3<"$tmp/out"
read -r -t 60 line <&3
port=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["addr"].rsplit(":",1)[1])' "$line")
url="https://localhost:$port"

# Two pushes with drift results, so each feature has a line over time.
"$PYTHON" - "$tmp" <<'PY'
import random, sys
random.seed(7)
d = sys.argv[1]
def write(name, mean):
    with open(f"{d}/{name}.csv", "w") as f:
        f.write("age,heart_rate\n")
        for _ in range(300):
            f.write(f"{random.gauss(mean, 5):.3f},{random.gauss(70, 5):.3f}\n")
write("reference", 50); write("week1", 51); write("week2", 58)
PY
push() {
  v collector push --collector "$url" --ledger "$tmp/device.db" --tls-cert "$tmp/pki/bench-client.crt" \
    --tls-key "$tmp/pki/bench-client.key" --ca "$tmp/pki/ca.crt" --model "ecg-net@2.1.0" "$@" >/dev/null
}
v drift test --reference "$tmp/reference.csv" --current "$tmp/week1.csv" --test ks --json > "$tmp/d1.json" || true
v drift test --reference "$tmp/reference.csv" --current "$tmp/week2.csv" --test ks --json > "$tmp/d2.json" || true
push --drift "$tmp/d1.json"
{ for i in $(seq 11 14); do event "$i" ward-7; done; } | v log append --db "$tmp/device.db" >/dev/null
v log checkpoint --db "$tmp/device.db" --key "$tmp/device-log.pem" >/dev/null
push --drift "$tmp/d2.json"

"$PYTHON" test_dashboard.py "$url" "$tmp/pki" "$CHROMIUM"
