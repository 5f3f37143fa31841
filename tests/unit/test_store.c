/* The VFS layer store: layout and modes, create/list/remove, refusals, crash recovery, the lock,
 * labels and unmount on removal. Runs as root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "berth/error.h"
#include "spec/spec.h"
#include "storage/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

struct fixture {
    char dir[64];
    char root[96];
};

static int setup(void **state)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_store needs root\n");
        return -1;
    }
    struct fixture *f = xzalloc(sizeof(*f));
    strcpy(f->dir, "/tmp/berth-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->root, sizeof(f->root), "%s/a/storage", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    if (fs_remove_tree_at(AT_FDCWD, f->dir, &err) < 0)
        fail_msg("cleanup: %s", err->msg);
    free(f);
    return 0;
}

static struct storage *open_ok(const char *root, unsigned flags)
{
    struct storage *s = NULL;
    struct berth_error *err = NULL;
    if (storage_open(root, flags, &s, &err) < 0)
        fail_msg("storage_open: %s", err->msg);
    storage_set_label(s, NULL);
    return s;
}

static mode_t mode_of(const char *root, const char *rel)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
    struct stat st;
    if (lstat(p, &st) < 0)
        return (mode_t)-1;
    return st.st_mode;
}

struct files {
    int n;
    const char *name;
};

/* populate: write n files, or loop writing until killed when n < 0 */
static int write_files(void *data, int fd, struct copy_stats *st, struct berth_error **err)
{
    const struct files *w = data;
    if (w->name) {
        _cleanup_close_ int dfd = -1;
        if (mkdirat(fd, w->name, 0755) < 0)
            return berth_error_set(err, errno, "mkdir");
        dfd = openat(fd, w->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int i = 0; w->n < 0 || i < w->n; i++) {
            char name[32];
            snprintf(name, sizeof(name), "f%06d", i);
            int f = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (f < 0)
                return berth_error_set(err, errno, "create %s", name);
            if (write(f, name, strlen(name)) < 0)
                return berth_error_set(err, errno, "write");
            close(f);
            st->files++;
        }
    }
    return 0;
}

