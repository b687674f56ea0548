#!/usr/bin/env python3
"""Trains the ECG heartbeat example device and exports it for Vigil (DEMO: not a medical device).

Data: single heartbeats of a one-lead ECG, 1 s windows (128 samples at 128 Hz) centred on the
R peak, amplitudes in mV, generated here by a documented numpy model (nothing is downloaded):
each beat is a sum of Gaussian waves, as in McSharry et al.'s ECGSYN (IEEE TBME 2003),

    v(t) = sum_i a_i exp(-(t - mu_i)^2 / (2 s_i^2)) + baseline wander + noise,

with waves P, Q, R, S, T whose amplitudes a_i (mV), centres mu_i (s) and widths s_i (s) are
drawn around the class template below (amplitude x N(1, 0.12), centre + N(0, 0.008 s), width x
N(1, 0.12)), the T wave shifted by the beat's RR interval (heart rate 50-110 bpm), a baseline
wander 0.08 mV x sin(2 pi f t + phi) with f in [0.15, 0.5] Hz, an overall gain x N(1, 0.1), and
white noise of 0.02 mV. Classes (AAMI EC57 beat classes):

  normal  N: P wave, narrow QRS, upright T;
  pvc     V: premature ventricular contraction: no P wave, wide tall QRS, deep S, inverted T;
  apc     S: atrial premature contraction: early, inverted P wave, otherwise normal QRS-T.

Model: an MLP (128 -> 32 ReLU -> 3 softmax) trained by scikit-learn on the raw samples, exported
by ../common/onnx_mlp.py using only MatMul, Add, Relu, Softmax. Outputs: `probabilities` float32
[N, 3] and `hidden` float32 [N, 32] (the ReLU layer, for the guard's hidden-feature detector).

Split: 3 x 600 beats, 60/20/20 training / calibration / validation, stratified, seed 20261124.
Writes bundle/model.onnx, bundle/vigil.toml and data/{training,calibration,validation}.csv.

    .venv/bin/python examples/devices/ecg-beats/train.py
"""

import csv
import hashlib
import pathlib

import sys

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 20261124
FS = 128
LENGTH = 128
HIDDEN = 32
PER_CLASS = 600
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "common"))
from onnx_mlp import export_mlp  # noqa: E402  (the examples' shared export)
from data_root import csv_root  # noqa: E402  (the root `vigil data manifest` signs)
LABELS = ["normal", "pvc", "apc"]
AMPLITUDE = (-5.0, 5.0)  # mV: the contract's plausible range for one lead

# Class templates: (amplitude mV, centre s, width s) for P, Q, R, S, T (None: wave absent).
TEMPLATES = {
    "normal": [(0.15, -0.20, 0.025), (-0.10, -0.030, 0.010), (1.20, 0.0, 0.012),
               (-0.25, 0.030, 0.012), (0.30, 0.26, 0.045)],
    "pvc": [None, (-0.05, -0.050, 0.015), (1.50, 0.0, 0.035),
            (-0.60, 0.070, 0.030), (-0.40, 0.30, 0.060)],
    "apc": [(-0.12, -0.13, 0.020), (-0.10, -0.030, 0.010), (1.15, 0.0, 0.012),
            (-0.25, 0.030, 0.012), (0.28, 0.24, 0.045)],
}


