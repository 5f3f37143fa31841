/* The cgroup module's pure parts: mode decision, paths, hierarchy discovery, conversions, device
 * rules, the BPF program builder (run through a small interpreter), the state JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/error.h"
#include "linux/cgroup/cgroup.h"
#include "linux/cgroup/cgroup_internal.h"
#include "linux/cgroup/devices.h"
#include "spec/spec.h"

static void test_mode_from_magic(void **state)
{
    enum cgroup_mode m;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_mode_from_magic(CGROUP2_SUPER_MAGIC, 0, &m, &err), 0);
    assert_int_equal(m, CGROUP_MODE_UNIFIED);
    assert_int_equal(cgroup_mode_from_magic(TMPFS_MAGIC, CGROUP2_SUPER_MAGIC, &m, &err), 0);
    assert_int_equal(m, CGROUP_MODE_HYBRID);
    assert_int_equal(cgroup_mode_from_magic(TMPFS_MAGIC, 0, &m, &err), 0);
    assert_int_equal(m, CGROUP_MODE_LEGACY);
    assert_int_equal(cgroup_mode_from_magic(EXT4_SUPER_MAGIC, 0, &m, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "neither cgroup2 nor a tmpfs"));
    berth_error_free(err);
    assert_string_equal(cgroup_mode_name(CGROUP_MODE_HYBRID), "hybrid");
}

static void test_manager_check(void **state)
{
    enum cgroup_manager m;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_manager_check(NULL, &m, &err), 0);
    assert_int_equal(m, CGROUP_MANAGER_CGROUPFS);
    assert_int_equal(cgroup_manager_check("cgroupfs", &m, &err), 0);
    assert_int_equal(m, CGROUP_MANAGER_CGROUPFS);
    assert_int_equal(cgroup_manager_check("disabled", &m, &err), 0);
    assert_int_equal(m, CGROUP_MANAGER_DISABLED);
    assert_int_equal(cgroup_manager_check("systemd", &m, &err), -EINVAL);
    if (access("/run/systemd/system", F_OK) < 0)
        assert_string_equal(err->msg, "cgroup manager systemd is not supported on this host: "
                                      "systemd is not running");
    else
        assert_non_null(strstr(err->msg, "cgroup manager systemd is not supported"));
    berth_error_freep(&err);
    assert_int_equal(cgroup_manager_check("cgroupv3", &m, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "unknown cgroup manager \"cgroupv3\""));
    berth_error_free(err);
}

static void test_inner_path(void **state)
{
    static const struct {
        const char *path, *id, *want; /* want NULL: refused */
    } cases[] = {
        {NULL, "c1", "c1"},
        {"", "c1", "c1"},
        {"/berth/c1", "x", "/berth/c1"},
        {"berth/c1", "x", "berth/c1"},
        {"//a//./b/", "x", "/a/b"},
        {"./a", "x", "a"},
        {"a/b/c/d", "x", "a/b/c/d"},
        {"/a/../b", "x", NULL},
        {"..", "x", NULL},
        {"a/..", "x", NULL},
        {"/", "x", NULL},
        {"/./", "x", NULL},
        {NULL, "", NULL},
        {NULL, "a/b", NULL},
        {NULL, "..", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        struct berth_error *err = NULL;
        int r = cgroup_inner_path(cases[i].path, cases[i].id, &out, &err);
        if (cases[i].want) {
            assert_int_equal(r, 0);
            assert_string_equal(out, cases[i].want);
        } else {
            assert_int_equal(r, -EINVAL);
            assert_non_null(err);
            assert_null(out);
        }
        free(out);
        berth_error_free(err);
    }
    char *out = NULL;
    struct berth_error *err = NULL;
    cgroup_inner_path("/a/../b", "x", &out, &err);
    assert_string_equal(err->msg, "cgroup path \"/a/../b\": \"..\" is not allowed");
    berth_error_free(err);
}

