#include "storage/progress.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct progress {
    char *what;
    uint64_t total;
    uint64_t start_ns;
    uint64_t next_ns; /* no redraw before this */
    bool tty;
    bool drawn;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct progress *progress_new(const char *what, uint64_t total_bytes)
{
    struct progress *p = xzalloc(sizeof(*p));
    p->what = xstrdup(what);
    p->total = total_bytes;
    p->tty = isatty(STDERR_FILENO) == 1;
    p->start_ns = now_ns();
    p->next_ns = p->start_ns + 1000000000ULL;
    return p;
}

static void human(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void progress_update(struct progress *p, uint64_t bytes, uint64_t files)
{
    if (!p || !p->tty)
        return;
    uint64_t t = now_ns();
    if (t < p->next_ns)
        return;
    p->next_ns = t + 100000000ULL;
    char size[32], line[256], bar[32];
    human(size, sizeof(size), bytes);
    double secs = (double)(t - p->start_ns) / 1e9;
    if (p->total) {
        uint64_t pct = bytes >= p->total ? 100 : bytes * 100 / p->total;
        size_t fill = (size_t)(pct * 20 / 100);
        memset(bar, '#', fill);
        memset(bar + fill, '.', 20 - fill);
        bar[20] = '\0';
        snprintf(line, sizeof(line), "\r%s [%s] %3u%% %s, %llu files, %.1fs\033[K", p->what, bar,
                 (unsigned)pct, size, (unsigned long long)files, secs);
    } else {
        snprintf(line, sizeof(line), "\r%s: %s, %llu files, %.1fs\033[K", p->what, size,
                 (unsigned long long)files, secs);
    }
    ssize_t r = write(STDERR_FILENO, line, strlen(line));
    (void)r;
    p->drawn = true;
}

void progress_done(struct progress *p)
{
    if (!p)
        return;
    if (p->drawn) {
        static const char clear[] = "\r\033[K";
        ssize_t r = write(STDERR_FILENO, clear, sizeof(clear) - 1);
        (void)r;
    }
    free(p->what);
    free(p);
}
