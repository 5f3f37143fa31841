/* linux/process: finding the command to exec, and the words of its errors, which engines match
 * to choose an exit status. */
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
#include "linux/process.h"
#include "spec/spec.h"
#include "util/mem.h"

/* BASE/bin/tool (0755), BASE/bin/data (0644), BASE/bin/dir/ */
struct tree {
    char base[64];
    char bin[128];
    char path_env[160];
};

static void touch(const char *dir, const char *name, mode_t mode)
{
    char *p = xasprintf("%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
    free(p);
}

static int setup(void **state)
{
    struct tree *t = xzalloc(sizeof(*t));
    snprintf(t->base, sizeof(t->base), "/tmp/berth-test-process.XXXXXX");
    assert_non_null(mkdtemp(t->base));
    snprintf(t->bin, sizeof(t->bin), "%s/bin", t->base);
    assert_int_equal(mkdir(t->bin, 0755), 0);
    touch(t->bin, "tool", 0755);
    touch(t->bin, "data", 0644);
    char *dir = xasprintf("%s/dir", t->bin);
    assert_int_equal(mkdir(dir, 0755), 0);
    free(dir);
    snprintf(t->path_env, sizeof(t->path_env), "PATH=/nonexistent:%s", t->bin);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    char *cmd = xasprintf("rm -rf '%s'", t->base);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(t);
    return 0;
}

/* Look NAME up with PATH_ENV (or no PATH at all); returns the result, fills *out or *err. */
static int find(const char *name, const char *path_env, char **out, struct berth_error **err)
{
    char *args[] = {(char *)name, NULL};
    char *env[] = {(char *)path_env, NULL};
    struct spec_process p = {.args = args, .env = path_env ? env : NULL};
    *out = NULL;
    return process_find_executable(&p, out, err);
}

static void test_absolute_path(void **state)
{
    struct tree *t = *state;
    char *name = xasprintf("%s/tool", t->bin), *out;
    struct berth_error *err = NULL;
    assert_int_equal(find(name, NULL, &out, &err), 0);
    assert_null(err);
    assert_string_equal(out, name);
    free(out);
    free(name);
}

static void test_missing_path_in_runc_words(void **state)
{
    struct tree *t = *state;
    char *name = xasprintf("%s/nope", t->bin), *out;
    char *want = xasprintf("exec: \"%s\": stat %s: no such file or directory", name, name);
    struct berth_error *err = NULL;
    assert_int_equal(find(name, NULL, &out, &err), -ENOENT);
    assert_null(out);
    assert_string_equal(err->msg, want);
    assert_int_equal(err->code, ENOENT);
    berth_error_free(err);
    free(want);
    free(name);
}

static void test_not_executable_is_permission_denied(void **state)
{
    struct tree *t = *state;
    /* A file without x bits, and a directory: both refused before start, as runc does. */
    const char *names[] = {"data", "dir"};
    for (size_t i = 0; i < 2; i++) {
        char *name = xasprintf("%s/%s", t->bin, names[i]), *out;
        char *want = xasprintf("exec: \"%s\": permission denied", name);
        struct berth_error *err = NULL;
        assert_int_equal(find(name, NULL, &out, &err), -EACCES);
        assert_string_equal(err->msg, want);
        assert_int_equal(err->code, EACCES);
        berth_error_free(err);
        free(want);
        free(name);
    }
}

static void test_found_along_path(void **state)
{
    struct tree *t = *state;
    char *out, *want = xasprintf("%s/tool", t->bin);
    struct berth_error *err = NULL;
    assert_int_equal(find("tool", t->path_env, &out, &err), 0);
    assert_string_equal(out, want);
    free(out);
    free(want);
}

static void test_not_found_along_path(void **state)
{
    struct tree *t = *state;
    /* "data" is there, but not executable: the search goes on past it, like the kernel's. */
    const char *names[] = {"data", "dir", "nope"};
    for (size_t i = 0; i < 3; i++) {
        char *out, *want = xasprintf("exec: \"%s\": executable file not found in $PATH", names[i]);
        struct berth_error *err = NULL;
        assert_int_equal(find(names[i], t->path_env, &out, &err), -ENOENT);
        assert_string_equal(err->msg, want);
        berth_error_free(err);
        free(want);
    }
}

static void test_first_error_is_kept(void **state)
{
    struct tree *t = *state;
    char *name = xasprintf("%s/nope", t->bin), *out;
    struct berth_error *err = NULL;
    berth_error_set(&err, EIO, "earlier");
    assert_int_equal(find(name, NULL, &out, &err), -ENOENT);
    assert_string_equal(err->msg, "earlier: Input/output error");
    assert_int_equal(err->code, EIO);
    berth_error_free(err);
    free(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_absolute_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_path_in_runc_words, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_executable_is_permission_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_found_along_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_along_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_error_is_kept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
