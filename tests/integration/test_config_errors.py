"""Malformed configs: create (and run) refuse each with one line on stderr that names the field
and the reason, exit 1, and leave nothing behind (the berth fixture checks the state root,
mounts, cgroups and processes)."""
import datetime
import json
import os
import subprocess

import pytest


def drop_ns(kind):
    def f(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != kind]
    return f


def add_mount(m):
    def f(c):
        c["mounts"].append(m)
        return len(c["mounts"]) - 1
    return f


def add_ns(ns):
    def f(c):
        c["linux"]["namespaces"].append(ns)
        return len(c["linux"]["namespaces"]) - 1
    return f


def setp(path, value):
    """Set c[a][b]... = value; the path is a tuple of keys."""
    def f(c):
        d = c
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return f


def remove(path):
    def f(c):
        d = c
        for k in path[:-1]:
            d = d[k]
        del d[path[-1]]
    return f


def both(*fs):
    def f(c):
        out = None
        for g in fs:
            r = g(c)
            out = r if r is not None else out
        return out
    return f


# name -> (change to the default config, or raw file text; expected stderr, formatted with
# {i} = what the change returned (an index), {bundle} = the bundle's path)
CASES = {
    "bad_json": ('{"ociVersion": "1.0.0",\n  "process": {,}}',
                 "config.json:2:15: string or '}' expected near ','"),
    "trailing_garbage": ('{"ociVersion": "1.0.0"} x',
                         "config.json:1:25: end of file expected near 'x'"),
    "empty_file": ("", "config.json:1:0: unexpected token near end of file"),
    "not_an_object": ("[]", "config.json: must be a JSON object"),
    "no_oci_version": (remove(("ociVersion",)),
                       "config.json: ociVersion: must be a string; it is missing"),
    "no_process": (remove(("process",)), "config.json: process: required to create a container"),
    "empty_args": (setp(("process", "args"), []),
                   "config.json: process.args: must be a non-empty array of strings"),
    "args_not_array": (setp(("process", "args"), "sh"),
                       "config.json: process.args: must be a non-empty array of strings"),
    "uid_as_string": (setp(("process", "user", "uid"), "0"),
                      "config.json: process.user.uid: must be an integer from 0 to 4294967295"),
    "relative_cwd": (setp(("process", "cwd"), "tmp"),
                     'config.json: process.cwd: must be an absolute path, not "tmp"'),
    "unknown_capability": (lambda c: c["process"]["capabilities"]["bounding"].append("CAP_BOGUS"),
                           'config.json: process.capabilities.bounding[3]: unknown capability '
                           '"CAP_BOGUS"'),
    "unknown_rlimit": (lambda c: c["process"]["rlimits"].append(
        {"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}),
        'config.json: process.rlimits[1].type: unknown rlimit "RLIMIT_BOGUS"'),
    "rlimit_soft_above_hard": (setp(("process", "rlimits"),
                                    [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 20}]),
                               "config.json: process.rlimits[0]: soft limit 20 is above the hard "
                               "limit 10"),
    "oom_score_adj_range": (setp(("process", "oomScoreAdj"), 5000),
                            "config.json: process.oomScoreAdj: must be an integer from -1000 to "
                            "1000"),
    "terminal_without_console_socket": (setp(("process", "terminal"), True),
                                        "process.terminal is true: --console-socket is required "
                                        "to hand the terminal to its reader"),
    "no_root": (remove(("root",)), "config.json: root: must be an object; it is missing"),
    "root_path_missing": (setp(("root", "path"), "nope"),
                          "config.json: root.path: {bundle}/nope: No such file or directory"),
    "root_path_a_file": (setp(("root", "path"), "rootfs/bin/busybox"),
                         "config.json: root.path: {bundle}/rootfs/bin/busybox: Not a directory"),
    "hostname_not_a_string": (setp(("hostname",), 5), "config.json: hostname: must be a string"),
    "unknown_namespace": (add_ns({"type": "bogus"}),
                          'config.json: linux.namespaces[{i}].type: unknown namespace "bogus"'),
    "duplicate_namespace": (add_ns({"type": "ipc"}),
                            'config.json: linux.namespaces[{i}].type: duplicate namespace "ipc"'),
    "namespace_without_type": (add_ns({"path": "/proc/self/ns/ipc"}),
                               "config.json: linux.namespaces[{i}].type: must be a string; it is "
                               "missing"),
    "new_user_namespace_without_mappings": (add_ns({"type": "user"}),
                                            "config.json: linux.namespaces[{i}]: a new user "
                                            "namespace needs linux.uidMappings"),
    "uid_mappings_without_user_namespace": (setp(("linux", "uidMappings"), [
        {"containerID": 0, "hostID": 1000, "size": 1}]),
        "config.json: linux.uidMappings: given without a user namespace in linux.namespaces"),
    "time_offsets_without_time_namespace": (setp(("linux", "timeOffsets"),
                                                 {"monotonic": {"secs": 1}}),
                                            "config.json: linux.timeOffsets: given without a time "
                                            "namespace in linux.namespaces"),
    "no_mount_namespace": (drop_ns("mount"),
                           "config.json: linux.maskedPaths: needs a mount namespace in "
                           "linux.namespaces"),
    "hostname_without_uts_namespace": (drop_ns("uts"),
                                       "config.json: hostname: needs a UTS namespace in "
                                       "linux.namespaces: setting it would change the host"),
    "sysctl_not_namespaced": (setp(("linux", "sysctl"), {"kernel.panic": "1"}),
                              'config.json: linux.sysctl: "kernel.panic" is not namespaced: '
                              'setting it would change the host'),
    "net_sysctl_without_network_namespace": (both(
        setp(("linux", "sysctl"), {"net.ipv4.ip_forward": "1"}), drop_ns("network")),
        'config.json: linux.sysctl: "net.ipv4.ip_forward" needs a new network namespace: '
        'setting it would change the host'),
    "relative_masked_path": (lambda c: c["linux"]["maskedPaths"].append("relative/x"),
                             'config.json: linux.maskedPaths[12]: must be an absolute path, not '
                             '"relative/x"'),
    "bad_device_type": (setp(("linux", "devices"),
                             [{"path": "/dev/foo", "type": "x", "major": 1, "minor": 3}]),
                        'config.json: linux.devices[0].type: unknown device type "x": must be c, '
                        'b, u or p'),
    "relative_hook_path": (setp(("hooks",), {"prestart": [{"path": "sh"}]}),
                           'config.json: hooks.prestart[0].path: must be an absolute path, not '
                           '"sh"'),
    "unknown_seccomp_action": (setp(("linux", "seccomp"), {"defaultAction": "SCMP_ACT_BOGUS"}),
                               'config.json: linux.seccomp.defaultAction: unknown action '
                               '"SCMP_ACT_BOGUS"'),
    "env_without_equals": (lambda c: c["process"]["env"].append("NOEQUALS"),
                           'config.json: process.env[2]: "NOEQUALS" is not KEY=value'),
    "env_with_empty_name": (lambda c: c["process"]["env"].append("=value"),
                            'config.json: process.env[2]: "=value" is not KEY=value'),
    # Found only when the init builds the container:
    "bind_source_missing": (add_mount({"destination": "/mnt", "type": "bind",
                                       "source": "/nonexistent/xyz", "options": ["bind"]}),
                            'mounts[{i}].source: "/nonexistent/xyz" does not exist'),
    "mount_inside_proc": (add_mount({"destination": "/proc/sys/kernel/x", "type": "tmpfs",
                                     "source": "tmpfs"}),
                          'mounts[{i}].destination: "/proc/sys/kernel/x" is inside /proc: a mount '
                          'there could change the host, so only /proc/cpuinfo, /proc/meminfo and '
                          'the like may be covered'),
    "mount_over_root": (add_mount({"destination": "/", "type": "tmpfs", "source": "tmpfs"}),
                        'mounts[{i}].destination: "/" is the rootfs itself: a mount cannot cover '
                        'it'),
    "mount_without_type": (add_mount({"destination": "/mnt", "source": "x"}),
                           "mounts[{i}].type: needed for a mount that is not a bind"),
    "unknown_filesystem": (add_mount({"destination": "/mnt", "type": "nosuchfs", "source": "x"}),
                           "mount nosuchfs x on /mnt (0): No such device"),
    "namespace_path_missing": (add_ns({"type": "cgroup", "path": "/nonexistent/ns"}),
                               "linux.namespaces[{i}]: open cgroup namespace /nonexistent/ns: No "
                               "such file or directory"),
    "namespace_path_of_another_type": (add_ns({"type": "cgroup", "path": "/proc/self/ns/net"}),
                                       "linux.namespaces[{i}]: /proc/self/ns/net is not a cgroup "
                                       "namespace"),
    "cwd_is_a_file": (setp(("process", "cwd"), "/bin/busybox"),
                      "process.cwd: mkdir /bin/busybox: busybox: Not a directory"),
    "cgroups_path_with_dotdot": (setp(("linux", "cgroupsPath"), "../../escape"),
                                 'cgroup path "../../escape": ".." is not allowed'),
}


def write_case(bundle, change):
    if isinstance(change, str):
        with open(os.path.join(bundle.path, "config.json"), "w") as f:
            f.write(change)
        return None
    bundle.config["process"]["args"] = ["true"]
    result = change(bundle.config)
    bundle.write()
    return result


@pytest.mark.parametrize("command", ["create", "run"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_config(berth, bundle, name, command):
    change, expected = CASES[name]
    i = write_case(bundle, change)
    cid = berth.new_id()
    r = berth(command, "-b", bundle.path, cid, check=False)
    if name == "terminal_without_console_socket" and command == "run":
        pytest.skip("run in the foreground keeps the terminal itself")
    want = expected.replace("{i}", str(i)).replace("{bundle}", os.path.realpath(bundle.path))
    assert (r.rc, r.out, r.err) == (1, "", want + "\n")
    assert berth.containers() == []
    assert bundle.processes() == []


def test_config_file_missing(berth, bundle):
    os.unlink(os.path.join(bundle.path, "config.json"))
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False)
    assert (r.rc, r.err) == (1, f"open {os.path.realpath(bundle.path)}/config.json: No such file "
                                "or directory\n")
    assert berth.containers() == []


def test_bundle_missing(berth, tmp_path):
    r = berth("create", "-b", tmp_path / "nope", berth.new_id(), check=False)
    assert (r.rc, r.err) == (1, f"bundle {tmp_path}/nope: No such file or directory\n")
    assert berth.containers() == []


def test_config_flag_names_another_file(berth, bundle):
    bundle.config["process"]["args"] = ["sh", "-c", "echo other config"]
    with open(os.path.join(bundle.path, "other.json"), "w") as f:
        json.dump(bundle.config, f)
    bundle.set_args("sh", "-c", "echo default config")
    r = berth("run", "-b", bundle.path, "--config", "other.json", berth.new_id())
    assert r.out == "other config\n"
    with open(os.path.join(bundle.path, "other.json"), "w") as f:
        f.write("{")
    r = berth("run", "-b", bundle.path, "-f", "other.json", berth.new_id(), check=False)
    assert (r.rc, r.err) == (1, "other.json:1:1: string or '}' expected near end of file\n")


def test_log_file_json(berth, bundle, tmp_path):
    write_case(bundle, CASES["empty_args"][0])
    log = tmp_path / "berth.log"
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False,
              global_args=["--log", log, "--log-format", "json"])
    msg = "config.json: process.args: must be a non-empty array of strings"
    assert (r.rc, r.out, r.err) == (1, "", msg + "\n")
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert set(entry) == {"level", "msg", "time"}
    assert (entry["level"], entry["msg"]) == ("error", msg)
    t = datetime.datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((datetime.datetime.utcnow() - t).total_seconds()) < 60
    # The log is appended to, never truncated.
    berth("create", "-b", bundle.path, berth.new_id(), check=False,
          global_args=["--log", log, "--log-format", "json"])
    assert len(log.read_text().splitlines()) == 2


def test_log_file_text_quotes_the_message(berth, bundle, tmp_path):
    """The text format is logfmt, as runc writes it: a message with quotes or backslashes in
    it is escaped, so that the line still parses."""
    bundle.set_args("sleep", "100")
    cid = berth.new_id()
    berth("create", "-b", bundle.path, cid)
    log = tmp_path / "berth.log"
    r = berth("create", "-b", bundle.path, cid, check=False, global_args=["--log", log])
    assert (r.rc, r.err) == (1, f'container "{cid}" already exists\n')
    line = log.read_text()
    assert line.endswith(f' level=error msg="container \\"{cid}\\" already exists"\n'), line
    assert line.startswith('time="')
    berth("delete", "--force", cid)


def test_log_file_warnings(berth, bundle, tmp_path):
    bundle.config["hooks"] = {"poststop": [{"path": "/bin/false"}]}
    log = tmp_path / "berth.log"
    r = berth("run", "-b", bundle.path, berth.new_id(), check=False,
              global_args=["--log", log, "--log-format", "json"])
    bundle.set_args("true")
    r = berth("run", "-b", bundle.path, berth.new_id(), check=False,
              global_args=["--log", log, "--log-format", "json"])
    assert r.rc == 0
    # With --log, warnings go to the file only.
    assert r.err == ""
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["level"], e["msg"]) for e in entries][-1] == \
        ("warning", "poststop hook 0 (/bin/false) failed with exit status 1")


