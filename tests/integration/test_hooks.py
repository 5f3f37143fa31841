"""hooks: each kind runs at its point of the lifecycle, in order, with its args and env and the
state on stdin; failures stop create where the runtime spec says so and only warn elsewhere."""
import json
import os
import signal
import time

import pytest

KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop"]

# Appends one line per call: its args, the HOOKVAR and LEAKVAR it got, its pid, and its stdin.
HOOK_SCRIPT = """#!/bin/busybox sh
log=$1
shift
state=$(/bin/busybox cat)
echo "$*|${HOOKVAR-unset}|${LEAKVAR-unset}|$$|$state" >> "$log"
"""


class HookLog:
    """A hook script, present both on the host (in the bundle directory) and in the rootfs
    (startContainer runs inside the container, after pivot_root), and the log it writes: one
    file, /hooks.log in the rootfs."""

    def __init__(self, bundle):
        self.bundle = bundle
        self.host_script = os.path.join(bundle.path, "hook.sh")
        for path in (self.host_script, bundle.host_path("/hook.sh")):
            with open(path, "w") as f:
                f.write(HOOK_SCRIPT)
            os.chmod(path, 0o755)
        self.host_log = bundle.host_path("/hooks.log")

    def hook(self, kind, *args, env=None, timeout=None):
        inside = kind == "startContainer"
        h = {"path": "/hook.sh" if inside else self.host_script,
             "args": ["hook.sh", "/hooks.log" if inside else self.host_log, kind, *args]}
        h["env"] = env if env is not None else [f"HOOKVAR={kind}"]
        if timeout is not None:
            h["timeout"] = timeout
        return h

    def entries(self):
        if not os.path.exists(self.host_log):
            return []
        out = []
        with open(self.host_log) as f:
            for line in f:
                args, var, leak, pid, state = line.rstrip("\n").split("|", 4)
                out.append({"args": args.split(" "), "kind": args.split(" ")[0], "var": var,
                            "leak": leak, "pid": int(pid),
                            "state": json.loads(state) if state else None})
        return out


def test_every_hook_kind_runs_in_order(berth, bundle):
    log = HookLog(bundle)
    bundle.config["hooks"] = {k: [log.hook(k, "first"), log.hook(k, "second")] for k in KINDS}
    bundle.set_args("sh", "-c", "echo process >> /hooks.log")
    cid = berth.new_id()

    berth("create", "-b", bundle.path, cid)
    st = berth.state(cid)
    pid = st["pid"]
    create_kinds = ["prestart", "createRuntime", "createContainer"]
    assert [(e["kind"], e["args"][1]) for e in log.entries()] == \
        [(k, n) for k in create_kinds for n in ("first", "second")]

    berth("start", cid)
    berth.wait_status(cid, "stopped")
    berth("delete", cid)

    with open(log.host_log) as f:
        lines = f.read().splitlines()
    parsed = ["process" if line == "process" else
              ":".join(line.split("|", 1)[0].split(" ")[:2]) for line in lines]
    # startContainer before the process; the order of poststart against startContainer is
    # test_poststart_runs_after_the_process_started's; the process may write before or after
    # poststart.
    create = [f"{k}:{n}" for k in create_kinds for n in ("first", "second")]
    assert parsed[:len(create)] == create
    middle = parsed[len(create):-2]
    assert sorted(middle) == ["poststart:first", "poststart:second", "process",
                              "startContainer:first", "startContainer:second"]
    assert middle.index("startContainer:first") < middle.index("startContainer:second") < \
        middle.index("process")
    assert middle.index("poststart:first") < middle.index("poststart:second")
    assert parsed[-2:] == ["poststop:first", "poststop:second"]

    states = {}
    for line in lines:
        if line == "process":
            continue
        args, var, leak, hook_pid, state = line.split("|", 4)
        kind = args.split(" ")[0]
        assert var == kind, line
        states.setdefault(kind, []).append(json.loads(state))
    for kind, sts in states.items():
        for s in sts:
            assert s["id"] == cid
            assert s["bundle"] == os.path.realpath(bundle.path)
            assert s["ociVersion"] == bundle.config["ociVersion"]
            if kind == "poststop":
                assert s["status"] == "stopped"
            elif kind == "startContainer":
                assert s["status"] == "created"
            elif kind == "poststart":
                assert s["status"] in ("created", "running")
            else:
                assert s["status"] == "creating"
            if kind in ("prestart", "createRuntime", "poststart"):
                assert s["pid"] == pid
            if kind in ("createContainer", "startContainer"):
                assert s["pid"] > 0


