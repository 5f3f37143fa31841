"""Regression tests for the runtime CVEs of doc/security.md that no other file proves: each
attempts the attack and shows it failed (a host canary left untouched, nothing mounted outside
the rootfs, or the error berth gives). The race tests run a second container that swaps a
directory and a symlink in a volume both containers share, with renameat2(RENAME_EXCHANGE),
while berth creates the victim again and again: ROUNDS times, 500 with BERTH_STRESS=1."""
import contextlib
import json
import os
import shutil
import subprocess
import time

import pytest

from rootfs_util import (MOUNTINFO_MARK, add_mount, host_mounts, make_userns, mount_at,
                         parse_mountinfo, run, run_mounts)

HERE = os.path.dirname(os.path.abspath(__file__))
ROUNDS = 500 if os.environ.get("BERTH_STRESS") == "1" else 100


@pytest.fixture(scope="module")
def racer_binary(tmp_path_factory):
    out = tmp_path_factory.mktemp("racer") / "racer"
    r = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", str(out),
                        os.path.join(HERE, "racer.c")], capture_output=True, text=True)
    assert r.returncode == 0, f"cannot build the racer: {r.stderr}"
    return str(out)


@contextlib.contextmanager
def racing(berth, make_bundle, racer_binary, vol, a, b):
    """A container sharing `vol` at /vol that swaps vol/a and vol/b until the block ends."""
    rb = make_bundle("racer")
    shutil.copy(racer_binary, os.path.join(rb.rootfs, "racer"))
    add_mount(rb, "/vol", "bind", str(vol), ["rbind"])
    rb.set_args("/racer", f"/vol/{a}", f"/vol/{b}")
    cid = berth.new_id("racer")
    berth("run", "-d", "-b", rb.path, cid)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(vol, a + ".ready")):
            assert time.monotonic() < deadline, "the racer did not start"
            assert berth.status(cid) == "running", "the racer stopped"
            time.sleep(0.02)
        yield
        assert berth.status(cid) == "running", "the racer stopped while the victims ran"
    finally:
        berth("delete", "--force", cid)


def _host_mounts_under(paths):
    return {m.target for m in host_mounts()
            if any(m.target == p or m.target.startswith(p + "/") for p in paths)}


def _run_victim(berth, bundle, script):
    """One victim: run the script, then dump its mountinfo. (rc, script output, mounts, err)"""
    r = run(berth, bundle, f"{script}\necho '{MOUNTINFO_MARK}'; cat /proc/self/mountinfo",
            check=False)
    if r.rc != 0:
        return r.rc, r.out, [], r.err
    out, info = r.out.split(MOUNTINFO_MARK + "\n", 1)
    return 0, out, parse_mountinfo(info), r.err


# ---- CVE-2021-30465, CVE-2024-45310, CVE-2024-11218: mount destinations in a racing volume ----

