"""Symlink attacks on the rootfs engine, each proven harmless: a canary directory outside the
bundle must be untouched, and nothing may be mounted in the host's namespace (the berth fixture
checks that). Most run twice: with openat2, and on the component walk berth falls back to where
openat2 is missing (the enosys helper makes it fail so)."""
import os
import stat
import subprocess
import uuid

import pytest

from rootfs_util import add_mount, drop_mount, force_no_openat2, mount_at, run, run_mounts


def _no_dev_mount(bundle):
    for m in ("/dev/shm", "/dev/mqueue", "/dev/pts", "/dev"):
        drop_mount(bundle, m)


def test_the_walk_is_really_used(berth, bundle, tmp_path):
    # The helper must make openat2 fail in berth; otherwise the "walk" runs prove nothing.
    force_no_openat2(berth, tmp_path)
    # LeakSanitizer cannot run under ptrace: a sanitizer build runs without it here.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat2", "-o",
                        str(tmp_path / "trace"), berth.binary, "--root", berth.root, "run",
                        "-b", bundle.path, berth.new_id()], capture_output=True, text=True,
                       env=env)
    if r.returncode == 127 or not os.path.exists(tmp_path / "trace"):
        pytest.skip("strace is not available")
    assert r.returncode == 0, r.stderr
    calls = (tmp_path / "trace").read_text()
    assert "openat2(" in calls
    assert all("ENOSYS" in line for line in calls.splitlines() if "openat2(" in line), calls


# ---- destinations through symlinks ----

def test_destination_through_symlink_to_root(berth, bundle, resolver):
    name = f"berth-escape-{uuid.uuid4().hex[:8]}"
    os.symlink("/", os.path.join(bundle.rootfs, "toroot"))
    add_mount(bundle, f"/toroot/{name}", "tmpfs", "tmpfs")
    src = os.path.join(bundle.path, "f")
    with open(src, "w") as f:
        f.write("bound\n")
    add_mount(bundle, f"/toroot/etc/{name}", "bind", src, ["bind"])
    out, mounts = run_mounts(berth, bundle, f"cat /etc/{name}")
    assert out == "bound\n"
    assert mount_at(mounts, f"/{name}").fstype == "tmpfs"
    assert not os.path.exists(f"/{name}") and not os.path.exists(f"/etc/{name}")
    assert os.path.isdir(os.path.join(bundle.rootfs, name))


def test_destination_through_dotdot_symlink(berth, bundle, canary, resolver):
    os.symlink("../../../../../../../../../.." + canary, os.path.join(bundle.rootfs, "up"))
    add_mount(bundle, "/up/sub", "tmpfs", "tmpfs")
    add_mount(bundle, "/up/new/deeper", "tmpfs", "tmpfs")
    out, mounts = run_mounts(berth, bundle)
    # ".." stops at the container's root: the symlink means <rootfs>/<canary path>.
    assert mount_at(mounts, canary + "/sub").fstype == "tmpfs"
    assert mount_at(mounts, canary + "/new/deeper").fstype == "tmpfs"
    assert os.path.isdir(os.path.join(bundle.rootfs, canary.lstrip("/"), "new", "deeper"))


def test_destination_through_absolute_symlink(berth, bundle, canary, resolver):
    os.symlink(canary, os.path.join(bundle.rootfs, "abs"))
    add_mount(bundle, "/abs/sub", "tmpfs", "tmpfs")
    add_mount(bundle, "/abs/new/dir", "tmpfs", "tmpfs")
    src = os.path.join(bundle.path, "f")
    with open(src, "w") as f:
        f.write("bound\n")
    add_mount(bundle, "/abs/canary", "bind", src, ["bind"])
    add_mount(bundle, "/abs/ptmx", "bind", src, ["bind"])
    out, mounts = run_mounts(berth, bundle, "cat /abs/canary")
    assert out == "bound\n"
    for t in ("/sub", "/new/dir", "/canary"):
        assert mount_at(mounts, canary + t) is not None, t


def test_destination_through_dangling_symlink(berth, bundle, resolver):
    os.symlink("/not/yet/there", os.path.join(bundle.rootfs, "dangling"))
    add_mount(bundle, "/dangling/x", "tmpfs", "tmpfs")
    out, mounts = run_mounts(berth, bundle)
    assert mount_at(mounts, "/not/yet/there/x").fstype == "tmpfs"
    assert not os.path.exists("/not/yet/there")


