#include "storage/apply.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define WHITEOUT        ".wh."
#define WHITEOUT_META   ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

/* A set of paths: what this layer wrote, with every ancestor. Whiteouts, plain or opaque,
 * remove only what lower layers left, whatever their place in the tar. */
struct path_set {
    char **v;
    size_t cap, used;
};

static size_t path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static char **path_slot(const struct path_set *s, const char *k)
{
    for (size_t i = path_hash(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
        if (!s->v[i] || strcmp(s->v[i], k) == 0)
            return &s->v[i];
}

static bool path_set_has(const struct path_set *s, const char *k)
{
    return s->cap && *path_slot(s, k);
}

/* false when it was there already */
static bool path_set_add(struct path_set *s, const char *k)
{
    if ((s->used + 1) * 2 > s->cap) {
        struct path_set old = *s;
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = xcalloc(s->cap, sizeof(*s->v));
        for (size_t i = 0; i < old.cap; i++)
            if (old.v[i])
                *path_slot(s, old.v[i]) = old.v[i];
        free(old.v);
    }
    char **slot = path_slot(s, k);
    if (*slot)
        return false;
    *slot = xstrdup(k);
    s->used++;
    return true;
}

static void path_set_free(struct path_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i]);
    free(s->v);
}

struct dir_times {
    char *path;
    struct timespec ts[2];
};

struct applier {
    int root;
    const struct apply_options *o;
    struct copy_stats *st;
    struct path_set upper;
    struct dir_times *dirs;
    size_t n_dirs;
    /* The parent directory of the last entry: tars list a directory's entries together. Every
     * removal happens below it, so it never goes stale. */
    char *cached;
    int cached_fd;
    bool openat2;
    char *xbuf;
    size_t xbuf_cap;
    const char *entry; /* the entry's name as the tar gives it */
    struct berth_error **err;
};

static int efail(struct applier *ap, int code, const char *fmt, const char *arg)
{
    _cleanup_free_ char *what = xasprintf(fmt, arg ? arg : "");
    return berth_error_set(ap->err, code, "entry \"%s\": %s", ap->entry, what);
}

int apply_clean_name(const char *name, char **out)
{
    size_t len = strlen(name);
    if (len > PATH_MAX - 1)
        return -ENAMETOOLONG;
    char *res = xmalloc(len + 1);
    size_t n = 0;
    for (const char *c = name; *c;) {
        while (*c == '/')
            c++;
        const char *end = strchrnul(c, '/');
        size_t clen = (size_t)(end - c);
        if (clen == 0 || (clen == 1 && c[0] == '.')) {
            c = end;
            continue;
        }
        if (clen == 2 && c[0] == '.' && c[1] == '.') {
            free(res);
            return -EINVAL;
        }
        if (clen > NAME_MAX) {
            free(res);
            return -ENAMETOOLONG;
        }
        if (n)
            res[n++] = '/';
        memcpy(res + n, c, clen);
        n += clen;
        c = end;
    }
    res[n] = '\0';
    *out = res;
    return 0;
}

/* "a/b/c" -> dir "a/b", base "c"; "c" -> "", "c". The path is cut in place. */
static void split(char *path, const char **dir, const char **base)
{
    char *slash = strrchr(path, '/');
    if (slash) {
        *slash = '\0';
        *dir = path;
        *base = slash + 1;
    } else {
        *dir = "";
        *base = path;
    }
}

