#include "container/state.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const status_names[] = {
    [CONTAINER_CREATING] = "creating", [CONTAINER_CREATED] = "created",
    [CONTAINER_RUNNING] = "running",   [CONTAINER_PAUSED] = "paused",
    [CONTAINER_STOPPED] = "stopped",
};

const char *container_status_name(enum container_status s)
{
    return status_names[s];
}

int container_validate_id(const char *id, struct berth_error **err)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0)
        return berth_error_set(err, 0, "container id must not be empty");
    if (len > 1024)
        return berth_error_set(err, 0, "container id is longer than 1024 characters");
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return berth_error_set(err, 0, "invalid container id \"%s\"", id);
    for (const char *p = id; *p; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '+' || c == '-' || c == '.')
            continue;
        return berth_error_set(err, 0,
                               "invalid container id \"%s\": only letters, digits and _+-. are "
                               "allowed",
                               id);
    }
    return 0;
}

int container_root_open(const char *root, bool create, struct berth_error **err)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT || !create) {
        if (fd < 0)
            return berth_error_set(err, errno, "open state root %s", root);
        return fd;
    }
    /* The root's parents may not exist yet on a fresh machine. */
    _cleanup_free_ char *parent = xstrdup(root);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        int r = fs_mkdir_parents(parent, 0755, err);
        if (r < 0)
            return r;
    }
    if (mkdir(root, 0700) < 0 && errno != EEXIST)
        return berth_error_set(err, errno, "mkdir state root %s", root);
    fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open state root %s", root);
    return fd;
}

static int lock_dir(int fd, const char *id, struct berth_error **err)
{
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR)
            return berth_error_set(err, errno, "lock container \"%s\"", id);
    }
    return 0;
}

int container_dir_create(int rootfd, const char *id, struct berth_error **err)
{
    if (mkdirat(rootfd, id, 0700) < 0) {
        if (errno == EEXIST) {
            berth_error_set(err, 0, "container \"%s\" already exists", id);
            return -EEXIST;
        }
        return berth_error_set(err, errno, "create state directory for \"%s\"", id);
    }
    int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        unlinkat(rootfd, id, AT_REMOVEDIR);
        return berth_error_set(err, e, "open state directory for \"%s\"", id);
    }
    int r = lock_dir(fd, id, err);
    if (r < 0) {
        close(fd);
        unlinkat(rootfd, id, AT_REMOVEDIR);
        return r;
    }
    return fd;
}

int container_dir_open(int rootfd, const char *id, bool lock, struct berth_error **err)
{
    int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            berth_error_set(err, 0, "container \"%s\" does not exist", id);
            return -ENOENT;
        }
        return berth_error_set(err, errno, "open state directory for \"%s\"", id);
    }
    if (lock) {
        int r = container_dir_relock(fd, id, err);
        if (r < 0) {
            close(fd);
            return r;
        }
    }
    return fd;
}

int container_dir_relock(int dirfd, const char *id, struct berth_error **err)
{
    int r = lock_dir(dirfd, id, err);
    if (r < 0)
        return r;
    /* Removed while we waited for the lock: it no longer exists. */
    struct stat st;
    if (fstat(dirfd, &st) == 0 && st.st_nlink == 0) {
        flock(dirfd, LOCK_UN);
        berth_error_set(err, 0, "container \"%s\" does not exist", id);
        return -ENOENT;
    }
    return 0;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v ? v : ""));
}

int container_state_write(int dirfd, const struct container_state *st, bool exists,
                          struct berth_error **err)
{
    json_t *o = json_object();
    set_str(o, "ociVersion", st->oci_version);
    set_str(o, "id", st->id);
    json_object_set_new(o, "pid", json_integer(st->pid));
    json_object_set_new(o, "startTime", json_integer((json_int_t)st->start_time));
    set_str(o, "bundle", st->bundle);
    set_str(o, "config", st->config);
    set_str(o, "rootfs", st->rootfs);
    set_str(o, "created", st->created);
    set_str(o, "owner", st->owner);
    if (st->annotations)
        json_object_set(o, "annotations", st->annotations);
    if (st->hooks)
        json_object_set(o, "hooks", st->hooks);
    if (st->cgroup)
        json_object_set(o, "cgroup", st->cgroup);
    if (st->label)
        json_object_set(o, "label", st->label);
    if (st->rootfs_mount)
        json_object_set_new(o, "rootfsMount", json_integer((json_int_t)st->rootfs_mount));
    if (st->own_pidns)
        json_object_set_new(o, "ownPidNamespace", json_true());
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int r = fs_replace_file_at(dirfd, CONTAINER_STATE_FILE, text, strlen(text), 0600, exists, err);
    free(text);
    return r;
}

static char *get_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return xstrdup(s ? s : "");
}

/* state.json holds the config's annotations, and a config.json may be 16 MiB. */
#define STATE_MAX_SIZE (32u << 20)

