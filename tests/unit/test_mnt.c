#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "berth/error.h"
#include "linux/mnt.h"
#include "util/cleanup.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static void parse(char **opts, struct mnt_opts *o)
{
    struct berth_error *err = NULL;
    assert_int_equal(mnt_parse_options(opts, "mounts[0]", o, &err), 0);
    assert_null(err);
}

static void test_flags_and_data(void **state)
{
    struct mnt_opts o;
    char *opts[] = {"nosuid", "ro", "size=1m", "rw", "mode=755", "nodev", "", NULL};
    parse(opts, &o);
    assert_int_equal(o.flags, MS_NOSUID | MS_NODEV);
    assert_string_equal(o.data, "size=1m,mode=755");
    /* "rw" after "ro" clears the flag and asks a bind to drop a read-only source's. */
    assert_true(o.attr_clr & MOUNT_ATTR_RDONLY);
    assert_false(o.attr_set & MOUNT_ATTR_RDONLY);
    assert_true((o.attr_set & (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) ==
                (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    mnt_opts_clear(&o);
}

static void test_bind_propagation_and_extensions(void **state)
{
    struct mnt_opts o;
    char *opts[] = {"rbind", "rslave", "tmpcopyup", "ridmap", NULL};
    parse(opts, &o);
    assert_true(o.bind && o.recursive);
    assert_int_equal(o.propagation, MS_SLAVE | MS_REC);
    assert_true(o.tmpcopyup && o.ridmap && !o.idmap);
    assert_null(o.data);
    mnt_opts_clear(&o);
}

/* mount_setattr takes one atime mode and wants the whole field cleared to set it. */
static void test_recursive_atime(void **state)
{
    static const struct {
        const char *opt;
        uint64_t mode;
    } cases[] = {
        {"rnoatime", MOUNT_ATTR_NOATIME},        {"rstrictatime", MOUNT_ATTR_STRICTATIME},
        {"rrelatime", MOUNT_ATTR_RELATIME},      {"ratime", MOUNT_ATTR_RELATIME},
        {"rnostrictatime", MOUNT_ATTR_RELATIME}, {"rnorelatime", MOUNT_ATTR_STRICTATIME},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mnt_opts o;
        char *opts[] = {"rbind", "rnodev", (char *)cases[i].opt, NULL};
        parse(opts, &o);
        assert_int_equal(o.rattr_set & MOUNT_ATTR__ATIME, cases[i].mode);
        assert_int_equal(o.rattr_clr & MOUNT_ATTR__ATIME, MOUNT_ATTR__ATIME);
        assert_true(o.rattr_set & MOUNT_ATTR_NODEV);
        mnt_opts_clear(&o);
    }
    /* The last one wins. */
    struct mnt_opts o;
    char *opts[] = {"rstrictatime", "rnoatime", NULL};
    parse(opts, &o);
    assert_int_equal(o.rattr_set & MOUNT_ATTR__ATIME, MOUNT_ATTR_NOATIME);
    mnt_opts_clear(&o);
}

static void test_recursive_set_and_clear(void **state)
{
    struct mnt_opts o;
    char *opts[] = {"rro", "rnosuid", "rrw", "rexec", NULL};
    parse(opts, &o);
    assert_int_equal(o.rattr_set, MOUNT_ATTR_NOSUID);
    assert_int_equal(o.rattr_clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC);
    mnt_opts_clear(&o);
}

static void test_flags_text(void **state)
{
    _cleanup_free_ char *a = mnt_flags_text(MS_BIND | MS_REC | MS_RDONLY);
    assert_string_equal(a, "MS_RDONLY|MS_BIND|MS_REC");
    _cleanup_free_ char *b = mnt_flags_text(0);
    assert_string_equal(b, "0");
}

static bool can_mount(void)
{
    return geteuid() == 0;
}

static void test_new_detached(void **state)
{
    if (!can_mount())
        skip();
    struct berth_error *err = NULL;
    _cleanup_close_ int mnt =
        mnt_new_detached("tmpfs", "berth-test", "size=1m,mode=0710,uid=7", MS_DIRSYNC, &err);
    if (mnt < 0 && err && err->code == EPERM) {
        berth_error_free(err);
        skip();
    }
    assert_null(err);
    assert_true(mnt >= 0);
    _cleanup_close_ int dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir >= 0);
    struct stat st;
    assert_int_equal(fstat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0710);
    assert_int_equal(st.st_uid, 7);
    struct statfs sfs;
    assert_int_equal(fstatfs(dir, &sfs), 0);
    assert_int_equal(sfs.f_type, TMPFS_MAGIC);
    assert_int_equal((unsigned long)sfs.f_blocks * sfs.f_bsize, 1 << 20);
    /* Detached, and writable until the caller says otherwise. */
    assert_int_equal(mkdirat(dir, "x", 0700), 0);
}

/* Quoted values keep their commas and lose their quotes, as mount(2) data would. */
static void test_new_detached_quoted_and_bad(void **state)
{
    if (!can_mount())
        skip();
    struct berth_error *err = NULL;
    int fd = mnt_new_detached("tmpfs", NULL, "size=\"1m\",mode=\"0700\"", 0, &err);
    if (fd < 0 && err && err->code == EPERM) {
        berth_error_free(err);
        skip();
    }
    assert_true(fd >= 0);
    close(fd);
    fd = mnt_new_detached("tmpfs", NULL, "size=nonsense", 0, &err);
    assert_int_equal(fd, -EINVAL);
    assert_non_null(strstr(err->msg, "option \"size\" of tmpfs"));
    assert_non_null(strstr(err->msg, "Invalid argument"));
    berth_error_freep(&err);
    fd = mnt_new_detached("no-such-fs", NULL, NULL, 0, &err);
    assert_int_equal(fd, -ENODEV);
    assert_non_null(strstr(err->msg, "fsopen no-such-fs"));
    berth_error_freep(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_and_data),
        cmocka_unit_test(test_bind_propagation_and_extensions),
        cmocka_unit_test(test_recursive_atime),
        cmocka_unit_test(test_recursive_set_and_clear),
        cmocka_unit_test(test_flags_text),
        cmocka_unit_test(test_new_detached),
        cmocka_unit_test(test_new_detached_quoted_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