static char *join(const char *dir, const char *name)
{
    return *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

/* An O_PATH fd on the directory `path` inside the root, symlinks resolved as if the root were
 * "/": never outside it, never through a magic link or into another mount. */
static int open_in_root(struct applier *ap, const char *path)
{
    if (!*path)
        return openat(ap->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ap->openat2) {
        struct open_how how = {
            .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        long fd = syscall(SYS_openat2, ap->root, path, &how, sizeof(how));
        if (fd >= 0 || errno != ENOSYS)
            return (int)fd;
        ap->openat2 = false;
    }
    /* Without openat2: a walk that follows no symlink at all. */
    _cleanup_free_ char *copy = xstrdup(path);
    _cleanup_close_ int cur = openat(ap->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    char *save, *comp;
    for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        int next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            return -1;
        close(cur);
        cur = next;
    }
    return TAKE_FD(cur);
}

static void upper_add(struct applier *ap, const char *path)
{
    _cleanup_free_ char *p = xstrdup(path);
    while (*p && path_set_add(&ap->upper, p)) {
        char *slash = strrchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
    }
}

static int map_root(struct applier *ap, uint32_t *uid, uint32_t *gid)
{
    if (copy_id_map_to_host(ap->o->uid_map, 0, uid) < 0 ||
        copy_id_map_to_host(ap->o->gid_map, 0, gid) < 0)
        return efail(ap, 0, "%sthe id maps do not map container root", NULL);
    return 0;
}

/* Directories a tar implies but does not list: 0755, owned by the (mapped) root. */
static int make_parents(struct applier *ap, const char *path)
{
    uint32_t uid, gid;
    int r = map_root(ap, &uid, &gid);
    if (r < 0)
        return r;
    _cleanup_free_ char *p = xstrdup(path);
    _cleanup_close_ int cur = open_in_root(ap, "");
    for (char *c = p;;) {
        char *end = strchrnul(c, '/');
        char saved = *end;
        *end = '\0';
        int fd = open_in_root(ap, p);
        if (fd < 0) {
            if (errno != ENOENT)
                return efail(ap, errno, "parent directory %s", p);
            if (mkdirat(cur, c, 0755) < 0)
                return efail(ap, errno == EEXIST ? ENOTDIR : errno, "create parent directory %s",
                             p);
            /* chmod as well: the mode must not depend on the caller's umask. The new
             * directory is no symlink. */
            if (fchownat(cur, c, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                fchmodat(cur, c, 0755, 0) < 0)
                return efail(ap, errno, "set up parent directory %s", p);
            path_set_add(&ap->upper, p);
            fd = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                return efail(ap, errno, "open parent directory %s", p);
        }
        close(cur);
        cur = fd;
        if (!saved)
            break;
        *end = saved;
        c = end + 1;
    }
    return TAKE_FD(cur);
}

/* The parent directory's fd (borrowed: it belongs to the cache), made if `create`. */
static int parent_fd(struct applier *ap, const char *dir, bool create)
{
    if (ap->cached && strcmp(ap->cached, dir) == 0)
        return ap->cached_fd;
    int fd = open_in_root(ap, dir);
    if (fd < 0 && errno == ENOENT && create) {
        fd = make_parents(ap, dir);
        if (fd < 0)
            return fd;
    } else if (fd < 0) {
        return -errno;
    }
    if (ap->cached_fd >= 0)
        close(ap->cached_fd);
    free(ap->cached);
    ap->cached = xstrdup(dir);
    ap->cached_fd = fd;
    return fd;
}

/* --- whiteouts --------------------------------------------------------------------------- */

static int prune(struct applier *ap, int dirfd, const char *name, const char *rel);

static int prune_children(struct applier *ap, int fd, const char *rel)
{
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return efail(ap, errno, "open %s", rel);
    _cleanup_closedir_ DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return efail(ap, errno, "open %s", rel);
    }
    /* Names first: removing while reading may skip entries. */
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        names = xreallocarray(names, n + 1, sizeof(*names));
        names[n++] = xstrdup(de->d_name);
    }
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0) {
            _cleanup_free_ char *child = join(rel, names[i]);
            r = prune(ap, fd, names[i], child);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

/* Remove dirfd/name unless this layer wrote it; in a directory this layer wrote, remove what it
 * did not. */
static int prune(struct applier *ap, int dirfd, const char *name, const char *rel)
{
    if (!path_set_has(&ap->upper, rel)) {
        int r = fs_remove_tree_at(dirfd, name, ap->err);
        return r < 0 ? berth_error_prefix(ap->err, "entry \"%s\": whiteout", ap->entry) : 0;
    }
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return efail(ap, errno, "open %s", rel);
    return prune_children(ap, fd, rel);
}

static int whiteout(struct applier *ap, const char *dir, const char *target)
{
    if (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
        return efail(ap, 0, "a whiteout must name what it removes%s", NULL);
    int pfd = parent_fd(ap, dir, false);
    if (pfd < 0)
        return 0; /* nothing below to hide */
    struct stat st;
    if (fstatat(pfd, target, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    _cleanup_free_ char *rel = join(dir, target);
    return prune(ap, pfd, target, rel);
}

/* The directory itself stays; what lower layers put in it goes. A symlink in its place is left
 * alone: clearing its target would reach elsewhere. */
static int opaque(struct applier *ap, char *dir)
{
    _cleanup_free_ char *rel = xstrdup(dir);
    upper_add(ap, rel);
    _cleanup_close_ int fd = -1;
    if (!*dir) {
        fd = openat(ap->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        const char *pdir, *name;
        split(dir, &pdir, &name);
        int pfd = parent_fd(ap, pdir, false);
        if (pfd < 0)
            return 0;
        fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
        return 0;
    return prune_children(ap, fd, rel);
}

/* --- entries -------------------------------------------------------------------------------- */

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
    ts[1] = (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    ts[0] = archive_entry_atime_is_set(e)
                ? (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)}
                : ts[1];
}

static int clear_xattrs(struct applier *ap, int fd)
{
    char names[64 * 1024];
    ssize_t n = flistxattr(fd, names, sizeof(names));
    if (n < 0)
        return errno == ENOTSUP ? 0 : efail(ap, errno, "list xattrs%s", NULL);
    for (const char *k = names; k < names + n; k += strlen(k) + 1)
        if (strcmp(k, "security.selinux") != 0 && fremovexattr(fd, k) < 0 && errno != ENODATA)
            return efail(ap, errno, "remove xattr %s", k);
    return 0;
}

/* Owner, xattrs, mode, times, in that order (a chown drops setuid bits and capabilities). `fd`
 * is the entry itself, or -1 to work on pfd/name without following it. Directory times wait
 * for the end of the layer. */
static int set_meta(struct applier *ap, int fd, int pfd, const char *name, const char *path,
                    struct archive_entry *e, bool replace)
{
    uint32_t uid, gid;
    if (copy_id_map_to_host(ap->o->uid_map, (uint32_t)archive_entry_uid(e), &uid) < 0) {
        _cleanup_free_ char *id = xasprintf("%lld", (long long)archive_entry_uid(e));
        return efail(ap, 0, "uid %s is not in the uid map", id);
    }
    if (copy_id_map_to_host(ap->o->gid_map, (uint32_t)archive_entry_gid(e), &gid) < 0) {
        _cleanup_free_ char *id = xasprintf("%lld", (long long)archive_entry_gid(e));
        return efail(ap, 0, "gid %s is not in the gid map", id);
    }
    if ((fd >= 0 ? fchown(fd, uid, gid) : fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW)) < 0)
        return efail(ap, errno, "chown%s", NULL);

    if (replace && fd >= 0) {
        int r = clear_xattrs(ap, fd);
        if (r < 0)
            return r;
    }
    const char *key;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
        /* The label is the host's business: a tar never sets it. */
        if (strcmp(key, "security.selinux") == 0)
            continue;
        if (size > ap->xbuf_cap) {
            ap->xbuf_cap = size;
            ap->xbuf = xrealloc(ap->xbuf, size);
        }
        /* An empty value is a value (the buffer may not exist yet). */
        if (size)
            memcpy(ap->xbuf, value, size);
        if (copy_shift_xattr(ap->o->uid_map, ap->o->gid_map, key, ap->xbuf, size) < 0)
            return efail(ap, ERANGE, "xattr %s holds an unmapped id", key);
        int r = fd >= 0 ? fsetxattr(fd, key, ap->xbuf, size, 0)
                        : copy_xattr_set_at(pfd, name, key, ap->xbuf, size);
        if (r < 0)
            return efail(ap, errno, "set xattr %s", key);
    }

    mode_t type = archive_entry_filetype(e);
    mode_t mode = archive_entry_perm(e) & 07777;
    if (fd >= 0) {
        if (fchmod(fd, mode) < 0)
            return efail(ap, errno, "chmod%s", NULL);
    } else if (type != AE_IFLNK && copy_chmod_at(pfd, name, mode) < 0) {
        return efail(ap, errno, "chmod%s", NULL);
    }

    struct timespec ts[2];
    entry_times(e, ts);
    if (type == AE_IFDIR) {
        ap->dirs = xreallocarray(ap->dirs, ap->n_dirs + 1, sizeof(*ap->dirs));
        ap->dirs[ap->n_dirs++] = (struct dir_times){xstrdup(path), {ts[0], ts[1]}};
        return 0;
    }
    if ((fd >= 0 ? futimens(fd, ts) : utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW)) < 0)
        return efail(ap, errno, "set times%s", NULL);
    return 0;
}

static int write_data(struct applier *ap, struct archive *a, int fd, struct archive_entry *e)
{
    const void *buf;
    size_t size;
    la_int64_t off;
    int r;
    /* Blocks come with their offsets: the gaps of a sparse entry stay holes. */
    while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
        for (size_t done = 0; done < size;) {
            ssize_t w = pwrite(fd, (const char *)buf + done, size - done, off + (off_t)done);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return efail(ap, errno, "write%s", NULL);
            }
            done += (size_t)w;
        }
        ap->st->bytes += size;
    }
    if (r != ARCHIVE_EOF)
        return efail(ap, archive_errno(a) > 0 ? archive_errno(a) : 0, "read data: %s",
                     archive_error_string(a));
    if (ftruncate(fd, archive_entry_size(e)) < 0)
        return efail(ap, errno, "truncate%s", NULL);
    return 0;
}

static int make_link(struct applier *ap, int pfd, const char *base, bool exists,
                     const struct stat *old, const char *target_name)
{
    _cleanup_free_ char *target = NULL;
    int r = apply_clean_name(target_name, &target);
    if (r < 0)
        return efail(ap, -r, "hardlink target \"%s\" is not a name inside the layer", target_name);
    if (!*target)
        return efail(ap, 0, "a hardlink to the root%s", NULL);
    const char *tdir, *tbase;
    split(target, &tdir, &tbase);
    _cleanup_close_ int tfd = open_in_root(ap, tdir);
    struct stat st;
    if (tfd < 0 || fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return efail(ap, errno, "hardlink target \"%s\"", target_name);
    if (S_ISDIR(st.st_mode))
        return efail(ap, EPERM, "hardlink to the directory \"%s\"", target_name);
    if (exists) {
        if (old->st_dev == st.st_dev && old->st_ino == st.st_ino)
            return 0;
        if (fs_remove_tree_at(pfd, base, ap->err) < 0)
            return berth_error_prefix(ap->err, "entry \"%s\"", ap->entry);
    }
    /* linkat without AT_SYMLINK_FOLLOW: a symlink target is linked as the symlink it is. */
    if (linkat(tfd, tbase, pfd, base, 0) < 0)
        return efail(ap, errno, "link to \"%s\"", target_name);
    return 0;
}

static int apply_root(struct applier *ap, struct archive_entry *e)
{
    if (archive_entry_filetype(e) != AE_IFDIR)
        return efail(ap, 0, "refusing to change the type of the root directory%s", NULL);
    _cleanup_close_ int fd = openat(ap->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return efail(ap, errno, "open the root%s", NULL);
    return set_meta(ap, fd, -1, NULL, "", e, true);
}

static int apply_entry(struct applier *ap, struct archive *a, struct archive_entry *e)
{
    _cleanup_free_ char *path = NULL;
    int r = apply_clean_name(ap->entry, &path);
    if (r == -EINVAL)
        return efail(ap, 0, "refusing a name with \"..\"%s", NULL);
    if (r < 0)
        return efail(ap, -r, "name too long%s", NULL);
    if (!*path)
        return apply_root(ap, e);

    _cleanup_free_ char *full = xstrdup(path);
    const char *dir, *base;
    split(path, &dir, &base);
    if (strncmp(base, WHITEOUT, strlen(WHITEOUT)) == 0) {
        if (strcmp(base, WHITEOUT_OPAQUE) == 0)
            return opaque(ap, (char *)dir);
        if (strncmp(base, WHITEOUT_META, strlen(WHITEOUT_META)) == 0)
            return 0; /* AUFS bookkeeping, not content */
        return whiteout(ap, dir, base + strlen(WHITEOUT));
    }

    int pfd = parent_fd(ap, dir, true);
    if (pfd < 0)
        return *ap->err ? pfd : efail(ap, -pfd, "parent directory %s", dir);
    upper_add(ap, full);
    struct stat old;
    bool exists = fstatat(pfd, base, &old, AT_SYMLINK_NOFOLLOW) == 0;
    const char *link = archive_entry_hardlink(e);
    if (link)
        return make_link(ap, pfd, base, exists, &old, link);

    mode_t type = archive_entry_filetype(e);
    bool merge = exists && S_ISDIR(old.st_mode) && type == AE_IFDIR;
    if (exists && !merge && fs_remove_tree_at(pfd, base, ap->err) < 0)
        return berth_error_prefix(ap->err, "entry \"%s\"", ap->entry);

    _cleanup_close_ int fd = -1;
    switch (type) {
    case AE_IFDIR:
        if (!merge && mkdirat(pfd, base, 0700) < 0)
            return efail(ap, errno, "mkdir%s", NULL);
        fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return efail(ap, errno, "open%s", NULL);
        return set_meta(ap, fd, -1, NULL, full, e, merge);
    case AE_IFREG:
        fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return efail(ap, errno, "create%s", NULL);
        r = write_data(ap, a, fd, e);
        if (r < 0)
            return r;
        return set_meta(ap, fd, -1, NULL, full, e, false);
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target || !*target)
            return efail(ap, 0, "a symlink with no target%s", NULL);
        if (symlinkat(target, pfd, base) < 0)
            return efail(ap, errno, "symlink%s", NULL);
        return set_meta(ap, -1, pfd, base, full, e, false);
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
    case AE_IFSOCK:
        if (mknodat(pfd, base, type | 0600,
                    makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))) < 0)
            return efail(ap, errno, "mknod%s", NULL);
        return set_meta(ap, -1, pfd, base, full, e, false);
    default:
        return efail(ap, 0, "unsupported entry type%s", NULL);
    }
}

