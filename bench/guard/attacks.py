#!/usr/bin/env python3
"""Generates attack and benign sets against an example device's committed model.

Black-box: the attacks only query the model (onnx.reference.ReferenceEvaluator on
bundle/model.onnx, probabilities output), never its weights or gradients. From the device's
data/validation.csv (never the calibration rows the thresholds were fitted on) it writes, to
OUT (default target/attacks/<device>):

  evasion-noise.csv     random-noise attack: Gaussian noise of growing size (in units of each
                        feature's spread) until the label flips; the first flip is kept
  evasion-boundary.csv  boundary attack (the start of HopSkipJump / Brendel's boundary attack):
                        binary search on the segment to a correctly classified row of another
                        class, then random-walk steps that shrink the perturbation while the
                        label stays flipped
  evasion-transfer.csv  transfer attack (white-box on a surrogate, black-box on the device): a
                        logistic regression and an MLP trained on data/training.csv only; FGSM
                        and PGD (L-infinity, 10 steps) in the surrogate's standardised space at
                        growing epsilons; per validation row, attack and surrogate, the first
                        candidate that flips the committed model's class is kept
  evasion-transfer-fixed.csv  the same attacks at fixed epsilons (0.25, 0.5, 1.0 spreads):
                        every candidate that flips the committed model is kept
  out-of-contract.csv   NaN, +/-inf, far out of range, negative, and unparseable cells
  extraction-random.csv 2000 synthetic queries drawn uniformly in the contract's ranges
                        (the synthetic stream of Papernot / Tramer style extraction)
  extraction-jbda.csv   2000 queries of Jacobian-style augmentation without gradients: a few
                        seed rows and small random steps from earlier queries (PRADA's target)
  benign.csv            real rows (validation and training rows, shuffled) as one stream

Every row keeps a `label` column: the true class for evasions, the model's class otherwise.
    .venv/bin/python bench/guard/attacks.py examples/devices/breast-cancer [OUT]
"""

import csv
import pathlib
import sys
import tomllib

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

SEED = 20261124


def load(device: pathlib.Path):
    cfg = tomllib.loads((device / "bundle" / "vigil.toml").read_text())
    c = cfg["contract"]
    if "signal" in c:
        s = c["signal"]
        prefix = s.get("column_prefix", "t")
        names = [f"{prefix}{i}" for i in range(s["length"])]
        lo = np.full(len(names), s["min"], dtype=np.float64)
        hi = np.full(len(names), s["max"], dtype=np.float64)
    else:
        names = [f["name"] for f in c["features"]]
        lo = np.array([f["min"] for f in c["features"]], dtype=np.float64)
        hi = np.array([f["max"] for f in c["features"]], dtype=np.float64)
    model = onnx.load(str(device / "bundle" / "model.onnx"))
    ev = ReferenceEvaluator(model)
    inp = c["inputs"][0]["name"]
    out = c["output"]["name"]

    def predict(x):
        return ev.run([out], {inp: np.asarray(x, dtype=np.float32)})[0]

    return names, lo, hi, predict, bool("signal" in c)


def read(path: pathlib.Path, names):
    with open(path) as f:
        r = csv.DictReader(f)
        rows = list(r)
    x = np.array([[float(row[n]) for n in names] for row in rows])
    y = np.array([int(row["label"]) for row in rows])
    return x, y


def write(path: pathlib.Path, names, x, y, raw=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names + ["label"])
        for i, (row, label) in enumerate(zip(x, y)):
            cells = [repr(float(v)) for v in row]
            if raw is not None and raw[i] is not None:
                j, text = raw[i]
                cells[j] = text
            w.writerow(cells + [int(label)])