def test_log_file_that_cannot_be_opened(berth, bundle, tmp_path):
    r = berth("list", check=False, global_args=["--log", tmp_path / "no" / "log"])
    assert (r.rc, r.err) == (1, f"open log file {tmp_path}/no/log: No such file or directory\n")


def test_spec(berth, tmp_path):
    d = tmp_path / "spec"
    d.mkdir()
    r = berth("spec", "-b", d)
    assert (r.out, r.err) == ("", "")
    text = (d / "config.json").read_text()
    c = json.loads(text)
    assert c["ociVersion"] == "1.2.1"
    assert c["process"]["args"] == ["sh"]
    assert c["process"]["terminal"] is True
    assert c["root"] == {"path": "rootfs", "readonly": True}
    assert {n["type"] for n in c["linux"]["namespaces"]} == {"pid", "network", "ipc", "uts",
                                                             "mount"}
    assert [m["destination"] for m in c["mounts"]][:2] == ["/proc", "/dev"]
    r = berth("spec", "-b", d, check=False)
    assert (r.rc, r.out) == (1, "")
    assert r.err == f"config.json already exists in {d}: remove it first\n"
    assert (d / "config.json").read_text() == text


def test_spec_in_the_working_directory(berth, tmp_path):
    p = subprocess.run([berth.binary, "spec"], cwd=tmp_path, capture_output=True, text=True)
    assert (p.returncode, p.stderr) == (0, "")
    json.loads((tmp_path / "config.json").read_text())


