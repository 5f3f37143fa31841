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


# --- berth image ------------------------------------------------------------------------------

import gzip
import hashlib
import io
import json
import tarfile

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def make_tar(entries):
    """entries: (name, kind, data/target, extra) with kind f, d, l, h, c, p."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            name, kind = e[0], e[1]
            data = e[2] if len(e) > 2 else None
            extra = e[3] if len(e) > 3 else {}
            ti = tarfile.TarInfo(name)
            ti.type = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE,
                       "h": tarfile.LNKTYPE, "c": tarfile.CHRTYPE, "p": tarfile.FIFOTYPE}[kind]
            ti.mode = extra.get("mode", 0o755 if kind == "d" else 0o644)
            ti.uid = ti.gid = extra.get("uid", 0)
            ti.mtime = 1600000000
            ti.pax_headers = extra.get("pax", {})
            if kind in "lh":
                ti.linkname = data
            if kind == "c":
                ti.devmajor, ti.devminor = 1, 3
            body = data if kind == "f" else None
            ti.size = len(body) if body else 0
            t.addfile(ti, io.BytesIO(body) if body else None)
    return buf.getvalue()


def compress(raw, how):
    if how == "gzip":
        return gzip.compress(raw), LAYER_TAR + "+gzip"
    if how == "zstd":
        p = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True)
        return p.stdout, LAYER_TAR + "+zstd"
    return raw, LAYER_TAR


class Layout:
    """An OCI image layout written by hand: blobs/sha256/<hex>, index.json, oci-layout."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.path, "blobs", "sha256", h), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    def manifest(self, layers, how="gzip", diff_ids=None, arch="amd64"):
        descs, ids = [], []
        for raw in layers:
            data, mt = compress(raw, how)
            descs.append({"mediaType": mt, **self.blob(data)})
            ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        config = json.dumps({"architecture": arch, "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": diff_ids or ids}}).encode()
        m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                        **self.blob(config)},
             "layers": descs}
        mb = json.dumps(m).encode()
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json", **self.blob(mb),
                "platform": {"os": "linux", "architecture": arch}}

    def index(self, manifests, name=None):
        if name:
            manifests[0].setdefault("annotations", {})[
                "org.opencontainers.image.ref.name"] = name
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": manifests}, f)


BASE = [("./", "d"), ("etc", "d"), ("etc/passwd", "f", b"root:x:0:0\n"),
        ("etc/old", "f", b"old\n"), ("var", "d"), ("var/lib", "d"), ("var/lib/a", "f", b"a"),
        ("var/lib/sub", "d"), ("var/lib/sub/deep", "f", b"d"),
        ("bin", "d"), ("bin/su", "f", b"#!/bin/sh\n", {"mode": 0o4755, "uid": 0,
                                                        "pax": {"SCHILY.xattr.user.k": "v"}}),
        ("usr", "d"), ("usr/lib", "d"), ("lib", "l", "usr/lib"),
        ("dev", "d"), ("dev/null", "c"), ("run", "d"), ("run/fifo", "p"),
        ("hl", "h", "etc/passwd")]
UPPER = [("etc/.wh.old", "f", b""), ("var/lib/.wh..wh..opq", "f", b""),
         ("var/lib/mine", "f", b"mine"), ("lib/libx.so", "f", b"ELF"),
         ("usr/lib/.wh.gone", "f", b"")]


def image_dirs(store):
    d = os.path.join(store, "vfs", "dir")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="berth-it-image-", dir="/var/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d)


def top_layer(store, name):
    out = berth(store, "image", "ls").stdout.splitlines()[1:]
    for line in out:
        if line.split()[0] == name:
            tops = [lid for lid in image_dirs(store) if lid.startswith(line.split()[2])]
            assert len(tops) == 1
            return layer_dir(store, tops[0])
    raise AssertionError(f"{name} not listed")


