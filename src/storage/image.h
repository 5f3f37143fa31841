/* OCI image layouts into the layer store: pick the linux/amd64 manifest, verify every blob and
 * every layer's diffID, apply the layers in order, each a VFS layer made from its parent, and
 * record the image in <root>/images.json. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    /* The maps its layers were made through (container -> host); none: identity. */
    struct spec_id_mapping *uid_map, *gid_map;
    size_t n_uid_map, n_gid_map;
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

/* --- Reading a layout: what index.json and the blobs it names say, before any layer is made ---
 * This part touches no file: the blobs come through a callback, so it can be checked on bytes
 * alone. */

/* A content descriptor as an index or a manifest gives it. */
struct image_desc {
    char *media_type; /* NULL when absent */
    char *digest;     /* "sha256:" and 64 lowercase hex digits */
    int64_t size;     /* >= 0 */
};

enum image_compression { IMAGE_COMPRESSION_NONE, IMAGE_COMPRESSION_GZIP, IMAGE_COMPRESSION_ZSTD };

struct image_layer_desc {
    struct image_desc blob;
    enum image_compression compression;
    char *diff_id; /* the digest of the uncompressed tar, from the config */
};

/* The image a layout holds, as far as its JSON documents tell. */
struct image_plan {
    struct image_desc manifest;
    struct image_desc config;
    char *ref_name; /* the chosen manifest's org.opencontainers.image.ref.name, or NULL */
    struct image_layer_desc *layers; /* at least one, lowest first */
    size_t n_layers;
    /* The config's "config" object (Entrypoint, Cmd, Env, WorkingDir, User, ...) as compact JSON
     * text; "{}" when it has none. */
    char *run_config;
};

/* Hand over the content of the blob `d` names (a nested index, a manifest or a config), checked
 * against d's size and digest. *text is freed by the caller. */
typedef int (*image_blob_fn)(void *data, const struct image_desc *d, char **text, size_t *len,
                             struct berth_error **err);

/* Read index.json text: the linux/amd64 image manifest (else one without a platform; nested
 * indexes are followed up to 4 deep), then its config, both through `blob`; check every
 * descriptor, the layers' media types (tar, gzip or zstd) and the config's diff_ids. Errors name
 * the document: "manifest: layer 2: unsupported media type ...". */
int image_plan_read(const char *index, size_t len, image_blob_fn blob, void *data,
                    struct image_plan *out, struct berth_error **err);
void image_plan_clear(struct image_plan *p);

/* 1 to 255 of [A-Za-z0-9._:/@-], starting with a letter or digit. */
bool image_name_valid(const char *name);
