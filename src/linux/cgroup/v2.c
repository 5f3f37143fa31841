/* cgroup v2 specifics of the lifecycle: delegating controllers and the freezer. */
#include "linux/cgroup/cgroup_internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int enable_at(const char *dir, const char *controllers, bool best_effort,
                     struct berth_error **err)
{
    _cleanup_free_ char *available = NULL, *enabled = NULL;
    int r = cg_read(dir, "cgroup.controllers", &available, err);
    if (r == 0)
        r = cg_read(dir, "cgroup.subtree_control", &enabled, err);
    if (r < 0)
        return r;
    const char *want = controllers ? controllers : available;
    _cleanup_free_ char *todo = xstrdup("");
    for (const char *p = want; *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        size_t l = strcspn(p, " \n");
        if (l == 0)
            break;
        _cleanup_free_ char *c = xstrndup(p, l);
        p += l;
        if (!cg_word_in(available, c)) {
            if (best_effort)
                continue;
            return berth_error_set(err, 0, "cgroup: controller %s is not available in %s", c, dir);
        }
        if (cg_word_in(enabled, c))
            continue;
        char *t = xasprintf("%s%s+%s", todo, *todo ? " " : "", c);
        free(todo);
        todo = t;
    }
    if (!*todo)
        return 0;
    r = cg_write(dir, "cgroup.subtree_control", todo, best_effort ? NULL : err);
    if (r == 0 || !best_effort)
        return r < 0 ? berth_error_prefix(err, "enable controllers in %s", dir) : 0;
    /* One refusal (a controller this level cannot delegate) must not cost the others. */
    for (char *save = NULL, *c = strtok_r(todo, " ", &save); c; c = strtok_r(NULL, " ", &save))
        if ((r = cg_write(dir, "cgroup.subtree_control", c, NULL)) < 0)
            log_debug("%s/cgroup.subtree_control: %s: %s", dir, c, strerror(-r));
    return 0;
}

int cgroup_v2_enable(const char *mountpoint, const char *path, const char *controllers,
                     bool best_effort, struct berth_error **err)
{
    size_t ml = strlen(mountpoint);
    _cleanup_free_ char *buf = xstrdup(path);
    for (char *p = buf + ml;;) {
        /* Each component's parent, buf[0..p), delegates to it; the leaf delegates nothing. */
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *e = strchrnul(p, '/');
        char saved = *p;
        *p = '\0';
        int r = enable_at(buf, controllers, best_effort, err);
        *p = saved;
        if (r < 0)
            return r;
        p = e;
    }
    return 0;
}

int cgroup_v2_ensure(const char *mountpoint, const char *path, const char *controller,
                     struct berth_error **err)
{
    _cleanup_free_ char *here = NULL;
    int r = cg_read(path, "cgroup.controllers", &here, err);
    if (r < 0)
        return r;
    if (cg_word_in(here, controller))
        return 1;
    _cleanup_free_ char *root = NULL;
    r = cg_read(mountpoint, "cgroup.controllers", &root, err);
    if (r < 0)
        return r;
    if (!cg_word_in(root, controller))
        return 0;
    r = cgroup_v2_enable(mountpoint, path, controller, false, err);
    return r < 0 ? r : 1;
}

static int read_frozen(int fd, const char *dir, bool *frozen, struct berth_error **err)
{
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n < 0)
        return berth_error_set(err, errno, "cgroup: read %s/cgroup.events", dir);
    buf[n] = '\0';
    const char *f = strstr(buf, "frozen ");
    if (!f || (f != buf && f[-1] != '\n'))
        return berth_error_set(err, ENOTSUP, "cgroup: %s/cgroup.events has no frozen state", dir);
    *frozen = f[7] == '1';
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cgroup_v2_freeze(const char *dir, bool frozen, struct berth_error **err)
{
    _cleanup_free_ char *events = xasprintf("%s/cgroup.events", dir);
    _cleanup_close_ int fd = open(events, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "cgroup: open %s", events);
    int r = cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err);
    if (r < 0)
        return r;
    /* The kernel flips "frozen" in cgroup.events once every task has stopped (or resumed) and
     * wakes pollers with POLLPRI. */
    long deadline = now_ms() + 10000;
    for (;;) {
        bool state;
        r = read_frozen(fd, dir, &state, err);
        if (r < 0)
            return r;
        if (state == frozen)
            return 0;
        long left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLPRI};
        if (poll(&pfd, 1, (int)(left > 100 ? 100 : left)) < 0 && errno != EINTR)
            return berth_error_set(err, errno, "cgroup: poll %s", events);
    }
    if (frozen)
        cg_write(dir, "cgroup.freeze", "0", NULL);
    return berth_error_set(err, ETIMEDOUT, "cgroup: %s %s", frozen ? "freeze" : "thaw", dir);
}

int cgroup_v2_is_frozen(const char *dir, bool *frozen, struct berth_error **err)
{
    _cleanup_free_ char *events = xasprintf("%s/cgroup.events", dir);
    _cleanup_close_ int fd = open(events, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "cgroup: open %s", events);
    return read_frozen(fd, dir, frozen, err);
}
