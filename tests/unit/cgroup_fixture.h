/* What the tests of the cgroup module against the real kernel share: a fixture per test, with
 * cgroup names of its own that teardown removes even after a failure, and small helpers. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct cgroup;

struct fixture {
    struct cgroup *cg, *cg2;
    pid_t child;
    volatile unsigned long *counter; /* shared with the child, which keeps counting */
    char id[48];
    char extra_dir[256]; /* a directory made by hand, removed in teardown */
    char shared_parent[64];
};

int fx_setup(void **state);
int fx_teardown(void **state);
void fx_need_root(void); /* skips the test unless root */
/* A file's text without its trailing newlines (NULL, errno set, if unreadable); free it. */
char *fx_read_text(const char *dir, const char *file);
bool fx_exists(const char *path);
struct cgroup *fx_create(const char *path, const char *id); /* fails the test on error */
/* waitpid with a deadline, so that a process stuck in a frozen cgroup fails the test. */
void fx_wait_child(pid_t pid, int *status);
/* A child that joins the cgroup and counts (f->counter) until killed. */
void fx_spawn(struct fixture *f, struct cgroup *cg);
