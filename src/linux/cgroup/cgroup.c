/* Mode detection, paths, and the life of a container's cgroup directories. */
#include "linux/cgroup/cgroup_internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CGROUP_ROOT         "/sys/fs/cgroup"
#define CGROUP_UNIFIED_ROOT "/sys/fs/cgroup/unified"

/* ---- mode and manager ---- */

int cgroup_mode_from_magic(long root_magic, long unified_magic, enum cgroup_mode *out,
                           struct berth_error **err)
{
    if (root_magic == CGROUP2_SUPER_MAGIC) {
        *out = CGROUP_MODE_UNIFIED;
        return 0;
    }
    if (root_magic != TMPFS_MAGIC)
        return berth_error_set(err, 0,
                               "cgroup: " CGROUP_ROOT " is neither cgroup2 nor a tmpfs of v1 "
                               "hierarchies (filesystem magic 0x%lx)",
                               root_magic);
    *out = unified_magic == CGROUP2_SUPER_MAGIC ? CGROUP_MODE_HYBRID : CGROUP_MODE_LEGACY;
    return 0;
}

int cgroup_detect_mode(enum cgroup_mode *out, struct berth_error **err)
{
    struct statfs st;
    if (statfs(CGROUP_ROOT, &st) < 0)
        return berth_error_set(err, errno, "cgroup: statfs " CGROUP_ROOT);
    long unified = 0;
    if (st.f_type != CGROUP2_SUPER_MAGIC) {
        struct statfs ust;
        if (statfs(CGROUP_UNIFIED_ROOT, &ust) == 0)
            unified = (long)ust.f_type;
    }
    return cgroup_mode_from_magic((long)st.f_type, unified, out, err);
}

const char *cgroup_mode_name(enum cgroup_mode mode)
{
    switch (mode) {
    case CGROUP_MODE_LEGACY:
        return "legacy";
    case CGROUP_MODE_HYBRID:
        return "hybrid";
    case CGROUP_MODE_UNIFIED:
        return "unified";
    }
    return "unknown";
}

int cgroup_manager_check(const char *manager, enum cgroup_manager *out, struct berth_error **err)
{
    if (!manager || strcmp(manager, "cgroupfs") == 0) {
        *out = CGROUP_MANAGER_CGROUPFS;
        return 0;
    }
    if (strcmp(manager, "disabled") == 0) {
        *out = CGROUP_MANAGER_DISABLED;
        return 0;
    }
    if (strcmp(manager, "systemd") == 0) {
        if (access("/run/systemd/system", F_OK) < 0)
            return berth_error_set(err, 0,
                                   "cgroup manager systemd is not supported on this host: "
                                   "systemd is not running");
        return berth_error_set(err, 0,
                               "cgroup manager systemd is not supported: berth manages cgroups "
                               "through cgroupfs only (use --cgroup-manager=cgroupfs)");
    }
    return berth_error_set(err, 0,
                           "unknown cgroup manager \"%s\" (expected cgroupfs, systemd or "
                           "disabled)",
                           manager);
}

/* ---- paths ---- */