@pytest.mark.parametrize("how", ["gzip", "zstd", "plain"])
def test_image_import_layers_and_whiteouts(store, workdir, how):
    if how == "zstd" and shutil.which("zstd") is None:
        pytest.skip("zstd not installed")
    lay = Layout(os.path.join(workdir, "layout"))
    lay.index([lay.manifest([make_tar(BASE), make_tar(UPPER)], how=how)], name="test:1")
    out = berth(store, "image", "import", lay.path).stdout.strip()
    assert out == "test:1"
    top = top_layer(store, "test:1")
    assert not os.path.exists(os.path.join(top, "etc", "old"))
    assert not os.path.exists(os.path.join(top, "etc", ".wh.old"))
    assert open(os.path.join(top, "etc", "passwd"), "rb").read() == b"root:x:0:0\n"
    assert sorted(os.listdir(os.path.join(top, "var", "lib"))) == ["mine"]
    assert open(os.path.join(top, "usr", "lib", "libx.so"), "rb").read() == b"ELF"
    su = os.stat(os.path.join(top, "bin", "su"))
    assert stat.S_IMODE(su.st_mode) == 0o4755 and su.st_mtime == 1600000000
    assert os.getxattr(os.path.join(top, "bin", "su"), "user.k") == b"v"
    assert os.stat(os.path.join(top, "hl")).st_ino == os.stat(
        os.path.join(top, "etc", "passwd")).st_ino
    assert stat.S_ISCHR(os.lstat(os.path.join(top, "dev", "null")).st_mode)
    assert stat.S_ISFIFO(os.lstat(os.path.join(top, "run", "fifo")).st_mode)
    assert len(image_dirs(store)) == 2
    # The lower layer kept its own view.
    lower = [layer_dir(store, i) for i in image_dirs(store) if layer_dir(store, i) != top][0]
    assert os.path.exists(os.path.join(lower, "etc", "old"))

    # Same layers under another name: shared, nothing new made.
    berth(store, "image", "import", "--name", "again", lay.path)
    assert len(image_dirs(store)) == 2
    p = berth(store, "image", "import", lay.path, check=False)
    assert p.returncode == 1 and "exists" in p.stderr, p.stderr
    berth(store, "image", "rm", "test:1")
    assert len(image_dirs(store)) == 2  # still used by "again"
    berth(store, "image", "rm", "again")
    assert image_dirs(store) == []
    assert berth(store, "image", "ls", "-q").stdout == ""


def test_image_archive_nested_index_platforms(store, workdir):
    lay = Layout(os.path.join(workdir, "layout"))
    arm = lay.manifest([make_tar([("arm", "f", b"arm")])], arch="arm64")
    amd = lay.manifest([make_tar([("amd", "f", b"amd")])])
    nested = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [arm, amd]}).encode()
    lay.index([{"mediaType": "application/vnd.oci.image.index.v1+json", **lay.blob(nested)}])
    archive = os.path.join(workdir, "image.tar")
    with tarfile.open(archive, "w") as t:
        t.add(lay.path, arcname=".")
    name = berth(store, "image", "import", "--name", "multi", archive).stdout.strip()
    assert name == "multi"
    top = top_layer(store, "multi")
    assert os.listdir(top) == ["amd"]
    assert not os.path.exists(os.path.join(store, "tmp"))


def test_image_idmap(store, workdir):
    lay = Layout(os.path.join(workdir, "layout"))
    lay.index([lay.manifest([make_tar(BASE), make_tar(UPPER)])], name="m")
    berth(store, "image", "import", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536",
          lay.path)
    top = top_layer(store, "m")
    assert os.stat(top).st_uid == 100000
    assert os.stat(os.path.join(top, "bin", "su")).st_uid == 100000
    assert os.stat(os.path.join(top, "var", "lib", "mine")).st_uid == 100000
    assert stat.S_IMODE(os.stat(os.path.join(top, "bin", "su")).st_mode) == 0o4755


