"""berth container: containers made from an imported busybox OCI layout.

Run as root: /usr/bin/python3 -m pytest tests/integration/test_engine.py
Each test has its own state root (the berth fixture) and its own layer store.
"""
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import tarfile
import threading
import time

import pytest

from test_storage import Layout, compress

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

IMAGE = "busybox:test"
PASSWD = (b"root:x:0:0:root:/root:/bin/sh\n"
          b"app:x:1000:1001:app:/home/app:/bin/sh\n"
          b"nobody:x:65534:65534:nobody:/:/bin/false\n")
GROUP = b"root:x:0:\nappgrp:x:1001:\nextra:x:2002:app\nnogroup:x:65534:\n"
RUN_CONFIG = {"Env": ["PATH=/bin", "FOO=image", "BAR=b"], "WorkingDir": "/home/app",
              "User": "app", "Cmd": ["sh", "-c", "echo image-cmd"]}


def tar_of_tree(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.add(root, arcname=".")
    return buf.getvalue()


def tar_of_files(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data, mode in files:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1600000000
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, mode
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(data), mode
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def write_image(path, layers, run_config, name):
    """An OCI layout whose config carries a runtime config (Entrypoint, Cmd, Env, ...)."""
    lay = Layout(path)
    descs, ids = [], []
    for raw in layers:
        data, mt = compress(raw, "gzip")
        descs.append({"mediaType": mt, **lay.blob(data)})
        ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": run_config,
                         "rootfs": {"type": "layers", "diff_ids": ids}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **lay.blob(config)},
        "layers": descs}).encode()
    lay.index([{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                **lay.blob(manifest), "platform": {"os": "linux", "architecture": "amd64"}}],
              name=name)
    return path


@pytest.fixture(scope="module")
def layouts(rootfs_template, tmp_path_factory):
    """Two images on one busybox base layer: an app image, and one with an Entrypoint."""
    d = tmp_path_factory.mktemp("layouts")
    base = tar_of_tree(rootfs_template)
    app = tar_of_files([("etc/passwd", PASSWD, 0o644), ("etc/group", GROUP, 0o644),
                        ("home", None, 0o755)])
    return {
        "app": write_image(str(d / "app"), [base, app], RUN_CONFIG, IMAGE),
        "ep": write_image(str(d / "ep"), [base],
                          {"Entrypoint": ["/bin/echo", "ep"], "Cmd": ["default"]}, "ep:1"),
    }


class Engine:
    """berth with this test's state root and layer store."""

    def __init__(self, berth, store):
        self.berth = berth
        self.store = store

    def __call__(self, *args, **kw):
        return self.berth(*args, global_args=("--storage-root", self.store), **kw)

    def c(self, *args, **kw):
        return self("container", *args, **kw)

    def name(self, tag="c"):
        return self.berth.new_id(tag)

    def bundle(self, name):
        return os.path.join(self.store, "containers", name)

    def record(self, name):
        with open(os.path.join(self.bundle(name), "container.json")) as f:
            return json.load(f)

    def config(self, name):
        with open(os.path.join(self.bundle(name), "config.json")) as f:
            return json.load(f)

    def layers(self):
        return self("layer", "ls", "-q").out.split()

    def popen(self, *args):
        cmd = [self.berth.binary, "--root", self.berth.root, "--storage-root", self.store,
               *args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)


@pytest.fixture
def engine(berth, tmp_path, layouts):
    e = Engine(berth, str(tmp_path / "storage"))
    e("image", "import", layouts["app"])
    e.image_layers = e.layers()
    yield e
    # Whatever a test left is removed here, before the berth fixture looks for leftovers.
    for name in e.c("ls", "-q", check=False).out.split():
        e.c("rm", "-f", name, check=False)


def host_mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


def assert_nothing_left(e, name):
    assert not os.path.exists(e.bundle(name))
    assert e.layers() == e.image_layers
    assert host_mounts_under(e.store) == []
    assert e.berth.containers() == []
    assert name not in e.c("ls", "-q").out.split()


def mount_line(mountinfo, target):
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == target:
            return line
    raise AssertionError(f"{target} not mounted in:\n{mountinfo}")


