#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/error.h"
#include "linux/label.h"
#include "linux/mnt.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#define FILE_L "system_u:object_r:container_file_t:s0:c1,c2"
#define PROC_L "system_u:system_r:container_t:s0:c1,c2"
#define CANARY "canary_u:object_r:canary_t:s0:c7"
#define SHARED "system_u:object_r:container_file_t:s0"

/* A fresh directory under /tmp, removed by rm_tree. */
static char *make_tmp(void)
{
    char *d = xstrdup("/tmp/berth-label-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_tree(const char *d)
{
    struct berth_error *e = NULL;
    assert_int_equal(fs_remove_tree_at(AT_FDCWD, d, &e), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The label of a path, not following a final symlink; "" when it has none. */
static char *lget(const char *path)
{
    char buf[4096];
    ssize_t n = lgetxattr(path, LABEL_XATTR, buf, sizeof(buf) - 1);
    if (n < 0)
        return xstrdup("");
    buf[n] = '\0';
    return xstrdup(buf);
}

static void assert_label(const char *path, const char *want)
{
    _cleanup_free_ char *got = lget(path);
    if (strcmp(got, want) != 0)
        fail_msg("%s: label \"%s\", want \"%s\"", path, got, want);
}

static void lset(const char *path, const char *label)
{
    assert_int_equal(lsetxattr(path, LABEL_XATTR, label, strlen(label), 0), 0);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool xattrs_usable(void)
{
    if (geteuid() != 0)
        return false;
    _cleanup_free_ char *d = make_tmp();
    bool ok = lsetxattr(d, LABEL_XATTR, "a:b:c:s0", 8, 0) == 0;
    rm_tree(d);
    return ok;
}

/* ------------------------------------------------------------------ mount data */

static void test_mount_data(void **state)
{
    _cleanup_free_ char *a = label_mount_data(NULL, FILE_L);
    assert_string_equal(a, "context=\"" FILE_L "\"");
    _cleanup_free_ char *b = label_mount_data("", FILE_L);
    assert_string_equal(b, "context=\"" FILE_L "\"");
    _cleanup_free_ char *c = label_mount_data("mode=755,size=65536k", FILE_L);
    assert_string_equal(c, "mode=755,size=65536k,context=\"" FILE_L "\"");
    /* No label: the data as it was. */
    _cleanup_free_ char *d = label_mount_data("mode=755", NULL);
    assert_string_equal(d, "mode=755");
    _cleanup_free_ char *e = label_mount_data("mode=755", "");
    assert_string_equal(e, "mode=755");
    assert_null(label_mount_data(NULL, NULL));
    /* A context the config names itself is left alone. */
    _cleanup_free_ char *f = label_mount_data("mode=1777,fscontext=\"a:b:c:s0\"", FILE_L);
    assert_string_equal(f, "mode=1777,fscontext=\"a:b:c:s0\"");
    _cleanup_free_ char *g = label_mount_data("context=\"a:b:c:s0:c1,c2\"", FILE_L);
    assert_string_equal(g, "context=\"a:b:c:s0:c1,c2\"");
    _cleanup_free_ char *h = label_mount_data("rootcontext=x:y:z:s0", FILE_L);
    assert_string_equal(h, "rootcontext=x:y:z:s0");
    /* ...but "context=" inside a quoted value of another option is not one. */
    _cleanup_free_ char *i = label_mount_data("x=\"a,context=b\"", FILE_L);
    assert_string_equal(i, "x=\"a,context=b\",context=\"" FILE_L "\"");
    _cleanup_free_ char *j = label_mount_data("nocontext=1", FILE_L);
    assert_string_equal(j, "nocontext=1,context=\"" FILE_L "\"");
}

static void test_mount_types(void **state)
{
    const char *yes[] = {"tmpfs", "devpts", "mqueue", "overlay", "ramfs", "ext4"};
    const char *no[] = {"proc", "sysfs", "cgroup", "cgroup2", "bind", "none", ""};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
        assert_true(label_mount_takes_context(yes[i]));
    for (size_t i = 0; i < ARRAY_SIZE(no); i++)
        assert_false(label_mount_takes_context(no[i]));
    assert_false(label_mount_takes_context(NULL));
}

/* ------------------------------------------------------------------ syntax */

static const char *const valid_labels[] = {
    "system_u:system_r:container_t:s0",
    PROC_L,
    FILE_L,
    "system_u:object_r:container_file_t:s0:c0.c1023",
    "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023",
    "u:r:t:s0:c1,c3.c5,c9",
    "u:r:t:s0-s0:c1",
    "u:r:t:s0:c1,c1",
    "u:r:t:s15:c1023",
    "u:r:t:s0-s3:c0.c3",
    "user.name-1:role_r:type.sub-t:s0",
    "_u:_r:_t:s0",
};

static const struct {
    const char *label;
    const char *why;
} invalid_labels[] = {
    {"u", "it has 1 field, not 4"},
    {"u:r", "it has 2 fields, not 4"},
    {"u:r:t", "it has 3 fields, not 4"},
    {":r:t:s0", "the user \"\" is not a name"},
    {"u::t:s0", "the role \"\" is not a name"},
    {"u:r::s0", "the type \"\" is not a name"},
    {"1u:r:t:s0", "the user \"1u\" is not a name"},
    {"u r:r:t:s0", "the user \"u r\" is not a name"},
    {"u:r/x:t:s0", "the role \"r/x\" is not a name"},
    {"u:r:t\"x:s0", "the type \"t\"x\" is not a name"},
    {"u:r:t:", "the level is empty"},
    {"u:r:t:x0", "the level must start with a sensitivity"},
    {"u:r:t:s", "the sensitivity is not s0..s1023"},
    {"u:r:t:s01", "the sensitivity is not s0..s1023"},
    {"u:r:t:s1024", "the sensitivity is not s0..s1023"},
    {"u:r:t:s0:", "\"\" is not a category"},
    {"u:r:t:s0:c1024", "category \"c1024\" is not one of c0..c1023"},
    {"u:r:t:s0:c01", "category \"c01\" is not one of c0..c1023"},
    {"u:r:t:s0:c99999999999", "category \"c99999999999\" is not one of c0..c1023"},
    {"u:r:t:s0:c", "category \"c\" is not one of c0..c1023"},
    {"u:r:t:s0:c1,", "\"\" is not a category"},
    {"u:r:t:s0:c1,,c2", "\",c2\" is not a category"},
    {"u:r:t:s0:c5.c2", "category range c5.c2 does not go upwards"},
    {"u:r:t:s0:c5.c5", "category range c5.c5 does not go upwards"},
    {"u:r:t:s0:c1.", "\"\" is not a category"},
    {"u:r:t:s0:c1 c2", "unexpected \" c2\" in the level"},
    {"u:r:t:s0:c1:c2", "unexpected \":c2\" in the level"},
    {"u:r:t:s0:c1-s0", "the high level of the range does not dominate the low one"},
    {"u:r:t:s3-s1", "the high level of the range does not dominate the low one"},
    {"u:r:t:s0-", "the level must start with a sensitivity"},
    {"u:r:t:s0-s0-s0", "unexpected \"-s0\" in the level"},
    {"u:r:t:s0\n", "unexpected \"\n\" in the level"},
};

static void test_parse_valid(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(valid_labels); i++) {
        struct berth_error *err = NULL;
        if (label_validate(valid_labels[i], "linux.mountLabel", &err) != 0)
            fail_msg("%s: %s", valid_labels[i], err->msg);
    }
    struct label_context c;
    struct berth_error *err = NULL;
    assert_int_equal(label_parse("u:r:t:s0-s0:c0.c1023", "x", &c, &err), 0);
    assert_string_equal(c.user, "u");
    assert_string_equal(c.role, "r");
    assert_string_equal(c.type, "t");
    assert_string_equal(c.level, "s0-s0:c0.c1023");
    _cleanup_free_ char *back = label_context_format(&c);
    assert_string_equal(back, "u:r:t:s0-s0:c0.c1023");
    label_context_clear(&c);
    /* No label at all is valid: it means none. */
    assert_int_equal(label_validate(NULL, "x", &err), 0);
    assert_int_equal(label_validate("", "x", &err), 0);
    assert_null(err);
}

static void test_parse_invalid(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(invalid_labels); i++) {
        struct berth_error *err = NULL;
        int r = label_validate(invalid_labels[i].label, "process.selinuxLabel", &err);
        if (r != -EINVAL || !err)
            fail_msg("\"%s\" was accepted", invalid_labels[i].label);
        if (strncmp(err->msg, "process.selinuxLabel: \"", 23) != 0 ||
            !strstr(err->msg, "is not an SELinux label (user:role:type:level)") ||
            !strstr(err->msg, invalid_labels[i].why))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", invalid_labels[i].label, err->msg,
                     invalid_labels[i].why);
        berth_error_free(err);
    }
    struct berth_error *err = NULL;
    char *huge = xmalloc(5000);
    memset(huge, 'a', 4999);
    memcpy(huge, "u:r:t:", 6);
    huge[4999] = '\0';
    assert_int_equal(label_validate(huge, "linux.mountLabel", &err), -EINVAL);
    assert_non_null(strstr(err->msg, "linux.mountLabel: the SELinux label is longer than"));
    berth_error_free(err);
    free(huge);
}

static void test_shared_and_pair(void **state)
{
    _cleanup_free_ char *a = label_shared(FILE_L);
    assert_string_equal(a, SHARED);
    _cleanup_free_ char *b = label_shared("u:r:t:s2-s3:c0.c9");
    assert_string_equal(b, "u:r:t:s2");
    _cleanup_free_ char *c = label_shared("u:r:t:s0");
    assert_string_equal(c, "u:r:t:s0");
    assert_null(label_shared("nonsense"));

    unsigned lo = 0, hi = 0;
    assert_true(label_mcs_pair("u:r:t:s0:c9,c5", &lo, &hi));
    assert_int_equal(lo, 5);
    assert_int_equal(hi, 9);
    assert_true(label_mcs_pair("u:r:t:s0:c0,c1023", &lo, &hi));
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 1023);
    assert_true(label_mcs_pair("u:r:t:s0:c3.c4", &lo, &hi));
    assert_false(label_mcs_pair("u:r:t:s0", &lo, &hi));
    assert_false(label_mcs_pair("u:r:t:s0:c1", &lo, &hi));
    assert_false(label_mcs_pair("u:r:t:s0:c1,c1", &lo, &hi));
    assert_false(label_mcs_pair("u:r:t:s0:c1,c2,c3", &lo, &hi));
    assert_false(label_mcs_pair("u:r:t:s0-s0:c1,c2", &lo, &hi));
    assert_false(label_mcs_pair("", &lo, &hi));
    assert_false(label_mcs_pair(NULL, &lo, &hi));
    assert_false(label_mcs_pair("u:r:t:s0:c1,c2x", &lo, &hi));
}

static void test_check_spec(void **state)
{
    struct spec_process p = {0};
    struct spec_linux l = {0};
    struct spec s = {0};
    s.process = &p;
    s.linux_ = &l;
    struct berth_error *err = NULL;
    assert_int_equal(label_check_spec(&s, &err), 0);
    p.selinux_label = (char *)"system_u:system_r:container_t";
    assert_int_equal(label_check_spec(&s, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "process.selinuxLabel: \"system_u:system_r:container_t\""));
    berth_error_freep(&err);
    p.selinux_label = (char *)PROC_L;
    l.mount_label = (char *)"system_u:object_r:container_file_t:s0:c1,c2000";
    assert_int_equal(label_check_spec(&s, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "linux.mountLabel: "));
    assert_non_null(strstr(err->msg, "category \"c2000\" is not one of c0..c1023"));
    berth_error_freep(&err);
    if (!label_selinux_enabled()) {
        l.mount_label = (char *)FILE_L;
        assert_int_equal(label_check_spec(&s, &err), 0);
    }
}

/* ------------------------------------------------------------------ options */

static void test_options(void **state)
{
    char *opts[] = {"user:me_u", "role:r_r", "type:t_t", "level:s0:c3,c4", "filetype:f_t", NULL};
    struct label_options o;
    struct berth_error *err = NULL;
    assert_int_equal(label_parse_options(opts, &o, &err), 0);
    assert_false(o.disable);
    assert_string_equal(o.user, "me_u");
    assert_string_equal(o.role, "r_r");
    assert_string_equal(o.type, "t_t");
    assert_string_equal(o.level, "s0:c3,c4");
    assert_string_equal(o.filetype, "f_t");
    label_options_clear(&o);

    char *dis[] = {"disable", NULL};
    assert_int_equal(label_parse_options(dis, &o, &err), 0);
    assert_true(o.disable);
    label_options_clear(&o);
    assert_int_equal(label_parse_options(NULL, &o, &err), 0);
    label_options_clear(&o);

    static const struct {
        const char *opt;
        const char *why;
    } bad[] = {
        {"frobnicate", "label option \"frobnicate\": want disable, or user:"},
        {"user", "label option \"user\": want disable"},
        {"users:x", "label option \"users:x\": want disable"},
        {"Disable", "label option \"Disable\": want disable"},
        {"user:", "label option \"user:\": \"\" is not a name"},
        {"type:a/b", "label option \"type:a/b\": \"a/b\" is not a name"},
        {"role:r:r", "\"r:r\" is not a name"},
        {"level:", "label option level: \"\" is not an SELinux level: the level is empty"},
        {"level:s0:c1024", "category \"c1024\" is not one of c0..c1023"},
        {"level:c1", "the level must start with a sensitivity"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *one[] = {(char *)bad[i].opt, NULL};
        assert_int_equal(label_parse_options(one, &o, &err), -EINVAL);
        if (!strstr(err->msg, bad[i].why))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].opt, err->msg, bad[i].why);
        berth_error_freep(&err);
        assert_null(o.user);
    }
    char *twice[] = {"type:a_t", "type:b_t", NULL};
    assert_int_equal(label_parse_options(twice, &o, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "label option \"type\" is given twice"));
    berth_error_freep(&err);
}

