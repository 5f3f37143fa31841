"""The lifecycle of the runtime spec as berth's commands show it: create, start, state, list,
kill, delete, run, and what each says when a container is not in the state it needs."""
import datetime
import json
import os
import signal
import stat
import subprocess
import time

import pytest

# A process that runs until the file /go appears in its rootfs, then exits 0.
WAIT_FOR_GO = ["sh", "-c", "while [ ! -e /go ]; do sleep 0.02; done"]


def alive(pid):
    """Alive and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_gone(pids, timeout=10):
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, f"still alive: {[p for p in pids if alive(p)]}"
        time.sleep(0.02)


def parse_created(text):
    # RFC 3339 with nanoseconds; Python takes microseconds.
    assert text.endswith("Z"), text
    head, frac = text[:-1].split(".")
    assert len(frac) == 9 and frac.isdigit(), text
    return datetime.datetime.strptime(head + "." + frac[:6], "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc)


def test_full_lifecycle(berth, bundle, tmp_path):
    bundle.config["annotations"] = {"org.example.key": "value", "other": ""}
    bundle.set_args(*WAIT_FOR_GO)
    cid = berth.new_id()
    pid_file = tmp_path / "init.pid"
    before = datetime.datetime.now(datetime.timezone.utc)

    r = berth("create", "-b", bundle.path, "--pid-file", pid_file, cid)
    assert (r.out, r.err) == ("", "")
    st = berth.state(cid)
    assert set(st) == {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created",
                       "owner", "annotations"}
    assert st["ociVersion"] == bundle.config["ociVersion"]
    assert st["id"] == cid
    assert st["status"] == "created"
    assert st["bundle"] == os.path.realpath(bundle.path)
    assert st["rootfs"] == os.path.realpath(bundle.rootfs)
    assert st["owner"] == ""
    assert st["annotations"] == {"org.example.key": "value", "other": ""}
    created = parse_created(st["created"])
    assert before - datetime.timedelta(seconds=1) <= created
    assert created <= datetime.datetime.now(datetime.timezone.utc)
    pid = st["pid"]
    assert pid > 0 and alive(pid)
    assert pid_file.read_text() == str(pid)
    # The init waits inside the container, not yet running the process.
    assert bundle.processes() == [pid]
    assert "while" not in open(f"/proc/{pid}/cmdline").read()

    r = berth("start", cid)
    assert (r.out, r.err) == ("", "")
    st2 = berth.state(cid)
    assert st2["status"] == "running"
    assert st2["pid"] == pid
    assert st2["created"] == st["created"]
    # start returns once the process runs, which is the same pid as the init.
    deadline = time.monotonic() + 5
    while "while" not in open(f"/proc/{pid}/cmdline").read():
        assert time.monotonic() < deadline
        time.sleep(0.02)

    open(bundle.host_path("/go"), "w").close()
    berth.wait_status(cid, "stopped")
    st3 = berth.state(cid)
    assert st3["pid"] == 0
    assert {k: v for k, v in st3.items() if k not in ("pid", "status")} == \
        {k: v for k, v in st.items() if k not in ("pid", "status")}
    wait_gone([pid])

    r = berth("delete", cid)
    assert (r.out, r.err) == ("", "")
    r = berth("state", cid, check=False)
    assert (r.rc, r.out, r.err) == (1, "", f'container "{cid}" does not exist\n')
    assert berth("list", "-q").out == ""
    assert not os.path.exists(os.path.join(berth.root, cid))


def test_state_without_annotations(berth, bundle):
    bundle.config.pop("annotations", None)
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    try:
        assert "annotations" not in berth.state(cid)
    finally:
        berth("delete", "--force", cid)


def test_state_of_a_missing_container(berth):
    r = berth("state", "nosuch", check=False)
    assert (r.rc, r.out, r.err) == (1, "", 'container "nosuch" does not exist\n')


def test_a_missing_state_root_is_made_with_its_parents(berth, bundle, tmp_path):
    root = tmp_path / "a" / "b" / "state"
    cmd = [berth.binary, "--root", str(root)]
    cid = berth.new_id()
    try:
        r = subprocess.run(cmd + ["run", "-b", bundle.path, cid], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    finally:
        subprocess.run(cmd + ["delete", "--force", cid], capture_output=True)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b").st_mode) == 0o755
    assert os.listdir(root) == []


def test_list_formats(berth, make_bundle):
    b1, b2 = make_bundle("b1"), make_bundle("b2")
    b1.set_args("sleep", "100")
    b2.set_args("sleep", "100")
    c1, c2 = berth.new_id("one"), berth.new_id("two")
    assert berth("list").out.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    # As runc prints them: JSON on one line, "null" for none; the owner of the state directory.
    assert berth("list", "--format", "json").out == "null\n"
    berth("create", "-b", b1.path, c1)
    berth("create", "-b", b2.path, c2)
    berth("start", c2)
    try:
        assert sorted(berth("list", "-q").out.splitlines()) == sorted([c1, c2])

        out = berth("list", "--format", "json").out
        assert out.count("\n") == 1
        listed = json.loads(out)
        assert sorted(c["id"] for c in listed) == sorted([c1, c2])
        for c in listed:
            assert c == {**berth.state(c["id"]), "owner": "root"}
        by_id = {c["id"]: c for c in listed}
        assert by_id[c1]["status"] == "created"
        assert by_id[c2]["status"] == "running"

        lines = berth("list").out.splitlines()
        assert lines[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        rows = {line.split()[0]: line.split() for line in lines[1:]}
        assert set(rows) == {c1, c2}
        for cid, b in ((c1, b1), (c2, b2)):
            st = by_id[cid]
            assert rows[cid] == [cid, str(st["pid"]), st["status"], b.path, st["created"], "root"]

        r = berth("list", "--format", "yaml", check=False)
        assert r.rc == 1
        assert '--format: "yaml" is not table or json' in r.err
    finally:
        berth("delete", "--force", c1)
        berth("delete", "--force", c2)
    assert berth("list", "-q").out == ""


def test_list_is_sorted_by_id(berth, bundle):
    """runc lists by id, whatever order the state directory keeps."""
    bundle.set_args("true")
    ids = [berth.new_id(p) for p in ("e", "d", "c", "b", "a")]
    try:
        for cid in ids:
            berth("create", "-b", bundle.path, cid)
        assert berth("list", "-q").out.split() == sorted(ids)
        assert [c["id"] for c in json.loads(berth("list", "--format", "json").out)] == sorted(ids)
    finally:
        for cid in ids:
            berth("delete", "--force", cid)


def test_pid_file_relative_to_the_working_directory(berth, bundle, tmp_path):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    work = tmp_path / "work"
    work.mkdir()
    p = subprocess.run(berth.command("create", "-b", bundle.path, "--pid-file", "my.pid", cid),
                       cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    try:
        assert p.returncode == 0
        assert (work / "my.pid").read_text() == str(berth.state(cid)["pid"])
    finally:
        berth("delete", "--force", cid)


def test_pid_file_in_a_missing_directory_fails_create(berth, bundle, tmp_path):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    r = berth("create", "-b", bundle.path, "--pid-file", tmp_path / "no" / "pid", cid,
              check=False)
    assert r.rc == 1
    assert r.err == f"--pid-file {tmp_path}/no/pid: No such file or directory\n"
    assert berth.containers() == []


@pytest.mark.parametrize("args,code", [
    (["true"], 0),
    (["sh", "-c", "exit 3"], 3),
    (["sh", "-c", "exit 255"], 255),
    (["sh", "-c", "no-such-command"], 127),
])
def test_run_passes_the_exit_status_on(berth, bundle, args, code):
    cid = berth.new_id()
    r = berth.run(bundle, *args, cid=cid)
    assert r.rc == code, r
    # Without --keep the container is gone once run returns.
    assert berth.containers() == []


def test_run_prints_what_the_process_writes(berth, bundle):
    r = berth.run(bundle, "sh", "-c", "echo to-out; echo to-err >&2")
    assert (r.rc, r.out, r.err) == (0, "to-out\n", "to-err\n")


@pytest.mark.parametrize("command", ["run", "create"])
def test_missing_executable_fails_create(berth, bundle, command):
    bundle.set_args("no-such-command", "arg")
    cid = berth.new_id()
    r = berth(command, "-b", bundle.path, cid, check=False)
    assert r.rc == 1
    assert r.out == ""
    assert r.err == 'exec: "no-such-command": executable file not found in $PATH\n'
    assert berth.containers() == []


def test_missing_executable_by_path_fails_create(berth, bundle):
    bundle.set_args("/bin/no-such-command")
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False)
    assert r.rc == 1
    assert r.err == ('exec: "/bin/no-such-command": stat /bin/no-such-command: '
                     "no such file or directory\n")


def test_a_directory_is_not_executable(berth, bundle):
    bundle.set_args("/bin")
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False)
    assert r.rc == 1
    assert r.err == 'exec: "/bin": permission denied\n'


def test_a_file_without_execute_permission_fails_create(berth, bundle):
    bundle.set_args("/etc/passwd")
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False)
    assert r.rc == 1
    assert r.err == 'exec: "/etc/passwd": permission denied\n'
    assert berth.containers() == []


def test_run_exit_status_of_a_process_killed_by_a_signal(berth, bundle):
    # Without a pid namespace the shell is not an init, and SIGTERM from itself kills it.
    bundle.drop_namespace("pid")
    r = berth.run(bundle, "sh", "-c", "kill -TERM $$; sleep 5")
    assert r.rc == 128 + signal.SIGTERM, r


def test_run_exit_status_after_kill(berth, bundle):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    p = berth.popen("run", "-b", bundle.path, cid)
    berth.wait_status(cid, "running")
    berth("kill", cid, "KILL")
    r = berth.wait(p)
    assert r.rc == 128 + signal.SIGKILL, r
    assert berth.containers() == []


def test_run_relays_signals_to_the_process(berth, bundle):
    bundle.set_args("sh", "-c", "trap 'echo got-usr1; exit 7' USR1; echo ready > /ready; "
                    "while :; do sleep 0.02; done")
    cid = berth.new_id()
    p = berth.popen("run", "-b", bundle.path, cid)
    deadline = time.monotonic() + 10
    while not os.path.exists(bundle.host_path("/ready")):
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.02)
    p.send_signal(signal.SIGUSR1)
    r = berth.wait(p)
    assert (r.rc, r.out) == (7, "got-usr1\n"), r


def test_run_keep_leaves_the_stopped_container(berth, bundle):
    bundle.set_args("sh", "-c", "exit 4")
    cid = berth.new_id()
    r = berth("run", "--keep", "-b", bundle.path, cid, check=False)
    assert r.rc == 4
    assert berth.state(cid)["status"] == "stopped"
    berth("delete", cid)
    assert berth.containers() == []


def test_run_detach(berth, bundle):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    r = berth("run", "-d", "-b", bundle.path, cid)
    assert (r.rc, r.out, r.err) == (0, "", "")
    st = berth.state(cid)
    assert st["status"] == "running"
    assert alive(st["pid"])
    berth("kill", cid, "KILL")
    berth.wait_status(cid, "stopped")
    berth("delete", cid)


def test_start_twice(berth, bundle):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    berth("start", cid)
    r = berth("start", cid, check=False)
    assert (r.rc, r.err) == (1, f'cannot start container "{cid}": it is running, not created\n')
    berth("delete", "--force", cid)


def test_start_a_stopped_container(berth, bundle):
    bundle.set_args("true")
    cid = berth.new_id()
    berth("run", "--keep", "-b", bundle.path, cid)
    r = berth("start", cid, check=False)
    assert (r.rc, r.err) == (1, f'cannot start container "{cid}": it is stopped, not created\n')
    berth("delete", cid)


def test_start_after_the_init_was_killed(berth, bundle):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    pid = berth.state(cid)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_gone([pid])
    assert berth.status(cid) == "stopped"
    r = berth("start", cid, check=False)
    assert r.rc == 1
    berth("delete", cid)


# ---- kill ----

TRAP_SIGNALS = ("sh", "-c", "for s in TERM USR1 HUP; do trap \"echo $s > /got; exit 0\" $s; done; "
                "echo ready > /ready; while :; do sleep 0.02; done")


def start_trapping(berth, bundle):
    bundle.set_args(*TRAP_SIGNALS)
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    deadline = time.monotonic() + 10
    while not os.path.exists(bundle.host_path("/ready")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return cid


@pytest.mark.parametrize("spelling,name", [
    (None, "TERM"), ("TERM", "TERM"), ("SIGTERM", "TERM"), ("sigterm", "TERM"), ("15", "TERM"),
    ("USR1", "USR1"), ("SIGUSR1", "USR1"), ("10", "USR1"), ("hup", "HUP"), ("SIGHUP", "HUP"),
])
def test_kill_signal_spellings(berth, bundle, spelling, name):
    cid = start_trapping(berth, bundle)
    r = berth("kill", cid, *([spelling] if spelling else []))
    assert (r.out, r.err) == ("", "")
    berth.wait_status(cid, "stopped")
    assert bundle.read("/got") == name + "\n"
    berth("delete", cid)


@pytest.mark.parametrize("spelling", ["KILL", "SIGKILL", "sigkill", "kill", "9"])
def test_kill_sigkill_spellings(berth, bundle, spelling):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    pid = berth.state(cid)["pid"]
    berth("kill", cid, spelling)
    berth.wait_status(cid, "stopped")
    wait_gone([pid])
    berth("delete", cid)


@pytest.mark.parametrize("spelling,message", [
    ("SIGFOO", 'unknown signal "SIGFOO"'),
    ("FOO", 'unknown signal "FOO"'),
    ("RTMIN+99", 'unknown signal "RTMIN+99"'),
    ("SIG", 'unknown signal "SIG"'),
    ("65", 'invalid signal "65"'),
    ("", "empty signal"),
])
def test_kill_bad_signal(berth, bundle, spelling, message):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    r = berth("kill", cid, spelling, check=False)
    assert (r.rc, r.out, r.err) == (1, "", message + "\n")
    assert berth.status(cid) == "created"
    berth("delete", "--force", cid)


def test_kill_signal_zero_checks_the_container(berth, bundle):
    """runc takes 0, as kill(1) does: a probe that the init is there."""
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    r = berth("kill", cid, "0", check=False)
    assert (r.rc, r.err) == (0, "")
    assert berth.status(cid) == "running"
    berth("kill", cid, "KILL")
    berth.wait_status(cid, "stopped")
    r = berth("kill", cid, "0", check=False)
    assert (r.rc, r.err) == (1, "container not running\n")
    berth("delete", cid)


def test_kill_a_created_container(berth, bundle):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    berth("kill", cid, "KILL")
    berth.wait_status(cid, "stopped")
    berth("delete", cid)


def test_kill_a_stopped_container(berth, bundle):
    bundle.set_args("true")
    cid = berth.new_id()
    berth("run", "--keep", "-b", bundle.path, cid)
    for args in (["KILL"], ["TERM"], []):
        r = berth("kill", cid, *args, check=False)
        assert (r.rc, r.out, r.err) == (1, "", "container not running\n")
    # runc: with --all there is no process left to signal, and that is not an error.
    r = berth("kill", "--all", cid, "KILL", check=False)
    assert (r.rc, r.err) == (0, "")
    berth("delete", cid)


def test_kill_a_missing_container(berth):
    r = berth("kill", "nosuch", "KILL", check=False)
    assert (r.rc, r.err) == (1, 'container "nosuch" does not exist\n')


def test_kill_all_reaches_every_process(berth, bundle):
    # Without a pid namespace the children outlive the init: only --all reaches them.
    bundle.drop_namespace("pid")
    bundle.set_args("sh", "-c", "sleep 100 & sleep 100 & echo ready > /ready; wait")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    deadline = time.monotonic() + 10
    while len(bundle.processes()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pids = bundle.processes()
    berth("kill", "--all", cid, "TERM")
    wait_gone(pids)
    assert berth.status(cid) == "stopped"
    berth("delete", cid)


def test_kill_without_all_reaches_the_init_only(berth, bundle):
    bundle.drop_namespace("pid")
    bundle.set_args("sh", "-c", "sleep 100 & sleep 100 & echo ready > /ready; wait")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    deadline = time.monotonic() + 10
    while len(bundle.processes()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    init = berth.state(cid)["pid"]
    children = [p for p in bundle.processes() if p != init]
    berth("kill", cid, "TERM")
    berth.wait_status(cid, "stopped")
    assert all(alive(p) for p in children)
    # delete --force takes the rest with it.
    berth("delete", "--force", cid)
    wait_gone(children)


# ---- delete ----

def test_delete_a_running_container_is_refused(berth, bundle):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    r = berth("delete", cid, check=False)
    assert (r.rc, r.out) == (1, "")
    assert r.err == f'cannot delete container "{cid}" that is not stopped: running\n'
    assert berth.status(cid) == "running"
    berth("delete", "--force", cid)


def test_delete_force_of_a_running_container(berth, bundle):
    bundle.set_args("sh", "-c", "sleep 100 & sleep 100 & wait")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    deadline = time.monotonic() + 10
    while len(bundle.processes()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pids = bundle.processes()
    r = berth("delete", "--force", cid)
    assert (r.out, r.err) == ("", "")
    wait_gone(pids)
    assert berth.containers() == []


@pytest.mark.parametrize("force", [True, False])
def test_delete_a_created_container(berth, bundle, force):
    # runc deletes a created container without --force too: its process never ran.
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    pid = berth.state(cid)["pid"]
    berth("delete", *(["--force"] if force else []), cid)
    wait_gone([pid])
    assert berth.containers() == []


def test_delete_force_after_the_init_was_killed(berth, bundle):
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    pid = berth.state(cid)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_gone([pid])
    assert berth.status(cid) == "stopped"
    berth("delete", "--force", cid)
    assert berth.containers() == []


@pytest.mark.parametrize("how", ["run", "delete"])
def test_a_process_outliving_the_init_is_killed_on_delete(berth, bundle, how):
    """Without a pid namespace a child of the init lives on after it: the container is stopped
    but its cgroup is not empty. Deleting it (run's own delete, or delete of a stopped one) kills
    that process and removes the cgroup."""
    bundle.drop_namespace("pid")
    bundle.set_args("sh", "-c", "sleep 100 & echo $! > /orphan.pid")
    cid = berth.new_id()
    if how == "run":
        assert berth("run", "-b", bundle.path, cid).rc == 0
    else:
        berth("run", "--keep", "-b", bundle.path, cid)
        assert berth.status(cid) == "stopped"
    orphan = int(open(bundle.host_path("/orphan.pid")).read())
    if how == "delete":
        assert os.path.exists(f"/proc/{orphan}")
        berth("delete", cid)
    wait_gone([orphan])
    assert berth.containers() == []


def test_delete_force_after_create_was_killed(berth, bundle, tmp_path):
    """create killed while a createRuntime hook runs: the init is waiting for the runtime, the
    state directory and the cgroup exist, and delete --force must take them all."""
    hook_pid = tmp_path / "hook.pid"
    bundle.config["hooks"] = {"createRuntime": [{
        "path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {hook_pid}; exec sleep 60"]}]}
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    p = berth.popen("create", "-b", bundle.path, cid)
    deadline = time.monotonic() + 10
    while not hook_pid.exists() or not hook_pid.read_text().strip():
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.02)
    hook = int(hook_pid.read_text())
    try:
        assert berth.status(cid) == "creating"
        p.kill()
        r = berth.wait(p)
        assert r.rc == -signal.SIGKILL
        assert berth.status(cid) == "stopped"
        assert berth("list", "-q").out == cid + "\n"
        r = berth("delete", "--force", cid)
        assert (r.out, r.err) == ("", "")
        assert berth.containers() == []
        assert bundle.processes() == []
    finally:
        # The hook is a host process of the test's making: the runtime spec leaves it be.
        os.kill(hook, signal.SIGKILL)


def test_delete_force_of_a_missing_container(berth):
    r = berth("delete", "--force", "nosuch")
    assert (r.rc, r.out, r.err) == (0, "", "")
    os.makedirs(berth.root, exist_ok=True)
    r = berth("delete", "--force", "nosuch")
    assert (r.rc, r.out, r.err) == (0, "", "")


def test_delete_a_missing_container(berth):
    r = berth("delete", "nosuch", check=False)
    assert (r.rc, r.out, r.err) == (1, "", 'container "nosuch" does not exist\n')


def test_delete_force_after_an_interrupted_delete(berth, bundle, tmp_path):
    """delete killed during a slow poststop hook, after the cgroup went: the next delete must
    still finish the job."""
    hook_pid = tmp_path / "hook.pid"
    # Slow the first time only: the second delete runs the hook again.
    bundle.config["hooks"] = {"poststop": [{
        "path": "/bin/sh", "args": ["sh", "-c", f"[ -e {hook_pid} ] && exit 0; "
                                    f"echo $$ > {hook_pid}; exec sleep 60"]}]}
    bundle.set_args("true")
    cid = berth.new_id()
    berth("run", "--keep", "-b", bundle.path, cid)
    p = berth.popen("delete", cid)
    deadline = time.monotonic() + 10
    while not hook_pid.exists() or not hook_pid.read_text().strip():
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.02)
    hook = int(hook_pid.read_text())
    try:
        p.kill()
        berth.wait(p)
        r = berth("delete", "--force", cid, check=False)
        assert (r.rc, r.err) == (0, "")
        assert berth.containers() == []
    finally:
        os.kill(hook, signal.SIGKILL)


# ---- ids ----

@pytest.mark.parametrize("command", ["create", "run"])
def test_duplicate_id(berth, make_bundle, command):
    b1, b2 = make_bundle("b1"), make_bundle("b2")
    b1.set_args("sleep", "100")
    b2.set_args("true")
    cid = berth.new_id()
    berth("create", "-b", b1.path, cid)
    before = berth.state(cid)
    r = berth(command, "-b", b2.path, cid, check=False)
    assert (r.rc, r.out, r.err) == (1, "", f'container "{cid}" already exists\n')
    # The container that was there is untouched.
    assert berth.state(cid) == before
    assert alive(before["pid"])
    berth("delete", "--force", cid)


@pytest.mark.parametrize("cid,message", [
    ("../x", 'invalid container id "../x": only letters, digits and _+-. are allowed'),
    ("a/b", 'invalid container id "a/b": only letters, digits and _+-. are allowed'),
    ("/abs", 'invalid container id "/abs": only letters, digits and _+-. are allowed'),
    ("a b", 'invalid container id "a b": only letters, digits and _+-. are allowed'),
    ("..", 'invalid container id ".."'),
    (".", 'invalid container id "."'),
    ("", "container id must not be empty"),
    ("x" * 1025, "container id is longer than 1024 characters"),
])
@pytest.mark.parametrize("command", ["create", "run", "state", "start", "kill", "delete"])
def test_invalid_ids(berth, bundle, command, cid, message):
    bundle.set_args("true")
    args = {"create": ["create", "-b", bundle.path, cid], "run": ["run", "-b", bundle.path, cid],
            "delete": ["delete", "--force", cid]}.get(command, [command, cid])
    r = berth(*args, check=False)
    assert (r.rc, r.out, r.err) == (1, "", message + "\n")
    assert berth.containers() == []


def test_concurrent_creates_of_one_id(berth, bundle):
    """The state directory is the lock: of racing creates exactly one wins."""
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    procs = [berth.popen("create", "-b", bundle.path, cid) for _ in range(6)]
    results = [berth.wait(p) for p in procs]
    try:
        assert sorted(r.rc for r in results) == [0, 1, 1, 1, 1, 1], results
        for r in results:
            assert r.err in ("", f'container "{cid}" already exists\n'), r
        assert berth.status(cid) == "created"
        assert len(bundle.processes()) == 1
    finally:
        berth("delete", "--force", cid)


def test_commands_on_distinct_containers_do_not_interfere(berth, make_bundle):
    bundles = [make_bundle(f"b{i}") for i in range(4)]
    ids = [berth.new_id(f"n{i}") for i in range(4)]
    for b in bundles:
        b.set_args("sleep", "100")
    procs = [berth.popen("run", "-d", "-b", b.path, cid) for b, cid in zip(bundles, ids)]
    assert [berth.wait(p).rc for p in procs] == [0, 0, 0, 0]
    assert sorted(berth("list", "-q").out.split()) == sorted(ids)
    procs = [berth.popen("delete", "--force", cid) for cid in ids]
    assert [berth.wait(p).rc for p in procs] == [0, 0, 0, 0]
    assert berth.containers() == []