def test_hook_args_and_env(berth, bundle):
    log = HookLog(bundle)
    bundle.config["hooks"] = {
        "prestart": [log.hook("prestart", "a b", "", "c", env=["HOOKVAR=x=y", "OTHER=1"])],
        "poststop": [log.hook("poststop", env=[])],
    }
    bundle.set_args("true")
    r = berth("run", "-b", bundle.path, berth.new_id(),
              env={**os.environ, "LEAKVAR": "from berth", "HOOKVAR": "from berth"})
    assert r.rc == 0, r
    pre, post = log.entries()
    # "a b" and "" are single arguments; the script sees them joined by spaces.
    assert pre["args"] == ["prestart", "a", "b", "", "c"]
    assert (pre["var"], pre["leak"]) == ("x=y", "unset")
    # An empty env is empty: nothing of berth's environment reaches a hook.
    assert (post["var"], post["leak"]) == ("unset", "unset")


def test_hooks_without_env_get_an_empty_environment(berth, bundle, tmp_path):
    out = tmp_path / "env"
    bundle.config["hooks"] = {"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", f"env > {out}"]}]}
    bundle.set_args("true")
    r = berth("run", "-b", bundle.path, berth.new_id(), env={**os.environ, "LEAKVAR": "x"})
    assert r.rc == 0, r
    # dash itself adds PWD; nothing else may be there.
    assert [line.split("=")[0] for line in out.read_text().splitlines()] in ([], ["PWD"])


def test_createcontainer_and_startcontainer_run_in_the_container(berth, bundle):
    log = HookLog(bundle)
    bundle.config["hooks"] = {"createContainer": [{
        "path": log.host_script, "args": ["hook.sh", log.host_log, "createContainer"]}],
        "startContainer": [{"path": "/bin/sh", "args": [
            "sh", "-c", "readlink /proc/self/ns/mnt > /start-ns; "
            "readlink /proc/self/ns/uts >> /start-ns; hostname >> /start-ns"]}]}
    bundle.config["hostname"] = "hooked"
    r = berth.run(bundle, "sh", "-c", "readlink /proc/self/ns/mnt; readlink /proc/self/ns/uts")
    assert r.rc == 0, r
    mnt, uts = r.out.split()
    assert bundle.read("/start-ns").split() == [mnt, uts, "hooked"]
    # createContainer's pid is one of the container's pid namespace (the host does not see
    # its pid 2 as the hook: it is numbered inside).
    (entry,) = log.entries()
    assert entry["pid"] < 100


def test_hooks_working_directories(berth, bundle):
    """As runc: the runtime's hooks (prestart, createRuntime, poststart, poststop) run in the
    bundle directory, whatever berth's own is; createContainer in the container's root (not yet
    pivoted into); startContainer where the init is by then, the process's cwd."""
    log = bundle.host_path("/cwd.log")

    def hook(kind, inside=False):
        return {"path": "/bin/sh", "args": [
            "sh", "-c", f"echo {kind} $(pwd -P) >> {'/cwd.log' if inside else log}"]}

    bundle.config["hooks"] = {k: [hook(k, inside=k == "startContainer")] for k in KINDS}
    bundle.config["process"]["cwd"] = "/tmp"
    bundle.set_args("true")
    cid = berth.new_id()
    # berth itself runs in the test's directory, which is not the bundle.
    assert os.path.realpath(os.getcwd()) != os.path.realpath(bundle.path)
    berth("create", "-b", bundle.path, cid)
    berth("start", cid)
    berth.wait_status(cid, "stopped")
    berth("delete", cid)
    with open(log) as f:
        got = dict(line.split(" ", 1) for line in f.read().splitlines())
    real = os.path.realpath(bundle.path)
    assert got == {"prestart": real, "createRuntime": real,
                   "createContainer": os.path.realpath(bundle.rootfs), "startContainer": "/tmp",
                   "poststart": real, "poststop": real}


