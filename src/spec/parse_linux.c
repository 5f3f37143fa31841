/* The linux object of config.json: namespaces, devices, resources, seccomp and the rest. */
#include "spec/internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>

static int parse_namespaces(struct spec_ctx *c, json_t *j, const struct spec_jpath *lp,
                            struct spec_linux *out)
{
    const struct spec_jpath *p = SPEC_JKEY(lp, "namespaces");
    json_t *arr;
    size_t n;
    int r = spec_jfield_array(c, j, "namespaces", lp, false, &arr, &n);
    if (r <= 0)
        return r;
    out->namespaces = xcalloc(n ? n : 1, sizeof(*out->namespaces));
    out->n_namespaces = n;
    for (size_t i = 0; i < n; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(p, i);
        json_t *ns = json_array_get(arr, i);
        struct spec_namespace *np = &out->namespaces[i];
        SPEC_TRY(spec_jas_object(c, ns, ip));
        _cleanup_free_ char *type = NULL;
        SPEC_TRY(spec_jfield_string(c, ns, "type", ip, true, &type));
        int t = spec_ns_type_from_name(type);
        if (t < 0)
            return spec_fail(c, SPEC_JKEY(ip, "type"), "unknown namespace \"%s\"", type);
        for (size_t k = 0; k < i; k++)
            if ((int)out->namespaces[k].type == t)
                return spec_fail(c, SPEC_JKEY(ip, "type"), "duplicate namespace \"%s\"", type);
        np->type = (enum spec_ns_type)t;
        SPEC_TRY(spec_jfield_abs_path(c, ns, "path", ip, false, &np->path));
    }
    return 0;
}

static int parse_devices(struct spec_ctx *c, json_t *j, const struct spec_jpath *lp,
                         struct spec_linux *out)
{
    const struct spec_jpath *p = SPEC_JKEY(lp, "devices");
    json_t *arr;
    size_t n;
    int r = spec_jfield_array(c, j, "devices", lp, false, &arr, &n);
    if (r <= 0)
        return r;
    out->devices = xcalloc(n ? n : 1, sizeof(*out->devices));
    out->n_devices = n;
    for (size_t i = 0; i < n; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(p, i);
        json_t *d = json_array_get(arr, i);
        struct spec_device *dp = &out->devices[i];
        SPEC_TRY(spec_jas_object(c, d, ip));
        _cleanup_free_ char *type = NULL;
        SPEC_TRY(spec_jfield_string(c, d, "type", ip, true, &type));
        if (strlen(type) != 1 || !strchr("cbup", type[0]))
            return spec_fail(c, SPEC_JKEY(ip, "type"),
                             "unknown device type \"%s\": must be c, b, u or p", type);
        dp->type = type[0];
        SPEC_TRY(spec_jfield_abs_path(c, d, "path", ip, true, &dp->path));
        bool numbered = dp->type != 'p';
        r = spec_jfield_i64(c, d, "major", ip, false, &dp->major);
        if (r < 0)
            return r;
        if (r == 0 && numbered)
            return spec_fail(c, SPEC_JKEY(ip, "major"), "required for device type %c", dp->type);
        r = spec_jfield_i64(c, d, "minor", ip, false, &dp->minor);
        if (r < 0)
            return r;
        if (r == 0 && numbered)
            return spec_fail(c, SPEC_JKEY(ip, "minor"), "required for device type %c", dp->type);
        SPEC_TRY(r = spec_jfield_u32(c, d, "fileMode", ip, false, &dp->file_mode));
        dp->has_file_mode = r > 0;
        SPEC_TRY(r = spec_jfield_u32(c, d, "uid", ip, false, &dp->uid));
        dp->has_uid = r > 0;
        SPEC_TRY(r = spec_jfield_u32(c, d, "gid", ip, false, &dp->gid));
        dp->has_gid = r > 0;
    }
    return 0;
}

