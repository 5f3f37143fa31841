#include "linux/ns.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
    int flag;
    const char *proc;
} ns_table[SPEC_NS_TYPES] = {
    [SPEC_NS_PID] = {CLONE_NEWPID, "pid"},          [SPEC_NS_NETWORK] = {CLONE_NEWNET, "net"},
    [SPEC_NS_MOUNT] = {CLONE_NEWNS, "mnt"},         [SPEC_NS_IPC] = {CLONE_NEWIPC, "ipc"},
    [SPEC_NS_UTS] = {CLONE_NEWUTS, "uts"},          [SPEC_NS_USER] = {CLONE_NEWUSER, "user"},
    [SPEC_NS_CGROUP] = {CLONE_NEWCGROUP, "cgroup"}, [SPEC_NS_TIME] = {CLONE_NEWTIME, "time"},
};

int ns_clone_flag(enum spec_ns_type t)
{
    return ns_table[t].flag;
}

const char *ns_proc_name(enum spec_ns_type t)
{
    return ns_table[t].proc;
}

int ns_open(const char *path, enum spec_ns_type t, struct berth_error **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s namespace %s", spec_ns_type_name(t), path);
    int type = ioctl(fd, NS_GET_NSTYPE);
    if (type < 0 || type != ns_table[t].flag) {
        close(fd);
        return berth_error_set(err, 0, "%s is not a %s namespace", path, spec_ns_type_name(t));
    }
    return fd;
}

int ns_join(int fd, enum spec_ns_type t, const char *path, struct berth_error **err)
{
    if (setns(fd, ns_table[t].flag) < 0)
        return berth_error_set(err, errno, "join %s namespace %s", spec_ns_type_name(t), path);
    return 0;
}

static int write_map(pid_t pid, const char *file, const struct spec_id_mapping *m, size_t n,
                     struct berth_error **err)
{
    /* One write: the kernel accepts a map only once and only whole. */
    size_t cap = n * 36 + 1, len = 0;
    _cleanup_free_ char *buf = xmalloc(cap);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%u %u %u\n", m[i].container_id, m[i].host_id,
                                m[i].size);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int r = fs_write_file_at(AT_FDCWD, path, buf, len, err);
    if (r < 0)
        return berth_error_prefix(err, "write user namespace %s", file);
    return 0;
}

/* What an unprivileged user may write itself: its own id, once. Anything else goes through
 * Debian's setuid newuidmap/newgidmap, which check /etc/subuid and /etc/subgid. */
static bool self_map_only(const struct spec_id_mapping *m, size_t n, uint32_t own)
{
    return n == 1 && m[0].host_id == own && m[0].size == 1;
}

static int run_map_helper(const char *helper, pid_t pid, const struct spec_id_mapping *m,
                          size_t n, struct berth_error **err)
{
    char **argv = xcalloc(3 + 3 * n, sizeof(char *));
    argv[0] = (char *)helper;
    argv[1] = xasprintf("%d", (int)pid);
    for (size_t i = 0; i < n; i++) {
        argv[2 + 3 * i] = xasprintf("%u", m[i].container_id);
        argv[3 + 3 * i] = xasprintf("%u", m[i].host_id);
        argv[4 + 3 * i] = xasprintf("%u", m[i].size);
    }
    pid_t child;
    extern char **environ;
    int r = posix_spawnp(&child, helper, NULL, NULL, argv, environ);
    for (size_t i = 1; argv[i]; i++)
        free(argv[i]);
    free(argv);
    if (r != 0)
        return berth_error_set(err, r, "run %s (apt-get install uidmap)", helper);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return berth_error_set(err, 0, "%s failed: are the ids in /etc/sub%cid?", helper,
                               helper[3] == 'u' ? 'u' : 'g');
    return 0;
}

int ns_write_id_maps(pid_t pid, const struct spec_id_mapping *uids, size_t n_uids,
                     const struct spec_id_mapping *gids, size_t n_gids, struct berth_error **err)
{
    if (geteuid() == 0) {
        int r = write_map(pid, "uid_map", uids, n_uids, err);
        if (r < 0)
            return r;
        return write_map(pid, "gid_map", gids, n_gids, err);
    }
    int r = self_map_only(uids, n_uids, geteuid())
                ? write_map(pid, "uid_map", uids, n_uids, err)
                : run_map_helper("newuidmap", pid, uids, n_uids, err);
    if (r < 0)
        return r;
    if (self_map_only(gids, n_gids, getegid())) {
        /* The kernel lets an unprivileged process map its own group only once setgroups is
         * denied, so that it cannot drop a group to gain access. */
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
        r = fs_write_file_at(AT_FDCWD, path, "deny", 4, err);
        if (r < 0)
            return berth_error_prefix(err, "user namespace");
        return write_map(pid, "gid_map", gids, n_gids, err);
    }
    return run_map_helper("newgidmap", pid, gids, n_gids, err);
}