def mount_options(line):
    """Per-mount and superblock options of a mountinfo line."""
    pre, post = line.split(" - ")
    return set(pre.split()[5].split(",")), set(post.split()[2].split(","))


def expected_host_nameservers():
    with open("/etc/resolv.conf") as f:
        servers = [line.split()[1] for line in f if line.startswith("nameserver")]
    kept = [s for s in servers if not s.startswith("127.") and s != "::1"]
    return kept or ["8.8.8.8", "8.8.4.4"]


# --- /etc files ------------------------------------------------------------------------------

def test_etc_files_from_options(engine):
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "--hostname", "web1.example.org", "--dns", "1.1.1.1",
             "--dns", "2606:4700:4700::1111", "--dns-search", "example.org", "--dns-option",
             "ndots:3", "--add-host", "db:10.0.0.5", "--add-host", "v6:fd00::1", "--",
             "sh", "-c", "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; "
             "cat /etc/hostname; hostname; echo ---; cat /proc/self/mountinfo")
    r = engine.c("start", n)
    hosts, resolv, hostname, mountinfo = r.out.split("---\n")
    lines = [line.split() for line in hosts.splitlines()]
    assert ["127.0.0.1", "localhost"] in lines
    assert lines[1][:2] == ["::1", "localhost"]
    assert lines.index(["10.0.0.5", "db"]) < lines.index(["fd00::1", "v6"])
    assert lines[-1] == ["127.0.0.1", "web1.example.org", "web1"]
    body = [line for line in resolv.splitlines() if line and not line.startswith("#")]
    assert body == ["nameserver 1.1.1.1", "nameserver 2606:4700:4700::1111",
                    "search example.org", "options ndots:3"]
    assert hostname == "web1.example.org\nweb1.example.org\n"
    for f in ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname"):
        per_mount, _ = mount_options(mount_line(mountinfo, f))
        assert "rw" in per_mount
    # What the container saw is the container's own file.
    with open(os.path.join(engine.bundle(n), "hosts")) as f:
        assert f.read() == hosts
    engine.c("rm", n)
    assert_nothing_left(engine, n)


def test_resolv_conf_from_host_and_kept_when_edited(engine):
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "--", "sh", "-c",
             "cat /etc/resolv.conf; stat -c %i /etc/resolv.conf")
    out = engine.c("start", n).out.splitlines()
    servers = [line.split()[1] for line in out if line.startswith("nameserver")]
    assert servers == expected_host_nameservers()
    path = os.path.join(engine.bundle(n), "resolv.conf")
    # The container's /etc/resolv.conf is that file, bound.
    assert out[-1] == str(os.stat(path).st_ino)
    # The default hostname is the first 12 hex digits of the id, in hosts and hostname.
    rec = engine.record(n)
    assert re.fullmatch(r"[0-9a-f]{64}", rec["id"])
    with open(os.path.join(engine.bundle(n), "hostname")) as f:
        assert f.read() == rec["id"][:12] + "\n"

    # An edit made in the container survives the next start: the file is not regenerated.
    engine.c("rm", n)
    engine.c("create", n, "--image", IMAGE, "-u", "0", "--", "sh", "-c",
             "echo nameserver 9.9.9.9 > /etc/resolv.conf")
    engine.c("start", n)
    path = os.path.join(engine.bundle(n), "resolv.conf")
    ino = os.stat(path).st_ino
    with open(path) as f:
        assert f.read() == "nameserver 9.9.9.9\n"
    engine.c("start", n)
    assert os.stat(path).st_ino == ino
    with open(path) as f:
        assert f.read() == "nameserver 9.9.9.9\n"

    # An unedited file is brought up to date in place (same inode) at each start.
    m = engine.name("m")
    engine.c("create", m, "--image", IMAGE, "--", "true")
    mpath = os.path.join(engine.bundle(m), "resolv.conf")
    ino = os.stat(mpath).st_ino
    with open(mpath, "r+") as f:
        good = f.read()
    with open(mpath, "w") as f:
        f.write("stale\n")
    h = hashlib.sha256(b"stale\n").hexdigest()
    with open(os.path.join(engine.bundle(m), "resolv.conf.hash"), "w") as f:
        f.write("sha256:" + h)
    engine.c("start", m)
    assert os.stat(mpath).st_ino == ino
    with open(mpath) as f:
        assert f.read() == good


