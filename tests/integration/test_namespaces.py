"""linux.namespaces: each type made new, left out, or joined by path, checked from inside the
container (its /proc/self/ns links, and what each namespace isolates) against the host."""
import ctypes
import os
import subprocess
import time

import pytest

from rootfs_util import add_mount, force_enosys

# config type -> /proc/PID/ns name
NS = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
      "cgroup": "cgroup", "user": "user", "time": "time"}


def host_ns(kind, pid="self"):
    return os.readlink(f"/proc/{pid}/ns/{NS[kind]}")


def container_ns(berth, bundle, kinds):
    """The container's namespace links for these types, as its process reads them."""
    script = "; ".join(f"readlink /proc/self/ns/{NS[k]}" for k in kinds)
    r = berth.run(bundle, "sh", "-c", script)
    assert r.rc == 0, r
    return dict(zip(kinds, r.out.split()))


@pytest.mark.parametrize("kind", ["pid", "network", "ipc", "uts", "mount", "cgroup"])
def test_new_namespace(berth, bundle, kind):
    bundle.set_namespace(kind)
    got = container_ns(berth, bundle, [kind])[kind]
    assert got.startswith(NS[kind] + ":[")
    assert got != host_ns(kind)


@pytest.mark.parametrize("kind", ["pid", "network", "ipc", "cgroup"])
def test_namespace_left_out_is_the_hosts(berth, bundle, kind):
    bundle.drop_namespace(kind)
    if kind == "network":
        # sysfs can only be mounted in a network namespace of one's own.
        bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["type"] != "sysfs"
                                   and not m["destination"].startswith("/sys")]
    assert container_ns(berth, bundle, [kind])[kind] == host_ns(kind)


def test_uts_left_out_is_the_hosts(berth, bundle):
    bundle.drop_namespace("uts")
    bundle.config.pop("hostname", None)
    assert container_ns(berth, bundle, ["uts"])["uts"] == host_ns("uts")


def _mounts_below(path):
    """Mount points at or below path in this mount namespace."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [m for m in points if m == path or m.startswith(path + "/")]


def _root_propagation():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                return fields[6:fields.index("-")]
    return None


def _without_mount_namespace(bundle):
    bundle.drop_namespace("mount")
    bundle.config["linux"].pop("maskedPaths", None)
    bundle.config["linux"].pop("readonlyPaths", None)


def test_mount_namespace_left_out_is_the_hosts(berth, bundle):
    """The container's mounts are made in the runtime's mount namespace, below the rootfs; the
    host's / keeps its propagation and nothing stays mounted once the container is gone."""
    _without_mount_namespace(bundle)
    bundle.config["root"]["readonly"] = True
    propagation = _root_propagation()
    rootfs = os.path.realpath(bundle.rootfs)
    r = berth.run(bundle, "sh", "-c", "readlink /proc/self/ns/mnt; ls /proc/self/fd >/dev/null && "
                  "grep -c ' /proc ' /proc/self/mountinfo; touch /made 2>&1; true")
    assert r.rc == 0, r
    lines = r.out.split("\n")
    assert lines[0] == host_ns("mount"), r
    assert "Read-only file system" in lines[2], r
    assert not os.path.exists(os.path.join(bundle.rootfs, "made"))
    assert _mounts_below(rootfs) == []
    assert _root_propagation() == propagation


def test_mount_namespace_left_out_exec_and_delete(berth, bundle):
    _without_mount_namespace(bundle)
    with open(os.path.join(bundle.rootfs, "marker"), "w") as f:
        f.write("inside\n")
    bundle.set_args("sleep", "100")
    rootfs = os.path.realpath(bundle.rootfs)
    cid = berth.new_id("nomnt")
    berth("create", "-b", bundle.path, cid)
    try:
        assert _mounts_below(rootfs)[0] == rootfs
        assert rootfs + "/proc" in _mounts_below(rootfs)
        berth("start", cid)
        r = berth("exec", cid, "sh", "-c", "cat /marker; readlink /proc/self/ns/mnt")
        assert r.out.split() == ["inside", host_ns("mount")], r
    finally:
        berth("delete", "--force", cid)
    assert _mounts_below(rootfs) == []


