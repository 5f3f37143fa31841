#include "util/path.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* procfs numbers its root directory 1. The symlinks there (self, thread-self, mounts, net) are
 * plain ones; every procfs symlink deeper down (fd/N, exe, cwd, root, ns/..., map_files/...)
 * is a magic link that jumps to an object instead of naming a path. */
#define PROC_ROOT_INO 1

/* openat2 returns EAGAIN when a rename or mount anywhere races with a ".." lookup; past this many
 * tries the walk, which is not affected, takes over. */
#define OPENAT2_RETRIES 16

/* How often the walk looks again at one component that changed under it (created by someone else,
 * swapped for a symlink) before giving up with EAGAIN. */
#define WALK_RETRIES 64

char *path_clean(const char *path)
{
    size_t len = strlen(path);
    char *out = xmalloc(len + 2);
    size_t n = 0;
    out[n++] = '/';
    const char *p = path;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchrnul(p, '/');
        size_t l = (size_t)(end - p);
        if (l == 2 && p[0] == '.' && p[1] == '.') {
            const char *slash = memrchr(out, '/', n);
            n = (size_t)(slash - out);
            if (n == 0)
                n = 1;
        } else if (!(l == 1 && p[0] == '.')) {
            if (n > 1)
                out[n++] = '/';
            memcpy(out + n, p, l);
            n += l;
        }
        p = end;
    }
    out[n] = '\0';
    return out;
}

bool path_has_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 0 && prefix[n - 1] == '/')
        n--;
    if (n == 0)
        return path[0] == '/';
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

const char *path_fd(int fd, char buf[static 32])
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
    return buf;
}

