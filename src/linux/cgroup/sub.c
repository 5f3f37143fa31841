/* exec --cgroup: the sub-cgroups of the container's cgroup that an exec'd process joins,
 * named as runc takes them (PATH, or CONTROLLER[,CONTROLLER...]:PATH, repeatable). */
#include "linux/cgroup/cgroup_internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A --cgroup path taken relative to the container's cgroup: "", "/" and "." name the cgroup
 * itself; a ".." may undo a component of the path but never leave it. */
static int sub_path_normalize(const char *arg, const char *path, char **out,
                              struct berth_error **err)
{
    char *norm = xzalloc(strlen(path) + 1);
    size_t len = 0;
    for (const char *p = path; *p;) {
        const char *e = strchrnul(p, '/');
        size_t n = (size_t)(e - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (len == 0) {
                free(norm);
                return berth_error_set(err, 0, "exec --cgroup \"%s\": %s is not a sub cgroup path",
                                       arg, path);
            }
            while (len > 0 && norm[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            norm[len] = '\0';
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (len > 0)
                norm[len++] = '/';
            memcpy(norm + len, p, n);
            len += n;
            norm[len] = '\0';
        }
        p = *e ? e + 1 : e;
    }
    *out = norm;
    return 0;
}

/* One --cgroup argument: the controllers it names (NULL for a bare path) and its path. */
struct sub_arg {
    const char *arg;
    char *controllers;
    char *path; /* normalised, relative to the container's cgroup; "" for the cgroup itself */
};

static void sub_args_free(struct sub_arg *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].controllers);
        free(a[i].path);
    }
    free(a);
}

/* The argument that names `controller`, or NULL. */
static const struct sub_arg *sub_arg_for(const struct sub_arg *a, size_t n, const char *controller)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].controllers && cgroup_opts_have(a[i].controllers, controller))
            return &a[i];
    return NULL;
}

static int sub_args_parse(const struct cgroup *cg, char *const *subs, size_t n,
                          struct sub_arg **out, struct berth_error **err)
{
    struct sub_arg *a = xcalloc(n ? n : 1, sizeof(*a));
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        const char *colon = strchr(subs[i], ':');
        a[i].arg = subs[i];
        if (!colon && n > 1) {
            r = berth_error_set(err, 0,
                                "exec --cgroup \"%s\": missing CONTROLLER: prefix (a bare "
                                "path must be the only --cgroup)",
                                subs[i]);
            break;
        }
        r = sub_path_normalize(subs[i], colon ? colon + 1 : subs[i], &a[i].path, err);
        if (r < 0 || !colon)
            continue;
        a[i].controllers = xstrndup(subs[i], (size_t)(colon - subs[i]));
        for (const char *p = a[i].controllers; r == 0;) {
            const char *e = strchrnul(p, ',');
            _cleanup_free_ char *word = xstrndup(p, (size_t)(e - p));
            bool known = false;
            for (size_t k = 0; k < cg->n_dirs && !known; k++)
                known =
                    cg->dirs[k].controllers[0] && cgroup_opts_have(cg->dirs[k].controllers, word);
            if (!*word)
                r = berth_error_set(err, 0, "exec --cgroup \"%s\": empty controller name", subs[i]);
            else if (!known)
                r = berth_error_set(err, 0, "exec --cgroup \"%s\": unknown controller %s", subs[i],
                                    word);
            else if (sub_arg_for(a, i, word))
                r = berth_error_set(err, 0, "exec --cgroup: controller %s given more than once",
                                    word);
            if (!*e)
                break;
            p = e + 1;
        }
    }
    if (r < 0) {
        sub_args_free(a, n);
        return r;
    }
    *out = a;
    return 0;
}

int cgroup_sub(const struct cgroup *cg, char *const *subs, size_t n, struct cgroup **out,
               struct berth_error **err)
{
    struct sub_arg *a = NULL;
    int r = sub_args_parse(cg, subs, n, &a, err);
    if (r < 0)
        return r;
    const struct sub_arg *bare = n == 1 && !a[0].controllers ? &a[0] : NULL;
    struct cgroup *c = xzalloc(sizeof(*c));
    c->mode = cg->mode;
    c->dirs = xcalloc(cg->n_dirs ? cg->n_dirs : 1, sizeof(*c->dirs));
    for (size_t i = 0; r == 0 && i < cg->n_dirs; i++) {
        const struct cgroup_dir *d = &cg->dirs[i];
        /* The argument that moves this hierarchy: the bare path, or the one naming one of its
         * controllers; two naming different paths for one hierarchy cannot both be had. */
        const struct sub_arg *use = bare;
        for (const char *p = d->controllers; !bare && *p;) {
            const char *e = strchrnul(p, ',');
            _cleanup_free_ char *word = xstrndup(p, (size_t)(e - p));
            const struct sub_arg *s = sub_arg_for(a, n, word);
            if (s && use && strcmp(s->path, use->path) != 0) {
                r = berth_error_set(err, 0,
                                    "exec --cgroup: \"%s\" and \"%s\" name different paths in the "
                                    "one hierarchy %s",
                                    use->arg, s->arg, d->controllers);
                break;
            }
            if (s)
                use = s;
            p = *e ? e + 1 : e;
        }
        _cleanup_free_ char *p =
            use && *use->path ? xasprintf("%s/%s", d->path, use->path) : xstrdup(d->path);
        struct stat st;
        if (r == 0 && use && *use->path && stat(p, &st) < 0) {
            /* A hybrid host's cgroup2 hierarchy holds no controller: a bare path that the
             * container made only in its v1 hierarchies leaves it where it is, as runc does. */
            if (errno == ENOENT && !*d->controllers && cg->mode == CGROUP_MODE_HYBRID) {
                free(p);
                p = xstrdup(d->path);
            } else {
                r = berth_error_set(err, errno, "exec --cgroup \"%s\": sub-cgroup %s", use->arg, p);
            }
        }
        struct cgroup_dir *nd = &c->dirs[c->n_dirs++];
        nd->controllers = xstrdup(d->controllers);
        nd->mountpoint = xstrdup(d->mountpoint);
        nd->path = TAKE_PTR(p);
        nd->mount_index = d->mount_index;
    }
    sub_args_free(a, n);
    if (r < 0) {
        cgroup_free(c);
        return r;
    }
    *out = c;
    return 0;
}
