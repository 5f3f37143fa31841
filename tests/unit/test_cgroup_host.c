/* The cgroup module against the real kernel, as root: creation, joining, resources read back
 * from the files, device rules enforced, the freezer, removal, and the v2 device program.
 * Every test uses its own cgroup names and removes them in its teardown, even after a failure.
 * The expectations follow the host's mode, so the same binary proves v1/hybrid here and v2 in
 * the VM lane. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sched.h>

#include "berth/error.h"
#include "linux/cgroup/cgroup.h"
#include "linux/cgroup/devices.h"
#include "spec/spec.h"

struct fixture {
    struct cgroup *cg, *cg2;
    pid_t child;
    volatile unsigned long *counter; /* shared with the child, which keeps counting */
    char id[48];
    char extra_dir[256]; /* a directory made by hand, removed in teardown */
    char shared_parent[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->child = -1;
    f->counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (f->counter == MAP_FAILED)
        return -1;
    static unsigned seq;
    snprintf(f->id, sizeof(f->id), "berth-ut-%d-%u", (int)getpid(), ++seq);
    *state = f;
    return 0;
}

static void rmdir_everywhere(const char *rel)
{
    static const char *roots[] = {"/sys/fs/cgroup"};
    DIR *d = opendir(roots[0]);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", roots[0], rel);
    rmdir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/%s", roots[0], de->d_name, rel);
        rmdir(path);
    }
    closedir(d);
}

static void drop(struct cgroup **cg)
{
    if (!*cg)
        return;
    struct berth_error *err = NULL;
    cgroup_signal_all(*cg, SIGKILL, &err);
    berth_error_freep(&err);
    if (cgroup_destroy(*cg, &err) < 0)
        fprintf(stderr, "teardown: %s\n", err->msg);
    berth_error_free(err);
    cgroup_free(*cg);
    *cg = NULL;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->child > 0) {
        struct berth_error *err = NULL;
        if (f->cg)
            cgroup_freeze(f->cg, false, &err); /* a frozen child would never die */
        berth_error_free(err);
        kill(f->child, SIGKILL);
        waitpid(f->child, NULL, 0);
    }
    drop(&f->cg);
    drop(&f->cg2);
    if (f->extra_dir[0])
        rmdir(f->extra_dir);
    if (f->shared_parent[0])
        rmdir_everywhere(f->shared_parent);
    munmap((void *)f->counter, 4096);
    free(f);
    return 0;
}

static void need_root(void)
{
    if (geteuid() != 0)
        skip();
}

static char *read_text(const char *dir, const char *file)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *fp = fopen(path, "re");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, fp);
    fclose(fp);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return buf;
}

static void assert_file(const char *dir, const char *file, const char *want)
{
    char *got = read_text(dir, file);
    if (!got)
        fail_msg("%s/%s: %s", dir, file, strerror(errno));
    if (strcmp(got, want) != 0)
        fail_msg("%s/%s: \"%s\", expected \"%s\"", dir, file, got, want);
    free(got);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Whether a v1 hierarchy ("cpu,cpuacct", "name=systemd") is mounted anywhere: a hierarchy can
 * exist without a mount (one a container mounted for itself outlives it), and then it has no
 * directory to expect. */
static bool v1_mounted(const char *controllers)
{
    FILE *fp = fopen("/proc/self/mountinfo", "re");
    assert_non_null(fp);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), fp)) {
        char *sep = strstr(line, " - cgroup ");
        if (!sep)
            continue;
        char *opts = strrchr(sep, ' ') + 1;
        opts[strcspn(opts, "\n")] = '\0';
        found = true;
        char want[256];
        snprintf(want, sizeof(want), "%s", controllers);
        for (char *save = NULL, *w = strtok_r(want, ",", &save); w && found;
             w = strtok_r(NULL, ",", &save)) {
            size_t wl = strlen(w);
            bool have = false;
            for (const char *o = opts; *o && !have;) {
                size_t ol = strcspn(o, ",");
                have = ol == wl && strncmp(o, w, wl) == 0;
                o += ol + (o[ol] == ',');
            }
            found = have;
        }
    }
    fclose(fp);
    return found;
}

static struct cgroup *create(const char *path, const char *id)
{
    struct cgroup *cg = NULL;
    struct berth_error *err = NULL;
    if (cgroup_create(path, id, &cg, &err) < 0)
        fail_msg("cgroup_create: %s", err->msg);
    return cg;
}

static void apply(struct cgroup *cg, const struct spec_resources *res)
{
    struct berth_error *err = NULL;
    if (cgroup_apply(cg, res, false, &err) < 0)
        fail_msg("cgroup_apply: %s", err->msg);
}

