#!/usr/bin/env bash
# Interop: `vigil data screen --json` against cleanlab 2.9's find_label_issues (defaults,
# ranked by self-confidence) on generated noisy data sets (label flips from 2% to 20%),
# generated from a fixed seed (DATA_INTEROP_SEED=N to replay another, =random for a new one). With the same
# out-of-fold probabilities the issue lists must be identical, in order; without them Vigil's
# own cross-validated logistic regression must reach an F1 within 0.05 of cleanlab fed
# scikit-learn's. Needs $VIGIL_BIN and $PYTHON (set by interop/run). Prints "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
: "${VIGIL_BIN:?set by interop/run}"
: "${PYTHON:=../../.venv/bin/python}"
exec "$PYTHON" compare.py
