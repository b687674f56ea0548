#!/usr/bin/env python3
"""Generate the golden vectors of vigil-drift's tests from the reference implementations.

Run from the repository root with the project's venv (scripts/python-env) plus the pinned
generator requirements (kept out of CI, which only reads the committed JSON):

    .venv/bin/pip install -r crates/vigil-drift/tests/golden/requirements.txt
    .venv/bin/python crates/vigil-drift/tests/golden/make_golden.py

Writes crates/vigil-drift/tests/golden/{stats,online}.json. References: scipy (ks_2samp,
cramervonmises_2samp, chi2_contingency, fisher_exact, wasserstein_distance,
false_discovery_control, spatial.distance.jensenshannon), River (drift.ADWIN,
drift.PageHinkley), and Alibi Detect's MMD definition (sigma_median, GaussianRBF,
mmd2_from_kernel_matrix) written out in NumPy float64 below, since Alibi itself needs
PyTorch or TensorFlow. Versions are recorded in the files.
"""
import json
import os

import numpy as np
import river
import scipy
from river import drift
from scipy import stats
from scipy.spatial.distance import jensenshannon

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261123)


def fnum(x):
    x = float(x)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


_SAMPLES = []


def samples():
    """Named two-sample cases: tiny and huge, ties, heavy tails, extreme shifts (drawn once)."""
    if _SAMPLES:
        return _SAMPLES
    c = _SAMPLES
    c.append(("one_each", [0.5], [1.5]))
    c.append(("one_vs_five", [0.0], [1.0, 2.0, -1.0, 3.0, 0.5]))
    c.append(("three_seven", list(rng.normal(size=3)), list(rng.normal(0.5, size=7))))
    c.append(("equal_10", list(rng.normal(size=10)), list(rng.normal(size=10))))
    c.append(("ties_small", list(rng.integers(0, 4, 15).astype(float)), list(rng.integers(0, 5, 18).astype(float))))
    c.append(("equal_20_shift", list(rng.normal(size=20)), list(rng.normal(1.0, size=20))))
    c.append(("n21_30", list(rng.normal(size=21)), list(rng.normal(0.3, size=30))))
    c.append(("ties_100_250", list(np.round(rng.normal(size=100), 1)), list(np.round(rng.normal(0.2, size=250), 1))))
    c.append(("cauchy_300_200", list(rng.standard_cauchy(300)), list(rng.standard_cauchy(200) * 2)))
    c.append(("shift_500_500", list(rng.normal(size=500)), list(rng.normal(0.15, size=500))))
    c.append(("extreme_400_400", list(rng.normal(size=400)), list(rng.normal(50, size=400))))
    c.append(("coprime_997_1009", list(np.round(rng.normal(size=997), 3)), list(np.round(rng.normal(0.1, size=1009), 3))))
    c.append(("pareto_2000_1500", list(np.round(rng.pareto(1.5, 2000), 4)), list(np.round(rng.pareto(1.3, 1500), 4))))
    c.append(("asymp_12000_150", list(np.round(rng.normal(size=12000) * 100)), list(np.round(rng.normal(0.3, size=150) * 100))))
    c.append(("asymp_11000_10500", list(np.round(rng.normal(size=11000) * 100)), list(np.round(rng.normal(0.05, size=10500) * 100))))
    c.append(("asymp_extreme_11000_11000", list(np.round(rng.normal(size=11000) * 10)), list(np.round(rng.normal(4, size=11000) * 10))))
    c.append(("asymp_mid_10001_10001", list(np.round(rng.normal(size=10001) * 100)), list(np.round(rng.normal(0.2, size=10001) * 100))))
    return c