def test_read_only(engine):
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "--read-only", "--", "sh", "-c",
             "cat /proc/self/mountinfo; echo ---; "
             "touch /newfile 2>/dev/null && echo root-writable; "
             "echo x >> /etc/hosts 2>/dev/null && echo hosts-writable; "
             "echo x > /dev/shm/f && echo shm-writable")
    r = engine.c("start", n)
    mountinfo, rest = r.out.split("---\n")
    assert "root-writable" not in rest and "hosts-writable" not in rest
    assert "shm-writable" in rest
    for f in ("/", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"):
        per_mount, _ = mount_options(mount_line(mountinfo, f))
        assert "ro" in per_mount, f
    assert engine.config(n)["root"]["readonly"] is True


def test_dev_shm_and_mqueue(engine):
    n = engine.name()
    cmd = ["--", "sh", "-c", "stat -c %a /dev/shm; cat /proc/self/mountinfo"]
    engine.c("create", n, "--image", IMAGE, *cmd)
    mode, info = engine.c("start", n).out.split("\n", 1)
    assert mode == "1777"
    shm = mount_line(info, "/dev/shm")
    per_mount, sb = mount_options(shm)
    assert {"nosuid", "nodev", "noexec"} <= per_mount
    assert "size=65536k" in sb
    assert " - tmpfs " in shm
    assert " - mqueue " in mount_line(info, "/dev/mqueue")

    m = engine.name("big")
    engine.c("create", m, "--image", IMAGE, "--shm-size", "128m", *cmd)
    _, sb = mount_options(mount_line(engine.c("start", m).out, "/dev/shm"))
    assert "size=131072k" in sb

    p = engine.c("create", engine.name("bad"), "--image", IMAGE, "--shm-size", "0", check=False)
    assert p.rc != 0 and "--shm-size" in p.err


def test_shared_dev_shm_between_two_containers(engine):
    a, b = engine.name("a"), engine.name("b")
    engine.c("create", a, "--image", IMAGE, "--ipc", "shareable", "--shm-size", "32m", "--",
             "sleep", "1000")
    shm = os.path.join(engine.bundle(a), "shm")
    assert host_mounts_under(engine.store) == [shm]
    engine.c("create", b, "--image", IMAGE, "--ipc", f"container:{a}", "--", "sh", "-c",
             "cat /dev/shm/from-a; echo from-b > /dev/shm/from-b; readlink /proc/self/ns/ipc; "
             "grep ' /dev/shm ' /proc/self/mountinfo")
    # b needs a running: its IPC namespace is joined at start.
    p = engine.c("start", b, check=False)
    assert p.rc != 0 and "not running" in p.err
    engine.c("start", "-d", a)
    engine.c("exec", a, "sh", "-c", "echo from-a > /dev/shm/from-a")
    out = engine.c("start", b).out.splitlines()
    assert out[0] == "from-a"
    ipc_a = engine.c("exec", a, "readlink", "/proc/self/ns/ipc").out.strip()
    assert out[1] == ipc_a
    assert "size=32768k" in out[2]
    assert engine.c("exec", a, "cat", "/dev/shm/from-b").out == "from-b\n"
    with open(os.path.join(shm, "from-b")) as f:
        assert f.read() == "from-b\n"
    # A private container has an IPC namespace of its own.
    c = engine.name("c")
    engine.c("create", c, "--image", IMAGE, "--", "readlink", "/proc/self/ns/ipc")
    assert engine.c("start", c).out.strip() != ipc_a
    p = engine.c("create", engine.name("x"), "--image", IMAGE, "--ipc", f"container:{c}",
                 check=False)
    assert p.rc != 0 and "not shareable" in p.err

    engine.c("stop", "-t", "1", a)
    engine.c("rm", a, b, c)
    for name in (a, b, c):
        assert_nothing_left(engine, name)


def test_ipc_host(engine):
    n = engine.name()
    probe = f"berth-test-{n}"
    engine.c("create", n, "--image", IMAGE, "--ipc", "host", "-u", "0", "--", "sh", "-c",
             f"readlink /proc/self/ns/ipc; echo seen > /dev/shm/{probe}")
    try:
        out = engine.c("start", n).out.strip()
        assert out == os.readlink("/proc/self/ns/ipc")
        with open(f"/dev/shm/{probe}") as f:
            assert f.read() == "seen\n"
    finally:
        if os.path.exists(f"/dev/shm/{probe}"):
            os.unlink(f"/dev/shm/{probe}")
    assert "ipc" not in [ns["type"] for ns in engine.config(n)["linux"]["namespaces"]]
    engine.c("rm", n)
    assert_nothing_left(engine, n)


def test_volumes(engine, tmp_path):
    ro, rw = tmp_path / "ro", tmp_path / "rw"
    ro.mkdir()
    rw.mkdir()
    (ro / "f").write_text("ro-data\n")
    hosts = tmp_path / "myhosts"
    hosts.write_text("1.2.3.4 mine\n")
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "-u", "root", "-v", f"{ro}:/data:ro", "-v", f"{rw}:/out",
             "-v", f"{hosts}:/etc/hosts:ro", "--", "sh", "-c",
             "cat /data/f; echo x > /data/g 2>/dev/null && echo ro-writable; "
             "echo written > /out/w; cat /etc/hosts")
    out = engine.c("start", n).out
    assert out == "ro-data\n1.2.3.4 mine\n"
    assert (rw / "w").read_text() == "written\n"
    assert not (ro / "g").exists()
    assert not os.path.exists(os.path.join(engine.bundle(n), "hosts"))
    assert engine.record(n)["files"] == {"resolv.conf": True, "hosts": False, "hostname": True}
    p = engine.c("create", engine.name("bad"), "--image", IMAGE, "-v", "rel/ative:/x",
                 check=False)
    assert p.rc != 0 and "absolute path or a volume name" in p.err
    p = engine.c("create", engine.name("bad"), "--image", IMAGE, "-v",
                 f"{tmp_path}/missing:/x", check=False)
    assert p.rc != 0 and "missing" in p.err
    engine.c("rm", n)
    assert (ro / "f").read_text() == "ro-data\n"


