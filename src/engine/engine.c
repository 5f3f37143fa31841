/* create, rm and ls of containers made from images. */
#include "engine/engine.h"
#include "berth/error.h"
#include "container/container.h"
#include "engine/bundle.h"
#include "engine/internal.h"
#include "engine/passwd.h"
#include "engine/shm.h"
#include "engine/volume.h"
#include "linux/label.h"
#include "storage/digest.h"
#include "storage/image.h"
#include "storage/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

char *engine_containers_path(const struct engine_ctx *ctx)
{
    return xasprintf("%s/%s", ctx->storage_root, RECORD_DIR);
}

int engine_runtime_status(const struct engine_ctx *ctx, const char *name, char **status, int *pid,
                          struct berth_error **err)
{
    *status = NULL;
    if (pid)
        *pid = 0;
    json_t *st = NULL;
    struct berth_error *local = NULL;
    int r = container_state(ctx->root, name, &st, &local);
    if (r == -ENOENT) {
        berth_error_free(local);
        return 0;
    }
    if (r < 0) {
        *err = local;
        return r;
    }
    const char *s = json_string_value(json_object_get(st, "status"));
    *status = xstrdup(s ? s : "unknown");
    if (pid)
        *pid = (int)json_integer_value(json_object_get(st, "pid"));
    json_decref(st);
    return 0;
}

