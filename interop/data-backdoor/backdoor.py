"""vigil data screen's backdoor screen against reference spectral-signature screens.

Each case plants a trigger in a generated data set: a fraction `eps` of the rows of other
classes get a fixed pattern on a few features and the target class's label. A one-hidden-layer
ReLU network (scikit-learn's MLPClassifier) is trained on the poisoned data and written as an
ONNX graph whose output "hidden" is the hidden layer. Then, on the same representation:

  * the reference (Tran, Li and Madry, NeurIPS 2018) in numpy: per class, the representations
    centred, the top right singular vector from np.linalg.svd, scores (centred . v)^2, and the
    ceil(1.5 eps n) highest removed;
  * the Adversarial Robustness Toolbox's variant (`spectral_signature_scores`): |R . v| of the
    uncentred representations, rows at or above the (1 - 1.5 eps) quantile removed;
  * `vigil data screen --model M.onnx --representation hidden --poison-fraction eps`.

Vigil's recall of the planted rows must be at least each reference's. Prints
"N passed, N failed". Needs $VIGIL_BIN (set by interop/run) and the onnx package.
"""

import json
import math
import os
import random
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.neural_network import MLPClassifier

warnings.filterwarnings("ignore")
VIGIL = os.environ["VIGIL_BIN"]
_seed = os.environ.get("DATA_INTEROP_SEED", "20261205")
SEED = random.SystemRandom().randrange(2**31) if _seed == "random" else int(_seed)
print(f"backdoor seed {SEED} (DATA_INTEROP_SEED to replay)")
rng = np.random.default_rng(SEED + 1)


