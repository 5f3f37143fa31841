"""linux.seccomp end to end: the container's process meets the filter, and a notify listener
reaches the supervisor at listenerPath with the container process state."""
import ctypes
import errno
import fcntl
import json
import os
import select
import socket
import struct
import threading

import pytest

SIGSYS_EXIT = 128 + 31

# struct seccomp_notif is 80 bytes, struct seccomp_notif_resp 24: _IOWR('!', 0/1, ...)
NOTIF_RECV = 0xC0502100
NOTIF_SEND = 0xC0182101


def _native_syscalls():
    """Every system call name libseccomp knows for this machine."""
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
    lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
    libc = ctypes.CDLL(None)
    names = []
    for nr in range(1024):
        p = lib.seccomp_syscall_resolve_num_arch(0, nr)
        if p:
            names.append(ctypes.string_at(p).decode())
            libc.free(ctypes.c_void_p(p))
    return names


def _run(berth, bundle, seccomp, *args, nnp=True):
    bundle.config["linux"]["seccomp"] = seccomp
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.set_args(*args)
    return berth("run", "--bundle", bundle.path, berth.new_id(), check=False)


MKDIR = ["/bin/mkdir", "/tmp/made-here"]


@pytest.mark.parametrize("nnp", [True, False])
def test_errno_ret_denies_mkdir(berth, bundle, nnp):
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": errno.EACCES}],
    }
    r = _run(berth, bundle, profile, *MKDIR, nnp=nnp)
    assert r.rc == 1, r
    assert "Permission denied" in r.err, r
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "made-here"))


def test_compiled_profile_is_kept_and_reused(berth, bundle):
    """The program compiled for a profile is kept under the state root: the next create (and
    exec) with the same profile loads it instead of compiling, and it denies the same."""
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": errno.EACCES}],
    }
    cache = os.path.join(berth.root, ".seccomp-bpf")
    r = _run(berth, bundle, profile, *MKDIR)
    assert r.rc == 1 and "Permission denied" in r.err, r
    entries = os.listdir(cache)
    assert len(entries) == 1, entries
    assert os.stat(cache).st_mode & 0o777 == 0o700
    r = berth("--debug", "run", "--bundle", bundle.path, berth.new_id(), check=False)
    assert r.rc == 1 and "Permission denied" in r.err, r
    assert f"seccomp: program {entries[0]} from {cache}" in r.err, r
    assert os.listdir(cache) == entries
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "made-here"))
    # The list of containers does not show it.
    assert berth("list", "-q").out.split() == []


def test_without_filter_mkdir_works(berth, bundle):
    bundle.set_args(*MKDIR)
    r = berth("run", "--bundle", bundle.path, berth.new_id(), check=False)
    assert r.rc == 0, r
    assert os.path.isdir(os.path.join(bundle.rootfs, "tmp", "made-here"))


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"])
def test_kill_is_sigsys(berth, bundle, action):
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}],
    }
    r = _run(berth, bundle, profile, *MKDIR)
    assert r.rc == SIGSYS_EXIT, r


@pytest.mark.parametrize("nnp", [True, False])
def test_default_errno_ret(berth, bundle, nnp):
    """Everything allowed by name except mkdir, which falls to the default action."""
    allowed = [n for n in _native_syscalls() if n not in ("mkdir", "mkdirat")]
    assert len(allowed) > 300
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EXDEV,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
    }
    r = _run(berth, bundle, profile, "/bin/sh", "-c", "echo before; mkdir /tmp/x")
    assert r.rc == 1, r
    assert r.out == "before\n", r
    assert "Invalid cross-device link" in r.err, r


@pytest.mark.parametrize("nnp", [True, False])
@pytest.mark.parametrize("cmd", ["true", "/bin/true"])
def test_profile_without_faccessat2_finds_the_command(berth, bundle, nnp, cmd):
    """A profile written before faccessat2 existed refuses it with EPERM (the default action);
    loaded before the command is looked up (without no_new_privs), it must not hide the
    command, as it does not from runc."""
    allowed = [n for n in _native_syscalls() if n != "faccessat2"]
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
    }
    bundle.config["process"]["env"] = ["PATH=/bin"]
    r = _run(berth, bundle, profile, cmd, nnp=nnp)
    assert r.rc == 0, r
    # Still refused: a file without an execute bit.
    with open(os.path.join(bundle.rootfs, "noexec-here"), "w") as f:
        f.write("#!/bin/sh\n")
    r = _run(berth, bundle, profile, "/noexec-here", nnp=nnp)
    assert r.rc != 0 and 'exec: "/noexec-here": permission denied' in r.err, r