def test_mount_namespace_left_out_failed_create_leaves_no_mount(berth, bundle):
    _without_mount_namespace(bundle)
    bundle.config["mounts"].append({"destination": "/late", "type": "no-such-fs",
                                    "source": "none"})
    rootfs = os.path.realpath(bundle.rootfs)
    cid = berth.new_id("nomnt")
    r = berth.run(bundle, "true", cid=cid)
    assert r.rc != 0 and "no-such-fs" in r.err, r
    assert _mounts_below(rootfs) == []
    assert cid not in berth("list", "-q").out.split()


def test_pid_namespace_makes_the_process_pid_1(berth, bundle):
    bundle.set_namespace("pid")
    r = berth.run(bundle, "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'")
    # the shell and ls (grep may or may not be listed yet)
    assert r.out.split()[0] == "1"
    assert int(r.out.split()[1]) <= 3


def test_network_namespace_has_only_lo(berth, bundle):
    bundle.set_namespace("network")
    r = berth.run(bundle, "sh", "-c", "ls /sys/class/net; ip -o link show | cut -d: -f2")
    assert r.rc == 0, r
    assert r.out.split() == ["lo", "lo"]


def test_ipc_namespace_is_empty(berth, bundle):
    bundle.set_namespace("ipc")
    # A host segment is not visible inside.
    libc = ctypes.CDLL(None, use_errno=True)
    shmid = libc.shmget(0, 4096, 0o600 | 0o1000)  # IPC_PRIVATE, IPC_CREAT
    assert shmid >= 0
    try:
        r = berth.run(bundle, "sh", "-c", "tail -n +2 /proc/sysvipc/shm | wc -l")
        assert r.out.strip() == "0"
        with open("/proc/sysvipc/shm") as f:
            assert any(line.split()[1] == str(shmid) for line in f.readlines()[1:])
    finally:
        libc.shmctl(shmid, 0, None)  # IPC_RMID


def test_uts_namespace_keeps_the_host_name(berth, bundle):
    bundle.set_namespace("uts")
    bundle.config["hostname"] = "inside"
    before = os.uname().nodename
    r = berth.run(bundle, "sh", "-c", "hostname; hostname changed 2>&1; hostname")
    assert r.out.split("\n")[0] == "inside"
    assert os.uname().nodename == before


def test_mount_namespace_hides_container_mounts(berth, bundle):
    bundle.config["mounts"].append({"destination": "/scratch", "type": "tmpfs",
                                    "source": "tmpfs", "options": ["size=1m"]})
    r = berth.run(bundle, "sh", "-c", "grep -c ' /scratch ' /proc/self/mountinfo")
    assert r.out == "1\n"
    # The host sees no mount at the rootfs's /scratch (the fixture checks nothing is left).
    assert not os.path.ismount(bundle.host_path("/scratch"))


def test_cgroup_namespace_root(berth, bundle):
    bundle.set_namespace("cgroup")
    r = berth.run(bundle, "cat", "/proc/self/cgroup")
    assert r.rc == 0, r
    for line in r.out.splitlines():
        assert line.split(":", 2)[2] == "/", r.out


