/* Reading an OCI layout's documents: index.json, the manifest it leads to, and the image
 * config, into an image_plan. No file is touched here: the blobs come through a callback (the
 * layout directory's, the tests' table, the fuzzer's input). */
#include "berth/error.h"
#include "storage/digest.h"
#include "storage/image.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS  256
#define MAX_NESTING 4

#define MT_INDEX        "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST     "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST  "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIF "application/vnd.docker.distribution.manifest.v2+json"

static void desc_clear(struct image_desc *d)
{
    free(d->media_type);
    free(d->digest);
    memset(d, 0, sizeof(*d));
}

static int desc_parse(json_t *j, const char *what, struct image_desc *d, struct berth_error **err)
{
    memset(d, 0, sizeof(*d));
    const char *media_type = json_string_value(json_object_get(j, "mediaType"));
    const char *digest = json_string_value(json_object_get(j, "digest"));
    json_t *size = json_object_get(j, "size");
    if (!json_is_object(j) || !digest || !json_is_integer(size))
        return berth_error_set(err, 0, "%s: a descriptor needs digest and size", what);
    if (!digest_valid(digest))
        return berth_error_set(err, 0, "%s: digest \"%s\" is not sha256:<64 hex digits>", what,
                               digest);
    if (json_integer_value(size) < 0)
        return berth_error_set(err, 0, "%s: negative size", what);
    d->media_type = media_type ? xstrdup(media_type) : NULL;
    d->digest = xstrdup(digest);
    d->size = json_integer_value(size);
    return 0;
}

struct blob_source {
    image_blob_fn fn;
    void *data;
};

static int blob_json(const struct blob_source *src, const struct image_desc *d, json_t **out,
                     struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = src->fn(src->data, d, &text, &len, err);
    if (r < 0)
        return r;
    json_error_t je;
    *out = json_loadb(text, len, 0, &je);
    if (!*out)
        return berth_error_set(err, 0, "blob %s:%d:%d: %s", d->digest, je.line, je.column, je.text);
    return 0;
}

static bool is_index(const char *mt)
{
    return mt && (strcmp(mt, MT_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

static bool is_manifest(const char *mt)
{
    return !mt || strcmp(mt, MT_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIF) == 0;
}

/* 2: linux/amd64; 1: no platform given; 0: another platform. */
static int platform_rank(json_t *desc)
{
    json_t *p = json_object_get(desc, "platform");
    if (!p)
        return 1;
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *arch = json_string_value(json_object_get(p, "architecture"));
    return os && arch && strcmp(os, "linux") == 0 && strcmp(arch, "amd64") == 0 ? 2 : 0;
}

/* The best manifest descriptor of an index, nested indexes searched too. */
static int pick_manifest(const struct blob_source *src, json_t *index, int depth, json_t **best,
                         int *best_rank, struct berth_error **err)
{
    json_t *list = json_object_get(index, "manifests");
    if (!json_is_array(list))
        return berth_error_set(err, 0, "index: \"manifests\" is not an array");
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        _cleanup_(desc_clear) struct image_desc d;
        int r = desc_parse(m, "index: manifests", &d, err);
        if (r < 0)
            return r;
        int rank = platform_rank(m);
        if (is_index(d.media_type)) {
            if (depth >= MAX_NESTING)
                return berth_error_set(err, 0, "index: nested more than %d deep", MAX_NESTING);
            if (rank == 0)
                continue;
            json_auto_t *child = NULL;
            r = blob_json(src, &d, &child, err);
            if (r < 0)
                return r;
            r = pick_manifest(src, child, depth + 1, best, best_rank, err);
            if (r < 0)
                return r;
        } else if (is_manifest(d.media_type) && rank > *best_rank) {
            json_decref(*best);
            *best = json_incref(m);
            *best_rank = rank;
        }
    }
    return 0;
}

static int layer_compression(const char *mt, enum image_compression *c)
{
    static const struct {
        const char *type;
        enum image_compression c;
    } known[] = {
        {"application/vnd.oci.image.layer.v1.tar", IMAGE_COMPRESSION_NONE},
        {"application/vnd.oci.image.layer.v1.tar+gzip", IMAGE_COMPRESSION_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", IMAGE_COMPRESSION_ZSTD},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", IMAGE_COMPRESSION_NONE},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", IMAGE_COMPRESSION_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", IMAGE_COMPRESSION_ZSTD},
        {"application/vnd.docker.image.rootfs.diff.tar", IMAGE_COMPRESSION_NONE},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", IMAGE_COMPRESSION_GZIP},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", IMAGE_COMPRESSION_GZIP},
    };
    for (size_t i = 0; mt && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(mt, known[i].type) == 0) {
            *c = known[i].c;
            return 0;
        }
    return -EINVAL;
}

