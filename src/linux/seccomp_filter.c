#include "linux/seccomp_filter.h"
#include "berth/error.h"
#include "config.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif

/* The filters keep libseccomp's linear layout. Its binary tree (SCMP_FLTATR_CTL_OPTIMIZE 2)
 * would cut the instructions a call walks, but libseccomp 2.5 takes much longer to generate it
 * (Docker's profile: 7.2 ms instead of 4.4 for x86_64, x86 and x32), more than a container
 * start can afford, while the kernel (5.11 and later) skips the filter altogether for calls it
 * always allows, which is most of an allow list. */

static void ctx_releasep(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}

struct action_name {
    const char *name;
    uint32_t action;
    bool takes_errno;
};

static const struct action_name actions[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
};

/* The action word for a name, with errnoRet as its data (EPERM when absent, as runc does).
 * The runtime-spec wants an errnoRet on any other action refused. */
static int resolve_action(const char *name, bool has_errno, uint32_t errno_ret, const char *where,
                          uint32_t *out, struct berth_error **err)
{
    for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
        if (strcmp(actions[i].name, name) != 0)
            continue;
        if (!actions[i].takes_errno) {
            if (has_errno)
                return berth_error_set(err, 0, "%s: %s takes no errno return value", where, name);
            *out = actions[i].action;
            return 0;
        }
        uint32_t data = has_errno ? errno_ret : EPERM;
        if (data > 0xffff)
            return berth_error_set(err, 0, "%s: errno return value %u does not fit in 16 bits",
                                   where, data);
        *out = actions[i].action | data;
        return 0;
    }
    return berth_error_set(err, 0, "%s: unknown action \"%s\"", where, name);
}

static int resolve_op(const char *name, enum scmp_compare *out)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {
        {"SCMP_CMP_NE", SCMP_CMP_NE},
        {"SCMP_CMP_LT", SCMP_CMP_LT},
        {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ},
        {"SCMP_CMP_GE", SCMP_CMP_GE},
        {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
        if (strcmp(ops[i].name, name) == 0) {
            *out = ops[i].op;
            return 0;
        }
    }
    return -EINVAL;
}

/* libseccomp spells architectures as the lowercase SCMP_ARCH_ suffix ("x86_64", "mipsel64n32"). */
static uint32_t resolve_arch(const char *name)
{
    static const char prefix[] = "SCMP_ARCH_";
    if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    char lower[32];
    size_t n = 0;
    for (const char *c = name + sizeof(prefix) - 1; *c && n < sizeof(lower) - 1; c++)
        lower[n++] = (char)tolower((unsigned char)*c);
    lower[n] = '\0';
    return seccomp_arch_resolve_name(lower);
}

/* The architectures to filter: the native one first (most calls are native and meet its program
 * first), then the spec's in order, without repeats. Returns the count. */
static int list_architectures(const struct spec_seccomp *s, uint32_t *out, size_t max,
                              struct berth_error **err)
{
    size_t n = 0;
    out[n++] = seccomp_arch_native();
    for (size_t i = 0; s->architectures && s->architectures[i]; i++) {
        const char *name = s->architectures[i];
        uint32_t arch = resolve_arch(name);
        if (arch == 0)
            return berth_error_set(err, 0,
                                   "linux.seccomp.architectures[%zu]: libseccomp %u.%u.%u does "
                                   "not know %s",
                                   i, seccomp_version()->major, seccomp_version()->minor,
                                   seccomp_version()->micro, name);
        bool seen = false;
        for (size_t k = 0; k < n; k++)
            seen |= out[k] == arch;
        if (seen)
            continue;
        if (n == max)
            return berth_error_set(err, 0, "linux.seccomp.architectures: more than %zu", max);
        out[n++] = arch;
    }
    return (int)n;
}

