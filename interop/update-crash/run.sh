#!/usr/bin/env bash
# SIGKILL trials of `vigil update install` (issue 15): VIGIL_CRASH_TRIALS installs (default 100)
# killed at spread-out moments; after each, `current` must be one complete release that
# verifies, and the next install must complete. The test suite runs a short version (12).
set -euo pipefail
cd "$(dirname "$0")/../.."
export VIGIL_CRASH_TRIALS="${VIGIL_CRASH_TRIALS:-100}"
if cargo test --locked -q -p vigil-cli --test update sigkill -- --nocapture 2>&1 | tee /dev/stderr | grep -q "test result: ok"; then
  echo "1 passed, 0 failed ($VIGIL_CRASH_TRIALS SIGKILL trials)"
else
  echo "0 passed, 1 failed"
  exit 1
fi
