/* Running from a sealed copy of berth's own binary, so that a process that can open
 * /proc/PID/exe of a berth process (CVE-2019-5736) gets a memfd nobody can write, not the
 * host's binary. */
#pragma once

#include <stdbool.h>

struct berth_error;

/* Whether this process already runs from a sealed memfd. */
bool sealed_exe_active(void);

/* Copy /proc/self/exe into a sealed memfd and exec it with argv and the current environment.
 * Returns only on failure. */
int sealed_exe_reexec(char **argv, struct berth_error **err);
