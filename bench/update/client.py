"""python-tuf's ngclient downloading and checking one target: the peer of `vigil update install`.

Usage: client.py BASE_URL ROOT.json TARGET OUTDIR
"""
import pathlib
import sys
import tempfile

from tuf.ngclient import Updater

base, root, target, out = sys.argv[1:5]
meta = tempfile.mkdtemp()
root_bytes = pathlib.Path(root).read_bytes()
pathlib.Path(meta, "root.json").write_bytes(root_bytes)
updater = Updater(meta, f"{base}/metadata/", out, f"{base}/targets/", bootstrap=root_bytes)
updater.refresh()
info = updater.get_targetinfo(target)
if info is None:
    sys.exit(f"no target {target}")
print(updater.download_target(info))
