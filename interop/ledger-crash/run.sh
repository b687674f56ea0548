#!/usr/bin/env bash
# Crash safety of `vigil log append`: feed it an endless stream of events, SIGKILL it at a
# random moment, then check that the log verifies and that the first and last indices it
# acknowledged hold exactly the lines sent. Prints `N passed, N failed` (a trial fails if
# anything acknowledged is lost or the log does not verify).
#
#   VIGIL_CRASH_TRIALS=300 interop/ledger-crash/run.sh      (default 200)
#
# The library variant (4 threads, batches, checkpoints) runs with
#   VIGIL_CRASH_TRIALS=300 cargo test --release -p vigil-ledger --test crash -- --nocapture
set -euo pipefail
cd "$(dirname "$0")/../.."
VIGIL_BIN="${VIGIL_BIN:-$PWD/target/release/vigil}"
TRIALS="${VIGIL_CRASH_TRIALS:-200}"
tmp="$(mktemp -d)"
gen=""; app=""
cleanup() { [ -n "$gen" ] && kill "$gen" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# Demo key (openssl genpkey -algorithm ed25519), for this test only.
cat > "$tmp/k.pem" <<'KEY'
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEONavEfABrbWbwBnYaDdFCsuAuK0niOS5BbPIdXA6n4
-----END PRIVATE KEY-----
KEY
cat > "$tmp/pub.pem" <<'KEY'
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAVlihJsT73MVZHtULlz8IYmQ8qvwsZOPSO2HmerZ2krs=
-----END PUBLIC KEY-----
KEY

leaf() { { printf '\0'; printf '%s' "$1"; } | sha256sum | cut -d' ' -f1; }
line_of() { printf '{"i":%d,"t":%d}' "$1" "$2"; }

passed=0; failed=0; acked_total=0; lost=0
for t in $(seq 1 "$TRIALS"); do
  # A fresh log every 10 trials keeps open-time verification short.
  if [ $(( (t - 1) % 10 )) -eq 0 ]; then
    rm -f "$tmp"/l.db*
    "$VIGIL_BIN" log init --db "$tmp/l.db" --origin crash/cli --key "$tmp/k.pem" >/dev/null
  fi
  rm -f "$tmp/fifo"; mkfifo "$tmp/fifo"
  awk -v t="$t" 'BEGIN { for (i = 0; ; i++) printf "{\"i\":%d,\"t\":%d}\n", i, t }' > "$tmp/fifo" 2>/dev/null &
  gen=$!
  "$VIGIL_BIN" log append --db "$tmp/l.db" < "$tmp/fifo" > "$tmp/acked" 2>/dev/null &
  app=$!
  sleep "0.$(printf '%03d' $(( (RANDOM % 280) + 20 )))"
  kill -9 "$app" 2>/dev/null || true
  wait "$app" 2>/dev/null || true
  kill "$gen" 2>/dev/null || true; wait "$gen" 2>/dev/null || true; gen=""
  # Only complete lines were acknowledged.
  n=$(grep -c . "$tmp/acked" || true)
  acked_total=$((acked_total + n))
  ok=1
  if ! out=$("$VIGIL_BIN" log verify --db "$tmp/l.db" --pubkey "$tmp/pub.pem" --json); then
    echo "trial $t: verify failed: $out"; ok=0
  elif [ "$n" -gt 0 ]; then
    for k in 0 $((n - 1)); do
      idx=$(sed -n "$((k + 1))p" "$tmp/acked")
      want=$(leaf "$(line_of "$k" "$t")")
      got=$("$VIGIL_BIN" log prove --db "$tmp/l.db" --index "$idx" --json 2>&1 | sed -n 's/.*"leaf_hash":"\([0-9a-f]*\)".*/\1/p')
      if [ "$got" != "$want" ]; then
        echo "trial $t: acknowledged index $idx (line $k) lost or wrong: got '$got'"; ok=0; lost=$((lost + 1))
      fi
    done
  fi
  if [ $ok -eq 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "crash trials: $TRIALS, acknowledged: $acked_total, lost or wrong: $lost"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
