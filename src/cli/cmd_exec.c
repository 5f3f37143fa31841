#include "berth/error.h"
#include "cli/cli.h"
#include "container/container.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

enum {
    OPT_CONSOLE_SOCKET = 0x400,
    OPT_PID_FILE,
    OPT_CWD,
    OPT_NO_NEW_PRIVS,
    OPT_PRESERVE_FDS,
    OPT_PROCESS_LABEL,
    OPT_APPARMOR,
    OPT_CGROUP,
    OPT_IGNORE_PAUSED,
};

static const struct argp_option options[] = {
    {"process", 'p', "FILE", 0, "the process to run, as a runtime-spec process object", 0},
    {"tty", 't', 0, 0, "give the process a terminal", 0},
    {"console-socket", OPT_CONSOLE_SOCKET, "SOCKET", 0, "send the pty master to this socket", 0},
    {"detach", 'd', 0, 0, "return once the process runs", 0},
    {"pid-file", OPT_PID_FILE, "FILE", 0, "write the process's pid to FILE", 0},
    {"env", 'e', "KEY=VALUE", 0, "set an environment variable (repeatable)", 0},
    {"cwd", OPT_CWD, "DIR", 0, "the working directory in the container", 0},
    {"user", 'u', "UID[:GID]", 0, "run as this user (numbers only)", 0},
    {"additional-gids", 'g', "GID", 0, "an additional group (repeatable)", 0},
    {"cap", 'c', "CAP", 0, "add a capability (repeatable)", 0},
    {"no-new-privs", OPT_NO_NEW_PRIVS, 0, 0, "set no_new_privs", 0},
    {"preserve-fds", OPT_PRESERVE_FDS, "N", 0, "pass fds 3 to 3+N-1 on to the process", 0},
    {"process-label", OPT_PROCESS_LABEL, "LABEL", 0, "the SELinux label of the process", 0},
    {"apparmor", OPT_APPARMOR, "PROFILE", 0, "the AppArmor profile of the process", 0},
    {"cgroup", OPT_CGROUP, "[CONTROLLER[,CONTROLLER...]:]PATH", 0,
     "run the process in an existing sub-cgroup of the container (repeatable)", 0},
    {"ignore-paused", OPT_IGNORE_PAUSED, 0, 0, "allow exec in a paused container", 0},
    {0},
};

struct exec_args {
    struct container_exec_opts o;
    char **env, **groups, **caps, **cgroups;
    size_t n_env, n_groups, n_caps, n_cgroups;
    struct berth_error *error;
};

static void push(char ***v, size_t *n, char *s)
{
    *v = xreallocarray(*v, *n + 2, sizeof(char *));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
    struct exec_args *a = state->input;
    switch (key) {
    case 'p':
        a->o.process_file = arg;
        break;
    case 't':
        a->o.tty = true;
        break;
    case OPT_CONSOLE_SOCKET:
        a->o.console_socket = arg;
        break;
    case 'd':
        a->o.detach = true;
        break;
    case OPT_PID_FILE:
        a->o.pid_file = arg;
        break;
    case 'e':
        push(&a->env, &a->n_env, arg);
        break;
    case OPT_CWD:
        a->o.cwd = arg;
        break;
    case 'u':
        a->o.user = arg;
        break;
    case 'g':
        push(&a->groups, &a->n_groups, arg);
        break;
    case 'c':
        push(&a->caps, &a->n_caps, arg);
        break;
    case OPT_NO_NEW_PRIVS:
        a->o.no_new_privs = true;
        break;
    case OPT_PRESERVE_FDS:
        if (cli_parse_uint(arg, "--preserve-fds", &a->o.preserve_fds, &a->error) < 0)
            argp_error(state, "%s", a->error->msg);
        break;
    case OPT_PROCESS_LABEL:
        a->o.process_label = arg;
        break;
    case OPT_APPARMOR:
        a->o.apparmor = arg;
        break;
    case OPT_CGROUP:
        push(&a->cgroups, &a->n_cgroups, arg);
        break;
    case OPT_IGNORE_PAUSED:
        a->o.ignore_paused = true;
        break;
    case ARGP_KEY_ARG:
        if (!a->o.id) {
            a->o.id = arg;
            break;
        }
        /* The command and its own options: nothing after it is ours. */
        a->o.args = &state->argv[state->next - 1];
        state->next = state->argc;
        break;
    case ARGP_KEY_END:
        if (!a->o.id)
            argp_error(state, "a container id is required");
        if (!a->o.process_file && !a->o.args)
            argp_error(state, "a command to run is required (or --process)");
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp argp = {
    options, parse, "CONTAINER COMMAND [ARG...]", "Run a process in a running container.", NULL,
    NULL,    NULL};

static int run(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct exec_args a = {0};
    cli_parse_flags(&argp, argc, argv, ARGP_IN_ORDER, &a);
    a.o.root = g->root;
    a.o.argv = g->argv;
    a.o.env = a.env;
    a.o.groups = a.groups;
    a.o.caps = a.caps;
    a.o.cgroups = a.cgroups;
    a.o.n_cgroups = a.n_cgroups;
    int r = container_exec(&a.o, err);
    free(a.env);
    free(a.groups);
    free(a.caps);
    free(a.cgroups);
    if (r < 0) {
        /* As runc: exec's own failure is 255, never to be taken for the process's status. */
        log_fail(err && *err ? (*err)->msg : strerror(-r));
        if (err) {
            berth_error_free(*err);
            *err = NULL;
        }
        return 255;
    }
    return r;
}

const struct cli_command cli_command_exec = {"exec", "run a process in a running container", run};