static int parse_device_rules(struct spec_ctx *c, json_t *j, const struct spec_jpath *rp,
                              struct spec_resources *out)
{
    const struct spec_jpath *p = SPEC_JKEY(rp, "devices");
    json_t *arr;
    size_t n;
    int r = spec_jfield_array(c, j, "devices", rp, false, &arr, &n);
    if (r <= 0)
        return r;
    out->devices = xcalloc(n ? n : 1, sizeof(*out->devices));
    out->n_devices = n;
    for (size_t i = 0; i < n; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(p, i);
        json_t *d = json_array_get(arr, i);
        struct spec_device_rule *dr = &out->devices[i];
        SPEC_TRY(spec_jas_object(c, d, ip));
        SPEC_TRY(spec_jfield_bool(c, d, "allow", ip, true, &dr->allow));
        _cleanup_free_ char *type = NULL;
        SPEC_TRY(r = spec_jfield_string(c, d, "type", ip, false, &type));
        dr->type = 'a';
        if (r > 0) {
            if (strlen(type) != 1 || !strchr("acb", type[0]))
                return spec_fail(c, SPEC_JKEY(ip, "type"),
                                 "unknown device type \"%s\": must be a, c or b", type);
            dr->type = type[0];
        }
        SPEC_TRY(r = spec_jfield_i64(c, d, "major", ip, false, &dr->major));
        dr->has_major = r > 0;
        SPEC_TRY(r = spec_jfield_i64(c, d, "minor", ip, false, &dr->minor));
        dr->has_minor = r > 0;
        SPEC_TRY(r = spec_jfield_string(c, d, "access", ip, false, &dr->access));
        if (r > 0) {
            const char *a = dr->access;
            bool ok = *a != '\0';
            for (; *a; a++)
                if (!strchr("rwm", *a) || strchr(a + 1, *a))
                    ok = false;
            if (!ok)
                return spec_fail(c, SPEC_JKEY(ip, "access"),
                                 "\"%s\" is not a combination of r, w and m", dr->access);
        }
    }
    return 0;
}

static int parse_memory(struct spec_ctx *c, json_t *j, const struct spec_jpath *rp,
                        struct spec_resources *out)
{
    const struct spec_jpath *p = SPEC_JKEY(rp, "memory");
    json_t *mj;
    int r = spec_jfield_object(c, j, "memory", rp, false, &mj);
    if (r <= 0)
        return r;
    struct spec_memory *m = out->memory = xzalloc(sizeof(*m));
    SPEC_TRY(r = spec_jfield_i64(c, mj, "limit", p, false, &m->limit));
    m->has_limit = r > 0;
    SPEC_TRY(r = spec_jfield_i64(c, mj, "reservation", p, false, &m->reservation));
    m->has_reservation = r > 0;
    SPEC_TRY(r = spec_jfield_i64(c, mj, "swap", p, false, &m->swap));
    m->has_swap = r > 0;
    SPEC_TRY(r = spec_jfield_i64(c, mj, "kernel", p, false, &m->kernel));
    m->has_kernel = r > 0;
    SPEC_TRY(r = spec_jfield_i64(c, mj, "kernelTCP", p, false, &m->kernel_tcp));
    m->has_kernel_tcp = r > 0;
    SPEC_TRY(r = spec_jfield_u64(c, mj, "swappiness", p, false, &m->swappiness));
    /* Some engines write (uint64)-1 for "leave it alone", as runc accepts. */
    m->has_swappiness = r > 0 && m->swappiness != UINT64_MAX;
    if (m->has_swappiness && m->swappiness > 100)
        return spec_fail(c, SPEC_JKEY(p, "swappiness"), "must be an integer from 0 to 100");
    if (!m->has_swappiness)
        m->swappiness = 0;
    SPEC_TRY(r = spec_jfield_bool(c, mj, "disableOOMKiller", p, false, &m->disable_oom_killer));
    m->has_disable_oom_killer = r > 0;
    SPEC_TRY(r = spec_jfield_bool(c, mj, "useHierarchy", p, false, &m->use_hierarchy));
    m->has_use_hierarchy = r > 0;
    SPEC_TRY(r = spec_jfield_bool(c, mj, "checkBeforeUpdate", p, false, &m->check_before_update));
    m->has_check_before_update = r > 0;
    return 0;
}

