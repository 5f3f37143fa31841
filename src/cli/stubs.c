/* Commands not written yet. */
#include "cli/cli.h"
#include "berth/error.h"

static int not_yet(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    (void)g;
    (void)argc;
    return berth_error_set(err, 0, "%s: not implemented yet", argv[0]);
}

#define STUB(n) const struct cli_command cli_command_##n = {#n, "", not_yet}
STUB(create);
STUB(start);
STUB(run);
STUB(state);
STUB(kill);
STUB(delete);
STUB(list);
