#include "engine/shm.h"
#include "berth/error.h"
#include "linux/label.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int shm_parse_ipc(const char *s, enum shm_ipc_mode *mode, const char **container,
                  struct berth_error **err)
{
    *container = NULL;
    if (!s || strcmp(s, "private") == 0) {
        *mode = SHM_IPC_PRIVATE;
        return 0;
    }
    if (strcmp(s, "shareable") == 0) {
        *mode = SHM_IPC_SHAREABLE;
        return 0;
    }
    if (strcmp(s, "host") == 0) {
        *mode = SHM_IPC_HOST;
        return 0;
    }
    if (strncmp(s, "container:", 10) == 0 && s[10]) {
        *mode = SHM_IPC_CONTAINER;
        *container = s + 10;
        return 0;
    }
    return berth_error_set(err, 0, "--ipc \"%s\": private, shareable, host or container:NAME", s);
}

const char *shm_ipc_mode_name(enum shm_ipc_mode mode)
{
    switch (mode) {
    case SHM_IPC_SHAREABLE:
        return "shareable";
    case SHM_IPC_HOST:
        return "host";
    case SHM_IPC_CONTAINER:
        return "container";
    case SHM_IPC_PRIVATE:
    default:
        return "private";
    }
}

int shm_parse_size(const char *s, uint64_t *bytes, struct berth_error **err)
{
    if (!s || *s < '0' || *s > '9')
        return berth_error_set(err, 0, "--shm-size \"%s\": a size such as 64m expected",
                               s ? s : "");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end) {
        const char *units = "bkmgt";
        const char *u = strchr(units, (char)(*end | 0x20));
        if (!u)
            return berth_error_set(err, 0, "--shm-size \"%s\": unknown unit \"%s\"", s, end);
        shift = (unsigned)(u - units) * 10;
        end++;
        if (shift && (strcasecmp(end, "b") == 0 || strcasecmp(end, "ib") == 0))
            end += strlen(end);
        if (*end)
            return berth_error_set(err, 0, "--shm-size \"%s\": unknown unit", s);
    }
    if (errno || v == 0 || (shift && v > (~0ULL >> shift)))
        return berth_error_set(err, 0, "--shm-size \"%s\": must be more than 0 and fit in 64 bits",
                               s);
    *bytes = (uint64_t)v << shift;
    return 0;
}

char **shm_mount_options(uint64_t size)
{
    char **v = xcalloc(6, sizeof(char *));
    v[0] = xstrdup("nosuid");
    v[1] = xstrdup("noexec");
    v[2] = xstrdup("nodev");
    v[3] = xstrdup("mode=1777");
    v[4] = xasprintf("size=%llu", (unsigned long long)size);
    return v;
}

bool shm_is_mounted(int dirfd, const char *name)
{
    struct statx stx;
    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0 ||
        !S_ISDIR(stx.stx_mode))
        return false;
    bool root;
    if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
        root = stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
    } else {
        struct stat parent;
        root = fstat(dirfd, &parent) == 0 &&
               makedev(stx.stx_dev_major, stx.stx_dev_minor) != parent.st_dev;
    }
    if (!root)
        return false;
    _cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct statfs sf;
    return fd >= 0 && fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

int shm_mount_at(int dirfd, const char *name, const char *where, uint64_t size, const char *label,
                 struct berth_error **err)
{
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return berth_error_set(err, errno, "mkdir %s", where);
    if (shm_is_mounted(dirfd, name))
        return 0;
    _cleanup_close_ int target = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (target < 0)
        return berth_error_set(err, errno, "open %s", where);
    _cleanup_free_ char *data = xasprintf("mode=1777,size=%llu", (unsigned long long)size);
    bool context = label && *label && label_selinux_enabled();
    _cleanup_free_ char *ldata = context ? label_mount_data(data, label) : NULL;
    char proc[32];
    if (mount("shm", path_fd(target, proc), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              ldata ? ldata : data) < 0)
        return berth_error_set(err, errno, "mount tmpfs on %s (%s)", where, ldata ? ldata : data);
    if (!context) {
        _cleanup_close_ int top =
            openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0 || label_file_fd(top, label, err) < 0) {
            int e = top < 0 ? errno : 0;
            struct berth_error *e2 = NULL;
            _cleanup_free_ char *path = xstrdup(where);
            shm_unmount(path, &e2);
            berth_error_free(e2);
            return e ? berth_error_set(err, e, "open %s", where)
                     : berth_error_prefix(err, "label %s", where);
        }
    }
    log_debug("mounted a %llu-byte tmpfs on %s", (unsigned long long)size, where);
    return 0;
}

int shm_unmount(const char *path, struct berth_error **err)
{
    if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
        return berth_error_set(err, errno, "unmount %s", path);
    return 0;
}