static int parse_cpu(struct spec_ctx *c, json_t *j, const struct spec_jpath *rp,
                     struct spec_resources *out)
{
    const struct spec_jpath *p = SPEC_JKEY(rp, "cpu");
    json_t *cj;
    int r = spec_jfield_object(c, j, "cpu", rp, false, &cj);
    if (r <= 0)
        return r;
    struct spec_cpu *cpu = out->cpu = xzalloc(sizeof(*cpu));
    SPEC_TRY(r = spec_jfield_u64(c, cj, "shares", p, false, &cpu->shares));
    cpu->has_shares = r > 0;
    SPEC_TRY(r = spec_jfield_i64(c, cj, "quota", p, false, &cpu->quota));
    cpu->has_quota = r > 0;
    SPEC_TRY(r = spec_jfield_u64(c, cj, "burst", p, false, &cpu->burst));
    cpu->has_burst = r > 0;
    SPEC_TRY(r = spec_jfield_u64(c, cj, "period", p, false, &cpu->period));
    cpu->has_period = r > 0;
    SPEC_TRY(r = spec_jfield_i64(c, cj, "realtimeRuntime", p, false, &cpu->realtime_runtime));
    cpu->has_realtime_runtime = r > 0;
    SPEC_TRY(r = spec_jfield_u64(c, cj, "realtimePeriod", p, false, &cpu->realtime_period));
    cpu->has_realtime_period = r > 0;
    SPEC_TRY(spec_jfield_string(c, cj, "cpus", p, false, &cpu->cpus));
    SPEC_TRY(spec_jfield_string(c, cj, "mems", p, false, &cpu->mems));
    SPEC_TRY(r = spec_jfield_i64(c, cj, "idle", p, false, &cpu->idle));
    cpu->has_idle = r > 0;
    return 0;
}

static int parse_throttle(struct spec_ctx *c, json_t *j, const char *key,
                          const struct spec_jpath *bp, struct spec_throttle_device **out, size_t *n)
{
    const struct spec_jpath *p = SPEC_JKEY(bp, key);
    json_t *arr;
    size_t count;
    int r = spec_jfield_array(c, j, key, bp, false, &arr, &count);
    if (r <= 0)
        return r;
    *out = xcalloc(count ? count : 1, sizeof(**out));
    *n = count;
    for (size_t i = 0; i < count; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(p, i);
        json_t *d = json_array_get(arr, i);
        struct spec_throttle_device *t = &(*out)[i];
        SPEC_TRY(spec_jas_object(c, d, ip));
        SPEC_TRY(spec_jfield_i64(c, d, "major", ip, true, &t->major));
        SPEC_TRY(spec_jfield_i64(c, d, "minor", ip, true, &t->minor));
        SPEC_TRY(spec_jfield_u64(c, d, "rate", ip, false, &t->rate));
    }
    return 0;
}

static int parse_block_io(struct spec_ctx *c, json_t *j, const struct spec_jpath *rp,
                          struct spec_resources *out)
{
    const struct spec_jpath *p = SPEC_JKEY(rp, "blockIO");
    json_t *bj;
    int r = spec_jfield_object(c, j, "blockIO", rp, false, &bj);
    if (r <= 0)
        return r;
    struct spec_block_io *b = out->block_io = xzalloc(sizeof(*b));
    SPEC_TRY(r = spec_jfield_u16(c, bj, "weight", p, false, &b->weight));
    b->has_weight = r > 0;
    SPEC_TRY(r = spec_jfield_u16(c, bj, "leafWeight", p, false, &b->leaf_weight));
    b->has_leaf_weight = r > 0;

