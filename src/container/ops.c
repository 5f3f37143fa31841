/* start, kill, delete, state and list: the commands that act on a container create made. */
#include "berth/error.h"
#include "container/container.h"
#include "container/hooks.h"
#include "container/state.h"
#include "container/supervise.h"
#include "container/sync.h"
#include "linux/cgroup/cgroup.h"
#include "linux/mnt.h"
#include "linux/label.h"
#include "linux/process.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#include <dirent.h>
#include <sys/file.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* An opened, locked container and what its state says. */
struct handle {
    int rootfd;
    int dirfd;
    struct container_state st;
    bool have_state;
    enum container_status status;
};

static void handle_close(struct handle *h)
{
    if (h->dirfd >= 0)
        close(h->dirfd);
    if (h->rootfd >= 0)
        close(h->rootfd);
    container_state_clear(&h->st);
}

static int handle_open(const char *root, const char *id, bool lock, struct handle *h,
                       struct berth_error **err)
{
    memset(h, 0, sizeof(*h));
    h->rootfd = h->dirfd = -1;
    int r = container_validate_id(id, err);
    if (r < 0)
        return r;
    h->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (h->rootfd < 0) {
        if (errno == ENOENT) {
            berth_error_set(err, 0, "container \"%s\" does not exist", id);
            return -ENOENT;
        }
        return berth_error_set(err, errno, "open state root %s", root);
    }
    h->dirfd = container_dir_open(h->rootfd, id, lock, err);
    if (h->dirfd < 0)
        return h->dirfd;
    struct berth_error *e = NULL;
    r = container_state_read(h->dirfd, id, &h->st, &e);
    if (r == -ENOENT) {
        /* The directory without state.json: a create before its first write, or one killed
         * there. Nothing of it runs yet (its init, if any, dies with it). */
        berth_error_free(e);
        if (!lock && container_dir_busy(h->dirfd)) {
            berth_error_set(err, 0, "container \"%s\" is being created", id);
            return -EBUSY;
        }
        berth_error_set(err, 0,
                        "container \"%s\" does not exist: its create was interrupted before it "
                        "wrote state.json (delete --force removes the directory)",
                        id);
        return -ENOENT; /* as for no directory: delete --force tells them apart by dirfd */
    }
    if (r < 0) {
        if (err && !*err)
            *err = e;
        else
            berth_error_free(e);
        return r;
    }
    h->have_state = true;
    h->status = container_status_of(h->dirfd, &h->st);
    /* Holding the lock ourselves, nobody else is creating it. */
    if (lock && h->status == CONTAINER_CREATING)
        h->status = CONTAINER_STOPPED;
    if (h->status == CONTAINER_RUNNING && h->st.cgroup) {
        struct cgroup *cg = NULL;
        bool frozen = false;
        struct berth_error *e = NULL;
        if (cgroup_from_json(h->st.cgroup, &cg, &e) == 0 &&
            cgroup_is_frozen(cg, &frozen, &e) == 0 && frozen)
            h->status = CONTAINER_PAUSED;
        berth_error_free(e);
        cgroup_free(cg);
    }
    return 0;
}

static int open_cgroup(const struct container_state *st, struct cgroup **cg,
                       struct berth_error **err)
{
    *cg = NULL;
    if (!st->cgroup)
        return 0;
    return cgroup_from_json(st->cgroup, cg, err);
}

