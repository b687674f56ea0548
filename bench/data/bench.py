"""bench/data: `vigil data manifest` and `vigil data screen` against Python references.

Run through bench/data/run. Each side is timed as a whole process (best of DATA_BENCH_REPEAT).
  manifest: a CSV of DATA_BENCH_ROWS rows (default 10^6, ~100 MB): vigil vs this file as a peer
            process (`--peer-manifest`: hashlib.sha256 per record, RFC 9162 root) vs `sha256sum`.
  screen:   DATA_BENCH_SCREEN_ROWS rows x 30 features with given probabilities: vigil vs
            `--peer-screen` (pandas-free numpy.loadtxt of labels and probabilities, then
            cleanlab.filter.find_label_issues ranked by self-confidence).
  DATA_BENCH_SCREEN_BIN: the `vigil` binary for the screen row (with DATA_BENCH_EXAMPLE=1, which
            builds no CLI, the screen row is run only when it is given).
"""
import hashlib
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROWS = int(os.environ.get("DATA_BENCH_ROWS", 1_000_000))
SCREEN_ROWS = int(os.environ.get("DATA_BENCH_SCREEN_ROWS", 100_000))
REPEAT = int(os.environ.get("DATA_BENCH_REPEAT", 3))


def mth(h):
    if len(h) == 0:
        return hashlib.sha256(b"").digest()
    while len(h) > 1:
        # RFC 9162 by levels: pairing left to right is the same tree as the recursive split.
        nxt = [hashlib.sha256(b"\x01" + h[i] + h[i + 1]).digest() for i in range(0, len(h) - 1, 2)]
        if len(h) % 2:
            nxt.append(h[-1])
        h = nxt
    return h[0]


def peer_manifest(path):
    data = open(path, "rb").read().removeprefix(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    leaves = []
    for line in lines[1:]:
        line = line.removesuffix(b"\r")
        if line:
            leaves.append(hashlib.sha256(b"\x00" + hashlib.sha256(line).digest()).digest())
    print(mth(leaves).hex())


def peer_screen(data, probs):
    from cleanlab.filter import find_label_issues
    labels = np.loadtxt(data, delimiter=",", skiprows=1, usecols=[30], dtype=np.int64)
    p = np.loadtxt(probs, delimiter=",", skiprows=1)
    print(len(find_label_issues(labels, p, return_indices_ranked_by="self_confidence")))


def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def best(cmd):
    """Best wall time of REPEAT runs, and the least CPU time (user + system) of a run: on a
    loaded machine wall time measures the neighbours too, CPU time much less so."""
    times = []
    cpus = []
    out = None
    for _ in range(REPEAT):
        c = cpu()
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        cpus.append(cpu() - c)
        if out.returncode not in (0, 1):
            raise SystemExit(f"{cmd}: exit {out.returncode}: {out.stderr}")
    best.cpu = min(cpus)
    return min(times), out.stdout


def main():
    exe = sys.argv[1]
    example = "--example" in sys.argv
    rng = np.random.default_rng(2026)
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "big.csv")
        x = rng.normal(size=(ROWS, 8))
        with open(csv, "w") as f:
            f.write(",".join(f"f{j}" for j in range(8)) + ",label\n")
            for i in range(ROWS):
                f.write(",".join("%.6f" % v for v in x[i]) + f",{i % 2}\n")
        size = os.path.getsize(csv)
        key = os.path.join(tmp, "k")
        if example:
            vigil_cmd = [exe, csv, os.path.join(tmp, "m.json")]
        else:
            subprocess.run([exe, "key", "generate", "--out", key], check=True, capture_output=True)
            vigil_cmd = [exe, "data", "manifest", "--key", key + ".pem", "--out",
                         os.path.join(tmp, "m.json"), "--json", csv]
        tv, out_v = best(vigil_cmd)
        cv = best.cpu
        tp, out_p = best([sys.executable, __file__, "--peer-manifest", csv])
        cp = best.cpu
        ts, _ = best(["sha256sum", csv])
        cs = best.cpu
        root_p = out_p.strip()
        agree = root_p in out_v
        print(f"# bench/data  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
              f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}")
        print()
        print("Wall seconds (best of %d), CPU seconds (user + system) in brackets." % REPEAT)
        print()
        print("| workload | vigil s | Python reference s | sha256sum s | vs Python | vs sha256sum | root agrees |")
        print("|---|---:|---:|---:|---:|---:|---|")
        print(f"| manifest, {ROWS} rows ({size / 1e6:.0f} MB) | {tv:.3f} ({cv:.2f}) | {tp:.3f} ({cp:.2f}) | "
              f"{ts:.3f} ({cs:.2f}) | **{tp / tv:.1f}x** | {tv / ts:.2f}x of sha256sum | {agree} |")
        screen_exe = os.environ.get("DATA_BENCH_SCREEN_BIN", "" if example else exe)
        if not screen_exe:
            return
        n = SCREEN_ROWS
        xs = rng.normal(size=(n, 30))
        y = (xs[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
        flip = rng.choice(n, size=n // 20, replace=False)
        y[flip] = 1 - y[flip]
        z = 1 / (1 + np.exp(-2 * xs[:, 0]))
        data = os.path.join(tmp, "screen.csv")
        probs = os.path.join(tmp, "probs.csv")
        np.savetxt(data, np.column_stack([xs, y]), delimiter=",", fmt="%.6f",
                   header=",".join([f"f{j}" for j in range(30)] + ["label"]), comments="")
        with open(data) as f:
            text = f.read()
        with open(data, "w") as f:  # integer labels, as written by most tools
            f.write("\n".join(l[: l.rfind(",")] + "," + str(int(float(l[l.rfind(",") + 1:])))
                              if i else l for i, l in enumerate(text.splitlines())) + "\n")
        np.savetxt(probs, np.column_stack([1 - z, z]), delimiter=",", fmt="%.17g",
                   header="0,1", comments="")
        tv, out_v = best([screen_exe, "data", "screen", "--data", data, "--label", "label",
                          "--pred-probs", probs, "--no-outliers", "--json"])
        cv = best.cpu
        tc, out_c = best([sys.executable, __file__, "--peer-screen", data, probs])
        cc = best.cpu
        import json
        nv = len(json.loads(out_v)["label_issues"])
        print(f"| screen, {n} rows x 30 features, given probabilities | {tv:.3f} ({cv:.2f}) | "
              f"{tc:.3f} ({cc:.2f}) (cleanlab) | | "
              f"**{tc / tv:.1f}x** | | issues {nv} vs {out_c.strip()} |")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--peer-manifest":
        peer_manifest(sys.argv[2])
    elif len(sys.argv) > 3 and sys.argv[1] == "--peer-screen":
        peer_screen(sys.argv[2], sys.argv[3])
    else:
        main()
