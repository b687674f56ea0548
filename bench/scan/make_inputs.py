#!/usr/bin/env python3
"""Writes >= 1 GiB of real-size checkpoints for bench/scan/run (never committed).

PyTorch zip state dict (written in torch's own layout without torch: archive/data.pkl with
persistent-id storages, archive/data/N raw storages, stored members), safetensors, ONNX with
large initializers, and an uncompressed .npz.  Usage: make_inputs.py DIR [SCALE_MB]
"""
import io, os, pickle, sys, types, zipfile
from collections import OrderedDict

import numpy as np

out = sys.argv[1]
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1100  # total MB
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)

# --- fake torch names so the pickle says torch._utils._rebuild_tensor_v2 / torch.FloatStorage
torch = types.ModuleType("torch"); tu = types.ModuleType("torch._utils")
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = "torch._utils"; _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
tu._rebuild_tensor_v2 = _rebuild_tensor_v2
class FloatStorage: pass
FloatStorage.__module__ = "torch"; FloatStorage.__qualname__ = "FloatStorage"
torch.FloatStorage = FloatStorage; torch._utils = tu
sys.modules["torch"] = torch; sys.modules["torch._utils"] = tu

class Storage:
    def __init__(self, key, n): self.key, self.n = key, n
class Tensor:
    def __init__(self, st, shape): self.st, self.shape = st, shape
    def __reduce_ex__(self, p):
        return (_rebuild_tensor_v2, (self.st, 0, self.shape, (self.shape[1], 1), False, OrderedDict()))
class P(pickle.Pickler):
    def persistent_id(self, o):
        return ("storage", FloatStorage, o.key, "cpu", o.n) if isinstance(o, Storage) else None

def layers(total_mb, width=1024):
    rows = width
    per = rows * width * 4
    n = max(1, total_mb * (1 << 20) // per)
    return [(f"layers.{i}.weight", (rows, width)) for i in range(n)]

def torch_zip(path, mb):
    spec = layers(mb)
    sd = OrderedDict((name, Tensor(Storage(str(i), shape[0] * shape[1]), shape)) for i, (name, shape) in enumerate(spec))
    buf = io.BytesIO(); P(buf, protocol=2).dump(sd)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for i, (_, shape) in enumerate(spec):
            z.writestr(f"archive/data/{i}", rng.standard_normal(shape, dtype=np.float32).tobytes())
        z.writestr("archive/version", "3\n")

def safetensors_file(path, mb):
    from safetensors.numpy import save_file
    save_file({name: rng.standard_normal(shape, dtype=np.float32) for name, shape in layers(mb)}, path)

def onnx_file(path, mb):
    import onnx
    from onnx import helper, TensorProto, numpy_helper
    spec = layers(mb)
    inits = [numpy_helper.from_array(rng.standard_normal(shape, dtype=np.float32), f"W{i}") for i, (_, shape) in enumerate(spec)]
    nodes, prev = [], "x"
    for i in range(len(spec)):
        nodes.append(helper.make_node("MatMul", [prev, f"W{i}"], [f"h{i}"])); prev = f"h{i}"
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 1024])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with open(path, "wb") as f:
        f.write(m.SerializeToString())

def npz_file(path, mb):
    np.savez(path, **{name.replace(".", "_"): rng.standard_normal(shape, dtype=np.float32) for name, shape in layers(mb)})

torch_zip(os.path.join(out, "pytorch_model.bin"), scale * 4 // 11)
safetensors_file(os.path.join(out, "model.safetensors"), scale * 3 // 11)
onnx_file(os.path.join(out, "model.onnx"), scale * 3 // 11)
npz_file(os.path.join(out, "weights.npz"), scale * 1 // 11)
total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
print(f"{total / (1 << 30):.2f} GiB in {out}")
