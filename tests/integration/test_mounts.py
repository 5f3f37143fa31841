"""config.json mounts as the container sees them: every type, every option group, the
destination rules, the error messages, masked and read-only paths, root.readonly, --no-pivot,
and the mount table next to runc's."""
import json
import os
import re
import shutil
import subprocess

import pytest

from rootfs_util import (add_caps, add_mount, drop_mount, drop_namespace, make_userns, mount_at,
                         parse_mountinfo, run, run_mounts, wrap_berth)


@pytest.fixture
def host_dir(tmp_path):
    """A host directory to bind from, with a file and a subdirectory."""
    d = tmp_path / "src"
    d.mkdir()
    (d / "file").write_text("from the host\n")
    (d / "sub").mkdir()
    return d


@pytest.fixture
def submount(host_dir):
    """A tmpfs mounted on host_dir/sub, for the recursive options; unmounted afterwards."""
    sub = str(host_dir / "sub")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", sub], check=True)
    with open(os.path.join(sub, "inner"), "w") as f:
        f.write("inner\n")
    yield sub
    subprocess.run(["umount", "-l", sub], check=True)


# ---- mount types ----

def test_proc(berth, bundle):
    out, mounts = run_mounts(berth, bundle, "cat /proc/1/comm; ls /proc | grep -c '^[0-9]'")
    comm, npids = out.split()
    m = mount_at(mounts, "/proc")
    assert m.fstype == "proc" and m.root == "/"
    # Its own pid namespace: pid 1 is the container's process, and few pids are there.
    assert comm == "sh"
    assert int(npids) <= 3


def test_proc_destination_created(berth, bundle):
    os.rmdir(os.path.join(bundle.rootfs, "proc"))
    out, mounts = run_mounts(berth, bundle, "stat -c %a /proc/..")
    assert mount_at(mounts, "/proc").fstype == "proc"
    st = os.lstat(os.path.join(bundle.rootfs, "proc"))
    assert oct(st.st_mode & 0o7777) == "0o755"


def test_sysfs_in_its_own_network_namespace(berth, bundle):
    out, mounts = run_mounts(berth, bundle, "touch /sys/x 2>&1; cat /sys/class/net/lo/ifindex; "
                                            "ls /sys/class/net")
    m = mount_at(mounts, "/sys")
    assert m.fstype == "sysfs" and m.root == "/"
    assert {"ro", "nosuid", "nodev", "noexec"} <= m.opts
    assert "Read-only file system" in out
    # A fresh sysfs shows the container's network namespace: only lo.
    assert out.split()[-1] == "lo"


def test_sysfs_shared_network_namespace_falls_back_to_host_sys(berth, bundle):
    # In a user namespace that does not own the network namespace, a fresh sysfs is refused:
    # the host's /sys is bound instead, read-only all the way down.
    drop_namespace(bundle, "network")
    make_userns(bundle)
    out, mounts = run_mounts(berth, bundle, "touch /sys/x 2>&1; ls /sys/class/net")
    m = mount_at(mounts, "/sys")
    assert m.fstype == "sysfs"
    assert "ro" in m.opts and {"nosuid", "nodev", "noexec"} <= m.opts
    under = [x for x in mounts if x.target.startswith("/sys/") and x.target != "/sys"]
    assert under, "the host's submounts of /sys come along (rbind)"
    assert all("ro" in x.opts for x in under), under
    assert "Read-only file system" in out
    host_ifaces = sorted(os.listdir("/sys/class/net"))
    assert sorted(out.split("\n", 1)[1].split()) == host_ifaces


def test_mqueue(berth, bundle):
    out, mounts = run_mounts(berth, bundle, "ls -ld /dev/mqueue | cut -c1")
    m = mount_at(mounts, "/dev/mqueue")
    assert m.fstype == "mqueue"
    assert {"nosuid", "nodev", "noexec"} <= m.opts
    assert out.strip() == "d"


def test_tmpfs_mode_and_size(berth, bundle):
    add_mount(bundle, "/mnt/t", "tmpfs", "tmpfs", ["mode=1773", "size=1m", "uid=5", "gid=6"])
    out, mounts = run_mounts(berth, bundle, "stat -c '%a %u %g' /mnt/t; "
                                            "dd if=/dev/zero of=/mnt/t/big bs=1k count=2048 2>&1")
    m = mount_at(mounts, "/mnt/t")
    assert m.fstype == "tmpfs"
    assert "size=1024k" in m.superopts and "mode=1773" in m.superopts
    assert out.splitlines()[0] == "1773 5 6"
    assert "No space left on device" in out


def test_tmpfs_on_existing_directory_keeps_its_mode(berth, bundle):
    os.makedirs(os.path.join(bundle.rootfs, "keep"), mode=0o711)
    os.chmod(os.path.join(bundle.rootfs, "keep"), 0o711)
    os.makedirs(os.path.join(bundle.rootfs, "given"))
    add_mount(bundle, "/keep", "tmpfs", "tmpfs", ["size=1m"])
    add_mount(bundle, "/given", "tmpfs", "tmpfs", ["mode=700"])
    add_mount(bundle, "/fresh", "tmpfs", "tmpfs")
    out, mounts = run_mounts(berth, bundle, "stat -c %a /keep /given /fresh")
    assert mount_at(mounts, "/keep").fstype == "tmpfs"
    # An explicit mode wins; a new directory gets tmpfs's default (1777).
    assert out.split() == ["711", "700", "1777"]


