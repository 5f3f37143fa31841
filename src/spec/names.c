/* The names config.json uses for kernel constants, and their values. */
#include "spec/internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <ctype.h>
#include <linux/ioprio.h>
#include <linux/sched.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>

static const char *const ns_names[SPEC_NS_TYPES] = {
    [SPEC_NS_PID] = "pid",       [SPEC_NS_NETWORK] = "network", [SPEC_NS_MOUNT] = "mount",
    [SPEC_NS_IPC] = "ipc",       [SPEC_NS_UTS] = "uts",         [SPEC_NS_USER] = "user",
    [SPEC_NS_CGROUP] = "cgroup", [SPEC_NS_TIME] = "time",
};

const char *spec_ns_type_name(enum spec_ns_type t)
{
    return (unsigned)t < SPEC_NS_TYPES ? ns_names[t] : NULL;
}

int spec_ns_type_from_name(const char *name)
{
    for (int i = 0; i < SPEC_NS_TYPES; i++)
        if (strcmp(ns_names[i], name) == 0)
            return i;
    return -1;
}

static const char *const hook_names[SPEC_HOOK_KINDS] = {
    [SPEC_HOOK_PRESTART] = "prestart",
    [SPEC_HOOK_CREATE_RUNTIME] = "createRuntime",
    [SPEC_HOOK_CREATE_CONTAINER] = "createContainer",
    [SPEC_HOOK_START_CONTAINER] = "startContainer",
    [SPEC_HOOK_POSTSTART] = "poststart",
    [SPEC_HOOK_POSTSTOP] = "poststop",
};

const char *spec_hook_kind_name(enum spec_hook_kind k)
{
    return (unsigned)k < SPEC_HOOK_KINDS ? hook_names[k] : NULL;
}

static const struct {
    const char *name;
    int resource;
} rlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

int spec_rlimit_from_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++)
        if (strcmp(rlimits[i].name, name) == 0)
            return rlimits[i].resource;
    return -1;
}

char *spec_cap_name(int cap)
{
    char *lower = cap_to_name((cap_value_t)cap);
    if (!lower)
        return NULL;
    /* libcap spells capabilities it has no name for as bare numbers. */
    if (strncmp(lower, "cap_", 4) != 0) {
        cap_free(lower);
        return NULL;
    }
    char *upper = xstrdup(lower);
    cap_free(lower);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return upper;
}

int spec_cap_from_name(const char *name)
{
    cap_value_t v;
    if (strncmp(name, "CAP_", 4) != 0 || cap_from_name(name, &v) < 0)
        return -1;
    _cleanup_free_ char *canonical = spec_cap_name(v);
    if (!canonical || strcmp(canonical, name) != 0)
        return -1;
    return v;
}

static const struct {
    const char *name;
    int policy;
} sched_policies[] = {
    {"SCHED_OTHER", SCHED_NORMAL},
    {"SCHED_FIFO", SCHED_FIFO},
    {"SCHED_RR", SCHED_RR},
    {"SCHED_BATCH", SCHED_BATCH},
    {"SCHED_ISO", 4}, /* reserved by the kernel, named by the runtime-spec */
    {"SCHED_IDLE", SCHED_IDLE},
    {"SCHED_DEADLINE", SCHED_DEADLINE},
};

int spec_sched_policy_from_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(sched_policies); i++)
        if (strcmp(sched_policies[i].name, name) == 0)
            return sched_policies[i].policy;
    return -1;
}

const char *spec_sched_policy_name(int policy)
{
    for (size_t i = 0; i < ARRAY_SIZE(sched_policies); i++)
        if (sched_policies[i].policy == policy)
            return sched_policies[i].name;
    return NULL;
}

