#!/usr/bin/env bash
# Interop: `vigil assess` against onnxruntime, scikit-learn and ART 1.20 on the example devices.
# Every emitted adversarial row is checked with onnxruntime (it flips the model, it is inside
# the contract, it is inside the budget); the membership AUCs are recomputed with
# sklearn.metrics.roc_auc_score from --emit-scores; and ART's HopSkipJump and SquareAttack run
# on the same ONNX model through onnxruntime, same rows and budgets: Vigil's accuracy under
# attack must be at most 0.05 above ART's. Needs $VIGIL_BIN and $PYTHON (set by interop/run).
# ASSESS_INTEROP_ROWS (default 40) rows per device. Prints "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
: "${VIGIL_BIN:?set by interop/run}"
: "${PYTHON:=../../.venv/bin/python}"
exec "$PYTHON" compare.py
