#include "container/init.h"
#include "berth/error.h"
#include "container/hooks.h"
#include "container/sync.h"
#include "linux/cgroup/cgroup.h"
#include "linux/console.h"
#include "linux/label.h"
#include "linux/ns.h"
#include "linux/process.h"
#include "linux/rootfs.h"
#include "linux/seccomp_filter.h"
#include "util/cleanup.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* Close every fd the runtime had open except stdio, the preserved ones and the init's own
 * (the namespaces it is still to join among them): nothing of the host (the state directory,
 * the log) may reach the container. */
static void close_inherited_fds(struct init_ctx *x)
{
    size_t n_trees = x->bind_trees ? x->spec->n_mounts : 0, n = 0;
    _cleanup_free_ int **own = xcalloc(5 + SPEC_NS_TYPES + n_trees, sizeof(int *));
    int lfd = log_fd();
    own[n++] = &x->sync_fd;
    own[n++] = &x->fifo_fd;
    own[n++] = &x->rootfs_tree;
    own[n++] = &x->rootfs_dir;
    own[n++] = &lfd;
    for (int t = 0; t < SPEC_NS_TYPES; t++)
        own[n++] = &x->join_fds[t];
    for (size_t i = 0; i < n_trees; i++)
        own[n++] = &x->bind_trees[i];
    fd_close_all_but(x->opts->preserve_fds, own, n);
    log_set_fd(lfd);
}

static int wait_for(int sync_fd, enum sync_type type, char **text, struct berth_error **err)
{
    struct sync_msg m;
    int r = sync_expect(sync_fd, type, &m, err);
    if (r < 0)
        return r;
    if (text)
        *text = TAKE_PTR(m.text);
    sync_msg_clear(&m);
    return 0;
}

/* The id maps are written; with them may come the rootfs directory in this mount namespace. */
static int wait_for_maps(struct init_ctx *x, struct berth_error **err)
{
    struct sync_msg m;
    int r = sync_expect(x->sync_fd, SYNC_MAPS_DONE, &m, err);
    if (r < 0)
        return r;
    x->rootfs_dir = TAKE_FD(m.fd);
    sync_msg_clear(&m);
    return 0;
}

static int become_ns_root(struct berth_error **err)
{
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
        return berth_error_set(err, errno, "become root in the user namespace");
    /* A change of credentials clears the parent-death signal. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return 0;
}

static int enter_namespaces(struct init_ctx *x, struct berth_error **err)
{
    if (x->cloned_flags & CLONE_NEWUSER) {
        int r = wait_for_maps(x, err);
        if (r < 0)
            return r;
        r = become_ns_root(err);
        if (r < 0)
            return r;
    }
    /* A process joins its cgroup before it leaves the host's user namespace (where the cgroup
     * files are writable) and before a cgroup namespace is made (whose root it becomes). Its v1
     * hierarchies it joined already, through the runtime's fds. */
    if (x->join_cgroup_self) {
        int r = cgroup_join_self(x->cgroup, x->born_in_v2_cgroup, x->cgroup_v1_fds != NULL, err);
        if (r < 0)
            return r;
    }
    const struct spec_linux *l = x->spec->linux_;
    if (x->join_fds[SPEC_NS_USER] >= 0) {
        int r = ns_join(x->join_fds[SPEC_NS_USER], SPEC_NS_USER,
                        spec_namespace_find(x->spec, SPEC_NS_USER)->path, err);
        if (r < 0)
            return r;
    }
    for (int t = 0; t < SPEC_NS_TYPES; t++) {
        if (t == SPEC_NS_USER || x->join_fds[t] < 0)
            continue;
        int r = ns_join(x->join_fds[t], (enum spec_ns_type)t,
                        spec_namespace_find(x->spec, (enum spec_ns_type)t)->path, err);
        if (r < 0)
            return r;
    }
    if (x->unshare_flags) {
        if (unshare((int)x->unshare_flags) < 0)
            return berth_error_set(err, errno, "unshare namespaces %#lx", x->unshare_flags);
        if (x->unshare_flags & CLONE_NEWUSER) {
            int r = sync_send(x->sync_fd, SYNC_USERNS_READY, 0, -1, NULL, err);
            if (r < 0)
                return r;
            r = wait_for_maps(x, err);
            if (r < 0)
                return r;
            r = become_ns_root(err);
            if (r < 0)
                return r;
        }
    }
    (void)l;
    /* unshare(CLONE_NEWPID) only places children: the real init is forked into it. */
    if (x->new_pidns_fork && sync_fork_into_pidns(x->sync_fd, err) < 0)
        return berth_error_prefix(err, "the init");
    return 0;
}

