# shellcheck shell=bash
# Common code of the engine compatibility tests: sourced by tests/compat/ENGINE.sh.
#
# Each test makes one temporary directory ($T), starts what it needs with its state there,
# runs exercises with `check NAME FUNCTION [ARG...]`, and calls `compat_finish`, which undoes
# everything (also on an early exit, through the EXIT trap) and prints "N passed, N failed".
#
# environment:
#   BERTH              the berth binary (default: build/berth of this checkout)
#   COMPAT_KEEP_LOGS   a directory to copy the test's logs into (the engines' logs, every
#                      berth command line an engine sent), kept after the run
#   COMPAT_TIMEOUT     seconds any one engine command may take (default 60)
#   COMPAT_TRACE       set: trace each exercise (set -x) into its log

set -uo pipefail

COMPAT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BERTH=${BERTH:-$COMPAT_TOP/build/berth}
COMPAT_TIMEOUT=${COMPAT_TIMEOUT:-60}

compat_name=
compat_pass=0
compat_fail=0
compat_cleanups=()
compat_globals=()
compat_finished=0
T=

compat_log() { printf '%s\n' "$*" >&2; }

# compat_init NAME: root check, the temporary directory, the EXIT trap, the berth binary.
compat_init() {
    compat_name=$1
    if [ "$(id -u)" != 0 ]; then
        compat_log "$compat_name: must run as root"
        exit 2
    fi
    if [ ! -x "$BERTH" ]; then
        compat_log "$compat_name: no berth binary at $BERTH (build it, or set BERTH)"
        exit 2
    fi
    BERTH=$(realpath "$BERTH")
    T=$(mktemp -d "/tmp/berth-compat-$compat_name.XXXXXX")
    chmod 755 "$T"
    # A short unique tag for names the host shares: cgroups, namespaces, containers.
    COMPAT_TAG=berth-compat-$compat_name-${T##*.}
    mkdir -p "$T/bin" "$T/log" "$T/ex"
    trap compat_on_exit EXIT
    trap 'exit 130' INT TERM HUP
    compat_started=$(date +%s.%N)
}

# at_exit COMMAND...: run COMMAND when the test ends, last registered first.
at_exit() {
    compat_cleanups+=("$*")
}

# track_global PATH...: paths outside $T that an engine creates on its own, wherever it is
# told to keep its state (a socket directory under /run, a cache under /var/lib). Each one that
# did not exist before the test is removed afterwards.
track_global() {
    local p
    for p in "$@"; do
        [ -e "$p" ] || compat_globals+=("$p")
    done
}

# need_packages PKG...: install the Debian packages that are missing. Their services (docker,
# containerd) are not started on the way: a policy-rc.d refuses them while apt runs, unless the
# host has its own.
need_packages() {
    local p missing=0
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing=1
    done
    [ $missing = 1 ] || return 0
    local policy=/usr/sbin/policy-rc.d ours=0
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' >$policy
        chmod 755 $policy
        ours=1
        at_exit "rm -f $policy"
    fi
    "$COMPAT_TOP/scripts/ensure-packages" "$@" >&2
    local rc=$?
    [ $ours = 0 ] || rm -f $policy
    if [ $rc != 0 ]; then
        compat_log "$compat_name: cannot install $*"
        exit 2
    fi
}

# in_time COMMAND...: COMMAND under the per-command time limit, its stdin closed.
in_time() {
    timeout -k 5 "$COMPAT_TIMEOUT" "$@" </dev/null
}

# check NAME FUNCTION [ARG...]: one exercise. FUNCTION runs in a subshell with its output in
# a log file, shown under the FAIL line; PASS when it returns 0.
check() {
    local name=$1
    shift
    local n=$((compat_pass + compat_fail + 1))
    local log=$T/ex/$n.log
    # Not in an `if`: set -e would be ignored in the whole subshell.
    (
        set -e
        [ -z "${COMPAT_TRACE:-}" ] || set -x
        "$@"
    ) >"$log" 2>&1 </dev/null
    if [ $? = 0 ]; then
        compat_pass=$((compat_pass + 1))
        printf 'PASS: %s: %s\n' "$compat_name" "$name"
    else
        compat_fail=$((compat_fail + 1))
        printf 'FAIL: %s: %s\n' "$compat_name" "$name"
        tail -n 25 "$log" | sed 's/^/    | /'
    fi
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" != "$3" ]; then
        printf '%s: expected [%s], got [%s]\n' "$1" "$2" "$3"
        return 1
    fi
}

# expect_match WHAT EXTENDED-REGEX ACTUAL
expect_match() {
    if ! printf '%s' "$3" | grep -Eq -- "$2"; then
        printf '%s: expected a match for /%s/, got [%s]\n' "$1" "$2" "$3"
        return 1
    fi
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local limit=$1
    shift
    local end=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.1
    done
}

# make_berth_wrapper PATH [ARG...]: an executable that logs each command line an engine sends
# to $T/log/berth-calls.log and runs berth with ARG... first (podman, for one, passes no
# --root, and the test's state must stay in $T).
make_berth_wrapper() {
    local path=$1
    shift
    {
        echo '#!/bin/sh'
        printf 'printf "%%s\\n" "berth %s$*" >>%s\n' "${*:+$* }" "$T/log/berth-calls.log"
        printf 'exec %s' "$BERTH"
        local a
        for a in "$@"; do printf ' %q' "$a"; done
        printf ' "$@"\n'
    } >"$path"
    chmod 755 "$path"
}

# make_runc_trap DIR: a `runc` in DIR that fails loudly, for the PATH of engines that fall back
# to plain runc when they drop the runtime binary they were given. `runc --version` answers, so
# that an engine's version probe does not fill its log with warnings.
make_runc_trap() {
    mkdir -p "$1"
    cat >"$1/runc" <<EOF
#!/bin/sh
if [ "\$*" = --version ]; then echo "runc version 0.0.0 (berth compat trap)"; exit 0; fi
echo "plain runc called: \$*" >>"$T/log/plain-runc.log"
echo "berth compat: plain runc was called instead of berth: \$*" >&2
exit 99
EOF
    chmod 755 "$1/runc"
}

# A check that the trap never fired.
plain_runc_never_ran() {
    if [ -s "$T/log/plain-runc.log" ]; then
        cat "$T/log/plain-runc.log"
        return 1
    fi
}

# make_rootfs_tar OUT: a busybox root filesystem (scripts/mkrootfs) as a tarball.
make_rootfs_tar() {
    need_packages busybox-static
    rm -rf "$T/rootfs"
    "$COMPAT_TOP/scripts/mkrootfs" "$T/rootfs"
    tar -C "$T/rootfs" --numeric-owner -cf "$1" .
}

# make_oci_archive LAYER_TAR OUT NAME[=USER]...: an OCI image layout as a tar archive, one
# image per NAME (with the ref name its tag), all sharing LAYER_TAR as their one layer; NAME=USER
# sets the image's config.User. `ctr images import` reads it.
make_oci_archive() {
    local layer=$1 out=$2
    shift 2
    local d=$T/oci
    rm -rf "$d"
    mkdir -p "$d/blobs/sha256"
    local arch diffid
    arch=$(dpkg --print-architecture)
    diffid=$(sha256sum "$layer" | cut -d' ' -f1)
    gzip -n -c "$layer" >"$d/blob"
    local lh ls
    read -r lh ls < <(oci_blob "$d")
    local manifests=() spec name user
    for spec in "$@"; do
        name=${spec%%=*}
        user=
        [ "$name" = "$spec" ] || user=${spec#*=}
        printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/bin"],"User":"%s"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
            "$arch" "$user" "$diffid" >"$d/blob"
        local ch cs mh ms
        read -r ch cs < <(oci_blob "$d")
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
            "$ch" "$cs" "$lh" "$ls" >"$d/blob"
        read -r mh ms < <(oci_blob "$d")
        manifests+=("$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}' \
            "$mh" "$ms" "$arch" "$name" "${name##*:}")")
    done
    local IFS=,
    printf '{"schemaVersion":2,"manifests":[%s]}' "${manifests[*]}" >"$d/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
    tar -C "$d" -cf "$out" oci-layout index.json blobs
    rm -rf "$d"
}

# Move $1/blob to its content address; print "HEX SIZE".
oci_blob() {
    local h s
    h=$(sha256sum "$1/blob" | cut -d' ' -f1)
    s=$(stat -c %s "$1/blob")
    mv "$1/blob" "$1/blobs/sha256/$h"
    echo "$h $s"
}

# The pids of processes whose command line or working directory names $T: what the test
# started (daemons, shims, conmon) and still runs.
compat_own_pids() {
    local p cmd
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
        cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
        case "$cmd" in
        *"$T"*) echo "$p" ;;
        *) case "$(readlink "/proc/$p/cwd" 2>/dev/null)" in "$T"*) echo "$p" ;; esac ;;
        esac
    done
}

compat_cleanup() {
    local i
    for ((i = ${#compat_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${compat_cleanups[$i]}" >>"$T/log/cleanup.log" 2>&1 || true
    done
    compat_cleanups=()
}

# What the test left behind: processes, mounts, cgroups, paths outside $T. Each is undone and
# printed; the return status says whether there was any.
compat_leftovers() {
    local found=0 p m
    local pids
    pids=$(compat_own_pids)
    if [ -n "$pids" ]; then
        found=1
        for p in $pids; do
            echo "process left running: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
            kill -KILL "$p" 2>/dev/null || true
        done
        sleep 0.5
    fi
    # Deepest first, so that nested mounts come off before their parents.
    for m in $(awk -v t="$T" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
        found=1
        echo "mount left: $m"
        umount -l "$m" 2>/dev/null || true
    done
    # Engines make a parent cgroup (and podman one for conmon) that they never remove: those
    # go quietly. Any other cgroup below a tagged one is a container's that was not removed.
    local cg d
    for cg in $(find /sys/fs/cgroup -depth -type d -name "*$COMPAT_TAG*" 2>/dev/null); do
        for d in $(find "$cg" -mindepth 1 -depth -type d 2>/dev/null); do
            case " ${COMPAT_CGROUP_EXPECTED[*]:-} " in *" $(basename "$d") "*) continue ;; esac
            found=1
            echo "cgroup left: $d"
        done
        for p in $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null); do
            found=1
            echo "process left in cgroup $cg: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
            kill -KILL "$p" 2>/dev/null || true
        done
        find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.5
        find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    # Paths the engine made outside $T on its own: the test made them, the test removes them.
    for p in "${compat_globals[@]}"; do
        rm -rf "$p"
    done
    return $found
}

compat_keep_logs() {
    [ -n "${COMPAT_KEEP_LOGS:-}" ] || return 0
    rm -rf "${COMPAT_KEEP_LOGS:?}/$compat_name"
    mkdir -p "$COMPAT_KEEP_LOGS/$compat_name"
    cp -a "$T/log/." "$COMPAT_KEEP_LOGS/$compat_name/" 2>/dev/null
    cp -a "$T/ex" "$COMPAT_KEEP_LOGS/$compat_name/exercises" 2>/dev/null
}

compat_on_exit() {
    local rc=$?
    [ "$compat_finished" = 1 ] && return
    compat_cleanup
    compat_leftovers >&2
    compat_keep_logs
    rm -rf "$T"
    compat_log "$compat_name: stopped early (status $rc); $compat_pass passed, $compat_fail failed"
    exit $((rc ? rc : 1))
}

# compat_finish: clean up, check that nothing was left behind (one more exercise), print the
# summary and exit with its status.
compat_finish() {
    compat_cleanup
    check "everything it started is stopped and removed" compat_leftovers
    compat_keep_logs
    compat_finished=1
    rm -rf "$T"
    local now
    now=$(date +%s.%N)
    awk -v n="$compat_name" -v a="$compat_started" -v b="$now" \
        'BEGIN { printf "%s: %.1f s\n", n, b - a }'
    printf '%d passed, %d failed\n' "$compat_pass" "$compat_fail"
    [ "$compat_fail" = 0 ]
    exit
}
