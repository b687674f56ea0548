"""Times `vigil bundle verify` and `model_signing verify key` on the same 1 GiB bundle.

Reports the median wall time of RUNS runs each (page cache warm for both), throughput, the
fraction of this machine's SHA-256 limit (openssl speed -evp sha256 on 16 KiB blocks, run on all
cores at once with -multi), peak resident memory of each process, and the speed ratio.
"""

import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

VIGIL = os.environ["VIGIL_BIN"]
RUNS = int(os.environ.get("RUNS", "5"))
FILE = 256 << 20


def timed(args):
    """Wall time and peak RSS (KiB) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    err = p.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{args[0]} failed: {err}")
    return dt, usage.ru_maxrss


def sha256_limit():
    cores = os.cpu_count() or 1
    out = subprocess.run(["openssl", "speed", "-multi", str(cores), "-evp", "sha256",
                          "-bytes", "16384", "-seconds", "2"],
                         capture_output=True, text=True).stdout
    # the +F line: +F:<n>:sha256:<rate for each block size in bytes/s>
    for line in out.splitlines():
        if line.startswith("+F:") and "sha256" in line:
            return float(line.split(":")[-1])
    m = re.search(r"sha256\s+([\d.]+)k", out)
    return float(m.group(1)) * 1000 if m else float("nan")


def main():
    with tempfile.TemporaryDirectory() as t:
        root = pathlib.Path(t)
        m = root / "model"
        m.mkdir()
        block = os.urandom(1 << 20)
        for i in range(4):
            with open(m / f"shard-{i}.bin", "wb") as f:
                for j in range(FILE >> 20):
                    f.write(bytes([i, j & 255]) + block[2:])
        del block
        (m / "config.json").write_text('{"architecture": "bench", "files": 4}')
        total = sum(p.stat().st_size for p in m.iterdir())
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                        "-out", root / "k.pem"], check=True)
        subprocess.run(["openssl", "ec", "-in", root / "k.pem", "-pubout", "-out", root / "k.pub"],
                       check=True, capture_output=True)
        subprocess.run(["model_signing", "sign", "key", "--private_key", root / "k.pem",
                        "--signature", m / "model.sig", m], check=True, capture_output=True)
        # Warm the page cache from a child process: Linux carries a parent's peak RSS into its
        # children's ru_maxrss, so this script must never hold the files in memory itself.
        subprocess.run(["cat", *map(str, m.iterdir())], stdout=subprocess.DEVNULL, check=True)
        tools = {
            "vigil bundle verify": [VIGIL, "bundle", "verify", "--key", str(root / "k.pub"), str(m)],
            "model_signing verify key": ["model_signing", "verify", "key", "--public_key",
                                         str(root / "k.pub"), "--signature", str(m / "model.sig"), str(m)],
        }
        results = {}
        for name, args in tools.items():
            timed(args)  # warm-up
            runs = [timed(args) for _ in range(RUNS)]
            results[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
        limit = sha256_limit()
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
              f"bundle {total / 2**30:.3f} GiB in 5 files; median of {RUNS} runs, page cache warm")
        print(f"SHA-256 limit (openssl speed -multi {os.cpu_count()} -evp sha256, 16 KiB): "
              f"{limit / 2**30:.2f} GiB/s")
        print()
        print("| tool | median time (s) | throughput (GiB/s) | % of SHA-256 limit | peak RSS (MiB) |")
        print("|---|---:|---:|---:|---:|")
        for name, (secs, rss) in results.items():
            rate = total / secs
            print(f"| {name} | {secs:.3f} | {rate / 2**30:.2f} | {100 * rate / limit:.0f}% | {rss / 1024:.0f} |")
        v = results["vigil bundle verify"][0]
        ms = results["model_signing verify key"][0]
        print()
        print(f"ratio: vigil is {ms / v:.2f}x faster than model_signing end to end "
              f"(target >= 2.5x); vigil at {100 * total / v / limit:.0f}% of the SHA-256 limit "
              f"(target >= 85%)")


if __name__ == "__main__":
    main()
