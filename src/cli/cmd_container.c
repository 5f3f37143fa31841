/* berth container create|start|stop|exec|rm|ls|run|logs: containers made from imported images. */
#include "berth/error.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/shm.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_IMAGE = 0x500,
    OPT_HOSTNAME,
    OPT_DNS,
    OPT_DNS_SEARCH,
    OPT_DNS_OPTION,
    OPT_ADD_HOST,
    OPT_READ_ONLY,
    OPT_SHM_SIZE,
    OPT_IPC,
    OPT_RM,
    OPT_ENTRYPOINT,
    OPT_UIDMAP,
    OPT_GIDMAP,
};

struct strv {
    char **v;
    size_t n;
};

static void strv_add(struct strv *s, char *value)
{
    s->v = xreallocarray(s->v, s->n + 2, sizeof(char *));
    s->v[s->n++] = value;
    s->v[s->n] = NULL;
}

struct container_args {
    const char *sub;
    char **names; /* positional names (rm takes several) */
    size_t n_names;
    char **cmd; /* points into argv */
    struct engine_create_opts c;
    struct strv dns, dns_search, dns_option, add_host, volume, env;
    bool detach, rm, force, quiet, follow;
    unsigned timeout;
    struct engine_exec_opts x;
    struct cli_id_maps maps;
    bool many_names; /* rm */
    bool want_cmd;   /* create, run, exec */
    bool need_cmd;   /* exec */
    struct berth_error *error;
};

static const struct argp_option create_options[] = {
    {"image", OPT_IMAGE, "REF", 0, "the image (a name or manifest digest) to make it from", 0},
    {"hostname", OPT_HOSTNAME, "NAME", 0, "the container's hostname", 0},
    {"dns", OPT_DNS, "IP", 0, "a nameserver for resolv.conf (repeatable)", 0},
    {"dns-search", OPT_DNS_SEARCH, "DOMAIN", 0, "a search domain (repeatable; . for none)", 0},
    {"dns-option", OPT_DNS_OPTION, "OPTION", 0, "a resolver option (repeatable)", 0},
    {"add-host", OPT_ADD_HOST, "NAME:IP", 0, "a line for /etc/hosts (repeatable)", 0},
    {"read-only", OPT_READ_ONLY, 0, 0, "a read-only root filesystem and /etc files", 0},
    {"shm-size", OPT_SHM_SIZE, "SIZE", 0, "size of /dev/shm (default 64m)", 0},
    {"ipc", OPT_IPC, "MODE", 0, "private (default), shareable, host or container:NAME", 0},
    {"volume", 'v', "SRC:DST[:OPTS]", 0, "bind SRC at DST; OPTS: ro, rw, z, Z (repeatable)", 0},
    {"user", 'u', "USER", 0, "NAME|UID[:GROUP|GID], names from the image", 0},
    {"env", 'e', "KEY=VALUE", 0, "set an environment variable (repeatable)", 0},
    {"workdir", 'w', "DIR", 0, "the working directory in the container", 0},
    {"tty", 't', 0, 0, "give the process a terminal", 0},
    {"entrypoint", OPT_ENTRYPOINT, "CMD", 0,
     "instead of the image's Entrypoint (\"\" for none); the image's Cmd is then not used", 0},
    {"uidmap", OPT_UIDMAP, "C:H:S", 0,
     "run in a user namespace mapping container uids C..C+S-1 to host uids H..H+S-1 "
     "(repeatable); default: the maps the image was imported with",
     0},
    {"gidmap", OPT_GIDMAP, "C:H:S", 0, "likewise for gids (default: as --uidmap)", 0},
    {0},
};

static const struct argp_option run_only_options[] = {
    {"rm", OPT_RM, 0, 0, "remove the container when its process exits", 0},
    {"detach", 'd', 0, 0, "return once the process runs; its output goes to the log", 0},
    {0},
};

static const struct argp_option start_options[] = {
    {"detach", 'd', 0, 0, "return once the process runs; its output goes to the log", 0},
    {0},
};

static const struct argp_option logs_options[] = {
    {"follow", 'f', 0, 0, "keep printing while the process runs", 0},
    {0},
};

static const struct argp_option stop_options[] = {
    {"time", 't', "SECONDS", 0, "wait this long after SIGTERM before SIGKILL (default 10)", 0},
    {0},
};

static const struct argp_option exec_options[] = {
    {"env", 'e', "KEY=VALUE", 0, "set an environment variable (repeatable)", 0},
    {"workdir", 'w', "DIR", 0, "the working directory", 0},
    {"user", 'u', "USER", 0, "NAME|UID[:GROUP|GID], names from the container's files", 0},
    {"tty", 't', 0, 0, "give the process a terminal", 0},
    {0},
};

