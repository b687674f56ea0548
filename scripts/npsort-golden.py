#!/usr/bin/env python3
"""Golden orders of np.argsort for vigil-data's replay of numpy's AVX-512 sorting network
(crates/vigil-data/src/screen/npsort.rs). Run with the project's venv on an x86-64 machine with
AVX-512 (numpy reports X86_V4 in np.show_runtime()):

    .venv/bin/python scripts/npsort-golden.py > crates/vigil-data/src/screen/npsort-golden.txt

Each line: the keys, '|', the order np.argsort gives. Keys come from a few levels so that
ties, which the network orders in its own way, are common; sizes cover one to four registers
of eight lanes, and a few longer arrays up to 256.
"""
import numpy as np

rng = np.random.default_rng(20261205)
levels = [0.0, 0.5, -0.5, 0.25, -0.25, 0.3, -0.1, 0.125, 1e-9, 0.75]
sizes = list(range(1, 41)) * 14 + [64, 100, 129, 200, 256] * 4
for n in sizes:
    pool = rng.choice(levels, size=int(rng.integers(1, 5)), replace=False)
    x = rng.choice(pool, size=n)
    order = np.argsort(x)
    print(" ".join(repr(float(v)) for v in x), "|", " ".join(str(int(i)) for i in order))
