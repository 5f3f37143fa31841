/* exec: a new process inside a running container. The runtime clones it straight into the
 * container's pid namespace and (on cgroup v2) its cgroup; the child joins the other
 * namespaces of the container's init, becomes the configured user and execs. It is not
 * dumpable from its first instruction, so the container cannot ptrace or read it. */
#include "berth/error.h"
#include "container/container.h"
#include "container/seal.h"
#include "container/state.h"
#include "container/supervise.h"
#include "container/sync.h"
#include "linux/cgroup/cgroup.h"
#include "linux/console.h"
#include "linux/label.h"
#include "linux/ns.h"
#include "linux/process.h"
#include "linux/seccomp_filter.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

int container_parse_user(const char *s, uint32_t *uid, uint32_t *gid, bool *has_gid,
                         struct berth_error **err)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    uint32_t v[2] = {0, 0};
    const char *part[2] = {s, colon ? colon + 1 : NULL};
    size_t len[2] = {colon ? (size_t)(colon - s) : (s ? strlen(s) : 0),
                     colon ? strlen(colon + 1) : 0};
    for (int i = 0; i < (colon ? 2 : 1); i++) {
        if (len[i] == 0 || len[i] > 10)
            return berth_error_set(err, 0, "--user \"%s\": want UID or UID:GID in decimal",
                                   s ? s : "");
        uint64_t n = 0;
        for (size_t k = 0; k < len[i]; k++) {
            char c = part[i][k];
            if (c < '0' || c > '9')
                return berth_error_set(err, 0, "--user \"%s\": want UID or UID:GID in decimal", s);
            n = n * 10 + (uint64_t)(c - '0');
        }
        if (n > UINT32_MAX - 1)
            return berth_error_set(err, 0, "--user \"%s\": %llu is out of range", s,
                                   (unsigned long long)n);
        v[i] = (uint32_t)n;
    }
    *uid = v[0];
    *gid = v[1];
    *has_gid = colon != NULL;
    return 0;
}

static void env_set(char ***env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    size_t n = strv_len(*env);
    for (size_t i = 0; i < n; i++) {
        if (strncmp((*env)[i], kv, klen) == 0 && (*env)[i][klen] == '=') {
            free((*env)[i]);
            (*env)[i] = xstrdup(kv);
            return;
        }
    }
    *env = xreallocarray(*env, n + 2, sizeof(char *));
    (*env)[n] = xstrdup(kv);
    (*env)[n + 1] = NULL;
}

static void caps_add(int **list, size_t *n, int cap)
{
    for (size_t i = 0; i < *n; i++)
        if ((*list)[i] == cap)
            return;
    *list = xreallocarray(*list, *n + 1, sizeof(int));
    (*list)[(*n)++] = cap;
}

/* -p's file. It is the caller's own, named as the caller likes: symlinks are followed (bash's
 * <(...) is /dev/fd/N). What cannot be read twice (a pipe) is kept in *copy, an inheritable
 * memfd, for a sealed re-exec of berth to read instead; else *copy is -1. */
