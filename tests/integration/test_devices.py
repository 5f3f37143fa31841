"""/dev inside the container: default nodes, linux.devices, the standard symlinks, and host
nodes bound in a user namespace."""
import os
import stat

from rootfs_util import drop_mount, make_userns, mount_at, run, run_mounts

DEFAULTS = {
    "/dev/null": "1:3",
    "/dev/zero": "1:5",
    "/dev/full": "1:7",
    "/dev/random": "1:8",
    "/dev/urandom": "1:9",
    "/dev/tty": "5:0",
}

# busybox stat: file type, octal mode, owner, and the device number in hex.
STAT = "stat -c '%n|%F|%a|%u:%g|%t:%T'"


def _stats(out):
    rows = {}
    for line in out.splitlines():
        if line.count("|") == 4:
            name, kind, mode, owner, dev = line.split("|")
            rows[name] = (kind, mode, owner, dev)
    return rows


def test_default_nodes(berth, bundle):
    out = run(berth, bundle, f"{STAT} {' '.join(DEFAULTS)}; "
                             "head -c 4 /dev/zero | od -An -tx1; echo gone > /dev/null && "
                             "echo null-ok; echo x > /dev/full || echo full-refused").out
    rows = _stats(out)
    for path, dev in DEFAULTS.items():
        assert rows[path] == ("character special file", "666", "0:0", dev), path
    assert "00 00 00 00" in out
    assert "null-ok" in out and "full-refused" in out
    assert "No space left on device" in out


def test_linux_devices(berth, bundle):
    devices = [
        {"path": "/dev/xchar", "type": "c", "major": 1, "minor": 7, "fileMode": 0o640,
         "uid": 1000, "gid": 1001},
        {"path": "/dev/xblock", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600,
         "uid": 0, "gid": 6},
        {"path": "/dev/xfifo", "type": "p", "fileMode": 0o604},
        {"path": "/dev/net/xtun", "type": "c", "major": 10, "minor": 200},
        # A default node can be given other attributes.
        {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o600},
    ]
    bundle.config["linux"]["devices"] = devices
    bundle.write()
    out = run(berth, bundle, f"{STAT} /dev/xchar /dev/xblock /dev/xfifo /dev/net/xtun /dev/zero "
                             "/dev/null").out
    rows = _stats(out)
    assert rows["/dev/xchar"] == ("character special file", "640", "1000:1001", "1:7")
    assert rows["/dev/xblock"] == ("block special file", "600", "0:6", "7:0")
    assert rows["/dev/xfifo"][:3] == ("fifo", "604", "0:0")
    assert rows["/dev/net/xtun"] == ("character special file", "666", "0:0", "a:c8")
    assert rows["/dev/zero"] == ("character special file", "600", "0:0", "1:5")
    assert rows["/dev/null"] == ("character special file", "666", "0:0", "1:3")


