"""vigil-collector benchmark (see ./run): N devices push M-entry ledgers at once through
`vigil collector push` into a collector on a throwaway PostgreSQL cluster, beside psycopg
`executemany` of the same rows into a same-shaped table on the same cluster: one row per entry
(device, idx, entry, leaf_hash) with the primary key (device, idx), the plain way to store
them; the collector itself keeps them in entry bundles of up to 256 (docs/collector.md)."""

import argparse
import concurrent.futures
import glob
import json
import resource
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import psycopg


def pg_bin():
    if os.environ.get("PG_BIN"):
        return os.environ["PG_BIN"]
    default = "/usr/lib/postgresql/15/bin"
    if os.path.isfile(os.path.join(default, "initdb")):
        return default
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        sys.exit("bench/collector: PostgreSQL (initdb, pg_ctl) is not installed")
    return os.path.dirname(found[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb in a temporary folder, a loopback port; as `postgres` when root."""

    def __init__(self, root):
        self.bin = pg_bin()
        self.dir = os.path.join(root, "pg")
        os.mkdir(self.dir)
        self.as_user = "postgres" if os.geteuid() == 0 else None
        if self.as_user:
            subprocess.run(["chown", "-R", self.as_user, self.dir], check=True)
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.run("initdb", "-D", self.data, "-U", "vigil", "--auth=trust", "-E", "UTF8")
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=100"
        self.run("pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "pg.log"),
                 "-w", "start")

    def run(self, tool, *args):
        cmd = [os.path.join(self.bin, tool), *args]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    def url(self, db):
        return f"postgres://vigil@127.0.0.1:{self.port}/{db}"

    def stop(self):
        try:
            self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        except subprocess.CalledProcessError as e:
            print(f"pg_ctl stop: {e}", file=sys.stderr)


def event(device, i):
    return json.dumps({
        "type": "guard.inference", "event_id": i, "time_ms": 1700000000000 + i,
        "model": "ab" * 32, "client": f"ward-{device}", "input_sha256": f"{i:064x}",
        "verdict": "accept", "reason": None, "label": "malignant" if i % 3 else "benign",
        "scores": {"mahalanobis": 1.25 + (i % 97) / 100, "knn": 0.5 + (i % 13) / 50},
        "alarms": [],
    }, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--entries", type=int, default=20000)
    a = ap.parse_args()
    vigil = os.path.abspath(a.vigil)
    root = tempfile.mkdtemp(prefix="vigil-bench-collector.")
    if os.geteuid() == 0:
        os.chmod(root, 0o755)
    cluster = None
    collector = None
    try:
        def v(*args, stdin=None, cwd=root):
            return subprocess.run([vigil, *args], cwd=cwd, input=stdin, check=True,
                                  capture_output=True).stdout

        # Certificates: the demo CA, a server certificate, one client certificate per device.
        v("tls", "demo-pki", "--out", "pki")
        names = [f"dev-{i:02}" for i in range(a.devices)]
        ext = os.path.join(root, "client.ext")
        with open(ext, "w") as f:
            f.write("keyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
        for n in names:
            subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{n}.key",
                            "-subj", f"/CN={n}/O=DEMO", "-out", f"{n}.csr"],
                           cwd=root, check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", f"{n}.csr", "-CA", "pki/ca.crt",
                            "-CAkey", "pki/ca.key", "-CAcreateserial", "-days", "30",
                            "-extfile", ext, "-out", f"{n}.crt"],
                           cwd=root, check=True, capture_output=True)

        # Device ledgers, each with a signed checkpoint.
        v("key", "generate", "--algorithm", "ed25519", "--out", "witness")

        def ledger(n):
            v("key", "generate", "--algorithm", "ed25519", "--out", f"{n}-log")
            init = json.loads(v("log", "init", "--db", f"{n}.db", "--origin", n, "--key",
                                f"{n}-log.pem", "--json"))
            lines = "".join(event(n, i) + "\n" for i in range(a.entries)).encode()
            v("log", "append", "--db", f"{n}.db", stdin=lines)
            v("log", "checkpoint", "--db", f"{n}.db", "--key", f"{n}-log.pem")
            return init["vkey"]

        t = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            vkeys = list(pool.map(ledger, names))
        print(f"ledgers: {a.devices} x {a.entries} entries made in {time.monotonic() - t:.1f} s",
              file=sys.stderr)
        with open(os.path.join(root, "clients.toml"), "w") as f:
            f.write('[[client]]\nname = "ops"\nrole = "operator"\n')
            for n, k in zip(names, vkeys):
                f.write(f'\n[[client]]\nname = "{n}"\nrole = "device"\nledger_vkey = "{k}"\n')

        cluster = Cluster(root)
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as c:
            c.execute("CREATE DATABASE bench")
        url = cluster.url("bench")

        collector = subprocess.Popen(
            [vigil, "collector", "serve", "--db", url, "--addr", "127.0.0.1:0",
             "--tls-cert", "pki/server.crt", "--tls-key", "pki/server.key",
             "--client-ca", "pki/ca.crt", "--clients", "clients.toml",
             "--witness-key", "witness.pem", "--json", "--log-level", "warn"],
            cwd=root, stdout=subprocess.PIPE)
        line = collector.stdout.readline()
        port = json.loads(line)["addr"].rsplit(":", 1)[1]

        def cpu(pid):
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        # All devices push at once; the clock runs from the first start to the last exit.
        # BENCH_PERF=FILE: a system-wide `perf record` of the pushes, for profiling.
        perf = None
        if os.environ.get("BENCH_PERF"):
            perf = subprocess.Popen(["perf", "record", "-a", "-g", "-q", "-o",
                                     os.environ["BENCH_PERF"]], stderr=subprocess.DEVNULL)
            time.sleep(1)
        server_cpu = cpu(collector.pid)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.monotonic()
        pushes = [subprocess.Popen(
            [vigil, "collector", "push", "--collector", f"https://localhost:{port}",
             "--ledger", f"{n}.db", "--tls-cert", f"{n}.crt", "--tls-key", f"{n}.key",
             "--ca", "pki/ca.crt", "--json"],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in names]
        outs = [p.communicate() for p in pushes]
        vigil_s = time.monotonic() - t
        if perf:
            perf.send_signal(2)
            perf.wait()
        server_cpu = cpu(collector.pid) - server_cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        push_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
        for n, p, (out, err) in zip(names, pushes, outs):
            r = json.loads(out) if out else {}
            if p.returncode != 0 or not r.get("ok") or r.get("size") != a.entries:
                sys.exit(f"push of {n} failed ({p.returncode}): {out!r} {err!r}")

        with psycopg.connect(url) as c:
            # The collector keeps entries in bundles (docs/collector.md): unpack them into the
            # one-row-per-entry rows the baseline inserts, checking that they add up.
            rows = []
            for device, start, count, blob, leaves in c.execute(
                    "SELECT device, start, count, entries, leaf_hashes FROM vc_entry_bundles "
                    "ORDER BY device, start"):
                blob, leaves, at = bytes(blob), bytes(leaves), 0
                for k in range(count):
                    n = int.from_bytes(blob[at:at + 4], "big")
                    rows.append((device, start + k, blob[at + 4:at + 4 + n],
                                 leaves[32 * k:32 * k + 32]))
                    at += 4 + n
                if at != len(blob) or len(leaves) != 32 * count:
                    sys.exit(f"{device}: the bundle at {start} does not add up")
            stored, nbytes = len(rows), sum(len(r[2]) for r in rows)
            if stored != a.devices * a.entries or len({(r[0], r[1]) for r in rows}) != stored:
                sys.exit(f"{stored} entries stored, not {a.devices * a.entries} once each")
            c.execute("CREATE TABLE base_entries(device TEXT NOT NULL, idx BIGINT NOT NULL, "
                      "entry BYTEA NOT NULL, leaf_hash BYTEA NOT NULL, PRIMARY KEY(device, idx))")
            c.commit()
        per_device = {}
        for r in rows:
            per_device.setdefault(r[0], []).append(r)

        # The baseline: psycopg executemany of the same rows, one transaction per device, in
        # one connection, then in one connection per device at once.
        insert = "INSERT INTO base_entries(device, idx, entry, leaf_hash) VALUES (%s, %s, %s, %s)"

        def load(dev_rows):
            with psycopg.connect(url) as c:
                with c.cursor() as cur:
                    cur.executemany(insert, dev_rows)
                c.commit()

        t = time.monotonic()
        with psycopg.connect(url) as c:
            for dev_rows in per_device.values():
                with c.cursor() as cur:
                    cur.executemany(insert, dev_rows)
                c.commit()
        one_s = time.monotonic() - t
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("TRUNCATE base_entries")
        t = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(a.devices) as pool:
            list(pool.map(load, per_device.values()))
        many_s = time.monotonic() - t

        total = a.devices * a.entries
        rate = total / vigil_s
        base_one, base_many = total / one_s, total / many_s
        base = max(base_one, base_many)
        print(f"{a.devices} devices x {a.entries} entries = {total} entries, "
              f"{nbytes / total:.0f} bytes/entry, PostgreSQL {cluster.bin}")
        print()
        print(f"| {'path':<58} | {'seconds':>8} | {'entries/s':>10} |")
        print(f"|{'-' * 60}|{'-' * 10}|{'-' * 12}|")
        print(f"| {'vigil collector push x' + str(a.devices) + ' at once (TLS, witness, store)':<58} "
              f"| {vigil_s:>8.2f} | {rate:>10.0f} |")
        print(f"| {'psycopg executemany, 1 connection':<58} | {one_s:>8.2f} | {base_one:>10.0f} |")
        print(f"| {'psycopg executemany, ' + str(a.devices) + ' connections at once':<58} "
              f"| {many_s:>8.2f} | {base_many:>10.0f} |")
        print()
        print(f"CPU during the pushes: collector {server_cpu:.2f} s, the {a.devices} push "
              f"processes {push_cpu:.2f} s (the rest of {vigil_s * (os.cpu_count() or 1):.2f} "
              f"core-seconds: PostgreSQL, idle)")
        print(f"ratio vigil / best baseline: {rate / base:.2f}x "
              f"(target: >= 100000 entries/s and >= 3x)")
    finally:
        if collector:
            collector.terminate()
            collector.wait()
        if cluster:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
