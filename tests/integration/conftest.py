"""Integration fixtures: the real berth binary, as root, on busybox bundles.

Every test gets its own state root and bundle. Whatever a test leaves (a container, a mount,
a cgroup, a process) is cleaned up afterwards and reported as a failure of that test.
"""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from rootfs_util import force_no_openat2, make_canary, snapshot

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERTH = os.environ.get("BERTH", os.path.join(TOP, "build", "berth"))
ROOTFS_CACHE = "/var/tmp/berth-test-rootfs"


def _mountpoints():
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


def _ours(mountpoint, dirs, prefix):
    """Whether a new host mount may be this test's doing: one below the test's own directories
    (its bundles, their rootfs), or one named with its prefix (a network namespace it added).
    Other test runs share the machine: a mount of theirs is neither reported nor undone here."""
    if any(mountpoint == d or mountpoint.startswith(d + "/") for d in dirs):
        return True
    return prefix in mountpoint


def _cgroup_dirs(prefix):
    found = []
    for base in ("/sys/fs/cgroup",):
        for dirpath, dirnames, _ in os.walk(base):
            for d in dirnames:
                if d.startswith(prefix):
                    found.append(os.path.join(dirpath, d))
    return found


def _processes_rooted_at(roots):
    """Processes whose root directory is one of `roots` (paths). A process that pivoted into a
    rootfs shows "/" as its root link from the host, so the directory is matched by device and
    inode through /proc/PID/root."""
    ids = set()
    for r in roots:
        try:
            st = os.stat(r)
            ids.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{p}/root")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in ids:
            pids.append(int(p))
    return pids


def _processes_under(path):
    """Processes rooted in a rootfs of one of the test's bundles (PATH/*/rootfs)."""
    roots = []
    try:
        for d in os.listdir(path):
            if os.path.isdir(os.path.join(path, d, "rootfs")):
                roots.append(os.path.join(path, d, "rootfs"))
    except FileNotFoundError:
        pass
    return _processes_rooted_at(roots)


@pytest.fixture(scope="session")
def rootfs_template():
    """A busybox rootfs, made once."""
    if not os.path.exists(os.path.join(ROOTFS_CACHE, "bin", "busybox")):
        tmp = ROOTFS_CACHE + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([os.path.join(TOP, "scripts", "mkrootfs"), tmp], check=True)
        shutil.rmtree(ROOTFS_CACHE, ignore_errors=True)
        os.rename(tmp, ROOTFS_CACHE)
    return ROOTFS_CACHE


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err

    def __repr__(self):
        return f"rc={self.rc} out={self.out!r} err={self.err!r}"


class Berth:
    """Runs the berth binary with a private state root.

    berth's stdout and stderr go to files, not pipes: after `create` or `run -d` the container
    keeps the descriptors it inherited, and a pipe would only see its end when the container
    exits. What berth itself wrote is read back once it has exited.
    """

    def __init__(self, root, prefix, tmp):
        self.root = root
        self.prefix = prefix
        self.tmp = tmp
        self.binary = BERTH
        self._n = 0
        self._procs = []

    def new_id(self, name="c"):
        return f"{self.prefix}-{name}-{uuid.uuid4().hex[:6]}"

    def command(self, *args, global_args=()):
        return [self.binary, "--root", self.root, *global_args, *[str(a) for a in args]]

    def _files(self):
        self._n += 1
        base = os.path.join(self.tmp, f"berth-io-{self._n}")
        return open(base + ".out", "w+"), open(base + ".err", "w+")

    def __call__(self, *args, check=True, input=None, timeout=60, env=None, global_args=()):
        cmd = self.command(*args, global_args=global_args)
        out, err = self._files()
        with out, err:
            p = subprocess.run(cmd, input=input, stdout=out, stderr=err, text=True,
                               timeout=timeout, env=env,
                               stdin=None if input is not None else subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            r = Result(p.returncode, out.read(), err.read())
        if check and r.rc != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {r}")
        return r

    def popen(self, *args, global_args=()):
        """Start berth in the background; wait() gives a Result. Killed at teardown."""
        cmd = self.command(*args, global_args=global_args)
        out, err = self._files()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, text=True)
        p.out_file, p.err_file = out, err
        self._procs.append(p)
        return p

    @staticmethod
    def wait(p, timeout=60):
        rc = p.wait(timeout=timeout)
        p.out_file.seek(0)
        p.err_file.seek(0)
        r = Result(rc, p.out_file.read(), p.err_file.read())
        p.out_file.close()
        p.err_file.close()
        return r

    def run(self, bundle, *args, cid=None, check=False, timeout=60):
        """`run` the bundle in the foreground with process.args set to args."""
        if args:
            bundle.set_args(*args)
        else:
            bundle.write()
        return self("run", "-b", bundle.path, cid or self.new_id("run"), check=check,
                    timeout=timeout)

    def state(self, cid):
        return json.loads(self("state", cid).out)

    def status(self, cid):
        return self.state(cid)["status"]

    def wait_status(self, cid, want, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            r = self("state", cid, check=False)
            st = json.loads(r.out)["status"] if r.rc == 0 else r.err.strip()
            if st == want:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"container {cid} is {st}, not {want}, after {timeout} s")
            time.sleep(0.02)

    def containers(self):
        try:
            return [n for n in os.listdir(self.root) if not n.startswith(".")]
        except FileNotFoundError:
            return []

    def kill_helpers(self):
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.out_file, p.err_file):
                if not f.closed:
                    f.close()


