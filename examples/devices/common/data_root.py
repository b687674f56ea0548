"""The RFC 9162 Merkle root `vigil data manifest` signs for a CSV file (docs/data.md, "Sample
encoding"), recomputed here so train.py can name it in vigil.toml before the manifests are
signed; build.sh then checks that the signed manifests have the same roots.

Covers the CSV files the examples write: records are lines (no quoted line breaks); a byte-order
mark, the header and empty lines are not samples; one `\\r` before a `\\n` is not part of a record.
"""
import hashlib


def _sha256(b):
    return hashlib.sha256(b).digest()


def csv_root(path):
    data = open(path, "rb").read().removeprefix(b"\xef\xbb\xbf")
    if b'"' in data:
        raise ValueError(f"{path}: quoted fields; use vigil data manifest for the root")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    level = [_sha256(b"\x00" + _sha256(line.removesuffix(b"\r")))
             for line in lines[1:] if line.removesuffix(b"\r")]
    if not level:
        return _sha256(b"").hex()
    while len(level) > 1:
        # By levels: pairing left to right and carrying an odd last node up is RFC 9162's tree.
        nxt = [_sha256(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()
