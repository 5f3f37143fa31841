#include "engine/volume.h"
#include "berth/error.h"
#include "engine/record.h"
#include "linux/label.h"
#include "storage/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int volumes_dir(struct storage *s, bool create, struct berth_error **err)
{
    int root = storage_root_fd(s);
    if (create && mkdirat(root, VOLUME_DIR, 0700) < 0 && errno != EEXIST)
        return berth_error_set(err, errno, "mkdir %s/%s", storage_root_path(s), VOLUME_DIR);
    int fd = openat(root, VOLUME_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return -ENOENT;
    if (fd < 0)
        return berth_error_set(err, errno, "open %s/%s", storage_root_path(s), VOLUME_DIR);
    return fd;
}

static int no_such(const char *name, struct berth_error **err)
{
    berth_error_set(err, 0, "volume \"%s\" does not exist", name);
    return -ENOENT;
}

int volume_open(struct storage *s, const char *name, bool create, bool *made, char **path,
                struct berth_error **err)
{
    if (made)
        *made = false;
    if (!record_name_valid(name))
        return berth_error_set(err, 0,
                               "volume name \"%s\": a letter or digit, then letters, digits, "
                               "'_', '.' or '-', at most %d in all",
                               name ? name : "", RECORD_NAME_MAX);
    _cleanup_close_ int dir = volumes_dir(s, create, err);
    if (dir == -ENOENT)
        return no_such(name, err);
    if (dir < 0)
        return dir;
    bool now = create && mkdirat(dir, name, 0755) == 0;
    if (create && !now && errno != EEXIST)
        return berth_error_set(err, errno, "mkdir volume %s", name);
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return no_such(name, err);
    if (fd < 0)
        return berth_error_set(err, errno, "open volume %s", name);
    /* Any container may take it: the level-s0 label layers have. */
    const char *label = storage_label(s);
    if (now && label && label_file_fd(fd, label, err) < 0) {
        close(fd);
        unlinkat(dir, name, AT_REMOVEDIR);
        return berth_error_prefix(err, "volume %s", name);
    }
    if (made)
        *made = now;
    if (path)
        *path = xasprintf("%s/%s/%s", storage_root_path(s), VOLUME_DIR, name);
    return fd;
}

int volume_remove(struct storage *s, const char *name, struct berth_error **err)
{
    _cleanup_close_ int fd = volume_open(s, name, false, NULL, NULL, err);
    if (fd < 0)
        return fd;
    _cleanup_close_ int dir = volumes_dir(s, false, err);
    if (dir < 0)
        return dir;
    return fs_remove_tree_at(dir, name, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int volume_list(struct storage *s, char ***names, struct berth_error **err)
{
    size_t n = 0;
    *names = xcalloc(1, sizeof(char *));
    int dir = volumes_dir(s, false, err);
    if (dir == -ENOENT)
        return 0;
    if (dir < 0)
        return dir;
    _cleanup_closedir_ DIR *d = fdopendir(dir);
    if (!d) {
        close(dir);
        return berth_error_set(err, errno, "read %s/%s", storage_root_path(s), VOLUME_DIR);
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !record_name_valid(e->d_name))
            continue;
        strv_push(names, &n, xstrdup(e->d_name));
    }
    qsort(*names, n, sizeof(char *), cmp_str);
    return 0;
}
