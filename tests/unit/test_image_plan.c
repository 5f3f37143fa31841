/* image_plan_read on documents alone: the blobs come from a table here, so every rule of the
 * index, manifest and config walk is checked without a layout on disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/error.h"
#include "storage/image.h"
#include "util/mem.h"

/* Digests made of one repeated hex digit: the table reader does not hash. */
#define D(c)                                                                                       \
    "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
        c c c c c c c c c c c c c c c c c c c c c c
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX    "application/vnd.oci.image.index.v1+json"
#define MT_TAR      "application/vnd.oci.image.layer.v1.tar"

struct blob {
    const char *digest;
    const char *text;
};

struct table {
    const struct blob *blobs;
    size_t n;
    unsigned reads;
};

static int table_blob(void *data, const struct image_desc *d, char **text, size_t *len,
                      struct berth_error **err)
{
    struct table *t = data;
    t->reads++;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->blobs[i].digest, d->digest) == 0) {
            *text = xstrdup(t->blobs[i].text);
            *len = strlen(*text);
            return 0;
        }
    return berth_error_set(err, ENOENT, "blob %s", d->digest);
}

static const char config_two[] = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D(
    "3") "\",\"" D("4") "\"]},"
                        "\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"A=1\"]}}";
static const char manifest_two[] = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D(
    "2") "\",\"size\":10},\"layers\":["
         "{\"mediaType\":\"" MT_TAR
         "+gzip\",\"digest\":\"" D("5") "\",\"size\":7},"
                                        "{\"mediaType\":\"" MT_TAR
                                        "+zstd\",\"digest\":\"" D("6") "\",\"size\":8}]}";

static int plan(const char *index, const struct blob *blobs, size_t n, struct image_plan *p,
                struct berth_error **err)
{
    struct table t = {blobs, n, 0};
    return image_plan_read(index, strlen(index), table_blob, &t, p, err);
}

static void test_plain_index(void **state)
{
    const struct blob blobs[] = {{D("1"), manifest_two}, {D("2"), config_two}};
    const char *index = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_MANIFEST
                        "\",\"digest\":\"" D("1") "\",\"size\":99,\"annotations\":{\"org."
                                                  "opencontainers.image.ref.name\":\"x:1\"}}]}";
    struct image_plan p;
    struct berth_error *err = NULL;
    assert_int_equal(plan(index, blobs, 2, &p, &err), 0);
    assert_string_equal(p.manifest.digest, D("1"));
    assert_int_equal(p.manifest.size, 99);
    assert_string_equal(p.config.digest, D("2"));
    assert_string_equal(p.ref_name, "x:1");
    assert_int_equal(p.n_layers, 2);
    assert_string_equal(p.layers[0].blob.digest, D("5"));
    assert_int_equal(p.layers[0].compression, IMAGE_COMPRESSION_GZIP);
    assert_string_equal(p.layers[0].diff_id, D("3"));
    assert_int_equal(p.layers[1].compression, IMAGE_COMPRESSION_ZSTD);
    assert_string_equal(p.layers[1].diff_id, D("4"));
    assert_string_equal(p.run_config, "{\"Cmd\":[\"sh\"],\"Env\":[\"A=1\"]}");
    image_plan_clear(&p);
}

static void test_no_run_config(void **state)
{
    const struct blob blobs[] = {{D("1"), manifest_two},
                                 {D("2"), "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D(
                                              "3") "\",\"" D("4") "\"]},\"config\":null}"}};
    const char *index = "{\"manifests\":[{\"digest\":\"" D("1") "\",\"size\":1}]}";
    struct image_plan p;
    struct berth_error *err = NULL;
    assert_int_equal(plan(index, blobs, 2, &p, &err), 0);
    assert_string_equal(p.run_config, "{}");
    image_plan_clear(&p);
}

