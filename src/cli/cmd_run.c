#include "berth/error.h"
#include "cli/cli.h"
#include "cli/create_opts.h"

static const struct argp_option options[] = {
    {"detach", 'd', 0, 0, "return once the process runs, without waiting for it", 0},
    {"keep", 0x300, 0, 0, "do not delete the container when its process exits", 0},
    {0},
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
    struct cli_create_args *a = state->input;
    switch (key) {
    case 'd':
        a->detach = true;
        return 0;
    case 0x300:
        a->keep = true;
        return 0;
    default:
        return cli_create_parse(key, arg, state);
    }
}

static int run(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    /* create's options, then run's own. */
    struct argp_option all[32] = {{0}};
    size_t n = 0;
    for (const struct argp_option *o = cli_create_options; o->name; o++)
        all[n++] = *o;
    for (const struct argp_option *o = options; o->name; o++)
        all[n++] = *o;
    struct argp argp = {all,
                        parse,
                        "CONTAINER",
                        "Create and start a container; without --detach, wait for its process "
                        "and exit with its status.",
                        NULL,
                        NULL,
                        NULL};
    struct cli_create_args a = {0};
    cli_parse(&argp, argc, argv, &a);
    a.opts.root = g->root;
    a.opts.id = a.id;
    a.opts.cgroup_manager = g->cgroup_manager;
    a.opts.rootless = g->is_rootless;
    a.opts.argv = g->argv;
    return container_run(&a.opts, a.detach, a.keep, err);
}

const struct cli_command cli_command_run = {"run", "create and start a container, and wait for it",
                                            run};
