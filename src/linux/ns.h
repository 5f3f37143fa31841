/* Linux namespaces: flags, joining by path, id maps. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec/spec.h"

struct berth_error;

/* CLONE_NEW* for a namespace type. */
int ns_clone_flag(enum spec_ns_type t);
/* The /proc/PID/ns/ name ("pid", "net", "mnt", ...). */
const char *ns_proc_name(enum spec_ns_type t);

/* Open a namespace file and check that it is a namespace of the expected type. */
int ns_open(const char *path, enum spec_ns_type t, struct berth_error **err);
int ns_join(int fd, enum spec_ns_type t, const char *path, struct berth_error **err);

/* Write /proc/PID/{uid,gid}_map from OCI mappings. */
int ns_write_id_maps(pid_t pid, const struct spec_id_mapping *uids, size_t n_uids,
                     const struct spec_id_mapping *gids, size_t n_gids, struct berth_error **err);

/* A user namespace holding these maps, for idmapped mounts: made by a short-lived child. */
int ns_userns_with_maps(const struct spec_id_mapping *uids, size_t n_uids,
                        const struct spec_id_mapping *gids, size_t n_gids,
                        struct berth_error **err);

struct clone_args;
/* clone3(2) used as a fork (no stack, no tls), or where clone3 is missing (kernels before 5.3,
 * valgrind) clone(2) with the same flags, pidfd and exit signal. clone(2) has neither
 * CLONE_INTO_CGROUP nor CLONE_NEWTIME: asked for either, the fallback fails with ENOSYS, so
 * callers that place children in a cgroup check ns_clone3_works() first. */
long ns_clone(struct clone_args *args);
bool ns_clone3_works(void);

/* Write /proc/self/timens_offsets for a time namespace unshared but not yet entered. */
int ns_write_time_offsets(const struct spec_linux *l, struct berth_error **err);
