#!/usr/bin/env bash
# Rebuilds the ECG heartbeat example device from its own generator (train.py):
# trains and exports the model, calibrates the guard's detectors on data/calibration.csv only,
# then signs the bundle with both demo keys.
#   examples/devices/ecg-beats/build.sh            (from the repository root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
vigil=${VIGIL_BIN:-}
if [ -z "$vigil" ]; then
  cargo build --release -q -p vigil-cli --manifest-path "$root/Cargo.toml"
  vigil="${CARGO_TARGET_DIR:-$root/target}/release/vigil"
fi
"$py" "$here/train.py"
"$vigil" guard calibrate --bundle "$here/bundle" --clean "$here/data/calibration.csv" \
  --reference "$here/data/training.csv" --fpr 0.05
# Signed manifests of the data (digests and counts only), signed with the demo ML lead key.
for split in training calibration validation; do
  "$vigil" data manifest --key "$here/demo-keys/signing-key.pem" \
    --out "$here/data/manifests/$split.manifest.json" --label label --name "ecg-beats-$split" \
    --version 1 --source "examples/devices/ecg-beats/train.py (see its header)" \
    --licence "demo data; see examples/devices/ecg-beats/train.py" "$here/data/$split.csv"
done
"$vigil" bundle sign --key "$here/demo-keys/signing-key.pem" "$here/bundle"
"$vigil" bundle sign --key "$here/demo-keys/qa-key.pem" --signature "$here/bundle/model.qa.sig" "$here/bundle"
"$vigil" bundle verify --policy "$here/policy.toml" "$here/bundle"
