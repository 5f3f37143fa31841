#include "linux/devices.h"
#include "berth/error.h"
#include "linux/mnt.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const struct spec_device default_devices[] = {
    {.type = 'c',
     .path = "/dev/null",
     .major = 1,
     .minor = 3,
     .has_file_mode = true,
     .file_mode = 0666},
    {.type = 'c',
     .path = "/dev/zero",
     .major = 1,
     .minor = 5,
     .has_file_mode = true,
     .file_mode = 0666},
    {.type = 'c',
     .path = "/dev/full",
     .major = 1,
     .minor = 7,
     .has_file_mode = true,
     .file_mode = 0666},
    {.type = 'c',
     .path = "/dev/random",
     .major = 1,
     .minor = 8,
     .has_file_mode = true,
     .file_mode = 0666},
    {.type = 'c',
     .path = "/dev/urandom",
     .major = 1,
     .minor = 9,
     .has_file_mode = true,
     .file_mode = 0666},
    {.type = 'c',
     .path = "/dev/tty",
     .major = 5,
     .minor = 0,
     .has_file_mode = true,
     .file_mode = 0666},
};

bool devices_is_char(int fd, unsigned major, unsigned minor)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == major &&
           minor(st.st_rdev) == minor;
}

static mode_t node_type(char t)
{
    switch (t) {
    case 'b':
        return S_IFBLK;
    case 'p':
        return S_IFIFO;
    default:
        return S_IFCHR;
    }
}

/* Split "/dev/net/tun" into its parent, "/dev/net", and "tun". */
static int split_path(const char *path, char **parent, char base[static NAME_MAX + 1],
                      struct berth_error **err)
{
    _cleanup_free_ char *clean = path_clean(path);
    char *slash = strrchr(clean, '/');
    if (strlen(slash + 1) == 0 || strlen(slash + 1) > NAME_MAX)
        return berth_error_set(err, EINVAL, "device path %s", path);
    strcpy(base, slash + 1);
    *slash = '\0';
    *parent = xstrdup(*clean ? clean : "/");
    return 0;
}

static bool is_node(const struct stat *st, mode_t type, dev_t rdev)
{
    return (st->st_mode & S_IFMT) == type && st->st_rdev == rdev;
}

static int make_node(int dirfd, const char *base, const struct spec_device *d, bool userns,
                     struct berth_error **err)
{
    mode_t perm = d->has_file_mode ? (d->file_mode & 07777) : 0666;
    dev_t rdev = makedev((unsigned)d->major, (unsigned)d->minor);
    mode_t type = node_type(d->type);
    struct stat st;

    /* mknod first: on a fresh /dev nothing is in the way, and EEXIST says when something is.
     * The node made is the one asked for, with its exact mode (the umask is 0 here). */
    if (!userns && mknodat(dirfd, base, type | perm, rdev) == 0) {
        st.st_mode = type | perm;
        goto owner;
    }
    if (!userns && errno != EEXIST)
        return berth_error_set(err, errno, "device %s: mknod %c %lld:%lld", d->path, d->type,
                               (long long)d->major, (long long)d->minor);

    /* Whatever the image has there (a file, a symlink aimed at the host) is replaced, never
     * followed. */
    if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (is_node(&st, type, rdev) && !userns)
            goto owner;
        if (S_ISDIR(st.st_mode))
            return berth_error_set(err, EISDIR, "device %s: a directory is in the way", d->path);
        if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT) {
            if (errno != EBUSY)
                return berth_error_set(err, errno, "device %s: remove what is there", d->path);
        }
    }

    if (userns) {
        /* mknod is refused in a user namespace: bind the host's node over an empty file. */
        _cleanup_close_ int src = open(d->path, O_PATH | O_CLOEXEC);
        if (src < 0)
            return berth_error_set(err, errno, "device %s: open the host's node", d->path);
        struct stat sst;
        if (fstat(src, &sst) < 0 || !is_node(&sst, type, rdev))
            return berth_error_set(err, 0, "device %s: the host's node is not %c %lld:%lld",
                                   d->path, d->type, (long long)d->major, (long long)d->minor);
        _cleanup_close_ int f =
            openat(dirfd, base, O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_RDONLY, 0);
        if (f < 0 && errno != EEXIST)
            return berth_error_set(err, errno, "device %s: create mount point", d->path);
        _cleanup_close_ int target = openat(dirfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0)
            return berth_error_set(err, errno, "device %s: open mount point", d->path);
        _cleanup_close_ int tree =
            mnt_open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
            return berth_error_set(err, errno, "device %s: open_tree", d->path);
        if (mnt_setattr_fd(tree, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0, 0, -1) < 0 ||
            mnt_move(tree, target) < 0)
            return berth_error_set(err, errno, "device %s: bind the host's node", d->path);
        return 0;
    }

    if (mknodat(dirfd, base, type | perm, rdev) < 0)
        return berth_error_set(err, errno, "device %s: mknod %c %lld:%lld", d->path, d->type,
                               (long long)d->major, (long long)d->minor);
    if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !is_node(&st, type, rdev))
        return berth_error_set(err, 0, "device %s: the node changed after it was made", d->path);
