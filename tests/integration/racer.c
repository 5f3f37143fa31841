/* racer A B: swaps the names A and B (a directory and a symlink, say) with
 * renameat2(RENAME_EXCHANGE) as fast as it can, until it is killed. The race tests of
 * test_cve.py run it in a container that shares a volume with the container being created.
 * Built static by the tests (gcc -static), so it runs in a busybox rootfs. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: racer A B\n");
        return 2;
    }
    /* Say it runs only once the first swap worked: the test waits for this file. */
    if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) < 0) {
        perror("renameat2");
        return 1;
    }
    char ready[4096];
    snprintf(ready, sizeof(ready), "%s.ready", argv[1]);
    int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    for (;;)
        renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE);
}