@pytest.mark.parametrize("clone", ["clone3", "clone"])
def test_no_cgroup_namespace_shows_the_container_cgroup(berth, bundle, tmp_path, clone):
    if clone == "clone":  # no clone3 (as under Docker's default seccomp profile): joins by itself
        force_enosys(berth, tmp_path, "clone3")
    bundle.drop_namespace("cgroup")
    cid = berth.new_id()
    r = berth.run(bundle, "cat", "/proc/self/cgroup", cid=cid)
    assert r.rc == 0, r
    # Hierarchies the host has but does not mount are not the runtime's to use.
    with open("/proc/cgroups") as f:
        known = {line.split()[0] for line in f if not line.startswith("#")}
    mounted = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fstype, _, opts = line.split(" - ", 1)[1].split()[:3]
            if fstype == "cgroup2":
                mounted.add("")
            elif fstype == "cgroup":
                mounted.add(",".join(sorted(o for o in opts.split(",")
                                            if o in known or o.startswith("name="))))
    seen = 0
    for line in r.out.splitlines():
        _, controllers, path = line.split(":", 2)
        if ",".join(sorted(controllers.split(","))) in mounted:
            assert path.endswith("/" + cid), r.out
            seen += 1
    assert seen == len(mounted)


def test_without_clone3_the_init_is_made_by_clone(berth, bundle, tmp_path):
    # The "clone" runs above prove something only if clone3 really fails and clone serves.
    force_enosys(berth, tmp_path, "clone3")
    trace = tmp_path / "trace"
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=clone,clone3", "-o", str(trace),
                        berth.binary, "--root", berth.root, "run", "-b", bundle.path,
                        berth.new_id()], capture_output=True, text=True, env=env)
    if r.returncode == 127 or not trace.exists():
        pytest.skip("strace is not available")
    assert r.returncode == 0, r.stderr
    calls = trace.read_text().splitlines()
    clone3 = [c for c in calls if "clone3(" in c]
    assert clone3 and all("ENOSYS" in c for c in clone3), calls
    assert any("clone(" in c and "CLONE_NEWPID" in c for c in calls), calls


def chown_rootfs(bundle, uid):
    subprocess.run(["chown", "-R", "-h", f"{uid}:{uid}", bundle.rootfs], check=True)


def userns(bundle, host_id=100000, size=65536):
    chown_rootfs(bundle, host_id)
    bundle.set_namespace("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host_id, "size": size}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host_id, "size": size}]


@pytest.mark.parametrize("cgroupns", [True, False])
def test_user_namespace(berth, make_bundle, cgroupns):
    bundle = make_bundle(traversable=True)
    userns(bundle)
    if cgroupns:
        bundle.set_namespace("cgroup")
    r = berth.run(bundle, "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; "
                  "readlink /proc/self/ns/user; touch /made-inside; stat -c '%u %g' /bin/busybox")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0].split() == ["0", "100000", "65536"]
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[2:4] == ["0", "0"]
    assert lines[4] != host_ns("user")
    # Files of host uid 100000 are root's inside; what root makes inside is 100000's outside.
    assert lines[5] == "0 0"
    st = os.stat(bundle.host_path("/made-inside"))
    assert (st.st_uid, st.st_gid) == (100000, 100000)


def test_user_namespace_rootfs_and_binds_its_root_cannot_reach(berth, make_bundle, tmp_path):
    # As in a layer store (0700 directories above every layer): the runtime binds the rootfs and
    # the bind sources for the container's root, which could not search its way to them.
    bundle = make_bundle()
    userns(bundle)
    assert os.stat(tmp_path).st_mode & 0o077 == 0  # host uid 100000 cannot search it
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    (locked / "f").write_text("from-host\n")
    os.chown(locked / "f", 100000, 100000)
    add_mount(bundle, "/mnt/f", type="bind", source=str(locked / "f"), options=["bind"])
    for caps in bundle.config["process"]["capabilities"].values():
        caps.append("CAP_SYS_ADMIN")  # to mount inside, over its own user namespace only
    bundle.write()
    # The test's directory on a shared mount, as / is under systemd: binds the runtime makes of
    # it must not stay its peers, or the container's mounts would show on the host.
    subprocess.run(["mount", "--bind", str(tmp_path), str(tmp_path)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(tmp_path)], check=True)
        r = berth.run(bundle, "sh", "-c", "cat /mnt/f; echo more >>/mnt/f; id -u; "
                      "mount -t tmpfs t /tmp && mount -t tmpfs t /mnt && echo mounted")
        with open("/proc/self/mountinfo") as f:
            leaked = [line for line in f if str(tmp_path) + "/" in line.split()[4]]
        # Nor does a mount the host makes there later reach the container (rprivate).
        cid = berth.new_id()
        bundle.set_args("sleep", "100")
        berth("run", "-d", "-b", bundle.path, cid)
        os.makedirs(bundle.host_path("/late"), exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "late", bundle.host_path("/late")], check=True)
        seen = berth("exec", cid, "cat", "/proc/self/mountinfo").out
        berth("delete", "--force", cid)
    finally:
        subprocess.run(["umount", "-R", str(tmp_path)], check=True)
    assert r.rc == 0, r
    assert r.out.splitlines() == ["from-host", "0", "mounted"], r.out
    assert (locked / "f").read_text() == "from-host\nmore\n"
    assert leaked == []
    assert " /late " not in seen, seen