static void test_read_contexts(void **state)
{
    _cleanup_free_ char *dir = make_tmp();
    char *p = NULL, *f = NULL;
    struct berth_error *err = NULL;
    /* Nothing there: the defaults. */
    assert_int_equal(label_read_contexts(dir, &p, &f, &err), 0);
    assert_string_equal(p, LABEL_DEFAULT_PROCESS);
    assert_string_equal(f, LABEL_DEFAULT_FILE);
    free(p);
    free(f);

    _cleanup_free_ char *cfg = xasprintf("%s/config", dir);
    write_text(cfg, "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n");
    _cleanup_free_ char *ctx = xasprintf("%s/targeted/contexts", dir);
    _cleanup_free_ char *tdir = xasprintf("%s/targeted", dir);
    assert_int_equal(mkdir(tdir, 0755), 0);
    assert_int_equal(mkdir(ctx, 0755), 0);
    _cleanup_free_ char *lxc = xasprintf("%s/lxc_contexts", ctx);
    write_text(lxc, "process = \"system_u:system_r:svirt_lxc_net_t:s0\"\n"
                    "content = \"system_u:object_r:virt_var_lib_t:s0\"\n"
                    "# file = \"x:y:z:s0\"\n"
                    "file = \"system_u:object_r:svirt_sandbox_file_t:s0\"\n"
                    "ro_file=\"system_u:object_r:container_ro_file_t:s0\"\n");
    assert_int_equal(label_read_contexts(dir, &p, &f, &err), 0);
    assert_string_equal(p, "system_u:system_r:svirt_lxc_net_t:s0");
    assert_string_equal(f, "system_u:object_r:svirt_sandbox_file_t:s0");
    free(p);
    free(f);

    /* A key missing: its default. */
    write_text(lxc, "process = system_u:system_r:spc_t:s0\n");
    assert_int_equal(label_read_contexts(dir, &p, &f, &err), 0);
    assert_string_equal(p, "system_u:system_r:spc_t:s0");
    assert_string_equal(f, LABEL_DEFAULT_FILE);
    free(p);
    free(f);

    /* A bad context in the file is refused, naming it. */
    write_text(lxc, "process = \"system_u:system_r\"\n");
    assert_int_equal(label_read_contexts(dir, &p, &f, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "lxc_contexts: process: \"system_u:system_r\""));
    berth_error_freep(&err);
    assert_null(p);
    assert_null(f);

    /* A SELINUXTYPE that would leave the directory is not followed. */
    write_text(cfg, "SELINUXTYPE=../../etc\n");
    assert_int_equal(label_read_contexts(dir, &p, &f, &err), 0);
    assert_string_equal(p, LABEL_DEFAULT_PROCESS);
    free(p);
    free(f);
    rm_tree(dir);
}

