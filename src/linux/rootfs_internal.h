/* Shared by rootfs.c (the config's mounts) and rootfs_finish.c (masks, read-only paths, the
 * pivot). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct spec;

/* A mount whose read-only flag waits until everything beneath it has been written. */
struct rootfs_deferred {
    int fd;
    bool recursive;
    uint64_t set;
    char *dest;
};

bool rootfs_fd_is_dir(int fd);

/* linux.rootfsPropagation as mount(2) propagation flags (validated by the parser); MS_PRIVATE |
 * MS_REC when it is not set. */
unsigned long rootfs_root_propagation(const struct spec *s);
