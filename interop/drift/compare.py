"""Compare `vigil drift test --json` with scipy and a NumPy transcription of Alibi Detect's MMD
on freshly generated random cases: tiny and large samples, ties, heavy tails, extreme shifts,
categories absent on one side, binary columns.

Tolerance: 1e-9 relative for every statistic and p-value (MMD statistic: 1e-6), except the
asymptotic CvM p-value below 1e-5, which scipy computes as 1 minus a series summing to nearly
1 and which is therefore compared to 1e-14 absolute, and subnormal values (below 2.2e-308, with
few significant bits), compared to 1e-322 absolute (see docs/drift.md).
"""
import json
import warnings
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy
from scipy import stats

warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on its own kstwo(n=0) path
VIGIL = os.environ["VIGIL_BIN"]
SEED = int(os.environ.get("DRIFT_INTEROP_SEED", np.random.SeedSequence().entropy % 2**32))
CASES = int(os.environ.get("DRIFT_INTEROP_CASES", 40))
rng = np.random.default_rng(SEED)
passed = failed = 0
worst = {}


def num(v):
    return {"inf": np.inf, "-inf": -np.inf, "nan": np.nan}.get(v, v) if isinstance(v, str) else v


def check(label, kind, got, want, rtol=1e-9, atol=0.0):
    global passed, failed
    got, want = float(num(got)), float(want)
    if np.isnan(want) and np.isnan(got) or got == want:
        err = 0.0
    elif abs(want) < 2.2250738585072014e-308 and abs(got - want) <= 1e-322:
        err = 0.0  # subnormal results have few significant bits: compare absolutely
    elif np.isinf(want) or want == 0:
        err = np.inf if abs(got - want) > atol else 0.0
    else:
        err = abs(got - want) / abs(want)
        if atol and abs(got - want) <= atol:
            err = 0.0
    worst[kind] = max(worst.get(kind, 0.0), err)
    if err <= rtol:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {label} {kind}: vigil {got!r} reference {want!r} (rel. error {err:.3e})")


