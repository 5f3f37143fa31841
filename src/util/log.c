#include "util/log.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static struct {
    int fd; /* -1: stderr */
    bool json;
    bool debug;
} log_cfg = {.fd = -1};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

int log_setup(const char *path, bool json, bool debug, struct berth_error **err)
{
    log_cfg.json = json;
    log_cfg.debug = debug;
    if (!path || !*path)
        return 0;
    if (strncmp(path, "file:", 5) == 0)
        path += 5;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return berth_error_set(err, errno, "open log file %s", path);
    log_cfg.fd = fd;
    return 0;
}

bool log_debug_enabled(void)
{
    return log_cfg.debug;
}

int log_fd(void)
{
    return log_cfg.fd;
}

void log_set_fd(int fd)
{
    log_cfg.fd = fd;
}

/* A logfmt value between double quotes: quotes, backslashes and line ends escaped, so that a
 * message naming "x" still reads back as one field of one line. */
static char *logfmt_quote(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '"' || *p == '\\' || *p == '\n' || *p == '\r' || *p == '\t') ? 2 : 1;
    char *out = xmalloc(n + 1), *o = out;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '"':
        case '\\':
            *o++ = '\\';
            *o++ = *p;
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default:
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static void log_write(int fd, enum log_level level, const char *msg)
{
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

    _cleanup_free_ char *line = NULL;
    if (log_cfg.json) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "level", level_names[level], "msg", msg, "time",
                              stamp);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!s)
            return;
        line = xasprintf("%s\n", s);
        free(s);
    } else if (fd == STDERR_FILENO) {
        line = xasprintf("%s: %s\n", level_names[level], msg);
    } else {
        _cleanup_free_ char *quoted = logfmt_quote(msg);
        line = xasprintf("time=\"%s\" level=%s msg=\"%s\"\n", stamp, level_names[level], quoted);
    }
    /* One write per line, so that lines of concurrent processes do not interleave. */
    ssize_t r = write(fd, line, strlen(line));
    (void)r;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level == LOG_LEVEL_DEBUG && !log_cfg.debug)
        return;
    va_list ap;
    _cleanup_free_ char *msg = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg)
        return;
    log_write(log_cfg.fd >= 0 ? log_cfg.fd : STDERR_FILENO, level, msg);
}

void log_fail(const char *msg)
{
    if (log_cfg.fd >= 0)
        log_write(log_cfg.fd, LOG_LEVEL_ERROR, msg);
    struct iovec iov[2] = {{(void *)msg, strlen(msg)}, {(void *)"\n", 1}};
    ssize_t r = writev(STDERR_FILENO, iov, 2);
    (void)r;
}
