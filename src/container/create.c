/* create: the runtime's side. Validates, makes the state directory, clones the init into its
 * namespaces, serves it (id maps, hooks, console) until it reports ready, then writes
 * state.json. On any failure it removes everything it made. */
#include "berth/error.h"
#include "container/cgroups.h"
#include "container/container.h"
#include "container/hooks.h"
#include "container/seal.h"
#include "container/init.h"
#include "container/state.h"
#include "container/supervise.h"
#include "container/sync.h"
#include "linux/cgroup/cgroup.h"
#include "linux/console.h"
#include "linux/label.h"
#include "linux/mnt.h"
#include "linux/ns.h"
#include "linux/process.h"
#include "linux/seccomp_filter.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* Everything create made, so that a failure can take it all back. */
struct create_job {
    const struct container_create_opts *opts;
    /* For run: no exec.fifo; the start comes over the sync socket, kept for it. */
    bool start_by_socket;
    struct spec *spec;
    char *bundle;
    char *rootfs;
    char *config;
    int rootfd;
    int dirfd;
    bool dir_made;
    struct cgroup *cgroup;
    int host_bind; /* without a mount namespace: the rootfs's private bind (mnt_bind_private) */
    pid_t pid;   /* the init, once known */
    pid_t child; /* the process clone3 made (the init, or the one that forks it) */
    bool send_rootfs_dir; /* with SYNC_MAPS_DONE: the init attaches the runtime's rootfs tree */
    int pidfd;
    int sock;
    int console_master;
    struct seccomp_filter_prog seccomp;
    struct container_state st;
};

static void job_undo(struct create_job *j)
{
    if (j->pid > 0)
        kill(j->pid, SIGKILL);
    if (j->child > 0 && j->child != j->pid)
        kill(j->child, SIGKILL);
    if (j->child > 0)
        waitpid(j->child, NULL, 0);
    if (j->pid > 0 && j->pid != j->child)
        waitpid(j->pid, NULL, 0);
    int e = j->host_bind >= 0 ? mnt_detach_fd(j->host_bind) : 0;
    if (e < 0)
        log_warn("detach the bind of %s: %s", j->rootfs, strerror(-e));
    if (j->cgroup) {
        struct berth_error *e = NULL;
        if (cgroup_destroy(j->cgroup, &e) < 0) {
            log_warn("%s", e->msg);
            berth_error_free(e);
        }
    }
    if (j->dir_made) {
        struct berth_error *e = NULL;
        if (fs_remove_tree_at(j->rootfd, j->opts->id, &e) < 0) {
            log_warn("%s", e->msg);
            berth_error_free(e);
        }
    }
}

static void job_free(struct create_job *j)
{
    if (j->cgroup)
        cgroup_free(j->cgroup);
    spec_free(j->spec);
    free(j->bundle);
    free(j->rootfs);
    free(j->config);
    seccomp_filter_prog_clear(&j->seccomp);
    if (j->rootfd >= 0)
        close(j->rootfd);
    if (j->dirfd >= 0)
        close(j->dirfd);
    if (j->host_bind >= 0)
        close(j->host_bind);
    if (j->pidfd >= 0)
        close(j->pidfd);
    if (j->sock >= 0)
        close(j->sock);
    if (j->console_master >= 0)
        close(j->console_master);
    container_state_clear(&j->st);
}

