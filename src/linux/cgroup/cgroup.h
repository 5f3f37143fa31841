/* A container's cgroups through cgroupfs: cgroup v1 (one directory per mounted hierarchy), hybrid
 * (v1 plus the cgroup2 hierarchy mounted beside it) and cgroup v2 (one directory). This module
 * knows nothing of config.json: it takes parsed linux.resources and plain strings.
 *
 * The order a caller follows: cgroup_create, cgroup_apply (before any task joins: v1 cpuset and
 * realtime budgets must be in place first), then clone3 into cgroup_clone_fd() or
 * cgroup_join_self()/cgroup_join_pid(), and in the end cgroup_destroy. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct berth_error;
struct spec_resources;

enum cgroup_mode { CGROUP_MODE_LEGACY, CGROUP_MODE_HYBRID, CGROUP_MODE_UNIFIED };

/* One statfs of /sys/fs/cgroup (and of /sys/fs/cgroup/unified when that is a tmpfs). */
int cgroup_detect_mode(enum cgroup_mode *out, struct berth_error **err);
/* The decision alone, from the filesystem magics (unified_magic 0: not mounted). */
int cgroup_mode_from_magic(long root_magic, long unified_magic, enum cgroup_mode *out,
                           struct berth_error **err);
const char *cgroup_mode_name(enum cgroup_mode mode); /* "legacy", "hybrid", "unified" */

enum cgroup_manager { CGROUP_MANAGER_CGROUPFS, CGROUP_MANAGER_SYSTEMD, CGROUP_MANAGER_DISABLED };

/* --cgroup-manager: "cgroupfs" (also NULL), "systemd" or "disabled". Only cgroupfs and disabled
 * are implemented; systemd is refused with the reason. */
int cgroup_manager_check(const char *manager, enum cgroup_manager *out, struct berth_error **err);

/* linux.cgroupsPath as runc's cgroupfs driver reads it: NULL or "" means the relative path "<id>".
 * The result is normalised ("a//b/" -> "a/b", "/a/./b" -> "/a/b"); ".." components, an empty id
 * and a path naming a hierarchy root ("/") are refused. */
int cgroup_inner_path(const char *cgroups_path, const char *id, char **out,
                      struct berth_error **err);

/* Where a container's directory lies in one hierarchy. `own` is the calling process's cgroup in
 * that hierarchy (from /proc/self/cgroup), `mount_root` the mount's root within the hierarchy
 * (mountinfo field 4). An absolute inner path is taken from the mount's root; a relative one
 * from the caller's own cgroup, except on a cgroup v2 host (`v2_host`), where it is taken from
 * the parent of the caller's cgroup because the caller's own one holds processes and so can
 * delegate no controller (runc does the same). */
char *cgroup_dir_path(const char *mountpoint, const char *mount_root, const char *own,
                      const char *inner, bool v2_host);

/* A hierarchy this process belongs to and that is mounted. */
struct cgroup_hierarchy {
    char *controllers; /* as /proc/self/cgroup says: "cpu,cpuacct", "name=systemd"; "" for v2 */
    char *mountpoint;
    char *mount_root;
    char *own; /* this process's cgroup in it */
    size_t mount_index; /* where its mount stands in mountinfo: the host's mount order */
};
/* Pair /proc/self/cgroup with /proc/self/mountinfo (both given as text, so tests can feed
 * their own); hierarchies that are not mounted are left out. */
int cgroup_parse_hierarchies(const char *proc_cgroup, const char *mountinfo,
                             struct cgroup_hierarchy **out, size_t *n, struct berth_error **err);
void cgroup_hierarchies_free(struct cgroup_hierarchy *h, size_t n);

/* A container's cgroup across all hierarchies. */
struct cgroup;

/* Compute the directories and create them (mkdir -p) in every mounted hierarchy: on v1 every
 * hierarchy this process is in, name=systemd included, and on a hybrid host the cgroup2 one
 * too; on v2 the one directory, with the available controllers enabled in its ancestors. On v1
 * a new cpuset directory gets its parent's cpus and mems so that tasks can join. What was
 * created is remembered, so that cgroup_destroy removes exactly that. */
