#!/usr/bin/env bash
# Reference agreement with picklescan (the peer named in issue 4) on the committed corpus:
# every file picklescan 1.x flags as dangerous, vigil flags at HIGH or above; every malicious
# sample is flagged by vigil at MEDIUM or above and no benign sample is; every global in
# picklescan's unsafe list is HIGH or CRITICAL for vigil. Prints `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${VIGIL_BIN:=target/release/vigil}" "${PYTHON:=.venv/bin/python}"
"$PYTHON" interop/scan/agree.py "$VIGIL_BIN" crates/vigil-scan/tests/data
