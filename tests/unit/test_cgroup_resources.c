/* The cgroup module's resources against the real kernel, as root: limits written and read
 * back from the files, refused values, hugetlb, device rules enforced, the freezer and the v2
 * device program loaded for real. The expectations follow the host's mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sched.h>

#include "berth/error.h"
#include "cgroup_fixture.h"
#include "linux/cgroup/cgroup.h"
#include "linux/cgroup/devices.h"
#include "spec/spec.h"

static void assert_file(const char *dir, const char *file, const char *want)
{
    char *got = fx_read_text(dir, file);
    if (!got)
        fail_msg("%s/%s: %s", dir, file, strerror(errno));
    if (strcmp(got, want) != 0)
        fail_msg("%s/%s: \"%s\", expected \"%s\"", dir, file, got, want);
    free(got);
}

static void apply(struct cgroup *cg, const struct spec_resources *res)
{
    struct berth_error *err = NULL;
    if (cgroup_apply(cg, res, false, &err) < 0)
        fail_msg("cgroup_apply: %s", err->msg);
}

/* Run fn in a child inside the cgroup; its exit status is the result. */
static int run_inside(struct cgroup *cg, int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct berth_error *err = NULL;
        if (cgroup_join_self(cg, false, false, &err) < 0)
            _exit(100);
        _exit(fn());
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* ---- resources ---- */

/* A block device for the throttle test: BERTH_TEST_DISK ("7:0") or the first real disk. */
static bool find_disk(char *out, size_t size)
{
    const char *env = getenv("BERTH_TEST_DISK");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return true;
    }
    DIR *d = opendir("/sys/block");
    if (!d)
        return false;
    struct dirent *de;
    bool found = false;
    while (!found && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !strncmp(de->d_name, "loop", 4) ||
            !strncmp(de->d_name, "zram", 4) || !strncmp(de->d_name, "ram", 3))
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/sys/block/%s", de->d_name);
        char *dev = fx_read_text(path, "dev");
        if (dev) {
            snprintf(out, size, "%s", dev);
            found = true;
            free(dev);
        }
    }
    closedir(d);
    return found;
}