def sample(n, kind):
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "ties":
        return rng.integers(0, max(2, n // 10), n).astype(float)
    if kind == "cauchy":
        return rng.standard_cauchy(n)
    if kind == "rounded":
        return np.round(rng.normal(size=n) * 100) / 100
    return rng.pareto(1.2, n)


def write_csv(path, cols):
    names = list(cols)
    n = len(cols[names[0]])
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for i in range(n):
            f.write(",".join(repr(float(cols[c][i])) if not isinstance(cols[c][i], str) else cols[c][i]
                             for c in names) + "\n")


def vigil(tmp, *args):
    out = subprocess.run([VIGIL, "drift", "test", "--reference", f"{tmp}/ref.csv", "--current", f"{tmp}/cur.csv",
                          "--json", *args], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"vigil exit {out.returncode}: {out.stderr}")
    return json.loads(out.stdout)["results"]


def numeric_case(tmp, i):
    sizes = [(1, 1), (1, 7), (3, 5), (8, 8), (12, 20), (20, 20), (21, 40), (150, 90), (700, 700),
             (997, 1009), (3000, 2500), (10001, 300), (12000, 11000)]
    n1, n2 = sizes[rng.integers(len(sizes))]
    kind = ["normal", "ties", "cauchy", "rounded", "pareto"][rng.integers(5)]
    shift = [0.0, 0.1, 0.5, 3.0, 60.0][rng.integers(5)]
    a, b = sample(n1, kind), sample(n2, kind) + shift
    write_csv(f"{tmp}/ref.csv", {"x": a})
    write_csv(f"{tmp}/cur.csv", {"x": b})
    label = f"case{i} numeric n=({n1},{n2}) {kind} shift={shift}"
    for method in ["auto", "exact", "asymp"]:
        if method == "exact" and max(n1, n2) > 3000:
            continue
        r = vigil(tmp, "--test", "ks", "--ks-method", method)[0]
        s = stats.ks_2samp(a, b, method=method)
        check(label + f" ks/{method}", "ks statistic", r["statistic"], s.statistic)
        check(label + f" ks/{method}", "ks p_value", r["p_value"], s.pvalue)
    if min(n1, n2) >= 2:
        r = vigil(tmp, "--test", "cvm")[0]
        s = stats.cramervonmises_2samp(a, b)
        check(label + " cvm", "cvm statistic", r["statistic"], s.statistic)
        asymptotic = max(n1, n2) > 20
        check(label + " cvm", "cvm p_value", r["p_value"], s.pvalue,
              atol=1e-14 if asymptotic and s.pvalue < 1e-5 else 0.0)


def categorical_case(tmp, i):
    k = int(rng.integers(1, 8))
    cats = [f"c{j}" for j in range(k)]
    n1, n2 = int(rng.integers(5, 3000)), int(rng.integers(5, 3000))
    p1 = rng.dirichlet(np.ones(k))
    p2 = p1 if rng.uniform() < 0.4 else rng.dirichlet(np.ones(k))
    a = list(rng.choice(cats, n1, p=p1))
    b = list(rng.choice(cats, n2, p=p2))
    if k > 2 and rng.uniform() < 0.5:  # a category absent on one side
        b = [x if x != cats[0] else cats[1] for x in b]
    write_csv(f"{tmp}/ref.csv", {"g": a})
    write_csv(f"{tmp}/cur.csv", {"g": b})
    union = sorted(set(a) | set(b))
    table = [[a.count(c) for c in union], [b.count(c) for c in union]]
    label = f"case{i} categorical {table}"
    r = vigil(tmp, "--test", "chi2", "--categorical", "g")[0]
    s = stats.chi2_contingency(table)
    check(label + " chi2", "chi2 statistic", r["statistic"], s.statistic)
    check(label + " chi2", "chi2 p_value", r["p_value"], s.pvalue)
    if len(union) == 2:
        r = vigil(tmp, "--test", "fisher", "--categorical", "g")[0]
        s = stats.fisher_exact(table)
        check(label + " fisher", "fisher statistic", r["statistic"], s.statistic)
        check(label + " fisher", "fisher p_value", r["p_value"], s.pvalue)


def fisher_case(tmp, i):
    # Binary columns with extreme and small tables.
    n1, n2 = int(rng.integers(1, 400)), int(rng.integers(1, 400))
    q1, q2 = rng.uniform(), [rng.uniform(), 0.0, 1.0][rng.integers(3)]
    a = ["yes" if u < q1 else "no" for u in rng.uniform(size=n1)]
    b = ["yes" if u < q2 else "no" for u in rng.uniform(size=n2)]
    union = sorted(set(a) | set(b))
    if len(union) != 2:
        return
    write_csv(f"{tmp}/ref.csv", {"g": a})
    write_csv(f"{tmp}/cur.csv", {"g": b})
    table = [[a.count(c) for c in union], [b.count(c) for c in union]]
    r = vigil(tmp, "--test", "fisher", "--categorical", "g")[0]
    s = stats.fisher_exact(table)
    check(f"case{i} fisher {table}", "fisher statistic", r["statistic"], s.statistic)
    check(f"case{i} fisher {table}", "fisher p_value", r["p_value"], s.pvalue)


def alibi_mmd2(x_ref, x):
    def sq(a, b):
        return np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 1e-30)
    d = sq(x_ref, x_ref)
    n = x_ref.shape[0]
    sigma = (0.5 * np.sort(d.flatten())[n + (d.size - n) // 2 - 1]) ** 0.5
    z = np.concatenate([x_ref, x])
    k = np.exp(-sq(z, z) / (2 * sigma**2))
    k = k - np.diag(np.diag(k))
    m = x.shape[0]
    nn = k.shape[0] - m
    return k[:-m, :-m].sum() / (nn * (nn - 1)) + k[-m:, -m:].sum() / (m * (m - 1)) - 2 * k[-m:, :-m].mean()


def mmd_case(tmp, i):
    d = int(rng.integers(1, 6))
    n1, n2 = int(rng.integers(5, 120)), int(rng.integers(5, 120))
    a = rng.normal(size=(n1, d))
    b = rng.normal(rng.choice([0.0, 0.3, 2.0]), size=(n2, d))
    write_csv(f"{tmp}/ref.csv", {f"x{j}": a[:, j] for j in range(d)})
    write_csv(f"{tmp}/cur.csv", {f"x{j}": b[:, j] for j in range(d)})
    r = vigil(tmp, "--test", "mmd", "--permutations", "20")[0]
    check(f"case{i} mmd n=({n1},{n2}) d={d}", "mmd statistic", r["statistic"], alibi_mmd2(a, b), rtol=1e-6)


def main():
    print(f"drift interop: seed {SEED}, scipy {scipy.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(CASES):
            numeric_case(tmp, i)
            categorical_case(tmp, i)
            fisher_case(tmp, i)
            if i % 4 == 0:
                mmd_case(tmp, i)
    for kind in sorted(worst):
        print(f"  max relative error {kind}: {worst[kind]:.3e}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
