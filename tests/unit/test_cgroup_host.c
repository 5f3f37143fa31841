/* The cgroup module against the real kernel, as root: the host's mode, creation (nested,
 * absolute, shared parents, planned then made), joining through the runtime's fds and with
 * CLONE_INTO_CGROUP, signals and removal. Resources, devices and the freezer are in
 * test_cgroup_resources. The expectations follow the host's mode. */
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
#include "cgroup_fixture.h"
#include "linux/cgroup/cgroup.h"
#include "linux/cgroup/devices.h"
#include "spec/spec.h"

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

/* ---- joining through the runtime's fds ---- */

/* A child that joins through fds its parent opened lands in every hierarchy, as by path; the
 * parent's copies close, and an fd of someone else's between them stays open. */
static void test_join_v1_fds(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
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
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
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
        assert_true(fx_exists(p));
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

    fx_spawn(f, f->cg);
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
    fx_wait_child(f->child, &status);
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
        if (fx_exists(paths[i]))
            fail_msg("%s is still there", paths[i]);
    assert_int_equal(cgroup_destroy(f->cg, &err), 0); /* nothing left to do */
}

static void test_nested_absolute_and_shared_parent(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    char one[128], two[128];
    snprintf(f->shared_parent, sizeof(f->shared_parent), "%s-top", f->id);
    snprintf(one, sizeof(one), "/%s/one", f->shared_parent);
    snprintf(two, sizeof(two), "/%s/two", f->shared_parent);
    f->cg = fx_create(one, "ignored");
    f->cg2 = fx_create(two, "ignored");
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
    assert_true(fx_exists(top));
    assert_false(fx_exists(any));
    cgroup_free(f->cg);
    f->cg = NULL;
    assert_int_equal(cgroup_destroy(f->cg2, &err), 0);
    /* ...and the second container did not make it, so it does not remove it. */
    assert_true(fx_exists(top));
    cgroup_free(f->cg2);
    f->cg2 = NULL;

    /* A relative nested path: every level made is removed. */
    char rel[128];
    snprintf(rel, sizeof(rel), "%s-rel/a/b", f->id);
    f->cg = fx_create(rel, "ignored");
    const char *leaf = main_path(f->cg);
    char first[512];
    snprintf(first, sizeof(first), "%.*s", (int)(strlen(leaf) - strlen("/a/b")), leaf);
    assert_true(fx_exists(leaf));
    const char *cpuset = cgroup_get_path(f->cg, "cpuset");
    if (cpuset && cgroup_get_mode(f->cg) != CGROUP_MODE_UNIFIED) {
        /* v1: each new cpuset level got its parent's cpus and mems. */
        char *cpus = fx_read_text(cpuset, "cpuset.cpus"),
             *mems = fx_read_text(cpuset, "cpuset.mems");
        assert_true(cpus && *cpus && mems && *mems);
        free(cpus);
        free(mems);
    }
    fx_spawn(f, f->cg); /* would fail with ENOSPC on an empty v1 cpuset */
    kill(f->child, SIGKILL);
    waitpid(f->child, NULL, 0);
    f->child = -1;
    assert_int_equal(cgroup_destroy(f->cg, &err), 0);
    assert_false(fx_exists(leaf));
    assert_false(fx_exists(first));
}

/* The plan names the directories and counts the missing ones without making any; a record of
 * the plan, as create writes it before cgroup_make, removes all that make made and nothing
 * else, whenever the maker is killed. */
static void test_plan_then_make(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    char one[128], two[128];
    snprintf(f->shared_parent, sizeof(f->shared_parent), "%s-top", f->id);
    snprintf(one, sizeof(one), "%s/one", f->shared_parent);
    snprintf(two, sizeof(two), "%s/two/leaf", f->shared_parent);
    f->cg = fx_create(one, "ignored"); /* makes the shared parent */
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_plan(two, "ignored", &f->cg2, &err), 0);
    char leaf[512], mid[512];
    snprintf(leaf, sizeof(leaf), "%s", main_path(f->cg2));
    snprintf(mid, sizeof(mid), "%.*s", (int)(strlen(leaf) - strlen("/leaf")), leaf);
    assert_false(fx_exists(mid));
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
    assert_true(fx_exists(main_path(f->cg)));
    assert_int_equal(cgroup_make(f->cg2, &err), 0);
    assert_true(fx_exists(leaf));
    /* Killed after make, before the record was written again. */
    assert_int_equal(cgroup_from_json(planned, &rec, &err), 0);
    assert_int_equal(cgroup_destroy(rec, &err), 0);
    cgroup_free(rec);
    json_decref(planned);
    assert_false(fx_exists(leaf));
    assert_false(fx_exists(mid));
    assert_true(fx_exists(main_path(f->cg))); /* the other container's, and the shared parent */
}

static void test_destroy_after_sigkill(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
    fx_spawn(f, f->cg);
    const char *p = main_path(f->cg);
    char path[512];
    snprintf(path, sizeof(path), "%s", p);
    /* Killed and not yet reaped: destroy waits out the exit. */
    kill(f->child, SIGKILL);
    struct berth_error *err = NULL;
    if (cgroup_destroy(f->cg, &err) < 0)
        fail_msg("%s", err->msg);
    assert_false(fx_exists(path));
    waitpid(f->child, NULL, 0);
    f->child = -1;
}

static void test_clone_into_cgroup(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
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
    fx_wait_child(pid, &status);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_json_roundtrip_host(void **state)
{
    fx_need_root();
    struct fixture *f = *state;
    f->cg = fx_create(NULL, f->id);
    json_t *j = cgroup_to_json(f->cg);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    j = json_loads(text, 0, NULL);
    free(text);
    struct cgroup *back = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(cgroup_from_json(j, &back, &err), 0);
    json_decref(j);
    fx_spawn(f, back); /* the restored object finds the same directories */
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
    assert_false(fx_exists(leaf));
    cgroup_free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_mode),
        cmocka_unit_test_setup_teardown(test_create_join_signal_destroy, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nested_absolute_and_shared_parent, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_then_make, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_join_v1_fds, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_after_sigkill, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clone_into_cgroup, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_json_roundtrip_host, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
