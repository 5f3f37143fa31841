/* SELinux label allocation: the options a user gives (user, role, type, level, filetype,
 * disable), the host's default container contexts, and a unique MCS category pair per container,
 * reserved in a registry under the state root. */
#include "linux/label.h"
#include "berth/error.h"
#include "linux/label_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

void label_options_clear(struct label_options *o)
{
    free(o->user);
    free(o->role);
    free(o->type);
    free(o->level);
    free(o->filetype);
    memset(o, 0, sizeof(*o));
}

int label_parse_options(char *const *options, struct label_options *out, struct berth_error **err)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; options && options[i]; i++) {
        const char *opt = options[i];
        if (strcmp(opt, "disable") == 0) {
            out->disable = true;
            continue;
        }
        const char *colon = strchr(opt, ':');
        size_t klen = colon ? (size_t)(colon - opt) : strlen(opt);
        char **slot = NULL;
        if (colon && klen == 4 && strncmp(opt, "user", 4) == 0)
            slot = &out->user;
        else if (colon && klen == 4 && strncmp(opt, "role", 4) == 0)
            slot = &out->role;
        else if (colon && klen == 4 && strncmp(opt, "type", 4) == 0)
            slot = &out->type;
        else if (colon && klen == 5 && strncmp(opt, "level", 5) == 0)
            slot = &out->level;
        else if (colon && klen == 8 && strncmp(opt, "filetype", 8) == 0)
            slot = &out->filetype;
        if (!slot) {
            label_options_clear(out);
            return berth_error_set(err, 0,
                                   "label option \"%s\": want disable, or user:, role:, type:, "
                                   "level: or filetype: followed by a value",
                                   opt);
        }
        const char *value = colon + 1;
        int bad = 0;
        if (*slot)
            bad = berth_error_set(err, 0, "label option \"%.*s\" is given twice", (int)klen, opt);
        else if (slot == &out->level)
            bad = label_validate_level(value, "label option level", err);
        else if (!label_valid_identifier(value, strlen(value)))
            bad = berth_error_set(err, 0,
                                  "label option \"%s\": \"%s\" is not a name (a letter or _, "
                                  "then letters, digits, _ . -)",
                                  opt, value);
        if (bad < 0) {
            label_options_clear(out);
            return bad;
        }
        *slot = xstrdup(value);
    }
    return 0;
}

static bool safe_name(const char *s)
{
    return *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
               strlen(s);
}

/* "key = value" lines (value optionally in double quotes, # comments): the value of key. */
static char *config_value(char *text, const char *key, char sep)
{
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " \t");
        if (*line == '#')
            continue;
        size_t klen = strlen(key);
        if (strncmp(line, key, klen) != 0)
            continue;
        char *p = line + klen;
        p += strspn(p, " \t");
        if (*p != sep)
            continue;
        p++;
        p += strspn(p, " \t");
        size_t len = strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
            len--;
        if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
            p++;
            len -= 2;
        }
        return xstrndup(p, len);
    }
    return NULL;
}

static char *read_value(const char *path, const char *key, char sep)
{
    _cleanup_free_ char *text = NULL;
    struct berth_error *e = NULL;
    if (fs_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, &e) < 0) {
        berth_error_free(e);
        return NULL;
    }
    return config_value(text, key, sep);
}

int label_read_contexts(const char *selinux_dir, char **process, char **file,
                        struct berth_error **err)
{
    const char *dir = selinux_dir ? selinux_dir : "/etc/selinux";
    *process = *file = NULL;
    _cleanup_free_ char *config = xasprintf("%s/config", dir);
    _cleanup_free_ char *type = read_value(config, "SELINUXTYPE", '=');
    if (type && safe_name(type)) {
        _cleanup_free_ char *lxc = xasprintf("%s/%s/contexts/lxc_contexts", dir, type);
        *process = read_value(lxc, "process", '=');
        *file = read_value(lxc, "file", '=');
        _cleanup_free_ char *what_p = xasprintf("%s: process", lxc);
        _cleanup_free_ char *what_f = xasprintf("%s: file", lxc);
        int r = label_validate(*process, what_p, err);
        if (r == 0)
            r = label_validate(*file, what_f, err);
        if (r < 0) {
            free(*process);
            free(*file);
            *process = *file = NULL;
            return r;
        }
    }
    if (label_empty(*process)) {
        free(*process);
        *process = xstrdup(LABEL_DEFAULT_PROCESS);
    }
    if (label_empty(*file)) {
        free(*file);
        *file = xstrdup(LABEL_DEFAULT_FILE);
    }
    return 0;
}