def test_mount_destinations_in_a_racing_volume(berth, make_bundle, bundle, canary, tmp_path,
                                               racer_binary, resolver):
    """/vol/a is a directory or, a moment later, a symlink to a host directory (the canary):
    every mount whose destination goes through it must land inside the rootfs, the missing
    parts be made inside, and the canary never be reached."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "a").mkdir()
    os.symlink(canary, vol / "b")
    src = tmp_path / "file"
    src.write_text("bound\n")
    srcdir = os.path.join(bundle.rootfs, "srcdir")
    os.mkdir(srcdir)
    add_mount(bundle, "/vol", "bind", str(vol), ["rbind"])
    add_mount(bundle, "/vol/a/b", "tmpfs", "tmpfs")
    add_mount(bundle, "/vol/a/c", "tmpfs", "tmpfs")
    add_mount(bundle, "/vol/a/new/dir", "tmpfs", "tmpfs")
    add_mount(bundle, "/vol/a/f", "bind", str(src), ["bind"])
    add_mount(bundle, "/vol/a/d", "bind", srcdir, ["rbind"])
    # What the container must never see: the canary's own file, through any of the names.
    script = f"cat /vol/a/canary /vol/b/canary {canary}/canary 2>/dev/null"
    watched = [canary, str(vol), bundle.path]
    mounts_before = _host_mounts_under(watched)
    seen = set()
    made_through_link = False
    with racing(berth, make_bundle, racer_binary, vol, "a", "b"):
        for i in range(ROUNDS):
            rc, out, mounts, err = _run_victim(berth, bundle, script)
            assert rc == 0, f"round {i}: {err}"
            assert "canary" not in out, f"round {i}: the container read the host canary"
            for name in ("b", "c", "new/dir", "f", "d"):
                allowed = {f"/vol/a/{name}", f"/vol/b/{name}", f"{canary}/{name}"}
                at = [m.target for m in mounts if m.target in allowed]
                assert len(at) == 1, f"round {i}: /vol/a/{name} is mounted at {at}"
                if name == "b":
                    seen.add(at[0].rsplit("/", 1)[0])
                if name == "new/dir":
                    made_through_link |= at[0] == f"{canary}/new/dir"
            assert _host_mounts_under(watched) == mounts_before, f"round {i}"
    # Both states of /vol/a were met, or the race proved nothing.
    assert len(seen) >= 2, f"the victims always found /vol/a the same: {seen}"
    # A round that met the symlink while it made new/dir made it inside the rootfs, below the
    # canary's name (whether one did is up to the race).
    if made_through_link:
        assert os.path.isdir(os.path.join(bundle.rootfs, canary.lstrip("/"), "new", "dir"))


# ---- CVE-2025-52881: a racing symlink into /proc ----

def test_racing_symlink_into_proc(berth, make_bundle, bundle, tmp_path, racer_binary):
    """/vol/a turns into a symlink to /proc/sys/kernel: a mount through it is refused, never
    made in /proc, and the sysctl berth writes still reaches the right file."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "a").mkdir()
    os.symlink("/proc/sys/kernel", vol / "b")
    add_mount(bundle, "/vol", "bind", str(vol), ["rbind"])
    add_mount(bundle, "/vol/a/core_pattern", "tmpfs", "tmpfs")
    bundle.config["linux"]["sysctl"] = {"kernel.shm_rmid_forced": "1"}
    bundle.write()
    lx = bundle.config["linux"]
    allowed_proc = {"/proc"} | set(lx.get("maskedPaths", [])) | set(lx.get("readonlyPaths", []))
    with open("/proc/sys/kernel/shm_rmid_forced") as f:
        host_value = f.read()
    with open("/proc/sys/kernel/core_pattern") as f:
        host_core = f.read()
    outcomes = set()
    with racing(berth, make_bundle, racer_binary, vol, "a", "b"):
        for i in range(ROUNDS):
            rc, out, mounts, err = _run_victim(berth, bundle, "cat /proc/sys/kernel/shm_rmid_forced")
            if rc != 0:
                assert ('the destination resolves to "/proc/sys/kernel/core_pattern", which is '
                        'inside /proc') in err, f"round {i}: {err}"
                outcomes.add("refused")
                continue
            outcomes.add("mounted")
            assert out == "1\n", f"round {i}: {out!r}"
            under_proc = {m.target for m in mounts
                          if m.target == "/proc" or m.target.startswith("/proc/")}
            assert under_proc <= allowed_proc, f"round {i}: {under_proc - allowed_proc}"
            assert [m.target for m in mounts if m.target.endswith("/core_pattern")] in (
                ["/vol/a/core_pattern"], ["/vol/b/core_pattern"]), f"round {i}"
    assert outcomes == {"refused", "mounted"}, outcomes
    with open("/proc/sys/kernel/shm_rmid_forced") as f:
        assert f.read() == host_value
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == host_core


# ---- youki GHSA-3q8j-pf29-vwv8: readonly and masked paths named through a racing volume ----

