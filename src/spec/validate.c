/* Rules that tie fields together, checked once the whole document is parsed. They need no
 * kernel: each one refuses a config that would reach into the host or contradict itself. */
#include "spec/internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <string.h>

/* Index of the namespace entry of type t, or -1. */
static long ns_index(const struct spec *s, enum spec_ns_type t)
{
    if (!s->linux_)
        return -1;
    for (size_t i = 0; i < s->linux_->n_namespaces; i++)
        if (s->linux_->namespaces[i].type == t)
            return (long)i;
    return -1;
}

static const struct spec_jpath *linux_path(void)
{
    static const struct spec_jpath p = {.kind = SPEC_JPATH_KEY, .key = "linux"};
    return &p;
}

static int check_user_namespace(struct spec_ctx *c, const struct spec *s)
{
    const struct spec_linux *l = s->linux_;
    if (!l)
        return 0;
    long user = ns_index(s, SPEC_NS_USER);
    if (user < 0) {
        if (l->n_uid_mappings)
            return spec_fail(c, SPEC_JKEY(linux_path(), "uidMappings"),
                             "given without a user namespace in linux.namespaces");
        if (l->n_gid_mappings)
            return spec_fail(c, SPEC_JKEY(linux_path(), "gidMappings"),
                             "given without a user namespace in linux.namespaces");
        return 0;
    }
    /* Joining an existing user namespace brings its mappings along. */
    if (l->namespaces[user].path)
        return 0;
    const struct spec_jpath *np = SPEC_JIDX(SPEC_JKEY(linux_path(), "namespaces"), (size_t)user);
    if (!l->n_uid_mappings)
        return spec_fail(c, np, "a new user namespace needs linux.uidMappings");
    if (!l->n_gid_mappings)
        return spec_fail(c, np, "a new user namespace needs linux.gidMappings");
    return 0;
}

static int check_time_namespace(struct spec_ctx *c, const struct spec *s)
{
    const struct spec_linux *l = s->linux_;
    if (!l || (!l->time_monotonic.set && !l->time_boottime.set))
        return 0;
    const struct spec_jpath *p = SPEC_JKEY(linux_path(), "timeOffsets");
    long t = ns_index(s, SPEC_NS_TIME);
    if (t < 0)
        return spec_fail(c, p, "given without a time namespace in linux.namespaces");
    if (l->namespaces[t].path)
        return spec_fail(c, p, "only a new time namespace takes offsets, not a joined one");
    return 0;
}

static int check_names(struct spec_ctx *c, const struct spec *s)
{
    if (ns_index(s, SPEC_NS_UTS) >= 0)
        return 0;
    if (s->hostname && *s->hostname)
        return spec_fail(c, SPEC_JKEY(NULL, "hostname"),
                         "needs a UTS namespace in linux.namespaces: setting it would change "
                         "the host");
    if (s->domainname && *s->domainname)
        return spec_fail(c, SPEC_JKEY(NULL, "domainname"),
                         "needs a UTS namespace in linux.namespaces: setting it would change "
                         "the host");
    return 0;
}

/* Without a mount namespace the container's mounts are made in the runtime's, below a private
 * bind of the rootfs: what needs more of the host's than that is refused (runc refuses the masks
 * too). */
static int check_host_mount_namespace(struct spec_ctx *c, const struct spec *s)
{
    const struct spec_linux *l = s->linux_;
    if (!l || ns_index(s, SPEC_NS_MOUNT) >= 0)
        return 0;
    if (l->masked_paths && l->masked_paths[0])
        return spec_fail(c, SPEC_JKEY(linux_path(), "maskedPaths"),
                         "needs a mount namespace in linux.namespaces");
    if (l->readonly_paths && l->readonly_paths[0])
        return spec_fail(c, SPEC_JKEY(linux_path(), "readonlyPaths"),
                         "needs a mount namespace in linux.namespaces");
    if (l->rootfs_propagation)
        return spec_fail(c, SPEC_JKEY(linux_path(), "rootfsPropagation"),
                         "needs a mount namespace in linux.namespaces: it would change the mounts "
                         "of the host");
    long user = ns_index(s, SPEC_NS_USER);
    if (user >= 0)
        return spec_fail(c, SPEC_JIDX(SPEC_JKEY(linux_path(), "namespaces"), (size_t)user),
                         "a user namespace needs a mount namespace in linux.namespaces too: the "
                         "mount namespace of the host takes no mounts made in it");
    return 0;
}

