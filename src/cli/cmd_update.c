#include "berth/error.h"
#include "cli/cli.h"
#include "container/container.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_MEMORY = 0x500,
    OPT_MEMORY_SWAP,
    OPT_MEMORY_RESERVATION,
    OPT_KERNEL_MEMORY,
    OPT_KERNEL_MEMORY_TCP,
    OPT_CPU_SHARES,
    OPT_CPU_QUOTA,
    OPT_CPU_PERIOD,
    OPT_CPU_RT_PERIOD,
    OPT_CPU_RT_RUNTIME,
    OPT_CPUSET_CPUS,
    OPT_CPUSET_MEMS,
    OPT_PIDS_LIMIT,
    OPT_BLKIO_WEIGHT,
    OPT_L3,
    OPT_MEMBW,
};

static const struct argp_option options[] = {
    {"resources", 'r', "FILE", 0, "a linux.resources JSON object, or - for standard input", 0},
    {"memory", OPT_MEMORY, "BYTES", 0, "memory limit (suffixes k, m, g, t)", 0},
    {"memory-swap", OPT_MEMORY_SWAP, "BYTES", 0, "memory plus swap limit; -1 is unlimited", 0},
    {"memory-reservation", OPT_MEMORY_RESERVATION, "BYTES", 0, "memory soft limit", 0},
    {"kernel-memory", OPT_KERNEL_MEMORY, "BYTES", 0, "ignored by the kernel now", 0},
    {"kernel-memory-tcp", OPT_KERNEL_MEMORY_TCP, "BYTES", 0, "ignored by the kernel now", 0},
    {"cpu-shares", OPT_CPU_SHARES, "N", 0, "CPU shares (relative weight)", 0},
    {"cpu-share", OPT_CPU_SHARES, "N", OPTION_ALIAS, NULL, 0},
    {"cpu-quota", OPT_CPU_QUOTA, "US", 0, "CPU time per period, in microseconds", 0},
    {"cpu-period", OPT_CPU_PERIOD, "US", 0, "CPU CFS period, in microseconds", 0},
    {"cpu-rt-period", OPT_CPU_RT_PERIOD, "US", 0, "realtime period, in microseconds", 0},
    {"cpu-rt-runtime", OPT_CPU_RT_RUNTIME, "US", 0, "realtime runtime, in microseconds", 0},
    {"cpuset-cpus", OPT_CPUSET_CPUS, "LIST", 0, "CPUs allowed (0-3, 0,1)", 0},
    {"cpuset-mems", OPT_CPUSET_MEMS, "LIST", 0, "memory nodes allowed", 0},
    {"pids-limit", OPT_PIDS_LIMIT, "N", 0, "maximum number of processes; -1 is unlimited", 0},
    {"blkio-weight", OPT_BLKIO_WEIGHT, "N", 0, "block IO weight (10 to 1000)", 0},
    {"l3-cache-schema", OPT_L3, "S", OPTION_HIDDEN, "not supported", 0},
    {"mem-bw-schema", OPT_MEMBW, "S", OPTION_HIDDEN, "not supported", 0},
    {0},
};

struct update_args {
    const char *id;
    const char *file;
    struct spec_resources res;
    struct spec_memory mem;
    struct spec_cpu cpu;
    struct spec_block_io bio;
    bool any_mem, any_cpu, any_bio, any_flag;
};

