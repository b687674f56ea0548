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
# Signed manifests of the data (digests and counts only), signed with the demo ML lead key;
# the bundle's vigil.toml names their roots ([data.<split>] manifest_root).
for split in training calibration validation; do
  signed=$("$vigil" data manifest --key "$here/demo-keys/signing-key.pem" \
    --out "$here/data/manifests/$split.manifest.json" --label label --name "ecg-beats-$split" \
    --version 1 --source "examples/devices/ecg-beats/train.py (see its header)" \
    --licence "demo data; see examples/devices/ecg-beats/train.py" "$here/data/$split.csv")
  echo "$signed"
  # vigil.toml (written by train.py, which computes the roots itself) must name the root signed.
  root=$(printf '%s\n' "$signed" | sed -n 's/^merkle root: //p')
  grep -qx "manifest_root = \"$root\"" "$here/bundle/vigil.toml" \
    || { echo "bundle/vigil.toml does not name the $split manifest root $root" >&2; exit 1; }
done
"$vigil" bundle sign --key "$here/demo-keys/signing-key.pem" "$here/bundle"
"$vigil" bundle sign --key "$here/demo-keys/qa-key.pem" --signature "$here/bundle/model.qa.sig" "$here/bundle"
"$vigil" bundle verify --policy "$here/policy.toml" "$here/bundle"
