/* SELinux labels without libselinux: contexts are plain strings, checked here for syntax; the
 * kernel takes them through mount data (context="..."), the security.selinux xattr and
 * /proc/thread-self/attr/{exec,keycreate}.
 *
 * A label is "user:role:type:level"; the level is a sensitivity with optional MCS categories
 * ("s0", "s0:c1,c2", "s0:c0.c255,c300"), or a range of two ("s0-s0:c0.c1023"). Categories run
 * from c0 to c1023. An absent or empty label means "none" everywhere in this module.
 *
 * SELinux is on when selinuxfs is mounted at /sys/fs/selinux. When it is off, nothing is
 * applied (a debug line says so), but labels in a config are still checked for syntax.
 * BERTH_LABEL_FORCE=1 in the environment makes the file-label functions (label_file_*,
 * label_relabel*) write security.selinux even when SELinux is off: on a host without an LSM
 * that claims it, ordinary filesystems (ext4, tmpfs, ...) keep it as a plain xattr that root can
 * write and read back, which is how tests check what would be labelled. devpts and mqueue
 * cannot hold it without SELinux; the functions that label files there let that pass. */
#pragma once

#include <stdbool.h>

#include "spec/spec.h"

struct berth_error;

#define LABEL_XATTR           "security.selinux"
#define LABEL_FORCE_ENV       "BERTH_LABEL_FORCE"
#define LABEL_MAX_CATEGORY    1023
#define LABEL_REGISTRY_DIR    ".labels"
#define LABEL_DEFAULT_PROCESS "system_u:system_r:container_t:s0"
#define LABEL_DEFAULT_FILE    "system_u:object_r:container_file_t:s0"

/* --- Detection --- */

/* selinuxfs is mounted at /sys/fs/selinux (statfs says SELINUX_MAGIC): the first answer in a
 * process, which its children inherit. */
bool label_selinux_enabled(void);
/* Whether file labels are written: SELinux is on, or BERTH_LABEL_FORCE=1. */
bool label_files_enabled(void);

/* --- Syntax --- */

struct label_context {
    char *user;
    char *role;
    char *type;
    char *level;
};

/* Split and check a label. `field` names it in messages ("process.selinuxLabel"):
 * `process.selinuxLabel: "x" is not an SELinux label (user:role:type:level): ...`. */
int label_parse(const char *label, const char *field, struct label_context *out,
                struct berth_error **err);
void label_context_clear(struct label_context *c);
char *label_context_format(const struct label_context *c);

/* label_parse without keeping the parts. NULL and "" are valid (no label). */
int label_validate(const char *label, const char *field, struct berth_error **err);
/* Check a level alone ("s0:c1,c2", "s0-s0:c0.c1023"). */
int label_validate_level(const char *level, const char *field, struct berth_error **err);

/* The label with its level cut to its low sensitivity, no categories: "u:r:t:s0:c1,c2" gives
 * "u:r:t:s0". This is the label shared by every container (z) and of VFS layer directories.
 * NULL for an invalid label. */
char *label_shared(const char *label);

/* The MCS pair of a label whose level is one sensitivity with exactly two different categories
 * ("...:s0:c5,c9" gives 5 and 9, lowest first). False for anything else. */
bool label_mcs_pair(const char *label, unsigned *lo, unsigned *hi);

/* Check process.selinuxLabel and linux.mountLabel of a config: syntax always; when SELinux is
 * on, also that the loaded policy knows them (through /sys/fs/selinux/context). When it is off
 * and a label is set, a debug line says the labels are not applied. */
int label_check_spec(const struct spec *s, struct berth_error **err);

/* --- Mount labels --- */

/* Whether a fresh mount of this type takes context=: not proc, sysfs, cgroup or cgroup2 (the
 * kernel labels those itself), nor a bind (it keeps its source's labels). */
bool label_mount_takes_context(const char *type);

/* Mount data with context="LABEL" appended. The double quotes reach the kernel, so the commas
 * of an MCS level stay inside the option. NULL or empty data gives the context alone; data that
 * already names a context (context=, fscontext=, defcontext=, rootcontext=) is left as it is.
 * No label: a copy of data (NULL for NULL). */
char *label_mount_data(const char *data, const char *label);

/* --- File labels --- */

/* Read the label of what fd points at (any fd, O_PATH included; a symlink opened with
 * O_PATH|O_NOFOLLOW is read itself). Trailing NULs are dropped. */