static char *state_text(const struct container_state *st, enum container_status status)
{
    json_t *o = container_state_json(st, status);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* poststart hooks run after the process is exec'd: once `watch` hangs up, which the init's
 * end closing at its exec makes happen (-1: at once). */
static void poststart_after_hangup(const struct container_state *st, struct spec_hook *hooks,
                                   size_t n, int watch)
{
    struct pollfd pf = {watch, 0, 0};
    while (watch >= 0 && !(pf.revents & (POLLHUP | POLLERR)) &&
           (poll(&pf, 1, -1) >= 0 || errno == EINTR))
        ;
    _cleanup_free_ char *state = state_text(st, CONTAINER_RUNNING);
    _cleanup_close_ int bundle = hooks_open_bundle(st->bundle);
    hooks_run_warn(hooks, n, "poststart", state, bundle);
}

static void poststart_hooks(const struct container_state *st, struct spec_hook **hooks, size_t *n)
{
    hooks_from_json(st->hooks ? json_object_get(st->hooks, "poststart") : NULL, hooks, n);
}

int container_start(const char *root, const char *id, struct berth_error **err)
{
    _cleanup_(handle_close) struct handle h;
    int r = handle_open(root, id, true, &h, err);
    if (r < 0)
        return r;
    if (h.status != CONTAINER_CREATED)
        return berth_error_set(err, 0, "cannot start container \"%s\": it is %s, not created", id,
                               container_status_name(h.status));
    /* Non-blocking: no reader means the init is gone, and start must not hang on it. */
    _cleanup_close_ int fifo =
        openat(h.dirfd, CONTAINER_EXEC_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fifo < 0)
        return berth_error_set(err, errno, "start container \"%s\": its init is not waiting", id);
    struct spec_hook *hooks;
    size_t n;
    poststart_hooks(&h.st, &hooks, &n);
    /* The init holds the fifo open until its exec closes it: a reader opened here, with a
     * writer opened after it, sees a hang-up once the init's end is gone. */
    _cleanup_close_ int watch = -1, writer = -1;
    if (n) {
        watch = openat(h.dirfd, CONTAINER_EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        writer = openat(h.dirfd, CONTAINER_EXEC_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    }
    /* Gone before the byte is written, so that from the first instant of the process, state
     * says running. */
    unlinkat(h.dirfd, CONTAINER_EXEC_FIFO, 0);
    if (write(fifo, "0", 1) != 1) {
        hooks_free_array(hooks, n);
        return berth_error_set(err, errno, "start container \"%s\"", id);
    }
    if (n) {
        close(TAKE_FD(fifo));
        close(TAKE_FD(writer));
        poststart_after_hangup(&h.st, hooks, n, watch);
    }
    hooks_free_array(hooks, n);
    return 0;
}

/* A handle on what `run` holds: borrowed, never closed here. */
static struct handle held_handle(struct container_held *held, enum container_status status)
{
    return (struct handle){.rootfd = held->rootfd,
                           .dirfd = held->dirfd,
                           .st = held->st,
                           .have_state = true,
                           .status = status};
}

int container_start_held(struct container_held *held, const char *id, struct berth_error **err)
{
    /* No exec.fifo: the init waits on its socket, which its exec closes. */
    int r = sync_send(held->sock, SYNC_START, 0, -1, NULL, err);
    if (r < 0) {
        berth_error_prefix(err, "start container \"%s\": its init is not waiting", id);
    } else {
        struct spec_hook *hooks;
        size_t n;
        poststart_hooks(&held->st, &hooks, &n);
        if (n)
            poststart_after_hangup(&held->st, hooks, n, held->sock);
        hooks_free_array(hooks, n);
    }
    close(held->sock);
    held->sock = -1;
    flock(held->dirfd, LOCK_UN);
    return r;
}

void container_held_clear(struct container_held *held)
{
    if (held->dirfd >= 0)
        close(held->dirfd);
    if (held->rootfd >= 0)
        close(held->rootfd);
    if (held->sock >= 0)
        close(held->sock);
    held->rootfd = held->dirfd = held->sock = -1;
    container_state_clear(&held->st);
}

static int signal_init(const struct container_state *st, int sig, struct berth_error **err)
{
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
    if (pidfd < 0 && errno != ENOSYS)
        return berth_error_set(err, errno == ESRCH ? 0 : errno, "container not running");
    /* The pid could have been reused between reading the state and opening the pidfd. */
    if (container_proc_start_time(st->pid, NULL) != st->start_time)
        return berth_error_set(err, 0, "container not running");
    /* Without pidfds (kernels before 5.3, valgrind) the pid is signalled right after that
     * check, as runc does. */
    long r = pidfd >= 0 ? syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) : kill(st->pid, sig);
    if (r < 0)
        return berth_error_set(err, errno, "signal %d to the container init", sig);
    return 0;
}

int container_kill(const char *root, const char *id, int sig, bool all, struct berth_error **err)
{
    _cleanup_(handle_close) struct handle h;
    int r = handle_open(root, id, false, &h, err);
    if (r < 0)
        return r;
    if (h.status == CONTAINER_STOPPED && !all)
        return berth_error_set(err, 0, "container not running");
    if (all) {
        struct cgroup *cg;
        r = open_cgroup(&h.st, &cg, err);
        if (r < 0)
            return r;
        if (!cg) {
            if (h.status == CONTAINER_STOPPED)
                return berth_error_set(err, 0, "container not running");
            return signal_init(&h.st, sig, err);
        }
        r = cgroup_signal_all(cg, sig, err);
        cgroup_free(cg);
        return r;
    }
    return signal_init(&h.st, sig, err);
}

/* Wait until the init has exited (it may not be our child, so a pidfd tells). */
static void wait_exit(pid_t pid, unsigned long long start_time)
{
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 && errno != ENOSYS)
        return;
    /* Without pidfds (kernels before 5.3, valgrind) /proc alone tells, every 10 ms. */
    struct pollfd pf = {pidfd, POLLIN, 0};
    for (int i = 0; i < (pidfd >= 0 ? 100 : 1000); i++) {
        if (poll(&pf, pidfd >= 0, pidfd >= 0 ? 100 : 10) > 0)
            return;
        char s;
        if (container_proc_start_time(pid, &s) != start_time || s == 'Z')
            return;
    }
}

/* Wait until no process is left in the cgroup. A dying process leaves its cgroup before it
 * has finished exiting: an init that outlives the others of its pid namespace waits for
 * them to be reaped, and a process an exec started is reaped by the host's init (its parent,
 * the exec, is gone), which may take its time. Nothing of the container runs any more once
 * the cgroup is empty. false: not known to be empty within 10 s. */
static bool wait_empty(const struct cgroup *cg)
{
    long waited_us = 0;
    for (long delay_us = 200;; delay_us = delay_us < 50000 ? delay_us * 2 : delay_us) {
        bool populated = true;
        if (cgroup_populated(cg, &populated, NULL) < 0)
            return false;
        if (!populated)
            return true;
        if (waited_us > 10000000)
            return false;
        nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = delay_us * 1000}, NULL);
        waited_us += delay_us;
    }
}