int cgroup_create(const char *cgroups_path, const char *id, struct cgroup **out,
                  struct berth_error **err);
/* cgroup_create in two steps, so that the cgroup can be recorded before any directory of it
 * exists: cgroup_plan only computes the directories, and counts as to be made the components
 * that are missing now (what cgroup_destroy would remove should the maker die before it
 * records more); cgroup_make creates them and counts what it did make. On failure
 * cgroup_make removes what it made; the caller still frees cg. */
int cgroup_plan(const char *cgroups_path, const char *id, struct cgroup **out,
                struct berth_error **err);
int cgroup_make(struct cgroup *cg, struct berth_error **err);
/* Whether cgroup_make found the container's directory already there in some hierarchy. */
bool cgroup_found_existing(const struct cgroup *cg);

enum cgroup_mode cgroup_get_mode(const struct cgroup *cg);
/* The container's directory in the hierarchy of `controller` ("memory", "name=systemd"; "" for
 * the cgroup2 hierarchy), or NULL when there is none. */
const char *cgroup_get_path(const struct cgroup *cg, const char *controller);

/* Each hierarchy the container has a directory in: its controllers ("" for cgroup2) and the
 * directory's path, for the container's cgroup mount. */
size_t cgroup_dir_count(const struct cgroup *cg);
void cgroup_dir_at(const struct cgroup *cg, size_t i, const char **controllers, const char **path);
/* Where the directory's hierarchy is mounted in the host's mount order (mountinfo's line). */
size_t cgroup_dir_mount_index(const struct cgroup *cg, size_t i);

/* An O_PATH|O_DIRECTORY|O_CLOEXEC fd of the container's cgroup2 directory for clone3
 * CLONE_INTO_CGROUP, which places the child there at birth, without the cost of a migration
 * (cgroup.procs writes wait for an RCU grace period). On a v2 host that is all of its cgroups; on
 * a hybrid host the child still joins the v1 hierarchies with cgroup_join_self, which leaves the
 * cgroup2 directory it is already in. The caller closes the fd. -1 on a legacy host. */
int cgroup_clone_fd(const struct cgroup *cg);

/* Move the calling process in: "0" into each v1 `tasks` file, which moves the calling thread
 * (so the caller must be single-threaded, as berth's children are) and, unlike cgroup.procs,
 * does not wait for an RCU grace period; "0" into cgroup.procs on cgroup2 unless `in_v2` says
 * the caller was cloned into cgroup_clone_fd() (else, on a hybrid host, cgroup.procs is read to
 * know). `v1_joined`: the v1 hierarchies were joined already, with cgroup_join_v1_fds. */
int cgroup_join_self(const struct cgroup *cg, bool in_v2, bool v1_joined, struct berth_error **err);
/* Each v1 hierarchy's `tasks` file opened for writing (O_CLOEXEC), by dir index (-1 for the
 * cgroup2 dir), into *fds. A child that inherits them joins with cgroup_join_v1_fds, writes alone;
 * the kernel checks the opener's credentials, not the writer's. The runtime closes its copies
 * with cgroup_close_v1_joins (n: the dir count), mostly one close_range. */
int cgroup_open_v1_joins(const struct cgroup *cg, int **fds, struct berth_error **err);
int cgroup_join_v1_fds(const struct cgroup *cg, const int *fds, struct berth_error **err);
void cgroup_close_v1_joins(int *fds, size_t n);
/* The same cgroup with existing sub-cgroups in place of the container's own directories, as
 * exec --cgroup gives them (n arguments, as runc takes them): one bare "PATH" for every
 * hierarchy, or any number of "CONTROLLER[,CONTROLLER...]:PATH", each naming controllers
 * exactly as the hierarchies list them; hierarchies not named stay where they are. PATH is
 * relative to the container's cgroup ("/" is the cgroup itself) and may not leave it. A sub-cgroup
 * must exist, except that a bare PATH missing from a hybrid host's cgroup2 hierarchy leaves that
 * one at the container's own directory. */
int cgroup_sub(const struct cgroup *cg, char *const *subs, size_t n, struct cgroup **out,
               struct berth_error **err);
