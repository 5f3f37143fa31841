#!/bin/sh
# berth's SELinux labels under a real SELinux kernel: runs as root inside ../shared/vm-lane
# (busybox sh), started by tests/vm/run-lane, which puts the static berth in bin/, a busybox
# rootfs in rootfs/ and the keylabel helper in bin/. The kernel command line decides the mode
# (enforcing=1 or permissive). One PASS/FAIL line per check, then "N passed, N failed"; the exit
# status is the number of failures.
L=$(cd "$(dirname "$0")" && pwd)
B=$L/bin/berth
ROOTFS=$L/rootfs
R=/run/berth-lane
W=/tmp/label-lane
mode=permissive
[ "$(cat /sys/fs/selinux/enforce 2>/dev/null)" = 1 ] && mode=enforcing

pass=0 fail=0
ok() { echo "PASS: [$mode] $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: [$mode] $*"; fail=$((fail + 1)); }
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (want '$2', got '$3')"; fi
}
contains() { # contains NAME NEEDLE HAYSTACK
    case "$3" in *"$2"*) ok "$1" ;; *) bad "$1 ('$2' not in '$3')" ;; esac
}
xattr() { lanetool lgetxattr "$1" security.selinux 2>/dev/null; }
# get KEY: the value of KEY=... in $out
get() { echo "$out" | tr -d '\r' | sed -n "s/^$1=//p" | head -n 1; }

# Static binaries come without their x bit (see tests/vm/run-lane).
chmod 755 "$B" "$L/bin/keylabel" "$ROOTFS/bin/busybox"
rm -rf "$W" "$R"
mkdir -p "$W"
cp /bin/lanetool "$L/bin/keylabel" "$ROOTFS/bin/"
mkdir -p "$ROOTFS/masked" "$ROOTFS/z" "$ROOTFS/Z"

# What a container reports about itself.
cat >"$ROOTFS/probe.sh" <<'EOF'
echo "label=$(tr -d '\0' </proc/self/attr/current)"
echo "pid1=$(tr -d '\0' </proc/1/attr/current)"
touch /tmp/f /dev/f /dev/shm/f
echo "tmp=$(lanetool getxattr /tmp/f security.selinux)"
echo "dev=$(lanetool getxattr /dev/f security.selinux)"
echo "shm=$(lanetool getxattr /dev/shm/f security.selinux)"
exec 3<>/dev/pts/ptmx
echo "newpty=$(ls /dev/pts | grep -v ptmx | tail -n 1)"
echo "pts=$(lanetool getxattr /dev/pts/$(ls /dev/pts | grep -v ptmx | tail -n 1) security.selinux)"
exec 3>&-
echo "console=$(lanetool getxattr /dev/console security.selinux)"
echo "mq=$(lanetool getxattr /dev/mqueue security.selinux)"
echo "mqmount=$(grep ' /dev/mqueue ' /proc/mounts)"
echo "tmpmount=$(grep ' /tmp ' /proc/mounts)"
echo "masked=$(lanetool getxattr /masked security.selinux)"
[ -e /z/f ] && echo "zf=$(lanetool getxattr /z/f security.selinux)"
[ -e /Z/h ] && echo "Zh=$(lanetool getxattr /Z/h security.selinux)"
keylabel
echo "nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status)"
EOF

# config DIR ARGS TERMINAL NNP PROCESS_LABEL MOUNT_LABEL [EXTRA_MOUNTS]
# (NO_DEVPTS=1: no devpts of the container's own, its console comes from the host's)
config() {
    devpts='    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},'
    [ "${NO_DEVPTS:-0}" = 1 ] && devpts=""
    mkdir -p "$1"
    cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": $3,
    "user": {"uid": 0, "gid": 0},
    "args": $2,
    "env": ["PATH=/bin"],
    "cwd": "/",
    "noNewPrivileges": $4,
    "selinuxLabel": "$5"
  },
  "root": {"path": "$ROOTFS"},
  "hostname": "lane",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
$devpts
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}$7
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                   {"type": "network"}],
    "maskedPaths": ["/masked", "/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "$6"
  }
}
EOF
}

