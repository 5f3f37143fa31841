"""process.*: what the container's process sees of its environment, user, capabilities,
limits and names, read from inside (/proc/self/...) and printed on its stdout."""
import json
import os
import re
import shlex
import subprocess

import pytest

from rootfs_util import USERNS_BASE, make_userns

# The kernel's capability numbers, for CapXxx masks.
CAPS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
}


def mask(names):
    m = 0
    for n in names:
        m |= 1 << CAPS[n]
    return m


def status_fields(text):
    """The lines of /proc/self/status as a dict."""
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def run_ok(berth, bundle, *args):
    r = berth.run(bundle, *args)
    assert r.rc == 0, r
    return r.out


def test_env_is_exactly_the_configs(berth, bundle):
    bundle.config["process"]["env"] = ["PATH=/bin", "FOO=bar baz", "EMPTY=", "MULTI=a=b=c",
                                       "HOME=/custom"]
    out = run_ok(berth, bundle, "env", "-0")
    assert sorted(out.split("\0")[:-1]) == sorted(bundle.config["process"]["env"])


def test_home_comes_from_the_containers_passwd(berth, bundle):
    with open(bundle.host_path("/etc/passwd"), "a") as f:
        f.write("alice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
    bundle.config["process"]["env"] = ["PATH=/bin"]
    assert run_ok(berth, bundle, "sh", "-c", 'echo "$HOME"') == "/root\n"
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    assert run_ok(berth, bundle, "sh", "-c", 'echo "$HOME"') == "/home/alice\n"
    # A uid the passwd file does not know gets "/", as runc gives it.
    bundle.config["process"]["user"] = {"uid": 4242, "gid": 4242}
    assert run_ok(berth, bundle, "sh", "-c", 'echo "$HOME"') == "/\n"
    # HOME in process.env wins.
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0}
    bundle.config["process"]["env"] = ["PATH=/bin", "HOME=/elsewhere"]
    assert run_ok(berth, bundle, "sh", "-c", 'echo "$HOME"') == "/elsewhere\n"


def test_path_from_env_finds_the_executable(berth, bundle):
    os.makedirs(bundle.host_path("/opt/tools"))
    with open(bundle.host_path("/opt/tools/hello"), "w") as f:
        f.write("#!/bin/sh\necho hello from tools\n")
    os.chmod(bundle.host_path("/opt/tools/hello"), 0o755)
    bundle.config["process"]["env"] = ["PATH=/opt/tools:/bin"]
    assert run_ok(berth, bundle, "hello") == "hello from tools\n"


@pytest.mark.parametrize("cwd,expect", [("/", "/"), ("/tmp", "/tmp"), ("/etc/", "/etc"),
                                        ("/bin/../etc", "/etc")])
def test_cwd(berth, bundle, cwd, expect):
    bundle.config["process"]["cwd"] = cwd
    assert run_ok(berth, bundle, "pwd") == expect + "\n"


def test_cwd_is_created_when_missing(berth, bundle):
    """runc makes a missing process.cwd (and its parents) in the rootfs."""
    bundle.config["process"]["cwd"] = "/work/dir"
    assert run_ok(berth, bundle, "pwd") == "/work/dir\n"
    assert os.path.isdir(bundle.host_path("/work/dir"))


def _private_dir(bundle, path, owner):
    d = bundle.host_path(path)
    os.makedirs(d, exist_ok=True)
    os.chown(d, owner, owner)
    os.chmod(d, 0o700)


def test_cwd_the_user_cannot_search(berth, bundle):
    """As runc: process.cwd is entered before the user is switched, so a cwd that only root
    may search (uid 42 in root's 0700 /root) still works."""
    _private_dir(bundle, "/root", 0)
    bundle.config["process"]["cwd"] = "/root"
    bundle.config["process"]["user"] = {"uid": 42, "gid": 42}
    assert run_ok(berth, bundle, "sh", "-c", "pwd; id -u") == "/root\n42\n"


def _root_refused_dir(bundle, path, host_group, mode):
    """A directory in a user namespace's rootfs that the namespace's root may not search: its
    owner is not mapped, so root has no CAP_DAC_OVERRIDE over it (as root on a root-squashed
    NFS)."""
    make_userns(bundle)
    d = bundle.host_path(path)
    os.makedirs(d, exist_ok=True)
    os.chown(d, 4242, host_group)
    os.chmod(d, mode)


def test_cwd_only_the_user_can_search(berth, bundle):
    """When the privileged chdir is denied, it is tried again as the user."""
    _root_refused_dir(bundle, "/home/u", USERNS_BASE + 42, 0o070)
    bundle.config["process"]["cwd"] = "/home/u"
    bundle.config["process"]["user"] = {"uid": 42, "gid": 42}
    assert run_ok(berth, bundle, "sh", "-c", "pwd; id -u") == "/home/u\n42\n"