owner:
    if ((d->has_uid || d->has_gid) &&
        fchownat(dirfd, base, d->has_uid ? d->uid : (uid_t)-1, d->has_gid ? d->gid : (gid_t)-1,
                 AT_SYMLINK_NOFOLLOW) < 0)
        return berth_error_set(err, errno, "device %s: chown", d->path);
    if ((st.st_mode & 07777) != perm && fchmodat(dirfd, base, perm, 0) < 0)
        return berth_error_set(err, errno, "device %s: chmod", d->path);
    return 0;
}

/* The parent directory of the last node made, kept open for the next one in the same place. */
struct parent_cache {
    char *path;
    int fd;
};

static int make_one(int rootfd, const struct spec_device *d, bool userns, struct parent_cache *pc,
                    struct berth_error **err)
{
    char base[NAME_MAX + 1];
    _cleanup_free_ char *parent = NULL;
    int r = split_path(d->path, &parent, base, err);
    if (r < 0)
        return r;
    if (!pc->path || strcmp(pc->path, parent) != 0) {
        if (pc->fd >= 0)
            close(pc->fd);
        free(pc->path);
        pc->path = NULL;
        pc->fd = path_mkdir_in_root(rootfd, parent, 0755, err);
        if (pc->fd < 0)
            return berth_error_prefix(err, "device %s", d->path);
        pc->path = TAKE_PTR(parent);
    }
    return make_node(pc->fd, base, d, userns, err);
}

static int create_symlinks(int devfd, struct berth_error **err)
{
    static const struct {
        const char *target, *name;
    } links[] = {
        {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
        if (symlinkat(links[i].target, devfd, links[i].name) == 0)
            continue;
        if (errno != EEXIST)
            return berth_error_set(err, errno, "symlink /dev/%s", links[i].name);
        if (strcmp(links[i].name, "ptmx") != 0)
            continue;
        /* An image's own /dev/ptmx would open the wrong devpts: replace it. */
        if (unlinkat(devfd, "ptmx", 0) < 0 || symlinkat("pts/ptmx", devfd, "ptmx") < 0)
            return berth_error_set(err, errno, "replace /dev/ptmx with a symlink");
    }
    if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", devfd, "core") < 0 &&
        errno != EEXIST)
        return berth_error_set(err, errno, "symlink /dev/core");
    return 0;
}

int devices_create(int rootfd, const struct spec_device *devs, size_t n, bool userns,
                   struct berth_error **err)
{
    struct parent_cache pc = {NULL, -1};
    /* Nodes get exactly the modes asked for, not those less the init's umask (022), which
     * would cost a chmod per node. The init is single-threaded: nothing else sees the change. */
    mode_t mask = umask(0);
    int r = 0;
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(default_devices); i++) {
        bool overridden = false;
        for (size_t j = 0; j < n && !overridden; j++)
            overridden = strcmp(devs[j].path, default_devices[i].path) == 0;
        if (!overridden)
            r = make_one(rootfd, &default_devices[i], userns, &pc, err);
    }
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = make_one(rootfd, &devs[i], userns, &pc, err);
        if (r < 0)
            berth_error_prefix(err, "linux.devices[%zu]", i);
    }
    umask(mask);
    /* The symlinks go in the /dev the last node went to, mostly. */
    if (r == 0 && (!pc.path || strcmp(pc.path, "/dev") != 0)) {
        if (pc.fd >= 0)
            close(pc.fd);
        pc.fd = path_mkdir_in_root(rootfd, "/dev", 0755, err);
        r = pc.fd < 0 ? pc.fd : 0;
    }
    if (r == 0)
        r = create_symlinks(pc.fd, err);
    if (pc.fd >= 0)
        close(pc.fd);
    free(pc.path);
    return r;
}
