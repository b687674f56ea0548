#!/usr/bin/env bash
# `vigil evidence pack` on the breast-cancer example device; its index.html opens in headless
# Chromium (Debian's, driven by Playwright) with no console error and no network request, and
# shows every section and the four architecture views. Prints `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")"
VIGIL_BIN="${VIGIL_BIN:-../../target/debug/vigil}"
PYTHON="${PYTHON:-../../.venv/bin/python}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
d=../../examples/devices/breast-cancer
set +e
"$VIGIL_BIN" evidence pack --bundle $d/bundle --policy $d/policy.toml --deployment $d/deploy.toml --out "$tmp/pack" >/dev/null
code=$?
set -e
if [ "$code" -gt 1 ]; then echo "0 passed, 1 failed (vigil evidence pack exited $code)"; exit 1; fi
for f in index.html README.md evidence.json threat-dragon.json sbom.cdx.json aibom.cdx.json; do
  [ -s "$tmp/pack/$f" ] || { echo "0 passed, 1 failed (no $f)"; exit 1; }
done
"$PYTHON" test_pack.py "$tmp/pack" "$CHROMIUM"