def ks_cases():
    out = []
    for name, a, b in samples():
        for method in ["auto", "exact", "asymp"]:
            if method == "exact" and max(len(a), len(b)) > 2500:
                continue
            r = stats.ks_2samp(a, b, method=method)
            out.append({"name": name, "method": method, "statistic": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    return out


def cvm_cases():
    out = []
    for name, a, b in samples():
        if min(len(a), len(b)) < 2:
            continue
        r = stats.cramervonmises_2samp(a, b)
        out.append({"name": name, "statistic": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    return out


def chi2_cases():
    tables = {
        "yates_2x2": [[12, 5], [7, 16]],
        "yates_small_diff": [[10, 10], [10, 11]],
        "three_cats": [[10, 20, 30], [15, 25, 20]],
        "absent_on_one_side": [[40, 0, 60, 5], [35, 12, 50, 0]],
        "many_cats": [list(rng.integers(1, 200, 30)), list(rng.integers(1, 200, 30))],
        "single_category": [[10], [20]],
        "extreme_1e306": [[700, 0], [0, 700]],
        "extreme_underflow": [[5000, 0], [0, 5000]],
        "large_counts": [[100000, 120000, 90000], [101000, 118000, 91500]],
        "near_boundary": [[550, 450], [450, 550]],
    }
    out = []
    for name, t in tables.items():
        t = [[int(x) for x in row] for row in t]
        r = stats.chi2_contingency(t)
        out.append({"name": name, "table": t, "statistic": fnum(r.statistic), "p_value": fnum(r.pvalue), "dof": int(r.dof)})
    return out


def fisher_cases():
    tables = {
        "docs": [[8, 2], [1, 5]],
        "balanced": [[10, 10], [10, 10]],
        "zero_cell": [[0, 5], [5, 0]],
        "inf_odds": [[7, 0], [3, 4]],
        "zero_odds": [[0, 7], [4, 3]],
        "empty_row": [[0, 0], [3, 4]],
        "large": [[1200, 800], [1100, 900]],
        "very_large": [[52000, 48000], [50000, 50000]],
        "lopsided": [[1, 900], [30, 870]],
        "symmetric_pmf": [[3, 7], [7, 3]],
        "tiny_p": [[300, 10], [10, 300]],
        "one_each": [[1, 0], [0, 1]],
    }
    out = []
    for name, t in tables.items():
        r = stats.fisher_exact(t)
        out.append({"name": name, "table": t, "statistic": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    return out


def alibi_sigma_median(x):
    # alibi_detect/utils/pytorch/kernels.py::sigma_median with y = x (as MMDDrift configures it)
    dist = squared_pairwise_distance(x, x)
    n = x.shape[0]
    n_median = n + (np.prod(dist.shape) - n) // 2 - 1
    return (0.5 * np.sort(dist.flatten())[n_median]) ** 0.5


def squared_pairwise_distance(x, y, a_min=1e-30):
    # alibi_detect/utils/pytorch/distance.py, in float64 with direct differences
    d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return np.maximum(d, a_min)


def alibi_mmd2(x_ref, x):
    sigma = alibi_sigma_median(x_ref)
    z = np.concatenate([x_ref, x])
    k = np.exp(-squared_pairwise_distance(z, z) / (2 * sigma**2))
    k = k - np.diag(np.diag(k))
    m = x.shape[0]
    n = k.shape[0] - m
    kxx, kyy, kxy = k[:-m, :-m], k[-m:, -m:], k[-m:, :-m]
    return sigma, kxx.sum() / (n * (n - 1)) + kyy.sum() / (m * (m - 1)) - 2.0 * kxy.mean()


def mmd_cases():
    out = []
    specs = [("d1_same", 30, 25, 1, 0.0), ("d3_shift", 60, 45, 3, 0.5), ("d30_small", 40, 40, 30, 0.2),
             ("d5_ties", 50, 50, 5, None), ("d2_far", 20, 20, 2, 10.0)]
    for name, n, m, d, shift in specs:
        if shift is None:
            x_ref = np.round(rng.normal(size=(n, d)))
            x = np.round(rng.normal(size=(m, d)))
        else:
            x_ref = rng.normal(size=(n, d))
            x = rng.normal(shift, size=(m, d))
        sigma, stat = alibi_mmd2(x_ref, x)
        out.append({"name": name, "dim": d, "reference": x_ref.flatten().tolist(), "current": x.flatten().tolist(),
                    "sigma": float(sigma), "statistic": float(stat)})
    return out


def misc_cases():
    w = []
    for name, a, b in samples()[:10]:
        w.append({"name": name, "value": float(stats.wasserstein_distance(a, b))})
    ps = list(rng.uniform(size=25) ** 3) + [0.0, 1.0, 1e-300]
    bh = [float(x) for x in stats.false_discovery_control(ps)]
    js = []
    for p, q in [([0.1, 0.4, 0.5], [0.2, 0.2, 0.6]), ([1, 0, 0], [0, 1, 0]), ([0.25] * 4, [0.25] * 4), ([3, 1], [1, 3])]:
        js.append({"p": p, "q": q, "value": float(jensenshannon(p, q))})
    return {"wasserstein": w, "bh": {"p": ps, "adjusted": bh}, "jensenshannon": js}


def write_samples():
    return {name: {"a": [float(v) for v in a], "b": [float(v) for v in b]} for name, a, b in samples()}


def online_cases():
    streams = {}
    r = np.random.default_rng(7)
    streams["bernoulli_shift"] = list((r.uniform(size=3000) < np.r_[np.full(1500, 0.1), np.full(1500, 0.4)]).astype(float))
    streams["gauss_mean_shift"] = list(np.r_[r.normal(0, 1, 2000), r.normal(2, 1, 2000)])
    streams["river_doc"] = [float(v) for v in __import__("random").Random(12345).choices([0, 1], k=1000)] + \
        [float(v) for v in __import__("random").Random(54321).choices(range(4, 8), k=1000)]
    streams["slow_drift"] = list(np.linspace(0, 3, 5000) + r.normal(0, 0.5, 5000))
    out = []
    for name, xs in streams.items():
        a = drift.ADWIN()
        ph = drift.PageHinkley()
        ad, pd = [], []
        for i, x in enumerate(xs):
            a.update(x)
            if a.drift_detected:
                ad.append(i)
            ph.update(x)
            if ph.drift_detected:
                pd.append(i)
        out.append({"name": name, "stream": [float(v) for v in xs], "adwin": ad, "page_hinkley": pd,
                    "adwin_width": float(a.width), "adwin_estimation": float(a.estimation)})
    return out


def main():
    versions = {"scipy": scipy.__version__, "numpy": np.__version__, "river": river.__version__,
                "alibi_detect_definition": "SeldonIO/alibi-detect master (sigma_median, GaussianRBF, mmd2_from_kernel_matrix), NumPy float64",
                "generator": "crates/vigil-drift/tests/golden/make_golden.py"}
    stats_json = {"versions": versions, "samples": write_samples(), "ks": ks_cases(), "cvm": cvm_cases(),
                  "chi2": chi2_cases(), "fisher": fisher_cases(), "mmd": mmd_cases(), **misc_cases()}
    with open(os.path.join(HERE, "stats.json"), "w") as f:
        json.dump(stats_json, f, separators=(",", ":"))
    with open(os.path.join(HERE, "online.json"), "w") as f:
        json.dump({"versions": versions, "cases": online_cases()}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