def volume_dir(engine, name):
    return os.path.join(engine.store, "volumes", name)


def test_named_volumes(engine):
    # A new volume starts as a copy of the image's directory; it outlives the container and is
    # shared with the next one that names it.
    n, m = engine.name("n"), engine.name("m")
    engine.c("create", n, "--image", IMAGE, "-u", "root", "-v", "etcvol:/etc", "--", "sh", "-c",
             "cat /etc/group | head -1; echo from-n > /etc/new")
    assert engine("volume", "ls", "-q").out.split() == ["etcvol"]
    vol = volume_dir(engine, "etcvol")
    assert os.path.exists(os.path.join(vol, "passwd"))
    assert engine.record(n)["volumes"] == ["etcvol"]
    assert engine.c("start", n).out == "root:x:0:\n"
    r = engine.c("run", "--rm", m, "--image", IMAGE, "-u", "root", "-v", "etcvol:/data:ro", "--",
                 "sh", "-c", "cat /data/new; touch /data/x 2>/dev/null || echo read-only")
    assert r.out == "from-n\nread-only\n"
    assert open(os.path.join(vol, "new")).read() == "from-n\n"
    assert not os.path.exists(os.path.join(vol, "x"))
    p = engine("volume", "rm", "etcvol", check=False)
    assert p.rc != 0 and f'used by container "{n}"' in p.err
    engine.c("rm", n)
    assert os.path.exists(os.path.join(vol, "new"))  # a container's rm keeps its volumes
    engine("volume", "rm", "etcvol")
    assert not os.path.exists(vol)

    # nocopy, an existing volume (not filled again), a destination the image lacks.
    engine("volume", "create", "empty")
    p = engine("volume", "create", "empty", check=False)
    assert p.rc != 0 and "already exists" in p.err
    r = engine.c("run", "--rm", engine.name("e"), "--image", IMAGE, "-u", "root", "-w", "/",
                 "-v", "empty:/etc:ro", "-v", "fresh:/nowhere", "-v", "nc:/home:nocopy", "--",
                 "sh", "-c", "ls -A /etc | wc -l; ls -A /nowhere | wc -l; ls -A /home | wc -l")
    assert r.out.split() == ["0", "0", "0"]
    assert engine("volume", "ls", "-q").out.split() == ["empty", "fresh", "nc"]
    engine("volume", "rm", "empty", "fresh", "nc")
    p = engine("volume", "rm", "nosuch", check=False)
    assert p.rc != 0 and "does not exist" in p.err
    p = engine("volume", "create", "-bad", check=False)
    assert p.rc != 0
    # A create that fails takes back the volume it made, not one that was there.
    engine("volume", "create", "kept")
    p = engine.c("create", engine.name("f"), "--image", IMAGE, "-u", "nosuch", "-v", "kept:/a",
                 "-v", "made:/b", check=False)
    assert p.rc != 0 and "nosuch" in p.err
    assert engine("volume", "ls", "-q").out.split() == ["kept"]
    engine("volume", "rm", "kept")


