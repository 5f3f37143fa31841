"""exec: a second process inside a running container."""
import json
import os
import subprocess
import time

import pytest


@pytest.fixture
def running(berth, bundle):
    bundle.set_args("sleep", "1000")
    cid = berth.new_id("exec")
    berth("run", "-d", "-b", bundle.path, cid)
    yield cid
    berth("delete", "--force", cid)


def status_of(text, key):
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{key} not in {text!r}")


def test_exec_joins_the_container(berth, running):
    init = berth.state(running)["pid"]
    r = berth("exec", running, "sh", "-c", "echo $$; readlink /proc/1/ns/pid; hostname", check=False)
    assert r.rc == 0, r
    pid, pidns, hostname = r.out.split()
    assert int(pid) > 1  # pid 1 is the container's own init
    assert pidns == os.readlink(f"/proc/{init}/ns/pid")
    assert hostname == "berth"


def test_exec_exit_status_and_signal(berth, running):
    assert berth("exec", running, "sh", "-c", "exit 7", check=False).rc == 7
    assert berth("exec", running, "sh", "-c", "kill -9 $$", check=False).rc == 137


def test_exec_user_env_cwd(berth, running):
    r = berth("exec", "-u", "1000:1001", "-e", "FOO=bar", "--cwd", "/tmp", running,
              "sh", "-c", 'id -u; id -g; echo $FOO; pwd')
    assert r.out.split() == ["1000", "1001", "bar", "/tmp"]


def test_exec_cwd_the_user_cannot_search(berth, bundle, running):
    """As runc: the cwd is entered before the user and capabilities change, so uid 0 without
    CAP_DAC_OVERRIDE still gets into another uid's 0700 directory."""
    d = os.path.join(bundle.rootfs, "home", "u")
    os.makedirs(d)
    os.chown(d, 42, 42)
    os.chmod(d, 0o700)
    r = berth("exec", "--user", "0", "--cwd", "/home/u", running, "pwd", check=False)
    assert r.rc == 0, r
    assert r.out == "/home/u\n"


@pytest.mark.parametrize("user", ["", ":", "1:", "-1", "0x1", "4294967296", "1a", "root"])
def test_exec_user_is_parsed_strictly(berth, running, user):
    r = berth("exec", "-u", user, running, "id", check=False)
    assert r.rc == 255
    assert "--user" in r.err


def test_exec_numeric_user_is_never_a_name(berth, bundle, running):
    # An image whose passwd names a user "1000" with uid 0 must not make -u 1000 root.
    with open(os.path.join(bundle.rootfs, "etc/passwd"), "a") as f:
        f.write("1000:x:0:0::/:/bin/sh\n")
    assert berth("exec", "-u", "1000", running, "id", "-u").out.strip() == "1000"


def test_exec_cap_is_not_inheritable(berth, running):
    out = berth("exec", "--cap", "CAP_NET_RAW", running, "cat", "/proc/self/status").out
    assert status_of(out, "CapInh") == "0000000000000000"
    assert int(status_of(out, "CapEff"), 16) & (1 << 13)  # CAP_NET_RAW


def test_exec_process_is_not_dumpable_before_exec(berth, running):
    # The exec'd program itself is dumpable again; what matters is that no host fd reached it.
    out = berth("exec", running, "ls", "/proc/self/fd").out.split()
    assert sorted(out) == ["0", "1", "2", "3"]  # 3 is ls's own directory


def test_exec_refuses_stopped(berth, bundle):
    bundle.set_args("true")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    berth("start", cid)
    for _ in range(50):
        if berth.state(cid)["status"] == "stopped":
            break
    r = berth("exec", cid, "true", check=False)
    assert r.rc == 255 and "stopped" in r.err
    berth("delete", cid)


def test_exec_process_file_and_pid_file(berth, running, tmp_path):
    proc = {"args": ["sh", "-c", "echo $X"], "env": ["X=from-file"], "cwd": "/",
            "user": {"uid": 0, "gid": 0}}
    (tmp_path / "p.json").write_text(json.dumps(proc))
    r = berth("exec", "-p", str(tmp_path / "p.json"), "--pid-file", str(tmp_path / "pid"),
              running)
    assert r.out.strip() == "from-file"
    assert int((tmp_path / "pid").read_text()) > 0


