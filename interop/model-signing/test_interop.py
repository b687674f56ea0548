"""Interop between `vigil bundle` and OpenSSF `model_signing` 1.1.1, in both directions.

Every case builds a model tree, signs it with one tool and verifies with the other, then
tampers with it and checks that vigil refuses it. Keys come from OpenSSL (SEC1 with an
EC PARAMETERS block, encrypted PKCS#8), from Python's `cryptography`, and from `vigil key
generate` (plain and passphrase-encrypted).

model_signing quirks this suite works around (and documents):
  * its CLI has no shard option: shard signatures are made and checked through its Python API;
  * its CLI's --password fails on every encrypted key (str passed where bytes are needed), so
    encrypted keys are used through its API;
  * it writes `shard_size` as a float (4.0) and its own verifier then crashes on it
    (`range()` of a float), so the vigil -> model_signing shard direction passes an explicit
    hashing config, and the model_signing -> vigil direction checks that vigil reads 4.0.

Prints `N passed, N failed`; exits 1 on any failure.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import traceback

import model_signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

VIGIL = os.environ.get("VIGIL_BIN", "vigil")
BIG = os.environ.get("VIGIL_INTEROP_BIG", "1") != "0"
RESULTS = []


def run(*args, check=True, env=None):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def case(fn):
    try:
        fn()
        RESULTS.append((fn.__name__, None))
        print(f"ok   {fn.__name__}", flush=True)
    except Exception:  # noqa: BLE001 - report every failure, keep going
        RESULTS.append((fn.__name__, traceback.format_exc()))
        print(f"FAIL {fn.__name__}\n{traceback.format_exc()}", flush=True)
    return fn


def make_tree(root: pathlib.Path, big=False) -> pathlib.Path:
    m = root / "model"
    (m / "layers" / "deep" / "deeper").mkdir(parents=True)
    (m / "config.json").write_text('{"arch": "mlp"}')
    (m / "layers" / "l0.bin").write_bytes(os.urandom(100_000))
    (m / "layers" / "deep" / "deeper" / "l1.bin").write_bytes(os.urandom(3_000))
    (m / "layers" / "empty.bin").write_bytes(b"")
    (m / "données ü 😀.txt").write_text("non-ASCII name")
    (m / "a-b").write_text("sorts after a/b component-wise")
    (m / "a").mkdir()
    (m / "a" / "b").write_text("sorts before a-b")
    (m / ".gitignore").write_text("*.tmp\n")
    (m / "scratch.log").write_text("to be ignored")
    if big:
        with open(m / "huge.bin", "wb") as f:  # 1 GiB + 5 bytes, sparse with marks
            f.truncate((1 << 30) + 5)
            for off in (0, 123_456_789, 999_999_999, 1_000_000_000, (1 << 30)):
                f.seek(off)
                f.write(os.urandom(5))
    return m


def keys(root: pathlib.Path):
    """Yields (label, private_pem_path, public_pem_path, password) for each key source."""
    out = []
    # OpenSSL: SEC1 with an EC PARAMETERS block first.
    sec1 = root / "openssl-sec1.pem"
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-out", sec1)
    pub = root / "openssl.pub.pem"
    run("openssl", "ec", "-in", sec1, "-pubout", "-out", pub)
    out.append(("openssl-sec1", sec1, pub, None))
    # OpenSSL: encrypted PKCS#8 (PBES2, AES-256-CBC).
    enc = root / "openssl-enc.pem"
    run("openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", sec1, "-out", enc,
        "-passout", "pass:s3cret")
    out.append(("openssl-pkcs8-encrypted", enc, pub, "s3cret"))
    # Python cryptography: PKCS#8.
    k = ec.generate_private_key(ec.SECP256R1())
    p8 = root / "crypto.pem"
    p8.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    cpub = root / "crypto.pub.pem"
    cpub.write_bytes(k.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    out.append(("cryptography-pkcs8", p8, cpub, None))
    # vigil key generate, plain and encrypted.
    run(VIGIL, "key", "generate", "--algorithm", "ecdsa-p256", "--out", root / "vigil")
    out.append(("vigil", root / "vigil.pem", root / "vigil.pub.pem", None))
    env = dict(os.environ, VP="p4ss phrase")
    run(VIGIL, "key", "generate", "--out", root / "vigil-enc", "--passphrase-env", "VP", env=env)
    out.append(("vigil-encrypted", root / "vigil-enc.pem", root / "vigil-enc.pub.pem", "p4ss phrase"))
    return out


def ms_sign_cli(model, priv, sig, password=None, ignore=()):
    if password:
        # model_signing 1.1.1's CLI passes --password to `cryptography` as str, which fails
        # ("Cannot convert <class 'str'> instance to a buffer"); its API takes bytes.
        cfg = model_signing.hashing.Config().set_ignored_paths(
            paths=[pathlib.Path(p).relative_to(model) for p in [*ignore, sig]])
        model_signing.signing.Config().use_elliptic_key_signer(
            private_key=priv, password=password.encode()).set_hashing_config(cfg).sign(model, sig)
        return
    args = ["model_signing", "sign", "key", "--private_key", priv, "--signature", sig]
    for i in ignore:
        args += ["--ignore-paths", i]
    if password:
        args += ["--password", password]
    run(*args, model)


def ms_verify_cli(model, pub, sig):
    run("model_signing", "verify", "key", "--public_key", pub, "--signature", sig, model)


def vigil_sign(model, priv, sig=None, password=None, extra=()):
    args = [VIGIL, "bundle", "sign", "--key", priv]
    env = None
    if password:
        env = dict(os.environ, VIGIL_PASS=password)
        args += ["--passphrase-env", "VIGIL_PASS"]
    if sig:
        args += ["--signature", sig]
    run(*args, *extra, model, env=env)


def vigil_verify(model, pub, sig=None, expect=0):
    args = [VIGIL, "bundle", "verify", "--key", pub]
    if sig:
        args += ["--signature", sig]
    p = run(*args, model, check=False)
    assert p.returncode == expect, f"vigil verify exited {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}"
    return p


def tamper_and_expect_failure(model, pub, sig=None):
    victim = model / "layers" / "deep" / "deeper" / "l1.bin"
    data = bytearray(victim.read_bytes())
    data[0] ^= 1
    victim.write_bytes(bytes(data))
    p = vigil_verify(model, pub, sig, expect=1)
    assert "layers/deep/deeper/l1.bin" in p.stderr, p.stderr


def with_tmp(fn):
    def wrapper():
        with tempfile.TemporaryDirectory() as t:
            fn(pathlib.Path(t))
    wrapper.__name__ = fn.__name__
    return wrapper


@case
@with_tmp
def model_signing_signs_vigil_verifies_every_key_source(root):
    for label, priv, pub, pw in keys(root):
        work = root / label
        work.mkdir()
        m = make_tree(work)
        ms_sign_cli(m, priv, m / "model.sig", pw, ignore=[m / "scratch.log"])
        vigil_verify(m, pub)
        (m / "scratch.log").write_text("ignored paths may change")
        vigil_verify(m, pub)
        tamper_and_expect_failure(m, pub)


@case
@with_tmp
def vigil_signs_model_signing_verifies_every_key_source(root):
    for label, priv, pub, pw in keys(root):
        work = root / label
        work.mkdir()
        m = make_tree(work)
        vigil_sign(m, priv, password=pw, extra=["--ignore-paths", m / "scratch.log"])
        ms_verify_cli(m, pub, m / "model.sig")
        (m / "scratch.log").write_text("ignored paths may change")
        ms_verify_cli(m, pub, m / "model.sig")


@case
@with_tmp
def signature_outside_the_model_both_ways(root):
    m = make_tree(root)
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", root / "k.pem")
    run("openssl", "ec", "-in", root / "k.pem", "-pubout", "-out", root / "k.pub")
    ms_sign_cli(m, root / "k.pem", root / "outside.sig")
    vigil_verify(m, root / "k.pub", root / "outside.sig")
    vigil_sign(m, root / "k.pem", root / "vigil-outside.sig")
    ms_verify_cli(m, root / "k.pub", root / "vigil-outside.sig")


def ms_api_sign_shards(model, priv, sig, shard_size):
    cfg = model_signing.hashing.Config().use_shard_serialization(shard_size=shard_size)
    cfg.set_ignored_paths(paths=[pathlib.Path(sig).relative_to(model)])
    model_signing.signing.Config().use_elliptic_key_signer(private_key=priv).set_hashing_config(
        cfg).sign(model, sig)


def ms_api_verify_shards(model, pub, sig, shard_size):
    cfg = model_signing.hashing.Config().use_shard_serialization(shard_size=shard_size)
    cfg.set_ignored_paths(paths=[pathlib.Path(sig).relative_to(model)])
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=pub).set_hashing_config(
        cfg).verify(model, sig)


@case
@with_tmp
def shards_both_ways(root):
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", root / "k.pem")
    run("openssl", "ec", "-in", root / "k.pem", "-pubout", "-out", root / "k.pub")
    for shard in (7, 4096, 1_000_000_000):
        work = root / f"s{shard}"
        work.mkdir()
        m = make_tree(work)
        ms_api_sign_shards(m, root / "k.pem", m / "model.sig", shard)
        vigil_verify(m, root / "k.pub")  # reads model_signing's float shard_size
        vigil_sign(m, root / "k.pem", extra=["--hash-method", "shards", "--shard-size", str(shard)])
        ms_api_verify_shards(m, root / "k.pub", m / "model.sig", shard)
        tamper_and_expect_failure(m, root / "k.pub")


@case
@with_tmp
def model_signing_refuses_vigil_tampered_bundle(root):
    # A cross-check that the two agree on rejection too.
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", root / "k.pem")
    run("openssl", "ec", "-in", root / "k.pem", "-pubout", "-out", root / "k.pub")
    m = make_tree(root)
    vigil_sign(m, root / "k.pem")
    (m / "added.bin").write_bytes(b"x")
    p = run("model_signing", "verify", "key", "--public_key", root / "k.pub", "--signature",
            m / "model.sig", m, check=False)
    assert p.returncode != 0, "model_signing accepted an added file"
    vigil_verify(m, root / "k.pub", expect=1)


@case
@with_tmp
def ed25519_is_vigil_only_and_says_so(root):
    m = make_tree(root)
    run(VIGIL, "key", "generate", "--algorithm", "ed25519", "--out", root / "ed")
    vigil_sign(m, root / "ed.pem")
    vigil_verify(m, root / "ed.pub.pem")


if BIG:
    @case
    @with_tmp
    def one_gib_file_both_ways_and_both_methods(root):
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", root / "k.pem")
        run("openssl", "ec", "-in", root / "k.pem", "-pubout", "-out", root / "k.pub")
        m = make_tree(root, big=True)
        ms_sign_cli(m, root / "k.pem", m / "model.sig")
        vigil_verify(m, root / "k.pub")
        vigil_sign(m, root / "k.pem")
        ms_verify_cli(m, root / "k.pub", m / "model.sig")
        # Default shard size (1e9) cuts the 1 GiB file in two.
        ms_api_sign_shards(m, root / "k.pem", m / "model.sig", 1_000_000_000)
        vigil_verify(m, root / "k.pub")
        vigil_sign(m, root / "k.pem", extra=["--hash-method", "shards"])
        ms_api_verify_shards(m, root / "k.pub", m / "model.sig", 1_000_000_000)
        with open(m / "huge.bin", "r+b") as f:
            f.seek(1_000_000_001)
            f.write(b"!")
        p = vigil_verify(m, root / "k.pub", expect=1)
        assert "huge.bin: content changed (bytes 1000000000..1073741829 differ)" in p.stderr, p.stderr


if __name__ == "__main__":
    failed = sum(1 for _, e in RESULTS if e)
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