static int load_bundle(struct create_job *j, struct berth_error **err)
{
    const struct container_create_opts *o = j->opts;
    char real[PATH_MAX];
    if (!realpath(o->bundle ? o->bundle : ".", real))
        return berth_error_set(err, errno, "bundle %s", o->bundle ? o->bundle : ".");
    j->bundle = xstrdup(real);
    _cleanup_free_ char *config = NULL;
    if (!o->config)
        config = xasprintf("%s/config.json", j->bundle);
    else if (o->config[0] == '/')
        config = xstrdup(o->config);
    else
        config = xasprintf("%s/%s", j->bundle, o->config);
    const char *origin = strrchr(config, '/') + 1;
    j->config = xstrdup(config);
    int r = spec_load_file(config, origin, &j->spec, err);
    if (r < 0)
        return r;
    const struct spec *s = j->spec;
    if (!s->process)
        return berth_error_set(err, 0, "%s: process: required to create a container", origin);
    if (!s->root_path)
        return berth_error_set(err, 0, "%s: root.path: required", origin);
    _cleanup_free_ char *root = s->root_path[0] == '/'
                                    ? xstrdup(s->root_path)
                                    : xasprintf("%s/%s", j->bundle, s->root_path);
    /* The bundle's path is canonical already: a plain directory named in it (the common
     * layout) is too, and needs no walk of every component. */
    const char *rp = s->root_path;
    struct stat st;
    bool plain = rp[0] != '/' && !strchr(rp, '/') && strcmp(j->bundle, "/") != 0 &&
                 strcmp(rp, ".") != 0 && strcmp(rp, "..") != 0 && lstat(root, &st) == 0 &&
                 S_ISDIR(st.st_mode);
    if (plain) {
        j->rootfs = TAKE_PTR(root);
    } else {
        if (!realpath(root, real))
            return berth_error_set(err, errno, "%s: root.path: %s", origin, root);
        if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
            return berth_error_set(err, ENOTDIR, "%s: root.path: %s", origin, real);
        j->rootfs = xstrdup(real);
    }

    /* A joined UTS namespace takes the names too (runc sets them there), unless it is this
     * process's own: the host's. */
    const struct spec_namespace *uts = spec_namespace_find(s, SPEC_NS_UTS);
    struct stat joined, own;
    if ((s->hostname || s->domainname) && uts && uts->path && stat(uts->path, &joined) == 0 &&
        stat("/proc/self/ns/uts", &own) == 0 && joined.st_dev == own.st_dev &&
        joined.st_ino == own.st_ino)
        return berth_error_set(err, 0,
                               "%s: hostname: the UTS namespace %s is the runtime's own: setting "
                               "it would change the host's",
                               origin, uts->path);
    if (s->process->apparmor_profile && *s->process->apparmor_profile && !label_apparmor_enabled())
        return berth_error_set(err, 0,
                               "%s: process.apparmorProfile: \"%s\" cannot be applied: AppArmor "
                               "is not enabled on this host",
                               origin, s->process->apparmor_profile);
    if (s->process->terminal && !o->console_socket && !o->foreground)
        return berth_error_set(err, 0,
                               "process.terminal is true: --console-socket is required to hand "
                               "the terminal to its reader");
    r = container_seal_if_needed(s, s->process, o->argv, err);
    if (r < 0)
        return r;
    if (!spec_namespace_find(s, SPEC_NS_USER)) {
        r = process_check_caps_held(s->process->capabilities, err);
        if (r < 0)
            return r;
    }
    r = label_check_spec(s, err);
    if (r < 0)
        return berth_error_prefix(err, "%s", origin);
    return 0;
}

struct ns_plan {
    unsigned long clone_flags;
    unsigned long unshare_flags;
    bool slow;
    bool new_userns;
    int join_fds[SPEC_NS_TYPES];
    int pid_join_fd;
    bool time_offsets;
};

static void ns_plan_clear(struct ns_plan *p)
{
    for (int t = 0; t < SPEC_NS_TYPES; t++)
        if (p->join_fds[t] >= 0)
            close(p->join_fds[t]);
    if (p->pid_join_fd >= 0)
        close(p->pid_join_fd);
}

