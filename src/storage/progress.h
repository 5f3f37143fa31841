/* A progress line on stderr for long storage operations: shown only when stderr is a terminal
 * and the work has run for more than a second, redrawn at most ten times a second. */
#pragma once

#include <stdint.h>

struct progress;

/* `what` names the work ("copy layer abc"); total_bytes 0 when unknown (no bar, just counts). */
struct progress *progress_new(const char *what, uint64_t total_bytes);
void progress_update(struct progress *p, uint64_t bytes, uint64_t files);
/* Clear the line if one was drawn, and free. NULL is accepted. */
void progress_done(struct progress *p);