class Bundle:
    def __init__(self, path, config):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.config = config

    def write(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        self.write()

    @property
    def namespaces(self):
        return self.config["linux"]["namespaces"]

    def set_namespace(self, kind, path=None):
        """Add a namespace (or replace the one of that type), new or joined by path."""
        ns = {"type": kind}
        if path is not None:
            ns["path"] = path
        self.config["linux"]["namespaces"] = [n for n in self.namespaces if n["type"] != kind]
        self.namespaces.append(ns)

    def drop_namespace(self, kind):
        self.config["linux"]["namespaces"] = [n for n in self.namespaces if n["type"] != kind]

    def host_path(self, path):
        """Where a path of the container's rootfs is on the host."""
        return os.path.join(self.rootfs, path.lstrip("/"))

    def processes(self):
        """Host pids of the processes whose root is this bundle's rootfs."""
        return _processes_rooted_at([self.rootfs])

    def read(self, path):
        with open(self.host_path(path)) as f:
            return f.read()


@pytest.fixture
def berth(tmp_path, make_bundle):
    # make_bundle is set up first so that it is torn down last, after the leak checks.
    prefix = "bt" + uuid.uuid4().hex[:6]
    root = str(tmp_path / "state")
    io = tmp_path / "io"
    io.mkdir()
    b = Berth(root, prefix, str(io))
    mounts_before = _mountpoints()
    yield b
    b.kill_helpers()
    problems = []
    left = b.containers()
    if left:
        problems.append(f"containers left in the state root: {left}")
    for cid in left:
        subprocess.run([BERTH, "--root", root, "delete", "--force", cid], capture_output=True)
    procs = _processes_under(str(tmp_path))
    if procs:
        problems.append(f"processes left running in the test's rootfs: {procs}")
        for p in procs:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while _processes_under(str(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.05)
    new_mounts = {m for m in _mountpoints() - mounts_before
                  if _ours(m, [str(tmp_path), *make_bundle.outside], prefix)}
    if new_mounts:
        problems.append(f"mounts left on the host: {sorted(new_mounts)}")
        for m in sorted(new_mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
    cgroups = _cgroup_dirs(prefix)
    if cgroups:
        problems.append(f"cgroups left: {cgroups}")
        # The tasks of a cgroup leave it a moment after they die.
        for d in sorted(cgroups, key=len, reverse=True):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture
def make_bundle(tmp_path, rootfs_template):
    """Bundles on copies of the busybox rootfs, with berth's default config minus the tty.

    make_bundle(name, traversable=True) puts the bundle where any uid may walk to it (pytest's
    directories are 0700): an unprivileged runtime reaches its rootfs by path from the container's
    user namespace (a root one binds it, and the bind sources, before the init leaves the host's).
    It still shows under the test's directory, as a symlink, for the leak checks."""
    outside = []

    def make(name="bundle", traversable=False):
        link = tmp_path / name
        if traversable:
            real = tempfile.mkdtemp(prefix=f"berth-itest-{name}-", dir="/var/tmp")
            os.chmod(real, 0o711)
            outside.append(real)
            os.symlink(real, link)
            path = pathlib.Path(real)
        else:
            path = link
            path.mkdir()
        subprocess.run(["cp", "-a", rootfs_template, str(path / "rootfs")], check=True)
        subprocess.run([BERTH, "spec", "-b", str(path)], check=True)
        with open(path / "config.json") as f:
            config = json.load(f)
        config["process"]["terminal"] = False
        config["root"]["readonly"] = False
        b = Bundle(str(path), config)
        b.write()
        return b

    make.outside = outside
    yield make
    for d in outside:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def bundle(make_bundle):
    return make_bundle()


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, berth, tmp_path):
    """Each test twice: berth resolving paths with openat2, and with the walk it falls back to."""
    if request.param == "walk":
        force_no_openat2(berth, tmp_path)
    return request.param


@pytest.fixture
def canary(tmp_path):
    """A host directory outside the bundle; the test fails if anything in it changed."""
    path = make_canary(tmp_path / "outside")
    before = snapshot(path)
    yield path
    assert snapshot(path) == before, "the canary directory outside the bundle was changed"