int cgroup_inner_path(const char *cgroups_path, const char *id, char **out,
                      struct berth_error **err)
{
    if (!cgroups_path || !*cgroups_path) {
        if (!id || !*id || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
            return berth_error_set(err, 0, "cgroup: container id \"%s\" cannot name a cgroup",
                                   id ? id : "");
        *out = xstrdup(id);
        return 0;
    }
    bool absolute = cgroups_path[0] == '/';
    size_t len = strlen(cgroups_path);
    _cleanup_free_ char *res = xmalloc(len + 2);
    size_t n = 0;
    if (absolute)
        res[n++] = '/';
    bool any = false;
    for (const char *p = cgroups_path; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchrnul(p, '/');
        size_t clen = (size_t)(e - p);
        if (clen == 0)
            break;
        if (clen == 2 && p[0] == '.' && p[1] == '.')
            return berth_error_set(err, 0, "cgroup path \"%s\": \"..\" is not allowed",
                                   cgroups_path);
        if (!(clen == 1 && p[0] == '.')) {
            if (any)
                res[n++] = '/';
            memcpy(res + n, p, clen);
            n += clen;
            any = true;
        }
        p = e;
    }
    if (!any)
        return berth_error_set(err, 0, "cgroup path \"%s\" names the root of the hierarchy",
                               cgroups_path);
    res[n] = '\0';
    *out = TAKE_PTR(res);
    return 0;
}

/* Join two paths with exactly one slash between them and none at the end. */
static char *join(const char *a, const char *b)
{
    size_t al = strlen(a);
    while (al > 1 && a[al - 1] == '/')
        al--;
    while (*b == '/')
        b++;
    size_t bl = strlen(b);
    while (bl > 0 && b[bl - 1] == '/')
        bl--;
    if (bl == 0)
        return xstrndup(a, al);
    if (al == 1 && a[0] == '/')
        al = 0;
    return xasprintf("%.*s/%.*s", (int)al, a, (int)bl, b);
}

char *cgroup_dir_path(const char *mountpoint, const char *mount_root, const char *own,
                      const char *inner, bool v2_host)
{
    if (inner[0] == '/')
        return join(mountpoint, inner);
    _cleanup_free_ char *base = xstrdup(own && *own ? own : "/");
    if (v2_host) {
        char *slash = strrchr(base, '/');
        if (slash == base)
            base[1] = '\0';
        else if (slash)
            *slash = '\0';
    }
    /* own is in hierarchy coordinates; the mount shows the hierarchy from mount_root down. */
    const char *rel = base;
    if (mount_root && strcmp(mount_root, "/") != 0) {
        size_t rl = strlen(mount_root);
        if (strncmp(base, mount_root, rl) == 0 && (base[rl] == '/' || base[rl] == '\0'))
            rel = base + rl;
        else
            rel = "/"; /* our own cgroup is outside what this mount shows */
    }
    _cleanup_free_ char *parent = join(mountpoint, rel);
    return join(parent, inner);
}

/* ---- hierarchies ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

struct cg_mount {
    char *root;
    char *mountpoint;
    char *super_opts;
    bool v2;
};

static void cg_mounts_free(struct cg_mount *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].root);
        free(m[i].mountpoint);
        free(m[i].super_opts);
    }
    free(m);
}

static int parse_mountinfo(const char *text, struct cg_mount **out, size_t *n_out)
{
    struct cg_mount *m = NULL;
    size_t n = 0;
    _cleanup_free_ char *copy = xstrdup(text);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *fields[32];
        size_t nf = 0;
        char *fsave = NULL;
        for (char *f = strtok_r(line, " ", &fsave); f && nf < ARRAY_SIZE(fields);
             f = strtok_r(NULL, " ", &fsave))
            fields[nf++] = f;
        size_t sep = 6;
        while (sep < nf && strcmp(fields[sep], "-") != 0)
            sep++;
        if (sep + 3 >= nf)
            continue;
        const char *fstype = fields[sep + 1];
        bool v2 = strcmp(fstype, "cgroup2") == 0;
        if (!v2 && strcmp(fstype, "cgroup") != 0)
            continue;
        m = xreallocarray(m, n + 1, sizeof(*m));
        m[n].root = unescape_octal(fields[3]);
        m[n].mountpoint = unescape_octal(fields[4]);
        m[n].super_opts = xstrdup(fields[sep + 3]);
        m[n].v2 = v2;
        n++;
    }
    *out = m;
    *n_out = n;
    return 0;
}

bool cgroup_opts_have(const char *opts, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = opts; *p;) {
        const char *e = strchrnul(p, ',');
        if ((size_t)(e - p) == wl && strncmp(p, word, wl) == 0)
            return true;
        p = *e ? e + 1 : e;
    }
    return false;
}

static bool mount_serves(const struct cg_mount *m, const char *controllers)
{
    if (!*controllers)
        return m->v2;
    if (m->v2)
        return false;
    for (const char *p = controllers; *p;) {
        const char *e = strchrnul(p, ',');
        _cleanup_free_ char *word = xstrndup(p, (size_t)(e - p));
        if (!cgroup_opts_have(m->super_opts, word))
            return false;
        p = *e ? e + 1 : e;
    }
    return true;
}

static bool is_prefix_path(const char *prefix, const char *path)
{
    if (strcmp(prefix, "/") == 0)
        return true;
    size_t l = strlen(prefix);
    return strncmp(prefix, path, l) == 0 && (path[l] == '/' || path[l] == '\0');
}

void cgroup_hierarchies_free(struct cgroup_hierarchy *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].controllers);
        free(h[i].mountpoint);
        free(h[i].mount_root);
        free(h[i].own);
    }
    free(h);
}

int cgroup_parse_hierarchies(const char *proc_cgroup, const char *mountinfo,
                             struct cgroup_hierarchy **out, size_t *n_out, struct berth_error **err)
{
    struct cg_mount *mounts;
    size_t n_mounts;
    parse_mountinfo(mountinfo, &mounts, &n_mounts);

    struct cgroup_hierarchy *h = NULL;
    size_t n = 0;
    _cleanup_free_ char *copy = xstrdup(proc_cgroup);
    char *save = NULL;
    int r = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) {
            r = berth_error_set(err, 0, "cgroup: /proc/self/cgroup: malformed line \"%s\"", line);
            break;
        }
        *c1 = *c2 = '\0';
        const char *controllers = c1 + 1, *own = c2 + 1;
        if (*own != '/') {
            r = berth_error_set(err, 0, "cgroup: /proc/self/cgroup: path \"%s\" is not absolute",
                                own);
            break;
        }
        /* Several mounts may show one hierarchy: prefer the whole of it, then one that shows
         * our own cgroup. */
        const struct cg_mount *best = NULL;
        for (size_t i = 0; i < n_mounts; i++) {
            if (!mount_serves(&mounts[i], controllers))
                continue;
            if (strcmp(mounts[i].root, "/") == 0) {
                best = &mounts[i];
                break;
            }
            if (!best && is_prefix_path(mounts[i].root, own))
                best = &mounts[i];
        }
        if (!best)
            continue;
        h = xreallocarray(h, n + 1, sizeof(*h));
        h[n].controllers = xstrdup(controllers);
        h[n].mountpoint = xstrdup(best->mountpoint);
        h[n].mount_root = xstrdup(best->root);
        h[n].own = xstrdup(own);
        h[n].mount_index = (size_t)(best - mounts);
        n++;
    }
    cg_mounts_free(mounts, n_mounts);
    if (r < 0) {
        cgroup_hierarchies_free(h, n);
        return r;
    }
    *out = h;
    *n_out = n;
    return 0;
}

