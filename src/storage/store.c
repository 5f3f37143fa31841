#include "storage/store.h"
#include "linux/label.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "storage/progress.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define INDEX_NAME      "layers.json"
#define INDEX_MAX_BYTES (64U << 20)

struct storage {
    char *root; /* canonical path */
    int root_fd, vfs_fd, dir_fd, lock_fd;
    json_t *layers; /* array of {id, parent, created, incomplete, size, files} */
    char *label;
    bool readonly;
};

static void strv_freep(char ***v)
{
    strv_free(*v);
}

bool storage_id_valid(const char *id)
{
    if (!id || !*id || id[0] == '.' || id[0] == '-' || strlen(id) > 128)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '-'))
            return false;
    return true;
}

/* Open (creating) a store directory with exactly `mode` and owned by us: a directory someone
 * else made more open than that must not stay so. */
static int open_store_dir(int dirfd, const char *name, mode_t mode, struct berth_error **err)
{
    if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
        return berth_error_set(err, errno, "mkdir %s", name);
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s", name);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return berth_error_set(err, errno, "stat %s", name);
    if (st.st_uid != geteuid() && fchown(fd, geteuid(), getegid()) < 0)
        return berth_error_set(err, errno, "chown %s", name);
    if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
        return berth_error_set(err, errno, "chmod %s", name);
    return TAKE_FD(fd);
}

static json_t *layer_find(const struct storage *s, const char *id, size_t *index)
{
    size_t i;
    json_t *l;
    json_array_foreach(s->layers, i, l)
    {
        const char *lid = json_string_value(json_object_get(l, "id"));
        if (lid && strcmp(lid, id) == 0) {
            if (index)
                *index = i;
            return l;
        }
    }
    return NULL;
}

static bool layer_incomplete(const json_t *l)
{
    return json_is_true(json_object_get(l, "incomplete"));
}

static int index_load(struct storage *s, struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    struct berth_error *e = NULL;
    if (fs_read_file_at(s->vfs_fd, INDEX_NAME, INDEX_MAX_BYTES, &text, &len, &e) < 0) {
        if (e->code == ENOENT) {
            berth_error_free(e);
            s->layers = json_array();
            return 0;
        }
        *err = e;
        return berth_error_prefix(err, "%s/vfs", s->root);
    }
    json_error_t je;
    json_auto_t *doc = json_loadb(text, len, 0, &je);
    if (!doc)
        return berth_error_set(err, 0, "%s/vfs/%s:%d:%d: %s", s->root, INDEX_NAME, je.line,
                               je.column, je.text);
    json_t *layers = json_object_get(doc, "layers");
    if (!json_is_array(layers))
        return berth_error_set(err, 0, "%s/vfs/%s: \"layers\" is not an array", s->root,
                               INDEX_NAME);
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        const char *id = json_string_value(json_object_get(l, "id"));
        if (!json_is_object(l) || !storage_id_valid(id))
            return berth_error_set(err, 0, "%s/vfs/%s: layer %zu has no valid id", s->root,
                                   INDEX_NAME, i);
    }
    s->layers = json_incref(layers);
    return 0;
}

static int index_save(struct storage *s, struct berth_error **err)
{
    json_auto_t *doc = json_pack("{s:O}", "layers", s->layers);
    _cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(2));
    if (!text)
        return berth_error_set(err, ENOMEM, "%s/vfs/%s: encode", s->root, INDEX_NAME);
    if (fs_write_file_atomic_at(s->vfs_fd, INDEX_NAME, text, strlen(text), 0600, err) < 0)
        return berth_error_prefix(err, "%s/vfs", s->root);
    return 0;
}

/* Decode the octal escapes (\040 for a space ...) of a mountinfo field, in place. */
static void unescape_mountinfo(char *s)
{
    char *out = s;
    for (char *in = s; *in;) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] >= '0' && in[2] <= '7' &&
            in[3] >= '0' && in[3] <= '7') {
            *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
            in += 4;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
}