def test_exec_detach(berth, running, tmp_path):
    berth("exec", "-d", "--pid-file", str(tmp_path / "pid"), running, "sleep", "30")
    pid = int((tmp_path / "pid").read_text())
    assert os.path.exists(f"/proc/{pid}")
    # The pid file is written as the process is let go: it execs a moment later.
    for _ in range(100):
        if os.readlink(f"/proc/{pid}/exe").endswith("busybox"):
            break
        time.sleep(0.05)
    assert os.readlink(f"/proc/{pid}/exe").endswith("busybox")


def test_exec_cgroup_sub(berth, running):
    init = berth.state(running)["pid"]
    with open(f"/proc/{init}/cgroup") as f:
        pids_path = [l.split(":", 2)[2].strip() for l in f if l.split(":")[1] == "pids"][0]
    sub = f"/sys/fs/cgroup/pids{pids_path}/sub"
    os.mkdir(sub)
    try:
        out = berth("exec", "--cgroup", "pids:sub", running, "cat", "/proc/self/cgroup").out
        assert f"pids:{pids_path}/sub" in out
        r = berth("exec", "--cgroup", "../x", running, "true", check=False)
        assert r.rc == 255 and "--cgroup" in r.err
    finally:
        berth("delete", "--force", running)
        os.rmdir(sub) if os.path.exists(sub) else None


def parse_cgroup(text):
    """{controllers: path} of a /proc/PID/cgroup text ("" for the cgroup2 hierarchy)."""
    return {ctrls: path for _, ctrls, path in (l.split(":", 2) for l in text.splitlines())}


def cgroup_lines(pid):
    """parse_cgroup of /proc/PID/cgroup."""
    with open(f"/proc/{pid}/cgroup") as f:
        return parse_cgroup(f.read())