def test_image_config_and_overrides(engine, layouts):
    n = engine.name()
    engine.c("create", n, "--image", IMAGE)
    assert engine.c("start", n).out == "image-cmd\n"
    cfg = engine.config(n)
    assert cfg["process"]["user"] == {"uid": 1000, "gid": 1001, "additionalGids": [2002]}
    assert cfg["process"]["cwd"] == "/home/app"
    assert cfg["process"]["terminal"] is False

    m = engine.name("m")
    engine.c("create", m, "--image", IMAGE, "--", "sh", "-c",
             'id -u; id -g; id -G; pwd; echo "$FOO $BAR $HOSTNAME $HOME"')
    uid, gid, groups, pwd, env = engine.c("start", m).out.splitlines()
    assert (uid, gid, pwd) == ("1000", "1001", "/home/app")
    assert "2002" in groups.split()
    hostname = engine.record(m)["hostname"]
    assert env == f"image b {hostname} /home/app"

    o = engine.name("o")
    engine.c("create", o, "--image", IMAGE, "-u", "nobody", "-e", "FOO=cli", "-e", "NEW=1",
             "-w", "/tmp/new/dir", "--", "sh", "-c", 'id -u; id -g; pwd; echo "$FOO $BAR $NEW"')
    assert engine.c("start", o).out.splitlines() == ["65534", "65534", "/tmp/new/dir",
                                                     "cli b 1"]
    for user, want in (("0", "0 0"), ("app:extra", "1000 2002"), ("4242", "4242 0"),
                       ("root:1001", "0 1001")):
        u = engine.name("u")
        engine.c("create", u, "--image", IMAGE, "-u", user, "--", "sh", "-c",
                 'echo "$(id -u) $(id -g)"')
        assert engine.c("start", u).out.strip() == want, user
        engine.c("rm", u)
    before = engine.layers()
    p = engine.c("create", engine.name("bad"), "--image", IMAGE, "-u", "nosuch", check=False)
    assert p.rc != 0 and "no user nosuch" in p.err
    p = engine.c("create", engine.name("bad"), "--image", "nosuch:image", check=False)
    assert p.rc != 0 and "image nosuch:image" in p.err
    assert engine.layers() == before

    # Entrypoint + Cmd, and a command replacing the Cmd only.
    engine("image", "import", layouts["ep"])
    e1, e2 = engine.name("e1"), engine.name("e2")
    engine.c("create", e1, "--image", "ep:1")
    assert engine.c("start", e1).out == "ep default\n"
    engine.c("create", e2, "--image", "ep:1", "--", "given", "args")
    assert engine.c("start", e2).out == "ep given args\n"
    # --entrypoint replaces the Entrypoint and drops the image's Cmd; "" leaves no Entrypoint.
    for args, want in ((["--entrypoint", "/bin/echo"], "\n"),
                       (["--entrypoint", "/bin/echo", "--", "x"], "x\n"),
                       (["--entrypoint", "", "--", "echo", "y"], "y\n")):
        e3 = engine.name("e3")
        r = engine.c("run", "--rm", e3, "--image", "ep:1", *args)
        assert r.out == want, args
    p = engine.c("run", "--rm", engine.name("e4"), "--image", "ep:1", "--entrypoint", "",
                 check=False)
    assert p.rc != 0 and "--entrypoint is empty" in p.err


