#include "linux/label.h"
#include "linux/label_internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef SELINUX_MAGIC
#define SELINUX_MAGIC 0xf97cff8c
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

#define MAX_SENSITIVITY 1023
#define MAX_LABEL_LEN   4096

/* ---------------------------------------------------------------- detection */

bool label_selinux_enabled(void)
{
    /* Asked once per process: whether the host runs SELinux does not change under a runtime,
     * and an init asks again after it left the host's /sys behind. */
    static int enabled = -1;
    if (enabled < 0) {
        struct statfs sfs;
        enabled =
            statfs("/sys/fs/selinux", &sfs) == 0 && sfs.f_type == (typeof(sfs.f_type))SELINUX_MAGIC;
    }
    return enabled;
}

bool label_files_enabled(void)
{
    const char *force = getenv(LABEL_FORCE_ENV);
    if (force && strcmp(force, "1") == 0)
        return true;
    return label_selinux_enabled();
}

int label_pass_error(struct berth_error **err, struct berth_error *local, int r)
{
    if (err && !*err)
        *err = local;
    else
        berth_error_free(local);
    return r;
}

/* ---------------------------------------------------------------- syntax */

struct level {
    unsigned sens;
    uint64_t cats[N_CATEGORIES / 64];
    unsigned n_cats; /* categories named, ranges counted in full */
};

/* A decimal number without leading zeros, at most max. */
static bool parse_number(const char **p, unsigned max, unsigned *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    if (*s == '0' && s[1] >= '0' && s[1] <= '9')
        return false;
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return false;
        s++;
    }
    *p = s;
    *out = (unsigned)v;
    return true;
}

static void set_cat(struct level *l, unsigned c)
{
    if (!(l->cats[c / 64] & (1ULL << (c % 64))))
        l->n_cats++;
    l->cats[c / 64] |= 1ULL << (c % 64);
}

static bool has_cat(const struct level *l, unsigned c)
{
    return l->cats[c / 64] & (1ULL << (c % 64));
}

/* One category: "cN"; *p is left after it. */
static bool parse_category(const char **p, unsigned *out, char *why, size_t n)
{
    const char *start = *p;
    if (**p != 'c') {
        snprintf(why, n, "\"%.20s\" is not a category (c0..c%d)", start, LABEL_MAX_CATEGORY);
        return false;
    }
    (*p)++;
    if (!parse_number(p, LABEL_MAX_CATEGORY, out)) {
        size_t len = strcspn(start, ",.-:");
        snprintf(why, n, "category \"%.*s\" is not one of c0..c%d", (int)(len > 20 ? 20 : len),
                 start, LABEL_MAX_CATEGORY);
        return false;
    }
    return true;
}

/* "sN" or "sN:CATS", where CATS is a comma list of "cN" and "cN.cM" (N < M). */
static bool parse_one_level(const char **p, struct level *l, char *why, size_t n)
{
    memset(l, 0, sizeof(*l));
    const char *s = *p;
    if (*s != 's') {
        snprintf(why, n, "the level must start with a sensitivity such as s0");
        return false;
    }
    s++;
    if (!parse_number(&s, MAX_SENSITIVITY, &l->sens)) {
        snprintf(why, n, "the sensitivity is not s0..s%d", MAX_SENSITIVITY);
        return false;
    }
    if (*s == ':') {
        s++;
        for (;;) {
            unsigned lo, hi;
            if (!parse_category(&s, &lo, why, n))
                return false;
            if (*s == '.') {
                s++;
                if (!parse_category(&s, &hi, why, n))
                    return false;
                if (hi <= lo) {
                    snprintf(why, n, "category range c%u.c%u does not go upwards", lo, hi);
                    return false;
                }
            } else {
                hi = lo;
            }
            for (unsigned c = lo; c <= hi; c++)
                set_cat(l, c);
            if (*s != ',')
                break;
            s++;
        }
    }
    *p = s;
    return true;
}

static bool dominates(const struct level *high, const struct level *low)
{
    if (high->sens < low->sens)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(high->cats); i++)
        if ((low->cats[i] & ~high->cats[i]) != 0)
            return false;
    return true;
}

