#include "util/fd.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

void fd_close_all_but(unsigned preserve, int *const *own, size_t n_own)
{
    int hi = 3 + (int)preserve;
    int *keep = xcalloc(n_own ? n_own : 1, sizeof(int));
    size_t n = 0;
    for (size_t i = 0; i < n_own; i++) {
        int *fd = own[i];
        if (*fd < 0)
            continue;
        if (*fd >= 3 && *fd < hi) {
            int moved = fcntl(*fd, F_DUPFD_CLOEXEC, hi);
            close(*fd);
            *fd = moved;
        }
        if (*fd >= hi)
            keep[n++] = *fd;
    }
    for (int fd = 3; fd < hi; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && (flags & FD_CLOEXEC))
            close(fd);
    }
    qsort(keep, n, sizeof(int), cmp_int);
    unsigned lo = (unsigned)hi;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)keep[i] < lo)
            continue;
        if ((unsigned)keep[i] > lo)
            syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
        lo = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, lo, ~0U, 0);
    free(keep);
}