/* The container's directory in one hierarchy every host has: devices on v1, the v2 one. */
static const char *main_path(struct cgroup *cg)
{
    const char *p =
        cgroup_get_path(cg, cgroup_get_mode(cg) == CGROUP_MODE_UNIFIED ? "" : "devices");
    if (!p) {
        fail_msg("no devices or v2 directory");
        abort();
    }
    return p;
}

/* waitpid with a deadline, so that a process stuck in a frozen cgroup fails the test. */
static void wait_child(pid_t pid, int *status)
{
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(pid, status, WNOHANG);
        assert_true(r >= 0);
        if (r == pid)
            return;
        usleep(10000);
    }
    fail_msg("process %d did not end within 10s", (int)pid);
}

/* A child that joins the cgroup and counts until killed. */
static void spawn(struct fixture *f, struct cgroup *cg)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    f->child = fork();
    assert_true(f->child >= 0);
    if (f->child == 0) {
        struct berth_error *err = NULL;
        if (cgroup_join_self(cg, false, false, &err) < 0) {
            dprintf(p[1], "E%s", err->msg);
            _exit(1);
        }
        /* Fresh pages, charged to the new memory cgroup. */
        char *mem = malloc(1 << 20);
        memset(mem, 1, 1 << 20);
        if (write(p[1], "K", 1) != 1)
            _exit(1);
        for (;;) {
            (*f->counter)++;
            usleep(1000);
        }
    }
    close(p[1]);
    char buf[512] = "";
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    if (n != 1 || buf[0] != 'K')
        fail_msg("child could not join: %s", n > 0 ? buf + 1 : "no word");
}

/* Run fn in a child inside the cgroup; its exit status is the result. */
static int run_inside(struct cgroup *cg, int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct berth_error *err = NULL;
        if (cgroup_join_self(cg, false, false, &err) < 0)
            _exit(100);
        _exit(fn());
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* ---- joining through the runtime's fds ---- */

/* A child that joins through fds its parent opened lands in every hierarchy, as by path; the
 * parent's copies close, and an fd of someone else's between them stays open. */
static void test_join_v1_fds(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    if (cgroup_get_mode(f->cg) == CGROUP_MODE_UNIFIED)
        skip();
    int *fds = NULL;
    struct berth_error *err = NULL;
    if (cgroup_open_v1_joins(f->cg, &fds, &err) < 0)
        fail_msg("%s", err->msg);
    size_t n = cgroup_dir_count(f->cg), open_fds = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ctrl, *path;
        cgroup_dir_at(f->cg, i, &ctrl, &path);
        assert_true(*ctrl ? fds[i] >= 0 : fds[i] == -1);
        open_fds += fds[i] >= 0;
    }
    assert_true(open_fds >= 1);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct berth_error *e = NULL;
        if (cgroup_join_v1_fds(f->cg, fds, &e) < 0 || cgroup_join_self(f->cg, false, true, &e) < 0)
            _exit(1);
        pause();
        _exit(0);
    }
    f->child = pid;
    /* Each dir's cgroup.procs lists the child once it has joined. */
    char me[24];
    snprintf(me, sizeof(me), "%d", (int)pid);
    for (size_t i = 0; i < n; i++) {
        const char *ctrl, *path;
        cgroup_dir_at(f->cg, i, &ctrl, &path);
        char file[512], buf[4096];
        snprintf(file, sizeof(file), "%s/cgroup.procs", path);
        bool found = false;
        for (int t = 0; t < 500 && !found; t++) {
            int fd = open(file, O_RDONLY | O_CLOEXEC);
            assert_true(fd >= 0);
            ssize_t r = read(fd, buf, sizeof(buf) - 1);
            close(fd);
            buf[r > 0 ? r : 0] = '\0';
            for (char *s = NULL, *l = strtok_r(buf, "\n", &s); l && !found;
                 l = strtok_r(NULL, "\n", &s))
                found = strcmp(l, me) == 0;
            if (!found)
                usleep(10000);
        }
        if (!found)
            fail_msg("the child is not in %s", path);
    }

    /* A foreign fd in the middle of the runtime's, as when one was free below the others. */
    int mid = -1;
    for (size_t i = 0; i < n && mid < 0; i++)
        if (fds[i] >= 0) {
            mid = (int)i;
            for (size_t k = i + 1; k < n; k++)
                if (fds[k] >= 0) {
                    mid = (int)k;
                    break;
                }
        }
    int foreign = fds[mid], closed[64], nc = 0;
    fds[mid] = -1;
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            closed[nc++] = fds[i];
    cgroup_close_v1_joins(fds, n);
    assert_true(fcntl(foreign, F_GETFD) >= 0);
    close(foreign);
    for (int i = 0; i < nc; i++)
        assert_true(fcntl(closed[i], F_GETFD) < 0 && errno == EBADF);
}