def test_linux_devices_are_not_allowed_by_the_cgroup_unless_asked(berth, bundle):
    # The node is made; opening it is the device cgroup's decision.
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/xfuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}]
    bundle.write()
    out = run(berth, bundle, "cat /dev/xfuse", check=False).out
    assert out == "cat: can't open '/dev/xfuse': Operation not permitted\n"
    bundle.config["linux"]["resources"]["devices"].append(
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"})
    bundle.write()
    out = run(berth, bundle, "cat /dev/xfuse", check=False).out
    # Opened; fuse then wants a mount behind the fd before it reads anything.
    assert out.startswith("cat: read error")


def test_dev_symlinks(berth, bundle):
    out = run(berth, bundle, "for l in fd stdin stdout stderr ptmx core; do "
                             "echo $l=$(readlink /dev/$l); done").out
    links = dict(line.split("=", 1) for line in out.splitlines())
    assert links["fd"] == "/proc/self/fd"
    assert links["stdin"] == "/proc/self/fd/0"
    assert links["stdout"] == "/proc/self/fd/1"
    assert links["stderr"] == "/proc/self/fd/2"
    assert links["ptmx"] == "pts/ptmx"
    assert links["core"] == ("/proc/kcore" if os.path.exists("/proc/kcore") else "")


def test_ptmx_opens_the_containers_devpts(berth, bundle):
    out, mounts = run_mounts(berth, bundle, "stat -L -c '%t:%T %d' /dev/ptmx /dev/pts/ptmx")
    a, b = out.split()[:2], out.split()[2:4]
    assert a == b and a[0] == "5:2"


def test_no_dev_mount_uses_the_images_dev(berth, bundle):
    drop_mount(bundle, "/dev/shm")
    drop_mount(bundle, "/dev/mqueue")
    drop_mount(bundle, "/dev/pts")
    drop_mount(bundle, "/dev")
    dev = os.path.join(bundle.rootfs, "dev")
    # What an image may have there: a file where a node belongs, its own ptmx and console.
    with open(os.path.join(dev, "null"), "w") as f:
        f.write("not a device\n")
    with open(os.path.join(dev, "ptmx"), "w") as f:
        f.write("not ptmx\n")
    os.mkfifo(os.path.join(dev, "zero"))
    out, mounts = run_mounts(berth, bundle, f"{STAT} /dev/null /dev/zero; readlink /dev/ptmx")
    rows = _stats(out)
    assert rows["/dev/null"][3] == "1:3" and rows["/dev/null"][0] == "character special file"
    assert rows["/dev/zero"][3] == "1:5" and rows["/dev/zero"][0] == "character special file"
    assert "pts/ptmx" in out.splitlines()
    assert mount_at(mounts, "/dev") is None
    # The nodes were made in the image's own directory.
    assert stat.S_ISCHR(os.lstat(os.path.join(dev, "null")).st_mode)


def test_bind_mounted_dev_is_left_alone(berth, bundle, tmp_path):
    hostdev = tmp_path / "hostdev"
    hostdev.mkdir()
    (hostdev / "marker").write_text("x")
    for m in ("/dev/shm", "/dev/mqueue", "/dev/pts", "/dev"):
        drop_mount(bundle, m)
    bundle.config["mounts"].append({"destination": "/dev", "type": "bind",
                                    "source": str(hostdev), "options": ["rbind"]})
    bundle.config["linux"]["maskedPaths"] = []
    bundle.write()
    out = run(berth, bundle, "ls -A /dev").out
    assert out.split() == ["marker"]
    assert sorted(os.listdir(hostdev)) == ["marker"]


def test_read_only_dev_gets_its_nodes_first(berth, bundle):
    for m in bundle.config["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    bundle.write()
    out, mounts = run_mounts(berth, bundle, f"{STAT} /dev/null; touch /dev/x")
    assert _stats(out)["/dev/null"][3] == "1:3"
    assert "Read-only file system" in out
    assert "ro" in mount_at(mounts, "/dev").opts


def test_user_namespace_binds_host_nodes(berth, bundle):
    make_userns(bundle)
    extra = []
    if os.path.exists("/dev/net/tun"):
        extra = [{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}]
    bundle.config["linux"]["devices"] = extra
    bundle.write()
    names = list(DEFAULTS) + [d["path"] for d in extra]
    out, mounts = run_mounts(berth, bundle, f"{STAT} {' '.join(names)}; "
                                            "echo x > /dev/null && echo null-ok; "
                                            "head -c 2 /dev/zero | od -An -tx1; id -u")
    rows = _stats(out)
    for path, dev in DEFAULTS.items():
        assert rows[path][0] == "character special file" and rows[path][3] == dev, path
        m = mount_at(mounts, path)
        assert m is not None, f"{path} is a bind of the host's node"
        assert {"nosuid", "noexec"} <= m.opts
    # The host's nodes belong to the host's root, which the namespace does not map.
    assert rows["/dev/null"][2] == "65534:65534"
    if extra:
        assert rows["/dev/net/tun"][3] == "a:c8"
        assert mount_at(mounts, "/dev/net/tun") is not None
    assert "null-ok" in out and "00 00" in out
    assert out.split()[-1] == "0"


def test_user_namespace_device_missing_on_the_host(berth, bundle):
    make_userns(bundle)
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/no-such-node", "type": "c", "major": 1, "minor": 3}]
    bundle.write()
    r = run(berth, bundle, "true", check=False)
    assert r.rc != 0
    assert "/dev/no-such-node" in r.err


def test_device_with_a_second_name(berth, bundle):
    # The same device under another name, with its own mode.
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": 0o644}]
    bundle.write()
    out = run(berth, bundle, f"{STAT} /dev/x /dev/null").out
    rows = _stats(out)
    assert rows["/dev/x"] == ("character special file", "644", "0:0", "1:3")
    assert rows["/dev/null"] == ("character special file", "666", "0:0", "1:3")