    const struct spec_jpath *wp = SPEC_JKEY(p, "weightDevice");
    json_t *arr;
    size_t n;
    SPEC_TRY(r = spec_jfield_array(c, bj, "weightDevice", p, false, &arr, &n));
    if (r > 0) {
        b->weight_device = xcalloc(n ? n : 1, sizeof(*b->weight_device));
        b->n_weight_device = n;
        for (size_t i = 0; i < n; i++) {
            const struct spec_jpath *ip = SPEC_JIDX(wp, i);
            json_t *d = json_array_get(arr, i);
            struct spec_weight_device *w = &b->weight_device[i];
            SPEC_TRY(spec_jas_object(c, d, ip));
            SPEC_TRY(spec_jfield_i64(c, d, "major", ip, true, &w->major));
            SPEC_TRY(spec_jfield_i64(c, d, "minor", ip, true, &w->minor));
            SPEC_TRY(r = spec_jfield_u16(c, d, "weight", ip, false, &w->weight));
            w->has_weight = r > 0;
            SPEC_TRY(r = spec_jfield_u16(c, d, "leafWeight", ip, false, &w->leaf_weight));
            w->has_leaf_weight = r > 0;
        }
    }
    SPEC_TRY(parse_throttle(c, bj, "throttleReadBpsDevice", p, &b->throttle_read_bps,
                            &b->n_throttle_read_bps));
    SPEC_TRY(parse_throttle(c, bj, "throttleWriteBpsDevice", p, &b->throttle_write_bps,
                            &b->n_throttle_write_bps));
    SPEC_TRY(parse_throttle(c, bj, "throttleReadIOPSDevice", p, &b->throttle_read_iops,
                            &b->n_throttle_read_iops));
    SPEC_TRY(parse_throttle(c, bj, "throttleWriteIOPSDevice", p, &b->throttle_write_iops,
                            &b->n_throttle_write_iops));
    return 0;
}