/* ---- mode ---- */

static void test_detect_mode(void **state)
{
    enum cgroup_mode mode;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_detect_mode(&mode, &err), 0);
    /* Independently: what mountinfo says is mounted where. */
    FILE *fp = fopen("/proc/self/mountinfo", "re");
    assert_non_null(fp);
    char line[4096];
    bool v2_root = false, v2_unified = false;
    while (fgets(line, sizeof(line), fp)) {
        if (!strstr(line, " - cgroup2 "))
            continue;
        v2_root |= strstr(line, " /sys/fs/cgroup ") != NULL;
        v2_unified |= strstr(line, " /sys/fs/cgroup/unified ") != NULL;
    }
    fclose(fp);
    enum cgroup_mode want = v2_root      ? CGROUP_MODE_UNIFIED
                            : v2_unified ? CGROUP_MODE_HYBRID
                                         : CGROUP_MODE_LEGACY;
    assert_int_equal(mode, want);
    printf("# host cgroup mode: %s\n", cgroup_mode_name(mode));
}

/* ---- lifecycle ---- */

static void test_create_join_signal_destroy(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    const char *paths[16];
    size_t np = 0;

    /* Every hierarchy in /proc/self/cgroup has a directory named after the id, below our own
     * cgroup; and the child's /proc/PID/cgroup says it is in all of them. */
    FILE *fp = fopen("/proc/self/cgroup", "re");
    assert_non_null(fp);
    char line[1024];
    enum cgroup_mode mode = cgroup_get_mode(f->cg);
    while (fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = strchr(c1 + 1, ':');
        *c2 = '\0';
        const char *ctrl = c1 + 1;
        if ((mode == CGROUP_MODE_UNIFIED && *ctrl) || (mode == CGROUP_MODE_LEGACY && !*ctrl))
            continue;
        if (*ctrl && !v1_mounted(ctrl))
            continue;
        const char *p = cgroup_get_path(f->cg, ctrl);
        if (!p)
            fail_msg("no directory for hierarchy \"%s\"", ctrl);
        assert_true(exists(p));
        char suffix[512];
        if (mode == CGROUP_MODE_UNIFIED) {
            snprintf(suffix, sizeof(suffix), "/%s", f->id);
        } else {
            snprintf(suffix, sizeof(suffix), "%s/%s", strcmp(c2 + 1, "/") ? c2 + 1 : "", f->id);
        }
        size_t pl = strlen(p), sl = strlen(suffix);
        if (pl < sl || strcmp(p + pl - sl, suffix) != 0)
            fail_msg("%s: %s does not end in %s", ctrl, p, suffix);
        paths[np++] = p;
    }
    fclose(fp);
    assert_true(np >= 1);

    spawn(f, f->cg);
    char procfile[64];
    snprintf(procfile, sizeof(procfile), "/proc/%d/cgroup", (int)f->child);
    fp = fopen(procfile, "re");
    assert_non_null(fp);
    size_t joined = 0;
    while (fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\n")] = '\0';
        if (strstr(line, f->id))
            joined++;
    }
    fclose(fp);
    assert_int_equal(joined, np);

    pid_t *pids;
    size_t n;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_pids(f->cg, &pids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pids[0], f->child);
    free(pids);
    bool populated = false;
    assert_int_equal(cgroup_populated(f->cg, &populated, &err), 0);
    assert_true(populated);

    assert_int_equal(cgroup_signal_all(f->cg, SIGTERM, &err), 0);
    int status;
    wait_child(f->child, &status);
    f->child = -1;
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    assert_int_equal(cgroup_populated(f->cg, &populated, &err), 0);
    assert_false(populated);
    bool frozen = true;
    assert_int_equal(cgroup_is_frozen(f->cg, &frozen, &err), 0);
    assert_false(frozen);

    assert_int_equal(cgroup_destroy(f->cg, &err), 0);
    for (size_t i = 0; i < np; i++)
        if (exists(paths[i]))
            fail_msg("%s is still there", paths[i]);
    assert_int_equal(cgroup_destroy(f->cg, &err), 0); /* nothing left to do */
}