static void test_dir_path(void **state)
{
    static const struct {
        const char *mount, *root, *own, *inner;
        bool v2;
        const char *want;
    } cases[] = {
        /* v1, relative: below our own cgroup (a nested memory cgroup as on this host) */
        {"/sys/fs/cgroup/memory", "/", "/process_api/h1", "c1", false,
         "/sys/fs/cgroup/memory/process_api/h1/c1"},
        {"/sys/fs/cgroup/cpu", "/", "/", "c1", false, "/sys/fs/cgroup/cpu/c1"},
        {"/sys/fs/cgroup/cpu", "/", "/", "a/b", false, "/sys/fs/cgroup/cpu/a/b"},
        /* absolute: from the hierarchy root whatever our own cgroup is */
        {"/sys/fs/cgroup/memory", "/", "/process_api/h1", "/berth/c1", false,
         "/sys/fs/cgroup/memory/berth/c1"},
        {"/sys/fs/cgroup", "/", "/user.slice/s.scope", "/berth/c1", true,
         "/sys/fs/cgroup/berth/c1"},
        /* v2, relative: below the parent of our own cgroup */
        {"/sys/fs/cgroup", "/", "/user.slice/s.scope", "c1", true, "/sys/fs/cgroup/user.slice/c1"},
        {"/sys/fs/cgroup", "/", "/", "c1", true, "/sys/fs/cgroup/c1"},
        {"/sys/fs/cgroup", "/", "/init.scope", "c1", true, "/sys/fs/cgroup/c1"},
        /* the hybrid host's cgroup2 hierarchy is treated like a v1 one */
        {"/sys/fs/cgroup/unified", "/", "/", "c1", false, "/sys/fs/cgroup/unified/c1"},
        /* a mount showing part of the hierarchy */
        {"/sys/fs/cgroup/cpu", "/docker/abc", "/docker/abc/x", "c1", false,
         "/sys/fs/cgroup/cpu/x/c1"},
        {"/sys/fs/cgroup/cpu", "/docker/abc", "/docker/abc", "c1", false, "/sys/fs/cgroup/cpu/c1"},
        {"/sys/fs/cgroup/cpu", "/docker/abc", "/other", "c1", false, "/sys/fs/cgroup/cpu/c1"},
        {"/sys/fs/cgroup/cpu", "/docker/abc", "/docker/abcd", "c1", false, "/sys/fs/cgroup/cpu/c1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = cgroup_dir_path(cases[i].mount, cases[i].root, cases[i].own, cases[i].inner,
                                    cases[i].v2);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

static const char host_cgroup[] = "9:name=systemd:/\n"
                                  "8:pids:/\n"
                                  "4:memory:/process_api/fe69\n"
                                  "2:cpu,cpuacct:/\n"
                                  "10:net_cls:/\n"
                                  "0::/\n";

static const char host_mountinfo[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/sys\\040temd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "50 31 0:36 /sub /mnt/pids rw,relatime - cgroup cgroup rw,pids\n"
    "60 31 0:40 / /mnt/cpuset rw,relatime - cgroup cgroup rw,cpuset\n";

static void test_parse_hierarchies(void **state)
{
    struct cgroup_hierarchy *h;
    size_t n;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_parse_hierarchies(host_cgroup, host_mountinfo, &h, &n, &err), 0);
    /* net_cls is in /proc/self/cgroup but not mounted: left out. */
    assert_int_equal(n, 5);
    assert_string_equal(h[0].controllers, "name=systemd");
    assert_string_equal(h[0].mountpoint, "/sys/fs/cgroup/sys temd");
    assert_string_equal(h[1].controllers, "pids");
    assert_string_equal(h[1].mountpoint, "/sys/fs/cgroup/pids"); /* the whole, not /sub */
    assert_string_equal(h[2].controllers, "memory");
    assert_string_equal(h[2].own, "/process_api/fe69");
    assert_string_equal(h[3].controllers, "cpu,cpuacct");
    assert_string_equal(h[3].mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
    assert_string_equal(h[4].controllers, "");
    assert_string_equal(h[4].mountpoint, "/sys/fs/cgroup/unified");
    assert_string_equal(h[4].mount_root, "/");
    cgroup_hierarchies_free(h, n);

    assert_int_equal(cgroup_parse_hierarchies("garbage\n", host_mountinfo, &h, &n, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "malformed line"));
    berth_error_free(err);
}

static void test_conversions(void **state)
{
    assert_int_equal(cgroup_cpu_shares_to_weight(0), 0);
    assert_int_equal(cgroup_cpu_shares_to_weight(2), 1);
    assert_int_equal(cgroup_cpu_shares_to_weight(3), 2);
    assert_int_equal(cgroup_cpu_shares_to_weight(512), 59);
    assert_int_equal(cgroup_cpu_shares_to_weight(1024), 100);
    assert_int_equal(cgroup_cpu_shares_to_weight(2048), 174);
    assert_int_equal(cgroup_cpu_shares_to_weight(100000), 4340);
    assert_int_equal(cgroup_cpu_shares_to_weight(262144), 10000);
    assert_int_equal(cgroup_cpu_shares_to_weight(1000000), 10000);

    assert_int_equal(cgroup_blkio_weight_to_io_weight(0), 0);
    assert_int_equal(cgroup_blkio_weight_to_io_weight(10), 1);
    assert_int_equal(cgroup_blkio_weight_to_io_weight(100), 910);
    assert_int_equal(cgroup_blkio_weight_to_io_weight(500), 4950);
    assert_int_equal(cgroup_blkio_weight_to_io_weight(1000), 10000);

    static const struct {
        int64_t swap, memory, want;
        int r;
    } swaps[] = {
        {0, 0, 0, 0},          {-1, 0, -1, 0},       {0, -1, -1, 0},
        {500, -1, 500, 0},     {200, 100, 100, 0},   {100, 100, 0, 0},
        {50, 100, 0, -EINVAL}, {100, 0, 0, -EINVAL}, {100, -5, 0, -EINVAL},
    };
    for (size_t i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
        int64_t out = 12345;
        struct berth_error *err = NULL;
        assert_int_equal(cgroup_memory_swap_to_v2(swaps[i].swap, swaps[i].memory, &out, &err),
                         swaps[i].r);
        if (swaps[i].r == 0)
            assert_int_equal(out, swaps[i].want);
        else
            assert_non_null(err);
        berth_error_free(err);
    }
}

static void test_device_rules(void **state)
{
    struct spec_device_rule spec[] = {
        {.allow = false, .type = 'a', .access = "rwm"},
        {.allow = true, .type = 'c', .has_major = true, .major = 4, .access = "rw"},
        {.allow = true, .type = 'b', .has_major = true, .major = 8, .has_minor = true, .minor = 1},
    };
    struct cgroup_device_rule *rules;
    size_t n, n_def;
    struct berth_error *err = NULL;
    const struct cgroup_device_rule *def = cgroup_default_device_rules(&n_def);
    assert_int_equal(cgroup_device_rules(spec, 3, &rules, &n, &err), 0);
    assert_int_equal(n, 3 + n_def);
    assert_int_equal(rules[1].major, 4);
    assert_int_equal(rules[1].minor, -1);
    assert_int_equal(rules[1].access, CGROUP_DEV_READ | CGROUP_DEV_WRITE);
    assert_int_equal(rules[2].access, CGROUP_DEV_ALL);
    assert_memory_equal(&rules[3], &def[0], sizeof(*def) * n_def);

    char lines[2][64];
    assert_int_equal(cgroup_device_rule_v1_lines(&rules[0], lines), 1);
    assert_string_equal(lines[0], "a");
    assert_int_equal(cgroup_device_rule_v1_lines(&rules[1], lines), 1);
    assert_string_equal(lines[0], "c 4:* rw");
    assert_int_equal(cgroup_device_rule_v1_lines(&rules[2], lines), 1);
    assert_string_equal(lines[0], "b 8:1 rwm");
    assert_int_equal(cgroup_device_rule_v1_lines(&def[0], lines), 1);
    assert_string_equal(lines[0], "c *:* m");
    struct cgroup_device_rule partial = {false, 'a', -1, -1, CGROUP_DEV_WRITE};
    assert_int_equal(cgroup_device_rule_v1_lines(&partial, lines), 2);
    assert_string_equal(lines[0], "c *:* w");
    assert_string_equal(lines[1], "b *:* w");
    free(rules);

    struct spec_device_rule bad_access = {.allow = true, .type = 'c', .access = "rwx"};
    assert_int_equal(cgroup_device_rules(&bad_access, 1, &rules, &n, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "access \"rwx\""));
    berth_error_freep(&err);
    struct spec_device_rule empty_access = {.allow = true, .type = 'c', .access = ""};
    assert_int_equal(cgroup_device_rules(&empty_access, 1, &rules, &n, &err), -EINVAL);
    berth_error_freep(&err);
    struct spec_device_rule bad_type = {.allow = true, .type = 'p'};
    assert_int_equal(cgroup_device_rules(&bad_type, 1, &rules, &n, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "type \"p\""));
    berth_error_freep(&err);
    struct spec_device_rule bad_major = {
        .allow = true, .type = 'c', .has_major = true, .major = 1LL << 40};
    assert_int_equal(cgroup_device_rules(&bad_major, 1, &rules, &n, &err), -EINVAL);
    berth_error_freep(&err);
}

/* ---- the BPF program, checked instruction by instruction and by running it ---- */

static void test_bpf_instructions(void **state)
{
    const struct cgroup_device_rule rules[] = {
        {true, 'c', 1, 3, CGROUP_DEV_READ | CGROUP_DEV_WRITE},
        {false, 'a', -1, -1, CGROUP_DEV_MKNOD},
    };
    struct bpf_insn *p;
    size_t n;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_devices_bpf_build(rules, 2, &p, &n, &err), 0);
    const struct bpf_insn want[] = {
        {BPF_LDX | BPF_W | BPF_MEM, 2, 1, 0, 0},
        {BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff},
        {BPF_LDX | BPF_W | BPF_MEM, 3, 1, 0, 0},
        {BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16},
        {BPF_LDX | BPF_W | BPF_MEM, 4, 1, 4, 0},
        {BPF_LDX | BPF_W | BPF_MEM, 5, 1, 8, 0},
        /* the last rule first: deny mknod of anything */
        {BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0},
        {BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, BPF_DEVCG_ACC_MKNOD},
        {BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 2, 0},
        {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
        /* then: allow rw of char 1:3 */
        {BPF_JMP | BPF_JNE | BPF_K, 2, 0, 9, BPF_DEVCG_DEV_CHAR},
        {BPF_JMP | BPF_JNE | BPF_K, 4, 0, 8, 1},
        {BPF_JMP | BPF_JNE | BPF_K, 5, 0, 7, 3},
        {BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0},
        {BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE},
        {BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 4, 0},
        {BPF_ALU64 | BPF_AND | BPF_K, 3, 0, 0, ~(BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)},
        {BPF_JMP | BPF_JNE | BPF_K, 3, 0, 2, 0},
        {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
        /* nothing matched: deny */
        {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].code, want[i].code);
        assert_int_equal(p[i].dst_reg, want[i].dst_reg);
        assert_int_equal(p[i].src_reg, want[i].src_reg);
        assert_int_equal(p[i].off, want[i].off);
        assert_int_equal(p[i].imm, want[i].imm);
    }
    free(p);

    const struct cgroup_device_rule bad = {true, 'c', 1, 3, 0};
    assert_int_equal(cgroup_devices_bpf_build(&bad, 1, &p, &n, &err), -EINVAL);
    berth_error_free(err);
}

/* Just enough of an eBPF machine for the builder's output. */
static int bpf_run(const struct bpf_insn *p, size_t n, const struct bpf_cgroup_dev_ctx *ctx)
{
    uint64_t r[11] = {0};
    for (size_t pc = 0; pc < n; pc++) {
        const struct bpf_insn *i = &p[pc];
        uint64_t k = (uint64_t)(int64_t)i->imm;
        switch (i->code) {
        case BPF_LDX | BPF_W | BPF_MEM: {
            assert_int_equal(i->src_reg, 1);
            uint32_t v;
            memcpy(&v, (const char *)ctx + i->off, sizeof(v));
            r[i->dst_reg] = v;
            break;
        }
        case BPF_ALU64 | BPF_AND | BPF_K:
            r[i->dst_reg] &= k;
            break;
        case BPF_ALU64 | BPF_RSH | BPF_K:
            r[i->dst_reg] >>= k;
            break;
        case BPF_ALU64 | BPF_MOV | BPF_X:
            r[i->dst_reg] = r[i->src_reg];
            break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
            r[i->dst_reg] = k;
            break;
        case BPF_JMP | BPF_JNE | BPF_K:
            if (r[i->dst_reg] != k)
                pc += (size_t)i->off;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            if (r[i->dst_reg] == k)
                pc += (size_t)i->off;
            break;
        case BPF_JMP | BPF_EXIT:
            return (int)r[0];
        default:
            fail_msg("unexpected opcode 0x%x at %zu", i->code, pc);
        }
        assert_true(pc < n);
    }
    fail_msg("ran off the end");
    return -1;
}

/* The rule semantics written plainly: each access bit goes by the last rule that covers it. */
static int reference(const struct cgroup_device_rule *rules, size_t n, char type, unsigned major,
                     unsigned minor, unsigned access)
{
    for (unsigned bit = 1; bit <= 4; bit <<= 1) {
        if (!(access & bit))
            continue;
        bool allowed = false;
        for (size_t i = n; i-- > 0;) {
            const struct cgroup_device_rule *x = &rules[i];
            if ((x->type != 'a' && x->type != type) || (x->major >= 0 && x->major != major) ||
                (x->minor >= 0 && x->minor != minor) || !(x->access & bit))
                continue;
            allowed = x->allow;
            break;
        }
        if (!allowed)
            return 0;
    }
    return 1;
}

static void check_program_matches_reference(const struct cgroup_device_rule *rules, size_t n)
{
    struct bpf_insn *p;
    size_t np;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_devices_bpf_build(rules, n, &p, &np, &err), 0);
    static const unsigned majors[] = {1, 4, 5, 8, 10, 136, 254};
    static const unsigned minors[] = {0, 1, 2, 3, 5, 7, 8, 9, 11, 200};
    for (int t = 0; t < 2; t++) {
        char type = t ? 'c' : 'b';
        for (size_t a = 0; a < sizeof(majors) / sizeof(majors[0]); a++)
            for (size_t b = 0; b < sizeof(minors) / sizeof(minors[0]); b++)
                for (unsigned acc = 1; acc <= 7; acc++) {
                    struct bpf_cgroup_dev_ctx ctx = {
                        .access_type =
                            (acc << 16) | (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK),
                        .major = majors[a],
                        .minor = minors[b],
                    };
                    int want = reference(rules, n, type, majors[a], minors[b], acc);
                    int got = bpf_run(p, np, &ctx);
                    if (got != want)
                        fail_msg("%c %u:%u access %u: program says %d, rules say %d", type,
                                 majors[a], minors[b], acc, got, want);
                }
    }
    free(p);
}

static void test_bpf_semantics(void **state)
{
    /* The default list behind a deny-all, as a container gets by default. */
    struct spec_device_rule deny_all = {.allow = false, .type = 'a', .access = "rwm"};
    struct cgroup_device_rule *rules;
    size_t n;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_device_rules(&deny_all, 1, &rules, &n, &err), 0);
    check_program_matches_reference(rules, n);
    free(rules);

    /* Per-bit decisions: read from one rule, write from another, a later partial deny. */
    const struct cgroup_device_rule mixed[] = {
        {true, 'c', 1, -1, CGROUP_DEV_READ},
        {true, 'c', 1, 5, CGROUP_DEV_WRITE},
        {false, 'c', 1, 7, CGROUP_DEV_WRITE},
        {true, 'a', 8, -1, CGROUP_DEV_ALL},
        {false, 'b', 8, 1, CGROUP_DEV_MKNOD | CGROUP_DEV_READ},
        {true, 'c', 136, -1, CGROUP_DEV_ALL},
    };
    check_program_matches_reference(mixed, sizeof(mixed) / sizeof(mixed[0]));

    /* Allow everything, then take some back. */
    const struct cgroup_device_rule privileged[] = {
        {true, 'a', -1, -1, CGROUP_DEV_ALL},
        {false, 'c', 1, 7, CGROUP_DEV_ALL},
    };
    check_program_matches_reference(privileged, 2);

    /* No rules at all: nothing is allowed. */
    check_program_matches_reference(NULL, 0);
}

static void test_page_size(void **state)
{
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_check_page_size("2MB", &err), 0);
    assert_int_equal(cgroup_check_page_size("1GB", &err), 0);
    assert_int_equal(cgroup_check_page_size("64KB", &err), 0);
    const char *bad[] = {"", "MB", "2M", "2MB/../x", "../2MB", "2mb", "2 MB", "2XB"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cgroup_check_page_size(bad[i], &err), -EINVAL);
        berth_error_freep(&err);
    }
}

