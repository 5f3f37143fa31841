#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include "berth/error.h"

static void test_set_with_errno(void **state)
{
    struct berth_error *err = NULL;
    int r = berth_error_set(&err, ENOENT, "open %s", "/x");
    assert_int_equal(r, -ENOENT);
    assert_string_equal(err->msg, "open /x: No such file or directory");
    assert_int_equal(err->code, ENOENT);
    berth_error_free(err);
}

static void test_set_plain_is_einval(void **state)
{
    struct berth_error *err = NULL;
    assert_int_equal(berth_error_set(&err, 0, "bad %d", 3), -EINVAL);
    assert_string_equal(err->msg, "bad 3");
    berth_error_free(err);
}

static void test_first_cause_wins_and_prefix(void **state)
{
    struct berth_error *err = NULL;
    berth_error_set(&err, EPERM, "mount");
    berth_error_set(&err, EIO, "later");
    assert_int_equal(berth_error_prefix(&err, "rootfs %s", "/r"), -EPERM);
    assert_string_equal(err->msg, "rootfs /r: mount: Operation not permitted");
    berth_error_free(err);
}

static void test_null_err(void **state)
{
    assert_int_equal(berth_error_set(NULL, EBUSY, "x"), -EBUSY);
    assert_int_equal(berth_error_prefix(NULL, "x"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_with_errno),
        cmocka_unit_test(test_set_plain_is_einval),
        cmocka_unit_test(test_first_cause_wins_and_prefix),
        cmocka_unit_test(test_null_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
