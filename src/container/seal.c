#include "container/seal.h"
#include "berth/error.h"
#include "util/log.h"
#include "util/sealed.h"

#include <linux/capability.h>
#include <stdbool.h>

static bool has_cap(const int *caps, size_t n, int cap)
{
    for (size_t i = 0; i < n; i++)
        if (caps[i] == cap)
            return true;
    return false;
}

int container_seal_if_needed(const struct spec *s, const struct spec_process *p, char **argv,
                             struct berth_error **err)
{
    if (!argv || spec_namespace_find(s, SPEC_NS_USER))
        return 0;
    const struct spec_capabilities *c = p->capabilities;
    /* No capabilities object is none at all (as with runc and crun). */
    bool ptrace = c && (has_cap(c->bounding, c->n_bounding, CAP_SYS_PTRACE) ||
                        has_cap(c->permitted, c->n_permitted, CAP_SYS_PTRACE) ||
                        has_cap(c->effective, c->n_effective, CAP_SYS_PTRACE));
    if (!ptrace || sealed_exe_active())
        return 0;
    log_debug("the container may ptrace: running from a sealed copy of berth");
    return sealed_exe_reexec(argv, err);
}