static void test_apply_read_back(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
    bool v2 = cgroup_get_mode(f->cg) == CGROUP_MODE_UNIFIED;
    char disk[32] = "";
    unsigned dmaj = 0, dmin = 0;
    if (find_disk(disk, sizeof(disk)))
        sscanf(disk, "%u:%u", &dmaj, &dmin);
    struct spec_memory mem = {.has_limit = true,
                              .limit = 64 << 20,
                              .has_swap = true,
                              .swap = 128 << 20,
                              .has_reservation = true,
                              .reservation = 32 << 20,
                              .has_kernel = true,
                              .kernel = 1 << 20};
    struct spec_cpu cpu = {.has_shares = true,
                           .shares = 512,
                           .has_quota = true,
                           .quota = 50000,
                           .has_period = true,
                           .period = 100000,
                           .cpus = "0",
                           .mems = "0"};
    struct spec_throttle_device rbps = {.major = dmaj, .minor = dmin, .rate = 1 << 20};
    struct spec_block_io bio = {.throttle_read_bps = &rbps, .n_throttle_read_bps = disk[0] ? 1 : 0};
    struct spec_resources res = {
        .memory = &mem, .cpu = &cpu, .has_pids_limit = true, .pids_limit = 42, .block_io = &bio};
    apply(f->cg, &res);

    const char *m = cgroup_get_path(f->cg, v2 ? "" : "memory");
    const char *c = cgroup_get_path(f->cg, v2 ? "" : "cpu");
    const char *cs = cgroup_get_path(f->cg, v2 ? "" : "cpuset");
    const char *p = cgroup_get_path(f->cg, v2 ? "" : "pids");
    const char *b = cgroup_get_path(f->cg, v2 ? "" : "blkio");
    if (v2) {
        assert_file(m, "memory.max", "67108864");
        if (fx_exists("/sys/fs/cgroup/memory.swap.max") || fx_read_text(m, "memory.swap.max"))
            assert_file(m, "memory.swap.max", "67108864");
        assert_file(m, "memory.low", "33554432");
        assert_file(c, "cpu.weight", "59");
        assert_file(c, "cpu.max", "50000 100000");
        assert_file(cs, "cpuset.cpus", "0");
        assert_file(cs, "cpuset.mems", "0");
    } else {
        assert_file(m, "memory.limit_in_bytes", "67108864");
        assert_file(m, "memory.memsw.limit_in_bytes", "134217728");
        assert_file(m, "memory.soft_limit_in_bytes", "33554432");
        assert_file(c, "cpu.shares", "512");
        assert_file(c, "cpu.cfs_quota_us", "50000");
        assert_file(c, "cpu.cfs_period_us", "100000");
        assert_file(cs, "cpuset.cpus", "0");
        assert_file(cs, "cpuset.mems", "0");
    }
    assert_file(p, "pids.max", "42");
    if (disk[0]) {
        char want[128];
        if (v2)
            snprintf(want, sizeof(want), "%s rbps=1048576 wbps=max riops=max wiops=max", disk);
        else
            snprintf(want, sizeof(want), "%s 1048576", disk);
        assert_file(b, v2 ? "io.max" : "blkio.throttle.read_bps_device", want);
    }

    /* An update raising both memory and memory+swap needs the v1 writes in the other order. */
    mem.limit = 256 << 20;
    mem.swap = 512 << 20;
    struct spec_resources up = {.memory = &mem, .has_pids_limit = true, .pids_limit = -1};
    struct berth_error *err = NULL;
    if (cgroup_apply(f->cg, &up, true, &err) < 0)
        fail_msg("update: %s", err->msg);
    assert_file(m, v2 ? "memory.max" : "memory.limit_in_bytes", "268435456");
    if (!v2)
        assert_file(m, "memory.memsw.limit_in_bytes", "536870912");
    assert_file(p, "pids.max", "max");

    /* Stats see the limits and a process. */
    fx_spawn(f, f->cg);
    struct cgroup_stats st;
    assert_int_equal(cgroup_stats(f->cg, &st, &err), 0);
    assert_true(st.has_memory);
    assert_int_equal(st.memory_limit, 268435456);
    assert_true(st.memory_usage > 0);
    assert_true(st.has_pids);
    assert_int_equal(st.pids_current, 1);
    assert_int_equal(st.pids_limit, UINT64_MAX);
    assert_true(st.has_cpu);

    /* checkBeforeUpdate refuses a limit below what is already in use. */
    struct spec_memory tight = {.has_limit = true,
                                .limit = 4096,
                                .has_check_before_update = true,
                                .check_before_update = true};
    struct spec_resources tres = {.memory = &tight};
    assert_int_equal(cgroup_apply(f->cg, &tres, true, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "memory limit 4096 is below the current usage"));
    berth_error_freep(&err);
    assert_file(m, v2 ? "memory.max" : "memory.limit_in_bytes", "268435456");
}

static void test_apply_errors(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
    bool v2 = cgroup_get_mode(f->cg) == CGROUP_MODE_UNIFIED;
    struct berth_error *err = NULL;

    /* The kernel's minimum quota is 1000us: the message names the file and the value. */
    struct spec_cpu cpu = {.has_quota = true, .quota = 500, .has_period = true, .period = 100000};
    struct spec_resources res = {.cpu = &cpu};
    assert_int_equal(cgroup_apply(f->cg, &res, false, &err), -EINVAL);
    assert_string_equal(err->msg, v2 ? "cgroup cpu.max: write \"500 100000\": Invalid argument"
                                     : "cgroup cpu.cfs_quota_us: write \"500\": Invalid argument");
    berth_error_freep(&err);
    /* Callers that want only the code pass no error. */
    assert_int_equal(cgroup_apply(f->cg, &res, false, NULL), -EINVAL);

    struct spec_memory mem = {.has_swappiness = true, .swappiness = 200};
    struct spec_resources res2 = {.memory = &mem};
    if (!v2) {
        assert_int_equal(cgroup_apply(f->cg, &res2, false, &err), -EINVAL);
        assert_string_equal(err->msg, "cgroup: memory.swappiness 200 is out of range (0-100)");
        berth_error_freep(&err);
    }

    struct spec_key_value kv = {.key = "../memory.max", .value = "1"};
    struct spec_resources res3 = {.unified = &kv, .n_unified = 1};
    assert_int_equal(cgroup_apply(f->cg, &res3, false, &err), -EINVAL);
    if (v2)
        assert_non_null(strstr(err->msg, "must be a file name"));
    else
        assert_non_null(strstr(err->msg, "needs a cgroup v2 host"));
    berth_error_freep(&err);

    struct spec_hugepage_limit hp = {.page_size = "2MB/../../x", .limit = 1};
    struct spec_resources res4 = {.hugepage_limits = &hp, .n_hugepage_limits = 1};
    assert_int_equal(cgroup_apply(f->cg, &res4, false, &err), -EINVAL);
    berth_error_freep(&err);

    /* A device rule the config got wrong is refused before anything is written. */
    struct spec_device_rule bad = {.allow = true, .type = 'c', .access = "rx"};
    struct spec_resources res5 = {.devices = &bad, .n_devices = 1};
    assert_int_equal(cgroup_apply(f->cg, &res5, false, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "devices[0]"));
    berth_error_freep(&err);

    if (v2) {
        struct spec_key_value ok = {.key = "pids.max", .value = "7"};
        struct spec_resources res6 = {.unified = &ok, .n_unified = 1};
        apply(f->cg, &res6);
        assert_file(cgroup_get_path(f->cg, ""), "pids.max", "7");
    }
}

