#include "berth/error.h"
#include "cli/cli.h"
#include "cli/create_opts.h"

static const struct argp argp = {cli_create_options,
                                 cli_create_parse,
                                 "CONTAINER",
                                 "Create a container from a bundle; start runs its process.",
                                 NULL,
                                 NULL,
                                 NULL};

static int run(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct cli_create_args a = {0};
    cli_parse(&argp, argc, argv, &a);
    a.opts.root = g->root;
    a.opts.id = a.id;
    a.opts.cgroup_manager = g->cgroup_manager;
    a.opts.rootless = g->is_rootless;
    a.opts.argv = g->argv;
    return container_create(&a.opts, NULL, err);
}

const struct cli_command cli_command_create = {"create", "create a container", run};
