#!/usr/bin/env bash
# Rebuilds the breast-cancer example device from nothing but scikit-learn's bundled data:
# trains and exports the model, calibrates the guard's detector thresholds on data/calibration.csv
# only (the Mahalanobis statistics also use data/training.csv, never data/validation.csv),
# then signs the bundle with both demo keys.
#   examples/devices/breast-cancer/build.sh        (from the repository root)
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
    --out "$here/data/manifests/$split.manifest.json" --label label --name "breast-cancer-$split" \
    --version 1 --source "examples/devices/breast-cancer/train.py (see its header)" \
    --licence "demo data; see examples/devices/breast-cancer/train.py" "$here/data/$split.csv")
  echo "$signed"
  # vigil.toml (written by train.py, which computes the roots itself) must name the root signed.
  root=$(printf '%s\n' "$signed" | sed -n 's/^merkle root: //p')
  grep -qx "manifest_root = \"$root\"" "$here/bundle/vigil.toml" \
    || { echo "bundle/vigil.toml does not name the $split manifest root $root" >&2; exit 1; }
done
"$vigil" bundle sign --key "$here/demo-keys/signing-key.pem" "$here/bundle"
"$vigil" bundle sign --key "$here/demo-keys/qa-key.pem" --signature "$here/bundle/model.qa.sig" "$here/bundle"
"$vigil" bundle verify --policy "$here/policy.toml" "$here/bundle"
