/* config.json into struct spec: the top level, root, mounts, hooks, annotations and process. */
#include "spec/internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bigger than any real config.json (Docker's seccomp profile is ~30 KiB) by a wide margin. */
#define SPEC_MAX_FILE_SIZE (16u << 20)

static int parse_version(struct spec_ctx *c, json_t *j, char **out)
{
    const struct spec_jpath *p = SPEC_JKEY(NULL, "ociVersion");
    SPEC_TRY(spec_jfield_string(c, j, "ociVersion", NULL, true, out));
    /* MAJOR.MINOR.PATCH, optionally followed by a semver pre-release or build suffix. */
    const char *s = *out;
    unsigned long part[3];
    for (int i = 0; i < 3; i++) {
        char *end;
        if (*s < '0' || *s > '9')
            return spec_fail(c, p, "malformed version \"%s\": want MAJOR.MINOR.PATCH", *out);
        part[i] = strtoul(s, &end, 10);
        s = end;
        if (i < 2) {
            if (*s != '.')
                return spec_fail(c, p, "malformed version \"%s\": want MAJOR.MINOR.PATCH", *out);
            s++;
        }
    }
    if (*s && *s != '-' && *s != '+')
        return spec_fail(c, p, "malformed version \"%s\": want MAJOR.MINOR.PATCH", *out);
    if (part[0] != 1)
        return spec_fail(c, p, "unsupported version \"%s\": berth supports 1.x", *out);
    return 0;
}

int spec_parse_id_mappings(struct spec_ctx *c, json_t *obj, const char *key,
                           const struct spec_jpath *parent, struct spec_id_mapping **out, size_t *n)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *arr;
    size_t count;
    int r = spec_jfield_array(c, obj, key, parent, false, &arr, &count);
    if (r <= 0)
        return r;
    *out = xcalloc(count ? count : 1, sizeof(**out));
    *n = count;
    for (size_t i = 0; i < count; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(p, i);
        json_t *m = json_array_get(arr, i);
        struct spec_id_mapping *mp = &(*out)[i];
        SPEC_TRY(spec_jas_object(c, m, ip));
        SPEC_TRY(spec_jfield_u32(c, m, "containerID", ip, true, &mp->container_id));
        SPEC_TRY(spec_jfield_u32(c, m, "hostID", ip, true, &mp->host_id));
        int64_t size;
        SPEC_TRY(spec_jfield_int_range(c, m, "size", ip, true, 1, UINT32_MAX, &size));
        mp->size = (uint32_t)size;
        if ((uint64_t)mp->container_id + mp->size - 1 > UINT32_MAX ||
            (uint64_t)mp->host_id + mp->size - 1 > UINT32_MAX)
            return spec_fail(c, ip, "the range runs past 4294967295");
    }
    return 1;
}

static int parse_root(struct spec_ctx *c, json_t *j, struct spec *s)
{
    const struct spec_jpath *p = SPEC_JKEY(NULL, "root");
    json_t *root;
    SPEC_TRY(spec_jfield_object(c, j, "root", NULL, true, &root));
    SPEC_TRY(spec_jfield_string(c, root, "path", p, true, &s->root_path));
    if (!*s->root_path)
        return spec_fail(c, SPEC_JKEY(p, "path"), "must not be empty");
    SPEC_TRY(spec_jfield_bool(c, root, "readonly", p, false, &s->root_readonly));
    return 0;
}