static bool flags_take_mode(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* openat2 inside the root. *unsupported says the kernel (or a seccomp filter) would not do it,
 * so the result means nothing about the path and the walk must answer instead. */
static int open_kernel_how(int rootfd, const char *path, int flags, mode_t mode, uint64_t resolve,
                           bool *unsupported)
{
    struct open_how how = {
        .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
        .mode = flags_take_mode(flags) ? (mode & 07777) : 0,
        .resolve = resolve,
    };
    *unsupported = false;
    for (int i = 0; i < OPENAT2_RETRIES; i++) {
        long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        switch (errno) {
        case EAGAIN:
        case EINTR:
            continue;
        case ENOSYS:
        case EPERM:
        case E2BIG:
            /* EPERM may also be a genuine answer (an immutable file opened for writing); the
             * walk then gives the same answer, only slower. */
            *unsupported = true;
            return -errno;
        default:
            return -errno;
        }
    }
    *unsupported = true;
    return -EAGAIN;
}

static int open_kernel(int rootfd, const char *path, int flags, mode_t mode, bool *unsupported)
{
    return open_kernel_how(rootfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                           unsupported);
}

int path_open_in_root_direct(int rootfd, const char *path, int flags)
{
    bool unsupported;
    int fd = open_kernel_how(rootfd, path, flags, 0,
                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
                             &unsupported);
    return unsupported && fd < 0 ? -ENOSYS : fd;
}

enum walk_final {
    FINAL_OPEN,        /* open with the caller's flags, as openat would */
    FINAL_MKDIR,       /* create if missing; anything but a directory is ENOTDIR */
    FINAL_CREATE_DIR,  /* create a directory if missing; any existing entry is the answer */
    FINAL_CREATE_FILE, /* create an empty file if missing; any existing entry is the answer */
};

struct walk {
    int rootfd;
    dev_t root_dev;
    ino_t root_ino;
    const char *path; /* as the caller gave it, for messages */
    const char *verb;
    enum walk_final final;
    int flags;
    mode_t mode;
    bool create_parents;
    mode_t parent_mode;
    const char *s; /* what is left to resolve, relative to cur */
    char *owned;   /* storage behind s once a symlink has been expanded */
    int cur;       /* the directory reached so far; -1 is the root itself */
    int result;
    unsigned links;
    unsigned retries;
};

static void walk_release(struct walk *w)
{
    free(w->owned);
    if (w->cur >= 0)
        close(w->cur);
    if (w->result >= 0)
        close(w->result);
}

static inline int walk_dirfd(const struct walk *w)
{
    return w->cur >= 0 ? w->cur : w->rootfd;
}

static void walk_set_cur(struct walk *w, int fd)
{
    if (w->cur >= 0)
        close(w->cur);
    w->cur = fd;
}

static int walk_fail(const struct walk *w, int code, struct berth_error **err)
{
    return berth_error_set(err, code, "%s %s", w->verb, w->path);
}

static int walk_fail_at(const struct walk *w, int code, const char *name, struct berth_error **err)
{
    return berth_error_set(err, code, "%s %s: %s", w->verb, w->path, name);
}

/* Step results: negative errno, WALK_CONTINUE (w->s says what is left), or WALK_DONE with the
 * answer in w->result. */
enum { WALK_CONTINUE = 0, WALK_DONE = 1 };

static int walk_done(struct walk *w, int fd)
{
    w->result = fd;
    return WALK_DONE;
}

/* Step into the directory fd; the retry budget is per component. */
static void walk_advance(struct walk *w, int fd, const char *next)
{
    walk_set_cur(w, fd);
    w->s = next;
    w->retries = 0;
}

/* Look at the same component again: it changed between two of our syscalls. */
static int walk_retry(struct walk *w, const char *name, struct berth_error **err)
{
    if (++w->retries > WALK_RETRIES)
        return berth_error_set(err, EAGAIN, "%s %s: %s keeps changing", w->verb, w->path, name);
    return WALK_CONTINUE;
}

static int walk_up(struct walk *w, struct berth_error **err)
{
    if (w->cur < 0)
        return 0;
    int fd = openat(w->cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return walk_fail_at(w, errno, "..", err);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return walk_fail_at(w, e, "..", err);
    }
    if (st.st_dev == w->root_dev && st.st_ino == w->root_ino) {
        close(fd);
        fd = -1;
    }
    walk_set_cur(w, fd);
    return 0;
}

/* Replace the symlink `name` (open as linkfd, found in the current directory) by its target:
 * what is left becomes target + rest, taken from the root when the target is absolute. The
 * target is only ever read as text and resolved here, so nothing outside the root is reached. */
static int walk_expand(struct walk *w, int linkfd, const char *name, const char *rest,
                       struct berth_error **err)
{
    if (++w->links > PATH_MAX_SYMLINKS)
        return walk_fail_at(w, ELOOP, name, err);

    struct statfs sfs;
    if (fstatfs(linkfd, &sfs) < 0)
        return walk_fail_at(w, errno, name, err);
    if (sfs.f_type == PROC_SUPER_MAGIC) {
        struct stat dir;
        if (fstat(walk_dirfd(w), &dir) < 0)
            return walk_fail_at(w, errno, name, err);
        if (dir.st_ino != PROC_ROOT_INO)
            return berth_error_set(err, ELOOP, "%s %s: %s is a procfs magic link", w->verb, w->path,
                                   name);
    }

    char target[PATH_MAX];
    ssize_t n = readlinkat(linkfd, "", target, sizeof(target));
    if (n < 0)
        return walk_fail_at(w, errno, name, err);
    if ((size_t)n >= sizeof(target))
        return walk_fail_at(w, ENAMETOOLONG, name, err);
    if (n == 0)
        return walk_fail_at(w, ENOENT, name, err);

    size_t rlen = strlen(rest);
    char *buf = xmalloc((size_t)n + rlen + 1);
    memcpy(buf, target, (size_t)n);
    memcpy(buf + n, rest, rlen + 1);
    free(w->owned);
    w->owned = buf;
    w->s = buf;
    if (target[0] == '/')
        walk_set_cur(w, -1);
    return WALK_CONTINUE;
}

/* A component that must be a directory: every one but the last, and the last of a mkdir.
 * `next` is where the path goes on after it, `rest` the text after the name itself. */
static int walk_dir(struct walk *w, const char *name, const char *rest, const char *next, bool last,
                    struct berth_error **err)
{
    /* The common case, an existing directory, in one syscall: O_NOFOLLOW|O_DIRECTORY refuses
     * a symlink with ENOTDIR, which the slow path below then looks at. */
    int fd = openat(walk_dirfd(w), name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (last)
            return walk_done(w, fd);
        walk_advance(w, fd, next);
        return WALK_CONTINUE;
    }
    if (errno == ENOENT && (last ? w->final != FINAL_OPEN : w->create_parents)) {
        mode_t mode = last ? w->mode : w->parent_mode;
        /* mkdirat never follows a symlink in the last place, so a racing swap makes it fail
         * with EEXIST; the retry then resolves that symlink inside the root. */
        if (mkdirat(walk_dirfd(w), name, mode) < 0 && errno != EEXIST)
            return walk_fail_at(w, errno, name, err);
        return walk_retry(w, name, err);
    }
    if (errno != ENOTDIR)
        return walk_fail_at(w, errno, name, err);

    _cleanup_close_ int probe = openat(walk_dirfd(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (probe < 0) {
        if (errno == ENOENT)
            return walk_retry(w, name, err);
        return walk_fail_at(w, errno, name, err);
    }
    struct stat st;
    if (fstat(probe, &st) < 0)
        return walk_fail_at(w, errno, name, err);
    if (S_ISLNK(st.st_mode))
        return walk_expand(w, probe, name, rest, err);
    if (S_ISDIR(st.st_mode)) {
        if (last)
            return walk_done(w, TAKE_FD(probe));
        walk_advance(w, TAKE_FD(probe), next);
        return WALK_CONTINUE;
    }
    if (last && w->final == FINAL_CREATE_DIR)
        return walk_done(w, TAKE_FD(probe));
    return walk_fail_at(w, ENOTDIR, name, err);
}

/* The last component of an open: openat's own rules, except that a symlink is resolved here. */
static int walk_last_open(struct walk *w, const char *name, const char *rest, bool slash,
                          struct berth_error **err)
{
    int flags = w->flags;
    if (slash && (flags & O_CREAT))
        return walk_fail(w, EISDIR, err);
    /* O_CREAT|O_EXCL never follows a final symlink: it is an existing entry (EEXIST). */
    bool excl = (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
    if (((flags & O_NOFOLLOW) || excl) && !slash) {
        int fd = openat(walk_dirfd(w), name, flags | O_CLOEXEC, w->mode);
        if (fd < 0)
            return walk_fail(w, errno, err);
        return walk_done(w, fd);
    }

    _cleanup_close_ int probe = openat(walk_dirfd(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (probe < 0) {
        if (errno != ENOENT || !(flags & O_CREAT))
            return walk_fail(w, errno, err);
        int fd = openat(walk_dirfd(w), name, flags | O_NOFOLLOW | O_CLOEXEC, w->mode);
        if (fd >= 0)
            return walk_done(w, fd);
        if (errno == ELOOP) /* a symlink appeared: resolve it on the next round */
            return walk_retry(w, name, err);
        return walk_fail(w, errno, err);
    }
    struct stat st;
    if (fstat(probe, &st) < 0)
        return walk_fail(w, errno, err);
    if (S_ISLNK(st.st_mode))
        return walk_expand(w, probe, name, rest, err);
    if ((slash || (flags & O_DIRECTORY)) && !S_ISDIR(st.st_mode))
        return walk_fail(w, ENOTDIR, err);
    if (flags & O_PATH)
        return walk_done(w, TAKE_FD(probe));

    /* O_NOFOLLOW: if the entry became a symlink since the probe, fail and look again rather
     * than let the kernel follow it. */
    int fd = openat(walk_dirfd(w), name, flags | (slash ? O_DIRECTORY : 0) | O_NOFOLLOW | O_CLOEXEC,
                    w->mode);
    if (fd >= 0)
        return walk_done(w, fd);
    if (errno == ELOOP || (errno == ENOTDIR && S_ISDIR(st.st_mode)))
        return walk_retry(w, name, err);
    return walk_fail(w, errno, err);
}

/* The last component of a file mount target. */
static int walk_last_file(struct walk *w, const char *name, const char *rest,
                          struct berth_error **err)
{
    struct stat st;
    _cleanup_close_ int probe = openat(walk_dirfd(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (probe >= 0) {
        if (fstat(probe, &st) < 0)
            return walk_fail_at(w, errno, name, err);
        if (S_ISLNK(st.st_mode))
            return walk_expand(w, probe, name, rest, err);
        return walk_done(w, TAKE_FD(probe));
    }
    if (errno != ENOENT)
        return walk_fail_at(w, errno, name, err);

    _cleanup_close_ int fd =
        openat(walk_dirfd(w), name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, w->mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return walk_retry(w, name, err);
        return walk_fail_at(w, errno, name, err);
    }
    if (fstat(fd, &st) < 0)
        return walk_fail_at(w, errno, name, err);
    /* The answer is an O_PATH fd like every other; it must be the inode just created. */
    int pfd = openat(walk_dirfd(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0) {
        if (errno == ENOENT)
            return walk_retry(w, name, err);
        return walk_fail_at(w, errno, name, err);
    }
    struct stat again;
    if (fstat(pfd, &again) < 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
        close(pfd);
        return walk_retry(w, name, err);
    }
    return walk_done(w, pfd);
}

/* Nothing left to resolve: the answer is the directory reached. */
static int walk_finish_dir(struct walk *w, struct berth_error **err)
{
    bool want_path = w->final != FINAL_OPEN || (w->flags & O_PATH);
    if (want_path && w->cur >= 0) {
        int fd = w->cur;
        w->cur = -1;
        return walk_done(w, fd);
    }
    int fd = want_path ? openat(walk_dirfd(w), ".", O_PATH | O_DIRECTORY | O_CLOEXEC)
                       : openat(walk_dirfd(w), ".", w->flags | O_CLOEXEC, w->mode);
    if (fd < 0)
        return walk_fail(w, errno, err);
    return walk_done(w, fd);
}

static int walk_run(struct walk *w, struct berth_error **err)
{
    struct stat st;
    if (fstat(w->rootfd, &st) < 0)
        return berth_error_set(err, errno, "%s %s: root directory", w->verb, w->path);
    if (!S_ISDIR(st.st_mode))
        return berth_error_set(err, ENOTDIR, "%s %s: root directory", w->verb, w->path);
    w->root_dev = st.st_dev;
    w->root_ino = st.st_ino;

    size_t len = strlen(w->path);
    if (len == 0)
        return walk_fail(w, ENOENT, err);
    if (len >= PATH_MAX)
        return walk_fail(w, ENAMETOOLONG, err);
    w->s = w->path;

    for (;;) {
        const char *s = w->s;
        while (*s == '/')
            s++;
        if (!*s) {
            int r = walk_finish_dir(w, err);
            if (r < 0)
                return r;
            return TAKE_FD(w->result);
        }
        const char *end = strchrnul(s, '/');
        const char *next = end;
        while (*next == '/')
            next++;
        bool last = *next == '\0';
        size_t nlen = (size_t)(end - s);

        if (nlen == 1 && s[0] == '.') {
            w->s = next;
            continue;
        }
        if (nlen == 2 && s[0] == '.' && s[1] == '.') {
            int r = walk_up(w, err);
            if (r < 0)
                return r;
            w->s = next;
            continue;
        }
        if (nlen > NAME_MAX)
            return walk_fail(w, ENAMETOOLONG, err);
        char name[NAME_MAX + 1];
        memcpy(name, s, nlen);
        name[nlen] = '\0';

        int r;
        if (!last || w->final == FINAL_MKDIR || w->final == FINAL_CREATE_DIR)
            r = walk_dir(w, name, end, next, last, err);
        else if (w->final == FINAL_OPEN)
            r = walk_last_open(w, name, end, end != next, err);
        else
            r = walk_last_file(w, name, end, err);
        if (r < 0)
            return r;
        if (r == WALK_DONE)
            return TAKE_FD(w->result);
    }
}

int path_open_in_root_walk(int rootfd, const char *path, int flags, mode_t mode,
                           struct berth_error **err)
{
    _cleanup_(walk_release) struct walk w = {
        .rootfd = rootfd,
        .path = path,
        .verb = "open",
        .final = FINAL_OPEN,
        .flags = flags,
        .mode = flags_take_mode(flags) ? (mode & 07777) : 0,
        .cur = -1,
        .result = -1,
    };
    return walk_run(&w, err);
}

int path_open_in_root(int rootfd, const char *path, int flags, mode_t mode,
                      struct berth_error **err)
{
    bool unsupported;
    int fd = open_kernel(rootfd, path, flags, mode, &unsupported);
    if (fd >= 0)
        return fd;
    if (!unsupported)
        return berth_error_set(err, -fd, "open %s", path);
    return path_open_in_root_walk(rootfd, path, flags, mode, err);
}

int path_mkdir_in_root(int rootfd, const char *path, mode_t mode, struct berth_error **err)
{
    /* Most targets exist already: one openat2 answers those. */
    bool unsupported;
    int fd = open_kernel(rootfd, path, O_PATH | O_DIRECTORY, 0, &unsupported);
    if (fd >= 0)
        return fd;
    _cleanup_(walk_release) struct walk w = {
        .rootfd = rootfd,
        .path = path,
        .verb = "mkdir",
        .final = FINAL_MKDIR,
        .mode = mode & 07777,
        .create_parents = true,
        .parent_mode = mode & 07777,
        .cur = -1,
        .result = -1,
    };
    return walk_run(&w, err);
}

int path_create_in_root(int rootfd, const char *path, bool directory, mode_t mode,
                        struct berth_error **err)
{
    bool unsupported;
    int fd = open_kernel(rootfd, path, O_PATH, 0, &unsupported);
    if (fd >= 0)
        return fd;
    _cleanup_(walk_release) struct walk w = {
        .rootfd = rootfd,
        .path = path,
        .verb = "create",
        .final = directory ? FINAL_CREATE_DIR : FINAL_CREATE_FILE,
        .mode = mode & 07777,
        .create_parents = true,
        .parent_mode = 0755,
        .cur = -1,
        .result = -1,
    };
    return walk_run(&w, err);
}