int ns_write_time_offsets(const struct spec_linux *l, struct berth_error **err)
{
    char buf[128];
    size_t len = 0;
    if (l->time_monotonic.set)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "monotonic %lld %u\n",
                                (long long)l->time_monotonic.secs, l->time_monotonic.nanosecs);
    if (l->time_boottime.set)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "boottime %lld %u\n",
                                (long long)l->time_boottime.secs, l->time_boottime.nanosecs);
    if (len == 0)
        return 0;
    int r = fs_write_file_at(AT_FDCWD, "/proc/self/timens_offsets", buf, len, err);
    if (r < 0)
        return berth_error_prefix(err, "linux.timeOffsets");
    return 0;
}

/* The pid of a pidfd's process as /proc (the host's procfs, before pivot_root) numbers it:
 * the caller may be in another pid namespace. */
static pid_t pidfd_proc_pid(int pidfd)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
    _cleanup_free_ char *text = NULL;
    struct berth_error *e = NULL;
    if (fs_read_file_at(AT_FDCWD, path, 4096, &text, NULL, &e) < 0) {
        berth_error_free(e);
        return -1;
    }
    const char *p = strstr(text, "\nPid:");
    return p ? (pid_t)strtol(p + 5, NULL, 10) : -1;
}

static int clone3_works = -1; /* unknown until probed or called */

bool ns_clone3_works(void)
{
    if (clone3_works < 0) {
        /* A size below the first version is refused with EINVAL by every kernel that has it. */
        clone3_works = !(syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS);
    }
    return clone3_works;
}

long ns_clone(struct clone_args *args)
{
    /* Where nothing asked yet, the call itself is the probe. */
    if (clone3_works != 0) {
        long pid = syscall(SYS_clone3, args, sizeof(*args));
        if (pid >= 0 || errno != ENOSYS) {
            clone3_works = 1;
            return pid;
        }
        clone3_works = 0;
    }
    if (args->flags & (CLONE_INTO_CGROUP | CLONE_NEWTIME) || args->stack || args->tls ||
        args->exit_signal & ~(uint64_t)CSIGNAL) {
        errno = ENOSYS;
        return -1;
    }
    /* clone(flags, stack, parent_tid, child_tid, tls) on x86-64, and with CLONE_PIDFD the pidfd
     * lands in parent_tid; with no stack the child returns here, as from fork. */
    unsigned long flags = (unsigned long)args->flags | (unsigned long)args->exit_signal;
    void *pidfd = args->flags & CLONE_PIDFD ? (void *)(uintptr_t)args->pidfd : NULL;
    return syscall(SYS_clone, flags, NULL, pidfd, NULL, 0UL);
}

int ns_userns_with_maps(const struct spec_id_mapping *uids, size_t n_uids,
                        const struct spec_id_mapping *gids, size_t n_gids,
                        struct berth_error **err)
{
    int pidfd = -1;
    struct clone_args args = {.flags = CLONE_NEWUSER | CLONE_PIDFD,
                              .pidfd = (uint64_t)(uintptr_t)&pidfd,
                              .exit_signal = SIGCHLD};
    long pid = ns_clone(&args);
    if (pid < 0)
        return berth_error_set(err, errno, "make a user namespace for an idmapped mount");
    if (pid == 0) {
        for (;;)
            pause();
    }
    _cleanup_close_ int pfd = pidfd;
    int fd = -1, r;
    pid_t seen = pidfd_proc_pid(pidfd);
    if (seen <= 0) {
        r = berth_error_set(err, ESRCH, "find the user namespace's process in /proc");
    } else {
        r = ns_write_id_maps(seen, uids, n_uids, gids, n_gids, err);
        if (r == 0) {
            char path[64];
            snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)seen);
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                r = berth_error_set(err, errno, "open %s", path);
        }
    }
    kill((pid_t)pid, SIGKILL);
    waitpid((pid_t)pid, NULL, 0);
    return r < 0 ? r : fd;
}