static int parse_mounts(struct spec_ctx *c, json_t *j, struct spec *s)
{
    const struct spec_jpath *p = SPEC_JKEY(NULL, "mounts");
    json_t *arr;
    size_t n;
    int r = spec_jfield_array(c, j, "mounts", NULL, false, &arr, &n);
    if (r <= 0)
        return r;
    s->mounts = xcalloc(n ? n : 1, sizeof(*s->mounts));
    s->n_mounts = n;
    for (size_t i = 0; i < n; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(p, i);
        json_t *m = json_array_get(arr, i);
        struct spec_mount *mp = &s->mounts[i];
        SPEC_TRY(spec_jas_object(c, m, ip));
        SPEC_TRY(spec_jfield_string(c, m, "destination", ip, true, &mp->destination));
        if (!*mp->destination)
            return spec_fail(c, SPEC_JKEY(ip, "destination"), "must not be empty");
        SPEC_TRY(spec_jfield_string(c, m, "type", ip, false, &mp->type));
        SPEC_TRY(spec_jfield_string(c, m, "source", ip, false, &mp->source));
        SPEC_TRY(spec_jfield_strv(c, m, "options", ip, false, &mp->options));
        SPEC_TRY(spec_parse_id_mappings(c, m, "uidMappings", ip, &mp->uid_mappings,
                                        &mp->n_uid_mappings));
        SPEC_TRY(spec_parse_id_mappings(c, m, "gidMappings", ip, &mp->gid_mappings,
                                        &mp->n_gid_mappings));
    }
    return 0;
}

static int parse_hooks(struct spec_ctx *c, json_t *j, struct spec *s)
{
    const struct spec_jpath *p = SPEC_JKEY(NULL, "hooks");
    json_t *hooks;
    int r = spec_jfield_object(c, j, "hooks", NULL, false, &hooks);
    if (r <= 0)
        return r;
    for (int k = 0; k < SPEC_HOOK_KINDS; k++) {
        const char *name = spec_hook_kind_name(k);
        const struct spec_jpath *kp = SPEC_JKEY(p, name);
        json_t *arr;
        size_t n;
        r = spec_jfield_array(c, hooks, name, p, false, &arr, &n);
        if (r < 0)
            return r;
        if (r == 0)
            continue;
        s->hooks.hooks[k] = xcalloc(n ? n : 1, sizeof(struct spec_hook));
        s->hooks.n_hooks[k] = n;
        for (size_t i = 0; i < n; i++) {
            const struct spec_jpath *ip = SPEC_JIDX(kp, i);
            json_t *h = json_array_get(arr, i);
            struct spec_hook *hp = &s->hooks.hooks[k][i];
            SPEC_TRY(spec_jas_object(c, h, ip));
            SPEC_TRY(spec_jfield_abs_path(c, h, "path", ip, true, &hp->path));
            SPEC_TRY(spec_jfield_strv(c, h, "args", ip, false, &hp->args));
            SPEC_TRY(spec_jfield_strv(c, h, "env", ip, false, &hp->env));
            int64_t t;
            r = spec_jfield_int_range(c, h, "timeout", ip, false, 1, INT32_MAX, &t);
            if (r < 0)
                return r;
            hp->has_timeout = r > 0;
            hp->timeout = r > 0 ? (int32_t)t : 0;
        }
    }
    return 0;
}

static int parse_user(struct spec_ctx *c, json_t *proc, const struct spec_jpath *pp,
                      struct spec_user *u)
{
    const struct spec_jpath *p = SPEC_JKEY(pp, "user");
    json_t *user;
    int r = spec_jfield_object(c, proc, "user", pp, false, &user);
    if (r <= 0)
        return r;
    SPEC_TRY(spec_jfield_u32(c, user, "uid", p, false, &u->uid));
    SPEC_TRY(spec_jfield_u32(c, user, "gid", p, false, &u->gid));
    r = spec_jfield_u32(c, user, "umask", p, false, &u->umask);
    if (r < 0)
        return r;
    u->has_umask = r > 0;

    const struct spec_jpath *gp = SPEC_JKEY(p, "additionalGids");
    json_t *arr;
    size_t n;
    r = spec_jfield_array(c, user, "additionalGids", p, false, &arr, &n);
    if (r <= 0)
        return r;
    u->additional_gids = xcalloc(n ? n : 1, sizeof(uint32_t));
    u->n_additional_gids = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t g;
        SPEC_TRY(spec_jas_uint(c, json_array_get(arr, i), SPEC_JIDX(gp, i), 0, UINT32_MAX, &g));
        u->additional_gids[i] = (uint32_t)g;
    }
    return 0;
}

