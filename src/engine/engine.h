/* Containers made from imported images: a writable VFS layer copied from the image's top layer,
 * a bundle and the per-container files (engine/record.h says where), then the runtime driven
 * in-process. The runtime knows the container by its name, under the state root. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/netfiles.h"

struct spec_id_mapping;

struct berth_error;

/* Where things live; shared by every call. */
struct engine_ctx {
    const char *root;           /* the runtime's state root (--root) */
    const char *storage_root;   /* the layer and image store (--storage-root) */
    const char *cgroup_manager; /* NULL: cgroupfs */
};

struct engine_create_opts {
    const char *name;
    const char *image;    /* a name, or a manifest digest */
    const char *hostname; /* NULL: the first 12 hex digits of the container's id */
    struct netfiles_dns dns;
    char **add_hosts; /* NAME:IP */
    bool read_only;
    uint64_t shm_size; /* 0: SHM_DEFAULT_SIZE; only for private and shareable */
    const char *ipc;   /* NULL: private */
    char **volumes;    /* -v SRC:DST[:OPTS] */
    const char *user;  /* NULL: the image's */
    char **env;
    const char *workdir; /* NULL: the image's */
    char **cmd;          /* NULL: the image's Cmd */
    const char *entrypoint; /* NULL: the image's; else this ("": none) and no image Cmd */
    /* --uidmap/--gidmap (one alone serves for both): a user namespace with these maps
     * (container -> host), the container's layer copied through them. None given: the maps the
     * image was imported with, if any. */
    const struct spec_id_mapping *uid_map, *gid_map;
    size_t n_uid_map, n_gid_map;
    bool tty;
    bool progress; /* a progress line for the layer copy, on a terminal */
};

/* Make the container: nothing runs yet. On failure everything made is taken back. */
int engine_create(const struct engine_ctx *ctx, const struct engine_create_opts *o,
                  struct berth_error **err);

/* Run the container's process: in the foreground, wait for it, relaying signals (and the
 * terminal with -t), and return its exit status (128+N for signal N); detached, return 0 once it
 * runs, its stdin /dev/null and its stdout and stderr appended to the container's log, with a
 * monitor process that waits for it, records its exit status and (rm) then removes the
 * container. A container whose last run ended is started afresh, with resolv.conf brought up to
 * date unless it was edited. */
int engine_start(const struct engine_ctx *ctx, const char *name, bool detach, bool rm,
                 struct berth_error **err);

/* Named volumes (-v NAME:DST), kept under <storage-root>/volumes until removed here: create
 * makes an empty one (one a container's -v makes is filled from the image first), remove
 * refuses one a container still names. */
int engine_volume_create(const struct engine_ctx *ctx, const char *name, struct berth_error **err);
int engine_volume_list(const struct engine_ctx *ctx, char ***names, struct berth_error **err);
int engine_volume_remove(const struct engine_ctx *ctx, const char *name, struct berth_error **err);

/* Copy the container's log (the output of its detached runs) to stdout; with follow, keep
 * copying while its process runs. */
int engine_logs(const struct engine_ctx *ctx, const char *name, bool follow,
                struct berth_error **err);

/* SIGTERM to the process, then after `timeout` seconds SIGKILL to all of the container's. A
 * container not running is not an error. */
int engine_stop(const struct engine_ctx *ctx, const char *name, unsigned timeout,
                struct berth_error **err);

struct engine_exec_opts {
    char **args;
    char **env;       /* K=V */
    const char *cwd;  /* NULL: the container's */
    const char *user; /* NAME|UID[:GROUP|GID] from the container's files; NULL: the container's */
    bool tty;
};

/* Run a process in the running container; returns its exit status. */
int engine_exec(const struct engine_ctx *ctx, const char *name, const struct engine_exec_opts *o,
                struct berth_error **err);

/* Remove the runtime's container, the host-side /dev/shm mount, the layer, the MCS pair (when
 * no other container shares it) and the directory. A running container needs force, which
 * kills it; force also clears what a killed create or a vanished process left. */
int engine_remove(const struct engine_ctx *ctx, const char *name, bool force,
                  struct berth_error **err);

struct engine_container {
    char *name;
    char *id;
    char *image;
    char *created;
    char *status; /* created, running, paused, exited (N), stopped, incomplete */
};

int engine_list(const struct engine_ctx *ctx, struct engine_container **out, size_t *n,
                struct berth_error **err);
void engine_list_free(struct engine_container *v, size_t n);