static int plan_namespaces(const struct spec *s, bool cgroup_join, bool cgroup_join_by_path,
                           struct ns_plan *p, struct berth_error **err)
{
    memset(p, 0, sizeof(*p));
    p->pid_join_fd = -1;
    for (int t = 0; t < SPEC_NS_TYPES; t++)
        p->join_fds[t] = -1;
    const struct spec_linux *l = s->linux_;
    unsigned long new_flags = 0;
    bool joins = false;
    for (size_t i = 0; l && i < l->n_namespaces; i++) {
        const struct spec_namespace *n = &l->namespaces[i];
        if (!n->path) {
            new_flags |= (unsigned long)ns_clone_flag(n->type);
            continue;
        }
        int fd = ns_open(n->path, n->type, err);
        if (fd < 0)
            return berth_error_prefix(err, "linux.namespaces[%zu]", i);
        /* pid and time namespaces hold children only: the runtime enters them for the clone. */
        if (n->type == SPEC_NS_PID) {
            p->pid_join_fd = fd;
        } else if (n->type == SPEC_NS_TIME) {
            p->join_fds[n->type] = fd;
        } else {
            p->join_fds[n->type] = fd;
            joins = true;
        }
    }
    p->new_userns = new_flags & CLONE_NEWUSER;
    p->time_offsets = l && (l->time_monotonic.set || l->time_boottime.set);
    /* One clone3 makes every new namespace at once, unless namespaces must be joined before a
     * new user namespace exists (they belong to the host's), a user namespace is joined (new
     * ones must belong to it), or the init must join a cgroup by path before it leaves the
     * host's user namespace (v1 hierarchies it joins through the runtime's fds anywhere). */
    p->slow = (p->new_userns && (joins || cgroup_join_by_path)) || p->join_fds[SPEC_NS_USER] >= 0;
    unsigned long late = 0;
    if (cgroup_join)
        late |= CLONE_NEWCGROUP; /* after the init joined its cgroups */
    if (p->time_offsets)
        late |= CLONE_NEWTIME; /* made by the runtime for the clone, with its offsets */
    if (p->slow) {
        p->unshare_flags = new_flags & ~(unsigned long)(CLONE_NEWPID | CLONE_NEWTIME);
    } else {
        p->clone_flags = new_flags & ~late;
        p->unshare_flags = new_flags & late & ~(unsigned long)CLONE_NEWTIME;
    }
    return 0;
}

static int clone_init(struct create_job *j, struct ns_plan *plan, struct init_ctx *x,
                      struct berth_error **err)
{
    /* Namespaces that only take effect for children are entered here, around the clone. */
    _cleanup_close_ int own_pid = -1, own_time = -1;
    if (plan->pid_join_fd >= 0) {
        own_pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (setns(plan->pid_join_fd, CLONE_NEWPID) < 0)
            return berth_error_set(err, errno, "join the pid namespace");
    }
    if (plan->time_offsets || plan->join_fds[SPEC_NS_TIME] >= 0) {
        own_time = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
        if (plan->join_fds[SPEC_NS_TIME] >= 0) {
            if (setns(plan->join_fds[SPEC_NS_TIME], CLONE_NEWTIME) < 0)
                return berth_error_set(err, errno, "join the time namespace");
        } else {
            if (unshare(CLONE_NEWTIME) < 0)
                return berth_error_set(err, errno, "make a time namespace");
            int r = ns_write_time_offsets(j->spec->linux_, err);
            if (r < 0)
                return r;
        }
    }

    int pidfd = -1;
    struct clone_args args = {
        .flags = plan->clone_flags | CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
    };
    /* clone3 is probed only where there is a cgroup2 directory to clone into. */
    _cleanup_close_ int cgfd = j->cgroup ? cgroup_clone_fd(j->cgroup) : -1;
    if (cgfd >= 0 && !ns_clone3_works()) {
        close(cgfd);
        cgfd = -1;
    }
    if (cgfd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgfd;
    }
    x->born_in_v2_cgroup = cgfd >= 0;
    long pid = ns_clone(&args);
    if (pid == 0)
        container_init_main(x);
    int clone_errno = errno;

