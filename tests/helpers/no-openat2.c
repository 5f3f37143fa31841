/* no-openat2 CMD ARGS...: run CMD where openat2 fails with ENOSYS, as on a kernel older than
 * 5.6 or under a seccomp profile that does not know the syscall. Everything else is allowed.
 * The filter is inherited across fork and exec, so a whole test suite runs on the fallbacks. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: no-openat2 CMD [ARGS...]\n");
        return 2;
    }
    /* Also set by seccomp_load by default; explicit so the filter loads without CAP_SYS_ADMIN
     * whatever libseccomp's defaults become. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        fprintf(stderr, "no-openat2: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
        return 125;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        fprintf(stderr, "no-openat2: seccomp_init failed\n");
        return 125;
    }
    int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0);
    if (r == 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0) {
        fprintf(stderr, "no-openat2: install filter: %s\n", strerror(-r));
        return 125;
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "no-openat2: exec %s: %s\n", argv[1], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
