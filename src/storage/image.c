#include "storage/image.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "storage/apply.h"
#include "storage/digest.h"
#include "storage/progress.h"
#include "storage/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGES_NAME   "images.json"
#define JSON_BLOB_MAX (8U << 20)
#define STREAM_BUF    (256 * 1024)

bool image_name_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > 255)
        return false;
    for (const char *c = name; *c; c++) {
        bool alnum =
            (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
        if (c == name ? !alnum : !(alnum || strchr("._:/@-", *c)))
            return false;
    }
    return true;
}

/* --- images.json ---------------------------------------------------------------------------- */

static int images_load(struct storage *s, json_t **out, struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    struct berth_error *e = NULL;
    if (fs_read_file_at(storage_root_fd(s), IMAGES_NAME, 64U << 20, &text, &len, &e) < 0) {
        if (e->code == ENOENT) {
            berth_error_free(e);
            *out = json_array();
            return 0;
        }
        *err = e;
        return berth_error_prefix(err, "%s", storage_root_path(s));
    }
    json_error_t je;
    json_auto_t *doc = json_loadb(text, len, 0, &je);
    json_t *images = json_object_get(doc, "images");
    if (!json_is_array(images))
        return berth_error_set(err, 0, "%s/%s: %s", storage_root_path(s), IMAGES_NAME,
                               doc ? "\"images\" is not an array" : je.text);
    *out = json_incref(images);
    return 0;
}

static int images_save(struct storage *s, json_t *images, struct berth_error **err)
{
    json_auto_t *doc = json_pack("{s:O}", "images", images);
    _cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(2));
    if (!text)
        return berth_error_set(err, ENOMEM, "encode %s", IMAGES_NAME);
    if (fs_write_file_atomic_at(storage_root_fd(s), IMAGES_NAME, text, strlen(text), 0600, err) < 0)
        return berth_error_prefix(err, "%s", storage_root_path(s));
    return 0;
}

static json_t *image_find(json_t *images, const char *name, size_t *index)
{
    size_t i;
    json_t *img;
    json_array_foreach(images, i, img)
    {
        const char *n = json_string_value(json_object_get(img, "name"));
        if (n && strcmp(n, name) == 0) {
            if (index)
                *index = i;
            return img;
        }
    }
    return NULL;
}

/* --- the layout's files ----------------------------------------------------------------------- */