static bool parse_level(const char *text, struct level *low, struct level *high, bool *is_range,
                        char *why, size_t n)
{
    const char *p = text;
    if (!*p) {
        snprintf(why, n, "the level is empty");
        return false;
    }
    if (!parse_one_level(&p, low, why, n))
        return false;
    *is_range = false;
    *high = *low;
    if (*p == '-') {
        p++;
        if (!parse_one_level(&p, high, why, n))
            return false;
        *is_range = true;
        if (!dominates(high, low)) {
            snprintf(why, n, "the high level of the range does not dominate the low one");
            return false;
        }
    }
    if (*p) {
        snprintf(why, n, "unexpected \"%.20s\" in the level", p);
        return false;
    }
    return true;
}

bool label_valid_identifier(const char *s, size_t len)
{
    if (len == 0)
        return false;
    char c0 = s[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static int syntax_error(struct berth_error **err, const char *field, const char *label,
                        const char *why)
{
    return berth_error_set(err, 0,
                           "%s: \"%.200s\" is not an SELinux label (user:role:type:level): %s",
                           field, label, why);
}

int label_parse(const char *label, const char *field, struct label_context *out,
                struct berth_error **err)
{
    memset(out, 0, sizeof(*out));
    if (!label)
        return syntax_error(err, field, "", "it is missing");
    if (strlen(label) >= MAX_LABEL_LEN)
        return berth_error_set(err, 0, "%s: the SELinux label is longer than %d bytes", field,
                               MAX_LABEL_LEN - 1);
    static const char *const part_names[] = {"user", "role", "type"};
    const char *p = label;
    const char *parts[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        const char *colon = strchr(p, ':');
        if (!colon) {
            char why[96];
            snprintf(why, sizeof(why), "it has %d field%s, not 4", i + 1, i ? "s" : "");
            return syntax_error(err, field, label, why);
        }
        parts[i] = p;
        lens[i] = (size_t)(colon - p);
        if (!label_valid_identifier(p, lens[i])) {
            char why[160];
            snprintf(why, sizeof(why),
                     "the %s \"%.*s\" is not a name (a letter or _, then letters, digits, _ . -)",
                     part_names[i], (int)(lens[i] > 40 ? 40 : lens[i]), p);
            return syntax_error(err, field, label, why);
        }
        p = colon + 1;
    }
    char why[160];
    struct level low, high;
    bool range;
    if (!parse_level(p, &low, &high, &range, why, sizeof(why)))
        return syntax_error(err, field, label, why);
    out->user = xstrndup(parts[0], lens[0]);
    out->role = xstrndup(parts[1], lens[1]);
    out->type = xstrndup(parts[2], lens[2]);
    out->level = xstrdup(p);
    return 0;
}

void label_context_clear(struct label_context *c)
{
    free(c->user);
    free(c->role);
    free(c->type);
    free(c->level);
    memset(c, 0, sizeof(*c));
}

char *label_context_format(const struct label_context *c)
{
    return xasprintf("%s:%s:%s:%s", c->user, c->role, c->type, c->level);
}

int label_validate(const char *label, const char *field, struct berth_error **err)
{
    if (label_empty(label))
        return 0;
    struct label_context c;
    int r = label_parse(label, field, &c, err);
    label_context_clear(&c);
    return r;
}

int label_validate_level(const char *level, const char *field, struct berth_error **err)
{
    char why[160];
    struct level low, high;
    bool range;
    if (!level || !parse_level(level, &low, &high, &range, why, sizeof(why)))
        return berth_error_set(err, 0, "%s: \"%.200s\" is not an SELinux level: %s", field,
                               level ? level : "", level ? why : "it is missing");
    return 0;
}

char *label_shared(const char *label)
{
    struct label_context c;
    struct berth_error *e = NULL;
    if (label_parse(label, "label", &c, &e) < 0) {
        berth_error_free(e);
        return NULL;
    }
    size_t n = strcspn(c.level, ":-");
    c.level[n] = '\0';
    char *out = label_context_format(&c);
    label_context_clear(&c);
    return out;
}

bool label_mcs_pair(const char *label, unsigned *lo, unsigned *hi)
{
    struct label_context c;
    struct berth_error *e = NULL;
    if (label_empty(label) || label_parse(label, "label", &c, &e) < 0) {
        berth_error_free(e);
        return false;
    }
    char why[160];
    struct level low, high;
    bool range, ok = parse_level(c.level, &low, &high, &range, why, sizeof(why));
    label_context_clear(&c);
    if (!ok || range || low.n_cats != 2)
        return false;
    int found = 0;
    for (unsigned i = 0; i < N_CATEGORIES && found < 2; i++) {
        if (!has_cat(&low, i))
            continue;
        if (found++ == 0)
            *lo = i;
        else
            *hi = i;
    }
    return true;
}

/* The loaded policy decides whether a context exists: selinuxfs's "context" file answers. */
static int check_in_policy(const char *label, const char *field, struct berth_error **err)
{
    _cleanup_close_ int fd = open("/sys/fs/selinux/context", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        log_debug("%s: cannot ask the policy about \"%s\": %s", field, label, strerror(errno));
        return 0;
    }
    if (write(fd, label, strlen(label)) < 0) {
        if (errno == EINVAL)
            return berth_error_set(err, 0,
                                   "%s: \"%s\" is not a valid context in the loaded SELinux "
                                   "policy",
                                   field, label);
        log_debug("%s: cannot ask the policy about \"%s\": %s", field, label, strerror(errno));
    }
    return 0;
}

int label_check_spec(const struct spec *s, struct berth_error **err)
{
    const char *proc = s->process ? s->process->selinux_label : NULL;
    const char *mnt = s->linux_ ? s->linux_->mount_label : NULL;
    int r = label_validate(proc, "process.selinuxLabel", err);
    if (r < 0)
        return r;
    r = label_validate(mnt, "linux.mountLabel", err);
    if (r < 0)
        return r;
    if (label_empty(proc) && label_empty(mnt))
        return 0;
    if (!label_selinux_enabled()) {
        log_debug("SELinux is off: process.selinuxLabel and linux.mountLabel are not applied");
        return 0;
    }
    if (!label_empty(proc) && (r = check_in_policy(proc, "process.selinuxLabel", err)) < 0)
        return r;
    if (!label_empty(mnt) && (r = check_in_policy(mnt, "linux.mountLabel", err)) < 0)
        return r;
    return 0;
}

/* ---------------------------------------------------------------- mount labels */

bool label_mount_takes_context(const char *type)
{
    if (label_empty(type))
        return false;
    static const char *const no[] = {"proc", "sysfs", "cgroup", "cgroup2", "bind", "none"};
    for (size_t i = 0; i < ARRAY_SIZE(no); i++)
        if (strcmp(type, no[i]) == 0)
            return false;
    return true;
}

/* Whether comma-separated mount data (double quotes protect commas) names a context. */
static bool names_context(const char *data)
{
    static const char *const keys[] = {"context=", "fscontext=", "defcontext=", "rootcontext="};
    const char *p = data;
    while (*p) {
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            if (strncmp(p, keys[i], strlen(keys[i])) == 0)
                return true;
        bool quoted = false;
        while (*p && (quoted || *p != ',')) {
            if (*p == '"')
                quoted = !quoted;
            p++;
        }
        if (*p == ',')
            p++;
    }
    return false;
}

char *label_mount_data(const char *data, const char *label)
{
    if (label_empty(label) || (data && names_context(data)))
        return data ? xstrdup(data) : NULL;
    if (label_empty(data))
        return xasprintf("context=\"%s\"", label);
    return xasprintf("%s,context=\"%s\"", data, label);
}

/* ---------------------------------------------------------------- file labels */

/* What fd points at, for messages. */
static void fd_name(int fd, char *buf, size_t size)
{
    char link[32];
    ssize_t n = readlink(path_fd(fd, link), buf, size - 1);
    if (n < 0)
        snprintf(buf, size, "fd %d", fd);
    else
        buf[n] = '\0';
}

/* fgetxattr and fsetxattr refuse O_PATH fds (EBADF); /proc/self/fd/N reaches the same object
 * without following it further, even when it is a symlink. */
static ssize_t get_xattr_fd(int fd, char *buf, size_t size)
{
    ssize_t n = fgetxattr(fd, LABEL_XATTR, buf, size);
    if (n < 0 && errno == EBADF) {
        char p[32];
        n = getxattr(path_fd(fd, p), LABEL_XATTR, buf, size);
    }
    return n;
}

static int set_xattr_fd(int fd, const char *value)
{
    int r = fsetxattr(fd, LABEL_XATTR, value, strlen(value), 0);
    if (r < 0 && errno == EBADF) {
        char p[32];
        r = setxattr(path_fd(fd, p), LABEL_XATTR, value, strlen(value), 0);
    }
    return r;
}

int label_get_fd(int fd, char **out, struct berth_error **err)
{
    char buf[MAX_LABEL_LEN + 1];
    ssize_t n = get_xattr_fd(fd, buf, sizeof(buf) - 1);
    if (n < 0) {
        int e = errno;
        char name[PATH_MAX];
        fd_name(fd, name, sizeof(name));
        return berth_error_set(err, e, "read the SELinux label of %s", name);
    }
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    buf[n] = '\0';
    *out = xstrdup(buf);
    return 0;
}

static bool has_label(int fd, const char *label)
{
    char buf[MAX_LABEL_LEN + 1];
    ssize_t n = get_xattr_fd(fd, buf, sizeof(buf) - 1);
    if (n < 0)
        return false;
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    buf[n] = '\0';
    return strcmp(buf, label) == 0;
}

int label_set_fd(int fd, const char *label, struct berth_error **err)
{
    if (has_label(fd, label))
        return 0;
    if (set_xattr_fd(fd, label) < 0) {
        int e = errno;
        char name[PATH_MAX];
        fd_name(fd, name, sizeof(name));
        return berth_error_set(err, e, "set the SELinux label of %s to \"%s\"", name, label);
    }
    return 0;
}

int label_file_fd(int fd, const char *label, struct berth_error **err)
{
    if (label_empty(label) || !label_files_enabled())
        return 0;
    struct berth_error *local = NULL;
    int r = label_set_fd(fd, label, &local);
    if (r == -EOPNOTSUPP) {
        log_debug("%s (the filesystem holds no labels)", local->msg);
        berth_error_free(local);
        return 0;
    }
    return label_pass_error(err, local, r);
}

int label_file_at(int dirfd, const char *name, const char *label, struct berth_error **err)
{
    if (label_empty(label) || !label_files_enabled())
        return 0;
    _cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "label %s: open", name);
    return label_file_fd(fd, label, err);
}

/* ---------------------------------------------------------------- relabel */

static const char *const system_dirs[] = {
    "/",     "/bin",  "/boot", "/dev",  "/etc", "/home", "/lib", "/lib64", "/media", "/opt",
    "/proc", "/root", "/run",  "/sbin", "/srv", "/sys",  "/tmp", "/usr",   "/var",
};

/* The user whose home directory `path` (clean) is, from a passwd file; NULL when none. */
static char *home_owner(const char *path, const char *passwd)
{
    _cleanup_free_ char *text = NULL;
    struct berth_error *e = NULL;
    if (fs_read_file_at(AT_FDCWD, passwd, 16 << 20, &text, NULL, &e) < 0) {
        berth_error_free(e);
        return NULL;
    }
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        /* name:password:uid:gid:gecos:home:shell */
        char *f[7] = {0};
        int n = 0;
        for (char *p = line; n < 7; n++) {
            f[n] = p;
            char *colon = strchr(p, ':');
            if (!colon)
                break;
            *colon = '\0';
            p = colon + 1;
        }
        if (n < 5 || !f[5] || f[5][0] != '/')
            continue;
        _cleanup_free_ char *home = path_clean(f[5]);
        if (strcmp(home, path) == 0)
            return xstrdup(f[0]);
    }
    return NULL;
}

