#include "engine/passwd.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ID_MAX 0x7fffffffUL

static bool parse_id(const char *s, uint32_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > ID_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* The image's file, or NULL text when it has none. Opened O_PATH first: a fifo or a device
 * named /etc/passwd must not be opened for reading. */
static int read_image_file(int rootfd, const char *path, char **out, struct berth_error **err)
{
    *out = NULL;
    struct berth_error *local = NULL;
    _cleanup_close_ int pfd = path_open_in_root(rootfd, path, O_PATH, 0, &local);
    if (pfd == -ENOENT) {
        berth_error_free(local);
        return 0;
    }
    if (pfd < 0) {
        *err = local;
        return pfd;
    }
    struct stat st;
    if (fstat(pfd, &st) < 0)
        return berth_error_set(err, errno, "stat %s in the image", path);
    if (!S_ISREG(st.st_mode))
        return berth_error_set(err, 0, "%s in the image is not a regular file", path);
    if ((uint64_t)st.st_size > PASSWD_MAX_FILE)
        return berth_error_set(err, E2BIG, "%s in the image: over %u bytes", path, PASSWD_MAX_FILE);
    char proc[32];
    _cleanup_close_ int fd = openat(AT_FDCWD, path_fd(pfd, proc), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s in the image", path);
    int r = fs_read_fd(fd, PASSWD_MAX_FILE, out, NULL);
    if (r < 0)
        return berth_error_set(err, -r, "read %s in the image", path);
    return 0;
}

/* Split a line into at most n ':'-separated fields, in place; returns how many it has. */
static size_t split_fields(char *line, char **f, size_t n)
{
    size_t k = 0;
    while (k < n) {
        f[k++] = line;
        char *c = strchr(line, ':');
        if (!c)
            break;
        *c = '\0';
        line = c + 1;
    }
    return k;
}

/* Find an entry by name (field 0) or, when by_id, by its id (field 2). Fills the id and, when
 * gid is given (passwd), the primary gid (field 3). */
static bool find_entry(const char *text, const char *key, bool by_id, size_t fields, uint32_t *id,
                       uint32_t *gid)
{
    if (!text)
        return false;
    _cleanup_free_ char *copy = xstrdup(text);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[7];
        if (line[0] == '#' || split_fields(line, f, fields) < fields)
            continue;
        if (by_id ? strcmp(f[2], key) != 0 : strcmp(f[0], key) != 0)
            continue;
        uint32_t a, b = 0;
        if (!parse_id(f[2], &a) || (gid && !parse_id(f[3], &b)))
            continue;
        *id = a;
        if (gid)
            *gid = b;
        return true;
    }
    return false;
}

int passwd_resolve(int rootfd, const char *user, uint32_t *uid, uint32_t *gid,
                   struct berth_error **err)
{
    *uid = *gid = 0;
    if (!user || !*user)
        return 0;
    _cleanup_free_ char *u = xstrdup(user);
    char *group = strchr(u, ':');
    if (group)
        *group++ = '\0';
    if (!*u || (group && !*group))
        return berth_error_set(err, 0, "user \"%s\": NAME|UID[:GROUP|GID] expected", user);

    _cleanup_free_ char *passwd = NULL, *groups = NULL;
    uint32_t num;
    bool numeric = parse_id(u, &num);
    if (!numeric) {
        int r = read_image_file(rootfd, "/etc/passwd", &passwd, err);
        if (r < 0)
            return berth_error_prefix(err, "user \"%s\"", user);
        if (!find_entry(passwd, u, false, 7, uid, gid))
            return berth_error_set(err, 0, "user \"%s\": no user %s in the image's /etc/passwd",
                                   user, u);
    } else {
        *uid = num;
        /* A uid the image lists has that entry's primary group; any other, group 0. */
        if (!group && read_image_file(rootfd, "/etc/passwd", &passwd, err) < 0)
            return berth_error_prefix(err, "user \"%s\"", user);
        uint32_t id;
        if (!group && !find_entry(passwd, u, true, 7, &id, gid))
            *gid = 0;
    }
    if (!group)
        return 0;
    if (parse_id(group, gid))
        return 0;
    int r = read_image_file(rootfd, "/etc/group", &groups, err);
    if (r < 0)
        return berth_error_prefix(err, "user \"%s\"", user);
    if (!find_entry(groups, group, false, 4, gid, NULL))
        return berth_error_set(err, 0, "user \"%s\": no group %s in the image's /etc/group", user,
                               group);
    return 0;
}

/* The name of a passwd entry by uid, into name (NAME_MAX bytes). */
static bool name_of_uid(const char *text, const char *uid, char *name, size_t size)
{
    if (!text)
        return false;
    _cleanup_free_ char *copy = xstrdup(text);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[7];
        if (line[0] == '#' || split_fields(line, f, 7) < 7 || strcmp(f[2], uid) != 0)
            continue;
        snprintf(name, size, "%s", f[0]);
        return true;
    }
    return false;
}

int passwd_groups(int rootfd, const char *user, uint32_t gid, uint32_t **groups, size_t *n,
                  struct berth_error **err)
{
    *groups = NULL;
    *n = 0;
    if (!user || !*user)
        return 0;
    _cleanup_free_ char *u = xstrdup(user);
    char *colon = strchr(u, ':');
    if (colon)
        *colon = '\0';
    char name[256];
    uint32_t num;
    if (parse_id(u, &num)) {
        _cleanup_free_ char *passwd = NULL;
        int r = read_image_file(rootfd, "/etc/passwd", &passwd, err);
        if (r < 0)
            return berth_error_prefix(err, "user \"%s\"", user);
        if (!name_of_uid(passwd, u, name, sizeof(name)))
            return 0;
    } else {
        snprintf(name, sizeof(name), "%s", u);
    }
    _cleanup_free_ char *text = NULL;
    int r = read_image_file(rootfd, "/etc/group", &text, err);
    if (r < 0)
        return berth_error_prefix(err, "user \"%s\"", user);
    if (!text)
        return 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        uint32_t g;
        if (line[0] == '#' || split_fields(line, f, 4) < 4 || !parse_id(f[2], &g) || g == gid)
            continue;
        for (char *s2 = NULL, *m = strtok_r(f[3], ",", &s2); m; m = strtok_r(NULL, ",", &s2)) {
            if (strcmp(m, name) != 0)
                continue;
            *groups = xreallocarray(*groups, *n + 1, sizeof(uint32_t));
            (*groups)[(*n)++] = g;
            break;
        }
    }
    return 0;
}
