"""Many containers at once: 50 containers created, started, exec'd into, killed and deleted in
parallel, and 50 parallel `berth run`s. Every command succeeds, no descriptor of berth's reaches
a container process beyond stdio (and, before start, the exec fifo the init waits on), and
nothing is left: no state directory, process, mount or cgroup, and no berth process.

The machine may be loaded (2 cores shared with other work): the timeouts are generous, but a
command that hangs fails the test.
"""
import concurrent.futures
import json
import os
import subprocess
import threading
import time

N = 50
WORKERS = 25
TIMEOUT = 180  # one berth command
TOTAL = 900  # the whole batch

# The descriptors of the exec'd shell, listed by a child of it (a glob would show the directory
# it reads); the `true` after keeps the shell from exec'ing ls in its place.
LIST_FDS = ["sh", "-c", "ls /proc/$$/fd; true"]


class Runner:
    """berth commands from many threads at once, each with its own output files."""

    def __init__(self, berth, tmp):
        self.berth = berth
        self.tmp = tmp
        self.lock = threading.Lock()
        self.n = 0

    def __call__(self, *args, timeout=TIMEOUT):
        with self.lock:
            self.n += 1
            base = os.path.join(self.tmp, f"load-{self.n}")
        cmd = self.berth.command(*args)
        with open(base + ".out", "w+") as out, open(base + ".err", "w+") as err:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                               timeout=timeout)
            out.seek(0)
            err.seek(0)
            return p.returncode, out.read(), err.read()

    def ok(self, *args, timeout=TIMEOUT):
        rc, out, err = self(*args, timeout=timeout)
        if rc != 0:
            raise AssertionError(f"berth {' '.join(map(str, args))}: rc={rc} {err.strip()!r}")
        return out


def fds_of(pid):
    """The descriptors of a process: {fd: link target}."""
    d = f"/proc/{pid}/fd"
    out = {}
    for name in os.listdir(d):
        try:
            out[int(name)] = os.readlink(os.path.join(d, name))
        except FileNotFoundError:
            pass
    return out


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def wait_until(what, cond, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def shared_bundles(make_bundle, tmp_path, n, args, name="b"):
    """n bundles (config.json only) on one read-only rootfs: the container's root is a
    read-only bind of it, and each container writes only to its own tmpfs mounts."""
    shared = make_bundle("shared")
    shared.config["root"] = {"path": shared.rootfs, "readonly": True}
    shared.config["process"]["args"] = list(args)
    paths = []
    for i in range(n):
        d = tmp_path / f"{name}{i}"
        d.mkdir()
        with open(d / "config.json", "w") as f:
            json.dump(shared.config, f)
        paths.append(str(d))
    return shared, paths


def berth_processes(root):
    """Processes of berth's binary working on this state root."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if root.encode() in argv:
            found.append((int(p), b" ".join(argv).decode(errors="replace")))
    return found


def cgroup_dirs(prefix):
    found = []
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        found += [os.path.join(dirpath, d) for d in dirnames if d.startswith(prefix)]
    return found


def mounts_below(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path + "/")]


def check_nothing_left(berth, shared, tmp_path):
    assert berth.containers() == []
    assert shared.processes() == []
    assert berth_processes(berth.root) == []
    assert mounts_below(str(tmp_path)) == []
    # The tasks of a cgroup leave it a moment after they die.
    wait_until("the containers' cgroups to go", lambda: cgroup_dirs(berth.prefix) == [], 10)


def run_all(fn, items):
    """fn(item) for every item from a thread pool; every failure is reported."""
    failures = []
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        futures = {pool.submit(fn, i): i for i in items}
        done, pending = concurrent.futures.wait(futures, timeout=TOTAL)
        for f in pending:
            f.cancel()
        for f in done:
            if f.exception() is not None:
                failures.append(f"{futures[f]}: {f.exception()!r}")
        if pending:
            failures.append(f"{len(pending)} not done after {TOTAL} s")
    return failures


def test_fifty_containers_in_parallel(berth, make_bundle, tmp_path):
    shared, bundles = shared_bundles(make_bundle, tmp_path, N, ["sleep", "1000"])
    run = Runner(berth, berth.tmp)
    ids = [berth.new_id(f"load{i}") for i in range(N)]
    fifo_name = "exec.fifo"

    def lifecycle(i):
        cid = ids[i]
        try:
            run.ok("create", "-b", bundles[i], cid)
            st = json.loads(run.ok("state", cid))
            pid = st["pid"]
            assert st["status"] == "created"
            if i == 0:
                # what check_nothing_left looks for is there while a container is
                assert cgroup_dirs(cid), f"no cgroup named {cid}"
            # Before start: stdio and the fifo the init waits on, nothing else of berth's.
            fds = fds_of(pid)
            extra = {fd: t for fd, t in fds.items() if fd > 2}
            assert len(extra) == 1 and os.path.basename(next(iter(extra.values()))) in (
                fifo_name, f"{fifo_name} (deleted)"), f"init {pid} of {cid} holds {fds}"
            run.ok("start", cid)
            wait_until(f"the init of {cid} to exec sleep", lambda: comm(pid) == "sleep")
            # The kernel closes the close-on-exec fds during the exec: a moment's grace.
            try:
                wait_until("", lambda: sorted(fds_of(pid)) == [0, 1, 2], 5)
            except AssertionError:
                raise AssertionError(f"sleep {pid} of {cid} holds {fds_of(pid)}") from None
            out = run.ok("exec", cid, *LIST_FDS)
            assert out.split() == ["0", "1", "2"], f"the exec'd process of {cid} had {out!r}"
            run.ok("kill", cid, "KILL")
            wait_until(f"{cid} to stop",
                       lambda: json.loads(run.ok("state", cid))["status"] == "stopped")
            run.ok("delete", cid)
        except BaseException:
            run("delete", "--force", cid)
            raise

    failures = run_all(lifecycle, range(N))
    assert not failures, f"{len(failures)} of {N} failed:\n" + "\n".join(sorted(failures)[:10])
    check_nothing_left(berth, shared, tmp_path)


def test_fifty_runs_in_parallel(berth, make_bundle, tmp_path):
    args = LIST_FDS[:2] + [LIST_FDS[2] + "; exit $(( $(hostname | cut -c5-) % 7 ))"]
    shared, bundles = shared_bundles(make_bundle, tmp_path, N, args)
    for i, b in enumerate(bundles):
        with open(os.path.join(b, "config.json")) as f:
            config = json.load(f)
        config["hostname"] = f"load{i}"
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(config, f)
    run = Runner(berth, berth.tmp)
    ids = [berth.new_id(f"run{i}") for i in range(N)]

    def one(i):
        try:
            rc, out, err = run("run", "-b", bundles[i], ids[i])
            assert (rc, out.split(), err) == (i % 7, ["0", "1", "2"], ""), \
                f"run {ids[i]}: rc={rc} out={out!r} err={err!r}"
        except BaseException:
            run("delete", "--force", ids[i])
            raise

    failures = run_all(one, range(N))
    assert not failures, f"{len(failures)} of {N} failed:\n" + "\n".join(sorted(failures)[:10])
    check_nothing_left(berth, shared, tmp_path)
