#include "engine/bundle.h"
#include "berth/error.h"
#include "engine/record.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Docker's default capabilities: what software in images expects of root in a container
 * (chown, setuid helpers, raw sockets for ping, ...); runc's three are too few for images. */
static const char *const image_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

/* Set K=V in env, replacing an entry with the same key. */
static void env_put(char ***env, size_t *n, const char *kv)
{
    size_t klen = strcspn(kv, "=");
    for (size_t i = 0; i < *n; i++) {
        if (strncmp((*env)[i], kv, klen) == 0 && (*env)[i][klen] == '=') {
            free((*env)[i]);
            (*env)[i] = xstrdup(kv);
            return;
        }
    }
    strv_push(env, n, xstrdup(kv));
}

static bool env_has(char *const *env, const char *key)
{
    size_t klen = strlen(key);
    for (; env && *env; env++)
        if (strncmp(*env, key, klen) == 0 && (*env)[klen] == '=')
            return true;
    return false;
}

/* An optional array of strings from the image config; false when it is something else. */
static bool strings_of(json_t *a, char ***v, size_t *n)
{
    if (!a || json_is_null(a))
        return true;
    if (!json_is_array(a))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e))
            return false;
    }
    json_array_foreach(a, i, e)
    {
        strv_push(v, n, xstrdup(json_string_value(e)));
    }
    return true;
}

void bundle_process_clear(struct bundle_process *p)
{
    strv_free(p->args);
    strv_free(p->env);
    free(p->cwd);
    free(p->user);
    memset(p, 0, sizeof(*p));
}

static int process_from(json_t *cfg, const struct bundle_overrides *o, struct bundle_process *out,
                        struct berth_error **err)
{
    size_t n_args = 0, n_env = 0;
    if (o->entrypoint) {
        if (*o->entrypoint)
            strv_push(&out->args, &n_args, xstrdup(o->entrypoint));
    } else if (!strings_of(json_object_get(cfg, "Entrypoint"), &out->args, &n_args)) {
        return berth_error_set(err, 0, "the image's Entrypoint is not an array of strings");
    }
    if (o->cmd) {
        for (char *const *c = o->cmd; *c; c++)
            strv_push(&out->args, &n_args, xstrdup(*c));
    } else if (!o->entrypoint && !strings_of(json_object_get(cfg, "Cmd"), &out->args, &n_args)) {
        return berth_error_set(err, 0, "the image's Cmd is not an array of strings");
    }
    if (n_args == 0)
        return berth_error_set(err, 0,
                               o->entrypoint
                                   ? "no command: --entrypoint is empty and no command was given"
                                   : "no command: the image has no Entrypoint or Cmd "
                                     "and none was given");

    if (o->hostname) {
        _cleanup_free_ char *h = xasprintf("HOSTNAME=%s", o->hostname);
        env_put(&out->env, &n_env, h);
    }
    if (o->terminal)
        env_put(&out->env, &n_env, "TERM=xterm");
    char **image_env = NULL;
    size_t n_image_env = 0;
    if (!strings_of(json_object_get(cfg, "Env"), &image_env, &n_image_env)) {
        strv_free(image_env);
        return berth_error_set(err, 0, "the image's Env is not an array of strings");
    }
    for (size_t i = 0; i < n_image_env; i++)
        if (strchr(image_env[i], '='))
            env_put(&out->env, &n_env, image_env[i]);
    strv_free(image_env);
    for (char *const *e = o->env; e && *e; e++) {
        if (!**e || **e == '=')
            return berth_error_set(err, 0, "-e \"%s\": KEY=VALUE or KEY expected", *e);
        if (strchr(*e, '=')) {
            env_put(&out->env, &n_env, *e);
            continue;
        }
        /* KEY alone: its value here, as docker run -e does; unset here, left out. */
        const char *v = getenv(*e);
        if (v) {
            _cleanup_free_ char *kv = xasprintf("%s=%s", *e, v);
            env_put(&out->env, &n_env, kv);
        }
    }
    if (!env_has(out->env, "PATH"))
        env_put(&out->env, &n_env, "PATH=" BUNDLE_DEFAULT_PATH);