static int check_relabel_path(const char *path, const char *passwd, struct berth_error **err)
{
    _cleanup_free_ char *clean = path_clean(path);
    for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++)
        if (strcmp(clean, system_dirs[i]) == 0)
            return berth_error_set(err, 0,
                                   "relabel %s: refused: %s is a system directory, and giving "
                                   "it a container's label would break the host",
                                   path, clean);
    _cleanup_free_ char *user = home_owner(clean, passwd ? passwd : "/etc/passwd");
    if (user)
        return berth_error_set(err, 0,
                               "relabel %s: refused: %s is the home directory of user \"%s\"", path,
                               clean, user);
    return 0;
}

int label_relabel_allowed(const char *path, const char *passwd, struct berth_error **err)
{
    int r = check_relabel_path(path, passwd, err);
    if (r < 0)
        return r;
    char real[PATH_MAX];
    if (realpath(path, real) && strcmp(real, path) != 0)
        return check_relabel_path(real, passwd, err);
    return 0;
}

static bool is_mount_root(int dirfd, const char *name, dev_t top_dev, dev_t dev)
{
    if (dev != top_dev)
        return true;
    struct statx stx;
    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &stx) == 0 &&
        (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
    return false;
}

/* Label everything below the directory dfd (taken over), children before their directory. */
static int relabel_dir(int dfd, const char *path, dev_t dev, const char *label,
                       struct berth_error **err)
{
    _cleanup_closedir_ DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return berth_error_set(err, e, "relabel %s: read the directory", path);
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", path, de->d_name);
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            return berth_error_set(err, errno, "relabel %s", sub);
        }
        if (is_mount_root(dirfd(d), de->d_name, dev, st.st_dev)) {
            log_debug("relabel: %s is another mount: left alone", sub);
            continue;
        }
        int flags = S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : O_PATH;
        _cleanup_close_ int fd = openat(dirfd(d), de->d_name, flags | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return berth_error_set(err, errno, "relabel %s", sub);
        }
        /* What was opened must be what was looked at: a directory swapped for something else
         * in between is not followed anywhere. */
        struct stat now;
        if (fstat(fd, &now) < 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
            return berth_error_set(err, EAGAIN, "relabel %s: it changed during the walk", sub);
        if (S_ISDIR(st.st_mode)) {
            int child = dup(fd);
            if (child < 0)
                return berth_error_set(err, errno, "relabel %s", sub);
            int r = relabel_dir(child, sub, dev, label, err);
            if (r < 0)
                return r;
        }
        int r = label_set_fd(fd, label, err);
        if (r < 0)
            return berth_error_prefix(err, "relabel");
        errno = 0;
    }
    if (errno)
        return berth_error_set(err, errno, "relabel %s: read the directory", path);
    return 0;
}

