#include "linux/copy_internal.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define DENT_BUF_SIZE (32 * 1024)
#define QUEUE_LEN     64
#define MAX_WORKERS   4
#define MSG_PATH_MAX  512
#define BATCH_FILES   32
#define BATCH_NAMES   2048
#define BATCH_BYTES   (4 << 20)
#define HELP_BACKLOG  8 /* queued batches per helper beyond which the walk takes one */

/* Hardlinked inodes seen so far: (dev, ino) -> offset of the first copy's path (relative to the
 * destination root) in one string arena, so that no entry costs an allocation. */
struct link_entry {
    dev_t dev;
    ino_t ino;
    size_t path_off; /* 0: empty slot; else offset + 1 */
};

struct link_table {
    struct link_entry *v;
    size_t cap, used;
    char *arena;
    size_t arena_len, arena_cap;
};

/* A destination directory and its source, shared by the walk and the batches of files still to
 * be created in it. Creating an entry changes the directory's times, so they are set by the
 * last of them to be done with it; then its fds are closed. */
struct dir_ref {
    int sfd, dfd;
    bool own_fds;
    bool set_times; /* the walk is done with it: set ts at the last release */
    struct timespec ts[2];
    unsigned refs;
    char path[MSG_PATH_MAX]; /* "" for the root, else ending in '/'; may be cut short */
};

/* A regular file for a batch. */
struct batch_file {
    struct statx sx;
    uid_t uid;
    gid_t gid;
    bool chown;
    bool made;        /* by the walk: the first name of a hardlinked file */
    const char *name; /* in the batch's names */
};

/* Regular files of one directory, created and filled by one thread. The walk hands a
 * directory's files over once it has made the directory's other entries, so that two threads
 * create in one directory (and wait on its lock) only where a directory is split into several
 * batches. */
struct batch {
    struct dir_ref *dir;
    size_t n, names_len;
    uint64_t bytes;
    struct batch_file f[BATCH_FILES];
    char names[BATCH_NAMES];
};

struct job_queue {
    pthread_mutex_t mu;
    pthread_cond_t ready;
    struct batch *jobs[QUEUE_LEN];
    size_t head, count;
    bool done;
    int failed; /* set once a worker fails: the walk stops */
};

struct helper {
    struct worker t;
    struct berth_error *err;
    struct job_queue *q;
    pthread_t thread;
};

struct node {
    const char *name;
    struct statx sx;
    uid_t uid; /* host owner, after mapping */
    gid_t gid;
};

/* A subdirectory made in the first pass over its parent, to be entered in the second. */
struct subdir {
    const char *name; /* in its level's dents */
    mode_t mode;
    uid_t uid;
    gid_t gid;
    struct timespec ts[2];
    bool descend; /* false: a mount point, copied as an empty directory */
};

/* The walk's state at one depth, reused for every directory there: the directory's entries,
 * read whole before any is copied, and its subdirectories. */
struct level {
    char *dents;
    size_t dents_len, dents_cap;
    struct subdir *dirs;
    size_t n_dirs, dirs_cap;
};

struct walk {
    const struct copy_options *o;
    struct worker main;
    struct copy_stats st;
    uint64_t bytes;
    uint64_t mnt_id;
    bool have_mnt_id;
    dev_t dev;
    int dst_root;
    uid_t euid;
    gid_t egid;
    int noatime;
    struct job_queue q;
    struct helper helpers[MAX_WORKERS];
    size_t n_helpers;
    char *target;
    size_t target_cap;
    char *path; /* relative path of the directory being walked, "" or ending in '/' */
    size_t path_len, path_cap;
    struct level *levels; /* one per depth, reused for every directory at that depth */
    size_t n_levels;
    struct link_table links;
    struct berth_error **err;
};

/* Where an entry is being copied from and to. */
struct parent {
    int sfd, dfd;
    gid_t gid; /* the destination directory's final group, inherited when setgid */
    bool sgid;
    struct dir_ref *ref;
};

static int fail(struct walk *w, int code, const char *what, const char *name)
{
    return copy_fail_in(&w->main, w->path, code, what, name);
}

static void path_push(struct walk *w, const char *name, size_t *saved)
{
    size_t n = strlen(name);
    *saved = w->path_len;
    if (w->path_len + n + 2 > w->path_cap) {
        w->path_cap = (w->path_len + n + 2) * 2;
        w->path = xrealloc(w->path, w->path_cap);
    }
    memcpy(w->path + w->path_len, name, n);
    w->path_len += n;
    w->path[w->path_len++] = '/';
    w->path[w->path_len] = '\0';
}

