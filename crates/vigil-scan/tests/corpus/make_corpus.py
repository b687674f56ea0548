#!/usr/bin/env python3
"""Writes the vigil-scan test corpus: malicious, benign and malformed samples for every rule.

Run from the repository root with the project venv (scripts/python-env):
    .venv/bin/python crates/vigil-scan/tests/corpus/make_corpus.py
The output under crates/vigil-scan/tests/data/ is committed so `cargo test` needs no Python.
Nothing here loads a malicious sample: they are built from opcodes or pickled (never unpickled).
Seeded and deterministic (zip timestamps fixed) so re-running gives the same bytes where the
libraries allow. Generated with numpy, scikit-learn, joblib, onnx, safetensors, lightgbm and
xgboost-cpu (see tests/requirements.txt); torch is not needed, its formats are written by hand below.
"""
import bz2, gzip, io, json, lzma, os, pickle, random, shutil, struct, sys, tarfile, types, zipfile, zlib
from collections import OrderedDict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
random.seed(1234)

def out(rel, data):
    p = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)

# ---------------------------------------------------------------------------------------------
# raw pickle builders
def s4(x):  # SHORT_BINUNICODE
    b = x.encode()
    return b"\x8c" + bytes([len(b)]) + b
def call_p2(module, name, arg="id"):
    """protocol 2: GLOBAL module name, (arg,), REDUCE."""
    return b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nX" + struct.pack("<I", len(arg)) + arg.encode() + b"\x85R."
EVIL = call_p2("os", "system")

class Reduce:
    def __init__(self, f, args): self.f, self.args = f, args
    def __reduce__(self): return (self.f, self.args)

def reset():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)

# ---------------------------------------------------------------------------------------------
# fake torch modules so pickle can name torch globals without torch installed
def fake_torch():
    if "torch" in sys.modules:
        return sys.modules["torch"], sys.modules["torch._utils"]
    torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
    def _rebuild_tensor_v2(*a): pass
    _rebuild_tensor_v2.__module__ = "torch._utils"; _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"; utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    class FloatStorage: pass
    FloatStorage.__module__ = "torch"; FloatStorage.__qualname__ = "FloatStorage"; torch.FloatStorage = FloatStorage
    torch._utils = utils
    sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
    return torch, utils

class Storage:
    def __init__(self, key, n): self.key, self.n = key, n
class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape
    def __reduce_ex__(self, proto):
        _, utils = fake_torch()
        stride = tuple(int(x) for x in [self.shape[1], 1]) if len(self.shape) == 2 else (1,)
        return (utils._rebuild_tensor_v2, (self.storage, 0, self.shape, stride, False, OrderedDict()))

class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            torch, _ = fake_torch()
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.n)
        return None

def torch_state_pickle():
    fake_torch()
    sd = OrderedDict()
    sd["fc.weight"] = Tensor(Storage("0", 6), (2, 3))
    sd["fc.bias"] = Tensor(Storage("1", 2), (2,))
    buf = io.BytesIO(); TorchPickler(buf, protocol=2).dump(sd)
    del sys.modules["torch"], sys.modules["torch._utils"]  # other libraries probe for torch
    return buf.getvalue()

def zinfo(name):
    zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_STORED
    return zi

def torch_zip(members, root="archive"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            z.writestr(zinfo(f"{root}/{name}" if root else name), data)
    return buf.getvalue()

def torch_zip_state():
    return [("data.pkl", torch_state_pickle()), ("byteorder", b"little"),
            ("data/0", struct.pack("<6f", *[0.5] * 6)), ("data/1", struct.pack("<2f", 0.1, 0.2)),
            ("version", b"3\n"), (".data/serialization_id", b"1234567890")]

def legacy_torch(main_pickle_bytes):
    magic = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)
    ver = pickle.dumps(1001, protocol=2)
    sysinfo = pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    keys = pickle.dumps(["0"], protocol=2)
    data = struct.pack("<q", 2) + struct.pack("<2f", 1.0, 2.0)
    return magic + ver + sysinfo + main_pickle_bytes + keys + data

