#!/usr/bin/env bash
# `vigil evidence vulns --out` writes a CycloneDX 1.6 VEX document, `vigil evidence sbom` an SBOM
# and `vigil evidence aibom` an AIBOM: all validated strictly with
# cyclonedx-python-lib's JSON validator (the reference implementation's schema, offline), on the
# evidence crate's OSV fixtures with and without triage. Prints `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")"
VIGIL_BIN="${VIGIL_BIN:-../../target/debug/vigil}"
PYTHON="${PYTHON:-../../.venv/bin/python}"
data=../../crates/vigil-evidence/tests/data
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
check() { # name, command...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL: $name"; fail=$((fail + 1)); fi
}
validate() {
  "$PYTHON" - "$1" <<'PY'
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if errors is not None:
    print(errors)
    sys.exit(1)
PY
}
set +e
"$VIGIL_BIN" evidence vulns --sbom "$data/sbom.cdx.json" --osv "$data/osv" --out "$tmp/untriaged.cdx.json" >/dev/null
code=$?
"$VIGIL_BIN" evidence vulns --sbom "$data/sbom.cdx.json" --osv "$data/osv" --vex "$data/triage.toml" --out "$tmp/triaged.cdx.json" --json > "$tmp/report.json"
set -e
check "untriaged matches exit 1" test "$code" = 1
check "untriaged VEX is valid CycloneDX 1.6" validate "$tmp/untriaged.cdx.json"
check "triaged VEX is valid CycloneDX 1.6" validate "$tmp/triaged.cdx.json"
check "the triaged VEX carries the analysis" grep -q '"state": "not_affected"' "$tmp/triaged.cdx.json"
check "the justification reaches the VEX" grep -q '"justification": "code_not_reachable"' "$tmp/triaged.cdx.json"
"$VIGIL_BIN" evidence sbom --deployment ../../examples/devices/breast-cancer/deploy.toml --out "$tmp/sbom.cdx.json"
check "the SBOM of vigil is valid CycloneDX 1.6" validate "$tmp/sbom.cdx.json"
check "the SBOM lists tough with its Cargo.lock checksum" grep -q '"purl": "pkg:cargo/tough@' "$tmp/sbom.cdx.json"
for d in breast-cancer ecg-beats; do
  dev=../../examples/devices/$d
  "$VIGIL_BIN" evidence aibom --bundle "$dev/bundle" --policy "$dev/policy.toml" --out "$tmp/aibom-$d.cdx.json"
  check "the AIBOM of $d is valid CycloneDX 1.6" validate "$tmp/aibom-$d.cdx.json"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
