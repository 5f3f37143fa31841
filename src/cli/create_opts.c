#include "cli/create_opts.h"
#include "berth/error.h"
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

enum {
    OPT_PID_FILE = 0x200,
    OPT_CONSOLE_SOCKET,
    OPT_NO_PIVOT,
    OPT_NO_NEW_KEYRING,
    OPT_PRESERVE_FDS,
    OPT_NO_SUBREAPER,
};

const struct argp_option cli_create_options[] = {
    {"bundle", 'b', "DIR", 0, "the bundle directory (default: the current directory)", 0},
    {"config", 'f', "FILE", 0, "the config file (default: BUNDLE/config.json)", 0},
    {"pid-file", OPT_PID_FILE, "FILE", 0, "write the init's pid to FILE", 0},
    {"console-socket", OPT_CONSOLE_SOCKET, "SOCKET", 0,
     "send the pty master of a terminal to this unix socket", 0},
    {"no-pivot", OPT_NO_PIVOT, 0, 0, "move the rootfs onto / and chroot instead of pivot_root", 0},
    {"no-new-keyring", OPT_NO_NEW_KEYRING, 0, 0, "keep the caller's session keyring", 0},
    {"preserve-fds", OPT_PRESERVE_FDS, "N", 0, "pass fds 3 to 3+N-1 on to the process", 0},
    {"no-subreaper", OPT_NO_SUBREAPER, 0, OPTION_HIDDEN, "accepted for compatibility", 0},
    {0},
};

error_t cli_create_parse(int key, char *arg, struct argp_state *state)
{
    struct cli_create_args *a = state->input;
    switch (key) {
    case 'b':
        a->opts.bundle = arg;
        break;
    case 'f':
        a->opts.config = arg;
        break;
    case OPT_PID_FILE:
        a->opts.pid_file = arg;
        break;
    case OPT_CONSOLE_SOCKET:
        a->opts.console_socket = arg;
        break;
    case OPT_NO_PIVOT:
        a->opts.no_pivot = true;
        break;
    case OPT_NO_NEW_KEYRING:
        a->opts.no_new_keyring = true;
        break;
    case OPT_PRESERVE_FDS:
        if (cli_parse_uint(arg, "--preserve-fds", &a->opts.preserve_fds, &a->error) < 0)
            argp_error(state, "%s", a->error->msg);
        break;
    case OPT_NO_SUBREAPER:
        break;
    case ARGP_KEY_ARG:
        if (a->id)
            argp_error(state, "unexpected argument \"%s\"", arg);
        a->id = arg;
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
