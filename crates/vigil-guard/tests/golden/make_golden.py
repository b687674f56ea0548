#!/usr/bin/env python3
"""Golden vectors for vigil-guard's Shapiro-Wilk W: scipy.stats.shapiro on seeded samples.

Writes shapiro.json beside this file. Run from the repository root:

    .venv/bin/python crates/vigil-guard/tests/golden/make_golden.py
"""

import json
import pathlib

import numpy as np
import scipy
from scipy import stats

rng = np.random.default_rng(20261123)
cases = []
for name, n, draw in [
    ("normal-3", 3, lambda n: rng.normal(size=n)),
    ("normal-4", 4, lambda n: rng.normal(size=n)),
    ("normal-5", 5, lambda n: rng.normal(size=n)),
    ("uniform-6", 6, lambda n: rng.uniform(size=n)),
    ("normal-11", 11, lambda n: rng.normal(size=n)),
    ("normal-12", 12, lambda n: rng.normal(size=n)),
    ("normal-20", 20, lambda n: rng.normal(2.0, 3.0, size=n)),
    ("uniform-50", 50, lambda n: rng.uniform(size=n)),
    ("exponential-200", 200, lambda n: rng.exponential(size=n)),
    ("lognormal-1000", 1000, lambda n: rng.lognormal(size=n)),
    ("normal-1000", 1000, lambda n: rng.normal(size=n)),
    ("bimodal-500", 500, lambda n: np.concatenate([rng.normal(-3, 1, n // 2), rng.normal(3, 1, n - n // 2)])),
    ("normal-5000", 5000, lambda n: rng.normal(size=n)),
]:
    x = draw(n)
    w, p = stats.shapiro(x)
    cases.append({"name": name, "x": [float(v) for v in x], "w": float(w), "p": float(p)})

out = {
    "origin": f"scipy.stats.shapiro, scipy {scipy.__version__}, numpy {np.__version__}, "
              "seed 20261123; crates/vigil-guard/tests/golden/make_golden.py",
    "cases": cases,
}
path = pathlib.Path(__file__).resolve().parent / "shapiro.json"
path.write_text(json.dumps(out) + "\n")
print(f"wrote {path} ({len(cases)} cases)")