/* blobs/sha256/<hex>, no symlink anywhere, a regular file. */
static int blob_open(int layout, const char *digest, struct berth_error **err)
{
    _cleanup_close_ int blobs =
        openat(layout, "blobs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int alg =
        blobs < 0 ? -1 : openat(blobs, "sha256", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = alg < 0 ? -1 : openat(alg, digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "blob %s", digest);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return berth_error_set(err, 0, "blob %s is not a regular file", digest);
    }
    return fd;
}

/* Check a blob against its descriptor: its size and its sha256. */
static int blob_verify(int fd, const struct image_desc *d, struct berth_error **err)
{
    char got[DIGEST_STR_LEN + 1];
    size_t size;
    if (digest_fd(fd, got, &size, err) < 0)
        return berth_error_prefix(err, "blob %s", d->digest);
    if ((int64_t)size != d->size)
        return berth_error_set(err, 0, "blob %s: %zu bytes, the descriptor says %lld", d->digest,
                               size, (long long)d->size);
    if (strcmp(got, d->digest) != 0)
        return berth_error_set(err, 0, "blob %s: digest mismatch: the content is %s", d->digest,
                               got);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return berth_error_set(err, errno, "blob %s: seek", d->digest);
    return 0;
}

/* The image_blob_fn of a layout directory; data points at its fd. */
static int layout_blob(void *data, const struct image_desc *d, char **text, size_t *len,
                       struct berth_error **err)
{
    if (d->size > (int64_t)JSON_BLOB_MAX)
        return berth_error_set(err, E2BIG, "blob %s", d->digest);
    _cleanup_close_ int fd = blob_open(*(int *)data, d->digest, err);
    if (fd < 0)
        return fd;
    int r = blob_verify(fd, d, err);
    if (r < 0)
        return r;
    r = fs_read_fd(fd, JSON_BLOB_MAX, text, len);
    if (r < 0)
        return berth_error_set(err, -r, "blob %s", d->digest);
    return 0;
}

/* A layout given as a tar: only the names a layout has are taken, into a fresh directory of the
 * store. */
static bool layout_name_ok(const char *name)
{
    if (strcmp(name, "oci-layout") == 0 || strcmp(name, "index.json") == 0)
        return true;
    if (strncmp(name, "blobs/sha256/", 13) != 0)
        return false;
    char digest[DIGEST_STR_LEN + 8];
    snprintf(digest, sizeof(digest), "sha256:%s", name + 13);
    return digest_valid(digest);
}

static int extract_layout(struct storage *s, const char *tarfile, int tmpfd,
                          struct berth_error **err)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    /* The compressions OCI layers use; naming them (not "all") keeps bzip2, xz, lz4 and the
     * rest out of the binary, whose every page start-up may touch. */
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    int r = 0;
    if (archive_read_open_filename(a, tarfile, 256 * 1024) != ARCHIVE_OK) {
        r = berth_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0, "%s: %s", tarfile,
                            archive_error_string(a));
        archive_read_free(a);
        return r;
    }
    if (mkdirat(tmpfd, "blobs", 0700) < 0 || mkdirat(tmpfd, "blobs/sha256", 0700) < 0)
        r = berth_error_set(err, errno, "%s/tmp/layout: mkdir blobs", storage_root_path(s));
    struct archive_entry *e;
    while (r == 0) {
        int ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = berth_error_set(err, 0, "%s: %s", tarfile, archive_error_string(a));
            break;
        }
        _cleanup_free_ char *name = NULL;
        if (archive_entry_filetype(e) != AE_IFREG || !archive_entry_pathname(e) ||
            apply_clean_name(archive_entry_pathname(e), &name) < 0 || !layout_name_ok(name))
            continue;
        _cleanup_close_ int fd =
            openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            r = berth_error_set(err, errno, "%s: create %s/tmp/layout/%s", tarfile,
                                storage_root_path(s), name);
            break;
        }
        /* A failed write (a full disk) sets the archive's errno; a bad archive does not. */
        if (archive_read_data_into_fd(a, fd) != ARCHIVE_OK)
            r = berth_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0,
                                "%s: unpack %s into %s/tmp/layout: %s", tarfile, name,
                                storage_root_path(s), archive_error_string(a));
    }
    archive_read_free(a);
    return r;
}

/* --- layers ---------------------------------------------------------------------------------- */

struct layer_job {
    int layout;
    const struct image_layer_desc *layer;
    struct apply_options apply;
    struct progress *bar;
};

/* The uncompressed stream. A producer thread decompresses the blob and hashes what comes out
 * (the diffID covers every byte, the padding after the end of the archive included) into a
 * ring of buffers, while this thread parses the tar and writes the files: with two cores the
 * inflate and the file system work overlap. */
#define STREAM_SLOTS 4

struct stream {
    struct archive *outer;
    struct digest d; /* the producer's until it is joined */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf[STREAM_SLOTS];
    la_ssize_t len[STREAM_SLOTS];
    size_t next;   /* the slot the reader takes next */
    size_t filled; /* slots filled and not yet taken */
    bool held;     /* the reader still uses the slot before `next` */
    bool eof, cancel;
    int err_code;
    char *err_msg;
    uint64_t compressed; /* blob bytes read so far, for the progress line */
    struct progress *bar;
};