static void test_nested_absolute_and_shared_parent(void **state)
{
    need_root();
    struct fixture *f = *state;
    char one[128], two[128];
    snprintf(f->shared_parent, sizeof(f->shared_parent), "%s-top", f->id);
    snprintf(one, sizeof(one), "/%s/one", f->shared_parent);
    snprintf(two, sizeof(two), "/%s/two", f->shared_parent);
    f->cg = create(one, "ignored");
    f->cg2 = create(two, "ignored");
    const char *any = main_path(f->cg);
    char top[512];
    snprintf(top, sizeof(top), "%.*s", (int)(strlen(any) - strlen("/one")), any);
    /* Absolute: from the root of each hierarchy, whatever our own cgroup is. */
    const char *mem = cgroup_get_path(f->cg, "memory");
    if (mem && cgroup_get_mode(f->cg) != CGROUP_MODE_UNIFIED) {
        char want[256];
        snprintf(want, sizeof(want), "/sys/fs/cgroup/memory%s", one);
        assert_string_equal(mem, want);
    }
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_destroy(f->cg, &err), 0);
    /* The parent stays while the other container lives below it... */
    assert_true(exists(top));
    assert_false(exists(any));
    cgroup_free(f->cg);
    f->cg = NULL;
    assert_int_equal(cgroup_destroy(f->cg2, &err), 0);
    /* ...and the second container did not make it, so it does not remove it. */
    assert_true(exists(top));
    cgroup_free(f->cg2);
    f->cg2 = NULL;

    /* A relative nested path: every level made is removed. */
    char rel[128];
    snprintf(rel, sizeof(rel), "%s-rel/a/b", f->id);
    f->cg = create(rel, "ignored");
    const char *leaf = main_path(f->cg);
    char first[512];
    snprintf(first, sizeof(first), "%.*s", (int)(strlen(leaf) - strlen("/a/b")), leaf);
    assert_true(exists(leaf));
    const char *cpuset = cgroup_get_path(f->cg, "cpuset");
    if (cpuset && cgroup_get_mode(f->cg) != CGROUP_MODE_UNIFIED) {
        /* v1: each new cpuset level got its parent's cpus and mems. */
        char *cpus = read_text(cpuset, "cpuset.cpus"), *mems = read_text(cpuset, "cpuset.mems");
        assert_true(cpus && *cpus && mems && *mems);
        free(cpus);
        free(mems);
    }
    spawn(f, f->cg); /* would fail with ENOSPC on an empty v1 cpuset */
    kill(f->child, SIGKILL);
    waitpid(f->child, NULL, 0);
    f->child = -1;
    assert_int_equal(cgroup_destroy(f->cg, &err), 0);
    assert_false(exists(leaf));
    assert_false(exists(first));
}

/* The plan names the directories and counts the missing ones without making any; a record of
 * the plan, as create writes it before cgroup_make, removes all that make made and nothing
 * else, whenever the maker is killed. */
static void test_plan_then_make(void **state)
{
    need_root();
    struct fixture *f = *state;
    char one[128], two[128];
    snprintf(f->shared_parent, sizeof(f->shared_parent), "%s-top", f->id);
    snprintf(one, sizeof(one), "%s/one", f->shared_parent);
    snprintf(two, sizeof(two), "%s/two/leaf", f->shared_parent);
    f->cg = create(one, "ignored"); /* makes the shared parent */
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_plan(two, "ignored", &f->cg2, &err), 0);
    char leaf[512], mid[512];
    snprintf(leaf, sizeof(leaf), "%s", main_path(f->cg2));
    snprintf(mid, sizeof(mid), "%.*s", (int)(strlen(leaf) - strlen("/leaf")), leaf);
    assert_false(exists(mid));
    json_t *planned = cgroup_to_json(f->cg2), *d;
    size_t i;
    assert_true(json_array_size(json_object_get(planned, "dirs")) > 0);
    json_array_foreach(json_object_get(planned, "dirs"), i, d)
    {
        assert_int_equal(json_integer_value(json_object_get(d, "created")), 2);
    }
    /* Killed before make: the record removes nothing. */
    struct cgroup *rec = NULL;
    assert_int_equal(cgroup_from_json(planned, &rec, &err), 0);
    assert_int_equal(cgroup_destroy(rec, &err), 0);
    cgroup_free(rec);
    assert_true(exists(main_path(f->cg)));
    assert_int_equal(cgroup_make(f->cg2, &err), 0);
    assert_true(exists(leaf));
    /* Killed after make, before the record was written again. */
    assert_int_equal(cgroup_from_json(planned, &rec, &err), 0);
    assert_int_equal(cgroup_destroy(rec, &err), 0);
    cgroup_free(rec);
    json_decref(planned);
    assert_false(exists(leaf));
    assert_false(exists(mid));
    assert_true(exists(main_path(f->cg))); /* the other container's, and the shared parent */
}

static void test_destroy_after_sigkill(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    spawn(f, f->cg);
    const char *p = main_path(f->cg);
    char path[512];
    snprintf(path, sizeof(path), "%s", p);
    /* Killed and not yet reaped: destroy waits out the exit. */
    kill(f->child, SIGKILL);
    struct berth_error *err = NULL;
    if (cgroup_destroy(f->cg, &err) < 0)
        fail_msg("%s", err->msg);
    assert_false(exists(path));
    waitpid(f->child, NULL, 0);
    f->child = -1;
}

