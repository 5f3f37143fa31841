/* The container's init before it execs the process: runs in the child berth clones. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "container/container.h"
#include "linux/rootfs.h"
#include "spec/spec.h"

struct seccomp_filter_prog;

struct init_ctx {
    const struct spec *spec;
    const struct container_create_opts *opts;
    const char *rootfs;
    const char *bundle;
    int sync_fd;
    int fifo_fd; /* -1: the start comes as SYNC_START on sync_fd (run) */
    /* Namespaces: those clone3 made already, those still to unshare, those to join. */
    unsigned long cloned_flags;
    unsigned long unshare_flags;
    int join_fds[SPEC_NS_TYPES];
    bool new_userns;
    bool new_pidns_fork; /* unshare made a pid namespace: fork the real init into it */
    bool join_cgroup_self;
    bool born_in_v2_cgroup; /* cloned into the cgroup2 directory */
    int *cgroup_v1_fds;     /* cgroup_open_v1_joins, or NULL */
    struct rootfs_cgroup *cgroups;
    size_t n_cgroups;
    bool cgroup_unified;
    const struct cgroup *cgroup; /* NULL when cgroups are disabled */
    /* rootfs_bind_trees: idmapped binds the runtime made, by mount index; NULL when none. The
     * init inherits these fds. */
    int *bind_trees;
    /* rootfs_open_tree, for a new user namespace; -1 otherwise. The init inherits the tree and
     * gets the directory to attach it to with SYNC_MAPS_DONE. */
    int rootfs_tree, rootfs_dir;
    /* linux.seccomp compiled by the runtime, so that neither its time nor its memory is
     * charged to the container's cgroup; NULL without one. */
    const struct seccomp_filter_prog *seccomp;
};

_Noreturn void container_init_main(struct init_ctx *x);