static void *stream_produce(void *arg)
{
    struct stream *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->filled + s->held == STREAM_SLOTS && !s->cancel)
            pthread_cond_wait(&s->cv, &s->mu);
        bool stop = s->cancel;
        size_t slot = (s->next + s->filled) % STREAM_SLOTS;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            return NULL;
        la_ssize_t n = archive_read_data(s->outer, s->buf[slot], STREAM_BUF);
        if (n > 0)
            digest_update(&s->d, s->buf[slot], (size_t)n);
        pthread_mutex_lock(&s->mu);
        if (n < 0) {
            s->err_code = archive_errno(s->outer) > 0 ? archive_errno(s->outer) : EIO;
            s->err_msg =
                xstrdup(archive_error_string(s->outer) ? archive_error_string(s->outer) : "error");
            s->eof = true;
        } else if (n == 0) {
            s->eof = true;
        } else {
            s->len[slot] = n;
            s->filled++;
        }
        s->compressed = (uint64_t)archive_filter_bytes(s->outer, -1);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (n <= 0)
            return NULL;
    }
}

static la_ssize_t stream_read(struct archive *a, void *data, const void **buf)
{
    struct stream *s = data;
    pthread_mutex_lock(&s->mu);
    if (s->held) {
        s->held = false;
        pthread_cond_broadcast(&s->cv);
    }
    while (!s->filled && !s->eof)
        pthread_cond_wait(&s->cv, &s->mu);
    if (!s->filled) {
        int code = s->err_code;
        bool failed = s->err_msg != NULL;
        if (failed)
            archive_set_error(a, code, "decompress: %s", s->err_msg);
        pthread_mutex_unlock(&s->mu);
        return failed ? -1 : 0;
    }
    size_t slot = s->next;
    s->next = (s->next + 1) % STREAM_SLOTS;
    s->filled--;
    s->held = true;
    la_ssize_t n = s->len[slot];
    uint64_t done = s->compressed;
    pthread_mutex_unlock(&s->mu);
    progress_update(s->bar, done, 0);
    *buf = s->buf[slot];
    return n;
}

static int archive_fail(struct berth_error **err, struct archive *a, const char *what)
{
    return berth_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0, "%s: %s", what,
                           archive_error_string(a));
}

static int apply_layer_blob(struct layer_job *j, int fd, int layer_fd, struct copy_stats *st,
                            struct berth_error **err)
{
    struct stream s = {.outer = archive_read_new(), .bar = j->bar};
    struct archive *inner = archive_read_new();
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    for (size_t i = 0; i < STREAM_SLOTS; i++)
        s.buf[i] = xmalloc(STREAM_BUF);
    digest_init(&s.d);
    int want = ARCHIVE_FILTER_NONE;
    if (j->layer->compression == IMAGE_COMPRESSION_GZIP) {
        archive_read_support_filter_gzip(s.outer);
        want = ARCHIVE_FILTER_GZIP;
    } else if (j->layer->compression == IMAGE_COMPRESSION_ZSTD) {
        archive_read_support_filter_zstd(s.outer);
        want = ARCHIVE_FILTER_ZSTD;
    }
    archive_read_support_format_raw(s.outer);
    archive_read_support_format_tar(inner);
    struct archive_entry *e;
    pthread_t producer;
    bool running = false;
    int r = 0;
    if (archive_read_open_fd(s.outer, fd, STREAM_BUF) != ARCHIVE_OK ||
        archive_read_next_header(s.outer, &e) != ARCHIVE_OK)
        r = archive_fail(err, s.outer, "decompress");
    else if (archive_filter_code(s.outer, 0) != want)
        r = berth_error_set(err, 0, "the blob is not what its media type %s says",
                            j->layer->blob.media_type);
    else if (pthread_create(&producer, NULL, stream_produce, &s) != 0)
        r = berth_error_set(err, EAGAIN, "start the decompressor");
    else
        running = true;
    if (r == 0 && archive_read_open(inner, &s, NULL, stream_read, NULL) != ARCHIVE_OK)
        r = archive_fail(err, inner, "read tar");
    if (r == 0)
        r = apply_archive(layer_fd, inner, &j->apply, st, err);
    if (r == 0) {
        /* the rest of the stream counts for the diffID too */
        const void *p;
        la_ssize_t n;
        while ((n = stream_read(inner, &s, &p)) > 0)
            ;
        if (n < 0)
            r = archive_fail(err, inner, "read tar");
    }
    if (running) {
        pthread_mutex_lock(&s.mu);
        s.cancel = true;
        pthread_cond_broadcast(&s.cv);
        pthread_mutex_unlock(&s.mu);
        pthread_join(producer, NULL);
    }
    if (r == 0) {
        char got[DIGEST_STR_LEN + 1];
        digest_final(&s.d, got);
        if (strcmp(got, j->layer->diff_id) != 0)
            r = berth_error_set(err, 0, "diffID mismatch: the config says %s, the layer is %s",
                                j->layer->diff_id, got);
    }
    archive_read_free(inner);
    archive_read_free(s.outer);
    for (size_t i = 0; i < STREAM_SLOTS; i++)
        free(s.buf[i]);
    free(s.err_msg);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    return r;
}