static int set_hostname(const struct spec *s, struct berth_error **err)
{
    if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
        return berth_error_set(err, errno, "hostname: set \"%s\"", s->hostname);
    if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
        return berth_error_set(err, errno, "domainname: set \"%s\"", s->domainname);
    return 0;
}

/* Sysctls go through the host's /proc, still visible before pivot_root; the kernel applies
 * each to the namespaces of the writer, which are the container's. */
static int set_sysctls(const struct spec_linux *l, struct berth_error **err)
{
    for (size_t i = 0; l && i < l->n_sysctl; i++) {
        const char *key = l->sysctl[i].key, *value = l->sysctl[i].value;
        _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
        for (char *p = path + 10; *p; p++)
            if (*p == '.')
                *p = '/';
        _cleanup_close_ int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_TRUNC);
        struct statfs sfs;
        if (fd < 0)
            return berth_error_set(err, errno, "linux.sysctl: \"%s\": open %s", key, path);
        if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
            return berth_error_set(err, 0, "linux.sysctl: \"%s\": %s is not on procfs", key, path);
        if (write(fd, value, strlen(value)) < 0)
            return berth_error_set(err, errno, "linux.sysctl: \"%s\": write \"%s\"", key, value);
    }
    return 0;
}

static int join_session_keyring(const struct init_ctx *x, struct berth_error **err)
{
    if (x->opts->no_new_keyring)
        return 0;
    _cleanup_free_ char *name = xasprintf("_ses.%s", x->opts->id);
    /* The keyring is created with the container's label, and the next ones are not. */
    const char *label = x->spec->process->selinux_label;
    bool labelled = label && *label && label_selinux_enabled();
    if (labelled && label_set_keycreate(label, err) < 0)
        return berth_error_prefix(err, "join a new session keyring");
    int r = 0;
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name) < 0 && errno != ENOSYS)
        r = berth_error_set(err, errno, "join a new session keyring");
    if (labelled && label_set_keycreate(NULL, r < 0 ? NULL : err) < 0 && r == 0)
        r = berth_error_prefix(err, "join a new session keyring");
    return r;
}

static bool has_hooks(const struct spec *s, enum spec_hook_kind k)
{
    return s->hooks.n_hooks[k] > 0;
}