@pytest.mark.parametrize("cover", ["/d", "/alias"])
def test_a_directory_covered_between_two_mounts_in_it(berth, bundle, cover):
    """/d/a is made in /d; a mount then covers /d (by its name or through a symlink to it);
    /d/c must then be made in the new /d, not in the covered one."""
    os.makedirs(os.path.join(bundle.rootfs, "d"))
    os.symlink("d", os.path.join(bundle.rootfs, "alias"))
    add_mount(bundle, "/d/a", "tmpfs", "tmpfs", ["size=1m"])
    add_mount(bundle, cover, "tmpfs", "tmpfs", ["size=1m"])
    add_mount(bundle, "/d/c", "tmpfs", "tmpfs", ["size=1m"])
    out, mounts = run_mounts(berth, bundle, "ls /d")
    assert out.split() == ["c"]
    assert mount_at(mounts, "/d/c").fstype == "tmpfs"
    assert sorted(os.listdir(os.path.join(bundle.rootfs, "d"))) == ["a"]


def _xattr(path, name):
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def test_tmpfs_tmpcopyup(berth, bundle):
    d = os.path.join(bundle.rootfs, "data")
    os.makedirs(os.path.join(d, "dir", "deep"))
    with open(os.path.join(d, "file"), "w") as f:
        f.write("image content\n")
    with open(os.path.join(d, "dir", "deep", "f2"), "w") as f:
        f.write("deeper\n")
    os.chown(os.path.join(d, "file"), 1234, 5678)
    os.chmod(os.path.join(d, "file"), 0o640)
    os.chown(os.path.join(d, "dir"), 42, 43)
    os.chmod(os.path.join(d, "dir"), 0o751)
    os.chmod(d, 0o715)
    os.chown(d, 7, 8)
    os.symlink("file", os.path.join(d, "rel"))
    os.symlink("/etc/hostname-of-nobody", os.path.join(d, "abs"))
    os.lchown(os.path.join(d, "abs"), 9, 10)
    os.mkfifo(os.path.join(d, "fifo"), 0o604)
    os.setxattr(os.path.join(d, "file"), "user.berth", b"kept")
    os.setxattr(os.path.join(d, "file"), "trusted.berth", b"trusted too")
    add_mount(bundle, "/data", "tmpfs", "tmpfs", ["tmpcopyup", "size=4m"])
    add_caps(bundle, "CAP_DAC_OVERRIDE")
    script = ("cd /data; stat -c '%n %F %a %u %g' . file dir dir/deep/f2 rel abs fifo; "
              "readlink rel; readlink abs; cat file dir/deep/f2; "
              "echo new > /data/written; echo more >> /data/file")
    out, mounts = run_mounts(berth, bundle, script)
    m = mount_at(mounts, "/data")
    assert m.fstype == "tmpfs" and "size=4096k" in m.superopts
    assert out.splitlines() == [
        ". directory 715 7 8",
        "file regular file 640 1234 5678",
        "dir directory 751 42 43",
        "dir/deep/f2 regular file 644 0 0",
        "rel symbolic link 777 0 0",
        "abs symbolic link 777 9 10",
        "fifo fifo 604 0 0",
        "file",
        "/etc/hostname-of-nobody",
        "image content",
        "deeper",
    ]
    # The image's directory is untouched by writes into the tmpfs.
    assert not os.path.exists(os.path.join(d, "written"))
    with open(os.path.join(d, "file")) as f:
        assert f.read() == "image content\n"


def test_tmpcopyup_options_win_over_the_image(berth, bundle):
    d = os.path.join(bundle.rootfs, "data")
    os.makedirs(d, mode=0o755)
    os.chown(d, 7, 8)
    with open(os.path.join(d, "f"), "w") as f:
        f.write("copied\n")
    add_mount(bundle, "/data", "tmpfs", "tmpfs", ["tmpcopyup", "mode=701", "uid=3", "ro",
                                                  "nosuid", "noexec"])
    add_mount(bundle, "/absent", "tmpfs", "tmpfs", ["tmpcopyup"])
    out, mounts = run_mounts(berth, bundle, "stat -c '%a %u %g' /data; cat /data/f; "
                                            "touch /data/x; ls -A /absent | wc -l")
    assert out.splitlines() == ["701 3 8", "copied", "touch: /data/x: Read-only file system",
                                "0"]
    m = mount_at(mounts, "/data")
    assert m.fstype == "tmpfs" and {"ro", "nosuid", "noexec"} <= m.opts


def test_tmpcopyup_xattrs(berth, bundle):
    # busybox has no getfattr: the copy's xattrs are read from the host through the init's
    # mount namespace while the container is created.
    d = os.path.join(bundle.rootfs, "data")
    os.makedirs(d)
    with open(os.path.join(d, "file"), "w") as f:
        f.write("x")
    os.setxattr(os.path.join(d, "file"), "user.berth", b"kept")
    os.setxattr(os.path.join(d, "file"), "trusted.berth", b"trusted")
    add_mount(bundle, "/data", "tmpfs", "tmpfs", ["tmpcopyup"])
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    try:
        pid = berth.state(cid)["pid"]
        f = f"/proc/{pid}/root/data/file"
        assert os.getxattr(f, "user.berth") == b"kept"
        assert os.getxattr(f, "trusted.berth") == b"trusted"
        with open(f"/proc/{pid}/mountinfo") as mi:
            assert mount_at(parse_mountinfo(mi.read()), "/data").fstype == "tmpfs"
    finally:
        berth("delete", "--force", cid)


def test_tmpcopyup_needs_tmpfs(berth, bundle, host_dir):
    add_mount(bundle, "/data", "bind", str(host_dir), ["bind", "tmpcopyup"])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert "tmpcopyup" in r.err and "tmpfs" in r.err


def test_devpts(berth, bundle):
    drop_mount(bundle, "/dev/pts")
    add_mount(bundle, "/dev/pts", "devpts", "devpts",
              ["nosuid", "noexec", "newinstance", "ptmxmode=0620", "mode=0600", "gid=5"])
    out, mounts = run_mounts(berth, bundle, "stat -c '%a %t:%T' /dev/pts/ptmx; ls /dev/pts")
    m = mount_at(mounts, "/dev/pts")
    assert m.fstype == "devpts"
    assert {"gid=5", "mode=600", "ptmxmode=620"} <= m.superopts
    assert out.split()[:2] == ["620", "5:2"]
    # A new instance: none of the host's ptys.
    assert out.split()[2:] == ["ptmx"]