static void test_hugetlb(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
    const char *u = cgroup_get_path(f->cg, "");
    const char *v1 = cgroup_get_path(f->cg, "hugetlb");
    if (!fx_exists("/sys/kernel/mm/hugepages/hugepages-2048kB"))
        skip();
    char *ctl = NULL;
    if (!v1 && u) {
        /* The controllers the cgroup2 hierarchy has, seen from its root. */
        FILE *fp = fopen("/proc/self/mountinfo", "re");
        char line[4096], root[256] = "";
        while (fp && fgets(line, sizeof(line), fp))
            if (strstr(line, " - cgroup2 "))
                sscanf(line, "%*s %*s %*s %*s %255s", root);
        if (fp)
            fclose(fp);
        ctl = fx_read_text(root, "cgroup.controllers");
        if (!ctl || !strstr(ctl, "hugetlb")) {
            free(ctl);
            skip();
        }
        free(ctl);
    }
    if (!v1 && !u)
        skip();
    struct spec_hugepage_limit hp = {.page_size = "2MB", .limit = 4 << 20};
    struct spec_resources res = {.hugepage_limits = &hp, .n_hugepage_limits = 1};
    apply(f->cg, &res);
    if (v1)
        assert_file(v1, "hugetlb.2MB.limit_in_bytes", "4194304");
    else
        assert_file(u, "hugetlb.2MB.max", "4194304"); /* v2 files, also on a hybrid host */
}

/* ---- devices ---- */

static int open_errno(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno;
}

static int check_device_policy(void)
{
    if (open_errno("/dev/null", O_RDWR) != 0)
        return 1;
    if (open_errno("/dev/full", O_RDONLY) != 0)
        return 2;
    if (open_errno("/dev/kmsg", O_RDONLY) != EPERM) /* 1:11 is in no rule */
        return 3;
    if (open_errno("/dev/zero", O_RDONLY) != 0)
        return 4;
    return 0;
}

static void test_devices(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    if (!fx_exists("/dev/kmsg"))
        skip();
    f->cg = fx_create(NULL, f->id);
    struct spec_device_rule rules[] = {
        {.allow = false, .type = 'a', .access = "rwm"},
        {.allow = true,
         .type = 'c',
         .has_major = true,
         .major = 4,
         .has_minor = true,
         .minor = 64,
         .access = "rw"},
        {.allow = true, .type = 'a', .has_major = true, .major = 7, .access = "r"},
    };
    struct spec_resources res = {.devices = rules, .n_devices = 3};
    apply(f->cg, &res);
    const char *d = cgroup_get_path(f->cg, "devices");
    if (d) {
        /* v1: the kernel's own list is the config's allow rules plus the defaults. */
        char *list = fx_read_text(d, "devices.list");
        assert_non_null(list);
        static const char *want[] = {"c 4:64 rw",   "c 7:* r",   "b 7:* r",     "c *:* m",
                                     "b *:* m",     "c 1:3 rwm", "c 1:8 rwm",   "c 1:7 rwm",
                                     "c 5:0 rwm",   "c 1:5 rwm", "c 1:9 rwm",   "c 5:1 rwm",
                                     "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"};
        size_t lines = 1;
        for (char *s = list; *s; s++)
            lines += *s == '\n';
        char *hay = NULL;
        assert_true(asprintf(&hay, "\n%s\n", list) > 0);
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            char needle[64];
            snprintf(needle, sizeof(needle), "\n%s\n", want[i]);
            if (!strstr(hay, needle))
                fail_msg("devices.list lacks \"%s\":\n%s", want[i], list);
        }
        free(hay);
        assert_int_equal(lines, sizeof(want) / sizeof(want[0]));
        free(list);
    }
    /* The policy holds for a process inside, whichever controller enforces it. */
    assert_int_equal(run_inside(f->cg, check_device_policy), 0);
}

