// Vigil collector dashboard: checks an entry's inclusion proof (RFC 9162, section 2.1.3.2)
// in the browser with WebCrypto SHA-256, against the root of the device's newest accepted
// signed checkpoint shown on the page. The entry and the proof come from the collector's API;
// the root comes from the checkpoint note, not from the proof.
"use strict";

function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length !== 64 || !/^[0-9a-f]+$/.test(hex)) {
    throw new Error("not a 32-byte hex hash");
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function b64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function sha256(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const buf = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { buf.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// The size and root of the signed checkpoint note shown in pre#checkpoint.
function checkpoint() {
  const pre = document.getElementById("checkpoint");
  if (!pre) throw new Error("no checkpoint on this page");
  const lines = pre.textContent.split("\n");
  if (lines.length < 3 || !/^[0-9]+$/.test(lines[1])) throw new Error("malformed checkpoint");
  const root = b64ToBytes(lines[2]);
  if (root.length !== 32) throw new Error("malformed checkpoint root");
  return { size: Number(lines[1]), root };
}

// RFC 9162 2.1.3.2: the root that an inclusion proof gives for a leaf.
async function rootFromInclusion(index, size, leaf, path) {
  if (index >= size) throw new Error("index not below size");
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error("proof too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("proof too short");
  return r;
}

async function getJson(url) {
  const resp = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!resp.ok) throw new Error(url + ": HTTP " + resp.status);
  return resp.json();
}

async function verify(index) {
  const device = document.body.dataset.device;
  const cp = checkpoint();
  const base = "/api/devices/" + encodeURIComponent(device);
  const page = await getJson(base + "/entries?from=" + index + "&to=" + (index + 1));
  const row = (page.entries || []).find((e) => e.index === index);
  if (!row || typeof row.entry !== "string") throw new Error("entry " + index + " not found");
  const leaf = await sha256(Uint8Array.of(0), new TextEncoder().encode(row.entry));
  const proof = await getJson(base + "/proof?index=" + index + "&size=" + cp.size);
  if (proof.index !== index || proof.size !== cp.size || !Array.isArray(proof.proof)) {
    throw new Error("the proof is for another entry or size");
  }
  const root = await rootFromInclusion(index, cp.size, leaf, proof.proof.map(hexToBytes));
  return equal(root, cp.root);
}

function show(index, ok, why) {
  const out = document.querySelector('[data-verify-result="' + index + '"]');
  if (!out) return;
  out.dataset.status = ok ? "ok" : "failed";
  out.textContent = ok ? "verified" : "FAILED" + (why ? ": " + why : "");
  out.title = why || "";
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-verify]");
  if (!button) return;
  const index = Number(button.dataset.verify);
  button.disabled = true;
  verify(index)
    .then((ok) => show(index, ok, ok ? "" : "the proof does not give the checkpoint's root"))
    .catch((e) => show(index, false, String(e && e.message ? e.message : e)))
    .finally(() => { button.disabled = false; });
});
