/* berth image import|ls|rm: OCI image layouts into the layer store. */
#include "berth/error.h"
#include "cli/cli.h"
#include "spec/spec.h"
#include "storage/image.h"
#include "storage/store.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct image_args {
    const char *arg;
    const char *name;
    struct cli_id_maps maps;
    bool quiet;
    bool need_arg;
    struct berth_error *err;
};

enum { OPT_NAME = 0x100, OPT_UIDMAP, OPT_GIDMAP };

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct image_args *a = state->input;
    switch (key) {
    case OPT_NAME:
        a->name = arg;
        break;
    case OPT_UIDMAP:
    case OPT_GIDMAP:
        cli_id_maps_add(state, &a->maps, key == OPT_UIDMAP, arg);
        break;
    case 'q':
        a->quiet = true;
        break;
    case ARGP_KEY_ARG:
        if (a->arg || !a->need_arg)
            argp_error(state, "unexpected argument \"%s\"", arg);
        a->arg = arg;
        break;
    case ARGP_KEY_END:
        if (a->need_arg && !a->arg)
            argp_error(state, "an argument is required");
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp_option import_options[] = {
    {"name", OPT_NAME, "NAME", 0, "record the image under NAME", 0},
    {"uidmap", OPT_UIDMAP, "C:H:S", 0, "map container uids C..C+S-1 to host uids H..H+S-1", 0},
    {"gidmap", OPT_GIDMAP, "C:H:S", 0, "map container gids likewise", 0},
    {0},
};
static const struct argp_option ls_options[] = {
    {"quiet", 'q', 0, 0, "print the names only", 0},
    {0},
};
static const struct argp_option no_options[] = {{0}};

static void parse_sub(const struct argp_option *options, const char *args_doc, const char *doc,
                      int argc, char **argv, struct image_args *a)
{
    cli_parse_subcommand(options, parse_opt, args_doc, doc, argc, argv, a);
}

static int image_ls(struct storage *s, const struct image_args *a, struct berth_error **err)
{
    struct image *v;
    size_t n;
    int r = image_list(s, &v, &n, err);
    if (r < 0)
        return r;
    if (!a->quiet)
        printf("%-32s %-19s %-16s %s\n", "NAME", "DIGEST", "TOP LAYER", "CREATED");
    for (size_t i = 0; i < n; i++) {
        if (a->quiet)
            printf("%s\n", v[i].name);
        else
            printf("%-32s %.19s %.16s %s\n", v[i].name, v[i].digest, v[i].top, v[i].created);
    }
    image_list_free(v, n);
    return 0;
}

static int run_image(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "Usage: berth image COMMAND [OPTION...]\n\n"
                "  import DIR|ARCHIVE.tar [--name NAME] [--uidmap C:H:S]... [--gidmap C:H:S]...\n"
                "  ls [-q]\n  rm NAME\n");
        return argc < 2 ? 1 : 0;
    }
    const char *sub = argv[1];
    struct image_args a = {.need_arg = true};
    unsigned flags = 0;
    if (strcmp(sub, "import") == 0) {
        parse_sub(import_options, "DIR|ARCHIVE.tar",
                  "Import an OCI image layout (its linux/amd64 image).", argc, argv, &a);
    } else if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        a.need_arg = false;
        parse_sub(ls_options, NULL, "List the images.", argc, argv, &a);
        flags = STORAGE_OPEN_READONLY;
    } else if (strcmp(sub, "rm") == 0) {
        parse_sub(no_options, "NAME", "Remove an image and the layers only it used.", argc, argv,
                  &a);
    } else {
        return berth_error_set(err, 0, "image: unknown command \"%s\"; see berth image --help",
                               sub);
    }
    _cleanup_(storage_closep) struct storage *s = NULL;
    int r = storage_open(g->storage_root, flags, &s, err);
    if (r == 0 && strcmp(sub, "import") == 0) {
        struct copy_id_map um = {a.maps.uid, a.maps.n_uid}, gm = {a.maps.gid, a.maps.n_gid};
        struct image_import_opts o = {a.name, &um, &gm, true};
        _cleanup_free_ char *name = NULL;
        r = image_import(s, a.arg, &o, &name, err);
        if (r == 0)
            printf("%s\n", name);
    } else if (r == 0 && strcmp(sub, "rm") == 0) {
        r = image_remove(s, a.arg, err);
    } else if (r == 0) {
        r = image_ls(s, &a, err);
    }
    cli_id_maps_free(&a.maps);
    berth_error_free(a.err);
    return r;
}

const struct cli_command cli_command_image = {"image", "import and list OCI images", run_image};