@pytest.mark.parametrize("kind", ["readonlyPaths", "maskedPaths"])
def test_readonly_and_masked_paths_in_a_racing_volume(berth, make_bundle, bundle, tmp_path,
                                                      racer_binary, kind):
    """/vol/ro is a directory or a symlink to /vol/rw: whichever berth found is covered, read
    only, in one step; no writable bind or a mount elsewhere is ever left."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "ro").mkdir()
    (vol / "rw").mkdir()
    os.symlink("/vol/rw", vol / "x")
    add_mount(bundle, "/vol", "bind", str(vol), ["rbind"])
    bundle.config["linux"][kind] = ["/vol/ro"]
    bundle.write()
    watched = [str(vol), bundle.path]
    mounts_before = _host_mounts_under(watched)
    seen = set()
    with racing(berth, make_bundle, racer_binary, vol, "ro", "x"):
        for i in range(ROUNDS):
            rc, out, mounts, err = _run_victim(berth, bundle, "touch /vol/w && echo vol-rw")
            assert rc == 0, f"round {i}: {err}"
            assert out == "vol-rw\n", f"round {i}: {out!r}"
            below = [m for m in mounts if m.target.startswith("/vol/")]
            assert len(below) == 1, f"round {i}: {[m.target for m in below]}"
            m = below[0]
            assert m.target in ("/vol/ro", "/vol/rw", "/vol/x"), f"round {i}: {m.target}"
            assert "ro" in m.opts, f"round {i}: {m.target} is {m.opts}"
            if kind == "maskedPaths":
                assert m.fstype == "tmpfs", f"round {i}: {m}"
            seen.add(m.root if kind == "readonlyPaths" else m.target)
            assert _host_mounts_under(watched) == mounts_before, f"round {i}"
    if kind == "readonlyPaths":
        # The bind's root names the directory pinned: both were met.
        assert len(seen) >= 2, seen
    # Nothing read-only reached the host's side of the volume.
    for d in os.listdir(vol):
        if (vol / d).is_dir() and not (vol / d).is_symlink():
            (vol / d / "host-write").write_text("still writable on the host\n")


# ---- CVE-2023-25809: /sys bound read-only must not leave the cgroup tree writable ----

@pytest.mark.parametrize("userns", [False, True])
def test_sys_bound_read_only_keeps_cgroups_read_only(berth, make_bundle, userns):
    """`berth spec --rootless` binds the host's /sys with rbind,ro; with no cgroup namespace,
    nothing under /sys/fs/cgroup may be writable from inside."""
    bundle = make_bundle(traversable=True)
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/sys"]
    bundle.config["mounts"].insert(5, {"destination": "/sys", "type": "none", "source": "/sys",
                                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    bundle.drop_namespace("cgroup")
    bundle.write()
    if userns:
        make_userns(bundle)
    probe = f"{berth.prefix}-probe"
    script = ("for f in $(awk '$2 ~ \"^/sys/fs/cgroup\" {print $2}' /proc/mounts | sort -u); do "
              "grep \" $f \" /proc/mounts | tail -n1; done; echo ===; "
              f"for d in /sys/fs/cgroup /sys/fs/cgroup/*/ /sys/fs/cgroup/*/*/; do "
              f"mkdir $d/{probe} 2>/dev/null && echo MADE $d; "
              "echo /x > $d/release_agent 2>/dev/null && echo WROTE $d; done; true")
    out = run(berth, bundle, script).out
    tops, probes = out.split("===\n")
    lines = tops.splitlines()
    assert lines, "no cgroup mount inside the container"
    for line in lines:
        assert "ro" in line.split()[3].split(","), line
    assert "MADE" not in probes and "WROTE" not in probes, probes
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        assert probe not in dirnames, dirpath
        if dirpath.count("/") > 5:
            dirnames[:] = []


# ---- CVE-2015-3627: the image's /dev/null pointing at a host file ----

def _no_dev_mount(bundle):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] not in ("/dev", "/dev/pts", "/dev/shm",
                                                           "/dev/mqueue")]
    bundle.write()


def _fd_targets(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def test_image_dev_null_linked_to_a_host_file(berth, bundle, canary):
    """With no /dev mount, the image's /dev/null is a symlink to a host file: berth neither
    opens nor changes it, the init holds no fd into it, and exec -u leaves /dev/null alone."""
    _no_dev_mount(bundle)
    null = os.path.join(bundle.rootfs, "dev", "null")
    os.symlink(os.path.join(canary, "canary"), null)
    bundle.set_args("sh", "-c", "echo into-null > /dev/null; sleep 1000")
    cid = berth.new_id()
    host_null = os.stat("/dev/null")
    berth("create", "-b", bundle.path, cid)
    try:
        pid = berth.state(cid)["pid"]
        for fd, target in _fd_targets(pid).items():
            assert not target.startswith(canary), f"fd {fd} of the init is {target}"
        berth("start", cid)
        out = berth("exec", "-u", "1000", cid, "sh", "-c",
                    "stat -c '%F %t:%T' /dev/null; echo x > /dev/null && echo wrote").out
        assert out.splitlines() == ["character special file 1:3", "wrote"]
        for p in berth.state(cid)["pid"], :
            for fd, target in _fd_targets(p).items():
                assert not target.startswith(canary), f"fd {fd} of the process is {target}"
    finally:
        berth("delete", "--force", cid)
    after = os.stat("/dev/null")
    assert (after.st_uid, after.st_gid, after.st_mode) == (
        host_null.st_uid, host_null.st_gid, host_null.st_mode)


# ---- CVE-2024-21626: a cwd or a program through a leaked fd ----

def _walk_up(max_depth=64):
    """A script that climbs with `cd ..` and says whether it ended at the container's root:
    from a directory outside the root, ".." climbs to the host's root instead."""
    return (f"for i in $(seq {max_depth}); do cd .. 2>/dev/null; done; "
            "[ \"$(stat -c %d:%i .)\" = \"$(stat -c %d:%i /)\" ] && echo INSIDE || echo OUTSIDE")