    const char *wd = json_string_value(json_object_get(cfg, "WorkingDir"));
    if (json_object_get(cfg, "WorkingDir") && !json_is_null(json_object_get(cfg, "WorkingDir")) &&
        !wd)
        return berth_error_set(err, 0, "the image's WorkingDir is not a string");
    if (o->cwd && o->cwd[0] != '/')
        return berth_error_set(err, 0, "-w \"%s\": the working directory must be absolute", o->cwd);
    /* An image's relative WorkingDir is taken from the root, as Docker does. */
    out->cwd = path_clean(o->cwd ? o->cwd : wd && *wd ? wd : "/");

    const char *user = json_string_value(json_object_get(cfg, "User"));
    if (json_object_get(cfg, "User") && !json_is_null(json_object_get(cfg, "User")) && !user)
        return berth_error_set(err, 0, "the image's User is not a string");
    out->user = xstrdup(o->user ? o->user : user ? user : "");
    return 0;
}

int bundle_process_from_image(const char *run_config, const struct bundle_overrides *o,
                              struct bundle_process *out, struct berth_error **err)
{
    static const struct bundle_overrides none;
    memset(out, 0, sizeof(*out));
    if (!o)
        o = &none;
    json_error_t je;
    json_auto_t *cfg = json_loads(run_config && *run_config ? run_config : "{}", 0, &je);
    if (!json_is_object(cfg))
        return berth_error_set(err, 0, "the image's config: %s", cfg ? "not an object" : je.text);
    int r = process_from(cfg, o, out, err);
    if (r < 0)
        bundle_process_clear(out);
    return r;
}