static int check_mounts(struct spec_ctx *c, const struct spec *s)
{
    bool userns = ns_index(s, SPEC_NS_USER) >= 0;
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct spec_mount *m = &s->mounts[i];
        const struct spec_jpath *p = SPEC_JIDX(SPEC_JKEY(NULL, "mounts"), i);
        if (!m->n_uid_mappings != !m->n_gid_mappings)
            return spec_fail(c, p, "an id-mapped mount needs both uidMappings and gidMappings");
        bool idmap = false;
        for (size_t k = 0; m->options && m->options[k]; k++)
            if (strcmp(m->options[k], "idmap") == 0 || strcmp(m->options[k], "ridmap") == 0)
                idmap = true;
        if (idmap && !m->n_uid_mappings && !userns)
            return spec_fail(c, p,
                             "an id-mapped mount needs uidMappings and gidMappings, or a user "
                             "namespace to take them from");
    }
    return 0;
}

/* runc's spelling rule: a key whose first separator is '/' uses '/' between its parts. */
static char *sysctl_dotted(const char *key)
{
    char *k = xstrdup(key);
    size_t first = strcspn(k, "./");
    if (k[first] != '/')
        return k;
    for (char *p = k; *p; p++) {
        if (*p == '/')
            *p = '.';
        else if (*p == '.')
            *p = '/';
    }
    return k;
}

static bool is_ipc_sysctl(const char *k)
{
    static const char *const ipc[] = {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",          "kernel.sem", "kernel.shmall",
        "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", NULL,
    };
    return spec_name_in(ipc, k) || strncmp(k, "fs.mqueue.", 10) == 0;
}

static int check_sysctl(struct spec_ctx *c, const struct spec *s)
{
    const struct spec_linux *l = s->linux_;
    if (!l)
        return 0;
    const struct spec_jpath *p = SPEC_JKEY(linux_path(), "sysctl");
    for (size_t i = 0; i < l->n_sysctl; i++) {
        const char *key = l->sysctl[i].key;
        _cleanup_free_ char *k = sysctl_dotted(key);
        enum spec_ns_type need;
        const char *ns_name;
        if (is_ipc_sysctl(k)) {
            need = SPEC_NS_IPC;
            ns_name = "IPC";
        } else if (strncmp(k, "net.", 4) == 0) {
            need = SPEC_NS_NETWORK;
            ns_name = "network";
        } else if (strcmp(k, "kernel.domainname") == 0 || strcmp(k, "kernel.hostname") == 0) {
            need = SPEC_NS_UTS;
            ns_name = "UTS";
        } else if (strncmp(k, "user.", 5) == 0) {
            /* The ucounts limits belong to the user namespace that owns them. */
            need = SPEC_NS_USER;
            ns_name = "user";
        } else {
            return spec_fail(c, p, "\"%s\" is not namespaced: setting it would change the host",
                             key);
        }
        /* A joined namespace (with a path) counts: which one it is cannot be known here. */
        if (ns_index(s, need) < 0)
            return spec_fail(c, p,
                             "\"%s\" needs a new %s namespace: setting it would change the host",
                             key, ns_name);
        if (strcmp(k, "kernel.hostname") == 0)
            return spec_fail(c, p, "\"%s\" conflicts with the hostname field: set that instead",
                             key);
    }
    return 0;
}

int spec_validate(struct spec_ctx *c, const struct spec *s)
{
    SPEC_TRY(check_user_namespace(c, s));
    SPEC_TRY(check_time_namespace(c, s));
    SPEC_TRY(check_names(c, s));
    SPEC_TRY(check_host_mount_namespace(c, s));
    SPEC_TRY(check_mounts(c, s));
    SPEC_TRY(check_sysctl(c, s));
    return 0;
}