/* ROOT/.labels, made (with ROOT) when asked. */
static int open_registry(const char *root, bool create, struct berth_error **err)
{
    if (create) {
        _cleanup_free_ char *p = xstrdup(root);
        for (char *s = p + 1; *s; s++) {
            if (*s != '/')
                continue;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "mkdir %s", p);
            *s = '/';
        }
        if (mkdir(root, 0700) < 0 && errno != EEXIST)
            return berth_error_set(err, errno, "mkdir %s", root);
    }
    _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return berth_error_set(err, errno, "open %s", root);
    if (create && mkdirat(rootfd, LABEL_REGISTRY_DIR, 0700) < 0 && errno != EEXIST)
        return berth_error_set(err, errno, "mkdir %s/%s", root, LABEL_REGISTRY_DIR);
    int fd = openat(rootfd, LABEL_REGISTRY_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s/%s", root, LABEL_REGISTRY_DIR);
    return fd;
}

static void pair_name(unsigned lo, unsigned hi, char buf[static 16])
{
    snprintf(buf, 16, "c%u,c%u", lo, hi);
}

/* 1: reserved now; 0: in use already; <0: error. */
static int reserve_pair(int regfd, const char *root, unsigned lo, unsigned hi,
                        struct berth_error **err)
{
    char name[16];
    pair_name(lo, hi, name);
    int fd = openat(regfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 1;
    }
    if (errno == EEXIST)
        return 0;
    return berth_error_set(err, errno, "reserve the MCS pair %s under %s/%s", name, root,
                           LABEL_REGISTRY_DIR);
}

/* The k-th pair (lo < hi) in the order (0,1), (0,2), ..., (0,1023), (1,2), ... */
static void nth_pair(unsigned long k, unsigned *lo, unsigned *hi)
{
    unsigned a = 0;
    unsigned long row = N_CATEGORIES - 1;
    while (k >= row) {
        k -= row;
        a++;
        row--;
    }
    *lo = a;
    *hi = a + 1 + (unsigned)k;
}