static json_t *strv_json(char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *bind_json(const char *source, const char *destination, bool readonly, char relabel,
                         bool restrict_dev)
{
    json_t *opts = json_pack("[s,s]", "rbind", "rprivate");
    if (restrict_dev) {
        json_array_append_new(opts, json_string("nosuid"));
        json_array_append_new(opts, json_string("noexec"));
        json_array_append_new(opts, json_string("nodev"));
    }
    if (readonly)
        json_array_append_new(opts, json_string("ro"));
    if (relabel)
        json_array_append_new(opts, json_string(relabel == 'z' ? "z" : "Z"));
    return json_pack("{s:s,s:s,s:s,s:o}", "destination", destination, "type", "bind", "source",
                     source, "options", opts);
}

/* Whether a default mount at dest gives way to the user's -v binds. */
static bool overridden(const char *dest, const struct bundle_config *c)
{
    for (size_t i = 0; i < c->n_volumes; i++) {
        const char *v = c->volumes[i].destination;
        if (strcmp(v, dest) == 0 || (strcmp(v, "/dev") == 0 && path_has_prefix(dest, "/dev")))
            return true;
    }
    return false;
}

static void set_mounts(json_t *spec, const struct bundle_config *c)
{
    json_t *defaults = json_object_get(spec, "mounts");
    json_t *mounts = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(defaults, i, m)
    {
        const char *dest = json_string_value(json_object_get(m, "destination"));
        if (!dest || overridden(dest, c))
            continue;
        if (strcmp(dest, "/dev/shm") != 0) {
            json_array_append(mounts, m);
            continue;
        }
        if (c->ipc == SHM_IPC_PRIVATE) {
            char **opts = shm_mount_options(c->shm_size);
            json_array_append_new(mounts,
                                  json_pack("{s:s,s:s,s:s,s:o}", "destination", "/dev/shm", "type",
                                            "tmpfs", "source", "shm", "options", strv_json(opts)));
            strv_free(opts);
        } else {
            const char *src = c->ipc == SHM_IPC_HOST ? "/dev/shm" : c->shm_source;
            json_array_append_new(mounts, bind_json(src, "/dev/shm", false, 0, true));
        }
    }
    for (size_t k = 0; k < c->n_files; k++)
        json_array_append_new(mounts, bind_json(c->files[k].source, c->files[k].destination,
                                                c->files[k].readonly, c->files[k].relabel, false));
    for (size_t k = 0; k < c->n_volumes; k++)
        json_array_append_new(mounts,
                              bind_json(c->volumes[k].source, c->volumes[k].destination,
                                        c->volumes[k].readonly, c->volumes[k].relabel, false));
    json_object_set_new(spec, "mounts", mounts);
}

static void set_process(json_t *spec, const struct bundle_config *c)
{
    json_t *p = json_object_get(spec, "process");
    json_object_set_new(p, "terminal", json_boolean(c->terminal));
    json_object_set_new(
        p, "user", json_pack("{s:I,s:I}", "uid", (json_int_t)c->uid, "gid", (json_int_t)c->gid));
    if (c->n_groups) {
        json_t *g = json_array();
        for (size_t i = 0; i < c->n_groups; i++)
            json_array_append_new(g, json_integer(c->groups[i]));
        json_object_set_new(json_object_get(p, "user"), "additionalGids", g);
    }
    json_object_set_new(p, "args", strv_json(c->process->args));
    json_object_set_new(p, "env", strv_json(c->process->env));
    json_object_set_new(p, "cwd", json_string(c->process->cwd));
    json_t *caps = json_object_get(p, "capabilities");
    const char *sets[] = {"bounding", "effective", "permitted"};
    for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
        json_object_set_new(caps, sets[i], strv_json((char *const *)image_caps));
    /* Setuid programs of the image (su, ping) work in Docker's containers. */
    json_object_set_new(p, "noNewPrivileges", json_false());
    if (c->process_label && *c->process_label)
        json_object_set_new(p, "selinuxLabel", json_string(c->process_label));
}

static void set_linux(json_t *spec, const struct bundle_config *c)
{
    json_t *l = json_object_get(spec, "linux");
    if (c->ipc == SHM_IPC_HOST) {
        json_t *ns = json_object_get(l, "namespaces");
        size_t i;
        json_t *e;
        json_array_foreach(ns, i, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "type")) ?: "", "ipc") == 0) {
                json_array_remove(ns, i);
                break;
            }
        }
    }
    if (c->mount_label && *c->mount_label)
        json_object_set_new(l, "mountLabel", json_string(c->mount_label));
    if (c->n_uid_map) {
        json_array_append_new(json_object_get(l, "namespaces"), json_pack("{s:s}", "type", "user"));
        const struct spec_id_mapping *maps[2] = {c->uid_map, c->gid_map};
        size_t ns[2] = {c->n_uid_map, c->n_gid_map};
        static const char *keys[2] = {"uidMappings", "gidMappings"};
        for (int k = 0; k < 2; k++) {
            json_t *a = json_array();
            for (size_t i = 0; i < ns[k]; i++)
                json_array_append_new(a, json_pack("{s:I,s:I,s:I}", "containerID",
                                                   (json_int_t)maps[k][i].container_id, "hostID",
                                                   (json_int_t)maps[k][i].host_id, "size",
                                                   (json_int_t)maps[k][i].size));
            json_object_set_new(l, keys[k], a);
        }
    }
}

static int check_and_dump(json_t *spec, char **out, struct berth_error **err)
{
    _cleanup_free_ char *text = json_dumps(spec, JSON_INDENT(4));
    if (!text)
        return berth_error_set(err, ENOMEM, "encode config.json");
    struct spec *parsed = NULL;
    int r = spec_parse(text, strlen(text), "config.json", &parsed, err);
    spec_free(parsed);
    if (r < 0)
        return r;
    *out = TAKE_PTR(text);
    return 0;
}