static size_t link_hash(dev_t dev, ino_t ino)
{
    uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h ^ (h >> 29) ^ (uint64_t)dev);
}

static struct link_entry *link_find(struct link_table *t, dev_t dev, ino_t ino)
{
    if (!t->cap)
        return NULL;
    for (size_t i = link_hash(dev, ino) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        struct link_entry *e = &t->v[i];
        if (!e->path_off)
            return e;
        if (e->dev == dev && e->ino == ino)
            return e;
    }
}

static void link_add(struct link_table *t, dev_t dev, ino_t ino, const char *dir, size_t dir_len,
                     const char *name)
{
    if ((t->used + 1) * 2 > t->cap) {
        struct link_table old = *t;
        t->cap = t->cap ? t->cap * 2 : 256;
        t->v = xcalloc(t->cap, sizeof(*t->v));
        t->used = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.v[i].path_off) {
                *link_find(t, old.v[i].dev, old.v[i].ino) = old.v[i];
                t->used++;
            }
        free(old.v);
    }
    size_t n = strlen(name);
    if (t->arena_len + dir_len + n + 1 > t->arena_cap) {
        t->arena_cap = (t->arena_len + dir_len + n + 1) * 2;
        t->arena = xrealloc(t->arena, t->arena_cap);
    }
    size_t off = t->arena_len;
    memcpy(t->arena + off, dir, dir_len);
    memcpy(t->arena + off + dir_len, name, n + 1);
    t->arena_len += dir_len + n + 1;
    struct link_entry *e = link_find(t, dev, ino);
    *e = (struct link_entry){dev, ino, off + 1};
    t->used++;
}

/* --- entries -------------------------------------------------------------------------------- */

static void stx_times(const struct statx *sx, struct timespec ts[2])
{
    ts[0] = (struct timespec){sx->stx_atime.tv_sec, sx->stx_atime.tv_nsec};
    ts[1] = (struct timespec){sx->stx_mtime.tv_sec, sx->stx_mtime.tv_nsec};
}

static void node_times(const struct node *n, struct timespec ts[2])
{
    stx_times(&n->sx, ts);
}

/* A new inode belongs to us, with the directory's group when it is setgid: chown only when the
 * owner should differ. */
static bool needs_chown(const struct walk *w, const struct parent *p, uid_t uid, gid_t gid)
{
    return uid != w->euid || gid != (p->sgid ? p->gid : w->egid);
}

/* Drop a reference to a directory; the last one sets its times and closes its fds. */
static int dir_put(struct worker *t, struct dir_ref *d)
{
    if (__atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL))
        return 0;
    int r = 0;
    if (d->set_times && futimens(d->dfd, d->ts) < 0) {
        size_t len = strlen(d->path);
        r = len ? berth_error_set(t->err, errno, "copy %.*s: set times", (int)len - 1, d->path)
                : berth_error_set(t->err, errno, "copy: set times of destination");
    }
    if (d->own_fds) {
        close(d->sfd);
        close(d->dfd);
    }
    free(d);
    return r;
}

/* Create (unless the walk did), then fill from the source: data, owner, xattrs (the chown and
 * the data write both drop security.capability), the setuid/setgid bits (dropped by the chown)
 * and last the times. The file is made with its permission bits only, as setuid/setgid would
 * not survive the chown and the data write. */