def test_exit_codes_stop_and_exec(engine):
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    r = engine.c("start", n, check=False)
    assert (r.rc, r.out, r.err) == (7, "out\n", "err\n")
    assert "exited (7)" in engine.c("ls").out
    # Started again, afresh.
    assert engine.c("start", n, check=False).rc == 7

    s = engine.name("s")
    engine.c("create", s, "--image", IMAGE, "--", "sleep", "1000")
    engine.c("start", "-d", s)
    assert "running" in engine.c("ls").out
    r = engine.c("exec", s, "sh", "-c", "exit 5", check=False)
    assert r.rc == 5
    assert engine.c("exec", "-u", "app", s, "id", "-u").out == "1000\n"
    assert engine.c("exec", "-e", "X=y", "-w", "/etc", s, "sh", "-c",
                    'echo "$X $(pwd)"').out == "y /etc\n"
    p = engine.c("rm", s, check=False)
    assert p.rc != 0 and "running" in p.err
    # sleep as pid 1 ignores SIGTERM: SIGKILL after the timeout.
    t0 = time.monotonic()
    engine.c("stop", "-t", "1", s)
    assert 0.9 < time.monotonic() - t0 < 10
    assert "running" not in engine.c("ls").out
    engine.c("stop", s)  # stopped already: fine
    p = engine.c("exec", s, "true", check=False)
    assert p.rc != 0

    # A foreground start passes on what stop did to the process.
    t = engine.name("t")
    engine.c("create", t, "--image", IMAGE, "--", "sh", "-c",
             'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.1; done')
    proc = engine.popen("container", "start", t)
    assert proc.stdout.readline() == "ready\n"
    t0 = time.monotonic()
    engine.c("stop", t)
    out, _ = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5
    assert proc.returncode == 3 and out == "got-term\n"
    engine.c("rm", n, s, t)
    for name in (n, s, t):
        assert_nothing_left(engine, name)


def owner(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def test_user_namespace(engine, layouts):
    # An image imported without maps, run through them: the layer is copied shifted.
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "--uidmap", "0:200000:65536", "-u", "0",
             "-v", "uhome:/home", "-v", "unew:/new", "-w", "/made/here", "--", "sh", "-c",
             "id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; stat -c %u:%g /etc/passwd "
             "/made/here; echo edited >>/etc/hosts && echo hosts-ok; touch /made/here/f && "
             "echo cwd-ok")
    rootfs = engine.record(n)["rootfs"]
    assert owner(os.path.join(rootfs, "etc/passwd")) == (200000, 200000)
    assert owner(os.path.join(rootfs, "home")) == (200000, 200000)
    assert owner(os.path.join(engine.bundle(n), "hosts")) == (200000, 200000)
    # Named volumes: one filled from the (shifted) layer, one new and the container root's.
    assert owner(volume_dir(engine, "uhome")) == (200000, 200000)
    assert owner(volume_dir(engine, "unew")) == (200000, 200000)
    cfg = engine.config(n)
    assert {"type": "user"} in cfg["linux"]["namespaces"]
    assert cfg["linux"]["gidMappings"] == [{"containerID": 0, "hostID": 200000, "size": 65536}]
    lines = engine.c("start", n).out.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "200000", "65536"]
    assert lines[2].split() == ["0", "200000", "65536"]
    assert lines[3:7] == ["0:0", "0:0", "hosts-ok", "cwd-ok"], lines
    # The image's own layers are untouched.
    for layer in engine.image_layers:
        assert owner(engine("layer", "path", layer).out.strip() + "/etc") == (0, 0)

    # An image imported through maps runs through them by default; other maps are refused.
    engine("image", "import", "--name", "mapped:1", "--uidmap", "0:300000:65536",
           "--gidmap", "0:300000:65536", layouts["app"])
    m = engine.name("m")
    r = engine.c("run", "--rm", m, "--image", "mapped:1", "-u", "0", "--", "sh", "-c",
                 "id -u; cat /proc/self/uid_map; stat -c %u /etc/passwd")
    out = r.out.split("\n")
    assert out[0] == "0" and out[1].split() == ["0", "300000", "65536"] and out[2] == "0", out
    r = engine.c("run", "--rm", engine.name("o"), "--image", "mapped:1",
                 "--uidmap", "0:400000:65536", "--", "true", check=False)
    assert r.rc != 0 and "other id maps" in r.err
    p = engine.c("create", engine.name("bad"), "--image", IMAGE, "--uidmap", "1:200000:10",
                 check=False)
    assert p.rc != 0 and "root (0) is not mapped" in p.err
    p = engine.c("create", engine.name("bad"), "--image", IMAGE, "--uidmap", "0:1", check=False)
    assert p.rc != 0 and "CONTAINER:HOST:SIZE" in p.err
    engine.c("rm", n)
    engine("volume", "rm", "uhome", "unew")
    engine("image", "rm", "mapped:1")
    assert_nothing_left(engine, n)