    if (own_pid >= 0 && setns(own_pid, CLONE_NEWPID) < 0)
        log_warn("return to the runtime's pid namespace: %s", strerror(errno));
    if (own_time >= 0 && setns(own_time, CLONE_NEWTIME) < 0)
        log_warn("return to the runtime's time namespace: %s", strerror(errno));
    if (pid < 0)
        return berth_error_set(err, clone_errno, "clone the container init (flags %#llx)",
                               (unsigned long long)args.flags);
    j->child = (pid_t)pid;
    j->pidfd = pidfd;
    /* When the child forks the real init, the init reports itself later. */
    j->pid = x->new_pidns_fork ? 0 : (pid_t)pid;
    return 0;
}

static int write_maps(struct create_job *j, pid_t pid, struct berth_error **err)
{
    const struct spec_linux *l = j->spec->linux_;
    int r = ns_write_id_maps(pid, l->uid_mappings, l->n_uid_mappings, l->gid_mappings,
                             l->n_gid_mappings, err);
    if (r < 0)
        return r;
    /* The rootfs directory in the init's new mount namespace, for its tree (rootfs_open_tree):
     * opened here, where the directories above it can be searched. */
    _cleanup_close_ int dir = -1;
    if (j->send_rootfs_dir) {
        _cleanup_free_ char *path = xasprintf("/proc/%d/root%s", (int)pid, j->rootfs);
        dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
            return berth_error_set(err, errno, "open the rootfs in the init's mount namespace");
    }
    return sync_send(j->sock, SYNC_MAPS_DONE, 0, dir, NULL, err);
}

