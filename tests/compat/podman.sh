#!/bin/bash
# podman (Debian's 4.3, through conmon) with berth as its OCI runtime, on a busybox image
# imported from a local tarball. Storage, run and config dirs are the test's own.
. "$(dirname "$0")/lib.sh"
compat_init podman
need_packages podman conmon busybox-static

IMAGE=localhost/berth-compat/busybox:latest
CGROUP_PARENT=/$COMPAT_TAG
# shellcheck disable=SC2034 # read by lib.sh
COMPAT_CGROUP_EXPECTED=(conmon)

make_berth_wrapper "$T/bin/berth" --root "$T/berth-state"
# runc's --log-format=json and --log come only to runtimes named in runtime_supports_json.
# podman asks for nofile and nproc limits of 1048576 by default: raising a hard limit needs
# CAP_SYS_RESOURCE, which root may lack (in a container, say). Stay below the current limits
# (podman lowers its own nproc limit to 32768 before it starts conmon).
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] || [ "$NOFILE" -gt 4096 ] && NOFILE=4096
cat >"$T/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=4096:4096"]

[network]
network_config_dir = "$T/net.d"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
conmon_path = ["/usr/bin/conmon"]
runtime = "berth"
runtime_supports_json = ["berth"]
tmp_dir = "$T/tmp"
volume_path = "$T/volumes"

[engine.runtimes]
berth = ["$T/bin/berth"]
EOF
cat >"$T/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$T/storage"
runroot = "$T/run"
EOF
: >"$T/registries.conf"
export CONTAINERS_CONF=$T/containers.conf
export CONTAINERS_STORAGE_CONF=$T/storage.conf
export CONTAINERS_REGISTRIES_CONF=$T/registries.conf
track_global /var/lib/containers /run/libpod /run/containers /etc/cni/net.d/cni.lock

P=(podman --root "$T/storage" --runroot "$T/run" --storage-driver vfs --tmpdir "$T/tmp"
   --cgroup-manager cgroupfs --events-backend file --runtime berth)
pm() { in_time "${P[@]}" "$@"; }
prun() { pm run --pull=never --cgroup-parent="$CGROUP_PARENT" "$@"; }

at_exit 'in_time "${P[@]}" rm --all --force --time 0'
at_exit 'in_time "${P[@]}" rmi --all --force'

make_rootfs_tar "$T/busybox.tar"
in_time "${P[@]}" import "$T/busybox.tar" "$IMAGE" >"$T/log/import.log" 2>&1 || {
    cat "$T/log/import.log"
    compat_log "podman: import failed"
    exit 1
}

ex_exit_code() {
    local out rc=0
    out=$(prun --rm "$IMAGE" sh -c 'echo hello; exit 3') || rc=$?
    expect_eq "exit status" 3 "$rc"
    expect_eq output hello "$out"
}

ex_log_format() {
    # Podman gave berth its log file in runc's JSON format.
    grep -q -- '--log-format=json --log .* create ' "$T/log/berth-calls.log"
}

ex_tty() {
    local out
    out=$(prun --rm -t "$IMAGE" sh -c 'tty; [ -t 0 ] && echo stdin-is-a-tty')
    expect_match tty '^/dev/pts/[0-9]+' "$out"
    expect_match stdin "stdin-is-a-tty" "$out"
}

ex_stdin() {
    local out
    out=$(echo piped | timeout 60 "${P[@]}" run --pull=never --cgroup-parent="$CGROUP_PARENT" \
        --rm -i "$IMAGE" sh -c 'read l; echo "got $l"')
    expect_eq output "got piped" "$out"
}

ex_detach_exec() {
    prun -d --name exec1 "$IMAGE" sleep 1000 >/dev/null
    local out rc=0
    out=$(pm exec exec1 sh -c 'echo in-exec; exit 4') || rc=$?
    expect_eq "exec exit status" 4 "$rc"
    expect_eq "exec output" in-exec "$out"
    out=$(pm exec -t exec1 tty)
    expect_match "exec -t" '^/dev/pts/[0-9]+' "$out"
    out=$(pm exec --user 1000:1000 exec1 id -u)
    expect_eq "exec --user" 1000 "$out"
    pm rm -f -t 0 exec1 >/dev/null
}

ex_stop() {
    prun -d --name stop1 "$IMAGE" sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done' >/dev/null
    wait_for 10 pm exec stop1 true
    pm stop -t 20 stop1 >/dev/null
    expect_eq "exit code after stop" 7 "$(pm inspect -f '{{.State.ExitCode}}' stop1)"
    pm rm stop1 >/dev/null
}

