#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/path.h"

/* A fresh tree per test:
 *   BASE/root     the container root every lookup must stay in
 *   BASE/outside  a host directory that must never change (holds only "canary")
 * Symlinks inside root point at BASE/outside both by absolute path and by "../" chains. Every
 * link that leads out of the root on the host leads there, so a broken resolver is caught by
 * the canary check and its damage stays in BASE. Inside the root, the same absolute path
 * (the "mirror") exists as empty directories, so links to it are not dangling in the root. */
struct tree {
    char base[64];
    char outside[PATH_MAX]; /* absolute host path of BASE/outside */
    char mirror[PATH_MAX];  /* the same path relative to the root */
    char up[PATH_MAX + 32]; /* "../../.." chain, then the host path of outside */
    int rootfd;             /* O_PATH|O_DIRECTORY, as berth holds a rootfs */
    int outfd;
    int fds_at_start;
};

typedef int (*open_fn)(int, const char *, int, mode_t, struct berth_error **);

struct impl {
    const char *name;
    open_fn open;
};

static const struct impl impl_kernel = {"path_open_in_root", path_open_in_root};
static const struct impl impl_walk = {"path_open_in_root_walk", path_open_in_root_walk};
static const struct impl *const impls[] = {&impl_kernel, &impl_walk};

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void mk_dir(int dirfd, const char *name)
{
    if (mkdirat(dirfd, name, 0755) < 0)
        fail_msg("mkdir %s: %s", name, strerror(errno));
}

static void mk_file(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        fail_msg("create %s: %s", name, strerror(errno));
    assert_int_equal(write(fd, name, strlen(name)), (ssize_t)strlen(name));
    close(fd);
}

static void mk_link(int dirfd, const char *name, const char *target)
{
    if (symlinkat(target, dirfd, name) < 0)
        fail_msg("symlink %s: %s", name, strerror(errno));
}