static int copy_file(struct worker *t, const struct dir_ref *d, struct batch_file *f)
{
    mode_t mode = f->sx.stx_mode;
    int how = O_WRONLY | O_NOFOLLOW | O_CLOEXEC | (f->made ? 0 : O_CREAT | O_EXCL);
    _cleanup_close_ int dfd = openat(d->dfd, f->name, how, mode & 0777);
    if (dfd < 0)
        return copy_fail_in(t, d->path, errno, f->made ? "open" : "create", f->name);
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    bool noatime = __atomic_load_n(t->noatime, __ATOMIC_RELAXED);
    _cleanup_close_ int sfd = openat(d->sfd, f->name, flags | (noatime ? O_NOATIME : 0));
    if (sfd < 0 && errno == EPERM && noatime) {
        __atomic_store_n(t->noatime, 0, __ATOMIC_RELAXED);
        sfd = openat(d->sfd, f->name, flags);
    }
    if (sfd < 0)
        return copy_fail_in(t, d->path, errno, "open", f->name);
    int r = copy_data(t, sfd, dfd, &f->sx);
    if (r < 0)
        return copy_fail_in(t, d->path, -r, "copy data", f->name);
    if (f->chown && fchown(dfd, f->uid, f->gid) < 0)
        return copy_fail_in(t, d->path, errno, "chown", f->name);
    r = copy_xattrs(t, sfd, dfd, NULL, d->path, f->name);
    if (r < 0)
        return r;
    if ((mode & 07000) && fchmod(dfd, mode & 07777) < 0)
        return copy_fail_in(t, d->path, errno, "chmod", f->name);
    struct timespec ts[2];
    stx_times(&f->sx, ts);
    if (futimens(dfd, ts) < 0)
        return copy_fail_in(t, d->path, errno, "set times", f->name);
    return 0;
}

/* Copy a batch's files, or after a failure (here or in another thread) only let them go. */
static int run_batch(struct worker *t, struct job_queue *q, struct batch *b)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < b->n && !__atomic_load_n(&q->failed, __ATOMIC_RELAXED); i++)
        r = copy_file(t, b->dir, &b->f[i]);
    int r2 = dir_put(t, b->dir);
    free(b);
    if (r < 0 || r2 < 0) {
        __atomic_store_n(&q->failed, 1, __ATOMIC_RELAXED);
        return r < 0 ? r : r2;
    }
    return 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

/* A helper that finds the queue empty watches it for a few microseconds before it sleeps: the
 * walk queues work every few microseconds, and a helper asleep each time costs a futex wake
 * and a switch. Called and returns locked. */
static void await_job(struct job_queue *q)
{
    if (!q->count && !q->done) {
        pthread_mutex_unlock(&q->mu);
        for (int i = 0; i < 2000 && !__atomic_load_n(&q->count, __ATOMIC_RELAXED) &&
                        !__atomic_load_n(&q->done, __ATOMIC_RELAXED);
             i++)
            cpu_relax();
        pthread_mutex_lock(&q->mu);
    }
    while (!q->count && !q->done)
        pthread_cond_wait(&q->ready, &q->mu);
}

/* Take the oldest batch. Called locked. */
static struct batch *pop_job(struct job_queue *q)
{
    struct batch *b = q->jobs[q->head];
    q->head = (q->head + 1) % QUEUE_LEN;
    __atomic_store_n(&q->count, q->count - 1, __ATOMIC_RELAXED); /* (see await_job) */
    return b;
}

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    struct job_queue *q = h->q;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        await_job(q);
        if (!q->count)
            break;
        struct batch *b = pop_job(q);
        pthread_mutex_unlock(&q->mu);
        run_batch(&h->t, q, b);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Queue a batch. The walk takes the oldest one back itself when the helpers fall behind, and
 * runs the batch at once when the queue is full: the walk never waits on the helpers. */
static int submit(struct walk *w, struct batch *b)
{
    struct job_queue *q = &w->q;
    if (w->n_helpers) {
        pthread_mutex_lock(&q->mu);
        if (q->count < QUEUE_LEN) {
            q->jobs[(q->head + q->count) % QUEUE_LEN] = b;
            __atomic_store_n(&q->count, q->count + 1, __ATOMIC_RELAXED);
            pthread_cond_signal(&q->ready);
            b = q->count > w->n_helpers * HELP_BACKLOG ? pop_job(q) : NULL;
            pthread_mutex_unlock(&q->mu);
            return b ? run_batch(&w->main, q, b) : 0;
        }
        pthread_mutex_unlock(&q->mu);
    }
    return run_batch(&w->main, q, b);
}

/* Once the walk is done it takes its share of what is still queued. */
static int drain(struct walk *w)
{
    int r = 0;
    for (;;) {
        pthread_mutex_lock(&w->q.mu);
        struct batch *b = w->q.count ? pop_job(&w->q) : NULL;
        pthread_mutex_unlock(&w->q.mu);
        if (!b)
            return r;
        int r2 = run_batch(&w->main, &w->q, b);
        if (r == 0)
            r = r2;
    }
}

static struct dir_ref *dir_get(struct dir_ref *d)
{
    __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
    return d;
}

