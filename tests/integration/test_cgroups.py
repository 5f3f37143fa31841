"""The container's cgroup: pause/resume, ps, update, events, kill --all, limits enforced."""
import json
import os
import time

import pytest


@pytest.fixture
def running(berth, bundle):
    bundle.set_args("sleep", "1000")
    cid = berth.new_id("cg")
    berth("run", "-d", "-b", bundle.path, cid)
    yield cid
    berth("delete", "--force", cid)


def cgroup_dir(pid, controller):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                return f"/sys/fs/cgroup/{controller}{path}"
    raise AssertionError(f"no {controller} cgroup for {pid}")


def test_pause_resume(berth, running):
    berth("pause", running)
    assert berth.state(running)["status"] == "paused"
    assert berth("pause", running, check=False).rc == 1
    berth("resume", running)
    assert berth.state(running)["status"] == "running"


def test_ps(berth, running):
    init = berth.state(running)["pid"]
    assert json.loads(berth("ps", "--format", "json", running).out) == [init]
    table = berth("ps", running).out.splitlines()
    assert "PID" in table[0] and str(init) in table[1]
    # What follows the id is ps's, options included (ps -e -x), as runc passes them on.
    table = berth("ps", running, "-e", "-o", "pid,comm").out.splitlines()
    assert table[0].split() == ["PID", "COMMAND"]
    assert [line.split() for line in table[1:]] == [[str(init), "sleep"]]


def test_update_flags_and_file(berth, running, tmp_path):
    pid = berth.state(running)["pid"]
    berth("update", "--memory", "64m", "--pids-limit", "50", running)
    mem = cgroup_dir(pid, "memory")
    assert open(f"{mem}/memory.limit_in_bytes").read().strip() == str(64 << 20)
    assert open(cgroup_dir(pid, "pids") + "/pids.max").read().strip() == "50"
    (tmp_path / "r.json").write_text(json.dumps({"memory": {"limit": 32 << 20}}))
    berth("update", "-r", str(tmp_path / "r.json"), running)
    assert open(f"{mem}/memory.limit_in_bytes").read().strip() == str(32 << 20)
    r = berth("update", "-r", "-", running, input='{"pids": {"limit": 7}}')
    assert open(cgroup_dir(pid, "pids") + "/pids.max").read().strip() == "7"


def test_events_stats(berth, running):
    e = json.loads(berth("events", "--stats", running).out)
    assert e["type"] == "stats" and e["id"] == running
    assert e["data"]["pids"]["current"] == 1


def test_kill_all(berth, bundle):
    bundle.set_args("sh", "-c", "sleep 1000 & sleep 1000 & wait")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    time.sleep(0.2)
    assert len(json.loads(berth("ps", "--format", "json", cid).out)) == 3
    berth("kill", "--all", cid, "KILL")
    for _ in range(100):
        if berth.state(cid)["status"] == "stopped":
            break
        time.sleep(0.05)
    assert berth.state(cid)["status"] == "stopped"
    berth("delete", cid)


def test_pids_limit_is_enforced(berth, bundle):
    bundle.config["linux"]["resources"]["pids"] = {"limit": 3}
    bundle.set_args("sh", "-c", "sleep 5 & sleep 5 & sleep 5 & echo all started")
    r = berth("run", "-b", bundle.path, berth.new_id(), check=False)
    # sh and two sleeps fill the limit: the third fork is refused
    assert "can't fork" in r.err, r
    assert "all started" not in r.out


def test_memory_limit_oom_kills(berth, bundle):
    bundle.config["linux"]["resources"]["memory"] = {"limit": 8 << 20, "swap": 8 << 20}
    # busybox's sh grows a string until the limit stops it
    bundle.set_args("sh", "-c", 'x=y; while true; do x="$x$x"; done')
    cid = berth.new_id()
    r = berth("run", "-b", bundle.path, cid, check=False, timeout=60)
    assert r.rc == 137, r


def test_device_rules_v1(berth, bundle):
    # a node the config makes but no rule allows: the devices cgroup refuses to open it
    bundle.config["linux"]["devices"] = [{"type": "c", "path": "/dev/fuse", "major": 10,
                                          "minor": 229, "fileMode": 0o666}]
    bundle.set_args("sh", "-c", "echo x > /dev/null && echo null-ok; cat /dev/fuse")
    r = berth("run", "-b", bundle.path, berth.new_id(), check=False)
    assert "null-ok" in r.out
    assert "Operation not permitted" in r.err, r


