/* Users and groups by name, from an image's own /etc/passwd and /etc/group. Never NSS: the
 * names belong to the image, not the host, and berth is linked statically. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct berth_error;

/* Neither file is read past this size. */
#define PASSWD_MAX_FILE (4U << 20)

/* Resolve USER as Docker takes it: "NAME", "UID", "NAME:GROUP", "UID:GID", or a mix.
 * A name is looked up in rootfd's /etc/passwd (or /etc/group for the group part), opened inside
 * the root (symlinks resolved within it), only if it is a regular file, at most PASSWD_MAX_FILE
 * bytes. Without a group part the gid is the user's primary group from /etc/passwd, or 0 for a
 * numeric uid the file does not list. NULL or "" is root (0:0). Numbers run to 2^31-1. */
int passwd_resolve(int rootfd, const char *user, uint32_t *uid, uint32_t *gid,
                   struct berth_error **err);

/* The supplementary groups Docker gives a user: every group of the image's /etc/group that lists
 * the user's name (the name of USER, or of the passwd entry of a numeric uid), except the primary
 * gid. The runtime adds none of its own (runc does not), so the engine puts these into
 * process.user.additionalGids. *groups is malloc'ed; none is not an error. */
int passwd_groups(int rootfd, const char *user, uint32_t gid, uint32_t **groups, size_t *n,
                  struct berth_error **err);
