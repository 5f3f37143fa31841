/* The container's root filesystem, built by its init in the new mount namespace, in order:
 * propagation of / -> the rootfs bound onto itself -> config mounts in order -> devices and
 * /dev symlinks -> console -> [createContainer hooks] -> maskedPaths and readonlyPaths ->
 * deferred read-only remounts -> pivot_root (or move + chroot) -> root.readonly -> /dev/null
 * re-checked. Every target is resolved inside the rootfs by fd; no host path is built by
 * joining strings. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"

struct berth_error;

/* One cgroup hierarchy as the container's cgroup mount shows it. */
struct rootfs_cgroup {
    char *name;      /* "cpu,cpuacct", "memory", "name=systemd", or "" for the unified one */
    char *host_path; /* the container's own cgroup directory on the host */
    size_t dir;      /* its index among the cgroup's directories */
};

struct rootfs_deferred;

struct rootfs_ctx {
    /* In */
    const struct spec *spec;
    const char *rootfs; /* absolute, symlinks resolved, on the host */
    const char *bundle;
    bool no_pivot;
    /* No mount namespace of its own: the mounts go below the runtime's private bind of the rootfs
     * (mnt_bind_private), nothing else of the runtime's mount namespace changes, and the process
     * enters the rootfs by chroot. */
    bool host_mntns;
    bool userns;
    bool new_netns;
    bool new_cgroupns;
    bool cgroup_unified; /* the host is cgroup v2 only */
    const struct rootfs_cgroup *cgroups; /* in the host's mount order */
    size_t n_cgroups;
    const char *mount_label; /* NULL: none */
    const int *bind_trees;   /* from rootfs_bind_trees, or NULL */
    /* From rootfs_open_tree, or -1: the rootfs bound by the runtime, and its directory in this
     * mount namespace. */
    int rootfs_tree, rootfs_dir;
    /* Out */
    int rootfd;         /* O_PATH of the rootfs, once bound onto itself */
    int console_master; /* when process.terminal, else -1 */
    int console_peer;
    /* Private */
    struct rootfs_deferred *deferred;
    size_t n_deferred;
    bool dev_is_bind;
    bool null_checked; /* the container's /dev/null was proven the null device by its fd */
    /* The directory the last missing target was made in (not on a procfs), kept for the next
     * one made there: /dev/pts, /dev/shm, /dev/mqueue. Dropped by any other mount. */
    char *made_in_path;
    int made_in_fd;
    bool made_in_used;
};

void rootfs_ctx_init(struct rootfs_ctx *c);
void rootfs_ctx_clear(struct rootfs_ctx *c);

/* Everything up to the console; createContainer hooks may run after this. */
int rootfs_prepare(struct rootfs_ctx *c, struct berth_error **err);
/* Masks, read-only paths and remounts, pivot. Afterwards the process is inside the rootfs. */
int rootfs_finish(struct rootfs_ctx *c, struct berth_error **err);

/* For a container in a new user namespace, whose root may not be able to traverse the
 * directories above the rootfs (a layer store's are 0700): the runtime binds the rootfs
 * (recursively, private or a slave as rootfsPropagation asks) before the clone, as a detached
 * tree, and once the init's mount namespace exists opens the rootfs directory in it (through
 * /proc/PID/root); the init attaches the tree there through the two fds. Returns the tree. */
int rootfs_open_tree(const struct spec *s, const char *rootfs, struct berth_error **err);

/* The idmapped bind mounts, made by the runtime before the init leaves the host's user
 * namespace: an idmapping needs privilege over the source's filesystem, which the root of the
 * container's user namespace lacks; with all_binds (a new user namespace), every bind mount,
 * since that root may not even reach the source. (*trees)[i] is the detached tree for
 * mounts[i] with its attributes and the bound rootfs' propagation set, or -1; *trees stays NULL
 * when there is none. The init, which inherits the fds, only moves each tree onto its target. */
int rootfs_bind_trees(const struct spec *s, const char *bundle, bool all_binds, int **trees,
                      struct berth_error **err);
void rootfs_bind_trees_free(int *trees, size_t n);

/* The destination rules of config.json mounts, without touching the kernel: under /proc only
 * runc's allow-list may be mounted over; "/" itself is refused. Returns the clean destination. */
int rootfs_check_destination(const struct spec_mount *m, size_t index, char **clean,
                             struct berth_error **err);