/* ------------------------------------------------------------------ allocation */

static size_t registry_count(const char *root)
{
    _cleanup_free_ char *reg = xasprintf("%s/%s", root, LABEL_REGISTRY_DIR);
    DIR *d = opendir(reg);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

#define N_ALLOC 500

static void test_allocate_unique(void **state)
{
    _cleanup_free_ char *root = make_tmp();
    _cleanup_free_ char *state_root = xasprintf("%s/state/root", root);
    _cleanup_free_ char *nosel = xasprintf("%s/no-selinux", root);
    static uint8_t seen[1024][1024];
    memset(seen, 0, sizeof(seen));
    char *procs[N_ALLOC], *mounts[N_ALLOC];
    struct berth_error *err = NULL;
    for (int i = 0; i < N_ALLOC; i++) {
        if (label_allocate_from(state_root, nosel, NULL, &procs[i], &mounts[i], &err) != 0)
            fail_msg("allocation %d: %s", i, err->msg);
        unsigned lo, hi, lo2, hi2;
        assert_true(label_mcs_pair(procs[i], &lo, &hi));
        assert_true(label_mcs_pair(mounts[i], &lo2, &hi2));
        assert_int_equal(lo, lo2);
        assert_int_equal(hi, hi2);
        assert_true(lo < hi && hi <= 1023);
        if (seen[lo][hi])
            fail_msg("pair c%u,c%u handed out twice", lo, hi);
        seen[lo][hi] = 1;
        assert_true(starts_with(procs[i], "system_u:system_r:container_t:s0:c"));
        assert_true(starts_with(mounts[i], "system_u:object_r:container_file_t:s0:c"));
        assert_int_equal(label_validate(procs[i], "p", &err), 0);
    }
    assert_int_equal(registry_count(state_root), N_ALLOC);
    struct stat st;
    _cleanup_free_ char *reg = xasprintf("%s/%s", state_root, LABEL_REGISTRY_DIR);
    assert_int_equal(stat(reg, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* A pair in use cannot be asked for; once released it can. */
    _cleanup_free_ char *level = xasprintf("level:%s", strrchr(procs[7], ':') - 2);
    char *ask[] = {level, NULL};
    char *p, *m;
    assert_int_equal(label_allocate_from(state_root, nosel, ask, &p, &m, &err), -EBUSY);
    assert_non_null(strstr(err->msg, "is in use"));
    berth_error_freep(&err);
    for (int i = 0; i < N_ALLOC; i++) {
        assert_int_equal(label_release(state_root, i % 2 ? procs[i] : mounts[i], &err), 0);
        /* Twice is harmless. */
        assert_int_equal(label_release(state_root, procs[i], &err), 0);
    }
    assert_int_equal(registry_count(state_root), 0);
    assert_int_equal(label_allocate_from(state_root, nosel, ask, &p, &m, &err), 0);
    assert_string_equal(p, procs[7]);
    assert_string_equal(m, mounts[7]);
    assert_int_equal(registry_count(state_root), 1);
    assert_int_equal(label_release(state_root, m, &err), 0);
    free(p);
    free(m);
    for (int i = 0; i < N_ALLOC; i++) {
        free(procs[i]);
        free(mounts[i]);
    }
    /* Labels without a pair reserve and release nothing. */
    char *single[] = {"level:s0:c5", NULL};
    assert_int_equal(label_allocate_from(state_root, nosel, single, &p, &m, &err), 0);
    assert_string_equal(p, "system_u:system_r:container_t:s0:c5");
    assert_int_equal(registry_count(state_root), 0);
    assert_int_equal(label_release(state_root, p, &err), 0);
    free(p);
    free(m);
    assert_int_equal(label_release(state_root, "", &err), 0);
    assert_int_equal(label_release(state_root, NULL, &err), 0);
    assert_int_equal(label_release(state_root, "bad", &err), -EINVAL);
    berth_error_freep(&err);
    /* Releasing under a root that never allocated is not an error. */
    _cleanup_free_ char *other = xasprintf("%s/other", root);
    assert_int_equal(label_release(other, PROC_L, &err), 0);
    rm_tree(root);
}

static void test_allocate_options(void **state)
{
    _cleanup_free_ char *root = make_tmp();
    _cleanup_free_ char *nosel = xasprintf("%s/no-selinux", root);
    char *p, *m;
    struct berth_error *err = NULL;
    char *dis[] = {"disable", NULL};
    assert_int_equal(label_allocate_from(root, nosel, dis, &p, &m, &err), 0);
    assert_string_equal(p, "");
    assert_string_equal(m, "");
    free(p);
    free(m);
    assert_int_equal(registry_count(root), 0);

    char *opts[] = {"user:me_u", "role:my_r", "type:spc_t", "filetype:my_file_t", NULL};
    assert_int_equal(label_allocate_from(root, nosel, opts, &p, &m, &err), 0);
    assert_true(starts_with(p, "me_u:my_r:spc_t:s0:c"));
    assert_true(starts_with(m, "me_u:object_r:my_file_t:s0:c"));
    assert_string_equal(strstr(p, ":s0:"), strstr(m, ":s0:"));
    assert_int_equal(registry_count(root), 1);
    assert_int_equal(label_release(root, p, &err), 0);
    free(p);
    free(m);

    char *lvl[] = {"level:s0-s0:c0.c1023", NULL};
    assert_int_equal(label_allocate_from(root, nosel, lvl, &p, &m, &err), 0);
    assert_string_equal(p, "system_u:system_r:container_t:s0-s0:c0.c1023");
    assert_string_equal(m, "system_u:object_r:container_file_t:s0-s0:c0.c1023");
    free(p);
    free(m);

    char *bad[] = {"type:spc_t", "nope", NULL};
    assert_int_equal(label_allocate_from(root, nosel, bad, &p, &m, &err), -EINVAL);
    assert_null(p);
    assert_null(m);
    berth_error_freep(&err);
    assert_int_equal(registry_count(root), 0);
    rm_tree(root);
}

/* ------------------------------------------------------------------ relabel */

/* The bind options that ask for a relabel are options, not filesystem data. */
static void test_relabel_options(void **state)
{
    struct berth_error *err = NULL;
    struct mnt_opts o;
    char *z[] = {"rbind", "z", "ro", NULL};
    assert_int_equal(mnt_parse_options(z, "mounts[0]", &o, &err), 0);
    assert_true(o.relabel_shared);
    assert_false(o.relabel_private);
    assert_null(o.data);
    mnt_opts_clear(&o);
    char *Z[] = {"Z", "bind", NULL};
    assert_int_equal(mnt_parse_options(Z, "mounts[0]", &o, &err), 0);
    assert_false(o.relabel_shared);
    assert_true(o.relabel_private);
    assert_null(o.data);
    mnt_opts_clear(&o);
    char *both[] = {"bind", "z", "Z", NULL};
    assert_int_equal(mnt_parse_options(both, "mounts[2]", &o, &err), -EINVAL);
    assert_string_equal(err->msg, "mounts[2].options: \"z\" and \"Z\" cannot both be given");
    berth_error_freep(&err);
}

static void test_relabel_refused(void **state)
{
    static const char *const system[] = {
        "/",      "/bin", "/boot", "/dev",  "/etc",  "/home",       "/lib",   "/lib64",
        "/media", "/opt", "/proc", "/root", "/run",  "/sbin",       "/srv",   "/sys",
        "/tmp",   "/usr", "/var",  "/usr/", "//etc", "/var/../etc", "/./opt",
    };
    _cleanup_free_ char *dir = make_tmp();
    _cleanup_free_ char *passwd = xasprintf("%s/passwd", dir);
    write_text(passwd, "root:x:0:0:root:/root:/bin/sh\n"
                       "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
                       "svc:x:998:998::/srv/svc/:/usr/sbin/nologin\n"
                       "odd:x:997:997\n"
                       "nohome:x:996:996:::/bin/false\n");
    struct berth_error *err = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(system); i++) {
        assert_int_equal(label_relabel_allowed(system[i], passwd, &err), -EINVAL);
        if (!strstr(err->msg, "refused") || !strstr(err->msg, "is a system directory"))
            fail_msg("%s: %s", system[i], err->msg);
        berth_error_freep(&err);
    }
    assert_int_equal(label_relabel_allowed("/home/alice", passwd, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "relabel /home/alice: refused: /home/alice is the home "
                                     "directory of user \"alice\""));
    berth_error_freep(&err);
    assert_int_equal(label_relabel_allowed("/srv//svc", passwd, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "user \"svc\""));
    berth_error_freep(&err);
    /* Below a home directory, or next to one, is the user's business. */
    assert_int_equal(label_relabel_allowed("/home/alice/project", passwd, &err), 0);
    assert_int_equal(label_relabel_allowed("/home/alicea", passwd, &err), 0);
    assert_int_equal(label_relabel_allowed("/srv/data", passwd, &err), 0);
    assert_int_equal(label_relabel_allowed(dir, passwd, &err), 0);
    /* A symlink to a system directory is judged by where it leads. */
    _cleanup_free_ char *link = xasprintf("%s/etc-link", dir);
    assert_int_equal(symlink("/etc", link), 0);
    assert_int_equal(label_relabel_allowed(link, passwd, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "/etc is a system directory"));
    berth_error_freep(&err);
    rm_tree(dir);

    /* The same through label_relabel_fd, which checks even what an fd was opened on. */
    setenv(LABEL_FORCE_ENV, "1", 1);
    int fd = open("/etc", O_PATH | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(label_relabel_fd(fd, "/some/where", FILE_L, false, NULL, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "relabel /etc: refused"));
    berth_error_freep(&err);
    assert_int_equal(label_relabel("/usr", FILE_L, true, &err), -EINVAL);
    berth_error_freep(&err);
    close(fd);
    unsetenv(LABEL_FORCE_ENV);
}

struct tree {
    char *top, *outside, *canary, *canary_dir;
};

static void make_tree(struct tree *t)
{
    t->outside = make_tmp();
    t->top = xasprintf("%s/top", t->outside);
    t->canary = xasprintf("%s/canary", t->outside);
    t->canary_dir = xasprintf("%s/canary-dir", t->outside);
    const char *dirs[] = {"", "/sub", "/sub/deep", "/empty"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        _cleanup_free_ char *d = xasprintf("%s%s", t->top, dirs[i]);
        assert_int_equal(mkdir(d, 0755), 0);
    }
    const char *files[] = {"/a", "/sub/b", "/sub/deep/c"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *f = xasprintf("%s%s", t->top, files[i]);
        write_text(f, "x");
    }
    _cleanup_free_ char *fifo = xasprintf("%s/sub/fifo", t->top);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    write_text(t->canary, "canary");
    assert_int_equal(mkdir(t->canary_dir, 0755), 0);
    lset(t->canary, CANARY);
    lset(t->canary_dir, CANARY);
    _cleanup_free_ char *l1 = xasprintf("%s/link", t->top);
    _cleanup_free_ char *l2 = xasprintf("%s/sub/dirlink", t->top);
    _cleanup_free_ char *l3 = xasprintf("%s/sub/dangling", t->top);
    assert_int_equal(symlink(t->canary, l1), 0);
    assert_int_equal(symlink(t->canary_dir, l2), 0);
    assert_int_equal(symlink("/nonexistent/x", l3), 0);
}

static void free_tree(struct tree *t)
{
    rm_tree(t->outside);
    free(t->top);
    free(t->outside);
    free(t->canary);
    free(t->canary_dir);
}

static const char *const tree_entries[] = {
    "",          "/sub",  "/sub/deep",    "/empty",        "/a", "/sub/b", "/sub/deep/c",
    "/sub/fifo", "/link", "/sub/dirlink", "/sub/dangling",
};

static void assert_tree(const struct tree *t, const char *want)
{
    for (size_t i = 0; i < ARRAY_SIZE(tree_entries); i++) {
        _cleanup_free_ char *p = xasprintf("%s%s", t->top, tree_entries[i]);
        assert_label(p, want);
    }
    /* Nothing a symlink points at was touched. */
    assert_label(t->canary, CANARY);
    assert_label(t->canary_dir, CANARY);
}

static void test_relabel_tree(void **state)
{
    if (!xattrs_usable())
        skip();
    setenv(LABEL_FORCE_ENV, "1", 1);
    struct tree t;
    make_tree(&t);
    struct berth_error *err = NULL;

    /* Z: the container's own label. */
    if (label_relabel(t.top, FILE_L, false, &err) != 0)
        fail_msg("%s", err->msg);
    assert_tree(&t, FILE_L);

    /* z: the shared label, level s0. */
    assert_int_equal(label_relabel(t.top, FILE_L, true, &err), 0);
    assert_tree(&t, SHARED);

    /* A tree whose top has the label already is left alone. */
    _cleanup_free_ char *b = xasprintf("%s/sub/b", t.top);
    lset(b, CANARY);
    assert_int_equal(label_relabel(t.top, FILE_L, true, &err), 0);
    assert_label(b, CANARY);
    /* ...and a different label redoes all of it. */
    assert_int_equal(label_relabel(t.top, PROC_L, false, &err), 0);
    assert_tree(&t, PROC_L);

    /* Through a symlink to the top, as a bind source may be given. */
    _cleanup_free_ char *via = xasprintf("%s/via", t.outside);
    assert_int_equal(symlink(t.top, via), 0);
    assert_int_equal(label_relabel(via, FILE_L, false, &err), 0);
    assert_tree(&t, FILE_L);
    assert_label(via, "");

    /* A single file. */
    assert_int_equal(label_relabel(b, CANARY, false, &err), 0);
    assert_label(b, CANARY);

    /* No label, nothing done. */
    assert_int_equal(label_relabel(t.top, "", false, &err), 0);
    assert_int_equal(label_relabel(t.top, NULL, true, &err), 0);
    assert_label(t.top, FILE_L);

    /* Without the switch (and without SELinux) nothing is written. */
    unsetenv(LABEL_FORCE_ENV);
    if (!label_selinux_enabled()) {
        assert_int_equal(label_relabel(t.top, PROC_L, false, &err), 0);
        assert_label(t.top, FILE_L);
        assert_int_equal(label_relabel_allowed("/etc", NULL, &err), -EINVAL);
        berth_error_freep(&err);
    }
    assert_null(err);
    free_tree(&t);
}

/* A mount inside the tree is not entered. */
static void test_relabel_stops_at_mounts(void **state)
{
    if (!xattrs_usable() || unshare(CLONE_NEWNS) != 0)
        skip();
    setenv(LABEL_FORCE_ENV, "1", 1);
    _cleanup_free_ char *top = make_tmp();
    _cleanup_free_ char *sub = xasprintf("%s/mnt", top);
    _cleanup_free_ char *src = make_tmp();
    _cleanup_free_ char *inner = xasprintf("%s/inner", src);
    write_text(inner, "x");
    lset(inner, CANARY);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    assert_int_equal(mount(src, sub, NULL, MS_BIND, NULL), 0);
    struct berth_error *err = NULL;
    assert_int_equal(label_relabel(top, FILE_L, false, &err), 0);
    assert_label(top, FILE_L);
    assert_label(inner, CANARY);
    assert_int_equal(umount2(sub, MNT_DETACH), 0);
    rm_tree(top);
    rm_tree(src);
    unsetenv(LABEL_FORCE_ENV);
}

/* ------------------------------------------------------------------ file labels */

static void test_file_labels(void **state)
{
    if (!xattrs_usable())
        skip();
    _cleanup_free_ char *dir = make_tmp();
    _cleanup_free_ char *f = xasprintf("%s/resolv.conf", dir);
    _cleanup_free_ char *l = xasprintf("%s/hosts", dir);
    write_text(f, "nameserver 127.0.0.1\n");
    assert_int_equal(symlink(f, l), 0);
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct berth_error *err = NULL;

    /* Off: nothing written. */
    unsetenv(LABEL_FORCE_ENV);
    if (!label_selinux_enabled()) {
        assert_int_equal(label_file_at(dfd, "resolv.conf", FILE_L, &err), 0);
        assert_label(f, "");
    }
    setenv(LABEL_FORCE_ENV, "1", 1);
    assert_int_equal(label_file_at(dfd, "resolv.conf", FILE_L, &err), 0);
    assert_label(f, FILE_L);
    /* A symlink is labelled itself, its target keeps its own label. */
    assert_int_equal(label_file_at(dfd, "hosts", CANARY, &err), 0);
    assert_label(l, CANARY);
    assert_label(f, FILE_L);
    assert_int_equal(label_file_at(dfd, "missing", FILE_L, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "label missing: open"));
    berth_error_freep(&err);

    /* O_PATH, O_RDONLY fds and a read back. */
    _cleanup_close_ int pfd = open(f, O_PATH | O_CLOEXEC);
    assert_int_equal(label_set_fd(pfd, PROC_L, &err), 0);
    char *got = NULL;
    assert_int_equal(label_get_fd(pfd, &got, &err), 0);
    assert_string_equal(got, PROC_L);
    free(got);
    _cleanup_close_ int rfd = open(f, O_RDONLY | O_CLOEXEC);
    assert_int_equal(label_set_fd(rfd, FILE_L, &err), 0);
    assert_int_equal(label_get_fd(rfd, &got, &err), 0);
    assert_string_equal(got, FILE_L);
    free(got);
    _cleanup_close_ int lfd = open(l, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    assert_int_equal(label_get_fd(lfd, &got, &err), 0);
    assert_string_equal(got, CANARY);
    free(got);

    /* The pty of a console: devpts holds no labels without SELinux, which is let pass. */
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m >= 0) {
        int unlock = 0;
        ioctl(m, TIOCSPTLCK, &unlock);
        int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(peer >= 0);
        int r = label_file_fd(peer, FILE_L, &err);
        if (r != 0)
            fail_msg("%s", err->msg);
        if (!label_selinux_enabled())
            assert_int_equal(label_set_fd(peer, FILE_L, &err), -EOPNOTSUPP);
        berth_error_freep(&err);
        close(peer);
        close(m);
    }
    unsetenv(LABEL_FORCE_ENV);
    rm_tree(dir);
}

static void test_process_labels(void **state)
{
    struct berth_error *err = NULL;
    /* No label: nothing written anywhere. */
    assert_int_equal(label_set_exec(NULL, &err), 0);
    assert_int_equal(label_set_exec("", &err), 0);
    assert_null(err);
    if (label_selinux_enabled())
        return;
    /* Without SELinux the kernel has nothing to take the label: the error says where. */
    int r = label_set_exec(PROC_L, &err);
    assert_true(r < 0);
    assert_non_null(strstr(err->msg, "process.selinuxLabel: "));
    assert_non_null(strstr(err->msg, "/proc/thread-self/attr/exec"));
    berth_error_freep(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mount_data),      cmocka_unit_test(test_mount_types),
        cmocka_unit_test(test_parse_valid),     cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_shared_and_pair), cmocka_unit_test(test_check_spec),
        cmocka_unit_test(test_options),         cmocka_unit_test(test_read_contexts),
        cmocka_unit_test(test_allocate_unique), cmocka_unit_test(test_allocate_options),
        cmocka_unit_test(test_relabel_options), cmocka_unit_test(test_relabel_refused),
        cmocka_unit_test(test_relabel_tree),    cmocka_unit_test(test_file_labels),
        cmocka_unit_test(test_process_labels),  cmocka_unit_test(test_relabel_stops_at_mounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