def cgroup_mounts():
    """{controllers as /proc/self/cgroup names them: mountpoint} of the host's cgroup mounts."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ")
            fstype, _, opts = post.split()
            if fstype == "cgroup2":
                mounts.setdefault("", pre.split()[4])
            elif fstype == "cgroup":
                ctrls = [o for o in opts.split(",") if o not in ("rw", "ro") and
                         not o.startswith(("nosuid", "nodev", "noexec", "relatime", "release_agent",
                                           "clone_children", "xattr", "cpuset_v2_mode",
                                           "noprefix", "favordynmods"))]
                mounts.setdefault(",".join(ctrls), pre.split()[4])
    return mounts


def host_cgroup_dir(init, ctrls, sub=""):
    path = cgroup_lines(init)[ctrls]
    return cgroup_mounts()[ctrls] + path + (f"/{sub}" if sub else "")


def v1_hierarchy_of(init, controller):
    return [c for c in cgroup_lines(init) if controller in c.split(",")][0]


@pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/memory"), reason="needs cgroup v1")
def test_exec_cgroup_v1_forms(berth, running):
    init = berth.state(running)["pid"]
    own = cgroup_lines(init)
    made = []
    try:
        # "/" is the container's own cgroup, in every hierarchy.
        r = berth("exec", "--cgroup", "/", running, "cat", "/proc/self/cgroup", check=False)
        assert r.rc == 0, r
        assert parse_cgroup(r.out) == own
        for arg, want in [("..", ".. is not a sub cgroup path"),
                          ("a/../..", "is not a sub cgroup path"),
                          ("nonexistent", "nonexistent"),
                          ("cpu:nonexistent", "nonexistent"),
                          ("whaaat:/", "unknown controller whaaat"),
                          ("cpu,:/", "empty controller")]:
            r = berth("exec", "--cgroup", arg, running, "true", check=False)
            assert r.rc == 255 and want in r.err, (arg, r)
        r = berth("exec", "--cgroup", "sub", "--cgroup", "memory:sub", running, "true",
                  check=False)
        assert r.rc == 255 and "missing CONTROLLER: prefix" in r.err, r
        # Sub-cgroups for memory and for cpu and cpuacct (one hierarchy or two), none in
        # cpuset: "cpu" must name the cpu controller, never cpuset by its prefix.
        mem = v1_hierarchy_of(init, "memory")
        cpus = {v1_hierarchy_of(init, "cpu"), v1_hierarchy_of(init, "cpuacct")}
        for ctrls, name in [(mem, "submem")] + [(c, "subcpu") for c in cpus]:
            made.append(host_cgroup_dir(init, ctrls, name))
            os.mkdir(made[-1])
        r = berth("exec", "--cgroup", "memory:submem", "--cgroup", "cpu,cpuacct:subcpu", running,
                  "cat", "/proc/self/cgroup", check=False)
        assert r.rc == 0, r
        got = parse_cgroup(r.out)
        for ctrls, path in own.items():
            want = path + "/submem" if ctrls == mem else path + "/subcpu" if ctrls in cpus \
                else path
            assert got[ctrls] == want, (ctrls, got)
    finally:
        berth("delete", "--force", running)
        for d in made:
            if os.path.exists(d):
                os.rmdir(d)


@pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/unified"), reason="needs a hybrid host")
def test_exec_cgroup_bare_path_hybrid(berth, running):
    # A bare path made in every v1 hierarchy but not in cgroup2: the process joins it in v1
    # and stays in the container's own cgroup2 directory.
    init = berth.state(running)["pid"]
    own = cgroup_lines(init)
    made = []
    try:
        for ctrls in own:
            if ctrls:
                made.append(host_cgroup_dir(init, ctrls, "sub"))
                os.mkdir(made[-1])
            if ctrls == "cpuset":  # a new cpuset has no cpus or mems: no task could join
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(made[-1], "..", f)) as src, \
                            open(os.path.join(made[-1], f), "w") as dst:
                        dst.write(src.read())
        r = berth("exec", "--cgroup", "sub", running, "cat", "/proc/self/cgroup", check=False)
        assert r.rc == 0, r
        got = parse_cgroup(r.out)
        assert got == {c: p + "/sub" if c else p for c, p in own.items()}, got
        # Where cgroup2 has it too, the process goes there as well.
        made.append(host_cgroup_dir(init, "", "sub"))
        os.mkdir(made[-1])
        r = berth("exec", "--cgroup", "/sub/", running, "cat", "/proc/self/cgroup", check=False)
        assert r.rc == 0, r
        got = parse_cgroup(r.out)
        assert got == {c: p + "/sub" for c, p in own.items()}, got
    finally:
        berth("delete", "--force", running)
        for d in made:
            if os.path.exists(d):
                os.rmdir(d)


def test_exec_refuses_a_paused_container(berth, running):
    berth("pause", running)
    try:
        r = berth("exec", running, "echo", "ok", check=False, timeout=20)
        assert r.rc == 255 and "cannot exec in a paused container" in r.err, r
        # --ignore-paused: the process starts once the container is resumed.
        p = berth.popen("exec", "--ignore-paused", running, "echo", "ok")
        time.sleep(0.3)
        assert p.poll() is None
        berth("resume", running)
        r = berth.wait(p, timeout=20)
        assert r.rc == 0 and r.out == "ok\n", r
    finally:
        berth("resume", running, check=False)
        berth("delete", "--force", running)


def test_exec_own_failures_exit_255(berth, running, tmp_path):
    # exec's own failures are 255, apart from anything the process could exit with.
    for args in [("exec", "nosuch", "true"),
                 ("exec", "--pid-file", str(tmp_path / "no" / "dir" / "pid"), running, "true"),
                 ("exec", running, "/nonexistent"),
                 ("exec", "--cgroup", "nonexistent", running, "true"),
                 ("exec", "-p", str(tmp_path / "missing.json"), running)]:
        r = berth(*args, check=False)
        assert r.rc == 255 and r.err, (args, r)
    assert berth("exec", running, "sh", "-c", "exit 1", check=False).rc == 1
    assert berth("exec", running, "sh", "-c", "exit 255", check=False).rc == 255


PROCESS = {"args": ["sh", "-c", "echo $X"], "env": ["X=through-a-link"], "cwd": "/",
           "user": {"uid": 0, "gid": 0},
           "capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                            "effective": ["CAP_KILL"]}}


def test_exec_process_file_follows_symlinks(berth, running, tmp_path):
    (tmp_path / "p.json").write_text(json.dumps(PROCESS))
    os.symlink(tmp_path / "p.json", tmp_path / "link.json")
    r = berth("exec", "-p", str(tmp_path / "link.json"), running, check=False)
    assert r.rc == 0 and r.out == "through-a-link\n", r
    # bash's process substitution: /dev/fd/N, a symlink to a pipe. Without a capabilities
    # object the process keeps CAP_SYS_PTRACE and berth re-executes itself from a sealed copy,
    # which must not find the pipe drained.
    for proc in (PROCESS, {k: v for k, v in PROCESS.items() if k != "capabilities"}):
        for opt in ("-p ", "--process="):
            cmd = " ".join(f"'{a}'" for a in berth.command("exec")) + \
                f" {opt}<(echo '{json.dumps(proc)}') {running}"
            p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            assert p.returncode == 0 and p.stdout == "through-a-link\n", (opt, proc, p)


def test_exec_tty_through_console_socket(berth, running, tmp_path):
    from test_console import ConsoleReceiver
    console = ConsoleReceiver(tmp_path / "exec-console.sock")
    try:
        berth("exec", "-t", "-d", "--console-socket", console.path, running,
              "sh", "-c", "tty; echo done")
        assert console.got_fd.wait(10), "no pty master arrived"
        out = console.text()
    finally:
        console.close()
    assert "/dev/pts/" in out and "done" in out, out


def _exec_tty(berth, cid, tmp_path, *args):
    from test_console import ConsoleReceiver
    sock = tmp_path / "exec-console.sock"
    if sock.exists():
        sock.unlink()
    console = ConsoleReceiver(sock)
    try:
        berth("exec", "-t", "-d", "--console-socket", console.path, *args[:-1], cid,
              "sh", "-c", args[-1])
        assert console.got_fd.wait(10), "no pty master arrived"
        return console.text()
    finally:
        console.close()


@pytest.mark.parametrize("userns", [False, True])
def test_exec_tty_belongs_to_the_user(berth, bundle, tmp_path, userns):
    """As runc: exec -t --user 1000 gets a pty of uid 1000, group still the devpts's gid=5."""
    from rootfs_util import make_userns
    if userns:
        make_userns(bundle)
    bundle.set_args("sleep", "1000")
    cid = berth.new_id("exec")
    berth("run", "-d", "-b", bundle.path, cid)
    try:
        out = _exec_tty(berth, cid, tmp_path, "--user", "1000",
                        "stat -c %u:%g $(tty); stat -L -c %u:%g /proc/self/fd/0")
        assert out.split() == ["1000:5", "1000:5"], out
        out = _exec_tty(berth, cid, tmp_path, "stat -c %u:%g $(tty)")
        assert out.split() == ["0:5"], out
    finally:
        berth("delete", "--force", cid)