def test_user_namespace_process_is_unprivileged_on_the_host(berth, make_bundle):
    bundle = make_bundle(traversable=True)
    userns(bundle)
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    try:
        pid = berth.state(cid)["pid"]
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        assert fields["Uid"].split() == ["101000"] * 4
        assert fields["Gid"].split() == ["101000"] * 4
        assert os.readlink(f"/proc/{pid}/ns/user") != host_ns("user")
    finally:
        berth("delete", "--force", cid)


def test_user_namespace_with_several_mappings(berth, make_bundle):
    bundle = make_bundle(traversable=True)
    chown_rootfs(bundle, 200000)
    bundle.set_namespace("user")
    bundle.config["linux"]["uidMappings"] = [
        {"containerID": 0, "hostID": 200000, "size": 1000},
        {"containerID": 1000, "hostID": 300000, "size": 10}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    r = berth.run(bundle, "cat", "/proc/self/uid_map", "/proc/self/gid_map")
    assert r.rc == 0, r
    assert [line.split() for line in r.out.splitlines()] == [
        ["0", "200000", "1000"], ["1000", "300000", "10"], ["0", "200000", "65536"]]


def test_time_namespace_offsets(berth, bundle):
    bundle.set_namespace("time")
    bundle.config["linux"]["timeOffsets"] = {
        "boottime": {"secs": 10 * 86400, "nanosecs": 0},
        "monotonic": {"secs": 3 * 86400, "nanosecs": 500}}
    with open("/proc/uptime") as f:
        before = float(f.read().split()[0])
    r = berth.run(bundle, "cat", "/proc/uptime", "/proc/self/timens_offsets")
    with open("/proc/uptime") as f:
        after = float(f.read().split()[0])
    assert r.rc == 0, r
    lines = r.out.splitlines()
    inside = float(lines[0].split()[0])
    assert before + 10 * 86400 - 1 <= inside <= after + 10 * 86400 + 1
    offsets = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert offsets == {"monotonic": [str(3 * 86400), "500"], "boottime": [str(10 * 86400), "0"]}


def test_time_namespace_without_offsets(berth, bundle):
    bundle.set_namespace("time")
    r = berth.run(bundle, "sh", "-c", "readlink /proc/self/ns/time; cat /proc/self/timens_offsets")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] != host_ns("time")
    assert [line.split()[1:] for line in lines[1:]] == [["0", "0"], ["0", "0"]]


@pytest.fixture
def netns(berth):
    """A named network namespace with an address on its lo, deleted afterwards."""
    name = berth.new_id("netns")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "addr", "add", "10.123.45.67/32", "dev", "lo"],
                       check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_join_network_namespace_by_path(berth, bundle, netns):
    path = f"/run/netns/{netns}"
    bundle.set_namespace("network", path)
    r = berth.run(bundle, "sh", "-c", "readlink /proc/self/ns/net; ip -o addr show dev lo")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "net:[%d]" % os.stat(path).st_ino
    assert "10.123.45.67/32" in r.out


