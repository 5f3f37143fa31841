"""berth run by an unprivileged user: a user namespace mapping that user, state under
XDG_RUNTIME_DIR, no cgroups (they are not delegated here)."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from conftest import BERTH

USER = "berth-rootless"
RUNUSER = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")


@pytest.fixture(scope="module")
def user():
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", USER],
                       check=True)
        pw = pwd.getpwnam(USER)
    return pw


@pytest.fixture
def rootless(user, rootfs_template):
    # pytest's own temporary directories are private to root: the user needs a way in.
    import pathlib
    top = pathlib.Path(tempfile.mkdtemp(prefix="berth-rootless-", dir="/tmp"))
    os.chmod(top, 0o755)
    base = top / "rl"
    base.mkdir()
    subprocess.run(["cp", "-a", rootfs_template, str(base / "rootfs")], check=True)
    run = base / "run"
    run.mkdir()
    for p in (base, run):
        os.chown(p, user.pw_uid, user.pw_gid)
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(base / "rootfs")],
                   check=True)
    env = {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(run), "HOME": str(base)}

    def berth(*args, check=True):
        # Files, not pipes: a detached container keeps its stdio open.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run([RUNUSER, "-u", USER, "--", BERTH, *args], cwd=base, env=env,
                               stdout=out, stderr=err, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            p.stdout, p.stderr = out.read(), err.read()
        if check:
            assert p.returncode == 0, p
        return p

    berth("spec", "--rootless")
    with open(base / "config.json") as f:
        config = json.load(f)
    config["process"]["terminal"] = False
    berth.config = config
    berth.base = base
    berth.state_root = run / "berth"

    def write():
        with open(base / "config.json", "w") as f:
            json.dump(config, f)
    berth.write = write
    yield berth
    if berth.state_root.exists():
        for cid in os.listdir(berth.state_root):
            if not cid.startswith("."):
                berth("delete", "--force", cid, check=False)
        left = [c for c in os.listdir(berth.state_root) if not c.startswith(".")]
    else:
        left = []
    shutil.rmtree(top, ignore_errors=True)
    assert not left, f"rootless containers left: {left}"


def test_rootless_run(rootless, user):
    rootless.config["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map"]
    rootless.write()
    r = rootless("run", "rl1")
    lines = r.stdout.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(user.pw_uid), "1"]
    # state lived under XDG_RUNTIME_DIR and is gone after run
    assert rootless.state_root.is_dir()
    assert os.listdir(rootless.state_root) == []


def test_rootless_exec_and_delete(rootless):
    rootless.config["process"]["args"] = ["sleep", "1000"]
    rootless.write()
    rootless("run", "-d", "rl2")
    assert json.loads(rootless("state", "rl2").stdout)["status"] == "running"
    r = rootless("exec", "rl2", "sh", "-c", "echo $$; exit 5", check=False)
    assert r.returncode == 5, r
    assert int(r.stdout) > 1
    rootless("delete", "--force", "rl2")
    assert not (rootless.state_root / "rl2").exists()


def test_rootless_spec_has_user_namespace(rootless, user):
    ns = [n["type"] for n in rootless.config["linux"]["namespaces"]]
    assert "user" in ns and "network" not in ns
    assert rootless.config["linux"]["uidMappings"][0]["hostID"] == user.pw_uid
