"""berth layer and berth image: the layer store and OCI image import through the real binary.

Run as root: /usr/bin/python3 -m pytest tests/integration/test_storage.py
The berth binary comes from the BERTH environment variable.
"""
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

BERTH = os.environ.get("BERTH", "build/berth")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def store():
    d = tempfile.mkdtemp(prefix="berth-it-storage-", dir="/var/tmp")
    try:
        yield os.path.join(d, "storage")
    finally:
        shutil.rmtree(d)


def berth(store, *args, check=True, **kw):
    p = subprocess.run([BERTH, "--storage-root", store, *args], capture_output=True, text=True,
                       timeout=300, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"berth {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def layer_dir(store, lid):
    return os.path.join(store, "vfs", "dir", lid)


def fill(root, n=10):
    os.makedirs(os.path.join(root, "etc"), exist_ok=True)
    for i in range(n):
        with open(os.path.join(root, "etc", f"f{i}"), "w") as f:
            f.write(f"file {i}\n")
    os.symlink("/etc/shadow", os.path.join(root, "abs"))
    os.link(os.path.join(root, "etc", "f0"), os.path.join(root, "hard"))
    os.mkfifo(os.path.join(root, "fifo"))
    os.chown(os.path.join(root, "etc", "f1"), 1000, 1000)
    os.chmod(os.path.join(root, "etc", "f1"), 0o4755)
    os.setxattr(os.path.join(root, "etc", "f2"), "user.k", b"v")


def test_create_ls_path_exists_rm(store):
    berth(store, "layer", "create", "base")
    path = berth(store, "layer", "path", "base").stdout.strip()
    assert path == os.path.realpath(layer_dir(store, "base"))
    st = os.stat(store)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(store, "vfs")).st_mode) == 0o710
    fill(path)
    berth(store, "layer", "create", "child", "--parent", "base")
    child = layer_dir(store, "child")
    assert os.readlink(os.path.join(child, "abs")) == "/etc/shadow"
    assert os.stat(os.path.join(child, "hard")).st_ino == os.stat(
        os.path.join(child, "etc", "f0")).st_ino
    assert stat.S_ISFIFO(os.lstat(os.path.join(child, "fifo")).st_mode)
    f1 = os.stat(os.path.join(child, "etc", "f1"))
    assert (f1.st_uid, stat.S_IMODE(f1.st_mode)) == (1000, 0o4755)
    assert os.getxattr(os.path.join(child, "etc", "f2"), "user.k") == b"v"

    out = berth(store, "layer", "ls").stdout.splitlines()
    assert out[0].split()[:2] == ["ID", "PARENT"]
    rows = [line.split() for line in out[1:]]
    assert [r[0] for r in rows] == ["base", "child"]
    assert rows[1][1] == "base"
    assert berth(store, "layer", "ls", "-q").stdout.split() == ["base", "child"]

    assert berth(store, "layer", "exists", "child").returncode == 0
    p = berth(store, "layer", "exists", "nope", check=False)
    assert p.returncode == 1 and p.stderr == ""

    p = berth(store, "layer", "rm", "base", check=False)
    assert p.returncode == 1 and "parent of layer child" in p.stderr
    berth(store, "layer", "rm", "child")
    berth(store, "layer", "rm", "base")
    assert berth(store, "layer", "ls", "-q").stdout == ""
    assert os.listdir(os.path.join(store, "vfs", "dir")) == []


def test_idmapped_layer(store):
    berth(store, "layer", "create", "base")
    fill(layer_dir(store, "base"))
    berth(store, "layer", "create", "mapped", "--parent", "base", "--uidmap", "0:100000:65536",
          "--gidmap", "0:200000:65536")
    m = layer_dir(store, "mapped")
    assert (os.stat(m).st_uid, os.stat(m).st_gid) == (100000, 200000)
    f1 = os.stat(os.path.join(m, "etc", "f1"))
    assert (f1.st_uid, f1.st_gid, stat.S_IMODE(f1.st_mode)) == (101000, 201000, 0o4755)
    assert os.lstat(os.path.join(m, "abs")).st_uid == 100000
    # A base layer is owned by the remapped root too.
    berth(store, "layer", "create", "empty", "--uidmap", "0:300000:10", "--gidmap", "0:300000:10")
    e = os.stat(layer_dir(store, "empty"))
    assert (e.st_uid, e.st_gid, stat.S_IMODE(e.st_mode)) == (300000, 300000, 0o755)


