/* Seccomp filters built from linux.seccomp, loaded in forked children that then make real
 * system calls: actions, errno values, argument comparisons, architectures, flags and the
 * notify listener hand-over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/error.h"
#include "linux/seccomp_filter.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

/* ---- helpers ---- */

static struct spec *spec_with_seccomp(const char *seccomp_json)
{
    _cleanup_free_ char *text = xasprintf("{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": "
                                          "\"rootfs\"}, \"linux\": {\"seccomp\": %s}}",
                                          seccomp_json);
    struct spec *s = NULL;
    struct berth_error *err = NULL;
    if (spec_parse(text, strlen(text), "config.json", &s, &err) < 0)
        fail_msg("spec: %s", err->msg);
    return s;
}

static void compile_ok(const char *seccomp_json, struct seccomp_filter_prog *p)
{
    struct spec *s = spec_with_seccomp(seccomp_json);
    struct berth_error *err = NULL;
    if (seccomp_filter_compile(s->linux_->seccomp, p, &err) < 0)
        fail_msg("compile: %s", err->msg);
    spec_free(s);
}

/* Build (multi-architecture context) and compile must both fail; returns the message. */
static char *build_fails(const char *seccomp_json)
{
    struct spec *s = spec_with_seccomp(seccomp_json);
    struct berth_error *err = NULL;
    scmp_filter_ctx ctx = NULL;
    assert_true(seccomp_filter_build(s->linux_->seccomp, &ctx, &err) < 0);
    assert_null(ctx);
    char *msg = xstrdup(err->msg);
    berth_error_free(err);
    err = NULL;
    struct seccomp_filter_prog p;
    assert_true(seccomp_filter_compile(s->linux_->seccomp, &p, &err) < 0);
    assert_string_equal(err->msg, msg);
    berth_error_free(err);
    spec_free(s);
    return msg;
}

typedef int (*child_fn)(void *arg);