static int parse_cap_set(struct spec_ctx *c, json_t *caps, const char *key,
                         const struct spec_jpath *parent, int **out, size_t *n)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    _cleanup_(spec_strv_freep) char **names = NULL;
    int r = spec_jfield_strv(c, caps, key, parent, false, &names);
    if (r <= 0)
        return r;
    size_t count = strv_len(names);
    *out = xcalloc(count ? count : 1, sizeof(int));
    *n = count;
    for (size_t i = 0; i < count; i++) {
        int cap = spec_cap_from_name(names[i]);
        if (cap < 0)
            return spec_fail(c, SPEC_JIDX(p, i), "unknown capability \"%s\"", names[i]);
        (*out)[i] = cap;
    }
    return 0;
}

static int parse_capabilities(struct spec_ctx *c, json_t *proc, const struct spec_jpath *pp,
                              struct spec_process *out)
{
    const struct spec_jpath *p = SPEC_JKEY(pp, "capabilities");
    json_t *caps;
    int r = spec_jfield_object(c, proc, "capabilities", pp, false, &caps);
    if (r <= 0)
        return r;
    struct spec_capabilities *sc = out->capabilities = xzalloc(sizeof(*sc));
    SPEC_TRY(parse_cap_set(c, caps, "bounding", p, &sc->bounding, &sc->n_bounding));
    SPEC_TRY(parse_cap_set(c, caps, "effective", p, &sc->effective, &sc->n_effective));
    SPEC_TRY(parse_cap_set(c, caps, "inheritable", p, &sc->inheritable, &sc->n_inheritable));
    SPEC_TRY(parse_cap_set(c, caps, "permitted", p, &sc->permitted, &sc->n_permitted));
    SPEC_TRY(parse_cap_set(c, caps, "ambient", p, &sc->ambient, &sc->n_ambient));
    return 0;
}

static int parse_rlimits(struct spec_ctx *c, json_t *proc, const struct spec_jpath *pp,
                         struct spec_process *out)
{
    const struct spec_jpath *p = SPEC_JKEY(pp, "rlimits");
    json_t *arr;
    size_t n;
    int r = spec_jfield_array(c, proc, "rlimits", pp, false, &arr, &n);
    if (r <= 0)
        return r;
    out->rlimits = xcalloc(n ? n : 1, sizeof(*out->rlimits));
    out->n_rlimits = n;
    for (size_t i = 0; i < n; i++) {
        const struct spec_jpath *ip = SPEC_JIDX(p, i);
        json_t *l = json_array_get(arr, i);
        struct spec_rlimit *rl = &out->rlimits[i];
        SPEC_TRY(spec_jas_object(c, l, ip));
        SPEC_TRY(spec_jfield_string(c, l, "type", ip, true, &rl->type));
        rl->resource = spec_rlimit_from_name(rl->type);
        if (rl->resource < 0)
            return spec_fail(c, SPEC_JKEY(ip, "type"), "unknown rlimit \"%s\"", rl->type);
        for (size_t k = 0; k < i; k++)
            if (out->rlimits[k].resource == rl->resource)
                return spec_fail(c, SPEC_JKEY(ip, "type"), "duplicate rlimit \"%s\"", rl->type);
        SPEC_TRY(spec_jfield_u64(c, l, "hard", ip, true, &rl->hard));
        SPEC_TRY(spec_jfield_u64(c, l, "soft", ip, true, &rl->soft));
        if (rl->soft > rl->hard)
            return spec_fail(c, ip, "soft limit %" PRIu64 " is above the hard limit %" PRIu64,
                             rl->soft, rl->hard);
    }
    return 0;
}

