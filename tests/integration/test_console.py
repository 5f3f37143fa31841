"""process.terminal: the pty master handed to --console-socket, /dev/console bound to the pty,
consoleSize, and an image's own /dev/console that must not be followed."""
import array
import os
import socket
import subprocess
import threading
import time

import pytest

from rootfs_util import (drop_mount, make_canary, make_userns, mount_at, parse_mountinfo,
                         snapshot)


class ConsoleReceiver:
    """The other end of --console-socket: takes the master with recvmsg(SCM_RIGHTS) and reads
    whatever the container writes to its terminal until the pty closes."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.name = None
        self.master = None
        self.output = b""
        self.error = None
        self.got_fd = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                fds = array.array("i")
                msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                assert len(fds) == 1, f"expected one fd, got {list(fds)}"
                self.name = msg.decode()
                self.master = fds[0]
            self.got_fd.set()
            while True:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: every peer fd is closed
                    break
                if not chunk:
                    break
                self.output += chunk
        except Exception as e:  # reported by the test, not lost in the thread
            self.error = e
            self.got_fd.set()

    def text(self, timeout=30):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the pty never closed"
        if self.error:
            raise self.error
        return self.output.decode(errors="replace").replace("\r\n", "\n")

    def close(self):
        self.sock.close()
        if self.master is not None:
            os.close(self.master)


@pytest.fixture
def console(tmp_path):
    r = ConsoleReceiver(tmp_path / "console.sock")
    yield r
    r.close()


def run_with_terminal(berth, bundle, console, script):
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["args"] = ["sh", "-c", script]
    bundle.write()
    cid = berth.new_id("tty")
    berth("create", "--console-socket", console.path, "-b", bundle.path, cid)
    try:
        assert console.got_fd.wait(10), "no pty master arrived on the console socket"
        berth("start", cid)
        out = console.text()
        for _ in range(100):
            if berth.state(cid)["status"] == "stopped":
                break
            time.sleep(0.05)
    finally:
        berth("delete", "--force", cid)
    return out


SCRIPT = ("stat -L -c 'console %t:%T' /dev/console; stat -L -c 'stdin %t:%T' /proc/self/fd/0; "
          "stat -L -c 'stdout %t:%T' /proc/self/fd/1; readlink /proc/self/fd/0; tty; "
          "stty size; echo ===; cat /proc/self/mountinfo")


def _parse(out):
    head, info = out.split("===\n", 1)
    return head.splitlines(), parse_mountinfo(info)


def test_console_socket_gets_the_master(berth, bundle, console):
    out = run_with_terminal(berth, bundle, console, SCRIPT)
    lines, mounts = _parse(out)
    devs = dict(l.split(" ", 1) for l in lines[:3])
    # /dev/console is the very pty the process has on its stdio: devpts major 136.
    assert devs["console"] == devs["stdin"] == devs["stdout"]
    assert devs["console"].startswith("88:")
    pts = lines[3]
    assert pts.startswith("/dev/pts/")
    assert lines[4] == pts
    assert console.name == pts
    m = mount_at(mounts, "/dev/console")
    assert m is not None and m.fstype == "devpts"
    assert m.root == "/" + pts.rsplit("/", 1)[1]
    # The pty comes from the container's own devpts instance, not the host's.
    assert mount_at(mounts, "/dev/pts").dev == m.dev


def test_console_size(berth, bundle, console):
    bundle.config["process"]["consoleSize"] = {"height": 43, "width": 117}
    out = run_with_terminal(berth, bundle, console, "stty size")
    assert out.strip() == "43 117"


def test_console_is_the_controlling_terminal(berth, bundle, console):
    out = run_with_terminal(berth, bundle, console,
                            "test -t 0 && test -t 1 && test -t 2 && echo all-tty; "
                            "cat /proc/self/stat | cut -d' ' -f7")
    lines = out.split()
    assert lines[0] == "all-tty"
    assert int(lines[1]) != 0  # tty_nr: a controlling terminal is set


def test_terminal_without_console_socket_is_refused(berth, bundle):
    bundle.config["process"]["terminal"] = True
    bundle.write()
    r = berth("create", "-b", bundle.path, berth.new_id(), check=False)
    assert r.rc != 0
    assert "--console-socket" in r.err


def _no_dev_mounts(bundle):
    for m in ("/dev/shm", "/dev/mqueue", "/dev/pts", "/dev"):
        drop_mount(bundle, m)
    # Without a /dev mount the container has no devpts of its own: its pty comes from the
    # host's, which is not in the container's mount table, so mount it in the image's /dev.
    bundle.config["mounts"].append({
        "destination": "/dev/pts", "type": "devpts", "source": "devpts",
        "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]})
    bundle.write()


@pytest.mark.parametrize("planted", ["canary", "core_pattern", "file", "dir-link"])
def test_images_own_console_is_ignored(berth, bundle, console, tmp_path, planted):
    canary = make_canary(tmp_path / "outside")
    before = snapshot(canary)
    _no_dev_mounts(bundle)
    target = os.path.join(bundle.rootfs, "dev", "console")
    if planted == "canary":
        os.symlink(os.path.join(canary, "canary"), target)
    elif planted == "core_pattern":
        os.symlink("/proc/sys/kernel/core_pattern", target)
    elif planted == "file":
        with open(target, "w") as f:
            f.write("image file\n")
    else:
        os.symlink(canary, target)
    out = run_with_terminal(berth, bundle, console, SCRIPT)
    lines, mounts = _parse(out)
    devs = dict(l.split(" ", 1) for l in lines[:3])
    assert devs["console"] == devs["stdin"] and devs["console"].startswith("88:")
    assert mount_at(mounts, "/dev/console").fstype == "devpts"
    assert mount_at(mounts, "/proc/sys/kernel/core_pattern") is None
    assert snapshot(canary) == before
    # What the image had is replaced, not written through.
    assert not os.path.islink(target)


def test_image_console_in_dev_tmpfs_never_matters(berth, bundle, console, tmp_path):
    canary = make_canary(tmp_path / "outside")
    before = snapshot(canary)
    os.symlink(os.path.join(canary, "canary"), os.path.join(bundle.rootfs, "dev", "console"))
    out = run_with_terminal(berth, bundle, console, SCRIPT)
    lines, _ = _parse(out)
    devs = dict(l.split(" ", 1) for l in lines[:3])
    assert devs["console"] == devs["stdin"]
    assert snapshot(canary) == before
    assert os.readlink(os.path.join(bundle.rootfs, "dev", "console")) == \
        os.path.join(canary, "canary")


def test_console_without_a_devpts_of_its_own(berth, bundle, console):
    # No /dev mount and no devpts: the pty comes from the host's /dev/ptmx, and is still bound
    # over the image's /dev/console.
    for m in ("/dev/shm", "/dev/mqueue", "/dev/pts", "/dev"):
        drop_mount(bundle, m)
    out = run_with_terminal(berth, bundle, console, SCRIPT)
    lines, mounts = _parse(out)
    devs = dict(l.split(" ", 1) for l in lines[:3])
    assert devs["console"] == devs["stdin"] and devs["console"].startswith("88:")
    assert mount_at(mounts, "/dev/console").fstype == "devpts"


OWNER = "stat -c %u:%g $(tty); stat -L -c %u:%g /proc/self/fd/0 /dev/console"


@pytest.mark.parametrize("userns", [False, True])
def test_terminal_belongs_to_the_process_user(berth, bundle, console, userns):
    """As runc: the pty goes to the process's uid; its group stays the devpts's gid=5."""
    if userns:
        make_userns(bundle)
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    out = run_with_terminal(berth, bundle, console, OWNER)
    assert out.split() == ["1000:5"] * 3


def test_terminal_of_a_root_process_stays_roots(berth, bundle, console):
    out = run_with_terminal(berth, bundle, console, OWNER)
    assert out.split() == ["0:5"] * 3


def _raw_output(berth, *args):
    """berth's stdout as bytes (the fixture's reads it as text, which turns "\r\n" into
    "\n")."""
    p = subprocess.run(berth.command(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p
    return p.stdout


def test_run_relays_the_terminal_without_carriage_returns(berth, bundle):
    """As runc: a pty that `run` keeps and relays itself has ONLCR cleared, so "\n" arrives as
    "\n", not "\r\n"."""
    bundle.config["process"]["terminal"] = True
    bundle.set_args("printf", "a\\nb\\n")
    assert _raw_output(berth, "run", "-b", bundle.path, berth.new_id("tty")) == b"a\nb\n"


def test_exec_relays_the_terminal_without_carriage_returns(berth, bundle):
    bundle.set_args("sleep", "1000")
    cid = berth.new_id("exec")
    berth("run", "-d", "-b", bundle.path, cid)
    try:
        out = _raw_output(berth, "exec", "-t", cid, "printf", "a\\nb\\n")
    finally:
        berth("delete", "--force", cid)
    assert out == b"a\nb\n"


def test_console_socket_gets_the_terminal_as_the_kernel_makes_it(berth, bundle, console):
    """A master handed to --console-socket keeps ONLCR: what to do with it is the receiver's
    call (runc's recvtty clears it, engines do not)."""
    run_with_terminal(berth, bundle, console, "printf 'a\\nb\\n'")
    assert console.output == b"a\r\nb\r\n"
