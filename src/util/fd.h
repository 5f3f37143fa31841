/* What fds a child takes into a container. */
#pragma once

#include <stddef.h>

/* Keep stdio, the caller's fds 3..3+preserve-1 and the child's own fds given by reference;
 * close every other fd. An own fd sitting in the preserved range (berth opened it after it
 * started, where the caller passed nothing) is moved above the range and its variable updated.
 * Any other fd in that range with FD_CLOEXEC set is berth's as well (an fd that came to berth
 * through exec cannot carry the flag) and is closed, never handed to the container. */
void fd_close_all_but(unsigned preserve, int *const *own, size_t n_own);