def test_cwd_through_a_leaked_fd(berth, bundle):
    for n in range(3, 12):
        bundle.config["process"]["cwd"] = f"/proc/self/fd/{n}"
        r = run(berth, bundle, _walk_up(), check=False)
        if r.rc == 0:
            assert r.out.strip().splitlines()[-1] == "INSIDE", f"cwd fd {n}: {r.out}"
        else:
            assert "cwd" in r.err, f"cwd fd {n}: {r}"


def test_program_through_a_leaked_fd(berth, bundle):
    for n in range(3, 12):
        bundle.set_args(f"/proc/self/fd/{n}/../../../../../../bin/sh", "-c", "echo RAN")
        r = berth("run", "-b", bundle.path, berth.new_id(), check=False)
        assert r.rc != 0 and "RAN" not in r.out, f"fd {n}: {r}"


def test_exec_cwd_through_a_symlink_to_a_leaked_fd(berth, bundle):
    bundle.set_args("sleep", "1000")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    try:
        for n in range(3, 12):
            link = os.path.join(bundle.rootfs, f"link{n}")
            os.symlink(f"/proc/self/fd/{n}", link)
            r = berth("exec", "--cwd", f"/link{n}", cid, "sh", "-c", _walk_up(), check=False)
            if r.rc == 0:
                assert r.out.strip().splitlines()[-1] == "INSIDE", f"fd {n}: {r.out}"
            else:
                assert "cwd" in r.err, f"fd {n}: {r}"
    finally:
        berth("delete", "--force", cid)