/* Fork; the child loads the program and returns fn's value as its exit status. */
static int run_filtered(const struct seccomp_filter_prog *p, child_fn fn, void *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct berth_error *err = NULL;
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (seccomp_filter_load(p, NULL, &err) < 0) {
            fprintf(stderr, "load: %s\n", err->msg);
            _exit(99);
        }
        _exit(fn(arg));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_exit(int status, int code)
{
    if (!WIFEXITED(status))
        fail_msg("child did not exit: status %#x (signal %d)", status,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    assert_int_equal(WEXITSTATUS(status), code);
}

static void assert_killed(int status, int sig)
{
    if (!WIFSIGNALED(status))
        fail_msg("child was not killed: status %#x (exit %d)", status, WEXITSTATUS(status));
    assert_int_equal(WTERMSIG(status), sig);
}

/* Exit statuses that say which errno a call failed with: 0 success, 1 + errno failure. */
static int errno_status(long r)
{
    return r < 0 ? 1 + errno : 0;
}

static char *make_tmpdir(void)
{
    char *dir = xstrdup("/tmp/berth-test-seccomp-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int call_mkdir(void *arg)
{
    return errno_status(mkdir((const char *)arg, 0755));
}

static int call_getppid(void *arg)
{
    (void)arg;
    return errno_status(syscall(SYS_getppid));
}

/* ---- actions and errno values ---- */

static void test_errno_ret(void **state)
{
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\", "
               "\"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}",
               &p);
    assert_false(p.notify);
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *sub = xasprintf("%s/x", dir);
    assert_exit(run_filtered(&p, call_mkdir, sub), 1 + EACCES);
    struct stat st;
    assert_int_equal(stat(sub, &st), -1);
    /* Without the filter the same call works: the denial came from the filter. */
    assert_int_equal(call_mkdir(sub), 0);
    rmdir(sub);
    rmdir(dir);
    seccomp_filter_prog_clear(&p);
}

static void test_errno_default_eperm(void **state)
{
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
               &p);
    assert_exit(run_filtered(&p, call_getppid, NULL), 1 + EPERM);
    seccomp_filter_prog_clear(&p);
}

/* An allow list of every native system call but mkdir and mkdirat. */
static char *allow_all_but_mkdir(void)
{
    json_t *names = json_array();
    for (int nr = 0; nr < 1024; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (!name)
            continue;
        if (strcmp(name, "mkdir") != 0 && strcmp(name, "mkdirat") != 0)
            json_array_append_new(names, json_string(name));
        free(name);
    }
    json_t *rule = json_pack("{s:o, s:s}", "names", names, "action", "SCMP_ACT_ALLOW");
    char *text = json_dumps(rule, JSON_COMPACT);
    json_decref(rule);
    return text;
}

static void test_default_errno_ret(void **state)
{
    _cleanup_free_ char *allow = allow_all_but_mkdir();
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *sub = xasprintf("%s/x", dir);
    struct {
        const char *extra;
        int expect;
    } cases[] = {
        {", \"defaultErrnoRet\": 18", EXDEV},
        {"", EPERM},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *json = xasprintf(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\"%s, \"syscalls\": [%s]}", cases[i].extra, allow);
        struct seccomp_filter_prog p;
        compile_ok(json, &p);
        assert_exit(run_filtered(&p, call_mkdir, sub), 1 + cases[i].expect);
        /* Everything on the allow list still works. */
        assert_exit(run_filtered(&p, call_getppid, NULL), 0);
        seccomp_filter_prog_clear(&p);
    }
    rmdir(dir);
}

static void test_kill_actions(void **state)
{
    const char *actions[] = {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"};
    for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
        _cleanup_free_ char *json =
            xasprintf("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                      "[\"getppid\"], \"action\": \"%s\"}]}",
                      actions[i]);
        struct seccomp_filter_prog p;
        compile_ok(json, &p);
        assert_killed(run_filtered(&p, call_getppid, NULL), SIGSYS);
        seccomp_filter_prog_clear(&p);
    }
}

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a SIGSYS from a seccomp filter */
#endif

static void on_sigsys(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    _exit(info->si_code == SYS_SECCOMP && info->si_syscall == SYS_getppid ? 42 : 43);
}

static int trap_child(void *arg)
{
    (void)arg;
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, NULL);
    syscall(SYS_getppid);
    return 44;
}

static void test_trap(void **state)
{
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"getppid\"], \"action\": \"SCMP_ACT_TRAP\"}]}",
               &p);
    assert_exit(run_filtered(&p, trap_child, NULL), 42);
    seccomp_filter_prog_clear(&p);
}

static bool prog_returns(const struct seccomp_filter_prog *p, uint32_t action)
{
    for (size_t i = 0; i < p->len; i++)
        if (p->insns[i].code == (BPF_RET | BPF_K) && p->insns[i].k == action)
            return true;
    return false;
}

static void test_trace_log_allow(void **state)
{
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"getppid\"], \"action\": \"SCMP_ACT_TRACE\", \"errnoRet\": 77}]}",
               &p);
    /* errnoRet is the data a tracer sees; with no tracer the kernel fails the call ENOSYS. */
    assert_true(prog_returns(&p, SCMP_ACT_TRACE(77)));
    assert_exit(run_filtered(&p, call_getppid, NULL), 1 + ENOSYS);
    seccomp_filter_prog_clear(&p);

    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"getppid\"], \"action\": \"SCMP_ACT_LOG\"}]}",
               &p);
    assert_true(prog_returns(&p, SCMP_ACT_LOG));
    assert_exit(run_filtered(&p, call_getppid, NULL), 0);
    seccomp_filter_prog_clear(&p);

    /* ALLOW under a denying default. */
    _cleanup_free_ char *allow = allow_all_but_mkdir();
    _cleanup_free_ char *json =
        xasprintf("{\"defaultAction\": \"SCMP_ACT_KILL_PROCESS\", \"syscalls\": [%s]}", allow);
    compile_ok(json, &p);
    assert_exit(run_filtered(&p, call_getppid, NULL), 0);
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *sub = xasprintf("%s/x", dir);
    assert_killed(run_filtered(&p, call_mkdir, sub), SIGSYS);
    rmdir(dir);
    seccomp_filter_prog_clear(&p);
}

/* ---- arguments ---- */

struct call {
    long nr;
    long a0, a1;
};

static int make_call(void *arg)
{
    const struct call *c = arg;
    return errno_status(syscall(c->nr, c->a0, c->a1));
}

