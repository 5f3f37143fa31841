/* One inode's content: file data (holes kept; reflink, copy_file_range, then read/write) and
 * xattrs (owners inside ACLs and file capabilities mapped), and the id maps. copy.c walks the
 * tree and spreads these over its threads. */
#include "linux/copy_internal.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Syscall numbers are shared by every architecture from 424 on; Debian 12's headers predate
 * these. */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_getxattrat
#define __NR_setxattrat  463
#define __NR_getxattrat  464
#define __NR_listxattrat 465
#endif

struct xattr_at_args {
    uint64_t value;
    uint32_t size;
    uint32_t flags;
};

#define DATA_BUF_SIZE (256 * 1024)

int copy_id_map_to_host(const struct copy_id_map *m, uint32_t id, uint32_t *host)
{
    if (!m || m->n == 0) {
        *host = id;
        return 0;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct spec_id_mapping *e = &m->map[i];
        if (id >= e->container_id && id - e->container_id < e->size) {
            *host = e->host_id + (id - e->container_id);
            return 0;
        }
    }
    return -ERANGE;
}

int copy_fail_in(struct worker *t, const char *dir, int code, const char *what, const char *name)
{
    return berth_error_set(t->err, code, "copy %s%s: %s", dir, name ? name : "", what);
}

/* --- xattrs ------------------------------------------------------------------------------- */

/* With name NULL the xattr calls work on fd itself; otherwise on the entry `name` of directory
 * fd, never following it: the *xattrat calls where the kernel has them (6.13), else the l*xattr
 * calls on /proc/self/fd/N/name, where only the final, unfollowed component is in the tree. */
static void proc_path(char *buf, size_t len, int fd, const char *name)
{
    snprintf(buf, len, "/proc/self/fd/%d/%s", fd, name);
}

static ssize_t x_list(struct worker *w, int fd, const char *name, char *buf, size_t size)
{
    if (!name)
        return flistxattr(fd, buf, size);
    if (w->xattrat) {
        ssize_t r = syscall(__NR_listxattrat, fd, name, AT_SYMLINK_NOFOLLOW, buf, size);
        if (r >= 0 || errno != ENOSYS)
            return r;
        w->xattrat = false;
    }
    char p[PATH_MAX];
    proc_path(p, sizeof(p), fd, name);
    return llistxattr(p, buf, size);
}

static ssize_t x_get(struct worker *w, int fd, const char *name, const char *key, void *buf,
                     size_t size)
{
    if (!name)
        return fgetxattr(fd, key, buf, size);
    if (w->xattrat) {
        struct xattr_at_args a = {.value = (uintptr_t)buf, .size = (uint32_t)size};
        ssize_t r = syscall(__NR_getxattrat, fd, name, AT_SYMLINK_NOFOLLOW, key, &a, sizeof(a));
        if (r >= 0 || errno != ENOSYS)
            return r;
        w->xattrat = false;
    }
    char p[PATH_MAX];
    proc_path(p, sizeof(p), fd, name);
    return lgetxattr(p, key, buf, size);
}

int copy_xattr_set_at(int dirfd, const char *name, const char *key, const void *val, size_t len)
{
    struct xattr_at_args a = {.value = (uintptr_t)val, .size = (uint32_t)len};
    long r = syscall(__NR_setxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, key, &a, sizeof(a));
    if (r >= 0 || errno != ENOSYS)
        return (int)r;
    char p[PATH_MAX];
    proc_path(p, sizeof(p), dirfd, name);
    return lsetxattr(p, key, val, len, 0);
}