int bundle_config_json(const struct bundle_config *c, char **out, struct berth_error **err)
{
    _cleanup_free_ char *def = spec_default_json(false);
    json_error_t je;
    json_auto_t *spec = json_loads(def, 0, &je);
    if (!spec)
        return berth_error_set(err, 0, "the default spec: %s", je.text);
    json_object_set_new(spec, "root",
                        json_pack("{s:s,s:b}", "path", c->rootfs, "readonly", c->readonly));
    json_object_set_new(spec, "hostname", json_string(c->hostname));
    set_process(spec, c);
    set_mounts(spec, c);
    set_linux(spec, c);
    return check_and_dump(spec, out, err);
}

int bundle_set_ipc_path(const char *config, const char *path, char **out, struct berth_error **err)
{
    json_error_t je;
    json_auto_t *spec = json_loads(config, 0, &je);
    if (!spec)
        return berth_error_set(err, 0, "config.json:%d:%d: %s", je.line, je.column, je.text);
    json_t *ns = json_object_get(json_object_get(spec, "linux"), "namespaces");
    size_t i;
    json_t *e;
    json_array_foreach(ns, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "type")) ?: "", "ipc") != 0)
            continue;
        if (path)
            json_object_set_new(e, "path", json_string(path));
        else
            json_object_del(e, "path");
        return check_and_dump(spec, out, err);
    }
    return berth_error_set(err, 0, "config.json: no IPC namespace to set the path of");
}

int bundle_parse_volume(const char *spec, struct bundle_bind *out, char **storage,
                        struct berth_error **err)
{
    memset(out, 0, sizeof(*out));
    *storage = NULL;
    _cleanup_free_ char *copy = xstrdup(spec ? spec : "");
    char *dst = strchr(copy, ':');
    if (!dst)
        return berth_error_set(err, 0, "-v \"%s\": SRC:DST[:OPTIONS] expected", copy);
    *dst++ = '\0';
    char *opts = strchr(dst, ':');
    if (opts)
        *opts++ = '\0';
    bool named = copy[0] != '/';
    if (named && !record_name_valid(copy))
        return berth_error_set(err, 0,
                               "-v \"%s\": the source must be an absolute path or a volume name "
                               "(a letter or digit, then letters, digits, '_', '.' or '-')",
                               spec);
    if (dst[0] != '/')
        return berth_error_set(err, 0, "-v \"%s\": the destination must be absolute", spec);
    bool ro = false, rw = false;
    for (char *save = NULL, *o = opts ? strtok_r(opts, ",", &save) : NULL; o;
         o = strtok_r(NULL, ",", &save)) {
        if (strcmp(o, "ro") == 0) {
            ro = true;
        } else if (strcmp(o, "rw") == 0) {
            rw = true;
        } else if (strcmp(o, "nocopy") == 0 && named) {
            out->nocopy = true;
        } else if ((strcmp(o, "z") == 0 || strcmp(o, "Z") == 0) && !out->relabel) {
            out->relabel = o[0];
        } else {
            return berth_error_set(err, 0,
                                   "-v \"%s\": option \"%s\": ro, rw, one of z or Z, and "
                                   "nocopy for a named volume are accepted",
                                   spec, o);
        }
    }
    if (ro && rw)
        return berth_error_set(err, 0, "-v \"%s\": ro and rw together", spec);
    _cleanup_free_ char *clean = path_clean(dst);
    if (strcmp(clean, "/") == 0)
        return berth_error_set(err, 0, "-v \"%s\": the destination cannot be /", spec);
    size_t slen = strlen(copy), dlen = strlen(clean);
    char *buf = xmalloc(slen + dlen + 2);
    memcpy(buf, copy, slen + 1);
    memcpy(buf + slen + 1, clean, dlen + 1);
    out->source = named ? NULL : buf;
    out->volume = named ? buf : NULL;
    out->destination = buf + slen + 1;
    out->readonly = ro;
    *storage = buf;
    return 0;
}
