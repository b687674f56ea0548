"""Compare `vigil scan --json` with picklescan: on every corpus file, and on every global in
picklescan's own unsafe list (see run.sh)."""
import json, os, subprocess, sys

vigil, root = sys.argv[1], sys.argv[2]
rank = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
out = subprocess.run([vigil, "scan", "--json", root], capture_output=True, text=True)
files = {os.path.relpath(f["path"], root): f for f in json.loads(out.stdout)["files"]}
from picklescan.scanner import scan_file_path, SafetyLevel

passed = failed = 0
for rel, rep in sorted(files.items()):
    worst = max((rank[x["severity"]] for x in rep["findings"]), default=0)
    ok, why = True, ""
    if rel.startswith("malicious/") and worst < rank["MEDIUM"]:
        ok, why = False, "malicious sample not flagged"
    if rel.startswith("benign/") and worst >= rank["MEDIUM"]:
        ok, why = False, "benign sample flagged"
    try:
        res = scan_file_path(os.path.join(root, rel))
        dangerous = any(g.safety == SafetyLevel.Dangerous for g in res.globals)
    except Exception:  # picklescan cannot read it: nothing to compare
        dangerous = False
    if dangerous and worst < rank["HIGH"]:
        ok, why = False, "picklescan says dangerous, vigil below HIGH"
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {rel}: {why} (vigil worst={worst}, picklescan dangerous={dangerous})")
# Every global picklescan lists as unsafe must be HIGH or CRITICAL for vigil too.
import tempfile
from picklescan import scanner as ps

with tempfile.TemporaryDirectory() as tmp:
    names = []
    for mod, entries in ps._unsafe_globals.items():
        entries = [entries] if isinstance(entries, str) else list(entries)
        for name in entries:
            name = "anything" if name == "*" else name
            g = f"{mod}.{name}"
            names.append(g)
            body = b"\x80\x02c" + mod.encode() + b"\n" + name.encode() + b"\nX\x02\x00\x00\x00id\x85R."
            with open(os.path.join(tmp, g + ".pkl"), "wb") as f:
                f.write(body)
    out = subprocess.run([vigil, "scan", "--json", tmp], capture_output=True, text=True)
    for rep in json.loads(out.stdout)["files"]:
        worst = max((rank[x["severity"]] for x in rep["findings"]), default=0)
        if worst >= rank["HIGH"]:
            passed += 1
        else:
            failed += 1
            print(f"FAIL picklescan-unsafe {os.path.basename(rep['path'])}: vigil worst={worst}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
