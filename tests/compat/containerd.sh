#!/bin/bash
# containerd (Debian's 1.6) started by hand with its own config, root, state and socket, an OCI
# archive imported with `ctr images import`, and `ctr run` with berth as the runc binary of the
# runc v2 shim (`--runc-binary`, the BinaryName runtime option), in a namespace of the test's.
. "$(dirname "$0")/lib.sh"
compat_init containerd
need_packages containerd busybox-static

IMAGE=localhost/berth-compat/busybox:latest
IMAGE_USER=localhost/berth-compat/busybox:user
NS=$COMPAT_TAG
SOCK=$T/containerd.sock

make_berth_wrapper "$T/bin/berth"
# The shim falls back to `runc` on its PATH whenever the options it gets carry no binary name:
# that must fail loudly, never run plain runc.
make_runc_trap "$T/trap"
# `ctr run --no-pivot` replaces the runtime options with its own, dropping --runc-binary. A
# runtime named io.containerd.runc.berth still gets ctr's runc options, and its shim binary
# (containerd-shim-runc-berth) is the runc v2 shim with berth first on its PATH as `runc`.
mkdir -p "$T/shim" "$T/berth-as-runc"
ln -s "$T/bin/berth" "$T/berth-as-runc/runc"
cat >"$T/shim/containerd-shim-runc-berth" <<EOF
#!/bin/sh
PATH=$T/berth-as-runc:\$PATH exec containerd-shim-runc-v2 "\$@"
EOF
chmod 755 "$T/shim/containerd-shim-runc-berth"

cat >"$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
EOF
# Shim sockets live in /run/containerd/s whatever the state dir.
track_global /run/containerd

PATH=$T/trap:$T/shim:$PATH setsid containerd --config "$T/config.toml" \
    >"$T/log/containerd.log" 2>&1 </dev/null &
CONTAINERD=$!
at_exit "kill $CONTAINERD; wait_for 30 sh -c '! kill -0 $CONTAINERD 2>/dev/null'"

C=(ctr --address "$SOCK" --namespace "$NS")
ct() { in_time "${C[@]}" "$@"; }
RUN_OPTS=(--runc-binary "$T/bin/berth" --runc-root "$T/runc-root" --fifo-dir "$T/fifo")
crun() { ct run "${RUN_OPTS[@]}" "$@"; }
# ctr run -t needs a terminal of its own: script(1) gives it one.
in_pty() { timeout -k 5 "$COMPAT_TIMEOUT" script -qec "$*" /dev/null </dev/null | tr -d '\r'; }

if ! wait_for 30 "${C[@]}" version; then
    tail -20 "$T/log/containerd.log"
    compat_log "containerd: containerd did not start"
    exit 1
fi
# overlayfs cannot sit on every filesystem (another overlay, in a container): then the native
# snapshotter (plain copies) serves.
if ! ct plugins ls | awk '$1 == "io.containerd.snapshotter.v1" && $2 == "overlayfs" && $NF == "ok"' |
    grep -q .; then
    export CONTAINERD_SNAPSHOTTER=native
fi
at_exit 'for c in $(ct containers ls -q); do ct tasks kill -s KILL $c; ct tasks delete -f $c; ct containers rm $c; done'
at_exit 'ct images rm "$IMAGE" "$IMAGE_USER"'

make_rootfs_tar "$T/busybox.tar"
make_oci_archive "$T/busybox.tar" "$T/busybox-oci.tar" "$IMAGE" "$IMAGE_USER=1000:1000"
ct images import "$T/busybox-oci.tar" >"$T/log/import.log" 2>&1 || {
    cat "$T/log/import.log"
    compat_log "containerd: import failed"
    exit 1
}

# The host's view of a container's cgroup file, v1 or v2.
cg_file() {
    if [ -d "/sys/fs/cgroup/$1" ]; then
        cat "/sys/fs/cgroup/$1/$NS/$3/$2"
    else
        cat "/sys/fs/cgroup/$NS/$3/$4"
    fi
}

task_status() {
    ct tasks ls | awk -v id="$1" '$1 == id {print $3}'
}

# task_is ID STATUS
task_is() {
    [ "$(task_status "$1")" = "$2" ]
}

# task_has ID N: the task has N processes.
task_has() {
    [ "$(ct tasks ps "$1" | tail -n +2 | wc -l)" = "$2" ]
}

# Kill a task, wait for it to stop, remove it and its container; print what delete said.
task_remove() {
    ct tasks kill -s KILL "$1" 2>/dev/null || true
    wait_for 10 task_is "$1" STOPPED
    ct tasks delete "$1" 2>&1
    ct containers rm "$1"
}