/* The host's resolv.conf, or systemd-resolved's upstream list when it names only the stub. */
static char *host_resolv(const char **origin)
{
    char *text = NULL;
    const char *paths[] = {NETFILES_RESOLV_CONF, NETFILES_RESOLVED_UPSTREAM};
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        /* The host's own file: a symlink (to resolved's stub file, say) is followed. */
        _cleanup_close_ int fd = open(paths[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        char *t = NULL;
        if (fd < 0 || fs_read_fd(fd, NETFILES_MAX_HOST_FILE, &t, NULL) < 0) {
            if (i == 0)
                log_debug("no usable %s on the host", paths[i]);
            break;
        }
        free(text);
        text = t;
        *origin = paths[i];
        if (!netfiles_resolv_is_stub(text))
            break;
    }
    return text;
}

int engine_write_resolv(int dirfd, const struct record *r, bool initial, struct berth_error **err)
{
    const char *origin = NULL;
    _cleanup_free_ char *host = host_resolv(&origin);
    struct netfiles_dns dns = {r->dns_servers, r->dns_search, r->dns_options};
    _cleanup_free_ char *text = netfiles_resolv_conf(host, origin, &dns);
    char digest[DIGEST_STR_LEN + 1];
    if (!initial) {
        _cleanup_free_ char *cur = NULL, *hash = NULL;
        struct berth_error *local = NULL;
        if (fs_read_file_at(dirfd, RECORD_RESOLV, NETFILES_MAX_HOST_FILE, &cur, NULL, &local) < 0 ||
            fs_read_file_at(dirfd, RECORD_RESOLV_HASH, 128, &hash, NULL, &local) < 0) {
            log_debug("%s: %s; rewritten", RECORD_RESOLV, local->msg);
            berth_error_free(local);
        } else {
            struct digest d;
            digest_init(&d);
            digest_update(&d, cur, strlen(cur));
            digest_final(&d, digest);
            if (strcmp(digest, hash) != 0) {
                log_debug("%s was edited: left as it is", RECORD_RESOLV);
                return 0;
            }
            if (strcmp(cur, text) == 0)
                return 0;
        }
    }
    int ret = netfiles_write_at(dirfd, RECORD_RESOLV, text, r->mount_label, err);
    if (ret < 0)
        return ret;
    struct digest d;
    digest_init(&d);
    digest_update(&d, text, strlen(text));
    digest_final(&d, digest);
    return fs_write_file_atomic_at(dirfd, RECORD_RESOLV_HASH, digest, strlen(digest), 0600, err);
}

/* --- create -------------------------------------------------------------------------------- */

/* Everything create made, so that a failure takes it back. */
struct build {
    const struct engine_ctx *ctx;
    const struct engine_create_opts *o;
    int cdir; /* <storage>/containers */
    int dir;  /* <storage>/containers/<name>, flocked */
    struct storage *store;
    struct record rec;
    bool label_owned; /* the MCS pair was reserved here (not another container's) */
    bool layer_made;
    bool shm_mounted;
    char *containers; /* its path */
    /* -v binds, and the strings they point into */
    struct bundle_bind *volumes;
    char **volume_storage;
    size_t n_volumes;
    /* named volumes: the host path each -v resolved to (NULL for a path), and the names of the
     * volumes this create made, removed again if it fails */
    char **volume_paths;
    char **volumes_made;
    enum shm_ipc_mode ipc;
    const char *ipc_container;
    /* The user namespace's maps (none: n == 0), whether the image's layers hold them already,
     * and the host ids of the container's root. */
    struct spec_id_mapping *uid_map, *gid_map;
    size_t n_uid_map, n_gid_map;
    bool image_mapped;
    uid_t root_uid;
    gid_t root_gid;
};

static void build_undo(struct build *b)
{
    struct berth_error *e = NULL;
    if (b->shm_mounted) {
        _cleanup_free_ char *p = xasprintf("%s/%s/%s", b->containers, b->o->name, RECORD_SHM);
        shm_unmount(p, &e);
    }
    if (b->layer_made)
        storage_layer_remove(b->store, b->rec.layer, &e);
    for (char **v = b->volumes_made; v && *v; v++)
        volume_remove(b->store, *v, &e);
    if (b->label_owned && b->rec.mount_label)
        label_release(b->containers, b->rec.mount_label, &e);
    fs_remove_tree_at(b->cdir, b->o->name, &e);
    if (e)
        log_warn("undo the create of %s: %s", b->o->name, e->msg);
    berth_error_free(e);
}

static void build_free(struct build *b)
{
    if (b->dir >= 0)
        close(b->dir);
    if (b->cdir >= 0)
        close(b->cdir);
    storage_close(b->store);
    record_clear(&b->rec);
    for (size_t i = 0; i < b->n_volumes; i++) {
        free(b->volume_storage[i]);
        free(b->volume_paths ? b->volume_paths[i] : NULL);
    }
    free(b->volume_storage);
    free(b->volume_paths);
    strv_free(b->volumes_made);
    free(b->volumes);
    free(b->containers);
    free(b->uid_map);
    free(b->gid_map);
}

static char **strv_dup(char *const *v)
{
    if (!v)
        return NULL;
    size_t n = strv_len(v);
    char **c = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c[i] = xstrdup(v[i]);
    return c;
}

static int check_options(struct build *b, struct berth_error **err)
{
    const struct engine_create_opts *o = b->o;
    if (!record_name_valid(o->name))
        return berth_error_set(err, 0,
                               "container name \"%s\": a letter or digit, then letters, digits, "
                               "'_', '.' or '-', at most %d in all",
                               o->name ? o->name : "", RECORD_NAME_MAX);
    if (!o->image || !*o->image)
        return berth_error_set(err, 0, "--image is required");
    if (o->hostname && netfiles_check_hostname(o->hostname, err) < 0)
        return -EINVAL;
    for (char **s = o->dns.servers; s && *s; s++)
        if (netfiles_check_dns_server(*s, err) < 0)
            return -EINVAL;
    for (char **s = o->dns.search; s && *s; s++)
        if (netfiles_check_word(*s, "--dns-search", err) < 0)
            return -EINVAL;
    for (char **s = o->dns.options; s && *s; s++)
        if (netfiles_check_word(*s, "--dns-option", err) < 0)
            return -EINVAL;
    for (char **s = o->add_hosts; s && *s; s++)
        if (netfiles_check_add_host(*s, err) < 0)
            return -EINVAL;
    int r = shm_parse_ipc(o->ipc, &b->ipc, &b->ipc_container, err);
    if (r < 0)
        return r;
    if (o->shm_size && (b->ipc == SHM_IPC_HOST || b->ipc == SHM_IPC_CONTAINER))
        return berth_error_set(err, 0,
                               "--shm-size does not go with --ipc %s: the /dev/shm is "
                               "another's",
                               o->ipc);
    if (b->ipc_container && strcmp(b->ipc_container, o->name) == 0)
        return berth_error_set(err, 0, "--ipc container:%s: a container cannot join itself",
                               o->name);
    if (o->workdir && o->workdir[0] != '/')
        return berth_error_set(err, 0, "-w \"%s\": the working directory must be absolute",
                               o->workdir);
    for (char **v = o->volumes; v && *v; v++) {
        b->volumes = xreallocarray(b->volumes, b->n_volumes + 1, sizeof(*b->volumes));
        b->volume_storage =
            xreallocarray(b->volume_storage, b->n_volumes + 1, sizeof(*b->volume_storage));
        r = bundle_parse_volume(*v, &b->volumes[b->n_volumes], &b->volume_storage[b->n_volumes],
                                err);
        if (r < 0)
            return r;
        const char *src = b->volumes[b->n_volumes++].source;
        /* Unlike docker's -v, a missing source is not made: a typo should not become a new
         * directory on the host. (A named volume is.) */
        if (src && access(src, F_OK) < 0)
            return berth_error_set(err, errno, "-v %s: source %s", *v, src);
    }
    return 0;
}

static bool volume_at(const struct build *b, const char *dest)
{
    for (size_t i = 0; i < b->n_volumes; i++)
        if (strcmp(b->volumes[i].destination, dest) == 0)
            return true;
    return false;
}

static char *random_id(void)
{
    unsigned char raw[32];
    for (size_t got = 0; got < sizeof(raw);) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom cannot fail here otherwise (no GRND_NONBLOCK, kernel >= 3.17) */
            abort();
        }
        got += (size_t)n;
    }
    char *hex = xmalloc(sizeof(raw) * 2 + 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return hex;
}