def wait_for(cond, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_detached_output_goes_to_the_log(engine):
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "--", "sh", "-c",
             "echo out; echo err >&2; cat; echo stdin-was-empty")
    assert engine.c("logs", n).out == ""  # never run detached: no log yet
    r = engine.c("start", "-d", n)
    assert (r.out, r.err) == ("", "")
    # A monitor waits for the detached process and records how it ended.
    wait_for(lambda: "exited (0)" in engine.c("ls").out, "the process to end")
    assert engine.c("logs", n).out == "out\nerr\nstdin-was-empty\n"
    # A second detached run appends; a foreground run passes its output through instead.
    engine.c("start", "-d", n)
    wait_for(lambda: engine.c("logs", n).out.count("stdin-was-empty") == 2, "the second run")
    assert engine.c("start", n).out == "out\nstdin-was-empty\n"
    assert engine.c("logs", n).out.count("out\n") == 2

    # -f follows the running process to its end; what it printed last is there.
    f = engine.name("f")
    engine.c("run", "-d", f, "--image", IMAGE, "--", "sh", "-c",
             "echo one; sleep 0.5; echo two; sleep 0.5; echo three")
    proc = engine.popen("container", "logs", "-f", f)
    assert proc.stdout.readline() == "one\n"
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out, err) == (0, "two\nthree\n", "")
    # Not running: -f prints what there is and returns.
    assert engine.c("logs", "-f", f).out == "one\ntwo\nthree\n"
    # The exit status of a detached run, also after a stop; run -d --rm removes it afterwards.
    x = engine.name("x")
    engine.c("run", "-d", x, "--image", IMAGE, "--", "sh", "-c", "exit 5")
    wait_for(lambda: "exited (5)" in engine.c("ls").out, "exit 5 to be recorded")
    s = engine.name("s")
    engine.c("run", "-d", s, "--image", IMAGE, "--", "sleep", "1000")
    assert "running" in engine.c("ls").out
    engine.c("stop", "-t", "0", s)
    wait_for(lambda: "exited (137)" in engine.c("ls").out, "the kill to be recorded")
    g = engine.name("g")
    engine.c("run", "-d", "--rm", g, "--image", IMAGE, "--", "sh", "-c", "sleep 0.3")
    assert g in engine.c("ls", "-q").out.split()
    wait_for(lambda: g not in engine.c("ls", "-q").out.split(), "run -d --rm to remove it")
    assert not os.path.exists(engine.bundle(g)) and g not in engine.berth.containers()
    # A start that fails says why, from the monitor.
    b = engine.name("bad")
    p = engine.c("run", "-d", b, "--image", IMAGE, "--", "/no/such", check=False)
    assert p.rc != 0 and "/no/such" in p.err, p
    # start -d returns with the caller's stdout closed: a pipe reader is not kept waiting.
    t = engine.name("t")
    engine.c("create", t, "--image", IMAGE, "--", "sleep", "1000")
    proc = engine.popen("container", "start", "-d", t)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    engine.c("rm", "-f", x, s, t, b)
    p = engine.c("logs", "nosuch", check=False)
    assert p.rc != 0 and "does not exist" in p.err
    engine.c("rm", n, f)
    for name in (n, f):
        assert_nothing_left(engine, name)


