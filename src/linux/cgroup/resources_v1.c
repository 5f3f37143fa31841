/* linux.resources into cgroup v1 files, one function per controller. */
#include "linux/cgroup/cgroup_internal.h"
#include "linux/cgroup/devices.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int write_i64(const char *dir, const char *file, int64_t v, struct berth_error **err)
{
    return cg_writef(dir, file, err, "%lld", (long long)v);
}

static int write_u64(const char *dir, const char *file, uint64_t v, struct berth_error **err)
{
    return cg_writef(dir, file, err, "%llu", (unsigned long long)v);
}

static int write_limit(const char *dir, int64_t limit, struct berth_error **err)
{
    char value[24];
    snprintf(value, sizeof(value), "%lld", (long long)limit);
    int r = cg_write(dir, "memory.limit_in_bytes", value, NULL);
    if (r != -EBUSY)
        return r < 0 ? cg_write_failed(err, r, "memory.limit_in_bytes", value) : 0;
    /* The usage is above the new limit and the kernel could not reclaim enough. */
    uint64_t usage = 0;
    cg_read_u64(dir, "memory.usage_in_bytes", &usage, NULL);
    return berth_error_set(err, EBUSY,
                           "cgroup memory.limit_in_bytes: write \"%lld\" (current usage %llu)",
                           (long long)limit, (unsigned long long)usage);
}

int cgroup_v1_apply_memory(const char *dir, const struct spec_memory *m, bool update,
                           struct berth_error **err)
{
    /* 0 is "not set" for the limits, as in runc. */
    int64_t limit = m->has_limit ? m->limit : 0;
    int64_t swap = m->has_swap ? m->swap : 0;
    bool have_swap = cg_exists(dir, "memory.memsw.limit_in_bytes");
    int r;
    /* An unlimited memory with no word on swap means unlimited swap too. */
    if (limit == -1 && swap == 0 && have_swap)
        swap = -1;
    if (swap != 0 && !have_swap) {
        if (swap != -1)
            return berth_error_set(err, 0,
                                   "cgroup: memory.swap needs swap accounting, which this kernel "
                                   "lacks (no memory.memsw.limit_in_bytes)");
        swap = 0;
    }
    if (update && m->has_check_before_update && m->check_before_update &&
        (r = cgroup_check_memory_usage(dir, "memory.usage_in_bytes", limit, err)) < 0)
        return r;
    /* The kernel keeps memsw >= limit at every moment: raising both needs memsw first,
     * lowering both needs the limit first. */
    bool swap_first = false;
    if (limit != 0 && swap != 0) {
        uint64_t cur;
        if ((r = cg_read_u64(dir, "memory.limit_in_bytes", &cur, err)) < 0)
            return r;
        swap_first = swap == -1 || cur < (uint64_t)swap;
    }
    if (swap_first && (r = write_i64(dir, "memory.memsw.limit_in_bytes", swap, err)) < 0)
        return r;
    if (limit != 0 && (r = write_limit(dir, limit, err)) < 0)
        return r;
    if (!swap_first && swap != 0 &&
        (r = write_i64(dir, "memory.memsw.limit_in_bytes", swap, err)) < 0)
        return r;
    if (m->has_reservation && m->reservation != 0 &&
        (r = write_i64(dir, "memory.soft_limit_in_bytes", m->reservation, err)) < 0)
        return r;
    if (m->has_swappiness && m->swappiness != UINT64_MAX) {
        if (m->swappiness > 100)
            return berth_error_set(err, 0, "cgroup: memory.swappiness %llu is out of range (0-100)",
                                   (unsigned long long)m->swappiness);
        if ((r = write_u64(dir, "memory.swappiness", m->swappiness, err)) < 0)
            return r;
    }
    if (m->has_disable_oom_killer &&
        (r = cg_write(dir, "memory.oom_control", m->disable_oom_killer ? "1" : "0", err)) < 0)
        return r;
    if (m->has_use_hierarchy) {
        /* Recent kernels fix use_hierarchy at 1 and refuse writes; write only a change. */
        uint64_t cur;
        if ((r = cg_read_u64(dir, "memory.use_hierarchy", &cur, err)) < 0)
            return r;
        if ((cur != 0) != m->use_hierarchy &&
            (r = cg_write(dir, "memory.use_hierarchy", m->use_hierarchy ? "1" : "0", err)) < 0)
            return r;
    }
    return 0;
}