def test_securityfs(berth, bundle):
    if "securityfs" not in open("/proc/filesystems").read():
        pytest.skip("no securityfs in this kernel")
    add_mount(bundle, "/mnt/security", "securityfs", "securityfs", ["nosuid", "nodev", "noexec",
                                                                    "ro"])
    out, mounts = run_mounts(berth, bundle)
    m = mount_at(mounts, "/mnt/security")
    assert m.fstype == "securityfs" and {"ro", "nosuid", "nodev", "noexec"} <= m.opts


def test_generic_type_with_data(berth, bundle):
    add_mount(bundle, "/mnt/ram", "ramfs", "ramfs", ["mode=710", "nodev"])
    out, mounts = run_mounts(berth, bundle, "stat -c %a /mnt/ram; echo hi > /mnt/ram/f && cat "
                                            "/mnt/ram/f")
    m = mount_at(mounts, "/mnt/ram")
    assert m.fstype == "ramfs" and "nodev" in m.opts and "mode=710" in m.superopts
    assert out.split() == ["710", "hi"]


def test_unknown_filesystem_type_is_an_error(berth, bundle):
    add_mount(bundle, "/mnt/x", "nosuchfs", "none")
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert "mount nosuchfs none on /mnt/x (0): No such device" in r.err


# ---- bind mounts ----

def test_bind_directory(berth, bundle, host_dir):
    add_mount(bundle, "/mnt/b", "bind", str(host_dir), ["bind"])
    out, mounts = run_mounts(berth, bundle, "cat /mnt/b/file; echo back > /mnt/b/new; "
                                            "stat -c %F /mnt/b")
    assert out.splitlines() == ["from the host", "directory"]
    assert (host_dir / "new").read_text() == "back\n"
    m = mount_at(mounts, "/mnt/b")
    assert m.root.endswith("/src")


def test_bind_file_creates_a_file(berth, bundle, host_dir):
    add_mount(bundle, "/etc/deep/bound", "none", str(host_dir / "file"), ["bind", "ro"])
    out, mounts = run_mounts(berth, bundle, "stat -c %F /etc/deep/bound /etc/deep; "
                                            "cat /etc/deep/bound; echo x >> /etc/deep/bound")
    assert out.splitlines()[:3] == ["regular file", "directory", "from the host"]
    assert "Read-only file system" in out
    assert "ro" in mount_at(mounts, "/etc/deep/bound").opts
    assert os.path.isfile(os.path.join(bundle.rootfs, "etc/deep/bound"))


def test_bind_relative_source_is_taken_from_the_bundle(berth, bundle):
    with open(os.path.join(bundle.path, "rel.txt"), "w") as f:
        f.write("relative\n")
    add_mount(bundle, "/rel.txt", "bind", "rel.txt", ["bind"])
    assert run(berth, bundle, "cat /rel.txt").out == "relative\n"


def test_bind_missing_source_is_named(berth, bundle, tmp_path):
    missing = str(tmp_path / "not-there")
    add_mount(bundle, "/mnt/b", "bind", missing, ["bind"])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert f'"{missing}" does not exist' in r.err
    assert "mounts[7]" in r.err


def test_bind_is_not_recursive_rbind_is(berth, bundle, host_dir, submount):
    add_mount(bundle, "/mnt/plain", "bind", str(host_dir), ["bind"])
    add_mount(bundle, "/mnt/rec", "bind", str(host_dir), ["rbind"])
    out, mounts = run_mounts(berth, bundle, "ls /mnt/plain/sub; echo --; ls /mnt/rec/sub")
    plain, rec = out.split("--\n")
    assert plain.split() == []
    assert rec.split() == ["inner"]
    assert mount_at(mounts, "/mnt/plain/sub") is None
    assert mount_at(mounts, "/mnt/rec/sub").fstype == "tmpfs"


# ---- option groups ----

@pytest.mark.parametrize("options,expect,absent", [
    (["ro"], {"ro"}, set()),
    (["nosuid", "nodev", "noexec"], {"nosuid", "nodev", "noexec"}, set()),
    (["noatime"], {"noatime"}, {"relatime"}),
    (["strictatime"], set(), {"relatime", "noatime"}),
    (["relatime", "nodiratime"], {"relatime", "nodiratime"}, set()),
    (["ro", "rw"], {"rw"}, {"ro"}),
    (["sync", "dirsync"], set(), set()),
])
@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
def test_option_groups(berth, bundle, host_dir, kind, options, expect, absent):
    if kind == "tmpfs":
        add_mount(bundle, "/mnt/o", "tmpfs", "tmpfs", options)
    else:
        add_mount(bundle, "/mnt/o", "bind", str(host_dir), ["bind", *options])
    out, mounts = run_mounts(berth, bundle)
    m = mount_at(mounts, "/mnt/o")
    assert expect <= m.opts, m
    assert not (absent & m.opts), m
    if "sync" in options:
        if kind == "tmpfs":
            assert {"sync", "dirsync"} <= m.superopts | m.opts, m


def test_read_only_and_noexec_take_effect(berth, bundle, host_dir):
    os.chmod(host_dir / "file", 0o755)
    add_mount(bundle, "/mnt/ro", "bind", str(host_dir), ["rbind", "ro", "noexec"])
    out = run(berth, bundle, "touch /mnt/ro/x 2>&1; /mnt/ro/file 2>&1; echo rc=$?").out
    assert "Read-only file system" in out
    assert "Permission denied" in out and "rc=126" in out


def test_ro_bind_is_not_recursive(berth, bundle, host_dir, submount):
    add_mount(bundle, "/mnt/r", "bind", str(host_dir), ["rbind", "ro"])
    out = run(berth, bundle, "touch /mnt/r/x 2>&1; touch /mnt/r/sub/y && echo sub-writable").out
    assert "Read-only file system" in out
    assert "sub-writable" in out


