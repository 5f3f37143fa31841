#include "linux/console.h"
#include "berth/error.h"
#include "linux/devices.h"
#include "linux/label.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <termios.h>
#include <unistd.h>

#ifndef DEVPTS_SUPER_MAGIC
#define DEVPTS_SUPER_MAGIC 0x1cd1
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int console_open_pty(int rootfd, int *master, int *peer, struct berth_error **err)
{
    struct berth_error *local = NULL;
    struct statfs sfs;
    _cleanup_close_ int m =
        path_open_in_root(rootfd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW, 0, &local);
    if (m >= 0) {
        if (fstatfs(m, &sfs) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC || !devices_is_char(m, 5, 2))
            return berth_error_set(err, 0, "console: /dev/pts/ptmx is not a devpts ptmx");
    } else {
        berth_error_free(local);
        /* No devpts of its own in the container: use the host's. Its /dev/ptmx is a node on
         * devtmpfs that opens the devpts beside it. */
        m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0)
            return berth_error_set(err, errno, "console: open /dev/ptmx");
        if (!devices_is_char(m, 5, 2))
            return berth_error_set(err, 0, "console: the host's /dev/ptmx is not the ptmx device");
    }
    int unlock = 0;
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
        return berth_error_set(err, errno, "console: unlock pty");
    _cleanup_close_ int p = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p < 0)
        return berth_error_set(err, errno, "console: open pty peer");
    if (fstatfs(p, &sfs) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC)
        return berth_error_set(err, 0, "console: the pty peer is not on a devpts");
    *master = TAKE_FD(m);
    *peer = TAKE_FD(p);
    return 0;
}

int console_bind(int rootfd, int peer, const char *label, struct berth_error **err)
{
    /* Labelled before the bind, so the container never sees it unlabelled. A policy may refuse
     * the label on a devpts that is not the container's own (no context= mount): the pty keeps
     * the label the policy gave it, which is the policy's call. */
    struct berth_error *lerr = NULL;
    int r = label_file_fd(peer, label, &lerr);
    if (r == -EACCES) {
        log_warn("console: %s: the pty keeps its label", lerr->msg);
        berth_error_free(lerr);
    } else if (r < 0) {
        if (err && !*err)
            *err = TAKE_PTR(lerr);
        berth_error_free(lerr);
        return berth_error_prefix(err, "console");
    }
    _cleanup_close_ int devfd = path_mkdir_in_root(rootfd, "/dev", 0755, err);
    if (devfd < 0)
        return berth_error_prefix(err, "console");
    mode_t old = umask(0);
    int f = openat(devfd, "console", O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, 0620);
    umask(old);
    if (f < 0 && errno == EEXIST) {
        /* The image's own /dev/console (a node, a file, or a symlink planted to redirect the
         * bind) is replaced, never followed. */
        struct stat st;
        if (fstatat(devfd, "console", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            return berth_error_set(err, EISDIR, "console: /dev/console is a directory");
        if (unlinkat(devfd, "console", 0) < 0)
            return berth_error_set(err, errno, "console: remove the image's /dev/console");
        old = umask(0);
        f = openat(devfd, "console", O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, 0620);
        umask(old);
    }
    if (f < 0)
        return berth_error_set(err, errno, "console: create /dev/console");
    _cleanup_close_ int target = f;
    char src[32], dst[32];
    if (mount(path_fd(peer, src), path_fd(target, dst), NULL, MS_BIND, NULL) < 0)
        return berth_error_set(err, errno, "console: bind the pty over /dev/console");
    return 0;
}

int console_set_size(int fd, uint32_t height, uint32_t width, struct berth_error **err)
{
    struct winsize ws = {.ws_row = (unsigned short)height, .ws_col = (unsigned short)width};
    if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
        return berth_error_set(err, errno, "process.consoleSize: set the terminal size");
    return 0;
}

int console_clear_onlcr(int fd, struct berth_error **err)
{
    struct termios t;
    if (tcgetattr(fd, &t) < 0)
        return berth_error_set(err, errno, "console: read the terminal's settings");
    t.c_oflag &= ~(tcflag_t)ONLCR;
    if (tcsetattr(fd, TCSANOW, &t) < 0)
        return berth_error_set(err, errno, "console: clear onlcr");
    return 0;
}

int console_make_stdio(int peer, struct berth_error **err)
{
    if (setsid() < 0)
        return berth_error_set(err, errno, "console: setsid");
    if (ioctl(peer, TIOCSCTTY, 0) < 0)
        return berth_error_set(err, errno, "console: make it the controlling terminal");
    for (int fd = 0; fd < 3; fd++)
        if (dup2(peer, fd) < 0)
            return berth_error_set(err, errno, "console: dup to fd %d", fd);
    return 0;
}

int console_send_master(const char *path, int master, struct berth_error **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path))
        return berth_error_set(err, ENAMETOOLONG, "--console-socket %s", path);
    strcpy(addr.sun_path, path);
    _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return berth_error_set(err, errno, "--console-socket: socket");
    if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return berth_error_set(err, errno, "--console-socket: connect to %s", path);
    char name[64];
    if (ptsname_r(master, name, sizeof(name)) != 0)
        snprintf(name, sizeof(name), "/dev/ptmx");
    struct iovec iov = {name, strlen(name)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &master, sizeof(int));
    if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
        return berth_error_set(err, errno, "--console-socket: send the pty to %s", path);
    return 0;
}