def make_case(n, k, d, eps, strength, wide_feature):
    centres = rng.normal(0, 2.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    x = centres[y] + rng.normal(0, 1, size=(n, d))
    if wide_feature:
        # A clean direction of larger variance than the trigger's: spectral signatures can
        # miss the trigger there, activation clustering is the second opinion.
        x[:, d - 1] *= 6.0
    target = 0
    sources = np.flatnonzero(y != target)
    planted = rng.choice(sources, size=max(1, int(round(eps * n))), replace=False)
    x[planted, :3] = strength
    y[planted] = target
    return x, y, set(int(i) for i in planted)


def onnx_mlp(model, d, path, input_shape=None, double=False, batch=None):
    """The network as ONNX: input "x" of shape [N, d] (or [N, *input_shape]: an image through
    an identity 1x1 convolution, then flattened), in float (or all in double); outputs "probs"
    and "hidden". With `batch`, the input is declared [batch, d] and reshaped to it, as a model
    exported without a dynamic batch is."""
    w1, w2 = model.coefs_
    b1, b2 = model.intercepts_
    if w2.shape[1] == 1:  # binary: one logit
        w2 = np.hstack([-w2, w2])
        b2 = np.hstack([-b2, b2])
    dtype = np.float64 if double else np.float32
    weights = [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]
    if input_shape:
        weights.append((np.ones((input_shape[0],) * 2 + (1, 1)), "k"))
    inits = [numpy_helper.from_array(a.astype(dtype), name) for a, name in weights]
    nodes = []
    first = "x"
    if batch:
        inits.append(numpy_helper.from_array(np.array([batch, d], dtype=np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", [first, "shape"], ["xr"]))
        first = "xr"
    if input_shape:
        nodes.append(helper.make_node("Conv", [first, "k"], ["xk"]))
        nodes.append(helper.make_node("Flatten", ["xk"], ["xf"], axis=1))
        first = "xf"
    nodes += [
        helper.make_node("MatMul", [first, "w1"], ["z1"]),
        helper.make_node("Add", ["z1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "w2"], ["z2"]),
        helper.make_node("Add", ["z2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    elem = TensorProto.DOUBLE if double else TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", elem, [batch] + list(input_shape or [d]))],
        [helper.make_tensor_value_info("probs", elem, [None, w2.shape[1]]),
         helper.make_tensor_value_info("hidden", elem, [None, w1.shape[1]])],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def hidden(model, x):
    w1, b1 = model.coefs_[0].astype(np.float32), model.intercepts_[0].astype(np.float32)
    return np.maximum(x.astype(np.float32) @ w1 + b1, 0).astype(np.float64)


def classes(reps, y):
    """Per class with at least 4 rows: its row indices, representations, and the top right
    singular vector of the centred representations (np.linalg.svd)."""
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) >= 4:
            r = reps[idx]
            _, _, vt = np.linalg.svd(r - r.mean(axis=0), full_matrices=False)
            yield idx, r, vt[0]


def reference_paper(reps, y, eps):
    flagged = set()
    for idx, r, v in classes(reps, y):
        score = ((r - r.mean(axis=0)) @ v) ** 2
        cut = min(len(idx), math.ceil(1.5 * eps * len(idx)))
        order = np.argsort(-score, kind="stable")[:cut]
        flagged.update(int(i) for i in idx[order])
    return flagged


def reference_art(reps, y, eps):
    flagged = set()
    for idx, r, v in classes(reps, y):
        score = np.abs(r @ v)
        cutoff = np.quantile(score, max(1 - 1.5 * eps, 0.0))
        flagged.update(int(i) for i in idx[score >= cutoff])
    return flagged


def recall(found, truth):
    return len(set(found) & truth) / len(truth)


def main():
    cases = []
    for k in (2, 3, 5):
        for eps in (0.01, 0.03, 0.05, 0.10):
            for strength in (4.0, 2.0, 1.0):
                cases.append(dict(n=400 * k, k=k, d=12, h=32, eps=eps, strength=strength,
                                  wide=False))
    for eps in (0.03, 0.10):
        cases.append(dict(n=1200, k=3, d=12, h=32, eps=eps, strength=3.0, wide=True))
    # The model's input as an image [N, 1, 3, 4] of the 12 feature columns, and as double.
    cases.append(dict(n=1200, k=3, d=12, h=32, eps=0.05, strength=2.0, wide=False,
                      input_shape=[1, 3, 4]))
    cases.append(dict(n=1200, k=3, d=12, h=32, eps=0.05, strength=2.0, wide=False, double=True))
    # A model exported for batches of one row.
    cases.append(dict(n=1200, k=3, d=12, h=32, eps=0.05, strength=2.0, wide=False, batch=1))
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, c in enumerate(cases):
            x, y, planted = make_case(c["n"], c["k"], c["d"], c["eps"], c["strength"], c["wide"])
            model = MLPClassifier(hidden_layer_sizes=(c["h"],), max_iter=300,
                                  random_state=int(rng.integers(2**31))).fit(x, y)
            path = os.path.join(tmp, f"m{i}.onnx")
            onnx_mlp(model, c["d"], path, c.get("input_shape"), c.get("double", False),
                     c.get("batch"))
            data = os.path.join(tmp, f"d{i}.csv")
            with open(data, "w") as f:
                f.write(",".join([f"f{j}" for j in range(c["d"])] + ["label"]) + "\n")
                for r in range(len(y)):
                    f.write(",".join([repr(float(v)) for v in x[r]] + [f"c{y[r]}"]) + "\n")
            # The poison fraction is that of the target class, as Tran et al. state it.
            eps = len(planted) / int(np.sum(y == 0))
            out = subprocess.run(
                [VIGIL, "data", "screen", "--json", "--no-outliers", "--data", data,
                 "--label", "label", "--model", path, "--representation", "hidden",
                 "--poison-fraction", str(eps)],
                capture_output=True, text=True)
            if out.returncode not in (0, 1):
                print(f"case {i} {c}: vigil exited {out.returncode}: {out.stderr}")
                failed += 1
                continue
            ours = [s["row"] for s in json.loads(out.stdout)["backdoor_suspects"]]
            reps = hidden(model, x)
            r_ours = recall(ours, planted)
            r_paper = recall(reference_paper(reps, y, eps), planted)
            r_art = recall(reference_art(reps, y, eps), planted)
            ok = r_ours >= r_paper and r_ours >= r_art
            passed += ok
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} case {i}: k={c['k']} eps={c['eps']} "
                  f"(in class {eps:.3f}) strength={c['strength']} wide={c['wide']} "
                  f"input={c.get('input_shape')} double={c.get('double', False)} "
                  f"batch={c.get('batch')}: "
                  f"recall vigil {r_ours:.3f}, "
                  f"paper {r_paper:.3f}, ART {r_art:.3f} ({len(ours)} suspects, "
                  f"{len(planted)} planted)")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