def corrupt_blob(lay, digest):
    p = os.path.join(lay.path, "blobs", "sha256", digest.split(":")[1])
    data = bytearray(open(p, "rb").read())
    data[len(data) // 2] ^= 0xff
    open(p, "wb").write(bytes(data))


def bad_layout(kind, lay, canary_dir):
    good = make_tar(BASE)
    if kind == "digest-mismatch":
        m = lay.manifest([good])
        man = json.load(open(os.path.join(lay.path, "blobs", "sha256",
                                          m["digest"].split(":")[1])))
        corrupt_blob(lay, man["layers"][0]["digest"])
        return m, "digest mismatch"
    if kind == "missing-blob":
        m = lay.manifest([good])
        man = json.load(open(os.path.join(lay.path, "blobs", "sha256",
                                          m["digest"].split(":")[1])))
        os.unlink(os.path.join(lay.path, "blobs", "sha256",
                               man["layers"][0]["digest"].split(":")[1]))
        return m, "No such file or directory"
    if kind == "diffid-mismatch":
        return lay.manifest([good], diff_ids=["sha256:" + "0" * 64]), "diffID mismatch"
    if kind == "truncated-tar":
        return lay.manifest([good[:len(good) // 2 + 100]], how="plain"), "read"
    if kind == "corrupt-gzip":
        data = bytearray(gzip.compress(good))
        data[20:40] = b"\0" * 20
        d = {"mediaType": LAYER_TAR + "+gzip", **lay.blob(bytes(data))}
        config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [
            "sha256:" + hashlib.sha256(good).hexdigest()]}}).encode()
        mb = json.dumps({"schemaVersion": 2, "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json", **lay.blob(config)},
            "layers": [d]}).encode()
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json", **lay.blob(mb)}, \
            "decompress"
    if kind == "dotdot":
        return lay.manifest([good, make_tar([("../../escape", "f", b"x")])]), '".."'
    if kind == "hardlink-out":
        return lay.manifest([good, make_tar([("h", "h", "../" + canary_dir + "/canary")])]), \
            "hardlink"
    if kind == "absurd-name":
        return lay.manifest([make_tar([("a" * 300, "f", b"x")])]), "too long"
    if kind == "root-symlink":
        return lay.manifest([make_tar([(".", "l", canary_dir)])]), "root directory"
    if kind == "bad-media-type":
        m = lay.manifest([good])
        p = os.path.join(lay.path, "blobs", "sha256", m["digest"].split(":")[1])
        man = json.load(open(p))
        man["layers"][0]["mediaType"] = "application/x-rar"
        mb = json.dumps(man).encode()
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json", **lay.blob(mb)}, \
            "unsupported media type"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["digest-mismatch", "missing-blob", "diffid-mismatch",
                                  "truncated-tar", "corrupt-gzip", "dotdot", "hardlink-out",
                                  "absurd-name", "root-symlink", "bad-media-type"])
def test_image_bad_input_leaves_store_as_it_was(store, workdir, kind):
    canary_dir = os.path.join(workdir, "outside")
    os.makedirs(canary_dir)
    with open(os.path.join(canary_dir, "canary"), "w") as f:
        f.write("canary\n")
    # something already in the store, which must stay exactly so
    berth(store, "layer", "create", "keep")
    before = (image_dirs(store), berth(store, "layer", "ls", "-q").stdout,
              berth(store, "image", "ls", "-q").stdout)
    lay = Layout(os.path.join(workdir, "layout"))
    m, want = bad_layout(kind, lay, canary_dir)
    lay.index([m], name="bad")
    p = berth(store, "image", "import", lay.path, check=False)
    assert p.returncode == 1, p.stdout
    assert want in p.stderr, p.stderr
    assert p.stderr.startswith("import ")
    after = (image_dirs(store), berth(store, "layer", "ls", "-q").stdout,
             berth(store, "image", "ls", "-q").stdout)
    assert after == before
    assert os.listdir(canary_dir) == ["canary"]
    assert open(os.path.join(canary_dir, "canary")).read() == "canary\n"


def test_image_symlink_escape_contained(store, workdir):
    outside = os.path.join(workdir, "outside")
    os.makedirs(outside)
    canary = os.path.join(outside, "canary")
    with open(canary, "w") as f:
        f.write("canary\n")
    os.chmod(canary, 0o600)
    st = os.stat(canary)
    lay = Layout(os.path.join(workdir, "layout"))
    l1 = make_tar([("evil", "l", outside), ("up", "l", "../../../../../.."),
                   ("cf", "l", canary)])
    l2 = make_tar([("up/escaped", "f", b"x"), ("cf", "f", b"replaced", {"mode": 0o777}),
                   ("evil/.wh.canary", "f", b"")])
    lay.index([lay.manifest([l1, l2])], name="esc")
    berth(store, "image", "import", lay.path)
    top = top_layer(store, "esc")
    assert os.path.exists(os.path.join(top, "escaped"))
    assert os.path.isfile(os.path.join(top, "cf")) and not os.path.islink(os.path.join(top, "cf"))
    st2 = os.stat(canary)
    assert (st2.st_mode, st2.st_uid, st2.st_size, st2.st_mtime_ns) == \
        (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns)
    assert os.listdir(outside) == ["canary"]
    assert open(canary).read() == "canary\n"