static int parse_scheduler(struct spec_ctx *c, json_t *proc, const struct spec_jpath *pp,
                           struct spec_process *out)
{
    const struct spec_jpath *p = SPEC_JKEY(pp, "scheduler");
    json_t *j;
    int r = spec_jfield_object(c, proc, "scheduler", pp, false, &j);
    if (r <= 0)
        return r;
    struct spec_scheduler *s = out->scheduler = xzalloc(sizeof(*s));
    _cleanup_free_ char *policy = NULL;
    SPEC_TRY(spec_jfield_string(c, j, "policy", p, true, &policy));
    s->policy = spec_sched_policy_from_name(policy);
    if (s->policy < 0)
        return spec_fail(c, SPEC_JKEY(p, "policy"), "unknown policy \"%s\"", policy);
    SPEC_TRY(spec_jfield_i32(c, j, "nice", p, false, &s->nice));
    SPEC_TRY(spec_jfield_i32(c, j, "priority", p, false, &s->priority));
    _cleanup_(spec_strv_freep) char **flags = NULL;
    SPEC_TRY(spec_jfield_strv(c, j, "flags", p, false, &flags));
    for (size_t i = 0; flags && flags[i]; i++) {
        int f = spec_sched_flag_from_name(flags[i]);
        if (f < 0)
            return spec_fail(c, SPEC_JIDX(SPEC_JKEY(p, "flags"), i), "unknown flag \"%s\"",
                             flags[i]);
        s->flags |= (uint32_t)f;
    }
    SPEC_TRY(spec_jfield_u64(c, j, "runtime", p, false, &s->runtime));
    SPEC_TRY(spec_jfield_u64(c, j, "deadline", p, false, &s->deadline));
    SPEC_TRY(spec_jfield_u64(c, j, "period", p, false, &s->period));

    /* The pairings sched_setattr(2) accepts; refusing the rest here names the field. */
    bool fair = s->policy == SCHED_NORMAL || s->policy == SCHED_BATCH;
    bool rt = s->policy == SCHED_FIFO || s->policy == SCHED_RR;
    if (fair && (s->nice < -20 || s->nice > 19))
        return spec_fail(c, SPEC_JKEY(p, "nice"), "must be from -20 to 19 for %s", policy);
    if (!rt && s->priority != 0)
        return spec_fail(c, SPEC_JKEY(p, "priority"),
                         "only SCHED_FIFO and SCHED_RR take a priority, not %s", policy);
    if (s->policy != SCHED_DEADLINE && (s->runtime || s->deadline || s->period))
        return spec_fail(c, p, "runtime, deadline and period are for SCHED_DEADLINE only, not %s",
                         policy);
    return 0;
}

static int parse_io_priority(struct spec_ctx *c, json_t *proc, const struct spec_jpath *pp,
                             struct spec_process *out)
{
    const struct spec_jpath *p = SPEC_JKEY(pp, "ioPriority");
    json_t *j;
    int r = spec_jfield_object(c, proc, "ioPriority", pp, false, &j);
    if (r <= 0)
        return r;
    struct spec_io_priority *io = out->io_priority = xzalloc(sizeof(*io));
    _cleanup_free_ char *klass = NULL;
    SPEC_TRY(spec_jfield_string(c, j, "class", p, true, &klass));
    io->klass = spec_ioprio_class_from_name(klass);
    if (io->klass < 0)
        return spec_fail(c, SPEC_JKEY(p, "class"), "unknown class \"%s\"", klass);
    int64_t prio;
    SPEC_TRY(spec_jfield_int_range(c, j, "priority", p, true, 0, 7, &prio));
    io->priority = (int32_t)prio;
    return 0;
}

