/* cgroup_apply: each part of linux.resources goes to the hierarchy that carries its controller,
 * written in that hierarchy's version. On a hybrid host that is v1 for most and v2 for what
 * only the cgroup2 hierarchy has (typically hugetlb). */
#include "linux/cgroup/cgroup_internal.h"
#include "linux/cgroup/devices.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

/* The directory to write a resource into, and whether it is a v2 one. */
static int locate(const struct cgroup *cg, const char *v1_controller, const char *v2_controller,
                  const char *what, const char **dir, bool *v2, struct berth_error **err)
{
    const struct cgroup_dir *d = v1_controller ? cgroup_find_dir(cg, v1_controller) : NULL;
    if (d) {
        *dir = d->path;
        *v2 = false;
        return 0;
    }
    const struct cgroup_dir *u = cgroup_find_dir(cg, "");
    if (u && v2_controller) {
        int r = cgroup_v2_ensure(u->mountpoint, u->path, v2_controller, err);
        if (r < 0)
            return r;
        if (r > 0) {
            *dir = u->path;
            *v2 = true;
            return 0;
        }
    }
    return berth_error_set(err, 0, "cgroup: %s needs the %s controller, which this host lacks",
                           what, v2_controller ? v2_controller : v1_controller);
}

static bool memory_is_set(const struct spec_memory *m)
{
    return m && (m->has_limit || m->has_reservation || m->has_swap || m->has_swappiness ||
                 m->has_disable_oom_killer || m->has_use_hierarchy);
}

static bool cpu_is_set(const struct spec_cpu *c)
{
    return c && (c->has_shares || c->has_quota || c->has_burst || c->has_period ||
                 c->has_realtime_runtime || c->has_realtime_period || c->has_idle);
}

static bool cpuset_is_set(const struct spec_cpu *c)
{
    return c && ((c->cpus && *c->cpus) || (c->mems && *c->mems));
}

static bool blkio_is_set(const struct spec_block_io *b)
{
    return b &&
           (b->has_weight || b->has_leaf_weight || b->n_weight_device || b->n_throttle_read_bps ||
            b->n_throttle_write_bps || b->n_throttle_read_iops || b->n_throttle_write_iops);
}

static int apply_devices(const struct cgroup *cg, const struct spec_resources *res,
                         struct berth_error **err)
{
    _cleanup_free_ struct cgroup_device_rule *rules = NULL;
    size_t n;
    int r =
        cgroup_device_rules(res ? res->devices : NULL, res ? res->n_devices : 0, &rules, &n, err);
    if (r < 0)
        return r;
    const struct cgroup_dir *d = cgroup_find_dir(cg, "devices");
    if (d)
        return cgroup_v1_apply_devices(d->path, rules, n, err);
    d = cgroup_find_dir(cg, "");
    if (d)
        return cgroup_devices_bpf_install(d->path, rules, n, err);
    return berth_error_set(err, 0, "cgroup: no device controller to apply device rules");
}

static int apply_network(const struct cgroup *cg, const struct spec_resources *res,
                         struct berth_error **err)
{
    if (!res->has_net_class_id && res->n_net_priorities == 0)
        return 0;
    if (cg->mode == CGROUP_MODE_UNIFIED) {
        log_warn("linux.resources.network is ignored: cgroup v2 has no net_cls or net_prio");
        return 0;
    }
    int r = 0;
    if (res->has_net_class_id) {
        const struct cgroup_dir *d = cgroup_find_dir(cg, "net_cls");
        if (!d)
            return berth_error_set(err, 0,
                                   "cgroup: network.classID needs the net_cls controller, which "
                                   "this host lacks");
        r = cgroup_v1_apply_net_cls(d->path, res->net_class_id, err);
    }
    if (r == 0 && res->n_net_priorities) {
        const struct cgroup_dir *d = cgroup_find_dir(cg, "net_prio");
        if (!d)
            return berth_error_set(err, 0,
                                   "cgroup: network.priorities needs the net_prio controller, "
                                   "which this host lacks");
        r = cgroup_v1_apply_net_prio(d->path, res, err);
    }
    return r;
}