static void test_layout_create_list_remove(void **state)
{
    struct fixture *f = *state;
    struct storage *s = open_ok(f->root, 0);
    assert_int_equal(mode_of(f->root, ".") & 07777, 0700);
    assert_int_equal(mode_of(f->root, "vfs") & 07777, 0710);
    assert_int_equal(mode_of(f->root, "vfs/dir") & 07777, 0710);

    struct berth_error *err = NULL;
    struct files w = {5, "etc"};
    struct storage_layer_opts o = {.populate = write_files, .populate_data = &w};
    assert_int_equal(storage_layer_create(s, "base", NULL, NULL, NULL, &o, &err), 0);
    const struct spec_id_mapping m[] = {{0, 100000, 65536}};
    struct copy_id_map map = {m, 1};
    assert_int_equal(storage_layer_create(s, "child", "base", &map, &map, NULL, &err), 0);

    assert_true(storage_layer_exists(s, "base"));
    assert_true(storage_layer_exists(s, "child"));
    assert_false(storage_layer_exists(s, "nope"));
    assert_false(storage_layer_exists(s, "../base"));
    _cleanup_free_ char *path = NULL;
    assert_int_equal(storage_layer_path(s, "child", &path, &err), 0);
    _cleanup_free_ char *want = xasprintf("%s/vfs/dir/child", f->root);
    assert_string_equal(path, want);
    assert_int_equal(mode_of(f->root, "vfs/dir/base") & 07777, 0755);

    struct stat st;
    _cleanup_free_ char *file = xasprintf("%s/etc/f000004", path);
    assert_int_equal(lstat(file, &st), 0);
    assert_int_equal(st.st_uid, 100000);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_uid, 100000);

    struct storage_layer *v;
    size_t n;
    assert_int_equal(storage_layer_list(s, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].id, "base");
    assert_null(v[0].parent);
    assert_string_equal(v[1].id, "child");
    assert_string_equal(v[1].parent, "base");
    assert_int_equal(v[1].files, 6);
    assert_non_null(strchr(v[1].created, 'T'));
    storage_layer_list_free(v, n);

    /* A parent goes only after its children. */
    assert_int_equal(storage_layer_remove(s, "base", &err), -EBUSY);
    assert_non_null(strstr(err->msg, "parent of layer child"));
    berth_error_freep(&err);
    assert_int_equal(storage_layer_remove(s, "child", &err), 0);
    assert_int_equal(storage_layer_remove(s, "base", &err), 0);
    assert_int_equal(mode_of(f->root, "vfs/dir/base"), (mode_t)-1);
    storage_close(s);

    /* The index says the same after a reopen. */
    s = open_ok(f->root, STORAGE_OPEN_READONLY);
    assert_int_equal(storage_layer_list(s, &v, &n, &err), 0);
    assert_int_equal(n, 0);
    storage_layer_list_free(v, n);
    storage_close(s);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    struct storage *s = open_ok(f->root, 0);
    struct berth_error *err = NULL;
    char *opts[] = {"size=10G", NULL};
    struct storage_layer_opts o = {.storage_opts = opts};
    assert_true(storage_layer_create(s, "x", NULL, NULL, NULL, &o, &err) < 0);
    assert_string_equal(err->msg, "--storage-opt is not supported for vfs");
    berth_error_freep(&err);

    const char *bad[] = {"", ".", "..", "../x", "a/b", ".hidden", "-rf", "a b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(storage_layer_create(s, bad[i], NULL, NULL, NULL, NULL, &err) < 0);
        assert_non_null(strstr(err->msg, "an id is"));
        berth_error_freep(&err);
    }
    assert_int_equal(storage_layer_create(s, "a", "missing", NULL, NULL, NULL, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "parent layer missing"));
    berth_error_freep(&err);
    assert_int_equal(storage_layer_create(s, "a", NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(storage_layer_create(s, "a", NULL, NULL, NULL, NULL, &err), -EEXIST);
    berth_error_freep(&err);
    /* A map without container root cannot own the layer root. */
    const struct spec_id_mapping m[] = {{1, 100000, 10}};
    struct copy_id_map map = {m, 1};
    assert_true(storage_layer_create(s, "b", NULL, &map, &map, NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "container root"));
    berth_error_freep(&err);
    assert_false(storage_layer_exists(s, "b"));
    assert_int_equal(mode_of(f->root, "vfs/dir/b"), (mode_t)-1);
    storage_close(s);

    s = open_ok(f->root, STORAGE_OPEN_READONLY);
    assert_true(storage_layer_create(s, "c", NULL, NULL, NULL, NULL, &err) < 0);
    berth_error_freep(&err);
    storage_close(s);
}

static void test_failed_populate_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    struct storage *s = open_ok(f->root, 0);
    struct berth_error *err = NULL;
    struct files w = {3, "x/y"}; /* mkdir of a nested name fails after the layer dir exists */
    struct storage_layer_opts o = {.populate = write_files, .populate_data = &w};
    assert_true(storage_layer_create(s, "broken", NULL, NULL, NULL, &o, &err) < 0);
    berth_error_freep(&err);
    assert_false(storage_layer_exists(s, "broken"));
    assert_int_equal(mode_of(f->root, "vfs/dir/broken"), (mode_t)-1);
    _cleanup_free_ char *index = NULL;
    _cleanup_free_ char *vfs = xasprintf("%s/vfs", f->root);
    int vfd = open(vfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(fs_read_file_at(vfd, "layers.json", 1 << 20, &index, NULL, &err), 0);
    close(vfd);
    assert_null(strstr(index, "broken"));
    storage_close(s);
}

/* Kill a berth in the middle of copying a big layer: the next open removes every trace. */
static void test_killed_mid_copy(void **state)
{
    struct fixture *f = *state;
    struct storage *s = open_ok(f->root, 0);
    struct berth_error *err = NULL;
    struct files w = {20000, "many"};
    struct storage_layer_opts o = {.populate = write_files, .populate_data = &w};
    assert_int_equal(storage_layer_create(s, "big", NULL, NULL, NULL, &o, &err), 0);
    storage_close(s);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct storage *cs = NULL;
        struct berth_error *cerr = NULL;
        if (storage_open(f->root, 0, &cs, &cerr) < 0)
            _exit(2);
        storage_layer_create(cs, "copy", "big", NULL, NULL, NULL, &cerr);
        _exit(3); /* too late: the parent meant to kill us before this */
    }
    /* Wait until the copy is under way, then kill it. */
    _cleanup_free_ char *probe = xasprintf("%s/vfs/dir/copy/many/f000100", f->root);
    struct stat st;
    for (int i = 0; i < 300000 && lstat(probe, &st) < 0; i++)
        usleep(100);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
        skip(); /* the copy finished before the kill: nothing to recover from */
    assert_int_equal(lstat(probe, &st), 0); /* a partial copy is there */

    /* A reader does not see it, and does not remove it either. */
    s = open_ok(f->root, STORAGE_OPEN_READONLY);
    assert_false(storage_layer_exists(s, "copy"));
    storage_close(s);
    s = open_ok(f->root, 0);
    assert_false(storage_layer_exists(s, "copy"));
    assert_int_equal(mode_of(f->root, "vfs/dir/copy"), (mode_t)-1);
    assert_true(storage_layer_exists(s, "big"));
    struct storage_layer *v;
    size_t n;
    assert_int_equal(storage_layer_list(s, &v, &n, &err), 0);
    assert_int_equal(n, 1);
    storage_layer_list_free(v, n);
    /* and the id is free again */
    assert_int_equal(storage_layer_create(s, "copy", NULL, NULL, NULL, NULL, &err), 0);
    storage_close(s);
}