def beats(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    t = (np.arange(LENGTH) - LENGTH // 2) / FS
    out = np.empty((n, LENGTH))
    for k in range(n):
        rr = 60.0 / rng.uniform(50, 110)
        v = np.zeros(LENGTH)
        for i, wave in enumerate(TEMPLATES[kind]):
            if wave is None:
                continue
            a, mu, s = wave
            a *= rng.normal(1, 0.12)
            mu += rng.normal(0, 0.008) + (0.12 * (rr - 0.8) if i == 4 else 0.0)
            s *= abs(rng.normal(1, 0.12))
            v += a * np.exp(-((t - mu) ** 2) / (2 * s * s))
        v *= rng.normal(1, 0.1)
        v += 0.08 * np.sin(2 * np.pi * rng.uniform(0.15, 0.5) * t + rng.uniform(0, 2 * np.pi))
        v += rng.normal(0, 0.02, LENGTH)
        out[k] = v
    return out


# The guard's tables (docs/guard.md); thresholds are fitted by `vigil guard calibrate`
# (build.sh) into bundle/reference/guard.json.
GUARD_TABLES = [
    "",
    "[detectors]",
    "fpr = 0.05",
    "mahalanobis_input = true",
    "mahalanobis_hidden = true",
    "squeeze_bits = 7",
    "median_window = 3",
    "margin = true",
    "shrinkage = 0.01",
    "folds = 5",
    "",
    "[output]",
    'mode = "top_k"',
    "top_k = 2",
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
    "rate_per_second = 20.0",
    "burst = 40.0",
    "query_budget = 20000",
    "budget_alarm_share = 0.8",
    "max_clients = 1000",
    "max_payload_values = 1024",
    "max_client_id_bytes = 256",
]


def main() -> None:
    rng = np.random.default_rng(SEED)
    x = np.vstack([beats(kind, PER_CLASS, rng) for kind in LABELS])
    y = np.repeat(np.arange(len(LABELS)), PER_CLASS)
    x = np.round(x, 4)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=SEED, stratify=y)
    x_cal, x_val, y_cal, y_val = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=SEED, stratify=y_rest)

    clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", alpha=1e-3,
                        max_iter=1000, random_state=SEED)
    clf.fit(x_train, y_train)
    w1, w2 = (w.astype(np.float32) for w in clf.coefs_)
    b1, b2 = (b.astype(np.float32) for b in clf.intercepts_)

    model, err = export_mlp(w1, b1, w2, b2, "ecg_beats_mlp", "vigil-example-ecg-beats", x,
                            clf.predict_proba, "scikit-learn")

    bundle = HERE / "bundle"
    datadir = HERE / "data"
    bundle.mkdir(exist_ok=True)
    datadir.mkdir(exist_ok=True)
    (bundle / "model.onnx").write_bytes(model.SerializeToString())
    names = [f"t{i}" for i in range(LENGTH)]
    digests = {}
    for split, xs, ys in [("training", x_train, y_train), ("calibration", x_cal, y_cal),
                          ("validation", x_val, y_val)]:
        path = datadir / f"{split}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(names + ["label"])
            for row, label in zip(xs, ys):
                w.writerow([f"{v:.4f}" for v in row] + [int(label)])
        digests[split] = hashlib.sha256(path.read_bytes()).hexdigest()
    acc = {name: float((clf.predict(xs) == ys).mean())
           for name, xs, ys in [("training", x_train, y_train), ("calibration", x_cal, y_cal),
                                ("validation", x_val, y_val)]}
    lines = [
        "# vigil.toml: the ECG heartbeat example device (DEMO: not a medical device).",
        "# Written by train.py; calibrate (vigil guard calibrate) and sign again after any change.",
        "",
        "[bundle]",
        'name = "ecg-beats"',
        'version = "1.0.0"',
        'model = "model.onnx"',
        'intended_use = "Demonstration only. Classifies single synthetic one-lead ECG beats as '
        'normal, premature ventricular or premature atrial, to show Vigil\'s controls on a '
        'physiological signal. Not for clinical use."',
        "demo = true",
        "",
        "[model_card]",
        f'architecture = "MLP {LENGTH}-{HIDDEN}-3 (ReLU, softmax) on raw samples in mV"',
        f'training_data = "synthetic ECGSYN-style beats from train.py, seed {SEED}, 60% split"',
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
        "# One window of one ECG lead, centred on the R peak; batch dimension first.",
        'safe_state = "no automated beat label: the strip is flagged for a clinician"',
        "[[contract.inputs]]",
        'name = "input"',
        'dtype = "float32"',
        f"shape = [-1, {LENGTH}]",
        "",
        "[contract.output]",
        'name = "probabilities"',
        f"labels = {LABELS!r}".replace("'", '"'),
        'hidden = "hidden"',
        "",
        "[contract.signal]",
        f"sampling_rate_hz = {FS}.0",
        f"length = {LENGTH}",
        'unit = "mV"',
        f"min = {AMPLITUDE[0]}",
        f"max = {AMPLITUDE[1]}",
        'column_prefix = "t"',
    ]
    lines += GUARD_TABLES
    # The acceptance set `vigil update install` runs through the guard before activating a
    # release (docs/update.md): the validation split, shipped inside the signed bundle.
    (bundle / "acceptance.csv").write_bytes((datadir / "validation.csv").read_bytes())
    lines += [
        "",
        "[acceptance]",
        'data = "acceptance.csv"',
        "min_accuracy = 0.92",
        "max_abstain_share = 0.10",
    ]
    (bundle / "vigil.toml").write_text("\n".join(lines) + "\n")
    print(f"exported {bundle / 'model.onnx'}; max |onnx - sklearn| = {err:.2e}; accuracy {acc}")


if __name__ == "__main__":
    main()