/* "2MB", "64KB", "1GB": a number and a binary unit, as the hugetlb controller names sizes. */
static bool valid_page_size(const char *s)
{
    if (*s < '1' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9')
        s++;
    return strcmp(s, "KB") == 0 || strcmp(s, "MB") == 0 || strcmp(s, "GB") == 0 ||
           strcmp(s, "TB") == 0 || strcmp(s, "PB") == 0;
}

static int parse_hugepages(struct spec_ctx *c, json_t *j, const struct spec_jpath *rp,
                           struct spec_resources *out)
{
    const struct spec_jpath *p = SPEC_JKEY(rp, "hugepageLimits");
    json_t *arr;
    size_t n;
    int r = spec_jfield_array(c, j, "hugepageLimits", rp, false, &arr, &n);
    if (r <= 0)
        return r;
    out->hugepage_limits = xcalloc(n ? n : 1, sizeof(*out->hugepage_limits));
    out->n_hugepage_limits = n;
    for (size_t i = 0; i < n; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(p, i);
        json_t *h = json_array_get(arr, i);
        struct spec_hugepage_limit *hl = &out->hugepage_limits[i];
        SPEC_TRY(spec_jas_object(c, h, ip));
        SPEC_TRY(spec_jfield_string(c, h, "pageSize", ip, true, &hl->page_size));
        if (!valid_page_size(hl->page_size))
            return spec_fail(c, SPEC_JKEY(ip, "pageSize"),
                             "\"%s\" is not a page size like \"2MB\" or \"1GB\"", hl->page_size);
        SPEC_TRY(spec_jfield_u64(c, h, "limit", ip, true, &hl->limit));
    }
    return 0;
}

static int parse_network(struct spec_ctx *c, json_t *j, const struct spec_jpath *rp,
                         struct spec_resources *out)
{
    const struct spec_jpath *p = SPEC_JKEY(rp, "network");
    json_t *nj;
    int r = spec_jfield_object(c, j, "network", rp, false, &nj);
    if (r <= 0)
        return r;
    SPEC_TRY(r = spec_jfield_u32(c, nj, "classID", p, false, &out->net_class_id));
    out->has_net_class_id = r > 0;
    const struct spec_jpath *pp = SPEC_JKEY(p, "priorities");
    json_t *arr;
    size_t n;
    SPEC_TRY(r = spec_jfield_array(c, nj, "priorities", p, false, &arr, &n));
    if (r == 0)
        return 0;
    out->net_priorities = xcalloc(n ? n : 1, sizeof(*out->net_priorities));
    out->n_net_priorities = n;
    for (size_t i = 0; i < n; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(pp, i);
        json_t *e = json_array_get(arr, i);
        struct spec_net_priority *np = &out->net_priorities[i];
        SPEC_TRY(spec_jas_object(c, e, ip));
        SPEC_TRY(spec_jfield_string(c, e, "name", ip, true, &np->name));
        SPEC_TRY(spec_jfield_u32(c, e, "priority", ip, true, &np->priority));
    }
    return 0;
}

static int parse_rdma(struct spec_ctx *c, json_t *j, const struct spec_jpath *rp,
                      struct spec_resources *out)
{
    const struct spec_jpath *p = SPEC_JKEY(rp, "rdma");
    json_t *map;
    int r = spec_jfield_object(c, j, "rdma", rp, false, &map);
    if (r <= 0)
        return r;
    size_t n = json_object_size(map);
    out->rdma = xcalloc(n ? n : 1, sizeof(*out->rdma));
    out->n_rdma = n;
    size_t i = 0;
    const char *dev;
    json_t *v;
    json_object_foreach(map, dev, v)
    {
        const struct spec_jpath *dp = SPEC_JKEY(p, dev);
        struct spec_rdma *rd = &out->rdma[i++];
        rd->device = xstrdup(dev);
        SPEC_TRY(spec_jas_object(c, v, dp));
        SPEC_TRY(r = spec_jfield_u32(c, v, "hcaHandles", dp, false, &rd->hca_handles));
        rd->has_hca_handles = r > 0;
        SPEC_TRY(r = spec_jfield_u32(c, v, "hcaObjects", dp, false, &rd->hca_objects));
        rd->has_hca_objects = r > 0;
    }
    return 0;
}

static int parse_resources(struct spec_ctx *c, json_t *j, const struct spec_jpath *lp,
                           struct spec_linux *out)
{
    const struct spec_jpath *p = SPEC_JKEY(lp, "resources");
    json_t *rj;
    int r = spec_jfield_object(c, j, "resources", lp, false, &rj);
    if (r <= 0)
        return r;
    struct spec_resources *res = out->resources = xzalloc(sizeof(*res));
    SPEC_TRY(parse_device_rules(c, rj, p, res));
    SPEC_TRY(parse_memory(c, rj, p, res));
    SPEC_TRY(parse_cpu(c, rj, p, res));

    json_t *pids;
    SPEC_TRY(r = spec_jfield_object(c, rj, "pids", p, false, &pids));
    if (r > 0) {
        SPEC_TRY(
            r = spec_jfield_i64(c, pids, "limit", SPEC_JKEY(p, "pids"), false, &res->pids_limit));
        res->has_pids_limit = r > 0;
    }
    SPEC_TRY(parse_block_io(c, rj, p, res));
    SPEC_TRY(parse_hugepages(c, rj, p, res));
    SPEC_TRY(parse_network(c, rj, p, res));
    SPEC_TRY(parse_rdma(c, rj, p, res));
    SPEC_TRY(spec_jfield_string_map(c, rj, "unified", p, &res->unified, &res->n_unified));
    return 0;
}

static int check_action(struct spec_ctx *c, const struct spec_jpath *p, const char *action)
{
    if (!spec_name_in(spec_seccomp_actions, action))
        return spec_fail(c, p, "unknown action \"%s\"", action);
    return 0;
}

static int parse_seccomp(struct spec_ctx *c, json_t *j, const struct spec_jpath *lp,
                         struct spec_linux *out)
{
    const struct spec_jpath *p = SPEC_JKEY(lp, "seccomp");
    json_t *sj;
    int r = spec_jfield_object(c, j, "seccomp", lp, false, &sj);
    if (r <= 0)
        return r;
    struct spec_seccomp *s = out->seccomp = xzalloc(sizeof(*s));
    const struct spec_jpath *dap = SPEC_JKEY(p, "defaultAction");
    SPEC_TRY(spec_jfield_string(c, sj, "defaultAction", p, true, &s->default_action));
    SPEC_TRY(check_action(c, dap, s->default_action));
    /* The filter is in force before the container's process runs: a default that waits for a
     * supervisor would stop the runtime's own last steps. */
    if (strcmp(s->default_action, "SCMP_ACT_NOTIFY") == 0)
        return spec_fail(c, dap, "SCMP_ACT_NOTIFY cannot be the default action");
    SPEC_TRY(r = spec_jfield_u32(c, sj, "defaultErrnoRet", p, false, &s->default_errno_ret));
    s->has_default_errno_ret = r > 0;

    SPEC_TRY(spec_jfield_strv(c, sj, "architectures", p, false, &s->architectures));
    for (size_t i = 0; s->architectures && s->architectures[i]; i++) {
        bool known = false;
        for (size_t k = 0; k < spec_n_seccomp_archs; k++)
            if (strcmp(spec_seccomp_archs[k].name, s->architectures[i]) == 0)
                known = true;
        if (!known)
            return spec_fail(c, SPEC_JIDX(SPEC_JKEY(p, "architectures"), i),
                             "unknown architecture \"%s\"", s->architectures[i]);
    }
    SPEC_TRY(spec_jfield_strv(c, sj, "flags", p, false, &s->flags));
    for (size_t i = 0; s->flags && s->flags[i]; i++)
        if (!spec_name_in(spec_seccomp_flags, s->flags[i]))
            return spec_fail(c, SPEC_JIDX(SPEC_JKEY(p, "flags"), i), "unknown flag \"%s\"",
                             s->flags[i]);
    SPEC_TRY(spec_jfield_abs_path(c, sj, "listenerPath", p, false, &s->listener_path));
    SPEC_TRY(spec_jfield_string(c, sj, "listenerMetadata", p, false, &s->listener_metadata));

    const struct spec_jpath *sp = SPEC_JKEY(p, "syscalls");
    json_t *arr;
    size_t n;
    SPEC_TRY(r = spec_jfield_array(c, sj, "syscalls", p, false, &arr, &n));
    if (r == 0)
        return 0;
    s->syscalls = xcalloc(n ? n : 1, sizeof(*s->syscalls));
    s->n_syscalls = n;
    for (size_t i = 0; i < n; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(sp, i);
        json_t *e = json_array_get(arr, i);
        struct spec_seccomp_syscall *sc = &s->syscalls[i];
        SPEC_TRY(spec_jas_object(c, e, ip));
        const struct spec_jpath *np = SPEC_JKEY(ip, "names");
        json_t *names = spec_jget(e, "names");
        if (!json_is_array(names) || json_array_size(names) == 0)
            return spec_fail(c, np, "must be a non-empty array of strings");
        SPEC_TRY(spec_jas_strv(c, names, np, &sc->names));
        SPEC_TRY(spec_jfield_string(c, e, "action", ip, true, &sc->action));
        SPEC_TRY(check_action(c, SPEC_JKEY(ip, "action"), sc->action));
        if (strcmp(sc->action, "SCMP_ACT_NOTIFY") == 0 && !s->listener_path)
            return spec_fail(c, SPEC_JKEY(ip, "action"),
                             "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
        SPEC_TRY(r = spec_jfield_u32(c, e, "errnoRet", ip, false, &sc->errno_ret));
        sc->has_errno_ret = r > 0;

        const struct spec_jpath *ap = SPEC_JKEY(ip, "args");
        json_t *args;
        size_t na;
        SPEC_TRY(r = spec_jfield_array(c, e, "args", ip, false, &args, &na));
        if (r == 0)
            continue;
        sc->args = xcalloc(na ? na : 1, sizeof(*sc->args));
        sc->n_args = na;
        for (size_t k = 0; k < na; k++) {
            const struct spec_jpath *kp = SPEC_JIDX(ap, k);
            json_t *a = json_array_get(args, k);
            struct spec_seccomp_arg *arg = &sc->args[k];
            SPEC_TRY(spec_jas_object(c, a, kp));
            int64_t index;
            /* A system call takes at most six arguments. */
            SPEC_TRY(spec_jfield_int_range(c, a, "index", kp, true, 0, 5, &index));
            arg->index = (uint32_t)index;
            SPEC_TRY(spec_jfield_u64(c, a, "value", kp, true, &arg->value));
            SPEC_TRY(spec_jfield_u64(c, a, "valueTwo", kp, false, &arg->value_two));
            SPEC_TRY(spec_jfield_string(c, a, "op", kp, true, &arg->op));
            if (!spec_name_in(spec_seccomp_operators, arg->op))
                return spec_fail(c, SPEC_JKEY(kp, "op"), "unknown operator \"%s\"", arg->op);
        }
    }
    return 0;
}

static int parse_paths(struct spec_ctx *c, json_t *j, const char *key, const struct spec_jpath *lp,
                       char ***out)
{
    SPEC_TRY(spec_jfield_strv(c, j, key, lp, false, out));
    for (size_t i = 0; *out && (*out)[i]; i++)
        if ((*out)[i][0] != '/')
            return spec_fail(c, SPEC_JIDX(SPEC_JKEY(lp, key), i),
                             "must be an absolute path, not \"%s\"", (*out)[i]);
    return 0;
}

static int parse_personality(struct spec_ctx *c, json_t *j, const struct spec_jpath *lp,
                             struct spec_linux *out)
{
    const struct spec_jpath *p = SPEC_JKEY(lp, "personality");
    json_t *pj;
    int r = spec_jfield_object(c, j, "personality", lp, false, &pj);
    if (r <= 0)
        return r;
    _cleanup_free_ char *domain = NULL;
    SPEC_TRY(spec_jfield_string(c, pj, "domain", p, true, &domain));
    if (strcmp(domain, "LINUX") == 0)
        out->personality_domain = PER_LINUX;
    else if (strcmp(domain, "LINUX32") == 0)
        out->personality_domain = PER_LINUX32;
    else
        return spec_fail(c, SPEC_JKEY(p, "domain"),
                         "unknown domain \"%s\": must be LINUX or LINUX32", domain);
    _cleanup_(spec_strv_freep) char **flags = NULL;
    SPEC_TRY(spec_jfield_strv(c, pj, "flags", p, false, &flags));
    if (flags && flags[0])
        return spec_fail(c, SPEC_JKEY(p, "flags"), "not supported by berth");
    out->has_personality = true;
    return 0;
}

static int parse_time_offsets(struct spec_ctx *c, json_t *j, const struct spec_jpath *lp,
                              struct spec_linux *out)
{
    const struct spec_jpath *p = SPEC_JKEY(lp, "timeOffsets");
    json_t *map;
    int r = spec_jfield_object(c, j, "timeOffsets", lp, false, &map);
    if (r <= 0)
        return r;
    const char *clock;
    json_t *v;
    json_object_foreach(map, clock, v)
    {
        const struct spec_jpath *cp = SPEC_JKEY(p, clock);
        struct spec_time_offset *t;
        if (strcmp(clock, "monotonic") == 0)
            t = &out->time_monotonic;
        else if (strcmp(clock, "boottime") == 0)
            t = &out->time_boottime;
        else
            return spec_fail(c, cp, "unknown clock \"%s\": must be monotonic or boottime", clock);
        SPEC_TRY(spec_jas_object(c, v, cp));
        SPEC_TRY(spec_jfield_i64(c, v, "secs", cp, false, &t->secs));
        int64_t ns = 0;
        SPEC_TRY(spec_jfield_int_range(c, v, "nanosecs", cp, false, 0, 999999999, &ns));
        t->nanosecs = (uint32_t)ns;
        t->set = true;
    }
    return 0;
}

int spec_parse_linux_json(struct spec_ctx *c, json_t *j, const struct spec_jpath *p,
                          struct spec_linux *out)
{
    SPEC_TRY(
        spec_parse_id_mappings(c, j, "uidMappings", p, &out->uid_mappings, &out->n_uid_mappings));
    SPEC_TRY(
        spec_parse_id_mappings(c, j, "gidMappings", p, &out->gid_mappings, &out->n_gid_mappings));
    SPEC_TRY(spec_jfield_string_map(c, j, "sysctl", p, &out->sysctl, &out->n_sysctl));
    SPEC_TRY(parse_resources(c, j, p, out));
    SPEC_TRY(spec_jfield_string(c, j, "cgroupsPath", p, false, &out->cgroups_path));
    SPEC_TRY(parse_namespaces(c, j, p, out));
    SPEC_TRY(parse_devices(c, j, p, out));
    SPEC_TRY(spec_jrefuse(c, j, "netDevices", p));
    SPEC_TRY(parse_seccomp(c, j, p, out));

    SPEC_TRY(spec_jfield_string(c, j, "rootfsPropagation", p, false, &out->rootfs_propagation));
    if (out->rootfs_propagation && !spec_name_in(spec_rootfs_propagations, out->rootfs_propagation))
        return spec_fail(c, SPEC_JKEY(p, "rootfsPropagation"),
                         "unknown propagation \"%s\": must be private, rprivate, slave, rslave, "
                         "shared, rshared, unbindable or runbindable",
                         out->rootfs_propagation);

    SPEC_TRY(parse_paths(c, j, "maskedPaths", p, &out->masked_paths));
    SPEC_TRY(parse_paths(c, j, "readonlyPaths", p, &out->readonly_paths));
    SPEC_TRY(spec_jfield_string(c, j, "mountLabel", p, false, &out->mount_label));
    SPEC_TRY(spec_jrefuse(c, j, "intelRdt", p));
    SPEC_TRY(spec_jrefuse(c, j, "memoryPolicy", p));
    SPEC_TRY(parse_personality(c, j, p, out));
    SPEC_TRY(parse_time_offsets(c, j, p, out));
    return 0;
}

int spec_parse_resources(const char *text, size_t len, const char *origin,
                         struct spec_resources **out, struct berth_error **err)
{
    struct spec_ctx c = {.origin = origin ? origin : "resources.json", .err = err};
    json_t *j = NULL;
    int r = spec_json_load(&c, text, len, &j);
    if (r < 0) {
        spec_ctx_release(&c);
        return r;
    }
    /* The document is a linux.resources object on its own: parse it from a wrapper so that
     * messages name its fields as "resources.memory.limit". */
    json_t *wrap = json_object();
    json_object_set_new(wrap, "resources", j);
    struct spec_linux l = {0};
    r = parse_resources(&c, wrap, NULL, &l);
    json_decref(wrap);
    spec_ctx_release(&c);
    if (r < 0) {
        spec_resources_free(l.resources);
        return r;
    }
    *out = l.resources ? l.resources : xzalloc(sizeof(**out));
    return 0;
}