/* Kill what is left of the container. With a pid namespace of its own that is its init (the
 * kernel ends the rest with it); without one, everything in its cgroup, as runc does. */
static int kill_everything(const struct container_state *st, struct cgroup *cg,
                           struct berth_error **err)
{
    bool init_only = cg && st->own_pidns;
    if (cg) {
        /* An empty cgroup stays empty (nothing in it is left to fork): then no signal, and no
         * freezer writes, which on v1 make the kernel patch its code on every CPU. */
        bool populated = true;
        int r = 0;
        if (cgroup_populated(cg, &populated, NULL) < 0 || populated) {
            if (init_only && st->pid > 0 &&
                container_proc_start_time(st->pid, NULL) == st->start_time)
                kill(st->pid, SIGKILL);
            else if (!init_only)
                r = cgroup_signal_all(cg, SIGKILL, err);
            /* A paused container's processes die only once thawed. */
            if (r == 0)
                r = cgroup_freeze(cg, false, err);
        }
        /* A delete that was interrupted after it removed the cgroup: nothing is left in it, and
         * the init, should it still be there, is reached by its pid below. */
        if (r == -ENOENT) {
            if (err)
                berth_error_freep(err);
            cg = NULL;
        } else if (r < 0) {
            return r;
        }
    }
    if (!cg && st->pid > 0 && container_proc_start_time(st->pid, NULL) == st->start_time)
        kill(st->pid, SIGKILL);
    if (st->pid > 0 && !(cg && !init_only && wait_empty(cg)))
        wait_exit(st->pid, st->start_time);
    return 0;
}

