/* apply_archive: every whiteout rule, entry kinds and metadata, and every escape attempt
 * (symlink, hardlink and ".." traversal) with a canary outside the layer. Runs as root. */
/* Entries are written positionally with their tail left out. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* Header fields are written with snprintf into their fixed widths; the values fit. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/error.h"
#include "spec/spec.h"
#include "storage/apply.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

/* One tar entry: type 'f' file, 'd' dir, 'l' symlink, 'h' hardlink, 'c' char dev, 'p' fifo. */
struct ent {
    char type;
    const char *name;
    const char *data; /* file content, or link target */
    unsigned mode;
    unsigned uid;
    const char *xattr; /* "key=value" */
};

struct fixture {
    char dir[64];
    int root;
    char **paths;
    size_t n_paths;
};

static const char *P(struct fixture *f, const char *rel)
{
    f->paths = xreallocarray(f->paths, f->n_paths + 1, sizeof(*f->paths));
    return f->paths[f->n_paths++] = xasprintf("%s/%s", f->dir, rel);
}

static int setup(void **state)
{
    if (geteuid() != 0)
        return -1;
    struct fixture *f = xzalloc(sizeof(*f));
    strcpy(f->dir, "/tmp/berth-test-apply-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(mkdir(P(f, "layer"), 0755), 0);
    assert_int_equal(mkdir(P(f, "outside"), 0700), 0);
    int fd = open(P(f, "outside/canary"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_int_equal(write(fd, "canary\n", 7), 7);
    close(fd);
    f->root = open(P(f, "layer"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *state = f;
    return 0;
}

/* The canary and its directory are exactly as setup left them. */
static void canary_untouched(struct fixture *f)
{
    struct stat st;
    assert_int_equal(lstat(P(f, "outside/canary"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(st.st_size, 7);
    DIR *d = opendir(P(f, "outside"));
    size_t n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    assert_int_equal(n, 3);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    canary_untouched(f);
    close(f->root);
    struct berth_error *err = NULL;
    assert_int_equal(fs_remove_tree_at(AT_FDCWD, f->dir, &err), 0);
    for (size_t i = 0; i < f->n_paths; i++)
        free(f->paths[i]);
    free(f->paths);
    free(f);
    return 0;
}

/* A small pax writer: libarchive's writers would drag its xar support (libxml2, ICU, libstdc++)
 * into a static link. Every entry gets a pax header with its path, link, mtime and xattr. */
static void ustar_header(char *b, const char *name, const char *link, char type, size_t size,
                         unsigned mode, unsigned uid, unsigned dmaj, unsigned dmin)
{
    memset(b, 0, 512);
    snprintf(b, 100, "%.99s", name);
    if (link)
        snprintf(b + 157, 100, "%.99s", link);
    snprintf(b + 100, 8, "%07o", mode);
    snprintf(b + 108, 8, "%07o", uid);
    snprintf(b + 116, 8, "%07o", uid);
    snprintf(b + 124, 12, "%011zo", size);
    snprintf(b + 136, 12, "%011o", 1600000000u);
    b[156] = type;
    memcpy(b + 257, "ustar", 6);
    memcpy(b + 263, "00", 2);
    snprintf(b + 329, 8, "%07o", dmaj);
    snprintf(b + 337, 8, "%07o", dmin);
    memset(b + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)b[i];
    snprintf(b + 148, 7, "%06o", sum);
    b[155] = ' ';
}

static void pax_record(char *out, size_t *len, const char *key, const char *value)
{
    size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
    size_t n = body + 1;
    while (snprintf(NULL, 0, "%zu", n) + body != n)
        n++;
    *len += (size_t)sprintf(out + *len, "%zu %s=%s\n", n, key, value);
}

static size_t put_block(char *buf, size_t used, const char *data, size_t len)
{
    memcpy(buf + used, data, len);
    size_t padded = (len + 511) / 512 * 512;
    memset(buf + used + len, 0, padded - len);
    return used + padded;
}

static size_t make_tar(const struct ent *ents, size_t n, char *buf, size_t cap)
{
    size_t used = 0;
    char hdr[512];
    _cleanup_free_ char *pax = xmalloc(16384);
    for (size_t i = 0; i < n; i++) {
        const struct ent *e = &ents[i];
        size_t plen = 0;
        pax_record(pax, &plen, "path", e->name);
        if ((e->type == 'l' || e->type == 'h') && e->data)
            pax_record(pax, &plen, "linkpath", e->data);
        pax_record(pax, &plen, "mtime", "1600000000.000000005");
        if (e->xattr) {
            const char *eq = strchr(e->xattr, '=');
            _cleanup_free_ char *key =
                xasprintf("SCHILY.xattr.%.*s", (int)(eq - e->xattr), e->xattr);
            pax_record(pax, &plen, key, eq + 1);
        }
        assert_true(used + plen + 4096 < cap);
        ustar_header(hdr, "PaxHeader", NULL, 'x', plen, 0644, 0, 0, 0);
        used = put_block(buf, used, hdr, 512);
        used = put_block(buf, used, pax, plen);
        static const char types[] = {
            ['f'] = '0', ['d'] = '5', ['l'] = '2', ['h'] = '1', ['c'] = '3', ['p'] = '6'};
        size_t size = e->type == 'f' && e->data ? strlen(e->data) : 0;
        unsigned mode = e->mode ? e->mode : (e->type == 'd' ? 0755 : 0644);
        bool dev = e->type == 'c';
        const char *link = e->type == 'l' || e->type == 'h' ? e->data : NULL;
        ustar_header(hdr, "x", link, types[(unsigned char)e->type], size, mode, e->uid, dev ? 1 : 0,
                     dev ? 3 : 0);
        used = put_block(buf, used, hdr, 512);
        if (size)
            used = put_block(buf, used, e->data, size);
    }
    memset(buf + used, 0, 1024);
    return used + 1024;
}

static int apply_opts(struct fixture *f, const struct ent *ents, size_t n,
                      const struct apply_options *o, struct berth_error **err)
{
    static char buf[1 << 20];
    size_t len = make_tar(ents, n, buf, sizeof(buf));
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
    struct copy_stats st = {0};
    int r = apply_archive(f->root, a, o, &st, err);
    archive_read_free(a);
    return r;
}

#define APPLY(f, ...)                                                                              \
    ({                                                                                             \
        const struct ent _e[] = {__VA_ARGS__};                                                     \
        struct berth_error *_err = NULL;                                                           \
        int _r = apply_opts(f, _e, sizeof(_e) / sizeof(_e[0]), NULL, &_err);                       \
        if (_r < 0)                                                                                \
            fail_msg("apply: %s", _err->msg);                                                      \
    })

/* The error message of a layer that must be refused. */
#define REFUSED(f, ...)                                                                            \
    ({                                                                                             \
        const struct ent _e[] = {__VA_ARGS__};                                                     \
        struct berth_error *_err = NULL;                                                           \
        int _r = apply_opts(f, _e, sizeof(_e) / sizeof(_e[0]), NULL, &_err);                       \
        assert_true(_r < 0);                                                                       \
        static char _msg[512];                                                                     \
        snprintf(_msg, sizeof(_msg), "%s", _err->msg);                                             \
        berth_error_free(_err);                                                                    \
        _msg;                                                                                      \
    })

static bool exists(struct fixture *f, const char *rel)
{
    _cleanup_free_ char *p = xasprintf("layer/%s", rel);
    struct stat st;
    return lstat(P(f, p), &st) == 0;
}

static void lower(struct fixture *f)
{
    APPLY(f, {'d', "etc"}, {'f', "etc/passwd", "root\n"}, {'f', "etc/old", "old\n"}, {'d', "var"},
          {'d', "var/lib"}, {'f', "var/lib/a", "a"}, {'d', "var/lib/sub"},
          {'f', "var/lib/sub/deep", "d"}, {'d', "opt"}, {'f', "opt/lowfile", "l"});
}

static void test_whiteout_file_and_dir(void **state)
{
    struct fixture *f = *state;
    lower(f);
    APPLY(f, {'f', "etc/.wh.old"}, {'f', ".wh.var"});
    assert_false(exists(f, "etc/old"));
    assert_true(exists(f, "etc/passwd"));
    assert_false(exists(f, "var"));
    assert_false(exists(f, "etc/.wh.old"));
    assert_false(exists(f, ".wh.var"));
    /* a whiteout of nothing is fine */
    APPLY(f, {'f', "etc/.wh.never-was"}, {'f', "nodir/.wh.x"});
    assert_false(exists(f, "nodir"));
}

static void test_whiteout_spares_same_layer(void **state)
{
    struct fixture *f = *state;
    lower(f);
    /* Whiteout after and before the same layer's own entry: the entry stays either way. */
    APPLY(f, {'f', "etc/old", "new\n"}, {'f', "etc/.wh.old"}, {'f', "opt/.wh.x"},
          {'f', "opt/x", "mine"});
    assert_true(exists(f, "etc/old"));
    assert_true(exists(f, "opt/x"));
    /* A whiteout of a directory this layer also writes into removes only the lower part. */
    APPLY(f, {'f', "var/lib/new", "n"}, {'f', ".wh.var"});
    assert_true(exists(f, "var/lib/new"));
    assert_false(exists(f, "var/lib/a"));
    assert_false(exists(f, "var/lib/sub"));
}

static void test_opaque_any_position(void **state)
{
    struct fixture *f = *state;
    lower(f);
    /* marker first */
    APPLY(f, {'d', "var/lib"}, {'f', "var/lib/.wh..wh..opq"}, {'f', "var/lib/mine", "m"});
    assert_true(exists(f, "var/lib"));
    assert_true(exists(f, "var/lib/mine"));
    assert_false(exists(f, "var/lib/a"));
    assert_false(exists(f, "var/lib/sub"));
    assert_false(exists(f, "var/lib/.wh..wh..opq"));
    /* marker last, and a lower file under a directory this layer keeps also goes */
    APPLY(f, {'d', "etc"}, {'d', "etc/x"}, {'f', "etc/x/f", "f"}, {'f', "etc/.wh..wh..opq"});
    assert_true(exists(f, "etc/x/f"));
    assert_false(exists(f, "etc/passwd"));
    assert_false(exists(f, "etc/old"));
    /* opaque at the root */
    APPLY(f, {'f', ".wh..wh..opq"}, {'f', "only", "o"});
    assert_true(exists(f, "only"));
    assert_false(exists(f, "opt"));
    assert_false(exists(f, "etc"));
}

static void test_opaque_through_symlink_clears_nothing(void **state)
{
    struct fixture *f = *state;
    lower(f);
    /* "link" points at opt inside the layer: an opaque marker under link must not empty opt. */
    APPLY(f, {'l', "link", "/opt"});
    APPLY(f, {'f', "link/.wh..wh..opq"});
    assert_true(exists(f, "opt/lowfile"));
    assert_true(exists(f, "link"));
}

static void test_whiteout_names(void **state)
{
    struct fixture *f = *state;
    lower(f);
    const char *msg = REFUSED(f, {'f', "etc/.wh."});
    assert_non_null(strstr(msg, "whiteout must name"));
    APPLY(f, {'f', ".wh..wh.plnk"}, {'d', ".wh..wh..plnk"});
    assert_false(exists(f, ".wh..wh.plnk"));
    assert_true(exists(f, "etc/passwd"));
}

static void test_dotdot_refused(void **state)
{
    struct fixture *f = *state;
    const char *msg = REFUSED(f, {'f', "../escape", "x"});
    assert_non_null(strstr(msg, "\"..\""));
    REFUSED(f, {'f', "a/../../escape", "x"});
    REFUSED(f, {'f', "./a/b/../../../x", "x"});
    REFUSED(f, {'f', "ok", "x"}, {'h', "h", "../outside/canary"});
    REFUSED(f, {'f', "../outside/.wh.canary"});
    assert_false(exists(f, "../escape"));
}

static void test_absolute_names_start_at_root(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *abs = xasprintf("%s/outside/canary", f->dir);
    _cleanup_free_ char *absdir = xasprintf("%s/outside/new", f->dir);
    APPLY(f, {'f', "/etc/x", "x"}, {'f', absdir, "in the layer"}, {'f', "//./etc//y", "y"});
    assert_true(exists(f, "etc/x"));
    assert_true(exists(f, "etc/y"));
    _cleanup_free_ char *inlayer = xasprintf("%s/outside/new", f->dir + 1);
    assert_true(exists(f, inlayer));
    (void)abs;
}

static void test_symlink_escapes_are_contained(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *outside = xasprintf("%s/outside", f->dir);
    _cleanup_free_ char *canary = xasprintf("%s/outside/canary", f->dir);
    /* A symlink to the outside, then entries through it, in the same and in a later layer. */
    struct berth_error *err = NULL;
    const struct ent l1[] = {
        {'l', "evil", outside}, {'l', "up", "../../../../.."}, {'l', "cf", canary}};
    assert_int_equal(apply_opts(f, l1, 3, NULL, &err), 0);
    const struct ent l2[] = {{'f', "evil/pwn", "pwned"}};
    int r = apply_opts(f, l2, 1, NULL, &err); /* contained: created under the layer, or refused */
    berth_error_freep(&err);
    if (r == 0) {
        _cleanup_free_ char *in = xasprintf("%s/outside/pwn", f->dir + 1);
        assert_true(exists(f, in));
    }
    const struct ent l3[] = {{'f', "up/escaped", "x"}};
    r = apply_opts(f, l3, 1, NULL, &err);
    berth_error_freep(&err);
    if (r == 0)
        assert_true(exists(f, "escaped"));
    /* Writing a regular file over a symlink replaces the symlink, never writes its target. */
    APPLY(f, {'f', "cf", "replaced"});
    struct stat st;
    assert_int_equal(lstat(P(f, "layer/cf"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* A whiteout through the symlink removes nothing outside. */
    APPLY(f, {'l', "evil2", outside});
    APPLY(f, {'f', "evil2/.wh.canary"});
    /* A hardlink through it does not reach the canary. */
    const struct ent l4[] = {{'h', "stolen", "evil2/canary"}};
    assert_true(apply_opts(f, l4, 1, NULL, &err) < 0);
    berth_error_freep(&err);
    const struct ent l5[] = {{'h', "stolen", canary}};
    assert_true(apply_opts(f, l5, 1, NULL, &err) < 0);
    berth_error_freep(&err);
    /* A directory entry over a symlink replaces it; metadata goes to the new directory. */
    APPLY(f, {'d', "evil", NULL, 0777});
    assert_int_equal(lstat(P(f, "layer/evil"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0777);
}

static void test_root_entry(void **state)
{
    struct fixture *f = *state;
    APPLY(f, {'d', "./", NULL, 0711});
    struct stat st;
    assert_int_equal(fstat(f->root, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711);
    assert_int_equal(st.st_mtim.tv_sec, 1600000000);
    const char *msg = REFUSED(f, {'l', ".", "/"});
    assert_non_null(strstr(msg, "root directory"));
    REFUSED(f, {'f', "/", "x"});
}

static void test_kinds_metadata_and_maps(void **state)
{
    struct fixture *f = *state;
    APPLY(f, {'d', "etc"}, {'f', "etc/shadow", "s", 0640}, {'f', "lowfile", "shared"});
    const struct spec_id_mapping m[] = {{0, 100000, 65536}};
    struct copy_id_map map = {m, 1};
    struct apply_options o = {&map, &map};
    const struct ent ents[] = {
        {'f', "bin/su", "#!", 04755, 0, "user.k=v"},
        {'f', "label", "l", 0644, 0, "security.selinux=system_u:object_r:shadow_t:s0"},
        {'h', "bin/su2", "bin/su"},
        {'h', "lowlink", "lowfile"},
        {'c', "dev/null", NULL, 0666},
        {'p', "run/fifo", NULL, 0600, 33},
        {'l', "sh", "/bin/su", 0777, 7},
        {'f', "etc/shadow", "replaced", 0600, 42},
    };
    struct berth_error *err = NULL;
    if (apply_opts(f, ents, sizeof(ents) / sizeof(ents[0]), &o, &err) < 0)
        fail_msg("apply: %s", err->msg);
    struct stat a, b;
    assert_int_equal(lstat(P(f, "layer/bin/su"), &a), 0);
    assert_int_equal(a.st_mode & 07777, 04755);
    assert_int_equal(a.st_uid, 100000);
    assert_int_equal(a.st_mtim.tv_sec, 1600000000);
    assert_int_equal(a.st_mtim.tv_nsec, 5);
    char v[64];
    assert_int_equal(lgetxattr(P(f, "layer/bin/su"), "user.k", v, sizeof(v)), 1);
    ssize_t n = lgetxattr(P(f, "layer/label"), "security.selinux", v, sizeof(v));
    assert_true(n < 0 || strncmp(v, "system_u:object_r:shadow_t:s0", (size_t)n) != 0);
    assert_int_equal(lstat(P(f, "layer/bin/su2"), &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(lstat(P(f, "layer/lowfile"), &a), 0);
    assert_int_equal(lstat(P(f, "layer/lowlink"), &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(lstat(P(f, "layer/dev/null"), &a), 0);
    assert_true(S_ISCHR(a.st_mode));
    assert_int_equal(a.st_rdev, makedev(1, 3));
    assert_int_equal(lstat(P(f, "layer/dev"), &a), 0); /* an implied parent */
    assert_int_equal(a.st_uid, 100000);
    assert_int_equal(a.st_mode & 07777, 0755);
    assert_int_equal(lstat(P(f, "layer/run/fifo"), &a), 0);
    assert_true(S_ISFIFO(a.st_mode));
    assert_int_equal(a.st_uid, 100033);
    assert_int_equal(lstat(P(f, "layer/sh"), &a), 0);
    assert_true(S_ISLNK(a.st_mode));
    assert_int_equal(a.st_uid, 100007);
    assert_int_equal(lstat(P(f, "layer/etc/shadow"), &a), 0);
    assert_int_equal(a.st_uid, 100042);
    assert_int_equal(a.st_size, 8);
    assert_int_equal(a.st_nlink, 1);

    /* an id outside the map */
    const struct ent far[] = {{'f', "far", "x", 0644, 70000}};
    assert_true(apply_opts(f, far, 1, &o, &err) < 0);
    assert_non_null(strstr(err->msg, "uid 70000 is not in the uid map"));
    berth_error_free(err);
}

static void test_absurd_names(void **state)
{
    struct fixture *f = *state;
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *msg = REFUSED(f, {'f', longname, "x"});
    assert_non_null(strstr(msg, "too long"));
    char *deep = xmalloc(8192);
    deep[0] = '\0';
    for (int i = 0; i < 2100; i++)
        strcat(deep, "d/");
    strcat(deep, "f");
    const struct ent e[] = {{'f', deep, "x"}};
    struct berth_error *err = NULL;
    assert_true(apply_opts(f, e, 1, NULL, &err) < 0);
    berth_error_free(err);
    free(deep);
}

static void test_clean_name(void **state)
{
    char *out;
    assert_int_equal(apply_clean_name("./a//b/./c/", &out), 0);
    assert_string_equal(out, "a/b/c");
    free(out);
    assert_int_equal(apply_clean_name("/", &out), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(apply_clean_name("a/..", &out), -EINVAL);
    assert_int_equal(apply_clean_name("..", &out), -EINVAL);
    assert_int_equal(apply_clean_name("a..b/...", &out), 0);
    assert_string_equal(out, "a..b/...");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_name),
        cmocka_unit_test_setup_teardown(test_whiteout_file_and_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteout_spares_same_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opaque_any_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opaque_through_symlink_clears_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_whiteout_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_names_start_at_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_escapes_are_contained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_metadata_and_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absurd_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