/* The labels of the container: another's when it joins that one's IPC namespace (so that
 * both reach the same shm), else a fresh pair. None when file labels are off. */
static int take_labels(struct build *b, struct berth_error **err)
{
    if (b->ipc == SHM_IPC_CONTAINER) {
        _cleanup_close_ int other = record_dir_open(b->cdir, b->ipc_container, false, err);
        if (other < 0)
            return berth_error_prefix(err, "--ipc container:%s", b->ipc_container);
        _cleanup_(record_clear) struct record peer = {0};
        int r = record_read(other, &peer, err);
        if (r < 0)
            return berth_error_prefix(err, "--ipc container:%s", b->ipc_container);
        if (peer.ipc != SHM_IPC_SHAREABLE)
            return berth_error_set(err, 0,
                                   "--ipc container:%s: its IPC namespace is not shareable "
                                   "(create it with --ipc shareable)",
                                   b->ipc_container);
        b->rec.process_label = peer.process_label ? xstrdup(peer.process_label) : NULL;
        b->rec.mount_label = peer.mount_label ? xstrdup(peer.mount_label) : NULL;
        return 0;
    }
    if (!label_files_enabled())
        return 0;
    int r = label_allocate(b->containers, NULL, &b->rec.process_label, &b->rec.mount_label, err);
    if (r < 0)
        return berth_error_prefix(err, "allocate an SELinux label");
    b->label_owned = true;
    return 0;
}

static int make_files(struct build *b, struct berth_error **err)
{
    struct record *r = &b->rec;
    int ret = 0;
    if (r->own_resolv)
        ret = engine_write_resolv(b->dir, r, true, err);
    if (ret == 0 && r->own_hosts) {
        _cleanup_free_ char *text = netfiles_hosts(r->hostname, b->o->add_hosts);
        ret = netfiles_write_at(b->dir, RECORD_HOSTS, text, r->mount_label, err);
    }
    if (ret == 0 && r->own_hostname) {
        _cleanup_free_ char *text = netfiles_hostname(r->hostname);
        ret = netfiles_write_at(b->dir, RECORD_HOSTNAME, text, r->mount_label, err);
    }
    /* The container's root owns its files, as it would in the image. */
    const char *names[] = {RECORD_RESOLV, RECORD_HOSTS, RECORD_HOSTNAME};
    bool own[] = {r->own_resolv, r->own_hosts, r->own_hostname};
    for (size_t i = 0; ret == 0 && b->n_uid_map && i < ARRAY_SIZE(names); i++)
        if (own[i] && fchownat(b->dir, names[i], b->root_uid, b->root_gid, AT_SYMLINK_NOFOLLOW) < 0)
            ret = berth_error_set(err, errno, "chown %s", names[i]);
    if (ret == 0 && b->ipc == SHM_IPC_SHAREABLE && !volume_at(b, "/dev/shm")) {
        _cleanup_free_ char *where = xasprintf("%s/%s", r->bundle, RECORD_SHM);
        ret = shm_mount_at(b->dir, RECORD_SHM, where, r->shm_size, r->mount_label, err);
        b->shm_mounted = ret == 0;
    }
    return ret < 0 ? berth_error_prefix(err, "%s", r->bundle) : 0;
}