def test_symlink_made_by_an_earlier_mount(berth, bundle, canary, tmp_path, resolver):
    # CVE-2015-3629: the link to the canary only appears once the first mount is in place;
    # each destination is resolved when its own mount is made, inside the rootfs.
    vol = tmp_path / "vol"
    vol.mkdir()
    os.symlink(canary, vol / "link")
    add_mount(bundle, "/a", "bind", str(vol), ["rbind"])
    add_mount(bundle, "/a/link/y", "tmpfs", "tmpfs")
    out, mounts = run_mounts(berth, bundle)
    assert mount_at(mounts, canary + "/y").fstype == "tmpfs"
    assert sorted(os.listdir(vol)) == ["link"]


def test_destination_swapped_between_mounts_into_proc(berth, bundle, tmp_path, resolver):
    # The first mount puts a link to /proc where the second mount's destination goes.
    vol = tmp_path / "vol"
    vol.mkdir()
    os.symlink("/proc/self", vol / "p")
    add_mount(bundle, "/a", "bind", str(vol), ["rbind"])
    add_mount(bundle, "/a/p/attr", "tmpfs", "tmpfs")
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert "inside /proc" in r.err


@pytest.mark.parametrize("link", ["/proc", "/proc/self", "/proc/1/attr", "/proc/sys/kernel"])
def test_destination_through_symlink_into_proc(berth, bundle, tmp_path, resolver, link):
    os.symlink(link, os.path.join(bundle.rootfs, "p"))
    add_mount(bundle, "/p/x", "tmpfs", "tmpfs")
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    # /proc/self is the init's own pid inside the container: /proc/1.
    expect = link.replace("/proc/self", "/proc/1") + "/x"
    assert f'the destination resolves to "{expect}", which is inside /proc' in r.err


# ---- /proc, /sys and /dev as symlinks in the image ----

@pytest.mark.parametrize("what", ["proc", "sys"])
@pytest.mark.parametrize("to", ["canary", "missing", "relative"])
def test_proc_and_sys_symlinks_are_refused(berth, bundle, canary, resolver, what, to):
    # CVE-2019-19921, CVE-2023-27561, CVE-2023-28642.
    p = os.path.join(bundle.rootfs, what)
    os.rmdir(p)
    target = {"canary": canary, "missing": f"/bad-{what}", "relative": "tmp"}[to]
    os.symlink(target, p)
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert f'"/{what}" must be an ordinary directory, not a symlink' in r.err
    assert os.readlink(p) == target
    assert os.listdir(os.path.join(bundle.rootfs, "tmp")) == []


@pytest.mark.parametrize("dev_mount", [True, False])
def test_dev_symlink_to_the_canary(berth, bundle, canary, resolver, dev_mount):
    # CVE-2026-41579, CVE-2026-47766: /dev setup must not populate the place /dev points to.
    if not dev_mount:
        _no_dev_mount(bundle)
    d = os.path.join(bundle.rootfs, "dev")
    os.rmdir(d)
    os.symlink(canary, d)
    r = run(berth, bundle, "stat -L -c '%t:%T' /dev/null; readlink /dev/ptmx; ls /dev",
            check=False)
    if r.rc == 0:
        # Contained: the nodes are in <rootfs>/<canary path>, which is what /dev means inside.
        assert r.out.splitlines()[:2] == ["1:3", "pts/ptmx"]
        made = os.path.join(bundle.rootfs, canary.lstrip("/"))
        assert os.path.isdir(made)
        if not dev_mount:
            assert stat.S_ISCHR(os.lstat(os.path.join(made, "null")).st_mode)
    assert os.readlink(d) == canary


def test_dev_subdirectory_symlink_for_linux_devices(berth, bundle, canary, resolver):
    _no_dev_mount(bundle)
    os.symlink(canary, os.path.join(bundle.rootfs, "dev", "net"))
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}]
    bundle.write()
    out = run(berth, bundle, "stat -L -c '%t:%T' /dev/net/tun").out
    assert out.strip() == "a:c8"
    assert stat.S_ISCHR(os.lstat(os.path.join(bundle.rootfs, canary.lstrip("/"), "tun")).st_mode)


def test_dev_entries_planted_by_the_image(berth, bundle, canary, resolver):
    # With no /dev mount the image's /dev is used: each planted link is replaced or left in
    # place, never written through.
    _no_dev_mount(bundle)
    dev = os.path.join(bundle.rootfs, "dev")
    os.symlink(os.path.join(canary, "ptmx"), os.path.join(dev, "ptmx"))
    os.symlink(os.path.join(canary, "canary"), os.path.join(dev, "zero"))
    os.symlink(canary, os.path.join(dev, "fd"))
    os.symlink(os.path.join(canary, "sub"), os.path.join(dev, "stdout"))
    out = run(berth, bundle, "readlink /dev/ptmx; stat -c '%F %t:%T' /dev/zero").out
    assert out.splitlines() == ["pts/ptmx", "character special file 1:5"]