/* A cpuset list: "0-3,7,9-10". */
static bool valid_cpu_list(const char *s)
{
    if (!*s)
        return false;
    for (;;) {
        if (*s < '0' || *s > '9')
            return false;
        char *end;
        unsigned long a = strtoul(s, &end, 10);
        s = end;
        if (*s == '-') {
            s++;
            if (*s < '0' || *s > '9')
                return false;
            unsigned long b = strtoul(s, &end, 10);
            if (b < a)
                return false;
            s = end;
        }
        if (!*s)
            return true;
        if (*s != ',')
            return false;
        s++;
    }
}

static int parse_cpu_affinity(struct spec_ctx *c, json_t *proc, const struct spec_jpath *pp,
                              struct spec_process *out)
{
    const struct spec_jpath *p = SPEC_JKEY(pp, "execCPUAffinity");
    json_t *j;
    int r = spec_jfield_object(c, proc, "execCPUAffinity", pp, false, &j);
    if (r <= 0)
        return r;
    SPEC_TRY(spec_jfield_string(c, j, "initial", p, false, &out->exec_cpu_affinity_initial));
    SPEC_TRY(spec_jfield_string(c, j, "final", p, false, &out->exec_cpu_affinity_final));
    if (out->exec_cpu_affinity_initial && !valid_cpu_list(out->exec_cpu_affinity_initial))
        return spec_fail(c, SPEC_JKEY(p, "initial"), "\"%s\" is not a CPU list like \"0-3,7\"",
                         out->exec_cpu_affinity_initial);
    if (out->exec_cpu_affinity_final && !valid_cpu_list(out->exec_cpu_affinity_final))
        return spec_fail(c, SPEC_JKEY(p, "final"), "\"%s\" is not a CPU list like \"0-3,7\"",
                         out->exec_cpu_affinity_final);
    return 0;
}

int spec_parse_process_json(struct spec_ctx *c, json_t *j, const struct spec_jpath *p,
                            struct spec_process *out)
{
    SPEC_TRY(spec_jas_object(c, j, p));
    SPEC_TRY(spec_jfield_bool(c, j, "terminal", p, false, &out->terminal));

    json_t *box;
    int r = spec_jfield_object(c, j, "consoleSize", p, false, &box);
    if (r < 0)
        return r;
    if (r > 0) {
        const struct spec_jpath *bp = SPEC_JKEY(p, "consoleSize");
        out->has_console_size = true;
        SPEC_TRY(spec_jfield_u32(c, box, "height", bp, true, &out->console_height));
        SPEC_TRY(spec_jfield_u32(c, box, "width", bp, true, &out->console_width));
    }

    SPEC_TRY(parse_user(c, j, p, &out->user));

    const struct spec_jpath *ap = SPEC_JKEY(p, "args");
    json_t *args = spec_jget(j, "args");
    if (!json_is_array(args) || json_array_size(args) == 0)
        return spec_fail(c, ap, "must be a non-empty array of strings");
    SPEC_TRY(spec_jas_strv(c, args, ap, &out->args));

    SPEC_TRY(spec_jfield_strv(c, j, "env", p, false, &out->env));
    for (size_t i = 0; out->env && out->env[i]; i++) {
        /* execve would pass it on, but no program could read a variable without a name (runc
         * refuses it too). */
        const char *eq = strchr(out->env[i], '=');
        if (!eq || eq == out->env[i])
            return spec_fail(c, SPEC_JIDX(SPEC_JKEY(p, "env"), i), "\"%s\" is not KEY=value",
                             out->env[i]);
    }
    SPEC_TRY(spec_jfield_abs_path(c, j, "cwd", p, true, &out->cwd));
    SPEC_TRY(parse_capabilities(c, j, p, out));
    SPEC_TRY(parse_rlimits(c, j, p, out));
    SPEC_TRY(spec_jfield_bool(c, j, "noNewPrivileges", p, false, &out->no_new_privileges));
    SPEC_TRY(spec_jfield_string(c, j, "apparmorProfile", p, false, &out->apparmor_profile));

