#!/bin/bash
# Docker (Debian's docker.io 20.10) with berth added as a runtime (dockerd --add-runtime), on a
# busybox image made with `docker import`. dockerd runs with its own data root, exec root,
# socket and cgroup parent, without touching the host's network setup, and starts its own
# containerd. Docker would pick the systemd cgroup driver on a cgroup v2 host run by systemd;
# berth implements cgroupfs only.
. "$(dirname "$0")/lib.sh"
compat_init docker
need_packages docker.io busybox-static

IMAGE=localhost/berth-compat/busybox:latest
DOCKER=/usr/bin/docker

make_berth_wrapper "$T/bin/berth"
make_runc_trap "$T/trap"
# dockerd writes its identity key to /etc/docker/key.json unless told where.
printf '{"deprecated-key-path": "%s"}\n' "$T/key.json" >"$T/daemon.json"
track_global /run/docker /var/run/docker /run/containerd /etc/docker/key.json

PATH=$T/trap:$PATH setsid dockerd --config-file "$T/daemon.json" --data-root "$T/data" \
    --exec-root "$T/exec" -H "unix://$T/docker.sock" --pidfile "$T/docker.pid" \
    --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
    --userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs \
    --cgroup-parent "/$COMPAT_TAG" --storage-driver vfs \
    --add-runtime "berth=$T/bin/berth" >"$T/log/dockerd.log" 2>&1 </dev/null &
DOCKERD=$!
at_exit "kill $DOCKERD; wait_for 30 sh -c '! kill -0 $DOCKERD 2>/dev/null'"

D=("$DOCKER" -H "unix://$T/docker.sock")
dk() { in_time "${D[@]}" "$@"; }
drun() { dk run --network none --runtime berth "$@"; }

if ! wait_for 60 "${D[@]}" version; then
    tail -20 "$T/log/dockerd.log"
    compat_log "docker: dockerd did not start"
    exit 1
fi
at_exit 'dk ps -aq | xargs -r "${D[@]}" rm -f'
at_exit 'dk image rm -f "$IMAGE"'

make_rootfs_tar "$T/busybox.tar"
dk import "$T/busybox.tar" "$IMAGE" >"$T/log/import.log" 2>&1 || {
    cat "$T/log/import.log"
    compat_log "docker: import failed"
    exit 1
}

ex_exit_code() {
    local out rc=0
    out=$(drun --rm "$IMAGE" sh -c 'echo hello; exit 3') || rc=$?
    expect_eq "exit status" 3 "$rc"
    expect_eq output hello "$out"
}

ex_hook() {
    # Docker adds its libnetwork-setkey prestart hook even with --network none: the container
    # above ran, so berth ran it; here the spec is checked to hold it.
    drun -d --name hook1 "$IMAGE" sleep 1000 >/dev/null
    local id cfg
    id=$(dk inspect -f '{{.Id}}' hook1)
    cfg=$T/exec/containerd/daemon/io.containerd.runtime.v2.task/moby/$id/config.json
    grep -q libnetwork-setkey "$cfg"
    dk rm -f hook1 >/dev/null
}

ex_tty() {
    local out
    out=$(drun --rm -t "$IMAGE" sh -c 'tty; [ -t 1 ] && echo stdout-is-a-tty')
    expect_match tty '^/dev/pts/[0-9]+' "$out"
    expect_match stdout "stdout-is-a-tty" "$out"
}

ex_stdin() {
    local out
    out=$(echo piped | timeout 60 "${D[@]}" run --network none --runtime berth --rm -i "$IMAGE" \
        sh -c 'read l; echo "got $l"')
    expect_eq output "got piped" "$out"
}

