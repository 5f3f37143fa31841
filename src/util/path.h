/* Path handling inside a container root: every lookup stays below a root directory fd, whatever
 * symlinks, ".." chains or concurrent renames the tree holds. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct berth_error;

/* The most symlinks one resolution follows before failing with ELOOP (the kernel's limit). */
#define PATH_MAX_SYMLINKS 40

/* Lexically clean a path: collapse "//", drop ".", resolve ".." without climbing above "/".
 * The result always starts with "/" ("" and "." give "/"); a relative input is taken from "/".
 * The caller frees it. */
char *path_clean(const char *path);

/* Open `path` inside the tree whose root directory is `rootfd`, as if rootfd were "/":
 * absolute and relative symlinks are resolved inside it, ".." stops at it, magic links
 * (/proc/self/fd/N style) are refused with ELOOP. `flags` as for openat (O_PATH, O_DIRECTORY,
 * O_NOFOLLOW to refuse a symlink as the final component, O_CREAT with mode, ...); O_CLOEXEC is
 * always added. A trailing "/" requires a directory, as for open(2).
 * Uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); when openat2 is missing or refused
 * (ENOSYS, EPERM from a seccomp filter, E2BIG, or EAGAIN that persists under a rename storm) it
 * falls back to path_open_in_root_walk.
 * Returns the fd or a negative errno with *err saying which path and why. */
int path_open_in_root(int rootfd, const char *path, int flags, mode_t mode,
                      struct berth_error **err);

/* The quick case of path_open_in_root: the path as it stands, no symlink in any component (a
 * final one is returned itself with O_PATH | O_NOFOLLOW), so the file opened is exactly `path`
 * inside the root. -ELOOP when a symlink is in the way, -ENOSYS when the kernel would not say
 * (the caller then takes path_open_in_root), other -errno as openat gives them. No error text:
 * the caller decides what a failure means. */
int path_open_in_root_direct(int rootfd, const char *path, int flags);

/* The fallback, exposed for tests: a component-by-component walk with openat(O_NOFOLLOW |
 * O_PATH), reading each symlink with readlinkat and resolving it inside the root (at most
 * PATH_MAX_SYMLINKS links, then ELOOP), ".." clamped at the root by comparing with the root's
 * dev/ino. The kernel never follows a link on its behalf, so a component swapped for a symlink
 * mid-walk is read and resolved inside the root like any other. */
int path_open_in_root_walk(int rootfd, const char *path, int flags, mode_t mode,
                           struct berth_error **err);

/* mkdir -p inside the root: each missing component is created with mkdirat(mode) relative to
 * the verified parent fd; existing symlink components are followed inside the root (a dangling
 * one has its in-root target created); a component that exists and is not a directory fails
 * with ENOTDIR naming it. Returns an O_PATH|O_DIRECTORY fd of the final directory. */
int path_mkdir_in_root(int rootfd, const char *path, mode_t mode, struct berth_error **err);

/* Make sure a mount target exists and return an O_PATH fd to it: parents are created as with
 * path_mkdir_in_root (0755); the final component, if missing, is created as a directory (mode)
 * or as an empty regular file (O_CREAT|O_EXCL|O_NOFOLLOW, mode) according to `directory`.
 * If the final component is a symlink it is resolved inside the root (and created at its
 * in-root target if dangling). An existing entry of the other kind is returned as is (the caller
 * reports the mismatch). A trailing "/" does not change what is created: `directory` decides. */
int path_create_in_root(int rootfd, const char *path, bool directory, mode_t mode,
                        struct berth_error **err);

/* "/proc/self/fd/N" for an fd, in a caller's buffer. */
const char *path_fd(int fd, char buf[static 32]);

/* Whether `path` (clean, absolute) is `prefix` or lies below it, by components:
 * "/a/b" is below "/a" but "/ab" is not; everything absolute is below "/". */
bool path_has_prefix(const char *path, const char *prefix);