static const struct argp_option rm_options[] = {
    {"force", 'f', 0, 0, "kill a running container first; clear what a failure left", 0},
    {0},
};

static const struct argp_option ls_options[] = {
    {"quiet", 'q', 0, 0, "print the names only", 0},
    {0},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct container_args *a = state->input;
    bool stop = strcmp(a->sub, "stop") == 0;
    switch (key) {
    case OPT_IMAGE:
        a->c.image = arg;
        break;
    case OPT_HOSTNAME:
        a->c.hostname = arg;
        break;
    case OPT_DNS:
        strv_add(&a->dns, arg);
        break;
    case OPT_DNS_SEARCH:
        strv_add(&a->dns_search, arg);
        break;
    case OPT_DNS_OPTION:
        strv_add(&a->dns_option, arg);
        break;
    case OPT_ADD_HOST:
        strv_add(&a->add_host, arg);
        break;
    case OPT_ENTRYPOINT:
        a->c.entrypoint = arg;
        break;
    case OPT_UIDMAP:
    case OPT_GIDMAP:
        cli_id_maps_add(state, &a->maps, key == OPT_UIDMAP, arg);
        break;
    case OPT_READ_ONLY:
        a->c.read_only = true;
        break;
    case OPT_SHM_SIZE:
        if (shm_parse_size(arg, &a->c.shm_size, &a->error) < 0)
            argp_error(state, "%s", a->error->msg);
        break;
    case OPT_IPC:
        a->c.ipc = arg;
        break;
    case OPT_RM:
        a->rm = true;
        break;
    case 'v':
        strv_add(&a->volume, arg);
        break;
    case 'u':
        a->c.user = a->x.user = arg;
        break;
    case 'e':
        strv_add(&a->env, arg);
        break;
    case 'w':
        a->c.workdir = a->x.cwd = arg;
        break;
    case 't':
        if (stop) {
            if (cli_parse_uint(arg, "--time", &a->timeout, &a->error) < 0)
                argp_error(state, "%s", a->error->msg);
        } else {
            a->c.tty = a->x.tty = true;
        }
        break;
    case 'd':
        a->detach = true;
        break;
    case 'f':
        a->force = a->follow = true; /* rm -f, logs -f */
        break;
    case 'q':
        a->quiet = true;
        break;
    case ARGP_KEY_ARG:
        if (a->n_names == 0 || a->many_names) {
            a->names = xreallocarray(a->names, a->n_names + 1, sizeof(char *));
            a->names[a->n_names++] = arg;
            break;
        }
        if (!a->want_cmd)
            argp_error(state, "unexpected argument \"%s\"", arg);
        /* The command and its own options: nothing after it is ours. */
        a->cmd = &state->argv[state->next - 1];
        state->next = state->argc;
        break;
    case ARGP_KEY_END:
        if (a->n_names == 0)
            argp_error(state, "a container name is required");
        if (a->need_cmd && !a->cmd)
            argp_error(state, "a command to run is required");
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

/* Options in order, with "--" ending them, and the command after the name left alone. */
static void parse_sub(const struct argp_option *options, const char *args_doc, const char *doc,
                      int argc, char **argv, struct container_args *a)
{
    const struct argp argp = {options, parse_opt, args_doc, doc, NULL, NULL, NULL};
    _cleanup_free_ char *name = xasprintf("%s %s", argv[0], argv[1]);
    char *saved = argv[1];
    argv[1] = name;
    cli_parse_flags(&argp, argc - 1, argv + 1, ARGP_IN_ORDER, a);
    argv[1] = saved;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: berth container COMMAND [OPTION...]\n\n"
               "  create NAME --image REF [OPTION...] [-- CMD...]\n"
               "  run NAME --image REF [OPTION...] [--rm] [-d] [-- CMD...]\n"
               "  start NAME [-d]\n"
               "  stop NAME [-t SECONDS]\n"
               "  exec NAME [-e K=V]... [-w DIR] [-u USER] [-t] CMD...\n"
               "  logs NAME [-f]\n"
               "  rm NAME... [-f]\n"
               "  ls [-q]\n\n"
               "See berth container COMMAND --help for the options.\n");
}

static int list(const struct engine_ctx *ctx, bool quiet, struct berth_error **err)
{
    struct engine_container *v;
    size_t n;
    int r = engine_list(ctx, &v, &n, err);
    if (r < 0)
        return r;
    if (!quiet)
        printf("%-24s %-12s %-24s %-16s %s\n", "NAME", "ID", "IMAGE", "STATUS", "CREATED");
    for (size_t i = 0; i < n; i++) {
        if (quiet)
            printf("%s\n", v[i].name);
        else
            printf("%-24s %-12.12s %-24s %-16s %s\n", v[i].name, v[i].id, v[i].image, v[i].status,
                   v[i].created);
    }
    engine_list_free(v, n);
    return 0;
}

static int create_and_maybe_start(const struct engine_ctx *ctx, struct container_args *a, bool run,
                                  struct berth_error **err)
{
    a->c.name = a->names[0];
    a->c.dns = (struct netfiles_dns){a->dns.v, a->dns_search.v, a->dns_option.v};
    a->c.add_hosts = a->add_host.v;
    a->c.volumes = a->volume.v;
    a->c.env = a->env.v;
    a->c.cmd = a->cmd;
    a->c.progress = true;
    a->c.uid_map = a->maps.uid, a->c.n_uid_map = a->maps.n_uid;
    a->c.gid_map = a->maps.gid, a->c.n_gid_map = a->maps.n_gid;
    int r = engine_create(ctx, &a->c, err);
    if (r < 0 || !run)
        return r;
    r = engine_start(ctx, a->c.name, a->detach, a->rm && a->detach, err);
    if (a->rm && !a->detach) {
        struct berth_error *e = NULL;
        if (engine_remove(ctx, a->c.name, true, &e) < 0 && r >= 0) {
            *err = e;
            return berth_error_ret(e);
        }
        berth_error_free(e);
    }
    return r;
}

static int run_container(const struct cli_global *g, int argc, char **argv,
                         struct berth_error **err)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    struct container_args a = {.sub = argv[1], .timeout = 10};
    const char *sub = a.sub;
    bool run = strcmp(sub, "run") == 0;
    if (strcmp(sub, "create") == 0 || run) {
        struct argp_option all[ARRAY_SIZE(create_options) + ARRAY_SIZE(run_only_options)] = {{0}};
        size_t n = 0;
        for (const struct argp_option *o = create_options; o->name; o++)
            all[n++] = *o;
        for (const struct argp_option *o = run_only_options; run && o->name; o++)
            all[n++] = *o;
        a.want_cmd = true;
        parse_sub(all, "NAME [--] [CMD...]",
                  run ? "Make a container from an image and run it; in the foreground, exit "
                        "with its process's status."
                      : "Make a container from an image.",
                  argc, argv, &a);
    } else if (strcmp(sub, "start") == 0) {
        parse_sub(start_options, "NAME",
                  "Run the container's process; in the foreground, exit with its status.", argc,
                  argv, &a);
    } else if (strcmp(sub, "stop") == 0) {
        parse_sub(stop_options, "NAME", "Stop the container's process: SIGTERM, then SIGKILL.",
                  argc, argv, &a);
    } else if (strcmp(sub, "exec") == 0) {
        a.want_cmd = a.need_cmd = true;
        parse_sub(exec_options, "NAME CMD...", "Run a process in a running container.", argc, argv,
                  &a);
    } else if (strcmp(sub, "rm") == 0) {
        a.many_names = true;
        parse_sub(rm_options, "NAME...", "Remove containers: their layer, files and state.", argc,
                  argv, &a);
    } else if (strcmp(sub, "logs") == 0) {
        parse_sub(logs_options, "NAME", "Print the output of the container's detached runs.", argc,
                  argv, &a);
    } else if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        a.n_names = 1; /* no name wanted */
        a.many_names = false;
        parse_sub(ls_options, NULL, "List the containers made from images.", argc, argv, &a);
    } else {
        return berth_error_set(
            err, 0, "container: unknown command \"%s\"; see berth container --help", sub);
    }

    struct engine_ctx ctx = {g->root, g->storage_root, g->cgroup_manager};
    int r = 0;
    if (strcmp(sub, "create") == 0 || run) {
        r = create_and_maybe_start(&ctx, &a, run, err);
    } else if (strcmp(sub, "start") == 0) {
        r = engine_start(&ctx, a.names[0], a.detach, false, err);
    } else if (strcmp(sub, "stop") == 0) {
        r = engine_stop(&ctx, a.names[0], a.timeout, err);
    } else if (strcmp(sub, "exec") == 0) {
        a.x.args = a.cmd;
        a.x.env = a.env.v;
        r = engine_exec(&ctx, a.names[0], &a.x, err);
    } else if (strcmp(sub, "logs") == 0) {
        r = engine_logs(&ctx, a.names[0], a.follow, err);
    } else if (strcmp(sub, "rm") == 0) {
        for (size_t i = 0; i < a.n_names && r == 0; i++)
            r = engine_remove(&ctx, a.names[i], a.force, err);
    } else {
        r = list(&ctx, a.quiet, err);
    }
    free(a.names);
    free(a.dns.v);
    free(a.dns_search.v);
    free(a.dns_option.v);
    free(a.add_host.v);
    free(a.volume.v);
    free(a.env.v);
    cli_id_maps_free(&a.maps);
    berth_error_free(a.error);
    return r;
}

const struct cli_command cli_command_container = {
    "container", "make and run containers from imported images", run_container};
