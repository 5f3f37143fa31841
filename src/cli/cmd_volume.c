/* berth volume create|ls|rm: named volumes, which containers bind with -v NAME:DST. */
#include "berth/error.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct volume_args {
    char **names;
    size_t n;
    bool many, none, quiet;
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct volume_args *a = state->input;
    switch (key) {
    case 'q':
        a->quiet = true;
        break;
    case ARGP_KEY_ARG:
        if (a->none || (a->n && !a->many))
            argp_error(state, "unexpected argument \"%s\"", arg);
        a->names = xreallocarray(a->names, a->n + 1, sizeof(char *));
        a->names[a->n++] = arg;
        break;
    case ARGP_KEY_END:
        if (!a->none && !a->n)
            argp_error(state, "a volume name is required");
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp_option ls_options[] = {
    {"quiet", 'q', 0, 0, "print the names only", 0},
    {0},
};
static const struct argp_option no_options[] = {{0}};

static int run_volume(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "Usage: berth volume COMMAND\n\n"
                                            "  create NAME\n  ls [-q]\n  rm NAME...\n");
        return argc < 2 ? 1 : 0;
    }
    const char *sub = argv[1];
    struct volume_args a = {0};
    struct engine_ctx ctx = {g->root, g->storage_root, g->cgroup_manager};
    int r = 0;
    if (strcmp(sub, "create") == 0) {
        cli_parse_subcommand(no_options, parse_opt, "NAME",
                             "Make an empty volume (one a container's -v NAME:DST makes starts "
                             "as a copy of the image's DST).",
                             argc, argv, &a);
        r = engine_volume_create(&ctx, a.names[0], err);
    } else if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        a.none = true;
        cli_parse_subcommand(ls_options, parse_opt, NULL, "List the volumes.", argc, argv, &a);
        char **names = NULL;
        r = engine_volume_list(&ctx, &names, err);
        if (r == 0 && !a.quiet)
            printf("NAME\n");
        for (char **v = names; r == 0 && v && *v; v++)
            printf("%s\n", *v);
        strv_free(names);
    } else if (strcmp(sub, "rm") == 0) {
        a.many = true;
        cli_parse_subcommand(no_options, parse_opt, "NAME...",
                             "Remove volumes and what they hold; one a container names is kept.",
                             argc, argv, &a);
        for (size_t i = 0; i < a.n && r == 0; i++)
            r = engine_volume_remove(&ctx, a.names[i], err);
    } else {
        r = berth_error_set(err, 0, "volume: unknown command \"%s\"; see berth volume --help", sub);
    }
    free(a.names);
    return r;
}

const struct cli_command cli_command_volume = {"volume", "named volumes for containers",
                                               run_volume};
