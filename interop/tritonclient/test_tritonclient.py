"""tritonclient[http] against `vigil serve` with mutual TLS (see run.sh).

Checks, each counted: server and model health and metadata; answers for validation rows equal
to the model run directly (onnx.reference.ReferenceEvaluator on the bundle's model.onnx,
rounded as the bundle's [output] policy says), with JSON and with binary tensors; the
documented abstention error for an out-of-range row; refusal of a client without a
certificate, of one from another CA, and of one the clients file does not name; a revoked
client; /metrics parsed by prometheus_client.
"""

import csv
import json
import ssl
import sys
import tomllib
import traceback
from pathlib import Path

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException
from prometheus_client.parser import text_string_to_metric_families

listen = json.loads(Path(sys.argv[1]).read_text())
pki, other, device = Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
mode = sys.argv[5] if len(sys.argv) > 5 else "device"
port = listen["addr"].rsplit(":", 1)[1]
url = f"localhost:{port}"
model_name = listen["model"]

passed = failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {name}")
    except Exception:  # noqa: BLE001 - every failure is reported and counted
        failed += 1
        print(f"FAIL {name}")
        traceback.print_exc()


def context(ca, cert=None, key=None):
    def factory(*_args, **_kwargs):
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if cert:
            ctx.load_cert_chain(str(cert), str(key))
        return ctx
    return factory


def client(ca=pki / "ca.crt", cert=pki / "client.crt", key=pki / "client.key"):
    # The documented way: ssl_options with the CA and the client's certificate and key.
    options = {"ca_certs": str(ca)}
    if cert:
        options.update(certfile=str(cert), keyfile=str(key))
    return httpclient.InferenceServerClient(
        url=url, ssl=True, ssl_options=options, network_timeout=10.0)


if mode == "device":
    config = tomllib.loads((device / "bundle" / "vigil.toml").read_text())
    decimals = config.get("output", {}).get("decimals")
    rows = []
    with open(device / "data" / "validation.csv", newline="") as f:
        reader = csv.DictReader(f)
        features = [c for c in reader.fieldnames if c != "label"]
        for r in reader:
            rows.append([float(r[c]) for c in features])
    rows = np.array(rows[:20], dtype=np.float32)
    reference = ReferenceEvaluator(onnx.load(str(device / "bundle" / "model.onnx")))
    inp_name = config["contract"]["inputs"][0]["name"]
    out_name = config["contract"]["output"]["name"]

    def direct(row):
        (p,) = reference.run([out_name], {inp_name: row.reshape(1, -1)})
        p = np.asarray(p, dtype=np.float64)
        return np.round(p, decimals) if decimals is not None else p
else:
    # The gateway's toy model (docs: vigil_server::ToyBackend): softmax([s, -s]), s = sum / 2.
    rows = np.random.default_rng(8).uniform(-2, 2, size=(20, 4)).astype(np.float32)
    inp_name, out_name = "x", "p"

    def direct(row):
        s = np.float32(row.sum(dtype=np.float32) * np.float32(0.5))
        a, b = np.exp(s), np.exp(-s)
        return np.array([[a / (a + b), b / (a + b)]], dtype=np.float32)


def health():
    c = client()
    assert c.is_server_live()
    assert c.is_server_ready()
    assert c.is_model_ready(model_name)
    md = c.get_model_metadata(model_name)
    assert md["name"] == model_name, md
    assert md["inputs"][0]["name"] == inp_name and md["inputs"][0]["datatype"] == "FP32", md
    assert md["outputs"][0]["name"] == out_name, md


def answers(binary):
    def run():
        c = client()
        for row in rows:
            i = httpclient.InferInput(inp_name, [1, row.shape[0]], "FP32")
            i.set_data_from_numpy(row.reshape(1, -1), binary_data=binary)
            o = httpclient.InferRequestedOutput(out_name, binary_data=binary)
            res = c.infer(model_name, [i], outputs=[o], request_id="interop-1")
            got = res.as_numpy(out_name)
            want = direct(row)
            assert got.shape == want.shape, (got.shape, want.shape)
            assert np.allclose(got, want, atol=1e-6), (got, want)
            assert res.get_response()["id"] == "interop-1"
    return run


def default_request():
    # No outputs named: tritonclient asks for binary outputs of everything.
    c = client()
    i = httpclient.InferInput(inp_name, [1, rows.shape[1]], "FP32")
    i.set_data_from_numpy(rows[:1])
    res = c.infer(model_name, [i])
    assert np.allclose(res.as_numpy(out_name), direct(rows[0]), atol=1e-6)


def abstains():
    c = client()
    bad = rows[:1].copy()
    bad[0, 0] = 1e6 if mode == "device" else 50.0
    i = httpclient.InferInput(inp_name, [1, rows.shape[1]], "FP32")
    i.set_data_from_numpy(bad, binary_data=False)
    try:
        c.infer(model_name, [i])
    except InferenceServerException as e:
        assert e.status() is not None and 400 <= int(e.status()) < 500, e.status()
        assert e.message().startswith("abstain: out_of_range"), e.message()
        return
    raise AssertionError("out-of-range row was answered")


def refused(ca, cert, key, want_http=None):
    def run():
        c = client(ca=pki / "ca.crt", cert=cert, key=key)
        try:
            c.is_server_live()
            ok = c.is_server_ready()
        except InferenceServerException as e:
            if want_http:
                assert str(want_http) in str(e.status()) or want_http == 403, e
            return
        except Exception:  # TLS alert or connection reset: the handshake was refused
            assert want_http is None, "expected an HTTP refusal"
            return
        assert not ok, "refused client was served"
        if want_http is None:
            raise AssertionError("handshake should have failed")
    return run


def forbidden(cert, key, fragment):
    def run():
        c = client(cert=cert, key=key)
        i = httpclient.InferInput(inp_name, [1, rows.shape[1]], "FP32")
        i.set_data_from_numpy(rows[:1], binary_data=False)
        try:
            c.infer(model_name, [i])
        except InferenceServerException as e:
            assert fragment in e.message(), e.message()
            return
        raise AssertionError("refused client was answered")
    return run


def metrics():
    import urllib.request
    ctx = context(pki / "ca.crt", pki / "client.crt", pki / "client.key")()
    text = urllib.request.urlopen(f"https://{url}/metrics", context=ctx, timeout=10).read().decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert "vigil_verdicts" in fams or "vigil_verdicts_total" in fams, sorted(fams)
    verdicts = fams.get("vigil_verdicts") or fams["vigil_verdicts_total"]
    labels = {s.labels.get("verdict") for s in verdicts.samples}
    assert "accept" in labels and any(l and l.startswith("out_of_range") for l in labels), labels
    assert "vigil_inference_duration_seconds" in fams


check("health and metadata", health)
check("JSON answers equal direct inference", answers(False))
check("binary answers equal direct inference", answers(True))
check("default request (binary outputs) equals direct inference", default_request)
check("out-of-range row: abstain error", abstains)
check("no client certificate: refused", refused(pki / "ca.crt", None, None))
check("certificate of another CA: refused", refused(pki / "ca.crt", other / "client.crt", other / "client.key"))
check("client not in clients.toml: 403", forbidden(pki / "unlisted-client.crt", pki / "unlisted-client.key", "not in the clients file"))
check("revoked client: 403", forbidden(pki / "revoked-client.crt", pki / "revoked-client.key", "revoked"))
check("/metrics parses", metrics)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
