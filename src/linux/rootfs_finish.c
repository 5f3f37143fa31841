/* The last part of the rootfs: read-only and masked paths, the deferred read-only flags, the
 * pivot (or --no-pivot's move and chroot), rootfsPropagation and a read-only root. */
#include "linux/rootfs.h"
#include "berth/error.h"
#include "linux/devices.h"
#include "linux/label.h"
#include "linux/mnt.h"
#include "linux/rootfs_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The null device to cover masked files with: the container's own /dev/null when it is the
 * real device (as runc does), else the host's. Either is checked through the fd that is bound,
 * so a /dev/null swapped for a symlink or a file cannot be what gets mounted. */
static int open_null(struct rootfs_ctx *c, struct berth_error **err)
{
    struct berth_error *local = NULL;
    int fd = path_open_in_root(c->rootfd, "/dev/null", O_PATH | O_NOFOLLOW, 0, &local);
    berth_error_free(local);
    if (fd >= 0 && devices_is_char(fd, 1, 3)) {
        c->null_checked = true;
        return fd;
    }
    if (fd >= 0)
        close(fd);
    fd = open("/dev/null", O_PATH | O_CLOEXEC);
    if (fd < 0 || !devices_is_char(fd, 1, 3)) {
        if (fd >= 0)
            close(fd);
        return berth_error_set(err, 0, "maskedPaths: no null device to mask files with");
    }
    return fd;
}

/* what[i] (maskedPaths or readonlyPaths) opened O_PATH in the root; -ENOENT with no error when
 * it is missing or out of reach, as runc skips it. */
static int open_listed(const struct rootfs_ctx *c, const char *what, char *const *paths, size_t i,
                       struct berth_error **err)
{
    struct berth_error *local = NULL;
    int fd = path_open_in_root(c->rootfd, paths[i], O_PATH, 0, &local);
    berth_error_free(local);
    if (fd == -ENOENT || fd == -EACCES)
        return -ENOENT;
    if (fd < 0)
        return berth_error_set(err, -fd, "%s[%zu]: open %s", what, i, paths[i]);
    return fd;
}

static int mask_paths(struct rootfs_ctx *c, struct berth_error **err)
{
    char *const *paths = c->spec->linux_ ? c->spec->linux_->masked_paths : NULL;
    if (!paths || !paths[0])
        return 0;
    _cleanup_close_ int null = open_null(c, err);
    if (null < 0)
        return null;
    char npath[32], tpath[32];
    path_fd(null, npath);
    _cleanup_free_ char *tmpfs_data = label_mount_data(
        "nr_blocks=1,nr_inodes=1", label_selinux_enabled() ? c->mount_label : NULL);
    for (size_t i = 0; paths[i]; i++) {
        _cleanup_close_ int fd = open_listed(c, "maskedPaths", paths, i, err);
        if (fd == -ENOENT)
            continue;
        if (fd < 0)
            return fd;
        int rr;
        if (rootfs_fd_is_dir(fd))
            rr = mount("tmpfs", path_fd(fd, tpath), "tmpfs", MS_RDONLY, tmpfs_data);
        else
            rr = mount(npath, path_fd(fd, tpath), NULL, MS_BIND, NULL);
        if (rr < 0)
            return berth_error_set(err, errno, "maskedPaths[%zu]: mask %s", i, paths[i]);
    }
    return 0;
}

static int readonly_paths(struct rootfs_ctx *c, struct berth_error **err)
{
    char *const *paths = c->spec->linux_ ? c->spec->linux_->readonly_paths : NULL;
    for (size_t i = 0; paths && paths[i]; i++) {
        _cleanup_close_ int fd = open_listed(c, "readonlyPaths", paths, i, err);
        if (fd == -ENOENT)
            continue;
        if (fd < 0)
            return fd;
        /* Pinned once: the clone, its read-only flag and its placement all use this fd. */
        _cleanup_close_ int tree = mnt_open_tree(
            fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0 || mnt_setattr_fd(tree, true, MOUNT_ATTR_RDONLY, 0, 0, -1) < 0 ||
            mnt_move(tree, fd) < 0)
            return berth_error_set(err, errno, "readonlyPaths[%zu]: make %s read-only", i,
                                   paths[i]);
    }
    return 0;
}

