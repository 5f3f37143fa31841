#include "container/cgroups.h"
#include "berth/error.h"
#include "linux/cgroup/cgroup.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>

int container_cgroup_plan(const struct spec *s, const struct container_create_opts *o,
                          struct cgroup **out, struct berth_error **err)
{
    *out = NULL;
    enum cgroup_manager m;
    int r = cgroup_manager_check(o->cgroup_manager, &m, err);
    if (r < 0 || m == CGROUP_MANAGER_DISABLED)
        return r;
    const struct spec_linux *l = s->linux_;
    return cgroup_plan(l ? l->cgroups_path : NULL, o->id, out, err);
}

int container_cgroup_setup(const struct spec *s, const struct container_create_opts *o,
                           struct cgroup **cg, struct berth_error **err)
{
    if (!*cg)
        return 0;
    const struct spec_linux *l = s->linux_;
    int r = cgroup_make(*cg, err);
    if (r < 0 && o->rootless && (r == -EACCES || r == -EPERM || r == -EROFS)) {
        /* Not delegated to this user: run without, as runc does. */
        log_debug("rootless: no cgroup: %s", (*err)->msg);
        berth_error_freep(err);
        if (l && l->resources &&
            (l->resources->memory || l->resources->cpu || l->resources->has_pids_limit ||
             l->resources->block_io))
            log_warn("linux.resources ignored: the cgroup is not delegated to this user");
        cgroup_free(*cg);
        *cg = NULL;
        return 0;
    }
    if (r < 0)
        return r;
    r = cgroup_apply(*cg, l ? l->resources : NULL, false, err);
    if (r < 0)
        berth_error_prefix(err, "linux.resources");
    /* A cgroup frozen already (a pre-made one, or below a frozen parent) would hold the init
     * before it ever reported back: create would wait for ever. */
    bool frozen = false;
    if (r == 0 && cgroup_is_frozen(*cg, &frozen, NULL) == 0 && frozen)
        r = berth_error_set(err, 0,
                            "cgroup: found the container's cgroup unexpectedly frozen (by its own "
                            "freezer or a parent's): its process could not run; thaw it first");
    /* Joining a cgroup that others run in is allowed (runc warns too): its limits are shared. */
    pid_t *pids = NULL;
    size_t n = 0;
    if (r == 0 && cgroup_found_existing(*cg) && cgroup_pids(*cg, &pids, &n, NULL) == 0 && n)
        log_warn("the container's cgroup is not empty: %zu process%s already run there, and its "
                 "limits are theirs too",
                 n, n == 1 ? "" : "es");
    free(pids);
    if (r < 0) {
        struct berth_error *e = NULL;
        cgroup_destroy(*cg, &e);
        berth_error_free(e);
        cgroup_free(*cg);
        *cg = NULL;
        return r;
    }
    return 0;
}

int container_cgroup_mounts(const struct cgroup *cg, struct rootfs_cgroup **out, size_t *n,
                            bool *unified, struct berth_error **err)
{
    (void)err;
    *out = NULL;
    *n = 0;
    *unified = false;
    if (!cg)
        return 0;
    *unified = cgroup_get_mode(cg) == CGROUP_MODE_UNIFIED;
    /* In the order the host mounted the hierarchies, the order runc shows them in. */
    size_t count = cgroup_dir_count(cg);
    struct rootfs_cgroup *list = xcalloc(count ? count : 1, sizeof(*list));
    for (size_t i = 0; i < count; i++) {
        const char *controllers, *path;
        cgroup_dir_at(cg, i, &controllers, &path);
        size_t at = i, mi = cgroup_dir_mount_index(cg, i);
        for (; at > 0 && cgroup_dir_mount_index(cg, list[at - 1].dir) > mi; at--)
            list[at] = list[at - 1];
        list[at] = (struct rootfs_cgroup){
            .name = xstrdup(controllers), .host_path = xstrdup(path), .dir = i};
    }
    *out = list;
    *n = count;
    return 0;
}

void container_cgroup_mounts_free(struct rootfs_cgroup *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].host_path);
    }
    free(list);
}
