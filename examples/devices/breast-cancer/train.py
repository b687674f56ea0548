#!/usr/bin/env python3
"""Trains the breast-cancer example device and exports it for Vigil.

Data: the Wisconsin diagnostic breast cancer data set that scikit-learn ships
(sklearn.datasets.load_breast_cancer: 569 rows, 30 features; target 0 = malignant,
1 = benign). Nothing is downloaded.

Model: a small neural network (30 -> 16 ReLU -> 1 logistic) on standardised features,
trained here in NumPy (full-batch Adam, L2 penalty) with adversarial training: every step
also fits PGD perturbations of the training rows within an L-infinity radius of ADV_EPS
training standard deviations (Madry et al., 2018). This is the evasion control on the model
side (THREATS.md T09): it widens the margin around the training rows, so that an evasion
needs a larger perturbation, which the guard's input detector then sees. It costs about one
point of validation accuracy (bench/guard/EVALUATION.md). Exported by ../common/onnx_mlp.py
with only standard ai.onnx operators (MatMul, Add, Relu, Softmax), so tract, the pure-Rust
runtime, runs it:

  * the standardisation is folded into the first layer (W1' = W1 / sigma, b1' = b1 - (mu / sigma) W1);
  * the single logistic unit becomes a two-class softmax over (-z/2, z/2), which equals
    (1 - sigmoid(z), sigmoid(z)) exactly;
  * outputs: `probabilities` float32 [N, 2] (malignant, benign) and `hidden` float32 [N, 16]
    (the ReLU layer, for the guard's feature-space detectors).

Split: 60/20/20 training / calibration / validation, stratified, seed 20261123. Writes
bundle/model.onnx, bundle/vigil.toml, data/calibration.csv, data/validation.csv (and
data/training.csv for reference statistics). Run from anywhere:

    .venv/bin/python examples/devices/breast-cancer/train.py
"""

import csv
import hashlib
import pathlib

import sys

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

SEED = 20261123
# Adversarial training radius (L-infinity, in training standard deviations): half of every
# training batch is a PGD perturbation of the clean rows within this radius. Chosen from a
# sweep of 0 to 0.6 (bench/guard/EVALUATION.md).
ADV_EPS = 0.3
PGD_STEPS = 7
EPOCHS = 3000
HIDDEN = 16
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "common"))
from onnx_mlp import export_mlp  # noqa: E402  (the examples' shared export)
from data_root import csv_root  # noqa: E402  (the root `vigil data manifest` signs)
LABELS = ["malignant", "benign"]

# Units of the WDBC features (computed from digitised images of fine-needle aspirates):
# lengths in pixels, texture in grey levels, the rest dimensionless.
def unit_of(name: str) -> str:
    base = name.replace("mean ", "").replace(" error", "").replace("worst ", "")
    return {
        "radius": "px",
        "perimeter": "px",
        "area": "px^2",
        "texture": "grey level",
    }.get(base, "1")


# The guard's tables (docs/guard.md); thresholds are fitted by `vigil guard calibrate`
# (build.sh) into bundle/reference/guard.json.
GUARD_TABLES = [
    "",
    "[detectors]",
    "fpr = 0.05",
    "mahalanobis_input = true",
    "mahalanobis_hidden = true",
    "squeeze_bits = 6",
    "median_window = 0",
    "margin = true",
    "shrinkage = 0.0",
    "input_log = true",
    "input_centres = 16",
    "folds = 5",
    "",
    "[output]",
    'mode = "full"',
    "decimals = 2",
    "",
    "[extraction]",
    "prada = false",
    "delta = 0.95",
    "log_distances = true",
    "min_queries = 100",
    "history = 3000",
    "window = 1000",
    "test_every = 10",
    "ood_window = 50",
    "ood_share = 0.5",
    "",
    "[limits]",
    "rate_per_second = 50.0",
    "burst = 100.0",
    "query_budget = 20000",
    "budget_alarm_share = 0.8",
    "max_clients = 10000",
    "max_payload_values = 4096",
    "max_client_id_bytes = 256",
]