ex_detach_exec() {
    drun -d --name exec1 "$IMAGE" sleep 1000 >/dev/null
    local out rc=0
    out=$(dk exec exec1 sh -c 'echo in-exec; exit 4') || rc=$?
    expect_eq "exec exit status" 4 "$rc"
    expect_eq "exec output" in-exec "$out"
    out=$(dk exec -t exec1 tty)
    expect_match "exec -t" '^/dev/pts/[0-9]+' "$out"
    out=$(dk exec --user 1000:1000 exec1 id -u)
    expect_eq "exec --user" 1000 "$out"
    dk rm -f exec1 >/dev/null
}

ex_stop() {
    drun -d --name stop1 "$IMAGE" sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done' >/dev/null
    wait_for 10 dk exec stop1 true
    dk stop -t 20 stop1 >/dev/null
    expect_eq "exit code after stop" 7 "$(dk inspect -f '{{.State.ExitCode}}' stop1)"
    dk rm stop1 >/dev/null
}

ex_kill() {
    drun -d --name kill1 "$IMAGE" sleep 1000 >/dev/null
    dk kill kill1 >/dev/null
    expect_eq "exit code after kill" 137 "$(dk wait kill1)"
    dk rm kill1 >/dev/null
}

ex_logs() {
    drun -d --name logs1 "$IMAGE" sh -c 'echo to-stdout; echo to-stderr >&2' >/dev/null
    dk wait logs1 >/dev/null
    local out
    out=$(dk logs logs1 2>&1 | sort | tr '\n' ' ')
    expect_eq logs "to-stderr to-stdout " "$out"
    dk rm logs1 >/dev/null
}

ex_restart() {
    drun -d --name restart1 "$IMAGE" sh -c 'echo started; sleep 1000' >/dev/null
    dk restart -t 0 restart1 >/dev/null
    expect_eq "running again" running "$(dk inspect -f '{{.State.Status}}' restart1)"
    expect_eq "two starts" "started started " "$(dk logs restart1 | tr '\n' ' ')"
    dk rm -f restart1 >/dev/null
}

ex_volume() {
    mkdir -p "$T/vol"
    echo from-host >"$T/vol/in"
    local out
    out=$(drun --rm -v "$T/vol:/data" "$IMAGE" sh -c 'cat /data/in; echo from-container >/data/out')
    expect_eq "read through the volume" from-host "$out"
    expect_eq "written through the volume" from-container "$(cat "$T/vol/out")"
    out=$(drun --rm -v "$T/vol:/data:ro" "$IMAGE" sh -c 'touch /data/x 2>&1; echo $?')
    expect_match "read-only volume" 'Read-only file system' "$out"
}

ex_read_only() {
    local out
    out=$(drun --rm --read-only "$IMAGE" sh -c 'touch /x 2>&1; echo status=$?')
    expect_match "write to /" 'Read-only file system' "$out"
    expect_match "status" 'status=1' "$out"
}

cg_read() {
    echo "cat /sys/fs/cgroup/$1/$2 2>/dev/null || cat /sys/fs/cgroup/$3"
}

ex_memory() {
    local out
    out=$(drun --rm --memory 64m "$IMAGE" sh -c "$(cg_read memory memory.limit_in_bytes memory.max)")
    expect_eq "memory limit" 67108864 "$out"
}

ex_pids_limit() {
    local out
    out=$(drun --rm --pids-limit 42 "$IMAGE" sh -c "$(cg_read pids pids.max pids.max)")
    expect_eq "pids limit" 42 "$out"
}

ex_user() {
    local out
    out=$(drun --rm --user 1000:1000 "$IMAGE" sh -c 'echo $(id -u):$(id -g); touch /x 2>&1 || true')
    expect_match "ids" '^1000:1000' "$out"
    expect_match "no root powers" 'Permission denied' "$out"
}

