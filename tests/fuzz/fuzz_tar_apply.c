/* The layer applier on arbitrary tar bytes, for real, as root: each input is applied into a fresh
 * directory, which is then removed. The directory sits in a box beside canaries:
 *
 *   $TMPDIR/berth-fuzz-tar.XXXXXX/    canary, canary-dir/inner   (never touched)
 *                                     box/canary                 (the only entry box keeps)
 *                                     box/root/                  (made and removed per input)
 *
 * box/root starts with a small tree, as a lower layer would leave it (directories, files, a
 * fifo, and symlinks to "..", "/" and the canary), so that whiteouts have something to remove.
 * After each input the canaries must be exactly as they were (inode, mode, owner, size, link
 * count, times: a write, chmod, chown, xattr or link changes the ctime), box must hold nothing
 * but its canary, and no fd may be left open on anything under the top directory: nothing made
 * or changed outside the layer directory, and no fd kept. An input of odd length is applied through
 * id maps (0:100000:65536 for uids and gids), an even one without. */
#include <archive.h>
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/error.h"
#include "fuzz.h"
#include "spec/spec.h"
#include "storage/apply.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct canary {
    const char *name; /* relative to the top directory */
    struct stat st;
};

static struct {
    char top[4096];
    int top_fd;
    int box_fd;
    struct stat top_st;
    struct canary canaries[4];
} w;

static void die(const char *what)
{
    perror(what);
    abort();
}

/* An fd left open by the applier points into the top directory (the layer directory, maybe
 * removed by now). Other fds come and go: libFuzzer's own thread reads /proc now and then. */
static void check_fds(void)
{
    int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        die("open /proc/self/fd");
    DIR *d = fdopendir(fd);
    if (!d)
        die("fdopendir /proc/self/fd");
    size_t top_len = strlen(w.top);
    struct dirent *de;
    while ((de = readdir(d))) {
        int n = atoi(de->d_name);
        if (de->d_name[0] == '.' || n == dirfd(d) || n == w.top_fd || n == w.box_fd)
            continue;
        char target[4096 + 32];
        ssize_t len = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
        if (len < 0)
            continue; /* closed meanwhile: not ours */
        target[len] = '\0';
        FUZZ_CHECK(strncmp(target, w.top, top_len) != 0, "fd %d was left open on %s", n, target);
    }
    closedir(d);
}

static void write_file(int dirfd, const char *name, const char *text)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        die(name);
    close(fd);
}

static void remove_top(void)
{
    if (w.top_fd < 0)
        return;
    close(w.top_fd);
    close(w.box_fd);
    w.top_fd = w.box_fd = -1;
    struct berth_error *err = NULL;
    fs_remove_tree_at(AT_FDCWD, w.top, &err);
    berth_error_free(err);
}

static bool same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
           a->st_uid == b->st_uid && a->st_gid == b->st_gid && a->st_size == b->st_size &&
           a->st_nlink == b->st_nlink && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (geteuid() != 0) {
        fprintf(stderr, "fuzz_tar_apply: run as root: layers are applied with their owners\n");
        exit(1);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(w.top, sizeof(w.top), "%s/berth-fuzz-tar.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(w.top))
        die("mkdtemp");
    w.top_fd = open(w.top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w.top_fd < 0)
        die(w.top);
    if (mkdirat(w.top_fd, "canary-dir", 0755) < 0 || mkdirat(w.top_fd, "box", 0755) < 0)
        die("mkdir");
    write_file(w.top_fd, "canary", "canary\n");
    write_file(w.top_fd, "canary-dir/inner", "inner\n");
    write_file(w.top_fd, "box/canary", "box\n");
    w.box_fd = openat(w.top_fd, "box", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w.box_fd < 0)
        die("box");
    static const char *const names[] = {"canary", "canary-dir", "canary-dir/inner", "box/canary"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        w.canaries[i].name = names[i];
        if (fstatat(w.top_fd, names[i], &w.canaries[i].st, AT_SYMLINK_NOFOLLOW) < 0)
            die(names[i]);
    }
    if (fstat(w.top_fd, &w.top_st) < 0)
        die("stat top");
    atexit(remove_top);
    return 0;
}

/* box holds its canary and nothing else. */
static void check_box(void)
{
    int fd = openat(w.box_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        die("open box");
    DIR *d = fdopendir(fd);
    if (!d)
        die("fdopendir box");
    struct dirent *de;
    while ((de = readdir(d)))
        FUZZ_CHECK(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                       strcmp(de->d_name, "canary") == 0,
                   "%s/box/%s appeared outside the layer", w.top, de->d_name);
    closedir(d);
}

static void check_outside(void)
{
    struct stat st;
    if (fstat(w.top_fd, &st) < 0)
        die("stat top");
    FUZZ_CHECK(same(&st, &w.top_st), "%s changed", w.top);
    for (size_t i = 0; i < ARRAY_SIZE(w.canaries); i++) {
        FUZZ_CHECK(fstatat(w.top_fd, w.canaries[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0,
                   "%s/%s is gone", w.top, w.canaries[i].name);
        FUZZ_CHECK(same(&st, &w.canaries[i].st), "%s/%s changed", w.top, w.canaries[i].name);
    }
    check_box();
}

/* What lower layers left, for whiteouts and opaque directories to remove and for entries to
 * replace; the symlinks lead out of the layer, as an image's may. */
static void make_lower(int root)
{
    static const char *const dirs[] = {"etc", "var", "var/lib", "var/lib/sub", "usr", "usr/lib"};
    static const char *const files[] = {"etc/passwd", "etc/old", "var/lib/a", "var/lib/sub/deep",
                                        "usr/lib/libc.so"};
    static const char *const links[][2] = {
        {"lib", "usr/lib"}, {"up", "../.."}, {"abs", "/"}, {"canary", "../../canary"}};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        if (mkdirat(root, dirs[i], 0755) < 0)
            die(dirs[i]);
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        write_file(root, files[i], files[i]);
    for (size_t i = 0; i < ARRAY_SIZE(links); i++)
        if (symlinkat(links[i][1], root, links[i][0]) < 0)
            die(links[i][0]);
    if (mknodat(root, "etc/fifo", S_IFIFO | 0644, 0) < 0)
        die("mkfifo");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct spec_id_mapping range = {0, 100000, 65536};
    static const struct copy_id_map map = {&range, 1};
    static const struct apply_options mapped = {&map, &map};

    if (mkdirat(w.box_fd, "root", 0755) < 0)
        die("mkdir box/root");
    int root = openat(w.box_fd, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0)
        die("open box/root");
    make_lower(root);

    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    struct berth_error *err = NULL;
    struct copy_stats st = {0};
    int r = 0;
    if (archive_read_open_memory(a, data, size) == ARCHIVE_OK)
        r = apply_archive(root, a, size % 2 ? &mapped : NULL, &st, &err);
    archive_read_free(a);
    if (r < 0)
        FUZZ_CHECK(err && err->msg && *err->msg, "failed without a message");
    else
        FUZZ_CHECK(!err, "success with an error set");
    berth_error_free(err);
    close(root);

    err = NULL;
    if (fs_remove_tree_at(w.box_fd, "root", &err) < 0) {
        fprintf(stderr, "remove %s/box/root: %s\n", w.top, err->msg);
        abort();
    }
    check_outside();
    check_fds();
    return 0;
}
