#!/bin/sh
# berth on a pure cgroup v2 host: runs as root inside ../shared/vm-lane (busybox sh), started by
# tests/vm/run-lane with the static berth in bin/ and a busybox rootfs in rootfs/. One PASS/FAIL
# line per check, then "N passed, N failed"; the exit status is the number of failures.
L=$(cd "$(dirname "$0")" && pwd)
B=$L/bin/berth
ROOTFS=$L/rootfs
R=/run/berth-cg2
W=/tmp/cg2-lane
CG=/sys/fs/cgroup

pass=0 fail=0
ok() { echo "PASS: [cgroup2] $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: [cgroup2] $*"; fail=$((fail + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (want '$2', got '$3')"; fi; }
get() { echo "$out" | tr -d '\r' | sed -n "s/^$1=//p" | head -n 1; }

chmod 755 "$B" "$ROOTFS/bin/busybox"
rm -rf "$W" "$R"
mkdir -p "$W"

# config DIR ARGS RESOURCES [DEVICES]
config() {
    mkdir -p "$1"
    ln -sfn "$ROOTFS" "$1/rootfs"
    cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false, "user": {"uid": 0, "gid": 0}, "args": $2,
    "env": ["PATH=/bin"], "cwd": "/",
    "capabilities": {"bounding": ["CAP_KILL", "CAP_MKNOD"], "effective": ["CAP_KILL", "CAP_MKNOD"],
                     "permitted": ["CAP_KILL", "CAP_MKNOD"]},
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": false},
  "hostname": "cg2",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                   {"type": "mount"}, {"type": "cgroup"}],
    "devices": [${4:-}],
    "resources": $3
  }
}
EOF
}

DENY='"devices": [{"allow": false, "access": "rwm"}]'

# ---- limits land in the container's own cgroup, seen through a cgroup namespace ----
config "$W/lim" '["/bin/sh", "-c", "echo mem=$(cat /sys/fs/cgroup/memory.max); echo pids=$(cat /sys/fs/cgroup/pids.max); echo cg=$(cat /proc/self/cgroup); grep \" /sys/fs/cgroup \" /proc/mounts | sed s/^/mount=/"]' \
    "{$DENY, \"memory\": {\"limit\": 33554432}, \"pids\": {\"limit\": 20}}"
out=$(cd "$W/lim" && $B --root "$R" run cg-lim </dev/null 2>&1)
check "run: exit status" 0 "$?"
check "memory.max inside" 33554432 "$(get mem)"
check "pids.max inside" 20 "$(get pids)"
check "the cgroup namespace shows the container's cgroup as /" "0::/" "$(get cg)"
case "$(get mount)" in *cgroup2*ro,*|*cgroup2*" ro"*) ok "cgroup2 mounted read-only" ;; *) bad "cgroup2 mount: $(get mount)" ;; esac
check "the cgroup is removed after run" "" "$(find $CG -name cg-lim)"

# ---- enforcement ----
config "$W/oom" '["/bin/sh", "-c", "x=y; while true; do x=$x$x; done"]' \
    "{$DENY, \"memory\": {\"limit\": 8388608, \"swap\": 8388608}}"
(cd "$W/oom" && $B --root "$R" run cg-oom </dev/null >/dev/null 2>&1)
check "memory limit: the process is OOM-killed (137)" 137 "$?"

config "$W/pids" '["/bin/sh", "-c", "sleep 5 & sleep 5 & sleep 5 & echo started"]' \
    "{$DENY, \"pids\": {\"limit\": 3}}"
out=$(cd "$W/pids" && $B --root "$R" run cg-pids </dev/null 2>&1)
case "$out" in *"can't fork"*) ok "pids limit stops forks" ;; *) bad "pids limit: $out" ;; esac

# ---- device rules: an eBPF program on v2 ----
config "$W/dev" '["/bin/sh", "-c", "echo null=$(echo x >/dev/null && echo ok); echo fuse=$(cat /dev/fuse 2>&1 && echo open)"]' \
    "{$DENY}" '{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438}'
out=$(cd "$W/dev" && $B --root "$R" run cg-dev </dev/null 2>&1)
check "default devices allowed (/dev/null)" ok "$(get null)"
case "$(get fuse)" in *"ermission denied"*|*"ot permitted"*) ok "a device outside the rules is refused" ;; *) bad "device rule: $(get fuse)" ;; esac

# ---- a running container: pause, exec, update, ps, delete ----
config "$W/run" '["/bin/sleep", "600"]' "{$DENY, \"memory\": {\"limit\": 67108864}}"
(cd "$W/run" && $B --root "$R" run -d cg-run </dev/null >/dev/null 2>&1)
check "run -d" 0 "$?"
dir=$(dirname "$(find $CG -name cg-run -type d | head -n 1)")/cg-run
[ -d "$dir" ] && ok "the container's cgroup exists: $dir" || bad "no cgroup directory for cg-run"
$B --root "$R" pause cg-run
check "pause: cgroup.freeze" 1 "$(cat $dir/cgroup.freeze)"
check "pause: state" paused "$($B --root "$R" state cg-run | sed -n 's/.*"status": "\(.*\)".*/\1/p')"
$B --root "$R" resume cg-run
check "resume: cgroup.freeze" 0 "$(cat $dir/cgroup.freeze)"
out=$($B --root "$R" exec cg-run /bin/sh -c 'echo cg=$(cat /proc/self/cgroup)' </dev/null 2>&1)
check "exec joins the container's cgroup" "0::/" "$(get cg)"
$B --root "$R" update --memory 32m --pids-limit 9 cg-run
check "update: memory.max" 33554432 "$(cat $dir/memory.max)"
check "update: pids.max" 9 "$(cat $dir/pids.max)"
check "ps lists the init" 1 "$($B --root "$R" ps --format json cg-run | tr ',' '\n' | grep -c '[0-9]')"
$B --root "$R" kill cg-run KILL
i=0
while $B --root "$R" state cg-run | grep -q running && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
$B --root "$R" delete cg-run
check "delete" 0 "$?"
check "delete removes the cgroup" "" "$(find $CG -name cg-run)"
check "no container left" "" "$(ls $R 2>/dev/null | grep -v '^\.')"

echo "$pass passed, $fail failed"
exit $fail
