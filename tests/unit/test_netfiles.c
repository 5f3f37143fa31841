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
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/error.h"
#include "engine/netfiles.h"
#include "util/fs.h"

/* The text without its trailing comment block. */
static char *body(char *text)
{
    char *c = strstr(text, "\n# Generated");
    if (c)
        c[1] = '\0';
    return text;
}

static void test_resolv_drops_loopback(void **state)
{
    const char *host = "# comment\n"
                       "; another\n"
                       "nameserver 127.0.0.53\n"
                       "nameserver 10.0.0.2\n"
                       "nameserver ::1\n"
                       "nameserver 127.1.2.3\n"
                       "nameserver ::ffff:127.0.0.1\n"
                       "nameserver 2001:db8::1\n"
                       "domain old.example\n"
                       "search a.example b.example\n"
                       "options ndots:2\n"
                       "options timeout:1  \n"
                       "sortlist 10.0.0.0/8\n";
    char *t = netfiles_resolv_conf(host, "/etc/resolv.conf", NULL);
    assert_non_null(strstr(t, "from /etc/resolv.conf (loopback nameservers removed)"));
    assert_string_equal(body(t), "nameserver 10.0.0.2\n"
                                 "nameserver 2001:db8::1\n"
                                 "search a.example b.example\n"
                                 "options ndots:2 timeout:1\n"
                                 "sortlist 10.0.0.0/8\n\n");
    free(t);
}