# ---- the labels a container gets ----
alloc=$($B --root "$R" label allocate 2>&1)
PL=$(echo "$alloc" | sed -n 's/.*"processLabel": "\(.*\)".*/\1/p')
ML=$(echo "$alloc" | sed -n 's/.*"mountLabel": "\(.*\)".*/\1/p')
LEVEL=${PL#*:*:*:}
SHARED=${ML%:*}
pair=${LEVEL#s0:}
echo "labels: $PL / $ML"
contains "allocate: process label is container_t with an MCS pair" "system_u:system_r:container_t:s0:c" "$PL"
check "allocate: mount label has the same level" "system_u:object_r:container_file_t:$LEVEL" "$ML"
check "allocate: the policy knows the process label" 0 "$(lanetool checkcon "$PL" 2>/dev/null; echo $?)"
check "allocate: the policy knows the mount label" 0 "$(lanetool checkcon "$ML" 2>/dev/null; echo $?)"
check "allocate: pair reserved under the root" 1 "$(ls "$R/.labels" | grep -cx "$pair")"
second=$($B --root "$R" label allocate | sed -n 's/.*"processLabel": "\(.*\)".*/\1/p')
[ -n "$second" ] && [ "$second" != "$PL" ] && ok "allocate: a second container gets another pair" ||
    bad "allocate: a second container gets another pair ($second)"
$B --root "$R" label release "$second"

# ---- run: mounts, console, process, keyring ----
config "$W/run" '["/bin/sh", "/probe.sh"]' true false "$PL" "$ML"
out=$(cd "$W/run" && $B --root "$R" run lane-run </dev/null 2>&1)
rc=$?
echo "$out" | sed 's/^/  | /'
check "run: exit status" 0 "$rc"
check "run: process label (attr/current)" "$PL" "$(get label)"
check "run: /proc/1/attr/current inside" "$PL" "$(get pid1)"
check "tmpfs mount label (file created in /tmp)" "$ML" "$(get tmp)"
check "tmpfs /dev mount label (file created in /dev)" "$ML" "$(get dev)"
check "/dev/shm mount label (file created in it)" "$ML" "$(get shm)"
check "devpts mount label (pty opened inside)" "$ML" "$(get pts)"
check "/dev/console label" "$ML" "$(get console)"
check "mqueue label (setxattr fallback)" "$ML" "$(get mq)"
case "$(get mqmount)" in
    *context=*) bad "mqueue mounted without context= ($(get mqmount))" ;;
    *mqueue*) ok "mqueue mounted without context=" ;;
    *) bad "mqueue mounted without context= (no mqueue mount)" ;;
esac
contains "tmpfs mounted with context=\"...\"" "context=\"$ML\"" "$(get tmpmount)"
check "masked directory tmpfs label" "$ML" "$(get masked)"
check "session keyring of the container" "_ses.lane-run" "$(get keyring)"
check "session keyring label (attr/keycreate)" "$PL" "$(get keylabel)"
check "delete gave the pair back" 0 "$(ls "$R/.labels" | grep -cx "$pair")"

# ---- the console from the host's devpts: only berth's setxattr can have labelled it ----
cat >"$ROOTFS/console.sh" <<'EOF'
echo "console=$(lanetool getxattr /dev/console security.selinux)"
echo "devpts=$(grep -c ' /dev/pts ' /proc/mounts)"
EOF
NO_DEVPTS=1 config "$W/con" '["/bin/sh", "/console.sh"]' true false "$PL" "$ML"
out=$(cd "$W/con" && $B --root "$R" run lane-con </dev/null 2>&1)
rc=$?
echo "$out" | sed 's/^/  | /'
check "console from the host's devpts: exit status" 0 "$rc"
check "console from the host's devpts: no devpts mount inside" 0 "$(get devpts)"
if [ $mode = permissive ]; then
    check "console from the host's devpts: /dev/console label" "$ML" "$(get console)"
else
    # The lane's policy lets no container_file_t file live on the host's devpts (filesystem
    # associate is denied): berth warns and the pty keeps the label the policy gave it.
    case "$(get console)" in
        "$ML") ok "console from the host's devpts: /dev/console label" ;;
        *:devpts_t:*) contains "console from the host's devpts: refused label, warned" \
            "console: set the SELinux label of /dev/pts/" "$out" ;;
        *) bad "console from the host's devpts: /dev/console label ($(get console))" ;;
    esac
fi

# ---- create + start: the label of the container's pid 1, seen from outside ----
config "$W/cs" '["/bin/sleep", "60"]' false false "$PL" "$ML"
(cd "$W/cs" && $B --root "$R" create lane-cs </dev/null >"$W/cs.out" 2>&1)
check "create: exit status" 0 "$?"
pid=$($B --root "$R" state lane-cs | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
check "create: state.json records the labels" 1 \
    "$(grep -c "\"label\":{\"process\":\"$PL\",\"mount\":\"$ML\"}" "$R/lane-cs/state.json")"
# Until start, the init is still the runtime: the label comes with the exec.
check "create: the waiting init still has the runtime's label" "$(tr -d '\0' </proc/self/attr/current)" \
    "$(tr -d '\0' </proc/$pid/attr/current)"
$B --root "$R" start lane-cs
check "start: exit status" 0 "$?"
i=0
while [ "$(tr -d '\0' </proc/$pid/attr/current)" != "$PL" ] && [ $i -lt 50 ]; do
    usleep 100000
    i=$((i + 1))