@pytest.mark.parametrize("option,attr", [
    ("rro", "ro"),
    ("rnosuid", "nosuid"),
    ("rnodev", "nodev"),
    ("rnoexec", "noexec"),
    ("rnoatime", "noatime"),
    ("rnodiratime", "nodiratime"),
])
def test_recursive_attributes(berth, bundle, host_dir, submount, option, attr):
    add_mount(bundle, "/mnt/r", "bind", str(host_dir), ["rbind", option])
    out, mounts = run_mounts(berth, bundle, "touch /mnt/r/sub/y 2>&1")
    assert attr in mount_at(mounts, "/mnt/r").opts
    assert attr in mount_at(mounts, "/mnt/r/sub").opts
    if option == "rro":
        assert "Read-only file system" in out


def test_recursive_clear_attributes(berth, bundle, host_dir, submount):
    subprocess.run(["mount", "-o", "remount,nosuid,nodev,noatime", submount], check=True)
    add_mount(bundle, "/mnt/r", "bind", str(host_dir), ["rbind", "rsuid", "rdev", "ratime"])
    out, mounts = run_mounts(berth, bundle)
    sub = mount_at(mounts, "/mnt/r/sub")
    assert not ({"nosuid", "nodev", "noatime"} & sub.opts), sub


def test_rstrictatime_and_rrelatime(berth, bundle, host_dir, submount):
    add_mount(bundle, "/mnt/s", "bind", str(host_dir), ["rbind", "rnoatime", "rstrictatime"])
    add_mount(bundle, "/mnt/r", "bind", str(host_dir), ["rbind", "rnoatime", "rrelatime"])
    out, mounts = run_mounts(berth, bundle)
    for t in ("/mnt/s", "/mnt/s/sub"):
        assert not ({"noatime", "relatime"} & mount_at(mounts, t).opts), t
    for t in ("/mnt/r", "/mnt/r/sub"):
        assert "relatime" in mount_at(mounts, t).opts, t


# ---- propagation ----

def _prop(m):
    fields = [o.split(":")[0] for o in m.optional]
    return "+".join(sorted(fields)) or "private"


@pytest.mark.parametrize("option,expect", [
    ("private", "private"),
    ("rprivate", "private"),
    ("shared", "shared"),
    ("rshared", "shared"),
    ("unbindable", "unbindable"),
    ("runbindable", "unbindable"),
])
def test_propagation_options(berth, bundle, host_dir, option, expect):
    add_mount(bundle, "/mnt/p", "bind", str(host_dir), ["rbind", option])
    add_mount(bundle, "/mnt/t", "tmpfs", "tmpfs", [option])
    out, mounts = run_mounts(berth, bundle)
    assert _prop(mount_at(mounts, "/mnt/p")) == expect
    assert _prop(mount_at(mounts, "/mnt/t")) == expect


def test_slave_propagation(berth, bundle):
    # A slave needs a master: a tmpfs is made shared in the container, then a bind of it (its
    # path on the host side of the init, the rootfs) is made its slave.
    add_mount(bundle, "/mnt/master", "tmpfs", "tmpfs", ["shared"])
    add_mount(bundle, "/mnt/slave", "bind", os.path.join(bundle.rootfs, "mnt/master"),
              ["bind", "slave"])
    out, mounts = run_mounts(berth, bundle)
    master = mount_at(mounts, "/mnt/master")
    slave = mount_at(mounts, "/mnt/slave")
    assert _prop(master) == "shared"
    assert _prop(slave) == "master"
    assert master.optional[0].split(":")[1] == slave.optional[0].split(":")[1]


@pytest.mark.parametrize("propagation,expect", [
    (None, "private"),
    ("private", "private"),
    ("rprivate", "private"),
    ("slave", "master"),
    ("rslave", "master"),
    ("shared", "master+shared"),
    ("rshared", "master+shared"),
    ("unbindable", "unbindable"),
    ("runbindable", "unbindable"),
])
def test_rootfs_propagation(berth, bundle, tmp_path, propagation, expect):
    # berth runs in a mount namespace of its own whose mounts are all shared, as on a systemd
    # host: a slave has a master to receive from there.
    wrap_berth(berth, tmp_path, "unshare", "-m", "--propagation", "shared")
    if propagation:
        bundle.config["linux"]["rootfsPropagation"] = propagation
        bundle.write()
    add_mount(bundle, "/mnt/t", "tmpfs", "tmpfs")
    out, mounts = run_mounts(berth, bundle)
    root = mount_at(mounts, "/")
    assert _prop(root) == expect, root
    # The container's own mounts follow a recursive setting of /.
    if propagation in (None, "rprivate", "runbindable"):
        assert _prop(mount_at(mounts, "/mnt/t")) == expect


@pytest.mark.parametrize("propagation,seen", [("rslave", True), ("rprivate", False)])
def test_host_mounts_propagate_only_when_asked(berth, bundle, host_dir, propagation, seen):
    # host_dir is made a shared mount on the host; a tmpfs the host mounts beneath it after the
    # container started reaches the container only through slave propagation.
    bundle.config["linux"]["rootfsPropagation"] = propagation
    add_mount(bundle, "/mnt/b", "bind", str(host_dir), ["rbind", propagation])
    bundle.set_args("sleep", "100")
    subprocess.run(["mount", "--bind", "--make-shared", str(host_dir), str(host_dir)],
                   check=True)
    cid = berth.new_id()
    try:
        berth("run", "-d", "-b", bundle.path, cid)
        pid = berth.state(cid)["pid"]
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(host_dir / "sub")], check=True)
        with open(f"/proc/{pid}/mountinfo") as f:
            m = mount_at(parse_mountinfo(f.read()), "/mnt/b/sub")
        assert (m is not None) == seen
        berth("delete", "--force", cid)
    finally:
        subprocess.run(["umount", "-l", str(host_dir / "sub")])
        subprocess.run(["umount", "-l", str(host_dir)])


# ---- idmapped mounts ----

