"""vigil assess against onnxruntime, scikit-learn and ART 1.20 (see run.sh)."""

import csv
import json
import os
import subprocess
import sys
import tempfile
import tomllib
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
from sklearn.metrics import roc_auc_score

warnings.filterwarnings("ignore")
from art.attacks.evasion import HopSkipJump, SquareAttack  # noqa: E402
from art.estimators.classification import BlackBoxClassifier, BlackBoxClassifierNeuralNetwork  # noqa: E402

VIGIL = os.environ["VIGIL_BIN"]
ROOT = Path(__file__).resolve().parents[2]
ROWS = int(os.environ.get("ASSESS_INTEROP_ROWS", "40"))
SEED = 1
# HopSkipJump's parameters on both sides (ART's names); Vigil's query budget is set above what
# ART spends with them, so that both run the same iterations.
HSJ = dict(max_iter=20, max_eval=1000, init_eval=100, init_size=100)
SQUARE_QUERIES = 300
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}")


class Device:
    def __init__(self, name, shape):
        self.dir = ROOT / "examples/devices" / name
        self.bundle = self.dir / "bundle"
        self.key = self.dir / "demo-keys/signing-key.pub.pem"
        cfg = tomllib.loads((self.bundle / "vigil.toml").read_text())
        c = cfg["contract"]
        if "signal" in c:
            s = c["signal"]
            prefix = s.get("column_prefix", "t")
            self.names = [f"{prefix}{i}" for i in range(s["length"])]
            self.lo = np.full(s["length"], s["min"])
            self.hi = np.full(s["length"], s["max"])
        else:
            self.names = [f["name"] for f in c["features"]]
            self.lo = np.array([f["min"] for f in c["features"]], dtype=np.float64)
            self.hi = np.array([f["max"] for f in c["features"]], dtype=np.float64)
        self.output = c["output"]["name"]
        self.labels = c["output"]["labels"]
        ref = json.loads((self.bundle / "reference/guard.json").read_text())
        self.scale = np.array(ref["distance_scale"], dtype=np.float64)
        self.sess = ort.InferenceSession(str(self.bundle / cfg["bundle"]["model"]))
        self.input = self.sess.get_inputs()[0].name
        self.shape = shape  # the row as an image for ART's SquareAttack (channels first)

    def predict(self, x):
        x = np.asarray(x, dtype=np.float32).reshape(-1, len(self.names))
        return self.sess.run([self.output], {self.input: x})[0]

    def read(self, split, n=None):
        with open(self.dir / f"data/{split}.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        rows = rows[:n] if n else rows
        x = np.array([[float(r[k]) for k in self.names] for r in rows], dtype=np.float32)
        y = np.array([int(float(r["label"])) for r in rows])
        return x, y

    def vigil(self, *args):
        cmd = [VIGIL, "assess", *args, "--bundle", str(self.bundle), "--key", str(self.key)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}: exit {out.returncode}\n{out.stderr}")
        return json.loads(out.stdout)


def dist(a, b, scale, norm):
    d = (np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) / scale
    return np.abs(d).max(axis=-1) if norm == "linf" else np.sqrt((d * d).sum(axis=-1))


def robustness(dev, norm, budgets, tmp):
    x, y = dev.read("validation", ROWS)
    adv_csv = tmp / f"adv-{norm}.csv"
    args = ["robustness", "--data", str(dev.dir / "data/validation.csv"), "--rows", str(ROWS),
            "--norm", norm, "--seed", str(SEED), "--json", "--emit-adversarial", str(adv_csv),
            "--attack", "hopskipjump", "--attack", "square", "--max-queries", "20000",
            "--hsj-max-iter", str(HSJ["max_iter"]), "--hsj-max-eval", str(HSJ["max_eval"]),
            "--hsj-init-eval", str(HSJ["init_eval"]), "--hsj-init-size", str(HSJ["init_size"]),
            "--square-max-iter", str(SQUARE_QUERIES), "--square-p-init", "0.3"]
    for b in budgets:
        args += ["--budget", str(b)]
    report = dev.vigil(*args)
    correct = dev.predict(x).argmax(1) == y
    check(abs(report["clean_accuracy"] - correct.mean()) < 1e-12, f"{dev.dir.name} clean accuracy")
    # Every emitted row: flips the model in onnxruntime, inside the contract and the budget.
    with open(adv_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    counts = {}
    for r in rows:
        v = np.array([float(r[k]) for k in dev.names], dtype=np.float32)
        i, b = int(r["row"]), float(r["budget"])
        counts[(r["attack"], b)] = counts.get((r["attack"], b), 0) + 1
        what = f"{dev.dir.name} {r['attack']} {norm} {b} row {i}"
        check(dev.predict(v).argmax() != int(r["label"]) and int(r["label"]) == y[i], what + " flips")
        check(bool(((v >= dev.lo) & (v <= dev.hi)).all()), what + " inside the contract")
        check(dist(v, x[i], dev.scale, norm) <= b, what + " inside the budget")
    for a in report["attacks"]:
        n = counts.get((a["attack"], a["budget"]), 0)
        check(abs(a["success_rate"] * correct.sum() - n) < 1e-6, f"{a['attack']} {a['budget']}: rows emitted")
    # ART on the same rows, in standardised coordinates with the contract's box.
    xs = x.astype(np.float64) / dev.scale
    lo, hi = dev.lo / dev.scale, dev.hi / dev.scale
    fn = lambda z: dev.predict(np.asarray(z, dtype=np.float64).reshape(len(z), -1) * dev.scale)
    flat = BlackBoxClassifier(fn, (len(dev.names),), len(dev.labels), clip_values=(lo.astype(np.float32), hi.astype(np.float32)))
    ok = np.where(correct)[0]
    art_norm = np.inf if norm == "linf" else 2
    np.random.seed(SEED)
    hsj = HopSkipJump(flat, norm=art_norm, verbose=False, **HSJ).generate(xs[ok].astype(np.float32))
    img = BlackBoxClassifierNeuralNetwork(
        fn, dev.shape, len(dev.labels), channels_first=True,
        clip_values=(lo.reshape(dev.shape).astype(np.float32), hi.reshape(dev.shape).astype(np.float32)))
    results = []
    for a in report["attacks"]:
        b = a["budget"]
        if a["attack"] == "hopskipjump":
            adv = hsj
        else:
            sq = SquareAttack(img, norm=art_norm, eps=b, max_iter=SQUARE_QUERIES, p_init=0.3, nb_restarts=1, verbose=False)
            onehot = np.eye(len(dev.labels))[y[ok]]
            adv = sq.generate(xs[ok].reshape((-1, *dev.shape)).astype(np.float32), y=onehot).reshape(len(ok), -1)
        flipped = (fn(adv).argmax(1) != y[ok]) & (dist(adv * dev.scale, x[ok], dev.scale, norm) <= b + 1e-6)
        art_acc = (correct.sum() - flipped.sum()) / len(y)
        results.append((a["attack"], norm, b, a["accuracy_under_attack"], art_acc))
        check(a["accuracy_under_attack"] <= art_acc + 0.05,
              f"{dev.dir.name} {a['attack']} {norm} {b}: vigil {a['accuracy_under_attack']:.3f} vs ART {art_acc:.3f}")
    return results


def membership(dev, tmp):
    out = tmp / "scores.csv"
    report = dev.vigil("membership", "--members", str(dev.dir / "data/training.csv"),
                       "--nonmembers", str(dev.dir / "data/validation.csv"),
                       "--json", "--emit-scores", str(out))
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    for p in report["policies"]:
        for a in p["attacks"]:
            sel = [r for r in rows if r["policy"] == p["policy"] and r["attack"] == a["attack"]]
            auc = roc_auc_score([int(r["member"]) for r in sel], [float(r["score"]) for r in sel])
            check(abs(auc - a["auc"]) <= 1e-6, f"{dev.dir.name} {p['policy']} {a['attack']}: AUC {a['auc']} vs sklearn {auc}")
    # Label only: the loss attack's AUC is 0.5 + (member accuracy - non-member accuracy) / 2.
    xm, ym = dev.read("training")
    xn, yn = dev.read("validation")
    am = (dev.predict(xm).argmax(1) == ym).mean()
    an = (dev.predict(xn).argmax(1) == yn).mean()
    label = next(p for p in report["policies"] if p["policy"] == "label")
    loss = next(a for a in label["attacks"] if a["attack"] == "loss")
    check(abs(loss["auc"] - (0.5 + (am - an) / 2)) <= 1e-6, f"{dev.dir.name} label-only loss AUC")


def main():
    table = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for dev, budgets in [(Device("breast-cancer", (1, 5, 6)), {"linf": [0.25, 0.5, 1.0], "l2": [0.5, 1.0, 2.0]}),
                             (Device("ecg-beats", (1, 8, 16)), {"linf": [0.25, 0.5], "l2": [1.0, 2.0]})]:
            for norm, bs in budgets.items():
                table += [(dev.dir.name, *r) for r in robustness(dev, norm, bs, tmp)]
            membership(dev, tmp)
    print("| device | attack | norm | budget | accuracy under attack, vigil | ART 1.20 |")
    print("|---|---|---|---|---|---|")
    for d, a, n, b, v, r in table:
        print(f"| {d} | {a} | {n} | {b} | {v:.3f} | {r:.3f} |")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