static int populate_layer(void *data, int layer_fd, struct copy_stats *st, struct berth_error **err)
{
    struct layer_job *j = data;
    _cleanup_close_ int fd = blob_open(j->layout, j->layer->blob.digest, err);
    if (fd < 0)
        return fd;
    /* Verified before a byte of it is parsed. */
    int r = blob_verify(fd, &j->layer->blob, err);
    if (r < 0)
        return r;
    r = apply_layer_blob(j, fd, layer_fd, st, err);
    if (r < 0)
        return berth_error_prefix(err, "blob %s", j->layer->blob.digest);
    return 0;
}

/* --- import ---------------------------------------------------------------------------------- */

static void chain_next(const char *prev, const char *diff_id, char out[DIGEST_STR_LEN + 1])
{
    if (!prev) {
        memcpy(out, diff_id, DIGEST_STR_LEN + 1);
        return;
    }
    struct digest d;
    digest_init(&d);
    digest_update(&d, prev, strlen(prev));
    digest_update(&d, " ", 1);
    digest_update(&d, diff_id, strlen(diff_id));
    digest_final(&d, out);
}

/* A layer's id: its chain id, or, for layers made through id maps, a digest of the chain id and
 * the maps, so that each mapping has its own copy. */
static char *layer_id(const char *chain, const struct image_import_opts *o)
{
    const struct copy_id_map *maps[2] = {o->uid_map, o->gid_map};
    if ((!maps[0] || !maps[0]->n) && (!maps[1] || !maps[1]->n))
        return xstrdup(digest_hex(chain));
    struct digest d;
    digest_init(&d);
    digest_update(&d, chain, strlen(chain));
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; maps[k] && i < maps[k]->n; i++) {
            char buf[64];
            int n = snprintf(buf, sizeof(buf), "%c%u:%u:%u", k ? 'g' : 'u',
                             maps[k]->map[i].container_id, maps[k]->map[i].host_id,
                             maps[k]->map[i].size);
            digest_update(&d, buf, (size_t)n);
        }
    }
    char out[DIGEST_STR_LEN + 1];
    digest_final(&d, out);
    return xstrdup(digest_hex(out));
}

struct import {
    struct storage *s;
    const struct image_import_opts *o;
    int layout;
    char **created; /* layers this import made, removed again on failure */
    size_t n_created;
    json_t *layer_ids;
};

