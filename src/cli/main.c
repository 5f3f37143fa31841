#include "config.h"
#include "cli/cli.h"
#include "berth/error.h"
#include "util/log.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/random.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_command *const commands[] = {
    &cli_command_create,   &cli_command_start,  &cli_command_run,       &cli_command_state,
    &cli_command_kill,     &cli_command_delete, &cli_command_list,      &cli_command_spec,
    &cli_command_features, &cli_command_exec,   &cli_command_pause,     &cli_command_resume,
    &cli_command_ps,       &cli_command_update, &cli_command_events,    &cli_command_label,
    &cli_command_layer,    &cli_command_image,  &cli_command_container, &cli_command_volume,
};

enum {
    OPT_ROOT = 0x100,
    OPT_LOG,
    OPT_LOG_FORMAT,
    OPT_LOG_LEVEL,
    OPT_DEBUG,
    OPT_SYSTEMD_CGROUP,
    OPT_CGROUP_MANAGER,
    OPT_ROOTLESS,
    OPT_CRIU,
    OPT_STORAGE_ROOT,
};

static const struct argp_option global_options[] = {
    {"root", OPT_ROOT, "DIR", 0, "state directory (default /run/berth)", 0},
    {"log", OPT_LOG, "FILE", 0, "write diagnostics to FILE instead of stderr", 0},
    {"log-format", OPT_LOG_FORMAT, "FORMAT", 0, "text (default) or json", 0},
    {"log-level", OPT_LOG_LEVEL, "LEVEL", 0, "error, warning, info or debug", 0},
    {"debug", OPT_DEBUG, 0, 0, "log debug lines", 0},
    {"systemd-cgroup", OPT_SYSTEMD_CGROUP, 0, 0, "manage cgroups through systemd", 0},
    {"cgroup-manager", OPT_CGROUP_MANAGER, "MANAGER", 0, "cgroupfs (default), systemd or disabled",
     0},
    {"rootless", OPT_ROOTLESS, "VALUE", 0, "true, false or auto (default)", 0},
    {"storage-root", OPT_STORAGE_ROOT, "DIR", 0,
     "layer and image store (default /var/lib/berth/storage)", 0},
    {"criu", OPT_CRIU, "PATH", OPTION_HIDDEN, "accepted for compatibility; unused", 0},
    {"version", 'v', 0, 0, "print the version and exit", 0},
    {0},
};

struct global_parse {
    struct cli_global g;
    int command_index;
    bool version;
};

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
    struct global_parse *p = state->input;
    switch (key) {
    case OPT_ROOT:
        p->g.root = arg;
        break;
    case OPT_LOG:
        p->g.log = arg;
        break;
    case OPT_LOG_FORMAT:
        if (strcmp(arg, "text") != 0 && strcmp(arg, "json") != 0)
            argp_error(state, "--log-format: \"%s\" is not text or json", arg);
        p->g.log_format = arg;
        break;
    case OPT_LOG_LEVEL:
        if (strcmp(arg, "debug") == 0)
            p->g.debug = true;
        break;
    case OPT_DEBUG:
        p->g.debug = true;
        break;
    case OPT_SYSTEMD_CGROUP:
        p->g.systemd_cgroup = true;
        break;
    case OPT_CGROUP_MANAGER:
        if (strcmp(arg, "cgroupfs") != 0 && strcmp(arg, "systemd") != 0 &&
            strcmp(arg, "disabled") != 0)
            argp_error(state, "--cgroup-manager: \"%s\" is not cgroupfs, systemd or disabled",
                       arg);
        p->g.cgroup_manager = arg;
        break;
    case OPT_ROOTLESS:
        p->g.rootless = arg;
        break;
    case OPT_CRIU:
        break;
    case OPT_STORAGE_ROOT:
        p->g.storage_root = arg;
        break;
    case 'v':
        p->version = true;
        break;
    case ARGP_KEY_ARG:
        /* The first operand is the command: the rest of argv belongs to it. */
        p->command_index = state->next - 1;
        state->next = state->argc;
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static char *global_help(int key, const char *text, void *input)
{
    (void)input;
    if (key != ARGP_KEY_HELP_POST_DOC)
        return (char *)text;
    /* argp frees what this returns. */
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs("Commands:\n", f);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fclose(f);
    return out;
}

static const struct argp global_argp = {
    global_options, parse_global, "COMMAND [OPTION...] [ARG...]",
    "berth: run OCI containers.\v", NULL, global_help, NULL,
};

extern const char berth_commit[];

static void print_version(void)
{
    const struct scmp_version *sv = seccomp_version();
    printf("berth version %s\ncommit: %s\nspec: %s\nlibseccomp: %u.%u.%u\n", BERTH_VERSION,
           berth_commit, BERTH_SPEC_VERSION, sv->major, sv->minor, sv->micro);
}

int main(int argc, char **argv)
{
    struct global_parse p = {.command_index = -1};
    /* jansson seeds its hashes from /dev/urandom (open, read, close) unless given a seed. */
    uint32_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed) && seed)
        json_object_seed(seed);
    argp_err_exit_status = 1;
    cli_argp_parse(&global_argp, argc, argv, ARGP_IN_ORDER, &p);

    if (p.version) {
        print_version();
        return 0;
    }
    if (p.command_index < 0) {
        fprintf(stderr, "berth: no command given; see berth --help\n");
        return 1;
    }

    const char *name = argv[p.command_index];
    const struct cli_command *cmd = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i]->name, name) == 0)
            cmd = commands[i];
    if (!cmd) {
        fprintf(stderr, "berth: unknown command \"%s\"; see berth --help\n", name);
        return 1;
    }

    struct berth_error *err = NULL;
    bool json = p.g.log_format && strcmp(p.g.log_format, "json") == 0;
    if (log_setup(p.g.log, json, p.g.debug, &err) < 0) {
        log_fail(err->msg);
        berth_error_free(err);
        return 1;
    }
    bool rootless = p.g.rootless ? strcmp(p.g.rootless, "true") == 0
                                 : geteuid() != 0;
    if (p.g.rootless && strcmp(p.g.rootless, "auto") == 0)
        rootless = geteuid() != 0;
    p.g.is_rootless = rootless;
    _cleanup_free_ char *user_root = NULL;
    if (!p.g.root) {
        /* An unprivileged user keeps state in its own runtime directory, as runc does. */
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (rootless && xdg && *xdg)
            p.g.root = user_root = xasprintf("%s/berth", xdg);
        else if (rootless)
            p.g.root = user_root = xasprintf("/tmp/berth-%u", (unsigned)geteuid());
        else
            p.g.root = "/run/berth";
    }
    if (p.g.systemd_cgroup && !p.g.cgroup_manager)
        p.g.cgroup_manager = "systemd";
    if (!p.g.storage_root)
        p.g.storage_root = "/var/lib/berth/storage";

    p.g.argv = argv;
    int r = cmd->run(&p.g, argc - p.command_index, argv + p.command_index, &err);
    if (r < 0) {
        log_fail(err ? err->msg : strerror(-r));
        berth_error_free(err);
        return 1;
    }
    /* A positive value is an exit status the command chose (run passes the container's on). */
    return r;
}
