/* berth layer create|rm|ls|path|exists: the VFS layer store by hand. */
#include "berth/error.h"
#include "cli/cli.h"
#include "spec/spec.h"
#include "storage/store.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct layer_args {
    const char *id;
    const char *parent;
    char **storage_opts; /* strv */
    size_t n_storage_opts;
    struct cli_id_maps maps;
    bool quiet;
    const char *usage_error;
    struct berth_error *err;
};

enum { OPT_PARENT = 0x100, OPT_STORAGE_OPT, OPT_UIDMAP, OPT_GIDMAP };

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct layer_args *a = state->input;
    switch (key) {
    case OPT_PARENT:
        a->parent = arg;
        break;
    case OPT_STORAGE_OPT:
        a->storage_opts = xreallocarray(a->storage_opts, a->n_storage_opts + 2, sizeof(char *));
        a->storage_opts[a->n_storage_opts++] = arg;
        a->storage_opts[a->n_storage_opts] = NULL;
        break;
    case OPT_UIDMAP:
    case OPT_GIDMAP:
        cli_id_maps_add(state, &a->maps, key == OPT_UIDMAP, arg);
        break;
    case 'q':
        a->quiet = true;
        break;
    case ARGP_KEY_ARG:
        if (a->id)
            argp_error(state, "unexpected argument \"%s\"", arg);
        a->id = arg;
        break;
    case ARGP_KEY_END:
        if (a->usage_error && !a->id)
            argp_error(state, "%s", a->usage_error);
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp_option create_options[] = {
    {"parent", OPT_PARENT, "LAYER", 0, "copy this layer into the new one", 0},
    {"storage-opt", OPT_STORAGE_OPT, "K=V", 0, "storage driver option (vfs takes none)", 0},
    {"uidmap", OPT_UIDMAP, "C:H:S", 0, "map container uids C..C+S-1 to host uids H..H+S-1", 0},
    {"gidmap", OPT_GIDMAP, "C:H:S", 0, "map container gids likewise", 0},
    {0},
};
static const struct argp_option ls_options[] = {
    {"quiet", 'q', 0, 0, "print the ids only", 0},
    {0},
};
static const struct argp_option no_options[] = {{0}};

void cli_parse_subcommand(const struct argp_option *options, argp_parser_t parser,
                          const char *args_doc, const char *doc, int argc, char **argv, void *input)
{
    const struct argp argp = {options, parser, args_doc, doc, NULL, NULL, NULL};
    /* argv[0] is the command, argv[1] the subcommand: usage and errors say "COMMAND SUB". */
    _cleanup_free_ char *name = xasprintf("%s %s", argv[0], argv[1]);
    char *saved = argv[1];
    argv[1] = name;
    cli_parse(&argp, argc - 1, argv + 1, input);
    argv[1] = saved;
}

static void parse_sub(const struct argp_option *options, const char *args_doc, const char *doc,
                      int argc, char **argv, struct layer_args *a)
{
    cli_parse_subcommand(options, parse_opt, args_doc, doc, argc, argv, a);
}

static int open_store(const struct cli_global *g, unsigned flags, struct storage **s,
                      struct berth_error **err)
{
    return storage_open(g->storage_root, flags, s, err);
}

static int layer_create(const struct cli_global *g, struct layer_args *a, struct berth_error **err)
{
    _cleanup_(storage_closep) struct storage *s = NULL;
    int r = open_store(g, 0, &s, err);
    if (r < 0)
        return r;
    struct copy_id_map um = {a->maps.uid, a->maps.n_uid}, gm = {a->maps.gid, a->maps.n_gid};
    struct storage_layer_opts opts = {.storage_opts = a->storage_opts, .progress = true};
    return storage_layer_create(s, a->id, a->parent, &um, &gm, &opts, err);
}

static int layer_ls(const struct cli_global *g, struct layer_args *a, struct berth_error **err)
{
    _cleanup_(storage_closep) struct storage *s = NULL;
    int r = open_store(g, STORAGE_OPEN_READONLY, &s, err);
    if (r < 0)
        return r;
    struct storage_layer *v;
    size_t n;
    r = storage_layer_list(s, &v, &n, err);
    if (r < 0)
        return r;
    int w = 8;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(v[i].id) > w)
            w = (int)strlen(v[i].id);
    if (!a->quiet)
        printf("%-*s  %-*s  %-30s %12s %8s\n", w, "ID", w, "PARENT", "CREATED", "BYTES", "FILES");
    for (size_t i = 0; i < n; i++) {
        if (a->quiet)
            printf("%s\n", v[i].id);
        else
            printf("%-*s  %-*s  %-30s %12llu %8llu\n", w, v[i].id, w,
                   v[i].parent ? v[i].parent : "-", v[i].created, (unsigned long long)v[i].size,
                   (unsigned long long)v[i].files);
    }
    storage_layer_list_free(v, n);
    return 0;
}

static int run_layer(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "Usage: berth layer COMMAND [OPTION...]\n\n"
                "  create ID [--parent P] [--storage-opt K=V] [--uidmap C:H:S]... "
                "[--gidmap C:H:S]...\n"
                "  rm ID\n  ls [-q]\n  path ID\n  exists ID   (exit status 0 or 1)\n");
        return argc < 2 ? 1 : 0;
    }
    const char *sub = argv[1];
    struct layer_args a = {.usage_error = "a layer id is required"};
    int r;
    if (strcmp(sub, "create") == 0) {
        parse_sub(create_options, "ID", "Make a layer, as a copy of its parent if it has one.",
                  argc, argv, &a);
        r = layer_create(g, &a, err);
    } else if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        a.usage_error = NULL;
        parse_sub(ls_options, NULL, "List the layers.", argc, argv, &a);
        if (a.id)
            r = berth_error_set(err, 0, "layer ls: unexpected argument \"%s\"", a.id);
        else
            r = layer_ls(g, &a, err);
    } else if (strcmp(sub, "rm") == 0 || strcmp(sub, "path") == 0 || strcmp(sub, "exists") == 0) {
        parse_sub(no_options, "ID", NULL, argc, argv, &a);
        _cleanup_(storage_closep) struct storage *s = NULL;
        r = open_store(g, strcmp(sub, "rm") == 0 ? 0 : STORAGE_OPEN_READONLY, &s, err);
        if (r < 0) {
            /* fall through to the common cleanup */
        } else if (strcmp(sub, "rm") == 0) {
            r = storage_layer_remove(s, a.id, err);
        } else if (strcmp(sub, "exists") == 0) {
            r = storage_layer_exists(s, a.id) ? 0 : 1;
        } else {
            _cleanup_free_ char *path = NULL;
            r = storage_layer_path(s, a.id, &path, err);
            if (r == 0)
                printf("%s\n", path);
        }
    } else {
        r = berth_error_set(err, 0, "layer: unknown command \"%s\"; see berth layer --help", sub);
    }
    free(a.storage_opts);
    cli_id_maps_free(&a.maps);
    berth_error_free(a.err);
    return r;
}

const struct cli_command cli_command_layer = {"layer", "manage the VFS layer store", run_layer};