static const char state_json[] =
    "{\"mode\": \"hybrid\", \"dirs\": ["
    "{\"controllers\": \"cpu,cpuacct\", \"mount\": \"/sys/fs/cgroup/cpu,cpuacct\","
    " \"path\": \"/sys/fs/cgroup/cpu,cpuacct/berth/c1\", \"created\": 2},"
    "{\"controllers\": \"\", \"mount\": \"/sys/fs/cgroup/unified\","
    " \"path\": \"/sys/fs/cgroup/unified/berth/c1\", \"created\": 1}]}";

static void test_json(void **state)
{
    json_t *in = json_loads(state_json, 0, NULL);
    assert_non_null(in);
    struct cgroup *cg = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_from_json(in, &cg, &err), 0);
    assert_int_equal(cgroup_get_mode(cg), CGROUP_MODE_HYBRID);
    assert_string_equal(cgroup_get_path(cg, "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/berth/c1");
    assert_string_equal(cgroup_get_path(cg, ""), "/sys/fs/cgroup/unified/berth/c1");
    assert_null(cgroup_get_path(cg, "memory"));
    json_t *out = cgroup_to_json(cg);
    assert_true(json_equal(in, out));
    json_decref(out);
    cgroup_free(cg);
    json_decref(in);

    static const char *bad[] = {
        "{\"mode\": \"v3\", \"dirs\": []}",
        "{\"mode\": \"hybrid\"}",
        "{\"mode\": \"hybrid\", \"dirs\": {}}",
        "{\"mode\": \"hybrid\", \"dirs\": [], \"extra\": 1}",
        "{\"mode\": \"legacy\", \"dirs\": [{\"controllers\": \"cpu\", \"mount\": "
        "\"/sys/fs/cgroup/cpu\", \"path\": \"/sys/fs/cgroup/cpu/../../../etc\", \"created\": 1}]}",
        "{\"mode\": \"legacy\", \"dirs\": [{\"controllers\": \"cpu\", \"mount\": "
        "\"/sys/fs/cgroup/cpu\", \"path\": \"/etc/x\", \"created\": 1}]}",
        "{\"mode\": \"legacy\", \"dirs\": [{\"controllers\": \"cpu\", \"mount\": "
        "\"/sys/fs/cgroup/cpu\", \"path\": \"/sys/fs/cgroup/cpu/a\", \"created\": 2}]}",
        "{\"mode\": \"legacy\", \"dirs\": [{\"controllers\": \"cpu\", \"mount\": "
        "\"/sys/fs/cgroup/cpu\", \"path\": \"/sys/fs/cgroup/cpuset/a\", \"created\": 0}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        cg = NULL;
        assert_int_equal(cgroup_from_json(j, &cg, &err), -EINVAL);
        assert_null(cg);
        assert_non_null(strstr(err->msg, "cgroup state"));
        berth_error_freep(&err);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_from_magic),
        cmocka_unit_test(test_manager_check),
        cmocka_unit_test(test_inner_path),
        cmocka_unit_test(test_dir_path),
        cmocka_unit_test(test_parse_hierarchies),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_device_rules),
        cmocka_unit_test(test_bpf_instructions),
        cmocka_unit_test(test_bpf_semantics),
        cmocka_unit_test(test_page_size),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
