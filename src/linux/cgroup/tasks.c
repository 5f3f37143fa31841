/* The container's processes: listing, signalling, freezing, and their resource usage. */
#include "linux/cgroup/cgroup_internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pid_list {
    pid_t *v;
    size_t n;
};

static int collect(const char *dir, struct pid_list *l, unsigned depth, struct berth_error **err)
{
    if (depth > 64)
        return berth_error_set(err, ELOOP, "cgroup: %s: sub-cgroups nested too deep", dir);
    _cleanup_free_ char *procs = NULL;
    int r = cg_read(dir, "cgroup.procs", &procs, err);
    if (r < 0)
        return r;
    for (char *p = procs; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        if (v > 0) {
            l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
            l->v[l->n++] = (pid_t)v;
        }
        p = end;
        while (*p == '\n')
            p++;
    }
    _cleanup_closedir_ DIR *d = opendir(dir);
    if (!d)
        return berth_error_set(err, errno, "cgroup: open %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
        /* A sub-cgroup that vanished while we looked holds no processes. */
        struct berth_error *e = NULL;
        r = collect(sub, l, depth + 1, &e);
        if (r < 0 && r != -ENOENT) {
            if (err && !*err)
                *err = TAKE_PTR(e);
            berth_error_free(e);
            return r;
        }
        berth_error_free(e);
    }
    return 0;
}

int cgroup_pids(const struct cgroup *cg, pid_t **pids, size_t *n, struct berth_error **err)
{
    const struct cgroup_dir *d = cgroup_primary_dir(cg);
    struct pid_list l = {0};
    if (d) {
        int r = collect(d->path, &l, 0, err);
        if (r < 0) {
            free(l.v);
            return r;
        }
    }
    *pids = l.v;
    *n = l.n;
    return 0;
}

int cgroup_populated(const struct cgroup *cg, bool *populated, struct berth_error **err)
{
    /* cgroup2 keeps the answer in one file, sub-cgroups included; v1 has only the lists. */
    const struct cgroup_dir *u = cgroup_find_dir(cg, "");
    if (u) {
        uint64_t v;
        int r = cg_read_key_u64(u->path, "cgroup.events", "populated", &v, err);
        if (r == 0) {
            *populated = v != 0;
            return 0;
        }
        if (r != -ENOENT)
            return r;
    }
    pid_t *pids;
    size_t n;
    int r = cgroup_pids(cg, &pids, &n, err);
    if (r < 0)
        return r;
    free(pids);
    *populated = n > 0;
    return 0;
}

/* The freezer to use: v1's where it is mounted, else cgroup.freeze of the v2 directory. */
static const struct cgroup_dir *freezer_dir(const struct cgroup *cg, bool *v2)
{
    const struct cgroup_dir *d = cgroup_find_dir(cg, "freezer");
    *v2 = d == NULL;
    return d ? d : cgroup_find_dir(cg, "");
}

int cgroup_freeze(const struct cgroup *cg, bool frozen, struct berth_error **err)
{
    bool v2;
    const struct cgroup_dir *d = freezer_dir(cg, &v2);
    if (!d)
        return berth_error_set(err, ENOTSUP, "cgroup: no freezer on this host");
    return v2 ? cgroup_v2_freeze(d->path, frozen, err) : cgroup_v1_freeze(d->path, frozen, err);
}

int cgroup_is_frozen(const struct cgroup *cg, bool *frozen, struct berth_error **err)
{
    bool v2;
    const struct cgroup_dir *d = freezer_dir(cg, &v2);
    if (!d)
        return berth_error_set(err, ENOTSUP, "cgroup: no freezer on this host");
    return v2 ? cgroup_v2_is_frozen(d->path, frozen, err)
              : cgroup_v1_is_frozen(d->path, frozen, err);
}

int cgroup_signal_all(const struct cgroup *cg, int sig, struct berth_error **err)
{
    const struct cgroup_dir *u = cgroup_find_dir(cg, "");
    /* cgroup.kill (5.14+) kills every process atomically, sub-cgroups and forks included. A
     * hybrid host's v1 freezer still holds its tasks, which die only once thawed. */
    if (sig == SIGKILL && u && cg_exists(u->path, "cgroup.kill")) {
        int r = cg_write(u->path, "cgroup.kill", "1", err);
        const struct cgroup_dir *fz = cgroup_find_dir(cg, "freezer");
        bool frozen = false;
        if (r == 0 && fz && (r = cgroup_v1_is_frozen(fz->path, &frozen, err)) == 0 && frozen)
            r = cgroup_v1_freeze(fz->path, false, err);
        return r;
    }

    bool was_frozen = false, froze = false;
    struct berth_error *ferr = NULL;
    if (cgroup_is_frozen(cg, &was_frozen, &ferr) == 0 && !was_frozen &&
        cgroup_freeze(cg, true, &ferr) == 0)
        froze = true;
    if (ferr) {
        log_debug("signal without freezing: %s", ferr->msg);
        berth_error_free(ferr);
    }

    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    int r = cgroup_pids(cg, &pids, &n, err);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (kill(pids[i], sig) < 0 && errno != ESRCH)
            r = berth_error_set(err, errno, "cgroup: kill %d with signal %d", (int)pids[i], sig);

    /* Frozen v1 tasks only die once thawed: a SIGKILL always thaws. */
    if (froze || (was_frozen && sig == SIGKILL)) {
        int t = cgroup_freeze(cg, false, r == 0 ? err : NULL);
        if (r == 0)
            r = t;
    }
    return r;
}

