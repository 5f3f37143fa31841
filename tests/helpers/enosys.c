/* enosys SYSCALL[,SYSCALL...] CMD ARGS...: run CMD where the named system calls fail with ENOSYS,
 * as on a kernel that predates them or under a seccomp profile that does not know them (Docker's
 * default profile treats clone3 so). Everything else is allowed. The filter is inherited across
 * fork and exec, so a whole test suite can run on the fallbacks. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: enosys SYSCALL[,SYSCALL...] CMD [ARGS...]\n");
        return 2;
    }
    /* Also set by seccomp_load by default; explicit so the filter loads without CAP_SYS_ADMIN
     * whatever libseccomp's defaults become. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        fprintf(stderr, "enosys: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
        return 125;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        fprintf(stderr, "enosys: seccomp_init failed\n");
        return 125;
    }
    int r = 0;
    for (char *save = NULL, *name = strtok_r(argv[1], ",", &save); name && r == 0;
         name = strtok_r(NULL, ",", &save)) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) {
            fprintf(stderr, "enosys: unknown system call %s\n", name);
            seccomp_release(ctx);
            return 2;
        }
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    }
    if (r == 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0) {
        fprintf(stderr, "enosys: install filter: %s\n", strerror(-r));
        return 125;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "enosys: exec %s: %s\n", argv[2], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
