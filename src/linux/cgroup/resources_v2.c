/* linux.resources into cgroup v2 files, with runc's conversions from the v1-shaped OCI values. */
#include "linux/cgroup/cgroup_internal.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

uint64_t cgroup_cpu_shares_to_weight(uint64_t shares)
{
    if (shares == 0)
        return 0;
    if (shares <= 2)
        return 1;
    if (shares >= 262144)
        return 10000;
    /* A quadratic in log2(shares) through (2, 1), (1024, 100) and (262144, 10000): the
     * default maps to the default and the ends to the ends. */
    double l = log2((double)shares);
    double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
    return (uint64_t)ceil(pow(10, exponent));
}

uint64_t cgroup_blkio_weight_to_io_weight(uint64_t weight)
{
    if (weight == 0)
        return 0;
    if (weight < 10)
        return 1;
    return 1 + (weight - 10) * 9999 / 990;
}

int cgroup_memory_swap_to_v2(int64_t memory_swap, int64_t memory, int64_t *out,
                             struct berth_error **err)
{
    /* v1 thinks of memory+swap, v2 of swap alone. */
    if (memory == -1 && memory_swap == 0) {
        *out = -1;
        return 0;
    }
    if (memory_swap == -1 || memory_swap == 0 || memory == -1) {
        *out = memory_swap;
        return 0;
    }
    if (memory == 0)
        return berth_error_set(err, 0, "cgroup: memory.swap needs memory.limit on cgroup v2");
    if (memory < 0)
        return berth_error_set(err, 0, "cgroup: memory.limit %lld is not valid", (long long)memory);
    if (memory_swap < memory)
        return berth_error_set(err, 0,
                               "cgroup: memory.swap %lld (memory+swap) is below memory.limit %lld",
                               (long long)memory_swap, (long long)memory);
    *out = memory_swap - memory;
    return 0;
}

/* -1 is "max"; other negative values are refused. */
static int write_max(const char *dir, const char *file, int64_t v, struct berth_error **err)
{
    if (v == -1)
        return cg_write(dir, file, "max", err);
    if (v < 0)
        return berth_error_set(err, 0, "cgroup %s: %lld is not a valid limit", file, (long long)v);
    return cg_writef(dir, file, err, "%lld", (long long)v);
}

int cgroup_v2_apply_memory(const char *dir, const struct spec_memory *m, bool update,
                           struct berth_error **err)
{
    int64_t limit = m->has_limit ? m->limit : 0;
    int64_t swap_total = m->has_swap ? m->swap : 0;
    int64_t swap;
    int r = cgroup_memory_swap_to_v2(swap_total, limit, &swap, err);
    if (r < 0)
        return r;
    if (update && m->has_check_before_update && m->check_before_update &&
        (r = cgroup_check_memory_usage(dir, "memory.current", limit, err)) < 0)
        return r;
    /* swap == 0 with a positive total means memory+swap equals memory: no swap at all. */
    /* Without swap accounting there is no file, and "none" or "unlimited" hold anyway. */
    if ((swap != 0 || swap_total > 0) &&
        !((swap == -1 || swap == 0) && !cg_exists(dir, "memory.swap.max")) &&
        (r = write_max(dir, "memory.swap.max", swap, err)) < 0)
        return r;
    if (limit != 0 && (r = write_max(dir, "memory.max", limit, err)) < 0)
        return r;
    if (m->has_reservation && m->reservation != 0 &&
        (r = write_max(dir, "memory.low", m->reservation, err)) < 0)
        return r;
    if (m->has_swappiness && m->swappiness != UINT64_MAX)
        log_warn("linux.resources.memory.swappiness is ignored: cgroup v2 has no per-cgroup "
                 "swappiness");
    if (m->has_disable_oom_killer && m->disable_oom_killer)
        log_warn("linux.resources.memory.disableOOMKiller is ignored: cgroup v2 cannot disable "
                 "the OOM killer");
    return 0;
}