/* createContainer hooks run in the container's root, not yet pivoted into: rootfd. */
static int run_create_hooks(struct init_ctx *x, int rootfd, struct berth_error **err)
{
    const struct spec *s = x->spec;
    if (!has_hooks(s, SPEC_HOOK_PRESTART) && !has_hooks(s, SPEC_HOOK_CREATE_RUNTIME) &&
        !has_hooks(s, SPEC_HOOK_CREATE_CONTAINER))
        return 0;
    int r = sync_send(x->sync_fd, SYNC_HOOKS, 0, -1, NULL, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *state = NULL;
    r = wait_for(x->sync_fd, SYNC_HOOKS_DONE, &state, err);
    if (r < 0)
        return r;
    return hooks_run(s->hooks.hooks[SPEC_HOOK_CREATE_CONTAINER],
                     s->hooks.n_hooks[SPEC_HOOK_CREATE_CONTAINER], "createContainer",
                     state ? state : "{}", rootfd, err);
}

/* Load the filter now; a notify listener goes to the runtime, which hands it to listenerPath
 * while the init waits: calls the filter notifies would otherwise block with nobody to answer. */
static int install_seccomp(struct init_ctx *x, struct seccomp_filter_prog *prog,
                           struct berth_error **err)
{
    int fd = -1;
    int r = seccomp_filter_load(prog, prog->notify ? &fd : NULL, err);
    seccomp_filter_prog_clear(prog);
    if (r < 0 || fd < 0)
        return r;
    r = sync_send(x->sync_fd, SYNC_SECCOMP, 0, fd, NULL, err);
    close(fd);
    if (r < 0)
        return r;
    return wait_for(x->sync_fd, SYNC_SECCOMP_DONE, NULL, err);
}

static int init_run(struct init_ctx *x, struct seccomp_filter_prog *seccomp, char **exe_out,
                    char ***env_out, char **state_out, struct berth_error **err)
{
    const struct spec *s = x->spec;
    const struct spec_process *p = s->process;
    const struct spec_linux *l = s->linux_;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Hooks run in the container's namespaces as children of this process, and a joined pid
     * namespace shows it to others: until the exec nothing may open /proc/PID/exe (the host's
     * berth) or read its memory. In a user namespace its /proc files would then belong to the
     * host's root and be closed to the init itself; there the mm belongs to the host's user
     * namespace anyway, beyond the reach of the container's capabilities. */
    if (!x->new_userns && x->join_fds[SPEC_NS_USER] < 0)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* run blocks every signal to relay them; the process must start with none blocked. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* The v1 hierarchies through the fds the runtime opened, before they are closed. */
    if (x->cgroup_v1_fds) {
        int r = cgroup_join_v1_fds(x->cgroup, x->cgroup_v1_fds, err);
        if (r < 0)
            return r;
    }
    close_inherited_fds(x);
    int r = enter_namespaces(x, err);
    if (r < 0)
        return r;
    r = set_hostname(s, err);
    if (r < 0)
        return r;
    r = join_session_keyring(x, err);
    if (r < 0)
        return r;
    r = set_sysctls(l, err);
    if (r < 0)
        return r;
    r = process_set_oom_score_adj(p, err);
    if (r < 0)
        return r;

    umask(0022);
    struct rootfs_ctx rc;
    rootfs_ctx_init(&rc);
    rc.spec = s;
    rc.rootfs = x->rootfs;
    rc.bundle = x->bundle;
    rc.no_pivot = x->opts->no_pivot;
    rc.host_mntns = !spec_namespace_find(s, SPEC_NS_MOUNT);
    rc.userns = x->new_userns || x->join_fds[SPEC_NS_USER] >= 0;
    rc.new_netns = (x->cloned_flags | x->unshare_flags) & CLONE_NEWNET;
    rc.new_cgroupns = (x->cloned_flags | x->unshare_flags) & CLONE_NEWCGROUP;
    rc.cgroup_unified = x->cgroup_unified;
    rc.cgroups = x->cgroups;
    rc.n_cgroups = x->n_cgroups;
    rc.mount_label = l ? l->mount_label : NULL;
    rc.bind_trees = x->bind_trees;
    rc.rootfs_tree = x->rootfs_tree;
    rc.rootfs_dir = x->rootfs_dir;
    r = rootfs_prepare(&rc, err);
    if (r == 0)
        r = run_create_hooks(x, rc.rootfd, err);
    if (r == 0)
        r = rootfs_finish(&rc, err);
    if (r == 0 && rc.console_master >= 0) {
        r = sync_send(x->sync_fd, SYNC_CONSOLE, 0, rc.console_master, NULL, err);
        if (r == 0)
            r = console_make_stdio(rc.console_peer, err);
    }
    rootfs_ctx_clear(&rc);
    if (r < 0)
        return r;

    r = process_set_personality(l, err);
    if (r < 0)
        return r;
    /* Without no_new_privs loading a filter needs CAP_SYS_ADMIN: before process_prepare drops
     * the capabilities. */
    if (seccomp->insns && !p->no_new_privileges) {
        r = install_seccomp(x, seccomp, err);
        if (r < 0)
            return r;
    }
    r = process_prepare(p, x->new_userns || x->join_fds[SPEC_NS_USER] >= 0, exe_out, env_out, err);
    if (r < 0)
        return r;
    /* A listener must reach its supervisor while the runtime is still there to take it. */
    if (seccomp->notify) {
        r = install_seccomp(x, seccomp, err);
        if (r < 0)
            return r;
    }

    /* Preserved fds go to the process; every other fd is closed by exec. */
    for (unsigned i = 0; i < x->opts->preserve_fds; i++)
        fcntl(3 + (int)i, F_SETFD, 0);

    /* From here a runtime that dies shows as end of file on the socket: the parent-death signal
     * would otherwise race with the runtime's normal exit after create. */
    prctl(PR_SET_PDEATHSIG, 0);
    r = sync_send(x->sync_fd, SYNC_CREATED, 0, -1, NULL, err);
    if (r < 0)
        return r;
    r = wait_for(x->sync_fd, SYNC_COMMIT, state_out, err);
    if (r < 0)
        return r;
    return 0;
}

_Noreturn void container_init_main(struct init_ctx *x)
{
    struct berth_error *err = NULL;
    char *exe = NULL, **env = NULL, *state = NULL;
    /* Asked while the host's /sys is still in view. */
    bool selinux = label_selinux_enabled();
    const char *profile = x->spec->process->apparmor_profile;
    bool apparmor = profile && *profile && label_apparmor_enabled();
    /* This process's copy of the runtime's program; loading it frees it. */
    struct seccomp_filter_prog seccomp = {0};
    if (x->seccomp)
        seccomp = *x->seccomp;
    int r = init_run(x, &seccomp, &exe, &env, &state, &err);
    if (r < 0) {
        sync_send(x->sync_fd, SYNC_ERROR, err ? err->code : -r, -1,
                  err ? err->msg : "container init failed", NULL);
        _exit(1);
    }
    if (x->fifo_fd >= 0) {
        /* Created: the runtime goes away; the init lives on its own until start. */
        close(x->sync_fd);
        char byte;
        ssize_t n;
        while ((n = read(x->fifo_fd, &byte, 1)) < 0 && errno == EINTR)
            ;
        if (n != 1)
            _exit(1);
        /* The fifo stays open until the exec closes it: start waits for that to run
         * poststart. */
    } else {
        /* run: the runtime stays and says start here; the socket, like the fifo, stays open
         * until the exec closes it. */
        struct sync_msg m;
        if (sync_expect(x->sync_fd, SYNC_START, &m, NULL) < 0)
            _exit(1);
        sync_msg_clear(&m);
    }

    const struct spec *s = x->spec;
    if (has_hooks(s, SPEC_HOOK_START_CONTAINER)) {
        /* startContainer hooks run under the container's filter, as runc runs them. */
        if (seccomp.insns && seccomp_filter_load(&seccomp, NULL, &err) < 0) {
            fprintf(stderr, "berth: %s\n", err->msg);
            _exit(1);
        }
        seccomp_filter_prog_clear(&seccomp);
        r = hooks_run(s->hooks.hooks[SPEC_HOOK_START_CONTAINER],
                      s->hooks.n_hooks[SPEC_HOOK_START_CONTAINER], "startContainer",
                      state ? state : "{}", -1, &err);
        if (r < 0) {
            fprintf(stderr, "berth: %s\n", err->msg);
            _exit(1);
        }
    }
    /* After the hooks: a child forked before this would inherit the label. */
    if (label_apparmor_exec(s->process->apparmor_profile, apparmor, &err) < 0 ||
        (selinux && label_set_exec(s->process->selinux_label, &err) < 0)) {
        fprintf(stderr, "berth: %s\n", err->msg);
        _exit(1);
    }
    /* Last (unless hooks came first), so that as few of the runtime's own calls as possible
     * meet the filter. */
    if (seccomp.insns && seccomp_filter_load(&seccomp, NULL, &err) < 0) {
        fprintf(stderr, "berth: %s\n", err->msg);
        _exit(1);
    }
    execve(exe, s->process->args, env);
    fprintf(stderr, "berth: exec %s: %s\n", exe, strerror(errno));
    _exit(127);
}