def forward(params, z):
    """Pre-activations, hidden layer and logit of the 30-16-1 network on standardised z."""
    w1, b1, w2, b2 = params
    pre = z @ w1 + b1
    h = np.maximum(pre, 0.0)
    return pre, h, (h @ w2 + b2).ravel()


def input_gradient(params, z, y):
    """Gradient of the logistic loss of labels y with respect to the inputs z."""
    w1, _, w2, _ = params
    pre, _, a = forward(params, z)
    g = (1.0 / (1.0 + np.exp(-a)) - y)[:, None]
    return ((g @ w2.T) * (pre > 0)) @ w1.T


def train(z, y, eps, alpha=1e-3, epochs=EPOCHS, lr=3e-3, seed=SEED):
    """Full-batch Adam on the logistic loss with L2 penalty alpha (scikit-learn's scaling),
    over the clean rows and, if eps > 0, their PGD perturbations against the current model
    (random start, PGD_STEPS steps of 2.5 eps / PGD_STEPS, L-infinity radius eps)."""
    rng = np.random.default_rng(seed)
    d, n = z.shape[1], len(y)
    lim1, lim2 = np.sqrt(6 / (d + HIDDEN)), np.sqrt(6 / (HIDDEN + 1))
    params = [rng.uniform(-lim1, lim1, (d, HIDDEN)), rng.uniform(-lim1, lim1, HIDDEN),
              rng.uniform(-lim2, lim2, (HIDDEN, 1)), rng.uniform(-lim2, lim2, 1)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, epochs + 1):
        zb, yb = z, y
        if eps > 0:
            za = z + rng.uniform(-eps, eps, z.shape)
            for _ in range(PGD_STEPS):
                za = np.clip(za + 2.5 * eps / PGD_STEPS * np.sign(input_gradient(params, za, y)),
                             z - eps, z + eps)
            zb, yb = np.vstack([z, za]), np.concatenate([y, y])
        w1, _, w2, _ = params
        pre, h, a = forward(params, zb)
        g = (1.0 / (1.0 + np.exp(-a)) - yb)[:, None] / len(yb)
        gh = (g @ w2.T) * (pre > 0)
        grads = [zb.T @ gh + alpha * w1 / n, gh.sum(0), h.T @ g + alpha * w2 / n, g.sum(0)]
        for i, gr in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * gr
            v[i] = 0.999 * v[i] + 0.001 * gr * gr
            params[i] = params[i] - lr * (m[i] / (1 - 0.9 ** t)) / (
                np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    return params


def main() -> None:
    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    y = data.target.astype(np.int64)
    names = [str(n) for n in data.feature_names]

    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=SEED, stratify=y)
    x_cal, x_val, y_cal, y_val = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=SEED, stratify=y_rest)

    mu = x_train.mean(axis=0)
    sigma = x_train.std(axis=0)
    sigma[sigma == 0] = 1.0
    params = train((x_train - mu) / sigma, y_train, ADV_EPS)
    w1, b1, w2, b2 = params

    def predict_proba(xs):
        p1 = 1.0 / (1.0 + np.exp(-forward(params, (xs - mu) / sigma)[2]))
        return np.stack([1.0 - p1, p1], axis=1)
    w1f = (w1 / sigma[:, None]).astype(np.float32)
    b1f = (b1 - (mu / sigma) @ w1).astype(np.float32)
    w2f = np.hstack([-w2 / 2, w2 / 2]).astype(np.float32)
    b2f = np.array([-b2[0] / 2, b2[0] / 2], dtype=np.float32)

    model, err = export_mlp(w1f, b1f, w2f, b2f, "breast_cancer_mlp",
                            "vigil-example-breast-cancer", x, predict_proba, "the NumPy model")

    bundle = HERE / "bundle"
    datadir = HERE / "data"
    bundle.mkdir(exist_ok=True)
    datadir.mkdir(exist_ok=True)
    (bundle / "model.onnx").write_bytes(model.SerializeToString())

    digests = {}
    for split, xs, ys in [("training", x_train, y_train), ("calibration", x_cal, y_cal),
                          ("validation", x_val, y_val)]:
        path = datadir / f"{split}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(names + ["label"])
            for row, label in zip(xs, ys):
                w.writerow([repr(float(v)) for v in row] + [int(label)])
        digests[split] = hashlib.sha256(path.read_bytes()).hexdigest()

    acc = {name: float((predict_proba(xs).argmax(axis=1) == ys).mean())
           for name, xs, ys in [("training", x_train, y_train), ("calibration", x_cal, y_cal),
                                ("validation", x_val, y_val)]}

    lo, hi = x.min(axis=0), x.max(axis=0)
    lines = [
        "# vigil.toml: the breast-cancer example device (DEMO: not a medical device).",
        "# Written by train.py; sign again after any change (vigil bundle sign).",
        "",
        "[bundle]",
        'name = "breast-cancer"',
        'version = "1.0.0"',
        'model = "model.onnx"',
        'intended_use = "Demonstration only. Classifies fine-needle aspirate features of a breast mass '
        '(Wisconsin diagnostic data set) as malignant or benign, to show Vigil\'s controls. '
        'Not for clinical use."',
        "demo = true",
        "",
        "[model_card]",
        f'architecture = "MLP 30-16-1 (ReLU, logistic), standardisation folded into layer 1; adversarially trained (PGD-{PGD_STEPS}, L-infinity {ADV_EPS} sd)"',
        f'training_data = "sklearn.datasets.load_breast_cancer, 60% stratified split, seed {SEED}"',
        f"accuracy_training = {acc['training']:.4f}",
        f"accuracy_calibration = {acc['calibration']:.4f}",
        f"accuracy_validation = {acc['validation']:.4f}",
        "",
        "# The data sets (kept outside the bundle, in ../data): the RFC 9162 root of each signed",
        "# manifest (vigil data manifest; verify with vigil data verify) and the file's SHA-256.",
    ]
    for k, v in digests.items():
        lines += [f"[data.{k}]", f'manifest = "../data/manifests/{k}.manifest.json"',
                  f'manifest_root = "{csv_root(datadir / f"{k}.csv")}"', f'sha256 = "{v}"']
    lines += [
        "",
        "[contract]",
        "# One input tensor of 30 features in scikit-learn's order; batch dimension first.",
        'safe_state = "no automated result: the case goes to a pathologist for manual review"',
        "[[contract.inputs]]",
        'name = "input"',
        'dtype = "float32"',
        "shape = [-1, 30]",
        "",
        "[contract.output]",
        'name = "probabilities"',
        'labels = ["malignant", "benign"]',
        'hidden = "hidden"',
        "",
        "# Physical ranges: a feature outside [min, max] is not a plausible measurement.",
        "# Bounds are the data set's range widened by half its span (and never below zero).",
    ]
    for i, name in enumerate(names):
        span = hi[i] - lo[i]
        fmin = max(0.0, lo[i] - 0.5 * span)
        fmax = hi[i] + 0.5 * span
        lines += [
            "[[contract.features]]",
            f'name = "{name}"',
            f'unit = "{unit_of(name)}"',
            f"min = {fmin:.6g}",
            f"max = {fmax:.6g}",
        ]
    lines += GUARD_TABLES
    # The acceptance set `vigil update install` runs through the guard before activating a
    # release (docs/update.md): the validation split, shipped inside the signed bundle.
    (bundle / "acceptance.csv").write_bytes((datadir / "validation.csv").read_bytes())
    lines += [
        "",
        "[acceptance]",
        'data = "acceptance.csv"',
        "min_accuracy = 0.90",
        "max_abstain_share = 0.10",
    ]
    (bundle / "vigil.toml").write_text("\n".join(lines) + "\n")
    print(f"exported {bundle / 'model.onnx'}; max |onnx - numpy| = {err:.2e}; accuracy {acc}")


if __name__ == "__main__":
    main()
