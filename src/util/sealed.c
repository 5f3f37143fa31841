#include "util/sealed.h"
#include "berth/error.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

extern char **environ;

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

bool sealed_exe_active(void)
{
    _cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
    return seals >= 0 && (seals & SEALS) == SEALS;
}

int sealed_exe_reexec(char **argv, struct berth_error **err)
{
    _cleanup_close_ int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return berth_error_set(err, errno, "sealed copy: open /proc/self/exe");
    struct stat st;
    if (fstat(self, &st) < 0)
        return berth_error_set(err, errno, "sealed copy: stat /proc/self/exe");
    _cleanup_close_ int mem = memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mem < 0)
        return berth_error_set(err, errno, "sealed copy: memfd_create");
    off_t left = st.st_size;
    while (left > 0) {
        ssize_t n = sendfile(mem, self, NULL, (size_t)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return berth_error_set(err, n < 0 ? errno : EIO, "sealed copy: copy the binary");
        left -= n;
    }
    if (fcntl(mem, F_ADD_SEALS, SEALS) < 0)
        return berth_error_set(err, errno, "sealed copy: seal");
    fexecve(mem, argv, environ);
    return berth_error_set(err, errno, "sealed copy: exec");
}
