#include "linux/rootfs.h"
#include "linux/rootfs_internal.h"
#include "berth/error.h"
#include "linux/console.h"
#include "linux/devices.h"
#include "linux/label.h"
#include "linux/mnt.h"
#include "linux/ns.h"
#include "linux/copy.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* What runc lets a config mount over inside /proc (lxcfs-style overrides). */
static const char *const proc_allowed[] = {
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
};

void rootfs_ctx_init(struct rootfs_ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->rootfd = -1;
    c->console_master = -1;
    c->console_peer = -1;
    c->made_in_fd = -1;
    c->rootfs_tree = -1;
    c->rootfs_dir = -1;
}

static void drop_made_in(struct rootfs_ctx *c)
{
    if (c->made_in_fd >= 0)
        close(c->made_in_fd);
    c->made_in_fd = -1;
    free(c->made_in_path);
    c->made_in_path = NULL;
}

void rootfs_ctx_clear(struct rootfs_ctx *c)
{
    for (size_t i = 0; i < c->n_deferred; i++) {
        if (c->deferred[i].fd >= 0)
            close(c->deferred[i].fd);
        free(c->deferred[i].dest);
    }
    free(c->deferred);
    c->deferred = NULL;
    c->n_deferred = 0;
    if (c->rootfd >= 0)
        close(c->rootfd);
    if (c->console_master >= 0)
        close(c->console_master);
    if (c->console_peer >= 0)
        close(c->console_peer);
    c->rootfd = c->console_master = c->console_peer = -1;
    drop_made_in(c);
}

static bool is_bind(const struct spec_mount *m)
{
    if (m->type && strcmp(m->type, "bind") == 0)
        return true;
    for (char **o = m->options; o && *o; o++)
        if (strcmp(*o, "bind") == 0 || strcmp(*o, "rbind") == 0)
            return true;
    return false;
}

/* Why a mount may not go at `dest` (clean, absolute), or NULL when it may. */
static char *destination_refusal(const struct spec_mount *m, const char *dest)
{
    if (strcmp(dest, "/") == 0)
        return xstrdup("the rootfs itself: a mount cannot cover it");
    if (!path_has_prefix(dest, "/proc"))
        return NULL;
    if (strcmp(dest, "/proc") == 0) {
        if ((m->type && strcmp(m->type, "proc") == 0) || is_bind(m))
            return NULL;
        return xasprintf("/proc: it may only hold a proc mount, not %s",
                         m->type ? m->type : "this one");
    }
    for (size_t i = 0; i < ARRAY_SIZE(proc_allowed); i++)
        if (strcmp(dest, proc_allowed[i]) == 0)
            return NULL;
    return xstrdup("inside /proc: a mount there could change the host, so only /proc/cpuinfo, "
                   "/proc/meminfo and the like may be covered");
}

int rootfs_check_destination(const struct spec_mount *m, size_t index, char **clean,
                             struct berth_error **err)
{
    if (!m->destination || !*m->destination)
        return berth_error_set(err, 0, "mounts[%zu].destination: must not be empty", index);
    _cleanup_free_ char *d = path_clean(m->destination);
    _cleanup_free_ char *why = destination_refusal(m, d);
    if (why && strcmp(d, "/") == 0)
        return berth_error_set(err, 0, "mounts[%zu].destination: \"%s\" is %s", index,
                               m->destination, why);
    if (why && strcmp(d, "/proc") == 0)
        return berth_error_set(err, 0,
                               "mounts[%zu].destination: \"/proc\" may only hold a proc mount, "
                               "not %s",
                               index, m->type ? m->type : "this one");
    if (why)
        return berth_error_set(err, 0, "mounts[%zu].destination: \"%s\" is %s", index, d, why);
    *clean = TAKE_PTR(d);
    return 0;
}

/* Where an opened target lies inside the rootfs, from the kernel's own name for the fd; NULL
 * when that name is not below the rootfs. */
static char *target_in_root(const struct rootfs_ctx *c, int fd)
{
    char fdpath[32], link[PATH_MAX];
    ssize_t n = readlink(path_fd(fd, fdpath), link, sizeof(link) - 1);
    if (n < 0)
        return NULL;
    link[n] = '\0';
    if (!path_has_prefix(link, c->rootfs))
        return NULL;
    size_t l = strcmp(c->rootfs, "/") == 0 ? 0 : strlen(c->rootfs);
    return xstrdup(link[l] ? link + l : "/");
}

/* The destination rules once more, on where the target really is: a symlink in the image must
 * not carry a mount onto the rootfs itself or into /proc. *where (optional) gets the resolved
 * path. */
static int check_target_at(const struct spec_mount *m, int fd, char *at, bool on_fresh_dir,
                           char **where, struct berth_error **err)
{
    _cleanup_free_ char *why = destination_refusal(m, at);
    struct statfs sfs;
    /* A directory just made lies on its parent's filesystem, which the maker tested. */
    if (!why && !on_fresh_dir && strcmp(at, "/proc") != 0 && fstatfs(fd, &sfs) == 0 &&
        sfs.f_type == PROC_SUPER_MAGIC && !path_has_prefix(at, "/proc"))
        why = xstrdup("on a procfs: only /proc itself and the files runc allows in it may be "
                      "covered");
    if (why) {
        int r = berth_error_set(err, 0, "the destination resolves to \"%s\", which is %s", at, why);
        free(at);
        return r;
    }
    if (where)
        *where = at;
    else
        free(at);
    return 0;
}

