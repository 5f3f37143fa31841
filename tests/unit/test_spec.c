/* struct spec from real configs: runc's default, berth's default, and a config that sets every
 * field, which must come back unchanged through spec_to_json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/error.h"
#include "spec/spec.h"
#include "util/fs.h"
#include "util/mem.h"

static char *read_fixture(const char *name, size_t *len)
{
    char *path = xasprintf("data/spec/%s", name);
    char *text = NULL;
    struct berth_error *err = NULL;
    int r = fs_read_file_at(AT_FDCWD, path, 1 << 20, &text, len, &err);
    if (r < 0)
        fail_msg("%s", err->msg);
    free(path);
    return text;
}

static struct spec *parse_ok(const char *text, size_t len)
{
    struct spec *s = NULL;
    struct berth_error *err = NULL;
    int r = spec_parse(text, len, "config.json", &s, &err);
    if (r < 0)
        fail_msg("unexpected error: %s", err->msg);
    assert_non_null(s);
    return s;
}

static struct spec *load_fixture(const char *name)
{
    struct spec *s = NULL;
    struct berth_error *err = NULL;
    char *path = xasprintf("data/spec/%s", name);
    if (spec_load_file(path, NULL, &s, &err) < 0)
        fail_msg("unexpected error: %s", err->msg);
    free(path);
    return s;
}

static bool has_cap(const int *caps, size_t n, int cap)
{
    for (size_t i = 0; i < n; i++)
        if (caps[i] == cap)
            return true;
    return false;
}

static bool strv_has(char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0)
            return true;
    return false;
}

static void check_common_default(const struct spec *s, bool rootless)
{
    assert_string_equal(s->root_path, "rootfs");
    assert_true(s->root_readonly);
    const struct spec_process *p = s->process;
    assert_non_null(p);
    assert_true(p->terminal);
    assert_int_equal(p->user.uid, 0);
    assert_int_equal(p->user.gid, 0);
    assert_string_equal(p->args[0], "sh");
    assert_null(p->args[1]);
    assert_string_equal(p->cwd, "/");
    assert_true(strv_has(p->env, "TERM=xterm"));
    assert_true(p->no_new_privileges);
    assert_non_null(p->capabilities);
    assert_int_equal(p->capabilities->n_bounding, 3);
    assert_true(has_cap(p->capabilities->bounding, 3, CAP_AUDIT_WRITE));
    assert_true(has_cap(p->capabilities->effective, 3, CAP_KILL));
    assert_true(has_cap(p->capabilities->permitted, 3, CAP_NET_BIND_SERVICE));
    assert_int_equal(p->n_rlimits, 1);
    assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(p->rlimits[0].soft, 1024);
    assert_int_equal(p->rlimits[0].hard, 1024);

    assert_int_equal(s->n_mounts, 7);
    assert_string_equal(s->mounts[0].destination, "/proc");
    assert_null(s->mounts[0].options);
    assert_string_equal(s->mounts[2].destination, "/dev/pts");
    assert_int_equal(strv_has(s->mounts[2].options, "gid=5"), !rootless);
    assert_string_equal(s->mounts[5].destination, "/sys");
    assert_string_equal(s->mounts[5].type, rootless ? "none" : "sysfs");
    assert_int_equal(strv_has(s->mounts[5].options, "rbind"), rootless);

    const struct spec_linux *l = s->linux_;
    assert_non_null(l);
    assert_non_null(spec_namespace_find(s, SPEC_NS_PID));
    assert_non_null(spec_namespace_find(s, SPEC_NS_MOUNT));
    assert_non_null(spec_namespace_find(s, SPEC_NS_UTS));
    assert_non_null(spec_namespace_find(s, SPEC_NS_IPC));
    assert_null(spec_namespace_find(s, SPEC_NS_TIME));
    assert_int_equal(spec_namespace_find(s, SPEC_NS_NETWORK) != NULL, !rootless);
    assert_int_equal(spec_namespace_find(s, SPEC_NS_USER) != NULL, rootless);
    if (rootless) {
        assert_null(l->resources);
        assert_int_equal(l->n_uid_mappings, 1);
        assert_int_equal(l->uid_mappings[0].container_id, 0);
        assert_int_equal(l->uid_mappings[0].size, 1);
        assert_int_equal(l->n_gid_mappings, 1);
    } else {
        assert_non_null(l->resources);
        assert_int_equal(l->resources->n_devices, 1);
        assert_false(l->resources->devices[0].allow);
        assert_int_equal(l->resources->devices[0].type, 'a');
        assert_string_equal(l->resources->devices[0].access, "rwm");
        assert_int_equal(l->n_uid_mappings, 0);
    }
    assert_true(strv_has(l->masked_paths, "/proc/kcore"));
    assert_true(strv_has(l->readonly_paths, "/proc/sysrq-trigger"));
}

static void test_runc_default(void **state)
{
    struct spec *s = load_fixture("runc-spec.json");
    assert_string_equal(s->oci_version, "1.0.2-dev");
    assert_string_equal(s->hostname, "runc");
    check_common_default(s, false);
    /* runc 1.1 still fills the ambient set. */
    assert_int_equal(s->process->capabilities->n_ambient, 3);
    assert_null(s->process->capabilities->inheritable);
    spec_free(s);
}