def test_poststop_hook_of_a_removed_bundle_still_runs(berth, bundle, tmp_path):
    marker = tmp_path / "poststop-ran"
    bundle.config["hooks"] = {"poststop": [{"path": "/bin/sh", "args": [
        "sh", "-c", f"pwd -P > {marker}"]}]}
    bundle.set_args("true")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    berth.wait_status(cid, "stopped")
    os.rename(bundle.path, bundle.path + ".moved")
    try:
        berth("delete", cid)
    finally:
        os.rename(bundle.path + ".moved", bundle.path)
    assert marker.read_text() == os.path.realpath(os.getcwd()) + "\n"


def test_a_failing_prestart_hook_fails_create(berth, bundle):
    bundle.config["hooks"] = {"prestart": [
        {"path": "/bin/true"},
        {"path": "/bin/sh", "args": ["sh", "-c", "echo something went wrong; exit 7"]}]}
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    r = berth("create", "-b", bundle.path, cid, check=False)
    assert (r.rc, r.out) == (1, "")
    assert r.err == "prestart hook 1 (/bin/sh) failed with exit status 7: something went wrong\n"
    assert berth.containers() == []
    assert bundle.processes() == []


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_a_failing_create_hook_fails_create(berth, bundle, kind):
    bundle.config["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
    bundle.set_args("sleep", "100")
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False)
    assert (r.rc, r.err) == (1, f"{kind} hook 0 (/bin/sh) failed with exit status 3\n")
    assert berth.containers() == []


def test_a_hook_killed_by_a_signal(berth, bundle):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $$"]}]}
    r = berth.run(bundle, "true")
    assert (r.rc, r.err) == (1, "prestart hook 0 (/bin/sh) was killed by signal 9\n")


def test_a_missing_hook_binary(berth, bundle):
    bundle.config["hooks"] = {"prestart": [{"path": "/no/such/hook"}]}
    r = berth.run(bundle, "true")
    assert (r.rc, r.err) == (1, "prestart hook 0: run /no/such/hook: No such file or directory\n")
    assert berth.containers() == []


def test_hook_timeout(berth, bundle, tmp_path):
    pid_file = tmp_path / "hook.pid"
    bundle.config["hooks"] = {"createRuntime": [{
        "path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"],
        "timeout": 1}]}
    bundle.set_args("sleep", "100")
    start = time.monotonic()
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False)
    took = time.monotonic() - start
    assert r.rc == 1
    assert r.err == ("createRuntime hook 0 (/bin/sh) timed out after 1 s: "
                     "Connection timed out\n")
    assert 0.9 < took < 5
    # The hook was killed, not left behind.
    hook = int(pid_file.read_text())
    assert not os.path.exists(f"/proc/{hook}") or \
        open(f"/proc/{hook}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    assert berth.containers() == []


def test_a_hook_that_ignores_its_stdin(berth, bundle):
    """A hook that exits without reading the state: berth must neither die of the broken pipe
    nor pass the SIGPIPE on."""
    bundle.config["hooks"] = {k: [{"path": "/bin/true"}] for k in
                              ("prestart", "createRuntime", "createContainer", "poststart",
                               "poststop")}
    bundle.set_args("sleep", "100")
    for _ in range(10):
        cid = berth.new_id()
        r = berth("create", "-b", bundle.path, cid, check=False)
        assert (r.rc, r.err) == (0, ""), r
        r = berth("start", cid, check=False)
        assert (r.rc, r.err) == (0, ""), r
        r = berth("delete", "--force", cid, check=False)
        assert (r.rc, r.err) == (0, ""), r
    assert berth.containers() == []


def test_run_does_not_relay_a_hooks_sigpipe(berth, bundle):
    # Without a pid namespace a SIGPIPE relayed by run would kill the process.
    bundle.drop_namespace("pid")
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/true"}] * 5,
                              "poststart": [{"path": "/bin/true"}] * 5}
    for _ in range(5):
        r = berth.run(bundle, "sh", "-c", "sleep 0.2; echo done")
        assert (r.rc, r.out) == (0, "done\n"), r