int container_state_read(int dirfd, const char *id, struct container_state *st,
                         struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = fs_read_file_at(dirfd, CONTAINER_STATE_FILE, STATE_MAX_SIZE, &text, &len, err);
    if (r < 0)
        return berth_error_prefix(err, "container \"%s\"", id);
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return berth_error_set(err, 0, "container \"%s\": state.json is corrupt", id);
    }
    memset(st, 0, sizeof(*st));
    st->id = get_str(o, "id");
    st->oci_version = get_str(o, "ociVersion");
    st->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
    st->start_time = (unsigned long long)json_integer_value(json_object_get(o, "startTime"));
    st->bundle = get_str(o, "bundle");
    st->config = get_str(o, "config");
    st->rootfs = get_str(o, "rootfs");
    st->created = get_str(o, "created");
    st->owner = get_str(o, "owner");
    st->annotations = json_incref(json_object_get(o, "annotations"));
    st->hooks = json_incref(json_object_get(o, "hooks"));
    st->cgroup = json_incref(json_object_get(o, "cgroup"));
    st->label = json_incref(json_object_get(o, "label"));
    st->rootfs_mount = (unsigned long long)json_integer_value(json_object_get(o, "rootfsMount"));
    st->own_pidns = json_is_true(json_object_get(o, "ownPidNamespace"));
    json_decref(o);
    return 0;
}

void container_state_clear(struct container_state *st)
{
    free(st->id);
    free(st->oci_version);
    free(st->bundle);
    free(st->config);
    free(st->rootfs);
    free(st->created);
    free(st->owner);
    json_decref(st->annotations);
    json_decref(st->hooks);
    json_decref(st->cgroup);
    json_decref(st->label);
    memset(st, 0, sizeof(*st));
}

unsigned long long container_proc_start_time(pid_t pid, char *state_char)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p += 2;
    if (state_char)
        *state_char = *p;
    /* starttime is field 22; p points at field 3. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    return strtoull(p, NULL, 10);
}

bool container_dir_busy(int dirfd)
{
    /* A lock of our own on a new open file description: dirfd's may already hold one. */
    _cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

enum container_status container_status_of(int dirfd, const struct container_state *st)
{
    if (st->pid <= 0) {
        /* No init recorded yet: still being created while a create holds the lock; a create
         * that died left it stopped. */
        return container_dir_busy(dirfd) ? CONTAINER_CREATING : CONTAINER_STOPPED;
    }
    char s = 0;
    unsigned long long start = container_proc_start_time(st->pid, &s);
    if (start == 0 || start != st->start_time || s == 'Z' || s == 'X')
        return CONTAINER_STOPPED;
    if (faccessat(dirfd, CONTAINER_EXEC_FIFO, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return CONTAINER_CREATED;
    return CONTAINER_RUNNING;
}

json_t *container_state_json(const struct container_state *st, enum container_status status)
{
    json_t *o = json_object();
    set_str(o, "ociVersion", st->oci_version);
    set_str(o, "id", st->id);
    json_object_set_new(o, "pid", json_integer(status == CONTAINER_STOPPED ? 0 : st->pid));
    set_str(o, "status", container_status_name(status));
    set_str(o, "bundle", st->bundle);
    set_str(o, "rootfs", st->rootfs);
    set_str(o, "created", st->created);
    set_str(o, "owner", st->owner);
    if (st->annotations && json_object_size(st->annotations))
        json_object_set(o, "annotations", st->annotations);
    return o;
}

char *container_timestamp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return container_timestamp(&ts);
}

char *container_timestamp(const struct timespec *tsp)
{
    struct timespec ts = *tsp;
    /* UTC by arithmetic: gmtime_r would load /etc/localtime first (glibc reads the zone file on
     * any first time conversion), which costs seven calls for nothing. Days since 1970-01-01 to
     * a civil date, with 400-year eras of 146097 days, years starting on 1 March. */
    long long secs = ts.tv_sec, days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;                                      /* [0, 146096] */
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    long long mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    long long day = doy - (153 * mp + 2) / 5 + 1;
    long long month = mp < 10 ? mp + 3 : mp - 9;
    long long year = yoe + era * 400 + (month <= 2);
    return xasprintf("%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", year, month, day,
                     rem / 3600, rem % 3600 / 60, rem % 60, ts.tv_nsec);
}

int container_pid_file_write(const char *path, pid_t pid, struct berth_error **err)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%d", (int)pid);
    _cleanup_free_ char *copy = xstrdup(path);
    char *slash = strrchr(copy, '/');
    const char *dir = ".", *name = copy;
    if (slash) {
        *slash = '\0';
        dir = slash == copy ? "/" : copy;
        name = slash + 1;
    }
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return berth_error_set(err, errno, "--pid-file %s", path);
    int r = fs_write_file_atomic_at(dfd, name, buf, (size_t)len, 0644, err);
    if (r < 0)
        return berth_error_prefix(err, "--pid-file");
    return 0;
}
