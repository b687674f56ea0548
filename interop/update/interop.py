"""Vigil's updater against python-tuf 7, both ways.

1. Repositories written by python-tuf's Metadata API (an independent implementation): an honest
   release (packed by Python's tarfile, pax format), a delegated one, and each attack of the TUF
   specification; `vigil update install` must activate the honest ones and refuse every attack
   with its reason code, from a directory and over HTTP, leaving `current` on the last good
   release.
2. A repository written by `vigil update repo` is read by python-tuf's own client (ngclient),
   which downloads and checks the release.

Usage: interop.py VIGIL_BIN; prints `N passed, N failed`, exit 1 on any failure.
"""

import copy
import functools
import hashlib
import http.server
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer
from tuf.ngclient import Updater

VIGIL = sys.argv[1]
HERE = pathlib.Path(__file__).resolve().parent
ROOT_DIR = HERE.parent.parent
DEVICE = ROOT_DIR / "examples/devices/breast-cancer"
NAME = "breast-cancer"
ROLES = ["root", "targets", "snapshot", "timestamp"]
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}: {detail}")


def expiry(days=7):
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)


def bundle_tar(version):
    """The example bundle as a pax tar (Python's default format) with `version` in vigil.toml.

    Versions other than 1.0.0 are re-signed with the demo key by `vigil bundle sign`."""
    src = DEVICE / "bundle"
    if version == "1.0.0":
        bundle = src
    else:
        bundle = pathlib.Path(tempfile.mkdtemp()) / "bundle"
        shutil.copytree(src, bundle)
        toml = (bundle / "vigil.toml").read_text().replace('version = "1.0.0"', f'version = "{version}"', 1)
        (bundle / "vigil.toml").write_text(toml)
        for sig, key in [("model.sig", "signing-key.pem"), ("model.qa.sig", "qa-key.pem")]:
            subprocess.run([VIGIL, "bundle", "sign", "--key", str(DEVICE / "demo-keys" / key),
                            "--signature", str(bundle / sig), str(bundle)], check=True,
                           stdout=subprocess.DEVNULL)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(bundle)))
    return buf.getvalue()


