"""bench/assess/run: Vigil's HopSkipJump beside ART 1.20's on breast-cancer (see run)."""

import csv
import json
import os
import subprocess
import sys
import time
import tomllib
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort

warnings.filterwarnings("ignore")
from art.attacks.evasion import HopSkipJump  # noqa: E402
from art.estimators.classification import BlackBoxClassifier  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "examples/devices/breast-cancer"
HSJ = dict(max_iter=10, max_eval=1000, init_eval=100, init_size=100)
BUDGETS = [0.5, 1.0, 2.0]

cfg = tomllib.loads((DEV / "bundle/vigil.toml").read_text())
feats = cfg["contract"]["features"]
names = [f["name"] for f in feats]
lo = np.array([f["min"] for f in feats])
hi = np.array([f["max"] for f in feats])
scale = np.array(json.loads((DEV / "bundle/reference/guard.json").read_text())["distance_scale"])
sess = ort.InferenceSession(str(DEV / "bundle/model.onnx"))
inp = sess.get_inputs()[0].name
with open(DEV / "data/validation.csv", newline="") as f:
    rows = list(csv.DictReader(f))[:ROWS]
x = np.array([[float(r[k]) for k in names] for r in rows], dtype=np.float32)
y = np.array([int(float(r["label"])) for r in rows])
queries = [0]


def predict(z):
    z = np.asarray(z, dtype=np.float64).reshape(len(z), -1) * scale
    queries[0] += len(z)
    return sess.run(["probabilities"], {inp: z.astype(np.float32)})[0]


correct = predict(x / scale).argmax(1) == y
ok = np.where(correct)[0]
clf = BlackBoxClassifier(predict, (len(names),), 2, clip_values=((lo / scale).astype(np.float32), (hi / scale).astype(np.float32)))
np.random.seed(1)
queries[0] = 0
t0 = time.perf_counter()
adv = HopSkipJump(clf, norm=np.inf, verbose=False, **HSJ).generate((x[ok] / scale).astype(np.float32))
art_time = time.perf_counter() - t0
per_row = queries[0] // max(len(ok), 1)
d = np.abs(adv - x[ok] / scale).max(1)
flip = predict(adv).argmax(1) != y[ok]
art = {b: float(((d <= b) & flip).mean()) for b in BUDGETS}

cmd = [os.environ["ASSESS_EXAMPLE"], str(DEV), str(ROWS), str(per_row), str(HSJ["max_iter"]),
       *[str(b) for b in BUDGETS]]
t0 = time.perf_counter()
out = subprocess.run(cmd, capture_output=True, text=True, check=True)
vigil_time = time.perf_counter() - t0
report = json.loads(out.stdout)
vig = {a["budget"]: a["success_rate"] for a in report["attacks"]}

print(f"HopSkipJump (L-infinity), breast-cancer, {ROWS} rows ({len(ok)} attacked), "
      f"{per_row} queries per row (ART's mean), max_iter {HSJ['max_iter']}")
print()
print("| | wall time (s) | " + " | ".join(f"success at {b} sd" for b in BUDGETS) + " |")
print("|---|---|" + "---|" * len(BUDGETS))
print(f"| ART 1.20 + onnxruntime | {art_time:.2f} | " + " | ".join(f"{art[b]:.3f}" for b in BUDGETS) + " |")
print(f"| vigil-assess (process, bundle verification included) | {vigil_time:.2f} | " + " | ".join(f"{vig[b]:.3f}" for b in BUDGETS) + " |")
print(f"| ratio (vigil / ART) | {vigil_time / art_time:.3f} | " + " | ".join(
    f"{vig[b] / art[b]:.2f}" if art[b] > 0 else "-" for b in BUDGETS) + " |")
