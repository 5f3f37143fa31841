/* container/state: the RFC 3339 timestamps of state.json, against the C library's own
 * conversion over dates that test the calendar (leap years, century rules, before 1970); and the
 * way state.json is replaced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container/state.h"
#include "berth/error.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static void expect_like_libc(time_t t, long nsec)
{
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    char date[64], want[96];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(want, sizeof(want), "%s.%09ldZ", date, nsec);
    struct timespec ts = {.tv_sec = t, .tv_nsec = nsec};
    char *got = container_timestamp(&ts);
    if (strcmp(got, want) != 0)
        fail_msg("%lld: got %s, want %s", (long long)t, got, want);
    free(got);
}

static void test_known_dates(void **state)
{
    struct {
        time_t t;
        long nsec;
        const char *text;
    } cases[] = {
        {0, 0, "1970-01-01T00:00:00.000000000Z"},
        {951782400, 1, "2000-02-29T00:00:00.000000001Z"},          /* a 400-year leap day */
        {4107542399, 999999999, "2100-02-28T23:59:59.999999999Z"}, /* 2100 is not leap */
        {4107542400, 0, "2100-03-01T00:00:00.000000000Z"},
        {-1, 500, "1969-12-31T23:59:59.000000500Z"},
        {-2208988800, 0, "1900-01-01T00:00:00.000000000Z"},
        {1709251199, 42, "2024-02-29T23:59:59.000000042Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct timespec ts = {.tv_sec = cases[i].t, .tv_nsec = cases[i].nsec};
        char *got = container_timestamp(&ts);
        assert_string_equal(got, cases[i].text);
        free(got);
    }
}

static void test_every_day_like_libc(void **state)
{
    /* Each day from 1800 to 2400 at a time of day that moves, and a pseudo-random spread. */
    for (long long t = -5364662400LL; t < 13569465600LL; t += 86400 + 3607)
        expect_like_libc((time_t)t, (long)(t & 0x3fffffff) % 1000000000L);
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        expect_like_libc((time_t)(long long)(x % 20000000000ULL) - 5000000000LL, 0);
    }
}

static void test_now(void **state)
{
    char *a = container_timestamp_now();
    assert_int_equal(strlen(a), strlen("1970-01-01T00:00:00.000000000Z"));
    assert_true(strncmp(a, "20", 2) == 0);
    assert_int_equal(a[strlen(a) - 1], 'Z');
    free(a);
}

/* The directory's only entry is name, holding want. */
static void expect_only(int dfd, const char *name, const char *want)
{
    DIR *d = fdopendir(dup(dfd));
    assert_non_null(d);
    rewinddir(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (strcmp(e->d_name, name) != 0)
            fail_msg("unexpected entry %s", e->d_name);
    }
    closedir(d);
    assert_int_equal(n, 1);
    char *text = NULL;
    assert_int_equal(fs_read_file_at(dfd, name, 1024, &text, NULL, NULL), 0);
    assert_string_equal(text, want);
    free(text);
}

/* Whatever `exists` says, the file ends up holding the new text and nothing else is left. */
static void test_state_file_replaced(void **state)
{
    (void)state;
    char dir[] = "/tmp/berth-test-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    assert_int_equal(fs_replace_file_at(dfd, "state.json", "one", 3, 0600, false, NULL), 0);
    expect_only(dfd, "state.json", "one");
    assert_int_equal(fs_replace_file_at(dfd, "state.json", "two!", 4, 0600, true, NULL), 0);
    expect_only(dfd, "state.json", "two!");
    assert_int_equal(fs_replace_file_at(dfd, "state.json", "3", 1, 0600, false, NULL), 0);
    expect_only(dfd, "state.json", "3");
    assert_int_equal(unlinkat(dfd, "state.json", 0), 0);
    assert_int_equal(fs_replace_file_at(dfd, "state.json", "four", 4, 0600, true, NULL), 0);
    expect_only(dfd, "state.json", "four");
    struct berth_error *err = NULL;
    assert_int_equal(fs_replace_file_at(dfd, "missing/state.json", "x", 1, 0600, true, &err),
                     -ENOENT);
    assert_non_null(strstr(err->msg, "missing/"));
    berth_error_free(err);
    expect_only(dfd, "state.json", "four");
    assert_int_equal(unlinkat(dfd, "state.json", 0), 0);
    close(dfd);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_dates),
        cmocka_unit_test(test_every_day_like_libc),
        cmocka_unit_test(test_now),
        cmocka_unit_test(test_state_file_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