static int read_process_file(const char *path, char **text, size_t *len, int *copy,
                             struct berth_error **err)
{
    *copy = -1;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_set(err, errno, "exec --process: open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return berth_error_set(err, errno, "exec --process: stat %s", path);
    int r = fs_read_fd(fd, 16 << 20, text, len);
    if (r < 0)
        return berth_error_set(err, -r, "exec --process: read %s", path);
    if (S_ISREG(st.st_mode))
        return 0;
    _cleanup_close_ int mem = memfd_create("berth-process", 0);
    if (mem < 0)
        return berth_error_set(err, errno, "exec --process: memfd_create for a copy of %s", path);
    for (size_t off = 0; off < *len;) {
        ssize_t n = pwrite(mem, *text + off, *len - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return berth_error_set(err, n < 0 ? errno : EIO, "exec --process: copy %s", path);
        off += (size_t)n;
    }
    *copy = TAKE_FD(mem);
    return 0;
}

/* argv with the --process argument (which `path` points into) naming fd instead. */
static char **argv_with_process_fd(char **argv, const char *path, int fd, char **arg)
{
    size_t n = strv_len(argv);
    char **v = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(argv[i]);
        v[i] = argv[i];
        if (!*arg && path >= argv[i] && path <= argv[i] + len) {
            *arg = xasprintf("%.*s/proc/self/fd/%d", (int)(path - argv[i]), argv[i], fd);
            v[i] = *arg;
        }
    }
    return v;
}

/* The process to run: -p's file, or the container's own process with the flags applied. */
static int build_process(const struct container_exec_opts *o, const char *text, size_t len,
                         struct spec *s, struct spec_process **out, struct berth_error **err)
{
    if (o->process_file) {
        const char *origin = strrchr(o->process_file, '/');
        int r = spec_parse_process(text, len, origin ? origin + 1 : o->process_file, out, err);
        if (r < 0)
            return r;
        /* What the file leaves out is the container's, as with runc: without capabilities the
         * process would keep every one the runtime holds. */
        struct spec_process *p = *out, *c = s->process;
        if (!p->capabilities)
            p->capabilities = TAKE_PTR(c->capabilities);
        if ((!p->selinux_label || !*p->selinux_label) && c->selinux_label) {
            free(p->selinux_label);
            p->selinux_label = TAKE_PTR(c->selinux_label);
        }
        if ((!p->apparmor_profile || !*p->apparmor_profile) && c->apparmor_profile) {
            free(p->apparmor_profile);
            p->apparmor_profile = TAKE_PTR(c->apparmor_profile);
        }
        return 0;
    }
    if (!o->args || !o->args[0])
        return berth_error_set(err, 0, "exec: a command to run is required (or --process)");
    struct spec_process *p = TAKE_PTR(s->process);
    strv_free(p->args);
    size_t n = strv_len(o->args);
    p->args = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        p->args[i] = xstrdup(o->args[i]);
    p->terminal = o->tty;
    p->has_console_size = false;
    for (char **e = o->env; e && *e; e++)
        env_set(&p->env, *e);
    if (o->cwd) {
        free(p->cwd);
        p->cwd = xstrdup(o->cwd);
    }
    if (o->user) {
        bool has_gid;
        uint32_t uid, gid;
        int r = container_parse_user(o->user, &uid, &gid, &has_gid, err);
        if (r < 0) {
            spec_process_free(p);
            return r;
        }
        p->user.uid = uid;
        p->user.gid = has_gid ? gid : 0;
    }
    for (char **g = o->groups; g && *g; g++) {
        uint32_t gid, unused;
        bool has;
        int r = container_parse_user(*g, &gid, &unused, &has, err);
        if (r < 0 || has) {
            spec_process_free(p);
            return r < 0 ? berth_error_prefix(err, "--additional-gids")
                         : berth_error_set(err, 0, "--additional-gids \"%s\": want a GID", *g);
        }
        p->user.additional_gids =
            xreallocarray(p->user.additional_gids, p->user.n_additional_gids + 1, sizeof(uint32_t));
        p->user.additional_gids[p->user.n_additional_gids++] = gid;
    }
    for (char **c = o->caps; c && *c; c++) {
        int cap = spec_cap_from_name(*c);
        if (cap < 0) {
            spec_process_free(p);
            return berth_error_set(err, 0, "--cap: unknown capability \"%s\"", *c);
        }
        if (!p->capabilities)
            p->capabilities = xzalloc(sizeof(*p->capabilities));
        /* Never inheritable or ambient: a file capability would turn those into more. */
        caps_add(&p->capabilities->bounding, &p->capabilities->n_bounding, cap);
        caps_add(&p->capabilities->effective, &p->capabilities->n_effective, cap);
        caps_add(&p->capabilities->permitted, &p->capabilities->n_permitted, cap);
    }
    if (o->no_new_privs)
        p->no_new_privileges = true;
    if (o->process_label) {
        free(p->selinux_label);
        p->selinux_label = xstrdup(o->process_label);
    }
    if (o->apparmor) {
        free(p->apparmor_profile);
        p->apparmor_profile = xstrdup(o->apparmor);
    }
    *out = p;
    return 0;
}

struct exec_child {
    const struct container_exec_opts *o;
    const struct spec *spec;
    const struct spec_process *p;
    int sync_fd;
    int ns_fds[SPEC_NS_TYPES];
    int root_fd; /* a container without a mount namespace: its root, to chroot into; or -1 */
    const struct cgroup *cg;            /* join it from inside (v1), or NULL */
    bool in_v2;                         /* cloned into its cgroup2 directory */
    struct seccomp_filter_prog seccomp; /* the container's filter, compiled by the runtime */
    bool selinux;
    bool apparmor;
};

/* The container's filter, as its init has it. A notify listener goes to the runtime, which
 * hands it to listenerPath while this process waits. */
static int load_seccomp(struct exec_child *x, struct berth_error **err)
{
    int fd = -1;
    int r = seccomp_filter_load(&x->seccomp, x->seccomp.notify ? &fd : NULL, err);
    x->seccomp.insns = NULL;
    if (r < 0 || fd < 0)
        return r;
    r = sync_send(x->sync_fd, SYNC_SECCOMP, 0, fd, NULL, err);
    close(fd);
    if (r < 0)
        return r;
    struct sync_msg m;
    r = sync_expect(x->sync_fd, SYNC_SECCOMP_DONE, &m, err);
    sync_msg_clear(&m);
    return r;
}

/* In the container's user namespace the runtime's uid may not be mapped: this process becomes
 * the namespace's root, as runc's exec does and the init is, before it makes anything. A pty
 * belongs to its maker's uid, and one of an unmapped uid could not be given to the process's
 * user. Without a mapping for 0 (nothing to become) it stays as it is. */
static int become_ns_root(struct berth_error **err)
{
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
        if (errno != EINVAL)
            return berth_error_set(err, errno, "exec: become root in the user namespace");
        log_debug("exec: uid or gid 0 is not mapped in the user namespace");
    }
    /* A change of credentials resets both. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return 0;
}

static int child_run(struct exec_child *x, char **exe, char ***env, struct berth_error **err)
{
    const struct spec_process *p = x->p;
    if (x->cg) {
        int r = cgroup_join_self(x->cg, x->in_v2, false, err);
        if (r < 0)
            return r;
    }
    if (x->ns_fds[SPEC_NS_USER] >= 0 && setns(x->ns_fds[SPEC_NS_USER], CLONE_NEWUSER) < 0)
        return berth_error_set(err, errno, "exec: join the user namespace");
    /* The pid namespace is here only when the runtime could not enter it for the clone (an
     * unprivileged runtime, a namespace of the container's user namespace). */
    static const enum spec_ns_type order[] = {SPEC_NS_PID, SPEC_NS_MOUNT, SPEC_NS_NETWORK,
                                              SPEC_NS_IPC, SPEC_NS_UTS,   SPEC_NS_CGROUP,
                                              SPEC_NS_TIME};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        int fd = x->ns_fds[order[i]];
        if (fd >= 0 && setns(fd, ns_clone_flag(order[i])) < 0)
            return berth_error_set(err, errno, "exec: join the %s namespace",
                                   spec_ns_type_name(order[i]));
    }
    for (int t = 0; t < SPEC_NS_TYPES; t++)
        if (x->ns_fds[t] >= 0)
            close(x->ns_fds[t]);
    if (x->root_fd >= 0 && (fchdir(x->root_fd) < 0 || chroot(".") < 0))
        return berth_error_set(err, errno, "exec: chroot into the container's root");
    if (x->root_fd >= 0)
        close(x->root_fd);
    if (x->ns_fds[SPEC_NS_MOUNT] < 0 && chdir("/") < 0)
        return berth_error_set(err, errno, "exec: chdir /");
    if (x->ns_fds[SPEC_NS_PID] >= 0 && sync_fork_into_pidns(x->sync_fd, err) < 0)
        return berth_error_prefix(err, "exec");
    if (x->ns_fds[SPEC_NS_USER] >= 0) {
        int r = become_ns_root(err);
        if (r < 0)
            return r;
    }

    if (p->terminal) {
        int master = -1, peer = -1;
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r = console_open_pty(root, &master, &peer, err);
        if (r < 0)
            return r;
        if (p->has_console_size)
            console_set_size(peer, p->console_height, p->console_width, NULL);
        r = sync_send(x->sync_fd, SYNC_CONSOLE, 0, master, NULL, err);
        close(master);
        if (r == 0)
            r = console_make_stdio(peer, err);
        close(peer);
        if (r < 0)
            return r;
    }
    /* Without no_new_privs only a process that still has CAP_SYS_ADMIN may load a filter: then
     * it goes in before the capabilities are dropped, as for the init. */
    int r = 0;
    if (x->seccomp.insns && (!p->no_new_privileges || x->seccomp.notify))
        r = load_seccomp(x, err);
    if (r == 0)
        r = process_prepare(p, x->ns_fds[SPEC_NS_USER] >= 0, exe, env, err);
    if (r < 0)
        return r;
    for (unsigned i = 0; i < x->o->preserve_fds; i++)
        fcntl(3 + (int)i, F_SETFD, 0);
    /* The runtime may exit as soon as it has answered: from here its death shows as end of
     * file instead of a parent-death signal. */
    prctl(PR_SET_PDEATHSIG, 0);
    r = sync_send(x->sync_fd, SYNC_CREATED, 0, -1, NULL, err);
    if (r < 0)
        return r;
    struct sync_msg m;
    r = sync_expect(x->sync_fd, SYNC_COMMIT, &m, err);
    sync_msg_clear(&m);
    return r;
}