static char *state_text(struct create_job *j, enum container_status status)
{
    json_t *o = container_state_json(&j->st, status);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int serve_init(struct create_job *j, struct ns_plan *plan, struct berth_error **err)
{
    if (plan->clone_flags & CLONE_NEWUSER) {
        int r = write_maps(j, j->child, err);
        if (r < 0)
            return r;
    }
    const struct spec_hooks *h = &j->spec->hooks;
    for (;;) {
        struct sync_msg m;
        int r = sync_recv(j->sock, &m, err);
        if (r < 0)
            return r;
        switch (m.type) {
        case SYNC_ERROR:
            berth_error_set(err, 0, "%s", m.text ? m.text : "container init failed");
            (*err)->code = m.code;
            sync_msg_clear(&m);
            return -EINVAL;
        case SYNC_USERNS_READY:
            r = write_maps(j, j->child, err);
            break;
        case SYNC_INIT_PID:
            j->pid = m.sender_pid;
            if (j->pid <= 0)
                r = berth_error_set(err, EPROTO, "the init did not say who it is");
            else {
                /* The process that forked it has done its part. */
                waitpid(j->child, NULL, 0);
                j->child = 0;
                if (j->pidfd >= 0)
                    close(j->pidfd);
                j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
            }
            break;
        case SYNC_HOOKS: {
            j->st.pid = j->pid;
            _cleanup_free_ char *state = state_text(j, CONTAINER_CREATING);
            /* The runtime's hooks run in the bundle, as runc's (which chdirs there). */
            _cleanup_close_ int bundle = open(j->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (bundle < 0)
                r = berth_error_set(err, errno, "hooks: open the bundle %s", j->bundle);
            if (r == 0)
                r = hooks_run(h->hooks[SPEC_HOOK_PRESTART], h->n_hooks[SPEC_HOOK_PRESTART],
                              "prestart", state, bundle, err);
            if (r == 0)
                r = hooks_run(h->hooks[SPEC_HOOK_CREATE_RUNTIME],
                              h->n_hooks[SPEC_HOOK_CREATE_RUNTIME], "createRuntime", state, bundle,
                              err);
            if (r == 0)
                r = sync_send(j->sock, SYNC_HOOKS_DONE, 0, -1, state, err);
            break;
        }
        case SYNC_CONSOLE:
            if (m.fd < 0) {
                r = berth_error_set(err, EPROTO, "the init sent no terminal");
            } else if (j->opts->console_socket) {
                r = console_send_master(j->opts->console_socket, m.fd, err);
            } else {
                j->console_master = m.fd;
                m.fd = -1;
                r = console_clear_onlcr(j->console_master, err);
            }
            break;
        case SYNC_SECCOMP: {
            const struct spec_linux *l = j->spec->linux_;
            const struct spec_seccomp *sc = l ? l->seccomp : NULL;
            if (m.fd < 0 || !sc || !sc->listener_path) {
                r = berth_error_set(err, EPROTO, "the init sent no seccomp listener to hand on");
                break;
            }
            j->st.pid = j->pid;
            _cleanup_free_ char *state = state_text(j, CONTAINER_CREATING);
            r = seccomp_filter_send_listener(sc->listener_path, sc->listener_metadata, m.fd, state,
                                             err);
            if (r == 0)
                r = sync_send(j->sock, SYNC_SECCOMP_DONE, 0, -1, NULL, err);
            break;
        }
        case SYNC_CREATED:
            sync_msg_clear(&m);
            return 0;
        default:
            r = berth_error_set(err, EPROTO, "unexpected message %d from the init", m.type);
        }
        sync_msg_clear(&m);
        if (r < 0)
            return r;
    }
}

static json_t *hooks_record(const struct spec *s)
{
    const struct spec_hooks *h = &s->hooks;
    if (!h->n_hooks[SPEC_HOOK_POSTSTART] && !h->n_hooks[SPEC_HOOK_POSTSTOP])
        return NULL;
    json_t *o = json_object();
    json_object_set_new(
        o, "poststart",
        hooks_to_json(h->hooks[SPEC_HOOK_POSTSTART], h->n_hooks[SPEC_HOOK_POSTSTART]));
    json_object_set_new(
        o, "poststop", hooks_to_json(h->hooks[SPEC_HOOK_POSTSTOP], h->n_hooks[SPEC_HOOK_POSTSTOP]));
    return o;
}

/* The labels whose MCS pair delete gives back. */
static json_t *label_record(const struct spec *s)
{
    const char *p = s->process->selinux_label, *m = s->linux_ ? s->linux_->mount_label : NULL;
    if ((!p || !*p) && (!m || !*m))
        return NULL;
    return json_pack("{s:s?, s:s?}", "process", p, "mount", m);
}

static json_t *annotations_json(const struct spec *s)
{
    if (!s->n_annotations)
        return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i < s->n_annotations; i++)
        json_object_set_new(o, s->annotations[i].key, json_string(s->annotations[i].value));
    return o;
}

static int create(struct create_job *j, struct berth_error **err)
{
    const struct container_create_opts *o = j->opts;
    int r = container_validate_id(o->id, err);
    if (r < 0)
        return r;
    r = load_bundle(j, err);
    if (r < 0)
        return r;
    j->rootfd = container_root_open(o->root, true, err);
    if (j->rootfd < 0)
        return j->rootfd;
    const struct spec_linux *l = j->spec->linux_;
    if (l && l->seccomp &&
        (r = seccomp_filter_compile_cached(l->seccomp, o->root, &j->seccomp, err)) < 0)
        return r;
    j->dirfd = container_dir_create(j->rootfd, o->id, err);
    if (j->dirfd < 0)
        return j->dirfd;
    j->dir_made = true;

    struct container_state *st = &j->st;
    st->id = xstrdup(o->id);
    st->oci_version = xstrdup(j->spec->oci_version);
    st->bundle = xstrdup(j->bundle);
    st->config = xstrdup(j->config);
    st->rootfs = xstrdup(j->rootfs);
    st->created = container_timestamp_now();
    st->owner = xstrdup("");
    st->annotations = annotations_json(j->spec);
    st->hooks = hooks_record(j->spec);
    st->label = label_record(j->spec);
    const struct spec_namespace *pidns = spec_namespace_find(j->spec, SPEC_NS_PID);
    st->own_pidns = pidns && !pidns->path;

    _cleanup_close_ int fifo = -1;
    if (!j->start_by_socket) {
        if (mkfifoat(j->dirfd, CONTAINER_EXEC_FIFO, 0600) < 0)
            return berth_error_set(err, errno, "create %s", CONTAINER_EXEC_FIFO);
        fifo = openat(j->dirfd, CONTAINER_EXEC_FIFO, O_RDWR | O_CLOEXEC);
        if (fifo < 0)
            return berth_error_set(err, errno, "open %s", CONTAINER_EXEC_FIFO);
    }

    /* The cgroup is recorded before any directory of it is made, and again once it is made,
     * so that a delete --force after a killed create finds all there is to remove. */
    r = container_cgroup_plan(j->spec, o, &j->cgroup, err);
    if (r < 0)
        return r;
    if (j->cgroup)
        st->cgroup = cgroup_to_json(j->cgroup);
    /* Without a mount namespace the container's mounts are made in this one: below a private
     * bind of the rootfs, recorded at once, that delete detaches with all it holds. */
    if (!spec_namespace_find(j->spec, SPEC_NS_MOUNT)) {
        uint64_t id;
        j->host_bind = mnt_bind_private(j->rootfs, &id);
        if (j->host_bind < 0)
            return berth_error_set(err, -j->host_bind, "bind the rootfs %s onto itself", j->rootfs);
        st->rootfs_mount = id;
    }
    r = container_state_write(j->dirfd, st, false, err);
    if (r < 0)
        return r;
    r = container_cgroup_setup(j->spec, o, &j->cgroup, err);
    if (r < 0)
        return r;
    /* Mostly make made just what the plan counted: then the record stands as it is. */
    json_t *made = j->cgroup ? cgroup_to_json(j->cgroup) : NULL;
    if (!json_equal(made, st->cgroup)) {
        json_decref(st->cgroup);
        st->cgroup = TAKE_PTR(made);
        r = container_state_write(j->dirfd, st, true, err);
        if (r < 0)
            return r;
    }
    json_decref(made);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return berth_error_set(err, errno, "socketpair");
    j->sock = sv[0];
    _cleanup_close_ int child_sock = sv[1];
    int one = 1;
    setsockopt(j->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));

    /* Without clone3 (CLONE_INTO_CGROUP) the init joins its cgroup2 directory itself too. */
    bool v1_join =
        j->cgroup && (cgroup_get_mode(j->cgroup) != CGROUP_MODE_UNIFIED || !ns_clone3_works());
    bool join_by_path =
        j->cgroup && cgroup_get_mode(j->cgroup) != CGROUP_MODE_LEGACY && !ns_clone3_works();
    struct ns_plan plan;
    r = plan_namespaces(j->spec, v1_join, join_by_path, &plan, err);
    if (r < 0) {
        ns_plan_clear(&plan);
        return r;
    }
    struct init_ctx x = {
        .spec = j->spec,
        .seccomp = j->seccomp.insns ? &j->seccomp : NULL,
        .opts = o,
        .rootfs = j->rootfs,
        .bundle = j->bundle,
        .sync_fd = child_sock,
        .fifo_fd = fifo,
        .cloned_flags = plan.clone_flags,
        .unshare_flags = plan.unshare_flags,
        .new_userns = plan.new_userns,
        .new_pidns_fork = plan.slow && spec_namespace_find(j->spec, SPEC_NS_PID) &&
                          !spec_namespace_find(j->spec, SPEC_NS_PID)->path,
        .join_cgroup_self = v1_join,
        .cgroup = j->cgroup,
        .rootfs_tree = -1,
        .rootfs_dir = -1,
    };
    memcpy(x.join_fds, plan.join_fds, sizeof(x.join_fds));
    if (x.new_pidns_fork)
        x.unshare_flags |= CLONE_NEWPID;
    /* A privileged runtime binds the rootfs and the bind sources for an init in a new user
     * namespace, whose root may not reach them (an unprivileged one could not, and needs
     * nothing: they are its own files). */
    bool by_runtime = plan.new_userns && geteuid() == 0;
    r = container_cgroup_mounts(j->cgroup, &x.cgroups, &x.n_cgroups, &x.cgroup_unified, err);
    if (r == 0)
        r = rootfs_bind_trees(j->spec, j->bundle, by_runtime, &x.bind_trees, err);
    if (r == 0 && by_runtime) {
        int tree = rootfs_open_tree(j->spec, j->rootfs, err);
        r = tree < 0 ? tree : 0;
        x.rootfs_tree = tree < 0 ? -1 : tree;
        j->send_rootfs_dir = tree >= 0;
    }
    if (r == 0 && v1_join && cgroup_get_mode(j->cgroup) != CGROUP_MODE_UNIFIED)
        r = cgroup_open_v1_joins(j->cgroup, &x.cgroup_v1_fds, err);
    if (r == 0)
        r = clone_init(j, &plan, &x, err);
    ns_plan_clear(&plan);
    cgroup_close_v1_joins(x.cgroup_v1_fds, j->cgroup ? cgroup_dir_count(j->cgroup) : 0);
    container_cgroup_mounts_free(x.cgroups, x.n_cgroups);
    rootfs_bind_trees_free(x.bind_trees, j->spec->n_mounts);
    if (x.rootfs_tree >= 0)
        close(x.rootfs_tree);
    if (r < 0)
        return r;
    close(child_sock);
    child_sock = -1;
    if (fifo >= 0)
        close(fifo);
    fifo = -1;

    r = serve_init(j, &plan, err);
    if (r < 0)
        return r;

    st->pid = j->pid;
    st->start_time = container_proc_start_time(j->pid, NULL);
    r = container_state_write(j->dirfd, st, true, err);
    if (r < 0)
        return r;
    if (o->pid_file) {
        r = container_pid_file_write(o->pid_file, j->pid, err);
        if (r < 0)
            return r;
    }
    _cleanup_free_ char *state = state_text(j, CONTAINER_CREATED);
    r = sync_send(j->sock, SYNC_COMMIT, 0, -1, state, err);
    if (r < 0 || j->start_by_socket)
        return r;
    /* The init closes its end of the socket as soon as it has the state. Waiting for that end
     * of file means that once create returns, the init holds nothing of the runtime's but the
     * exec fifo (50 parallel creates found the socket still open). */
    struct pollfd pf = {j->sock, POLLIN, 0};
    while (poll(&pf, 1, 10000) < 0 && errno == EINTR)
        ;
    return 0;
}

int container_create(const struct container_create_opts *opts, struct container_created *out,
                     struct berth_error **err)
{
    return container_create_held(opts, out, NULL, err);
}

int container_create_held(const struct container_create_opts *opts, struct container_created *out,
                          struct container_held *held, struct berth_error **err)
{
    struct create_job j = {.opts = opts,
                           .start_by_socket = held != NULL,
                           .rootfd = -1,
                           .dirfd = -1,
                           .host_bind = -1,
                           .pidfd = -1,
                           .sock = -1,
                           .console_master = -1};
    int r = create(&j, err);
    if (r < 0) {
        job_undo(&j);
        job_free(&j);
        return r;
    }
    if (out) {
        out->pid = j.pid;
        out->pidfd = j.pidfd;
        out->console_master = j.console_master;
        j.pidfd = -1;
        j.console_master = -1;
    }
    if (held) {
        held->rootfd = TAKE_FD(j.rootfd);
        held->dirfd = TAKE_FD(j.dirfd);
        held->sock = TAKE_FD(j.sock);
        held->st = j.st;
        memset(&j.st, 0, sizeof(j.st));
    }
    job_free(&j);
    return 0;
}