static int allocate_pair(int regfd, const char *root, unsigned *lo, unsigned *hi,
                         struct berth_error **err)
{
    const unsigned long total = (unsigned long)N_CATEGORIES * (N_CATEGORIES - 1) / 2;
    uint32_t rnd[2];
    /* Random first, so that labels are not predictable from the number of containers. */
    for (int attempt = 0; attempt < 256; attempt++) {
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
            return berth_error_set(err, errno, "getrandom");
        unsigned a = rnd[0] % N_CATEGORIES, b = rnd[1] % N_CATEGORIES;
        if (a == b)
            continue;
        *lo = a < b ? a : b;
        *hi = a < b ? b : a;
        int r = reserve_pair(regfd, root, *lo, *hi, err);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    /* Crowded: every pair in turn, from a random start. */
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
        return berth_error_set(err, errno, "getrandom");
    for (unsigned long i = 0; i < total; i++) {
        nth_pair((rnd[0] + i) % total, lo, hi);
        int r = reserve_pair(regfd, root, *lo, *hi, err);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return berth_error_set(err, ENOSPC, "every MCS category pair is in use under %s", root);
}

static void replace(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

/* level:X: that level for both labels, its pair (when it is one) reserved. */
static int take_level(const char *root, const char *level, struct label_context *pc,
                      struct label_context *fc, struct berth_error **err)
{
    replace(&pc->level, level);
    replace(&fc->level, level);
    _cleanup_free_ char *probe = label_context_format(pc);
    unsigned lo, hi;
    if (!label_mcs_pair(probe, &lo, &hi))
        return 0;
    _cleanup_close_ int regfd = open_registry(root, true, err);
    if (regfd < 0)
        return regfd;
    int r = reserve_pair(regfd, root, lo, hi, err);
    if (r == 0) {
        char name[16];
        pair_name(lo, hi, name);
        return berth_error_set(err, EBUSY, "label option level:%s: the MCS pair %s is in use",
                               level, name);
    }
    return r < 0 ? r : 0;
}

/* A fresh pair, with the low sensitivity of the host's process context. */
static int new_level(const char *root, struct label_context *pc, struct label_context *fc,
                     struct berth_error **err)
{
    _cleanup_close_ int regfd = open_registry(root, true, err);
    if (regfd < 0)
        return regfd;
    unsigned lo = 0, hi = 0;
    int r = allocate_pair(regfd, root, &lo, &hi, err);
    if (r < 0)
        return r;
    pc->level[strcspn(pc->level, ":-")] = '\0';
    char *level = xasprintf("%s:c%u,c%u", pc->level, lo, hi);
    free(pc->level);
    pc->level = level;
    replace(&fc->level, level);
    return 0;
}

int label_allocate_from(const char *root, const char *selinux_dir, char *const *options,
                        char **process_label, char **mount_label, struct berth_error **err)
{
    *process_label = *mount_label = NULL;
    _cleanup_(label_options_clear) struct label_options o;
    int r = label_parse_options(options, &o, err);
    if (r < 0)
        return r;
    if (o.disable) {
        *process_label = xstrdup("");
        *mount_label = xstrdup("");
        return 0;
    }
    _cleanup_free_ char *ptext = NULL, *ftext = NULL;
    _cleanup_(label_context_clear) struct label_context pc = {0};
    _cleanup_(label_context_clear) struct label_context fc = {0};
    r = label_read_contexts(selinux_dir, &ptext, &ftext, err);
    if (r == 0)
        r = label_parse(ptext, "process context", &pc, err);
    if (r == 0)
        r = label_parse(ftext, "file context", &fc, err);
    if (r < 0)
        return r;
    if (o.user) {
        replace(&pc.user, o.user);
        replace(&fc.user, o.user);
    }
    if (o.role)
        replace(&pc.role, o.role);
    if (o.type)
        replace(&pc.type, o.type);
    if (o.filetype)
        replace(&fc.type, o.filetype);
    r = o.level ? take_level(root, o.level, &pc, &fc, err) : new_level(root, &pc, &fc, err);
    if (r < 0)
        return r;
    *process_label = label_context_format(&pc);
    *mount_label = label_context_format(&fc);
    return 0;
}

int label_allocate(const char *root, char *const *options, char **process_label, char **mount_label,
                   struct berth_error **err)
{
    return label_allocate_from(root, NULL, options, process_label, mount_label, err);
}

int label_release(const char *root, const char *label, struct berth_error **err)
{
    if (label_empty(label))
        return 0;
    int r = label_validate(label, "label release", err);
    if (r < 0)
        return r;
    unsigned lo, hi;
    if (!label_mcs_pair(label, &lo, &hi))
        return 0;
    struct berth_error *local = NULL;
    _cleanup_close_ int regfd = open_registry(root, false, &local);
    if (regfd < 0) {
        if (regfd == -ENOENT) {
            berth_error_free(local);
            return 0;
        }
        return label_pass_error(err, local, regfd);
    }
    char name[16];
    pair_name(lo, hi, name);
    if (unlinkat(regfd, name, 0) < 0 && errno != ENOENT)
        return berth_error_set(err, errno, "release the MCS pair %s under %s/%s", name, root,
                               LABEL_REGISTRY_DIR);
    return 0;
}