def test_refusals(store):
    p = berth(store, "layer", "create", "x", "--storage-opt", "size=1G", check=False)
    assert p.returncode == 1
    assert "--storage-opt is not supported for vfs" in p.stderr
    for bad in ["../evil", "a/b", ".x"]:
        p = berth(store, "layer", "create", bad, check=False)
        assert p.returncode == 1 and "an id is" in p.stderr
    p = berth(store, "layer", "create", "x", "--parent", "missing", check=False)
    assert p.returncode == 1 and "parent layer missing" in p.stderr
    p = berth(store, "layer", "create", "x", "--uidmap", "0:1", check=False)
    assert p.returncode != 0 and "CONTAINER:HOST:SIZE" in p.stderr
    p = berth(store, "layer", "path", "nothere", check=False)
    assert p.returncode == 1 and "layer nothere" in p.stderr
    p = berth(store, "layer", "create", check=False)
    assert p.returncode != 0
    assert not os.path.exists(layer_dir(store, "x"))


def test_symlink_to_outside_is_not_followed(store):
    outside = tempfile.mkdtemp(prefix="berth-it-canary-", dir="/var/tmp")
    try:
        canary = os.path.join(outside, "canary")
        with open(canary, "w") as f:
            f.write("canary\n")
        os.chmod(canary, 0o600)
        before = os.stat(canary)
        berth(store, "layer", "create", "base")
        base = layer_dir(store, "base")
        os.symlink(outside, os.path.join(base, "out"))
        os.symlink(canary, os.path.join(base, "canary-link"))
        berth(store, "layer", "create", "c", "--parent", "base", "--uidmap", "0:100000:65536",
              "--gidmap", "0:100000:65536")
        assert os.path.islink(os.path.join(layer_dir(store, "c"), "out"))
        after = os.stat(canary)
        assert (after.st_uid, after.st_gid, after.st_mode, after.st_mtime_ns, after.st_ctime_ns) \
            == (before.st_uid, before.st_gid, before.st_mode, before.st_mtime_ns,
                before.st_ctime_ns)
        assert os.listdir(outside) == ["canary"]
        berth(store, "layer", "rm", "c")
        assert os.path.exists(canary)
    finally:
        shutil.rmtree(outside)


def test_killed_create_leaves_no_trace(store):
    berth(store, "layer", "create", "big")
    big = layer_dir(store, "big")
    for d in range(40):
        os.makedirs(os.path.join(big, f"d{d}"))
        for i in range(500):
            with open(os.path.join(big, f"d{d}", f"f{i}"), "w") as f:
                f.write("x" * 100)
    proc = subprocess.Popen([BERTH, "--storage-root", store, "layer", "create", "copy",
                             "--parent", "big"], stderr=subprocess.DEVNULL)
    probe = os.path.join(layer_dir(store, "copy"), "d0")
    deadline = time.monotonic() + 20
    while not os.path.exists(probe) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        pytest.skip("the copy finished before it could be killed")
    assert os.path.exists(layer_dir(store, "copy"))
    # readers do not list it ...
    assert berth(store, "layer", "ls", "-q").stdout.split() == ["big"]
    assert berth(store, "layer", "exists", "copy", check=False).returncode == 1
    # ... and the next writer removes it
    berth(store, "layer", "create", "other")
    assert not os.path.exists(layer_dir(store, "copy"))
    assert berth(store, "layer", "ls", "-q").stdout.split() == ["big", "other"]


def test_concurrent_creates_serialise(store):
    berth(store, "layer", "create", "base")
    fill(layer_dir(store, "base"), n=2000)
    procs = [subprocess.Popen([BERTH, "--storage-root", store, "layer", "create", f"c{i}",
                               "--parent", "base"], stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    ids = berth(store, "layer", "ls", "-q").stdout.split()
    assert sorted(ids) == ["base", "c0", "c1", "c2", "c3"]
    for i in range(4):
        assert len(os.listdir(os.path.join(layer_dir(store, f"c{i}"), "etc"))) == 2000