def _idmap_source(tmp_path):
    d = tmp_path / "idsrc"
    d.mkdir()
    (d / "root-owned").write_text("r")
    (d / "user-owned").write_text("u")
    os.chown(d / "user-owned", 1000, 1000)
    return d


def test_idmap_bind_with_its_own_mappings(berth, bundle, tmp_path):
    d = _idmap_source(tmp_path)
    add_mount(bundle, "/mnt/id", "bind", str(d), ["bind", "idmap"],
              uidMappings=[{"containerID": 0, "hostID": 2000, "size": 1001}],
              gidMappings=[{"containerID": 0, "hostID": 3000, "size": 1001}])
    out, mounts = run_mounts(berth, bundle, "stat -c '%u:%g' /mnt/id/root-owned "
                                            "/mnt/id/user-owned; stat -c '%u:%g' /bin/busybox")
    assert out.split() == ["2000:3000", "3000:4000", "0:0"]
    assert "idmapped" in mount_at(mounts, "/mnt/id").opts


def test_idmap_bind_with_the_containers_mappings(berth, bundle, tmp_path):
    d = _idmap_source(tmp_path)
    make_userns(bundle)
    add_mount(bundle, "/mnt/id", "bind", str(d), ["bind", "idmap"])
    add_mount(bundle, "/mnt/idro", "bind", str(d), ["rbind", "ridmap", "ro", "nosuid"])
    out, mounts = run_mounts(berth, bundle, "stat -c '%u:%g' /mnt/id/root-owned "
                                            "/mnt/id/user-owned /bin; "
                                            "echo w > /mnt/id/new && echo written; "
                                            "touch /mnt/idro/x")
    assert out.splitlines() == ["0:0", "1000:1000", "0:0", "written",
                                "touch: /mnt/idro/x: Read-only file system"]
    assert {"ro", "nosuid", "idmapped"} <= mount_at(mounts, "/mnt/idro").opts
    # Written by the container's root: on disk it is the host's root.
    st = os.stat(d / "new")
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_ridmap_reaches_submounts(berth, bundle, tmp_path):
    d = _idmap_source(tmp_path)
    (d / "sub").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", str(d / "sub")],
                   check=True)
    try:
        (d / "sub" / "f").write_text("x")
        add_mount(bundle, "/mnt/r", "bind", str(d), ["rbind", "ridmap"],
                  uidMappings=[{"containerID": 0, "hostID": 2000, "size": 10}],
                  gidMappings=[{"containerID": 0, "hostID": 2000, "size": 10}])
        add_mount(bundle, "/mnt/i", "bind", str(d), ["rbind", "idmap"],
                  uidMappings=[{"containerID": 0, "hostID": 2000, "size": 10}],
                  gidMappings=[{"containerID": 0, "hostID": 2000, "size": 10}])
        out = run(berth, bundle, "stat -c %u /mnt/r/sub/f /mnt/r/root-owned /mnt/i/sub/f "
                                 "/mnt/i/root-owned").out
        assert out.split() == ["2000", "2000", "0", "2000"]
    finally:
        subprocess.run(["umount", "-l", str(d / "sub")], check=True)


def test_idmap_on_a_non_bind_is_refused(berth, bundle):
    add_mount(bundle, "/mnt/t", "tmpfs", "tmpfs", ["idmap"],
              uidMappings=[{"containerID": 0, "hostID": 2000, "size": 10}],
              gidMappings=[{"containerID": 0, "hostID": 2000, "size": 10}])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0 and "idmap" in r.err


# ---- cgroups on this host ----

def _host_hierarchies():
    """Names the container's /sys/fs/cgroup should show for this process's hierarchies."""
    names = []
    with open("/proc/self/mountinfo") as f:
        mounted = parse_mountinfo(f.read())
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, ctrls, _ = line.rstrip("\n").split(":", 2)
            if ctrls == "":
                if any(m.fstype == "cgroup2" for m in mounted):
                    names.append("unified")
                continue
            served = [m for m in mounted if m.fstype == "cgroup" and
                      set(ctrls.split(",")) <= m.superopts | {c for c in ctrls.split(",")
                                                              if c.startswith("name=")}]
            if served:
                names.append(ctrls.replace("name=", ""))
    return names


def _v1_hierarchy_id(controller):
    with open("/proc/cgroups") as f:
        for line in f:
            fields = line.split()
            if fields[0] == controller:
                return int(fields[1])
    return -1


def _is_v1_host():
    with open("/proc/self/mountinfo") as f:
        return any(m.fstype == "cgroup" for m in parse_mountinfo(f.read()))


v1_only = pytest.mark.skipif(not _is_v1_host(), reason="needs a cgroup v1 or hybrid host")


@v1_only
def test_cgroup_layout(berth, bundle):
    bundle.set_args("sh", "-c", "ls /sys/fs/cgroup; echo --; cat /proc/self/mountinfo")
    cid = berth.new_id()
    r = berth("run", "-b", bundle.path, cid)
    listing, info = r.out.split("--\n")
    mounts = parse_mountinfo(info)
    top = mount_at(mounts, "/sys/fs/cgroup")
    assert top.fstype == "tmpfs" and "mode=755" in top.superopts
    assert {"ro", "nosuid", "nodev", "noexec"} <= top.opts
    names = _host_hierarchies()
    assert sorted(listing.split()) == sorted(
        set(names) | {c for n in names if "," in n for c in n.split(",")})
    for name in names:
        m = mount_at(mounts, f"/sys/fs/cgroup/{name}")
        assert m is not None, name
        assert m.fstype == ("cgroup2" if name == "unified" else "cgroup")
        assert {"ro", "nosuid", "nodev", "noexec"} <= m.opts
        # The container's own cgroup, not the hierarchy's root.
        assert m.root.endswith("/" + cid), m


