#!/usr/bin/env python3
"""Regenerates docs/threats.toml and docs/threats.md from ../shared/THREATS.md (the catalog the
project keeps), so that `vigil assess` and the docs read one machine-readable copy.

    python3 scripts/threats-to-toml.py [path/to/THREATS.md]
"""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
src = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "THREATS.md"
text = src.read_text()
rows = []
for line in text.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 8 and cells[0].startswith("T") and cells[0][1:].isdigit():
        rows.append(cells)
keys = ["id", "phase", "threat", "fda_name", "atlas", "owasp", "control", "evidence"]
out = ["# Threat catalog for ML-enabled medical devices (generated from THREATS.md by",
       "# scripts/threats-to-toml.py; edit the source, then regenerate).", ""]
for cells in rows:
    rec = dict(zip(keys, cells))
    out.append("[[threat]]")
    for k in keys:
        v = rec[k]
        if k in ("atlas", "owasp"):
            items = [x.strip() for x in v.split(",") if x.strip() not in ("", "—")]
            out.append(f"{k} = {json.dumps(items, ensure_ascii=False)}")
        else:
            out.append(f"{k} = {json.dumps(v, ensure_ascii=False)}")
    out.append(f"evidence_items = {json.dumps([e.strip() for e in cells[7].split(',')], ensure_ascii=False)}")
    out.append("")
(root / "docs" / "threats.toml").write_text("\n".join(out))
(root / "docs" / "threats.md").write_text(text)
print(f"{len(rows)} threats written to docs/threats.toml")
