/* Reading and writing cgroupfs files, with errors that name the file and the value. */
#include "linux/cgroup/cgroup_internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cgroupfs files are small; a process list is the largest thing read. */
#define CG_READ_MAX (64u << 20)

int cg_write_failed(struct berth_error **err, int r, const char *file, const char *value)
{
    return berth_error_set(err, r, "cgroup %s: write \"%s\"", file, value);
}

int cg_open_write(const char *dir, const char *file, const char *value, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return cg_write_failed(err, errno, file, value);
    return fd;
}

int cg_write_fd(int fd, const char *file, const char *value, struct berth_error **err)
{
    size_t len = strlen(value);
    /* cgroupfs takes a value in one write(); a short write would be a kernel refusal. */
    ssize_t w;
    do
        w = write(fd, value, len);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return cg_write_failed(err, errno, file, value);
    if ((size_t)w != len)
        return berth_error_set(err, EIO, "cgroup %s: write \"%s\": short write", file, value);
    return 0;
}

int cg_write(const char *dir, const char *file, const char *value, struct berth_error **err)
{
    _cleanup_close_ int fd = cg_open_write(dir, file, value, err);
    if (fd < 0)
        return fd;
    return cg_write_fd(fd, file, value, err);
}

int cg_writef(const char *dir, const char *file, struct berth_error **err, const char *fmt, ...)
{
    va_list ap;
    char *value;
    va_start(ap, fmt);
    int r = vasprintf(&value, fmt, ap);
    va_end(ap);
    if (r < 0)
        abort();
    r = cg_write(dir, file, value, err);
    free(value);
    return r;
}

int cg_read(const char *dir, const char *file, char **out, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    int r = fs_read_file_at(AT_FDCWD, path, CG_READ_MAX, out, NULL, err);
    if (r < 0)
        berth_error_prefix(err, "cgroup");
    return r;
}

static int parse_u64(const char *s, uint64_t *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (strncmp(s, "max", 3) == 0 && (s[3] == '\0' || s[3] == '\n' || s[3] == ' ')) {
        *out = UINT64_MAX;
        return 0;
    }
    if (*s < '0' || *s > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -errno;
    if (*end != '\0' && *end != '\n' && *end != ' ')
        return -EINVAL;
    *out = v;
    return 0;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out, struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = cg_read(dir, file, &text, err);
    if (r < 0)
        return r;
    if (parse_u64(text, out) < 0)
        return berth_error_set(err, 0, "cgroup %s/%s: not a number: \"%.32s\"", dir, file, text);
    return 0;
}

int cg_read_key_u64(const char *dir, const char *file, const char *key, uint64_t *out,
                    struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = cg_read(dir, file, &text, err);
    if (r < 0)
        return r;
    size_t klen = strlen(key);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            if (parse_u64(line + klen + 1, out) < 0)
                return berth_error_set(err, 0, "cgroup %s/%s: %s: not a number", dir, file, key);
            return 0;
        }
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

bool cg_exists(const char *dir, const char *file)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

bool cg_word_in(const char *list, const char *word)
{
    size_t wlen = strlen(word);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\n' && *e != '\t')
            e++;
        if ((size_t)(e - p) == wlen && strncmp(p, word, wlen) == 0)
            return true;
        p = e;
    }
    return false;
}
