#include "cli/cli.h"
#include "berth/error.h"
#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_parse(const struct argp *argp, int argc, char **argv, void *input)
{
    cli_parse_flags(argp, argc, argv, 0, input);
}

void cli_parse_flags(const struct argp *argp, int argc, char **argv, unsigned flags, void *input)
{
    /* argp names the program after argv[0] in usage and errors: make it "berth COMMAND". */
    char name[64];
    snprintf(name, sizeof(name), "berth %s", argv[0]);
    char *saved = argv[0];
    argv[0] = name;
    argp_parse(argp, argc, argv, flags, NULL, input);
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