# ---------------------------------------------------------------------------------------------
# GGUF writer
def gguf(kvs, tensors=()):
    def s(x):
        b = x.encode(); return struct.pack("<Q", len(b)) + b
    out_ = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, v in kvs:
        out_ += s(k)
        if isinstance(v, str): out_ += struct.pack("<I", 8) + s(v)
        elif isinstance(v, int): out_ += struct.pack("<I", 4) + struct.pack("<I", v)
    for name, dims in tensors:
        out_ += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", 0, 0)
    out_ += b"\0" * ((32 - len(out_) % 32) % 32)
    out_ += b"\0" * 64
    return out_

def keras_zip(config):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zinfo("metadata.json"), json.dumps({"keras_version": "3.6.0", "date_saved": "2026-01-01@00:00:00"}))
        z.writestr(zinfo("config.json"), json.dumps(config))
        z.writestr(zinfo("model.weights.h5"), b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    return buf.getvalue()

def keras_dense(extra_layers=()):
    layers = [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "input"}, "registered_name": None},
              {"module": "keras.layers", "class_name": "Dense", "config": {"units": 2, "activation": {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "function"}, "name": "dense"}, "registered_name": None}]
    layers += list(extra_layers)
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "layers": layers}, "registered_name": None}

# ---------------------------------------------------------------------------------------------
def malicious():
    out("malicious/os_system_p0.pkl", b"cos\nsystem\n(S'id'\ntR.")
    out("malicious/posix_system_reduce.pkl", pickle.dumps(Reduce(os.system, ("id",)), protocol=4))
    # STACK_GLOBAL whose names are memoized, then fetched again through BINGET
    out("malicious/stack_global_memo.pkl",
        b"\x80\x04" + s4("os") + b"\x94" + s4("system") + b"\x94" + b"0" + b"0" + b"h\x00h\x01\x93" + s4("id") + b"\x85R.")
    out("malicious/builtins_exec.pkl", call_p2("builtins", "exec", "import os; os.system('id')"))
    # getattr(importlib.import_module('os'), 'system')('id')
    out("malicious/getattr_import_module.pkl",
        b"\x80\x02cbuiltins\ngetattr\ncimportlib\nimport_module\n" + s4("os") + b"\x85R" + s4("system") + b"\x86R" + s4("id") + b"\x85R.")
    # operator.methodcaller('system', 'id')(posixpath.os)
    out("malicious/methodcaller_posixpath_os.pkl",
        b"\x80\x02coperator\nmethodcaller\n" + s4("system") + s4("id") + b"\x86R" + b"cposixpath\nos\n\x85R.")
    # operator.attrgetter('system')(posixpath.os)('id')
    out("malicious/attrgetter.pkl",
        b"\x80\x02coperator\nattrgetter\n" + s4("system") + b"\x85R" + b"cposixpath\nos\n\x85R" + s4("id") + b"\x85R.")
    out("malicious/inst_p0.pkl", b"(S'id'\nios\nsystem\n.")
    out("malicious/obj_p1.pkl", b"(cos\nsystem\nS'id'\no.")
    # copyreg.add_extension('os', 'system', 240) then EXT1 240
    out("malicious/ext_registered.pkl",
        b"\x80\x02ccopyreg\nadd_extension\n" + s4("os") + s4("system") + b"K\xf0\x87R0\x82\xf0" + s4("id") + b"\x85R.")
    out("malicious/ext_unregistered.pkl", b"\x80\x02\x82\x07" + s4("id") + b"\x85R.")
    out("malicious/nested_pickle_loads.pkl", pickle.dumps(Reduce(pickle.loads, (EVIL,)), protocol=4))
    out("malicious/nested_dill_loads.pkl", call_p2("dill", "loads", "x"))
    # pickle.loads(_codecs.encode("<evil>", "latin1")): protocol 2 writes bytes this way
    out("malicious/nested_loads_codecs.pkl", pickle.dumps(Reduce(pickle.loads, (EVIL,)), protocol=2))
    import base64
    out("malicious/nested_loads_base64.pkl",
        b"\x80\x02cpickle\nloads\ncbase64\nb64decode\n" + s4(base64.b64encode(EVIL).decode()) + b"\x85R\x85R.")
    # pickle.loads(bytes.fromhex("<evil>"))
    out("malicious/nested_loads_hex.pkl",
        b"\x80\x04cpickle\nloads\ncbuiltins\nbytes.fromhex\n" + s4(EVIL.hex()) + b"\x85R\x85R.")
    # yaml.unsafe_load("!!python/object/apply:os.system ['id']")
    out("malicious/yaml_unsafe_load.pkl", call_p2("yaml", "unsafe_load", "!!python/object/apply:os.system ['id']"))
    # builtins.dict.get(numpy.__builtins__, "exec")("...") : a safe module's __builtins__ dict
    out("malicious/numpy_builtins_dict_get.pkl",
        b"\x80\x04cbuiltins\ndict.get\ncnumpy\n__builtins__\n" + s4("exec") + b"\x86R" + s4("import os") + b"\x85R.")
    # BUILD plants sys.modules entries as attributes of numpy.prod, then numpy.prod.os.system is imported
    out("malicious/build_planted_attribute.pkl",
        b"\x80\x04cnumpy\nprod\nNcnumpy\ncore._internal.sys.modules\n\x86b0cnumpy\nprod.os.system\n" + s4("id") + b"\x85R.")
    out("malicious/mailcap_findmatch.pkl", call_p2("mailcap", "findmatch", "x"))
    # getattr(operator.getitem(sys.modules, "os"), "system")("id")
    out("malicious/sys_modules_getitem.pkl",
        b"\x80\x02cbuiltins\ngetattr\ncoperator\ngetitem\ncsys\nmodules\n" + s4("os") + b"\x86R" + s4("system") + b"\x86R" + s4("id") + b"\x85R.")
    out("malicious/dill_create_code.pkl", call_p2("dill._dill", "_create_code", "x"))
    out("malicious/module_mutation.pkl", b"\x80\x02ccollections\nOrderedDict\n}" + s4("__repr__") + s4("x") + b"sb.")
    out("malicious/unknown_global.pkl", b"\x80\x02c__main__\nPayload\n)\x81.")
    # STACK_GLOBAL whose module name is a call result: cannot be resolved statically
    out("malicious/dynamic_stack_global.pkl",
        b"\x80\x04cbuiltins\nstr\n" + s4("os") + b"\x85R" + s4("system") + b"\x93" + s4("id") + b"\x85R.")
    # module name from a call we do not model (str.lower): unresolvable, and then called
    out("malicious/dynamic_stack_global_unresolved.pkl",
        b"\x80\x04cbuiltins\nstr.lower\n" + s4("OS") + b"\x85R" + s4("system") + b"\x93" + s4("id") + b"\x85R.")
    out("malicious/concatenated.pkl", pickle.dumps({"a": 1}, protocol=2) + EVIL)
    out("malicious/broken_after_call.pkl", EVIL[:-1] + b"\xff\xff")
    # containers
    out("malicious/torch_renamed_member.pt", torch_zip(torch_zip_state() + [("code/__init__.bin", call_p2("subprocess", "check_output", "id"))]))
    out("malicious/torch_evil_data.pt", torch_zip([("data.pkl", EVIL), ("byteorder", b"little"), ("version", b"3\n")]))
    out("malicious/torch_pickle_in_storage.pt", torch_zip([("data.pkl", torch_state_pickle()), ("byteorder", b"little"), ("data/0", EVIL), ("data/1", b"\0" * 8), ("version", b"3\n")]))
    # local header names a different member than the central directory
    z = bytearray(torch_zip([("data.pkl", EVIL), ("version", b"3\n")]))
    i = z.index(b"archive/data.pkl"); z[i:i + 16] = b"archive/xxxx.pkl"
    out("malicious/zip_local_name_mismatch.pt", bytes(z))
    # a local entry the central directory does not list
    good = torch_zip(torch_zip_state())
    hidden = zipfile.ZipInfo("archive/hidden.pkl", date_time=(2026, 1, 1, 0, 0, 0))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(hidden, EVIL)
    hb = buf.getvalue(); local = hb[:hb.index(b"PK\x01\x02")]
    cd = good.index(b"PK\x01\x02")
    eocd = good.rindex(b"PK\x05\x06")
    cd_bytes = bytearray(good[cd:eocd]); eocd_bytes = bytearray(good[eocd:])
    struct.pack_into("<I", eocd_bytes, 16, cd + len(local))
    # shift nothing before cd: prepend hidden entry right before the central directory
    out("malicious/zip_hidden_local_entry.pt", good[:cd] + local + bytes(cd_bytes) + bytes(eocd_bytes))
    z = bytearray(torch_zip([("data.pkl", EVIL), ("version", b"3\n")]))
    cdpos = z.index(b"PK\x01\x02"); z[cdpos + 16:cdpos + 20] = b"\xde\xad\xbe\xef"
    lpos = z.index(b"PK\x03\x04"); z[lpos + 14:lpos + 18] = b"\xde\xad\xbe\xef"
    out("malicious/zip_bad_crc.pt", bytes(z))
    out("malicious/nested_zip.zip", (lambda: (lambda b: (b, b.getvalue())[1])(io.BytesIO()))() if False else nested_zip())
    out("malicious/evil.pkl.gz", gzip.compress(EVIL, mtime=0))
    out("malicious/evil.pkl.bz2", bz2.compress(EVIL))
    out("malicious/evil.pkl.xz", lzma.compress(EVIL, format=lzma.FORMAT_XZ))
    out("malicious/evil.pkl.lzma", lzma.compress(EVIL, format=lzma.FORMAT_ALONE))
    out("malicious/evil_zlib.joblib", zlib.compress(EVIL))
    # old joblib (< 0.10) zfile: b"ZF" + hex length padded to 19 bytes + zlib stream
    out("malicious/evil_old_joblib_zfile.pkl", b"ZF" + "{:#x}".format(len(EVIL)).ljust(19).encode() + zlib.compress(EVIL))
    out("malicious/legacy_torch_evil.pt", legacy_torch(EVIL))
    tb = io.BytesIO()
    with tarfile.open(fileobj=tb, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in [("sys_info", pickle.dumps({"protocol_version": 1001}, protocol=2)), ("pickle", EVIL), ("storages", pickle.dumps(0, protocol=2)), ("tensors", pickle.dumps(0, protocol=2))]:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    out("malicious/legacy_torch_tar.tar", tb.getvalue())
    import numpy as np, joblib
    arr = np.zeros(3, dtype=object); arr[0] = Reduce(os.system, ("id",))
    b = io.BytesIO(); np.save(b, arr, allow_pickle=True); out("malicious/object_array.npy", b.getvalue())
    b = io.BytesIO(); np.savez(b, weights=np.arange(4.0), evil=arr); out("malicious/object_array.npz", b.getvalue())
    b = io.BytesIO(); np.savez_compressed(b, weights=np.arange(4096.0), evil=arr); out("malicious/object_array_compressed.npz", b.getvalue())
    b = io.BytesIO(); joblib.dump({"w": np.arange(10.0), "payload": Reduce(os.system, ("id",))}, b); out("malicious/joblib_payload.joblib", b.getvalue())
    b = io.BytesIO(); joblib.dump({"w": np.arange(10.0), "objs": arr}, b); out("malicious/joblib_object_array.joblib", b.getvalue())
    import onnx
    from onnx import helper, TensorProto
    def onnx_model(nodes, inits, domain_opsets=()):
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)] + [helper.make_opsetid(d, 1) for d in domain_opsets], producer_name="vigil-corpus")
    out("malicious/keras_lambda.keras", keras_zip(keras_dense([{"module": "keras.layers", "class_name": "Lambda", "config": {"name": "lam", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None}}}, "registered_name": None}])))
    # a Keras archive glued after an innocent-looking ONNX model: zipfile (and Keras) accept the prefix
    lam = keras_zip(keras_dense([{"module": "keras.layers", "class_name": "Lambda", "config": {"name": "lam"}, "registered_name": None}]))
    w0 = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    out("malicious/onnx_with_appended_keras.keras", onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], [w0]).SerializeToString() + lam)
    out("malicious/keras_os_function.keras", keras_zip(keras_dense([{"module": "keras.layers", "class_name": "Activation", "config": {"name": "act", "activation": {"module": "os", "class_name": "function", "config": "system", "registered_name": "function"}}, "registered_name": None}])))
    out("malicious/keras_custom_layer.keras", keras_zip(keras_dense([{"module": "my_layers", "class_name": "Custom", "config": {"name": "c"}, "registered_name": "Custom>Custom"}])))
    import onnx
    from onnx import helper, TensorProto
    def onnx_model(nodes, inits, domain_opsets=()):
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)] + [helper.make_opsetid(d, 1) for d in domain_opsets], producer_name="vigil-corpus")
        return m
    w = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    w.data_location = TensorProto.EXTERNAL; del w.float_data[:]
    e = w.external_data.add(); e.key = "location"; e.value = "../../../etc/passwd"
    out("malicious/onnx_external_escape.onnx", onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], [w]).SerializeToString())
    w = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    w.data_location = TensorProto.EXTERNAL; del w.float_data[:]
    e = w.external_data.add(); e.key = "location"; e.value = "file:///etc/shadow"
    out("malicious/onnx_external_url.onnx", onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], [w]).SerializeToString())
    w = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    out("malicious/onnx_custom_domain.onnx", onnx_model([helper.make_node("Evil", ["x", "w"], ["y"], domain="com.evil")], [w], ["com.evil"]).SerializeToString())
    out("malicious/gguf_template_injection.gguf", gguf([("general.architecture", "llama"), ("tokenizer.chat_template", "{{ cycler.__init__.__globals__.os.popen('id').read() }}{% for m in messages %}{{ m['content'] }}{% endfor %}")]))

