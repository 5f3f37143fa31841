/* Shared by the files of the cgroup module; not for use outside it. */
#pragma once

#include "linux/cgroup/cgroup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spec_memory;
struct spec_cpu;
struct spec_block_io;
struct spec_resources;
struct cgroup_device_rule;

/* The container's directory in one hierarchy. */
struct cgroup_dir {
    char *controllers; /* "cpu,cpuacct", "name=systemd"; "" for the cgroup2 hierarchy */
    char *mountpoint;
    char *path;       /* below mountpoint */
    unsigned created; /* trailing components of path that cgroup_create made */
    size_t mount_index; /* the host's mount order of its hierarchy (0 when loaded from state) */
};

struct cgroup {
    enum cgroup_mode mode;
    struct cgroup_dir *dirs;
    size_t n_dirs;
};

/* The directory whose hierarchy carries `controller` ("" for cgroup2), or NULL. */
const struct cgroup_dir *cgroup_find_dir(const struct cgroup *cg, const char *controller);
/* Whether the comma-separated list opts holds word. */
bool cgroup_opts_have(const char *opts, const char *word);
/* Where signals, freezing and process lists go: the v2 directory on a v2 host, else the v1
 * freezer (or devices, or any) hierarchy. */
const struct cgroup_dir *cgroup_primary_dir(const struct cgroup *cg);

/* File access. Every failure names the file (and, for writes, the value):
 * `cgroup memory.max: write "10": Invalid argument`. */
/* Every function here takes err NULL to mean "only the code, no message". */
int cg_write(const char *dir, const char *file, const char *value, struct berth_error **err);
/* cg_write in two steps, for files that take one value per write (devices.allow): open, then
 * write each value. `value` only names the first value in an error. */
int cg_open_write(const char *dir, const char *file, const char *value, struct berth_error **err);
int cg_write_fd(int fd, const char *file, const char *value, struct berth_error **err);
int cg_writef(const char *dir, const char *file, struct berth_error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The message cg_write gives, for a caller that first looked at the code (r < 0). */
int cg_write_failed(struct berth_error **err, int r, const char *file, const char *value);
int cg_read(const char *dir, const char *file, char **out, struct berth_error **err);
/* A number, or "max" as UINT64_MAX. */
int cg_read_u64(const char *dir, const char *file, uint64_t *out, struct berth_error **err);
/* The number after `key ` in a flat-keyed file (memory.events, cpu.stat). -ENOENT: no key. */
int cg_read_key_u64(const char *dir, const char *file, const char *key, uint64_t *out,
                    struct berth_error **err);
bool cg_exists(const char *dir, const char *file);
/* Whether the word occurs in a space-separated list such as cgroup.controllers. */
bool cg_word_in(const char *list, const char *word);

/* v1.c */
int cgroup_v1_cpuset_init(const char *mountpoint, const char *path, unsigned created,
                          struct berth_error **err);
int cgroup_v1_freeze(const char *dir, bool frozen, struct berth_error **err);
int cgroup_v1_is_frozen(const char *dir, bool *frozen, struct berth_error **err);

/* v2.c */
/* Enable controllers in cgroup.subtree_control of every ancestor of path below mountpoint.
 * `controllers` is a space-separated list; NULL: whatever each level offers. best_effort: skip
 * failures (a controller some level cannot delegate shows up later as a missing file). */
int cgroup_v2_enable(const char *mountpoint, const char *path, const char *controllers,
                     bool best_effort, struct berth_error **err);
/* Whether the controller is enabled for path, enabling it in its ancestors when the hierarchy
 * has it at all. Returns 1 when usable, 0 when the hierarchy lacks it. */
int cgroup_v2_ensure(const char *mountpoint, const char *path, const char *controller,
                     struct berth_error **err);
int cgroup_v2_freeze(const char *dir, bool frozen, struct berth_error **err);
int cgroup_v2_is_frozen(const char *dir, bool *frozen, struct berth_error **err);

/* resources_v1.c and resources_v2.c: one function per controller, given its directory. */
int cgroup_v1_apply_memory(const char *dir, const struct spec_memory *m, bool update,
                           struct berth_error **err);
int cgroup_v1_apply_cpu(const char *dir, const struct spec_cpu *c, struct berth_error **err);
int cgroup_v1_apply_blkio(const char *dir, const struct spec_block_io *b, struct berth_error **err);
int cgroup_v1_apply_net_cls(const char *dir, uint32_t classid, struct berth_error **err);
int cgroup_v1_apply_net_prio(const char *dir, const struct spec_resources *r,
                             struct berth_error **err);
int cgroup_v1_apply_devices(const char *dir, const struct cgroup_device_rule *rules, size_t n,
                            struct berth_error **err);

int cgroup_v2_apply_memory(const char *dir, const struct spec_memory *m, bool update,
                           struct berth_error **err);
int cgroup_v2_apply_cpu(const char *dir, const struct spec_cpu *c, struct berth_error **err);
int cgroup_v2_apply_io(const char *dir, const struct spec_block_io *b, struct berth_error **err);
int cgroup_v2_apply_unified(const char *dir, const char *mountpoint, const struct spec_resources *r,
                            struct berth_error **err);

/* Shared by both versions. */
int cgroup_apply_pids(const char *dir, int64_t limit, struct berth_error **err);
int cgroup_apply_cpuset(const char *dir, const struct spec_cpu *c, struct berth_error **err);
/* hugetlb.SIZE.limit_in_bytes on v1, hugetlb.SIZE.max on v2, and their .rsvd. twins. */
int cgroup_apply_hugetlb(const char *dir, const struct spec_resources *r, bool v2,
                         struct berth_error **err);
/* memory.checkBeforeUpdate: refuse a limit below what the cgroup already uses. */
int cgroup_check_memory_usage(const char *dir, const char *usage_file, int64_t limit,
                              struct berth_error **err);
int cgroup_apply_rdma(const char *dir, const struct spec_resources *r, struct berth_error **err);
/* A hugepage size as written in the OCI config ("2MB", "1GB"), checked before it becomes part of
 * a file name. */
int cgroup_check_page_size(const char *size, struct berth_error **err);