/* Whether another container under root records a label with this MCS pair (engines may give
 * one label to several containers, as a pod's). */
static bool pair_in_use(const char *root, const char *id, unsigned lo, unsigned hi)
{
    _cleanup_closedir_ DIR *d = opendir(root);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, id) == 0)
            continue;
        _cleanup_(handle_close) struct handle h;
        struct berth_error *e = NULL;
        int r = handle_open(root, de->d_name, false, &h, &e);
        berth_error_free(e);
        const char *key;
        json_t *v;
        unsigned a, b;
        if (r == 0 && h.st.label)
            json_object_foreach(h.st.label, key, v)
            {
                if (label_mcs_pair(json_string_value(v), &a, &b) && a == lo && b == hi)
                    return true;
            }
    }
    return false;
}

static void release_labels(const char *root, const char *id, json_t *labels)
{
    const char *key;
    json_t *v;
    unsigned done_lo = 0, done_hi = 0; /* the process and mount labels share their pair */
    json_object_foreach(labels, key, v)
    {
        const char *label = json_string_value(v);
        unsigned lo, hi;
        struct berth_error *e = NULL;
        if (!label_mcs_pair(label, &lo, &hi) || (lo == done_lo && hi == done_hi))
            continue;
        done_lo = lo;
        done_hi = hi;
        if (pair_in_use(root, id, lo, hi))
            continue;
        if (label_release(root, label, &e) < 0)
            log_warn("container \"%s\": %s", id, e->msg);
        berth_error_free(e);
    }
}

static int delete_handle(const char *root, const char *id, struct handle *hp, bool force,
                         struct berth_error **err);

int container_delete(const char *root, const char *id, bool force, struct berth_error **err)
{
    _cleanup_(handle_close) struct handle h;
    int r = handle_open(root, id, true, &h, err);
    if (r == -ENOENT && h.dirfd < 0 && force) {
        berth_error_freep(err);
        return 0;
    }
    if (r < 0 && !h.have_state && h.dirfd >= 0 && force) {
        /* A create that was killed before it wrote state.json: nothing runs (its init died
         * with it), only the directory is left. A state.json that cannot be read says nothing
         * more: the directory is all that can be removed. */
        berth_error_freep(err);
        return fs_remove_tree_at(h.rootfd, id, err);
    }
    if (r < 0)
        return r;
    return delete_handle(root, id, &h, force, err);
}

int container_delete_held(struct container_held *held, const char *root, const char *id,
                          bool reaped, struct berth_error **err)
{
    int r = container_dir_relock(held->dirfd, id, err);
    if (r == -ENOENT) {
        berth_error_freep(err);
        return 0;
    }
    if (r < 0)
        return r;
    struct handle h =
        held_handle(held, reaped ? CONTAINER_STOPPED : container_status_of(held->dirfd, &held->st));
    return delete_handle(root, id, &h, true, err);
}

static int delete_handle(const char *root, const char *id, struct handle *hp, bool force,
                         struct berth_error **err)
{
    struct handle h = *hp;
    int r;
    if ((h.status == CONTAINER_RUNNING || h.status == CONTAINER_PAUSED) && !force)
        return berth_error_set(err, 0, "cannot delete container \"%s\" that is not stopped: %s", id,
                               container_status_name(h.status));

    struct cgroup *cg = NULL;
    r = open_cgroup(&h.st, &cg, err);
    if (r < 0)
        return r;
    /* A stopped container's cgroup is mostly empty already: one rmdir tells. */
    r = h.status == CONTAINER_STOPPED && cg ? cgroup_destroy_if_empty(cg, err) : -EBUSY;
    if (r == -EBUSY) {
        r = 0;
        if (h.status != CONTAINER_STOPPED || cg)
            r = kill_everything(&h.st, cg, err);
        if (r == 0 && cg)
            r = cgroup_destroy(cg, err);
    }
    if (cg)
        cgroup_free(cg);
    if (r < 0)
        return r;
    if (h.st.rootfs_mount && (r = mnt_detach_if(h.st.rootfs, h.st.rootfs_mount)) < 0)
        return berth_error_set(err, -r, "detach the mounts of container \"%s\" at %s", id,
                               h.st.rootfs);