static int write_bundle(struct build *b, const struct bundle_process *p, uint32_t uid, uint32_t gid,
                        const uint32_t *groups, size_t n_groups, struct berth_error **err)
{
    struct record *r = &b->rec;
    struct {
        bool own;
        const char *name, *dest;
    } files[] = {
        {r->own_resolv, RECORD_RESOLV, "/etc/resolv.conf"},
        {r->own_hostname, RECORD_HOSTNAME, "/etc/hostname"},
        {r->own_hosts, RECORD_HOSTS, "/etc/hosts"},
    };
    struct bundle_bind binds[3];
    char *paths[3] = {NULL};
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        if (!files[i].own)
            continue;
        paths[n] = xasprintf("%s/%s", r->bundle, files[i].name);
        binds[n] = (struct bundle_bind){
            .source = paths[n], .destination = files[i].dest, .readonly = b->o->read_only};
        n++;
    }
    _cleanup_free_ char *shm = NULL;
    if (b->ipc == SHM_IPC_SHAREABLE)
        shm = xasprintf("%s/%s", r->bundle, RECORD_SHM);
    else if (b->ipc == SHM_IPC_CONTAINER)
        shm = xasprintf("%s/%s/%s", b->containers, b->ipc_container, RECORD_SHM);
    struct bundle_config c = {
        .process = p,
        .uid = uid,
        .gid = gid,
        .groups = groups,
        .n_groups = n_groups,
        .rootfs = r->rootfs,
        .readonly = b->o->read_only,
        .terminal = b->o->tty,
        .hostname = r->hostname,
        .process_label = r->process_label,
        .mount_label = r->mount_label,
        .ipc = b->ipc,
        .shm_size = r->shm_size,
        .shm_source = shm,
        .files = binds,
        .n_files = n,
        .volumes = b->volumes,
        .n_volumes = b->n_volumes,
        .uid_map = b->uid_map,
        .gid_map = b->gid_map,
        .n_uid_map = b->n_uid_map,
        .n_gid_map = b->n_gid_map,
    };
    _cleanup_free_ char *text = NULL;
    int ret = bundle_config_json(&c, &text, err);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    if (ret < 0)
        return ret;
    return fs_write_file_atomic_at(b->dir, RECORD_BUNDLE, text, strlen(text), 0600, err);
}