ex_kill() {
    prun -d --name kill1 "$IMAGE" sleep 1000 >/dev/null
    pm kill -s KILL kill1 >/dev/null
    expect_eq "exit code after kill" 137 "$(pm wait kill1)"
    pm rm kill1 >/dev/null
}

ex_logs() {
    prun -d --name logs1 "$IMAGE" sh -c 'echo to-stdout; echo to-stderr >&2' >/dev/null
    pm wait logs1 >/dev/null
    local out
    out=$(pm logs logs1 2>&1 | sort | tr '\n' ' ')
    expect_eq logs "to-stderr to-stdout " "$out"
    pm rm logs1 >/dev/null
}

ex_volume() {
    mkdir -p "$T/vol"
    echo from-host >"$T/vol/in"
    local out
    out=$(prun --rm -v "$T/vol:/data" "$IMAGE" sh -c 'cat /data/in; echo from-container >/data/out')
    expect_eq "read through the volume" from-host "$out"
    expect_eq "written through the volume" from-container "$(cat "$T/vol/out")"
    out=$(prun --rm -v "$T/vol:/data:ro" "$IMAGE" sh -c 'touch /data/x 2>&1; echo $?')
    expect_match "read-only volume" 'Read-only file system' "$out"
}

ex_read_only() {
    local out
    out=$(prun --rm --read-only "$IMAGE" sh -c 'touch /x 2>&1; echo status=$?; touch /tmp/x && echo tmp-ok')
    expect_match "write to /" 'Read-only file system' "$out"
    expect_match "status" 'status=1' "$out"
    expect_match "/tmp stays writable" 'tmp-ok' "$out"
}

# The value of a cgroup file of the container, v1 or v2.
cg_read() {
    echo "cat /sys/fs/cgroup/$1/$2 2>/dev/null || cat /sys/fs/cgroup/$3"
}

ex_memory() {
    local out
    out=$(prun --rm --memory 64m "$IMAGE" sh -c "$(cg_read memory memory.limit_in_bytes memory.max)")
    expect_eq "memory limit" 67108864 "$out"
}

ex_pids_limit() {
    local out
    out=$(prun --rm --pids-limit 42 "$IMAGE" sh -c "$(cg_read pids pids.max pids.max)")
    expect_eq "pids limit" 42 "$out"
}

ex_user() {
    local out
    out=$(prun --rm --user 1000:1000 "$IMAGE" sh -c 'echo $(id -u):$(id -g); touch /x 2>&1 || true')
    expect_match "ids" '^1000:1000' "$out"
    expect_match "no root powers" 'Permission denied' "$out"
}

ex_cap_drop() {
    local out
    out=$(prun --rm --cap-drop all "$IMAGE" sh -c 'grep -E "^Cap(Eff|Bnd|Prm)" /proc/self/status')
    expect_eq "no capability" "$(printf 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000')" "$out"
    # CAP_CHOWN is bit 0: dropping it alone leaves an even bounding set.
    out=$(prun --rm --cap-drop chown "$IMAGE" sh -c 'grep CapBnd /proc/self/status; chown 1 /tmp 2>&1 || true')
    expect_match "chown dropped" 'CapBnd:.[0-9a-f]*[02468ace]$' "$(echo "$out" | head -1)"
    expect_match "chown refused" 'Operation not permitted' "$out"
}

