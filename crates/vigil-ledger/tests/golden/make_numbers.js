// Golden ECMAScript number serialisations for RFC 8785 (JCS) section 3.2.2.3.
// Run: node make_numbers.js > jcs-numbers.json
// Each vector is an IEEE-754 bit pattern (hex) and String(x) as this Node prints it; the
// first ones are RFC 8785 Appendix B, then seeded random bit patterns and random integers
// and decimals, so the test covers both exponent forms and the fixed-notation ranges.
const rfc = ["0000000000000000", "8000000000000000", "0000000000000001", "8000000000000001",
  "7fefffffffffffff", "ffefffffffffffff", "4340000000000000", "c340000000000000",
  "4430000000000000", "44b52d02c7e14af5", "44b52d02c7e14af6", "44b52d02c7e14af7",
  "444b1ae4d6e2ef4e", "444b1ae4d6e2ef4f", "444b1ae4d6e2ef50", "3eb0c6f7a0b5ed8c",
  "3eb0c6f7a0b5ed8d", "41b3de4355555553", "41b3de4355555554", "41b3de4355555555",
  "41b3de4355555556", "41b3de4355555557", "becbf647612f3696", "43143ff3c1cb0959"];
let seed = 0x9e3779b97f4a7c15n;
function next() { // xorshift64*
  seed ^= seed >> 12n; seed ^= (seed << 25n) & 0xffffffffffffffffn; seed ^= seed >> 27n;
  return (seed * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
}
const buf = new DataView(new ArrayBuffer(8));
function hexOf(x) { buf.setFloat64(0, x); return buf.getBigUint64(0).toString(16).padStart(16, "0"); }
const out = [];
for (const h of rfc) { buf.setBigUint64(0, BigInt("0x" + h)); out.push([h, String(buf.getFloat64(0))]); }
while (out.length < 2000) {
  const r = next();
  let x;
  switch (out.length % 4) {
    case 0: buf.setBigUint64(0, r); x = buf.getFloat64(0); break;
    case 1: x = Number(r % 10000000000000n) / 10 ** Number(r % 23n); break;
    case 2: x = Number(r >> 11n) * 2 ** (Number(r % 200n) - 100); break;
    default: x = Number(r % 100000n) * (r % 2n ? -1 : 1); break;
  }
  if (!Number.isFinite(x)) continue;
  out.push([hexOf(x), String(x)]);
}
process.stdout.write(JSON.stringify({ generator: "node " + process.version + " String(Number)", vectors: out }, null, 0) + "\n");
