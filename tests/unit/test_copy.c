/* copy_tree: fidelity for every file kind, id shifting, symlinks never followed, mounts never
 * entered. Runs as root (chown, mknod, trusted.* xattrs, mount). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/error.h"
#include "spec/spec.h"
#include "linux/copy.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

struct fixture {
    char dir[64];
    int src, dst;
    char **paths; /* every path P() made, freed at teardown */
    size_t n_paths;
};

/* A path below the test directory; it lives until teardown. */
static const char *P(struct fixture *f, const char *rel)
{
    f->paths = xreallocarray(f->paths, f->n_paths + 1, sizeof(*f->paths));
    return f->paths[f->n_paths++] = xasprintf("%s/%s", f->dir, rel);
}

static int setup(void **state)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_copy needs root\n");
        return -1;
    }
    struct fixture *f = xzalloc(sizeof(*f));
    strcpy(f->dir, "/tmp/berth-test-copy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    const char *s = P(f, "src"), *d = P(f, "dst");
    assert_int_equal(mkdir(s, 0755), 0);
    assert_int_equal(mkdir(d, 0755), 0);
    f->src = open(s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f->dst = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    const char *mnt = P(f, "src/mnt");
    umount2(mnt, MNT_DETACH);
    close(f->src);
    close(f->dst);
    struct berth_error *err = NULL;
    assert_int_equal(fs_remove_tree_at(AT_FDCWD, f->dir, &err), 0);
    for (size_t i = 0; i < f->n_paths; i++)
        free(f->paths[i]);
    free(f->paths);
    free(f);
    return 0;
}

static void put(struct fixture *f, const char *rel, const char *data, mode_t mode)
{
    const char *p = P(f, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

static void times_of(struct fixture *f, const char *rel, long sec, long nsec)
{
    const char *p = P(f, rel);
    struct timespec ts[2] = {{sec - 1000, nsec / 3}, {sec, nsec}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void xattr_of(struct fixture *f, const char *rel, const char *key, const void *v, size_t len)
{
    const char *p = P(f, rel);
    assert_int_equal(lsetxattr(p, key, v, len, 0), 0);
}

/* A POSIX ACL in its xattr form: user::rw- user:UID:r-- group::r-- mask::r-- other::---. */
static size_t make_acl(char *buf, uint32_t uid)
{
    struct {
        uint16_t tag, perm;
        uint32_t id;
    } e[] = {{0x01, 6, 0xffffffff},
             {0x02, 4, uid},
             {0x04, 4, 0xffffffff},
             {0x10, 4, 0xffffffff},
             {0x20, 0, 0xffffffff}};
    uint32_t version = 2;
    memcpy(buf, &version, 4);
    memcpy(buf + 4, e, sizeof(e));
    return 4 + sizeof(e);
}

/* Every kind of entry, each with something that a careless copy loses. */
static void build_tree(struct fixture *f)
{
    const char *etc = P(f, "src/etc"), *tmp = P(f, "src/tmp"), *sg = P(f, "src/sgid"),
               *priv = P(f, "src/etc/private");
    assert_int_equal(mkdir(etc, 0755), 0);
    assert_int_equal(mkdir(tmp, 0755), 0);
    assert_int_equal(chmod(tmp, 01777), 0);
    assert_int_equal(mkdir(sg, 0755), 0);
    assert_int_equal(chown(sg, 0, 4242), 0);
    assert_int_equal(chmod(sg, 02775), 0);
    assert_int_equal(mkdir(priv, 0700), 0);
    assert_int_equal(chown(priv, 33, 33), 0);

    put(f, "src/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
    put(f, "src/etc/empty", "", 0600);
    put(f, "src/sgid/inherits", "group 4242\n", 0640);
    assert_int_equal(lchown(P(f, "src/sgid/inherits"), 0, 4242), 0);
    put(f, "src/etc/suid", "#!/bin/sh\n", 0755);
    const char *suid = P(f, "src/etc/suid");
    assert_int_equal(chown(suid, 1234, 5678), 0);
    assert_int_equal(chmod(suid, 06755), 0);
    /* v2 file capabilities: cap_net_raw (13), permitted and effective */
    unsigned char caps[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20};
    xattr_of(f, "src/etc/suid", "security.capability", caps, sizeof(caps));
    xattr_of(f, "src/etc/passwd", "user.note", "hello", 5);
    xattr_of(f, "src/etc/passwd", "trusted.overlay.opaque", "y", 1);
    char acl[64];
    size_t acl_len = make_acl(acl, 1000);
    xattr_of(f, "src/etc/passwd", "system.posix_acl_access", acl, acl_len);
    xattr_of(f, "src/etc", "user.dir", "d", 1);

    /* hardlinks across directories */
    put(f, "src/etc/hl1", "linked\n", 0644);
    assert_int_equal(link(P(f, "src/etc/hl1"), P(f, "src/hl2")), 0);
    assert_int_equal(link(P(f, "src/etc/hl1"), P(f, "src/tmp/hl3")), 0);

    /* sparse: a hole, 4 KiB of data at 1 MiB, a trailing hole to 8 MiB */
    const char *sp = P(f, "src/sparse");
    int fd = open(sp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    char block[4096];
    memset(block, 'x', sizeof(block));
    assert_int_equal(pwrite(fd, block, sizeof(block), 1 << 20), (ssize_t)sizeof(block));
    assert_int_equal(ftruncate(fd, 8 << 20), 0);
    close(fd);

    assert_int_equal(symlink("/etc/shadow", P(f, "src/abs-link")), 0);
    assert_int_equal(symlink("etc/passwd", P(f, "src/rel-link")), 0);
    assert_int_equal(lchown(P(f, "src/rel-link"), 7, 8), 0);
    assert_int_equal(mknod(P(f, "src/null"), S_IFCHR | 0666, makedev(1, 3)), 0);
    assert_int_equal(mknod(P(f, "src/loop9"), S_IFBLK | 0660, makedev(7, 9)), 0);
    assert_int_equal(mkfifo(P(f, "src/fifo"), 0620), 0);
    int sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *skp = P(f, "src/sock");
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", skp);
    assert_int_equal(bind(sk, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(sk);

    const char *timed[] = {"src/etc/passwd", "src/etc/empty", "src/sparse", "src/abs-link",
                           "src/null",       "src/fifo",      "src/sock",   "src/etc/suid",
                           "src/etc",        "src/tmp",       "src/sgid",   "src/etc/private"};
    for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++)
        times_of(f, timed[i], 1500000000 + (long)i, 123456789 - (long)i);
}

struct maps {
    const struct copy_id_map *u, *g;
};

static uint32_t map_id(const struct copy_id_map *m, uint32_t id)
{
    uint32_t h;
    assert_int_equal(copy_id_map_to_host(m, id, &h), 0);
    return h;
}

static void compare_xattrs(const char *a, const char *b, bool shifted)
{
    char la[4096], lb[4096];
    ssize_t na = llistxattr(a, la, sizeof(la)), nb = llistxattr(b, lb, sizeof(lb));
    assert_true(na >= 0 && nb >= 0);
    assert_int_equal(na, nb);
    for (char *k = la; k < la + na; k += strlen(k) + 1) {
        char va[1024], vb[1024];
        ssize_t x = lgetxattr(a, k, va, sizeof(va)), y = lgetxattr(b, k, vb, sizeof(vb));
        if (y < 0)
            fail_msg("%s: xattr %s lost", b, k);
        assert_int_equal(x, y);
        if (!shifted || strncmp(k, "system.posix_acl", 16) != 0)
            assert_memory_equal(va, vb, (size_t)x);
    }
}

/* Reading must not move the atimes that are being compared (hardlinks share them). */
static size_t read_noatime(const char *path, char **out)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *out = xmalloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, *out, (size_t)st.st_size + 1), st.st_size);
    return (size_t)st.st_size;
}

/* Compare src and dst recursively, entry by entry. */
static void compare(const char *src, const char *dst, struct maps m, bool shifted)
{
    struct stat a, b;
    assert_int_equal(lstat(src, &a), 0);
    if (lstat(dst, &b) < 0)
        fail_msg("%s missing", dst);
    assert_int_equal(a.st_mode, b.st_mode);
    assert_int_equal(map_id(m.u, a.st_uid), b.st_uid);
    assert_int_equal(map_id(m.g, a.st_gid), b.st_gid);
    assert_int_equal(a.st_nlink, b.st_nlink);
    assert_int_equal(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
    assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
    compare_xattrs(src, dst, shifted);
    if (S_ISREG(a.st_mode)) {
        /* Reading the source for the copy must not have touched its atime either. */
        assert_int_equal(a.st_atim.tv_sec, b.st_atim.tv_sec);
        assert_int_equal(a.st_atim.tv_nsec, b.st_atim.tv_nsec);
        assert_int_equal(a.st_size, b.st_size);
        assert_true(b.st_blocks <= a.st_blocks);
        _cleanup_free_ char *da = NULL, *db = NULL;
        size_t la = read_noatime(src, &da), lb = read_noatime(dst, &db);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
    } else if (S_ISLNK(a.st_mode)) {
        char ta[256], tb[256];
        ssize_t x = readlink(src, ta, sizeof(ta)), y = readlink(dst, tb, sizeof(tb));
        assert_int_equal(x, y);
        assert_memory_equal(ta, tb, (size_t)x);
    } else if (S_ISCHR(a.st_mode) || S_ISBLK(a.st_mode)) {
        assert_int_equal(a.st_rdev, b.st_rdev);
    } else if (S_ISDIR(a.st_mode)) {
        DIR *d = opendir(src);
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            _cleanup_free_ char *sa = xasprintf("%s/%s", src, de->d_name);
            _cleanup_free_ char *sb = xasprintf("%s/%s", dst, de->d_name);
            compare(sa, sb, m, shifted);
            n++;
        }
        closedir(d);
        d = opendir(dst);
        size_t k = 0;
        while ((de = readdir(d)))
            k += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        assert_int_equal(n, k);
    }
}

static void test_fidelity(void **state)
{
    struct fixture *f = *state;
    build_tree(f);
    struct berth_error *err = NULL;
    struct copy_stats st;
    int r = copy_tree(f->src, f->dst, NULL, &st, &err);
    if (r < 0)
        fail_msg("copy_tree: %s", err->msg);
    assert_true(st.files >= 17);
    struct copy_id_map id = {0};
    const char *s = P(f, "src"), *d = P(f, "dst");
    compare(s, d, (struct maps){&id, &id}, false);

    /* Linked names stay one inode. */
    struct stat a, b, c;
    assert_int_equal(lstat(P(f, "dst/etc/hl1"), &a), 0);
    assert_int_equal(lstat(P(f, "dst/hl2"), &b), 0);
    assert_int_equal(lstat(P(f, "dst/tmp/hl3"), &c), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_ino, c.st_ino);
    assert_int_equal(a.st_nlink, 3);

    /* The hole is still a hole: data starts at 1 MiB, and the tail is unallocated. */
    _cleanup_close_ int fd = open(P(f, "dst/sparse"), O_RDONLY | O_CLOEXEC);
    assert_int_equal(lseek(fd, 0, SEEK_DATA), 1 << 20);
    assert_true(lseek(fd, 1 << 20, SEEK_HOLE) < (4 << 20));
    assert_int_equal(fstat(fd, &a), 0);
    assert_true(a.st_blocks * 512 <= 64 * 1024);

    /* setuid/setgid survived the chown, and so did the capability. */
    assert_int_equal(lstat(P(f, "dst/etc/suid"), &a), 0);
    assert_int_equal(a.st_mode & 07777, 06755);
    assert_true(lgetxattr(P(f, "dst/etc/suid"), "security.capability", NULL, 0) == 20);
    assert_int_equal(lstat(P(f, "dst/sock"), &a), 0);
    assert_true(S_ISSOCK(a.st_mode));
}

static void test_id_shift(void **state)
{
    struct fixture *f = *state;
    build_tree(f);
    assert_int_equal(lchown(P(f, "src/etc/empty"), 2500, 2500), 0);
    const struct spec_id_mapping um[] = {{0, 100000, 2000}, {2000, 300000, 10000}};
    const struct spec_id_mapping gm[] = {{0, 200000, 65536}};
    struct copy_id_map u = {um, 2}, g = {gm, 1};
    struct copy_options o = {.uid_map = &u, .gid_map = &g};
    struct berth_error *err = NULL;
    int r = copy_tree(f->src, f->dst, &o, NULL, &err);
    if (r < 0)
        fail_msg("copy_tree: %s", err->msg);
    const char *s = P(f, "src"), *d = P(f, "dst");
    compare(s, d, (struct maps){&u, &g}, true);

    struct stat st;
    assert_int_equal(fstat(f->dst, &st), 0);
    assert_int_equal(st.st_uid, 100000);
    assert_int_equal(lstat(P(f, "dst/etc/suid"), &st), 0);
    assert_int_equal(st.st_uid, 101234);
    assert_int_equal(st.st_gid, 205678);
    assert_int_equal(st.st_mode & 07777, 06755);
    assert_int_equal(lstat(P(f, "dst/etc/empty"), &st), 0);
    assert_int_equal(st.st_uid, 300500);
    assert_int_equal(st.st_gid, 202500);
    /* The ACL's named user moved with the owners. */
    char acl[64];
    ssize_t n = lgetxattr(P(f, "dst/etc/passwd"), "system.posix_acl_access", acl, sizeof(acl));
    assert_int_equal(n, 44);
    uint32_t id;
    memcpy(&id, acl + 4 + 8 + 4, 4);
    assert_int_equal(id, 101000);
}

static void test_unmapped_owner_fails(void **state)
{
    struct fixture *f = *state;
    put(f, "src/far", "x", 0644);
    assert_int_equal(lchown(P(f, "src/far"), 70000, 0), 0);
    const struct spec_id_mapping m[] = {{0, 100000, 65536}};
    struct copy_id_map u = {m, 1};
    struct copy_options o = {.uid_map = &u, .gid_map = &u};
    struct berth_error *err = NULL;
    assert_true(copy_tree(f->src, f->dst, &o, NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "uid 70000 is not in the uid map"));
    assert_non_null(strstr(err->msg, "far"));
    berth_error_free(err);
}

/* Symlinks pointing out of the tree are copied as symlinks; nothing outside is read or
 * changed, and a directory symlink is not descended. */
static void test_symlink_outside_not_followed(void **state)
{
    struct fixture *f = *state;
    const char *out = P(f, "outside");
    assert_int_equal(mkdir(out, 0700), 0);
    put(f, "outside/canary", "canary\n", 0600);
    struct stat before, after;
    const char *canary = P(f, "outside/canary");
    assert_int_equal(stat(canary, &before), 0);
    assert_int_equal(symlink(out, P(f, "src/dirlink")), 0);
    assert_int_equal(symlink("../outside/canary", P(f, "src/filelink")), 0);
    assert_int_equal(symlink("../../../../../../../../", P(f, "src/up")), 0);
    const struct spec_id_mapping m[] = {{0, 100000, 65536}};
    struct copy_id_map u = {m, 1};
    struct copy_options o = {.uid_map = &u, .gid_map = &u};
    struct berth_error *err = NULL;
    assert_int_equal(copy_tree(f->src, f->dst, &o, NULL, &err), 0);
    struct stat st;
    assert_int_equal(lstat(P(f, "dst/dirlink"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(st.st_uid, 100000);
    assert_int_equal(lstat(P(f, "dst/filelink"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(canary, &after), 0);
    assert_int_equal(after.st_uid, 0);
    assert_int_equal(after.st_mode, before.st_mode);
    assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    assert_int_equal(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
    DIR *d = opendir(out);
    size_t n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    assert_int_equal(n, 3); /* ., .., canary */
}

static void test_mount_not_entered(void **state)
{
    struct fixture *f = *state;
    const char *mnt = P(f, "src/mnt");
    assert_int_equal(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0)
        skip();
    put(f, "src/mnt/inside", "on another mount\n", 0644);
    struct berth_error *err = NULL;
    assert_int_equal(copy_tree(f->src, f->dst, NULL, NULL, &err), 0);
    struct stat st;
    assert_int_equal(lstat(P(f, "dst/mnt"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(lstat(P(f, "dst/mnt/inside"), &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_skip_selinux(void **state)
{
    struct fixture *f = *state;
    put(f, "src/labelled", "x", 0644);
    const char label[] = "system_u:object_r:etc_t:s0";
    const char *p = P(f, "src/labelled");
    if (lsetxattr(p, "security.selinux", label, sizeof(label), 0) < 0)
        skip(); /* an LSM refuses the made-up label */
    xattr_of(f, "src/labelled", "user.keep", "1", 1);
    struct copy_options o = {.skip_selinux = true};
    struct berth_error *err = NULL;
    assert_int_equal(copy_tree(f->src, f->dst, &o, NULL, &err), 0);
    char v[128];
    ssize_t n = lgetxattr(P(f, "dst/labelled"), "security.selinux", v, sizeof(v));
    assert_true(n < 0 || memcmp(v, label, sizeof(label)) != 0);
    assert_int_equal(lgetxattr(P(f, "dst/labelled"), "user.keep", v, sizeof(v)), 1);
}

static void test_many_files_and_depth(void **state)
{
    struct fixture *f = *state;
    /* Enough files to pass through the helper threads' queue many times over, deep enough to
     * need several getdents buffers. */
    char rel[4096] = "src";
    for (int depth = 0; depth < 40; depth++) {
        strcat(rel, "/d");
        const char *p = P(f, rel);
        assert_int_equal(mkdir(p, 0755), 0);
    }
    for (int i = 0; i < 3000; i++) {
        char name[64];
        snprintf(name, sizeof(name), "src/d/f%04d", i);
        put(f, name, name, 0644);
    }
    struct berth_error *err = NULL;
    struct copy_stats st;
    assert_int_equal(copy_tree(f->src, f->dst, NULL, &st, &err), 0);
    assert_int_equal(st.files, 3040);
    const char *s = P(f, "src"), *d = P(f, "dst");
    struct copy_id_map id = {0};
    compare(s, d, (struct maps){&id, &id}, false);
}

static void test_hardlinks_across_batches(void **state)
{
    struct fixture *f = *state;
    /* More files than one batch holds, each with two more names: one in the same directory and
     * one in a directory walked later, some setuid. */
    assert_int_equal(mkdir(P(f, "src/a"), 0755), 0);
    assert_int_equal(mkdir(P(f, "src/b"), 0755), 0);
    for (int i = 0; i < 100; i++) {
        char name[64], same[64], other[64];
        snprintf(name, sizeof(name), "src/a/f%03d", i);
        snprintf(same, sizeof(same), "src/a/g%03d", i);
        snprintf(other, sizeof(other), "src/b/h%03d", i);
        put(f, name, name, i % 7 ? 0644 : 04755);
        assert_int_equal(link(P(f, name), P(f, same)), 0);
        assert_int_equal(link(P(f, name), P(f, other)), 0);
    }
    times_of(f, "src/a", 1400000000, 111);
    times_of(f, "src/b", 1400000001, 222);
    struct berth_error *err = NULL;
    assert_int_equal(copy_tree(f->src, f->dst, NULL, NULL, &err), 0);
    struct copy_id_map id = {0};
    compare(P(f, "src"), P(f, "dst"), (struct maps){&id, &id}, false);
}

static void test_one_cpu(void **state)
{
    struct fixture *f = *state;
    /* Allowed one CPU, the walk copies alone (no helper thread): the same tree, the same copy. */
    build_tree(f);
    for (int i = 0; i < 100; i++) {
        char name[64];
        snprintf(name, sizeof(name), "src/tmp/f%03d", i);
        put(f, name, name, 0644);
    }
    times_of(f, "src/tmp", 1400000002, 333);
    cpu_set_t old, one;
    assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &old)) {
            CPU_SET(c, &one);
            break;
        }
    assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
    struct berth_error *err = NULL;
    int r = copy_tree(f->src, f->dst, NULL, NULL, &err);
    assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
    if (r < 0)
        fail_msg("copy_tree: %s", err->msg);
    struct copy_id_map id = {0};
    compare(P(f, "src"), P(f, "dst"), (struct maps){&id, &id}, false);
}

static void test_id_map_lookup(void **state)
{
    const struct spec_id_mapping m[] = {{0, 1000, 10}, {100, 5000, 1}};
    struct copy_id_map map = {m, 2};
    uint32_t h;
    assert_int_equal(copy_id_map_to_host(&map, 0, &h), 0);
    assert_int_equal(h, 1000);
    assert_int_equal(copy_id_map_to_host(&map, 9, &h), 0);
    assert_int_equal(h, 1009);
    assert_int_equal(copy_id_map_to_host(&map, 10, &h), -ERANGE);
    assert_int_equal(copy_id_map_to_host(&map, 100, &h), 0);
    assert_int_equal(h, 5000);
    assert_int_equal(copy_id_map_to_host(NULL, 77, &h), 0);
    assert_int_equal(h, 77);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_map_lookup),
        cmocka_unit_test_setup_teardown(test_fidelity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_shift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmapped_owner_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_outside_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount_not_entered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_selinux, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_files_and_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlinks_across_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_cpu, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
