/* OCI image layouts into the layer store: pick the linux/amd64 manifest, verify every blob and
 * every layer's diffID, apply the layers in order, each a VFS layer made from its parent, and
 * record the image in <root>/images.json. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "linux/copy.h"

struct berth_error;
struct storage;

struct image_import_opts {
    /* The image's name; NULL: the org.opencontainers.image.ref.name annotation of the chosen
     * manifest, else the manifest digest. */
    const char *name;
    /* container -> host; the layers are made with host ids. NULL: identity. */
    const struct copy_id_map *uid_map;
    const struct copy_id_map *gid_map;
    bool progress; /* a progress line on stderr, when it is a terminal */
};

/* Import the layout in directory `source`, or in the tar file `source`. Layers already in the
 * store (same chain of diffIDs, same maps) are shared. On failure the store is as it was.
 * *name_out (optional) gets the recorded name. */
int image_import(struct storage *s, const char *source, const struct image_import_opts *o,
                 char **name_out, struct berth_error **err);

struct image {
    char *name;
    char *digest; /* the manifest's */
    char *config; /* the config blob's digest */
    char *top;    /* the top layer's id */
    char *created;
};

int image_list(struct storage *s, struct image **out, size_t *n, struct berth_error **err);
void image_list_free(struct image *v, size_t n);
void image_clear(struct image *img);

/* The image named `ref`, or whose manifest digest `ref` is. *run_config (optional) gets the
 * "config" object of its image config (Entrypoint, Cmd, Env, WorkingDir, User, ...) as JSON
 * text: "{}" when the image has none, or was imported before berth kept it. */
int image_lookup(struct storage *s, const char *ref, struct image *out, char **run_config,
                 struct berth_error **err);

/* Forget the image and remove its layers that no other image uses. */
int image_remove(struct storage *s, const char *name, struct berth_error **err);

/* 1 to 255 of [A-Za-z0-9._:/@-], starting with a letter or digit. */
bool image_name_valid(const char *name);