static int apply_resources(const struct cgroup *cg, const struct spec_resources *res, bool update,
                           struct berth_error **err)
{
    const char *dir = NULL;
    bool v2 = false;
    int r;
    if (res->n_unified && cg->mode != CGROUP_MODE_UNIFIED)
        return berth_error_set(err, 0,
                               "cgroup: linux.resources.unified needs a cgroup v2 host, and "
                               "this one is %s",
                               cgroup_mode_name(cg->mode));
    if (cpuset_is_set(res->cpu)) {
        if ((r = locate(cg, "cpuset", "cpuset", "cpu.cpus/mems", &dir, &v2, err)) < 0 ||
            (r = cgroup_apply_cpuset(dir, res->cpu, err)) < 0)
            return r;
    }
    if (res->memory && res->memory->has_kernel)
        log_warn("linux.resources.memory.kernel is ignored: the kernel no longer supports a "
                 "separate kernel memory limit");
    if (res->memory && res->memory->has_kernel_tcp)
        log_warn("linux.resources.memory.kernelTCP is ignored");
    if (memory_is_set(res->memory)) {
        if ((r = locate(cg, "memory", "memory", "memory", &dir, &v2, err)) < 0 ||
            (r = (v2 ? cgroup_v2_apply_memory : cgroup_v1_apply_memory)(dir, res->memory, update,
                                                                        err)) < 0)
            return r;
    }
    if (cpu_is_set(res->cpu)) {
        if ((r = locate(cg, "cpu", "cpu", "cpu", &dir, &v2, err)) < 0 ||
            (r = (v2 ? cgroup_v2_apply_cpu : cgroup_v1_apply_cpu)(dir, res->cpu, err)) < 0)
            return r;
    }
    if (res->has_pids_limit) {
        if ((r = locate(cg, "pids", "pids", "pids.limit", &dir, &v2, err)) < 0 ||
            (r = cgroup_apply_pids(dir, res->pids_limit, err)) < 0)
            return r;
    }
    if (blkio_is_set(res->block_io)) {
        if ((r = locate(cg, "blkio", "io", "blockIO", &dir, &v2, err)) < 0 ||
            (r = (v2 ? cgroup_v2_apply_io : cgroup_v1_apply_blkio)(dir, res->block_io, err)) < 0)
            return r;
    }
    if (res->n_hugepage_limits) {
        if ((r = locate(cg, "hugetlb", "hugetlb", "hugepageLimits", &dir, &v2, err)) < 0 ||
            (r = cgroup_apply_hugetlb(dir, res, v2, err)) < 0)
            return r;
    }
    if ((r = apply_network(cg, res, err)) < 0)
        return r;
    if (res->n_rdma) {
        if ((r = locate(cg, "rdma", "rdma", "rdma", &dir, &v2, err)) < 0 ||
            (r = cgroup_apply_rdma(dir, res, err)) < 0)
            return r;
    }
    if (res->n_unified) {
        const struct cgroup_dir *u = cgroup_find_dir(cg, "");
        if (!u)
            return berth_error_set(err, 0, "cgroup: no cgroup v2 directory for unified");
        if ((r = cgroup_v2_apply_unified(u->path, u->mountpoint, res, err)) < 0)
            return r;
    }
    return 0;
}

int cgroup_apply(const struct cgroup *cg, const struct spec_resources *res, bool update,
                 struct berth_error **err)
{
    int r;
    if (!update || (res && res->n_devices)) {
        if ((r = apply_devices(cg, res, err)) < 0)
            return r;
    }
    if (res && (r = apply_resources(cg, res, update, err)) < 0)
        return r;
    return 0;
}

/* ---- shared by v1 and v2 ---- */

