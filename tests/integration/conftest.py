"""Integration fixtures: the real berth binary, as root, on busybox bundles.

Every test gets its own state root and bundle. Whatever a test leaves (a container, a mount,
a cgroup, a process) is cleaned up afterwards and reported as a failure of that test.
"""
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERTH = os.environ.get("BERTH", os.path.join(TOP, "build", "berth"))
ROOTFS_CACHE = "/var/tmp/berth-test-rootfs"


def _mountpoints():
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


def _cgroup_dirs(prefix):
    found = []
    for base in ("/sys/fs/cgroup",):
        for dirpath, dirnames, _ in os.walk(base):
            for d in dirnames:
                if d.startswith(prefix):
                    found.append(os.path.join(dirpath, d))
    return found


def _processes_under(path):
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            root = os.readlink(f"/proc/{p}/root")
        except OSError:
            continue
        if root.startswith(path):
            pids.append(int(p))
    return pids


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
    """Runs the berth binary with a private state root."""

    def __init__(self, root, prefix):
        self.root = root
        self.prefix = prefix
        self.binary = BERTH

    def new_id(self, name="c"):
        return f"{self.prefix}-{name}-{uuid.uuid4().hex[:6]}"

    def __call__(self, *args, check=True, input=None, timeout=60, env=None, global_args=()):
        cmd = [self.binary, "--root", self.root, *global_args, *[str(a) for a in args]]
        # Output goes to files, not pipes: a detached container keeps berth's stdio open, and a
        # pipe would never reach end of file.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run(cmd, input=input, stdout=out, stderr=err, text=True,
                               timeout=timeout, env=env,
                               stdin=None if input is not None else subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            r = Result(p.returncode, out.read(), err.read())
        if check and r.rc != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {r}")
        return r

    def state(self, cid):
        return json.loads(self("state", cid).out)

    def containers(self):
        try:
            return [n for n in os.listdir(self.root) if not n.startswith(".")]
        except FileNotFoundError:
            return []


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


@pytest.fixture
def berth(tmp_path, request):
    prefix = "bt" + uuid.uuid4().hex[:6]
    root = str(tmp_path / "state")
    b = Berth(root, prefix)
    mounts_before = _mountpoints()
    yield b
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
    new_mounts = _mountpoints() - mounts_before
    if new_mounts:
        problems.append(f"mounts left on the host: {sorted(new_mounts)}")
        for m in sorted(new_mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
    cgroups = _cgroup_dirs(prefix)
    if cgroups:
        problems.append(f"cgroups left: {cgroups}")
        for d in sorted(cgroups, key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture
def bundle(tmp_path, rootfs_template):
    """A bundle on a copy of the busybox rootfs, with berth's default config minus the tty."""
    path = tmp_path / "bundle"
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
