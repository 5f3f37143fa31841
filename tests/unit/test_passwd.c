#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/error.h"
#include "engine/passwd.h"
#include "util/fs.h"

struct tree {
    char path[64];
    int fd;
};

static void put(int dfd, const char *name, const char *text)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    strcpy(t->path, "/tmp/berth-passwd-XXXXXX");
    assert_non_null(mkdtemp(t->path));
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(mkdirat(t->fd, "etc", 0755), 0);
    int etc = openat(t->fd, "etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    put(etc, "passwd",
        "root:x:0:0:root:/root:/bin/sh\n"
        "# a comment line\n"
        "broken line\n"
        "app:x:1000:1001:app:/home/app:/bin/sh\n"
        "weird:x:notanumber:1:w:/:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/:/bin/false\n");
    put(etc, "group", "root:x:0:\nappgrp:x:1001:\nextra:x:2002:app\n");
    close(etc);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    struct berth_error *err = NULL;
    close(t->fd);
    fs_remove_tree_at(AT_FDCWD, t->path, &err);
    berth_error_free(err);
    free(t);
    return 0;
}

static void resolves(int fd, const char *user, uint32_t uid, uint32_t gid)
{
    uint32_t u = 99, g = 99;
    struct berth_error *err = NULL;
    int r = passwd_resolve(fd, user, &u, &g, &err);
    if (r < 0)
        fail_msg("%s: %s", user ? user : "(null)", err->msg);
    assert_int_equal(u, uid);
    assert_int_equal(g, gid);
}

static void refused(int fd, const char *user, const char *want)
{
    uint32_t u, g;
    struct berth_error *err = NULL;
    assert_true(passwd_resolve(fd, user, &u, &g, &err) < 0);
    if (!strstr(err->msg, want))
        fail_msg("%s: \"%s\" lacks \"%s\"", user, err->msg, want);
    berth_error_free(err);
}

static void test_forms(void **state)
{
    struct tree *t = *state;
    resolves(t->fd, NULL, 0, 0);
    resolves(t->fd, "", 0, 0);
    resolves(t->fd, "app", 1000, 1001);
    resolves(t->fd, "1000", 1000, 1001); /* listed: its primary group */
    resolves(t->fd, "4242", 4242, 0);    /* not listed: group 0 */
    resolves(t->fd, "app:extra", 1000, 2002);
    resolves(t->fd, "app:7", 1000, 7);
    resolves(t->fd, "0:appgrp", 0, 1001);
    resolves(t->fd, "nobody", 65534, 65534);
    resolves(t->fd, "2147483647", 2147483647, 0);
    refused(t->fd, "nosuch", "no user nosuch");
    refused(t->fd, "weird", "no user weird");
    refused(t->fd, "app:nogroup", "no group nogroup");
    refused(t->fd, ":1", "expected");
    refused(t->fd, "app:", "expected");
    refused(t->fd, "2147483648", "no user 2147483648"); /* out of range: taken as a name */
}

static void test_no_files(void **state)
{
    struct tree *t = *state;
    int empty = openat(t->fd, "empty", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (empty < 0) {
        assert_int_equal(mkdirat(t->fd, "empty", 0755), 0);
        empty = openat(t->fd, "empty", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    resolves(empty, "12:34", 12, 34);
    resolves(empty, "12", 12, 0);
    refused(empty, "app", "no user app");
    close(empty);
}

static void test_symlink_stays_inside(void **state)
{
    struct tree *t = *state;
    /* A root whose /etc/passwd is an absolute symlink, and one climbing out with "..": both
     * resolve inside the root, never to the host's files. */
    assert_int_equal(mkdirat(t->fd, "r", 0755), 0);
    int r = openat(t->fd, "r", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(mkdirat(r, "etc", 0755), 0);
    assert_int_equal(mkdirat(r, "data", 0755), 0);
    int data = openat(r, "data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    put(data, "pw", "inside:x:77:88::/:/bin/sh\n");
    close(data);
    assert_int_equal(symlinkat("/data/pw", r, "etc/passwd"), 0);
    assert_int_equal(symlinkat("../../../../../../etc/passwd", r, "etc/group"), 0);
    resolves(r, "inside", 77, 88);
    refused(r, "root", "no user root");
    /* etc/group leads to the root's /etc/passwd (no root there), not the host's */
    refused(r, "0:root", "no group root");
    close(r);
}

static void test_not_regular_or_too_big(void **state)
{
    struct tree *t = *state;
    assert_int_equal(mkdirat(t->fd, "f", 0755), 0);
    int f = openat(t->fd, "f", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(mkdirat(f, "etc", 0755), 0);
    /* A fifo would block a reader forever: refused before it is opened for reading. */
    assert_int_equal(mkfifoat(f, "etc/passwd", 0644), 0);
    refused(f, "app", "not a regular file");
    resolves(f, "5:6", 5, 6);              /* numbers alone need no file */
    refused(f, "5", "not a regular file"); /* the primary group is looked up */
    close(f);

    assert_int_equal(mkdirat(t->fd, "big", 0755), 0);
    int b = openat(t->fd, "big", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(mkdirat(b, "etc", 0755), 0);
    int fd = openat(b, "etc/passwd", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_int_equal(ftruncate(fd, PASSWD_MAX_FILE + 1), 0);
    close(fd);
    refused(b, "app", "over");
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_stays_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular_or_too_big, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
