"""Fault injection: berth, or a process it made, killed with SIGKILL at each system call.

strace stops the traced process on entry to its K-th call of one system call and sends it
SIGKILL there (`-e inject=NAME:signal=SIGKILL:when=K`; strace counts per system call and per
process). A clean traced run of the command gives the list of (NAME, K) positions; the sweep
kills the command at each of them, or at every STEP-th one:

- without -f only berth itself is traced and killed; the processes it made are left to
  notice (a parent-death signal, end of file on a socket);
- with -f every process berth makes is traced too, and the positions are those of the
  children: the container init in the middle of its setup, the process exec is starting, the
  intermediate process of a pid namespace join. berth itself sees its child die.

After every kill, `list` (table and JSON) must work and show the container with a valid status
or not at all, `state` must work or say the container does not exist, and `delete --force` must
leave nothing: no state directory, mount, cgroup (v1 hierarchies and the unified one) or
process, and the id must be usable again.

By default each sweep takes about FAULTS_POINTS positions spread over the whole command
(fewer under the sanitizers); BERTH_FAULTS_FULL=1 takes every position, BERTH_FAULTS_POINTS=N
any other number.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BERTH, _cgroup_dirs, _mountpoints, _ours
from rootfs_util import make_userns

STRACE = shutil.which("strace")
pytestmark = pytest.mark.skipif(not STRACE, reason="strace is not installed")


def _sanitized():
    """Whether the binary under test is built with AddressSanitizer (make sanitize)."""
    try:
        with open(BERTH, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized()
FULL = os.environ.get("BERTH_FAULTS_FULL") == "1"
FAULTS_POINTS = int(os.environ.get("BERTH_FAULTS_POINTS", "6" if SANITIZED else "18"))
STATUSES = {"creating", "created", "running", "paused", "stopped"}
# LeakSanitizer stops the world with ptrace, which a traced process cannot do.
TRACED_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")

LINE = re.compile(r"^(?:(\d+) +)?([a-z_0-9]+)\(")


def _berth_inode():
    st = os.stat(BERTH)
    return st.st_dev, st.st_ino


def _berth_processes():
    """Pids of live processes running the binary under test (not zombies)."""
    want = _berth_inode()
    pids = set()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{p}/exe")
            with open(f"/proc/{p}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == want and state not in ("Z", "X"):
            pids.add(int(p))
    return pids


def _wait_until(cond, timeout=5):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Tracer:
    """Runs one berth command under strace: to count its system calls, or to kill it."""

    def __init__(self, berth, tmp):
        self.berth = berth
        self.tmp = tmp
        self.n = 0

    def _paths(self):
        self.n += 1
        base = os.path.join(self.tmp, f"strace-{self.n}")
        return base + ".trace", base + ".out", base + ".err"

    def _run(self, args, follow, strace_args, timeout=60):
        """strace ... berth ARGS. Returns (strace's status, trace text). With -f, strace stays
        as long as any traced process lives (a created container's init waits for start): it
        is stopped once berth itself has ended, which detaches the others."""
        trace, out, err = self._paths()
        cmd = [STRACE, "-o", trace, *(["-f"] if follow else []), *strace_args,
               *self.berth.command(*args)]
        with open(out, "w") as o, open(err, "w") as e:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                 env=TRACED_ENV)
            try:
                if follow:
                    self._wait_main(p, trace, timeout)
                rc = p.wait(timeout=timeout)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        with open(trace) as f:
            text = f.read()
        with open(err) as f:
            self.last_err = f.read()
        if follow:
            # strace was stopped: berth's own end is in the trace.
            m = re.match(r"(\d+) +", text)
            end = m and re.search(
                rf"^{m.group(1)} +\+\+\+ (?:exited with (\d+)|killed by SIG(\w+))", text, re.M)
            assert end, f"berth's end is not in the trace: {text[-2000:]}"
            rc = int(end.group(1)) if end.group(1) else -getattr(signal, "SIG" + end.group(2))
        return rc, text

    @staticmethod
    def _wait_main(p, trace, timeout):
        deadline = time.monotonic() + timeout
        main = None
        while p.poll() is None:
            try:
                with open(trace) as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            if main is None:
                m = re.match(r"(\d+) +", text)
                main = m and m.group(1)
            if main and re.search(rf"^{main} +\+\+\+ (exited|killed)", text, re.M):
                # berth has ended: what it left behind must not be traced any more.
                time.sleep(0.01)
                if p.poll() is None:
                    p.kill()
                return
            assert time.monotonic() < deadline, f"berth under strace still runs: {text[-2000:]}"
            time.sleep(0.005)

    def positions(self, args, follow, skip_startup=False):
        """(NAME, K) for each system call of a clean run: of berth itself, or with `follow`
        of the processes it made. execve is left out (K=1 would kill before berth runs).
        With skip_startup, berth's own calls up to where it starts to differ from a command
        that fails at once (`state` of no container) are left out: the loader, the
        sanitizers' set-up, the parsing of options, all before berth did anything."""
        rc, text = self._run(args, follow, ["-e", "trace=all", "-s", "0"])
        assert rc == 0, f"clean traced run of {args}: {rc} {self.last_err}\n{text[-3000:]}"
        startup = []
        if skip_startup and not follow:
            _, base = self._run(["state", "nosuch"], False, ["-e", "trace=all", "-s", "0"])
            startup = [m.group(2) for m in map(LINE.match, base.splitlines()) if m]
        counts = {}
        seen = []
        main = None
        i = 0
        for line in text.splitlines():
            m = LINE.match(line)
            if not m:
                continue
            pid, name = m.group(1) or "main", m.group(2)
            if main is None:
                main = pid
            key = (pid, name)
            counts[key] = counts.get(key, 0) + 1
            if pid == main:
                i += 1
                if startup is not None and i <= len(startup) and startup[i - 1] == name:
                    continue
                startup = None
            if name in ("execve", "exit", "exit_group"):
                continue
            if (pid == main) != follow:
                seen.append((name, counts[key]))
        # Children may make the same calls: one position each.
        return list(dict.fromkeys(seen)), text

    def kill_at(self, args, follow, name, k):
        """Run with SIGKILL injected at the K-th NAME; whether a process was killed there."""
        rc, text = self._run(args, follow, ["-e", f"trace=execve,{name}",
                                            "-e", f"inject={name}:signal=SIGKILL:when={k}"])
        if not follow:
            return rc == -signal.SIGKILL
        # A process whose last traced call was NAME died of SIGKILL.
        last = {}
        for line in text.splitlines():
            m = re.match(r"^(\d+) +(.*)$", line)
            if not m:
                continue
            pid, rest = m.groups()
            if rest.startswith("+++ killed by SIGKILL") and \
                    last.get(pid, "").startswith(name + "("):
                return True
            if not rest.startswith("+++") and not rest.startswith("---"):
                last[pid] = rest
        return False


def _pick(positions):
    if FULL or len(positions) <= FAULTS_POINTS:
        return positions
    step = len(positions) / FAULTS_POINTS
    return [positions[int(step / 2 + i * step)] for i in range(FAULTS_POINTS)]


class Checker:
    """What must hold after a kill, and after the delete --force that follows it."""

    def __init__(self, berth, bundle, tmp_path):
        self.berth = berth
        self.bundle = bundle
        self.dirs = [str(tmp_path)]
        self.mounts_before = _mountpoints()
        self.berth_before = _berth_processes()

    def after_kill(self, cid, where):
        berth = self.berth
        r = berth("list", check=False)
        assert r.rc == 0, f"{where}: list: {r}"
        lines = r.out.splitlines()
        assert lines and lines[0].split()[:3] == ["ID", "PID", "STATUS"], f"{where}: {r}"
        for row in lines[1:]:
            fields = row.split()
            assert fields[0] == cid and fields[2] in STATUSES, f"{where}: list: {r}"
        r = berth("list", "--format", "json", check=False)
        assert r.rc == 0, f"{where}: list --format json: {r}"
        entries = json.loads(r.out)  # null for none, as runc prints it
        assert entries is None or (isinstance(entries, list) and len(entries) == 1), \
            f"{where}: {r}"
        entries = entries or []
        for e in entries:
            assert e["id"] == cid and e["status"] in STATUSES, f"{where}: {r}"
            assert e["bundle"] == self.bundle.path and isinstance(e["pid"], int), f"{where}: {r}"
        r = berth("state", cid, check=False)
        if r.rc == 0:
            assert json.loads(r.out)["status"] in STATUSES, f"{where}: state: {r}"
        else:
            assert f'container "{cid}" does not exist' in r.err, f"{where}: state: {r}"
        # Whatever was written is whole: state.json goes in by rename.
        state_file = os.path.join(berth.root, cid, "state.json")
        if os.path.exists(state_file):
            with open(state_file) as f:
                json.load(f)

    def after_delete(self, cid, where):
        berth = self.berth
        left = os.listdir(berth.root) if os.path.isdir(berth.root) else []
        assert left == [], f"{where}: left in the state root: {left}"
        cgroups = _cgroup_dirs(berth.prefix)
        assert cgroups == [], f"{where}: cgroups left: {cgroups}"
        mounts = {m for m in _mountpoints() - self.mounts_before
                  if _ours(m, self.dirs, berth.prefix) or cid in m}
        assert not mounts, f"{where}: mounts left: {sorted(mounts)}"
        # Processes die a moment after their SIGKILL; zombies wait for whoever reaps them.
        assert _wait_until(lambda: not self.bundle.processes()), \
            f"{where}: processes left in the rootfs: {self.bundle.processes()}"
        assert _wait_until(lambda: not _berth_processes() - self.berth_before), \
            f"{where}: berth processes left: {_berth_processes() - self.berth_before}"
        extra = set(os.listdir(self.bundle.path)) - {"rootfs", "config.json"}
        assert not extra, f"{where}: files left in the bundle: {extra}"

    def cleanup(self, cid, where):
        r = self.berth("delete", "--force", cid, check=False)
        assert r.rc == 0, f"{where}: delete --force: {r}"
        self.after_delete(cid, where)

    def reuse(self, cid, where):
        """The id is free again: a container of that name runs."""
        self.bundle.set_args("true")
        r = self.berth("run", "-b", self.bundle.path, cid, check=False)
        assert r.rc == 0, f"{where}: run of the same id afterwards: {r}"
        self.after_delete(cid, where)


# What each command needs before it runs, and its arguments.
def _setup_none(berth, bundle, cid):
    pass


def _setup_created(berth, bundle, cid):
    bundle.set_args("sleep", "1000")
    berth("create", "-b", bundle.path, cid)


def _setup_running(berth, bundle, cid):
    bundle.set_args("sleep", "1000")
    berth("run", "-d", "-b", bundle.path, cid)


COMMANDS = {
    "create": (_setup_none, lambda b, cid: ["create", "-b", b.path, cid], ["sleep", "1000"]),
    "start": (_setup_created, lambda b, cid: ["start", cid], None),
    "exec-detached": (_setup_running, lambda b, cid: ["exec", "-d", cid, "sleep", "1000"], None),
    "exec": (_setup_running, lambda b, cid: ["exec", cid, "true"], None),
    "delete": (_setup_running, lambda b, cid: ["delete", "--force", cid], None),
    "run": (_setup_none, lambda b, cid: ["run", "-b", b.path, cid], ["true"]),
}

# (command, follow the children, in a user namespace). A new user namespace that must be made
# after joining another namespace (here the host's network namespace, by path) is unshared by
# the init, which then forks the real init into the new pid namespace: with the children
# followed, the intermediate process is killed too. Without such a join one clone3 makes them.
CASES = [
    ("create", False, False), ("create", True, False),
    ("start", False, False),
    ("exec-detached", False, False), ("exec-detached", True, False),
    ("exec", False, False), ("exec", True, False),
    ("delete", False, False),
    ("run", False, False), ("run", True, False),
    ("create", False, True), ("create", True, True), ("exec", True, True),
]


@pytest.mark.parametrize("command,follow,userns", CASES, ids=[
    f"{c}-{'children' if f else 'berth'}{'-userns' if u else ''}" for c, f, u in CASES])
def test_sigkill_at_each_step(berth, make_bundle, tmp_path, command, follow, userns):
    bundle = make_bundle(traversable=userns)
    intermediate = userns and command == "create" and follow
    if userns:
        make_userns(bundle)
    if intermediate:
        bundle.set_namespace("network", f"/proc/{os.getpid()}/ns/net")
        bundle.write()
    setup, make_args, process_args = COMMANDS[command]
    tracer = Tracer(berth, str(tmp_path))
    check = Checker(berth, bundle, tmp_path)
    cid = berth.new_id(command)

    def prepare():
        setup(berth, bundle, cid)
        if process_args:
            bundle.set_args(*process_args)

    prepare()
    positions, clean = tracer.positions(make_args(bundle, cid), follow, skip_startup=not FULL)
    check.cleanup(cid, "after the clean run")
    if intermediate:
        pids = {m.group(1) for m in map(LINE.match, clean.splitlines()) if m}
        assert len(pids) >= 3, f"no intermediate process: {sorted(pids)}"
    assert positions, f"no system call traced: {clean[-2000:]}"
    picked = _pick(positions)
    killed = 0
    for name, k in picked:
        where = f"{command} killed at {name} #{k}"
        prepare()
        killed += tracer.kill_at(make_args(bundle, cid), follow, name, k)
        check.after_kill(cid, where)
        check.cleanup(cid, where)
        check.reuse(cid, where)
    # Runs differ a little (retries, polls): most injections must still have hit.
    assert killed >= 0.7 * len(picked), f"only {killed} of {len(picked)} injections killed"
    if FULL:
        print(f"{command} ({'children' if follow else 'berth'}): {len(picked)} positions, "
              f"{killed} kills")


def test_state_json_is_only_ever_renamed_into_place(berth, bundle, tmp_path):
    """Every write of state.json goes to a temporary file that is renamed over it, so that a
    kill in the middle of one leaves the old file or the new one, never part of one."""
    tracer = Tracer(berth, str(tmp_path))
    bundle.set_args("true")
    cid = berth.new_id()
    rc, text = tracer._run(["run", "-b", bundle.path, cid], False,
                           ["-e", "trace=openat,open,creat,renameat,renameat2,rename,truncate"])
    assert rc == 0, tracer.last_err
    written = [line for line in text.splitlines() if '"state.json"' in line
               and (line.startswith("truncate") or re.search(r"O_WRONLY|O_RDWR|O_CREAT", line))]
    assert written == []
    renames = [line for line in text.splitlines() if line.startswith("rename")
               and '"state.json"' in line]
    assert len(renames) >= 2, text


# ---- the container init killed at points of its life ----

def _init_pid(berth, cid):
    return berth.state(cid)["pid"]


def _wait_dead(pid):
    def gone():
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            return True
    assert _wait_until(gone), f"pid {pid} still alive"


def test_init_killed_before_start(berth, bundle, tmp_path):
    check = Checker(berth, bundle, tmp_path)
    bundle.set_args("sleep", "1000")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    pid = _init_pid(berth, cid)
    os.kill(pid, signal.SIGKILL)
    _wait_dead(pid)
    check.after_kill(cid, "init killed before start")
    assert berth.status(cid) == "stopped"
    r = berth("start", cid, check=False)
    assert r.rc != 0 and "stopped" in r.err, r
    check.cleanup(cid, "init killed before start")
    check.reuse(cid, "init killed before start")


def test_init_killed_while_running(berth, bundle, tmp_path):
    check = Checker(berth, bundle, tmp_path)
    bundle.set_args("sleep", "1000")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    berth("exec", "-d", cid, "sleep", "1001")
    assert _wait_until(lambda: len(bundle.processes()) == 2)
    pid = _init_pid(berth, cid)
    os.kill(pid, signal.SIGKILL)
    _wait_dead(pid)
    check.after_kill(cid, "init killed while running")
    assert berth.status(cid) == "stopped"
    check.cleanup(cid, "init killed while running")
    check.reuse(cid, "init killed while running")


def test_init_killed_during_an_exec(berth, bundle, tmp_path):
    check = Checker(berth, bundle, tmp_path)
    bundle.set_args("sleep", "1000")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    p = berth.popen("exec", cid, "sleep", "1001")
    assert _wait_until(lambda: len(bundle.processes()) == 2)
    pid = _init_pid(berth, cid)
    os.kill(pid, signal.SIGKILL)
    _wait_dead(pid)
    # The pid namespace went with its init: the exec'd process was killed, and exec says so.
    r = berth.wait(p, timeout=10)
    assert r.rc == 128 + signal.SIGKILL, r
    check.after_kill(cid, "init killed during an exec")
    check.cleanup(cid, "init killed during an exec")
    check.reuse(cid, "init killed during an exec")


# ---- list and state meet entries they cannot read ----

def test_list_shows_the_others_and_names_an_unreadable_entry(berth, bundle):
    bundle.set_args("sleep", "1000")
    good = berth.new_id("good")
    berth("create", "-b", bundle.path, good)
    with open(os.path.join(berth.root, good, "state.json")) as f:
        whole = f.read()
    bad = {}
    for name, content in [("truncated", whole[: len(whole) // 2]), ("empty", ""),
                          ("notobject", "[1, 2]"), ("missing", None)]:
        cid = berth.new_id(name)
        os.mkdir(os.path.join(berth.root, cid), 0o700)
        if content is not None:
            with open(os.path.join(berth.root, cid, "state.json"), "w") as f:
                f.write(content)
        bad[name] = cid
    for args in (["list"], ["list", "-q"], ["list", "--format", "json"]):
        r = berth(*args, check=False)
        assert r.rc == 0, r
        if "json" in args:
            entries = json.loads(r.out)
            assert [e["id"] for e in entries] == [good]
            assert entries[0]["status"] == "created"
        else:
            assert [line.split()[0] for line in r.out.splitlines()
                    if not line.startswith("ID ")] == [good]
        for name, cid in bad.items():
            assert f'container "{cid}"' in r.err, (name, r)
    assert "state.json is corrupt" in berth("list", check=False).err
    for name, cid in bad.items():
        r = berth("state", cid, check=False)
        assert r.rc == 1 and r.out == "", (name, r)
        assert f'container "{cid}"' in r.err, (name, r)
        if name == "missing":
            assert "does not exist" in r.err, r
        else:
            assert "state.json is corrupt" in r.err, (name, r)
        r = berth("delete", "--force", cid, check=False)
        assert (r.rc, r.err) == (0, ""), (name, r)
        assert not os.path.exists(os.path.join(berth.root, cid)), name
    r = berth("list", check=False)
    assert r.rc == 0 and r.err == "" and good in r.out, r
    berth("delete", "--force", good)