static bool maps_equal(const struct spec_id_mapping *a, size_t na, const struct spec_id_mapping *b,
                       size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

static struct spec_id_mapping *maps_dup(const struct spec_id_mapping *m, size_t n)
{
    struct spec_id_mapping *c = xcalloc(n ? n : 1, sizeof(*c));
    if (n)
        memcpy(c, m, n * sizeof(*c));
    return c;
}

/* The container's maps: the ones given (one alone for both), else the image's. An image whose
 * layers were made through maps runs only through the same ones. */
static int pick_maps(struct build *b, const struct image *img, struct berth_error **err)
{
    const struct engine_create_opts *o = b->o;
    const struct spec_id_mapping *um = o->uid_map, *gm = o->gid_map;
    size_t nu = o->n_uid_map, ng = o->n_gid_map;
    if (!nu && ng)
        um = gm, nu = ng;
    if (!ng && nu)
        gm = um, ng = nu;
    b->image_mapped = img->n_uid_map || img->n_gid_map;
    if (b->image_mapped && nu &&
        (!maps_equal(um, nu, img->uid_map, img->n_uid_map) ||
         !maps_equal(gm, ng, img->gid_map, img->n_gid_map)))
        return berth_error_set(err, 0,
                               "image %s was imported with other id maps: import it again with "
                               "these, or leave --uidmap and --gidmap out to use its own",
                               img->name);
    if (b->image_mapped && !nu)
        um = img->uid_map, nu = img->n_uid_map, gm = img->gid_map, ng = img->n_gid_map;
    if (!nu)
        return 0;
    struct copy_id_map cu = {um, nu}, cg = {gm, ng};
    uint32_t ru, rg;
    if (copy_id_map_to_host(&cu, 0, &ru) < 0 || copy_id_map_to_host(&cg, 0, &rg) < 0)
        return berth_error_set(err, 0, "--uidmap/--gidmap: the container's root (0) is not mapped");
    b->uid_map = maps_dup(um, nu), b->n_uid_map = nu;
    b->gid_map = maps_dup(gm, ng), b->n_gid_map = ng;
    b->root_uid = ru, b->root_gid = rg;
    return 0;
}

/* A new volume starts as a copy of what the image has at its destination (as Docker's do,
 * unless nocopy); with nothing there, it belongs to the container's root. */
static int fill_volume(struct build *b, int rootfd, const struct bundle_bind *v, int vfd,
                       struct berth_error **err)
{
    struct berth_error *local = NULL;
    _cleanup_close_ int src =
        v->nocopy ? -ENOENT
                  : path_open_in_root(rootfd, v->destination, O_RDONLY | O_DIRECTORY, 0, &local);
    berth_error_free(local);
    if (src >= 0) {
        struct copy_options co = {.skip_selinux = true};
        int r = copy_tree(src, vfd, &co, NULL, err);
        return r < 0 ? berth_error_prefix(err, "fill volume %s from the image's %s", v->volume,
                                          v->destination)
                     : 0;
    }
    if (b->n_uid_map && fchown(vfd, b->root_uid, b->root_gid) < 0)
        return berth_error_set(err, errno, "volume %s: chown", v->volume);
    return 0;
}

/* Find (or make and fill) the named volumes among the -v binds. */
static int take_volumes(struct build *b, int rootfd, struct berth_error **err)
{
    for (size_t i = 0; i < b->n_volumes; i++) {
        struct bundle_bind *v = &b->volumes[i];
        if (!v->volume)
            continue;
        if (!b->volume_paths)
            b->volume_paths = xcalloc(b->n_volumes, sizeof(char *));
        bool made;
        _cleanup_close_ int vfd =
            volume_open(b->store, v->volume, true, &made, &b->volume_paths[i], err);
        if (vfd < 0)
            return berth_error_prefix(err, "-v %s", v->volume);
        v->source = b->volume_paths[i];
        size_t n_made = strv_len(b->volumes_made), n_used = strv_len(b->rec.volumes);
        if (made)
            strv_push(&b->volumes_made, &n_made, xstrdup(v->volume));
        strv_push(&b->rec.volumes, &n_used, xstrdup(v->volume));
        if (made) {
            int r = fill_volume(b, rootfd, v, vfd, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* The layer, then what is made from the image's files: the user, the working directory. */
static int make_rootfs(struct build *b, const char *top, const char *run_config,
                       struct berth_error **err)
{
    const struct engine_create_opts *o = b->o;
    struct record *r = &b->rec;
    _cleanup_free_ char *shared = r->mount_label ? label_shared(r->mount_label) : NULL;
    if (shared)
        storage_set_label(b->store, shared);
    struct storage_layer_opts lo = {.progress = o->progress, .parent_is_mapped = b->image_mapped};
    struct copy_id_map um = {b->uid_map, b->n_uid_map}, gm = {b->gid_map, b->n_gid_map};
    int ret = storage_layer_create(b->store, r->layer, top, &um, &gm, &lo, err);
    if (ret < 0)
        return berth_error_prefix(err, "the container's layer");
    b->layer_made = true;
    ret = storage_layer_path(b->store, r->layer, &r->rootfs, err);
    if (ret < 0)
        return ret;
    _cleanup_close_ int rootfd = storage_layer_open(b->store, r->layer, err);
    if (rootfd < 0)
        return rootfd;

    struct bundle_overrides ov = {
        .cmd = o->cmd,
        .entrypoint = o->entrypoint,
        .env = o->env,
        .cwd = o->workdir,
        .user = o->user,
        .hostname = r->hostname,
        .terminal = o->tty,
    };
    _cleanup_(bundle_process_clear) struct bundle_process p = {0};
    ret = bundle_process_from_image(run_config, &ov, &p, err);
    if (ret < 0)
        return ret;
    uint32_t uid, gid;
    ret = passwd_resolve(rootfd, p.user, &uid, &gid, err);
    if (ret < 0)
        return ret;
    _cleanup_free_ uint32_t *groups = NULL;
    size_t n_groups = 0;
    ret = passwd_groups(rootfd, p.user, gid, &groups, &n_groups, err);
    if (ret < 0)
        return ret;
    /* Docker makes a missing working directory, so images may count on it. */
    _cleanup_close_ int cwd = path_mkdir_in_root(rootfd, p.cwd, 0755, err);
    if (cwd < 0)
        return berth_error_prefix(err, "working directory");
    /* One made just now is the host root's: the container's root should own it. */
    struct stat st;
    if (b->n_uid_map && fstat(cwd, &st) == 0 && st.st_uid == 0 &&
        fchownat(cwd, "", b->root_uid, b->root_gid, AT_EMPTY_PATH) < 0)
        return berth_error_set(err, errno, "working directory %s: chown", p.cwd);
    ret = take_volumes(b, rootfd, err);
    if (ret == 0)
        ret = make_files(b, err);
    if (ret == 0)
        ret = write_bundle(b, &p, uid, gid, groups, n_groups, err);
    return ret;
}

static int do_create(struct build *b, struct berth_error **err)
{
    const struct engine_create_opts *o = b->o;
    int ret = check_options(b, err);
    if (ret < 0)
        return ret;
    if (geteuid() != 0)
        return berth_error_set(err, EPERM, "containers from images need root");
    _cleanup_free_ char *status = NULL;
    ret = engine_runtime_status(b->ctx, o->name, &status, NULL, err);
    if (ret < 0)
        return ret;
    if (status)
        return berth_error_set(err, EEXIST, "the state root %s already has a container \"%s\"",
                               b->ctx->root, o->name);
    b->cdir = record_root_open(b->ctx->storage_root, true, err);
    if (b->cdir < 0)
        return b->cdir;
    b->dir = record_dir_create(b->cdir, o->name, err);
    if (b->dir < 0)
        return b->dir;
    return 1; /* the name is ours: from here on, failures undo */
}

static int do_build(struct build *b, struct berth_error **err)
{
    const struct engine_create_opts *o = b->o;
    struct record *r = &b->rec;
    r->id = random_id();
    r->name = xstrdup(o->name);
    r->layer = xstrdup(r->id);
    r->bundle = xasprintf("%s/%s", b->containers, o->name);
    r->created = storage_timestamp();
    r->hostname = o->hostname ? xstrdup(o->hostname) : xstrndup(r->id, 12);
    r->ipc = b->ipc;
    r->ipc_container = b->ipc_container ? xstrdup(b->ipc_container) : NULL;
    r->shm_size = o->shm_size ? o->shm_size : SHM_DEFAULT_SIZE;
    r->tty = o->tty;
    r->incomplete = true;
    r->dns_servers = strv_dup(o->dns.servers);
    r->dns_search = strv_dup(o->dns.search);
    r->dns_options = strv_dup(o->dns.options);
    r->own_resolv = !volume_at(b, "/etc/resolv.conf");
    r->own_hosts = !volume_at(b, "/etc/hosts");
    r->own_hostname = !volume_at(b, "/etc/hostname");
    /* Recorded first, so that rm -f finds the layer and label of a create cut short. */
    int ret = record_write(b->dir, r, err);
    if (ret < 0)
        return ret;

    ret = storage_open(b->ctx->storage_root, 0, &b->store, err);
    if (ret < 0)
        return ret;
    struct image img = {0};
    _cleanup_free_ char *run_config = NULL;
    ret = image_lookup(b->store, o->image, &img, &run_config, err);
    if (ret < 0)
        return ret;
    r->image = xstrdup(img.name);
    r->image_digest = xstrdup(img.digest);
    _cleanup_free_ char *top = xstrdup(img.top);
    ret = pick_maps(b, &img, err);
    image_clear(&img);
    if (ret < 0)
        return ret;
    ret = take_labels(b, err);
    if (ret == 0)
        ret = record_write(b->dir, r, err);
    if (ret == 0)
        ret = make_rootfs(b, top, run_config, err);
    if (ret < 0)
        return ret;
    r->incomplete = false;
    return record_write(b->dir, r, err);
}

int engine_create(const struct engine_ctx *ctx, const struct engine_create_opts *o,
                  struct berth_error **err)
{
    struct build b = {.ctx = ctx, .o = o, .cdir = -1, .dir = -1};
    b.containers = engine_containers_path(ctx);
    int r = do_create(&b, err);
    if (r > 0) {
        r = do_build(&b, err);
        if (r < 0)
            build_undo(&b);
    }
    build_free(&b);
    if (r < 0)
        return berth_error_prefix(err, "create %s", o->name ? o->name : "");
    return 0;
}

/* --- rm -------------------------------------------------------------------------------------- */

/* Whether another container's record holds a label with this MCS pair. */
static bool pair_in_use(int cdir, const char *name, const char *label)
{
    unsigned lo, hi, a, b;
    if (!label_mcs_pair(label, &lo, &hi))
        return false;
    _cleanup_close_ int fd = dup(cdir);
    _cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d)
        return true; /* cannot tell: keep the pair */
    fd = -1;
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, name) == 0)
            continue;
        _cleanup_close_ int dir = record_dir_open(cdir, de->d_name, false, NULL);
        _cleanup_(record_clear) struct record r = {0};
        if (dir >= 0 && record_read(dir, &r, NULL) == 0 && r.mount_label &&
            label_mcs_pair(r.mount_label, &a, &b) && a == lo && b == hi)
            return true;
    }
    return false;
}

static int remove_container(const struct engine_ctx *ctx, int cdir, int dir, const char *name,
                            bool force, struct berth_error **err)
{
    _cleanup_(record_clear) struct record r = {0};
    struct berth_error *local = NULL;
    int ret = record_read(dir, &r, &local);
    if (ret < 0) {
        if (!force) {
            *err = local;
            return berth_error_prefix(err,
                                      "container \"%s\" is incomplete (being created, or its "
                                      "create was cut short): rm -f removes it",
                                      name);
        }
        /* Nothing was made before the record but the directory. */
        log_debug("container %s: %s", name, local->msg);
        berth_error_free(local);
        return fs_remove_tree_at(cdir, name, err);
    }
    _cleanup_free_ char *status = NULL;
    ret = engine_runtime_status(ctx, name, &status, NULL, err);
    if (ret < 0 && !force)
        return ret;
    if (ret < 0) {
        log_warn("%s", (*err)->msg);
        berth_error_freep(err);
    }
    if (status && !force &&
        (strcmp(status, "running") == 0 || strcmp(status, "paused") == 0 ||
         strcmp(status, "creating") == 0))
        return berth_error_set(
            err, 0, "container \"%s\" is %s: stop it first, or remove it with rm -f", name, status);
    ret = container_delete(ctx->root, name, true, err);
    if (ret < 0)
        return ret;
    if (r.ipc == SHM_IPC_SHAREABLE) {
        _cleanup_free_ char *p = xasprintf("%s/%s", r.bundle, RECORD_SHM);
        ret = shm_unmount(p, err);
        if (ret < 0)
            return ret;
    }
    _cleanup_(storage_closep) struct storage *s = NULL;
    ret = storage_open(ctx->storage_root, 0, &s, err);
    if (ret < 0)
        return ret;
    if (storage_layer_exists(s, r.layer)) {
        ret = storage_layer_remove(s, r.layer, err);
        if (ret < 0)
            return ret;
    }
    if (r.mount_label && !pair_in_use(cdir, name, r.mount_label)) {
        _cleanup_free_ char *containers = engine_containers_path(ctx);
        if (label_release(containers, r.mount_label, &local) < 0) {
            log_warn("container %s: %s", name, local->msg);
            berth_error_free(local);
        }
    }
    return fs_remove_tree_at(cdir, name, err);
}

int engine_remove(const struct engine_ctx *ctx, const char *name, bool force,
                  struct berth_error **err)
{
    struct berth_error *local = NULL;
    _cleanup_close_ int cdir = record_root_open(ctx->storage_root, false, &local);
    if (cdir < 0) {
        berth_error_free(local);
        berth_error_set(err, 0, "container \"%s\" does not exist", name ? name : "");
        return -ENOENT;
    }
    _cleanup_close_ int dir = record_dir_open(cdir, name, true, err);
    if (dir < 0)
        return dir;
    int r = remove_container(ctx, cdir, dir, name, force, err);
    return r < 0 ? berth_error_prefix(err, "rm %s", name) : 0;
}

/* --- ls -------------------------------------------------------------------------------------- */

static char *status_of(const struct engine_ctx *ctx, const struct record *r)
{
    if (r->incomplete)
        return xstrdup("incomplete");
    _cleanup_free_ char *status = NULL;
    struct berth_error *e = NULL;
    if (engine_runtime_status(ctx, r->name, &status, NULL, &e) < 0) {
        berth_error_free(e);
        return xstrdup("unknown");
    }
    if (status && strcmp(status, "stopped") != 0)
        return TAKE_PTR(status);
    if (r->has_exit_code)
        return xasprintf("exited (%d)", r->exit_code);
    if (status || r->started)
        return xstrdup("stopped");
    return xstrdup("created");
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct engine_container *)a)->name,
                  ((const struct engine_container *)b)->name);
}

