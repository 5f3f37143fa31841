/* When berth must run from a sealed copy of itself (CVE-2019-5736). */
#pragma once

#include "spec/spec.h"

struct berth_error;

/* A process of the container could open /proc/PID/exe of the init or of an exec'd process
 * before its exec when it may ptrace them: CAP_SYS_PTRACE outside a user namespace (inside one,
 * the runtime's memory belongs to the host's user namespace, out of reach). Then, unless
 * already sealed, re-exec berth from a sealed memfd with argv; returns 0 when nothing is to be
 * done, and only returns otherwise on failure. argv NULL: never re-exec. */
int container_seal_if_needed(const struct spec *s, const struct spec_process *p, char **argv,
                             struct berth_error **err);
