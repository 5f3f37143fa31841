/* A container's IPC namespace and /dev/shm. private: a tmpfs the runtime mounts inside the
 * container. shareable: a tmpfs mounted on the host side for the container, bound in, which
 * containers started with container:NAME bind too, along with joining its IPC namespace. host:
 * the host's IPC namespace and /dev/shm. /dev/mqueue is always a fresh mqueue mount made in the
 * container's IPC namespace: mqueue cannot be shared through the host. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct berth_error;

enum shm_ipc_mode {
    SHM_IPC_PRIVATE,
    SHM_IPC_SHAREABLE,
    SHM_IPC_HOST,
    SHM_IPC_CONTAINER,
};

/* Docker's default size of /dev/shm. */
#define SHM_DEFAULT_SIZE (64ULL << 20)

/* "private", "shareable", "host" or "container:NAME" (*container points into s). */
int shm_parse_ipc(const char *s, enum shm_ipc_mode *mode, const char **container,
                  struct berth_error **err);
const char *shm_ipc_mode_name(enum shm_ipc_mode mode);

/* A size as Docker takes it: a number of bytes with an optional unit b, k, m, g or t (powers of
 * 1024, either case, optionally followed by "b" or "ib": "64m", "1GiB", "512kb"). Must be more
 * than 0. */
int shm_parse_size(const char *s, uint64_t *bytes, struct berth_error **err);

/* The options of a /dev/shm tmpfs mount in config.json: nosuid, noexec, nodev, mode=1777,
 * size=N. NULL-terminated, freed with strv_free. */
char **shm_mount_options(uint64_t size);

/* Mount the host-side tmpfs of a shareable container on dirfd/name (a directory, made 0700 when
 * missing): nosuid, nodev, noexec, mode=1777, size bytes, labelled with `label` (context= when
 * SELinux is on, else the root's file label, which BERTH_LABEL_FORCE makes visible). A tmpfs
 * already mounted there is kept. `where` names the directory in messages. */
int shm_mount_at(int dirfd, const char *name, const char *where, uint64_t size, const char *label,
                 struct berth_error **err);

/* Whether dirfd/name is the root of a tmpfs mount. */
bool shm_is_mounted(int dirfd, const char *name);

/* Detach the tmpfs mounted at path (never following a final symlink); nothing mounted there is
 * not an error. */
int shm_unmount(const char *path, struct berth_error **err);