ex_exit_code() {
    local out rc=0
    out=$(crun --rm "$IMAGE" exit1 sh -c 'echo hello; exit 3') || rc=$?
    expect_eq "exit status" 3 "$rc"
    expect_eq output hello "$out"
}

ex_tty() {
    local out
    out=$(in_pty "${C[*]} run --rm -t ${RUN_OPTS[*]} $IMAGE tty1 sh -c 'tty; exit 4'; echo status=\$?")
    expect_match tty '/dev/pts/[0-9]+' "$out"
    expect_match "exit status" 'status=4' "$out"
}

ex_exec() {
    crun -d "$IMAGE" exec1 sleep 1000 >/dev/null
    local out rc=0
    out=$(ct tasks exec --exec-id e1 exec1 sh -c 'echo in-exec; exit 6') || rc=$?
    expect_eq "exec exit status" 6 "$rc"
    expect_eq "exec output" in-exec "$out"
    out=$(in_pty "${C[*]} tasks exec -t --exec-id e2 exec1 tty")
    expect_match "exec -t" '/dev/pts/[0-9]+' "$out"
    out=$(ct tasks exec --exec-id e3 --user 1000 exec1 id -u)
    expect_eq "exec --user" 1000 "$out"
    task_remove exec1 >/dev/null
}

ex_kill() {
    crun -d "$IMAGE" kill1 sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done' >/dev/null
    wait_for 10 "${C[@]}" tasks exec --exec-id probe kill1 true
    ct tasks kill kill1
    wait_for 10 task_is kill1 STOPPED
    local out
    out=$(ct tasks delete kill1 2>&1)
    expect_match "SIGTERM handled" 'exit code 7' "$out"
    ct containers rm kill1
    # kill --all: every process, not just the init.
    crun -d "$IMAGE" kill2 sh -c 'sleep 1000 & sleep 1000 & wait' >/dev/null
    wait_for 10 task_has kill2 3
    ct tasks kill --all -s KILL kill2
    wait_for 10 task_is kill2 STOPPED
    task_remove kill2 >/dev/null
}

ex_pause_ps() {
    crun -d "$IMAGE" pause1 sh -c 'sleep 1000 & wait' >/dev/null
    wait_for 10 task_has pause1 2
    ct tasks pause pause1
    expect_eq "paused" PAUSED "$(task_status pause1)"
    ct tasks resume pause1
    expect_eq "running again" RUNNING "$(task_status pause1)"
    task_remove pause1 >/dev/null
}

ex_memory() {
    crun -d --memory-limit 67108864 "$IMAGE" mem1 sleep 1000 >/dev/null
    expect_eq "memory limit" 67108864 "$(cg_file memory memory.limit_in_bytes mem1 memory.max)"
    task_remove mem1 >/dev/null
}

ex_user() {
    local out
    out=$(crun --rm "$IMAGE_USER" user1 sh -c 'echo $(id -u):$(id -g); touch /x 2>&1 || true')
    expect_match "ids from the image's config" '^1000:1000' "$out"
    expect_match "no root powers" 'Permission denied' "$out"
}

ex_no_pivot() {
    local out
    out=$(ct run --rm --no-pivot --runtime io.containerd.runc.berth --fifo-dir "$T/fifo" \
        "$IMAGE" nopivot1 sh -c 'echo in-container')
    expect_eq output in-container "$out"
    grep -q -- 'create .*--no-pivot.* nopivot1$' "$T/log/berth-calls.log"
}

ex_runtime_error() {
    local out rc=0
    out=$(crun --rm "$IMAGE" err1 /no/such/binary 2>&1) || rc=$?
    ct containers rm err1 >/dev/null 2>&1 || true
    expect_eq "exit status" 1 "$rc"
    # The shim read it from berth's --log file.
    expect_match "berth's message" 'OCI runtime create failed: .*/no/such/binary.*no such file' "$out"
}

check "run to completion with an exit code" ex_exit_code
check "run -t gives a terminal" ex_tty
check "exec (plain, -t, --user)" ex_exec
check "kill (one signal, then --all)" ex_kill
check "pause, resume and ps" ex_pause_ps
check "--memory-limit" ex_memory
check "the image's user" ex_user
check "--no-pivot" ex_no_pivot
check "a runtime error reaches the user" ex_runtime_error
check "plain runc never ran" plain_runc_never_ran
compat_finish