_Noreturn static void child_main(struct exec_child *x)
{
    /* Before anything of the container can see this process. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Only stdio, the preserved fds and the sync socket may cross into the container. */
    int lfd = log_fd();
    int *own[SPEC_NS_TYPES + 3];
    size_t n_own = 0;
    own[n_own++] = &x->sync_fd;
    own[n_own++] = &lfd;
    own[n_own++] = &x->root_fd;
    for (int t = 0; t < SPEC_NS_TYPES; t++)
        own[n_own++] = &x->ns_fds[t];
    fd_close_all_but(x->o->preserve_fds, own, n_own);
    log_set_fd(lfd);

    struct berth_error *err = NULL;
    char *exe = NULL, **env = NULL;
    if (child_run(x, &exe, &env, &err) < 0) {
        sync_send(x->sync_fd, SYNC_ERROR, err ? err->code : 0, -1, err ? err->msg : "exec failed",
                  NULL);
        _exit(1);
    }
    if (label_apparmor_exec(x->p->apparmor_profile, x->apparmor, &err) < 0 ||
        (x->selinux && label_set_exec(x->p->selinux_label, &err) < 0)) {
        fprintf(stderr, "berth: %s\n", err->msg);
        _exit(126);
    }
    if (x->seccomp.insns && seccomp_filter_load(&x->seccomp, NULL, &err) < 0) {
        fprintf(stderr, "berth: %s\n", err->msg);
        _exit(126);
    }
    execve(exe, x->p->args, env);
    int e = errno;
    fprintf(stderr, "berth: exec %s: %s\n", exe, strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

/* What exec holds, released in one place whatever happens. */
struct exec_job {
    struct container_state st;
    struct spec *spec;
    struct spec_process *p;
    struct cgroup *cg;
    struct seccomp_filter_prog seccomp;
    int ns_fds[SPEC_NS_TYPES];
    int root_fd;
    int pid_ns, sock[2], master, pidfd, cgfd;
    pid_t child; /* killed on failure */
    sigset_t mask, old;
    bool blocked;
};

static void exec_job_end(struct exec_job *j)
{
    if (j->child > 0) {
        kill(j->child, SIGKILL);
        waitpid(j->child, NULL, 0);
    }
    if (j->blocked)
        sigprocmask(SIG_SETMASK, &j->old, NULL);
    if (j->root_fd >= 0)
        close(j->root_fd);
    for (int t = 0; t < SPEC_NS_TYPES; t++)
        if (j->ns_fds[t] >= 0)
            close(j->ns_fds[t]);
    int fds[] = {j->pid_ns, j->sock[0], j->sock[1], j->master, j->pidfd, j->cgfd};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (j->cg)
        cgroup_free(j->cg);
    seccomp_filter_prog_clear(&j->seccomp);
    if (j->p)
        spec_process_free(j->p);
    spec_free(j->spec);
    container_state_clear(&j->st);
}

static int open_namespaces(struct exec_job *j, struct berth_error **err)
{
    const struct spec_linux *l = j->spec->linux_;
    for (size_t i = 0; l && i < l->n_namespaces; i++) {
        enum spec_ns_type t = l->namespaces[i].type;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)j->st.pid, ns_proc_name(t));
        int fd = ns_open(path, t, err);
        if (fd < 0)
            return fd;
        if (t == SPEC_NS_PID)
            j->pid_ns = fd;
        else
            j->ns_fds[t] = fd;
    }
    if (!spec_namespace_find(j->spec, SPEC_NS_MOUNT)) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/root", (int)j->st.pid);
        j->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (j->root_fd < 0)
            return berth_error_set(err, errno, "exec: open %s", path);
    }
    /* Opened by pid: make sure that pid is still the container's init. */
    if (container_proc_start_time(j->st.pid, NULL) != j->st.start_time)
        return berth_error_set(err, 0, "cannot exec in container \"%s\": it is stopped", j->st.id);
    return 0;
}

