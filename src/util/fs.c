#include "util/fs.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_read_fd(int fd, size_t max, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    _cleanup_free_ char *buf = xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap >= max)
                return -E2BIG;
            cap = cap * 2 > max ? max : cap * 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    *out = TAKE_PTR(buf);
    return 0;
}

int fs_read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len,
                    struct berth_error **err)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s", name);
    int r = fs_read_fd(fd, max, out, len);
    if (r < 0)
        return berth_error_set(err, -r, "read %s", name);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Write data to a new temporary file beside name: its name in *tmp. */
static int write_tmp(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                     char **tmp, struct berth_error **err)
{
    *tmp = xasprintf(".%s.tmp%d", name, (int)getpid());
    _cleanup_close_ int fd =
        openat(dirfd, *tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return berth_error_set(err, errno, "create %s", *tmp);
    int r = write_all(fd, data, len);
    if (r < 0) {
        unlinkat(dirfd, *tmp, 0);
        return berth_error_set(err, -r, "write %s", *tmp);
    }
    return 0;
}

static int rename_tmp(int dirfd, const char *tmp, const char *name, struct berth_error **err)
{
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        return berth_error_set(err, e, "rename %s to %s", tmp, name);
    }
    return 0;
}

int fs_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                            struct berth_error **err)
{
    _cleanup_free_ char *tmp = NULL;
    int r = write_tmp(dirfd, name, data, len, mode, &tmp, err);
    return r < 0 ? r : rename_tmp(dirfd, tmp, name, err);
}

int fs_replace_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                       bool exists, struct berth_error **err)
{
    _cleanup_free_ char *tmp = NULL;
    int r = write_tmp(dirfd, name, data, len, mode, &tmp, err);
    if (r < 0)
        return r;
    if (exists) {
        if (renameat2(dirfd, tmp, dirfd, name, RENAME_EXCHANGE) == 0) {
            unlinkat(dirfd, tmp, 0); /* the old file; a leftover only costs its directory entry */
            return 0;
        }
        if (errno != ENOENT && errno != EINVAL) {
            int e = errno;
            unlinkat(dirfd, tmp, 0);
            return berth_error_set(err, e, "exchange %s with %s", tmp, name);
        }
    }
    return rename_tmp(dirfd, tmp, name, err);
}

int fs_write_file_at(int dirfd, const char *name, const void *data, size_t len,
                     struct berth_error **err)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s", name);
    int r = write_all(fd, data, len);
    if (r < 0)
        return berth_error_set(err, -r, "write %s", name);
    return 0;
}

DIR *fs_opendir_fd(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

static int remove_children(int fd, dev_t dev, const char *name, struct berth_error **err)
{
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return berth_error_set(err, e, "read directory %s", name);
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            return berth_error_set(err, errno, "stat %s/%s", name, de->d_name);
        }
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev)
                return berth_error_set(err, EBUSY, "remove %s/%s: a mount is there", name,
                                       de->d_name);
            int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd < 0)
                return berth_error_set(err, errno, "open %s/%s", name, de->d_name);
            _cleanup_free_ char *sub = xasprintf("%s/%s", name, de->d_name);
            int r = remove_children(cfd, dev, sub, err);
            if (r < 0)
                return r;
            if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return berth_error_set(err, errno, "remove %s", sub);
        } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
            return berth_error_set(err, errno, "remove %s/%s", name, de->d_name);
        }
    }
    if (errno)
        return berth_error_set(err, errno, "read directory %s", name);
    return 0;
}

int fs_remove_tree_at(int dirfd, const char *name, struct berth_error **err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return berth_error_set(err, errno, "stat %s", name);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return berth_error_set(err, errno, "remove %s", name);
        return 0;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s", name);
    int r = remove_children(fd, st.st_dev, name, err);
    if (r < 0)
        return r;
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return berth_error_set(err, errno, "remove %s", name);
    return 0;
}

int fs_mkdir_parents(const char *path, mode_t mode, struct berth_error **err)
{
    _cleanup_free_ char *p = xstrdup(path);
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char saved = *c;
        *c = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return berth_error_set(err, errno, "mkdir %s", p);
        *c = saved;
        if (!saved)
            return 0;
    }
}

int fs_mkdir_at(int dirfd, const char *name, mode_t mode, struct berth_error **err)
{
    if (mkdirat(dirfd, name, mode) == 0)
        return 0;
    if (errno == EEXIST) {
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            return 0;
        return berth_error_set(err, ENOTDIR, "mkdir %s", name);
    }
    return berth_error_set(err, errno, "mkdir %s", name);
}