static void test_clone_into_cgroup(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    int fd = cgroup_clone_fd(f->cg);
    enum cgroup_mode mode = cgroup_get_mode(f->cg);
    if (mode == CGROUP_MODE_LEGACY) {
        assert_int_equal(fd, -1); /* no cgroup2 directory to be born in */
        return;
    }
    assert_true(fd >= 0);
    struct clone_args args = {
        .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)fd};
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Born inside: the "0::" line of /proc/self/cgroup names the container's directory. */
        char buf[2048] = "";
        int cfd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        ssize_t n = read(cfd, buf, sizeof(buf) - 1);
        close(cfd);
        const char *v2 = n > 0 ? strstr(buf, "0::") : NULL;
        if (!v2 || !strstr(v2, f->id))
            _exit(1);
        if (mode == CGROUP_MODE_UNIFIED)
            _exit(0);
        /* Hybrid: joining adds the v1 hierarchies and leaves the cgroup2 one as it is. */
        struct berth_error *err = NULL;
        if (cgroup_join_self(f->cg, false, false, &err) < 0)
            _exit(2);
        memset(buf, 0, sizeof(buf));
        cfd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        n = read(cfd, buf, sizeof(buf) - 1);
        close(cfd);
        size_t inside = 0;
        for (char *line = buf; n > 0 && (line = strstr(line, f->id)); line++)
            inside++;
        _exit(inside == cgroup_dir_count(f->cg) ? 0 : 3);
    }
    close(fd);
    int status;
    wait_child(pid, &status);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_json_roundtrip_host(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    json_t *j = cgroup_to_json(f->cg);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    j = json_loads(text, 0, NULL);
    free(text);
    struct cgroup *back = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_from_json(j, &back, &err), 0);
    json_decref(j);
    spawn(f, back); /* the restored object finds the same directories */
    pid_t *pids;
    size_t n;
    assert_int_equal(cgroup_pids(f->cg, &pids, &n, &err), 0);
    assert_int_equal(n, 1);
    free(pids);
    assert_int_equal(cgroup_signal_all(back, SIGKILL, &err), 0);
    waitpid(f->child, NULL, 0);
    f->child = -1;
    assert_int_equal(cgroup_destroy(back, &err), 0);
    const char *leaf = main_path(f->cg);
    assert_false(exists(leaf));
    cgroup_free(back);
}

/* ---- resources ---- */

/* A block device for the throttle test: BERTH_TEST_DISK ("7:0") or the first real disk. */
static bool find_disk(char *out, size_t size)
{
    const char *env = getenv("BERTH_TEST_DISK");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return true;
    }
    DIR *d = opendir("/sys/block");
    if (!d)
        return false;
    struct dirent *de;
    bool found = false;
    while (!found && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !strncmp(de->d_name, "loop", 4) ||
            !strncmp(de->d_name, "zram", 4) || !strncmp(de->d_name, "ram", 3))
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/sys/block/%s", de->d_name);
        char *dev = read_text(path, "dev");
        if (dev) {
            snprintf(out, size, "%s", dev);
            found = true;
            free(dev);
        }
    }
    closedir(d);
    return found;
}