int label_relabel_fd(int fd, const char *path, const char *label, bool shared, const char *passwd,
                     struct berth_error **err)
{
    if (label_empty(label))
        return 0;
    if (!label_files_enabled()) {
        log_debug("relabel %s: SELinux is off: left as it is", path);
        return 0;
    }
    int r = check_relabel_path(path, passwd, err);
    if (r < 0)
        return r;
    char real[PATH_MAX], link[32];
    ssize_t n = readlink(path_fd(fd, link), real, sizeof(real) - 1);
    if (n > 0 && real[0] == '/') {
        real[n] = '\0';
        r = check_relabel_path(real, passwd, err);
        if (r < 0)
            return r;
    }
    _cleanup_free_ char *want = shared ? label_shared(label) : xstrdup(label);
    if (!want)
        return label_validate(label, "relabel", err);
    if (has_label(fd, want)) {
        log_debug("relabel %s: already labelled %s", path, want);
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return berth_error_set(err, errno, "relabel %s", path);
    if (S_ISDIR(st.st_mode)) {
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return berth_error_set(err, errno, "relabel %s: open", path);
        r = relabel_dir(dfd, path, st.st_dev, want, err);
        if (r < 0)
            return r;
    }
    r = label_set_fd(fd, want, err);
    if (r < 0)
        return berth_error_prefix(err, "relabel");
    return 0;
}

int label_relabel(const char *path, const char *label, bool shared, struct berth_error **err)
{
    _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "relabel %s: open", path);
    return label_relabel_fd(fd, path, label, shared, NULL, err);
}

