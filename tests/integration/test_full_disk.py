"""A store whose file system fills up (blocks or inodes) while berth writes a layer or imports an
image: berth fails with an error naming the path and the cause, the store stays exactly as it
was, and once space is freed the same command succeeds.

The store lives on a small file system of its own, a tmpfs or a loop-mounted ext4; a ballast
file on it sets how much room is left, and removing it frees the space.

Run as root: /usr/bin/python3 -m pytest tests/integration/test_full_disk.py
The berth binary comes from the BERTH environment variable.
"""
import errno
import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile

import pytest

from test_storage import Layout, make_tar

BERTH = os.environ.get("BERTH", "build/berth")
ENOSPC = "No space left on device"
INDEXES = ("layers.json", "images.json")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


class SmallFs:
    """A tmpfs or an ext4 (on a loop device, no blocks reserved for root) of `size` bytes and
    about `inodes` inodes, with the store at <mnt>/storage."""

    def __init__(self, base, kind, size, inodes=None):
        self.mnt = os.path.join(base, "fs")
        os.mkdir(self.mnt)
        if kind == "tmpfs":
            opts = f"size={size}"
            if inodes:
                opts += f",nr_inodes={inodes}"
            subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "berth-test-full", self.mnt],
                           check=True)
        else:
            image = os.path.join(base, "fs.img")
            with open(image, "wb") as f:
                f.truncate(int(size[:-1]) << 20)
            subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", *(["-N", str(inodes)]
                            if inodes else []), image], check=True, capture_output=True)
            subprocess.run(["mount", "-o", "loop", image, self.mnt], check=True)
        self.store = os.path.join(self.mnt, "storage")
        self.ballast = os.path.join(self.mnt, "ballast")

    def free_bytes(self):
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def fill_to(self, left):
        """Write the ballast so that about `left` bytes stay free."""
        n = self.free_bytes() - left
        assert n > 0, f"only {self.free_bytes()} bytes free, wanted {left} left"
        with open(self.ballast, "ab") as f:
            f.write(b"\0" * n)
        assert abs(self.free_bytes() - left) < 256 * 1024

    def fill_all(self):
        """Leave no byte that a file's data could take. (ext4 may still count a block free that
        only its own metadata can have: statvfs need not say 0.)"""
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                os.fsync(fd)
            probe = os.path.join(self.mnt, "probe")
            with pytest.raises(OSError) as e:
                with open(probe, "wb") as f:
                    f.write(b"x")
                    f.flush()
                    os.fsync(f.fileno())
            assert e.value.errno == errno.ENOSPC, e.value
            if os.path.exists(probe):
                os.unlink(probe)
        finally:
            os.close(fd)
        assert self.free_bytes() <= 4096

    def eat_inodes(self, left):
        """Use inodes with empty ballast files so that about `left` stay free."""
        st = os.statvfs(self.mnt)
        d = os.path.join(self.mnt, "inode-ballast")
        os.makedirs(d, exist_ok=True)
        for i in range(st.f_favail - left - 1):
            open(os.path.join(d, str(i)), "w").close()
        assert abs(os.statvfs(self.mnt).f_favail - left) <= 2
        os.sync()

    def free(self):
        for p in (self.ballast, os.path.join(self.mnt, "inode-ballast")):
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.unlink(p)

    def umount(self):
        if subprocess.run(["umount", self.mnt], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", self.mnt], check=False)


def loop_devices():
    return os.path.exists("/dev/loop-control") and shutil.which("mkfs.ext4") is not None


@pytest.fixture(params=["tmpfs", "ext4"])
def workdir(request):
    kind = request.param
    if kind == "ext4" and not loop_devices():
        pytest.skip("no loop devices or no mkfs.ext4")
    d = tempfile.mkdtemp(prefix="berth-it-full-", dir="/var/tmp")
    mounted = []

    def small_fs(size, inodes=None):
        fs = SmallFs(d, kind, size, inodes)
        mounted.append(fs)
        return fs

    try:
        yield d, small_fs
    finally:
        for fs in mounted:
            fs.umount()
        shutil.rmtree(d)


def berth(store, *args, check=True):
    p = subprocess.run([BERTH, "--storage-root", store, *args], capture_output=True, text=True,
                       timeout=300, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"berth {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def snapshot(store):
    """Everything about the store a failed command must not change: each entry's type, mode and
    owner, and each file's size, mtime and content (directory times change with any
    create-and-remove, so they are left out, and so do the times of the index files)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(store):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            key = os.path.relpath(p, store)
            info = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            if stat.S_ISREG(st.st_mode):
                # The indexes are rewritten whole (same content, new mtime) by a failed create.
                mtime = None if name in INDEXES else st.st_mtime_ns
                with open(p, "rb") as f:
                    info += (st.st_size, mtime, hashlib.sha256(f.read()).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                info += (os.readlink(p),)
            out[key] = info
    return out


def listings(store):
    return (berth(store, "layer", "ls").stdout, berth(store, "image", "ls").stdout)


def check_unchanged(store, before_snap, before_ls):
    after = snapshot(store)
    extra = sorted(set(after) - set(before_snap))
    gone = sorted(set(before_snap) - set(after))
    changed = sorted(k for k in after if k in before_snap and after[k] != before_snap[k])
    assert not extra and not gone and not changed, \
        f"store changed: new {extra[:10]}, gone {gone[:10]}, changed {changed[:10]}"
    assert listings(store) == before_ls
    # A writer's open finishes whatever a killed berth would have left: nothing here.
    p = berth(store, "layer", "rm", "no-such-layer", check=False)
    assert p.returncode == 1 and "no-such-layer" in p.stderr, p.stderr
    assert snapshot(store) == before_snap
    with open(os.path.join(store, "vfs", "layers.json")) as f:
        assert "incomplete" not in f.read()


def random_files(root, n, size):
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        with open(os.path.join(root, f"f{i:04d}"), "wb") as f:
            f.write(os.urandom(size))


def check_failure(p, path):
    assert p.returncode == 1, p
    assert ENOSPC in p.stderr, p.stderr
    assert path in p.stderr, f"{path!r} not named in {p.stderr!r}"
    assert p.stderr.count("\n") == 1, p.stderr


# --- berth layer create --------------------------------------------------------------------------

def test_layer_create_out_of_space(workdir):
    base, small_fs = workdir
    fs = small_fs("16m")
    store = fs.store
    berth(store, "layer", "create", "base")
    random_files(os.path.join(berth(store, "layer", "path", "base").stdout.strip(), "data"),
                 40, 100 * 1024)
    berth(store, "layer", "create", "other")
    fs.fill_to(2 << 20)  # half of what a copy of base needs
    before, before_ls = snapshot(store), listings(store)

    p = berth(store, "layer", "create", "child", "--parent", "base", check=False)
    check_failure(p, os.path.join(store, "vfs", "dir", "child"))
    check_unchanged(store, before, before_ls)

    fs.free()
    berth(store, "layer", "create", "child", "--parent", "base")
    child = berth(store, "layer", "path", "child").stdout.strip()
    assert sorted(os.listdir(os.path.join(child, "data"))) == [f"f{i:04d}" for i in range(40)]
    assert berth(store, "layer", "ls", "-q").stdout.split() == ["base", "other", "child"]


def test_layer_create_no_room_for_the_index(workdir):
    base, small_fs = workdir
    fs = small_fs("4m")
    store = fs.store
    berth(store, "layer", "create", "base")
    fs.fill_all()
    before, before_ls = snapshot(store), listings(store)
    p = berth(store, "layer", "create", "child", "--parent", "base", check=False)
    check_failure(p, os.path.join(store, "vfs"))
    assert snapshot(store) == before and listings(store) == before_ls
    fs.free()
    berth(store, "layer", "create", "child", "--parent", "base")
    assert berth(store, "layer", "ls", "-q").stdout.split() == ["base", "child"]


def test_layer_create_out_of_inodes(workdir):
    base, small_fs = workdir
    fs = small_fs("64m", inodes=2000)
    store = fs.store
    berth(store, "layer", "create", "base")
    random_files(os.path.join(berth(store, "layer", "path", "base").stdout.strip(), "many"),
                 600, 16)
    fs.eat_inodes(300)
    before, before_ls = snapshot(store), listings(store)

    p = berth(store, "layer", "create", "child", "--parent", "base", check=False)
    check_failure(p, os.path.join(store, "vfs", "dir", "child"))
    check_unchanged(store, before, before_ls)

    fs.free()
    berth(store, "layer", "create", "child", "--parent", "base")
    child = berth(store, "layer", "path", "child").stdout.strip()
    assert len(os.listdir(os.path.join(child, "many"))) == 600


# --- berth image import --------------------------------------------------------------------------

def big_layout(path, name, big_files=30, files=None):
    """A small first layer and a big second one (incompressible, 100 KiB files), so that a
    failure comes after a layer of the import is already in the store."""
    lay = Layout(path)
    small = make_tar([("etc", "d"), ("etc/hostname", "f", name.encode() + b"\n")])
    entries = [("data", "d")]
    entries += [(f"data/f{i:04d}", "f", os.urandom(100 * 1024)) for i in range(big_files)]
    entries += [(f"data/e{i:04d}", "f", b"") for i in range(files or 0)]
    lay.index([lay.manifest([small, make_tar(entries)])], name=name)
    return lay


def store_with_an_image(store, base):
    """A store holding one image and one layer of its own, which must stay as they are."""
    keep = Layout(os.path.join(base, "keep"))
    keep.index([keep.manifest([make_tar([("k", "f", b"keep")])])], name="keep:1")
    berth(store, "image", "import", keep.path)
    berth(store, "layer", "create", "mine")


@pytest.mark.parametrize("form", ["dir", "archive-extract", "archive-apply"])
def test_image_import_out_of_space(workdir, form):
    base, small_fs = workdir
    fs = small_fs("16m")
    store = fs.store
    store_with_an_image(store, base)
    lay = big_layout(os.path.join(base, "layout"), "big:1")
    source = lay.path
    if form != "dir":
        source = os.path.join(base, "image.tar")
        with tarfile.open(source, "w") as t:
            t.add(lay.path, arcname=".")
    # The unpacked layer needs 3 MB; an archive also needs its blobs unpacked (3 MB more) into
    # the store's tmp first: either there is no room for that, or no room for the layer after.
    fs.fill_to({"dir": 1 << 20, "archive-extract": 1 << 20, "archive-apply": 4 << 20}[form])
    before, before_ls = snapshot(store), listings(store)

    p = berth(store, "image", "import", source, check=False)
    check_failure(p, store)
    assert p.stderr.startswith(f"import {source}: ")
    check_unchanged(store, before, before_ls)
    assert not os.path.exists(os.path.join(store, "tmp"))

    fs.free()
    assert berth(store, "image", "import", source).stdout.strip() == "big:1"
    assert berth(store, "image", "ls", "-q").stdout.split() == ["keep:1", "big:1"]


def test_image_import_out_of_inodes(workdir):
    base, small_fs = workdir
    fs = small_fs("64m", inodes=2000)
    store = fs.store
    store_with_an_image(store, base)
    lay = big_layout(os.path.join(base, "layout"), "many:1", big_files=1, files=600)
    fs.eat_inodes(300)
    before, before_ls = snapshot(store), listings(store)

    p = berth(store, "image", "import", lay.path, check=False)
    check_failure(p, store)
    check_unchanged(store, before, before_ls)

    fs.free()
    assert berth(store, "image", "import", lay.path).stdout.strip() == "many:1"