@v1_only
def test_cgroup_is_read_only_and_release_agent_is_not_writable(berth, bundle):
    out = run(berth, bundle, "mkdir /sys/fs/cgroup/memory/x 2>&1; "
                             "for f in /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/release_agent;"
                             " do echo /x > $f && echo WROTE $f; done 2>&1; "
                             "touch /sys/fs/cgroup/new 2>&1; "
                             "mount -t cgroup -o memory cgroup /mnt 2>&1 || echo refused").out
    assert "WROTE" not in out
    assert "mkdir: can't create directory '/sys/fs/cgroup/memory/x': Read-only file system" in out
    assert "touch: /sys/fs/cgroup/new: Read-only file system" in out
    assert "refused" in out


@v1_only
def test_cgroup_read_write_when_asked(berth, bundle):
    for m in bundle.config["mounts"]:
        if m["type"] == "cgroup":
            m["options"] = [o for o in m["options"] if o != "ro"]
    bundle.write()
    out, mounts = run_mounts(berth, bundle, "mkdir /sys/fs/cgroup/pids/sub && echo made; "
                                            "rmdir /sys/fs/cgroup/pids/sub")
    assert "made" in out
    assert "ro" not in mount_at(mounts, "/sys/fs/cgroup/pids").opts


@v1_only
def test_cgroup_merged_hierarchy_has_controller_symlinks(berth, bundle, tmp_path):
    # A merged hierarchy needs two controllers no hierarchy holds yet; it is mounted in a
    # private mount namespace around berth, so the host never sees it, and goes when unmounted.
    # net_cls and net_prio exist only in v1, so no cgroup2 use can hold them; mounting them
    # together also works when another namespace already has that very hierarchy.
    pair = ["net_cls", "net_prio"]
    ours = _v1_hierarchy_id("net_cls") == 0  # made by this test, so to be removed by it
    hier = tmp_path / "hier"
    hier.mkdir()
    cid = berth.new_id()
    bundle.set_args("sh", "-c", "ls -l /sys/fs/cgroup; cat /proc/self/mountinfo")
    # A hierarchy goes away when it is unmounted without children, but a child just removed
    # stays listed until the kernel has released it: then the unmount leaves the hierarchy
    # behind, unmounted. Unmount, give it time to go, and if it stays, mount it again (which
    # takes the same hierarchy back) and retry.
    gone = 'grep -q "^net_cls\t0\t" /proc/cgroups'
    cleanup = (f'for i in $(seq 20); do umount {hier}; for j in $(seq 20); do {gone} && '
               f'break 2; sleep 0.1; done; mount -t cgroup -o net_cls,net_prio cgroup {hier} '
               f'|| break; done') if ours else f"umount {hier}"
    script = (f'mount -t cgroup -o {",".join(pair)} cgroup {hier} || exit 99; '
              f'"$0" --root "$1" run -b "$2" "$3"; rc=$?; '
              f'find {hier} -mindepth 1 -depth -type d -exec rmdir {{}} +; '
              f'{cleanup}; exit $rc')
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        berth.binary, berth.root, bundle.path, cid],
                       capture_output=True, text=True, timeout=60)
    if ours:
        assert _v1_hierarchy_id("net_cls") == 0, "the test's cgroup hierarchy outlived it"
    if r.returncode == 99:
        pytest.skip(f"cannot mount a {pair} hierarchy: {r.stderr}")
    assert r.returncode == 0, r
    mounts = parse_mountinfo(r.stdout)
    merged = [m for m in mounts if m.target.startswith("/sys/fs/cgroup/") and
              set(pair) <= set(os.path.basename(m.target).split(","))]
    assert len(merged) == 1, mounts
    name = os.path.basename(merged[0].target)
    assert merged[0].fstype == "cgroup" and "ro" in merged[0].opts
    assert merged[0].root.endswith("/" + cid)
    links = {l.split()[-3]: l.split()[-1] for l in r.stdout.splitlines() if " -> " in l}
    assert links == {c: name for c in name.split(",")}


# ---- destinations ----

def test_relative_destination_is_taken_from_root(berth, bundle):
    add_mount(bundle, "mnt/rel", "tmpfs", "tmpfs")
    out, mounts = run_mounts(berth, bundle)
    assert mount_at(mounts, "/mnt/rel").fstype == "tmpfs"


def test_root_destination_is_refused(berth, bundle):
    add_mount(bundle, "/", "tmpfs", "tmpfs")
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert 'mounts[7].destination: "/" is the rootfs itself: a mount cannot cover it' in r.err


def test_destination_resolving_to_root_is_refused(berth, bundle):
    os.symlink("/", os.path.join(bundle.rootfs, "toroot"))
    add_mount(bundle, "/toroot", "tmpfs", "tmpfs")
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert "mounts[7]" in r.err and "rootfs itself" in r.err


@pytest.mark.parametrize("dest", ["/proc/sys/kernel", "/proc/self/attr", "/proc/1/attr/current",
                                  "/proc/sysrq-trigger", "/proc/net/dev", "/proc/../proc/kcore"])
def test_proc_destinations_are_refused(berth, bundle, tmp_path, dest):
    src = tmp_path / "f"
    src.write_text("x")
    add_mount(bundle, dest, "bind", str(src), ["bind"])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    clean = os.path.normpath(dest)
    assert (f'mounts[7].destination: "{clean}" is inside /proc: a mount there could change the '
            f'host, so only /proc/cpuinfo, /proc/meminfo and the like may be covered') in r.err


@pytest.mark.parametrize("type_", ["tmpfs", "sysfs"])
def test_proc_itself_takes_only_proc(berth, bundle, type_):
    drop_mount(bundle, "/proc")
    add_mount(bundle, "/proc", type_, type_)
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert f'mounts[6].destination: "/proc" may only hold a proc mount, not {type_}' in r.err


def test_proc_bind_of_something_else_is_refused(berth, bundle, tmp_path):
    # CVE-2019-16884: a fake /proc would take the label writes.
    fake = tmp_path / "fakeproc" / "self" / "attr"
    fake.mkdir(parents=True)
    (fake / "exec").write_text("")
    add_mount(bundle, "/proc", "bind", str(tmp_path / "fakeproc"), ["rbind"])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert "not a proc" in r.err and "/proc" in r.err


