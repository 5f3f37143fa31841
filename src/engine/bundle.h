/* The config.json of a container made from an image: berth's default spec, with the image's
 * process (Entrypoint, Cmd, Env, WorkingDir, User) and the command line's choices over it.
 * Pure data in, JSON text out: the caller resolves the user and makes the files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/shm.h"

struct spec_id_mapping;

struct berth_error;

#define BUNDLE_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the command line says about the process; NULL: the image's. */
struct bundle_overrides {
    char **cmd;           /* replaces the image's Cmd (the Entrypoint stays) */
    /* Replaces the image's Entrypoint ("": none), and the image's Cmd is not used, as Docker and
     * podman do: the command is this, then cmd. NULL: the image's. */
    const char *entrypoint;
    char *const *env;     /* K=V, or K alone to take K from berth's own environment */
    const char *cwd;      /* absolute */
    const char *user;     /* NAME|UID[:GROUP|GID] */
    const char *hostname; /* for HOSTNAME= */
    bool terminal;        /* adds TERM=xterm */
};

/* The process the image describes, overridden. */
struct bundle_process {
    char **args; /* Entrypoint + Cmd */
    char **env;  /* HOSTNAME, TERM, then the image's Env, then the overrides (same key: the later
                    wins), and PATH when nobody gave one */
    char *cwd;   /* absolute and clean; "/" when nobody gave one */
    char *user;  /* as written; "" for root */
};

/* Read the image's "config" object (JSON text; NULL or "{}" for none). Fails when no command
 * results, when -w is relative, or when the image's fields have the wrong types. */
int bundle_process_from_image(const char *run_config, const struct bundle_overrides *o,
                              struct bundle_process *out, struct berth_error **err);
void bundle_process_clear(struct bundle_process *p);

/* A bind mount the container gets (a per-container file, or a -v). */
struct bundle_bind {
    const char *source;      /* absolute host path (NULL for a named volume until it is found) */
    const char *destination; /* absolute, clean */
    bool readonly;
    char relabel; /* 0, 'z' (shared) or 'Z' (private) */
    const char *volume; /* -v NAME:DST: the named volume, or NULL */
    bool nocopy;        /* -v NAME:DST:nocopy: a new volume gets nothing from the image */
};

struct bundle_config {
    const struct bundle_process *process;
    uint32_t uid, gid;
    const uint32_t *groups; /* additionalGids */
    size_t n_groups;
    const char *rootfs; /* absolute: the container's layer */
    bool readonly;
    bool terminal;
    const char *hostname;
    const char *process_label; /* NULL or "": none */
    const char *mount_label;
    /* /dev/shm: private gets a tmpfs of shm_size; shareable and container bind shm_source (a
     * host-side tmpfs); host binds the host's /dev/shm and shares the host's IPC namespace. */
    enum shm_ipc_mode ipc;
    uint64_t shm_size;
    const char *shm_source;
    /* The per-container files, then the -v binds, mounted in this order after the defaults.
     * A default mount at a -v's destination (or below a -v of /dev) is left out. */
    const struct bundle_bind *files;
    size_t n_files;
    const struct bundle_bind *volumes;
    size_t n_volumes;
    /* A user namespace with these maps (container -> host) when n_uid_map is not 0. */
    const struct spec_id_mapping *uid_map, *gid_map;
    size_t n_uid_map, n_gid_map;
};

/* config.json text, checked with spec_parse before it is returned. */
int bundle_config_json(const struct bundle_config *c, char **out, struct berth_error **err);

/* config.json text with the IPC namespace's path set (joining another container's), or
 * removed with path NULL. */
int bundle_set_ipc_path(const char *config, const char *path, char **out, struct berth_error **err);

/* Parse -v SRC:DST[:OPTS], OPTS a comma list of ro, rw, z, Z. SRC and DST must be absolute; DST
 * is made clean, and may not be "/". The strings of *out point into a copy the caller frees
 * (*storage). */
int bundle_parse_volume(const char *spec, struct bundle_bind *out, char **storage,
                        struct berth_error **err);