static int read_proc_self(const char *name, char **out, struct berth_error **err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/%s", name);
    int r = fs_read_file_at(AT_FDCWD, path, 16u << 20, out, NULL, err);
    if (r < 0)
        return berth_error_prefix(err, "cgroup");
    return 0;
}

/* ---- the container's cgroup ---- */

const struct cgroup_dir *cgroup_find_dir(const struct cgroup *cg, const char *controller)
{
    for (size_t i = 0; i < cg->n_dirs; i++) {
        const char *c = cg->dirs[i].controllers;
        if (!*controller) {
            if (!*c)
                return &cg->dirs[i];
            continue;
        }
        if (*c && cgroup_opts_have(c, controller))
            return &cg->dirs[i];
    }
    return NULL;
}

const struct cgroup_dir *cgroup_primary_dir(const struct cgroup *cg)
{
    const struct cgroup_dir *d = NULL;
    if (cg->mode == CGROUP_MODE_UNIFIED)
        d = cgroup_find_dir(cg, "");
    if (!d)
        d = cgroup_find_dir(cg, "freezer");
    if (!d)
        d = cgroup_find_dir(cg, "devices");
    if (!d && cg->n_dirs > 0)
        d = &cg->dirs[0];
    return d;
}

enum cgroup_mode cgroup_get_mode(const struct cgroup *cg)
{
    return cg->mode;
}

const char *cgroup_get_path(const struct cgroup *cg, const char *controller)
{
    const struct cgroup_dir *d = cgroup_find_dir(cg, controller);
    return d ? d->path : NULL;
}

size_t cgroup_dir_count(const struct cgroup *cg)
{
    return cg->n_dirs;
}

void cgroup_dir_at(const struct cgroup *cg, size_t i, const char **controllers, const char **path)
{
    *controllers = cg->dirs[i].controllers;
    *path = cg->dirs[i].path;
}

size_t cgroup_dir_mount_index(const struct cgroup *cg, size_t i)
{
    return cg->dirs[i].mount_index;
}

void cgroup_free(struct cgroup *cg)
{
    if (!cg)
        return;
    for (size_t i = 0; i < cg->n_dirs; i++) {
        free(cg->dirs[i].controllers);
        free(cg->dirs[i].mountpoint);
        free(cg->dirs[i].path);
    }
    free(cg->dirs);
    free(cg);
}