/* Whether the call failed with the filter's marker errno (EDOM). */
static bool denied(const struct seccomp_filter_prog *p, long nr, long a0, long a1)
{
    struct call c = {nr, a0, a1};
    int status = run_filtered(p, make_call, &c);
    if (!WIFEXITED(status))
        fail_msg("child died: status %#x", status);
    return WEXITSTATUS(status) == 1 + EDOM;
}

static void test_personality_query(void **state)
{
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33, \"args\": "
               "[{\"index\": 0, \"value\": 4294967295, \"op\": \"SCMP_CMP_NE\"}]}]}",
               &p);
    assert_false(denied(&p, SYS_personality, 0xffffffffL, 0));
    assert_true(denied(&p, SYS_personality, PER_LINUX, 0));
    assert_true(denied(&p, SYS_personality, PER_LINUX32, 0));
    seccomp_filter_prog_clear(&p);
}

static void test_arg_ops(void **state)
{
    /* getpgid(pid) never has side effects: a pid the filter passes gets ESRCH or a group. */
    struct {
        const char *op;
        unsigned long value, value_two;
        long deny[4]; /* each list ends with -1 */
        long pass[4];
    } cases[] = {
        {"SCMP_CMP_EQ", 1000000, 0, {1000000, -1}, {999999, 1000001, -1}},
        {"SCMP_CMP_NE", 1000000, 0, {999999, 1000001, 5, -1}, {1000000, -1}},
        {"SCMP_CMP_LT", 1000000, 0, {999999, 0, -1}, {1000000, 1000001, -1}},
        {"SCMP_CMP_LE", 1000000, 0, {1000000, 999999, -1}, {1000001, 2000000, -1}},
        {"SCMP_CMP_GT", 1000000, 0, {1000001, 4000000, -1}, {1000000, 999999, -1}},
        {"SCMP_CMP_GE", 1000000, 0, {1000000, 1000001, -1}, {999999, 0, -1}},
        {"SCMP_CMP_MASKED_EQ", 0xf0000, 0x20000, {0x20000, 0x2ffff, -1}, {0x30000, 0x10000, -1}},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *json = xasprintf(
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"getpgid\"], "
            "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33, \"args\": [{\"index\": 0, "
            "\"value\": %lu, \"valueTwo\": %lu, \"op\": \"%s\"}]}]}",
            cases[i].value, cases[i].value_two, cases[i].op);
        struct seccomp_filter_prog p;
        compile_ok(json, &p);
        for (size_t k = 0; cases[i].deny[k] != -1; k++)
            if (!denied(&p, SYS_getpgid, cases[i].deny[k], 0))
                fail_msg("%s %lu: getpgid(%ld) passed", cases[i].op, cases[i].value,
                         cases[i].deny[k]);
        for (size_t k = 0; cases[i].pass[k] != -1; k++)
            if (denied(&p, SYS_getpgid, cases[i].pass[k], 0))
                fail_msg("%s %lu: getpgid(%ld) denied", cases[i].op, cases[i].value,
                         cases[i].pass[k]);
        seccomp_filter_prog_clear(&p);
    }
}

static void test_args_and_or(void **state)
{
    /* Two arguments in one rule: both must match. */
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"getpriority\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33, \"args\": "
               "[{\"index\": 0, \"value\": 7, \"op\": \"SCMP_CMP_EQ\"}, {\"index\": 1, \"value\": "
               "9, \"op\": \"SCMP_CMP_EQ\"}]}]}",
               &p);
    assert_true(denied(&p, SYS_getpriority, 7, 9));
    assert_false(denied(&p, SYS_getpriority, 7, 8));
    assert_false(denied(&p, SYS_getpriority, 6, 9));
    seccomp_filter_prog_clear(&p);

    /* The same argument twice: each condition is its own rule, either one matches (runc's
     * rule). */
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"getpgid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33, \"args\": "
               "[{\"index\": 0, \"value\": 1000005, \"op\": \"SCMP_CMP_EQ\"}, {\"index\": 0, "
               "\"value\": 1000006, \"op\": \"SCMP_CMP_EQ\"}]}]}",
               &p);
    assert_true(denied(&p, SYS_getpgid, 1000005, 0));
    assert_true(denied(&p, SYS_getpgid, 1000006, 0));
    assert_false(denied(&p, SYS_getpgid, 1000007, 0));
    seccomp_filter_prog_clear(&p);
}