/* A pair of files whose values the kernel checks against each other (period and quota, period
 * and realtime runtime): if the first write is refused with EINVAL, the second may make it
 * valid, so it is tried again after. */
static int write_pair(const char *dir, const char *first, const char *first_value,
                      const char *second, const char *second_value, struct berth_error **err)
{
    bool retry = false;
    int r;
    if (first_value) {
        r = cg_write(dir, first, first_value, NULL);
        if (r == -EINVAL && second_value)
            retry = true;
        else if (r < 0)
            return cg_write_failed(err, r, first, first_value);
    }
    if (second_value && (r = cg_write(dir, second, second_value, err)) < 0)
        return r;
    if (retry && (r = cg_write(dir, first, first_value, err)) < 0)
        return r;
    return 0;
}

int cgroup_v1_apply_cpu(const char *dir, const struct spec_cpu *c, struct berth_error **err)
{
    int r;
    char period[24], quota[24], rt_period[24], rt_runtime[24];
    if (c->has_shares && c->shares != 0) {
        if ((r = write_u64(dir, "cpu.shares", c->shares, err)) < 0)
            return r;
        /* The kernel clamps out-of-range shares silently; say so instead. */
        uint64_t got;
        if ((r = cg_read_u64(dir, "cpu.shares", &got, err)) < 0)
            return r;
        if (got != c->shares)
            return berth_error_set(
                err, 0, "cgroup: cpu.shares %llu is out of range (the %s is %llu)",
                (unsigned long long)c->shares, c->shares > got ? "maximum" : "minimum",
                (unsigned long long)got);
    }
    snprintf(period, sizeof(period), "%llu", (unsigned long long)c->period);
    snprintf(quota, sizeof(quota), "%lld", (long long)c->quota);
    bool has_period = c->has_period && c->period != 0;
    bool has_quota = c->has_quota && c->quota != 0;
    if ((r = write_pair(dir, "cpu.cfs_period_us", has_period ? period : NULL, "cpu.cfs_quota_us",
                        has_quota ? quota : NULL, err)) < 0)
        return r;
    /* The burst may not exceed the quota, which is now in place. */
    if (c->has_burst && (r = write_u64(dir, "cpu.cfs_burst_us", c->burst, err)) < 0)
        return r;
    if (c->has_idle && (r = write_i64(dir, "cpu.idle", c->idle, err)) < 0)
        return r;
    snprintf(rt_period, sizeof(rt_period), "%llu", (unsigned long long)c->realtime_period);
    snprintf(rt_runtime, sizeof(rt_runtime), "%lld", (long long)c->realtime_runtime);
    bool has_rt_period = c->has_realtime_period && c->realtime_period != 0;
    bool has_rt_runtime = c->has_realtime_runtime && c->realtime_runtime != 0;
    return write_pair(dir, "cpu.rt_period_us", has_rt_period ? rt_period : NULL,
                      "cpu.rt_runtime_us", has_rt_runtime ? rt_runtime : NULL, err);
}

static int write_throttle(const char *dir, const char *file, const struct spec_throttle_device *t,
                          size_t n, struct berth_error **err)
{
    for (size_t i = 0; i < n; i++) {
        int r = cg_writef(dir, file, err, "%lld:%lld %llu", (long long)t[i].major,
                          (long long)t[i].minor, (unsigned long long)t[i].rate);
        if (r < 0)
            return r;
    }
    return 0;
}