static void cgroup_freep(struct cgroup **cg)
{
    cgroup_free(*cg);
}

/* mkdir -p of path below mountpoint; counts the directories made. */
static int mkdir_below(const char *mountpoint, const char *path, unsigned *created,
                       struct berth_error **err)
{
    /* Mostly the parent is there already (the runtime's own cgroup, an engine's slice). */
    if (mkdir(path, 0755) == 0) {
        (*created)++;
        return 0;
    }
    if (errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return berth_error_set(err, errno, "cgroup: mkdir %s", path);
    size_t ml = strlen(mountpoint);
    _cleanup_free_ char *buf = xstrdup(path);
    for (char *p = buf + ml; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *e = strchrnul(p, '/');
        char saved = *e;
        *e = '\0';
        if (mkdir(buf, 0755) == 0)
            (*created)++;
        else if (errno != EEXIST)
            return berth_error_set(err, errno, "cgroup: mkdir %s", buf);
        *e = saved;
        p = e;
    }
    return 0;
}

/* Depth of path below mountpoint, in components. */
static unsigned depth_below(const char *mountpoint, const char *path)
{
    unsigned d = 0;
    for (const char *p = path + strlen(mountpoint); *p; p++)
        if (*p == '/' && p[1] && p[1] != '/')
            d++;
    return d;
}

/* How many trailing components of path below mountpoint do not exist yet. */
static unsigned missing_below(const char *mountpoint, const char *path)
{
    unsigned depth = depth_below(mountpoint, path), missing = 0;
    _cleanup_free_ char *p = xstrdup(path);
    size_t ml = strlen(mountpoint);
    while (missing < depth && access(p, F_OK) < 0 && errno == ENOENT) {
        missing++;
        char *slash = strrchr(p, '/');
        if (!slash || (size_t)(slash - p) <= ml)
            break;
        *slash = '\0';
    }
    return missing;
}

int cgroup_plan(const char *cgroups_path, const char *id, struct cgroup **out,
                struct berth_error **err)
{
    enum cgroup_mode mode;
    int r = cgroup_detect_mode(&mode, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *inner = NULL;
    r = cgroup_inner_path(cgroups_path, id, &inner, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *proc_cgroup = NULL, *mountinfo = NULL;
    if ((r = read_proc_self("cgroup", &proc_cgroup, err)) < 0 ||
        (r = read_proc_self("mountinfo", &mountinfo, err)) < 0)
        return r;
    struct cgroup_hierarchy *h;
    size_t nh;
    r = cgroup_parse_hierarchies(proc_cgroup, mountinfo, &h, &nh, err);
    if (r < 0)
        return r;

    _cleanup_(cgroup_freep) struct cgroup *cg = xzalloc(sizeof(*cg));
    cg->mode = mode;
    cg->dirs = xcalloc(nh ? nh : 1, sizeof(*cg->dirs));
    for (size_t i = 0; i < nh; i++) {
        bool v2 = !*h[i].controllers;
        /* A v2 host's stray named v1 hierarchies, and a cgroup2 mount on a legacy host, are
         * not the container's business. */
        if ((mode == CGROUP_MODE_UNIFIED) != v2 && mode != CGROUP_MODE_HYBRID)
            continue;
        struct cgroup_dir *d = &cg->dirs[cg->n_dirs++];
        d->controllers = xstrdup(h[i].controllers);
        d->mountpoint = xstrdup(h[i].mountpoint);
        d->path = cgroup_dir_path(h[i].mountpoint, h[i].mount_root, h[i].own, inner,
                                  mode == CGROUP_MODE_UNIFIED);
        d->mount_index = h[i].mount_index;
    }
    cgroup_hierarchies_free(h, nh);

    if (cg->n_dirs == 0)
        return berth_error_set(err, 0, "cgroup: no cgroup hierarchy of this process is mounted");
    /* Without a device controller a container could open every device node it can create. */
    if (mode != CGROUP_MODE_UNIFIED && !cgroup_find_dir(cg, "devices") && !cgroup_find_dir(cg, ""))
        return berth_error_set(err, 0, "cgroup: the devices controller is not mounted");
    for (size_t i = 0; i < cg->n_dirs; i++)
        cg->dirs[i].created = missing_below(cg->dirs[i].mountpoint, cg->dirs[i].path);
    *out = TAKE_PTR(cg);
    return 0;
}

int cgroup_make(struct cgroup *cg, struct berth_error **err)
{
    for (size_t i = 0; i < cg->n_dirs; i++)
        cg->dirs[i].created = 0;
    for (size_t i = 0; i < cg->n_dirs; i++) {
        struct cgroup_dir *d = &cg->dirs[i];
        int r = mkdir_below(d->mountpoint, d->path, &d->created, err);
        if (r >= 0 && *d->controllers && cgroup_opts_have(d->controllers, "cpuset"))
            r = cgroup_v1_cpuset_init(d->mountpoint, d->path, d->created, err);
        if (r >= 0 && cg->mode == CGROUP_MODE_UNIFIED)
            r = cgroup_v2_enable(d->mountpoint, d->path, NULL, true, err);
        if (r < 0) {
            struct berth_error *derr = NULL;
            if (cgroup_destroy(cg, &derr) < 0)
                log_warn("%s", derr->msg);
            berth_error_free(derr);
            return r;
        }
    }
    return 0;
}

bool cgroup_found_existing(const struct cgroup *cg)
{
    for (size_t i = 0; i < cg->n_dirs; i++)
        if (cg->dirs[i].created == 0)
            return true;
    return false;
}

int cgroup_create(const char *cgroups_path, const char *id, struct cgroup **out,
                  struct berth_error **err)
{
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    int r = cgroup_plan(cgroups_path, id, &cg, err);
    if (r < 0)
        return r;
    r = cgroup_make(cg, err);
    if (r < 0)
        return r;
    *out = TAKE_PTR(cg);
    return 0;
}

int cgroup_clone_fd(const struct cgroup *cg)
{
    if (cg->mode == CGROUP_MODE_LEGACY)
        return -1;
    const struct cgroup_dir *d = cgroup_find_dir(cg, "");
    if (!d)
        return -1;
    return open(d->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* Whether this process is already in a cgroup2 directory. cgroup.procs lists pids as the reader's
 * pid namespace sees them, so getpid() is the one to look for even in a new pid namespace. */
static bool self_in_v2_dir(const struct cgroup_dir *d)
{
    _cleanup_free_ char *procs = NULL;
    if (cg_read(d->path, "cgroup.procs", &procs, NULL) < 0)
        return false;
    char me[24];
    int n = snprintf(me, sizeof(me), "%d", (int)getpid());
    for (const char *p = procs; *p;) {
        size_t len = strcspn(p, "\n");
        if (len == (size_t)n && strncmp(p, me, len) == 0)
            return true;
        p += len;
        if (*p)
            p++;
    }
    return false;
}

/* Write `what` into `file` of d, through fd when it is open already (else by path). */
static int join_dir(const struct cgroup_dir *d, int fd, const char *file, const char *what,
                    struct berth_error **err)
{
    int r;
    /* EINVAL: the task is still being created (TASK_NEW); it settles within moments. */
    for (int attempt = 0;; attempt++) {
        r = fd >= 0 ? cg_write_fd(fd, file, what, NULL) : cg_write(d->path, file, what, NULL);
        if (r != -EINVAL || attempt == 5)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    }
    if (r < 0) {
        cg_write_failed(err, r, file, what);
        return berth_error_prefix(err, "join %s", d->path);
    }
    return 0;
}

int cgroup_open_v1_joins(const struct cgroup *cg, int **out, struct berth_error **err)
{
    int *fds = xcalloc(cg->n_dirs ? cg->n_dirs : 1, sizeof(int));
    for (size_t i = 0; i < cg->n_dirs; i++) {
        const struct cgroup_dir *d = &cg->dirs[i];
        fds[i] = -1;
        if (!*d->controllers)
            continue;
        int r = fds[i] = cg_open_write(d->path, "tasks", "0", err);
        if (r < 0) {
            cgroup_close_v1_joins(fds, i);
            return berth_error_prefix(err, "join %s", d->path);
        }
    }
    *out = fds;
    return 0;
}

void cgroup_close_v1_joins(int *fds, size_t n)
{
    if (!fds)
        return;
    /* Opened one after another, each took the lowest free number: they ascend, mostly without
     * a gap, and each run of consecutive ones goes with one close_range. */
    int lo = -1, hi = -1;
    for (size_t i = 0; i <= n; i++) {
        int fd = i < n ? fds[i] : -1;
        if (i < n && fd < 0)
            continue;
        if (fd >= 0 && lo >= 0 && fd == hi + 1) {
            hi = fd;
            continue;
        }
        if (lo >= 0 && syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0) < 0)
            for (int k = lo; k <= hi; k++)
                close(k);
        lo = hi = fd;
    }
    free(fds);
}

int cgroup_join_v1_fds(const struct cgroup *cg, const int *fds, struct berth_error **err)
{
    for (size_t i = 0; i < cg->n_dirs; i++) {
        int r = fds[i] >= 0 ? join_dir(&cg->dirs[i], fds[i], "tasks", "0", err) : 0;
        if (r < 0)
            return r;
    }
    return 0;
}

int cgroup_join_self(const struct cgroup *cg, bool in_v2, bool v1_joined, struct berth_error **err)
{
    for (size_t i = 0; i < cg->n_dirs; i++) {
        const struct cgroup_dir *d = &cg->dirs[i];
        int r;
        if (*d->controllers) {
            if (v1_joined)
                continue;
            /* "0" into a v1 `tasks` file moves the calling thread (the whole process, for berth's
             * single-threaded children) without the global threadgroup lock that any write to
             * cgroup.procs takes, whose first writer waits for an RCU grace period (some 10 ms). */
            r = join_dir(d, -1, "tasks", "0", err);
        } else {
            /* cgroup2 has no such door (cgroup.threads stays within one domain): a child cloned
             * into this directory (cgroup_clone_fd) is left where it is. */
            if (in_v2 || (cg->mode == CGROUP_MODE_HYBRID && self_in_v2_dir(d)))
                continue;
            r = join_dir(d, -1, "cgroup.procs", "0", err);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

int cgroup_join_pid(const struct cgroup *cg, pid_t pid, struct berth_error **err)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (size_t i = 0; i < cg->n_dirs; i++) {
        int r = join_dir(&cg->dirs[i], -1, "cgroup.procs", buf, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- removal ---- */

/* cgroupfs directories go with rmdir alone (their files cannot be unlinked); sub-cgroups the
 * container made first. rmdir is tried before anything is listed: a container rarely makes
 * sub-cgroups, and cgroupfs refuses with EBUSY when it has some. */
static int rmdir_tree(const char *path)
{
    if (rmdir(path) == 0 || errno == ENOENT)
        return 0;
    if (errno != EBUSY && errno != ENOTEMPTY)
        return -errno;
    _cleanup_closedir_ DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", path, de->d_name);
        int r = rmdir_tree(sub);
        if (r < 0)
            return r;
    }
    if (rmdir(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* The directories cgroup_create made above the container's own, once that is gone. */
static int remove_parents(struct cgroup_dir *d, struct berth_error **err)
{
    _cleanup_free_ char *p = xstrdup(d->path);
    for (unsigned i = 1; i < d->created; i++) {
        char *slash = strrchr(p, '/');
        if (!slash || (size_t)(slash - p) <= strlen(d->mountpoint))
            break;
        *slash = '\0';
        /* Another container may live below a parent we made; it keeps the parent. */
        if (rmdir(p) < 0) {
            if (errno == EBUSY || errno == ENOTEMPTY)
                break;
            if (errno != ENOENT)
                return berth_error_set(err, errno, "cgroup: remove %s", p);
        }
    }
    d->created = 0;
    return 0;
}

static int remove_dir(struct cgroup_dir *d, struct berth_error **err)
{
    if (d->created == 0)
        return 0;
    /* Tasks that were just killed leave their cgroup a moment after the signal. */
    int r = 0;
    for (unsigned delay_ms = 5;; delay_ms *= 2) {
        r = rmdir_tree(d->path);
        if (r != -EBUSY || delay_ms > 1280)
            break;
        nanosleep(&(struct timespec){.tv_sec = delay_ms / 1000,
                                     .tv_nsec = (long)(delay_ms % 1000) * 1000000},
                  NULL);
    }
    if (r == -EBUSY)
        return berth_error_set(err, 0,
                               "cgroup: cannot remove %s: processes still run there (another "
                               "container's, where two share a cgroupsPath)",
                               d->path);
    if (r < 0)
        return berth_error_set(err, -r, "cgroup: remove %s", d->path);
    return remove_parents(d, err);
}

int cgroup_destroy_if_empty(struct cgroup *cg, struct berth_error **err)
{
    size_t i = cg->n_dirs;
    while (i > 0 && cg->dirs[i - 1].created == 0)
        i--;
    if (i == 0)
        return 0;
    struct cgroup_dir *d = &cg->dirs[i - 1];
    if (rmdir(d->path) < 0 && errno != ENOENT) {
        if (errno == EBUSY || errno == ENOTEMPTY)
            return -EBUSY;
        return berth_error_set(err, errno, "cgroup: remove %s", d->path);
    }
    int r = remove_parents(d, err);
    if (r < 0)
        return r;
    return cgroup_destroy(cg, err);
}

int cgroup_destroy(struct cgroup *cg, struct berth_error **err)
{
    int ret = 0;
    for (size_t i = cg->n_dirs; i-- > 0;) {
        int r = remove_dir(&cg->dirs[i], err);
        if (r < 0 && ret == 0)
            ret = r;
    }
    return ret;
}

/* ---- state.json ---- */

json_t *cgroup_to_json(const struct cgroup *cg)
{
    json_t *dirs = json_array();
    for (size_t i = 0; i < cg->n_dirs; i++) {
        const struct cgroup_dir *d = &cg->dirs[i];
        json_array_append_new(dirs, json_pack("{s:s, s:s, s:s, s:I}", "controllers", d->controllers,
                                              "mount", d->mountpoint, "path", d->path, "created",
                                              (json_int_t)d->created));
    }
    return json_pack("{s:s, s:o}", "mode", cgroup_mode_name(cg->mode), "dirs", dirs);
}

static bool path_is_clean(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        const char *e = strchrnul(s, '/');
        size_t l = (size_t)(e - s);
        if ((l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s = e;
    }
    return true;
}

int cgroup_from_json(json_t *j, struct cgroup **out, struct berth_error **err)
{
    const char *mode_name;
    json_t *dirs;
    json_error_t jerr;
    if (json_unpack_ex(j, &jerr, JSON_STRICT, "{s:s, s:o}", "mode", &mode_name, "dirs", &dirs) < 0)
        return berth_error_set(err, 0, "cgroup state: %s", jerr.text);
    if (!json_is_array(dirs))
        return berth_error_set(err, 0, "cgroup state: dirs is not an array");
    _cleanup_(cgroup_freep) struct cgroup *cg = xzalloc(sizeof(*cg));
    if (strcmp(mode_name, "legacy") == 0)
        cg->mode = CGROUP_MODE_LEGACY;
    else if (strcmp(mode_name, "hybrid") == 0)
        cg->mode = CGROUP_MODE_HYBRID;
    else if (strcmp(mode_name, "unified") == 0)
        cg->mode = CGROUP_MODE_UNIFIED;
    else
        return berth_error_set(err, 0, "cgroup state: unknown mode \"%s\"", mode_name);
    size_t n = json_array_size(dirs);
    cg->dirs = xcalloc(n ? n : 1, sizeof(*cg->dirs));
    for (size_t i = 0; i < n; i++) {
        const char *controllers, *mount, *path;
        json_int_t created;
        if (json_unpack_ex(json_array_get(dirs, i), &jerr, JSON_STRICT, "{s:s, s:s, s:s, s:I}",
                           "controllers", &controllers, "mount", &mount, "path", &path, "created",
                           &created) < 0)
            return berth_error_set(err, 0, "cgroup state: dirs[%zu]: %s", i, jerr.text);
        size_t ml = strlen(mount);
        if (!path_is_clean(mount) || !path_is_clean(path) || strncmp(path, mount, ml) != 0 ||
            path[ml] != '/' || created < 0 || (unsigned)created > depth_below(mount, path))
            return berth_error_set(err, 0, "cgroup state: dirs[%zu]: bad path \"%s\" in \"%s\"", i,
                                   path, mount);
        struct cgroup_dir *d = &cg->dirs[cg->n_dirs++];
        d->controllers = xstrdup(controllers);
        d->mountpoint = xstrdup(mount);
        d->path = xstrdup(path);
        d->created = (unsigned)created;
    }
    *out = TAKE_PTR(cg);
    return 0;
}