class Repo:
    """A repository written with python-tuf's Metadata API, as its basic_repo example does."""

    def __init__(self, base, thresholds=None, delegate=False):
        self.base = pathlib.Path(base)
        (self.base / "metadata").mkdir(parents=True)
        (self.base / "targets").mkdir()
        thresholds = thresholds or {}
        self.signers = {r: [CryptoSigner.generate_ed25519() for _ in range(thresholds.get(r, 1))] for r in ROLES}
        root = Metadata(Root(expires=expiry(365)))
        root.signed.consistent_snapshot = True
        for role in ROLES:
            for s in self.signers[role]:
                root.signed.add_key(s.public_key, role)
            root.signed.roles[role].threshold = thresholds.get(role, 1)
        self.root = root
        self.targets = Metadata(Targets(expires=expiry(90)))
        self.snapshot = Metadata(Snapshot(expires=expiry(7)))
        self.timestamp = Metadata(Timestamp(expires=expiry(1)))
        self.delegate = None
        if delegate:
            self.delegate_signer = CryptoSigner.generate_ed25519()
            role = DelegatedRole(name="device-team", keyids=[], threshold=1, terminating=True,
                                 paths=[f"{NAME}/*"])
            self.targets.signed.delegations = Delegations(keys={}, roles={"device-team": role})
            self.targets.signed.add_key(self.delegate_signer.public_key, "device-team")
            self.delegate = Metadata(Targets(expires=expiry(90)))
        self.write_root()
        self.publish()

    def sign(self, md, role, signers=None):
        md.signatures.clear()
        for s in signers if signers is not None else self.signers[role]:
            md.sign(s, append=True)

    def write(self, md, name):
        md.to_file(str(self.base / "metadata" / name), JSONSerializer(compact=False))

    def write_root(self, signers=None):
        self.sign(self.root, "root", signers)
        self.write(self.root, f"{self.root.signed.version}.root.json")

    def add(self, version, data=None):
        data = data if data is not None else bundle_tar(version)
        name = f"{NAME}/{version}.tar"
        digest = hashlib.sha256(data).hexdigest()
        (self.base / "targets" / NAME).mkdir(exist_ok=True)
        (self.base / "targets" / NAME / f"{digest}.{version}.tar").write_bytes(data)
        target = TargetFile(length=len(data), hashes={"sha256": digest}, path=name)
        if self.delegate is not None:
            self.delegate.signed.targets[name] = target
            self.delegate.signed.version += 1
        else:
            self.targets.signed.targets[name] = target
        self.targets.signed.version += 1
        self.publish()
        return digest

    def publish(self, targets_signers=None):
        if self.delegate is not None:
            self.sign(self.delegate, "device-team", [self.delegate_signer])
            self.write(self.delegate, f"{self.delegate.signed.version}.device-team.json")
            self.snapshot.signed.meta["device-team.json"] = MetaFile(version=self.delegate.signed.version)
        self.sign(self.targets, "targets", targets_signers)
        self.write(self.targets, f"{self.targets.signed.version}.targets.json")
        self.snapshot.signed.meta["targets.json"] = MetaFile(version=self.targets.signed.version)
        self.snapshot.signed.version += 1
        self.sign(self.snapshot, "snapshot")
        self.write(self.snapshot, f"{self.snapshot.signed.version}.snapshot.json")
        self.timestamp.signed.snapshot_meta = MetaFile(version=self.snapshot.signed.version)
        self.timestamp.signed.version += 1
        self.sign(self.timestamp, "timestamp")
        self.write(self.timestamp, "timestamp.json")

    def target_file(self, version):
        return next((self.base / "targets" / NAME).glob(f"*.{version}.tar"))