/* Add a regular file to the directory's open batch, handing the batch over when it is full. */
static int copy_reg(struct walk *w, const struct parent *p, const struct node *n,
                    struct batch **open)
{
    size_t len = strlen(n->name) + 1;
    int r = 0;
    struct batch *b = *open;
    if (b &&
        (b->n == BATCH_FILES || b->bytes >= BATCH_BYTES || b->names_len + len > sizeof(b->names))) {
        *open = NULL;
        r = submit(w, b);
        if (r < 0)
            return r;
    }
    if (!*open) {
        *open = b = xmalloc(sizeof(*b));
        b->dir = dir_get(p->ref);
        b->n = b->names_len = 0;
        b->bytes = 0;
    }
    struct batch_file *f = &b->f[b->n];
    *f = (struct batch_file){
        .sx = n->sx,
        .uid = n->uid,
        .gid = n->gid,
        .chown = needs_chown(w, p, n->uid, n->gid),
        .made = n->sx.stx_nlink > 1,
        .name = memcpy(b->names + b->names_len, n->name, len),
    };
    b->names_len += len;
    b->bytes += n->sx.stx_size;
    b->n++;
    /* The first name of a hardlinked file is made now: the walk links the later ones to it. */
    if (f->made && mknodat(p->dfd, n->name, S_IFREG | (n->sx.stx_mode & 0777), 0) < 0)
        return fail(w, errno, "create", n->name);
    return 0;
}

