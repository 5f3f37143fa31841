/* The cgroup tests' fixture and helpers (cgroup_fixture.h). */
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
#include <sys/wait.h>
#include <unistd.h>

#include "berth/error.h"
#include "cgroup_fixture.h"
#include "linux/cgroup/cgroup.h"

int fx_setup(void **state)
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

int fx_teardown(void **state)
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

void fx_need_root(void)
{
    if (geteuid() != 0)
        skip();
}

char *fx_read_text(const char *dir, const char *file)
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

bool fx_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

struct cgroup *fx_create(const char *path, const char *id)
{
    struct cgroup *cg = NULL;
    struct berth_error *err = NULL;
    if (cgroup_create(path, id, &cg, &err) < 0)
        fail_msg("cgroup_create: %s", err->msg);
    return cg;
}

void fx_wait_child(pid_t pid, int *status)
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

void fx_spawn(struct fixture *f, struct cgroup *cg)
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
