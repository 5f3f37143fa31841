#include "engine/record.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_MAX_SIZE (1U << 20)

void record_clear(struct record *r)
{
    char **strings[] = {&r->id,       &r->name,          &r->image,         &r->image_digest,
                        &r->layer,    &r->rootfs,        &r->bundle,        &r->created,
                        &r->hostname, &r->ipc_container, &r->process_label, &r->mount_label,
                        &r->started};
    for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
        free(*strings[i]);
    strv_free(r->dns_servers);
    strv_free(r->dns_search);
    strv_free(r->dns_options);
    strv_free(r->volumes);
    memset(r, 0, sizeof(*r));
}

static json_t *strv_json(char *const *v)
{
    if (!v)
        return json_null();
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static char **json_strv(json_t *a)
{
    if (!json_is_array(a))
        return NULL;
    char **v = xcalloc(json_array_size(a) + 1, sizeof(char *));
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (json_is_string(e))
            v[n++] = xstrdup(json_string_value(e));
    }
    return v;
}

static void set_str(json_t *o, const char *key, const char *value)
{
    json_object_set_new(o, key, value ? json_string(value) : json_null());
}

int record_write(int dirfd, const struct record *r, struct berth_error **err)
{
    json_auto_t *o = json_object();
    set_str(o, "id", r->id);
    set_str(o, "name", r->name);
    set_str(o, "image", r->image);
    set_str(o, "image_digest", r->image_digest);
    set_str(o, "layer", r->layer);
    set_str(o, "rootfs", r->rootfs);
    set_str(o, "bundle", r->bundle);
    set_str(o, "runtime_id", r->name);
    set_str(o, "created", r->created);
    set_str(o, "hostname", r->hostname);
    set_str(o, "ipc", shm_ipc_mode_name(r->ipc));
    set_str(o, "ipc_container", r->ipc_container);
    json_object_set_new(o, "shm_size", json_integer((json_int_t)r->shm_size));
    json_object_set_new(o, "tty", json_boolean(r->tty));
    json_object_set_new(o, "incomplete", json_boolean(r->incomplete));
    set_str(o, "process_label", r->process_label);
    set_str(o, "mount_label", r->mount_label);
    json_object_set_new(o, "dns",
                        json_pack("{s:o,s:o,s:o}", "servers", strv_json(r->dns_servers), "search",
                                  strv_json(r->dns_search), "options", strv_json(r->dns_options)));
    json_object_set_new(o, "files",
                        json_pack("{s:b,s:b,s:b}", "resolv.conf", r->own_resolv, "hosts",
                                  r->own_hosts, "hostname", r->own_hostname));
    json_object_set_new(o, "volumes", strv_json(r->volumes));
    set_str(o, "started", r->started);
    json_object_set_new(o, "exit_code",
                        r->has_exit_code ? json_integer(r->exit_code) : json_null());
    _cleanup_free_ char *text = json_dumps(o, JSON_INDENT(2));
    if (!text)
        return berth_error_set(err, ENOMEM, "encode %s", RECORD_FILE);
    return fs_write_file_atomic_at(dirfd, RECORD_FILE, text, strlen(text), 0600, err);
}

static char *get_str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? xstrdup(v) : NULL;
}

