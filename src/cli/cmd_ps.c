#include "berth/error.h"
#include "cli/cli.h"
#include "container/container.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct ps_args {
    const char *id;
    const char *format;
    char **ps_args;
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
    struct ps_args *a = state->input;
    switch (key) {
    case 'f':
        if (strcmp(arg, "table") != 0 && strcmp(arg, "json") != 0)
            argp_error(state, "--format: \"%s\" is not table or json", arg);
        a->format = arg;
        break;
    case ARGP_KEY_ARG:
        /* Everything after the container id is ps's, options too (ps ID -e -x), as with runc. */
        a->id = arg;
        a->ps_args = &state->argv[state->next];
        state->next = state->argc;
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

static const struct argp_option options[] = {
    {"format", 'f', "FORMAT", 0, "table (default: ps's own output) or json (the pids)", 0},
    {0},
};
static const struct argp argp = {
    options, parse, "CONTAINER [PS OPTION...]", "List the processes of a container.", NULL,
    NULL,    NULL};

/* The table is ps's own output (ps -ef unless options are given), cut to the container's
 * processes, as runc prints it. */
static int print_table(pid_t *pids, size_t n, char **ps_args, struct berth_error **err)
{
    size_t na = strv_len(ps_args);
    char **argv = xcalloc(na + 3, sizeof(char *));
    argv[0] = "ps";
    if (na)
        memcpy(argv + 1, ps_args, na * sizeof(char *));
    else
        argv[1] = "-ef";
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        free(argv);
        return berth_error_set(err, errno, "ps: pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    pid_t pid;
    int r = posix_spawnp(&pid, "ps", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    close(pipefd[1]);
    if (r != 0) {
        close(pipefd[0]);
        return berth_error_set(err, r, "run ps");
    }
    _cleanup_fclose_ FILE *f = fdopen(pipefd[0], "r");
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    int pid_col = -1;
    while (getline(&line, &cap, f) > 0) {
        char *copy = xstrdup(line), *save = NULL;
        int col = 0;
        bool print = false;
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
            if (pid_col < 0 && strcmp(t, "PID") == 0) {
                pid_col = col;
                print = true;
                break;
            }
            if (col == pid_col) {
                long v = strtol(t, NULL, 10);
                for (size_t i = 0; i < n && !print; i++)
                    print = pids[i] == v;
                break;
            }
            col++;
        }
        free(copy);
        if (print)
            fputs(line, stdout);
    }
    int status;
    waitpid(pid, &status, 0);
    if (pid_col < 0)
        return berth_error_set(err, 0, "ps: its output has no PID column");
    return 0;
}

static int run(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct ps_args a = {.format = "table"};
    cli_parse_flags(&argp, argc, argv, ARGP_IN_ORDER, &a);
    pid_t *pids;
    size_t n;
    int r = container_pids(g->root, a.id, &pids, &n, err);
    if (r < 0)
        return r;
    if (strcmp(a.format, "json") == 0) {
        fputc('[', stdout);
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", (int)pids[i]);
        fputs("]\n", stdout);
    } else {
        r = print_table(pids, n, a.ps_args, err);
    }
    free(pids);
    return r;
}

const struct cli_command cli_command_ps = {"ps", "list the processes of a container", run};
