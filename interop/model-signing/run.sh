#!/usr/bin/env bash
# Interop with OpenSSF model signing (model_signing 1.1.1), both ways. Needs $VIGIL_BIN and
# $PYTHON (interop/run sets them). VIGIL_INTEROP_BIG=0 skips the 1 GiB file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON:-python3}" "$here/test_interop.py"
