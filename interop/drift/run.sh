#!/usr/bin/env bash
# Interop: vigil drift test --json against scipy (KS, CvM, chi-squared, Fisher) and Alibi
# Detect's MMD definition (NumPy), on random cases regenerated at every run (seed printed;
# DRIFT_INTEROP_SEED to replay, DRIFT_INTEROP_CASES for more). Needs $VIGIL_BIN and $PYTHON
# (set by interop/run). Prints "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
: "${VIGIL_BIN:?set by interop/run}"
: "${PYTHON:=../../.venv/bin/python}"
exec "$PYTHON" compare.py