/* With --no-pivot the host's root stays beneath the container's: every full proc and sysfs
 * outside the rootfs goes first, or the container could mount a fresh, unmasked procfs
 * (the kernel allows that while a full one is visible in its mount namespace). */
static int detach_host_proc_sys(struct rootfs_ctx *c, struct berth_error **err)
{
    _cleanup_free_ char *info = NULL;
    int r = fs_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 16 << 20, &info, NULL, err);
    if (r < 0)
        return r;
    char **targets = NULL;
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(info, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[5], *sep = strstr(line, " - ");
        if (!sep)
            continue;
        size_t k = 0;
        for (char *s2 = NULL, *t = strtok_r(line, " ", &s2); t && k < 5;
             t = strtok_r(NULL, " ", &s2))
            f[k++] = t;
        char fstype[32] = "";
        sscanf(sep + 3, "%31s", fstype);
        if (k < 5 || (strcmp(fstype, "proc") != 0 && strcmp(fstype, "sysfs") != 0))
            continue;
        if (path_has_prefix(f[4], c->rootfs))
            continue;
        targets = xreallocarray(targets, n + 1, sizeof(char *));
        targets[n++] = xstrdup(f[4]);
    }
    /* Deepest first: later lines are mounted on top of earlier ones. */
    for (size_t i = n; i-- > 0;) {
        if (umount2(targets[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT &&
            mount("tmpfs", targets[i], "tmpfs", MS_RDONLY, "size=0,nr_inodes=1") < 0) {
            r = berth_error_set(err, errno, "--no-pivot: hide the host's %s", targets[i]);
            break;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(targets[i]);
    free(targets);
    return r;
}

static int enter_root(struct rootfs_ctx *c, struct berth_error **err)
{
    if (c->host_mntns) {
        if (fchdir(c->rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
            return berth_error_set(err, errno, "chroot into %s", c->rootfs);
        return 0;
    }
    if (c->no_pivot) {
        int r = detach_host_proc_sys(c, err);
        if (r < 0)
            return r;
    }
    if (fchdir(c->rootfd) < 0)
        return berth_error_set(err, errno, "chdir to the rootfs");
    if (c->no_pivot) {
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            return berth_error_set(err, errno, "move the rootfs to / (--no-pivot)");
        if (chroot(".") < 0)
            return berth_error_set(err, errno, "chroot into the rootfs (--no-pivot)");
    } else {
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            return berth_error_set(err, errno, "pivot_root into %s", c->rootfs);
        /* The old root now sits on top of the new one: detach it (it is private, so the host
         * does not see this). */
        if (umount2(".", MNT_DETACH) < 0)
            return berth_error_set(err, errno, "detach the old root");
    }
    if (chdir("/") < 0)
        return berth_error_set(err, errno, "chdir /");
    return 0;
}

int rootfs_finish(struct rootfs_ctx *c, struct berth_error **err)
{
    int r = readonly_paths(c, err);
    if (r < 0)
        return r;
    r = mask_paths(c, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < c->n_deferred; i++) {
        struct rootfs_deferred *d = &c->deferred[i];
        if (d->set && mnt_setattr_fd(d->fd, d->recursive, d->set, 0, 0, -1) < 0)
            return berth_error_set(err, errno, "make %s read-only", d->dest);
    }
    r = enter_root(c, err);
    if (r < 0)
        return r;

    const char *p = c->spec->linux_ ? c->spec->linux_->rootfs_propagation : NULL;
    if (p && mount(NULL, "/", NULL, rootfs_root_propagation(c->spec), NULL) < 0)
        return berth_error_set(err, errno, "linux.rootfsPropagation: make / %s", p);
    if (c->spec->root_readonly) {
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0 || mnt_setattr_fd(root, false, MOUNT_ATTR_RDONLY, 0, 0, -1) < 0)
            return berth_error_set(err, errno, "root.readonly: make / read-only");
    }
    /* The image could have planted something else as /dev/null when /dev is its own. Masking
     * checked it already, and nothing since moved it. */
    if (c->null_checked)
        return 0;
    _cleanup_close_ int null = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (null >= 0 && !devices_is_char(null, 1, 3))
        return berth_error_set(err, 0, "/dev/null in the container is not the null device");
    return 0;
}