def test_proc_bind_of_a_procfs_is_allowed(berth, bundle):
    drop_mount(bundle, "/proc")
    add_mount(bundle, "/proc", "bind", "/proc", ["rbind"])
    drop_namespace(bundle, "pid")
    out, mounts = run_mounts(berth, bundle, "test -e /proc/self/status && echo ok")
    assert out.strip() == "ok"
    assert mount_at(mounts, "/proc").fstype == "proc"


ALLOWED_PROC = ["/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid"]


def test_proc_allow_list(berth, bundle, tmp_path):
    present = [p for p in ALLOWED_PROC if os.path.exists(p)]
    for i, p in enumerate(present):
        f = tmp_path / f"fake{i}"
        f.write_text(f"fake {p}\n")
        add_mount(bundle, p, "bind", str(f), ["bind", "ro"])
    out = run(berth, bundle, "cat " + " ".join(present)).out
    assert out.splitlines() == [f"fake {p}" for p in present]


def test_proc_allow_list_holds_fips_enabled(berth, bundle, tmp_path):
    # Not every kernel has the file; the destination check alone is what matters here.
    f = tmp_path / "fips"
    f.write_text("0\n")
    add_mount(bundle, "/proc/sys/crypto/fips_enabled", "bind", str(f), ["bind"])
    r = run(berth, bundle, "cat /proc/sys/crypto/fips_enabled", check=False)
    assert "inside /proc" not in r.err
    if os.path.exists("/proc/sys/crypto/fips_enabled"):
        assert r.rc == 0 and r.out == "0\n"
    else:
        assert r.rc != 0
        assert ('the destination resolves to "/proc/sys/crypto/fips_enabled", which this '
                "kernel's /proc does not have") in r.err


def test_destination_through_symlink_into_proc_is_refused(berth, bundle, tmp_path):
    # The destination's text is not under /proc, but it resolves there inside the container.
    os.symlink("/proc/sys/kernel", os.path.join(bundle.rootfs, "kern"))
    f = tmp_path / "core"
    f.write_text("|/evil\n")
    add_mount(bundle, "/kern/core_pattern", "bind", str(f), ["bind"])
    r = run(berth, bundle, "cat /proc/sys/kernel/core_pattern", check=False)
    assert r.rc != 0, r
    assert "/proc/sys/kernel/core_pattern" in r.err and "inside /proc" in r.err


# ---- ENOTDIR and the error format ----

ERR_RE = re.compile(r"mount (\S+) (\S+) on (\S+) \(([A-Z_|0-9]+)\): (.+)")


def test_enotdir_file_onto_directory(berth, bundle, host_dir):
    os.makedirs(os.path.join(bundle.rootfs, "adir"))
    add_mount(bundle, "/adir", "bind", str(host_dir / "file"), ["bind", "nosuid"])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    m = ERR_RE.search(r.err)
    assert m, r.err
    assert m.group(1, 2, 3) == ("bind", str(host_dir / "file"), "/adir")
    assert m.group(4) == "MS_NOSUID|MS_BIND"
    assert m.group(5) == ("the source is a file but the destination is a directory: "
                          "Not a directory")


def test_enotdir_directory_onto_file(berth, bundle, host_dir):
    add_mount(bundle, "/etc/passwd", "bind", str(host_dir), ["rbind", "ro"])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    m = ERR_RE.search(r.err)
    assert m, r.err
    assert m.group(1, 2, 3) == ("bind", str(host_dir), "/etc/passwd")
    assert m.group(4) == "MS_RDONLY|MS_BIND|MS_REC"
    assert m.group(5) == ("the source is a directory but the destination is a file: "
                          "Not a directory")


def test_enotdir_fresh_mount_onto_file(berth, bundle):
    add_mount(bundle, "/etc/passwd", "tmpfs", "tmpfs", ["nodev"])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    m = ERR_RE.search(r.err)
    assert m, r.err
    assert m.group(1, 2, 3, 4) == ("tmpfs", "tmpfs", "/etc/passwd", "MS_NODEV")
    assert m.group(5) == ("the destination is a file but this mount needs a directory: "
                          "Not a directory")


def test_enotdir_parent_is_a_file(berth, bundle):
    add_mount(bundle, "/etc/passwd/sub", "tmpfs", "tmpfs")
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert "/etc/passwd" in r.err and "Not a directory" in r.err
    assert "mounts[7]" in r.err


def test_kernel_refusal_format(berth, bundle):
    add_mount(bundle, "/mnt/bad", "tmpfs", "tmpfs", ["size=nonsense", "noexec"])
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    m = ERR_RE.search(r.err)
    assert m, r.err
    assert m.group(1, 2, 3, 4) == ("tmpfs", "tmpfs", "/mnt/bad", "MS_NOEXEC")
    assert m.group(5).endswith("Invalid argument")


# ---- masked and read-only paths, root.readonly, --no-pivot ----

def test_masked_paths(berth, bundle):
    lx = bundle.config["linux"]
    lx["maskedPaths"] = ["/proc/kcore", "/proc/keys", "/proc/acpi", "/sys/firmware",
                         "/proc/does-not-exist", "/proc/scsi"]
    bundle.write()
    script = ("stat -c '%F %t:%T' /proc/keys; cat /proc/keys | wc -c; "
              "ls -A /sys/firmware | wc -l; touch /sys/firmware/x 2>&1; "
              "echo x > /proc/keys 2>&1 || echo keys-refused; "
              "umount /proc/keys 2>&1 || echo umount-refused")
    out, mounts = run_mounts(berth, bundle, script)
    lines = out.splitlines()
    assert lines[0] == "character special file 1:3"
    assert lines[1].strip() == "0"
    assert lines[2].strip() == "0"
    assert "Read-only file system" in lines[3]
    assert "umount-refused" in out
    fw = mount_at(mounts, "/sys/firmware")
    assert fw.fstype == "tmpfs" and "ro" in fw.opts
    keys = mount_at(mounts, "/proc/keys")
    assert keys.root == "/null"
    assert mount_at(mounts, "/proc/does-not-exist") is None