static void test_nested_index_picks_amd64(void **state)
{
    const char *nested =
        "{\"manifests\":["
        "{\"digest\":\"" D("7") "\",\"size\":1,\"platform\":{\"os\":\"linux\","
                                "\"architecture\":\"arm64\"}},"
                                "{\"digest\":\"" D(
                                    "1") "\",\"size\":1,\"platform\":{\"os\":\"linux\","
                                         "\"architecture\":\"amd64\"}}]}";
    const struct blob blobs[] = {{D("8"), nested}, {D("1"), manifest_two}, {D("2"), config_two}};
    const char *index =
        "{\"manifests\":[{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"" D("8") "\",\"size\":5}]}";
    struct image_plan p;
    struct berth_error *err = NULL;
    assert_int_equal(plan(index, blobs, 3, &p, &err), 0);
    assert_string_equal(p.manifest.digest, D("1"));
    assert_null(p.ref_name);
    assert_string_equal(p.run_config, "{\"Cmd\":[\"sh\"],\"Env\":[\"A=1\"]}");
    image_plan_clear(&p);
}

/* The error of an index that must be refused. */
static void refused(const char *index, const struct blob *blobs, size_t n, const char *want)
{
    struct image_plan p;
    struct berth_error *err = NULL;
    assert_true(plan(index, blobs, n, &p, &err) < 0);
    if (!strstr(err->msg, want))
        fail_msg("\"%s\" does not say \"%s\"", err->msg, want);
    assert_int_equal(p.n_layers, 0);
    assert_null(p.layers);
    berth_error_free(err);
}

static void test_refusals(void **state)
{
    const struct blob good[] = {{D("1"), manifest_two}, {D("2"), config_two}};
    refused("{", good, 2, "index.json:1:");
    refused("{\"manifests\":{}}", good, 2, "\"manifests\" is not an array");
    refused("{\"manifests\":[]}", good, 2, "no linux/amd64 image manifest");
    refused("{\"manifests\":[{\"digest\":\"sha512:00\",\"size\":1}]}", good, 2,
            "is not sha256:<64 hex digits>");
    refused("{\"manifests\":[{\"digest\":\"" D("1") "\",\"size\":-1}]}", good, 2, "negative size");
    refused("{\"manifests\":[{\"digest\":\"" D("1") "\"}]}", good, 2, "needs digest and size");
    refused("{\"manifests\":[{\"digest\":\"" D("1") "\",\"size\":1,\"platform\":{\"os\":"
                                                    "\"windows\",\"architecture\":\"amd64\"}}]}",
            good, 2, "no linux/amd64");
    refused("{\"manifests\":[{\"digest\":\"" D("9") "\",\"size\":1}]}", good, 2,
            "manifest: blob " D("9"));

    /* An index that names itself: the nesting limit ends it. */
    const char *self =
        "{\"manifests\":[{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"" D("8") "\",\"size\":1}]}";
    const struct blob loop[] = {{D("8"), self}};
    refused(self, loop, 1, "nested more than 4 deep");

    const char *index = "{\"manifests\":[{\"digest\":\"" D("1") "\",\"size\":1}]}";
    const struct blob bad_type[] = {
        {D("1"), "{\"config\":{\"digest\":\"" D("2") "\",\"size\":1},\"layers\":[{\"mediaType\":"
                                                     "\"application/x-rar\",\"digest\":\"" D(
                                                         "5") "\",\"size\":1}]}"},
        {D("2"), "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D("3") "\"]}}"}};
    refused(index, bad_type, 2, "manifest: layer 0: unsupported media type application/x-rar");
    const struct blob count[] = {{D("1"), manifest_two},
                                 {D("2"), "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"}};
    refused(index, count, 2, "manifest has 2 layers, config has 0 diff_ids");
    const struct blob none[] = {
        {D("1"), "{\"config\":{\"digest\":\"" D("2") "\",\"size\":1},\"layers\":[]}"},
        {D("2"), "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"}};
    refused(index, none, 2, "manifest has no layers");
    const struct blob bad_diff[] = {
        {D("1"), manifest_two},
        {D("2"), "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D("3") "\",7]}}"}};
    refused(index, bad_diff, 2, "config: diff_ids[1] is not a sha256 digest");
    const struct blob bad_json[] = {{D("1"), manifest_two}, {D("2"), "[1,"}};
    refused(index, bad_json, 2, "config: blob " D("2") ":1:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_index),
        cmocka_unit_test(test_no_run_config),
        cmocka_unit_test(test_nested_index_picks_amd64),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
