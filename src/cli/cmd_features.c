/* berth features: the runtime-spec features document on stdout. */
#include "cli/cli.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/cleanup.h"

#include <errno.h>
#include <stdio.h>

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    if (key == ARGP_KEY_ARG) {
        argp_error(state, "unexpected argument \"%s\"", arg);
        return 0;
    }
    return ARGP_ERR_UNKNOWN;
}

static const struct argp argp = {
    NULL, parse_opt, NULL, "Print the features this runtime supports, as JSON.", NULL, NULL, NULL,
};

static int run(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    (void)g;
    cli_parse(&argp, argc, argv, NULL);
    _cleanup_free_ char *text = spec_features_json();
    if (fputs(text, stdout) == EOF || fflush(stdout) == EOF)
        return berth_error_set(err, errno, "write features to stdout");
    return 0;
}

const struct cli_command cli_command_features = {"features", "print the supported features as JSON",
                                                 run};
