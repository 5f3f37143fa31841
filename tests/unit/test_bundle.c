#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/error.h"
#include "engine/bundle.h"
#include "spec/spec.h"
#include "util/mem.h"

static void strv_equal(char **got, const char *const *want)
{
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(got[i]);
        assert_string_equal(got[i], want[i]);
    }
    assert_null(got[i]);
}

static void test_process_from_image(void **state)
{
    const char *cfg = "{\"Entrypoint\":[\"/bin/ep\",\"-x\"],\"Cmd\":[\"a\",\"b\"],"
                      "\"Env\":[\"FOO=image\",\"PATH=/img/bin\",\"NOEQUALS\",\"BAR=b\"],"
                      "\"WorkingDir\":\"rel/dir/../x\",\"User\":\"app:grp\"}";
    struct bundle_process p;
    struct berth_error *err = NULL;
    assert_int_equal(bundle_process_from_image(cfg, NULL, &p, &err), 0);
    strv_equal(p.args, (const char *const[]){"/bin/ep", "-x", "a", "b", NULL});
    strv_equal(p.env, (const char *const[]){"FOO=image", "PATH=/img/bin", "BAR=b", NULL});
    assert_string_equal(p.cwd, "/rel/x");
    assert_string_equal(p.user, "app:grp");
    bundle_process_clear(&p);

    setenv("BERTH_TEST_FROM_HOST", "host-value", 1);
    char *cmd[] = {"c1", NULL};
    char *env[] = {"FOO=cli", "NEW=1", "BERTH_TEST_FROM_HOST", "BERTH_TEST_UNSET_XYZ", NULL};
    struct bundle_overrides o = {
        .cmd = cmd, .env = env, .cwd = "/w//d/", .user = "0", .hostname = "h1", .terminal = true};
    assert_int_equal(bundle_process_from_image(cfg, &o, &p, &err), 0);
    strv_equal(p.args, (const char *const[]){"/bin/ep", "-x", "c1", NULL});
    strv_equal(p.env,
               (const char *const[]){"HOSTNAME=h1", "TERM=xterm", "FOO=cli", "PATH=/img/bin",
                                     "BAR=b", "NEW=1", "BERTH_TEST_FROM_HOST=host-value", NULL});
    assert_string_equal(p.cwd, "/w/d");
    assert_string_equal(p.user, "0");
    bundle_process_clear(&p);
    unsetenv("BERTH_TEST_FROM_HOST");

    /* --entrypoint: the image's Cmd goes with the image's Entrypoint. */
    struct bundle_overrides ep = {.entrypoint = "/bin/other"};
    assert_int_equal(bundle_process_from_image(cfg, &ep, &p, &err), 0);
    strv_equal(p.args, (const char *const[]){"/bin/other", NULL});
    bundle_process_clear(&p);
    ep.cmd = cmd;
    assert_int_equal(bundle_process_from_image(cfg, &ep, &p, &err), 0);
    strv_equal(p.args, (const char *const[]){"/bin/other", "c1", NULL});
    bundle_process_clear(&p);
    ep.entrypoint = "";
    assert_int_equal(bundle_process_from_image(cfg, &ep, &p, &err), 0);
    strv_equal(p.args, (const char *const[]){"c1", NULL});
    bundle_process_clear(&p);
}