int engine_list(const struct engine_ctx *ctx, struct engine_container **out, size_t *n,
                struct berth_error **err)
{
    *out = NULL;
    *n = 0;
    struct berth_error *local = NULL;
    int cdir = record_root_open(ctx->storage_root, false, &local);
    if (cdir < 0) {
        if (cdir == -ENOENT) {
            berth_error_free(local);
            return 0;
        }
        *err = local;
        return cdir;
    }
    _cleanup_closedir_ DIR *d = fdopendir(cdir);
    if (!d) {
        close(cdir);
        return berth_error_set(err, errno, "read %s/%s", ctx->storage_root, RECORD_DIR);
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_close_ int dir = record_dir_open(dirfd(d), de->d_name, false, NULL);
        _cleanup_(record_clear) struct record r = {0};
        struct engine_container c = {0};
        if (dir >= 0 && record_read(dir, &r, NULL) == 0) {
            c.name = xstrdup(r.name);
            c.id = xstrdup(r.id);
            c.image = xstrdup(r.image ? r.image : "");
            c.created = xstrdup(r.created ? r.created : "");
            c.status = status_of(ctx, &r);
        } else if (dir >= 0) {
            c.name = xstrdup(de->d_name);
            c.id = xstrdup("");
            c.image = xstrdup("");
            c.created = xstrdup("");
            c.status = xstrdup("incomplete");
        } else {
            continue;
        }
        *out = xreallocarray(*out, *n + 1, sizeof(**out));
        (*out)[(*n)++] = c;
    }
    if (*n)
        qsort(*out, *n, sizeof(**out), by_name);
    return 0;
}