int label_get_fd(int fd, char **out, struct berth_error **err);

/* Set the label of what fd points at, unless it has that label already. O_PATH fds go through
 * /proc/self/fd/N, which reaches the object itself, a symlink included: nothing is followed.
 * Not gated by label_files_enabled; an error names the file. */
int label_set_fd(int fd, const char *label, struct berth_error **err);

/* label_set_fd for the files the runtime and engine make (the console's pty, the mqueue mount
 * point, resolv.conf, hostname, hosts, shm, layer directories): nothing when the label is empty
 * or file labels are off; a filesystem that cannot hold labels (EOPNOTSUPP) is passed with a
 * debug line. */
int label_file_fd(int fd, const char *label, struct berth_error **err);
/* The same for dirfd/name, never following a final symlink. */
int label_file_at(int dirfd, const char *name, const char *label, struct berth_error **err);

/* --- Relabel (bind options z and Z) --- */

/* Refuse to relabel /, /bin, /boot, /dev, /etc, /home, /lib, /lib64, /media, /opt, /proc, /root,
 * /run, /sbin, /srv, /sys, /tmp, /usr, /var and every home directory in `passwd` (NULL: the
 * host's /etc/passwd). `path` is compared as given (made clean) and as resolved. */
int label_relabel_allowed(const char *path, const char *passwd, struct berth_error **err);

/* Relabel the tree fd points at (fd opened on `path`, any kind of fd) with `label`, or with
 * label_shared(label) when `shared` (z). Refused as label_relabel_allowed says. Skipped when the
 * top already has the label. The walk is fd-relative, never follows a symlink (symlinks get the
 * label themselves) and never enters another mount; the top is labelled last, so an interrupted
 * run is redone. Nothing happens when file labels are off or the label is empty. */
int label_relabel_fd(int fd, const char *path, const char *label, bool shared, const char *passwd,
                     struct berth_error **err);
/* The same on a path (symlinks on the way to it are followed, as a bind source's are). */
int label_relabel(const char *path, const char *label, bool shared, struct berth_error **err);

/* --- Process labels --- */

/* Write the label to /proc/thread-self/attr/exec (opened O_NOFOLLOW, checked to be procfs): the
 * next execve of this thread runs with it. Nothing for an empty label. */
int label_set_exec(const char *label, struct berth_error **err);

/* AppArmor: whether the host runs it (ask before pivot_root, while /sys is the host's), and the
 * profile for the next exec. A profile on a host without AppArmor is an error, as with runc. */
bool label_apparmor_enabled(void);
int label_apparmor_exec(const char *profile, bool enabled, struct berth_error **err);
/* The same through attr/keycreate, for the keyrings this thread creates; NULL or "" resets it. */
int label_set_keycreate(const char *label, struct berth_error **err);

/* --- Allocation --- */

/* Options of `label allocate`: disable, user:X, role:X, type:X, level:X, filetype:X. */
struct label_options {
    bool disable;
    char *user;
    char *role;
    char *type;
    char *level;
    char *filetype;
};
int label_parse_options(char *const *options, struct label_options *out, struct berth_error **err);
void label_options_clear(struct label_options *o);

/* The host's container contexts: SELINUXTYPE from SELINUX_DIR/config, then
 * SELINUX_DIR/TYPE/contexts/lxc_contexts (`process = "..."`, `file = "..."`). Missing files or
 * keys give LABEL_DEFAULT_PROCESS and LABEL_DEFAULT_FILE. selinux_dir NULL: /etc/selinux. */
int label_read_contexts(const char *selinux_dir, char **process, char **file,
                        struct berth_error **err);

/* A process label and a mount label for a new container: the host's contexts changed by the
 * options, with an MCS pair (two different categories of c0..c1023) reserved under `root`
 * (ROOT/.labels holds one file per pair in use, made with O_EXCL, so concurrent allocations
 * never share one). level:X takes that level instead, reserving it when it is a pair, and fails
 * if that pair is in use. disable gives two empty labels. */
int label_allocate(const char *root, char *const *options, char **process_label, char **mount_label,
                   struct berth_error **err);
/* label_allocate with the contexts read under selinux_dir (tests). */
int label_allocate_from(const char *root, const char *selinux_dir, char *const *options,
                        char **process_label, char **mount_label, struct berth_error **err);

/* Give back the MCS pair of a label. A label without a pair, or a pair not reserved, is not an
 * error. */
int label_release(const char *root, const char *label, struct berth_error **err);