done
check "start: /proc/PID/attr/current of the container" "$PL" "$(tr -d '\0' </proc/$pid/attr/current)"
out=$($B --root "$R" exec lane-cs /bin/sh -c 'echo "label=$(tr -d "\0" </proc/self/attr/current)"' </dev/null 2>&1)
check "exec: exit status" 0 "$?"
check "exec: the exec'd process has the container's label" "$PL" "$(get label)"
OL="system_u:system_r:container_t:s0:c7,c8"
out=$($B --root "$R" exec --process-label "$OL" lane-cs /bin/sh -c 'echo "label=$(tr -d "\0" </proc/self/attr/current)"' </dev/null 2>&1)
check "exec --process-label: the asked label" "$OL" "$(get label)"
$B --root "$R" delete --force lane-cs
check "delete --force" 0 "$?"

# ---- noNewPrivileges with a label ----
config "$W/nnp" '["/bin/sh", "/probe.sh"]' false true "$PL" "$ML"
out=$(cd "$W/nnp" && $B --root "$R" run lane-nnp </dev/null 2>&1)
rc=$?
check "noNewPrivileges + label: exit status" 0 "$rc"
check "noNewPrivileges + label: no_new_privs is set" 1 "$(get nnp)"
check "noNewPrivileges + label: process label" "$PL" "$(get label)"

# ---- z and Z on host directories ----
mkdir -p "$W/zdir/sub" "$W/Zdir"
echo f >"$W/zdir/f"
echo g >"$W/zdir/sub/g"
echo h >"$W/Zdir/h"
echo canary >"$W/canary"
ln -s "$W/canary" "$W/zdir/link"
canary=$(xattr "$W/canary")
config "$W/z" '["/bin/sh", "/probe.sh"]' false false "$PL" "$ML" ',
    {"destination": "/z", "type": "bind", "source": "'"$W/zdir"'", "options": ["rbind", "z"]},
    {"destination": "/Z", "type": "bind", "source": "'"$W/Zdir"'", "options": ["rbind", "Z"]}'
out=$(cd "$W/z" && $B --root "$R" run lane-z </dev/null 2>&1)
rc=$?
check "z/Z: exit status" 0 "$rc"
check "z: the source directory gets the shared label (s0)" "$SHARED" "$(xattr "$W/zdir")"
check "z: a nested file" "$SHARED" "$(xattr "$W/zdir/sub/g")"
check "z: a symlink is labelled itself" "$SHARED" "$(xattr "$W/zdir/link")"
check "z: the symlink's target keeps its label" "$canary" "$(xattr "$W/canary")"
check "z: seen from the container" "$SHARED" "$(get zf)"
check "Z: the source directory gets the container's label" "$ML" "$(xattr "$W/Zdir")"
check "Z: a file" "$ML" "$(xattr "$W/Zdir/h")"
check "Z: seen from the container" "$ML" "$(get Zh)"

# ---- refusals ----
config "$W/etc" '["/bin/true"]' false false "$PL" "$ML" ',
    {"destination": "/z", "type": "bind", "source": "/etc", "options": ["rbind", "z"]}'
etc_label=$(xattr /etc)
out=$(cd "$W/etc" && $B --root "$R" run lane-etc </dev/null 2>&1)
rc=$?
check "z on /etc is refused: exit status" 1 "$rc"
contains "z on /etc is refused: message" "relabel /etc: refused: /etc is a system directory" "$out"
check "z on /etc is refused: /etc keeps its label" "$etc_label" "$(xattr /etc)"

config "$W/zZ" '["/bin/true"]' false false "$PL" "$ML" ',
    {"destination": "/z", "type": "bind", "source": "'"$W/zdir"'", "options": ["bind", "z", "Z"]}'
out=$(cd "$W/zZ" && $B --root "$R" run lane-zz </dev/null 2>&1)
contains "z and Z together are refused" '"z" and "Z" cannot both be given' "$out"

config "$W/bad" '["/bin/true"]' false false "system_u:system_r:nosuch_t:s0" "$ML"
out=$(cd "$W/bad" && $B --root "$R" run lane-bad </dev/null 2>&1)
contains "a label the policy does not know is refused" \
    'process.selinuxLabel: "system_u:system_r:nosuch_t:s0" is not a valid context in the loaded SELinux policy' "$out"

config "$W/syntax" '["/bin/true"]' false false "$PL" "system_u:object_r:container_file_t:s0:c1024"
out=$(cd "$W/syntax" && $B --root "$R" run lane-syntax </dev/null 2>&1)
contains "a label with a bad category is refused" 'category "c1024" is not one of c0..c1023' "$out"

check "no container left behind" "" "$($B --root "$R" list -q)"

# What the policy refused, for whoever reads a failure.
[ $fail = 0 ] || dmesg | grep -a 'avc: ' | tail -n 20 | sed 's/^/  avc: /'
echo "$pass passed, $fail failed"
exit $fail