static int check_target(const struct rootfs_ctx *c, const struct spec_mount *m, int fd,
                        char **where, struct berth_error **err)
{
    char *at = target_in_root(c, fd);
    if (!at)
        return berth_error_set(err, 0, "the destination resolves outside the rootfs");
    return check_target_at(m, fd, at, false, where, err);
}

/* open_target's quick way, which needs no readlink to know where it landed: `dest` opened as it
 * stands, or its missing last directory made in an existing parent, with no symlink anywhere.
 * Returns the fd, or -1 with *slow set when anything else is the case: the general way then
 * answers, errors included. */
static int open_target_quick(struct rootfs_ctx *c, const struct spec_mount *m, const char *dest,
                             bool directory, bool *existed, char **where, bool *slow,
                             struct berth_error **err)
{
    *slow = false;
    _cleanup_close_ int fd = path_open_in_root_direct(c->rootfd, dest, O_PATH);
    if (fd >= 0) {
        *existed = true;
        int r = check_target_at(m, fd, xstrdup(dest), false, where, err);
        return r < 0 ? r : TAKE_FD(fd);
    }
    const char *slash = strrchr(dest, '/');
    *slow = true;
    if (fd != -ENOENT || !directory || !slash || !slash[1] || path_has_prefix(dest, "/proc"))
        return -1;
    _cleanup_free_ char *parent = slash == dest ? xstrdup("/") : xstrndup(dest, slash - dest);
    if (!c->made_in_path || strcmp(c->made_in_path, parent) != 0) {
        drop_made_in(c);
        int pfd = path_open_in_root_direct(c->rootfd, parent, O_PATH | O_DIRECTORY);
        struct statfs sfs;
        if (pfd >= 0 && (fstatfs(pfd, &sfs) < 0 || sfs.f_type == PROC_SUPER_MAGIC)) {
            close(pfd);
            pfd = -1;
        }
        if (pfd < 0)
            return -1;
        c->made_in_fd = pfd;
        c->made_in_path = TAKE_PTR(parent);
    }
    if (mkdirat(c->made_in_fd, slash + 1, 0755) < 0)
        return -1;
    fd = openat(c->made_in_fd, slash + 1, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    c->made_in_used = true;
    *slow = false;
    *existed = false;
    int r = check_target_at(m, fd, xstrdup(dest), true, where, err);
    return r < 0 ? r : TAKE_FD(fd);
}

static int mount_fail(struct berth_error **err, int e, const char *type, const char *source,
                      const char *dest, unsigned long flags, const char *why)
{
    _cleanup_free_ char *f = mnt_flags_text(flags);
    if (why)
        return berth_error_set(err, e, "mount %s %s on %s (%s): %s", type ? type : "none",
                               source ? source : "none", dest, f, why);
    return berth_error_set(err, e, "mount %s %s on %s (%s)", type ? type : "none",
                           source ? source : "none", dest, f);
}

bool rootfs_fd_is_dir(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

static void defer_ro(struct rootfs_ctx *c, int fd, bool recursive, uint64_t set, const char *dest)
{
    c->deferred = xreallocarray(c->deferred, c->n_deferred + 1, sizeof(*c->deferred));
    c->deferred[c->n_deferred++] = (struct rootfs_deferred){
        .fd = fd, .recursive = recursive, .set = set, .dest = xstrdup(dest)};
}

/* A destination about to be created: when its nearest existing ancestor is in /proc (where
 * nothing can be created anyway), say so rather than report the failed mkdir. */
static int check_missing_target(const struct rootfs_ctx *c, const struct spec_mount *m,
                                const char *dest, struct berth_error **err)
{
    _cleanup_free_ char *p = xstrdup(dest);
    for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
        size_t cut = (size_t)(slash - p);
        *slash = '\0';
        struct berth_error *local = NULL;
        _cleanup_close_ int fd = path_open_in_root(c->rootfd, cut ? p : "/", O_PATH, 0, &local);
        berth_error_free(local);
        if (fd == -ENOENT)
            continue;
        if (fd < 0)
            return 0;
        _cleanup_free_ char *at = target_in_root(c, fd);
        struct statfs sfs;
        bool proc = (at && path_has_prefix(at, "/proc")) ||
                    (fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC);
        if (!proc)
            return 0;
        _cleanup_free_ char *full =
            xasprintf("%s%s", at && strcmp(at, "/") != 0 ? at : "", dest + cut);
        _cleanup_free_ char *why = destination_refusal(m, full);
        if (why)
            return berth_error_set(err, 0, "the destination resolves to \"%s\", which is %s", full,
                                   why);
        return berth_error_set(err, 0,
                               "the destination resolves to \"%s\", which this kernel's /proc "
                               "does not have",
                               full);
    }
    return 0;
}

/* Open the destination, creating it (and its parents) as a directory or a file, and check
 * where it resolved to. Sets *existed; *where (optional) gets the resolved path. */
static int open_target(struct rootfs_ctx *c, const struct spec_mount *m, const char *dest,
                       bool directory, bool *existed, char **where, struct berth_error **err)
{
    bool slow;
    int quick = open_target_quick(c, m, dest, directory, existed, where, &slow, err);
    if (!slow)
        return quick;
    struct berth_error *local = NULL;
    _cleanup_close_ int fd = path_open_in_root(c->rootfd, dest, O_PATH, 0, &local);
    *existed = fd >= 0;
    if (fd == -ENOENT) {
        berth_error_free(local);
        int r = check_missing_target(c, m, dest, err);
        if (r < 0)
            return r;
        fd = path_create_in_root(c->rootfd, dest, directory, directory ? 0755 : 0644, err);
    } else if (fd < 0) {
        *err = local;
    }
    if (fd < 0)
        return fd;
    int r = check_target(c, m, fd, where, err);
    if (r < 0)
        return r;
    return TAKE_FD(fd);
}

/* The mount's own fd after mounting onto `dest` (path resolution crosses into it). */
static int reopen(struct rootfs_ctx *c, const char *dest, struct berth_error **err)
{
    return path_open_in_root(c->rootfd, dest, O_PATH, 0, err);
}

static int after_mount(struct rootfs_ctx *c, const char *dest, const struct mnt_opts *o, bool defer,
                       struct berth_error **err)
{
    uint64_t rset = o->rattr_set, rclr = o->rattr_clr;
    bool need = o->propagation || rset || rclr || defer;
    if (!need)
        return 0;
    int fd = reopen(c, dest, err);
    if (fd < 0)
        return fd;
    if (o->propagation &&
        mnt_setattr_fd(fd, o->propagation & MS_REC, 0, 0, o->propagation & ~MS_REC, -1) < 0) {
        int e = errno;
        close(fd);
        return berth_error_set(err, e, "set propagation of %s", dest);
    }
    uint64_t rro = rset & MOUNT_ATTR_RDONLY;
    if (defer)
        rset &= ~MOUNT_ATTR_RDONLY;
    if ((rset || rclr) && mnt_setattr_fd(fd, true, rset, rclr, 0, -1) < 0) {
        int e = errno;
        close(fd);
        return berth_error_set(err, e, "set recursive attributes of %s", dest);
    }
    if (defer) {
        if (rro)
            defer_ro(c, dup(fd), true, MOUNT_ATTR_RDONLY, dest);
        defer_ro(c, fd, false, o->attr_set & MOUNT_ATTR_RDONLY, dest);
    } else {
        close(fd);
    }
    return 0;
}

/* An idmapped mount: the mount's own uid/gid mappings, or the container's. */
static int idmap_tree(const struct spec *s, const struct spec_mount *m, size_t i, int tree,
                      bool recursive, struct berth_error **err)
{
    const struct spec_linux *l = s->linux_;
    const struct spec_id_mapping *u = m->uid_mappings, *g = m->gid_mappings;
    size_t nu = m->n_uid_mappings, ng = m->n_gid_mappings;
    if (!nu && l) {
        u = l->uid_mappings;
        nu = l->n_uid_mappings;
    }
    if (!ng && l) {
        g = l->gid_mappings;
        ng = l->n_gid_mappings;
    }
    if (!nu || !ng)
        return berth_error_set(
            err, 0, "mounts[%zu]: an idmapped mount needs uidMappings and gidMappings", i);
    _cleanup_close_ int userns = ns_userns_with_maps(u, nu, g, ng, err);
    if (userns < 0)
        return berth_error_prefix(err, "mounts[%zu]", i);
    if (mnt_setattr_fd(tree, recursive, MOUNT_ATTR_IDMAP, 0, 0, userns) < 0)
        return berth_error_set(err, errno, "mounts[%zu]: make %s an idmapped mount", i,
                               m->destination);
    return 0;
}

static char *bind_source(const struct spec_mount *m, const char *bundle)
{
    return m->source[0] == '/' ? xstrdup(m->source) : xasprintf("%s/%s", bundle, m->source);
}

/* Whether a read-only flag must wait: /dev gets its nodes and symlinks after its mount. Other
 * mounts are made read-only at once, as runc does; a later mount point beneath them must then
 * exist already. */
static bool defer_ro_of(const struct mnt_opts *o, const char *dest)
{
    return ((o->flags & MS_RDONLY) || (o->rattr_set & MOUNT_ATTR_RDONLY)) &&
           path_has_prefix("/dev", dest);
}

/* Everything of a bind that does not touch the rootfs: the source opened, relabelled, cloned,
 * given its attributes and its idmapping. Returns the detached tree. */
static int bind_tree(const struct spec *s, const char *bundle, const char *mount_label, size_t i,
                     const char *dest, const struct mnt_opts *o, bool defer,
                     struct berth_error **err)
{
    const struct spec_mount *m = &s->mounts[i];
    if (!m->source)
        return berth_error_set(err, 0, "mounts[%zu].source: a bind mount needs a source", i);
    _cleanup_free_ char *src = bind_source(m, bundle);
    _cleanup_close_ int srcfd = open(src, O_PATH | O_CLOEXEC);
    if (srcfd < 0) {
        if (errno == ENOENT)
            return berth_error_set(err, 0, "mounts[%zu].source: \"%s\" does not exist", i, src);
        return berth_error_set(err, errno, "mounts[%zu].source: open %s", i, src);
    }
    if (o->relabel_shared || o->relabel_private) {
        int r = label_relabel_fd(srcfd, src, mount_label, o->relabel_shared, NULL, err);
        if (r < 0)
            return berth_error_prefix(err, "mounts[%zu]", i);
    }
    unsigned tflags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
    if (o->recursive)
        tflags |= AT_RECURSIVE;
    _cleanup_close_ int tree = mnt_open_tree(srcfd, "", tflags);
    if (tree < 0)
        return mount_fail(err, errno, "bind", src, dest, o->flags, NULL);
    uint64_t set = o->attr_set, rset = o->rattr_set;
    if (defer) {
        set &= ~MOUNT_ATTR_RDONLY;
        rset &= ~MOUNT_ATTR_RDONLY;
    }
    if ((rset || o->rattr_clr) && mnt_setattr_fd(tree, true, rset, o->rattr_clr, 0, -1) < 0)
        return mount_fail(err, errno, "bind", src, dest, o->flags,
                          "set recursive mount attributes");
    if ((set || o->attr_clr) && mnt_setattr_fd(tree, false, set, o->attr_clr, 0, -1) < 0)
        return mount_fail(err, errno, "bind", src, dest, o->flags, "set mount attributes");
    if (o->idmap || o->ridmap) {
        int r = idmap_tree(s, m, i, tree, o->ridmap, err);
        if (r < 0)
            return r;
    }
    return TAKE_FD(tree);
}

static unsigned long bound_propagation(const struct spec *s);

int rootfs_bind_trees(const struct spec *s, const char *bundle, bool all_binds, int **out,
                      struct berth_error **err)
{
    *out = NULL;
    int *trees = NULL;
    const char *label = s->linux_ ? s->linux_->mount_label : NULL;
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct spec_mount *m = &s->mounts[i];
        _cleanup_free_ char *where = xasprintf("mounts[%zu]", i);
        struct mnt_opts o;
        int r = mnt_parse_options(m->options, where, &o, err);
        bool bind = r == 0 && (o.bind || (m->type && strcmp(m->type, "bind") == 0));
        if (r == 0 && bind && (all_binds || o.idmap || o.ridmap) && m->destination) {
            if (!trees) {
                trees = xcalloc(s->n_mounts, sizeof(*trees));
                for (size_t k = 0; k < s->n_mounts; k++)
                    trees[k] = -1;
            }
            _cleanup_free_ char *dest = path_clean(m->destination);
            r = trees[i] = bind_tree(s, bundle, label, i, dest, &o, defer_ro_of(&o, dest), err);
            /* Explicit, as for the rootfs (rootfs_open_tree). */
            if (r >= 0 && mnt_setattr_fd(trees[i], o.recursive, 0, 0, bound_propagation(s), -1) < 0)
                r = berth_error_set(err, errno, "mounts[%zu]: set the propagation of the bind", i);
        }
        mnt_opts_clear(&o);
        if (r < 0) {
            rootfs_bind_trees_free(trees, s->n_mounts);
            return r;
        }
    }
    *out = trees;
    return 0;
}