/* ---- names, defaults, errors ---- */

static void test_unknown_and_redundant(void **state)
{
    struct seccomp_filter_prog p;
    /* An unknown name is skipped; the rest of its rule stands. A rule equal to the default
     * action is dropped instead of failing the build. */
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"no_such_syscall_at_all\", \"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", "
               "\"errnoRet\": 33}, {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
               &p);
    assert_true(denied(&p, SYS_getppid, 0, 0));
    assert_false(denied(&p, SYS_getpid, 0, 0));
    seccomp_filter_prog_clear(&p);

    /* ERRNO without errnoRet is ERRNO(EPERM): equal to such a default, skipped. */
    _cleanup_free_ char *allow = allow_all_but_mkdir();
    _cleanup_free_ char *json = xasprintf(
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [%s, {\"names\": [\"mkdir\"], "
        "\"action\": \"SCMP_ACT_ERRNO\"}, {\"names\": [\"mkdirat\"], \"action\": "
        "\"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]}",
        allow);
    compile_ok(json, &p);
    seccomp_filter_prog_clear(&p);
}

static void test_errors(void **state)
{
    _cleanup_free_ char *m1 =
        build_fails("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                    "[\"getppid\"], \"action\": \"SCMP_ACT_KILL\", \"errnoRet\": 1}]}");
    assert_string_equal(m1, "linux.seccomp.syscalls[0]: SCMP_ACT_KILL takes no errno return value");
    _cleanup_free_ char *m2 =
        build_fails("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 5}");
    assert_string_equal(m2,
                        "linux.seccomp.defaultAction: SCMP_ACT_ALLOW takes no errno return value");
    _cleanup_free_ char *m3 =
        build_fails("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                    "[\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 70000}]}");
    assert_string_equal(m3,
                        "linux.seccomp.syscalls[0]: errno return value 70000 does not fit in 16 "
                        "bits");
    /* Two unconditional rules for one call: libseccomp keeps the first, as under runc. */
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33}, {\"names\": "
               "[\"getppid\"], \"action\": \"SCMP_ACT_KILL\"}]}",
               &p);
    assert_true(denied(&p, SYS_getppid, 0, 0));
    seccomp_filter_prog_clear(&p);
}

/* ---- export and the libseccomp context ---- */

static char *pfc_text(scmp_filter_ctx ctx)
{
    int fd = memfd_create("pfc", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(seccomp_export_pfc(ctx, fd), 0);
    lseek(fd, 0, SEEK_SET);
    char *text = NULL;
    assert_int_equal(fs_read_fd(fd, 1 << 20, &text, NULL), 0);
    close(fd);
    return text;
}

static void test_build_ctx_and_install(void **state)
{
    struct spec *s = spec_with_seccomp(
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86\", "
        "\"SCMP_ARCH_X86_64\"], \"syscalls\": [{\"names\": [\"getppid\"], \"action\": "
        "\"SCMP_ACT_ERRNO\", \"errnoRet\": 33}]}");
    scmp_filter_ctx ctx = NULL;
    struct berth_error *err = NULL;
    if (seccomp_filter_build(s->linux_->seccomp, &ctx, &err) < 0)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *pfc = pfc_text(ctx);
    assert_non_null(strstr(pfc, "ERRNO(33)"));
#ifdef __x86_64__
    assert_non_null(strstr(pfc, "filter for arch x86_64"));
    assert_non_null(strstr(pfc, "filter for arch x86 "));
#endif
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        int fd;
        if (seccomp_filter_install(ctx, &fd, &err) < 0 || fd != -1)
            _exit(99);
        _exit(call_getppid(NULL));
    }
    int status;
    waitpid(pid, &status, 0);
    assert_exit(status, 1 + EDOM);
    seccomp_release(ctx);
    spec_free(s);
}

/* ---- architectures ---- */

#ifdef __x86_64__
/* A 32-bit system call from this 64-bit process: x86's getppid through int 0x80. */
static long ia32_getppid(void)
{
    long r = 64;
    __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
    return r;
}