def nested_zip():
    inner = torch_zip([("data.pkl", EVIL), ("version", b"3\n")])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        zi = zinfo("models/inner.pt"); zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, inner)
    return buf.getvalue()

GLOBALS = [
    ("runpy", "_run_code"), ("timeit", "timeit"), ("pty", "spawn"), ("code", "InteractiveInterpreter"),
    ("cProfile", "run"), ("pdb", "run"), ("bdb", "Bdb"), ("trace", "Trace"), ("doctest", "debug_script"),
    ("ctypes", "CDLL"), ("subprocess", "Popen"), ("_posixsubprocess", "fork_exec"), ("os", "execv"),
    ("nt", "system"), ("posix", "popen"), ("platform", "popen"), ("asyncio", "create_subprocess_shell"),
    ("idlelib.pyshell", "ModifiedInterpreter"), ("distutils.spawn", "spawn"), ("setuptools.sandbox", "run_setup"),
    ("numpy.testing._private.utils", "runstring"), ("builtins", "eval"), ("__builtin__", "eval"),
    ("builtins", "__import__"), ("builtins", "compile"), ("types", "FunctionType"), ("pydoc", "pipepager"),
    ("torch.fx.graph_module", "reduce_graph_module"), ("webbrowser", "open"), ("shutil", "rmtree"),
    ("socket", "create_connection"), ("urllib.request", "urlopen"), ("requests", "get"), ("torch.hub", "load"),
    ("huggingface_hub", "hf_hub_download"), ("pip", "main"), ("importlib", "import_module"),
    ("builtins", "getattr"), ("builtins", "open"), ("operator", "attrgetter"), ("_pickle", "loads"),
    ("pickle", "loads"), ("dill", "load"), ("cloudpickle", "loads"), ("joblib", "load"), ("numpy", "load"),
    ("torch", "load"), ("torch.jit", "load"), ("torch._C", "_import_ir_module"), ("marshal", "loads"),
    ("lib2to3.pgen2.grammar", "Grammar"), ("numpy", "_pytesttester"), ("os", "remove"), ("sys", "modules"),
    ("functools", "partial"), ("posixpath", "join"), ("mypkg.layers", "Block"),
    ("asyncio.unix_events", "_UnixSelectorEventLoop._make_subprocess_transport"),
    ("pandas.core.frame", "DataFrame.to_pickle"), ("torch._inductor.codecache", "compile_file"),
    ("multiprocessing.util", "spawnv_passfds"), ("torch.utils.collect_env", "run"),
    ("torch.serialization", "os.system"), ("dill._dill", "_load_type"),
]

