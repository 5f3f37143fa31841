/* start, stop and exec of containers made from images: the runtime, driven in-process. */
#include "berth/error.h"
#include "container/container.h"
#include "engine/bundle.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/passwd.h"
#include "engine/shm.h"
#include "storage/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUNDLE_MAX_SIZE (4U << 20)

struct opened {
    int cdir;
    int dir;
    struct record rec;
};

static void opened_close(struct opened *o)
{
    if (o->dir >= 0)
        close(o->dir);
    if (o->cdir >= 0)
        close(o->cdir);
    record_clear(&o->rec);
}

static int open_container(const struct engine_ctx *ctx, const char *name, bool lock,
                          struct opened *o, struct berth_error **err)
{
    memset(o, 0, sizeof(*o));
    o->dir = -1;
    struct berth_error *local = NULL;
    o->cdir = record_root_open(ctx->storage_root, false, &local);
    if (o->cdir < 0) {
        berth_error_free(local);
        berth_error_set(err, 0, "container \"%s\" does not exist", name ? name : "");
        return -ENOENT;
    }
    o->dir = record_dir_open(o->cdir, name, lock, err);
    if (o->dir < 0)
        return o->dir;
    int r = record_read(o->dir, &o->rec, err);
    if (r < 0)
        return berth_error_prefix(err, "container \"%s\"", name);
    if (o->rec.incomplete)
        return berth_error_set(err, 0,
                               "container \"%s\" is incomplete (being created, or its create was "
                               "cut short): rm -f removes it",
                               name);
    return 0;
}

