/* Copy a directory tree from one directory fd to another, keeping everything a root filesystem
 * carries: data (holes included), every file type, hardlinks, owners, modes, xattrs and
 * nanosecond times. The walk is fd-relative, never follows a symlink and never enters another
 * mount. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct berth_error;
struct spec_id_mapping;

/* A uid or gid map, container id -> host id, in the shape of OCI uidMappings. n == 0 means the
 * identity. */
struct copy_id_map {
    const struct spec_id_mapping *map;
    size_t n;
};

/* Map a container id to the host id; -ERANGE when no range holds it. */
int copy_id_map_to_host(const struct copy_id_map *m, uint32_t id, uint32_t *host);

/* Owners hidden in xattr values follow the maps: ACL_USER/ACL_GROUP entries of
 * system.posix_acl_* and the root id of v3 security.capability. Other keys are left alone.
 * -ERANGE when an id is not mapped. */
int copy_shift_xattr(const struct copy_id_map *uid_map, const struct copy_id_map *gid_map,
                     const char *key, void *value, size_t len);

/* setxattr on the entry `name` of dirfd without following it (setxattrat, or lsetxattr through
 * /proc/self/fd on kernels before 6.13). */
int copy_xattr_set_at(int dirfd, const char *name, const char *key, const void *val, size_t len);

/* chmod the entry `name` of dirfd, which the caller made and knows is no symlink, without
 * following it where the kernel can say so (fchmodat2). -1 with errno on failure. */
int copy_chmod_at(int dirfd, const char *name, mode_t mode);

struct copy_stats {
    uint64_t bytes; /* file data copied (apparent sizes, holes excluded) */
    uint64_t files; /* entries of every kind */
};

struct copy_options {
    /* When set, owners are mapped container -> host as they are copied (ACL entries and the root
     * id of v3 file capabilities too). */
    const struct copy_id_map *uid_map;
    const struct copy_id_map *gid_map;
    /* Leave security.selinux out: the destination is being relabelled. */
    bool skip_selinux;
    /* Called after each entry with the running totals; it should be cheap. */
    void (*progress)(void *data, const struct copy_stats *st);
    void *progress_data;
};

/* Copy the contents of src_dirfd into dst_dirfd (an existing, normally empty directory) and give
 * dst_dirfd the owner, mode, xattrs and times of src_dirfd. Must run with the privileges to chown
 * and mknod (root). On failure the destination holds a partial copy: the caller removes it.
 * `stats` may be NULL. */
int copy_tree(int src_dirfd, int dst_dirfd, const struct copy_options *opts,
              struct copy_stats *stats, struct berth_error **err);