    struct spec_hook *hooks;
    size_t n;
    hooks_from_json(h.st.hooks ? json_object_get(h.st.hooks, "poststop") : NULL, &hooks, &n);
    if (n) {
        _cleanup_free_ char *state = state_text(&h.st, CONTAINER_STOPPED);
        _cleanup_close_ int bundle = hooks_open_bundle(h.st.bundle);
        hooks_run_warn(hooks, n, "poststop", state, bundle);
    }
    hooks_free_array(hooks, n);
    /* The directory holds state.json alone once the container has started; anything else (an
     * exec.fifo, a create's leftovers) takes the general way. */
    if (unlinkat(h.dirfd, CONTAINER_STATE_FILE, 0) == 0 &&
        unlinkat(h.rootfd, id, AT_REMOVEDIR) == 0)
        r = 0;
    else
        r = fs_remove_tree_at(h.rootfd, id, err);
    if (r == 0 && h.st.label)
        release_labels(root, id, h.st.label);
    return r;
}

int container_state(const char *root, const char *id, json_t **out, struct berth_error **err)
{
    _cleanup_(handle_close) struct handle h;
    int r = handle_open(root, id, false, &h, err);
    if (r < 0)
        return r;
    *out = container_state_json(&h.st, h.status);
    return 0;
}

/* runc's list names the owner of the container's state directory: a user name from the host's
 * /etc/passwd, else "#UID". */
static json_t *owner_of(int dirfd)
{
    struct stat st;
    if (fstat(dirfd, &st) < 0)
        return json_string("");
    struct process_user_info ui;
    process_lookup_user(st.st_uid, &ui, NULL);
    json_t *o = ui.name ? json_string(ui.name) : json_sprintf("#%u", (unsigned)st.st_uid);
    process_user_info_clear(&ui);
    return o;
}

static int no_dot(const struct dirent *de)
{
    return de->d_name[0] != '.';
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int container_list(const char *root, json_t **out, json_t **skipped, struct berth_error **err)
{
    *out = json_array();
    if (skipped)
        *skipped = json_array();
    /* By id, as runc lists them. */
    struct dirent **list;
    int n = scandir(root, &list, no_dot, by_name);
    if (n < 0) {
        if (errno == ENOENT)
            return 0;
        return berth_error_set(err, errno, "open state root %s", root);
    }
    for (int i = 0; i < n; i++) {
        _cleanup_free_ struct dirent *de = list[i];
        struct handle h;
        struct berth_error *e = NULL;
        int r = handle_open(root, de->d_name, false, &h, &e);
        if (r == 0) {
            json_t *o = container_state_json(&h.st, h.status);
            json_object_set_new(o, "owner", owner_of(h.dirfd));
            json_array_append_new(*out, o);
        } else if (skipped && r != -EBUSY && !(r == -ENOENT && h.dirfd < 0)) {
            /* Neither a create in progress nor a delete that just removed it: say which
             * entry could not be read and why, and list the others. */
            json_array_append_new(*skipped, json_pack("{s:s, s:s}", "id", de->d_name, "error",
                                                      e ? e->msg : "unreadable"));
        }
        berth_error_free(e);
        handle_close(&h);
    }
    free(list);
    return 0;
}

int container_parse_signal(const char *s, int *sig, struct berth_error **err)
{
    if (!s || !*s)
        return berth_error_set(err, 0, "empty signal");
    if (*s >= '0' && *s <= '9') {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v < 0 || v >= NSIG)
            return berth_error_set(err, 0, "invalid signal \"%s\"", s);
        *sig = (int)v;
        return 0;
    }
    const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (int i = 1; i < NSIG; i++) {
        const char *abbrev = sigabbrev_np(i);
        if (abbrev && strcasecmp(abbrev, name) == 0) {
            *sig = i;
            return 0;
        }
    }
    if (strncasecmp(name, "RTMIN+", 6) == 0 || strncasecmp(name, "RTMAX-", 6) == 0) {
        char *end;
        long off = strtol(name + 6, &end, 10);
        int v = name[3] == 'I' || name[3] == 'i' ? SIGRTMIN + (int)off : SIGRTMAX - (int)off;
        if (!*end && off >= 0 && v >= SIGRTMIN && v <= SIGRTMAX) {
            *sig = v;
            return 0;
        }
    }
    return berth_error_set(err, 0, "unknown signal \"%s\"", s);
}