/* Point config.json's IPC namespace at the running container it joins. */
static int join_ipc(const struct engine_ctx *ctx, struct opened *c, struct berth_error **err)
{
    const char *peer = c->rec.ipc_container;
    _cleanup_close_ int pdir = record_dir_open(c->cdir, peer, false, err);
    if (pdir < 0)
        return berth_error_prefix(err, "--ipc container:%s", peer);
    _cleanup_free_ char *status = NULL;
    int pid = 0;
    int r = engine_runtime_status(ctx, peer, &status, &pid, err);
    if (r < 0)
        return r;
    if (!status || (strcmp(status, "running") != 0 && strcmp(status, "paused") != 0) || pid <= 0)
        return berth_error_set(err, 0, "--ipc container:%s: that container is not running", peer);
    if (!shm_is_mounted(pdir, RECORD_SHM))
        return berth_error_set(err, 0,
                               "--ipc container:%s: that container has no shareable "
                               "/dev/shm mounted",
                               peer);
    _cleanup_free_ char *text = NULL, *patched = NULL;
    r = fs_read_file_at(c->dir, RECORD_BUNDLE, BUNDLE_MAX_SIZE, &text, NULL, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *ns = xasprintf("/proc/%d/ns/ipc", pid);
    r = bundle_set_ipc_path(text, ns, &patched, err);
    if (r < 0)
        return r;
    return fs_write_file_atomic_at(c->dir, RECORD_BUNDLE, patched, strlen(patched), 0600, err);
}

/* Under the container's lock: what must be true before the runtime makes it. Detached, *log is
 * the container's log, opened for appending. */
static int prepare_start(const struct engine_ctx *ctx, const char *name, bool detach,
                         struct opened *c, int *log, struct berth_error **err)
{
    struct record *rec = &c->rec;
    if (detach && rec->tty)
        return berth_error_set(
            err, 0, "container \"%s\" has a terminal (-t): start it in the foreground", name);
    if (detach) {
        *log = openat(c->dir, RECORD_LOG, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
                      0640);
        if (*log < 0)
            return berth_error_set(err, errno, "open %s/%s", c->rec.bundle, RECORD_LOG);
    }
    _cleanup_free_ char *status = NULL;
    int r = engine_runtime_status(ctx, name, &status, NULL, err);
    if (r < 0)
        return r;
    if (status && strcmp(status, "stopped") != 0 && strcmp(status, "created") != 0)
        return berth_error_set(err, EBUSY, "container \"%s\" is %s", name, status);
    if (status) {
        /* The runtime's record of a run that ended (or of a start cut short): a new run
         * needs the name. */
        r = container_delete(ctx->root, name, true, err);
        if (r < 0)
            return r;
    }
    if (rec->own_resolv) {
        r = engine_write_resolv(c->dir, rec, false, err);
        if (r < 0)
            return berth_error_prefix(err, "%s", rec->bundle);
    }
    if (rec->ipc == SHM_IPC_SHAREABLE) {
        /* Mounted at create; gone after a reboot. */
        _cleanup_free_ char *where = xasprintf("%s/%s", rec->bundle, RECORD_SHM);
        struct stat st;
        if (fstatat(c->dir, RECORD_SHM, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            r = shm_mount_at(c->dir, RECORD_SHM, where, rec->shm_size, rec->mount_label, err);
            if (r < 0)
                return r;
        }
    } else if (rec->ipc == SHM_IPC_CONTAINER) {
        r = join_ipc(ctx, c, err);
        if (r < 0)
            return r;
    }
    free(rec->started);
    rec->started = storage_timestamp();
    rec->has_exit_code = false;
    return record_write(c->dir, rec, err);
}

static void record_exit(const struct engine_ctx *ctx, const char *name, const char *started,
                        int status)
{
    struct opened c;
    struct berth_error *e = NULL;
    /* Removed meanwhile (rm -f from elsewhere), or started again: nothing to note. */
    if (open_container(ctx, name, true, &c, &e) == 0 && c.rec.started &&
        strcmp(c.rec.started, started) == 0) {
        c.rec.has_exit_code = true;
        c.rec.exit_code = status;
        record_write(c.dir, &c.rec, &e);
    }
    if (e)
        log_debug("%s", e->msg);
    berth_error_free(e);
    opened_close(&c);
}

/* The monitor's stdio, which the process inherits: /dev/null and the log. */
static int stdio_to_log(int log, struct berth_error **err)
{
    _cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0)
        return berth_error_set(err, errno, "open /dev/null");
    if (dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
        return berth_error_set(err, errno, "point stdio at the container's log");
    return 0;
}

/* The monitor tells its starter that the process runs: a NUL byte down the pipe, which it then
 * closes (an error met later is the monitor's to log, nobody waits for it). */
static void tell_started(void *data)
{
    int *fd = data;
    if (write(*fd, "", 1) < 0)
        log_debug("tell the starter: %s", strerror(errno));
    close(*fd);
    *fd = -1;
}

/* Detached: a monitor process in a session of its own, its stdio /dev/null and the log, runs
 * the container as a foreground start does, so that its exit status is recorded (and, with rm,
 * the container removed after it). berth returns once the monitor says the process runs, or
 * with the error the monitor met (sent as text down the same pipe). */
static int start_detached(const struct engine_ctx *ctx, const char *name, const char *started,
                          struct container_create_opts *co, int log, bool rm,
                          struct berth_error **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return berth_error_set(err, errno, "pipe");
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return berth_error_set(err, e, "fork the monitor");
    }
    if (pid == 0) {
        close(p[0]);
        setsid();
        struct berth_error *e = NULL;
        int wr = p[1];
        co->on_started = tell_started;
        co->on_started_data = &wr;
        /* (The caller's stdio goes: a pipe the monitor held would not end while it runs.) */
        int r = stdio_to_log(log, &e);
        if (r == 0)
            r = container_run(co, false, false, &e);
        if (r < 0) {
            if (wr >= 0 && write(wr, e->msg, strlen(e->msg)) < 0)
                _exit(2);
            _exit(1);
        }
        record_exit(ctx, name, started, r);
        if (rm && engine_remove(ctx, name, true, &e) < 0)
            log_warn("%s", e->msg);
        _exit(0);
    }
    close(p[1]);
    _cleanup_close_ int rd = p[0];
    char msg[4096];
    ssize_t k;
    while ((k = read(rd, msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
        ;
    if (k < 0)
        return berth_error_set(err, errno, "wait for the monitor");
    if (k > 0 && msg[0] == '\0')
        return 0; /* the monitor stays with the process */
    /* An error, or end of file: the monitor ended without the process having run. */
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (k > 0) {
        msg[k] = '\0';
        return berth_error_set(err, 0, "%s", msg);
    }
    return berth_error_set(err, 0, "the monitor of %s ended with status %#x before the process ran",
                           name, status);
}

int engine_start(const struct engine_ctx *ctx, const char *name, bool detach, bool rm,
                 struct berth_error **err)
{
    struct opened c;
    _cleanup_close_ int log = -1;
    int r = open_container(ctx, name, true, &c, err);
    if (r == 0)
        r = prepare_start(ctx, name, detach, &c, &log, err);
    _cleanup_free_ char *bundle = c.rec.bundle ? xstrdup(c.rec.bundle) : NULL;
    _cleanup_free_ char *started = c.rec.started ? xstrdup(c.rec.started) : NULL;
    /* The lock goes before the run: stop, exec and rm -f must reach a running container. */
    opened_close(&c);
    if (r < 0)
        return berth_error_prefix(err, "start %s", name);

    struct container_create_opts co = {
        .root = ctx->root,
        .id = name,
        .bundle = bundle,
        .cgroup_manager = ctx->cgroup_manager,
    };
    if (detach)
        r = start_detached(ctx, name, started, &co, log, rm, err);
    else
        r = container_run(&co, false, false, err);
    if (r < 0)
        return berth_error_prefix(err, "start %s", name);
    if (!detach)
        record_exit(ctx, name, started, r);
    return r;
}

/* Wait up to ms for the process behind pidfd to end. */
static bool wait_exit(int pidfd, int ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {pidfd, POLLIN, 0};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return true;
        if (n == 0 || errno != EINTR)
            return false;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms -= (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        t0 = t1;
        if (ms <= 0)
            return false;
    }
}

int engine_stop(const struct engine_ctx *ctx, const char *name, unsigned timeout,
                struct berth_error **err)
{
    struct opened c;
    int r = open_container(ctx, name, false, &c, err);
    opened_close(&c);
    if (r < 0)
        return berth_error_prefix(err, "stop %s", name);
    _cleanup_free_ char *status = NULL;
    int pid = 0;
    r = engine_runtime_status(ctx, name, &status, &pid, err);
    if (r < 0)
        return berth_error_prefix(err, "stop %s", name);
    if (!status || pid <= 0 || (strcmp(status, "running") != 0 && strcmp(status, "paused") != 0))
        return 0;
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        if (errno == ESRCH)
            return 0;
        return berth_error_set(err, errno, "stop %s: pidfd_open %d", name, pid);
    }
    /* The pid might have ended and been reused before the pidfd was taken: ask again. */
    _cleanup_free_ char *again = NULL;
    int pid2 = 0;
    r = engine_runtime_status(ctx, name, &again, &pid2, err);
    if (r < 0)
        return berth_error_prefix(err, "stop %s", name);
    if (!again || pid2 != pid || strcmp(again, "stopped") == 0)
        return 0;

    struct berth_error *e = NULL;
    r = container_kill(ctx->root, name, SIGTERM, false, &e);
    if (r == 0 && strcmp(again, "paused") == 0)
        r = container_resume(ctx->root, name, &e);
    if (r < 0) {
        log_debug("stop %s: %s", name, e->msg);
        berth_error_freep(&e);
    }
    if (r == 0 && timeout > 0 && wait_exit(pidfd, timeout > 86400 ? 86400000 : (int)timeout * 1000))
        return 0;
    r = container_kill(ctx->root, name, SIGKILL, true, &e);
    if (r < 0) {
        log_debug("stop %s: %s", name, e->msg);
        berth_error_freep(&e);
    }
    if (!wait_exit(pidfd, 10000))
        return berth_error_set(err, ETIMEDOUT, "stop %s: the process %d outlived SIGKILL", name,
                               pid);
    return 0;
}

int engine_exec(const struct engine_ctx *ctx, const char *name, const struct engine_exec_opts *o,
                struct berth_error **err)
{
    struct opened c;
    int r = open_container(ctx, name, false, &c, err);
    _cleanup_free_ char *user = NULL;
    if (r == 0 && o->user) {
        _cleanup_close_ int rootfd =
            open(c.rec.rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        uint32_t uid, gid;
        if (rootfd < 0)
            r = berth_error_set(err, errno, "open %s", c.rec.rootfs);
        else
            r = passwd_resolve(rootfd, o->user, &uid, &gid, err);
        if (r == 0)
            user = xasprintf("%u:%u", uid, gid);
    }
    opened_close(&c);
    if (r < 0)
        return berth_error_prefix(err, "exec %s", name);
    struct container_exec_opts eo = {
        .root = ctx->root,
        .id = name,
        .args = o->args,
        .tty = o->tty,
        .env = o->env,
        .cwd = o->cwd,
        .user = user,
    };
    return container_exec(&eo, err);
}

/* Copy what fd holds from its offset on to stdout: 0 at its end, 1 when the reader is gone. */
static int drain(int fd, const char *path, struct berth_error **err)
{
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berth_error_set(err, errno, "read %s", path);
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EPIPE)
                return 1;
            if (w < 0)
                return berth_error_set(err, errno, "write the log of %s", path);
            off += w;
        }
    }
}

/* The container's process while it runs (or is paused), as a pidfd; -1 when there is none. */
static int running_pidfd(const struct engine_ctx *ctx, const char *name, int *pidfd,
                         struct berth_error **err)
{
    _cleanup_free_ char *status = NULL;
    int pid;
    *pidfd = -1;
    int r = engine_runtime_status(ctx, name, &status, &pid, err);
    if (r < 0)
        return r;
    if (status && pid > 0 && (strcmp(status, "running") == 0 || strcmp(status, "paused") == 0))
        *pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* -1: gone meanwhile */
    return 0;
}

int engine_logs(const struct engine_ctx *ctx, const char *name, bool follow,
                struct berth_error **err)
{
    struct opened c;
    int r = open_container(ctx, name, false, &c, err);
    if (r < 0) {
        opened_close(&c);
        return r;
    }
    _cleanup_close_ int fd = openat(c.dir, RECORD_LOG, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    _cleanup_free_ char *path = xasprintf("%s/%s", c.rec.bundle, RECORD_LOG);
    opened_close(&c);
    if (fd < 0)
        return e == ENOENT ? 0 : berth_error_set(err, e, "open %s", path); /* never detached */
    _cleanup_close_ int ino = -1, pidfd = -1;
    if (follow) {
        char self[32];
        ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ino < 0 || inotify_add_watch(ino, path_fd(fd, self), IN_MODIFY) < 0)
            return berth_error_set(err, errno, "watch %s", path);
        /* Watched before the status is taken: nothing written after it is missed. */
        r = running_pidfd(ctx, name, &pidfd, err);
        if (r < 0)
            return r;
    }
    for (;;) {
        r = drain(fd, path, err);
        if (r != 0)
            return r < 0 ? r : 0;
        if (pidfd < 0)
            return 0;
        struct pollfd p[2] = {{ino, POLLIN, 0}, {pidfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return berth_error_set(err, errno, "wait for %s", path);
        char events[4096];
        while (p[0].revents && read(ino, events, sizeof(events)) > 0)
            ;
        if (p[1].revents) { /* it ended: what it wrote is there for one more drain */
            close(pidfd);
            pidfd = -1;
        }
    }
}
