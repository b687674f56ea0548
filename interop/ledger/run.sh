#!/usr/bin/env bash
# Proofs and checkpoints made by `vigil log` are verified by an independent Python verifier
# (verify.py: RFC 9162 from the RFC text, `cryptography` Ed25519, Trail of Bits' `rfc8785`
# for the canonical form), and altered ones are rejected. Prints `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")"
VIGIL_BIN="${VIGIL_BIN:-../../target/release/vigil}"
PYTHON="${PYTHON:-../../.venv/bin/python}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/k.pem" <<'KEY'
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEONavEfABrbWbwBnYaDdFCsuAuK0niOS5BbPIdXA6n4
-----END PRIVATE KEY-----
KEY
cat > "$tmp/pub.pem" <<'KEY'
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAVlihJsT73MVZHtULlz8IYmQ8qvwsZOPSO2HmerZ2krs=
-----END PUBLIC KEY-----
KEY
passed=0; failed=0
check() { # expect(0|1) description command...
  local want=$1 what=$2; shift 2
  if "$@" 2>"$tmp/err"; then got=0; else got=1; fi
  if [ "$got" = "$want" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what: $(cat "$tmp/err")"; fi
}
"$VIGIL_BIN" log init --db "$tmp/l.db" --origin interop.example/log --key "$tmp/k.pem" >/dev/null
# Events exercising canonicalisation: key order, numbers, escapes, unicode.
events=()
for i in $(seq 0 40); do
  events+=("{\"seq\": $i, \"b\": [1.0, 1e21, 0.000001, -0.0, 333333333.33333329], \"a\": \"caf\\u00e9 \\\"q\\\" \\/ \\t\", \"\\u20ac\": {\"z\": null, \"y\": true}, \"n\": -$i.5e-3}")
done
printf '%s\n' "${events[@]:0:13}" | "$VIGIL_BIN" log append --db "$tmp/l.db" >/dev/null
"$VIGIL_BIN" log checkpoint --db "$tmp/l.db" --key "$tmp/k.pem" > "$tmp/cp13"
printf '%s\n' "${events[@]:13}" | "$VIGIL_BIN" log append --db "$tmp/l.db" >/dev/null
"$VIGIL_BIN" log checkpoint --db "$tmp/l.db" --key "$tmp/k.pem" > "$tmp/cp41"
for size in 13 41; do
  for i in 0 1 5 12 $((size - 1)); do
    "$VIGIL_BIN" log prove --db "$tmp/l.db" --index "$i" --size "$size" --json > "$tmp/p.json"
    check 0 "inclusion $i/$size" "$PYTHON" verify.py inclusion "$tmp/p.json" "$tmp/cp$size" "$tmp/pub.pem" "${events[$i]}"
    # Altered proof: flip one hex digit of the first hash (if any) or of the leaf hash.
    sed 's/\("proof":\["\)\(.\)/\1f\2/; s/"leaf_hash":"0/"leaf_hash":"1/' "$tmp/p.json" \
      | sed 's/"proof":\["f\(.\)\(.\)/"proof":["\2\1/' > "$tmp/bad.json"
    if ! cmp -s "$tmp/p.json" "$tmp/bad.json"; then
      check 1 "altered inclusion $i/$size rejected" "$PYTHON" verify.py inclusion "$tmp/bad.json" "$tmp/cp$size" "$tmp/pub.pem" "${events[$i]}"
    fi
    check 1 "wrong event $i/$size rejected" "$PYTHON" verify.py inclusion "$tmp/p.json" "$tmp/cp$size" "$tmp/pub.pem" "{\"seq\": $i}"
  done
done
"$VIGIL_BIN" log consistency --db "$tmp/l.db" --old 13 --new 41 --json > "$tmp/c.json"
check 0 "consistency 13->41" "$PYTHON" verify.py consistency "$tmp/c.json" "$tmp/cp13" "$tmp/cp41" "$tmp/pub.pem"
check 1 "swapped checkpoints rejected" "$PYTHON" verify.py consistency "$tmp/c.json" "$tmp/cp41" "$tmp/cp13" "$tmp/pub.pem"
sed 's/\("proof":\["\)\(.\)\(.\)/\1\3\2/' "$tmp/c.json" > "$tmp/bad.json"
check 1 "altered consistency rejected" "$PYTHON" verify.py consistency "$tmp/bad.json" "$tmp/cp13" "$tmp/cp41" "$tmp/pub.pem"
sed 's/^\(— [^ ]* \)\(.\)\(.\)/\1\3\2/' "$tmp/cp41" > "$tmp/badcp"
check 1 "altered checkpoint signature rejected" "$PYTHON" verify.py consistency "$tmp/c.json" "$tmp/cp13" "$tmp/badcp" "$tmp/pub.pem"
# A witness cosignature (C2SP cosignature/v1) written by `vigil log cosign` verifies with the
# independent verifier; an altered one does not.
cat > "$tmp/w.pem" <<'KEY'
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIMAMU6RQJDq4ZUTKIC4/lENZaS6k9IxAuEHGn5aut/xa
-----END PRIVATE KEY-----
KEY
cat > "$tmp/w.pub.pem" <<'KEY'
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAKweBFgfXBllTNdcd935aXCJd4HKpmMQcGNLhx4TCnb0=
-----END PUBLIC KEY-----
KEY
"$VIGIL_BIN" log cosign --checkpoint "$tmp/cp41" --pubkey "$tmp/pub.pem" --key "$tmp/w.pem" --name witness.example/w1 > "$tmp/cosigned"
check 0 "cosignature/v1 verifies independently" "$PYTHON" verify.py cosignature "$tmp/cosigned" witness.example/w1 "$tmp/w.pub.pem"
# Change one base64 character inside the Ed25519 signature (past the key id and the time).
sed 's/^\(— witness[^ ]* .\{40\}\)[^A]/\1A/; t; s/^\(— witness[^ ]* .\{40\}\)A/\1B/' "$tmp/cosigned" > "$tmp/badcos"
check 0 "the altered copy differs" bash -c "! cmp -s '$tmp/cosigned' '$tmp/badcos'"
check 1 "altered cosignature rejected" "$PYTHON" verify.py cosignature "$tmp/badcos" witness.example/w1 "$tmp/w.pub.pem"
check 1 "cosignature under another name rejected" "$PYTHON" verify.py cosignature "$tmp/cosigned" witness.example/w2 "$tmp/w.pub.pem"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