static void test_apply_read_back(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    bool v2 = cgroup_get_mode(f->cg) == CGROUP_MODE_UNIFIED;
    char disk[32] = "";
    unsigned dmaj = 0, dmin = 0;
    if (find_disk(disk, sizeof(disk)))
        sscanf(disk, "%u:%u", &dmaj, &dmin);
    struct spec_memory mem = {.has_limit = true,
                              .limit = 64 << 20,
                              .has_swap = true,
                              .swap = 128 << 20,
                              .has_reservation = true,
                              .reservation = 32 << 20,
                              .has_kernel = true,
                              .kernel = 1 << 20};
    struct spec_cpu cpu = {.has_shares = true,
                           .shares = 512,
                           .has_quota = true,
                           .quota = 50000,
                           .has_period = true,
                           .period = 100000,
                           .cpus = "0",
                           .mems = "0"};
    struct spec_throttle_device rbps = {.major = dmaj, .minor = dmin, .rate = 1 << 20};
    struct spec_block_io bio = {.throttle_read_bps = &rbps, .n_throttle_read_bps = disk[0] ? 1 : 0};
    struct spec_resources res = {
        .memory = &mem, .cpu = &cpu, .has_pids_limit = true, .pids_limit = 42, .block_io = &bio};
    apply(f->cg, &res);

    const char *m = cgroup_get_path(f->cg, v2 ? "" : "memory");
    const char *c = cgroup_get_path(f->cg, v2 ? "" : "cpu");
    const char *cs = cgroup_get_path(f->cg, v2 ? "" : "cpuset");
    const char *p = cgroup_get_path(f->cg, v2 ? "" : "pids");
    const char *b = cgroup_get_path(f->cg, v2 ? "" : "blkio");
    if (v2) {
        assert_file(m, "memory.max", "67108864");
        if (exists("/sys/fs/cgroup/memory.swap.max") || read_text(m, "memory.swap.max"))
            assert_file(m, "memory.swap.max", "67108864");
        assert_file(m, "memory.low", "33554432");
        assert_file(c, "cpu.weight", "59");
        assert_file(c, "cpu.max", "50000 100000");
        assert_file(cs, "cpuset.cpus", "0");
        assert_file(cs, "cpuset.mems", "0");
    } else {
        assert_file(m, "memory.limit_in_bytes", "67108864");
        assert_file(m, "memory.memsw.limit_in_bytes", "134217728");
        assert_file(m, "memory.soft_limit_in_bytes", "33554432");
        assert_file(c, "cpu.shares", "512");
        assert_file(c, "cpu.cfs_quota_us", "50000");
        assert_file(c, "cpu.cfs_period_us", "100000");
        assert_file(cs, "cpuset.cpus", "0");
        assert_file(cs, "cpuset.mems", "0");
    }
    assert_file(p, "pids.max", "42");
    if (disk[0]) {
        char want[128];
        if (v2)
            snprintf(want, sizeof(want), "%s rbps=1048576 wbps=max riops=max wiops=max", disk);
        else
            snprintf(want, sizeof(want), "%s 1048576", disk);
        assert_file(b, v2 ? "io.max" : "blkio.throttle.read_bps_device", want);
    }

    /* An update raising both memory and memory+swap needs the v1 writes in the other order. */
    mem.limit = 256 << 20;
    mem.swap = 512 << 20;
    struct spec_resources up = {.memory = &mem, .has_pids_limit = true, .pids_limit = -1};
    struct berth_error *err = NULL;
    if (cgroup_apply(f->cg, &up, true, &err) < 0)
        fail_msg("update: %s", err->msg);
    assert_file(m, v2 ? "memory.max" : "memory.limit_in_bytes", "268435456");
    if (!v2)
        assert_file(m, "memory.memsw.limit_in_bytes", "536870912");
    assert_file(p, "pids.max", "max");

    /* Stats see the limits and a process. */
    spawn(f, f->cg);
    struct cgroup_stats st;
    assert_int_equal(cgroup_stats(f->cg, &st, &err), 0);
    assert_true(st.has_memory);
    assert_int_equal(st.memory_limit, 268435456);
    assert_true(st.memory_usage > 0);
    assert_true(st.has_pids);
    assert_int_equal(st.pids_current, 1);
    assert_int_equal(st.pids_limit, UINT64_MAX);
    assert_true(st.has_cpu);

    /* checkBeforeUpdate refuses a limit below what is already in use. */
    struct spec_memory tight = {.has_limit = true,
                                .limit = 4096,
                                .has_check_before_update = true,
                                .check_before_update = true};
    struct spec_resources tres = {.memory = &tight};
    assert_int_equal(cgroup_apply(f->cg, &tres, true, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "memory limit 4096 is below the current usage"));
    berth_error_freep(&err);
    assert_file(m, v2 ? "memory.max" : "memory.limit_in_bytes", "268435456");
}

static void test_apply_errors(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    bool v2 = cgroup_get_mode(f->cg) == CGROUP_MODE_UNIFIED;
    struct berth_error *err = NULL;

    /* The kernel's minimum quota is 1000us: the message names the file and the value. */
    struct spec_cpu cpu = {.has_quota = true, .quota = 500, .has_period = true, .period = 100000};
    struct spec_resources res = {.cpu = &cpu};
    assert_int_equal(cgroup_apply(f->cg, &res, false, &err), -EINVAL);
    assert_string_equal(err->msg, v2 ? "cgroup cpu.max: write \"500 100000\": Invalid argument"
                                     : "cgroup cpu.cfs_quota_us: write \"500\": Invalid argument");
    berth_error_freep(&err);
    /* Callers that want only the code pass no error. */
    assert_int_equal(cgroup_apply(f->cg, &res, false, NULL), -EINVAL);

    struct spec_memory mem = {.has_swappiness = true, .swappiness = 200};
    struct spec_resources res2 = {.memory = &mem};
    if (!v2) {
        assert_int_equal(cgroup_apply(f->cg, &res2, false, &err), -EINVAL);
        assert_string_equal(err->msg, "cgroup: memory.swappiness 200 is out of range (0-100)");
        berth_error_freep(&err);
    }

    struct spec_key_value kv = {.key = "../memory.max", .value = "1"};
    struct spec_resources res3 = {.unified = &kv, .n_unified = 1};
    assert_int_equal(cgroup_apply(f->cg, &res3, false, &err), -EINVAL);
    if (v2)
        assert_non_null(strstr(err->msg, "must be a file name"));
    else
        assert_non_null(strstr(err->msg, "needs a cgroup v2 host"));
    berth_error_freep(&err);

    struct spec_hugepage_limit hp = {.page_size = "2MB/../../x", .limit = 1};
    struct spec_resources res4 = {.hugepage_limits = &hp, .n_hugepage_limits = 1};
    assert_int_equal(cgroup_apply(f->cg, &res4, false, &err), -EINVAL);
    berth_error_freep(&err);

    /* A device rule the config got wrong is refused before anything is written. */
    struct spec_device_rule bad = {.allow = true, .type = 'c', .access = "rx"};
    struct spec_resources res5 = {.devices = &bad, .n_devices = 1};
    assert_int_equal(cgroup_apply(f->cg, &res5, false, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "devices[0]"));
    berth_error_freep(&err);

    if (v2) {
        struct spec_key_value ok = {.key = "pids.max", .value = "7"};
        struct spec_resources res6 = {.unified = &ok, .n_unified = 1};
        apply(f->cg, &res6);
        assert_file(cgroup_get_path(f->cg, ""), "pids.max", "7");
    }
}