int copy_chmod_at(int dirfd, const char *name, mode_t mode)
{
    if (syscall(__NR_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    /* Before Linux 6.6 there is no flag to pass: the caller vouches that name is no symlink. */
    return fchmodat(dirfd, name, mode, 0);
}

static int x_set(int fd, const char *name, const char *key, const void *val, size_t size)
{
    return name ? copy_xattr_set_at(fd, name, key, val, size) : fsetxattr(fd, key, val, size, 0);
}

static bool mapping(const struct worker *w)
{
    return (w->o->uid_map && w->o->uid_map->n) || (w->o->gid_map && w->o->gid_map->n);
}

/* Owners hidden inside xattr values move with the files: ACL_USER / ACL_GROUP entries of POSIX
 * ACLs and the root id of v3 (namespaced) file capabilities. */
int copy_shift_xattr(const struct copy_id_map *uid_map, const struct copy_id_map *gid_map,
                     const char *key, void *value, size_t len)
{
    char *val = value;
    if (strcmp(key, "system.posix_acl_access") == 0 ||
        strcmp(key, "system.posix_acl_default") == 0) {
        /* le32 version, then entries of le16 tag, le16 perm, le32 id */
        for (size_t off = 4; off + 8 <= len; off += 8) {
            uint16_t tag;
            uint32_t id, host;
            memcpy(&tag, val + off, 2);
            memcpy(&id, val + off + 4, 4);
            tag = le16toh(tag);
            const struct copy_id_map *m = tag == 0x02 ? uid_map : tag == 0x08 ? gid_map : NULL;
            if (!m)
                continue;
            if (copy_id_map_to_host(m, le32toh(id), &host) < 0)
                return -ERANGE;
            host = htole32(host);
            memcpy(val + off + 4, &host, 4);
        }
    } else if (strcmp(key, "security.capability") == 0 && len == 24) {
        uint32_t magic, root, host;
        memcpy(&magic, val, 4);
        if ((le32toh(magic) & 0xFF000000U) != 0x03000000U)
            return 0;
        memcpy(&root, val + 20, 4);
        if (copy_id_map_to_host(uid_map, le32toh(root), &host) < 0)
            return -ERANGE;
        host = htole32(host);
        memcpy(val + 20, &host, 4);
    }
    return 0;
}

/* `name` NULL: from fd sfd to fd dfd; else the entries `name` of the directories sfd and dfd.
 * `dir` and `shown` name the entry in messages. */
int copy_xattrs(struct worker *w, int sfd, int dfd, const char *name, const char *dir,
                const char *shown)
{
    if (!w->xattrs)
        return 0;
    ssize_t n;
    for (;;) {
        n = x_list(w, sfd, name, w->xnames, w->xnames_cap);
        if (n >= 0)
            break;
        if (errno == ENOTSUP) {
            /* The source file system keeps no xattrs: stop asking. */
            w->xattrs = false;
            return 0;
        }
        if (errno != ERANGE)
            return copy_fail_in(w, dir, errno, "list xattrs", shown);
        n = x_list(w, sfd, name, NULL, 0);
        if (n < 0)
            return copy_fail_in(w, dir, errno, "list xattrs", shown);
        w->xnames_cap = (size_t)n + 256;
        w->xnames = xrealloc(w->xnames, w->xnames_cap);
    }
    for (const char *k = w->xnames; k < w->xnames + n; k += strlen(k) + 1) {
        if (w->o->skip_selinux && strcmp(k, "security.selinux") == 0)
            continue;
        ssize_t v;
        for (;;) {
            v = x_get(w, sfd, name, k, w->xval, w->xval_cap);
            if (v >= 0)
                break;
            if (errno == ENODATA) /* removed meanwhile */
                break;
            if (errno != ERANGE)
                return copy_fail_in(w, dir, errno, k, shown);
            v = x_get(w, sfd, name, k, NULL, 0);
            if (v < 0)
                return copy_fail_in(w, dir, errno, k, shown);
            w->xval_cap = (size_t)v + 256;
            w->xval = xrealloc(w->xval, w->xval_cap);
        }
        if (v < 0)
            continue;
        if (mapping(w) && copy_shift_xattr(w->o->uid_map, w->o->gid_map, k, w->xval, (size_t)v) < 0)
            return copy_fail_in(w, dir, ERANGE, k, shown);
        if (x_set(dfd, name, k, w->xval, (size_t)v) < 0) {
            _cleanup_free_ char *what = xasprintf("set xattr %s", k);
            return copy_fail_in(w, dir, errno, what, shown);
        }
    }
    return 0;
}

/* --- file data ------------------------------------------------------------------------------ */

static int copy_range_rw(struct worker *w, int sfd, int dfd, off_t off, uint64_t len)
{
    if (!w->data)
        w->data = xmalloc(DATA_BUF_SIZE);
    while (len > 0) {
        ssize_t r = pread(sfd, w->data, len < DATA_BUF_SIZE ? len : DATA_BUF_SIZE, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break; /* the file shrank */
        for (ssize_t done = 0; done < r;) {
            ssize_t x = pwrite(dfd, w->data + done, (size_t)(r - done), off + done);
            if (x < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            done += x;
        }
        off += r;
        len -= (uint64_t)r;
        __atomic_fetch_add(w->bytes, (uint64_t)r, __ATOMIC_RELAXED);
    }
    return 0;
}

static int copy_range(struct worker *w, int sfd, int dfd, off_t off, uint64_t len)
{
    loff_t in = off, out = off;
    while (len > 0 && w->try_cfr) {
        ssize_t r = copy_file_range(sfd, &in, dfd, &out, len < (1U << 30) ? len : (1U << 30), 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL) {
                w->try_cfr = false;
                break;
            }
            return -errno;
        }
        if (r == 0)
            return 0;
        len -= (uint64_t)r;
        __atomic_fetch_add(w->bytes, (uint64_t)r, __ATOMIC_RELAXED);
    }
    return len ? copy_range_rw(w, sfd, dfd, in, len) : 0;
}

int copy_data(struct worker *w, int sfd, int dfd, const struct statx *sx)
{
    uint64_t size = sx->stx_size;
    if (size == 0)
        return 0;
    if (w->try_clone) {
        if (ioctl(dfd, FICLONE, sfd) == 0) {
            __atomic_fetch_add(w->bytes, size, __ATOMIC_RELAXED);
            return 0;
        }
        if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EXDEV || errno == EINVAL ||
            errno == ENOSYS)
            w->try_clone = false;
    }
    /* Only a file with fewer blocks than its size can have holes: others skip the lseeks. */
    if (sx->stx_blocks * 512 >= size)
        return copy_range(w, sfd, dfd, 0, size);
    off_t pos = 0;
    while ((uint64_t)pos < size) {
        off_t data = lseek(sfd, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) /* only a hole is left */
                break;
            if (errno == EINVAL || errno == EOPNOTSUPP)
                return copy_range(w, sfd, dfd, pos, size - (uint64_t)pos);
            return -errno;
        }
        off_t hole = lseek(sfd, data, SEEK_HOLE);
        if (hole < 0)
            return -errno;
        if ((uint64_t)hole > size)
            hole = (off_t)size;
        int r = copy_range(w, sfd, dfd, data, (uint64_t)(hole - data));
        if (r < 0)
            return r;
        pos = hole;
    }
    if (ftruncate(dfd, (off_t)size) < 0)
        return -errno;
    return 0;
}

void copy_worker_init(struct worker *t, const struct copy_options *o, uint64_t *bytes, int *noatime,
                      struct berth_error **err)
{
    *t = (struct worker){
        .o = o,
        .bytes = bytes,
        .noatime = noatime,
        .try_clone = true,
        .try_cfr = true,
        .xattrs = true,
        .xattrat = true,
        .err = err,
    };
    /* Never empty: a zero size would turn the xattr calls into size queries. */
    t->xnames = xmalloc(t->xnames_cap = 4096);
    t->xval = xmalloc(t->xval_cap = 4096);
}

void copy_worker_free(struct worker *t)
{
    free(t->data);
    free(t->xnames);
    free(t->xval);
}
