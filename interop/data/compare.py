"""vigil data screen against cleanlab 2.9 find_label_issues on generated noisy data sets.

For each case: Gaussian classes (2 to 4, some overlapping), then scikit-learn's bundled digits
(10 classes, 64 features), wine, iris and breast-cancer sets; a fraction of labels flipped
(2% to 20%), then
  1. out-of-fold probabilities from scikit-learn (StandardScaler + LogisticRegression, 5-fold
     stratified cross_val_predict) are written to CSV (17 significant digits) and given to
     both tools: the issue rows must be the same, in the same order;
  2. no probabilities: Vigil cross-validates its own logistic regression; its F1 against the
     flipped rows must be within 0.05 of cleanlab's F1 on scikit-learn's probabilities.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from cleanlab.filter import find_label_issues
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
VIGIL = os.environ["VIGIL_BIN"]
# A fixed seed by default, so CI is repeatable; DATA_INTEROP_SEED=random draws a new one.
# (Seed 1563402673 found the tie-break defect fixed on 2026-12-05; its case is a regression
# test in crates/vigil-cli/tests/data.rs.)
_seed = os.environ.get("DATA_INTEROP_SEED", "20261205")
SEED = random.SystemRandom().randrange(2**31) if _seed == "random" else int(_seed)
print(f"seed {SEED} (DATA_INTEROP_SEED to replay)")
rng = np.random.default_rng(SEED)
NAMES = ["benign", "malignant", "other", "unsure"]


def make_case(n, k, d, flip, spread):
    centres = rng.normal(0, spread, size=(k, d))
    y_true = rng.integers(0, k, size=n)
    x = centres[y_true] + rng.normal(0, 1, size=(n, d))
    y = y_true.copy()
    flipped = rng.choice(n, size=int(round(flip * n)), replace=False)
    for i in flipped:
        y[i] = (y[i] + rng.integers(1, k)) % k
    return x, y, set(int(i) for i in flipped)


def write_data(path, x, y, classes):
    with open(path, "w") as f:
        f.write(",".join([f"f{j}" for j in range(x.shape[1])] + ["site", "label"]) + "\n")
        for i in range(len(y)):
            site = "A" if i % 3 else "B"
            f.write(",".join([repr(float(v)) for v in x[i]] + [site, classes[y[i]]]) + "\n")


def oof_probs(x, y):
    model = make_pipeline(StandardScaler(), LogisticRegression())
    return cross_val_predict(model, x, y, cv=StratifiedKFold(5), method="predict_proba")


def vigil(args):
    out = subprocess.run([VIGIL, "data", "screen", "--json", "--no-outliers"] + args,
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"vigil exited {out.returncode}: {out.stderr}")
    return json.loads(out.stdout)


def f1(found, truth):
    found = set(found)
    tp = len(found & truth)
    if tp == 0:
        return 0.0
    p, r = tp / len(found), tp / len(truth)
    return 2 * p * r / (p + r)


def check(name, x, y, truth, classes, tmp, perm):
    """Both checks on one data set; returns (passed, failed)."""
    data = os.path.join(tmp, "data.csv")
    write_data(data, x, y, classes)
    probs = oof_probs(x, y)
    probs_path = os.path.join(tmp, "probs.csv")
    with open(probs_path, "w") as f:
        f.write(",".join(classes[c] for c in perm) + "\n")
        for row in probs:
            f.write(",".join("%.17g" % row[c] for c in perm) + "\n")
    probs = np.array([[float("%.17g" % v) for v in row] for row in probs])
    ref = [int(i) for i in find_label_issues(y, probs, return_indices_ranked_by="self_confidence")]
    got = vigil(["--data", data, "--label", "label", "--pred-probs", probs_path])
    rows = [li["row"] for li in got["label_issues"]]
    ok = bad = 0
    if rows == ref:
        ok += 1
    else:
        bad += 1
        extra, missing = set(rows) - set(ref), set(ref) - set(rows)
        print(f"FAIL given probabilities {name}: {len(rows)} vs cleanlab {len(ref)}; "
              f"extra {sorted(extra)[:10]} missing {sorted(missing)[:10]}"
              + ("; same set, other order" if not extra and not missing else ""))
    own = vigil(["--data", data, "--label", "label", "--exclude", "site"])
    f_v = f1([li["row"] for li in own["label_issues"]], truth)
    f_c = f1(ref, truth)
    if f_v >= f_c - 0.05:
        ok += 1
    else:
        bad += 1
        print(f"FAIL cross-validated {name}: F1 vigil {f_v:.3f} vs cleanlab+sklearn {f_c:.3f}")
    print(f"{name}: cleanlab {len(ref)} issues (F1 {f_c:.3f}); vigil given {len(rows)}, "
          f"own CV F1 {f_v:.3f}")
    return ok, bad


passed = failed = 0
cases = []
for flip in (0.02, 0.05, 0.1, 0.2):
    for k in (2, 3, 4):
        n = int(rng.integers(400, 1500))
        cases.append((n, k, int(rng.integers(3, 12)), flip, float(rng.uniform(1.0, 2.5))))

with tempfile.TemporaryDirectory() as tmp:
    for (n, k, d, flip, spread) in cases:
        x, y, truth = make_case(n, k, d, flip, spread)
        # Columns in another order than the classes: Vigil matches them by name.
        perm = list(rng.permutation(k))
        ok, bad = check(f"n={n} k={k} d={d} flip={flip:.2f}", x, y, truth, NAMES[:k], tmp, perm)
        passed, failed = passed + ok, failed + bad
    # scikit-learn's bundled data sets (no download), up to 10 classes and 64 features: ties
    # in the confident joint's rounding (numpy's argsort order), Fortran-ordered sums, and
    # badly scaled columns (digits' near-constant pixels) that stop L-BFGS early.
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
    for loader in (load_digits, load_wine, load_iris, load_breast_cancer):
        x, y0 = loader(return_X_y=True)
        k = len(set(y0))
        for flip in (0.02, 0.1, 0.2):
            y = y0.copy()
            flipped = rng.choice(len(y), size=int(round(flip * len(y))), replace=False)
            for i in flipped:
                y[i] = (y[i] + rng.integers(1, k)) % k
            classes = [f"c{c}" for c in range(k)]
            name = f"{loader.__name__[5:]} k={k} flip={flip:.2f}"
            ok, bad = check(name, x, y, set(int(i) for i in flipped), classes, tmp,
                            list(range(k)))
            passed, failed = passed + ok, failed + bad

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