def test_features(berth):
    r = berth("features")
    assert r.err == ""
    f = json.loads(r.out)
    assert f["ociVersionMin"] == "1.0.0"
    assert f["ociVersionMax"] == "1.2.1"
    assert f["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer",
                          "poststart", "poststop"]
    assert {"bind", "rbind", "ro", "nosuid", "nodev", "noexec"} <= set(f["mountOptions"])
    assert sorted(f["linux"]["namespaces"]) == ["cgroup", "ipc", "mount", "network", "pid",
                                                "time", "user", "uts"]
    assert {"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_KILL"} <= set(f["linux"]["capabilities"])
    assert isinstance(f["linux"]["cgroup"]["v1"], bool)


def test_version(berth):
    r = berth("--version")
    lines = r.out.splitlines()
    assert lines[0].startswith("berth version ")
    assert lines[2] == "spec: 1.2.1"


@pytest.mark.parametrize("args", [[], ["delete"], ["exec"], ["list"], ["spec"]])
def test_dash_h_is_help(berth, args):
    """runc takes -h for help, berth and its commands as well."""
    r = berth(*args, "-h")
    assert r.rc == 0 and r.err == "", r
    assert r.out.startswith("Usage: berth " + (args[0] + " " if args else "")), r


def test_apparmor_profile_without_apparmor_is_refused(berth, bundle):
    if open("/sys/module/apparmor/parameters/enabled").read().startswith("Y") \
            if os.path.exists("/sys/module/apparmor/parameters/enabled") else False:
        pytest.skip("AppArmor is enabled on this host")
    bundle.config["process"]["apparmorProfile"] = "docker-default"
    bundle.write()
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False)
    assert r.rc == 1
    assert r.err.strip() == ('config.json: process.apparmorProfile: "docker-default" cannot be '
                             'applied: AppArmor is not enabled on this host')