/* ---------------------------------------------------------------- process labels */

static int write_attr(const char *attr, const char *value, const char *what,
                      struct berth_error **err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/thread-self/attr/%s", attr);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "%s: open %s", what, path);
    /* A /proc planted by the image would take the label and do nothing with it. */
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
        return berth_error_set(err, 0, "%s: %s is not on procfs", what, path);
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    if (n < 0)
        return berth_error_set(err, errno, "%s: write \"%s\" to %s", what, value, path);
    if ((size_t)n != len)
        return berth_error_set(err, EIO, "%s: short write to %s", what, path);
    return 0;
}

int label_set_exec(const char *label, struct berth_error **err)
{
    if (label_empty(label))
        return 0;
    return write_attr("exec", label, "process.selinuxLabel", err);
}

bool label_apparmor_enabled(void)
{
    char c = 0;
    _cleanup_close_ int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
    return fd >= 0 && read(fd, &c, 1) == 1 && c == 'Y';
}

int label_apparmor_exec(const char *profile, bool enabled, struct berth_error **err)
{
    if (label_empty(profile))
        return 0;
    if (!enabled)
        return berth_error_set(err, 0,
                               "process.apparmorProfile: \"%s\" cannot be applied: AppArmor is "
                               "not enabled on this host",
                               profile);
    _cleanup_free_ char *value = xasprintf("exec %s", profile);
    /* Kernels with LSM stacking have AppArmor's own attr directory. */
    if (access("/proc/thread-self/attr/apparmor/exec", F_OK) == 0)
        return write_attr("apparmor/exec", value, "process.apparmorProfile", err);
    return write_attr("exec", value, "process.apparmorProfile", err);
}

int label_set_keycreate(const char *label, struct berth_error **err)
{
    return write_attr("keycreate", label ? label : "", "session keyring label", err);
}
