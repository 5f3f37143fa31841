#!/bin/bash
# conmon (Debian's) driving berth directly, as CRI-O uses it: conmon runs `create` with runc's
# global options passed through --runtime-arg, reports the pid (or berth's error) on its sync
# pipe, keeps the container's output in a k8s-file log and its exit code in the exit dir; the
# engine then runs `start`, `kill` and `delete` itself. Exec goes through conmon too.
. "$(dirname "$0")/lib.sh"
compat_init conmon
need_packages conmon jq busybox-static

make_berth_wrapper "$T/bin/berth"
STATE=$T/berth-state
mkdir -p "$T/exits" "$T/socks" "$T/ctr" "$T/bundles"
"$COMPAT_TOP/scripts/mkrootfs" "$T/rootfs"
"$BERTH" spec --bundle "$T"
mv "$T/config.json" "$T/default-config.json"

b() { in_time "$BERTH" --root "$STATE" "$@"; }
at_exit 'for c in $(b list -q); do b delete --force $c; done'

# bundle ID TERMINAL ARG...: a bundle on the shared read-only rootfs, in the test's cgroup.
bundle() {
    local id=$1 tty=$2
    shift 2
    mkdir -p "$T/bundles/$id"
    local args
    args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
    jq --arg root "$T/rootfs" --arg cg "/$COMPAT_TAG/$id" --argjson tty "$tty" \
        --argjson args "$args" '.root.path = $root | .process.terminal = $tty
                | .process.args = $args | .linux.cgroupsPath = $cg' \
        <"$T/default-config.json" >"$T/bundles/$id/config.json"
}

# conmon_run ID [CONMON OPTION...]: conmon for container ID, as CRI-O starts it; prints the
# first message of its sync pipe ({"data": PID} or {"data": -1, "message": ...}).
conmon_run() {
    local id=$1
    shift
    local dir=$T/ctr/$id
    mkdir -p "$dir"
    rm -f "$dir/sync"
    mkfifo "$dir/sync"
    exec 5<>"$dir/sync"
    _OCI_SYNCPIPE=5 in_time conmon --api-version 1 -c "$id" -u "$id" -n "$id" \
        -r "$T/bin/berth" -b "$T/bundles/$id" -p "$dir/pid" -P "$dir/conmon.pid" \
        -l "k8s-file:$dir/ctr.log" --exit-dir "$T/exits" --socket-dir-path "$T/socks" -0 "$dir" \
        --runtime-arg "--root=$STATE" --runtime-arg --log-format=json \
        --runtime-arg "--log=$dir/oci-log" "$@" >>"$dir/conmon.out" 2>&1
    local line
    read -r -t "$COMPAT_TIMEOUT" -u 5 line
    exec 5>&-
    echo "$line"
}

# The lines of a k8s-file log without their timestamps: "stdout F text".
log_lines() {
    cut -d' ' -f2- "$T/ctr/$1/ctr.log"
}

exit_file() {
    wait_for 10 test -s "$T/exits/$1"
    cat "$T/exits/$1"
}

ex_create_start() {
    bundle run1 false sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'
    local msg
    msg=$(conmon_run run1)
    expect_match "sync pipe" '^\{"data": [0-9]+\}$' "$msg"
    expect_eq "state" created "$(b state run1 | jq -r .status)"
    expect_eq "pid" "$(b state run1 | jq -r .pid)" "$(cat "$T/ctr/run1/pid")"
    b start run1
    expect_eq "exit file" 3 "$(exit_file run1)"
    expect_eq "log" "$(printf 'stdout F to-stdout\nstderr F to-stderr')" "$(log_lines run1 | sort -r)"
    b delete run1
}

ex_terminal() {
    bundle tty1 true sh -c 'tty; exit 4'
    conmon_run tty1 -t >/dev/null
    b start tty1
    expect_eq "exit file" 4 "$(exit_file tty1)"
    expect_match "log" '^stdout . /dev/pts/[0-9]+' "$(log_lines tty1)"
    b delete tty1
}

ex_exec() {
    bundle exec1 false sleep 1000
    conmon_run exec1 >/dev/null
    b start exec1
    local dir=$T/ctr/exec1-x
    mkdir -p "$dir"
    jq -n '{args: ["sh", "-c", "echo in-exec; id -u; exit 5"], cwd: "/", env: ["PATH=/bin"],
            user: {uid: 1000, gid: 1000}}' >"$dir/process.json"
    mkfifo "$dir/sync"
    exec 5<>"$dir/sync"
    _OCI_SYNCPIPE=5 in_time conmon --api-version 1 -c exec1 -u exec1-x -n exec1 \
        -r "$T/bin/berth" -b "$T/bundles/exec1" -p "$dir/pid" -l "k8s-file:$dir/ctr.log" \
        --exit-dir "$dir" --socket-dir-path "$T/socks" -0 "$dir" -e \
        --exec-process-spec "$dir/process.json" --runtime-arg "--root=$STATE" \
        --runtime-arg --log-format=json --runtime-arg "--log=$dir/oci-log" >"$dir/conmon.out" 2>&1
    local pid code
    read -r -t "$COMPAT_TIMEOUT" -u 5 pid
    read -r -t "$COMPAT_TIMEOUT" -u 5 code
    exec 5>&-
    expect_match "exec pid" '^\{"data": [0-9]+\}$' "$pid"
    expect_eq "exec exit code" '{"data": 5}' "$code"
    expect_eq "exec output" "$(printf 'stdout F in-exec\nstdout F 1000')" "$(log_lines exec1-x)"
    b kill exec1 KILL
    exit_file exec1 >/dev/null
    b delete exec1
}

ex_kill() {
    bundle kill1 false sleep 1000
    conmon_run kill1 >/dev/null
    b start kill1
    b kill kill1 KILL
    expect_eq "exit file" 137 "$(exit_file kill1)"
    expect_eq "state" stopped "$(b state kill1 | jq -r .status)"
    b delete kill1
    # CRI-O deletes again with --force when it cleans up: a container already gone is no error.
    b delete --force kill1
}

ex_no_pivot() {
    bundle nopivot1 false sh -c 'echo in-container'
    conmon_run nopivot1 --no-pivot >/dev/null
    b start nopivot1
    expect_eq "exit file" 0 "$(exit_file nopivot1)"
    expect_eq "log" "stdout F in-container" "$(log_lines nopivot1)"
    grep -q -- '--log=.* create .*--no-pivot.* nopivot1$' "$T/log/berth-calls.log"
    b delete nopivot1
}

ex_runtime_error() {
    bundle err1 false /no/such/binary
    local msg
    msg=$(conmon_run err1)
    expect_match "sync pipe" '^\{"data": -1, "message": ".*/no/such/binary.*"\}$' "$msg"
    # runc's JSON lines in the --log file.
    local line
    line=$(grep '"level":"error"' "$T/ctr/err1/oci-log" | tail -1)
    expect_match "log line" '^\{"level":"error","msg":".*/no/such/binary.*","time":"[0-9T:-]+Z"\}$' "$line"
    expect_eq "nothing left" "" "$(b list -q)"
}

check "create through conmon, start: output and exit code" ex_create_start
check "terminal (-t)" ex_terminal
check "exec through conmon (-e)" ex_exec
check "kill, and delete --force of a deleted container" ex_kill
check "--no-pivot" ex_no_pivot
check "a runtime error reaches the sync pipe" ex_runtime_error
compat_finish