static int tree_setup(void **state)
{
    struct tree *t = xzalloc(sizeof(*t));
    t->fds_at_start = count_fds();
    umask(022);
    char base[] = "/tmp/berth-test-path.XXXXXX";
    if (!mkdtemp(base))
        fail_msg("mkdtemp: %s", strerror(errno));
    memcpy(t->base, base, sizeof(base));
    snprintf(t->outside, sizeof(t->outside), "%s/outside", base);
    int basefd = open(t->base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(basefd >= 0);
    mk_dir(basefd, "root");
    mk_dir(basefd, "outside");
    t->rootfd = openat(basefd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
    t->outfd = openat(basefd, "outside", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(basefd);
    assert_true(t->rootfd >= 0 && t->outfd >= 0);
    mk_file(t->outfd, "canary");
    snprintf(t->mirror, sizeof(t->mirror), "%s", t->outside + 1);
    snprintf(t->up, sizeof(t->up), "../../../../../../../..%s", t->outside);
    for (char *p = t->mirror; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mk_dir(t->rootfd, t->mirror);
        *p = '/';
    }
    mk_dir(t->rootfd, t->mirror);

    int r = t->rootfd;
    mk_file(r, "file");
    mk_dir(r, "dir");
    mk_file(r, "dir/file");
    mk_dir(r, "dir/sub");
    mk_file(r, "dir/sub/deep");
    mk_link(r, "abs", "/dir");
    mk_link(r, "absfile", "/dir/file");
    mk_link(r, "rel", "dir/sub");
    mk_link(r, "dir/up", "../file");
    mk_link(r, "c1", "c2");
    mk_link(r, "c2", "dir/c3");
    mk_link(r, "dir/c3", "../dir/sub/deep");
    mk_link(r, "toroot", "/");
    mk_link(r, "dir/todotdot", "..");
    mk_link(r, "escape", "../../../../../../../../../..");
    mk_link(r, "escapeabs", t->outside);
    char target[PATH_MAX + 64];
    snprintf(target, sizeof(target), "%s/nonexistent", t->outside);
    mk_link(r, "dangling", target);
    mk_link(r, "escapeup", t->up);
    mk_link(r, "loop1", "loop2");
    mk_link(r, "loop2", "loop1");
    mk_link(r, "self", "self");
    mk_link(r, "slashlink", "dir/");
    mk_link(r, "filelink", "file");
    mk_link(r, "dir/sub/absup", "/file");
    mk_link(r, "dir/sub/hostlink", t->outside);
    mk_link(r, "dir/sub/absdir", "/dir/sub");
    /* chain0 -> chain1 -> ... -> chain40 -> dir/file: 41 links from chain0, 40 from chain1 */
    for (int i = 0; i <= PATH_MAX_SYMLINKS; i++) {
        char name[16], target[16];
        snprintf(name, sizeof(name), "chain%d", i);
        if (i == PATH_MAX_SYMLINKS)
            snprintf(target, sizeof(target), "dir/file");
        else
            snprintf(target, sizeof(target), "chain%d", i + 1);
        mk_link(r, name, target);
    }
    *state = t;
    return 0;
}

/* Whatever a test did, nothing may have appeared in or vanished from the host directory.
 * Returns NULL when it is as it was, else what changed (in buf). */
static const char *outside_changed(const struct tree *t, char *buf, size_t len)
{
    int fd = openat(t->outfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        snprintf(buf, len, "cannot list %s", t->outside);
        return buf;
    }
    struct dirent *de;
    int n = 0;
    const char *res = NULL;
    while (!res && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (strcmp(de->d_name, "canary") != 0) {
            snprintf(buf, len, "%s/%s appeared outside the root", t->outside, de->d_name);
            res = buf;
        }
        n++;
    }
    closedir(d);
    if (res)
        return res;
    struct stat st;
    if (n != 1 || fstatat(t->outfd, "canary", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(st.st_mode) || st.st_size != (off_t)strlen("canary")) {
        snprintf(buf, len, "%s/canary changed", t->outside);
        return buf;
    }
    return NULL;
}

static void assert_outside_untouched(const struct tree *t)
{
    char buf[2 * PATH_MAX];
    const char *changed = outside_changed(t, buf, sizeof(buf));
    if (changed)
        fail_msg("%s", changed);
}

static int tree_teardown(void **state)
{
    struct tree *t = *state;
    char buf[2 * PATH_MAX];
    const char *changed = outside_changed(t, buf, sizeof(buf));
    close(t->rootfd);
    close(t->outfd);
    struct berth_error *err = NULL;
    int r = fs_remove_tree_at(AT_FDCWD, t->base, &err);
    int leaked = count_fds() - t->fds_at_start;
    free(t);
    if (changed)
        fail_msg("%s", changed);
    if (r < 0)
        fail_msg("%s", err->msg);
    if (leaked != 0)
        fail_msg("%d file descriptors leaked", leaked);
    return 0;
}

/* The inode of a symlink-free path inside the root, itself when it is a symlink. */
static struct stat in_root(const struct tree *t, const char *rel)
{
    struct stat st;
    if (fstatat(t->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
        fail_msg("stat %s in the root: %s", rel, strerror(errno));
    return st;
}

/* `sub` below the mirror of the host directory, as a path inside the root */
static const char *mirrored(const struct tree *t, const char *sub)
{
    static char buf[2 * PATH_MAX];
    snprintf(buf, sizeof(buf), "%s/%s", t->mirror, sub);
    return buf;
}

static bool dir_has_entries(const struct tree *t, const char *rel)
{
    int fd = openat(t->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d)
        return false;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n > 2;
}

static bool exists_in_root(const struct tree *t, const char *rel)
{
    struct stat st;
    return fstatat(t->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void assert_same_inode(int fd, struct stat want, const char *what)
{
    struct stat got;
    assert_int_equal(fstat(fd, &got), 0);
    if (got.st_dev != want.st_dev || got.st_ino != want.st_ino)
        fail_msg("%s: resolved to inode %lu, want %lu", what, (unsigned long)got.st_ino,
                 (unsigned long)want.st_ino);
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0 || !(fl & FD_CLOEXEC))
        fail_msg("%s: fd without O_CLOEXEC", what);
}

/* Open `path` with one implementation and check the outcome: the inode at `expect` (a
 * symlink-free path inside the root) or the errno `experr`. */
static void check_open(const struct tree *t, const struct impl *im, const char *path, int flags,
                       mode_t mode, const char *expect, int experr)
{
    struct berth_error *err = NULL;
    char what[160];
    snprintf(what, sizeof(what), "%s(\"%.60s%s\", %#o)", im->name, path,
             strlen(path) > 60 ? "..." : "", flags);
    int fd = im->open(t->rootfd, path, flags, mode, &err);
    if (experr) {
        if (fd != -experr)
            fail_msg("%s: got %d (%s), want %s", what, fd,
                     fd >= 0 ? "an fd" : (err ? err->msg : "no message"), strerror(experr));
        assert_non_null(err);
        assert_int_equal(err->code, experr);
        assert_non_null(strstr(err->msg, strerror(experr)));
        berth_error_free(err);
        return;
    }
    if (fd < 0)
        fail_msg("%s: failed: %s", what, err ? err->msg : "no message");
    assert_null(err);
    assert_same_inode(fd, in_root(t, expect), what);
    close(fd);
}

struct open_case {
    const char *path;
    int flags;
    const char *expect; /* symlink-free path inside the root, or NULL */
    int err;
};

static const struct open_case open_cases[] = {
    /* plain paths and lexical noise */
    {"file", O_PATH, "file", 0},
    {"/file", O_PATH, "file", 0},
    {"/", O_PATH, ".", 0},
    {".", O_PATH | O_DIRECTORY, ".", 0},
    {"//dir///file", O_PATH, "dir/file", 0},
    {"./dir/./file", O_PATH, "dir/file", 0},
    {"dir/sub/../file", O_PATH, "dir/file", 0},
    {"dir/sub/deep", O_RDONLY, "dir/sub/deep", 0},
    {"", O_PATH, NULL, ENOENT},
    {"missing", O_PATH, NULL, ENOENT},
    {"missing/x", O_PATH, NULL, ENOENT},
    /* ".." never climbs above the root */
    {"..", O_PATH | O_DIRECTORY, ".", 0},
    {"../../../file", O_PATH, "file", 0},
    {"/../../../dir/../dir/file", O_PATH, "dir/file", 0},
    {"../outside/canary", O_PATH, NULL, ENOENT},
    {"dir/../../../outside/canary", O_RDONLY, NULL, ENOENT},
    /* absolute symlinks are taken from the root */
    {"abs/file", O_PATH, "dir/file", 0},
    {"absfile", O_PATH, "dir/file", 0},
    {"absfile", O_RDONLY, "dir/file", 0},
    {"abs", O_RDONLY | O_DIRECTORY, "dir", 0},
    {"escapeabs/canary", O_PATH, NULL, ENOENT},
    {"escapeabs/canary", O_RDONLY, NULL, ENOENT},
    {"dir/sub/absup", O_PATH, "file", 0},
    {"rel/absup", O_RDONLY, "file", 0},
    {"dir/sub/hostlink/canary", O_RDONLY, NULL, ENOENT},
    {"dir/sub/absdir/../file", O_PATH, "dir/file", 0},
    {"dir/sub/absdir/absdir/deep", O_PATH, "dir/sub/deep", 0},
    /* relative symlinks and chains */
    {"rel/deep", O_PATH, "dir/sub/deep", 0},
    {"dir/up", O_PATH, "file", 0},
    {"c1", O_PATH, "dir/sub/deep", 0},
    {"c1", O_RDONLY, "dir/sub/deep", 0},
    {"slashlink/file", O_PATH, "dir/file", 0},
    {"slashlink", O_PATH, "dir", 0},
    /* symlinks to "/" and ".." and "../" chains stay inside */
    {"toroot", O_PATH, ".", 0},
    {"toroot/dir/file", O_PATH, "dir/file", 0},
    {"toroot/../../file", O_PATH, "file", 0},
    {"dir/todotdot", O_PATH, ".", 0},
    {"dir/todotdot/file", O_PATH, "file", 0},
    {"dir/todotdot/..", O_PATH, ".", 0},
    {"escape", O_PATH, ".", 0},
    {"escape/file", O_PATH, "file", 0},
    {"escape/../outside/canary", O_PATH, NULL, ENOENT},
    /* dangling symlinks and loops */
    {"dangling", O_PATH, NULL, ENOENT},
    {"dangling", O_PATH | O_NOFOLLOW, "dangling", 0},
    {"loop1", O_PATH, NULL, ELOOP},
    {"loop1/x", O_PATH, NULL, ELOOP},
    {"self", O_RDONLY, NULL, ELOOP},
    {"chain1", O_PATH, "dir/file", 0},
    {"chain0", O_PATH, NULL, ELOOP},
    /* trailing slash: needs a directory and follows a final symlink even with O_NOFOLLOW */
    {"dir/", O_PATH, "dir", 0},
    {"dir//", O_RDONLY, "dir", 0},
    {"abs/", O_PATH, "dir", 0},
    {"abs/", O_PATH | O_NOFOLLOW, "dir", 0},
    {"file/", O_PATH, NULL, ENOTDIR},
    {"file/", O_RDONLY, NULL, ENOTDIR},
    {"filelink/", O_PATH, NULL, ENOTDIR},
    /* a file used as a directory */
    {"file/x", O_PATH, NULL, ENOTDIR},
    {"file/.", O_PATH, NULL, ENOTDIR},
    {"file/..", O_PATH, NULL, ENOTDIR},
    {"filelink/x", O_PATH, NULL, ENOTDIR},
    {"absfile", O_PATH | O_DIRECTORY, NULL, ENOTDIR},
    {"file", O_RDONLY | O_DIRECTORY, NULL, ENOTDIR},
    /* O_NOFOLLOW on a final symlink: the link itself with O_PATH, ELOOP otherwise */
    {"abs", O_PATH | O_NOFOLLOW, "abs", 0},
    {"abs/file", O_PATH | O_NOFOLLOW, "dir/file", 0},
    {"absfile", O_RDONLY | O_NOFOLLOW, NULL, ELOOP},
    {"abs", O_RDONLY | O_NOFOLLOW, NULL, ELOOP},
    {"abs", O_PATH | O_NOFOLLOW | O_DIRECTORY, NULL, ENOTDIR},
    {"file", O_RDONLY | O_NOFOLLOW, "file", 0},
    /* creation flags on existing entries */
    {"file", O_WRONLY | O_CREAT | O_EXCL, NULL, EEXIST},
    {"dangling", O_WRONLY | O_CREAT | O_EXCL, NULL, EEXIST},
    {"dangling", O_WRONLY | O_CREAT | O_NOFOLLOW, NULL, ELOOP},
    {"dir", O_WRONLY | O_CREAT, NULL, EISDIR},
    {"newdir/", O_WRONLY | O_CREAT, NULL, EISDIR},
    {"/", O_WRONLY | O_CREAT, NULL, EISDIR},
    {"escapeabs/missing/planted", O_WRONLY | O_CREAT, NULL, ENOENT},
    {"escapeup/missing/planted", O_WRONLY | O_CREAT, NULL, ENOENT},
    {"missing/new", O_WRONLY | O_CREAT, NULL, ENOENT},
};

static void run_open_table(void **state, const struct impl *im)
{
    const struct tree *t = *state;
    for (size_t i = 0; i < ARRAY_SIZE(open_cases); i++) {
        const struct open_case *c = &open_cases[i];
        check_open(t, im, c->path, c->flags, 0644, c->expect, c->err);
    }
}

static void test_open_table_kernel(void **state)
{
    run_open_table(state, &impl_kernel);
}

static void test_open_table_walk(void **state)
{
    run_open_table(state, &impl_walk);
}

static bool openat2_works(void)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
    long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
    if (fd < 0)
        return false;
    close((int)fd);
    return true;
}

/* Beyond the table: random paths over the tree's names, where the walk must agree with the
 * kernel on every outcome (the same inode, or the same errno). */
static void test_walk_matches_kernel(void **state)
{
    const struct tree *t = *state;
    if (!openat2_works())
        skip();
    static const char *const names[] = {
        "dir",    "file",     "abs",   "absfile", "rel",       "up",       "sub",
        "deep",   "c1",       "c3",    "toroot",  "todotdot",  "escape",   "escapeabs",
        "canary", "dangling", "loop1", "self",    "slashlink", "filelink", "chain1",
        "..",     ".",        "",      "missing", "outside",
    };
    static const int flagsets[] = {
        O_PATH,
        O_PATH | O_NOFOLLOW,
        O_PATH | O_DIRECTORY,
        O_RDONLY,
        O_RDONLY | O_DIRECTORY,
        O_RDONLY | O_NOFOLLOW,
        O_PATH | O_NOFOLLOW | O_DIRECTORY,
    };
    /* fixed unless BERTH_TEST_SEED asks for another sequence */
    const char *seedenv = getenv("BERTH_TEST_SEED");
    unsigned seed = seedenv ? (unsigned)strtoul(seedenv, NULL, 10) : 20240917;
    int agreed_fd = 0;
    for (int i = 0; i < 8000; i++) {
        char path[512];
        size_t n = 0;
        if (rand_r(&seed) % 2)
            path[n++] = '/';
        int comps = 1 + rand_r(&seed) % 5;
        for (int c = 0; c < comps; c++) {
            const char *name = names[rand_r(&seed) % ARRAY_SIZE(names)];
            n += (size_t)snprintf(path + n, sizeof(path) - n, "%s%s", c ? "/" : "", name);
        }
        if (rand_r(&seed) % 4 == 0)
            path[n++] = '/';
        path[n] = '\0';
        int flags = flagsets[rand_r(&seed) % ARRAY_SIZE(flagsets)];

        struct berth_error *e1 = NULL, *e2 = NULL;
        int k = path_open_in_root(t->rootfd, path, flags, 0, &e1);
        int w = path_open_in_root_walk(t->rootfd, path, flags, 0, &e2);
        berth_error_free(e1);
        berth_error_free(e2);
        /* openat2 keeps its count of followed links when a lookup restarts out of RCU mode
         * (a dentry changed meanwhile: other tests run beside this one), so a path through the
         * 40-link chain can get ELOOP from the kernel where the walk, and the kernel on a quiet
         * machine, find the error further on. */
        if (k == -ELOOP && w < 0 && strstr(path, "chain1"))
            continue;
        if ((k < 0) != (w < 0) || (k < 0 && k != w)) {
            if (k >= 0)
                close(k);
            if (w >= 0)
                close(w);
            fail_msg("\"%s\" flags %#o: kernel %d, walk %d", path, flags, k, w);
        }
        if (k >= 0) {
            struct stat sk, sw;
            assert_int_equal(fstat(k, &sk), 0);
            assert_int_equal(fstat(w, &sw), 0);
            close(k);
            close(w);
            if (sk.st_dev != sw.st_dev || sk.st_ino != sw.st_ino)
                fail_msg("\"%s\" flags %#o: kernel and walk opened different inodes", path, flags);
            agreed_fd++;
        }
    }
    /* the generator must reach real files, not only errors */
    print_message("walk and kernel agreed on 8000 paths, %d of them opened\n", agreed_fd);
    assert_true(agreed_fd > 500);
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = xmalloc(hl + ul * times + tl + 1);
    char *p = mempcpy(s, head, hl);
    for (size_t i = 0; i < times; i++)
        p = mempcpy(p, unit, ul);
    memcpy(p, tail, tl + 1);
    return s;
}

static void test_long_paths(void **state)
{
    const struct tree *t = *state;
    /* just under PATH_MAX with the terminating NUL */
    _cleanup_free_ char *dots = repeat("dir/", "./", (PATH_MAX - 9) / 2, "file");
    assert_true(strlen(dots) < PATH_MAX && strlen(dots) > PATH_MAX - 10);
    _cleanup_free_ char *ups = repeat("", "../", 1300, "dir/file");
    _cleanup_free_ char *slashes = repeat("dir", "/", PATH_MAX, "file");
    _cleanup_free_ char *longname = repeat("dir/", "n", NAME_MAX + 1, "");
    _cleanup_free_ char *maxname = repeat("dir/", "n", NAME_MAX, "");
    for (size_t i = 0; i < ARRAY_SIZE(impls); i++) {
        check_open(t, impls[i], dots, O_PATH, 0, "dir/file", 0);
        check_open(t, impls[i], ups, O_RDONLY, 0, "dir/file", 0);
        check_open(t, impls[i], slashes, O_PATH, 0, NULL, ENAMETOOLONG);
        check_open(t, impls[i], longname, O_PATH, 0, NULL, ENAMETOOLONG);
        check_open(t, impls[i], maxname, O_PATH, 0, NULL, ENOENT);
    }

    /* a deep tree made by path_mkdir_in_root, then found again by both resolvers */
    char comp[32];
    memset(comp, 'd', 30);
    comp[30] = '/';
    comp[31] = '\0';
    _cleanup_free_ char *deep = repeat("/", comp, 120, "end");
    assert_true(strlen(deep) > 3700 && strlen(deep) < PATH_MAX);
    struct berth_error *err = NULL;
    int fd = path_mkdir_in_root(t->rootfd, deep, 0755, &err);
    if (fd < 0)
        fail_msg("mkdir deep: %s", err->msg);
    struct stat want;
    assert_int_equal(fstat(fd, &want), 0);
    assert_true(S_ISDIR(want.st_mode));
    close(fd);
    for (size_t i = 0; i < ARRAY_SIZE(impls); i++) {
        fd = impls[i]->open(t->rootfd, deep, O_PATH | O_DIRECTORY, 0, &err);
        assert_true(fd >= 0);
        assert_same_inode(fd, want, deep);
        close(fd);
    }
}

/* Magic links can only be tried with a procfs in the tree: take the host's "/" as the root. */
static void test_magic_links(void **state)
{
    (void)state;
    struct stat st;
    if (stat("/proc/self/status", &st) < 0)
        skip();
    _cleanup_close_ int hostroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_close_ int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(hostroot >= 0 && probe >= 0);
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", probe);
    const char *refused[] = {fdpath, "/proc/self/cwd", "/proc/self/root/etc", "/proc/self/exe",
                             "/proc/thread-self/fd/0"};
    for (size_t i = 0; i < ARRAY_SIZE(impls); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(refused); j++) {
            struct berth_error *err = NULL;
            int fd = impls[i]->open(hostroot, refused[j], O_PATH, 0, &err);
            if (fd != -ELOOP)
                fail_msg("%s(%s): got %d, want ELOOP", impls[i]->name, refused[j], fd);
            berth_error_free(err);
        }
        /* "self" itself is an ordinary symlink */
        struct berth_error *err = NULL;
        int fd = impls[i]->open(hostroot, "/proc/self/status", O_RDONLY, 0, &err);
        if (fd < 0)
            fail_msg("%s(/proc/self/status): %s", impls[i]->name, err->msg);
        close(fd);
    }
}

/* fd must be `rel` inside the root, of that type and mode ((mode_t)-1: any), and an O_PATH fd
 * unless it came from an open with access flags. */
static void check_fd(const struct tree *t, int fd, struct berth_error *err, const char *rel,
                     mode_t type, mode_t mode, bool opath)
{
    if (fd < 0)
        fail_msg("create %s: %s", rel, err ? err->msg : "no message");
    assert_null(err);
    struct stat want = in_root(t, rel);
    assert_same_inode(fd, want, rel);
    if ((want.st_mode & S_IFMT) != type)
        fail_msg("%s: type %o, want %o", rel, want.st_mode & S_IFMT, type);
    if (mode != (mode_t)-1 && (want.st_mode & 07777) != mode)
        fail_msg("%s: mode %o, want %o", rel, want.st_mode & 07777, mode);
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    if (opath != !!(fl & O_PATH))
        fail_msg("%s: O_PATH is %s", rel, opath ? "missing" : "unexpected");
}

static void check_created(const struct tree *t, int fd, struct berth_error *err, const char *rel,
                          mode_t type, mode_t mode)
{
    check_fd(t, fd, err, rel, type, mode, true);
}

static void run_open_create(void **state, const struct impl *im)
{
    const struct tree *t = *state;
    struct berth_error *err = NULL;
    int fd = im->open(t->rootfd, "newfile", O_WRONLY | O_CREAT | O_EXCL, 0600, &err);
    check_fd(t, fd, err, "newfile", S_IFREG, 0600, false);
    close(fd);
    /* a dangling absolute symlink: created at its target inside the root */
    fd = im->open(t->rootfd, "dangling", O_WRONLY | O_CREAT, 0640, &err);
    check_fd(t, fd, err, mirrored(t, "nonexistent"), S_IFREG, 0640, false);
    close(fd);
    /* a dangling link that names a host path, through "../": still inside */
    char target[2 * PATH_MAX];
    snprintf(target, sizeof(target), "%s/planted", t->up);
    mk_link(t->rootfd, "dir/plant", target);
    fd = im->open(t->rootfd, "dir/plant", O_RDWR | O_CREAT, 0644, &err);
    check_fd(t, fd, err, mirrored(t, "planted"), S_IFREG, 0644, false);
    close(fd);
    assert_false(exists_in_root(t, "dir/newdir"));
}

static void test_open_create_kernel(void **state)
{
    run_open_create(state, &impl_kernel);
}

static void test_open_create_walk(void **state)
{
    run_open_create(state, &impl_walk);
}

static void test_mkdir(void **state)
{
    const struct tree *t = *state;
    struct berth_error *err = NULL;

    /* through an absolute symlink naming the host directory: made inside the root */
    int fd = path_mkdir_in_root(t->rootfd, "/escapeabs/new/deep", 0750, &err);
    check_created(t, fd, err, mirrored(t, "new/deep"), S_IFDIR, 0750);
    close(fd);
    assert_int_equal(in_root(t, mirrored(t, "new")).st_mode & 07777, 0750);

    /* through a "../" chain: clamped at the root */
    fd = path_mkdir_in_root(t->rootfd, "escapeup/x/y", 0755, &err);
    check_created(t, fd, err, mirrored(t, "x/y"), S_IFDIR, 0755);
    close(fd);

    /* through a dangling symlink: its target is made */
    fd = path_mkdir_in_root(t->rootfd, "dangling/y", 0700, &err);
    check_created(t, fd, err, mirrored(t, "nonexistent/y"), S_IFDIR, 0700);
    close(fd);

    /* existing: answered as is */
    fd = path_mkdir_in_root(t->rootfd, "rel", 0700, &err);
    check_created(t, fd, err, "dir/sub", S_IFDIR, 0755);
    close(fd);
    fd = path_mkdir_in_root(t->rootfd, "/", 0700, &err);
    check_created(t, fd, err, ".", S_IFDIR, (mode_t)-1);
    close(fd);

    /* a file in the way is named */
    fd = path_mkdir_in_root(t->rootfd, "/dir/file/z", 0755, &err);
    assert_int_equal(fd, -ENOTDIR);
    assert_non_null(strstr(err->msg, "file"));
    berth_error_freep(&err);
    fd = path_mkdir_in_root(t->rootfd, "absfile", 0755, &err);
    assert_int_equal(fd, -ENOTDIR);
    assert_non_null(strstr(err->msg, "absfile"));
    berth_error_freep(&err);
    fd = path_mkdir_in_root(t->rootfd, "loop1/a", 0755, &err);
    assert_int_equal(fd, -ELOOP);
    berth_error_freep(&err);
}

static void test_create(void **state)
{
    const struct tree *t = *state;
    struct berth_error *err = NULL;

    int fd = path_create_in_root(t->rootfd, "/newdir/newfile", false, 0640, &err);
    check_created(t, fd, err, "newdir/newfile", S_IFREG, 0640);
    close(fd);
    assert_int_equal(in_root(t, "newdir").st_mode & 07777, 0755);

    fd = path_create_in_root(t->rootfd, "/a/b/c", true, 0700, &err);
    check_created(t, fd, err, "a/b/c", S_IFDIR, 0700);
    close(fd);
    assert_int_equal(in_root(t, "a/b").st_mode & 07777, 0755);

    /* a dangling final symlink: created at its in-root target, parents included */
    mk_link(t->rootfd, "hostplant", t->outside);
    fd = path_create_in_root(t->rootfd, "hostplant/m1/f", false, 0600, &err);
    check_created(t, fd, err, mirrored(t, "m1/f"), S_IFREG, 0600);
    close(fd);
    char target[2 * PATH_MAX];
    snprintf(target, sizeof(target), "%s/m2/n", t->up);
    mk_link(t->rootfd, "dirplant", target);
    fd = path_create_in_root(t->rootfd, "dirplant", true, 0711, &err);
    check_created(t, fd, err, mirrored(t, "m2/n"), S_IFDIR, 0711);
    close(fd);
    assert_int_equal(in_root(t, mirrored(t, "m2")).st_mode & 07777, 0755);
    fd = path_create_in_root(t->rootfd, "dangling", false, 0644, &err);
    check_created(t, fd, err, mirrored(t, "nonexistent"), S_IFREG, 0644);
    close(fd);

    /* existing entries, of either kind, are returned as they are */
    fd = path_create_in_root(t->rootfd, "dir", false, 0644, &err);
    check_created(t, fd, err, "dir", S_IFDIR, 0755);
    close(fd);
    fd = path_create_in_root(t->rootfd, "file", true, 0755, &err);
    check_created(t, fd, err, "file", S_IFREG, 0644);
    close(fd);
    fd = path_create_in_root(t->rootfd, "absfile", false, 0600, &err);
    check_created(t, fd, err, "dir/file", S_IFREG, 0644);
    close(fd);

    fd = path_create_in_root(t->rootfd, "file/x", false, 0644, &err);
    assert_int_equal(fd, -ENOTDIR);
    berth_error_freep(&err);
}

/* A second process keeps exchanging directories with symlinks that lead out of the root (by
 * absolute path and by "../"), while every creating call runs against them. Creations may fail
 * or land anywhere inside the root, but never in the host directory. */
#define RACE_ROUNDS 150

static void test_race_swap(void **state)
{
    const struct tree *t = *state;
    mk_dir(t->rootfd, "race1");
    mk_link(t->rootfd, "race1.swap", t->outside);
    mk_dir(t->rootfd, "race2");
    mk_link(t->rootfd, "race2.swap", "../outside");

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;) {
            syscall(SYS_renameat2, t->rootfd, "race1", t->rootfd, "race1.swap", RENAME_EXCHANGE);
            syscall(SYS_renameat2, t->rootfd, "race2", t->rootfd, "race2.swap", RENAME_EXCHANGE);
        }
    }
    int ok = 0;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        const char *dir = i % 2 ? "race1" : "race2";
        char p[64];
        struct berth_error *err = NULL;
        int fds[5];
        snprintf(p, sizeof(p), "/%s/d%d/sub", dir, i);
        fds[0] = path_mkdir_in_root(t->rootfd, p, 0755, &err);
        berth_error_freep(&err);
        snprintf(p, sizeof(p), "/%s/f%d", dir, i);
        fds[1] = path_create_in_root(t->rootfd, p, false, 0644, &err);
        berth_error_freep(&err);
        snprintf(p, sizeof(p), "/%s/g%d", dir, i);
        fds[2] = path_create_in_root(t->rootfd, p, true, 0755, &err);
        berth_error_freep(&err);
        snprintf(p, sizeof(p), "/%s/o%d", dir, i);
        fds[3] = path_open_in_root(t->rootfd, p, O_WRONLY | O_CREAT, 0644, &err);
        berth_error_freep(&err);
        snprintf(p, sizeof(p), "/%s/w%d", dir, i);
        fds[4] = path_open_in_root_walk(t->rootfd, p, O_WRONLY | O_CREAT, 0644, &err);
        berth_error_freep(&err);
        for (size_t j = 0; j < ARRAY_SIZE(fds); j++) {
            if (fds[j] >= 0) {
                ok++;
                close(fds[j]);
            }
        }
    }
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_outside_untouched(t);
    /* whether the racer got its swaps in is up to the scheduler: say so, do not fail on it */
    print_message("race: %d of %d calls succeeded; redirected by the absolute link: %s, by the "
                  "relative one: %s\n",
                  ok, 5 * RACE_ROUNDS, dir_has_entries(t, t->mirror) ? "yes" : "no",
                  exists_in_root(t, "outside") ? "yes" : "no");
    assert_true(ok > RACE_ROUNDS);
}

#define FINAL_RACE_ROUNDS 8000

static void stop(pid_t pid)
{
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* The last component itself changes under the call: a symlink to the host appears where a
 * file is being created, and a file being opened is exchanged with a symlink to the host's
 * canary. The kernel must never be the one to follow such a link. */
static void test_race_final(void **state)
{
    const struct tree *t = *state;
    char victim[PATH_MAX + 16], canary[PATH_MAX + 16];
    snprintf(victim, sizeof(victim), "%s/victim", t->outside);
    snprintf(canary, sizeof(canary), "%s/canary", t->outside);
    mk_dir(t->rootfd, "race3");
    mk_dir(t->rootfd, "race4");
    mk_file(t->rootfd, "race4/f");
    mk_link(t->rootfd, "race4/f.swap", canary);
    struct stat host;
    assert_int_equal(fstatat(t->outfd, "canary", &host, 0), 0);

    pid_t planter = fork();
    assert_true(planter >= 0);
    if (planter == 0) {
        for (;;) {
            symlinkat(victim, t->rootfd, "race3/f");
            symlinkat(victim, t->rootfd, "race3/g");
            unlinkat(t->rootfd, "race3/f", 0);
            unlinkat(t->rootfd, "race3/g", 0);
        }
    }
    pid_t swapper = fork();
    assert_true(swapper >= 0);
    if (swapper == 0) {
        for (;;)
            syscall(SYS_renameat2, t->rootfd, "race4/f", t->rootfd, "race4/f.swap",
                    RENAME_EXCHANGE);
    }
    int ok = 0;
    for (int i = 0; i < FINAL_RACE_ROUNDS; i++) {
        struct berth_error *err = NULL;
        int fd = path_create_in_root(t->rootfd, "race3/f", false, 0644, &err);
        berth_error_freep(&err);
        if (fd >= 0) {
            ok++;
            close(fd);
        }
        fd = path_open_in_root_walk(t->rootfd, "race3/g", O_WRONLY | O_CREAT, 0644, &err);
        berth_error_freep(&err);
        if (fd >= 0) {
            ok++;
            close(fd);
        }
        fd = path_open_in_root_walk(t->rootfd, "race4/f", O_RDONLY, 0, &err);
        berth_error_freep(&err);
        if (fd >= 0) {
            struct stat st;
            assert_int_equal(fstat(fd, &st), 0);
            close(fd);
            if (st.st_dev == host.st_dev && st.st_ino == host.st_ino) {
                stop(planter);
                stop(swapper);
                fail_msg("race4/f opened the host's canary");
            }
            ok++;
        }
    }
    stop(planter);
    stop(swapper);
    assert_outside_untouched(t);
    assert_true(ok > FINAL_RACE_ROUNDS);
}

/* Under tests/helpers/no-openat2 the fallback must really be what runs. */
static void test_openat2_state(void **state)
{
    (void)state;
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
    long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
    int e = errno;
    if (fd >= 0)
        close((int)fd);
    const char *want = getenv("BERTH_TEST_NO_OPENAT2");
    if (want && strcmp(want, "1") == 0) {
        assert_int_equal(fd, -1);
        assert_int_equal(e, ENOSYS);
    } else {
        print_message("openat2 %s\n", fd >= 0 ? "available" : strerror(e));
    }
}

static void test_clean(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", "/"},
        {".", "/"},
        {"/", "/"},
        {"//", "/"},
        {"..", "/"},
        {"/../..", "/"},
        {"a", "/a"},
        {"a/b/", "/a/b"},
        {"/a//b///c", "/a/b/c"},
        {"/a/./b/.", "/a/b"},
        {"/a/b/..", "/a"},
        {"/a/b/../../..", "/"},
        {"../../a/../b", "/b"},
        {"/a/..b/c", "/a/..b/c"},
        {"/a/.b", "/a/.b"},
        {"/a/b/../c/./d/", "/a/c/d"},
        {"./.././x", "/x"},
        {"/..a/...", "/..a/..."},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *got = path_clean(cases[i][0]);
        if (strcmp(got, cases[i][1]) != 0)
            fail_msg("path_clean(\"%s\") = \"%s\", want \"%s\"", cases[i][0], got, cases[i][1]);
        free(got);
    }
}

static void test_has_prefix(void **state)
{
    (void)state;
    static const struct {
        const char *path, *prefix;
        bool want;
    } cases[] = {
        {"/a/b", "/a", true},       {"/a", "/a", true},       {"/ab", "/a", false},
        {"/a", "/a/b", false},      {"/anything", "/", true}, {"/", "/", true},
        {"/a/b/c", "/a/b", true},   {"/a/bc", "/a/b", false}, {"/proc/sys", "/proc", true},
        {"/procx", "/proc", false}, {"/a/b", "/a/", true},    {"/b", "/a", false},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        if (path_has_prefix(cases[i].path, cases[i].prefix) != cases[i].want)
            fail_msg("path_has_prefix(\"%s\", \"%s\") != %d", cases[i].path, cases[i].prefix,
                     cases[i].want);
    }
}

static void test_fd(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(path_fd(7, buf), "/proc/self/fd/7");
    assert_ptr_equal(path_fd(2147483647, buf), buf);
    assert_string_equal(buf, "/proc/self/fd/2147483647");
}

static void test_root_not_dir(void **state)
{
    const struct tree *t = *state;
    _cleanup_close_ int filefd = openat(t->rootfd, "file", O_PATH | O_CLOEXEC);
    assert_true(filefd >= 0);
    for (size_t i = 0; i < ARRAY_SIZE(impls); i++) {
        struct berth_error *err = NULL;
        int fd = impls[i]->open(filefd, "x", O_PATH, 0, &err);
        assert_int_equal(fd, -ENOTDIR);
        berth_error_free(err);
    }
}

#define TREE_TEST(f) cmocka_unit_test_setup_teardown(f, tree_setup, tree_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openat2_state),
        TREE_TEST(test_open_table_kernel),
        TREE_TEST(test_open_table_walk),
        TREE_TEST(test_walk_matches_kernel),
        TREE_TEST(test_long_paths),
        cmocka_unit_test(test_magic_links),
        TREE_TEST(test_open_create_kernel),
        TREE_TEST(test_open_create_walk),
        TREE_TEST(test_mkdir),
        TREE_TEST(test_create),
        TREE_TEST(test_race_swap),
        TREE_TEST(test_race_final),
        TREE_TEST(test_root_not_dir),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_has_prefix),
        cmocka_unit_test(test_fd),
    };
    /* BERTH_TEST_FILTER=test_race_swap runs one test (a pattern, as cmocka takes it) */
    const char *filter = getenv("BERTH_TEST_FILTER");
    if (filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
