#include "cli/cli.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_parse(const struct argp *argp, int argc, char **argv, void *input)
{
    cli_parse_flags(argp, argc, argv, 0, input);
}

/* runc's commands take -h for help, and scripts use it: a hidden short option of a parser
 * wrapped around each command's (and berth's own), whose input it hands on. */
static error_t help_alias_parse(int key, char *arg, struct argp_state *state)
{
    (void)arg;
    if (key == ARGP_KEY_INIT) {
        state->child_inputs[0] = state->input;
        return 0;
    }
    if (key != 'h')
        return ARGP_ERR_UNKNOWN;
    argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
    return 0;
}

static const struct argp_option help_alias_options[] = {
    {NULL, 'h', NULL, OPTION_HIDDEN, NULL, 0},
    {0},
};

error_t cli_argp_parse(const struct argp *argp, int argc, char **argv, unsigned flags, void *input)
{
    const struct argp_child children[] = {{argp, 0, NULL, 0}, {0}};
    const struct argp wrapper = {
        help_alias_options, help_alias_parse, NULL, NULL, children, NULL, NULL};
    return argp_parse(&wrapper, argc, argv, flags, NULL, input);
}

void cli_parse_flags(const struct argp *argp, int argc, char **argv, unsigned flags, void *input)
{
    /* argp names the program after argv[0] in usage and errors: make it "berth COMMAND". */
    char name[64];
    snprintf(name, sizeof(name), "berth %s", argv[0]);
    char *saved = argv[0];
    argv[0] = name;
    cli_argp_parse(argp, argc, argv, flags, input);
    argv[0] = saved;
}

int cli_parse_uint(const char *s, const char *what, unsigned *out, struct berth_error **err)
{
    char *end;
    if (!s || !*s || *s < '0' || *s > '9')
        return berth_error_set(err, 0, "%s: \"%s\" is not a non-negative number", what,
                               s ? s : "");
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > 0x7fffffffUL)
        return berth_error_set(err, 0, "%s: \"%s\" is not a non-negative number", what, s);
    *out = (unsigned)v;
    return 0;
}

static int add_id_mapping(const char *s, const char *what, struct spec_id_mapping **v, size_t *n,
                          struct berth_error **err)
{
    unsigned long val[3];
    const char *c = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        if (*c < '0' || *c > '9')
            goto bad;
        errno = 0;
        val[i] = strtoul(c, &end, 10);
        if (errno || val[i] > UINT32_MAX || (i < 2 ? *end != ':' : *end != '\0'))
            goto bad;
        c = end + 1;
    }
    if (val[2] == 0 || val[0] + val[2] - 1 > UINT32_MAX || val[1] + val[2] - 1 > UINT32_MAX)
        goto bad;
    *v = xreallocarray(*v, *n + 1, sizeof(**v));
    (*v)[(*n)++] = (struct spec_id_mapping){(uint32_t)val[0], (uint32_t)val[1], (uint32_t)val[2]};
    return 0;
bad:
    return berth_error_set(err, 0, "%s \"%s\": expected CONTAINER:HOST:SIZE (SIZE > 0)", what, s);
}

void cli_id_maps_add(struct argp_state *state, struct cli_id_maps *m, bool uid, const char *arg)
{
    struct berth_error *err = NULL;
    if (add_id_mapping(arg, uid ? "--uidmap" : "--gidmap", uid ? &m->uid : &m->gid,
                       uid ? &m->n_uid : &m->n_gid, &err) < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        berth_error_free(err);
        argp_error(state, "%s", msg);
    }
}

void cli_id_maps_free(struct cli_id_maps *m)
{
    free(m->uid);
    free(m->gid);
    memset(m, 0, sizeof(*m));
}
