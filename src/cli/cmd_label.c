/* label allocate | release: SELinux label pairs for engines, reserved under the state root. */
#include "berth/error.h"
#include "cli/cli.h"
#include "linux/label.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct allocate_args {
    const char *root;
    char **opts;
    size_t n_opts;
};

static error_t parse_allocate(int key, char *arg, struct argp_state *state)
{
    struct allocate_args *a = state->input;
    switch (key) {
    case 'r':
        a->root = arg;
        break;
    case 'o':
        a->opts = xreallocarray(a->opts, a->n_opts + 2, sizeof(char *));
        a->opts[a->n_opts++] = arg;
        a->opts[a->n_opts] = NULL;
        break;
    case ARGP_KEY_ARG:
        argp_error(state, "unexpected argument \"%s\"", arg);
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp_option allocate_options[] = {
    {"root", 'r', "DIR", 0, "state root whose containers the pair is unique among", 0},
    {"opt", 'o', "OPTION", 0,
     "disable, user:USER, role:ROLE, type:TYPE, level:LEVEL or filetype:TYPE; repeatable", 0},
    {0},
};
static const struct argp allocate_argp = {
    allocate_options,
    parse_allocate,
    NULL,
    "Print a process label and a mount label for a new container as JSON: the host's container "
    "contexts with an MCS category pair no other container under the root holds. The pair is "
    "given back when a container with the label is deleted, or by `label release`.",
    NULL,
    NULL,
    NULL};

static int label_allocate_cmd(const struct cli_global *g, int argc, char **argv,
                              struct berth_error **err)
{
    struct allocate_args a = {.root = g->root};
    cli_parse(&allocate_argp, argc, argv, &a);
    _cleanup_free_ char **opts = a.opts;
    _cleanup_free_ char *process = NULL, *mount = NULL;
    int r = label_allocate(a.root, opts, &process, &mount, err);
    if (r < 0)
        return r;
    json_t *o = json_pack("{s:s, s:s}", "processLabel", process, "mountLabel", mount);
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!text)
        return berth_error_set(err, ENOMEM, "label allocate");
    puts(text);
    free(text);
    return 0;
}

struct release_args {
    const char *root;
    const char *label;
};

static error_t parse_release(int key, char *arg, struct argp_state *state)
{
    struct release_args *a = state->input;
    switch (key) {
    case 'r':
        a->root = arg;
        break;
    case ARGP_KEY_ARG:
        if (a->label)
            argp_error(state, "unexpected argument \"%s\"", arg);
        a->label = arg;
        break;
    case ARGP_KEY_END:
        if (!a->label)
            argp_error(state, "a label is required");
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp_option release_options[] = {
    {"root", 'r', "DIR", 0, "state root the pair was reserved under", 0},
    {0},
};
static const struct argp release_argp = {
    release_options,
    parse_release,
    "LABEL",
    "Give back the MCS category pair of a label that `label allocate` handed out.",
    NULL,
    NULL,
    NULL};

static int label_release_cmd(const struct cli_global *g, int argc, char **argv,
                             struct berth_error **err)
{
    struct release_args a = {.root = g->root};
    cli_parse(&release_argp, argc, argv, &a);
    return label_release(a.root, a.label, err);
}

static int cmd_label(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    int (*run)(const struct cli_global *, int, char **, struct berth_error **) = NULL;
    if (sub && strcmp(sub, "allocate") == 0)
        run = label_allocate_cmd;
    else if (sub && strcmp(sub, "release") == 0)
        run = label_release_cmd;
    if (!run) {
        if (sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
            puts("Usage: berth label allocate [--root DIR] [--opt OPTION]...\n"
                 "       berth label release [--root DIR] LABEL");
            return 0;
        }
        return berth_error_set(err, 0, "label: want \"allocate\" or \"release\", not \"%s\"",
                               sub ? sub : "");
    }
    /* argp names the command after argv[0]: "berth label allocate". */
    _cleanup_free_ char *name = xasprintf("label %s", sub);
    char *saved = argv[1];
    argv[1] = name;
    int r = run(g, argc - 1, argv + 1, err);
    argv[1] = saved;
    return r;
}

const struct cli_command cli_command_label = {"label", "allocate and release SELinux labels",
                                              cmd_label};
