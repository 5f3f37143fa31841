/* container/state: the RFC 3339 timestamps of state.json, against the C library's own
 * conversion over dates that test the calendar (leap years, century rules, before 1970). */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_dates),
        cmocka_unit_test(test_every_day_like_libc),
        cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