class Surrogate:
    """A differentiable surrogate on standardised inputs: the gradient of the cross-entropy
    loss of class `y` with respect to the standardised input, for LR and one-hidden-layer MLPs."""

    def __init__(self, kind: str, x, y, seed: int):
        self.mu = x.mean(axis=0)
        self.sd = x.std(axis=0) + 1e-12
        z = (x - self.mu) / self.sd
        self.classes = int(y.max()) + 1
        if kind == "lr":
            self.clf = LogisticRegression(C=1.0, max_iter=5000).fit(z, y)
        else:
            self.clf = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", alpha=1e-3,
                                     max_iter=3000, random_state=seed).fit(z, y)
        self.kind = kind

    def logits(self, z):
        """Per-class logits (n, k) and, for MLPs, the hidden pre-activations."""
        if self.kind == "lr":
            w, b = self.clf.coef_, self.clf.intercept_
            a = z @ w.T + b
            return (np.hstack([-a / 2, a / 2]) if w.shape[0] == 1 else a), None
        w1, w2 = self.clf.coefs_
        b1, b2 = self.clf.intercepts_
        pre = z @ w1 + b1
        a = np.maximum(pre, 0) @ w2 + b2
        return (np.hstack([-a / 2, a / 2]) if w2.shape[1] == 1 else a), pre

    def grad(self, z, y):
        """Gradient of the cross-entropy of the true classes y at z (n, d)."""
        logits, pre = self.logits(z)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = p.copy()
        g[np.arange(len(y)), y] -= 1.0  # d loss / d logits
        if self.kind == "lr":
            w = self.clf.coef_
            if w.shape[0] == 1:
                return ((g[:, 1] - g[:, 0]) / 2)[:, None] * w
            return g @ w
        w1, w2 = self.clf.coefs_
        ga = (g[:, 1] - g[:, 0])[:, None] / 2 if w2.shape[1] == 1 else g
        gh = (ga @ w2.T) * (pre > 0)
        return gh @ w1.T


def transfer(sur: Surrogate, x, y, eps: float, steps: int, lo, hi):
    """FGSM (steps = 1) or PGD (L-infinity ball of radius eps in standardised units)."""
    z0 = (x - sur.mu) / sur.sd
    zlo, zhi = (lo - sur.mu) / sur.sd, (hi - sur.mu) / sur.sd
    if steps == 1:
        z = z0 + eps * np.sign(sur.grad(z0, y))
    else:
        z = z0.copy()
        alpha = 2.5 * eps / steps
        for _ in range(steps):
            z = z + alpha * np.sign(sur.grad(z, y))
            z = np.clip(z, z0 - eps, z0 + eps)
            z = np.clip(z, zlo, zhi)
    z = np.clip(z, zlo, zhi)
    return z * sur.sd + sur.mu


