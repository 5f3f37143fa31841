"""Regression tests for the runtime CVEs of doc/security.md that no other file proves: each
attempts the attack and shows it failed (a host canary left untouched, nothing mounted outside
the rootfs, or the error berth gives). The race tests run a second container that swaps a
directory and a symlink in a volume both containers share, with renameat2(RENAME_EXCHANGE),
while berth creates the victim again and again: ROUNDS times, 500 with BERTH_STRESS=1."""
import contextlib
import os
import shutil
import subprocess
import time

import pytest

from rootfs_util import (MOUNTINFO_MARK, add_mount, force_no_openat2, host_mounts, make_canary,
                         parse_mountinfo, run, snapshot)

HERE = os.path.dirname(os.path.abspath(__file__))
ROUNDS = 500 if os.environ.get("BERTH_STRESS") == "1" else 100


@pytest.fixture(scope="module")
def racer_binary(tmp_path_factory):
    out = tmp_path_factory.mktemp("racer") / "racer"
    r = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", str(out),
                        os.path.join(HERE, "racer.c")], capture_output=True, text=True)
    assert r.returncode == 0, f"cannot build the racer: {r.stderr}"
    return str(out)


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, berth, tmp_path):
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


@contextlib.contextmanager
def racing(berth, make_bundle, racer_binary, vol, a, b):
    """A container sharing `vol` at /vol that swaps vol/a and vol/b until the block ends."""
    rb = make_bundle("racer")
    shutil.copy(racer_binary, os.path.join(rb.rootfs, "racer"))
    add_mount(rb, "/vol", "bind", str(vol), ["rbind"])
    rb.set_args("/racer", f"/vol/{a}", f"/vol/{b}")
    cid = berth.new_id("racer")
    berth("run", "-d", "-b", rb.path, cid)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(vol, a + ".ready")):
            assert time.monotonic() < deadline, "the racer did not start"
            assert berth.status(cid) == "running", "the racer stopped"
            time.sleep(0.02)
        yield
        assert berth.status(cid) == "running", "the racer stopped while the victims ran"
    finally:
        berth("delete", "--force", cid)


def _host_mounts_under(paths):
    return {m.target for m in host_mounts()
            if any(m.target == p or m.target.startswith(p + "/") for p in paths)}


def _run_victim(berth, bundle, script):
    """One victim: run the script, then dump its mountinfo. (rc, script output, mounts, err)"""
    r = run(berth, bundle, f"{script}\necho '{MOUNTINFO_MARK}'; cat /proc/self/mountinfo",
            check=False)
    if r.rc != 0:
        return r.rc, r.out, [], r.err
    out, info = r.out.split(MOUNTINFO_MARK + "\n", 1)
    return 0, out, parse_mountinfo(info), r.err


# ---- CVE-2021-30465, CVE-2024-45310, CVE-2024-11218: mount destinations in a racing volume ----

