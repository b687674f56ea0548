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
        best, cpu, res = float("inf"), float("inf"), None
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            res = fn()
            wall = time.perf_counter() - t
            if wall < best:
                best, cpu = wall, time.process_time() - c
        return best, cpu, res

    ks_s, ks_c, ks = best_of(lambda: [stats.ks_2samp(ref[i], cur[i]) for i in range(FEATURES)])
    cvm_s, cvm_c, cvm = best_of(lambda: [stats.cramervonmises_2samp(ref[i], cur[i]) for i in range(FEATURES)])
    mmd_s, mmd_c, (mmd_stat, mmd_p, mmd_sigma) = best_of(
        lambda: alibi_mmd_numpy(x, y, PERMS, np.random.default_rng(1)), repeat=1)

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
    print("| workload | peer | peer wall s | vigil wall s | wall ratio | peer CPU s | vigil CPU s | CPU ratio | agreement |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")

    def row(name, peer, pw, pc, key, agreement):
        vw, vc = vigil[f"{key}_seconds"], vigil.get(f"{key}_cpu", float("nan"))
        print(f"| {name} | {peer} | {pw:.3f} | {vw:.4f} | {pw / vw:.1f}x | {pc:.3f} | {vc:.4f} | "
              f"{pc / vc if vc else float('nan'):.1f}x | {agreement} |")

    row(f"KS, {FEATURES} features x {ROWS} rows (each side)", "scipy.stats.ks_2samp", ks_s, ks_c, "ks",
        f"max rel. error {max_rel(vigil['ks'], ks):.1e}")
    row(f"CvM, {FEATURES} features x {ROWS} rows (each side)", "scipy.stats.cramervonmises_2samp", cvm_s, cvm_c,
        "cvm", f"max rel. error {max_rel(vigil['cvm'], cvm):.1e}")
    row(f"KS + CvM together, {FEATURES} features x {ROWS} rows", "both scipy functions", ks_s + cvm_s,
        ks_c + cvm_c, "both", "as above")
    stat_rel = abs(vigil["mmd_statistic"] - mmd_stat) / abs(mmd_stat)
    row(f"MMD, {MMD_N} x {MMD_N} x {MMD_DIM}, {PERMS} permutations", "NumPy Alibi MMDDrift", mmd_s, mmd_c, "mmd",
        f"MMD^2 rel. error {stat_rel:.1e}; p {vigil['mmd_p_value']:.2f} vs {mmd_p:.2f} (own permutations)")
    print()
    print("Wall: best of 3 (MMD: one run), computation only, data in memory on both sides; vigil uses")
    print("every core (rayon), the peers one. CPU: process CPU time of the same runs (all threads).")
    print(f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")


if __name__ == "__main__":
    main()
