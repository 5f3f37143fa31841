/* /dev inside the container: device nodes and the standard symlinks, all relative to one
 * directory fd of the rootfs's /dev, so an image whose /dev is a symlink cannot aim them at
 * the host. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "spec/spec.h"

struct berth_error;

/* Create the default nodes (null, zero, full, random, urandom, tty) and linux.devices. In a
 * user namespace, where mknod is refused, the host's nodes are bind-mounted instead. Each node
 * is verified to be the device asked for after it is made. Then the symlinks: /dev/fd, stdin,
 * stdout, stderr, ptmx -> pts/ptmx, and core -> /proc/kcore when it exists. */
int devices_create(int rootfd, const struct spec_device *devs, size_t n, bool userns,
                   struct berth_error **err);

/* Check that an open file is the character device major:minor. */
bool devices_is_char(int fd, unsigned major, unsigned minor);