/* A byte count as docker and runc take it: a number with an optional binary suffix. */
static int parse_bytes(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s)
        return -1;
    static const char units[] = "bkmgtp";
    int64_t mult = 1;
    if (*end) {
        const char *u = strchr(units, end[0] | 0x20);
        if (!u || (end[1] && !((end[1] | 0x20) == 'b' && !end[2])))
            return -1;
        for (long i = u - units; i > 0; i--)
            mult *= 1024;
    }
    *out = (int64_t)(v * (double)mult);
    return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !*s || *end)
        return -1;
    *out = v;
    return 0;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
    struct update_args *a = state->input;
    int64_t v = 0;
    if (key >= OPT_MEMORY && key <= OPT_KERNEL_MEMORY_TCP) {
        if (parse_bytes(arg, &v) < 0)
            argp_error(state, "\"%s\" is not a byte count", arg);
        a->any_mem = a->any_flag = true;
    } else if (key >= OPT_CPU_SHARES && key <= OPT_PIDS_LIMIT && key != OPT_CPUSET_CPUS &&
               key != OPT_CPUSET_MEMS) {
        if (parse_i64(arg, &v) < 0)
            argp_error(state, "\"%s\" is not a number", arg);
    }
    switch (key) {
    case 'r':
        a->file = arg;
        break;
    case OPT_MEMORY:
        a->mem.has_limit = true, a->mem.limit = v;
        break;
    case OPT_MEMORY_SWAP:
        a->mem.has_swap = true, a->mem.swap = v;
        break;
    case OPT_MEMORY_RESERVATION:
        a->mem.has_reservation = true, a->mem.reservation = v;
        break;
    case OPT_KERNEL_MEMORY:
        a->mem.has_kernel = true, a->mem.kernel = v;
        break;
    case OPT_KERNEL_MEMORY_TCP:
        a->mem.has_kernel_tcp = true, a->mem.kernel_tcp = v;
        break;
    case OPT_CPU_SHARES:
        a->cpu.has_shares = true, a->cpu.shares = (uint64_t)v;
        a->any_cpu = a->any_flag = true;
        break;
    case OPT_CPU_QUOTA:
        a->cpu.has_quota = true, a->cpu.quota = v;
        a->any_cpu = a->any_flag = true;
        break;
    case OPT_CPU_PERIOD:
        a->cpu.has_period = true, a->cpu.period = (uint64_t)v;
        a->any_cpu = a->any_flag = true;
        break;
    case OPT_CPU_RT_PERIOD:
        a->cpu.has_realtime_period = true, a->cpu.realtime_period = (uint64_t)v;
        a->any_cpu = a->any_flag = true;
        break;
    case OPT_CPU_RT_RUNTIME:
        a->cpu.has_realtime_runtime = true, a->cpu.realtime_runtime = v;
        a->any_cpu = a->any_flag = true;
        break;
    case OPT_CPUSET_CPUS:
        a->cpu.cpus = arg;
        a->any_cpu = a->any_flag = true;
        break;
    case OPT_CPUSET_MEMS:
        a->cpu.mems = arg;
        a->any_cpu = a->any_flag = true;
        break;
    case OPT_PIDS_LIMIT:
        a->res.has_pids_limit = true, a->res.pids_limit = v;
        a->any_flag = true;
        break;
    case OPT_BLKIO_WEIGHT:
        if (parse_i64(arg, &v) < 0 || v < 0 || v > 1000)
            argp_error(state, "--blkio-weight: \"%s\" is not 10 to 1000", arg);
        a->bio.has_weight = true, a->bio.weight = (uint16_t)v;
        a->any_bio = a->any_flag = true;
        break;
    case OPT_L3:
    case OPT_MEMBW:
        argp_error(state, "Intel RDT is not supported by berth");
        break;
    case ARGP_KEY_ARG:
        if (a->id)
            argp_error(state, "unexpected argument \"%s\"", arg);
        a->id = arg;
        break;
    case ARGP_KEY_END:
        if (!a->id)
            argp_error(state, "a container id is required");
        if (a->file && a->any_flag)
            argp_error(state, "--resources and the other flags cannot be used together");
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp argp = {
    options, parse, "CONTAINER", "Change the resource limits of a running container.",
    NULL,    NULL,  NULL};

static int run(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct update_args a = {0};
    cli_parse(&argp, argc, argv, &a);
    if (a.file) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;
        if (strcmp(a.file, "-") == 0) {
            r = fs_read_fd(STDIN_FILENO, 16 << 20, &text, &len);
            if (r < 0)
                return berth_error_set(err, -r, "--resources: read standard input");
        } else {
            r = fs_read_file_at(AT_FDCWD, a.file, 16 << 20, &text, &len, err);
            if (r < 0)
                return berth_error_prefix(err, "--resources");
        }
        struct spec_resources *res;
        r = spec_parse_resources(text, len, strcmp(a.file, "-") == 0 ? "resources" : a.file, &res,
                                 err);
        if (r < 0)
            return r;
        r = container_update(g->root, a.id, res, err);
        spec_resources_free(res);
        return r;
    }
    if (a.any_mem)
        a.res.memory = &a.mem;
    if (a.any_cpu)
        a.res.cpu = &a.cpu;
    if (a.any_bio)
        a.res.block_io = &a.bio;
    return container_update(g->root, a.id, &a.res, err);
}

const struct cli_command cli_command_update = {"update", "change a container's resource limits",
                                               run};