/* Metadata of an entry that has no fd of its own here: symlinks, devices, fifos, sockets. */
static int finish_at(struct walk *w, const struct parent *p, const struct node *n)
{
    mode_t mode = n->sx.stx_mode;
    if (needs_chown(w, p, n->uid, n->gid) &&
        fchownat(p->dfd, n->name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return fail(w, errno, "chown", n->name);
    int r = copy_xattrs(&w->main, p->sfd, p->dfd, n->name, w->path, n->name);
    if (r < 0)
        return r;
    if (!S_ISLNK(mode) && (mode & 07000) && copy_chmod_at(p->dfd, n->name, mode & 07777) < 0)
        return fail(w, errno, "chmod", n->name);
    struct timespec ts[2];
    node_times(n, ts);
    if (utimensat(p->dfd, n->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return fail(w, errno, "set times", n->name);
    return 0;
}

static int copy_symlink(struct walk *w, const struct parent *p, const struct node *n)
{
    size_t need = (size_t)n->sx.stx_size + 2;
    if (need < PATH_MAX)
        need = PATH_MAX;
    if (w->target_cap < need) {
        w->target_cap = need;
        w->target = xrealloc(w->target, need);
    }
    ssize_t len = readlinkat(p->sfd, n->name, w->target, w->target_cap);
    if (len < 0)
        return fail(w, errno, "readlink", n->name);
    if ((size_t)len >= w->target_cap)
        return fail(w, ENAMETOOLONG, "readlink", n->name);
    w->target[len] = '\0';
    if (symlinkat(w->target, p->dfd, n->name) < 0)
        return fail(w, errno, "symlink", n->name);
    return finish_at(w, p, n);
}

static int copy_special(struct walk *w, const struct parent *p, const struct node *n)
{
    mode_t mode = n->sx.stx_mode;
    dev_t rdev = makedev(n->sx.stx_rdev_major, n->sx.stx_rdev_minor);
    if (mknodat(p->dfd, n->name, (mode & S_IFMT) | (mode & 0777), rdev) < 0)
        return fail(w, errno, "mknod", n->name);
    return finish_at(w, p, n);
}

static int walk_dir(struct walk *w, const struct parent *p, size_t depth);

/* A directory whose entries are being copied: the walk holds one reference, each batch of its
 * files one more. */
static struct dir_ref *dir_new(int sfd, int dfd, bool own_fds, const char *path)
{
    struct dir_ref *d = xmalloc(sizeof(*d));
    *d = (struct dir_ref){.sfd = sfd, .dfd = dfd, .own_fds = own_fds, .refs = 1};
    snprintf(d->path, sizeof(d->path), "%s", path);
    return d;
}

/* Walk a directory's entries, then leave its times to whoever is the last to need it. */
static int walk_ref(struct walk *w, struct parent *p, const struct timespec ts[2], size_t depth)
{
    int r = walk_dir(w, p, depth);
    if (r == 0) {
        p->ref->ts[0] = ts[0];
        p->ref->ts[1] = ts[1];
        p->ref->set_times = true;
    }
    int r2 = dir_put(&w->main, p->ref);
    return r < 0 ? r : r2;
}

/* First pass: only the directory itself, as it is an entry of its parent. */
static int make_dir(struct walk *w, const struct parent *p, const struct node *n, bool descend,
                    size_t depth)
{
    if (mkdirat(p->dfd, n->name, n->sx.stx_mode & 01777) < 0)
        return fail(w, errno, "mkdir", n->name);
    struct level *l = &w->levels[depth];
    if (l->n_dirs == l->dirs_cap) {
        l->dirs_cap = l->dirs_cap ? l->dirs_cap * 2 : 16;
        l->dirs = xreallocarray(l->dirs, l->dirs_cap, sizeof(*l->dirs));
    }
    struct subdir *sd = &l->dirs[l->n_dirs++];
    *sd = (struct subdir){n->name, n->sx.stx_mode, n->uid, n->gid, .descend = descend};
    node_times(n, sd->ts);
    return 0;
}

/* Second pass: its owner, xattrs and mode, its entries, and last its times. */
static int fill_dir(struct walk *w, const struct parent *p, const struct subdir *n, size_t depth)
{
    mode_t mode = n->mode;
    _cleanup_close_ int dfd =
        openat(p->dfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return fail(w, errno, "open", n->name);
    _cleanup_close_ int sfd = -1;
    if (n->descend) {
        sfd = openat(p->sfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
            return fail(w, errno, "open", n->name);
    }
    if (needs_chown(w, p, n->uid, n->gid) && fchown(dfd, n->uid, n->gid) < 0)
        return fail(w, errno, "chown", n->name);
    /* A mount point keeps only what its stat shows: its xattrs belong to the other mount. */
    int r = sfd >= 0 ? copy_xattrs(&w->main, sfd, dfd, NULL, w->path, n->name) : 0;
    if (r < 0)
        return r;
    /* mkdir ignores setuid/setgid and inherits setgid from a setgid parent. */
    mode_t made = (mode & 01777) | (p->sgid ? S_ISGID : 0);
    if ((mode & 07777) != made && fchmod(dfd, mode & 07777) < 0)
        return fail(w, errno, "chmod", n->name);
    if (n->descend) {
        size_t saved;
        path_push(w, n->name, &saved);
        struct dir_ref *ref = dir_new(TAKE_FD(sfd), TAKE_FD(dfd), true, w->path);
        struct parent child = {ref->sfd, ref->dfd, n->gid, (mode & S_ISGID) != 0, ref};
        r = walk_ref(w, &child, n->ts, depth + 1);
        w->path_len = saved;
        w->path[saved] = '\0';
        return r;
    }
    if (futimens(dfd, n->ts) < 0)
        return fail(w, errno, "set times", n->name);
    return 0;
}

static bool same_mount(const struct walk *w, const struct statx *sx)
{
    if (w->have_mnt_id && (sx->stx_mask & STATX_MNT_ID))
        return sx->stx_mnt_id == w->mnt_id;
    return makedev(sx->stx_dev_major, sx->stx_dev_minor) == w->dev;
}

static int map_owner(struct walk *w, struct node *n)
{
    uint32_t uid, gid;
    if (copy_id_map_to_host(w->o->uid_map, n->sx.stx_uid, &uid) < 0) {
        _cleanup_free_ char *what = xasprintf("uid %u is not in the uid map", n->sx.stx_uid);
        return fail(w, 0, what, n->name);
    }
    if (copy_id_map_to_host(w->o->gid_map, n->sx.stx_gid, &gid) < 0) {
        _cleanup_free_ char *what = xasprintf("gid %u is not in the gid map", n->sx.stx_gid);
        return fail(w, 0, what, n->name);
    }
    n->uid = uid;
    n->gid = gid;
    return 0;
}

/* First pass over one entry: everything but a regular file's creation and a directory's
 * contents is done here. */
static int copy_entry(struct walk *w, const struct parent *p, const char *name, size_t depth,
                      struct batch **open)
{
    struct node n = {.name = name};
    if (statx(p->sfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_MNT_ID,
              &n.sx) < 0)
        return fail(w, errno, "stat", name);
    mode_t mode = n.sx.stx_mode;
    bool here = same_mount(w, &n.sx);
    if (!here && !S_ISDIR(mode))
        return 0; /* a file mounted over: not part of this tree */
    int r = map_owner(w, &n);
    if (r < 0)
        return r;

    if (!S_ISDIR(mode) && n.sx.stx_nlink > 1) {
        dev_t dev = makedev(n.sx.stx_dev_major, n.sx.stx_dev_minor);
        struct link_entry *e = link_find(&w->links, dev, n.sx.stx_ino);
        if (e && e->path_off) {
            if (linkat(w->dst_root, w->links.arena + e->path_off - 1, p->dfd, name, 0) < 0)
                return fail(w, errno, "link", name);
            w->st.files++;
            return 0;
        }
        link_add(&w->links, dev, n.sx.stx_ino, w->path, w->path_len, name);
    }

    switch (mode & S_IFMT) {
    case S_IFREG:
        r = copy_reg(w, p, &n, open);
        break;
    case S_IFDIR:
        r = make_dir(w, p, &n, here, depth);
        break;
    case S_IFLNK:
        r = copy_symlink(w, p, &n);
        break;
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
        r = copy_special(w, p, &n);
        break;
    default:
        return fail(w, 0, "unknown file type", name);
    }
    if (r < 0)
        return r;
    w->st.files++;
    if (w->o->progress) {
        w->st.bytes = __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
        w->o->progress(w->o->progress_data, &w->st);
    }
    return 0;
}

/* Read a directory's entries whole into its level's buffer. */
static int read_dir(struct walk *w, int fd, size_t depth)
{
    if (depth >= w->n_levels) {
        w->levels = xreallocarray(w->levels, depth + 1, sizeof(*w->levels));
        for (size_t i = w->n_levels; i <= depth; i++)
            w->levels[i] = (struct level){0};
        w->n_levels = depth + 1;
    }
    struct level *l = &w->levels[depth];
    l->dents_len = 0;
    l->n_dirs = 0;
    for (;;) {
        if (l->dents_cap - l->dents_len < DENT_BUF_SIZE) {
            l->dents_cap = l->dents_cap ? l->dents_cap * 2 : 2 * DENT_BUF_SIZE;
            l->dents = xrealloc(l->dents, l->dents_cap);
        }
        ssize_t n = getdents64(fd, l->dents + l->dents_len, l->dents_cap - l->dents_len);
        if (n < 0)
            return fail(w, errno, "read directory", NULL);
        if (n == 0)
            return 0;
        l->dents_len += (size_t)n;
    }
}

/* Two passes: the entries other than regular files' inodes and directories' contents first, then
 * the files are handed over in batches, and last the subdirectories are entered. No thread
 * then creates in a directory another one is creating in, but where one directory's files
 * make several batches. */
static int walk_dir(struct walk *w, const struct parent *p, size_t depth)
{
    int r = read_dir(w, p->sfd, depth);
    if (r < 0)
        return r;
    struct batch *open = NULL;
    for (size_t off = 0; r == 0 && off < w->levels[depth].dents_len;) {
        struct dirent64 *d = (struct dirent64 *)(w->levels[depth].dents + off);
        off += d->d_reclen;
        const char *name = d->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        if (__atomic_load_n(&w->q.failed, __ATOMIC_RELAXED))
            r = -ECANCELED; /* a helper failed: its error is the one to report */
        else
            r = copy_entry(w, p, name, depth, &open);
    }
    if (open) {
        if (r < 0)
            __atomic_store_n(&w->q.failed, 1, __ATOMIC_RELAXED); /* only let it go */
        int r2 = r < 0 ? run_batch(&w->main, &w->q, open) : submit(w, open);
        if (r == 0)
            r = r2;
    }
    for (size_t i = 0; r == 0 && i < w->levels[depth].n_dirs; i++) {
        if (__atomic_load_n(&w->q.failed, __ATOMIC_RELAXED))
            return -ECANCELED;
        struct subdir sd = w->levels[depth].dirs[i]; /* (levels may move) */
        r = fill_dir(w, p, &sd, depth);
    }
    return r;
}

static int copy_root(struct walk *w, int src, int dst)
{
    struct node n = {.name = ""};
    if (statx(src, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &n.sx) < 0)
        return berth_error_set(w->main.err, errno, "copy: stat source");
    w->have_mnt_id = (n.sx.stx_mask & STATX_MNT_ID) != 0;
    w->mnt_id = n.sx.stx_mnt_id;
    w->dev = makedev(n.sx.stx_dev_major, n.sx.stx_dev_minor);
    struct stat dst_st;
    if (fstat(dst, &dst_st) < 0)
        return berth_error_set(w->main.err, errno, "copy: stat destination");
    int r = map_owner(w, &n);
    if (r < 0)
        return r;
    if ((dst_st.st_uid != n.uid || dst_st.st_gid != n.gid) && fchown(dst, n.uid, n.gid) < 0)
        return berth_error_set(w->main.err, errno, "copy: chown destination");
    r = copy_xattrs(&w->main, src, dst, NULL, "", NULL);
    if (r < 0)
        return r;
    mode_t mode = n.sx.stx_mode & 07777;
    if ((dst_st.st_mode & 07777) != mode && fchmod(dst, mode) < 0)
        return berth_error_set(w->main.err, errno, "copy: chmod destination");
    struct parent root = {src, dst, n.gid, (mode & S_ISGID) != 0, dir_new(src, dst, false, "")};
    struct timespec ts[2];
    node_times(&n, ts);
    r = walk_ref(w, &root, ts, 0);
    if (r < 0)
        __atomic_store_n(&w->q.failed, 1, __ATOMIC_RELAXED); /* the rest is only let go */
    int r2 = drain(w);
    return r < 0 ? r : r2;
}

static void start_helpers(struct walk *w)
{
    /* The CPUs this thread may run on (taskset, a cpuset cgroup), not all the machine has. */
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                             : sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cpus > 1 ? (size_t)cpus - 1 : 0;
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    pthread_mutex_init(&w->q.mu, NULL);
    pthread_cond_init(&w->q.ready, NULL);
    for (size_t i = 0; i < n; i++) {
        struct helper *h = &w->helpers[w->n_helpers];
        copy_worker_init(&h->t, w->o, &w->bytes, &w->noatime, &h->err);
        h->q = &w->q;
        if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
            copy_worker_free(&h->t);
            break; /* fewer helpers: slower, not wrong */
        }
        w->n_helpers++;
    }
}

/* Let the helpers finish the queue, and take the first error one of them met. */
static int stop_helpers(struct walk *w, int r)
{
    pthread_mutex_lock(&w->q.mu);
    __atomic_store_n(&w->q.done, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&w->q.ready);
    pthread_mutex_unlock(&w->q.mu);
    for (size_t i = 0; i < w->n_helpers; i++) {
        struct helper *h = &w->helpers[i];
        pthread_join(h->thread, NULL);
        if (h->err && (r == 0 || r == -ECANCELED) && !*w->main.err) {
            *w->main.err = TAKE_PTR(h->err);
            r = berth_error_ret(*w->main.err);
        }
        berth_error_free(h->err);
        copy_worker_free(&h->t);
    }
    pthread_cond_destroy(&w->q.ready);
    pthread_mutex_destroy(&w->q.mu);
    return r;
}

int copy_tree(int src_dirfd, int dst_dirfd, const struct copy_options *opts,
              struct copy_stats *stats, struct berth_error **err)
{
    static const struct copy_options none;
    struct berth_error *local = NULL;
    struct walk w = {
        .o = opts ? opts : &none,
        .dst_root = dst_dirfd,
        .euid = geteuid(),
        .egid = getegid(),
        .noatime = true,
    };
    /* The helpers' errors are merged into this one, so it must exist even if err is NULL. */
    copy_worker_init(&w.main, w.o, &w.bytes, &w.noatime, err ? err : &local);
    w.path = xzalloc(w.path_cap = 256);
    start_helpers(&w);
    /* Modes are given whole at creation; the caller's umask must not trim them. */
    mode_t old_umask = umask(0);
    int r = copy_root(&w, src_dirfd, dst_dirfd);
    r = stop_helpers(&w, r);
    umask(old_umask);
    w.st.bytes = w.bytes;
    if (stats)
        *stats = w.st;
    for (size_t i = 0; i < w.n_levels; i++) {
        free(w.levels[i].dents);
        free(w.levels[i].dirs);
    }
    free(w.levels);
    copy_worker_free(&w.main);
    free(w.target);
    free(w.path);
    free(w.links.v);
    free(w.links.arena);
    berth_error_free(local);
    return r;
}