    int64_t adj;
    r = spec_jfield_int_range(c, j, "oomScoreAdj", p, false, -1000, 1000, &adj);
    if (r < 0)
        return r;
    out->has_oom_score_adj = r > 0;
    out->oom_score_adj = r > 0 ? (int32_t)adj : 0;

    SPEC_TRY(spec_jfield_string(c, j, "selinuxLabel", p, false, &out->selinux_label));
    SPEC_TRY(parse_scheduler(c, j, p, out));
    SPEC_TRY(parse_io_priority(c, j, p, out));
    SPEC_TRY(parse_cpu_affinity(c, j, p, out));
    return 0;
}

static int parse_document(struct spec_ctx *c, json_t *j, struct spec *s)
{
    SPEC_TRY(parse_version(c, j, &s->oci_version));
    SPEC_TRY(parse_root(c, j, s));

    json_t *proc = spec_jget(j, "process");
    if (proc) {
        s->process = xzalloc(sizeof(*s->process));
        SPEC_TRY(spec_parse_process_json(c, proc, SPEC_JKEY(NULL, "process"), s->process));
    }

    SPEC_TRY(spec_jfield_string(c, j, "hostname", NULL, false, &s->hostname));
    SPEC_TRY(spec_jfield_string(c, j, "domainname", NULL, false, &s->domainname));
    SPEC_TRY(parse_mounts(c, j, s));
    SPEC_TRY(parse_hooks(c, j, s));
    SPEC_TRY(spec_jfield_string_map(c, j, "annotations", NULL, &s->annotations, &s->n_annotations));

    json_t *linux_;
    int r = spec_jfield_object(c, j, "linux", NULL, false, &linux_);
    if (r < 0)
        return r;
    if (r > 0) {
        s->linux_ = xzalloc(sizeof(*s->linux_));
        SPEC_TRY(spec_parse_linux_json(c, linux_, SPEC_JKEY(NULL, "linux"), s->linux_));
    }
    return spec_validate(c, s);
}

int spec_parse(const char *text, size_t len, const char *origin, struct spec **out,
               struct berth_error **err)
{
    struct spec_ctx c = {.origin = origin ? origin : "config.json", .err = err};
    json_t *j = NULL;
    int r = spec_json_load(&c, text, len, &j);
    if (r < 0) {
        spec_ctx_release(&c);
        return r;
    }
    struct spec *s = xzalloc(sizeof(*s));
    r = parse_document(&c, j, s);
    json_decref(j);
    spec_ctx_release(&c);
    if (r < 0) {
        spec_free(s);
        return r;
    }
    *out = s;
    return 0;
}

int spec_load_file(const char *path, const char *origin, struct spec **out,
                   struct berth_error **err)
{
    /* A bundle's config.json may be a symlink (runc follows it too); only the size is bounded. */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s", path);
    size_t len = 0, cap = 4096;
    _cleanup_free_ char *text = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= SPEC_MAX_FILE_SIZE)
                return berth_error_set(err, EFBIG, "read %s", path);
            cap *= 2;
            text = xrealloc(text, cap);
        }
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return berth_error_set(err, errno, "read %s", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    return spec_parse(text, len, origin ? origin : path, out, err);
}

int spec_parse_process(const char *text, size_t len, const char *origin, struct spec_process **out,
                       struct berth_error **err)
{
    struct spec_ctx c = {.origin = origin ? origin : "process.json", .err = err};
    json_t *j = NULL;
    int r = spec_json_load(&c, text, len, &j);
    if (r < 0) {
        spec_ctx_release(&c);
        return r;
    }
    struct spec_process *p = xzalloc(sizeof(*p));
    r = spec_parse_process_json(&c, j, SPEC_JKEY(NULL, "process"), p);
    json_decref(j);
    spec_ctx_release(&c);
    if (r < 0) {
        spec_process_free(p);
        return r;
    }
    *out = p;
    return 0;
}
