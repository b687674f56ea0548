#!/usr/bin/env bash
# Drives `vigil serve` with the real `tritonclient[http]` client over mutual TLS and checks:
# answers equal to the model run directly (onnx.reference on the bundle's model.onnx), the
# documented abstention error, refusal of a client without a certificate, of one from another
# CA and of one the clients file does not name, and a /metrics that prometheus_client parses.
# Prints `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")"
VIGIL_BIN="${VIGIL_BIN:-../../target/debug/vigil}"
PYTHON="${PYTHON:-../../.venv/bin/python}"
tmp="$(mktemp -d)"
pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT
"$VIGIL_BIN" tls demo-pki --out "$tmp/pki" >/dev/null
"$VIGIL_BIN" tls demo-pki --out "$tmp/other" >/dev/null   # another CA
"$VIGIL_BIN" key generate --algorithm ed25519 --out "$tmp/ledger-key" >/dev/null 2>&1
device=../../examples/devices/breast-cancer
serve() { # args...: start `vigil serve` in the background, wait for its listening line
  : > "$tmp/listen.json"
  "$VIGIL_BIN" serve --json --log-level warn --addr 127.0.0.1:0 \
    --tls-cert "$tmp/pki/server.crt" --tls-key "$tmp/pki/server.key" \
    --client-ca "$tmp/pki/ca.crt" --clients "$tmp/pki/clients.toml" \
    --ledger "$tmp/audit.db" --ledger-key "$tmp/ledger-key.pem" "$@" \
    > "$tmp/listen.json" 2> "$tmp/serve.log" &
  pid=$!
  for _ in $(seq 1 300); do [ -s "$tmp/listen.json" ] && return 0; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  wait "$pid" 2>/dev/null || true; pid=
  return 1
}
mode=device
serve --bundle "$device/bundle" --policy "$device/policy.toml" \
  || { echo "vigil serve did not start:"; cat "$tmp/serve.log"; echo "0 passed, 1 failed"; exit 1; }
"$PYTHON" test_tritonclient.py "$tmp/listen.json" "$tmp/pki" "$tmp/other" "$device" "$mode"
