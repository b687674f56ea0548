#!/usr/bin/env python3
"""Regenerate the golden vectors in this directory.

merkle-probes.json: every inclusion and consistency probe of transparency-dev/merkle's
testdata/ (generated there by cmd/proofgen; RFC 6962 = RFC 9162 hashing), copied verbatim.

    python3 make_golden.py merkle /path/to/transparency-dev/merkle.git 417fb0c314750d94e53942e9f92e79b6d35915db

jcs-numbers.json is made by make_numbers.js (Node's Number.prototype.toString is the
ECMAScript reference RFC 8785 defers to): node make_numbers.js > jcs-numbers.json
"""
import json
import subprocess
import sys


def git(repo, *args):
    return subprocess.run(["git", "--git-dir", repo, *args], check=True,
                          capture_output=True).stdout


def merkle(repo, commit):
    names = git(repo, "ls-tree", "-r", "--name-only", commit, "testdata").decode().split("\n")
    out = {"source": "https://github.com/transparency-dev/merkle",
           "commit": commit, "inclusion": [], "consistency": []}
    for name in sorted(n for n in names if n.endswith(".json")):
        kind = name.split("/")[1]
        if kind not in ("inclusion", "consistency"):
            continue
        probe = json.loads(git(repo, "show", f"{commit}:{name}"))
        probe["path"] = name
        out[kind].append(probe)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if sys.argv[1] == "merkle":
        merkle(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