SYSCALL_PROBE = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        long r = syscall(atol(argv[i]), 0, 0, 0, 0, 0, 0);
        printf("%s %d\n", argv[i], r < 0 ? errno : 0);
        fflush(stdout);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def syscall_probe(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    (d / "probe.c").write_text(SYSCALL_PROBE)
    import subprocess
    r = subprocess.run(["gcc", "-static", "-O2", "-o", str(d / "probe"), str(d / "probe.c")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(d / "probe")


@pytest.mark.parametrize("default", ["SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_ALLOW"])
def test_calls_newer_than_the_profile_get_enosys(berth, bundle, syscall_probe, default):
    """A call past the highest the profile names (1000 here; the profile names up to
    getpid's 39 and write's 1) gets ENOSYS, as with runc, so that programs fall back; one below
    it keeps the default action. Not when the default lets calls through."""
    import shutil
    shutil.copy(syscall_probe, os.path.join(bundle.rootfs, "probe"))
    names = ["read", "write", "exit", "exit_group", "brk", "arch_prctl", "set_tid_address",
             "set_robust_list", "rseq", "prlimit64", "readlink", "getrandom", "mprotect",
             "newfstatat", "fstat", "uname", "execve", "getpid", "ioctl", "futex", "mmap",
             "munmap", "rt_sigprocmask", "rt_sigaction"]
    allowed = {"names": names, "action": "SCMP_ACT_ALLOW"}
    profile = {"defaultAction": default, "syscalls": [allowed]}
    if default == "SCMP_ACT_ALLOW":
        profile["syscalls"] = [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]
    # 1000: past every table; 334 (rseq) is named, so 200 (tkill) is below the highest.
    r = _run(berth, bundle, profile, "/probe", "1000", "200")
    if default == "SCMP_ACT_ALLOW":
        assert r.rc == 0 and r.out.split("\n")[0] == f"1000 {errno.ENOSYS}", r
        return
    assert r.out.split("\n")[0] == f"1000 {errno.ENOSYS}", r
    if default == "SCMP_ACT_ERRNO":
        assert r.out.split("\n")[1] == f"200 {errno.EPERM}", r
        # With x86 and x32 in the filter too (x32 shares x86_64's architecture number).
        profile["architectures"] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        r = _run(berth, bundle, profile, "/probe", "1000", "200", str(0x40000000 + 1000))
        assert r.out.split("\n")[:3] == [f"1000 {errno.ENOSYS}", f"200 {errno.EPERM}",
                                          f"{0x40000000 + 1000} {errno.ENOSYS}"], r
    else:
        assert r.rc == SIGSYS_EXIT, r


@pytest.mark.parametrize("nnp", [True, False])
def test_start_container_hook_meets_the_filter(berth, bundle, nnp):
    """startContainer hooks run in the container under its filter, as runc runs them."""
    bundle.config["hooks"] = {"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "mkdir /tmp/hook-made"]}]}
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }
    r = _run(berth, bundle, profile, "true", nnp=nnp)
    assert r.rc != 0 and "startContainer hook 0 (/bin/sh) failed" in r.err, r
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "hook-made"))


def test_bad_profile_fails_create(berth, bundle):
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}],
    }
    r = _run(berth, bundle, profile, *MKDIR)
    assert r.rc != 0, r
    assert "linux.seccomp.syscalls[0]: SCMP_ACT_KILL takes no errno return value" in r.err, r


class Listener:
    """A seccomp supervisor: takes the listener fd and fails every notified call ENOTBLK."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(60)
        self.message = None
        self.calls = []
        self.error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                data, fds, _, _ = socket.recv_fds(conn, 65536, 1)
                while True:
                    more = conn.recv(65536)
                    if not more:
                        break
                    data += more
                self.message = json.loads(data)
                assert len(fds) == 1
                self._answer(fds[0])
        except Exception as e:  # reported by the test
            self.error = e

    def _answer(self, fd):
        try:
            while not self.stop.is_set():
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                req = bytearray(80)
                try:
                    fcntl.ioctl(fd, NOTIF_RECV, req, True)
                except OSError as e:
                    if e.errno == errno.ENOENT:  # the caller went away meanwhile
                        continue
                    raise
                nid, pid, _, nr = struct.unpack_from("=QIIi", req)
                self.calls.append((pid, nr))
                resp = bytearray(struct.pack("=QqiI", nid, 0, -errno.ENOTBLK, 0))
                try:
                    fcntl.ioctl(fd, NOTIF_SEND, resp, True)
                except OSError as e:
                    if e.errno != errno.ENOENT:
                        raise
        finally:
            os.close(fd)

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.sock.close()


@pytest.mark.parametrize("flags", [[], ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]])
def test_notify_reaches_listener(berth, bundle, tmp_path, flags):
    path = str(tmp_path / "listener.sock")
    listener = Listener(path)
    try:
        cid = berth.new_id()
        bundle.config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": path,
            "listenerMetadata": "meta-1",
            "flags": flags,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
        }
        bundle.set_args(*MKDIR)
        r = berth("run", "--bundle", bundle.path, cid, check=False)
    finally:
        listener.close()
    assert listener.error is None, listener.error
    assert r.rc == 1, r
    assert "Block device required" in r.err, r
    m = listener.message
    assert m["ociVersion"]
    assert m["fds"] == ["seccompFd"]
    assert m["metadata"] == "meta-1"
    assert m["state"]["id"] == cid
    assert m["state"]["status"] == "creating"
    assert m["state"]["bundle"] == bundle.path
    assert m["pid"] > 0 and m["pid"] == m["state"]["pid"]
    # the notified call came from the container's process, whose pid the state named
    assert listener.calls, "no notification arrived"
    assert all(pid == m["pid"] for pid, _ in listener.calls), listener.calls
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "made-here"))


def test_notify_without_listener_fails_create(berth, bundle, tmp_path):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": str(tmp_path / "nobody.sock"),
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
    }
    bundle.set_args(*MKDIR)
    r = berth("run", "--bundle", bundle.path, berth.new_id(), check=False)
    assert r.rc != 0, r
    assert "nobody.sock: connect: No such file or directory" in r.err, r


@pytest.mark.parametrize("nnp", [True, False])
def test_exec_meets_the_containers_filter(berth, bundle, nnp):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": errno.EACCES}],
    }
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.set_args("sleep", "1000")
    cid = berth.new_id()
    berth("run", "-d", "--bundle", bundle.path, cid)
    r = berth("exec", cid, *MKDIR, check=False)
    berth("delete", "--force", cid)
    assert r.rc == 1 and "Permission denied" in r.err, r