int cgroup_join_pid(const struct cgroup *cg, pid_t pid, struct berth_error **err);

/* Write linux.resources (res may be NULL: only the device policy). `update` is `berth update`
 * on a running container: the device policy is rewritten only when res carries device rules,
 * and memory.checkBeforeUpdate is honoured. Without `update` the device policy is always
 * installed: the config's rules in order, then berth's default allowed devices, all on top of
 * "deny everything". Errors name the file and the value:
 * `cgroup memory.limit_in_bytes: write "1000": Invalid argument`. */
int cgroup_apply(const struct cgroup *cg, const struct spec_resources *res, bool update,
                 struct berth_error **err);

/* Every process of the container, its sub-cgroups included. *pids is malloc'ed. */
int cgroup_pids(const struct cgroup *cg, pid_t **pids, size_t *n, struct berth_error **err);
/* Whether any process is left in the container's cgroup, sub-cgroups included: one read of
 * cgroup.events where there is a cgroup2 directory, else the v1 process lists. */
int cgroup_populated(const struct cgroup *cg, bool *populated, struct berth_error **err);
/* Signal every process. SIGKILL uses cgroup.kill where the kernel has it; otherwise the cgroup
 * is frozen while its processes are listed and signalled, so that none escapes by forking, and
 * afterwards left as it was (always thawed for SIGKILL, so the processes can die). */
int cgroup_signal_all(const struct cgroup *cg, int sig, struct berth_error **err);
/* Freeze or thaw, and wait until the kernel reports it done. */
int cgroup_freeze(const struct cgroup *cg, bool frozen, struct berth_error **err);
int cgroup_is_frozen(const struct cgroup *cg, bool *frozen, struct berth_error **err);

/* Remove every directory cgroup_create made, deepest first, together with any sub-cgroups the
 * container made below its own; retries for a while on EBUSY while tasks exit. Ancestors that
 * another container still uses are left. cg stays owned by the caller. */
int cgroup_destroy(struct cgroup *cg, struct berth_error **err);
/* cgroup_destroy for a container whose processes should all be gone: no waiting. -EBUSY (no
 * message) when the first directory still holds a task or a sub-cgroup: nothing is removed then,
 * and the caller kills what is left and calls cgroup_destroy. */
int cgroup_destroy_if_empty(struct cgroup *cg, struct berth_error **err);

/* A small JSON object for state.json, so that later commands find the same cgroups. */
json_t *cgroup_to_json(const struct cgroup *cg);
int cgroup_from_json(json_t *j, struct cgroup **out, struct berth_error **err);
void cgroup_free(struct cgroup *cg);

/* `events --stats`. A has_ flag is false when the host does not provide that value. Limits
 * read as "max" are UINT64_MAX. */
struct cgroup_stats {
    bool has_memory;
    uint64_t memory_usage, memory_limit, memory_max_usage, memory_failcnt;
    bool has_swap;
    uint64_t swap_usage, swap_limit; /* v1: memory+swap, as memory.memsw.* */
    bool has_cpu;
    uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
    uint64_t cpu_throttled_periods, cpu_throttled_ns;
    bool has_pids;
    uint64_t pids_current, pids_limit;
    bool has_oom_kills;
    uint64_t oom_kills; /* processes the kernel's OOM killer killed in the container */
};
int cgroup_stats(const struct cgroup *cg, struct cgroup_stats *out, struct berth_error **err);

/* The v1 -> v2 conversions, as runc makes them. */
/* cpu.shares [2, 262144] -> cpu.weight [1, 10000], 1024 -> 100, on a quadratic in log2; 0 is
 * "unset" and stays 0. */
uint64_t cgroup_cpu_shares_to_weight(uint64_t shares);
/* blkio.weight [10, 1000] -> io.weight [1, 10000], linear; 0 stays 0. */
uint64_t cgroup_blkio_weight_to_io_weight(uint64_t weight);
/* OCI memory.swap (memory+swap) -> memory.swap.max. 0 means unset, -1 unlimited. */
int cgroup_memory_swap_to_v2(int64_t memory_swap, int64_t memory, int64_t *out,
                             struct berth_error **err);