static void test_runc_default_rootless(void **state)
{
    struct spec *s = load_fixture("runc-spec-rootless.json");
    check_common_default(s, true);
    spec_free(s);
}

static void test_berth_default(void **state)
{
    char *text = spec_default_json(false);
    struct spec *s = parse_ok(text, strlen(text));
    check_common_default(s, false);
    assert_string_equal(s->oci_version, "1.2.1");
    assert_string_equal(s->hostname, "berth");
    assert_null(s->process->capabilities->ambient);
    assert_null(s->process->capabilities->inheritable);
    assert_true(strv_has(s->linux_->masked_paths, "/proc/interrupts"));
    assert_true(strv_has(s->linux_->masked_paths, "/sys/devices/virtual/powercap"));
    assert_true(strv_has(s->linux_->masked_paths, "/proc/scsi"));
    /* Written in runc's layout: tab-indented, and exactly what spec_to_json makes of it. */
    assert_memory_equal(text, "{\n\t\"ociVersion\": \"1.2.1\",\n\t\"process\": {\n", 40);
    char *again = spec_to_json(s);
    assert_string_equal(again, text);
    free(again);
    spec_free(s);
    free(text);
}

static void test_berth_default_rootless(void **state)
{
    char *text = spec_default_json(true);
    struct spec *s = parse_ok(text, strlen(text));
    check_common_default(s, true);
    assert_int_equal(s->linux_->uid_mappings[0].host_id, geteuid());
    assert_int_equal(s->linux_->gid_mappings[0].host_id, getegid());
    char *again = spec_to_json(s);
    assert_string_equal(again, text);
    free(again);
    spec_free(s);
    free(text);
}