def test_cwd_nobody_can_search_names_both_failures(berth, bundle):
    _root_refused_dir(bundle, "/home/u", 4242, 0o700)
    bundle.config["process"]["cwd"] = "/home/u"
    bundle.config["process"]["user"] = {"uid": 42, "gid": 42}
    r = berth.run(bundle, "pwd")
    assert r.rc != 0, r
    assert r.err.strip() == ("process.cwd: chdir /home/u: denied before the switch to uid 42 "
                             "(Permission denied), and as uid 42: Permission denied"), r


def test_user_uid_gid_and_additional_gids(berth, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [20, 30, 1001]}
    f = status_fields(run_ok(berth, bundle, "cat", "/proc/self/status"))
    assert f["Uid"].split() == ["1000"] * 4
    assert f["Gid"].split() == ["1001"] * 4
    assert sorted(int(g) for g in f["Groups"].split()) == [20, 30, 1001]


def test_no_additional_gids_means_no_supplementary_groups(berth, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    f = status_fields(run_ok(berth, bundle, "cat", "/proc/self/status"))
    assert f["Groups"] == ""


def test_groups_come_from_the_config_only(berth, bundle):
    """runc sets process.user.gid and additionalGids and nothing else: a membership the image's
    /etc/group lists is not added behind the config's back."""
    with open(bundle.host_path("/etc/passwd"), "a") as f:
        f.write("alice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
    with open(bundle.host_path("/etc/group"), "a") as f:
        f.write("wheel:x:10:alice\ndisk:x:6:bob,alice\n")
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [30]}
    f = status_fields(run_ok(berth, bundle, "cat", "/proc/self/status"))
    assert f["Groups"].split() == ["30"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0])
def test_umask(berth, bundle, umask):
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0, "umask": umask}
    out = run_ok(berth, bundle, "sh", "-c", "umask; touch /tmp/f; stat -c %a /tmp/f")
    got_umask, mode = out.split()
    assert int(got_umask, 8) == umask
    assert int(mode, 8) == 0o666 & ~umask


def test_default_umask_is_0022(berth, bundle):
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0}
    assert run_ok(berth, bundle, "sh", "-c", "umask") == "0022\n"


CAP_SETS = [
    # bounding, effective, permitted, inheritable, ambient
    (["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
     ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
     ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], [], []),
    (["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"], ["CAP_KILL"],
     ["CAP_KILL", "CAP_CHOWN"], ["CAP_KILL", "CAP_CHOWN"], ["CAP_KILL"]),
    ([], [], [], [], []),
]