static void test_resolv_defaults_when_only_loopback(void **state)
{
    char *t = netfiles_resolv_conf("nameserver 127.0.0.1\nsearch x\n", "/etc/resolv.conf", NULL);
    assert_non_null(strstr(t, "Google's public servers stand in"));
    assert_string_equal(body(t), "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch x\n\n");
    free(t);
    t = netfiles_resolv_conf(NULL, NULL, NULL);
    assert_non_null(strstr(t, "from no host file"));
    assert_string_equal(body(t), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n\n");
    free(t);
}

static void test_resolv_overrides(void **state)
{
    char *servers[] = {"127.0.0.1", "1.1.1.1", NULL};
    char *search[] = {".", "corp.example", NULL};
    char *options[] = {"rotate", NULL};
    struct netfiles_dns dns = {servers, search, options};
    char *t = netfiles_resolv_conf("nameserver 10.0.0.2\nsearch host.example\noptions ndots:5\n",
                                   "/etc/resolv.conf", &dns);
    /* --dns is taken as given: a loopback server the user names stays. */
    assert_non_null(strstr(t, "# Overrides: nameservers search options"));
    assert_string_equal(body(t), "nameserver 127.0.0.1\nnameserver 1.1.1.1\n"
                                 "search corp.example\noptions rotate\n\n");
    free(t);

    /* Only the search list given, and only ".": no search line at all. */
    char *dot[] = {".", NULL};
    struct netfiles_dns d2 = {NULL, dot, NULL};
    t = netfiles_resolv_conf("nameserver 10.0.0.2\nsearch host.example\noptions ndots:5\n",
                             "/etc/resolv.conf", &d2);
    assert_string_equal(body(t), "nameserver 10.0.0.2\noptions ndots:5\n\n");
    free(t);
}

static void test_resolv_stub(void **state)
{
    assert_true(netfiles_resolv_is_stub("# x\nnameserver 127.0.0.53\noptions edns0\n"));
    assert_false(netfiles_resolv_is_stub("nameserver 127.0.0.53\nnameserver 10.0.0.1\n"));
    assert_false(netfiles_resolv_is_stub("nameserver 10.0.0.1\n"));
    assert_false(netfiles_resolv_is_stub(""));
}

static void test_hosts(void **state)
{
    char *add[] = {"db:10.0.0.5", "v6:fd00::1", NULL};
    char *t = netfiles_hosts("web.example.org", add);
    assert_string_equal(t, "127.0.0.1\tlocalhost\n"
                           "::1\tlocalhost ip6-localhost ip6-loopback\n"
                           "fe00::0\tip6-localnet\n"
                           "ff00::0\tip6-mcastprefix\n"
                           "ff02::1\tip6-allnodes\n"
                           "ff02::2\tip6-allrouters\n"
                           "10.0.0.5\tdb\n"
                           "fd00::1\tv6\n"
                           "127.0.0.1\tweb.example.org web\n");
    free(t);
    t = netfiles_hosts("plain", NULL);
    assert_non_null(strstr(t, "ip6-allrouters\n127.0.0.1\tplain\n"));
    free(t);
    t = netfiles_hostname("plain");
    assert_string_equal(t, "plain\n");
    free(t);
}

static void test_checks(void **state)
{
    struct berth_error *err = NULL;
    const char *good[] = {"a", "web1", "web-1.example.org", "x.y", "0abc"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        assert_int_equal(netfiles_check_hostname(good[i], NULL), 0);
    const char *bad[] = {
        "",     "-a",  "a-",
        "a..b", ".a",  "a.",
        "a_b",  "a b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(netfiles_check_hostname(bad[i], NULL), -EINVAL);
    assert_int_equal(netfiles_check_hostname("a_b", &err), -EINVAL);
    assert_non_null(strstr(err->msg, "--hostname \"a_b\""));
    berth_error_freep(&err);

    assert_int_equal(netfiles_check_add_host("h:1.2.3.4", NULL), 0);
    assert_int_equal(netfiles_check_add_host("h:::1", NULL), 0);
    assert_int_equal(netfiles_check_add_host("h", NULL), -EINVAL);
    assert_int_equal(netfiles_check_add_host(":1.2.3.4", NULL), -EINVAL);
    assert_int_equal(netfiles_check_add_host("a b:1.2.3.4", NULL), -EINVAL);
    assert_int_equal(netfiles_check_add_host("h:host-gateway", &err), -EINVAL);
    assert_non_null(strstr(err->msg, "not an IP address"));
    berth_error_freep(&err);

    assert_int_equal(netfiles_check_dns_server("9.9.9.9", NULL), 0);
    assert_int_equal(netfiles_check_dns_server("2001:db8::53", NULL), 0);
    assert_int_equal(netfiles_check_dns_server("dns.example", NULL), -EINVAL);
    assert_int_equal(netfiles_check_word("ndots:2", "--dns-option", NULL), 0);
    assert_int_equal(netfiles_check_word("a b", "--dns-option", NULL), -EINVAL);
    assert_int_equal(netfiles_check_word("", "--dns-search", NULL), -EINVAL);
}

static void test_write_in_place(void **state)
{
    char dir[] = "/tmp/berth-netfiles-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    struct berth_error *err = NULL;
    assert_int_equal(netfiles_write_at(dfd, "hosts", "a long first version\n", NULL, &err), 0);
    struct stat st1, st2;
    assert_int_equal(fstatat(dfd, "hosts", &st1, 0), 0);
    assert_int_equal(st1.st_mode & 07777, 0644);
    /* A bind-mounted file must keep its inode: truncated and written, never replaced. */
    assert_int_equal(netfiles_write_at(dfd, "hosts", "short\n", NULL, &err), 0);
    assert_int_equal(fstatat(dfd, "hosts", &st2, 0), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    char *text = NULL;
    assert_int_equal(fs_read_file_at(dfd, "hosts", 4096, &text, NULL, &err), 0);
    assert_string_equal(text, "short\n");
    free(text);

    /* Never through a symlink. */
    assert_int_equal(symlinkat("/etc/passwd", dfd, "link"), 0);
    assert_true(netfiles_write_at(dfd, "link", "x\n", NULL, &err) < 0);
    assert_non_null(err);
    berth_error_freep(&err);

    /* With file labels forced on, the label lands on the file. */
    setenv("BERTH_LABEL_FORCE", "1", 1);
    const char *label = "system_u:object_r:container_file_t:s0:c1,c2";
    int r = netfiles_write_at(dfd, "hostname", "h\n", label, &err);
    unsetenv("BERTH_LABEL_FORCE");
    assert_int_equal(r, 0);
    char got[128] = {0};
    char path[64];
    snprintf(path, sizeof(path), "%s/hostname", dir);
    ssize_t n = lgetxattr(path, "security.selinux", got, sizeof(got) - 1);
    if (n >= 0)
        assert_string_equal(got, label);
    else
        assert_int_equal(errno, EOPNOTSUPP);

    assert_int_equal(fs_remove_tree_at(AT_FDCWD, dir, &err), 0);
    close(dfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolv_drops_loopback),
        cmocka_unit_test(test_resolv_defaults_when_only_loopback),
        cmocka_unit_test(test_resolv_overrides),
        cmocka_unit_test(test_resolv_stub),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_write_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
