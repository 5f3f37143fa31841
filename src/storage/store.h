/* The VFS layer store: each layer a full directory tree, <root>/vfs/dir/<id>, made as a copy of
 * its parent; the index of layers in <root>/vfs/layers.json. One lock file serialises every
 * berth process that uses the store: a handle holds it from open to close. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linux/copy.h"

struct berth_error;
struct storage;

#define STORAGE_DEFAULT_ROOT "/var/lib/berth/storage"
/* The level-s0 file label that layer roots get when SELinux is enabled. */
#define STORAGE_SELINUX_LABEL "system_u:object_r:container_file_t:s0"

enum storage_open_flags {
    /* A shared lock, for lookups only: layers left incomplete are hidden, not removed. */
    STORAGE_OPEN_READONLY = 1 << 0,
};

/* Create the store if needed (root 0700; vfs and vfs/dir 0710, never world-traversable), lock it
 * and load the index. A writable open removes what a killed berth left behind: layers still
 * marked incomplete and directories that no layer names. */
int storage_open(const char *root, unsigned flags, struct storage **out, struct berth_error **err);
void storage_close(struct storage *s);
static inline void storage_closep(struct storage **s)
{
    storage_close(*s);
}

/* The label new layer roots get; NULL for none. Defaults to STORAGE_SELINUX_LABEL when SELinux
 * is enabled (selinuxfs mounted), else NULL. The string is copied. */
void storage_set_label(struct storage *s, const char *label);
const char *storage_label(const struct storage *s);

struct storage_layer_opts {
    /* "K=V" storage options (NULL-terminated); vfs takes none and refuses any. */
    char *const *storage_opts;
    /* Fill the new layer (a directory fd on its root) after the parent's copy, before the layer
     * is marked complete; image import applies a tar here. It adds what it wrote to `st`. */
    int (*populate)(void *data, int layer_fd, struct copy_stats *st, struct berth_error **err);
    void *populate_data;
    /* Draw a progress line on stderr for long copies (only if stderr is a terminal). */
    bool progress;
    /* The parent already holds host ids (it was made with the same maps): copy it as it is.
     * The maps still choose the owner of a new base layer's root. */
    bool parent_is_mapped;
};

/* Make layer `id` (letters, digits, '_', '.', '-'; at most 128 bytes; not starting with '.' or
 * '-') as a copy of `parent` (NULL: empty), owners mapped through the maps (container -> host;
 * NULL or empty: identity). The root of a layer without parent is 0755, owned by the remapped
 * root. Crash-safe: until the layer is complete, the index marks it incomplete. */
int storage_layer_create(struct storage *s, const char *id, const char *parent,
                         const struct copy_id_map *uidmap, const struct copy_id_map *gidmap,
                         const struct storage_layer_opts *opts, struct berth_error **err);

/* Unmount everything mounted below the layer (MNT_DETACH), then remove its tree and its entry.
 * A layer that is another layer's parent is refused. */
int storage_layer_remove(struct storage *s, const char *id, struct berth_error **err);

struct storage_layer {
    char *id;
    char *parent;   /* NULL for a base layer */
    char *created;  /* RFC 3339, UTC */
    uint64_t size;  /* bytes of file data, as counted when the layer was made */
    uint64_t files; /* entries, likewise */
};

/* The complete layers, in creation order. */
int storage_layer_list(struct storage *s, struct storage_layer **out, size_t *n,
                       struct berth_error **err);
void storage_layer_list_free(struct storage_layer *v, size_t n);

bool storage_layer_exists(struct storage *s, const char *id);
/* The layer's directory as a host path. */
int storage_layer_path(struct storage *s, const char *id, char **out, struct berth_error **err);
/* An O_DIRECTORY fd on the layer's root. */
int storage_layer_open(struct storage *s, const char *id, struct berth_error **err);

/* The store's root directory fd and path, for modules that keep files beside the layers. */
int storage_root_fd(const struct storage *s);
const char *storage_root_path(const struct storage *s);

/* Now, as RFC 3339 UTC with nanoseconds, for the store's records. */
char *storage_timestamp(void);

/* Whether a layer id is acceptable (see storage_layer_create). */
bool storage_id_valid(const char *id);
