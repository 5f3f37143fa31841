/* The options create and run share. */
#pragma once

#include <argp.h>
#include "container/container.h"

struct cli_create_args {
    struct container_create_opts opts;
    const char *id;
    bool detach; /* run */
    bool keep;   /* run */
    struct berth_error *error;
};

extern const struct argp_option cli_create_options[];
/* Handles create's options; returns ARGP_ERR_UNKNOWN for others. */
error_t cli_create_parse(int key, char *arg, struct argp_state *state);
