/* The lifecycle's small parsers: container ids, signals, exec -u. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "berth/error.h"
#include "container/container.h"
#include "container/state.h"

static void test_ids(void **state)
{
    static const char *const good[] = {"a", "web", "A-b_c.d+e", "0123456789", NULL};
    for (size_t i = 0; good[i]; i++) {
        struct berth_error *err = NULL;
        assert_int_equal(container_validate_id(good[i], &err), 0);
        assert_null(err);
    }
    static const struct {
        const char *id, *msg;
    } bad[] = {
        {"", "container id must not be empty"},
        {".", "invalid container id \".\""},
        {"..", "invalid container id \"..\""},
        {"a/b", "invalid container id \"a/b\": only letters, digits and _+-. are allowed"},
        {"../x", "invalid container id \"../x\": only letters, digits and _+-. are allowed"},
        {"a b", "invalid container id \"a b\": only letters, digits and _+-. are allowed"},
        {"é", "invalid container id \"é\": only letters, digits and _+-. are allowed"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct berth_error *err = NULL;
        assert_true(container_validate_id(bad[i].id, &err) < 0);
        assert_string_equal(err->msg, bad[i].msg);
        berth_error_free(err);
    }
    char longid[1100];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    struct berth_error *err = NULL;
    assert_true(container_validate_id(longid, &err) < 0);
    berth_error_free(err);
}

static void test_signals(void **state)
{
    static const struct {
        const char *s;
        int sig;
    } good[] = {
        {"9", SIGKILL},      {"KILL", SIGKILL},   {"SIGKILL", SIGKILL}, {"sigterm", SIGTERM},
        {"term", SIGTERM},   {"HUP", SIGHUP},     {"0", 0},             {"USR1", SIGUSR1},
        {"RTMIN+1", 0 /* computed below */},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int sig = -1;
        struct berth_error *err = NULL;
        assert_int_equal(container_parse_signal(good[i].s, &sig, &err), 0);
        if (strcmp(good[i].s, "RTMIN+1") == 0)
            assert_int_equal(sig, SIGRTMIN + 1);
        else
            assert_int_equal(sig, good[i].sig);
    }
    static const char *const bad[] = {"", "NOPE", "-1", "65", "9x", "SIG", "RTMIN+99"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int sig = -1;
        struct berth_error *err = NULL;
        assert_true(container_parse_signal(bad[i], &sig, &err) < 0);
        assert_non_null(err);
        berth_error_free(err);
    }
}

static void test_exec_user(void **state)
{
    uint32_t uid, gid;
    bool has_gid;
    assert_int_equal(container_parse_user("1", &uid, &gid, &has_gid, NULL), 0);
    assert_int_equal(uid, 1);
    assert_false(has_gid);
    assert_int_equal(container_parse_user("1000:1001", &uid, &gid, &has_gid, NULL), 0);
    assert_int_equal(uid, 1000);
    assert_int_equal(gid, 1001);
    assert_true(has_gid);
    static const char *const bad[] = {"", ":", "1:", ":1", "-1", "0x1", "4294967296",
                                      "4294967295", "1a", "root", "1:2:3", " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct berth_error *err = NULL;
        assert_true(container_parse_user(bad[i], &uid, &gid, &has_gid, &err) < 0);
        assert_non_null(strstr(err->msg, "--user"));
        berth_error_free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_exec_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