/* Detach every mount at or below `path`, deepest first; stacked mounts need several passes. */
static int unmount_below(const char *path, struct berth_error **err)
{
    size_t plen = strlen(path);
    for (int pass = 0; pass < 64; pass++) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
            return berth_error_set(err, errno, "open /proc/self/mountinfo");
        char **found = NULL;
        size_t n = 0;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
            char *save, *field = strtok_r(line, " ", &save);
            for (int i = 0; field && i < 4; i++)
                field = strtok_r(NULL, " ", &save);
            if (!field)
                continue;
            unescape_mountinfo(field);
            if (strncmp(field, path, plen) == 0 && (field[plen] == '\0' || field[plen] == '/')) {
                found = xreallocarray(found, n + 1, sizeof(*found));
                found[n++] = xstrdup(field);
            }
        }
        if (n == 0) {
            free(found);
            return 0;
        }
        int r = 0;
        /* Deepest first: a longer path cannot be an ancestor of a shorter one. */
        for (size_t done = 0; done < n; done++) {
            size_t best = 0;
            for (size_t i = 1; i < n; i++)
                if (found[i] && (!found[best] || strlen(found[i]) > strlen(found[best])))
                    best = i;
            if (umount2(found[best], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL &&
                errno != ENOENT && r == 0)
                r = berth_error_set(err, errno, "unmount %s", found[best]);
            free(found[best]);
            found[best] = NULL;
        }
        free(found);
        if (r < 0)
            return r;
    }
    return berth_error_set(err, EBUSY, "unmount below %s: mounts keep coming back", path);
}

static int remove_layer_tree(struct storage *s, const char *id, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/vfs/dir/%s", s->root, id);
    int r = unmount_below(path, err);
    if (r < 0)
        return r;
    r = fs_remove_tree_at(s->dir_fd, id, err);
    if (r < 0)
        return berth_error_prefix(err, "%s/vfs/dir", s->root);
    return 0;
}

/* The index is written to a temporary file and renamed: a kill in between leaves the temporary. */
static void remove_stale_temporaries(int vfs_fd)
{
    _cleanup_closedir_ DIR *d = fs_opendir_fd(vfs_fd);
    static const char prefix[] = "." INDEX_NAME ".tmp";
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, prefix, sizeof(prefix) - 1) == 0)
            unlinkat(vfs_fd, de->d_name, 0);
}

/* What a killed berth left: layers marked incomplete, directories no layer names, and
 * temporary index files. */