void rootfs_bind_trees_free(int *trees, size_t n)
{
    for (size_t i = 0; trees && i < n; i++)
        if (trees[i] >= 0)
            close(trees[i]);
    free(trees);
}

static int mount_bind(struct rootfs_ctx *c, const struct spec_mount *m, size_t i, const char *dest,
                      const struct mnt_opts *o, bool defer, struct berth_error **err)
{
    _cleanup_close_ int tree = -1;
    if (c->bind_trees && c->bind_trees[i] >= 0) {
        tree = fcntl(c->bind_trees[i], F_DUPFD_CLOEXEC, 3);
        if (tree < 0)
            return berth_error_set(err, errno, "mounts[%zu]: take the runtime's bind", i);
    } else {
        tree = bind_tree(c->spec, c->bundle, c->mount_label, i, dest, o, defer, err);
        if (tree < 0)
            return tree;
    }
    _cleanup_free_ char *src = bind_source(m, c->bundle);
    bool src_dir = rootfs_fd_is_dir(tree), existed;
    _cleanup_free_ char *where = NULL;
    _cleanup_close_ int target = open_target(c, m, dest, src_dir, &existed, &where, err);
    if (target < 0)
        return berth_error_prefix(err, "mounts[%zu]: bind %s on %s", i, src, dest);
    struct statfs sfs;
    if (strcmp(where, "/proc") == 0 && (fstatfs(tree, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC))
        /* A plain directory over /proc would take the writes meant for procfs (LSM labels,
         * sysctls): CVE-2019-16884. */
        return berth_error_set(err, 0,
                               "mounts[%zu]: bind %s on /proc: the source is not a procfs, and "
                               "/proc may only hold one",
                               i, src);
    bool dst_dir = rootfs_fd_is_dir(target);
    if (src_dir != dst_dir)
        return mount_fail(err, ENOTDIR, "bind", src, dest, o->flags,
                          src_dir ? "the source is a directory but the destination is a file"
                                  : "the source is a file but the destination is a directory");
    if (mnt_move(tree, target) < 0)
        return mount_fail(err, errno, "bind", src, dest, o->flags, NULL);
    if (o->propagation &&
        mnt_setattr_fd(tree, o->propagation & MS_REC, 0, 0, o->propagation & ~MS_REC, -1) < 0)
        return mount_fail(err, errno, "bind", src, dest, o->flags, "set propagation");
    if (defer) {
        if (o->rattr_set & MOUNT_ATTR_RDONLY)
            defer_ro(c, dup(tree), true, MOUNT_ATTR_RDONLY, dest);
        if (o->attr_set & MOUNT_ATTR_RDONLY)
            defer_ro(c, TAKE_FD(tree), false, MOUNT_ATTR_RDONLY, dest);
    }
    if (strcmp(dest, "/dev") == 0)
        c->dev_is_bind = true;
    return 0;
}

/* proc and sysfs go on a real directory of the rootfs, never through a symlink. */
static int open_proc_sys_target(struct rootfs_ctx *c, const struct spec_mount *m, size_t i,
                                const char *dest, struct berth_error **err)
{
    struct berth_error *local = NULL;
    _cleanup_close_ int fd = path_open_in_root_direct(c->rootfd, dest, O_PATH | O_NOFOLLOW);
    /* Opened with no symlink on the way, the target is `dest` itself: no readlink needed. */
    bool direct = fd >= 0;
    if (!direct)
        fd = path_open_in_root(c->rootfd, dest, O_PATH | O_NOFOLLOW, 0, &local);
    if (fd == -ENOENT) {
        berth_error_free(local);
        fd = path_mkdir_in_root(c->rootfd, dest, 0755, err);
        if (fd < 0)
            return fd;
    } else if (fd < 0) {
        *err = local;
        return fd;
    } else {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
            return berth_error_set(err, 0,
                                   "mounts[%zu].destination: \"%s\" must be an ordinary "
                                   "directory, not a %s",
                                   i, dest, S_ISLNK(st.st_mode) ? "symlink" : "file");
    }
    int r = direct ? check_target_at(m, fd, xstrdup(dest), false, NULL, err)
                   : check_target(c, m, fd, NULL, err);
    if (r < 0)
        return r;
    return TAKE_FD(fd);
}

/* Whether mount data names `key` ("key" or "key=..."). */
static bool data_has(const char *data, const char *key)
{
    size_t l = strlen(key);
    for (const char *p = data; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, key, l) == 0 && (p[l] == '=' || p[l] == ',' || p[l] == '\0'))
            return true;
    return false;
}

