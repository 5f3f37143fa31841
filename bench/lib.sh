# Shared by the bench scripts: root and namespace set-up, a fresh ext4 on a loop device, cache
# warming, timing and tree comparison. Source it after setting `name` (the script's name).
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
berth=$(realpath "${1:-${BERTH:-$top/build/berth}}")
cache=${BENCH_CACHE:-/var/tmp/berth-bench}
rounds=${ROUNDS:-3}
py=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "$name: run as root" >&2; exit 1; }
[ -x "$berth" ] || { echo "$name: no berth binary at $berth" >&2; exit 1; }

# Run in a private mount namespace: the loop mount below can be neither unmounted by another
# process nor left behind if the script is killed.
if [ -z "${BERTH_BENCH_NS:-}" ]; then
    exec unshare -m --propagation private env BERTH_BENCH_NS=1 "$0" "$berth"
fi

work=$(mktemp -d "/var/tmp/berth-$name.XXXXXX")
mnt=$work/mnt
mounted=
cleanup() {
    set +e
    if [ -n "$mounted" ]; then
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A fresh ext4 (no earlier deletion slows its inode allocation), or $work itself without loop.
fresh_fs() {
    truncate -s "${1:-40G}" "$work/fs.img"
    mkfs.ext4 -q -F "$work/fs.img"
    mkdir -p "$mnt"
    if mount -o loop "$work/fs.img" "$mnt"; then
        mounted=1
        echo "file system: fresh ext4 on a loop device ($mnt)"
    else
        rm -f "$work/fs.img"
        echo "file system: $(df --output=fstype "$work" | tail -1) at $work (no loop device)"
    fi
    echo "berth: $berth; $(nproc) cpus; $rounds rounds, medians"
}

make_debian() {
    local dest=$1
    [ -d "$dest" ] && return 0
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    echo "building a Debian rootfs in $dest (debootstrap, a few minutes)"
    rm -rf "$dest.tmp"
    if debootstrap --variant=minbase bookworm "$dest.tmp" http://deb.debian.org/debian \
        >"$cache/debootstrap.log" 2>&1; then
        mv "$dest.tmp" "$dest"
    else
        echo "debootstrap failed (see $cache/debootstrap.log): the Debian tree is skipped" >&2
        rm -rf "$dest.tmp"
        return 1
    fi
}

now() { date +%s.%N; }

# prepare SRC: sync, drop caches, then read the whole source once
prepare() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
    (cd "$1" && tar -cf - . 2>/dev/null | cat >/dev/null)
    sync
}

# timed NAME CMD...: prints "<command seconds> <sync seconds>"
timed() {
    local t0 t1 t2
    t0=$(now)
    "$@"
    t1=$(now)
    sync
    t2=$(now)
    echo "$t0 $t1 $t2" | awk '{printf "%.3f %.3f\n", $2 - $1, $3 - $2}'
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

tree_compare() {
    $py - "$1" "$2" <<'PY'
import os, stat, sys
src, dst = sys.argv[1], sys.argv[2]
check_atime = os.environ.get("COMPARE_ATIME", "1") == "1"
bad = []
links = {}
n = 0
def xattrs(p):
    return {k: os.getxattr(p, k, follow_symlinks=False)
            for k in os.listxattr(p, follow_symlinks=False) if k != "security.selinux"}
for dirpath, dirs, files in os.walk(src):
    rel = os.path.relpath(dirpath, src)
    for name in [""] + dirs + files if rel == "." else dirs + files:
        a = os.path.join(dirpath, name) if name else src
        b = os.path.join(dst, os.path.relpath(a, src))
        n += 1
        try:
            sa, sb = os.lstat(a), os.lstat(b)
        except FileNotFoundError:
            bad.append(f"missing: {b}"); continue
        what = []
        if sa.st_mode != sb.st_mode: what.append(f"mode {sa.st_mode:o} != {sb.st_mode:o}")
        if (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid): what.append("owner")
        if sa.st_mtime_ns != sb.st_mtime_ns: what.append("mtime")
        if stat.S_ISREG(sa.st_mode) and sa.st_atime_ns != sb.st_atime_ns and check_atime:
            what.append("atime")
        if sa.st_nlink != sb.st_nlink and not stat.S_ISDIR(sa.st_mode): what.append("nlink")
        if xattrs(a) != xattrs(b): what.append("xattrs")
        if stat.S_ISLNK(sa.st_mode) and os.readlink(a) != os.readlink(b): what.append("target")
        if stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
            if sa.st_rdev != sb.st_rdev: what.append("rdev")
        if stat.S_ISREG(sa.st_mode):
            if sa.st_size != sb.st_size: what.append("size")
            if sb.st_blocks > sa.st_blocks: what.append(f"holes ({sb.st_blocks} > {sa.st_blocks} blocks)")
            if sa.st_nlink > 1:
                key = (sa.st_dev, sa.st_ino)
                if links.setdefault(key, sb.st_ino) != sb.st_ino: what.append("hardlink split")
            fa = os.open(a, os.O_RDONLY | os.O_NOATIME); fb = os.open(b, os.O_RDONLY | os.O_NOATIME)
            try:
                pos = 0
                while pos < sa.st_size:
                    try:
                        d = os.lseek(fa, pos, os.SEEK_DATA)
                    except OSError:
                        break
                    h = os.lseek(fa, d, os.SEEK_HOLE)
                    while d < h:
                        k = min(h - d, 1 << 20)
                        if os.pread(fa, k, d) != os.pread(fb, k, d):
                            what.append("data"); break
                        d += k
                    pos = h
            finally:
                os.close(fa); os.close(fb)
        if what:
            bad.append(f"{b}: {', '.join(what)}")
if bad:
    print(f"verify: {len(bad)} differences in {n} entries")
    for line in bad[:20]:
        print("  " + line)
    sys.exit(1)
print(f"verify: OK, {n} entries identical (owners, modes, xattrs, hardlinks, holes, "
      f"ns times, symlink targets, devices, data)")
PY
}