static int recover(struct storage *s, struct berth_error **err)
{
    bool changed = false;
    for (size_t i = json_array_size(s->layers); i-- > 0;) {
        json_t *l = json_array_get(s->layers, i);
        if (!layer_incomplete(l))
            continue;
        const char *id = json_string_value(json_object_get(l, "id"));
        log_debug("storage: removing incomplete layer %s", id);
        int r = remove_layer_tree(s, id, err);
        if (r < 0)
            return berth_error_prefix(err, "remove incomplete layer %s", id);
        json_array_remove(s->layers, i);
        changed = true;
    }
    if (changed && index_save(s, err) < 0)
        return berth_error_ret(*err);
    remove_stale_temporaries(s->vfs_fd);
    /* an image import's unpacked layout */
    if (fs_remove_tree_at(s->root_fd, "tmp", err) < 0)
        return berth_error_prefix(err, "%s", s->root);

    int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s/vfs/dir", s->root);
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return berth_error_set(err, errno, "open %s/vfs/dir", s->root);
    }
    /* Collect first: removing while reading may skip entries. */
    _cleanup_(strv_freep) char **orphans = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (storage_id_valid(de->d_name) && layer_find(s, de->d_name, NULL))
            continue;
        orphans = xreallocarray(orphans, n + 2, sizeof(*orphans));
        orphans[n++] = xstrdup(de->d_name);
        orphans[n] = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        log_debug("storage: removing %s/vfs/dir/%s, which no layer names", s->root, orphans[i]);
        int r = remove_layer_tree(s, orphans[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

void storage_set_label(struct storage *s, const char *label)
{
    free(s->label);
    s->label = label ? xstrdup(label) : NULL;
}

const char *storage_label(const struct storage *s)
{
    return s->label;
}

int storage_root_fd(const struct storage *s)
{
    return s->root_fd;
}

const char *storage_root_path(const struct storage *s)
{
    return s->root;
}

void storage_close(struct storage *s)
{
    if (!s)
        return;
    json_decref(s->layers);
    free(s->root);
    free(s->label);
    for (int *fd = &s->root_fd; fd <= &s->lock_fd; fd++)
        if (*fd >= 0)
            close(*fd);
    free(s);
}

int storage_open(const char *root, unsigned flags, struct storage **out, struct berth_error **err)
{
    if (!root || !*root)
        root = STORAGE_DEFAULT_ROOT;
    _cleanup_(storage_closep) struct storage *s = xzalloc(sizeof(*s));
    s->root_fd = s->vfs_fd = s->dir_fd = s->lock_fd = -1;
    s->readonly = flags & STORAGE_OPEN_READONLY;

    /* An administrator's path, so ordinary path resolution is right. */
    int r = fs_mkdir_parents(root, 0700, err);
    if (r < 0)
        return berth_error_prefix(err, "storage root");
    s->root_fd = open_store_dir(AT_FDCWD, root, 0700, err);
    if (s->root_fd < 0)
        return berth_error_prefix(err, "storage root");
    char link[32], real[PATH_MAX];
    ssize_t len = readlink(path_fd(s->root_fd, link), real, sizeof(real) - 1);
    if (len < 0)
        return berth_error_set(err, errno, "storage root %s: resolve", root);
    real[len] = '\0';
    s->root = xstrdup(real);

    s->lock_fd =
        openat(s->root_fd, "storage.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return berth_error_set(err, errno, "open %s/storage.lock", s->root);
    int op = s->readonly ? LOCK_SH : LOCK_EX;
    if (flock(s->lock_fd, op | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return berth_error_set(err, errno, "lock %s/storage.lock", s->root);
        log_info("waiting for the lock on %s, held by another berth", s->root);
        while (flock(s->lock_fd, op) < 0)
            if (errno != EINTR)
                return berth_error_set(err, errno, "lock %s/storage.lock", s->root);
    }

    s->vfs_fd = open_store_dir(s->root_fd, "vfs", 0710, err);
    if (s->vfs_fd < 0)
        return berth_error_prefix(err, "%s", s->root);
    s->dir_fd = open_store_dir(s->vfs_fd, "dir", 0710, err);
    if (s->dir_fd < 0)
        return berth_error_prefix(err, "%s/vfs", s->root);
    r = index_load(s, err);
    if (r < 0)
        return r;
    if (!s->readonly) {
        r = recover(s, err);
        if (r < 0)
            return r;
    }
    if (label_selinux_enabled())
        s->label = xstrdup(STORAGE_SELINUX_LABEL);
    *out = TAKE_PTR(s);
    return 0;
}

static json_t *layer_complete_find(const struct storage *s, const char *id)
{
    if (!storage_id_valid(id))
        return NULL;
    json_t *l = layer_find(s, id, NULL);
    return l && !layer_incomplete(l) ? l : NULL;
}

bool storage_layer_exists(struct storage *s, const char *id)
{
    return layer_complete_find(s, id) != NULL;
}

int storage_layer_path(struct storage *s, const char *id, char **out, struct berth_error **err)
{
    if (!layer_complete_find(s, id))
        return berth_error_set(err, ENOENT, "layer %s", id);
    *out = xasprintf("%s/vfs/dir/%s", s->root, id);
    return 0;
}

int storage_layer_open(struct storage *s, const char *id, struct berth_error **err)
{
    if (!layer_complete_find(s, id))
        return berth_error_set(err, ENOENT, "layer %s", id);
    int fd = openat(s->dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open layer %s", id);
    return fd;
}

char *storage_timestamp(void)
{
    struct timespec ts;
    struct tm tm;
    char buf[64];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ts.tv_nsec);
    return xstrdup(buf);
}

static void on_copy_progress(void *data, const struct copy_stats *st)
{
    progress_update(data, st->bytes, st->files);
}

/* Everything after the index says "incomplete": on failure the caller removes the layer. */
static int build_layer(struct storage *s, const char *id, const char *parent,
                       const struct copy_id_map *uidmap, const struct copy_id_map *gidmap,
                       const struct storage_layer_opts *opts, struct copy_stats *st,
                       struct berth_error **err)
{
    uint32_t root_uid, root_gid;
    if (copy_id_map_to_host(uidmap, 0, &root_uid) < 0 ||
        copy_id_map_to_host(gidmap, 0, &root_gid) < 0)
        return berth_error_set(err, 0, "the id maps do not map container root (0)");
    if (mkdirat(s->dir_fd, id, 0755) < 0)
        return berth_error_set(err, errno, "mkdir %s/vfs/dir/%s", s->root, id);
    _cleanup_close_ int fd = openat(s->dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s/vfs/dir/%s", s->root, id);
    if (fchown(fd, root_uid, root_gid) < 0)
        return berth_error_set(err, errno, "chown %s/vfs/dir/%s", s->root, id);
    if (fchmod(fd, 0755) < 0)
        return berth_error_set(err, errno, "chmod %s/vfs/dir/%s", s->root, id);
    if (s->label && fsetxattr(fd, "security.selinux", s->label, strlen(s->label) + 1, 0) < 0)
        return berth_error_set(err, errno, "label %s/vfs/dir/%s %s", s->root, id, s->label);
    if (parent) {
        json_t *pl = layer_find(s, parent, NULL);
        _cleanup_close_ int pfd = storage_layer_open(s, parent, err);
        if (pfd < 0)
            return pfd;
        struct progress *bar = NULL;
        if (opts && opts->progress) {
            _cleanup_free_ char *what = xasprintf("copy layer %s", parent);
            bar = progress_new(what, json_integer_value(json_object_get(pl, "size")));
        }
        bool shift = !(opts && opts->parent_is_mapped);
        struct copy_options co = {
            .uid_map = shift ? uidmap : NULL,
            .gid_map = shift ? gidmap : NULL,
            .skip_selinux = s->label != NULL,
            .progress = bar ? on_copy_progress : NULL,
            .progress_data = bar,
        };
        int r = copy_tree(pfd, fd, &co, st, err);
        progress_done(bar);
        if (r < 0)
            return berth_error_prefix(err, "layer %s in %s/vfs/dir/%s, from %s", id, s->root, id,
                                      parent);
    }
    if (opts && opts->populate) {
        int r = opts->populate(opts->populate_data, fd, st, err);
        if (r < 0)
            return berth_error_prefix(err, "layer %s in %s/vfs/dir/%s", id, s->root, id);
    }
    return 0;
}

int storage_layer_create(struct storage *s, const char *id, const char *parent,
                         const struct copy_id_map *uidmap, const struct copy_id_map *gidmap,
                         const struct storage_layer_opts *opts, struct berth_error **err)
{
    if (s->readonly)
        return berth_error_set(err, EROFS, "create layer %s: the store is open read-only", id);
    if (opts && opts->storage_opts && opts->storage_opts[0])
        return berth_error_set(err, 0, "--storage-opt is not supported for vfs");
    if (!storage_id_valid(id))
        return berth_error_set(err, 0,
                               "create layer \"%s\": an id is 1 to 128 letters, digits, '_', "
                               "'.' or '-', not starting with '.' or '-'",
                               id ? id : "");
    if (layer_find(s, id, NULL))
        return berth_error_set(err, EEXIST, "create layer %s", id);
    if (parent && !storage_layer_exists(s, parent))
        return berth_error_set(err, ENOENT, "create layer %s: parent layer %s", id, parent);

    _cleanup_free_ char *created = storage_timestamp();
    json_t *entry = json_pack("{s:s,s:s?,s:s,s:b}", "id", id, "parent", parent, "created", created,
                              "incomplete", 1);
    json_array_append_new(s->layers, entry);
    int r = index_save(s, err);
    if (r < 0) {
        json_array_remove(s->layers, json_array_size(s->layers) - 1);
        return r;
    }

    struct copy_stats st = {0};
    r = build_layer(s, id, parent, uidmap, gidmap, opts, &st, err);
    if (r == 0) {
        json_object_del(entry, "incomplete");
        json_object_set_new(entry, "size", json_integer((json_int_t)st.bytes));
        json_object_set_new(entry, "files", json_integer((json_int_t)st.files));
        r = index_save(s, err);
        if (r == 0)
            return 0;
    }
    /* Leave nothing: the tree goes, then the entry. Should this fail too, the entry stays
     * incomplete and the next open finishes the job. */
    struct berth_error *e2 = NULL;
    size_t i;
    if (remove_layer_tree(s, id, &e2) == 0 && layer_find(s, id, &i)) {
        json_array_remove(s->layers, i);
        index_save(s, &e2);
    }
    if (e2)
        log_warn("cleaning up layer %s: %s", id, e2->msg);
    berth_error_free(e2);
    return r;
}

int storage_layer_remove(struct storage *s, const char *id, struct berth_error **err)
{
    if (s->readonly)
        return berth_error_set(err, EROFS, "remove layer %s: the store is open read-only", id);
    size_t idx;
    json_t *l = storage_id_valid(id) ? layer_find(s, id, &idx) : NULL;
    if (!l)
        return berth_error_set(err, ENOENT, "remove layer %s", id ? id : "");
    size_t i;
    json_t *o;
    json_array_foreach(s->layers, i, o)
    {
        const char *p = json_string_value(json_object_get(o, "parent"));
        if (p && strcmp(p, id) == 0)
            return berth_error_set(err, EBUSY, "remove layer %s: it is the parent of layer %s", id,
                                   json_string_value(json_object_get(o, "id")));
    }
    /* Marked first, so that a removal cut short is finished by the next open. */
    json_object_set_new(l, "incomplete", json_true());
    int r = index_save(s, err);
    if (r < 0)
        return r;
    r = remove_layer_tree(s, id, err);
    if (r < 0)
        return berth_error_prefix(err, "remove layer %s", id);
    json_array_remove(s->layers, idx);
    return index_save(s, err);
}

int storage_layer_list(struct storage *s, struct storage_layer **out, size_t *n,
                       struct berth_error **err)
{
    (void)err;
    struct storage_layer *v = xcalloc(json_array_size(s->layers) + 1, sizeof(*v));
    size_t k = 0, i;
    json_t *l;
    json_array_foreach(s->layers, i, l)
    {
        if (layer_incomplete(l))
            continue;
        const char *parent = json_string_value(json_object_get(l, "parent"));
        const char *created = json_string_value(json_object_get(l, "created"));
        v[k].id = xstrdup(json_string_value(json_object_get(l, "id")));
        v[k].parent = parent ? xstrdup(parent) : NULL;
        v[k].created = xstrdup(created ? created : "");
        v[k].size = (uint64_t)json_integer_value(json_object_get(l, "size"));
        v[k].files = (uint64_t)json_integer_value(json_object_get(l, "files"));
        k++;
    }
    *out = v;
    *n = k;
    return 0;
}

void storage_layer_list_free(struct storage_layer *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].id);
        free(v[i].parent);
        free(v[i].created);
    }
    free(v);
}
