/* How a container's lifecycle uses the cgroup manager. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "container/container.h"
#include "linux/rootfs.h"
#include "spec/spec.h"

struct cgroup;
struct berth_error;

/* The container's cgroups, computed but not made yet (cgroup_plan), so that state.json can
 * name them before any exists; *out is NULL when cgroups are disabled (--cgroup-manager
 * disabled). */
int container_cgroup_plan(const struct spec *s, const struct container_create_opts *o,
                          struct cgroup **out, struct berth_error **err);
/* Create the planned cgroups and write linux.resources. *cg becomes NULL when there is to be
 * no cgroup after all (rootless, not delegated) and when writing the resources failed (what
 * was made is removed then). */
int container_cgroup_setup(const struct spec *s, const struct container_create_opts *o,
                           struct cgroup **cg, struct berth_error **err);

/* What the container's cgroup mount shows: each hierarchy and the container's directory in it. */
int container_cgroup_mounts(const struct cgroup *cg, struct rootfs_cgroup **out, size_t *n,
                            bool *unified, struct berth_error **err);
void container_cgroup_mounts_free(struct rootfs_cgroup *list, size_t n);