int record_read(int dirfd, struct record *r, struct berth_error **err)
{
    memset(r, 0, sizeof(*r));
    _cleanup_free_ char *text = NULL;
    size_t len;
    int ret = fs_read_file_at(dirfd, RECORD_FILE, RECORD_MAX_SIZE, &text, &len, err);
    if (ret < 0)
        return ret;
    json_error_t je;
    json_auto_t *o = json_loadb(text, len, 0, &je);
    if (!json_is_object(o))
        return berth_error_set(err, 0, "%s:%d:%d: %s", RECORD_FILE, je.line, je.column,
                               o ? "not an object" : je.text);
    r->id = get_str(o, "id");
    r->name = get_str(o, "name");
    r->image = get_str(o, "image");
    r->image_digest = get_str(o, "image_digest");
    r->layer = get_str(o, "layer");
    r->rootfs = get_str(o, "rootfs");
    r->bundle = get_str(o, "bundle");
    r->created = get_str(o, "created");
    r->hostname = get_str(o, "hostname");
    _cleanup_free_ char *ipc = get_str(o, "ipc");
    r->ipc = SHM_IPC_PRIVATE;
    for (enum shm_ipc_mode m = SHM_IPC_PRIVATE; m <= SHM_IPC_CONTAINER; m++)
        if (ipc && strcmp(ipc, shm_ipc_mode_name(m)) == 0)
            r->ipc = m;
    r->ipc_container = get_str(o, "ipc_container");
    json_t *size = json_object_get(o, "shm_size");
    r->shm_size = json_is_integer(size) && json_integer_value(size) > 0
                      ? (uint64_t)json_integer_value(size)
                      : SHM_DEFAULT_SIZE;
    r->tty = json_is_true(json_object_get(o, "tty"));
    r->incomplete = json_is_true(json_object_get(o, "incomplete"));
    r->process_label = get_str(o, "process_label");
    r->mount_label = get_str(o, "mount_label");
    json_t *dns = json_object_get(o, "dns");
    r->dns_servers = json_strv(json_object_get(dns, "servers"));
    r->dns_search = json_strv(json_object_get(dns, "search"));
    r->dns_options = json_strv(json_object_get(dns, "options"));
    json_t *files = json_object_get(o, "files");
    r->own_resolv = json_is_true(json_object_get(files, "resolv.conf"));
    r->own_hosts = json_is_true(json_object_get(files, "hosts"));
    r->own_hostname = json_is_true(json_object_get(files, "hostname"));
    r->volumes = json_strv(json_object_get(o, "volumes"));
    r->started = get_str(o, "started");
    json_t *code = json_object_get(o, "exit_code");
    r->has_exit_code = json_is_integer(code);
    r->exit_code = r->has_exit_code ? (int)json_integer_value(code) : 0;
    if (!r->id || !r->name || !r->layer || !r->bundle)
        return berth_error_set(err, 0, "%s: id, name, layer and bundle are required", RECORD_FILE);
    return 0;
}

bool record_name_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > RECORD_NAME_MAX)
        return false;
    for (const char *c = name; *c; c++) {
        bool alnum =
            (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
        if (!alnum && (c == name || !strchr("_.-", *c)))
            return false;
    }
    return true;
}

int record_root_open(const char *storage_root, bool create, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", storage_root, RECORD_DIR);
    if (create) {
        int r = fs_mkdir_parents(path, 0700, err);
        if (r < 0)
            return r;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s", path);
    return fd;
}

static int lock_dir(int fd, const char *name, struct berth_error **err)
{
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return berth_error_set(err, errno, "lock container \"%s\"", name);
    return 0;
}

int record_dir_create(int root_fd, const char *name, struct berth_error **err)
{
    if (!record_name_valid(name))
        return berth_error_set(err, 0,
                               "container name \"%s\": a letter or digit, then letters, digits, "
                               "'_', '.' or '-', at most %d in all",
                               name ? name : "", RECORD_NAME_MAX);
    if (mkdirat(root_fd, name, 0700) < 0) {
        if (errno == EEXIST)
            return berth_error_set(err, EEXIST, "container \"%s\" already exists", name);
        return berth_error_set(err, errno, "mkdir %s/%s", RECORD_DIR, name);
    }
    _cleanup_close_ int fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s/%s", RECORD_DIR, name);
    int r = lock_dir(fd, name, err);
    return r < 0 ? r : TAKE_FD(fd);
}

int record_dir_open(int root_fd, const char *name, bool lock, struct berth_error **err)
{
    if (!record_name_valid(name)) {
        berth_error_set(err, 0, "container \"%s\" does not exist", name ? name : "");
        return -ENOENT;
    }
    _cleanup_close_ int fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            berth_error_set(err, 0, "container \"%s\" does not exist", name);
            return -ENOENT;
        }
        return berth_error_set(err, errno, "open %s/%s", RECORD_DIR, name);
    }
    if (lock) {
        int r = lock_dir(fd, name, err);
        if (r < 0)
            return r;
    }
    return TAKE_FD(fd);
}