def test_join_network_namespace_of_a_process(berth, bundle, netns):
    holder = subprocess.Popen(["ip", "netns", "exec", netns, "sleep", "100"])
    try:
        deadline = time.monotonic() + 5
        while host_ns("network", holder.pid) == host_ns("network"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        bundle.set_namespace("network", f"/proc/{holder.pid}/ns/net")
        r = berth.run(bundle, "ip", "-o", "addr", "show", "dev", "lo")
        assert r.rc == 0, r
        assert "10.123.45.67/32" in r.out
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("kind", ["pid", "ipc", "uts", "network", "cgroup"])
def test_join_namespace_of_another_container(berth, make_bundle, kind):
    first, second = make_bundle("first"), make_bundle("second")
    first.set_namespace("cgroup")
    first.set_args("sleep", "100")
    c1 = berth.new_id("first")
    berth("run", "-d", "-b", first.path, c1)
    c2 = None
    try:
        pid = berth.state(c1)["pid"]
        second.set_namespace(kind, f"/proc/{pid}/ns/{NS[kind]}")
        if kind == "uts":
            # Set in the joined namespace, as runc does.
            second.config["hostname"] = "joined"
        second.set_args("sh", "-c", f"readlink /proc/self/ns/{NS[kind]}; cat /proc/1/cmdline")
        c2 = berth.new_id("second")
        r = berth("run", "-b", second.path, c2, check=False)
        assert r.rc == 0, r
        link, cmdline = r.out.split("\n", 1)
        assert link == host_ns(kind, pid)
        if kind == "uts":
            r = berth("exec", c1, "hostname")
            assert r.out == "joined\n", r
        if kind == "pid":
            # Its /proc shows the first container's process as pid 1.
            assert cmdline.split("\0")[:2] == ["sleep", "100"]
    finally:
        berth("delete", "--force", c1)


def test_join_pid_namespace_shares_processes(berth, make_bundle):
    first, second = make_bundle("first"), make_bundle("second")
    first.set_args("sh", "-c", "echo $$ > /ready; sleep 100")
    c1 = berth.new_id("first")
    berth("run", "-d", "-b", first.path, c1)
    try:
        pid = berth.state(c1)["pid"]
        second.set_namespace("pid", f"/proc/{pid}/ns/pid")
        second.set_args("sh", "-c", "echo $$; kill -0 1 && echo sees-1")
        r = berth.run(second)
        assert r.rc == 0, r
        mine, seen = r.out.split()
        assert int(mine) > 1
        assert seen == "sees-1"
    finally:
        berth("delete", "--force", c1)


def test_hostname_in_the_hosts_uts_namespace_is_refused(berth, bundle):
    bundle.set_namespace("uts", "/proc/self/ns/uts")
    bundle.config["hostname"] = "not-the-hosts"
    before = os.uname().nodename
    cid = berth.new_id("uts")
    r = berth.run(bundle, "true", cid=cid)
    assert r.rc != 0
    assert ("hostname: the UTS namespace /proc/self/ns/uts is the runtime's own: setting it would "
            "change the host's") in r.err, r
    assert os.uname().nodename == before
    assert cid not in berth("list", "-q").out.split()


def test_join_a_missing_namespace_path(berth, bundle):
    bundle.set_namespace("network", "/run/netns/no-such-netns")
    r = berth.run(bundle, "true")
    assert r.rc == 1
    i = [n["type"] for n in bundle.namespaces].index("network")
    assert r.err == (f"linux.namespaces[{i}]: open network namespace /run/netns/no-such-netns: "
                     "No such file or directory\n")
    assert berth.containers() == []


def test_join_a_namespace_of_the_wrong_type(berth, bundle):
    bundle.set_namespace("ipc", "/proc/self/ns/net")
    r = berth.run(bundle, "true")
    assert r.rc == 1
    i = [n["type"] for n in bundle.namespaces].index("ipc")
    assert r.err == f"linux.namespaces[{i}]: /proc/self/ns/net is not a ipc namespace\n"
