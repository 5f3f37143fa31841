/* The OCI layout reader (image_plan_read): the input is index.json, then the blobs it leads to,
 * separated by NUL bytes (which JSON text cannot hold). Blobs are handed out in the order they
 * are asked for, whatever digest is asked: the digest check belongs to the layout reader on
 * disk, and a fuzzer cannot forge sha256. */
#include <errno.h>

#include "berth/error.h"
#include "fuzz.h"
#include "storage/digest.h"
#include "storage/image.h"

struct blobs {
    const uint8_t *next; /* NULL when every blob has been taken */
    const uint8_t *end;
    unsigned asked;
};

static int next_blob(void *data, const struct image_desc *d, char **text, size_t *len,
                     struct berth_error **err)
{
    struct blobs *b = data;
    b->asked++;
    FUZZ_CHECK(digest_valid(d->digest) && d->size >= 0, "a blob asked for with a bad descriptor");
    if (!b->next)
        return berth_error_set(err, ENOENT, "blob %s", d->digest);
    const uint8_t *nul = memchr(b->next, '\0', (size_t)(b->end - b->next));
    const uint8_t *stop = nul ? nul : b->end;
    *len = (size_t)(stop - b->next);
    /* Exactly len bytes, no terminator: the reader must honour the length. */
    *text = xmalloc(*len ? *len : 1);
    memcpy(*text, b->next, *len);
    b->next = nul ? nul + 1 : NULL;
    return 0;
}

static void check_desc(const struct image_desc *d)
{
    FUZZ_CHECK(d->digest && digest_valid(d->digest), "bad digest");
    FUZZ_CHECK(d->size >= 0, "negative size");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t index_len = nul ? (size_t)(nul - data) : size;
    char *index = xmalloc(index_len ? index_len : 1);
    memcpy(index, data, index_len);
    struct blobs b = {nul ? nul + 1 : NULL, data + size, 0};

    struct image_plan p;
    struct berth_error *err = NULL;
    int r = image_plan_read(index, index_len, next_blob, &b, &p, &err);
    free(index);
    if (r < 0) {
        FUZZ_CHECK(err && err->msg && *err->msg, "failed without a message");
        FUZZ_CHECK(!p.layers && !p.n_layers && !p.manifest.digest && !p.config.digest &&
                       !p.ref_name,
                   "a plan left after a failure");
        berth_error_free(err);
        return 0;
    }
    FUZZ_CHECK(!err, "success with an error set");
    FUZZ_CHECK(b.asked >= 2, "a plan from %u blobs", b.asked);
    check_desc(&p.manifest);
    check_desc(&p.config);
    FUZZ_CHECK(p.n_layers >= 1 && p.n_layers <= 256, "%zu layers", p.n_layers);
    for (size_t i = 0; i < p.n_layers; i++) {
        check_desc(&p.layers[i].blob);
        FUZZ_CHECK(p.layers[i].blob.media_type, "layer %zu has no media type", i);
        FUZZ_CHECK(p.layers[i].compression <= IMAGE_COMPRESSION_ZSTD, "compression %d",
                   (int)p.layers[i].compression);
        FUZZ_CHECK(digest_valid(p.layers[i].diff_id), "layer %zu diff_id", i);
    }
    image_plan_clear(&p);
    FUZZ_CHECK(!p.layers && !p.n_layers, "clear left layers");
    return 0;
}
