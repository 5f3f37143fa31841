/* SELinux label syntax: the whole input as a label and as a level, its lines as `label allocate`
 * options, and what is derived from a label (the shared label of z, the MCS pair, mount data).
 * Nothing here reaches selinuxfs or the file system. */
#include "berth/error.h"
#include "fuzz.h"
#include "linux/label.h"

static void check_label(const char *s)
{
    struct berth_error *err = NULL;
    struct label_context c;
    int r = label_parse(s, "fuzz", &c, &err);
    unsigned lo = 0, hi = 0;
    bool pair = label_mcs_pair(s, &lo, &hi);
    char *shared = label_shared(s);
    if (r < 0) {
        FUZZ_CHECK(err && err->msg && *err->msg, "failed without a message");
        berth_error_free(err);
        FUZZ_CHECK(!c.user && !c.role && !c.type && !c.level, "parts left after a failure");
        FUZZ_CHECK(!*s || label_validate(s, "fuzz", NULL) < 0, "parse and validate disagree");
        FUZZ_CHECK(!shared, "a shared label of an invalid one");
        FUZZ_CHECK(!pair, "an MCS pair in an invalid label");
        return;
    }
    FUZZ_CHECK(!err, "success with an error set");
    char *back = label_context_format(&c);
    FUZZ_CHECK(strcmp(back, s) == 0, "the parts make \"%s\"", back);
    free(back);
    FUZZ_CHECK(label_validate(s, "fuzz", NULL) == 0, "parse and validate disagree");
    FUZZ_CHECK(label_validate_level(c.level, "fuzz", NULL) == 0, "the level \"%s\" is refused",
               c.level);

    FUZZ_CHECK(shared, "no shared label");
    FUZZ_CHECK(label_validate(shared, "fuzz", NULL) == 0, "shared label \"%s\" invalid", shared);
    FUZZ_CHECK(!strpbrk(strrchr(shared, ':') + 1, ",.-"), "shared label \"%s\" keeps categories",
               shared);
    unsigned l2, h2;
    FUZZ_CHECK(!label_mcs_pair(shared, &l2, &h2), "shared label \"%s\" has a pair", shared);
    char *shared2 = label_shared(shared);
    FUZZ_CHECK(shared2 && strcmp(shared, shared2) == 0, "label_shared is not idempotent");
    free(shared2);
    free(shared);

    if (pair) {
        FUZZ_CHECK(lo < hi && hi <= LABEL_MAX_CATEGORY, "pair c%u,c%u", lo, hi);
        char want[64];
        snprintf(want, sizeof(want), "c%u", hi);
        FUZZ_CHECK(strstr(c.level, want), "c%u not in \"%s\"", hi, c.level);
    }
    label_context_clear(&c);
}

static void check_options(const uint8_t *data, size_t size)
{
    char **options = fuzz_lines(data, size);
    struct berth_error *err = NULL;
    struct label_options o;
    int r = label_parse_options(options, &o, &err);
    if (r < 0) {
        FUZZ_CHECK(err && err->msg && *err->msg, "failed without a message");
        berth_error_free(err);
        FUZZ_CHECK(!o.disable && !o.user && !o.role && !o.type && !o.level && !o.filetype,
                   "options left after a failure");
    } else {
        FUZZ_CHECK(!o.level || label_validate_level(o.level, "fuzz", NULL) == 0, "bad level");
        label_options_clear(&o);
    }
    strv_free(options);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    check_label(s);

    struct berth_error *err = NULL;
    if (label_validate_level(s, "fuzz", &err) < 0)
        FUZZ_CHECK(err && err->msg && *err->msg, "a level refused without a message");
    berth_error_free(err);

    char *md = label_mount_data("size=65536k,mode=755", s);
    FUZZ_CHECK(md && strncmp(md, "size=65536k,mode=755", 20) == 0, "mount data lost: %s", md);
    free(md);
    md = label_mount_data(s, LABEL_DEFAULT_FILE);
    FUZZ_CHECK(!*s || (md && strncmp(md, s, strlen(s)) == 0), "mount data lost");
    free(md);
    (void)label_mount_takes_context(s);
    free(s);

    check_options(data, size);
    return 0;
}