def main() -> None:
    device = pathlib.Path(sys.argv[1]).resolve()
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else (
        pathlib.Path(__file__).resolve().parents[2] / "target" / "attacks" / device.name)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    names, lo, hi, predict, signal = load(device)
    xv, yv = read(device / "data" / "validation.csv", names)
    xt, yt = read(device / "data" / "training.csv", names)
    spread = xt.std(axis=0) + 1e-12
    pv = predict(xv).argmax(1)
    ok = pv == yv
    xs, ys = xv[ok], yv[ok]
    pt = predict(xt).argmax(1)

    # Random-noise attack.
    adv, lab = [], []
    for x, y in zip(xs, ys):
        for eps in np.geomspace(0.05, 5.0, 30):
            cand = x + rng.normal(size=(20, x.size)) * spread * eps
            cand = np.clip(cand, lo, hi)
            p = predict(cand).argmax(1)
            hit = np.nonzero(p != y)[0]
            if hit.size:
                adv.append(cand[hit[0]])
                lab.append(y)
                break
    write(out / "evasion-noise.csv", names, adv, lab)
    print(f"evasion-noise: {len(adv)} of {len(xs)} rows flipped")

    # Boundary attack.
    adv, lab = [], []
    for x, y in zip(xs, ys):
        others = xt[(yt != y) & (pt == yt)]
        if len(others) == 0:
            continue
        start = others[np.argmin(((others - x) / spread) ** 2 @ np.ones(x.size))]
        a, b = 0.0, 1.0  # a: label y, b: flipped
        for _ in range(25):
            m = (a + b) / 2
            if predict([x + m * (start - x)]).argmax(1)[0] != y:
                b = m
            else:
                a = m
        best = x + b * (start - x)
        for _ in range(60):
            step = best + rng.normal(size=x.size) * spread * 0.05 * np.linalg.norm((best - x) / spread) / np.sqrt(x.size)
            step = x + 0.97 * (step - x)
            step = np.clip(step, lo, hi)
            if predict([step]).argmax(1)[0] != y:
                best = step
        adv.append(best)
        lab.append(y)
    write(out / "evasion-boundary.csv", names, adv, lab)
    print(f"evasion-boundary: {len(adv)} rows")

    # Transfer attack: surrogates trained on the training rows only.
    surrogates = [Surrogate("lr", xt, yt, SEED), Surrogate("mlp", xt, yt, SEED)]
    adv, lab = [], []
    fixed, fixed_lab = [], []
    for sur in surrogates:
        for steps in (1, 10):
            todo = np.ones(len(xs), dtype=bool)
            for eps in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0):
                cand = transfer(sur, xs, ys, eps, steps, lo, hi)
                flip = predict(cand).argmax(1) != ys
                for i in np.nonzero(flip & todo)[0]:
                    adv.append(cand[i])
                    lab.append(ys[i])
                todo &= ~flip
            for eps in (0.25, 0.5, 1.0):
                cand = transfer(sur, xs, ys, eps, steps, lo, hi)
                flip = predict(cand).argmax(1) != ys
                fixed.extend(cand[flip])
                fixed_lab.extend(ys[flip])
    write(out / "evasion-transfer.csv", names, adv, lab)
    write(out / "evasion-transfer-fixed.csv", names, fixed, fixed_lab)
    print(f"evasion-transfer: {len(adv)} minimal and {len(fixed)} fixed-epsilon evasions")

    # Out-of-contract rows.
    rows, labs, raw = [], [], []
    bad = ["nan", "inf", "-inf", "far", "negative", "text", "empty"]
    for i, (x, y) in enumerate(zip(xs, ys)):
        kind = bad[i % len(bad)]
        j = int(rng.integers(x.size))
        r = x.copy()
        cell = None
        if kind == "far":
            r[j] = hi[j] + 10 * (hi[j] - lo[j])
        elif kind == "negative":
            r[j] = lo[j] - (hi[j] - lo[j]) - 1.0
        else:
            cell = (j, {"nan": "NaN", "inf": "inf", "-inf": "-inf", "text": "abc", "empty": ""}[kind])
        rows.append(r)
        labs.append(y)
        raw.append(cell)
    write(out / "out-of-contract.csv", names, rows, labs, raw)
    print(f"out-of-contract: {len(rows)} rows")

    # Extraction: uniform synthetic queries in the contract's range (but inside the data's
    # range, so the contract alone does not stop them).
    dlo, dhi = xt.min(axis=0), xt.max(axis=0)
    q = rng.uniform(dlo, dhi, size=(2000, len(names)))
    write(out / "extraction-random.csv", names, q, predict(q).argmax(1))

    # Extraction: augmentation from a few seeds (JbDA without gradients).
    seeds = xs[rng.choice(len(xs), size=10, replace=False)]
    pool = list(seeds)
    while len(pool) < 2000:
        base = pool[int(rng.integers(len(pool)))]
        pool.append(np.clip(base + rng.choice([-1, 1], size=base.size) * spread * 0.1, dlo, dhi))
    q = np.array(pool)
    write(out / "extraction-jbda.csv", names, q, predict(q).argmax(1))

    # Benign stream: real rows, shuffled.
    xb = np.vstack([xv, xt])
    yb = np.concatenate([yv, yt])
    perm = rng.permutation(len(xb))
    write(out / "benign.csv", names, xb[perm], yb[perm])
    print(f"extraction streams 2000 rows each; benign {len(xb)} rows -> {out}")


if __name__ == "__main__":
    main()