static void test_hugetlb(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    const char *u = cgroup_get_path(f->cg, "");
    const char *v1 = cgroup_get_path(f->cg, "hugetlb");
    if (!exists("/sys/kernel/mm/hugepages/hugepages-2048kB"))
        skip();
    char *ctl = NULL;
    if (!v1 && u) {
        /* The controllers the cgroup2 hierarchy has, seen from its root. */
        FILE *fp = fopen("/proc/self/mountinfo", "re");
        char line[4096], root[256] = "";
        while (fp && fgets(line, sizeof(line), fp))
            if (strstr(line, " - cgroup2 "))
                sscanf(line, "%*s %*s %*s %*s %255s", root);
        if (fp)
            fclose(fp);
        ctl = read_text(root, "cgroup.controllers");
        if (!ctl || !strstr(ctl, "hugetlb")) {
            free(ctl);
            skip();
        }
        free(ctl);
    }
    if (!v1 && !u)
        skip();
    struct spec_hugepage_limit hp = {.page_size = "2MB", .limit = 4 << 20};
    struct spec_resources res = {.hugepage_limits = &hp, .n_hugepage_limits = 1};
    apply(f->cg, &res);
    if (v1)
        assert_file(v1, "hugetlb.2MB.limit_in_bytes", "4194304");
    else
        assert_file(u, "hugetlb.2MB.max", "4194304"); /* v2 files, also on a hybrid host */
}

/* ---- devices ---- */

static int open_errno(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno;
}

static int check_device_policy(void)
{
    if (open_errno("/dev/null", O_RDWR) != 0)
        return 1;
    if (open_errno("/dev/full", O_RDONLY) != 0)
        return 2;
    if (open_errno("/dev/kmsg", O_RDONLY) != EPERM) /* 1:11 is in no rule */
        return 3;
    if (open_errno("/dev/zero", O_RDONLY) != 0)
        return 4;
    return 0;
}

static void test_devices(void **state)
{
    need_root();
    struct fixture *f = *state;
    if (!exists("/dev/kmsg"))
        skip();
    f->cg = create(NULL, f->id);
    struct spec_device_rule rules[] = {
        {.allow = false, .type = 'a', .access = "rwm"},
        {.allow = true,
         .type = 'c',
         .has_major = true,
         .major = 4,
         .has_minor = true,
         .minor = 64,
         .access = "rw"},
        {.allow = true, .type = 'a', .has_major = true, .major = 7, .access = "r"},
    };
    struct spec_resources res = {.devices = rules, .n_devices = 3};
    apply(f->cg, &res);
    const char *d = cgroup_get_path(f->cg, "devices");
    if (d) {
        /* v1: the kernel's own list is the config's allow rules plus the defaults. */
        char *list = read_text(d, "devices.list");
        assert_non_null(list);
        static const char *want[] = {"c 4:64 rw",   "c 7:* r",   "b 7:* r",     "c *:* m",
                                     "b *:* m",     "c 1:3 rwm", "c 1:8 rwm",   "c 1:7 rwm",
                                     "c 5:0 rwm",   "c 1:5 rwm", "c 1:9 rwm",   "c 5:1 rwm",
                                     "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"};
        size_t lines = 1;
        for (char *s = list; *s; s++)
            lines += *s == '\n';
        char *hay = NULL;
        assert_true(asprintf(&hay, "\n%s\n", list) > 0);
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            char needle[64];
            snprintf(needle, sizeof(needle), "\n%s\n", want[i]);
            if (!strstr(hay, needle))
                fail_msg("devices.list lacks \"%s\":\n%s", want[i], list);
        }
        free(hay);
        assert_int_equal(lines, sizeof(want) / sizeof(want[0]));
        free(list);
    }
    /* The policy holds for a process inside, whichever controller enforces it. */
    assert_int_equal(run_inside(f->cg, check_device_policy), 0);
}