/* The manifest's layers with the config's diff_ids. */
static int plan_layers(json_t *manifest, json_t *config, struct image_plan *p,
                       struct berth_error **err)
{
    json_t *layers = json_object_get(manifest, "layers");
    json_t *rootfs = json_object_get(config, "rootfs");
    json_t *diff_ids = json_object_get(rootfs, "diff_ids");
    const char *type = json_string_value(json_object_get(rootfs, "type"));
    if (!json_is_array(layers))
        return berth_error_set(err, 0, "manifest: \"layers\" is not an array");
    if (!type || strcmp(type, "layers") != 0 || !json_is_array(diff_ids))
        return berth_error_set(err, 0, "config: rootfs must be of type \"layers\" with diff_ids");
    size_t n = json_array_size(layers);
    if (n != json_array_size(diff_ids))
        return berth_error_set(err, 0, "manifest has %zu layers, config has %zu diff_ids", n,
                               json_array_size(diff_ids));
    if (n > MAX_LAYERS)
        return berth_error_set(err, 0, "manifest has %zu layers, more than %d", n, MAX_LAYERS);
    if (n == 0)
        return berth_error_set(err, 0, "manifest has no layers");
    p->layers = xcalloc(n, sizeof(*p->layers));
    for (size_t i = 0; i < n; i++) {
        struct image_layer_desc *l = &p->layers[i];
        _cleanup_free_ char *what = xasprintf("manifest: layer %zu", i);
        int r = desc_parse(json_array_get(layers, i), what, &l->blob, err);
        if (r < 0)
            return r;
        p->n_layers = i + 1;
        if (layer_compression(l->blob.media_type, &l->compression) < 0)
            return berth_error_set(err, 0, "%s: unsupported media type %s", what,
                                   l->blob.media_type ? l->blob.media_type : "(none)");
        const char *diff_id = json_string_value(json_array_get(diff_ids, i));
        if (!digest_valid(diff_id))
            return berth_error_set(err, 0, "config: diff_ids[%zu] is not a sha256 digest", i);
        l->diff_id = xstrdup(diff_id);
    }
    return 0;
}

int image_plan_read(const char *index, size_t len, image_blob_fn blob, void *data,
                    struct image_plan *out, struct berth_error **err)
{
    memset(out, 0, sizeof(*out));
    const struct blob_source src = {blob, data};
    json_error_t je;
    json_auto_t *doc = json_loadb(index, len, 0, &je);
    if (!doc)
        return berth_error_set(err, 0, "index.json:%d:%d: %s", je.line, je.column, je.text);
    json_auto_t *chosen = NULL;
    int rank = 0;
    int r = pick_manifest(&src, doc, 0, &chosen, &rank, err);
    if (r < 0)
        return r;
    if (!chosen)
        return berth_error_set(err, 0, "no linux/amd64 image manifest");

    _cleanup_(image_plan_clear) struct image_plan p = {0};
    r = desc_parse(chosen, "index", &p.manifest, err);
    if (r < 0)
        return r;
    const char *name = json_string_value(json_object_get(json_object_get(chosen, "annotations"),
                                                         "org.opencontainers.image.ref.name"));
    p.ref_name = name ? xstrdup(name) : NULL;
    json_auto_t *manifest = NULL, *config = NULL;
    r = blob_json(&src, &p.manifest, &manifest, err);
    if (r < 0)
        return berth_error_prefix(err, "manifest");
    r = desc_parse(json_object_get(manifest, "config"), "manifest: config", &p.config, err);
    if (r < 0)
        return r;
    r = blob_json(&src, &p.config, &config, err);
    if (r < 0)
        return berth_error_prefix(err, "config");
    r = plan_layers(manifest, config, &p, err);
    if (r < 0)
        return r;
    json_t *run = json_object_get(config, "config");
    p.run_config = json_is_object(run) ? json_dumps(run, JSON_COMPACT) : xstrdup("{}");
    if (!p.run_config)
        return berth_error_set(err, ENOMEM, "config: encode its \"config\" object");
    *out = p;
    memset(&p, 0, sizeof(p));
    return 0;
}

void image_plan_clear(struct image_plan *p)
{
    desc_clear(&p->manifest);
    desc_clear(&p->config);
    free(p->ref_name);
    free(p->run_config);
    for (size_t i = 0; i < p->n_layers; i++) {
        desc_clear(&p->layers[i].blob);
        free(p->layers[i].diff_id);
    }
    free(p->layers);
    memset(p, 0, sizeof(*p));
}