# ---- masks when /dev/null is not what it seems (CVE-2025-31133) ----

MASKED = ["/proc/keys", "/proc/timer_list", "/proc/acpi"]


@pytest.mark.parametrize("null", ["symlink-core_pattern", "symlink-canary", "file", "missing"])
def test_masks_use_a_real_null_device(berth, bundle, canary, resolver, null):
    _no_dev_mount(bundle)
    bundle.config["linux"]["maskedPaths"] = MASKED
    bundle.write()
    p = os.path.join(bundle.rootfs, "dev", "null")
    if null == "symlink-core_pattern":
        os.symlink("/proc/sys/kernel/core_pattern", p)
    elif null == "symlink-canary":
        os.symlink(os.path.join(canary, "canary"), p)
    elif null == "file":
        with open(p, "w") as f:
            f.write("not null\n")
    script = ("stat -c '%F %t:%T' /proc/keys /dev/null; cat /proc/keys | wc -c; "
              "echo '|/x' > /proc/sys/kernel/core_pattern; cat /proc/sys/kernel/core_pattern")
    r = run(berth, bundle, script, check=False)
    if r.rc != 0:
        # Refusing is safe too, provided the reason is said.
        assert "null" in r.err, r
        return
    lines = r.out.splitlines()
    assert lines[0] == "character special file 1:3"
    assert lines[1] == "character special file 1:3"
    assert lines[2].strip() == "0"
    assert "Read-only file system" in lines[3]
    with open("/proc/sys/kernel/core_pattern") as f:
        assert not f.read().startswith("|/x")


@pytest.mark.parametrize("null", ["symlink-core_pattern", "file", "missing"])
def test_masks_with_a_bound_dev(berth, bundle, canary, tmp_path, null):
    # A bind-mounted /dev gets no nodes from berth: whatever it has for null must not become
    # the mask source.
    hostdev = tmp_path / "hostdev"
    hostdev.mkdir()
    if null == "symlink-core_pattern":
        os.symlink("/proc/sys/kernel/core_pattern", hostdev / "null")
    elif null == "file":
        (hostdev / "null").write_text("not null\n")
    _no_dev_mount(bundle)
    add_mount(bundle, "/dev", "bind", str(hostdev), ["rbind"])
    bundle.config["linux"]["maskedPaths"] = MASKED
    bundle.write()
    r = run(berth, bundle, "stat -c '%F %t:%T' /proc/keys", check=False)
    if r.rc == 0:
        assert r.out.splitlines()[0] == "character special file 1:3"
    else:
        assert "/dev/null" in r.err, r
    with open("/proc/sys/kernel/core_pattern") as f:
        assert not f.read().startswith("not null")


# ---- mkdir of missing parts goes through symlinks inside the root only (CVE-2024-45310) ----

def test_missing_parents_are_made_inside(berth, bundle, canary, tmp_path, resolver):
    os.symlink(canary, os.path.join(bundle.rootfs, "vol"))
    src = tmp_path / "f"
    src.write_text("x")
    add_mount(bundle, "/vol/new/dir", "tmpfs", "tmpfs")
    add_mount(bundle, "/vol/f", "bind", str(src), ["bind"])
    add_mount(bundle, "/vol/sub/g", "bind", str(src), ["bind"])
    bundle.config["linux"]["devices"] = [
        {"path": "/vol/dev-node", "type": "c", "major": 1, "minor": 3}]
    bundle.write()
    out, mounts = run_mounts(berth, bundle, "cat /vol/f /vol/sub/g")
    assert out == "xx"
    inside = os.path.join(bundle.rootfs, canary.lstrip("/"))
    assert sorted(os.listdir(inside)) == ["dev-node", "f", "new", "sub"]


def test_no_mount_leaks_into_the_host(berth, bundle, tmp_path, resolver):
    # The fixture compares the host's mount table before and after; here the container also
    # mounts things itself while it runs.
    bundle.config["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    bundle.config["process"]["capabilities"]["effective"].append("CAP_SYS_ADMIN")
    bundle.config["process"]["capabilities"]["permitted"].append("CAP_SYS_ADMIN")
    add_mount(bundle, "/data", "tmpfs", "tmpfs", ["rshared"])
    bundle.config["linux"]["rootfsPropagation"] = "rshared"
    bundle.write()
    with open("/proc/self/mountinfo") as f:
        before = f.read().count("\n")
    out = run(berth, bundle, "mkdir -p /data/m && mount -t tmpfs tmpfs /data/m && echo ok").out
    assert out.strip() == "ok"
    with open("/proc/self/mountinfo") as f:
        assert f.read().count("\n") == before
