/* What engine.c and lifecycle.c share. */
#pragma once

#include <stdbool.h>

#include "engine/engine.h"
#include "engine/record.h"

struct berth_error;

/* <storage_root>/containers: also where the MCS pairs of containers' labels are reserved. */
char *engine_containers_path(const struct engine_ctx *ctx);

/* Write the container's resolv.conf from the host's current one and the record's DNS options,
 * and remember its digest. Unless `initial`, a file whose content no longer matches the digest
 * was edited (in the container or by hand) and is left alone, and an unchanged one is not
 * rewritten. */
int engine_write_resolv(int dirfd, const struct record *r, bool initial, struct berth_error **err);

/* The runtime's status of the container: "running", "created", ..., or NULL when the runtime
 * has no such container. *pid gets its pid when it has one. */
int engine_runtime_status(const struct engine_ctx *ctx, const char *name, char **status, int *pid,
                          struct berth_error **err);