int cgroup_apply_pids(const char *dir, int64_t limit, struct berth_error **err)
{
    /* 0 becomes 1, as runc does, because systemd cannot express 0 and the two drivers should
     * agree; a negative limit is no limit. */
    if (limit > 0)
        return cg_writef(dir, "pids.max", err, "%lld", (long long)limit);
    return cg_write(dir, "pids.max", limit == 0 ? "1" : "max", err);
}

/* A word that may go into a cgroup file line: no blanks, no line breaks. */
static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (isspace((unsigned char)*s) || !isprint((unsigned char)*s))
            return false;
    return true;
}

int cgroup_apply_cpuset(const char *dir, const struct spec_cpu *c, struct berth_error **err)
{
    int r;
    if (c->cpus && *c->cpus && (r = cg_write(dir, "cpuset.cpus", c->cpus, err)) < 0)
        return r;
    if (c->mems && *c->mems && (r = cg_write(dir, "cpuset.mems", c->mems, err)) < 0)
        return r;
    return 0;
}

int cgroup_apply_hugetlb(const char *dir, const struct spec_resources *res, bool v2,
                         struct berth_error **err)
{
    const char *suffix = v2 ? "max" : "limit_in_bytes";
    for (size_t i = 0; i < res->n_hugepage_limits; i++) {
        const struct spec_hugepage_limit *h = &res->hugepage_limits[i];
        int r = cgroup_check_page_size(h->page_size, err);
        if (r < 0)
            return r;
        _cleanup_free_ char *file = xasprintf("hugetlb.%s.%s", h->page_size, suffix);
        if ((r = cg_writef(dir, file, err, "%llu", (unsigned long long)h->limit)) < 0)
            return r;
        /* The reservation limit (kernel 5.7+) too, so that reserved pages count. */
        _cleanup_free_ char *rsvd = xasprintf("hugetlb.%s.rsvd.%s", h->page_size, suffix);
        if (cg_exists(dir, rsvd) &&
            (r = cg_writef(dir, rsvd, err, "%llu", (unsigned long long)h->limit)) < 0)
            return r;
    }
    return 0;
}

int cgroup_check_memory_usage(const char *dir, const char *usage_file, int64_t limit,
                              struct berth_error **err)
{
    uint64_t usage;
    if (limit <= 0)
        return 0;
    int r = cg_read_u64(dir, usage_file, &usage, err);
    if (r < 0)
        return r;
    if ((uint64_t)limit < usage)
        return berth_error_set(err, 0, "cgroup: memory limit %lld is below the current usage %llu",
                               (long long)limit, (unsigned long long)usage);
    return 0;
}

int cgroup_apply_rdma(const char *dir, const struct spec_resources *res, struct berth_error **err)
{
    for (size_t i = 0; i < res->n_rdma; i++) {
        const struct spec_rdma *d = &res->rdma[i];
        if (!is_token(d->device))
            return berth_error_set(err, 0, "cgroup: rdma device name \"%s\" is not valid",
                                   d->device ? d->device : "");
        if (!d->has_hca_handles && !d->has_hca_objects)
            continue;
        char handles[32] = "", objects[32] = "";
        if (d->has_hca_handles)
            snprintf(handles, sizeof(handles), " hca_handle=%u", d->hca_handles);
        if (d->has_hca_objects)
            snprintf(objects, sizeof(objects), " hca_object=%u", d->hca_objects);
        int r = cg_writef(dir, "rdma.max", err, "%s%s%s", d->device, handles, objects);
        if (r < 0)
            return r;
    }
    return 0;
}

int cgroup_check_page_size(const char *size, struct berth_error **err)
{
    /* The size becomes part of a file name: digits and a unit, nothing else. */
    const char *p = size ? size : "";
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 8 || !strchr("KMGTP", p[digits]) || !p[digits] ||
        strcmp(p + digits + 1, "B") != 0)
        return berth_error_set(err, 0,
                               "cgroup: hugepage size \"%s\" is not a size such as 2MB or 1GB", p);
    return 0;
}