const struct spec_flag_name spec_sched_flags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", SCHED_FLAG_RESET_ON_FORK},
    {"SCHED_FLAG_RECLAIM", SCHED_FLAG_RECLAIM},
    {"SCHED_FLAG_DL_OVERRUN", SCHED_FLAG_DL_OVERRUN},
    {"SCHED_FLAG_KEEP_POLICY", SCHED_FLAG_KEEP_POLICY},
    {"SCHED_FLAG_KEEP_PARAMS", SCHED_FLAG_KEEP_PARAMS},
    {"SCHED_FLAG_UTIL_CLAMP_MIN", SCHED_FLAG_UTIL_CLAMP_MIN},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", SCHED_FLAG_UTIL_CLAMP_MAX},
};
const size_t spec_n_sched_flags = ARRAY_SIZE(spec_sched_flags);

int spec_sched_flag_from_name(const char *name)
{
    for (size_t i = 0; i < spec_n_sched_flags; i++)
        if (strcmp(spec_sched_flags[i].name, name) == 0)
            return (int)spec_sched_flags[i].flag;
    return -1;
}

static const struct {
    const char *name;
    int klass;
} ioprio_classes[] = {
    {"IOPRIO_CLASS_RT", IOPRIO_CLASS_RT},
    {"IOPRIO_CLASS_BE", IOPRIO_CLASS_BE},
    {"IOPRIO_CLASS_IDLE", IOPRIO_CLASS_IDLE},
};

int spec_ioprio_class_from_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(ioprio_classes); i++)
        if (strcmp(ioprio_classes[i].name, name) == 0)
            return ioprio_classes[i].klass;
    return -1;
}

const char *spec_ioprio_class_name(int klass)
{
    for (size_t i = 0; i < ARRAY_SIZE(ioprio_classes); i++)
        if (ioprio_classes[i].klass == klass)
            return ioprio_classes[i].name;
    return NULL;
}

const char *const spec_seccomp_actions[] = {
    "SCMP_ACT_ALLOW",       "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",        "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",      "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",        NULL,
};

const char *const spec_seccomp_operators[] = {
    "SCMP_CMP_EQ", "SCMP_CMP_GE",        "SCMP_CMP_GT", "SCMP_CMP_LE",
    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL,
};

const char *const spec_seccomp_flags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    NULL,
};

/* Sorted by name, as `features` lists them. */
const struct spec_seccomp_arch spec_seccomp_archs[] = {
    {"SCMP_ARCH_AARCH64", "aarch64"},
    {"SCMP_ARCH_ARM", "arm"},
    {"SCMP_ARCH_LOONGARCH64", "loongarch64"},
    {"SCMP_ARCH_M68K", "m68k"},
    {"SCMP_ARCH_MIPS", "mips"},
    {"SCMP_ARCH_MIPS64", "mips64"},
    {"SCMP_ARCH_MIPS64N32", "mips64n32"},
    {"SCMP_ARCH_MIPSEL", "mipsel"},
    {"SCMP_ARCH_MIPSEL64", "mipsel64"},
    {"SCMP_ARCH_MIPSEL64N32", "mipsel64n32"},
    {"SCMP_ARCH_PARISC", "parisc"},
    {"SCMP_ARCH_PARISC64", "parisc64"},
    {"SCMP_ARCH_PPC", "ppc"},
    {"SCMP_ARCH_PPC64", "ppc64"},
    {"SCMP_ARCH_PPC64LE", "ppc64le"},
    {"SCMP_ARCH_RISCV64", "riscv64"},
    {"SCMP_ARCH_S390", "s390"},
    {"SCMP_ARCH_S390X", "s390x"},
    {"SCMP_ARCH_SH", "sh"},
    {"SCMP_ARCH_SHEB", "sheb"},
    {"SCMP_ARCH_X32", "x32"},
    {"SCMP_ARCH_X86", "x86"},
    {"SCMP_ARCH_X86_64", "x86_64"},
};
const size_t spec_n_seccomp_archs = ARRAY_SIZE(spec_seccomp_archs);

const char *const spec_rootfs_propagations[] = {
    "private", "rprivate",   "slave",       "rslave", "shared",
    "rshared", "unbindable", "runbindable", NULL,
};

bool spec_name_in(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}
