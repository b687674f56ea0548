#!/usr/bin/env bash
# Generates the attack and benign sets against each example device's committed model
# (bench/guard/attacks.py) and measures the guard on them: `vigil guard evaluate` for the
# evasion and out-of-contract sets (clean rows: data/validation.csv, never used to calibrate),
# and `vigil guard run` for the streams (first row with an extraction alarm; alarms on benign).
#   bench/guard/evaluate.sh            (from the repository root; VIGIL_BIN, PYTHON optional)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
py=${PYTHON:-$root/.venv/bin/python}
vigil=${VIGIL_BIN:-}
if [ -z "$vigil" ]; then
  cargo build -q -p vigil-cli
  vigil="${CARGO_TARGET_DIR:-$root/target}/debug/vigil"
fi
for d in breast-cancer ecg-beats; do
  dev=examples/devices/$d
  out=target/attacks/$d
  "$py" bench/guard/attacks.py "$dev" "$out" >/dev/null
  for a in evasion-noise evasion-boundary evasion-transfer evasion-transfer-fixed out-of-contract; do
    printf '%s %s ' "$d" "$a"
    "$vigil" guard evaluate --bundle "$dev/bundle" --policy "$dev/policy.toml" \
      --clean "$dev/data/validation.csv" --attack "$out/$a.csv" --json
  done
  for s in extraction-random extraction-jbda benign; do
    printf '%s %s ' "$d" "$s"
    "$vigil" guard run --bundle "$dev/bundle" --policy "$dev/policy.toml" --input "$out/$s.csv" \
      --client "$s" --json | "$py" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
first = next((r["row"] for r in rows if "extraction" in r["alarms"]), None)
alarms = sum(len(r["alarms"]) for r in rows)
abst = sum(r["verdict"] == "abstain" for r in rows)
print(json.dumps({"rows": len(rows), "first_extraction_alarm_row": first, "alarms": alarms, "abstained": abst}))'
  done
done