int cgroup_v1_apply_blkio(const char *dir, const struct spec_block_io *b, struct berth_error **err)
{
    /* Kernels without CFQ have the BFQ scheduler's files under another name. */
    bool bfq = !cg_exists(dir, "blkio.weight") && cg_exists(dir, "blkio.bfq.weight");
    const char *weight = bfq ? "blkio.bfq.weight" : "blkio.weight";
    const char *weight_device = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";
    int r;
    if (b->has_weight && b->weight != 0 && (r = write_u64(dir, weight, b->weight, err)) < 0)
        return r;
    if (b->has_leaf_weight && b->leaf_weight != 0 &&
        (r = write_u64(dir, "blkio.leaf_weight", b->leaf_weight, err)) < 0)
        return r;
    for (size_t i = 0; i < b->n_weight_device; i++) {
        const struct spec_weight_device *w = &b->weight_device[i];
        if (w->has_weight &&
            (r = cg_writef(dir, weight_device, err, "%lld:%lld %u", (long long)w->major,
                           (long long)w->minor, w->weight)) < 0)
            return r;
        if (w->has_leaf_weight &&
            (r = cg_writef(dir, "blkio.leaf_weight_device", err, "%lld:%lld %u",
                           (long long)w->major, (long long)w->minor, w->leaf_weight)) < 0)
            return r;
    }
    if ((r = write_throttle(dir, "blkio.throttle.read_bps_device", b->throttle_read_bps,
                            b->n_throttle_read_bps, err)) < 0 ||
        (r = write_throttle(dir, "blkio.throttle.write_bps_device", b->throttle_write_bps,
                            b->n_throttle_write_bps, err)) < 0 ||
        (r = write_throttle(dir, "blkio.throttle.read_iops_device", b->throttle_read_iops,
                            b->n_throttle_read_iops, err)) < 0 ||
        (r = write_throttle(dir, "blkio.throttle.write_iops_device", b->throttle_write_iops,
                            b->n_throttle_write_iops, err)) < 0)
        return r;
    return 0;
}

int cgroup_v1_apply_net_cls(const char *dir, uint32_t classid, struct berth_error **err)
{
    return cg_writef(dir, "net_cls.classid", err, "%u", classid);
}

int cgroup_v1_apply_net_prio(const char *dir, const struct spec_resources *res,
                             struct berth_error **err)
{
    for (size_t i = 0; i < res->n_net_priorities; i++) {
        const struct spec_net_priority *p = &res->net_priorities[i];
        bool ok = p->name && *p->name;
        for (const char *s = p->name; ok && *s; s++)
            ok = isgraph((unsigned char)*s);
        if (!ok)
            return berth_error_set(err, 0, "cgroup: network interface name \"%s\" is not valid",
                                   p->name ? p->name : "");
        int r = cg_writef(dir, "net_prio.ifpriomap", err, "%s %u", p->name, p->priority);
        if (r < 0)
            return r;
    }
    return 0;
}

int cgroup_v1_apply_devices(const char *dir, const struct cgroup_device_rule *rules, size_t n,
                            struct berth_error **err)
{
    /* Each write is one rule, so one open of each file serves them all. */
    _cleanup_close_ int deny = cg_open_write(dir, "devices.deny", "a", err);
    if (deny < 0)
        return deny;
    int r = cg_write_fd(deny, "devices.deny", "a", err);
    if (r < 0)
        return r;
    _cleanup_close_ int allow = -1;
    for (size_t i = 0; i < n; i++) {
        char lines[2][64];
        int k = cgroup_device_rule_v1_lines(&rules[i], lines);
        /* A list that opens with "deny all", as most do, has had it already. */
        if (i == 0 && k == 1 && !rules[i].allow && strcmp(lines[0], "a") == 0)
            continue;
        const char *file = rules[i].allow ? "devices.allow" : "devices.deny";
        if (k > 0 && rules[i].allow && allow < 0 &&
            (allow = cg_open_write(dir, file, lines[0], err)) < 0)
            return allow;
        for (int j = 0; j < k; j++) {
            r = cg_write_fd(rules[i].allow ? allow : deny, file, lines[j], err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}