void engine_list_free(struct engine_container *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].id);
        free(v[i].image);
        free(v[i].created);
        free(v[i].status);
    }
    free(v);
}

/* --- volumes --------------------------------------------------------------------------------- */

int engine_volume_create(const struct engine_ctx *ctx, const char *name, struct berth_error **err)
{
    _cleanup_(storage_closep) struct storage *s = NULL;
    int r = storage_open(ctx->storage_root, 0, &s, err);
    if (r < 0)
        return r;
    bool made;
    int fd = volume_open(s, name, true, &made, NULL, err);
    if (fd < 0)
        return fd;
    close(fd);
    return made ? 0 : berth_error_set(err, EEXIST, "volume \"%s\" already exists", name);
}

int engine_volume_list(const struct engine_ctx *ctx, char ***names, struct berth_error **err)
{
    *names = NULL;
    _cleanup_(storage_closep) struct storage *s = NULL;
    int r = storage_open(ctx->storage_root, STORAGE_OPEN_READONLY, &s, err);
    return r < 0 ? r : volume_list(s, names, err);
}

/* The container whose record names the volume, or NULL. */
static char *volume_user(const struct engine_ctx *ctx, const char *name)
{
    struct berth_error *e = NULL;
    _cleanup_close_ int cdir = record_root_open(ctx->storage_root, false, &e);
    berth_error_free(e);
    _cleanup_close_ int fd = cdir >= 0 ? dup(cdir) : -1;
    _cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d)
        return NULL;
    fd = -1;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_close_ int dir = record_dir_open(cdir, de->d_name, false, NULL);
        _cleanup_(record_clear) struct record r = {0};
        if (dir < 0 || record_read(dir, &r, NULL) < 0)
            continue;
        for (char **v = r.volumes; v && *v; v++)
            if (strcmp(*v, name) == 0)
                return xstrdup(de->d_name);
    }
    return NULL;
}

int engine_volume_remove(const struct engine_ctx *ctx, const char *name, struct berth_error **err)
{
    _cleanup_(storage_closep) struct storage *s = NULL;
    int r = storage_open(ctx->storage_root, 0, &s, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *user = volume_user(ctx, name);
    if (user)
        return berth_error_set(err, EBUSY, "volume \"%s\" is used by container \"%s\"", name, user);
    return volume_remove(s, name, err);
}