def test_rm_leaves_nothing_and_force(engine):
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "--ipc", "shareable", "--", "sleep", "1000")
    rec = engine.record(n)
    assert rec["layer"] in engine.layers()
    assert rec["runtime_id"] == n and rec["image"] == IMAGE
    assert rec["bundle"] == engine.bundle(n)
    assert engine.config(n)["root"]["path"] == rec["rootfs"]
    engine.c("start", "-d", n)
    assert engine.berth.containers() == [n]
    engine.c("rm", "-f", n)
    assert_nothing_left(engine, n)

    # The runtime's process gone behind berth's back: rm -f still clears everything.
    m = engine.name("m")
    engine.c("create", m, "--image", IMAGE, "--ipc", "shareable", "--", "sleep", "1000")
    engine.c("start", "-d", m)
    pid = engine.berth.state(m)["pid"]
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.c("rm", "-f", m)
    assert_nothing_left(engine, m)

    # A create cut short (no record yet) is cleared by rm -f, refused without.
    os.makedirs(os.path.join(engine.store, "containers", "half"))
    p = engine.c("rm", "half", check=False)
    assert p.rc != 0 and "incomplete" in p.err
    engine.c("rm", "-f", "half")
    assert not os.path.exists(os.path.join(engine.store, "containers", "half"))

    p = engine.c("rm", "nosuch", check=False)
    assert p.rc != 0 and "does not exist" in p.err


def test_run_rm(engine):
    n = engine.name()
    r = engine.c("run", "--rm", n, "--image", IMAGE, "--", "sh", "-c", "echo hi; exit 4",
                 check=False)
    assert (r.rc, r.out) == (4, "hi\n")
    assert_nothing_left(engine, n)
    # Without --rm the container stays, stopped.
    m = engine.name("m")
    assert engine.c("run", m, "--image", IMAGE, "--", "true").rc == 0
    assert m in engine.c("ls", "-q").out.split()
    p = engine.c("create", m, "--image", IMAGE, check=False)
    assert p.rc != 0 and "already exists" in p.err
    engine.c("rm", m)
    assert_nothing_left(engine, m)


def test_labels_on_files_and_mounts(engine):
    env = dict(os.environ, BERTH_LABEL_FORCE="1")
    n = engine.name()
    engine.c("create", n, "--image", IMAGE, "--ipc", "shareable", "--", "true", env=env)
    label = engine.config(n)["linux"]["mountLabel"]
    assert re.fullmatch(r"[^:]+:[^:]+:[^:]+:s0:c\d+,c\d+", label)
    assert engine.config(n)["process"]["selinuxLabel"].endswith(label.split(":", 3)[3])
    for f in ("hosts", "hostname", "resolv.conf", "shm"):
        got = os.getxattr(os.path.join(engine.bundle(n), f), "security.selinux")
        assert got.rstrip(b"\0").decode() == label, f
    layer = engine.record(n)["rootfs"]
    level0 = label.rsplit(":", 1)[0]  # the label cut to s0
    assert level0.endswith(":s0")
    assert os.getxattr(layer, "security.selinux").rstrip(b"\0").decode() == level0
    # a joining container shares the labels
    j = engine.name("j")
    engine.c("create", j, "--image", IMAGE, "--ipc", f"container:{n}", "--", "true", env=env)
    assert engine.config(j)["linux"]["mountLabel"] == label
    engine.c("run", "--rm", engine.name("r"), "--image", IMAGE, "--", "true", env=env)
    engine.c("rm", n, j, env=env)
    assert_nothing_left(engine, n)
    assert os.listdir(os.path.join(engine.store, "containers", ".labels")) == []


def test_refusals(engine):
    bad = [
        (["--hostname", "-bad"], "--hostname"),
        (["--dns", "not-an-ip"], "--dns"),
        (["--add-host", "nocolon"], "--add-host"),
        (["--add-host", "h:999.1.1.1"], "not an IP"),
        (["--ipc", "weird"], "--ipc"),
        (["--ipc", "host", "--shm-size", "1m"], "--shm-size"),
        (["-w", "relative"], "absolute"),
        (["--ipc", "container:nosuch"], "nosuch"),
    ]
    for args, want in bad:
        name = engine.name("bad")
        p = engine.c("create", name, "--image", IMAGE, *args, check=False)
        assert p.rc != 0 and want in p.err, (args, p)
        assert not os.path.exists(engine.bundle(name))
    p = engine.c("create", "bad/name", "--image", IMAGE, check=False)
    assert p.rc != 0 and "container name" in p.err
    assert engine.layers() == engine.image_layers