def test_events_reports_oom(berth, bundle):
    import subprocess
    bundle.config["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
    bundle.set_args("sleep", "1000")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    events = subprocess.Popen([berth.binary, "--root", berth.root, "events", "--interval", "60s",
                               cid], stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(events.stdout.readline())
        assert first["type"] == "stats"
        r = berth("exec", cid, "sh", "-c", 'x=y; while true; do x="$x$x"; done', check=False)
        assert r.rc == 137, r
        e = json.loads(events.stdout.readline())
        assert e == {"type": "oom", "id": cid}
    finally:
        events.kill()
        events.wait()
        berth("delete", "--force", cid)


def test_create_in_a_frozen_cgroup_is_refused(berth, bundle):
    """A frozen cgroup would hold the init before it reports back: create must say so rather
    than wait for ever."""
    name = berth.new_id("frozen")
    frozen = f"/sys/fs/cgroup/freezer/{name}"
    os.mkdir(frozen)
    try:
        with open(f"{frozen}/freezer.state", "w") as f:
            f.write("FROZEN")
        bundle.config["linux"]["cgroupsPath"] = f"/{name}"
        cid = berth.new_id()
        r = berth.run(bundle, "true", cid=cid, timeout=20)
        assert r.rc != 0
        assert r.err.strip() == (
            "cgroup: found the container's cgroup unexpectedly frozen (by its own freezer or a "
            "parent's): its process could not run; thaw it first"), r
        assert cid not in berth("list", "-q").out.split()
        # What create made is gone; the frozen cgroup it found is left as it was.
        assert not os.path.exists(f"/sys/fs/cgroup/pids/{name}")
        assert open(f"{frozen}/freezer.state").read().strip() == "FROZEN"
    finally:
        with open(f"{frozen}/freezer.state", "w") as f:
            f.write("THAWED")
        os.rmdir(frozen)


def test_empty_cpuset_parent_is_filled(berth, bundle):
    """A parent cgroup made by someone else without cpus or mems (a pod's) gets its own
    parent's, as runc fills it, so that the container's cpuset can have them."""
    pod = berth.new_id("pod")
    parent = f"/sys/fs/cgroup/cpuset/{pod}"
    os.mkdir(parent)
    try:
        assert open(f"{parent}/cpuset.cpus").read().strip() == ""
        bundle.config["linux"]["cgroupsPath"] = f"/{pod}/ctr"
        r = berth.run(bundle, "cat", "/proc/self/cgroup")
        assert r.rc == 0, r
        assert f":cpuset:/{pod}/ctr" in r.out, r
        root = open("/sys/fs/cgroup/cpuset/cpuset.cpus").read().strip()
        assert open(f"{parent}/cpuset.cpus").read().strip() == root
        assert not os.path.exists(f"{parent}/ctr")
    finally:
        for d in os.listdir("/sys/fs/cgroup"):
            for p in (f"/sys/fs/cgroup/{d}/{pod}/ctr", f"/sys/fs/cgroup/{d}/{pod}"):
                if os.path.isdir(p) and not os.path.islink(f"/sys/fs/cgroup/{d}"):
                    os.rmdir(p)


def test_a_cgroup_others_run_in_is_joined_with_a_warning(berth, make_bundle):
    name = berth.new_id("shared")
    first, second = make_bundle("first"), make_bundle("second")
    c1, c2 = berth.new_id("one"), berth.new_id("two")
    for b in (first, second):
        b.config["linux"]["cgroupsPath"] = f"/{name}"
        b.set_args("sleep", "100")
    try:
        r = berth("run", "-d", "-b", first.path, c1)
        assert "not empty" not in r.err, r
        r = berth("run", "-d", "-b", second.path, c2)
        assert ("the container's cgroup is not empty: 1 process already run there, and its "
                "limits are theirs too") in r.err, r
        assert berth.status(c2) == "running"
        # Each has a pid namespace of its own: deleting one kills its init alone, not the
        # other's processes in the shared cgroup.
        r = berth("delete", "--force", c2, check=False)
        assert r.rc == 0, r
        assert berth.status(c1) == "running"
        # With c2 back in it, the cgroup c1 made cannot be removed: c1's delete kills c1 and
        # fails, as runc's does, leaving c2 running and c1 stopped until c2 has gone.
        berth("run", "-d", "-b", second.path, c2)
        r = berth("delete", "--force", c1, check=False)
        assert r.rc == 1, r
        assert "cgroup: cannot remove /sys/fs/cgroup/" in r.err, r
        assert ("processes still run there (another container's, where two share a "
                "cgroupsPath)") in r.err, r
        assert berth.status(c2) == "running"
        assert berth.status(c1) == "stopped"
        berth("delete", "--force", c2)
        berth("delete", c1)
        assert not os.path.exists(f"/sys/fs/cgroup/pids/{name}")
    finally:
        berth("delete", "--force", c2, check=False)
        berth("delete", "--force", c1, check=False)