/* ---- statistics ---- */

static bool read_u64_quiet(const char *dir, const char *file, uint64_t *out)
{
    return cg_read_u64(dir, file, out, NULL) == 0;
}

static bool read_key_quiet(const char *dir, const char *file, const char *key, uint64_t *out)
{
    return cg_read_key_u64(dir, file, key, out, NULL) == 0;
}

static void stats_v1(const struct cgroup *cg, struct cgroup_stats *s)
{
    const struct cgroup_dir *d;
    if ((d = cgroup_find_dir(cg, "memory"))) {
        s->has_memory = read_u64_quiet(d->path, "memory.usage_in_bytes", &s->memory_usage) &&
                        read_u64_quiet(d->path, "memory.limit_in_bytes", &s->memory_limit);
        read_u64_quiet(d->path, "memory.max_usage_in_bytes", &s->memory_max_usage);
        read_u64_quiet(d->path, "memory.failcnt", &s->memory_failcnt);
        s->has_swap = read_u64_quiet(d->path, "memory.memsw.usage_in_bytes", &s->swap_usage) &&
                      read_u64_quiet(d->path, "memory.memsw.limit_in_bytes", &s->swap_limit);
    }
    if ((d = cgroup_find_dir(cg, "cpuacct"))) {
        s->has_cpu = read_u64_quiet(d->path, "cpuacct.usage", &s->cpu_usage_ns);
        /* cpuacct.stat counts in USER_HZ ticks. */
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t user, system;
        if (hz > 0 && read_key_quiet(d->path, "cpuacct.stat", "user", &user) &&
            read_key_quiet(d->path, "cpuacct.stat", "system", &system)) {
            s->cpu_user_ns = user * (1000000000ull / (uint64_t)hz);
            s->cpu_system_ns = system * (1000000000ull / (uint64_t)hz);
        }
    }
    if ((d = cgroup_find_dir(cg, "cpu"))) {
        uint64_t throttled_ns;
        read_key_quiet(d->path, "cpu.stat", "nr_throttled", &s->cpu_throttled_periods);
        if (read_key_quiet(d->path, "cpu.stat", "throttled_time", &throttled_ns))
            s->cpu_throttled_ns = throttled_ns;
    }
}

static void stats_v2(const char *dir, struct cgroup_stats *s)
{
    if (!s->has_memory) {
        s->has_memory = read_u64_quiet(dir, "memory.current", &s->memory_usage) &&
                        read_u64_quiet(dir, "memory.max", &s->memory_limit);
        if (s->has_memory) {
            read_u64_quiet(dir, "memory.peak", &s->memory_max_usage);
            read_key_quiet(dir, "memory.events", "max", &s->memory_failcnt);
            s->has_swap = read_u64_quiet(dir, "memory.swap.current", &s->swap_usage) &&
                          read_u64_quiet(dir, "memory.swap.max", &s->swap_limit);
        }
    }
    if (!s->has_cpu) {
        uint64_t usec;
        s->has_cpu = read_key_quiet(dir, "cpu.stat", "usage_usec", &usec);
        if (s->has_cpu) {
            s->cpu_usage_ns = usec * 1000;
            if (read_key_quiet(dir, "cpu.stat", "user_usec", &usec))
                s->cpu_user_ns = usec * 1000;
            if (read_key_quiet(dir, "cpu.stat", "system_usec", &usec))
                s->cpu_system_ns = usec * 1000;
            read_key_quiet(dir, "cpu.stat", "nr_throttled", &s->cpu_throttled_periods);
            if (read_key_quiet(dir, "cpu.stat", "throttled_usec", &usec))
                s->cpu_throttled_ns = usec * 1000;
        }
    }
}

int cgroup_stats(const struct cgroup *cg, struct cgroup_stats *out, struct berth_error **err)
{
    (void)err;
    memset(out, 0, sizeof(*out));
    stats_v1(cg, out);
    const struct cgroup_dir *u = cgroup_find_dir(cg, "");
    if (u)
        stats_v2(u->path, out);
    const struct cgroup_dir *p = cgroup_find_dir(cg, "pids");
    if (!p)
        p = u;
    if (p)
        out->has_pids = read_u64_quiet(p->path, "pids.current", &out->pids_current) &&
                        read_u64_quiet(p->path, "pids.max", &out->pids_limit);
    const struct cgroup_dir *m = cgroup_find_dir(cg, "memory");
    if (m)
        out->has_oom_kills =
            cg_read_key_u64(m->path, "memory.oom_control", "oom_kill", &out->oom_kills, NULL) == 0;
    if (!out->has_oom_kills && u)
        out->has_oom_kills =
            cg_read_key_u64(u->path, "memory.events", "oom_kill", &out->oom_kills, NULL) == 0;
    return 0;
}