/* ---- freezer ---- */

static unsigned long counter_after(struct fixture *f, long ms)
{
    unsigned long before = *f->counter;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    return *f->counter - before;
}

static void test_freeze_thaw(void **state)
{
    need_root();
    struct fixture *f = *state;
    f->cg = create(NULL, f->id);
    spawn(f, f->cg);
    struct berth_error *err = NULL;
    bool frozen = true;
    assert_int_equal(cgroup_is_frozen(f->cg, &frozen, &err), 0);
    assert_false(frozen);
    assert_true(counter_after(f, 50) > 0);

    assert_int_equal(cgroup_freeze(f->cg, true, &err), 0);
    assert_int_equal(cgroup_is_frozen(f->cg, &frozen, &err), 0);
    assert_true(frozen);
    const char *fz = cgroup_get_path(f->cg, "freezer");
    if (fz)
        assert_file(fz, "freezer.state", "FROZEN");
    else
        assert_non_null(strstr(read_text(cgroup_get_path(f->cg, ""), "cgroup.events"), "frozen 1"));
    assert_int_equal(counter_after(f, 100), 0);

    assert_int_equal(cgroup_freeze(f->cg, false, &err), 0);
    assert_int_equal(cgroup_is_frozen(f->cg, &frozen, &err), 0);
    assert_false(frozen);
    assert_true(counter_after(f, 100) > 0);

    /* A paused container still dies of SIGKILL. */
    assert_int_equal(cgroup_freeze(f->cg, true, &err), 0);
    assert_int_equal(cgroup_signal_all(f->cg, SIGKILL, &err), 0);
    int status;
    wait_child(f->child, &status);
    f->child = -1;
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* ---- the v2 device program, loaded for real ---- */

static char bpf_dir[256];

static int check_bpf_policy(void)
{
    char procs[300];
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", bpf_dir);
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1)
        return 10;
    close(fd);
    if (open_errno("/dev/null", O_RDWR) != 0)
        return 1;
    if (open_errno("/dev/zero", O_RDONLY) != 0) /* allowed for reading only */
        return 2;
    if (open_errno("/dev/zero", O_WRONLY) != EPERM)
        return 3;
    if (open_errno("/dev/full", O_RDONLY) != EPERM) /* the later deny wins */
        return 4;
    if (open_errno("/dev/urandom", O_RDONLY) != EPERM) /* in no rule */
        return 5;
    return 0;
}

static uint32_t attached_programs(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint32_t ids[8];
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uintptr_t)ids;
    attr.query.prog_cnt = 8;
    assert_int_equal(syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)), 0);
    close(fd);
    return attr.query.prog_cnt;
}

static void test_bpf_device_program(void **state)
{
    need_root();
    struct fixture *f = *state;
    enum cgroup_mode mode;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_detect_mode(&mode, &err), 0);
    if (mode == CGROUP_MODE_LEGACY)
        skip();
    snprintf(bpf_dir, sizeof(bpf_dir), "%s/%s-bpf",
             mode == CGROUP_MODE_UNIFIED ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified", f->id);
    assert_int_equal(mkdir(bpf_dir, 0755), 0);
    snprintf(f->extra_dir, sizeof(f->extra_dir), "%s", bpf_dir);

    const struct cgroup_device_rule first[] = {{true, 'a', -1, -1, CGROUP_DEV_ALL}};
    if (cgroup_devices_bpf_install(bpf_dir, first, 1, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(attached_programs(bpf_dir), 1);

    /* Replacing leaves one program, the new one. */
    const struct cgroup_device_rule rules[] = {
        {true, 'c', 1, 3, CGROUP_DEV_ALL},
        {true, 'c', 1, 5, CGROUP_DEV_READ},
        {true, 'c', 1, 7, CGROUP_DEV_ALL},
        {false, 'c', 1, 7, CGROUP_DEV_ALL},
    };
    if (cgroup_devices_bpf_install(bpf_dir, rules, 4, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(attached_programs(bpf_dir), 1);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(check_bpf_policy());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_mode),
        cmocka_unit_test_setup_teardown(test_create_join_signal_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_absolute_and_shared_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_then_make, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_v1_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_after_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_into_cgroup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_roundtrip_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hugetlb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freeze_thaw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bpf_device_program, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