static void test_rich_values(void **state)
{
    struct spec *s = load_fixture("rich.json");
    const struct spec_process *p = s->process;
    assert_true(p->has_console_size);
    assert_int_equal(p->console_height, 24);
    assert_int_equal(p->console_width, 80);
    assert_int_equal(p->user.uid, 1000);
    assert_true(p->user.has_umask);
    assert_int_equal(p->user.umask, 022);
    assert_int_equal(p->user.n_additional_gids, 3);
    assert_int_equal(p->user.additional_gids[2], UINT32_MAX);
    assert_string_equal(p->args[2], "echo \"hi\" \\ there");
    assert_string_equal(p->env[2], "EMPTY=");
    assert_int_equal(p->capabilities->bounding[3], CAP_CHECKPOINT_RESTORE);
    assert_int_equal(p->capabilities->inheritable[0], CAP_SYS_ADMIN);
    assert_int_equal(p->capabilities->ambient[0], CAP_NET_BIND_SERVICE);
    assert_int_equal(p->rlimits[1].resource, RLIMIT_CORE);
    assert_true(p->rlimits[1].hard == UINT64_MAX);
    assert_true(p->rlimits[2].hard == (uint64_t)INT64_MAX + 1);
    assert_true(p->has_oom_score_adj);
    assert_int_equal(p->oom_score_adj, -500);
    assert_int_equal(p->scheduler->policy, 6 /* SCHED_DEADLINE */);
    assert_int_equal(p->scheduler->flags, 0x3);
    assert_int_equal(p->scheduler->period, 30000000);
    assert_int_equal(p->io_priority->klass, 2 /* IOPRIO_CLASS_BE */);
    assert_int_equal(p->io_priority->priority, 4);
    assert_string_equal(p->exec_cpu_affinity_final, "1,3-5");

    assert_string_equal(s->domainname, "example.org");
    assert_int_equal(s->mounts[1].n_uid_mappings, 1);
    assert_int_equal(s->mounts[1].gid_mappings[0].host_id, 300000);
    assert_int_equal(s->hooks.n_hooks[SPEC_HOOK_POSTSTART], 2);
    assert_true(s->hooks.hooks[SPEC_HOOK_CREATE_RUNTIME][0].has_timeout);
    assert_int_equal(s->hooks.hooks[SPEC_HOOK_CREATE_RUNTIME][0].timeout, 5);
    assert_false(s->hooks.hooks[SPEC_HOOK_PRESTART][0].has_timeout);
    assert_string_equal(spec_annotation(s, "org.example.key"), "value");
    assert_string_equal(spec_annotation(s, "empty"), "");
    assert_null(spec_annotation(s, "missing"));

    const struct spec_linux *l = s->linux_;
    assert_int_equal(l->gid_mappings[1].host_id, 4294901760u);
    const struct spec_namespace *net = spec_namespace_find(s, SPEC_NS_NETWORK);
    assert_string_equal(net->path, "/var/run/netns/rich");
    assert_null(spec_namespace_find(s, SPEC_NS_TIME)->path);
    assert_int_equal(l->n_namespaces, 8);
    assert_int_equal(l->devices[0].type, 'c');
    assert_int_equal(l->devices[0].major, 10);
    assert_true(l->devices[0].has_file_mode);
    assert_int_equal(l->devices[0].file_mode, 0666);
    assert_false(l->devices[1].has_uid);
    assert_int_equal(l->devices[2].type, 'p');

    const struct spec_resources *r = l->resources;
    assert_int_equal(r->devices[1].type, 'c');
    assert_true(r->devices[2].has_major);
    assert_false(r->devices[2].has_minor);
    assert_null(r->devices[2].access);
    assert_int_equal(r->memory->swap, -1);
    assert_true(r->memory->has_kernel);
    assert_true(r->memory->has_disable_oom_killer);
    assert_false(r->memory->disable_oom_killer);
    assert_int_equal(r->cpu->quota, -1);
    assert_int_equal(r->cpu->idle, 1);
    assert_int_equal(r->pids_limit, 100);
    assert_int_equal(r->block_io->weight_device[0].leaf_weight, 200);
    assert_false(r->block_io->weight_device[1].has_weight);
    assert_true(r->block_io->throttle_write_bps[0].rate == UINT64_MAX);
    assert_string_equal(r->hugepage_limits[1].page_size, "1GB");
    assert_int_equal(r->net_class_id, 1048577);
    assert_string_equal(r->net_priorities[1].name, "lo");
    assert_int_equal(r->n_rdma, 2);
    assert_string_equal(r->rdma[1].device, "mlx4_0");
    assert_false(r->rdma[1].has_hca_objects);
    assert_string_equal(r->unified[1].value, "default 100");

    const struct spec_seccomp *sc = l->seccomp;
    assert_string_equal(sc->default_action, "SCMP_ACT_ERRNO");
    assert_int_equal(sc->default_errno_ret, 1);
    assert_string_equal(sc->listener_path, "/run/seccomp/notify.sock");
    assert_int_equal(sc->n_syscalls, 4);
    assert_int_equal(sc->syscalls[1].args[1].index, 5);
    assert_true(sc->syscalls[1].args[1].value == UINT64_MAX);
    assert_int_equal(sc->syscalls[1].args[1].value_two, UINT32_MAX);
    assert_string_equal(sc->syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
    assert_int_equal(sc->syscalls[3].errno_ret, 38);

    assert_string_equal(l->rootfs_propagation, "rslave");
    assert_true(l->has_personality);
    assert_int_equal(l->personality_domain, PER_LINUX32);
    assert_true(l->time_monotonic.set);
    assert_int_equal(l->time_monotonic.nanosecs, 500);
    assert_int_equal(l->time_boottime.secs, -3600);
    spec_free(s);
}

static void test_rich_round_trip(void **state)
{
    size_t len;
    char *text = read_fixture("rich.json", &len);
    struct spec *s = parse_ok(text, len);
    char *dumped = spec_to_json(s);
    /* rich.json is written in canonical form, so every field must come back byte for byte. */
    assert_string_equal(dumped, text);
    struct spec *again = parse_ok(dumped, strlen(dumped));
    char *dumped2 = spec_to_json(again);
    assert_string_equal(dumped2, dumped);
    free(dumped2);
    spec_free(again);
    free(dumped);
    spec_free(s);
    free(text);
}

static void test_ignored_and_null_fields(void **state)
{
    const char *text = "{\"ociVersion\": \"1.0.0-rc5+dev\", \"root\": {\"path\": \"/abs/rootfs\","
                       " \"readonly\": null}, \"hostname\": null, \"process\": null,"
                       " \"windows\": {\"layerFolders\": [1]}, \"solaris\": 5, \"vm\": [],"
                       " \"zos\": {}, \"unknownField\": {\"x\": 1}, \"mounts\": null,"
                       " \"linux\": {\"somethingNew\": true, \"namespaces\": null}}";
    struct spec *s = parse_ok(text, strlen(text));
    assert_string_equal(s->oci_version, "1.0.0-rc5+dev");
    assert_string_equal(s->root_path, "/abs/rootfs");
    assert_false(s->root_readonly);
    assert_null(s->hostname);
    assert_null(s->process);
    assert_int_equal(s->n_mounts, 0);
    assert_non_null(s->linux_);
    assert_int_equal(s->linux_->n_namespaces, 0);
    spec_free(s);
}

static void test_process_alone(void **state)
{
    const char *text = "{\"args\": [\"ls\", \"-l\"], \"cwd\": \"/tmp\", \"user\": {\"uid\": 7},"
                       " \"capabilities\": {\"bounding\": [\"CAP_KILL\"]},"
                       " \"rlimits\": [{\"type\": \"RLIMIT_NPROC\", \"hard\": 10, \"soft\": 5}]}";
    struct spec_process *p = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(spec_parse_process(text, strlen(text), "process.json", &p, &err), 0);
    assert_string_equal(p->args[1], "-l");
    assert_int_equal(p->user.uid, 7);
    assert_int_equal(p->capabilities->bounding[0], CAP_KILL);
    assert_int_equal(p->rlimits[0].resource, RLIMIT_NPROC);
    spec_process_free(p);

    const char *bad = "{\"args\": [\"ls\"], \"cwd\": \"tmp\"}";
    p = NULL;
    assert_int_equal(spec_parse_process(bad, strlen(bad), "process.json", &p, &err), -EINVAL);
    assert_null(p);
    assert_string_equal(err->msg,
                        "process.json: process.cwd: must be an absolute path, not \"tmp\"");
    berth_error_free(err);
    err = NULL;

    const char *bad2 = "{\"args\": [\"ls\"], \"cwd\": \"/\", \"rlimits\": [{\"type\": "
                       "\"RLIMIT_NOFILE\", \"hard\": 1, \"soft\": 2}]}";
    assert_int_equal(spec_parse_process(bad2, strlen(bad2), "process.json", &p, &err), -EINVAL);
    assert_string_equal(err->msg, "process.json: process.rlimits[0]: soft limit 2 is above the "
                                  "hard limit 1");
    berth_error_free(err);
    err = NULL;

    const char *bad3 = "[1]";
    assert_int_equal(spec_parse_process(bad3, strlen(bad3), "p.json", &p, &err), -EINVAL);
    assert_string_equal(err->msg, "p.json: must be a JSON object");
    berth_error_free(err);
}

static void test_load_file_errors(void **state)
{
    char dir[] = "/tmp/berth-test-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *missing = xasprintf("%s/config.json", dir);
    struct spec *s = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(spec_load_file(missing, NULL, &s, &err), -ENOENT);
    char *want = xasprintf("open %s: No such file or directory", missing);
    assert_string_equal(err->msg, want);
    free(want);
    berth_error_free(err);
    err = NULL;

    /* The origin names the file in messages, and line numbers count from its first line. */
    int fd = open(missing, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    const char *text = "{\n\t\"ociVersion\": \"1.2.1\",\n\t\"root\": {\"path\": 1}\n}\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(spec_load_file(missing, "bundle/config.json", &s, &err), -EINVAL);
    assert_string_equal(err->msg, "bundle/config.json: root.path: must be a string");
    berth_error_free(err);

    unlink(missing);
    rmdir(dir);
    free(missing);
}

static void test_names(void **state)
{
    assert_string_equal(spec_ns_type_name(SPEC_NS_NETWORK), "network");
    assert_string_equal(spec_ns_type_name(SPEC_NS_TIME), "time");
    assert_null(spec_ns_type_name(SPEC_NS_TYPES));
    assert_string_equal(spec_hook_kind_name(SPEC_HOOK_CREATE_RUNTIME), "createRuntime");
    assert_string_equal(spec_hook_kind_name(SPEC_HOOK_POSTSTOP), "poststop");
    assert_null(spec_hook_kind_name(SPEC_HOOK_KINDS));
    assert_null(spec_namespace_find(NULL, SPEC_NS_PID));
}

static bool json_strings_have(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static void test_features(void **state)
{
    char *text = spec_features_json();
    json_error_t e;
    json_t *f = json_loads(text, 0, &e);
    if (!f)
        fail_msg("features is not JSON: %s", e.text);
    assert_string_equal(json_string_value(json_object_get(f, "ociVersionMin")), "1.0.0");
    assert_string_equal(json_string_value(json_object_get(f, "ociVersionMax")), "1.2.1");
    json_t *hooks = json_object_get(f, "hooks");
    assert_int_equal(json_array_size(hooks), SPEC_HOOK_KINDS);
    assert_true(json_strings_have(hooks, "createRuntime"));

    json_t *opts = json_object_get(f, "mountOptions");
    static const char *const want_opts[] = {"bind",    "rbind",      "ro",        "rro",
                                            "rnosuid", "rprivate",   "tmpcopyup", "idmap",
                                            "ridmap",  "nosymfollow"};
    for (size_t i = 0; i < sizeof(want_opts) / sizeof(want_opts[0]); i++)
        if (!json_strings_have(opts, want_opts[i]))
            fail_msg("mountOptions lacks %s", want_opts[i]);
    for (size_t i = 1; i < json_array_size(opts); i++)
        assert_true(strcmp(json_string_value(json_array_get(opts, i - 1)),
                           json_string_value(json_array_get(opts, i))) < 0);

    json_t *l = json_object_get(f, "linux");
    assert_int_equal(json_array_size(json_object_get(l, "namespaces")), SPEC_NS_TYPES);
    assert_true(json_strings_have(json_object_get(l, "namespaces"), "time"));
    json_t *caps = json_object_get(l, "capabilities");
    assert_string_equal(json_string_value(json_array_get(caps, 0)), "CAP_CHOWN");
    assert_true(json_strings_have(caps, "CAP_CHECKPOINT_RESTORE"));
    assert_int_equal(json_array_size(caps), CAP_CHECKPOINT_RESTORE + 1);

    json_t *cg = json_object_get(l, "cgroup");
    assert_true(json_is_true(json_object_get(cg, "v1")));
    assert_true(json_is_true(json_object_get(cg, "v2")));
    assert_true(json_is_false(json_object_get(cg, "systemd")));
    assert_true(json_is_false(json_object_get(cg, "systemdUser")));
    assert_true(json_is_true(json_object_get(cg, "rdma")));

    json_t *sc = json_object_get(l, "seccomp");
    assert_true(json_is_true(json_object_get(sc, "enabled")));
    assert_int_equal(json_array_size(json_object_get(sc, "actions")), 9);
    assert_int_equal(json_array_size(json_object_get(sc, "operators")), 7);
    assert_true(json_strings_have(json_object_get(sc, "archs"), "SCMP_ARCH_X86_64"));
    json_t *known = json_object_get(sc, "knownFlags");
    assert_int_equal(json_array_size(known), 4);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(sc, "supportedFlags"), i, v)
    {
        assert_true(json_strings_have(known, json_string_value(v)));
    }

    assert_true(json_is_false(json_object_get(json_object_get(l, "apparmor"), "enabled")));
    assert_true(json_is_true(json_object_get(json_object_get(l, "selinux"), "enabled")));
    assert_true(json_is_false(json_object_get(json_object_get(l, "intelRdt"), "enabled")));
    json_t *idmap = json_object_get(json_object_get(l, "mountExtensions"), "idmap");
    assert_true(json_is_true(json_object_get(idmap, "enabled")));
    json_decref(f);
    free(text);
}

static void test_numbers_near_strings(void **state)
{
    /* Big numbers inside strings stay text; big numbers outside keep their exact value. */
    const char *text =
        "{\"ociVersion\": \"1.2.1\", \"root\": {\"path\": \"r\"},"
        " \"annotations\": {\"n\": \"18446744073709551616 \\\" 99999999999999999999\"},"
        " \"process\": {\"args\": [\"a\"], \"cwd\": \"/\", \"rlimits\": ["
        "{\"type\": \"RLIMIT_AS\", \"hard\": 18446744073709551615,"
        " \"soft\": 9223372036854775807}]}}";
    struct spec *s = parse_ok(text, strlen(text));
    assert_string_equal(spec_annotation(s, "n"), "18446744073709551616 \" 99999999999999999999");
    assert_true(s->process->rlimits[0].hard == UINT64_MAX);
    assert_true(s->process->rlimits[0].soft == INT64_MAX);
    spec_free(s);
}

static void test_default_masks_each_cpus_thermal_throttle(void **state)
{
    (void)state;
    char root[] = "/tmp/berth-sysfs-XXXXXX";
    assert_non_null(mkdtemp(root));
    const char *dirs[] = {"devices",
                          "devices/system",
                          "devices/system/cpu",
                          "devices/system/cpu/cpu0",
                          "devices/system/cpu/cpu0/thermal_throttle",
                          "devices/system/cpu/cpu1",
                          "devices/system/cpu/cpu1/thermal_throttle",
                          "devices/system/cpu/cpu2",
                          "devices/system/cpu/cpufreq"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char *p = xasprintf("%s/%s", root, dirs[i]);
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
    }
    json_t *a = spec_default_masked_paths(root);
    size_t thermal = 0, i;
    json_t *v;
    bool cpu0 = false, cpu1 = false, powercap = false;
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        thermal += strstr(s, "thermal_throttle") != NULL;
        cpu0 |= strcmp(s, "/sys/devices/system/cpu/cpu0/thermal_throttle") == 0;
        cpu1 |= strcmp(s, "/sys/devices/system/cpu/cpu1/thermal_throttle") == 0;
        powercap |= strcmp(s, "/sys/devices/virtual/powercap") == 0;
    }
    assert_int_equal(thermal, 2);
    assert_true(cpu0 && cpu1 && powercap);
    json_decref(a);
    for (size_t k = sizeof(dirs) / sizeof(dirs[0]); k-- > 0;) {
        char *p = xasprintf("%s/%s", root, dirs[k]);
        rmdir(p);
        free(p);
    }
    rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runc_default),
        cmocka_unit_test(test_runc_default_rootless),
        cmocka_unit_test(test_berth_default),
        cmocka_unit_test(test_berth_default_rootless),
        cmocka_unit_test(test_rich_values),
        cmocka_unit_test(test_rich_round_trip),
        cmocka_unit_test(test_ignored_and_null_fields),
        cmocka_unit_test(test_process_alone),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_numbers_near_strings),
        cmocka_unit_test(test_default_masks_each_cpus_thermal_throttle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
