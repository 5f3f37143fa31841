/* cgroup v1 specifics of the lifecycle: cpuset initialisation and the freezer. */
#include "linux/cgroup/cgroup_internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* Give dir its parent's cpus or mems. Only levels this container made come here: they are new,
 * so they hold nothing of their own to keep (at most a copy of their parent's values, with
 * cgroup.clone_children), and the parent's values are written without reading theirs first. A
 * parent that has none (made by someone else without them, as a pod's cgroup can be) gets its
 * own parent's first, as runc fills it; the hierarchy's root always has them. */
static int inherit(const char *mountpoint, const char *parent, const char *dir, const char *file,
                   struct berth_error **err)
{
    _cleanup_free_ char *theirs = NULL;
    int r = cg_read(parent, file, &theirs, err);
    if (r < 0)
        return r;
    theirs[strcspn(theirs, "\n")] = '\0';
    if (!*theirs) {
        _cleanup_free_ char *grand = xstrdup(parent);
        char *slash = strrchr(grand, '/');
        if (!slash || (size_t)(slash - grand) < strlen(mountpoint))
            return berth_error_set(err, 0, "cgroup: %s/%s is empty: no cpus or mems to inherit",
                                   parent, file);
        *slash = '\0';
        r = inherit(mountpoint, grand, parent, file, err);
        if (r < 0)
            return r;
        free(theirs);
        theirs = NULL;
        if ((r = cg_read(parent, file, &theirs, err)) < 0)
            return r;
        theirs[strcspn(theirs, "\n")] = '\0';
    }
    return cg_write(dir, file, theirs, err);
}

int cgroup_v1_cpuset_init(const char *mountpoint, const char *path, unsigned created,
                          struct berth_error **err)
{
    /* A new v1 cpuset directory starts with no cpus and no mems, and a task cannot join it
     * (ENOSPC) until it has both: copy them down from the first level we made. */
    size_t ml = strlen(mountpoint);
    _cleanup_free_ char *buf = xstrdup(path);
    char *levels[64];
    unsigned n = 0;
    for (unsigned k = 0; k < created && n < ARRAY_SIZE(levels); k++) {
        levels[n++] = xstrdup(buf);
        char *slash = strrchr(buf, '/');
        if (!slash || (size_t)(slash - buf) <= ml)
            break;
        *slash = '\0';
    }
    int r = 0;
    for (unsigned i = n; i-- > 0;) {
        if (r == 0) {
            _cleanup_free_ char *parent = xstrdup(levels[i]);
            *strrchr(parent, '/') = '\0';
            r = inherit(mountpoint, parent, levels[i], "cpuset.cpus", err);
            if (r == 0)
                r = inherit(mountpoint, parent, levels[i], "cpuset.mems", err);
        }
        free(levels[i]);
    }
    return r;
}

static int read_state(const char *dir, char **state, struct berth_error **err)
{
    int r = cg_read(dir, "freezer.state", state, err);
    if (r < 0)
        return r;
    (*state)[strcspn(*state, "\n")] = '\0';
    return 0;
}

static void sleep_us(long us)
{
    nanosleep(&(struct timespec){.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000}, NULL);
}

int cgroup_v1_freeze(const char *dir, bool frozen, struct berth_error **err)
{
    if (!frozen)
        return cg_write(dir, "freezer.state", "THAWED", err);
    /* The v1 freezer can stay in FREEZING while tasks keep forking or joining; writing FROZEN
     * again, with a thaw and a pause now and then, lets it catch up. If it never does, thaw
     * rather than leave a half-frozen container. */
    for (int i = 0; i < 1000; i++) {
        if (i % 50 == 49) {
            cg_write(dir, "freezer.state", "THAWED", NULL);
            sleep_us(10000);
        }
        int r = cg_write(dir, "freezer.state", "FROZEN", err);
        if (r < 0)
            return r;
        if (i % 25 == 24)
            sleep_us(100);
        _cleanup_free_ char *state = NULL;
        r = read_state(dir, &state, err);
        if (r < 0)
            return r;
        if (strcmp(state, "FROZEN") == 0)
            return 0;
        if (strcmp(state, "FREEZING") != 0)
            return berth_error_set(err, 0, "cgroup: %s/freezer.state: unexpected state \"%s\"", dir,
                                   state);
    }
    cg_write(dir, "freezer.state", "THAWED", NULL);
    return berth_error_set(err, EBUSY, "cgroup: freeze %s: tasks did not stop", dir);
}

int cgroup_v1_is_frozen(const char *dir, bool *frozen, struct berth_error **err)
{
    _cleanup_free_ char *state = NULL;
    int r = read_state(dir, &state, err);
    if (r < 0)
        return r;
    *frozen = strcmp(state, "FROZEN") == 0;
    return 0;
}