static void test_lock(void **state)
{
    struct fixture *f = *state;
    struct storage *s = open_ok(f->root, 0);
    _cleanup_free_ char *lock = xasprintf("%s/storage.lock", f->root);
    /* Another open file description is another berth, as far as flock goes. */
    _cleanup_close_ int fd = open(lock, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_SH | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);

    /* A second opener waits until the first closes. */
    int pipefd[2];
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* Drop the inherited descriptions of the parent's lock first: they are the parent's. */
        storage_close(s);
        struct storage *cs = NULL;
        struct berth_error *cerr = NULL;
        int r = storage_open(f->root, 0, &cs, &cerr);
        char c = r == 0 ? 'y' : 'n';
        if (write(pipefd[1], &c, 1) != 1)
            _exit(1);
        _exit(0);
    }
    close(pipefd[1]);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    char c = 0;
    assert_int_equal(fcntl(pipefd[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(read(pipefd[0], &c, 1), -1); /* still waiting */
    storage_close(s);
    assert_int_equal(fcntl(pipefd[0], F_SETFL, 0), 0);
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
}

static void test_label(void **state)
{
    struct fixture *f = *state;
    struct storage *s = open_ok(f->root, 0);
    storage_set_label(s, STORAGE_SELINUX_LABEL);
    struct berth_error *err = NULL;
    int r = storage_layer_create(s, "l", NULL, NULL, NULL, NULL, &err);
    if (r < 0 && err->code == EOPNOTSUPP) {
        berth_error_free(err);
        storage_close(s);
        skip();
    }
    assert_int_equal(r, 0);
    _cleanup_free_ char *p = xasprintf("%s/vfs/dir/l", f->root);
    char v[128] = {0};
    ssize_t n = getxattr(p, "security.selinux", v, sizeof(v));
    assert_int_equal(n, (ssize_t)sizeof(STORAGE_SELINUX_LABEL));
    assert_string_equal(v, STORAGE_SELINUX_LABEL);
    storage_close(s);
}

static void test_remove_unmounts(void **state)
{
    struct fixture *f = *state;
    struct storage *s = open_ok(f->root, 0);
    struct berth_error *err = NULL;
    struct files w = {1, "proc"};
    struct storage_layer_opts o = {.populate = write_files, .populate_data = &w};
    assert_int_equal(storage_layer_create(s, "m", NULL, NULL, NULL, &o, &err), 0);
    _cleanup_free_ char *mnt = xasprintf("%s/vfs/dir/m/proc", f->root);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
        storage_close(s);
        skip();
    }
    _cleanup_free_ char *inner = xasprintf("%s/vfs/dir/m/proc/inner", f->root);
    assert_int_equal(mkdir(inner, 0755), 0);
    assert_int_equal(mount("tmpfs", inner, "tmpfs", 0, "size=1m"), 0);
    if (storage_layer_remove(s, "m", &err) < 0)
        fail_msg("remove: %s", err->msg);
    assert_int_equal(mode_of(f->root, "vfs/dir/m"), (mode_t)-1);
    storage_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout_create_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_populate_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_mid_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_unmounts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