def test_created_init_holds_only_expected_fds(berth, bundle, tmp_path):
    """While the container is created, the init's fds are stdio, berth's own exec fifo and
    the socket to berth: no directory of the host (runc create.bats, fd leak)."""
    bundle.set_args("true")
    cid = berth.new_id()
    with open(tmp_path / "out", "w") as out:
        p = subprocess.run([*berth.command("create", "-b", bundle.path, cid)], stdout=out,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        assert p.returncode == 0, (tmp_path / "out").read_text()
        pid = berth.state(cid)["pid"]
        fifo = os.path.join(berth.root, cid, "exec.fifo")
        targets = _fd_targets(pid)
        for fd, t in targets.items():
            ok = (t in ("/dev/null", str(tmp_path / "out"), fifo) or t.startswith("pipe:[")
                  or t.startswith("socket:[") or t.startswith("anon_inode:"))
            assert ok, f"fd {fd} of the created init is {t}: {targets}"
            if os.path.isabs(t) and t != "/dev/null":
                assert not os.path.isdir(t), f"fd {fd} is a directory: {t}"
    finally:
        berth("delete", "--force", cid)


# ---- CVE-2016-9962: a container watching the process that joins it ----

@pytest.mark.parametrize("ptrace", [False, True])
def test_joining_process_leaks_no_host_fd(berth, bundle, ptrace):
    """The container's init watches every new process and reads its fds while berth exec
    joins again and again; it must never reach a host directory (berth's state, the bundle,
    the host's root), with or without CAP_SYS_PTRACE."""
    if ptrace:
        for k in ("bounding", "effective", "permitted"):
            bundle.config["process"]["capabilities"][k].append("CAP_SYS_PTRACE")
    watcher = ("while true; do for p in /proc/[0-9]*; do [ $p = /proc/$$ ] && continue; "
               "e=$(readlink $p/exe 2>/dev/null); for f in $p/fd/*; do "
               "t=$(readlink $f 2>/dev/null) && "
               "echo \"$e|$t|$(stat -L -c %d:%i $f 2>/dev/null)\"; done; done >> /seen; done")
    bundle.set_args("sh", "-c", watcher)
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    host_dirs = {}
    for d in ("/", berth.root, os.path.join(berth.root, cid), bundle.path, "/sys/fs/cgroup",
              "/proc", os.path.dirname(berth.binary)):
        st = os.stat(d)
        host_dirs[f"{st.st_dev}:{st.st_ino}"] = d
    try:
        for _ in range(60):
            assert berth("exec", cid, "sleep", "0.03", check=False).rc == 0
    finally:
        berth("delete", "--force", cid)
    seen = [line.split("|") for line in open(os.path.join(bundle.rootfs, "seen")).read()
            .splitlines() if line.count("|") == 2]
    # The watcher did see the exec'd processes (busybox's sleep), so it could have seen more.
    assert any(e == "/bin/busybox" and t.startswith("/dev/null") for e, t, _ in seen)
    for exe, target, ident in seen:
        assert berth.root not in target and bundle.path not in target, (exe, target)
        assert ident not in host_dirs, f"{exe} held {host_dirs.get(ident)} as {target}"


# ---- CVE-2021-43784: oversized configs reach the init intact or are refused cleanly ----

@pytest.mark.parametrize("what", ["long-source", "many-mounts", "big-annotations"])
def test_oversized_config(berth, bundle, tmp_path, what):
    if what == "long-source":
        add_mount(bundle, "/mnt/x", "bind", "/" + "a" * (70 * 1024), ["bind"])
    elif what == "many-mounts":
        for i in range(10000):
            bundle.config["mounts"].append({"destination": f"/mnt/{i}", "type": "tmpfs",
                                            "source": "tmpfs", "options": ["size=4k"]})
        bundle.write()
    else:
        annotations = {f"key{i}": "v" * 1024 for i in range(1024)}
        bundle.config["annotations"] = annotations
        # The hooks in the container get the whole state, annotations and all.
        hook = {"path": "/bin/sh", "args": ["sh", "-c", "cat > /state.json"]}
        bundle.config["hooks"] = {"startContainer": [hook]}
        bundle.write()
    script = "ls /mnt | wc -l; grep -c ' /mnt/' /proc/self/mountinfo"
    r = run(berth, bundle, script if what == "many-mounts" else "true", check=False)
    if what == "long-source":
        # The whole reason comes back from the init, after the 70 KiB path.
        assert r.rc == 1, r
        assert r.err.startswith("mounts[7].source: open /aaa"), r.err[:200]
        assert r.err.endswith(": File name too long\n"), r.err[-200:]
    elif what == "many-mounts":
        assert r.rc == 0, r.err[:500]
        assert r.out.split() == ["10000", "10000"], r.out
    else:
        assert r.rc == 0, r.err[:500]
        with open(os.path.join(bundle.rootfs, "state.json")) as f:
            assert json.load(f)["annotations"] == annotations


# ---- CVE-2019-14271: nothing is loaded from the container's tree ----

def test_no_library_is_loaded_from_the_rootfs(berth, bundle, tmp_path):
    """berth looks users up by parsing files, never through NSS: a planted NSS module and
    nsswitch.conf in the image are never opened, by run or by exec -u."""
    os.makedirs(os.path.join(bundle.rootfs, "lib"), exist_ok=True)
    for p in ("lib/libnss_files.so.2", "lib/libnss_evil.so.2"):
        with open(os.path.join(bundle.rootfs, p), "w") as f:
            f.write("not a library\n")
    with open(os.path.join(bundle.rootfs, "etc", "nsswitch.conf"), "w") as f:
        f.write("passwd: evil files\ngroup: evil files\n")
    trace = tmp_path / "trace"
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    strace = ["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(trace)]

    def traced(*args):
        r = subprocess.run([*strace, *berth.command(*args)], capture_output=True, text=True,
                           env=env, stdin=subprocess.DEVNULL, timeout=60)
        return r, trace.read_text()

    # The process runs as a user of the image, and berth looks its HOME up.
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.set_args("id", "-u")
    r, calls = traced("run", "-b", bundle.path, berth.new_id())
    assert r.returncode == 0 and r.stdout == "1000\n", r
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0}
    bundle.set_args("sleep", "1000")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    try:
        r, more = traced("exec", "-u", "1000:1000", cid, "id", "-u")
        assert r.returncode == 0 and r.stdout == "1000\n", r
        calls += more
    finally:
        berth("delete", "--force", cid)
    assert "openat(" in calls or "open(" in calls, "strace saw nothing"
    # The rootfs's /etc/passwd is read (HOME), so opens inside it do show up here.
    assert "/etc/passwd" in calls
    for word in ("libnss", "nsswitch"):
        assert word not in calls, [l for l in calls.splitlines() if word in l]


# ---- CVE-2024-23652: no cleanup through a mountpoint the container replaced ----

def test_delete_does_not_follow_a_replaced_mountpoint(berth, bundle, canary):
    add_mount(bundle, "/new/sub", "tmpfs", "tmpfs")
    bundle.set_args("sleep", "1000")
    cid = berth.new_id()
    berth("run", "-d", "-b", bundle.path, cid)
    new = os.path.join(bundle.rootfs, "new")
    assert os.path.isdir(os.path.join(new, "sub"))
    os.rename(new, new + ".old")
    os.symlink(canary, new)
    berth("delete", "--force", cid)
    # The canary fixture checks that O/sub (an empty directory like the stub) is still there.
    assert os.path.isdir(os.path.join(canary, "sub"))


# ---- CVE-2024-9676: the image's /etc/passwd as a device, a fifo or a host path ----

@pytest.mark.parametrize("passwd", ["dev-zero", "fifo", "host-path", "huge"])
def test_image_passwd_is_read_safely(berth, bundle, canary, passwd):
    """HOME comes from the container's /etc/passwd: what cannot be a passwd file is skipped,
    quickly and in bounded memory, and a host path is looked up inside the container."""
    p = os.path.join(bundle.rootfs, "etc", "passwd")
    os.unlink(p)
    if passwd == "dev-zero":
        os.symlink("/dev/zero", p)
    elif passwd == "fifo":
        os.mkfifo(p)
    elif passwd == "host-path":
        host = os.path.join(canary, "..", "host-passwd")
        with open(host, "w") as f:
            f.write("root:x:0:0::/from-the-host:/bin/sh\n")
        os.symlink(os.path.abspath(host), p)
    else:
        with open(p, "wb") as f:
            f.truncate(64 << 20)
    bundle.config["process"]["env"] = [e for e in bundle.config["process"]["env"]
                                       if not e.startswith("HOME=")]
    start = time.monotonic()
    r = run(berth, bundle, "echo $HOME", check=False)
    assert r.rc == 0, r
    assert r.out == "/\n"
    assert time.monotonic() - start < 20


# ---- CVE-2015-3630, CVE-2017-16539, CVE-2018-10892, moby GHSA-jq35/GHSA-6fw5: the defaults ----

def test_default_masked_and_readonly_paths_hold(berth, bundle):
    """`berth spec`'s lists cover what these advisories exposed, and each entry present on this
    kernel is masked (an empty char 1:3 or an empty read-only tmpfs) or read-only inside."""
    lx = bundle.config["linux"]
    for p in ("/proc/scsi", "/proc/acpi", "/proc/asound", "/proc/timer_stats",
              "/proc/latency_stats", "/proc/interrupts", "/sys/devices/virtual/powercap"):
        assert p in lx["maskedPaths"], p
    for p in ("/proc/fs", "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"):
        assert p in lx["readonlyPaths"], p
    masked = [p for p in lx["maskedPaths"] if os.path.exists(p)]
    ro = [p for p in lx["readonlyPaths"] if os.path.exists(p)]
    script = "".join(
        f"if [ -d {p} ]; then echo \"{p} dir $(ls -A {p} | wc -l)\"; touch {p}/x 2>/dev/null "
        f"&& echo WROTE {p}; else echo \"{p} $(stat -c %t:%T {p}) $(cat {p} | wc -c)\"; fi; "
        f"umount {p} 2>/dev/null && echo UNMOUNTED {p}; " for p in masked)
    # Opening for writing is enough to meet EROFS, and writes nothing to sysrq-trigger.
    script += "( : > /proc/sysrq-trigger ) 2>/dev/null && echo WROTE sysrq-trigger; "
    script += "( : > /proc/sys/kernel/shm_rmid_forced ) 2>/dev/null && echo WROTE /proc/sys; true"
    out, mounts = run_mounts(berth, bundle, script)
    assert "WROTE" not in out and "UNMOUNTED" not in out, out
    for p in ro:
        assert "ro" in mount_at(mounts, p).opts, p
    lines = out.splitlines()
    assert len(lines) == len(masked), out
    for p, line in zip(masked, lines):
        if os.path.isdir(p):
            assert line == f"{p} dir 0", line
        else:
            assert line == f"{p} 1:3 0", line


# ---- CVE-2021-21284: the mapped root owns its layer, never the storage above it ----

def test_storage_above_a_mapped_layer_belongs_to_root(berth, tmp_path):
    store = str(tmp_path / "store")
    for args in (["layer", "create", "base"],
                 ["layer", "create", "m", "--parent", "base", "--uidmap", "0:100000:65536",
                  "--gidmap", "0:100000:65536"]):
        berth(*args, global_args=["--storage-root", store])
    path = berth("layer", "path", "m", global_args=["--storage-root", store]).out.strip()
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    p = os.path.dirname(path)
    while True:
        st = os.stat(p)
        assert st.st_uid == 0 and not st.st_mode & 0o022, f"{p}: {oct(st.st_mode)} {st.st_uid}"
        if p == store:
            break
        p = os.path.dirname(p)
    assert not os.stat(store).st_mode & 0o077
