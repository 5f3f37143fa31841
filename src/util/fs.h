/* Small file helpers, all relative to a directory fd and never following a final symlink. */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct berth_error;

/* Read a whole file (at most `max` bytes; larger is E2BIG) into a NUL-terminated buffer. */
int fs_read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len,
                    struct berth_error **err);

/* A directory stream over dirfd's directory that leaves dirfd open (NULL with errno set). */
DIR *fs_opendir_fd(int dirfd);

/* Read what is left of an fd, like fs_read_file_at; returns a negative errno on failure. */
int fs_read_fd(int fd, size_t max, char **out, size_t *len);

/* Write data to dirfd/name atomically: a temporary file in the same directory, then rename.
 * No fsync: the guarantee is that readers never see a partial file, not durability across power
 * loss (berth's state lives only as long as the containers it describes). */
int fs_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                            struct berth_error **err);
/* The same for files that need not outlive a reboot (runtime state), where name may exist (say so
 * in `exists`, to spare a failed call): the new file is exchanged with the old one, which is then
 * unlinked. A rename over an existing file makes ext4 (auto_da_alloc) allocate the new file's
 * blocks and start writing them at once, which costs more than the rest of the write. */
int fs_replace_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                       bool exists, struct berth_error **err);

/* Write into an existing file (O_WRONLY|O_TRUNC|O_NOFOLLOW), e.g. a procfs or cgroupfs file. */
int fs_write_file_at(int dirfd, const char *name, const void *data, size_t len,
                     struct berth_error **err);

/* Remove dirfd/name and everything below it. Never follows symlinks and never descends into
 * another mount (EBUSY names the mount point). A missing name is not an error. */
int fs_remove_tree_at(int dirfd, const char *name, struct berth_error **err);

/* mkdir -p of an absolute path by ordinary resolution (for paths an administrator names); each
 * directory made gets `mode`. */
int fs_mkdir_parents(const char *path, mode_t mode, struct berth_error **err);
/* mkdir that accepts an existing directory. */
int fs_mkdir_at(int dirfd, const char *name, mode_t mode, struct berth_error **err);