def test_mount_destinations_in_a_racing_volume(berth, make_bundle, bundle, canary, tmp_path,
                                               racer_binary, resolver):
    """/vol/a is a directory or, a moment later, a symlink to a host directory (the canary):
    every mount whose destination goes through it must land inside the rootfs, the missing
    parts be made inside, and the canary never be reached."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "a").mkdir()
    os.symlink(canary, vol / "b")
    src = tmp_path / "file"
    src.write_text("bound\n")
    srcdir = os.path.join(bundle.rootfs, "srcdir")
    os.mkdir(srcdir)
    add_mount(bundle, "/vol", "bind", str(vol), ["rbind"])
    add_mount(bundle, "/vol/a/b", "tmpfs", "tmpfs")
    add_mount(bundle, "/vol/a/c", "tmpfs", "tmpfs")
    add_mount(bundle, "/vol/a/new/dir", "tmpfs", "tmpfs")
    add_mount(bundle, "/vol/a/f", "bind", str(src), ["bind"])
    add_mount(bundle, "/vol/a/d", "bind", srcdir, ["rbind"])
    # What the container must never see: the canary's own file, through any of the names.
    script = f"cat /vol/a/canary /vol/b/canary {canary}/canary 2>/dev/null"
    watched = [canary, str(vol), bundle.path]
    mounts_before = _host_mounts_under(watched)
    seen = set()
    with racing(berth, make_bundle, racer_binary, vol, "a", "b"):
        for i in range(ROUNDS):
            rc, out, mounts, err = _run_victim(berth, bundle, script)
            assert rc == 0, f"round {i}: {err}"
            assert "canary" not in out, f"round {i}: the container read the host canary"
            for name in ("b", "c", "new/dir", "f", "d"):
                allowed = {f"/vol/a/{name}", f"/vol/b/{name}", f"{canary}/{name}"}
                at = [m.target for m in mounts if m.target in allowed]
                assert len(at) == 1, f"round {i}: /vol/a/{name} is mounted at {at}"
                if name == "b":
                    seen.add(at[0].rsplit("/", 1)[0])
            assert _host_mounts_under(watched) == mounts_before, f"round {i}"
    # Both states of /vol/a were met, or the race proved nothing.
    assert len(seen) >= 2, f"the victims always found /vol/a the same: {seen}"
    # The symlinked rounds made their directories inside the rootfs, below the canary's name.
    assert os.path.isdir(os.path.join(bundle.rootfs, canary.lstrip("/"), "new", "dir"))


# ---- CVE-2025-52881: a racing symlink into /proc ----

def test_racing_symlink_into_proc(berth, make_bundle, bundle, tmp_path, racer_binary):
    """/vol/a turns into a symlink to /proc/sys/kernel: a mount through it is refused, never
    made in /proc, and the sysctl berth writes still reaches the right file."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "a").mkdir()
    os.symlink("/proc/sys/kernel", vol / "b")
    add_mount(bundle, "/vol", "bind", str(vol), ["rbind"])
    add_mount(bundle, "/vol/a/core_pattern", "tmpfs", "tmpfs")
    bundle.config["linux"]["sysctl"] = {"kernel.shm_rmid_forced": "1"}
    bundle.write()
    lx = bundle.config["linux"]
    allowed_proc = {"/proc"} | set(lx.get("maskedPaths", [])) | set(lx.get("readonlyPaths", []))
    with open("/proc/sys/kernel/shm_rmid_forced") as f:
        host_value = f.read()
    with open("/proc/sys/kernel/core_pattern") as f:
        host_core = f.read()
    outcomes = set()
    with racing(berth, make_bundle, racer_binary, vol, "a", "b"):
        for i in range(ROUNDS):
            rc, out, mounts, err = _run_victim(berth, bundle, "cat /proc/sys/kernel/shm_rmid_forced")
            if rc != 0:
                assert ('the destination resolves to "/proc/sys/kernel/core_pattern", which is '
                        'inside /proc') in err, f"round {i}: {err}"
                outcomes.add("refused")
                continue
            outcomes.add("mounted")
            assert out == "1\n", f"round {i}: {out!r}"
            under_proc = {m.target for m in mounts
                          if m.target == "/proc" or m.target.startswith("/proc/")}
            assert under_proc <= allowed_proc, f"round {i}: {under_proc - allowed_proc}"
            assert [m.target for m in mounts if m.target.endswith("/core_pattern")] in (
                ["/vol/a/core_pattern"], ["/vol/b/core_pattern"]), f"round {i}"
    assert outcomes == {"refused", "mounted"}, outcomes
    with open("/proc/sys/kernel/shm_rmid_forced") as f:
        assert f.read() == host_value
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == host_core


# ---- youki GHSA-3q8j-pf29-vwv8: readonly and masked paths named through a racing volume ----

@pytest.mark.parametrize("kind", ["readonlyPaths", "maskedPaths"])
def test_readonly_and_masked_paths_in_a_racing_volume(berth, make_bundle, bundle, tmp_path,
                                                      racer_binary, kind):
    """/vol/ro is a directory or a symlink to /vol/rw: whichever berth found is covered, read
    only, in one step; no writable bind or a mount elsewhere is ever left."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "ro").mkdir()
    (vol / "rw").mkdir()
    os.symlink("/vol/rw", vol / "x")
    add_mount(bundle, "/vol", "bind", str(vol), ["rbind"])
    bundle.config["linux"][kind] = ["/vol/ro"]
    bundle.write()
    watched = [str(vol), bundle.path]
    mounts_before = _host_mounts_under(watched)
    seen = set()
    with racing(berth, make_bundle, racer_binary, vol, "ro", "x"):
        for i in range(ROUNDS):
            rc, out, mounts, err = _run_victim(berth, bundle, "touch /vol/w && echo vol-rw")
            assert rc == 0, f"round {i}: {err}"
            assert out == "vol-rw\n", f"round {i}: {out!r}"
            below = [m for m in mounts if m.target.startswith("/vol/")]
            assert len(below) == 1, f"round {i}: {[m.target for m in below]}"
            m = below[0]
            assert m.target in ("/vol/ro", "/vol/rw", "/vol/x"), f"round {i}: {m.target}"
            assert "ro" in m.opts, f"round {i}: {m.target} is {m.opts}"
            if kind == "maskedPaths":
                assert m.fstype == "tmpfs", f"round {i}: {m}"
            seen.add(m.root if kind == "readonlyPaths" else m.target)
            assert _host_mounts_under(watched) == mounts_before, f"round {i}"
    if kind == "readonlyPaths":
        # The bind's root names the directory pinned: both were met.
        assert len(seen) >= 2, seen
    # Nothing read-only reached the host's side of the volume.
    for d in os.listdir(vol):
        if (vol / d).is_dir() and not (vol / d).is_symlink():
            (vol / d / "host-write").write_text("still writable on the host\n")