static int import_layers(struct import *im, const struct image_plan *plan, char **top,
                         struct berth_error **err)
{
    char chain[DIGEST_STR_LEN + 1];
    _cleanup_free_ char *parent = NULL;
    size_t n = plan->n_layers;
    for (size_t i = 0; i < n; i++) {
        struct layer_job j = {
            .layout = im->layout,
            .layer = &plan->layers[i],
            .apply = {im->o->uid_map, im->o->gid_map},
        };
        chain_next(i ? chain : NULL, j.layer->diff_id, chain);
        _cleanup_free_ char *id = layer_id(chain, im->o);
        json_array_append_new(im->layer_ids, json_string(id));
        if (!storage_layer_exists(im->s, id)) {
            if (im->o->progress) {
                _cleanup_free_ char *label = xasprintf("layer %zu/%zu", i + 1, n);
                j.bar = progress_new(label, (uint64_t)j.layer->blob.size);
            }
            struct storage_layer_opts lo = {
                .populate = populate_layer,
                .populate_data = &j,
                .progress = im->o->progress,
                .parent_is_mapped = true,
            };
            int r =
                storage_layer_create(im->s, id, parent, im->o->uid_map, im->o->gid_map, &lo, err);
            progress_done(j.bar);
            if (r < 0)
                return berth_error_prefix(err, "layer %zu", i);
            im->created = xreallocarray(im->created, im->n_created + 1, sizeof(char *));
            im->created[im->n_created++] = xstrdup(id);
        }
        free(parent);
        parent = TAKE_PTR(id);
    }
    *top = TAKE_PTR(parent);
    return 0;
}