def test_exec_additional_gids_and_no_new_privs(berth, running):
    out = berth("exec", "-u", "1000:1000", "-g", "5", "-g", "7", "--no-new-privs", running,
                "cat", "/proc/self/status").out
    assert status_of(out, "Groups").split() == ["5", "7"]
    assert status_of(out, "NoNewPrivs") == "1"


def test_exec_preserve_fds(berth, running, tmp_path):
    data = tmp_path / "passed"
    data.write_text("through fd 3\n")
    fd = os.open(data, os.O_RDONLY)

    def at_3():
        os.dup2(fd, 3)
    try:
        p = subprocess.run([berth.binary, "--root", berth.root, "exec", "--preserve-fds", "1",
                            running, "cat", "/proc/self/fd/3"], pass_fds=(3,), preexec_fn=at_3,
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
    finally:
        os.close(fd)
    assert p.returncode == 0, p
    assert p.stdout == "through fd 3\n"


@pytest.mark.parametrize("log", [False, True])
def test_exec_preserve_fds_never_hands_over_berths_own(berth, running, tmp_path, log):
    # The caller passed nothing at 3 and 4: whatever berth opened there (its state root, its
    # log) must not reach the container.
    args = ["--log", str(tmp_path / "log")] if log else []
    r = berth("exec", "--preserve-fds", "2", running, "sh", "-c",
              "ls -l /proc/self/fd/ | grep -E ' [34] ->' || echo none", global_args=args)
    assert r.out.strip() == "none", r


def test_run_preserve_fds_never_hands_over_berths_own(berth, bundle, tmp_path):
    bundle.set_args("sh", "-c", "ls -l /proc/self/fd/ | grep -E ' [34] ->' || echo none")
    r = berth("run", "--preserve-fds", "2", "-b", bundle.path, berth.new_id(),
              global_args=["--log", str(tmp_path / "log")])
    assert r.out.strip() == "none", r