@pytest.mark.parametrize("uid", [0, 1000])
@pytest.mark.parametrize("bnd,eff,prm,inh,amb", CAP_SETS)
def test_capabilities(berth, bundle, uid, bnd, eff, prm, inh, amb):
    bundle.config["process"]["user"] = {"uid": uid, "gid": uid}
    bundle.config["process"]["noNewPrivileges"] = True
    bundle.config["process"]["capabilities"] = {
        "bounding": bnd, "effective": eff, "permitted": prm, "inheritable": inh, "ambient": amb}
    f = status_fields(run_ok(berth, bundle, "cat", "/proc/self/status"))
    got = {k: int(f[k], 16) for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")}
    # What exec of a file without capabilities makes of the sets berth gave: root keeps its
    # permitted set (no new privileges bars the rest) and has it all effective; any other user
    # keeps only the ambient capabilities, permitted and effective. runc's process shows the
    # same masks for these configs.
    after = mask(prm) if uid == 0 else mask(amb)
    assert got == {"CapBnd": mask(bnd), "CapEff": after, "CapPrm": after, "CapInh": mask(inh),
                   "CapAmb": mask(amb)}


@pytest.mark.parametrize("uid", [0, 1000])
def test_no_capabilities_object_is_no_capabilities(berth, bundle, uid):
    """A process without a capabilities object gets none, as with runc and crun (not every
    capability the runtime holds)."""
    bundle.config["process"]["user"] = {"uid": uid, "gid": uid}
    bundle.config["process"].pop("capabilities", None)
    f = status_fields(run_ok(berth, bundle, "cat", "/proc/self/status"))
    assert {k: int(f[k], 16) for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")} == \
        {"CapBnd": 0, "CapEff": 0, "CapPrm": 0, "CapInh": 0, "CapAmb": 0}


def test_exec_process_file_without_capabilities_gets_the_containers(berth, bundle, tmp_path):
    """exec --process with a file that names no capabilities: the container's, as runc does."""
    bundle.config["process"]["capabilities"] = {
        "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    try:
        p = tmp_path / "p.json"
        p.write_text(json.dumps({"args": ["cat", "/proc/self/status"], "cwd": "/",
                                 "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]}))
        f = status_fields(berth("exec", "--process", str(p), cid).out)
        assert int(f["CapBnd"], 16) == mask(["CAP_KILL"])
        assert int(f["CapEff"], 16) == mask(["CAP_KILL"])
    finally:
        berth("delete", "--force", cid)


def test_capabilities_are_enforced(berth, bundle):
    bundle.config["process"]["capabilities"] = {
        "bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}
    out = run_ok(berth, bundle, "sh", "-c",
                 "touch /tmp/f; chown 123 /tmp/f && echo chown-ok; "
                 "hostname other 2>/dev/null && echo hostname-ok || echo hostname-refused")
    assert out == "chown-ok\nhostname-refused\n"


def test_rlimits(berth, bundle):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
        {"type": "RLIMIT_NPROC", "soft": 77, "hard": 88},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_STACK", "soft": 4 << 20, "hard": 8 << 20},
        {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192},
    ]
    out = run_ok(berth, bundle, "cat", "/proc/self/limits")
    limits = {}
    for line in out.splitlines()[1:]:
        m = re.match(r"(.+?)\s{2,}(\S+)\s+(\S+)", line)
        limits[m.group(1)] = (m.group(2), m.group(3))
    assert limits["Max open files"] == ("123", "456")
    assert limits["Max processes"] == ("77", "88")
    assert limits["Max core file size"] == ("0", "0")
    assert limits["Max stack size"] == (str(4 << 20), str(8 << 20))
    assert limits["Max msgqueue size"] == ("4096", "8192")


def test_rlimit_nofile_is_enforced(berth, bundle):
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 5, "hard": 5}]
    # fds 0-2 are open; 3 and 4 can be had, 5 cannot.
    r = berth.run(bundle, "sh", "-c", "exec 3</dev/null 4</dev/null && echo four; "
                  "exec 5</dev/null && echo five")
    assert r.out == "four\n"


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(berth, bundle, nnp):
    bundle.config["process"]["noNewPrivileges"] = nnp
    f = status_fields(run_ok(berth, bundle, "cat", "/proc/self/status"))
    assert f["NoNewPrivs"] == ("1" if nnp else "0")


def test_no_new_privileges_absent_is_off(berth, bundle):
    bundle.config["process"].pop("noNewPrivileges", None)
    f = status_fields(run_ok(berth, bundle, "cat", "/proc/self/status"))
    assert f["NoNewPrivs"] == "0"


def own_oom_score_adj():
    with open("/proc/self/oom_score_adj") as f:
        return int(f.read())


@pytest.mark.parametrize("delta", [0, 1, 500])
def test_oom_score_adj(berth, bundle, delta):
    # Without CAP_SYS_RESOURCE only values at or above our own can be set.
    value = min(own_oom_score_adj() + delta, 1000)
    bundle.config["process"]["oomScoreAdj"] = value
    assert run_ok(berth, bundle, "cat", "/proc/self/oom_score_adj") == f"{value}\n"


def test_oom_score_adj_absent_is_inherited(berth, bundle):
    bundle.config["process"].pop("oomScoreAdj", None)
    assert run_ok(berth, bundle, "cat", "/proc/self/oom_score_adj") == \
        f"{own_oom_score_adj()}\n"


def test_hostname_and_domainname(berth, bundle):
    host_name, host_domain = os.uname().nodename, open("/proc/sys/kernel/domainname").read()
    bundle.config["hostname"] = "box-1"
    bundle.config["domainname"] = "example.org"
    out = run_ok(berth, bundle, "sh", "-c",
                 "hostname; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname")
    assert out == "box-1\nbox-1\nexample.org\n"
    assert os.uname().nodename == host_name
    assert open("/proc/sys/kernel/domainname").read() == host_domain


def test_no_hostname_keeps_the_hosts_in_a_new_uts_namespace(berth, bundle):
    bundle.config.pop("hostname", None)
    assert run_ok(berth, bundle, "hostname") == os.uname().nodename + "\n"


def test_args_are_passed_verbatim(berth, bundle):
    args = ["sh", "-c", 'for a in "$@"; do printf "[%s]" "$a"; done', "zero",
            "one two", "", "*", "$HOME", "a\nb"]
    assert run_ok(berth, bundle, *args) == "[one two][][*][$HOME][a\nb]"


def test_process_is_the_init_with_no_extra_fds(berth, bundle):
    out = run_ok(berth, bundle, "sh", "-c", "echo $$; ls /proc/self/fd")
    pid, *fds = out.split()
    assert pid == "1"
    # stdin, stdout, stderr, and the fd ls uses to read the directory.
    assert sorted(fds) == ["0", "1", "2", "3"]


def test_preserve_fds(berth, bundle, tmp_path):
    data = tmp_path / "data"
    data.write_text("passed on\n")
    bundle.set_args("sh", "-c", "cat <&3; ls /proc/self/fd")
    out = tmp_path / "out"
    cmd = " ".join(shlex.quote(a) for a in berth.command(
        "run", "--preserve-fds", "1", "-b", bundle.path, berth.new_id()))
    with open(out, "w") as o:
        # fd 3 of berth is the data file; fd 4 and up, if any, must not reach the container.
        p = subprocess.run(["sh", "-c", f"exec 3<{shlex.quote(str(data))} 4</dev/null; exec {cmd}"],
                           stdout=o, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, out.read_text()
    lines = out.read_text().split("\n")
    assert lines[0] == "passed on"
    # 0-2, the preserved 3, and ls's own directory fd
    assert sorted(lines[1:-1]) == ["0", "1", "2", "3", "4"]
    assert len(lines[1:-1]) == 5
