/* The commands that take a container id and little else: start, state, kill, delete, list. */
#include "berth/error.h"
#include "cli/cli.h"
#include "container/container.h"
#include "util/mem.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct id_args {
    const char *id;
    const char *extra; /* kill's signal */
    bool allow_extra;
    bool force; /* delete */
    bool all;   /* kill */
};

static error_t parse_id(int key, char *arg, struct argp_state *state)
{
    struct id_args *a = state->input;
    switch (key) {
    case 'f':
        a->force = true;
        break;
    case 'a':
        a->all = true;
        break;
    case ARGP_KEY_ARG:
        if (!a->id)
            a->id = arg;
        else if (a->allow_extra && !a->extra)
            a->extra = arg;
        else
            argp_error(state, "unexpected argument \"%s\"", arg);
        break;
    case ARGP_KEY_END:
        if (!a->id)
            argp_error(state, "a container id is required");
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    if (!s)
        return -ENOMEM;
    puts(s);
    free(s);
    return 0;
}

static const struct argp start_argp = {
    NULL, parse_id, "CONTAINER", "Run the process of a created container.", NULL, NULL, NULL};

static int cmd_start(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct id_args a = {0};
    cli_parse(&start_argp, argc, argv, &a);
    return container_start(g->root, a.id, err);
}

static const struct argp state_argp = {
    NULL, parse_id, "CONTAINER", "Print the state of a container as JSON.", NULL, NULL, NULL};

static int cmd_state(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct id_args a = {0};
    cli_parse(&state_argp, argc, argv, &a);
    json_t *j;
    int r = container_state(g->root, a.id, &j, err);
    if (r < 0)
        return r;
    return print_json(j);
}

static const struct argp_option kill_options[] = {
    {"all", 'a', 0, 0, "signal every process of the container, not only its init", 0},
    {0},
};
static const struct argp kill_argp = {kill_options,
                                      parse_id,
                                      "CONTAINER [SIGNAL]",
                                      "Send a signal (default SIGTERM) to a container.",
                                      NULL,
                                      NULL,
                                      NULL};

static int cmd_kill(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct id_args a = {.allow_extra = true};
    cli_parse(&kill_argp, argc, argv, &a);
    int sig = SIGTERM;
    if (a.extra) {
        int r = container_parse_signal(a.extra, &sig, err);
        if (r < 0)
            return r;
    }
    return container_kill(g->root, a.id, sig, a.all, err);
}

static const struct argp_option delete_options[] = {
    {"force", 'f', 0, 0, "kill the container first if it is still running", 0},
    {0},
};
static const struct argp delete_argp = {
    delete_options, parse_id, "CONTAINER", "Delete a container and everything it holds.",
    NULL,           NULL,     NULL};

static int cmd_delete(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct id_args a = {0};
    cli_parse(&delete_argp, argc, argv, &a);
    return container_delete(g->root, a.id, a.force, err);
}

struct list_args {
    const char *format;
    bool quiet;
};

static error_t parse_list(int key, char *arg, struct argp_state *state)
{
    struct list_args *a = state->input;
    switch (key) {
    case 'f':
        if (strcmp(arg, "table") != 0 && strcmp(arg, "json") != 0)
            argp_error(state, "--format: \"%s\" is not table or json", arg);
        a->format = arg;
        break;
    case 'q':
        a->quiet = true;
        break;
    case ARGP_KEY_ARG:
        argp_error(state, "unexpected argument \"%s\"", arg);
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp_option list_options[] = {
    {"format", 'f', "FORMAT", 0, "table (default) or json", 0},
    {"quiet", 'q', 0, 0, "print the ids only", 0},
    {0},
};
static const struct argp list_argp = {list_options, parse_list, NULL, "List the containers.",
                                      NULL,         NULL,       NULL};

/* runc's table: Go's tabwriter with a minimum cell width of 12 and a padding of 3; the last
 * column is not padded. */
enum { LIST_COLUMNS = 6, LIST_MIN_WIDTH = 12, LIST_PADDING = 3 };

static void print_table(json_t *all)
{
    size_t rows = json_array_size(all) + 1;
    char *(*cells)[LIST_COLUMNS] = xcalloc(rows, sizeof(*cells));
    static const char *const header[LIST_COLUMNS] = {"ID",     "PID",     "STATUS",
                                                     "BUNDLE", "CREATED", "OWNER"};
    for (int c = 0; c < LIST_COLUMNS; c++)
        cells[0][c] = xstrdup(header[c]);
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        char **row = cells[i + 1];
        row[0] = xstrdup(json_string_value(json_object_get(o, "id")));
        row[1] = xasprintf("%lld", (long long)json_integer_value(json_object_get(o, "pid")));
        row[2] = xstrdup(json_string_value(json_object_get(o, "status")));
        row[3] = xstrdup(json_string_value(json_object_get(o, "bundle")));
        row[4] = xstrdup(json_string_value(json_object_get(o, "created")));
        row[5] = xstrdup(json_string_value(json_object_get(o, "owner")));
    }
    int width[LIST_COLUMNS - 1];
    for (int c = 0; c < LIST_COLUMNS - 1; c++) {
        width[c] = LIST_MIN_WIDTH;
        for (size_t r = 0; r < rows; r++) {
            int w = (int)strlen(cells[r][c]) + LIST_PADDING;
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t r = 0; r < rows; r++) {
        for (int c = 0; c < LIST_COLUMNS - 1; c++)
            printf("%-*s", width[c], cells[r][c]);
        printf("%s\n", cells[r][LIST_COLUMNS - 1]);
        for (int c = 0; c < LIST_COLUMNS; c++)
            free(cells[r][c]);
    }
    free(cells);
}

static int cmd_list(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct list_args a = {.format = "table"};
    cli_parse(&list_argp, argc, argv, &a);
    json_t *all, *skipped;
    int r = container_list(g->root, &all, &skipped, err);
    if (r < 0)
        return r;
    /* As runc does: the entries that cannot be read are named on stderr, the others listed. */
    size_t i;
    json_t *c;
    json_array_foreach(skipped, i, c)
    {
        fprintf(stderr, "warning: list: %s\n", json_string_value(json_object_get(c, "error")));
    }
    json_decref(skipped);
    if (a.quiet) {
        json_array_foreach(all, i, c) puts(json_string_value(json_object_get(c, "id")));
    } else if (strcmp(a.format, "json") == 0) {
        /* One line, as runc prints it: "null" when there is no container. */
        char *s = json_array_size(all) ? json_dumps(all, JSON_COMPACT) : xstrdup("null");
        if (!s) {
            json_decref(all);
            return -ENOMEM;
        }
        puts(s);
        free(s);
    } else {
        print_table(all);
    }
    json_decref(all);
    return 0;
}

static const struct argp pause_argp = {
    NULL, parse_id, "CONTAINER", "Freeze every process of a container.", NULL, NULL, NULL};
static const struct argp resume_argp = {NULL, parse_id, "CONTAINER", "Thaw a paused container.",
                                        NULL, NULL,     NULL};

static int cmd_pause(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct id_args a = {0};
    cli_parse(&pause_argp, argc, argv, &a);
    return container_pause(g->root, a.id, err);
}

static int cmd_resume(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct id_args a = {0};
    cli_parse(&resume_argp, argc, argv, &a);
    return container_resume(g->root, a.id, err);
}

const struct cli_command cli_command_pause = {"pause", "freeze a container", cmd_pause};
const struct cli_command cli_command_resume = {"resume", "thaw a paused container", cmd_resume};
const struct cli_command cli_command_start = {"start", "run the process of a created container",
                                              cmd_start};
const struct cli_command cli_command_state = {"state", "print a container's state", cmd_state};
const struct cli_command cli_command_kill = {"kill", "send a signal to a container", cmd_kill};
const struct cli_command cli_command_delete = {"delete", "delete a container", cmd_delete};
const struct cli_command cli_command_list = {"list", "list containers", cmd_list};