static int open_source(struct storage *s, const char *source, int *tmpfd, struct berth_error **err)
{
    struct stat st;
    if (stat(source, &st) < 0)
        return berth_error_set(err, errno, "%s", source);
    if (S_ISDIR(st.st_mode)) {
        int fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? berth_error_set(err, errno, "open %s", source) : fd;
    }
    /* A tar: unpacked into <root>/tmp, which the store lock makes ours alone. */
    int root = storage_root_fd(s);
    if (fs_remove_tree_at(root, "tmp", err) < 0 || fs_mkdir_at(root, "tmp", 0700, err) < 0)
        return berth_error_prefix(err, "%s", storage_root_path(s));
    _cleanup_close_ int tmp = openat(root, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tmp < 0 || mkdirat(tmp, "layout", 0700) < 0)
        return berth_error_set(err, errno, "%s/tmp", storage_root_path(s));
    int fd = openat(tmp, "layout", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "%s/tmp/layout", storage_root_path(s));
    *tmpfd = TAKE_FD(tmp);
    int r = extract_layout(s, source, fd, err);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

static int check_layout_version(int layout, struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    if (fs_read_file_at(layout, "oci-layout", 64 * 1024, &text, NULL, err) < 0)
        return berth_error_prefix(err, "not an OCI image layout");
    json_auto_t *j = json_loads(text, 0, NULL);
    const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
    if (!v || strcmp(v, "1.0.0") != 0)
        return berth_error_set(err, 0, "oci-layout: imageLayoutVersion %s is not 1.0.0",
                               v ? v : "(missing)");
    return 0;
}

static int do_import(struct import *im, json_t *images, json_t **record, struct berth_error **err)
{
    int r = check_layout_version(im->layout, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *text = NULL;
    size_t len;
    r = fs_read_file_at(im->layout, "index.json", JSON_BLOB_MAX, &text, &len, err);
    if (r < 0)
        return r;
    _cleanup_(image_plan_clear) struct image_plan plan = {0};
    r = image_plan_read(text, len, layout_blob, &im->layout, &plan, err);
    if (r < 0)
        return r;

    const char *name = im->o->name;
    if (!name)
        name = plan.ref_name;
    if (!name)
        name = plan.manifest.digest;
    if (!image_name_valid(name))
        return berth_error_set(err, 0, "image name \"%s\": 1 to 255 letters, digits or ._:/@-",
                               name);
    if (image_find(images, name, NULL))
        return berth_error_set(err, EEXIST, "image %s (berth image rm it first)", name);

    _cleanup_free_ char *top = NULL;
    r = import_layers(im, &plan, &top, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *created = storage_timestamp();
    /* What a container made from the image runs is in the config's "config" object; the blob
     * itself is not kept, so that object is. */
    json_t *run = json_loads(plan.run_config, 0, NULL);
    if (!json_is_object(run)) {
        json_decref(run);
        run = json_object();
    }
    *record = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s,s:o}", "name", name, "digest",
                        plan.manifest.digest, "config", plan.config.digest, "top", top, "layers",
                        im->layer_ids, "created", created, "run_config", run);
    const struct copy_id_map *maps[2] = {im->o->uid_map, im->o->gid_map};
    static const char *keys[2] = {"uid_map", "gid_map"};
    for (int k = 0; k < 2; k++) {
        if (!maps[k] || !maps[k]->n)
            continue;
        json_t *a = json_array();
        for (size_t i = 0; i < maps[k]->n; i++)
            json_array_append_new(a, json_pack("[I,I,I]", (json_int_t)maps[k]->map[i].container_id,
                                               (json_int_t)maps[k]->map[i].host_id,
                                               (json_int_t)maps[k]->map[i].size));
        json_object_set_new(*record, keys[k], a);
    }
    return 0;
}

int image_import(struct storage *s, const char *source, const struct image_import_opts *o,
                 char **name_out, struct berth_error **err)
{
    static const struct image_import_opts none;
    if (!o)
        o = &none;
    if (o->name && !image_name_valid(o->name))
        return berth_error_set(err, 0, "image name \"%s\": 1 to 255 letters, digits or ._:/@-",
                               o->name);
    json_auto_t *images = NULL;
    int r = images_load(s, &images, err);
    if (r < 0)
        return r;
    struct import im = {.s = s, .o = o, .layer_ids = json_array()};
    int tmpfd = -1;
    im.layout = open_source(s, source, &tmpfd, err);
    json_t *record = NULL;
    r = im.layout < 0 ? im.layout : do_import(&im, images, &record, err);
    if (r == 0) {
        json_array_append_new(images, record);
        r = images_save(s, images, err);
        if (r == 0 && name_out)
            *name_out = xstrdup(json_string_value(json_object_get(record, "name")));
    }
    if (r < 0) {
        /* As it was: the layers made here go again, newest first. */
        for (size_t i = im.n_created; i-- > 0;) {
            struct berth_error *e2 = NULL;
            storage_layer_remove(s, im.created[i], &e2);
            berth_error_free(e2);
        }
    }
    for (size_t i = 0; i < im.n_created; i++)
        free(im.created[i]);
    free(im.created);
    json_decref(im.layer_ids);
    if (im.layout >= 0)
        close(im.layout);
    if (tmpfd >= 0) {
        struct berth_error *e2 = NULL;
        close(tmpfd);
        fs_remove_tree_at(storage_root_fd(s), "tmp", &e2);
        berth_error_free(e2);
    }
    if (r < 0)
        return berth_error_prefix(err, "import %s", source);
    return 0;
}

/* [[container, host, size], ...] as images.json keeps a map; what is not such a triple is left
 * out (the index is berth's own file). */
static void map_fill(json_t *a, struct spec_id_mapping **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(a, i, m)
    {
        json_int_t v[3];
        if (json_unpack(m, "[III]", &v[0], &v[1], &v[2]) < 0 || v[0] < 0 || v[1] < 0 || v[2] <= 0 ||
            v[0] > UINT32_MAX || v[1] > UINT32_MAX || v[2] > UINT32_MAX)
            continue;
        *out = xreallocarray(*out, *n + 1, sizeof(**out));
        (*out)[(*n)++] = (struct spec_id_mapping){(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2]};
    }
}

static void image_fill(json_t *img, struct image *out)
{
    const char *f[5] = {"name", "digest", "config", "top", "created"};
    char **dst[5] = {&out->name, &out->digest, &out->config, &out->top, &out->created};
    for (int k = 0; k < 5; k++) {
        const char *val = json_string_value(json_object_get(img, f[k]));
        *dst[k] = xstrdup(val ? val : "");
    }
    map_fill(json_object_get(img, "uid_map"), &out->uid_map, &out->n_uid_map);
    map_fill(json_object_get(img, "gid_map"), &out->gid_map, &out->n_gid_map);
}

int image_list(struct storage *s, struct image **out, size_t *n, struct berth_error **err)
{
    json_auto_t *images = NULL;
    int r = images_load(s, &images, err);
    if (r < 0)
        return r;
    struct image *v = xcalloc(json_array_size(images) + 1, sizeof(*v));
    size_t i;
    json_t *img;
    json_array_foreach(images, i, img)
    {
        image_fill(img, &v[i]);
    }
    *out = v;
    *n = json_array_size(images);
    return 0;
}

void image_clear(struct image *img)
{
    free(img->name);
    free(img->digest);
    free(img->config);
    free(img->top);
    free(img->created);
    free(img->uid_map);
    free(img->gid_map);
    memset(img, 0, sizeof(*img));
}

void image_list_free(struct image *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        image_clear(&v[i]);
    free(v);
}

int image_lookup(struct storage *s, const char *ref, struct image *out, char **run_config,
                 struct berth_error **err)
{
    json_auto_t *images = NULL;
    int r = images_load(s, &images, err);
    if (r < 0)
        return r;
    json_t *img = ref ? image_find(images, ref, NULL) : NULL;
    if (!img && ref && digest_valid(ref)) {
        size_t i;
        json_t *cand;
        json_array_foreach(images, i, cand)
        {
            const char *d = json_string_value(json_object_get(cand, "digest"));
            if (d && strcmp(d, ref) == 0) {
                img = cand;
                break;
            }
        }
    }
    if (!img)
        return berth_error_set(err, ENOENT, "image %s", ref ? ref : "");
    image_fill(img, out);
    if (run_config) {
        json_t *run = json_object_get(img, "run_config");
        *run_config = json_is_object(run) ? json_dumps(run, JSON_COMPACT) : xstrdup("{}");
        if (!*run_config) {
            image_clear(out);
            return berth_error_set(err, ENOMEM, "image %s: encode its config", ref);
        }
    }
    return 0;
}

static bool used_by_other(json_t *images, const char *layer)
{
    size_t i, k;
    json_t *img, *l;
    json_array_foreach(images, i, img)
    {
        json_array_foreach(json_object_get(img, "layers"), k, l)
        {
            if (strcmp(json_string_value(l) ? json_string_value(l) : "", layer) == 0)
                return true;
        }
    }
    return false;
}

int image_remove(struct storage *s, const char *name, struct berth_error **err)
{
    json_auto_t *images = NULL;
    int r = images_load(s, &images, err);
    if (r < 0)
        return r;
    size_t idx;
    json_t *img = name ? image_find(images, name, &idx) : NULL;
    if (!img)
        return berth_error_set(err, ENOENT, "image %s", name ? name : "");
    json_auto_t *layers = json_incref(json_object_get(img, "layers"));
    /* The record goes first: a removal cut short leaves unused layers, never a broken image. */
    json_array_remove(images, idx);
    r = images_save(s, images, err);
    if (r < 0)
        return r;
    for (size_t i = json_array_size(layers); i-- > 0;) {
        const char *id = json_string_value(json_array_get(layers, i));
        if (!id || used_by_other(images, id) || !storage_layer_exists(s, id))
            continue;
        r = storage_layer_remove(s, id, err);
        if (r == -EBUSY) {
            /* a layer made from it by hand still needs it */
            berth_error_freep(err);
            break;
        }
        if (r < 0)
            return berth_error_prefix(err, "remove image %s", name);
    }
    return 0;
}