def test_a_failing_poststart_hook_only_warns(berth, bundle):
    bundle.config["hooks"] = {"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]},
                                            {"path": "/bin/true"}]}
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    r = berth("start", cid, check=False)
    assert (r.rc, r.err) == (0, "warning: poststart hook 0 (/bin/sh) failed with exit status 5\n")
    assert berth.status(cid) == "running"
    berth("delete", "--force", cid)


def test_a_failing_poststop_hook_only_warns(berth, bundle):
    log = HookLog(bundle)
    bundle.config["hooks"] = {"poststop": [
        {"path": "/bin/sh", "args": ["sh", "-c", "echo cleanup failed; exit 2"]},
        log.hook("poststop")]}
    r = berth.run(bundle, "sh", "-c", "exit 6")
    assert r.rc == 6
    assert r.err == "warning: poststop hook 0 (/bin/sh) failed with exit status 2: cleanup failed\n"
    # The next hook still ran, and the container is gone.
    assert [e["kind"] for e in log.entries()] == ["poststop"]
    assert berth.containers() == []

    bundle.set_args("true")
    cid = berth.new_id()
    berth("run", "--keep", "-b", bundle.path, cid)
    r = berth("delete", cid, check=False)
    assert (r.rc, r.err) == (0, "warning: poststop hook 0 (/bin/sh) failed with exit status 2: "
                                "cleanup failed\n")
    assert berth.containers() == []


def test_a_failing_startcontainer_hook_stops_the_container(berth, bundle):
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sh",
                                                  "args": ["sh", "-c", "exit 1"]}]}
    bundle.set_args("sh", "-c", "touch /ran")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    berth("start", cid, check=False)
    berth.wait_status(cid, "stopped")
    assert not os.path.exists(bundle.host_path("/ran"))
    berth("delete", cid)


def test_poststop_runs_on_delete_force_of_a_running_container(berth, bundle):
    log = HookLog(bundle)
    bundle.config["hooks"] = {"poststop": [log.hook("poststop")]}
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    assert log.entries() == []
    berth("delete", "--force", cid)
    (e,) = log.entries()
    assert e["state"]["status"] == "stopped"
    assert e["state"]["id"] == cid


def test_poststart_runs_after_the_process_started(berth, bundle):
    """The runtime spec: poststart hooks run after the user-specified process is executed. A
    slow startContainer hook (which runs before that exec) shows whether start waits for it."""
    log = HookLog(bundle)
    slow = log.hook("startContainer")
    slow["path"] = "/bin/sh"
    slow["args"] = ["sh", "-c", "sleep 1; /hook.sh /hooks.log startContainer < /dev/null"]
    bundle.config["hooks"] = {"startContainer": [slow], "poststart": [log.hook("poststart")]}
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    try:
        berth("start", cid)
        deadline = time.monotonic() + 10
        while len(log.entries()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert [e["kind"] for e in log.entries()] == ["startContainer", "poststart"]
    finally:
        berth("delete", "--force", cid)


def test_run_poststart_runs_after_the_process_started(berth, bundle, tmp_path):
    """run starts its init over the sync socket, not the exec fifo: poststart still waits for
    the exec, past a slow startContainer hook. When it runs, the container's pid is the
    process (busybox's sh), no longer berth's init."""
    log = HookLog(bundle)
    slow = log.hook("startContainer")
    slow["path"] = "/bin/sh"
    slow["args"] = ["sh", "-c", "sleep 1; /hook.sh /hooks.log startContainer < /dev/null"]
    seen = tmp_path / "exe"
    post = {"path": "/bin/sh", "args": [
        "sh", "-c", 'p=$(sed -n "s/.*\\"pid\\":\\([0-9]*\\).*/\\1/p"); '
        f'readlink /proc/$p/exe > {seen}']}
    bundle.config["hooks"] = {"startContainer": [slow], "poststart": [post]}
    bundle.set_args("sleep", "0.5")
    r = berth("run", "-b", bundle.path, berth.new_id(), check=False)
    assert r.rc == 0, r
    assert [e["kind"] for e in log.entries()] == ["startContainer"]
    assert seen.read_text().strip().endswith("busybox"), seen.read_text()


def test_create_killed_in_a_hook_leaves_nothing_after_delete(berth, bundle, tmp_path):
    pid_file = tmp_path / "hook.pid"
    bundle.config["hooks"] = {"prestart": [{
        "path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"]}]}
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    p = berth.popen("create", "-b", bundle.path, cid)
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.02)
    hook = int(pid_file.read_text())
    try:
        p.send_signal(signal.SIGKILL)
        berth.wait(p)
        # The init dies with its runtime (parent-death signal) while it is being set up.
        deadline = time.monotonic() + 5
        while bundle.processes():
            assert time.monotonic() < deadline, bundle.processes()
            time.sleep(0.02)
        assert berth.status(cid) == "stopped"
        berth("delete", "--force", cid)
        assert berth.containers() == []
    finally:
        os.kill(hook, signal.SIGKILL)


