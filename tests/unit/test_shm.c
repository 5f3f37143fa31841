#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/error.h"
#include "engine/shm.h"
#include "util/mem.h"

static void test_parse_size(void **state)
{
    struct {
        const char *s;
        uint64_t want;
    } good[] = {
        {"1", 1},
        {"512b", 512},
        {"64k", 64 << 10},
        {"64K", 64 << 10},
        {"64m", 64 << 20},
        {"64mb", 64 << 20},
        {"64MiB", 64 << 20},
        {"1g", 1ULL << 30},
        {"2GB", 2ULL << 30},
        {"1t", 1ULL << 40},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        uint64_t v = 0;
        assert_int_equal(shm_parse_size(good[i].s, &v, NULL), 0);
        assert_int_equal(v, good[i].want);
    }
    const char *bad[] = {"",         "0",    "0m",   "m",    "-1",
                         "64x",      "64mm", "64bb", "1.5g", "99999999999999999999",
                         "20000000t"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        uint64_t v;
        struct berth_error *err = NULL;
        if (shm_parse_size(bad[i], &v, &err) != -EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_non_null(strstr(err->msg, "--shm-size"));
        berth_error_free(err);
    }
    uint64_t v;
    assert_int_equal(shm_parse_size(NULL, &v, NULL), -EINVAL);
}

static void test_parse_ipc(void **state)
{
    enum shm_ipc_mode m;
    const char *c;
    assert_int_equal(shm_parse_ipc(NULL, &m, &c, NULL), 0);
    assert_int_equal(m, SHM_IPC_PRIVATE);
    assert_int_equal(shm_parse_ipc("shareable", &m, &c, NULL), 0);
    assert_int_equal(m, SHM_IPC_SHAREABLE);
    assert_null(c);
    assert_int_equal(shm_parse_ipc("host", &m, &c, NULL), 0);
    assert_int_equal(m, SHM_IPC_HOST);
    assert_int_equal(shm_parse_ipc("container:web", &m, &c, NULL), 0);
    assert_int_equal(m, SHM_IPC_CONTAINER);
    assert_string_equal(c, "web");
    const char *bad[] = {"container:", "none", "Private", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(shm_parse_ipc(bad[i], &m, &c, NULL), -EINVAL);
    for (enum shm_ipc_mode k = SHM_IPC_PRIVATE; k <= SHM_IPC_CONTAINER; k++)
        assert_non_null(shm_ipc_mode_name(k));
}

static void test_options(void **state)
{
    char **o = shm_mount_options(67108864);
    const char *want[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=67108864", NULL};
    for (size_t i = 0; want[i]; i++)
        assert_string_equal(o[i], want[i]);
    assert_null(o[5]);
    strv_free(o);
}

static void test_is_mounted(void **state)
{
    char dir[] = "/tmp/berth-shm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(mkdirat(fd, "plain", 0700), 0);
    assert_false(shm_is_mounted(fd, "plain"));
    assert_false(shm_is_mounted(fd, "missing"));
    /* Nothing mounted: unmounting is no error. */
    char *p = xasprintf("%s/plain", dir);
    assert_int_equal(shm_unmount(p, NULL), 0);
    free(p);
    unlinkat(fd, "plain", AT_REMOVEDIR);
    close(fd);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_ipc),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_is_mounted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
