/* What copy.c's walk and its threads share with copy_inode.c: one thread's state and the copy of
 * one inode's data and xattrs. Internal to src/linux. */
#pragma once

#include "linux/copy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* What each thread learns and keeps for itself: which kernel calls work, and its buffers. */
struct worker {
    const struct copy_options *o;
    uint64_t *bytes; /* shared, updated atomically */
    int *noatime;    /* shared: O_NOATIME still worth asking for */
    bool try_clone, try_cfr, xattrs, xattrat;
    char *data;
    char *xnames;
    size_t xnames_cap;
    char *xval;
    size_t xval_cap;
    struct berth_error **err;
};

void copy_worker_init(struct worker *t, const struct copy_options *o, uint64_t *bytes, int *noatime,
                      struct berth_error **err);
void copy_worker_free(struct worker *t);

/* Sets *t->err to "copy DIR NAME: WHAT[: strerror(code)]" and returns its negative errno. */
int copy_fail_in(struct worker *t, const char *dir, int code, const char *what, const char *name);

/* `name` NULL: from fd sfd to fd dfd; else the entries `name` of the directories sfd and dfd.
 * Keys the options leave out (security.selinux) stay behind; owners inside values follow the
 * maps. `dir` and `shown` name the entry in messages. */
int copy_xattrs(struct worker *w, int sfd, int dfd, const char *name, const char *dir,
                const char *shown);

/* A regular file's data, holes kept: reflink, else copy_file_range, else read/write; sized to
 * sx's size. A negative errno on failure. */
int copy_data(struct worker *w, int sfd, int dfd, const struct statx *sx);