/* tmpcopyup: the tmpfs is made detached, given what the image has at the destination, and only
 * then put in place, so the container never sees it empty or half filled. The copy goes fd to
 * fd and follows no symlink. */
static int mount_tmpcopyup(size_t i, const char *dest, int target, const char *source,
                           const char *data, unsigned long flags, const struct mnt_opts *o,
                           bool defer, bool labelled, struct berth_error **err)
{
    _cleanup_close_ int mnt =
        mnt_new_detached("tmpfs", source, data,
                         flags & (MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK | MS_LAZYTIME), err);
    if (mnt < 0) {
        _cleanup_free_ char *f = mnt_flags_text(flags);
        return berth_error_prefix(err, "mount tmpfs %s on %s (%s)", source, dest, f);
    }
    _cleanup_close_ int src = openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src < 0)
        return mount_fail(err, errno, "tmpfs", source, dest, flags, "tmpcopyup: open the source");
    _cleanup_close_ int dst = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat fresh;
    if (dst < 0 || fstat(dst, &fresh) < 0)
        return mount_fail(err, errno, "tmpfs", source, dest, flags, "tmpcopyup: open the tmpfs");
    /* With a mount label the tmpfs's files take it: the image's labels are not copied. */
    struct copy_options co = {.skip_selinux = labelled};
    int r = copy_tree(src, dst, &co, NULL, err);
    if (r < 0)
        return berth_error_prefix(err, "mounts[%zu]: tmpcopyup %s", i, dest);
    /* The copy gave the tmpfs's root the owner and mode of the image's directory; options that
     * name them win. */
    if (data_has(o->data, "mode") && fchmod(dst, fresh.st_mode & 07777) < 0)
        return mount_fail(err, errno, "tmpfs", source, dest, flags, "tmpcopyup: chmod");
    bool uid = data_has(o->data, "uid"), gid = data_has(o->data, "gid");
    if ((uid || gid) &&
        fchown(dst, uid ? fresh.st_uid : (uid_t)-1, gid ? fresh.st_gid : (gid_t)-1) < 0)
        return mount_fail(err, errno, "tmpfs", source, dest, flags, "tmpcopyup: chown");
    uint64_t set = o->attr_set & (defer ? ~(uint64_t)MOUNT_ATTR_RDONLY : ~(uint64_t)0);
    if ((set || o->attr_clr) && mnt_setattr_fd(mnt, false, set, o->attr_clr, 0, -1) < 0)
        return mount_fail(err, errno, "tmpfs", source, dest, flags, "set mount attributes");
    if (mnt_move(mnt, target) < 0)
        return mount_fail(err, errno, "tmpfs", source, dest, flags, NULL);
    return 0;
}

