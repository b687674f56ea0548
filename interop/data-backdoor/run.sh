#!/usr/bin/env bash
# Interop: `vigil data screen --model M.onnx --representation hidden --poison-fraction EPS`
# against reference spectral-signature screens (Tran et al.'s, in numpy; the Adversarial
# Robustness Toolbox's variant) on the same representation: data sets with planted triggers
# (2 to 5 classes, 1% to 10% of rows, three trigger strengths, and a set whose widest clean
# direction is not the trigger's), a ReLU network trained on them with scikit-learn and written
# as ONNX (also taking its input as an image [N, 1, 3, 4], in double, and in batches of one).
# Vigil's recall of the planted rows must be at least each reference's. Fixed seed by default
# (DATA_INTEROP_SEED=N to replay another, =random for a new one). Needs $VIGIL_BIN and
# $PYTHON (set by interop/run). Prints "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
: "${VIGIL_BIN:?set by interop/run}"
: "${PYTHON:=../../.venv/bin/python}"
exec "$PYTHON" backdoor.py