ex_default_devices() {
    # podman's spec only denies every device: the runtime's default list must let these through.
    local out
    out=$(prun --rm "$IMAGE" sh -c 'echo x >/dev/null && head -c 4 /dev/zero | wc -c &&
        head -c 4 /dev/urandom | wc -c && (echo x >/dev/full) 2>&1; ls /dev/ptmx /dev/tty')
    expect_eq devices "$(printf '4\n4\nsh: write error: No space left on device\n/dev/ptmx\n/dev/tty')" "$out"
}

ex_seccomp() {
    # podman's profile: an allow list with defaultErrnoRet; the filter is on, and unconfined
    # turns it off.
    expect_eq "filter" "Seccomp:	2" "$(prun --rm "$IMAGE" grep '^Seccomp:' /proc/self/status)"
    expect_eq "unconfined" "Seccomp:	0" "$(prun --rm --security-opt seccomp=unconfined "$IMAGE" \
        grep '^Seccomp:' /proc/self/status)"
}

ex_network_none() {
    local out
    out=$(prun --rm --network none "$IMAGE" sh -c 'ls /sys/class/net | tr "\n" " "')
    expect_eq interfaces "lo " "$out"
}

ex_userns() {
    # A user namespace: podman copies the image's layer owned through the maps and gives berth
    # a config with uidMappings.
    local out
    mkdir -p "$T/uvol"
    out=$(prun --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 -v "$T/uvol:/data" "$IMAGE" \
        sh -c 'cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox; touch /x && echo root-writes')
    expect_match "uid map" '^ *0 +100000 +65536' "$out"
    expect_match "root inside" '^0$' "$(echo "$out" | sed -n 2p)"
    expect_match "image files are root's" '^0$' "$(echo "$out" | sed -n 3p)"
    expect_match "root writes its layer" 'root-writes' "$out"
}

ex_tmpfs_copyup() {
    # podman mounts --tmpfs with tmpcopyup: the image's files show through the new tmpfs.
    local out
    out=$(prun --rm --tmpfs /etc "$IMAGE" sh -c 'grep -c root /etc/passwd; grep " /etc " /proc/mounts')
    expect_match "image files copied up" '^1' "$out"
    expect_match "a tmpfs" 'tmpfs /etc tmpfs' "$out"
}

ex_pause_update() {
    prun -d --name pause1 "$IMAGE" sleep 1000 >/dev/null
    pm pause pause1 >/dev/null
    expect_eq "paused" paused "$(pm inspect -f '{{.State.Status}}' pause1)"
    pm unpause pause1 >/dev/null
    expect_eq "running again" running "$(pm inspect -f '{{.State.Status}}' pause1)"
    pm update --memory 32m pause1 >/dev/null
    local out
    out=$(pm exec pause1 sh -c "$(cg_read memory memory.limit_in_bytes memory.max)")
    expect_eq "memory limit after update" 33554432 "$out"
    pm rm -f -t 0 pause1 >/dev/null
}

ex_rm_force() {
    prun -d --name rm1 "$IMAGE" sleep 1000 >/dev/null
    pm rm -f -t 0 rm1 >/dev/null
    expect_eq "containers left" "" "$(pm ps -aq --filter name=rm1)"
    # berth forgot it too.
    expect_eq "berth's containers" "" "$("$BERTH" --root "$T/berth-state" list -q)"
}

ex_runtime_error() {
    # berth's error comes back through its --log file: podman shows it and exits 127.
    local out rc=0
    out=$(prun --rm "$IMAGE" /no/such/binary 2>&1) || rc=$?
    expect_eq "exit status" 127 "$rc"
    expect_match "berth's message" 'berth: .*/no/such/binary' "$out"
    # A file that is not executable: refused at create, 126.
    rc=0
    out=$(prun --rm "$IMAGE" /etc/passwd 2>&1) || rc=$?
    expect_eq "exit status (not executable)" 126 "$rc"
    expect_match "berth's message" '/etc/passwd": permission denied' "$out"
    prun -d --name err1 "$IMAGE" sleep 1000 >/dev/null
    rc=0
    out=$(pm exec err1 no-such-command 2>&1) || rc=$?
    pm rm -f -t 0 err1 >/dev/null
    expect_eq "exec exit status" 127 "$rc"
    expect_match "berth's message" 'executable file not found' "$out"
}

check "run to completion with an exit code" ex_exit_code
check "runc's --log-format=json and --log reach berth" ex_log_format
check "run -t gives a terminal" ex_tty
check "run -i passes stdin" ex_stdin
check "run -d, then exec (plain, -t, --user)" ex_detach_exec
check "stop sends SIGTERM" ex_stop
check "kill" ex_kill
check "logs" ex_logs
check "a user namespace (--uidmap)" ex_userns
check "-v volume (rw and ro)" ex_volume
check "--read-only" ex_read_only
check "--memory" ex_memory
check "--pids-limit" ex_pids_limit
check "--user 1000:1000" ex_user
check "--cap-drop" ex_cap_drop
check "the default devices work" ex_default_devices
check "podman's seccomp profile" ex_seccomp
check "--network none" ex_network_none
check "--tmpfs with tmpcopyup" ex_tmpfs_copyup
check "pause, unpause and update" ex_pause_update
check "rm -f of a running container" ex_rm_force
check "a runtime error reaches the user" ex_runtime_error
compat_finish