int cgroup_v2_apply_cpu(const char *dir, const struct spec_cpu *c, struct berth_error **err)
{
    int r;
    if (c->has_idle && (r = cg_writef(dir, "cpu.idle", err, "%lld", (long long)c->idle)) < 0)
        return r;
    if (c->has_shares && c->shares != 0 &&
        (r = cg_writef(dir, "cpu.weight", err, "%llu",
                       (unsigned long long)cgroup_cpu_shares_to_weight(c->shares))) < 0)
        return r;
    bool has_quota = c->has_quota && c->quota != 0;
    bool has_period = c->has_period && c->period != 0;
    bool burst_later = false;
    char burst[24];
    snprintf(burst, sizeof(burst), "%llu", (unsigned long long)c->burst);
    if (c->has_burst) {
        /* A burst above the current quota is refused until the new quota is in. */
        r = cg_write(dir, "cpu.max.burst", burst, NULL);
        if (r == -EINVAL && has_quota)
            burst_later = true;
        else if (r < 0)
            return cg_write_failed(err, r, "cpu.max.burst", burst);
    }
    if (has_quota || has_period) {
        char quota[24] = "max";
        if (has_quota && c->quota > 0)
            snprintf(quota, sizeof(quota), "%lld", (long long)c->quota);
        /* cpu.max wants both words; 100000 is the kernel's default period. */
        unsigned long long period = has_period ? (unsigned long long)c->period : 100000;
        if ((r = cg_writef(dir, "cpu.max", err, "%s %llu", quota, period)) < 0)
            return r;
        if (burst_later && (r = cg_write(dir, "cpu.max.burst", burst, err)) < 0)
            return r;
    }
    if ((c->has_realtime_runtime && c->realtime_runtime != 0) ||
        (c->has_realtime_period && c->realtime_period != 0))
        log_warn("linux.resources.cpu.realtimeRuntime/realtimePeriod are ignored: cgroup v2 has "
                 "no realtime group scheduling");
    return 0;
}

static int write_io_max(const char *dir, const char *key, const struct spec_throttle_device *t,
                        size_t n, struct berth_error **err)
{
    for (size_t i = 0; i < n; i++) {
        int r = cg_writef(dir, "io.max", err, "%lld:%lld %s=%llu", (long long)t[i].major,
                          (long long)t[i].minor, key, (unsigned long long)t[i].rate);
        if (r < 0)
            return r;
    }
    return 0;
}

int cgroup_v2_apply_io(const char *dir, const struct spec_block_io *b, struct berth_error **err)
{
    /* BFQ takes blkio's own scale; io.weight (iocost) wants the converted one. */
    bool bfq = cg_exists(dir, "io.bfq.weight");
    const char *file = bfq ? "io.bfq.weight" : "io.weight";
    int r;
    if (b->has_weight && b->weight != 0 &&
        (r = cg_writef(
             dir, file, err, "%llu",
             (unsigned long long)(bfq ? b->weight : cgroup_blkio_weight_to_io_weight(b->weight)))) <
            0)
        return r;
    for (size_t i = 0; i < b->n_weight_device; i++) {
        const struct spec_weight_device *w = &b->weight_device[i];
        if (!w->has_weight)
            continue;
        unsigned long long v = bfq ? w->weight : cgroup_blkio_weight_to_io_weight(w->weight);
        if ((r = cg_writef(dir, file, err, "%lld:%lld %llu", (long long)w->major,
                           (long long)w->minor, v)) < 0)
            return r;
    }
    if (b->has_leaf_weight && b->leaf_weight != 0)
        log_warn("linux.resources.blockIO.leafWeight is ignored: cgroup v2 has no leaf weight");
    if ((r = write_io_max(dir, "rbps", b->throttle_read_bps, b->n_throttle_read_bps, err)) < 0 ||
        (r = write_io_max(dir, "wbps", b->throttle_write_bps, b->n_throttle_write_bps, err)) < 0 ||
        (r = write_io_max(dir, "riops", b->throttle_read_iops, b->n_throttle_read_iops, err)) < 0 ||
        (r = write_io_max(dir, "wiops", b->throttle_write_iops, b->n_throttle_write_iops, err)) < 0)
        return r;
    return 0;
}

int cgroup_v2_apply_unified(const char *dir, const char *mountpoint,
                            const struct spec_resources *res, struct berth_error **err)
{
    for (size_t i = 0; i < res->n_unified; i++) {
        const char *key = res->unified[i].key, *value = res->unified[i].value;
        if (!key || !*key || strchr(key, '/') || strcmp(key, ".") == 0 || strcmp(key, "..") == 0 ||
            strchr(key, '\n'))
            return berth_error_set(err, 0,
                                   "cgroup: linux.resources.unified key \"%s\" must be a file "
                                   "name",
                                   key ? key : "");
        const char *dot = strchr(key, '.');
        if (!dot || dot == key)
            return berth_error_set(err, 0,
                                   "cgroup: linux.resources.unified key \"%s\" must be "
                                   "CONTROLLER.PARAMETER",
                                   key);
        _cleanup_free_ char *controller = xstrndup(key, (size_t)(dot - key));
        if (strcmp(controller, "cgroup") != 0) {
            int ok = cgroup_v2_ensure(mountpoint, dir, controller, err);
            if (ok < 0)
                return ok;
            if (ok == 0)
                return berth_error_set(err, 0,
                                       "cgroup: linux.resources.unified key \"%s\": controller "
                                       "%s is not available",
                                       key, controller);
        }
        /* A multi-line value is one setting per line, as for io.max with several devices. */
        _cleanup_free_ char *copy = xstrdup(value ? value : "");
        char *save = NULL;
        bool any = false;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            int r = cg_write(dir, key, line, err);
            if (r < 0)
                return r;
            any = true;
        }
        if (!any) {
            int r = cg_write(dir, key, "", err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}
