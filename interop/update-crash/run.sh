#!/usr/bin/env bash
# SIGKILL trials of `vigil update install` (issue 15): VIGIL_CRASH_TRIALS installs (default 100)
# killed at spread-out moments; after each, `current` must be one complete release that
# verifies, and the next install must complete. The test suite runs a short version (12).
set -euo pipefail
cd "$(dirname "$0")/../.."
export VIGIL_CRASH_TRIALS="${VIGIL_CRASH_TRIALS:-100}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if cargo test --locked -q -p vigil-cli --test update sigkill -- --nocapture >"$log" 2>&1 \
   && grep -q "test result: ok" "$log"; then
  grep -E "after SIGKILL" "$log" || true
  echo "1 passed, 0 failed ($VIGIL_CRASH_TRIALS SIGKILL trials)"
else
  cat "$log"
  echo "0 passed, 1 failed"
  exit 1
fi
