#!/usr/bin/env bash
# Vigil's updater against python-tuf 7 (an independent TUF implementation), both ways:
# repositories written by python-tuf (honest, delegated, and each attack of the TUF
# specification) installed by `vigil update install` from a directory and over HTTP, and a
# Vigil-published repository read by python-tuf's ngclient. Prints `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")"
VIGIL_BIN="${VIGIL_BIN:-../../target/release/vigil}"
PYTHON="${PYTHON:-../../.venv/bin/python}"
"$PYTHON" interop.py "$VIGIL_BIN"
