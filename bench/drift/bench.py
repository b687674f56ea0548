"""bench/drift: vigil-drift against scipy and a NumPy implementation of Alibi Detect's MMD.

Run through bench/drift/run. Inputs are generated here at run time (seeded), never committed.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
from scipy import stats

FEATURES = int(os.environ.get("DRIFT_BENCH_FEATURES", 30))
ROWS = int(os.environ.get("DRIFT_BENCH_ROWS", 100_000))
MMD_N = int(os.environ.get("DRIFT_BENCH_MMD_N", 1000))
MMD_DIM = int(os.environ.get("DRIFT_BENCH_MMD_DIM", 30))
PERMS = int(os.environ.get("DRIFT_BENCH_PERMUTATIONS", 100))


def alibi_mmd_numpy(x_ref, x, n_permutations, rng):
    """Alibi Detect's MMDDrift.score (PyTorch backend) written in NumPy: GaussianRBF with the
    median-heuristic sigma from x_ref, full kernel matrix, zeroed diagonal, unbiased MMD^2, and
    n_permutations row/column permutations of the kernel matrix."""
    def sqdist(a, b):
        a2 = (a**2).sum(-1)[:, None]
        b2 = (b**2).sum(-1)[None, :]
        return np.maximum(a2 + b2 - 2 * a @ b.T, 1e-30)

    d_ref = sqdist(x_ref, x_ref)
    n = x_ref.shape[0]
    n_median = n + (d_ref.size - n) // 2 - 1
    sigma = np.sqrt(0.5 * np.sort(d_ref.flatten())[n_median])
    z = np.concatenate([x_ref, x])
    k = np.exp(-sqdist(z, z) / (2 * sigma**2))
    k = k - np.diag(np.diag(k))
    m = x.shape[0]

    def mmd2(kernel):
        nn = kernel.shape[0] - m
        kxx, kyy, kxy = kernel[:-m, :-m], kernel[-m:, -m:], kernel[-m:, :-m]
        return kxx.sum() / (nn * (nn - 1)) + kyy.sum() / (m * (m - 1)) - 2.0 * kxy.mean()

    stat = mmd2(k)
    perms = []
    for _ in range(n_permutations):
        idx = rng.permutation(k.shape[0])
        perms.append(mmd2(k[idx][:, idx]))
    p = float(np.mean(stat <= np.array(perms)))
    return stat, p, sigma


def main():
    vigil_example = sys.argv[1]
    rng = np.random.default_rng(2026)
    ref = rng.normal(size=(FEATURES, ROWS))
    cur = rng.normal(size=(FEATURES, ROWS))
    cur[: FEATURES // 3] += 0.01  # a few features drift slightly
    cur[FEATURES // 3 : FEATURES // 2] *= 1.02
    x = rng.normal(size=(MMD_N, MMD_DIM))
    y = rng.normal(0.05, size=(MMD_N, MMD_DIM))

    with tempfile.TemporaryDirectory() as tmp:
        ref.astype("<f8").tofile(os.path.join(tmp, "ref.f64"))
        cur.astype("<f8").tofile(os.path.join(tmp, "cur.f64"))
        x.astype("<f8").tofile(os.path.join(tmp, "mmd_x.f64"))
        y.astype("<f8").tofile(os.path.join(tmp, "mmd_y.f64"))
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump({"features": FEATURES, "rows": ROWS, "mmd_n": MMD_N, "mmd_dim": MMD_DIM,
                       "permutations": PERMS}, f)
        vigil = json.loads(subprocess.check_output([vigil_example, tmp]))

    def best_of(fn, repeat=3):
        best, res = float("inf"), None
        for _ in range(repeat):
            t = time.perf_counter()
            res = fn()
            best = min(best, time.perf_counter() - t)
        return best, res

    ks_s, ks = best_of(lambda: [stats.ks_2samp(ref[i], cur[i]) for i in range(FEATURES)])
    cvm_s, cvm = best_of(lambda: [stats.cramervonmises_2samp(ref[i], cur[i]) for i in range(FEATURES)])
    t = time.perf_counter()
    mmd_stat, mmd_p, mmd_sigma = alibi_mmd_numpy(x, y, PERMS, np.random.default_rng(1))
    mmd_s = time.perf_counter() - t

    def max_rel(pairs, res):
        worst = 0.0
        for (s, p), r in zip(pairs, res):
            for a, b in ((s, r.statistic), (p, r.pvalue)):
                if a != b:
                    worst = max(worst, abs(a - b) / abs(b) if b else float("inf"))
        return worst

    print(f"# bench/drift  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
          f"Python {platform.python_version()}, NumPy {np.__version__}, scipy {scipy.__version__}")
    print()
    print("| workload | peer | peer s | vigil s | ratio | agreement |")
    print("|---|---|---:|---:|---:|---|")
    print(f"| KS, {FEATURES} features x {ROWS} rows (each side) | scipy.stats.ks_2samp | {ks_s:.3f} | "
          f"{vigil['ks_seconds']:.4f} | {ks_s / vigil['ks_seconds']:.1f}x | max rel. error {max_rel(vigil['ks'], ks):.1e} |")
    print(f"| CvM, {FEATURES} features x {ROWS} rows (each side) | scipy.stats.cramervonmises_2samp | {cvm_s:.3f} | "
          f"{vigil['cvm_seconds']:.4f} | {cvm_s / vigil['cvm_seconds']:.1f}x | max rel. error {max_rel(vigil['cvm'], cvm):.1e} |")
    both = vigil["both_seconds"]
    print(f"| KS + CvM together, {FEATURES} features x {ROWS} rows | both scipy functions | {ks_s + cvm_s:.3f} | "
          f"{both:.4f} | {(ks_s + cvm_s) / both:.1f}x | as above |")
    stat_rel = abs(vigil["mmd_statistic"] - mmd_stat) / abs(mmd_stat)
    print(f"| MMD, {MMD_N} x {MMD_N} x {MMD_DIM}, {PERMS} permutations | NumPy Alibi MMDDrift | {mmd_s:.3f} | "
          f"{vigil['mmd_seconds']:.4f} | {mmd_s / vigil['mmd_seconds']:.1f}x | MMD^2 rel. error {stat_rel:.1e}; "
          f"p {vigil['mmd_p_value']:.2f} vs {mmd_p:.2f} (different permutations) |")
    print()
    print("Times are the best of 3 (MMD: one run) of the computation only, data in memory on both sides.")


if __name__ == "__main__":
    main()