/* The container's cgroup, for the commands that need one. */
static int need_cgroup(const struct handle *h, const char *what, struct cgroup **cg,
                       struct berth_error **err)
{
    int r = open_cgroup(&h->st, cg, err);
    if (r < 0)
        return r;
    if (!*cg)
        return berth_error_set(err, 0, "%s container \"%s\": it has no cgroup", what, h->st.id);
    return 0;
}

static int freeze(const char *root, const char *id, bool frozen, struct berth_error **err)
{
    _cleanup_(handle_close) struct handle h;
    int r = handle_open(root, id, true, &h, err);
    if (r < 0)
        return r;
    enum container_status want = frozen ? CONTAINER_RUNNING : CONTAINER_PAUSED;
    if (h.status != want)
        return berth_error_set(err, 0, "cannot %s container \"%s\": it is %s",
                               frozen ? "pause" : "resume", id, container_status_name(h.status));
    struct cgroup *cg;
    r = need_cgroup(&h, frozen ? "pause" : "resume", &cg, err);
    if (r < 0)
        return r;
    r = cgroup_freeze(cg, frozen, err);
    cgroup_free(cg);
    return r;
}

int container_pause(const char *root, const char *id, struct berth_error **err)
{
    return freeze(root, id, true, err);
}

int container_resume(const char *root, const char *id, struct berth_error **err)
{
    return freeze(root, id, false, err);
}

int container_pids(const char *root, const char *id, pid_t **pids, size_t *n,
                   struct berth_error **err)
{
    _cleanup_(handle_close) struct handle h;
    int r = handle_open(root, id, false, &h, err);
    if (r < 0)
        return r;
    *pids = NULL;
    *n = 0;
    if (h.status == CONTAINER_STOPPED)
        return 0;
    struct cgroup *cg;
    r = open_cgroup(&h.st, &cg, err);
    if (r < 0)
        return r;
    if (!cg) {
        /* Without a cgroup the init is all we know of. */
        *pids = xmalloc(sizeof(pid_t));
        (*pids)[0] = h.st.pid;
        *n = 1;
        return 0;
    }
    r = cgroup_pids(cg, pids, n, err);
    cgroup_free(cg);
    return r;
}

int container_update(const char *root, const char *id, const struct spec_resources *res,
                     struct berth_error **err)
{
    _cleanup_(handle_close) struct handle h;
    int r = handle_open(root, id, true, &h, err);
    if (r < 0)
        return r;
    if (h.status == CONTAINER_STOPPED)
        return berth_error_set(err, 0, "cannot update container \"%s\": it is stopped", id);
    struct cgroup *cg;
    r = need_cgroup(&h, "update", &cg, err);
    if (r < 0)
        return r;
    r = cgroup_apply(cg, res, true, err);
    cgroup_free(cg);
    return r;
}

int container_stats(const char *root, const char *id, struct cgroup_stats *out,
                    struct berth_error **err)
{
    _cleanup_(handle_close) struct handle h;
    int r = handle_open(root, id, false, &h, err);
    if (r < 0)
        return r;
    if (h.status == CONTAINER_STOPPED)
        return berth_error_set(err, 0, "container \"%s\" is stopped", id);
    struct cgroup *cg;
    r = need_cgroup(&h, "read the stats of", &cg, err);
    if (r < 0)
        return r;
    r = cgroup_stats(cg, out, err);
    cgroup_free(cg);
    return r;
}
