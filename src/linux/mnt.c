#include "linux/mnt.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* OPT_RATIME: the recursive atime options. The kernel takes one atime mode, not bits: each
 * option picks the mode it leaves. ratime and rnostrictatime leave the kernel's default,
 * relatime; rnorelatime leaves the one other mode that updates atime, strictatime. */
enum opt_kind { OPT_SET, OPT_CLEAR, OPT_PROP, OPT_RSET, OPT_RCLR, OPT_RATIME, OPT_EXT };

enum ext { EXT_TMPCOPYUP = 1, EXT_IDMAP, EXT_RIDMAP, EXT_RELABEL_SHARED, EXT_RELABEL_PRIVATE };

static const struct option_def {
    const char *name;
    enum opt_kind kind;
    unsigned long value;
} option_table[] = {
    /* Sorted by strcmp, for the binary search: capitals first. */
    {"Z", OPT_EXT, EXT_RELABEL_PRIVATE},
    {"async", OPT_CLEAR, MS_SYNCHRONOUS},
    {"atime", OPT_CLEAR, MS_NOATIME},
    {"bind", OPT_SET, MS_BIND},
    {"defaults", OPT_SET, 0},
    {"dev", OPT_CLEAR, MS_NODEV},
    {"diratime", OPT_CLEAR, MS_NODIRATIME},
    {"dirsync", OPT_SET, MS_DIRSYNC},
    {"exec", OPT_CLEAR, MS_NOEXEC},
    {"idmap", OPT_EXT, EXT_IDMAP},
    {"mand", OPT_SET, MS_MANDLOCK},
    {"noatime", OPT_SET, MS_NOATIME},
    {"nodev", OPT_SET, MS_NODEV},
    {"nodiratime", OPT_SET, MS_NODIRATIME},
    {"noexec", OPT_SET, MS_NOEXEC},
    {"nomand", OPT_CLEAR, MS_MANDLOCK},
    {"norelatime", OPT_CLEAR, MS_RELATIME},
    {"nostrictatime", OPT_CLEAR, MS_STRICTATIME},
    {"nosuid", OPT_SET, MS_NOSUID},
    {"private", OPT_PROP, MS_PRIVATE},
    {"ratime", OPT_RATIME, MOUNT_ATTR_RELATIME},
    {"rbind", OPT_SET, MS_BIND | MS_REC},
    {"rdev", OPT_RCLR, MOUNT_ATTR_NODEV},
    {"rdiratime", OPT_RCLR, MOUNT_ATTR_NODIRATIME},
    {"relatime", OPT_SET, MS_RELATIME},
    {"remount", OPT_SET, MS_REMOUNT},
    {"rexec", OPT_RCLR, MOUNT_ATTR_NOEXEC},
    {"ridmap", OPT_EXT, EXT_RIDMAP},
    {"rnoatime", OPT_RATIME, MOUNT_ATTR_NOATIME},
    {"rnodev", OPT_RSET, MOUNT_ATTR_NODEV},
    {"rnodiratime", OPT_RSET, MOUNT_ATTR_NODIRATIME},
    {"rnoexec", OPT_RSET, MOUNT_ATTR_NOEXEC},
    {"rnorelatime", OPT_RATIME, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", OPT_RATIME, MOUNT_ATTR_RELATIME},
    {"rnosuid", OPT_RSET, MOUNT_ATTR_NOSUID},
    {"ro", OPT_SET, MS_RDONLY},
    {"rprivate", OPT_PROP, MS_PRIVATE | MS_REC},
    {"rrelatime", OPT_RATIME, MOUNT_ATTR_RELATIME},
    {"rro", OPT_RSET, MOUNT_ATTR_RDONLY},
    {"rrw", OPT_RCLR, MOUNT_ATTR_RDONLY},
    {"rshared", OPT_PROP, MS_SHARED | MS_REC},
    {"rslave", OPT_PROP, MS_SLAVE | MS_REC},
    {"rstrictatime", OPT_RATIME, MOUNT_ATTR_STRICTATIME},
    {"rsuid", OPT_RCLR, MOUNT_ATTR_NOSUID},
    {"runbindable", OPT_PROP, MS_UNBINDABLE | MS_REC},
    {"rw", OPT_CLEAR, MS_RDONLY},
    {"shared", OPT_PROP, MS_SHARED},
    {"slave", OPT_PROP, MS_SLAVE},
    {"strictatime", OPT_SET, MS_STRICTATIME},
    {"suid", OPT_CLEAR, MS_NOSUID},
    {"sync", OPT_SET, MS_SYNCHRONOUS},
    {"tmpcopyup", OPT_EXT, EXT_TMPCOPYUP},
    {"unbindable", OPT_PROP, MS_UNBINDABLE},
    {"z", OPT_EXT, EXT_RELABEL_SHARED},
};

static const struct option_def *find_option(const char *name)
{
    size_t lo = 0, hi = ARRAY_SIZE(option_table);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, option_table[mid].name);
        if (c == 0)
            return &option_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* The mount-level attribute a classic flag stands for, for mount_setattr on binds. */
static void flag_to_attr(unsigned long flags, uint64_t *set, uint64_t *clr)
{
    *set = 0;
    *clr = 0;
    if (flags & MS_RDONLY)
        *set |= MOUNT_ATTR_RDONLY;
    if (flags & MS_NOSUID)
        *set |= MOUNT_ATTR_NOSUID;
    if (flags & MS_NODEV)
        *set |= MOUNT_ATTR_NODEV;
    if (flags & MS_NOEXEC)
        *set |= MOUNT_ATTR_NOEXEC;
    if (flags & MS_NODIRATIME)
        *set |= MOUNT_ATTR_NODIRATIME;
    if (flags & MS_NOATIME) {
        *set |= MOUNT_ATTR_NOATIME;
        *clr |= MOUNT_ATTR__ATIME;
    } else if (flags & MS_STRICTATIME) {
        *set |= MOUNT_ATTR_STRICTATIME;
        *clr |= MOUNT_ATTR__ATIME;
    } else if (flags & MS_RELATIME) {
        *clr |= MOUNT_ATTR__ATIME;
    }
}

int mnt_parse_options(char *const *options, const char *where, struct mnt_opts *out,
                      struct berth_error **err)
{
    memset(out, 0, sizeof(*out));
    size_t data_len = 0, data_cap = 0;
    char *data = NULL;
    unsigned long cleared = 0;
    for (size_t i = 0; options && options[i]; i++) {
        const char *name = options[i];
        const struct option_def *d = find_option(name);
        if (!d) {
            if (!*name)
                continue;
            size_t l = strlen(name);
            if (data_len + l + 2 > data_cap) {
                data_cap = (data_len + l + 2) * 2;
                data = xrealloc(data, data_cap);
            }
            if (data_len)
                data[data_len++] = ',';
            memcpy(data + data_len, name, l + 1);
            data_len += l;
            continue;
        }
        switch (d->kind) {
        case OPT_SET:
            out->flags |= d->value;
            cleared &= ~d->value;
            break;
        case OPT_CLEAR:
            out->flags &= ~d->value;
            cleared |= d->value;
            break;
        case OPT_PROP:
            out->propagation = d->value;
            break;
        case OPT_RATIME:
            /* mount_setattr wants the whole atime field cleared whenever one mode is set. */
            out->rattr_set = (out->rattr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | d->value;
            out->rattr_clr |= MOUNT_ATTR__ATIME;
            break;
        case OPT_RSET:
            out->rattr_set |= d->value;
            out->rattr_clr &= ~d->value;
            break;
        case OPT_RCLR:
            out->rattr_clr |= d->value;
            out->rattr_set &= ~d->value;
            break;
        case OPT_EXT:
            switch (d->value) {
            case EXT_TMPCOPYUP:
                out->tmpcopyup = true;
                break;
            case EXT_IDMAP:
                out->idmap = true;
                break;
            case EXT_RIDMAP:
                out->ridmap = true;
                break;
            case EXT_RELABEL_SHARED:
                out->relabel_shared = true;
                break;
            case EXT_RELABEL_PRIVATE:
                out->relabel_private = true;
                break;
            }
            break;
        }
    }
    if (out->relabel_shared && out->relabel_private) {
        free(data);
        return berth_error_set(err, 0, "%s.options: \"z\" and \"Z\" cannot both be given", where);
    }
    out->bind = out->flags & MS_BIND;
    out->recursive = out->flags & MS_REC;
    flag_to_attr(out->flags, &out->attr_set, &out->attr_clr);
    /* "rw", "suid", ... on a bind undo what the source mount has. */
    if (cleared & MS_RDONLY)
        out->attr_clr |= MOUNT_ATTR_RDONLY;
    if (cleared & MS_NOSUID)
        out->attr_clr |= MOUNT_ATTR_NOSUID;
    if (cleared & MS_NODEV)
        out->attr_clr |= MOUNT_ATTR_NODEV;
    if (cleared & MS_NOEXEC)
        out->attr_clr |= MOUNT_ATTR_NOEXEC;
    if (cleared & MS_NODIRATIME)
        out->attr_clr |= MOUNT_ATTR_NODIRATIME;
    if (cleared & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME))
        out->attr_clr |= MOUNT_ATTR__ATIME;
    out->data = data;
    return 0;
}

void mnt_opts_clear(struct mnt_opts *o)
{
    free(o->data);
    memset(o, 0, sizeof(*o));
}

char *mnt_flags_text(unsigned long flags)
{
    static const struct {
        unsigned long f;
        const char *n;
    } names[] = {
        {MS_RDONLY, "MS_RDONLY"},
        {MS_NOSUID, "MS_NOSUID"},
        {MS_NODEV, "MS_NODEV"},
        {MS_NOEXEC, "MS_NOEXEC"},
        {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"},
        {MS_REMOUNT, "MS_REMOUNT"},
        {MS_MANDLOCK, "MS_MANDLOCK"},
        {MS_DIRSYNC, "MS_DIRSYNC"},
        {MS_NOATIME, "MS_NOATIME"},
        {MS_NODIRATIME, "MS_NODIRATIME"},
        {MS_BIND, "MS_BIND"},
        {MS_MOVE, "MS_MOVE"},
        {MS_REC, "MS_REC"},
        {MS_UNBINDABLE, "MS_UNBINDABLE"},
        {MS_PRIVATE, "MS_PRIVATE"},
        {MS_SLAVE, "MS_SLAVE"},
        {MS_SHARED, "MS_SHARED"},
        {MS_RELATIME, "MS_RELATIME"},
        {MS_STRICTATIME, "MS_STRICTATIME"},
    };
    char buf[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (!(flags & names[i].f))
            continue;
        size_t l = strlen(names[i].n);
        if (len + l + 2 >= sizeof(buf))
            break;
        if (len)
            buf[len++] = '|';
        memcpy(buf + len, names[i].n, l + 1);
        len += l;
    }
    return xstrdup(len ? buf : "0");
}

int mnt_open_tree(int dfd, const char *path, unsigned flags)
{
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}

int mnt_move(int from_fd, int to_fd)
{
    return (int)syscall(SYS_move_mount, from_fd, "", to_fd, "",
                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

int mnt_setattr_fd(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation,
                   int userns_fd)
{
    struct mount_attr attr = {
        .attr_set = set,
        .attr_clr = clr,
        .propagation = propagation,
        .userns_fd = userns_fd >= 0 ? (uint64_t)userns_fd : 0,
    };
    unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    return (int)syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof(attr));
}

static int fs_config(int fs, unsigned cmd, const char *key, const char *value)
{
    return (int)syscall(SYS_fsconfig, fs, cmd, key, value, 0);
}

/* Fail with what the filesystem context logged about it (lines like "e tmpfs: Bad value for
 * 'size'"), if anything. */
static int fs_fail(int fs, struct berth_error **err, int e, const char *what, const char *type)
{
    char log[256];
    ssize_t n = read(fs, log, sizeof(log) - 1);
    if (n > 2 && (log[0] == 'e' || log[0] == 'w') && log[1] == ' ') {
        log[n] = '\0';
        log[strcspn(log, "\n")] = '\0';
        return berth_error_set(err, e, "%s %s (%s)", what, type, log + 2);
    }
    return berth_error_set(err, e, "%s %s", what, type);
}

/* The next option of mount data, commas inside double quotes included; the quotes go. */
static char *next_option(char **cursor)
{
    char *start = *cursor, *out = start;
    if (!start)
        return NULL;
    bool quoted = false;
    char *p = start;
    for (; *p && (quoted || *p != ','); p++) {
        if (*p == '"')
            quoted = !quoted;
        else
            *out++ = *p;
    }
    *cursor = *p ? p + 1 : NULL;
    *out = '\0';
    return start;
}

int mnt_new_detached(const char *type, const char *source, const char *data, unsigned long sb_flags,
                     struct berth_error **err)
{
    static const struct {
        unsigned long flag;
        const char *name;
    } sb[] = {
        {MS_RDONLY, "ro"},     {MS_SYNCHRONOUS, "sync"},  {MS_DIRSYNC, "dirsync"},
        {MS_MANDLOCK, "mand"}, {MS_LAZYTIME, "lazytime"},
    };
    _cleanup_close_ int fs = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
    if (fs < 0)
        return berth_error_set(err, errno, "fsopen %s", type);
    if (source && fs_config(fs, FSCONFIG_SET_STRING, "source", source) < 0)
        return fs_fail(fs, err, errno, "set the source of", type);
    _cleanup_free_ char *copy = data ? xstrdup(data) : NULL;
    char *cursor = copy;
    for (char *opt; (opt = next_option(&cursor));) {
        if (!*opt)
            continue;
        char *eq = strchr(opt, '=');
        if (eq)
            *eq = '\0';
        int r = eq ? fs_config(fs, FSCONFIG_SET_STRING, opt, eq + 1)
                   : fs_config(fs, FSCONFIG_SET_FLAG, opt, NULL);
        if (r < 0) {
            int e = errno;
            _cleanup_free_ char *what = xasprintf("option \"%s\" of", opt);
            return fs_fail(fs, err, e, what, type);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(sb); i++)
        if ((sb_flags & sb[i].flag) && fs_config(fs, FSCONFIG_SET_FLAG, sb[i].name, NULL) < 0)
            return fs_fail(fs, err, errno, sb[i].name, type);
    if (fs_config(fs, FSCONFIG_CMD_CREATE, NULL, NULL) < 0)
        return fs_fail(fs, err, errno, "create", type);
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
    if (mnt < 0)
        return fs_fail(fs, err, errno, "fsmount", type);
    return mnt;
}

int mnt_detach_fd(int fd)
{
    char proc[32];
    return umount2(path_fd(fd, proc), MNT_DETACH) < 0 && errno != EINVAL ? -errno : 0;
}

int mnt_bind_private(const char *path, uint64_t *mnt_id)
{
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -errno;
    int r = 0;
    _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct statx sx;
    if (fd < 0)
        r = -errno;
    else if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
        r = -errno;
    else if (!(sx.stx_mask & STATX_MNT_ID))
        r = -EOPNOTSUPP;
    else {
        char proc[32];
        if (mount(NULL, path_fd(fd, proc), NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            r = -errno;
    }
    if (r < 0) {
        if (fd >= 0)
            mnt_detach_fd(fd);
        else
            umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
        return r;
    }
    *mnt_id = sx.stx_mnt_id;
    return TAKE_FD(fd);
}

int mnt_detach_if(const char *path, uint64_t mnt_id)
{
    _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
        return -errno;
    if (!(sx.stx_mask & STATX_MNT_ID) || sx.stx_mnt_id != mnt_id ||
        !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
        return 0;
    return mnt_detach_fd(fd);
}