def test_start_container_hook_cannot_open_the_inits_exe(berth, bundle):
    """CVE-2019-5736's way in: a hook inside the container opening /proc/1/exe, which is still
    berth's binary before the exec. The init is not dumpable, so that is refused."""
    hook = {"path": "/bin/sh",
            "args": ["sh", "-c", "ls -l /proc/1/exe > /exe.out 2>&1; echo rc=$? >> /exe.out"]}
    bundle.config["hooks"] = {"startContainer": [hook]}
    bundle.set_args("true")
    r = berth("run", "-b", bundle.path, berth.new_id(), check=False)
    assert r.rc == 0, r
    out = open(os.path.join(bundle.rootfs, "exe.out")).read()
    assert "cannot read link: Permission denied" in out, out


def _ptrace_caps(bundle):
    for k in ("bounding", "effective", "permitted"):
        bundle.config["process"]["capabilities"][k].append("CAP_SYS_PTRACE")


def test_with_ptrace_the_init_runs_from_a_sealed_copy(berth, bundle):
    """A container that may ptrace could open the non-dumpable init's /proc/1/exe: then berth
    runs from a sealed memfd, and what it reaches is that copy, not the host's binary."""
    _ptrace_caps(bundle)
    hook = {"path": "/bin/sh",
            "args": ["sh", "-c", "readlink /proc/1/exe > /exe.out 2>&1; "
                     "echo x 2>>/exe.out >> /proc/1/exe || echo write-refused >> /exe.out"]}
    bundle.config["hooks"] = {"startContainer": [hook]}
    bundle.set_args("true")
    before = open(berth.binary, "rb").read()
    r = berth("run", "-b", bundle.path, berth.new_id(), check=False)
    assert r.rc == 0, r
    out = open(os.path.join(bundle.rootfs, "exe.out")).read()
    assert out.startswith("/memfd:berth"), out
    assert "write-refused" in out, out
    assert open(berth.binary, "rb").read() == before


def test_with_ptrace_100_execs_leave_the_host_binary_unchanged(berth, bundle):
    """CVE-2019-5736 against exec: the container watches for new processes, opens their
    /proc/PID/exe and tries to write it, while berth execs into it 100 times."""
    import hashlib
    _ptrace_caps(bundle)
    watcher = ("while true; do for e in /proc/[0-9]*/exe; do "
               "case $(readlink $e 2>/dev/null) in *memfd*|*berth*) "
               "readlink $e >> /seen; echo pwned 2>/dev/null >> $e; esac; done; done")
    bundle.set_args("sh", "-c", watcher)
    cid = berth.new_id()
    digest = hashlib.sha256(open(berth.binary, "rb").read()).hexdigest()
    berth("run", "-d", "-b", bundle.path, cid)
    try:
        for _ in range(100):
            assert berth("exec", cid, "true", check=False).rc == 0
    finally:
        berth("delete", "--force", cid)
    assert hashlib.sha256(open(berth.binary, "rb").read()).hexdigest() == digest
    seen = open(os.path.join(bundle.rootfs, "seen")).read() if os.path.exists(
        os.path.join(bundle.rootfs, "seen")) else ""
    assert "/work" not in seen and berth.binary not in seen, seen
