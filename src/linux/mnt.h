/* One mount: the option table of config.json mounts, and mounting by fd. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct berth_error;

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY      0x00000001
#define MOUNT_ATTR_NOSUID      0x00000002
#define MOUNT_ATTR_NODEV       0x00000004
#define MOUNT_ATTR_NOEXEC      0x00000008
#define MOUNT_ATTR__ATIME      0x00000070
#define MOUNT_ATTR_RELATIME    0x00000000
#define MOUNT_ATTR_NOATIME     0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME  0x00000080
#define MOUNT_ATTR_IDMAP       0x00100000
#endif

/* What a mount's options say. */
struct mnt_opts {
    unsigned long flags;       /* MS_* for mount(2), bind/rec included */
    unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE [| MS_REC], or 0 */
    uint64_t attr_set;         /* mount_setattr attributes applied to the top mount */
    uint64_t attr_clr;
    uint64_t rattr_set; /* the r* options: applied recursively */
    uint64_t rattr_clr;
    bool bind;
    bool recursive;
    bool tmpcopyup;
    bool idmap;
    bool ridmap;
    bool relabel_shared;  /* z */
    bool relabel_private; /* Z */
    char *data;           /* filesystem options, comma-joined; NULL when none */
};

/* Parse config.json mount options. Unknown names are filesystem data. `where` names the mount
 * in errors ("mounts[3]"). */
int mnt_parse_options(char *const *options, const char *where, struct mnt_opts *out,
                      struct berth_error **err);
void mnt_opts_clear(struct mnt_opts *o);

/* "MS_BIND|MS_RDONLY" style text of mount flags, for error messages. */
char *mnt_flags_text(unsigned long flags);

/* Thin wrappers over the new mount API (glibc 2.36 lacks some of them). */
int mnt_open_tree(int dfd, const char *path, unsigned flags);
int mnt_move(int from_fd, int to_fd);
int mnt_setattr_fd(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation,
                   int userns_fd);

/* A new filesystem that is mounted nowhere yet (fsopen, fsconfig, fsmount), to be filled before
 * mnt_move puts it in place. `data` is mount(2)-style text ("size=1m,mode=755,context=\"a,b\""):
 * each option is one fsconfig call, a quoted value passed without its quotes. `sb_flags` may
 * hold MS_RDONLY, MS_SYNCHRONOUS, MS_DIRSYNC, MS_MANDLOCK and MS_LAZYTIME; the per-mount flags
 * are the caller's, through mnt_setattr_fd. Returns the detached mount's fd; an error carries
 * the filesystem's own message when it gave one. */
int mnt_new_detached(const char *type, const char *source, const char *data, unsigned long sb_flags,
                     struct berth_error **err);

/* For a container without a mount namespace of its own, whose mounts are made in the runtime's:
 * bind `path` onto itself and make the bind, and all it holds, private, so that nothing mounted
 * below it reaches another mount namespace and one detach takes all of it away. Returns an
 * O_PATH fd of the bind's root and its mount id, or -errno. */
int mnt_bind_private(const char *path, uint64_t *mnt_id);
/* Detach (MNT_DETACH) the mount at `path` if it is still the one mnt_bind_private made (the same
 * mount id, at its root); 0 as well when it is gone. */
int mnt_detach_if(const char *path, uint64_t mnt_id);
/* Detach the mount whose root fd is open (from mnt_bind_private). */
int mnt_detach_fd(int fd);