static int set_flags(scmp_filter_ctx ctx, const struct spec_seccomp *s, bool verbose,
                     struct berth_error **err)
{
    for (size_t i = 0; s->flags && s->flags[i]; i++) {
        const char *flag = s->flags[i];
        enum scmp_filter_attr attr;
        if (strcmp(flag, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
            attr = SCMP_FLTATR_CTL_TSYNC;
        else if (strcmp(flag, "SECCOMP_FILTER_FLAG_LOG") == 0)
            attr = SCMP_FLTATR_CTL_LOG;
        else if (strcmp(flag, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
            attr = SCMP_FLTATR_CTL_SSB;
        else if (strcmp(flag, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0)
            continue; /* a flag of the seccomp(2) call berth makes itself: see has_wait_killable */
        else
            return berth_error_set(err, EOPNOTSUPP,
                                   "linux.seccomp.flags[%zu]: %s: not available with libseccomp "
                                   "%u.%u.%u",
                                   i, flag, seccomp_version()->major, seccomp_version()->minor,
                                   seccomp_version()->micro);
        int r = seccomp_attr_set(ctx, attr, 1);
        if (r == 0)
            continue;
        if (attr == SCMP_FLTATR_CTL_SSB) {
            /* Without it the kernel keeps the speculative store bypass mitigation: slower,
             * never less safe. */
            if (verbose)
                log_warn("linux.seccomp.flags[%zu]: %s not supported here, ignored", i, flag);
            continue;
        }
        return berth_error_set(err, -r,
                               "linux.seccomp.flags[%zu]: %s: not supported by libseccomp "
                               "%u.%u.%u or this kernel",
                               i, flag, seccomp_version()->major, seccomp_version()->minor,
                               seccomp_version()->micro);
    }
    return 0;
}

static int add_rule(scmp_filter_ctx ctx, const char *where, const char *name, int nr,
                    const char *action_name, uint32_t action, const struct scmp_arg_cmp *cmp,
                    unsigned n_cmp, struct berth_error **err)
{
    int r = seccomp_rule_add_array(ctx, action, nr, n_cmp, cmp);
    if (r < 0)
        return berth_error_set(err, -r, "%s: %s: add a rule (%s, %u condition%s)", where, name,
                               action_name, n_cmp, n_cmp == 1 ? "" : "s");
    return 0;
}

struct named_nr {
    const char *name;
    int nr;
};

static int cmp_nr_desc(const void *a, const void *b)
{
    int x = ((const struct named_nr *)a)->nr, y = ((const struct named_nr *)b)->nr;
    return (x < y) - (x > y);
}

static int add_syscall(scmp_filter_ctx ctx, const struct spec_seccomp_syscall *sc, size_t idx,
                       uint32_t default_action, bool verbose, struct berth_error **err)
{
    _cleanup_free_ char *where = xasprintf("linux.seccomp.syscalls[%zu]", idx);
    uint32_t action;
    int r = resolve_action(sc->action, sc->has_errno_ret, sc->errno_ret, where, &action, err);
    if (r < 0)
        return r;

    _cleanup_free_ struct scmp_arg_cmp *cmp = xcalloc(sc->n_args ? sc->n_args : 1, sizeof(*cmp));
    unsigned per_index[6] = {0};
    bool repeated = false;
    for (size_t k = 0; k < sc->n_args; k++) {
        const struct spec_seccomp_arg *a = &sc->args[k];
        enum scmp_compare op;
        if (a->index >= 6)
            return berth_error_set(err, 0, "%s.args[%zu].index: %u is beyond the sixth argument",
                                   where, k, a->index);
        if (resolve_op(a->op, &op) < 0)
            return berth_error_set(err, 0, "%s.args[%zu].op: unknown operator \"%s\"", where, k,
                                   a->op);
        /* For MASKED_EQ value is the mask and valueTwo the datum; other operators compare
         * with value alone. */
        cmp[k] = (struct scmp_arg_cmp){.arg = a->index,
                                       .op = op,
                                       .datum_a = a->value,
                                       .datum_b = op == SCMP_CMP_MASKED_EQ ? a->value_two : 0};
        if (++per_index[a->index] > 1)
            repeated = true;
    }

    /* Equal to the default, a rule changes nothing, and libseccomp refuses it. */
    if (action == default_action)
        return 0;
    /* libseccomp keeps its calls in a list sorted by number and walks it from the smallest
     * on every insertion: adding the largest first makes each walk end at once. */
    size_t n_names = strv_len(sc->names);
    _cleanup_free_ struct named_nr *calls = xcalloc(n_names ? n_names : 1, sizeof(*calls));
    for (size_t n = 0; n < n_names; n++)
        calls[n] = (struct named_nr){sc->names[n], seccomp_syscall_resolve_name(sc->names[n])};
    qsort(calls, n_names, sizeof(*calls), cmp_nr_desc);
    for (size_t n = 0; n < n_names; n++) {
        const char *name = calls[n].name;
        int nr = calls[n].nr;
        if (nr == __NR_SCMP_ERROR) {
            if (verbose)
                log_debug("%s: unknown system call \"%s\" skipped", where, name);
            continue;
        }
        if (!repeated) {
            r = add_rule(ctx, where, name, nr, sc->action, action, cmp, (unsigned)sc->n_args, err);
            if (r < 0)
                return r;
            continue;
        }
        /* libseccomp cannot AND two comparisons of one argument; like runc, each condition
         * becomes its own rule. */
        for (size_t k = 0; k < sc->n_args; k++) {
            r = add_rule(ctx, where, name, nr, sc->action, action, &cmp[k], 1, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* The filter for `arches` (the native one need not be among them); badarch is what a call
 * from any other architecture gets. The primary build logs what it skips; the others are
 * silent repeats for one more architecture. */
static int build_ctx(const struct spec_seccomp *s, const uint32_t *arches, size_t n_arches,
                     uint32_t badarch, bool primary, scmp_filter_ctx *out, struct berth_error **err)
{
    *out = NULL;
    uint32_t def;
    int r = resolve_action(s->default_action, s->has_default_errno_ret, s->default_errno_ret,
                           "linux.seccomp.defaultAction", &def, err);
    if (r < 0)
        return r;
    _cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx)
        return berth_error_set(err, EINVAL,
                               "linux.seccomp.defaultAction: libseccomp refuses %s (%#x)",
                               s->default_action, def);
    /* The runtime loads the program itself, and no_new_privs is process.noNewPrivileges's
     * business, not the filter's. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, badarch);
    if (r < 0)
        return berth_error_set(err, -r, "seccomp: set the action for other architectures");
    uint32_t native = seccomp_arch_native();
    bool keep_native = false;
    for (size_t i = 0; i < n_arches; i++) {
        if (arches[i] == native) {
            keep_native = true;
            continue;
        }
        r = seccomp_arch_add(ctx, arches[i]);
        if (r < 0 && r != -EEXIST)
            return berth_error_set(err, -r, "linux.seccomp.architectures: add %#x", arches[i]);
    }
    if (!keep_native) {
        r = seccomp_arch_remove(ctx, native);
        if (r < 0)
            return berth_error_set(err, -r, "seccomp: drop the native architecture");
    }
    r = set_flags(ctx, s, primary, err);
    if (r < 0)
        return r;

    for (size_t i = 0; i < s->n_syscalls; i++) {
        r = add_syscall(ctx, &s->syscalls[i], i, def, primary, err);
        if (r < 0)
            return r;
    }
    *out = TAKE_PTR(ctx);
    return 0;
}

#define SECCOMP_MAX_ARCHES 32

int seccomp_filter_build(const struct spec_seccomp *s, scmp_filter_ctx *out,
                         struct berth_error **err)
{
    uint32_t arches[SECCOMP_MAX_ARCHES];
    int n = list_architectures(s, arches, ARRAY_SIZE(arches), err);
    if (n < 0)
        return n;
    return build_ctx(s, arches, (size_t)n, SCMP_ACT_KILL, true, out, err);
}

static bool attr_on(scmp_filter_ctx ctx, enum scmp_filter_attr attr)
{
    uint32_t v = 0;
    return seccomp_attr_get(ctx, attr, &v) == 0 && v;
}

/* A filter notifies when one of its return instructions hands the call to a supervisor. */
static bool prog_notifies(const struct sock_filter *insns, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (insns[i].code == (BPF_RET | BPF_K) &&
            (insns[i].k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
            return true;
    return false;
}

int seccomp_filter_export(scmp_filter_ctx ctx, struct seccomp_filter_prog *out,
                          struct berth_error **err)
{
    memset(out, 0, sizeof(*out));
    /* libseccomp before 2.6 exports only to an fd: an anonymous memory file takes it. */
    _cleanup_close_ int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "seccomp: memfd_create");
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return berth_error_set(err, -r, "seccomp: generate the BPF program");
    struct stat st;
    if (fstat(fd, &st) < 0)
        return berth_error_set(err, errno, "seccomp: stat the BPF program");
    size_t size = (size_t)st.st_size;
    if (size == 0 || size % sizeof(struct sock_filter) != 0)
        return berth_error_set(err, EPROTO, "seccomp: libseccomp produced %zu bytes of BPF", size);
    size_t len = size / sizeof(struct sock_filter);
    if (len > BPF_MAXINSNS)
        return berth_error_set(err, E2BIG,
                               "seccomp: the filter has %zu instructions, the kernel takes at "
                               "most %d",
                               len, BPF_MAXINSNS);
    _cleanup_free_ struct sock_filter *insns = xmalloc(size);
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, (char *)insns + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return berth_error_set(err, n < 0 ? errno : EIO, "seccomp: read the BPF program");
        got += (size_t)n;
    }

    if (attr_on(ctx, SCMP_FLTATR_CTL_TSYNC))
        out->flags |= SECCOMP_FILTER_FLAG_TSYNC;
    if (attr_on(ctx, SCMP_FLTATR_CTL_LOG))
        out->flags |= SECCOMP_FILTER_FLAG_LOG;
    if (attr_on(ctx, SCMP_FLTATR_CTL_SSB))
        out->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    out->notify = prog_notifies(insns, len);
    out->len = (unsigned short)len;
    out->insns = TAKE_PTR(insns);
    return 0;
}

/* An action no rule of the spec uses, to mark where a per-architecture program gives up. */
static uint32_t unused_action(const struct spec_seccomp *s)
{
    for (uint32_t data = 0xffff;; data--) {
        uint32_t candidate = SCMP_ACT_TRACE(data);
        bool used = false;
        uint32_t a;
        if (resolve_action(s->default_action, s->has_default_errno_ret, s->default_errno_ret, "",
                           &a, NULL) == 0)
            used |= a == candidate;
        for (size_t i = 0; i < s->n_syscalls && !used; i++) {
            const struct spec_seccomp_syscall *sc = &s->syscalls[i];
            if (resolve_action(sc->action, sc->has_errno_ret, sc->errno_ret, "", &a, NULL) == 0)
                used |= a == candidate;
        }
        if (!used)
            return candidate;
    }
}

static bool has_wait_killable(const struct spec_seccomp *s)
{
    for (size_t i = 0; s->flags && s->flags[i]; i++)
        if (strcmp(s->flags[i], "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0)
            return true;
    return false;
}

/* Calls newer than any the profile names get ENOSYS rather than the default action: a profile
 * written before a call existed denies it with EPERM (Docker's default), where programs probe
 * with the call and fall back only on ENOSYS (glibc's clone3, faccessat2). As runc does, for
 * each architecture the highest number the profile names on it bounds the calls that keep the
 * default action; this stub goes in front of the filter. Not when the default lets calls
 * through (allow, log, trace) or is ENOSYS already. x32 shares x86_64's AUDIT_ARCH, its numbers
 * marked by bit 30. Returns the stub's length (0: none). */
#define X32_SYSCALL_BIT 0x40000000U

static int highest_named(const struct spec_seccomp *s, uint32_t arch)
{
    int top = -1;
    for (size_t i = 0; i < s->n_syscalls; i++)
        for (char **n = s->syscalls[i].names; n && *n; n++) {
            int nr = seccomp_syscall_resolve_name_arch(arch, *n);
            if (nr > top)
                top = nr;
        }
    return top;
}

static size_t enosys_stub(const struct spec_seccomp *s, const uint32_t *arches, size_t n_arches,
                          struct sock_filter *out, size_t max)
{
    uint32_t def;
    if (resolve_action(s->default_action, s->has_default_errno_ret, s->default_errno_ret, "", &def,
                       NULL) < 0)
        return 0;
    uint32_t act = def & SECCOMP_RET_ACTION_FULL;
    if (act == SCMP_ACT_ALLOW || act == SCMP_ACT_LOG || act == (SCMP_ACT_TRACE(0)) ||
        def == SCMP_ACT_ERRNO(ENOSYS))
        return 0;
    /* Per architecture a group: load the architecture, on to the next group unless it is this
     * one, load the number; above the highest named: ENOSYS, else the filter. x86_64's group
     * tells x32's numbers (bit 30) apart. After the groups: a jump over the ENOSYS return onto
     * the filter. Groups are measured first, so that every jump's target is known as it is
     * written. */
    struct {
        uint32_t arch;
        int top, top_x32;
    } g[SECCOMP_MAX_ARCHES];
    size_t n_groups = 0, len = 2;
    for (size_t i = 0; i < n_arches && n_groups < ARRAY_SIZE(g); i++) {
        if (arches[i] == SCMP_ARCH_X32)
            continue; /* with x86_64 */
        int top = highest_named(s, arches[i]), top_x32 = -1;
        for (size_t k = 0; arches[i] == SCMP_ARCH_X86_64 && k < n_arches; k++)
            if (arches[k] == SCMP_ARCH_X32)
                top_x32 = highest_named(s, SCMP_ARCH_X32);
        if (top <= 0)
            continue;
        g[n_groups++] = (typeof(g[0])){arches[i], top, top_x32};
        len += top_x32 > 0 ? 6 : 4;
    }
    if (n_groups == 0 || len > max)
        return 0;
    const size_t to_filter = len - 2, to_enosys = len - 1;
    size_t n = 0;
#define JUMP_TO(target) ((uint8_t)((target) - (n + 1)))
    for (size_t i = 0; i < n_groups; i++) {
        size_t group = g[i].top_x32 > 0 ? 6 : 4;
        out[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4);
        out[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, g[i].arch, 0,
                                              (uint8_t)(group - 2));
        n++;
        out[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
        if (g[i].top_x32 > 0)
            out[n++] =
                (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 1, 0);
        out[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)g[i].top,
                                              JUMP_TO(to_enosys), JUMP_TO(to_filter));
        n++;
        if (g[i].top_x32 > 0) {
            out[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)g[i].top_x32,
                                                  JUMP_TO(to_enosys), JUMP_TO(to_filter));
            n++;
        }
    }
#undef JUMP_TO
    out[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0);
    out[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    return n;
}

/* libseccomp's cost grows much faster than linearly with the architectures in one filter
 * (Docker's profile for x86_64, x86 and x32 takes several times the sum of three one-arch
 * builds). So each architecture gets its own program, built and exported alone, and the
 * programs are chained: where one would return its "other architecture" action (a marker
 * here), it jumps to the start of the next one instead; the last returns the real one. Every
 * program starts by loading the architecture itself, so none depends on another's state. */
int seccomp_filter_compile(const struct spec_seccomp *s, struct seccomp_filter_prog *out,
                           struct berth_error **err)
{
    memset(out, 0, sizeof(*out));
    uint32_t arches[SECCOMP_MAX_ARCHES];
    int n = list_architectures(s, arches, ARRAY_SIZE(arches), err);
    if (n < 0)
        return n;
    uint32_t marker = n > 1 ? unused_action(s) : SCMP_ACT_KILL;
    struct seccomp_filter_prog parts[SECCOMP_MAX_ARCHES] = {0};
    size_t total = 0;
    int r = 0;
    for (int i = 0; i < n && r == 0; i++) {
        _cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
        r = build_ctx(s, &arches[i], 1, marker, i == 0, &ctx, err);
        if (r == 0)
            r = seccomp_filter_export(ctx, &parts[i], err);
        total += parts[i].len;
    }
    if (r == 0 && total > BPF_MAXINSNS)
        r = berth_error_set(err, E2BIG,
                            "seccomp: the filter has %zu instructions, the kernel takes at most %d",
                            total, BPF_MAXINSNS);
    if (r < 0) {
        for (int i = 0; i < n; i++)
            seccomp_filter_prog_clear(&parts[i]);
        return r;
    }

    struct sock_filter stub[6 * SECCOMP_MAX_ARCHES + 2];
    size_t n_stub = enosys_stub(s, arches, (size_t)n, stub, ARRAY_SIZE(stub));
    if (total + n_stub > BPF_MAXINSNS)
        n_stub = 0; /* the filter as asked comes first */
    total += n_stub;
    struct sock_filter *insns = xcalloc(total, sizeof(*insns));
    memcpy(insns, stub, n_stub * sizeof(*stub));
    size_t at = n_stub;
    for (int i = 0; i < n; i++) {
        size_t next = at + parts[i].len;
        for (size_t k = 0; k < parts[i].len; k++) {
            struct sock_filter f = parts[i].insns[k];
            if (f.code == (BPF_RET | BPF_K) && f.k == marker) {
                if (i == n - 1)
                    f.k = SCMP_ACT_KILL;
                else
                    f = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA,
                                                     (uint32_t)(next - (at + k + 1)), 0, 0);
            }
            insns[at + k] = f;
        }
        at = next;
    }
    out->insns = insns;
    out->len = (unsigned short)total;
    out->flags = parts[0].flags;
    out->notify = prog_notifies(insns, total);
    /* libseccomp 2.5 has no attribute for it, but berth makes the seccomp(2) call itself; the
     * kernel takes it only together with a listener. */
    if (out->notify && has_wait_killable(s))
        out->flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    for (int i = 0; i < n; i++)
        seccomp_filter_prog_clear(&parts[i]);
    return 0;
}

static void flag_names(unsigned flags, char *buf, size_t size)
{
    static const struct {
        unsigned flag;
        const char *name;
    } names[] = {
        {SECCOMP_FILTER_FLAG_TSYNC, "TSYNC"},
        {SECCOMP_FILTER_FLAG_LOG, "LOG"},
        {SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SPEC_ALLOW"},
        {SECCOMP_FILTER_FLAG_NEW_LISTENER, "NEW_LISTENER"},
        {SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "TSYNC_ESRCH"},
        {SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, "WAIT_KILLABLE_RECV"},
    };
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(names) && used < size; i++)
        if (flags & names[i].flag)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s%s", used ? "|" : "", names[i].name);
    if (!buf[0])
        snprintf(buf, size, "none");
}

int seccomp_filter_load(const struct seccomp_filter_prog *p, int *notify_fd,
                        struct berth_error **err)
{
    if (notify_fd)
        *notify_fd = -1;
    if (!p->insns || p->len == 0)
        return berth_error_set(err, EINVAL, "seccomp: no program to load");
    if (p->notify && !notify_fd)
        return berth_error_set(err, EINVAL,
                               "seccomp: the filter notifies but nobody takes the "
                               "listener");
    unsigned flags = p->flags;
    if (p->notify) {
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        /* With TSYNC the return value would be a thread id on failure, not the listener. */
        if (flags & SECCOMP_FILTER_FLAG_TSYNC)
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }
    struct sock_fprog prog = {.len = p->len, .filter = p->insns};
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (r < 0) {
        int e = errno;
        char names[128];
        flag_names(flags, names, sizeof(names));
        return berth_error_set(err, e, "seccomp: load the filter (%u instructions, flags %s)",
                               p->len, names);
    }
    if ((flags & SECCOMP_FILTER_FLAG_TSYNC) && !p->notify && r > 0)
        return berth_error_set(err, EBUSY,
                               "seccomp: thread %ld could not be synchronised to the filter", r);
    if (p->notify)
        *notify_fd = (int)r;
    return 0;
}

void seccomp_filter_prog_clear(struct seccomp_filter_prog *p)
{
    free(p->insns);
    memset(p, 0, sizeof(*p));
}

int seccomp_filter_install(scmp_filter_ctx ctx, int *notify_fd, struct berth_error **err)
{
    struct seccomp_filter_prog p;
    int r = seccomp_filter_export(ctx, &p, err);
    if (r == 0)
        r = seccomp_filter_load(&p, notify_fd, err);
    seccomp_filter_prog_clear(&p);
    return r;
}

static int send_all(int sock, const char *data, size_t len, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct iovec iov = {(void *)data, len};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    /* The fd rides on the first message only; a stream socket may take the text in parts. */
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        sent += (size_t)n;
        iov.iov_base = (char *)data + sent;
        iov.iov_len = len - sent;
        mh.msg_control = NULL;
        mh.msg_controllen = 0;
    }
    return 0;
}

int seccomp_filter_send_listener(const char *listener_path, const char *metadata, int notify_fd,
                                 const char *state_json, struct berth_error **err)
{
    json_error_t jerr;
    json_t *state = json_loads(state_json, 0, &jerr);
    if (!json_is_object(state)) {
        json_decref(state);
        return berth_error_set(err, EINVAL,
                               "seccomp listener %s: the container state is not a "
                               "JSON object",
                               listener_path);
    }
    json_t *pid = json_object_get(state, "pid");
    json_t *msg = json_pack("{s:s, s:[s], s:O?}", "ociVersion", BERTH_SPEC_VERSION, "fds",
                            "seccompFd", "pid", json_is_integer(pid) ? pid : NULL);
    if (metadata)
        json_object_set_new(msg, "metadata", json_string(metadata));
    json_object_set_new(msg, "state", state);
    _cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return berth_error_set(err, ENOMEM, "seccomp listener %s: encode the process state",
                               listener_path);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(listener_path) >= sizeof(addr.sun_path))
        return berth_error_set(err, ENAMETOOLONG, "linux.seccomp.listenerPath %s", listener_path);
    strcpy(addr.sun_path, listener_path);
    _cleanup_close_ int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return berth_error_set(err, errno, "seccomp listener %s: socket", listener_path);
    if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return berth_error_set(err, errno, "seccomp listener %s: connect", listener_path);
    int r = send_all(sock, text, strlen(text), notify_fd);
    if (r < 0)
        return berth_error_set(err, -r, "seccomp listener %s: send the notify fd", listener_path);
    return 0;
}