/* Directory times, last: every entry made in a directory changed its mtime. */
static int set_dir_times(struct applier *ap)
{
    for (size_t i = ap->n_dirs; i-- > 0;) {
        struct dir_times *d = &ap->dirs[i];
        _cleanup_close_ int fd = -1;
        if (!*d->path) {
            fd = openat(ap->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else {
            const char *dir, *base;
            _cleanup_free_ char *p = xstrdup(d->path);
            split(p, &dir, &base);
            _cleanup_close_ int pfd = open_in_root(ap, dir);
            if (pfd < 0)
                continue; /* removed by a later whiteout */
            fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
            continue;
        if (futimens(fd, d->ts) < 0)
            return berth_error_set(ap->err, errno, "set times of %s", d->path);
    }
    return 0;
}

int apply_archive(int root_fd, struct archive *a, const struct apply_options *o,
                  struct copy_stats *st, struct berth_error **err)
{
    static const struct apply_options none;
    struct applier ap = {
        .root = root_fd,
        .o = o ? o : &none,
        .st = st,
        .cached_fd = -1,
        .openat2 = true,
        .err = err,
    };
    int r = 0;
    for (;;) {
        struct archive_entry *e;
        int ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = berth_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0, "read tar: %s",
                                archive_error_string(a));
            break;
        }
        ap.entry = archive_entry_pathname(e);
        if (!ap.entry) {
            r = berth_error_set(err, 0, "read tar: an entry without a name");
            break;
        }
        r = apply_entry(&ap, a, e);
        if (r < 0)
            break;
        st->files++;
    }
    if (r == 0)
        r = set_dir_times(&ap);
    for (size_t i = 0; i < ap.n_dirs; i++)
        free(ap.dirs[i].path);
    free(ap.dirs);
    free(ap.cached);
    if (ap.cached_fd >= 0)
        close(ap.cached_fd);
    free(ap.xbuf);
    path_set_free(&ap.upper);
    return r;
}
