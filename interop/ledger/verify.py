#!/usr/bin/env python3
"""Independent verifier for `vigil log` output (RFC 9162 proofs, C2SP signed checkpoints,
RFC 8785 leaf hashes), written from the RFCs without vigil's code. Uses `cryptography` for
Ed25519 and Trail of Bits' `rfc8785` for canonical JSON.

    verify.py inclusion PROOF.json CHECKPOINT PUB.pem EVENT_LINE
    verify.py consistency PROOF.json OLD_CHECKPOINT NEW_CHECKPOINT PUB.pem
    verify.py cosignature CHECKPOINT WITNESS_NAME WITNESS_PUB.pem
      (a C2SP tlog-cosignature `cosignature/v1` line by the witness, from the C2SP text:
       key id SHA-256(name || "\n" || 0x04 || key)[:4], then u64 big-endian time and an
       Ed25519 signature of "cosignature/v1\ntime <t>\n" || checkpoint body)
Exit 0 if it verifies, 1 if not (reason on stderr).
"""
import base64
import hashlib
import json
import sys

import rfc8785
from cryptography.hazmat.primitives.serialization import load_pem_public_key, Encoding, PublicFormat


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def open_checkpoint(path, pub_path):
    msg = open(path, "rb").read().decode("utf-8")
    text, _, sigs = msg.rpartition("\n\n")
    text += "\n"
    origin, size, root = text.split("\n")[:3]
    pub = load_pem_public_key(open(pub_path, "rb").read())
    raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_hash = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4]
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            fail("bad signature line")
        name, b64 = line[2:].split(" ")
        sig = base64.b64decode(b64, validate=True)
        if name == origin and sig[:4] == key_hash:
            pub.verify(sig[4:], text.encode())  # raises on a bad signature
            return int(size), base64.b64decode(root, validate=True)
    fail("no signature by the log key")


def verify_cosignature(path, name, pub_path):
    msg = open(path, "rb").read().decode("utf-8")
    text, _, sigs = msg.rpartition("\n\n")
    text += "\n"
    pub = load_pem_public_key(open(pub_path, "rb").read())
    raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + raw).digest()[:4]
    for line in sigs.splitlines():
        signer, b64 = line[2:].split(" ")
        sig = base64.b64decode(b64, validate=True)
        if signer == name and sig[:4] == key_id:
            if len(sig) != 4 + 8 + 64:
                fail("cosignature is not 8 + 64 bytes")
            t = int.from_bytes(sig[4:12], "big")
            if t >= 2**63:
                fail("cosignature time exceeds 2^63-1")
            signed = f"cosignature/v1\ntime {t}\n".encode() + text.encode()
            pub.verify(sig[12:], signed)  # raises on a bad signature
            return
    fail("no cosignature/v1 by the witness")


def verify_inclusion(leaf, index, size, proof, root):
    # RFC 9162 section 2.1.3.2
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, proof, first_hash, second_hash):
    # RFC 9162 section 2.1.4.2
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0 or first > second or not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def main():
    kind = sys.argv[1]
    if kind == "inclusion":
        proof_path, cp, pub, event = sys.argv[2:6]
        p = json.load(open(proof_path))
        size, root = open_checkpoint(cp, pub)
        leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(json.loads(event))).digest()
        if leaf.hex() != p["leaf_hash"]:
            fail(f"leaf hash {leaf.hex()} != proof {p['leaf_hash']}")
        if (p["size"], p["root"]) != (size, root.hex()):
            fail("proof is not for the checkpoint")
        ok = verify_inclusion(leaf, p["index"], p["size"], [bytes.fromhex(h) for h in p["proof"]], root)
    elif kind == "consistency":
        proof_path, old_cp, new_cp, pub = sys.argv[2:6]
        p = json.load(open(proof_path))
        m, r1 = open_checkpoint(old_cp, pub)
        n, r2 = open_checkpoint(new_cp, pub)
        if (p["old"], p["new"], p["old_root"], p["new_root"]) != (m, n, r1.hex(), r2.hex()):
            fail("proof is not for the checkpoints")
        ok = verify_consistency(m, n, [bytes.fromhex(h) for h in p["proof"]], r1, r2)
    elif kind == "cosignature":
        cp, name, pub = sys.argv[2:5]
        verify_cosignature(cp, name, pub)
        return
    else:
        fail(__doc__)
    if not ok:
        fail("proof does not verify")


if __name__ == "__main__":
    main()