def test_readonly_paths(berth, bundle, host_dir, submount):
    add_mount(bundle, "/data", "bind", str(host_dir), ["rbind"])
    lx = bundle.config["linux"]
    lx["readonlyPaths"] = ["/proc/sys", "/data", "/missing/path", "/proc/fs"]
    bundle.write()
    out, mounts = run_mounts(berth, bundle, "echo 1 > /proc/sys/kernel/shm_rmid_forced; "
                                            "touch /data/x /data/sub/y; mkdir /data/sub/d")
    assert out.count("Read-only file system") == 4, out
    for t in ("/proc/sys", "/data", "/data/sub", "/proc/fs"):
        assert "ro" in mount_at(mounts, t).opts, t
    assert not os.path.exists(host_dir / "x")
    assert not os.path.exists(os.path.join(bundle.rootfs, "missing"))


def test_root_readonly(berth, bundle):
    bundle.config["root"]["readonly"] = True
    bundle.write()
    out, mounts = run_mounts(berth, bundle, "touch /x 2>&1; echo ok > /dev/shm/w && cat "
                                            "/dev/shm/w; echo d > /dev/null && echo null-ok")
    assert "Read-only file system" in out
    assert "ok" in out.split() and "null-ok" in out.split()
    root = mount_at(mounts, "/")
    assert "ro" in root.opts


def test_root_readonly_with_masks_and_mounts_beneath(berth, bundle):
    bundle.config["root"]["readonly"] = True
    add_mount(bundle, "/newdir/t", "tmpfs", "tmpfs")
    bundle.write()
    out, mounts = run_mounts(berth, bundle, "touch /newdir/t/ok && echo ok")
    assert out.strip() == "ok"


def test_no_pivot(berth, bundle):
    out, mounts = run_mounts(berth, bundle, "ls /; cat /proc/1/mountinfo | wc -l", "--no-pivot")
    assert "bin" in out.split()
    root = mount_at(mounts, "/")
    assert root is not None and root.root.endswith("/rootfs")
    assert mount_at(mounts, "/proc").fstype == "proc"


@pytest.mark.parametrize("no_pivot", [True, False])
def test_no_pivot_hides_host_proc(berth, bundle, no_pivot):
    # In a user namespace of its own, the process may mount a procfs only while a full one is
    # visible in its mount namespace: the container's is not (its masks are locked), the
    # host's must not be there. CAP_SETFCAP lets unshare map uid 0.
    add_caps(bundle, "CAP_SYS_ADMIN", "CAP_SETFCAP")
    out = run(berth, bundle, "unshare -mrpf sh -c 'mount -t proc proc /proc && echo MOUNTED'",
              *(["--no-pivot"] if no_pivot else []), check=False).out
    assert "MOUNTED" not in out
    assert "permission denied" in out


def test_no_leak_into_host_namespace(berth, bundle):
    add_caps(bundle, "CAP_SYS_ADMIN")
    bundle.config["linux"]["rootfsPropagation"] = "rshared"
    bundle.write()
    with open("/proc/self/mountinfo") as f:
        before = {(m.target, m.fstype) for m in parse_mountinfo(f.read())}
    bundle.set_args("sh", "-c", "mkdir /mnt && mount -t tmpfs tmpfs /mnt && touch /mnt/ok && "
                                "sleep 100")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    try:
        pid = berth.state(cid)["pid"]
        for _ in range(100):
            if os.path.exists(f"/proc/{pid}/root/mnt/ok"):
                break
            subprocess.run(["sleep", "0.05"])
        assert os.path.exists(f"/proc/{pid}/root/mnt/ok")
        with open("/proc/self/mountinfo") as f:
            during = {(m.target, m.fstype) for m in parse_mountinfo(f.read())}
        assert during == before
    finally:
        berth("delete", "--force", cid)


# ---- the same mount table as runc ----

RUNC = shutil.which("runc")


def _normalise(mounts):
    """What the comparison looks at: order, target, type, per-mount and superblock options."""
    keep = []
    for m in mounts:
        keep.append((m.target, m.fstype, tuple(sorted(m.opts)), tuple(sorted(m.superopts))))
    return keep


@pytest.mark.skipif(not RUNC, reason="runc is not installed")
def test_mount_table_matches_runc(berth, bundle, tmp_path):
    bundle.config["root"]["readonly"] = True
    bundle.set_args("cat", "/proc/self/mountinfo")
    cid = berth.new_id("runc")
    ours = parse_mountinfo(berth("run", "-b", bundle.path, berth.new_id()).out)
    r = subprocess.run([RUNC, "--root", str(tmp_path / "runc-state"), "run", "-b", bundle.path,
                        cid], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    theirs = parse_mountinfo(r.stdout)
    a, b = _normalise(ours), _normalise(theirs)

    # Accepted differences (see the rootfs notes in the report):
    # 1. berth adds the hybrid host's unified hierarchy at /sys/fs/cgroup/unified.
    a = [x for x in a if x[0] != "/sys/fs/cgroup/unified"]
    # 2. berth's /sys/fs/cgroup tmpfs is read-only when the mount says ro; runc 1.1 leaves it rw.
    a = [(t, ty, tuple(sorted((set(o) - {"ro"}) | {"rw"})) if t == "/sys/fs/cgroup" else o, s)
         for t, ty, o, s in a]
    # 3. masked directories are tmpfs limited to one block and one inode (runc >= 1.2 does it
    #    too); runc 1.1 mounts them unlimited.
    a = [(t, ty, o, tuple(x for x in s if x not in ("size=4k", "nr_inodes=1")))
         for t, ty, o, s in a]
    assert a == b
