"""Shared helpers of the rootfs tests: run a script in a container, read the mount table it saw,
and snapshot host directories that must stay untouched."""
import hashlib
import os
import stat
import subprocess
from dataclasses import dataclass, field

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERTH = os.environ.get("BERTH", os.path.join(TOP, "build", "berth"))
ENOSYS = os.path.join(os.path.dirname(BERTH), "tests", "helpers", "enosys")

USERNS_BASE = 100000
USERNS_SIZE = 65536


@dataclass
class Mount:
    id: int
    parent: int
    dev: str
    root: str
    target: str
    opts: set
    optional: list
    fstype: str
    source: str
    superopts: set = field(default_factory=set)

    def has_optional(self, prefix):
        return any(o.startswith(prefix) for o in self.optional)


def _unescape(s):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and len(s[i + 1:i + 4]) == 3 and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text):
    mounts = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        head, tail = line.split(" - ", 1)
        h = head.split()
        t = tail.split()
        mounts.append(Mount(
            id=int(h[0]), parent=int(h[1]), dev=h[2], root=_unescape(h[3]),
            target=_unescape(h[4]), opts=set(h[5].split(",")), optional=h[6:],
            fstype=t[0], source=_unescape(t[1]) if len(t) > 1 else "",
            superopts=set(t[2].split(",")) if len(t) > 2 else set()))
    return mounts


def mount_at(mounts, target):
    """The mount on top at `target`, or None."""
    found = [m for m in mounts if m.target == target]
    return found[-1] if found else None


def run(berth, bundle, script, *extra, check=True, global_args=()):
    """Run `sh -c script` in a new container on the bundle, wait for it, return the result.
    The script's stderr goes to its stdout, so that the shell's own messages (a redirection
    that fails) are in order with the rest."""
    bundle.set_args("sh", "-c", "exec 2>&1\n" + script)
    cid = berth.new_id()
    return berth("run", *extra, "-b", bundle.path, cid, check=check, global_args=global_args)


MOUNTINFO_MARK = "=== mountinfo ==="


def run_mounts(berth, bundle, script="", *extra):
    """Run a script, then dump /proc/self/mountinfo; returns (script output, mounts)."""
    r = run(berth, bundle, f"{script}\necho '{MOUNTINFO_MARK}'; cat /proc/self/mountinfo", *extra)
    before, after = r.out.split(MOUNTINFO_MARK + "\n", 1)
    return before, parse_mountinfo(after)


def add_mount(bundle, destination, type=None, source=None, options=None, **extra):
    m = {"destination": destination}
    if type is not None:
        m["type"] = type
    if source is not None:
        m["source"] = source
    if options is not None:
        m["options"] = list(options)
    m.update(extra)
    bundle.config["mounts"].append(m)
    bundle.write()
    return m


def drop_mount(bundle, destination):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] != destination]
    bundle.write()


def drop_namespace(bundle, ns_type):
    ns = bundle.config["linux"]["namespaces"]
    bundle.config["linux"]["namespaces"] = [n for n in ns if n["type"] != ns_type]
    bundle.write()


def add_caps(bundle, *caps):
    for k, v in bundle.config["process"]["capabilities"].items():
        if k != "inheritable":
            bundle.config["process"]["capabilities"][k] = sorted(set(v) | set(caps))
    bundle.write()


def chown_tree(path, uid, gid):
    subprocess.run(["chown", "-R", "-h", f"{uid}:{gid}", path], check=True)


def make_userns(bundle):
    """A user namespace mapping 0 -> 100000 (65536 ids), the rootfs owned by the mapped root."""
    lx = bundle.config["linux"]
    if not any(n["type"] == "user" for n in lx["namespaces"]):
        lx["namespaces"].append({"type": "user"})
    lx["uidMappings"] = [{"containerID": 0, "hostID": USERNS_BASE, "size": USERNS_SIZE}]
    lx["gidMappings"] = [{"containerID": 0, "hostID": USERNS_BASE, "size": USERNS_SIZE}]
    bundle.write()
    # Each path on the way to the rootfs must be searchable by the mapped root.
    p = bundle.rootfs
    while p != "/":
        p = os.path.dirname(p)
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            os.chmod(p, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
    chown_tree(bundle.rootfs, USERNS_BASE, USERNS_BASE)


def make_canary(path):
    """A host directory outside every bundle that no container may change."""
    os.makedirs(path)
    c = os.path.join(path, "canary")
    with open(c, "w") as f:
        f.write("canary\n")
    os.chmod(c, 0o600)
    with open(os.path.join(path, "ptmx"), "w") as f:
        f.write("marker\n")
    os.mkdir(os.path.join(path, "sub"))
    return str(path)


def snapshot(path):
    """Everything observable of a tree: type, mode, owner, size, mtime, link target, content."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [""] + dirnames + filenames:
            p = os.path.join(dirpath, name) if name else dirpath
            if p in snap:
                continue
            st = os.lstat(p)
            e = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                 st.st_size, st.st_mtime_ns)
            if stat.S_ISLNK(st.st_mode):
                e += (os.readlink(p),)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    e += (hashlib.sha256(f.read()).hexdigest(),)
            snap[p] = e
    return snap


def wrap_berth(berth, tmp_path, *prefix):
    """Make the berth fixture run its binary under a command (prefix + binary + args)."""
    wrapper = tmp_path / f"berth-wrapper-{len(os.listdir(tmp_path))}"
    words = " ".join(f'"{w}"' for w in (*prefix, berth.binary))
    wrapper.write_text(f'#!/bin/sh\nexec {words} "$@"\n')
    wrapper.chmod(0o755)
    berth.binary = str(wrapper)


def force_enosys(berth, tmp_path, *syscalls):
    """Make the berth fixture run the binary where these system calls fail with ENOSYS."""
    assert os.access(ENOSYS, os.X_OK), f"{ENOSYS} is not built"
    wrap_berth(berth, tmp_path, ENOSYS, ",".join(syscalls))


def force_no_openat2(berth, tmp_path):
    force_enosys(berth, tmp_path, "openat2")


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return parse_mountinfo(f.read())