static int call_ia32_getppid(void *arg)
{
    (void)arg;
    long r = ia32_getppid();
    return r < 0 && r > -4096 ? 1 + (int)-r : 0;
}

static int call_x32_getppid(void *arg)
{
    (void)arg;
    return errno_status(syscall(0x40000000 | SYS_getppid));
}

static bool can_ia32(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(ia32_getppid() == (long)getppid() ? 0 : 1);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_architectures(void **state)
{
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
               "[\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33}]}",
               &p);
    bool ia32 = can_ia32();
    bool x32 = syscall(0x40000000 | SYS_getppid) >= 0;
    /* Native only: a call from another architecture is killed. */
    assert_exit(run_filtered(&p, call_getppid, NULL), 1 + EDOM);
    if (ia32)
        assert_killed(run_filtered(&p, call_ia32_getppid, NULL), SIGSYS);
    seccomp_filter_prog_clear(&p);

    /* With x86 and x32 listed, their calls meet the same rules through their own programs. */
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
               "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"], \"syscalls\": "
               "[{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33}]}",
               &p);
    assert_exit(run_filtered(&p, call_getppid, NULL), 1 + EDOM);
    if (ia32)
        assert_exit(run_filtered(&p, call_ia32_getppid, NULL), 1 + EDOM);
    else
        print_message("ia32 system calls are off on this kernel: not tested\n");
    if (x32)
        assert_exit(run_filtered(&p, call_x32_getppid, NULL), 1 + EDOM);
    else
        print_message("x32 system calls are off on this kernel: not tested\n");
    /* getpid stays allowed for each of them. */
    assert_false(denied(&p, SYS_getpid, 0, 0));
    seccomp_filter_prog_clear(&p);
}
#else
static void test_architectures(void **state)
{
    skip();
}
#endif

static void test_architecture_unknown_to_libseccomp(void **state)
{
    const char *json = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
                       "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_LOONGARCH64\"]}";
    if (seccomp_arch_resolve_name("loongarch64") != 0) {
        struct seccomp_filter_prog p;
        compile_ok(json, &p);
        seccomp_filter_prog_clear(&p);
        return;
    }
    _cleanup_free_ char *msg = build_fails(json);
    assert_non_null(strstr(msg, "linux.seccomp.architectures[1]: libseccomp "));
    assert_non_null(strstr(msg, "does not know SCMP_ARCH_LOONGARCH64"));
}

/* ---- flags ---- */

static void test_flags(void **state)
{
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
               "[\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", "
               "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"], \"syscalls\": [{\"names\": [\"getppid\"], "
               "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33}]}",
               &p);
    assert_true(p.flags & SECCOMP_FILTER_FLAG_TSYNC);
    assert_true(p.flags & SECCOMP_FILTER_FLAG_LOG);
    assert_true(p.flags & SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    assert_true(denied(&p, SYS_getppid, 0, 0));
    seccomp_filter_prog_clear(&p);

    /* WAIT_KILLABLE_RECV is a flag of berth's own seccomp(2) call, meaningful only with a
     * listener: set with a NOTIFY rule, left out without one (the kernel would refuse it). */
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
               "[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"]}",
               &p);
    assert_false(p.flags & (1U << 5));
    seccomp_filter_prog_clear(&p);
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/x.sock\", "
               "\"flags\": [\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"], \"syscalls\": "
               "[{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
               &p);
    assert_true(p.flags & (1U << 5));
    seccomp_filter_prog_clear(&p);
}

/* ---- notify ---- */