static int clone_child(const struct container_exec_opts *o, struct exec_job *j,
                       struct berth_error **err)
{
    /* The child joins the pid namespace itself and forks into it once it has closed every fd
     * of the runtime's: a process born straight into the container's pid namespace would be
     * seen there with the runtime's fds (the state directory, the cgroup) until it closed them,
     * and a container with CAP_SYS_PTRACE could open them (CVE-2016-9962). It also lets an
     * unprivileged runtime enter a pid namespace of the container's user namespace. */
    bool late_pid = j->pid_ns >= 0;
    struct clone_args args = {
        .flags = CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)&j->pidfd, .exit_signal = SIGCHLD};
    /* Born in the cgroup2 directory wherever there is one: on a v2 host that is the whole way
     * in; on a hybrid host the child still joins the v1 hierarchies itself, and
     * cgroup_join_self leaves the cgroup2 directory it is already in. */
    bool v2 = j->cg && cgroup_get_mode(j->cg) == CGROUP_MODE_UNIFIED;
    if (j->cg && ns_clone3_works() && (j->cgfd = cgroup_clone_fd(j->cg)) >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)j->cgfd;
    }
    struct exec_child x = {.o = o,
                           .spec = j->spec,
                           .p = j->p,
                           .sync_fd = j->sock[1],
                           .cg = v2 && j->cgfd >= 0 ? NULL : j->cg,
                           .in_v2 = j->cgfd >= 0,
                           .seccomp = j->seccomp,
                           .selinux = label_selinux_enabled(),
                           .apparmor = label_apparmor_enabled()};
    memcpy(x.ns_fds, j->ns_fds, sizeof(x.ns_fds));
    x.root_fd = j->root_fd;
    x.ns_fds[SPEC_NS_PID] = late_pid ? j->pid_ns : -1;
    if (late_pid) {
        int one = 1;
        setsockopt(j->sock[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    }
    long pid = ns_clone(&args);
    if (pid == 0)
        child_main(&x);
    int clone_errno = errno;
    if (pid < 0)
        return berth_error_set(err, clone_errno, "exec: clone");
    j->child = (pid_t)pid;
    close(j->sock[1]);
    j->sock[1] = -1;
    return 0;
}

/* Serve the child until it is ready to exec: its terminal, or its error. */
static int serve_child(const struct container_exec_opts *o, struct exec_job *j,
                       struct berth_error **err)
{
    for (;;) {
        struct sync_msg m;
        int r = sync_recv(j->sock[0], &m, err);
        if (r < 0)
            return r;
        switch (m.type) {
        case SYNC_ERROR:
            berth_error_set(err, 0, "%s", m.text ? m.text : "exec failed");
            (*err)->code = m.code;
            r = -EINVAL;
            break;
        case SYNC_CONSOLE:
            if (o->console_socket) {
                r = console_send_master(o->console_socket, m.fd, err);
            } else {
                j->master = m.fd;
                m.fd = -1;
                r = console_clear_onlcr(j->master, err);
            }
            break;
        case SYNC_SECCOMP: {
            const struct spec_seccomp *sc = j->spec->linux_ ? j->spec->linux_->seccomp : NULL;
            if (m.fd < 0 || !sc || !sc->listener_path) {
                r = berth_error_set(err, EPROTO, "exec sent no seccomp listener to hand on");
                break;
            }
            json_t *o = container_state_json(&j->st, CONTAINER_RUNNING);
            json_object_set_new(o, "pid", json_integer(j->child));
            char *state = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            r = seccomp_filter_send_listener(sc->listener_path, sc->listener_metadata, m.fd, state,
                                             err);
            free(state);
            if (r == 0)
                r = sync_send(j->sock[0], SYNC_SECCOMP_DONE, 0, -1, NULL, err);
            break;
        }
        case SYNC_INIT_PID:
            /* The process that forked it into the pid namespace has done its part. */
            waitpid(j->child, NULL, 0);
            j->child = m.sender_pid;
            if (j->child <= 0)
                r = berth_error_set(err, EPROTO, "exec: the process did not say who it is");
            break;
        case SYNC_CREATED:
            sync_msg_clear(&m);
            return 0;
        default:
            r = berth_error_set(err, EPROTO, "unexpected message %d from exec", m.type);
        }
        sync_msg_clear(&m);
        if (r < 0)
            return r;
    }
}

static int exec(const struct container_exec_opts *o, struct exec_job *j, struct berth_error **err)
{
    int r = container_validate_id(o->id, err);
    if (r < 0)
        return r;
    _cleanup_close_ int rootfd = container_root_open(o->root, false, err);
    if (rootfd < 0)
        return rootfd;
    _cleanup_close_ int dirfd = container_dir_open(rootfd, o->id, false, err);
    if (dirfd < 0)
        return dirfd;
    r = container_state_read(dirfd, o->id, &j->st, err);
    if (r < 0)
        return r;
    enum container_status status = container_status_of(dirfd, &j->st);
    if (status != CONTAINER_RUNNING && status != CONTAINER_CREATED)
        return berth_error_set(err, 0, "cannot exec in container \"%s\": it is %s", o->id,
                               container_status_name(status));
    if (j->st.cgroup && (r = cgroup_from_json(j->st.cgroup, &j->cg, err)) < 0)
        return r;
    /* The process would join the frozen cgroup and stop there before it could exec, and this
     * command with it, until the container is resumed: only when asked to. */
    bool frozen = false;
    if (status == CONTAINER_RUNNING && j->cg && !o->ignore_paused &&
        cgroup_is_frozen(j->cg, &frozen, NULL) == 0 && frozen)
        return berth_error_set(err, 0,
                               "exec: container \"%s\": cannot exec in a paused container (use "
                               "--ignore-paused to override)",
                               o->id);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    _cleanup_close_ int copy = -1;
    if (o->process_file && (r = read_process_file(o->process_file, &text, &len, &copy, err)) < 0)
        return r;
    r = spec_load_file(j->st.config, "config.json", &j->spec, err);
    if (r == 0)
        r = build_process(o, text, len, j->spec, &j->p, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *arg = NULL;
    _cleanup_free_ char **argv =
        copy >= 0 && o->argv ? argv_with_process_fd(o->argv, o->process_file, copy, &arg) : NULL;
    r = container_seal_if_needed(j->spec, j->p, argv ? argv : o->argv, err);
    if (r < 0)
        return r;
    const struct spec_linux *l = j->spec->linux_;
    if (l && l->seccomp &&
        (r = seccomp_filter_compile_cached(l->seccomp, o->root, &j->seccomp, err)) < 0)
        return r;
    if (j->p->apparmor_profile && *j->p->apparmor_profile && !label_apparmor_enabled())
        return berth_error_set(err, 0,
                               "process.apparmorProfile: \"%s\" cannot be applied: AppArmor is "
                               "not enabled on this host",
                               j->p->apparmor_profile);
    if (j->p->terminal && !o->console_socket && o->detach)
        return berth_error_set(err, 0, "exec --tty --detach needs --console-socket");
    if (o->n_cgroups) {
        if (!j->cg)
            return berth_error_set(err, 0, "exec --cgroup: container \"%s\" has no cgroup", o->id);
        struct cgroup *sub;
        r = cgroup_sub(j->cg, o->cgroups, o->n_cgroups, &sub, err);
        if (r < 0)
            return r;
        cgroup_free(j->cg);
        j->cg = sub;
    }
    r = open_namespaces(j, err);
    if (r < 0)
        return r;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, j->sock) < 0)
        return berth_error_set(err, errno, "socketpair");
    if (!o->detach) {
        container_block_signals(&j->mask, &j->old);
        j->blocked = true;
    }
    r = clone_child(o, j, err);
    if (r == 0)
        r = serve_child(o, j, err);
    if (r == 0 && o->pid_file)
        r = container_pid_file_write(o->pid_file, j->child, err);
    if (r == 0)
        r = sync_send(j->sock[0], SYNC_COMMIT, 0, -1, NULL, err);
    if (r < 0)
        return r;
    pid_t child = j->child;
    j->child = -1;
    if (o->detach)
        return 0;
    int wstatus = container_supervise(child, j->master, &j->mask);
    return WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
}

int container_exec(const struct container_exec_opts *o, struct berth_error **err)
{
    struct exec_job j = {.pid_ns = -1,
                         .root_fd = -1,
                         .sock = {-1, -1},
                         .master = -1,
                         .pidfd = -1,
                         .cgfd = -1,
                         .child = -1};
    for (int t = 0; t < SPEC_NS_TYPES; t++)
        j.ns_fds[t] = -1;
    int r = exec(o, &j, err);
    exec_job_end(&j);
    return r;
}