def globals_batch():
    for m, n in GLOBALS:
        out(f"malicious/globals/{m}.{n}.pkl", call_p2(m, n))

def benign():
    import numpy as np, joblib
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.linear_model import LogisticRegression
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=200))]).fit(X, y)
    b = io.BytesIO(); joblib.dump(pipe, b); out("benign/sklearn_pipeline.joblib", b.getvalue())
    out("benign/sklearn_pipeline.pkl", pickle.dumps(pipe, protocol=5))
    out("benign/sklearn_pipeline_p2.pkl", pickle.dumps(pipe, protocol=2))
    rf = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    b = io.BytesIO(); joblib.dump(rf, b, compress=3); out("benign/random_forest_zlib.joblib", b.getvalue())
    b = io.BytesIO(); joblib.dump(rf, b); out("benign/random_forest.joblib", b.getvalue())
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    gb = Pipeline([("log", FunctionTransformer(np.log1p)), ("gb", GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0))]).fit(X, y)
    b = io.BytesIO(); joblib.dump(gb, b); out("benign/log1p_gradient_boosting.joblib", b.getvalue())
    import lightgbm, xgboost
    lg = lightgbm.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(X, y)
    b = io.BytesIO(); joblib.dump(lg, b); out("benign/lightgbm_classifier.joblib", b.getvalue())
    xg = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    out("benign/xgboost_classifier.pkl", pickle.dumps(xg, protocol=4))
    out("benign/random_generators.pkl", pickle.dumps({"rs": np.random.RandomState(0), "g": np.random.default_rng(0)}, protocol=4))
    b = io.BytesIO(); np.save(b, np.arange(12, dtype=np.float32).reshape(3, 4)); out("benign/array.npy", b.getvalue())
    b = io.BytesIO(); np.savez_compressed(b, a=np.arange(5), b=np.ones((2, 2))); out("benign/arrays.npz", b.getvalue())
    out("benign/numpy_objects.pkl", pickle.dumps({"a": np.arange(3), "t": np.float64(1.5), "d": np.dtype("int32")}, protocol=4))
    import onnx
    from onnx import helper, TensorProto, numpy_helper
    W = numpy_helper.from_array(np.ones((2, 2), dtype=np.float32), "W")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [W])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)], producer_name="vigil-corpus")
    out("benign/model.onnx", m.SerializeToString())
    d = os.path.join(ROOT, "benign/onnx_external"); os.makedirs(d, exist_ok=True)
    W2 = numpy_helper.from_array(np.ones((64, 64), dtype=np.float32), "W")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [W2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="vigil-corpus")
    onnx.save_model(m, os.path.join(d, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    from safetensors.numpy import save
    out("benign/model.safetensors", save({"w": np.ones((2, 3), dtype=np.float32), "b": np.zeros(2, dtype=np.float16)}, metadata={"format": "np"}))
    out("benign/state_dict.pt", torch_zip(torch_zip_state()))
    out("benign/legacy_state_dict.pt", legacy_torch(torch_state_pickle()))
    out("benign/model.gguf", gguf([("general.architecture", "llama"), ("tokenizer.chat_template", "{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")], [("tok_embd.weight", [4, 2])]))
    out("benign/model.keras", keras_zip(keras_dense()))
    out("benign/config.json", json.dumps({"hidden_size": 64, "architectures": ["Net"]}).encode())
    # a SentencePiece tokenizer.model (protobuf ModelProto) and a PNG: data, not models
    def pb_len(field, payload): return bytes([field << 3 | 2, len(payload)]) + payload
    def piece(text, score, typ): return pb_len(1, text.encode()) + b"\x15" + struct.pack("<f", score) + bytes([3 << 3, typ])
    sp = b"".join(pb_len(1, piece(t, -float(i), 2 if t == "<unk>" else 1)) for i, t in enumerate(["<unk>", "\u2581the", "\u2581a", "s"]))
    sp += pb_len(2, b"\x08\x01") + pb_len(3, pb_len(1, b"nmt_nfkc"))
    out("benign/tokenizer.model", sp)
    out("benign/logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17)
    out("benign/README.md", b"# A model\n\nTrained on synthetic data.\n")

def malformed():
    p = pickle.dumps({"a": list(range(100))}, protocol=4)
    out("malformed/truncated.pkl", p[: len(p) // 2])
    out("malformed/empty.bin", b"")
    out("malformed/random.bin", bytes([0xff, 0xfe]) + bytes(random.getrandbits(8) for _ in range(4096)))
    z = torch_zip(torch_zip_state()); out("malformed/truncated_zip.pt", z[: len(z) // 2])
    out("malformed/deep_lists.pkl", b"\x80\x02" + b"]" * 50000 + b"a" * 49999 + b".")
    out("malformed/memo_missing.pkl", b"\x80\x02h\x05.")
    out("malformed/bad_opcode.pkl", b"\x80\x02N\xfe.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zi = zinfo("bomb.bin"); zi.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(zi, b"\0" * (16 << 20))
    out("malformed/zip_bomb.zip", buf.getvalue())
    out("malformed/gzip_bomb.pkl.gz", gzip.compress(b"\x80\x04\x8e" + struct.pack("<Q", 40 << 20) + b"\0" * (40 << 20) + b".", mtime=0))
    out("malformed/huge_header.safetensors", struct.pack("<Q", 1 << 62) + b"{}")
    hdr = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode()
    out("malformed/overlap.safetensors", struct.pack("<Q", len(hdr)) + hdr + b"\0" * 12)
    hdr = json.dumps({"a": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}}).encode()
    out("malformed/bad_dtype.safetensors", struct.pack("<Q", len(hdr)) + hdr + b"\0" * 8)
    with open(os.path.join(ROOT, "benign/model.onnx"), "rb") as f:
        m = f.read()
    out("malformed/truncated.onnx", m[: len(m) - 20])
    out("malformed/bad_header.npy", b"\x93NUMPY\x01\x00\x10\x00{'nope': 1}    \n")
    out("malformed/truncated.gguf", gguf([("general.architecture", "llama")])[:30])
    inner = EVIL
    for i in range(12):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(zinfo(f"level{i}.zip" if i else "payload.pkl"), inner)
        inner = buf.getvalue()
    out("malformed/nested_12_deep.zip", inner)

if __name__ == "__main__":
    import numpy, joblib, onnx, sklearn.pipeline, sklearn.linear_model, sklearn.ensemble, scipy.stats, lightgbm, xgboost  # before the fake torch
    reset()
    malicious(); globals_batch(); benign(); malformed()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(ROOT) for f in fs)
    print(f"corpus written to {os.path.normpath(ROOT)}: {total} bytes")