ex_cap_drop() {
    local out
    out=$(drun --rm --cap-drop all "$IMAGE" sh -c 'grep -E "^Cap(Eff|Bnd|Prm)" /proc/self/status')
    expect_eq "no capability" "$(printf 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000')" "$out"
    out=$(drun --rm --cap-drop chown "$IMAGE" sh -c 'grep CapBnd /proc/self/status; chown 1 /tmp 2>&1 || true')
    expect_match "chown dropped" 'CapBnd:.[0-9a-f]*[02468ace]$' "$(echo "$out" | head -1)"
    expect_match "chown refused" 'Operation not permitted' "$out"
}

ex_network_none() {
    local out
    out=$(drun --rm "$IMAGE" sh -c 'ls /sys/class/net | tr "\n" " "')
    expect_eq interfaces "lo " "$out"
}

ex_pause_update_top() {
    drun -d --name pause1 "$IMAGE" sleep 1000 >/dev/null
    dk pause pause1 >/dev/null
    expect_eq "paused" paused "$(dk inspect -f '{{.State.Status}}' pause1)"
    dk unpause pause1 >/dev/null
    expect_eq "running again" running "$(dk inspect -f '{{.State.Status}}' pause1)"
    # The shim hands the resources to `berth update --resources -` on stdin.
    dk update --memory 32m --memory-swap 32m pause1 >/dev/null
    local out
    out=$(dk exec pause1 sh -c "$(cg_read memory memory.limit_in_bytes memory.max)")
    expect_eq "memory limit after update" 33554432 "$out"
    # top lists the pids `berth ps --format json` gives the shim.
    out=$(dk top pause1 | tail -n +2 | grep -c 'sleep 1000')
    expect_eq "top" 1 "$out"
    dk rm -f pause1 >/dev/null
}

ex_rm_force() {
    drun -d --name rm1 "$IMAGE" sleep 1000 >/dev/null
    dk rm -f rm1 >/dev/null
    expect_eq "containers left" "" "$(dk ps -aq --filter name=rm1)"
    expect_eq "berth's containers" "" "$("$BERTH" --root "$T/exec/runtime-runc/moby" list -q)"
}

ex_runtime_error() {
    # berth's error reaches dockerd through the shim and --log; the CLI's exit codes depend on
    # runc's wording (127: not found, 126: not executable).
    local out rc=0
    out=$(drun --rm "$IMAGE" /no/such/binary 2>&1) || rc=$?
    expect_eq "exit status (missing)" 127 "$rc"
    expect_match "berth's message" '/no/such/binary: no such file or directory' "$out"
    rc=0
    out=$(drun --rm "$IMAGE" /etc/passwd 2>&1) || rc=$?
    expect_eq "exit status (not executable)" 126 "$rc"
    expect_match "berth's message" '/etc/passwd": permission denied' "$out"
    # exec: Docker says 126 for any exec the runtime refuses, as with runc.
    drun -d --name err1 "$IMAGE" sleep 1000 >/dev/null
    rc=0
    out=$(dk exec err1 no-such-command 2>&1) || rc=$?
    dk rm -f err1 >/dev/null
    expect_eq "exec exit status" 126 "$rc"
    expect_match "berth's message" 'exec: "no-such-command": executable file not found in \$PATH' "$out"
}

check "run to completion with an exit code" ex_exit_code
check "Docker's prestart hook is in the spec" ex_hook
check "run -t gives a terminal" ex_tty
check "run -i passes stdin" ex_stdin
check "run -d, then exec (plain, -t, --user)" ex_detach_exec
check "stop sends SIGTERM" ex_stop
check "kill" ex_kill
check "logs" ex_logs
check "restart" ex_restart
check "-v volume (rw and ro)" ex_volume
check "--read-only" ex_read_only
check "--memory" ex_memory
check "--pids-limit" ex_pids_limit
check "--user 1000:1000" ex_user
check "--cap-drop" ex_cap_drop
check "--network none" ex_network_none
check "pause, unpause, update and top" ex_pause_update_top
check "rm -f of a running container" ex_rm_force
check "a runtime error reaches the user" ex_runtime_error
check "plain runc never ran" plain_runc_never_ran
compat_finish