class Server:
    def __init__(self, directory):
        handler = functools.partial(Quiet, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def install(repo, state, root, extra=()):
    out = subprocess.run(
        [VIGIL, "update", "install", "--repo", str(repo), "--root", str(root), "--state", str(state),
         "--name", NAME, "--policy", str(DEVICE / "policy.toml"), "--json", *extra],
        capture_output=True, text=True)
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        report = {"result": "error", "stderr": out.stderr}
    report["exit"] = out.returncode
    return report


def current(state):
    link = pathlib.Path(state) / "current"
    return os.readlink(link).split("/")[-1] if link.is_symlink() else None


def scenario(label, attack, want, http_too=True, **repo_args):
    """A python-tuf repository with 1.0.0 installed, then `attack(repo)` (which publishes
    1.1.0 or tampers), then an install that must be refused with `want` from a directory and
    over HTTP, `current` still 1.0.0."""
    for transport in (["dir", "http"] if http_too else ["dir"]):
        tmp = pathlib.Path(tempfile.mkdtemp())
        repo = Repo(tmp / "repo", **repo_args)
        repo.add("1.0.0")
        root = tmp / "root.json"
        shutil.copy(tmp / "repo/metadata/1.root.json", root)
        server = Server(tmp / "repo") if transport == "http" else None
        where = server.url if server else tmp / "repo"
        first = install(where, tmp / "state", root)
        check(f"{label} [{transport}]: 1.0.0 activates", first.get("result") == "activated", first)
        attack(repo)
        r = install(where, tmp / "state", root)
        ok = r.get("result") == "refused" and r.get("reason") == want and r["exit"] == 1
        check(f"{label} [{transport}]: refused {want}", ok, r)
        check(f"{label} [{transport}]: current stays 1.0.0", current(tmp / "state") == "1.0.0",
              current(tmp / "state"))
        if server:
            server.close()
        shutil.rmtree(tmp, ignore_errors=True)


def honest():
    for transport in ["dir", "http"]:
        for delegate in [False, True]:
            tmp = pathlib.Path(tempfile.mkdtemp())
            repo = Repo(tmp / "repo", delegate=delegate)
            repo.add("1.0.0")
            server = Server(tmp / "repo") if transport == "http" else None
            where = server.url if server else tmp / "repo"
            root = tmp / "repo/metadata/1.root.json"
            label = f"honest{' delegated' if delegate else ''} [{transport}]"
            r = install(where, tmp / "state", root)
            check(f"{label}: activated", r.get("result") == "activated" and r["exit"] == 0, r)
            repo.add("1.1.0")
            r = install(where, tmp / "state", root)
            check(f"{label}: 1.1.0 activated", r.get("result") == "activated" and r.get("version") == "1.1.0"
                  and r.get("previous") == "1.0.0", r)
            r = install(where, tmp / "state", root)
            check(f"{label}: then up to date", r.get("result") == "up_to_date" and r["exit"] == 0, r)
            if server:
                server.close()
            shutil.rmtree(tmp, ignore_errors=True)


def attacks():
    def arbitrary(repo):
        repo.add("1.1.0")
        f = repo.target_file("1.1.0")
        data = bytearray(f.read_bytes())
        data[-2000] ^= 0xFF
        f.write_bytes(bytes(data))

    def endless(repo):
        repo.add("1.1.0")
        f = repo.target_file("1.1.0")
        f.write_bytes(f.read_bytes() + b"\0" * 65536)

    def freeze(repo):
        repo.timestamp.signed.expires = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
        repo.add("1.1.0")

    def mix_and_match(repo):
        old_targets = (repo.base / f"metadata/{repo.targets.signed.version}.targets.json").read_bytes()
        repo.add("1.1.0")
        (repo.base / f"metadata/{repo.targets.signed.version}.targets.json").write_bytes(old_targets)

    def below_threshold(repo):
        repo.targets.signed.targets.clear()
        data = bundle_tar("1.1.0")
        digest = hashlib.sha256(data).hexdigest()
        (repo.base / "targets" / NAME / f"{digest}.1.1.0.tar").write_bytes(data)
        repo.targets.signed.targets[f"{NAME}/1.1.0.tar"] = TargetFile(
            length=len(data), hashes={"sha256": digest}, path=f"{NAME}/1.1.0.tar")
        repo.targets.signed.version += 1
        repo.publish(targets_signers=repo.signers["targets"][:1])

    def revoked_key(repo):
        old = repo.signers["timestamp"]
        new = [CryptoSigner.generate_ed25519()]
        for s in old:
            repo.root.signed.revoke_key(s.public_key.keyid, "timestamp")
        for s in new:
            repo.root.signed.add_key(s.public_key, "timestamp")
        repo.root.signed.version += 1
        repo.write_root()
        repo.signers["timestamp"] = old  # the attacker still holds only the revoked key
        repo.add("1.1.0")

    def bad_root_chain(repo):
        new_root_signers = [CryptoSigner.generate_ed25519()]
        for s in repo.signers["root"]:
            repo.root.signed.revoke_key(s.public_key.keyid, "root")
        for s in new_root_signers:
            repo.root.signed.add_key(s.public_key, "root")
        repo.root.signed.version += 1
        repo.write_root(signers=new_root_signers)  # not signed by the old root's keys
        repo.add("1.1.0")

    def older_bundle(repo):
        repo.add("0.9.0")
        repo.add("1.0.0-rc.1")
        # Only older releases than the active one: nothing to install, nothing downgraded.
        for v in ["1.0.0"]:
            del repo.targets.signed.targets[f"{NAME}/{v}.tar"]
        repo.targets.signed.version += 1
        repo.publish()

    def hostile_tar(member):
        def attack(repo):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo(member[0])
                if member[1] == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = "/etc/passwd"
                    tar.addfile(info)
                else:
                    info.size = 4
                    tar.addfile(info, io.BytesIO(b"evil"))
            repo.add("1.1.0", data=buf.getvalue())
        return attack

    for member in [("../escape", "file"), ("/etc/cron.d/x", "file"), ("model.onnx", "symlink")]:
        scenario(f"hostile tar member {member}", hostile_tar(member), "bundle_archive", http_too=False)
    scenario("arbitrary software", arbitrary, "tuf_hash")
    scenario("endless data", endless, "tuf_length")
    scenario("freeze", freeze, "tuf_expired")
    scenario("mix-and-match", mix_and_match, "tuf_snapshot_mismatch")
    scenario("below-threshold targets signatures", below_threshold, "tuf_signature",
             thresholds={"targets": 2})
    scenario("rotated-out (revoked) timestamp key", revoked_key, "tuf_signature")
    scenario("bad root chain", bad_root_chain, "tuf_root")
    scenario("only older releases", older_bundle, "bundle_rollback")

    # Rollback: the device sees timestamp N+1, then the repository serves N again.
    for transport in ["dir", "http"]:
        tmp = pathlib.Path(tempfile.mkdtemp())
        repo = Repo(tmp / "repo")
        repo.add("1.0.0")
        old = (tmp / "repo/metadata/timestamp.json").read_bytes()
        server = Server(tmp / "repo") if transport == "http" else None
        where = server.url if server else tmp / "repo"
        root = tmp / "repo/metadata/1.root.json"
        repo.add("1.1.0")
        r = install(where, tmp / "state", root)
        check(f"rollback [{transport}]: 1.1.0 activates", r.get("result") == "activated", r)
        (tmp / "repo/metadata/timestamp.json").write_bytes(old)
        r = install(where, tmp / "state", root)
        check(f"rollback [{transport}]: refused tuf_rollback",
              r.get("result") == "refused" and r.get("reason") == "tuf_rollback", r)
        check(f"rollback [{transport}]: current stays 1.1.0", current(tmp / "state") == "1.1.0")
        if server:
            server.close()
        shutil.rmtree(tmp, ignore_errors=True)


def python_client_reads_vigil():
    tmp = pathlib.Path(tempfile.mkdtemp())
    repo, keys = tmp / "repo", tmp / "keys"
    subprocess.run([VIGIL, "update", "repo", "init", "--dir", str(repo), "--keys", str(keys)], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([VIGIL, "update", "repo", "add", "--dir", str(repo), "--keys", str(keys),
                    str(DEVICE / "bundle")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([VIGIL, "update", "repo", "rotate", "--dir", str(repo), "--keys", str(keys),
                    "--role", "timestamp"], check=True, stdout=subprocess.DEVNULL)
    server = Server(repo)
    meta = tmp / "client-meta"
    meta.mkdir()
    shutil.copy(repo / "metadata/1.root.json", meta / "root.json")
    out = tmp / "downloads"
    out.mkdir()
    try:
        updater = Updater(str(meta), f"{server.url}/metadata/", str(out), f"{server.url}/targets/",
                          bootstrap=(repo / "metadata/1.root.json").read_bytes())
        updater.refresh()
        info = updater.get_targetinfo(f"{NAME}/1.0.0.tar")
        check("python-tuf client: target listed", info is not None)
        path = updater.download_target(info)
        data = pathlib.Path(path).read_bytes()
        check("python-tuf client: downloaded and verified", hashlib.sha256(data).hexdigest() == info.hashes["sha256"])
        with tarfile.open(path) as tar:
            names = sorted(tar.getnames())
        check("python-tuf client: the tar holds the bundle", "model.onnx" in names and "vigil.toml" in names, names)
        check("python-tuf client: follows the root rotation", updater._trusted_set.root.version == 2)
    except Exception as e:  # noqa: BLE001 - any failure of the peer client is a failed check
        check("python-tuf client reads the Vigil repository", False, repr(e))
    server.close()
    shutil.rmtree(tmp, ignore_errors=True)


honest()
attacks()
python_client_reads_vigil()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