static int mount_fresh(struct rootfs_ctx *c, const struct spec_mount *m, size_t i, const char *dest,
                       const struct mnt_opts *o, bool defer, struct berth_error **err)
{
    const char *type = m->type;
    bool proc_sys = strcmp(type, "proc") == 0 || strcmp(type, "sysfs") == 0;
    bool existed = true;
    _cleanup_close_ int target = proc_sys ? open_proc_sys_target(c, m, i, dest, err)
                                          : open_target(c, m, dest, true, &existed, NULL, err);
    if (target < 0)
        return berth_error_prefix(err, "mounts[%zu]: mount %s on %s", i, type, dest);
    /* proc and sysfs targets were checked to be directories; a new target was made one. */
    if (!proc_sys && existed && !rootfs_fd_is_dir(target))
        return mount_fail(err, ENOTDIR, type, m->source, dest, o->flags,
                          "the destination is a file but this mount needs a directory");

    _cleanup_free_ char *data = o->data ? xstrdup(o->data) : NULL;
    if (strcmp(type, "tmpfs") == 0 && existed && (!data || !strstr(data, "mode="))) {
        /* A tmpfs over an existing directory keeps that directory's mode. */
        struct stat st;
        if (fstat(target, &st) == 0) {
            char *d = data ? xasprintf("%s,mode=%o", data, st.st_mode & 07777)
                           : xasprintf("mode=%o", st.st_mode & 07777);
            free(data);
            data = d;
        }
    }

    unsigned long flags = o->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (defer)
        flags &= ~MS_RDONLY;
    char tpath[32];
    const char *source = m->source ? m->source : type;
    bool mqueue = strcmp(type, "mqueue") == 0;
    _cleanup_free_ char *ldata = c->mount_label && *c->mount_label &&
                                         label_mount_takes_context(type) && label_selinux_enabled()
                                     ? label_mount_data(data, c->mount_label)
                                     : NULL;
    if (o->tmpcopyup) {
        int r = mount_tmpcopyup(i, dest, target, source, ldata ? ldata : data, flags, o, defer,
                                ldata != NULL, err);
        if (r < 0)
            return r;
        return after_mount(c, dest, o, defer && (o->flags & MS_RDONLY), err);
    }
    int mr = mount(source, path_fd(target, tpath), type, flags, ldata ? ldata : data);
    if (mr < 0 && ldata && mqueue) {
        /* mqueue refuses context=: it is mounted bare and its root labelled below. */
        mr = mount(source, tpath, type, flags, data);
        free(ldata);
        ldata = NULL;
    }
    if (mr < 0) {
        int e = errno;
        if (e == EPERM && strcmp(type, "sysfs") == 0 && !c->new_netns) {
            /* A fresh sysfs is refused outside a new network namespace: show the host's,
             * read-only. */
            _cleanup_close_ int tree =
                mnt_open_tree(AT_FDCWD, "/sys", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
            if (tree >= 0 &&
                mnt_setattr_fd(tree, true,
                               MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                   MOUNT_ATTR_NOEXEC,
                               0, 0, -1) == 0 &&
                mnt_move(tree, target) == 0)
                return 0;
        }
        _cleanup_free_ char *why = ldata ? xasprintf("with data %s", ldata) : NULL;
        return mount_fail(err, e, type, source, dest, flags, why);
    }
    if (mqueue && !ldata && c->mount_label && *c->mount_label) {
        _cleanup_close_ int root = reopen(c, dest, err);
        if (root < 0 || label_file_fd(root, c->mount_label, err) < 0)
            return berth_error_prefix(err, "mounts[%zu]: label the mqueue mount %s", i, dest);
    }
    struct mnt_opts rest = *o;
    return after_mount(c, dest, &rest, defer && (o->flags & MS_RDONLY), err);
}

/* cgroup on a v1 or hybrid host: a tmpfs holding a read-only bind of the container's own
 * directory of each hierarchy, with symlinks for the controllers of merged ones. */
static int mount_cgroup_v1(struct rootfs_ctx *c, const struct spec_mount *m, size_t i,
                           const char *dest, const struct mnt_opts *o, struct berth_error **err)
{
    bool existed;
    _cleanup_close_ int target = open_target(c, m, dest, true, &existed, NULL, err);
    if (target < 0)
        return berth_error_prefix(err, "mounts[%zu]: mount cgroup on %s", i, dest);
    char tpath[32];
    unsigned long flags = (o->flags & ~(MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY)) | MS_NOSUID |
                          MS_NODEV | MS_NOEXEC;
    if (mount("tmpfs", path_fd(target, tpath), "tmpfs", flags, "mode=755") < 0)
        return mount_fail(err, errno, "tmpfs", "tmpfs", dest, flags, "cgroup mount");
    _cleanup_close_ int top = reopen(c, dest, err);
    if (top < 0)
        return top;
    uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (o->flags & MS_RDONLY)
        attrs |= MOUNT_ATTR_RDONLY;
    /* The tmpfs is new and private to this init: its entries are the ones made here, so binds go
     * onto them by name, and one recursive mount_setattr at the end covers every bind. */
    for (size_t k = 0; k < c->n_cgroups; k++) {
        const struct rootfs_cgroup *cg = &c->cgroups[k];
        const char *name = cg->name[0] ? cg->name : "unified";
        if (strncmp(name, "name=", 5) == 0)
            name += 5;
        if (mkdirat(top, name, 0755) < 0 && errno != EEXIST)
            return berth_error_set(err, errno, "cgroup mount: mkdir %s/%s", dest, name);
        _cleanup_free_ char *at = xasprintf("%s/%s", path_fd(top, tpath), name);
        if (mount(cg->host_path, at, NULL, MS_BIND, NULL) < 0)
            return berth_error_set(err, errno, "cgroup mount: bind %s on %s/%s", cg->host_path,
                                   dest, name);
        if (!strchr(name, ','))
            continue;
        _cleanup_free_ char *list = xstrdup(name);
        for (char *s = NULL, *ctl = strtok_r(list, ",", &s); ctl; ctl = strtok_r(NULL, ",", &s))
            if (symlinkat(name, top, ctl) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "cgroup mount: symlink %s/%s", dest, ctl);
    }
    if (mnt_setattr_fd(top, true, attrs, 0, 0, -1) < 0)
        return berth_error_set(err, errno, "cgroup mount: set %s%s", dest,
                               (o->flags & MS_RDONLY) ? " read-only, nosuid, nodev, noexec"
                                                      : " nosuid, nodev, noexec");
    return 0;
}

static int mount_cgroup_v2(struct rootfs_ctx *c, const struct spec_mount *m, size_t i,
                           const char *dest, const struct mnt_opts *o, bool defer,
                           struct berth_error **err)
{
    bool existed;
    _cleanup_close_ int target = open_target(c, m, dest, true, &existed, NULL, err);
    if (target < 0)
        return berth_error_prefix(err, "mounts[%zu]: mount cgroup2 on %s", i, dest);
    unsigned long flags = o->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (defer)
        flags &= ~MS_RDONLY;
    char tpath[32];
    if (c->new_cgroupns && mount("cgroup2", path_fd(target, tpath), "cgroup2", flags, o->data) == 0)
        return after_mount(c, dest, o, defer && (o->flags & MS_RDONLY), err);
    /* Without a cgroup namespace of its own, the container sees its own directory only. */
    const char *host = NULL;
    for (size_t k = 0; k < c->n_cgroups; k++)
        if (!c->cgroups[k].name[0])
            host = c->cgroups[k].host_path;
    if (!host)
        return mount_fail(err, errno ? errno : ENOENT, "cgroup2", "cgroup2", dest, flags,
                          "no cgroup of the container to show");
    _cleanup_close_ int tree = mnt_open_tree(AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    uint64_t attrs = o->attr_set & (defer ? ~(uint64_t)MOUNT_ATTR_RDONLY : ~(uint64_t)0);
    if (tree < 0 || mnt_setattr_fd(tree, false, attrs, 0, 0, -1) < 0 || mnt_move(tree, target) < 0)
        return mount_fail(err, errno, "bind", host, dest, flags, "cgroup2");
    if (defer && (o->flags & MS_RDONLY))
        defer_ro(c, TAKE_FD(tree), false, MOUNT_ATTR_RDONLY, dest);
    return 0;
}

static int mount_one(struct rootfs_ctx *c, size_t i, char *const *dests, struct berth_error **err)
{
    const struct spec_mount *m = &c->spec->mounts[i];
    const char *dest = dests[i];
    _cleanup_free_ char *where = xasprintf("mounts[%zu]", i);
    struct mnt_opts o;
    int r = mnt_parse_options(m->options, where, &o, err);
    if (r < 0)
        return r;
    bool defer = defer_ro_of(&o, dest);
    c->made_in_used = false;
    const char *type = m->type;
    bool bind = o.bind || (type && strcmp(type, "bind") == 0);
    if ((o.idmap || o.ridmap) && !bind) {
        r = berth_error_set(err, 0,
                            "mounts[%zu].options: idmap and ridmap apply to bind mounts only", i);
    } else if (o.tmpcopyup && (bind || !type || strcmp(type, "tmpfs") != 0)) {
        r = berth_error_set(err, 0, "mounts[%zu].options: tmpcopyup applies to tmpfs mounts only",
                            i);
    } else if (bind) {
        o.bind = true;
        r = mount_bind(c, m, i, dest, &o, defer, err);
    } else if (!type || !*type || strcmp(type, "none") == 0) {
        r = berth_error_set(err, 0, "mounts[%zu].type: needed for a mount that is not a bind", i);
    } else if (strcmp(type, "cgroup") == 0 && !c->cgroup_unified) {
        r = mount_cgroup_v1(c, m, i, dest, &o, err);
    } else if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
        r = mount_cgroup_v2(c, m, i, dest, &o, defer, err);
    } else {
        r = mount_fresh(c, m, i, dest, &o, defer, err);
    }
    mnt_opts_clear(&o);
    /* A mount on a directory made in the kept one leaves that one as it was; any other could
     * cover it, whatever path it was named by. */
    if (!c->made_in_used)
        drop_made_in(c);
    return r;
}

unsigned long rootfs_root_propagation(const struct spec *s)
{
    static const struct {
        const char *name;
        unsigned long flags;
    } names[] = {
        {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
        {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
        {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
        {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
    };
    const char *p = s->linux_ ? s->linux_->rootfs_propagation : NULL;
    for (size_t i = 0; p && i < ARRAY_SIZE(names); i++)
        if (strcmp(p, names[i].name) == 0)
            return names[i].flags;
    return MS_PRIVATE | MS_REC;
}

/* The propagation of the bound rootfs until it is the container's root. */
static unsigned long bound_propagation(const struct spec *s)
{
    return rootfs_root_propagation(s) & (MS_SLAVE | MS_SHARED) ? MS_SLAVE : MS_PRIVATE;
}

int rootfs_open_tree(const struct spec *s, const char *rootfs, struct berth_error **err)
{
    _cleanup_close_ int t =
        mnt_open_tree(AT_FDCWD, rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (t < 0)
        return berth_error_set(err, errno, "bind the rootfs %s", rootfs);
    /* Explicit, rather than left to what the kernel makes of a clone of a (shared) host mount
     * attached in another user namespace's mount namespace. */
    if (mnt_setattr_fd(t, true, 0, 0, bound_propagation(s), -1) < 0)
        return berth_error_set(err, errno, "bind the rootfs %s: set its propagation", rootfs);
    return TAKE_FD(t);
}

static int bind_rootfs(struct rootfs_ctx *c, struct berth_error **err)
{
    /* Nothing done in here may reach the host's mount namespace: every mount becomes private,
     * or a slave when the container asked to receive the host's mounts. The propagation asked
     * for is given to / once it is the container's root: made shared now, the rootfs would
     * share with the host's mount it was bound from, and unbindable it could not be bound. */
    if (c->host_mntns) {
        c->rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->rootfd < 0)
            return berth_error_set(err, errno, "open the rootfs %s", c->rootfs);
        return 0;
    }
    unsigned long prop = bound_propagation(c->spec);
    if (mount(NULL, "/", NULL, MS_REC | prop, NULL) < 0)
        return berth_error_set(err, errno, "make / %s", prop == MS_SLAVE ? "rslave" : "rprivate");
    if (c->rootfs_tree >= 0) {
        if (c->rootfs_dir < 0)
            return berth_error_set(err, 0, "attach the rootfs %s: no directory to attach it to",
                                   c->rootfs);
        if (mnt_move(c->rootfs_tree, c->rootfs_dir) < 0)
            return berth_error_set(err, errno, "attach the rootfs %s", c->rootfs);
        c->rootfd = fcntl(c->rootfs_tree, F_DUPFD_CLOEXEC, 3);
        if (c->rootfd < 0)
            return berth_error_set(err, errno, "open the rootfs %s", c->rootfs);
        return 0;
    }
    if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        return berth_error_set(err, errno, "bind the rootfs %s onto itself", c->rootfs);
    c->rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->rootfd < 0)
        return berth_error_set(err, errno, "open the rootfs %s", c->rootfs);
    return 0;
}

int rootfs_prepare(struct rootfs_ctx *c, struct berth_error **err)
{
    const struct spec *s = c->spec;
    int r = bind_rootfs(c, err);
    if (r < 0)
        return r;

    char **dests = xcalloc(s->n_mounts + 1, sizeof(char *));
    for (size_t i = 0; i < s->n_mounts && r == 0; i++)
        r = rootfs_check_destination(&s->mounts[i], i, &dests[i], err);
    for (size_t i = 0; i < s->n_mounts && r == 0; i++)
        r = mount_one(c, i, dests, err);
    drop_made_in(c);
    strv_free(dests);
    if (r < 0)
        return r;

    /* A missing working directory is made (0755, by the container's root), as runc makes it:
     * after the mounts, so that one under a mount lands in it. */
    if (s->process && s->process->cwd && strcmp(s->process->cwd, "/") != 0) {
        int fd = path_mkdir_in_root(c->rootfd, s->process->cwd, 0755, err);
        if (fd < 0)
            return berth_error_prefix(err, "process.cwd");
        close(fd);
    }

    if (!c->dev_is_bind) {
        const struct spec_linux *l = s->linux_;
        r = devices_create(c->rootfd, l ? l->devices : NULL, l ? l->n_devices : 0, c->userns, err);
        if (r < 0)
            return r;
    }

    if (s->process && s->process->terminal) {
        r = console_open_pty(c->rootfd, &c->console_master, &c->console_peer, err);
        if (r < 0)
            return r;
        if (s->process->has_console_size) {
            r = console_set_size(c->console_peer, s->process->console_height,
                                 s->process->console_width, err);
            if (r < 0)
                return r;
        }
        r = console_bind(c->rootfd, c->console_peer, c->mount_label, err);
        if (r < 0)
            return r;
    }
    return 0;
}