/* ---- freezer ---- */

static unsigned long counter_after(struct fixture *f, long ms)
{
    unsigned long before = *f->counter;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    return *f->counter - before;
}

static void test_freeze_thaw(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
    fx_spawn(f, f->cg);
    struct berth_error *err = NULL;
    bool frozen = true;
    assert_int_equal(cgroup_is_frozen(f->cg, &frozen, &err), 0);
    assert_false(frozen);
    assert_true(counter_after(f, 50) > 0);

    assert_int_equal(cgroup_freeze(f->cg, true, &err), 0);
    assert_int_equal(cgroup_is_frozen(f->cg, &frozen, &err), 0);
    assert_true(frozen);
    const char *fz = cgroup_get_path(f->cg, "freezer");
    if (fz)
        assert_file(fz, "freezer.state", "FROZEN");
    else
        assert_non_null(
            strstr(fx_read_text(cgroup_get_path(f->cg, ""), "cgroup.events"), "frozen 1"));
    assert_int_equal(counter_after(f, 100), 0);

    assert_int_equal(cgroup_freeze(f->cg, false, &err), 0);
    assert_int_equal(cgroup_is_frozen(f->cg, &frozen, &err), 0);
    assert_false(frozen);
    assert_true(counter_after(f, 100) > 0);

    /* A paused container still dies of SIGKILL. */
    assert_int_equal(cgroup_freeze(f->cg, true, &err), 0);
    assert_int_equal(cgroup_signal_all(f->cg, SIGKILL, &err), 0);
    int status;
    fx_wait_child(f->child, &status);
    f->child = -1;
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* ---- the v2 device program, loaded for real ---- */

static char bpf_dir[256];

static int check_bpf_policy(void)
{
    char procs[300];
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", bpf_dir);
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1)
        return 10;
    close(fd);
    if (open_errno("/dev/null", O_RDWR) != 0)
        return 1;
    if (open_errno("/dev/zero", O_RDONLY) != 0) /* allowed for reading only */
        return 2;
    if (open_errno("/dev/zero", O_WRONLY) != EPERM)
        return 3;
    if (open_errno("/dev/full", O_RDONLY) != EPERM) /* the later deny wins */
        return 4;
    if (open_errno("/dev/urandom", O_RDONLY) != EPERM) /* in no rule */
        return 5;
    return 0;
}

static uint32_t attached_programs(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint32_t ids[8];
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uintptr_t)ids;
    attr.query.prog_cnt = 8;
    assert_int_equal(syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)), 0);
    close(fd);
    return attr.query.prog_cnt;
}

static void test_bpf_device_program(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    enum cgroup_mode mode;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_detect_mode(&mode, &err), 0);
    if (mode == CGROUP_MODE_LEGACY)
        skip();
    snprintf(bpf_dir, sizeof(bpf_dir), "%s/%s-bpf",
             mode == CGROUP_MODE_UNIFIED ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified", f->id);
    assert_int_equal(mkdir(bpf_dir, 0755), 0);
    snprintf(f->extra_dir, sizeof(f->extra_dir), "%s", bpf_dir);

    const struct cgroup_device_rule first[] = {{true, 'a', -1, -1, CGROUP_DEV_ALL}};
    if (cgroup_devices_bpf_install(bpf_dir, first, 1, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(attached_programs(bpf_dir), 1);

    /* Replacing leaves one program, the new one. */
    const struct cgroup_device_rule rules[] = {
        {true, 'c', 1, 3, CGROUP_DEV_ALL},
        {true, 'c', 1, 5, CGROUP_DEV_READ},
        {true, 'c', 1, 7, CGROUP_DEV_ALL},
        {false, 'c', 1, 7, CGROUP_DEV_ALL},
    };
    if (cgroup_devices_bpf_install(bpf_dir, rules, 4, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(attached_programs(bpf_dir), 1);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(check_bpf_policy());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_read_back, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_apply_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hugetlb, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_devices, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_freeze_thaw, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bpf_device_program, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
