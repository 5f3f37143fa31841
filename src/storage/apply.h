/* Apply one OCI layer (a tar stream read with libarchive) onto a directory: whiteouts and
 * opaque directories remove what lower layers left, every other entry is created with its
 * owner (through the id maps), mode, xattrs and times. No entry can reach outside the
 * directory: parents are resolved inside it (openat2 RESOLVE_IN_ROOT), `..` is refused,
 * absolute names start at the directory, a final symlink is never followed and metadata is set
 * on fds or with AT_SYMLINK_NOFOLLOW. */
#pragma once

#include "linux/copy.h"

struct archive;
struct berth_error;

struct apply_options {
    const struct copy_id_map *uid_map; /* container -> host; NULL: identity */
    const struct copy_id_map *gid_map;
};

/* Read every entry of `a` (opened by the caller, with its format set) and apply it below
 * root_fd. Adds the bytes and entries written to *st. On failure the directory holds part of
 * the layer: the caller discards it. */
int apply_archive(int root_fd, struct archive *a, const struct apply_options *o,
                  struct copy_stats *st, struct berth_error **err);

/* Normalise a tar entry name: leading '/' and "./", empty and "." components and a trailing
 * '/' go; the result has no '/' at either end ("" for the root). -EINVAL when a component is
 * "..", -ENAMETOOLONG when a component is over 255 bytes or the whole over 4095. */
int apply_clean_name(const char *name, char **out);