static void test_process_defaults_and_errors(void **state)
{
    struct bundle_process p;
    struct berth_error *err = NULL;
    assert_int_equal(bundle_process_from_image("{\"Cmd\":[\"sh\"]}", NULL, &p, &err), 0);
    strv_equal(p.env, (const char *const[]){"PATH=" BUNDLE_DEFAULT_PATH, NULL});
    assert_string_equal(p.cwd, "/");
    assert_string_equal(p.user, "");
    bundle_process_clear(&p);

    struct {
        const char *cfg;
        struct bundle_overrides o;
        const char *want;
    } bad[] = {
        {"{}", {0}, "no command"},
        {NULL, {0}, "no command"},
        {"{\"Cmd\":\"sh\"}", {0}, "Cmd is not an array"},
        {"{\"Entrypoint\":[1]}", {0}, "Entrypoint is not an array"},
        {"{\"Cmd\":[\"sh\"]}", {.entrypoint = ""}, "--entrypoint is empty"},
        {"{\"Cmd\":[\"sh\"],\"Env\":{}}", {0}, "Env is not an array"},
        {"{\"Cmd\":[\"sh\"],\"User\":5}", {0}, "User is not a string"},
        {"{\"Cmd\":[\"sh\"],\"WorkingDir\":[]}", {0}, "WorkingDir is not a string"},
        {"{\"Cmd\":[\"sh\"]}", {.cwd = "rel"}, "must be absolute"},
        {"{\"Cmd\":[\"sh\"]}", {.env = (char *[]){"=x", NULL}}, "KEY=VALUE"},
        {"[]", {0}, "not an object"},
        {"{", {0}, "config"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(bundle_process_from_image(bad[i].cfg, &bad[i].o, &p, &err), -EINVAL);
        if (!strstr(err->msg, bad[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err->msg, bad[i].want);
        berth_error_freep(&err);
        assert_null(p.args);
    }
}

static const struct spec_mount *find_mount(const struct spec *s, const char *dest)
{
    const struct spec_mount *found = NULL;
    for (size_t i = 0; i < s->n_mounts; i++)
        if (strcmp(s->mounts[i].destination, dest) == 0)
            found = &s->mounts[i];
    return found;
}

static bool has_option(const struct spec_mount *m, const char *opt)
{
    for (char **o = m->options; o && *o; o++)
        if (strcmp(*o, opt) == 0)
            return true;
    return false;
}

static struct spec *build(const struct bundle_config *c)
{
    char *text = NULL;
    struct berth_error *err = NULL;
    int r = bundle_config_json(c, &text, &err);
    if (r < 0)
        fail_msg("%s", err->msg);
    struct spec *s = NULL;
    assert_int_equal(spec_parse(text, strlen(text), "config.json", &s, &err), 0);
    free(text);
    return s;
}

static void test_config(void **state)
{
    char *args[] = {"sh", NULL}, *env[] = {"A=1", NULL};
    struct bundle_process p = {args, env, "/work", ""};
    struct bundle_bind files[] = {
        {.source = "/b/resolv.conf", .destination = "/etc/resolv.conf", .readonly = true},
        {.source = "/b/hosts", .destination = "/etc/hosts", .readonly = true},
    };
    struct bundle_bind vols[] = {
        {.source = "/src", .destination = "/data", .readonly = true, .relabel = 'Z'},
        {.source = "/w", .destination = "/out"},
    };
    struct bundle_config c = {
        .process = &p,
        .uid = 1000,
        .gid = 1001,
        .rootfs = "/store/vfs/dir/abc",
        .readonly = true,
        .hostname = "h1",
        .process_label = "system_u:system_r:container_t:s0:c1,c2",
        .mount_label = "system_u:object_r:container_file_t:s0:c1,c2",
        .ipc = SHM_IPC_PRIVATE,
        .shm_size = 1 << 20,
        .files = files,
        .n_files = 2,
        .volumes = vols,
        .n_volumes = 2,
    };
    struct spec *s = build(&c);
    assert_string_equal(s->root_path, "/store/vfs/dir/abc");
    assert_true(s->root_readonly);
    assert_string_equal(s->hostname, "h1");
    assert_false(s->process->terminal);
    assert_int_equal(s->process->user.uid, 1000);
    assert_int_equal(s->process->user.gid, 1001);
    assert_string_equal(s->process->cwd, "/work");
    assert_string_equal(s->process->args[0], "sh");
    assert_false(s->process->no_new_privileges);
    assert_int_equal(s->process->capabilities->n_bounding, 14);
    assert_string_equal(s->process->selinux_label, c.process_label);
    assert_string_equal(s->linux_->mount_label, c.mount_label);
    const struct spec_mount *shm = find_mount(s, "/dev/shm");
    assert_string_equal(shm->type, "tmpfs");
    assert_true(has_option(shm, "size=1048576") && has_option(shm, "mode=1777") &&
                has_option(shm, "nosuid") && has_option(shm, "noexec") && has_option(shm, "nodev"));
    assert_string_equal(find_mount(s, "/dev/mqueue")->type, "mqueue");
    const struct spec_mount *hosts = find_mount(s, "/etc/hosts");
    assert_string_equal(hosts->source, "/b/hosts");
    assert_true(has_option(hosts, "rbind") && has_option(hosts, "rprivate") &&
                has_option(hosts, "ro"));
    const struct spec_mount *data = find_mount(s, "/data");
    assert_true(has_option(data, "ro") && has_option(data, "Z"));
    assert_false(has_option(find_mount(s, "/out"), "ro"));
    /* the binds come after the defaults */
    assert_string_equal(s->mounts[s->n_mounts - 1].destination, "/out");
    assert_non_null(spec_namespace_find(s, SPEC_NS_IPC));
    spec_free(s);

    /* A -v over /dev/shm replaces the tmpfs; one over /dev drops everything below it. */
    struct bundle_bind over[] = {{.source = "/host/shm", .destination = "/dev/shm"}};
    c.volumes = over;
    c.n_volumes = 1;
    c.files = NULL;
    c.n_files = 0;
    c.process_label = c.mount_label = NULL;
    s = build(&c);
    assert_string_equal(find_mount(s, "/dev/shm")->type, "bind");
    assert_string_equal(find_mount(s, "/dev/shm")->source, "/host/shm");
    assert_null(s->linux_->mount_label);
    spec_free(s);
    struct bundle_bind dev[] = {{.source = "/host/dev", .destination = "/dev"}};
    c.volumes = dev;
    s = build(&c);
    assert_null(find_mount(s, "/dev/pts"));
    assert_null(find_mount(s, "/dev/mqueue"));
    assert_string_equal(find_mount(s, "/dev")->type, "bind");
    spec_free(s);
}

static void test_config_ipc_modes(void **state)
{
    char *args[] = {"sh", NULL};
    struct bundle_process p = {args, NULL, "/", ""};
    struct bundle_config c = {.process = &p,
                              .rootfs = "/r",
                              .hostname = "h",
                              .ipc = SHM_IPC_SHAREABLE,
                              .shm_source = "/c/a/shm"};
    struct spec *s = build(&c);
    const struct spec_mount *shm = find_mount(s, "/dev/shm");
    assert_string_equal(shm->type, "bind");
    assert_string_equal(shm->source, "/c/a/shm");
    assert_true(has_option(shm, "nosuid") && has_option(shm, "nodev") &&
                has_option(shm, "noexec") && !has_option(shm, "ro"));
    spec_free(s);

    c.ipc = SHM_IPC_HOST;
    s = build(&c);
    assert_string_equal(find_mount(s, "/dev/shm")->source, "/dev/shm");
    assert_null(spec_namespace_find(s, SPEC_NS_IPC));
    spec_free(s);

    c.ipc = SHM_IPC_CONTAINER;
    char *text = NULL, *joined = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(bundle_config_json(&c, &text, &err), 0);
    assert_int_equal(bundle_set_ipc_path(text, "/proc/1/ns/ipc", &joined, &err), 0);
    assert_int_equal(spec_parse(joined, strlen(joined), "config.json", &s, &err), 0);
    assert_string_equal(spec_namespace_find(s, SPEC_NS_IPC)->path, "/proc/1/ns/ipc");
    spec_free(s);
    free(joined);
    free(text);

    c.ipc = SHM_IPC_HOST;
    assert_int_equal(bundle_config_json(&c, &text, &err), 0);
    assert_int_equal(bundle_set_ipc_path(text, "/proc/1/ns/ipc", &joined, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "no IPC namespace"));
    berth_error_freep(&err);
    free(text);
}

static void test_parse_volume(void **state)
{
    struct bundle_bind b;
    char *storage = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(bundle_parse_volume("/a/b:/c//d/:ro,Z", &b, &storage, &err), 0);
    assert_string_equal(b.source, "/a/b");
    assert_string_equal(b.destination, "/c/d");
    assert_true(b.readonly);
    assert_int_equal(b.relabel, 'Z');
    free(storage);
    assert_int_equal(bundle_parse_volume("/a:/b", &b, &storage, &err), 0);
    assert_false(b.readonly);
    assert_int_equal(b.relabel, 0);
    free(storage);
    assert_int_equal(bundle_parse_volume("/a:/b:rw,z", &b, &storage, &err), 0);
    assert_int_equal(b.relabel, 'z');
    assert_null(b.volume);
    free(storage);
    /* A name is a named volume: its source comes later. */
    assert_int_equal(bundle_parse_volume("data.1:/srv:ro,nocopy", &b, &storage, &err), 0);
    assert_null(b.source);
    assert_string_equal(b.volume, "data.1");
    assert_string_equal(b.destination, "/srv");
    assert_true(b.readonly && b.nocopy);
    free(storage);

    const char *bad[][2] = {
        {"/a", "SRC:DST"},
        {"a/b:/b", "absolute path or a volume name"},
        {".a:/b", "absolute path or a volume name"},
        {"/a:/b:nocopy", "option \"nocopy\""},
        {"a:b", "absolute"},
        {"/a:b", "absolute"},
        {"/a:/", "cannot be /"},
        {"/a:/b/..", "cannot be /"},
        {"/a:/b:ro,rw", "ro and rw"},
        {"/a:/b:z,Z", "option \"Z\""},
        {"/a:/b:shared", "option \"shared\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(bundle_parse_volume(bad[i][0], &b, &storage, &err), -EINVAL);
        if (!strstr(err->msg, bad[i][1]))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i][0], err->msg, bad[i][1]);
        assert_null(storage);
        berth_error_freep(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_from_image),
        cmocka_unit_test(test_process_defaults_and_errors),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_ipc_modes),
        cmocka_unit_test(test_parse_volume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