static int notify_child(const char *sock_path)
{
    struct berth_error *err = NULL;
    struct seccomp_filter_prog p;
    struct spec *s = spec_with_seccomp(
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/x.sock\", "
        "\"syscalls\": [{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}");
    if (seccomp_filter_compile(s->linux_->seccomp, &p, &err) < 0 || !p.notify)
        return 90;
    int fd = -1;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (seccomp_filter_load(&p, &fd, &err) < 0 || fd < 0)
        return 91;
    if (seccomp_filter_send_listener(sock_path, "tag=1", fd,
                                     "{\"ociVersion\": \"1.2.0\", \"id\": \"c1\", \"status\": "
                                     "\"creating\", \"pid\": 4242, \"bundle\": \"/b\"}",
                                     &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return 92;
    }
    close(fd);
    /* The supervisor answers for the kernel. */
    long r = syscall(SYS_getppid);
    return r == -1 && errno == ENOTBLK ? 0 : 93;
}

static void test_notify(void **state)
{
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *path = xasprintf("%s/listener.sock", dir);
    _cleanup_close_ int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    assert_int_equal(bind(lsock, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(lsock, 1), 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(notify_child(path));

    _cleanup_close_ int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    assert_true(conn >= 0);
    char buf[4096];
    union {
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.cbuf, .msg_controllen = sizeof(u.cbuf)};
    ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
    assert_true(n > 0);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    assert_non_null(c);
    assert_int_equal(c->cmsg_type, SCM_RIGHTS);
    _cleanup_close_ int nfd = -1;
    memcpy(&nfd, CMSG_DATA(c), sizeof(int));
    /* The rest of the text, if the stream split it. */
    size_t got = (size_t)n;
    while (got < sizeof(buf) - 1 && (n = read(conn, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';

    json_error_t jerr;
    json_t *msg = json_loads(buf, 0, &jerr);
    if (!msg)
        fail_msg("listener got bad JSON: %s: %s", jerr.text, buf);
    assert_string_equal(json_string_value(json_object_get(msg, "ociVersion")), "1.2.1");
    json_t *fds = json_object_get(msg, "fds");
    assert_int_equal(json_array_size(fds), 1);
    assert_string_equal(json_string_value(json_array_get(fds, 0)), "seccompFd");
    assert_int_equal(json_integer_value(json_object_get(msg, "pid")), 4242);
    assert_string_equal(json_string_value(json_object_get(msg, "metadata")), "tag=1");
    json_t *st = json_object_get(msg, "state");
    assert_string_equal(json_string_value(json_object_get(st, "id")), "c1");
    assert_string_equal(json_string_value(json_object_get(st, "status")), "creating");
    json_decref(msg);

    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    assert_int_equal(seccomp_notify_alloc(&req, &resp), 0);
    assert_int_equal(seccomp_notify_receive(nfd, req), 0);
    assert_int_equal(req->pid, pid);
    assert_int_equal(req->data.nr, SYS_getppid);
    resp->id = req->id;
    resp->error = -ENOTBLK;
    resp->val = 0;
    resp->flags = 0;
    assert_int_equal(seccomp_notify_respond(nfd, resp), 0);
    seccomp_notify_free(req, resp);

    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_exit(status, 0);
    unlink(path);
    rmdir(dir);
}

static void test_notify_needs_fd(void **state)
{
    struct seccomp_filter_prog p;
    compile_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/x.sock\", "
               "\"syscalls\": [{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
               &p);
    assert_true(p.notify);
    struct berth_error *err = NULL;
    assert_int_equal(seccomp_filter_load(&p, NULL, &err), -EINVAL);
    berth_error_free(err);
    seccomp_filter_prog_clear(&p);

    err = NULL;
    assert_true(
        seccomp_filter_send_listener("/nonexistent/berth.sock", NULL, 0, "{\"pid\": 1}", &err) < 0);
    assert_string_equal(err->msg,
                        "seccomp listener /nonexistent/berth.sock: connect: No such file or "
                        "directory");
    berth_error_free(err);
}

/* ---- the compiled-program cache ---- */

static void compile_cached(struct spec *s, const char *root, struct seccomp_filter_prog *p)
{
    struct berth_error *err = NULL;
    if (seccomp_filter_compile_cached(s->linux_->seccomp, root, p, &err) < 0)
        fail_msg("compile: %s", err->msg);
}

static size_t cache_entries(const char *root)
{
    _cleanup_free_ char *dir = xasprintf("%s/.seccomp-bpf", root);
    _cleanup_closedir_ DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    return n;
}

static char *only_entry(const char *root)
{
    _cleanup_free_ char *dir = xasprintf("%s/.seccomp-bpf", root);
    _cleanup_closedir_ DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
            return xasprintf("%s/%s", dir, de->d_name);
    fail_msg("no entry under %s", dir);
    return NULL;
}

static void assert_same_prog(const struct seccomp_filter_prog *a,
                             const struct seccomp_filter_prog *b)
{
    assert_int_equal(a->len, b->len);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->notify, b->notify);
    assert_memory_equal(a->insns, b->insns, a->len * sizeof(*a->insns));
}

static void test_cache(void **state)
{
    (void)state;
    _cleanup_free_ char *root = make_tmpdir();
    const char *deny_mkdir = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
                             "[\"SECCOMP_FILTER_FLAG_LOG\"], \"syscalls\": [{\"names\": "
                             "[\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", "
                             "\"errnoRet\": 13}]}";
    struct spec *s = spec_with_seccomp(deny_mkdir);
    struct seccomp_filter_prog plain, first, again;
    compile_ok(deny_mkdir, &plain);

    /* A miss compiles and keeps the program; a hit loads the same one, and it works. */
    compile_cached(s, root, &first);
    assert_same_prog(&plain, &first);
    assert_int_equal(cache_entries(root), 1);
    _cleanup_free_ char *entry = only_entry(root);
    struct stat st;
    assert_int_equal(stat(entry, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    compile_cached(s, root, &again);
    assert_same_prog(&plain, &again);
    _cleanup_free_ char *sub = xasprintf("%s/x", root);
    assert_exit(run_filtered(&again, call_mkdir, sub), 1 + EACCES);
    seccomp_filter_prog_clear(&again);

    /* An entry cut short (a crash while it was written) is compiled over. */
    _cleanup_free_ char *data = NULL;
    size_t len;
    assert_int_equal(fs_read_file_at(AT_FDCWD, entry, 1 << 20, &data, &len, NULL), 0);
    assert_int_equal(len, 16 + plain.len * sizeof(*plain.insns));
    assert_int_equal(truncate(entry, (off_t)len - 4), 0);
    compile_cached(s, root, &again);
    assert_same_prog(&plain, &again);
    seccomp_filter_prog_clear(&again);
    assert_int_equal(stat(entry, &st), 0);
    assert_int_equal((size_t)st.st_size, len);

    /* Another profile is another entry; SPEC_ALLOW (a warning where unsupported) none; no
     * root, no cache. */
    struct spec *other = spec_with_seccomp("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                                           "[{\"names\": [\"mkdir\"], \"action\": "
                                           "\"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}");
    compile_cached(other, root, &again);
    seccomp_filter_prog_clear(&again);
    assert_int_equal(cache_entries(root), 2);
    struct spec *ssb = spec_with_seccomp("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
                                         "[\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"]}");
    compile_cached(ssb, root, &again);
    seccomp_filter_prog_clear(&again);
    compile_cached(s, NULL, &again);
    seccomp_filter_prog_clear(&again);
    assert_int_equal(cache_entries(root), 2);

    /* The directory holds at most 64 entries: the store that would pass them empties it. */
    for (int i = 0; i < 70; i++) {
        _cleanup_free_ char *json = xasprintf("{\"defaultAction\": \"SCMP_ACT_ALLOW\", "
                                              "\"syscalls\": [{\"names\": [\"mkdir\"], "
                                              "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": %d}]}",
                                              i + 100);
        struct spec *many = spec_with_seccomp(json);
        compile_cached(many, root, &again);
        seccomp_filter_prog_clear(&again);
        spec_free(many);
        assert_true(cache_entries(root) <= 64);
    }
    assert_true(cache_entries(root) < 64);

    spec_free(s);
    spec_free(other);
    spec_free(ssb);
    seccomp_filter_prog_clear(&plain);
    seccomp_filter_prog_clear(&first);
    _cleanup_free_ char *rm = xasprintf("rm -rf '%s'", root);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errno_ret),
        cmocka_unit_test(test_errno_default_eperm),
        cmocka_unit_test(test_default_errno_ret),
        cmocka_unit_test(test_kill_actions),
        cmocka_unit_test(test_trap),
        cmocka_unit_test(test_trace_log_allow),
        cmocka_unit_test(test_personality_query),
        cmocka_unit_test(test_arg_ops),
        cmocka_unit_test(test_args_and_or),
        cmocka_unit_test(test_unknown_and_redundant),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_build_ctx_and_install),
        cmocka_unit_test(test_architectures),
        cmocka_unit_test(test_architecture_unknown_to_libseccomp),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_notify_needs_fd),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
