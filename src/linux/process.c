#include "linux/process.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static const char *cap_set_names[] = {"bounding", "effective", "inheritable", "permitted",
                                      "ambient"};

static void cap_lists(const struct spec_capabilities *c, const int *lists[5], size_t ns[5])
{
    lists[0] = c->bounding, ns[0] = c->n_bounding;
    lists[1] = c->effective, ns[1] = c->n_effective;
    lists[2] = c->inheritable, ns[2] = c->n_inheritable;
    lists[3] = c->permitted, ns[3] = c->n_permitted;
    lists[4] = c->ambient, ns[4] = c->n_ambient;
}

/* CapPrm and CapBnd of this process, from one read of /proc/self/status. The first read is
 * kept: a container's init is cloned from the process that checked its capabilities, and
 * inherits both the bounding set and this copy of it. */
static int read_own_caps(unsigned long long *prm, unsigned long long *bnd, struct berth_error **err)
{
    static bool known;
    static unsigned long long known_prm, known_bnd;
    if (known) {
        *prm = known_prm;
        *bnd = known_bnd;
        return 0;
    }
    _cleanup_free_ char *text = NULL;
    int r = fs_read_file_at(AT_FDCWD, "/proc/self/status", 64 * 1024, &text, NULL, err);
    if (r < 0)
        return r;
    const char *p = strstr(text, "\nCapPrm:");
    const char *b = strstr(text, "\nCapBnd:");
    if (!p || !b)
        return berth_error_set(err, 0, "/proc/self/status has no capability lines");
    *prm = known_prm = strtoull(p + 8, NULL, 16);
    *bnd = known_bnd = strtoull(b + 8, NULL, 16);
    known = true;
    return 0;
}

static char *cap_name(int cap)
{
    char *name = spec_cap_name(cap);
    return name ? name : xasprintf("capability %d", cap);
}

int process_check_caps_held(const struct spec_capabilities *caps, struct berth_error **err)
{
    if (!caps)
        return 0;
    unsigned long long prm, bnd;
    int r = read_own_caps(&prm, &bnd, err);
    if (r < 0)
        return r;
    const int *lists[5];
    size_t ns[5];
    cap_lists(caps, lists, ns);
    for (int s = 1; s < 5; s++) {
        for (size_t i = 0; i < ns[s]; i++) {
            int cap = lists[s][i];
            if (cap < 64 && (prm & (1ULL << cap)))
                continue;
            _cleanup_free_ char *name = cap_name(cap);
            return berth_error_set(err, EPERM,
                                   "process.capabilities.%s: %s is not held by berth itself, so "
                                   "the container cannot have it",
                                   cap_set_names[s], name);
        }
    }
    return 0;
}

int process_set_rlimits(const struct spec_process *p, struct berth_error **err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        const struct spec_rlimit *rl = &p->rlimits[i];
        struct rlimit lim = {rl->soft, rl->hard};
        if (setrlimit(rl->resource, &lim) == 0)
            continue;
        int e = errno;
        struct rlimit cur;
        getrlimit(rl->resource, &cur);
        if (e == EPERM && rl->hard > cur.rlim_max)
            return berth_error_set(err, e,
                                   "process.rlimits: set %s to soft %llu hard %llu (raising the "
                                   "hard limit above %llu needs CAP_SYS_RESOURCE)",
                                   rl->type, (unsigned long long)rl->soft,
                                   (unsigned long long)rl->hard, (unsigned long long)cur.rlim_max);
        return berth_error_set(err, e, "process.rlimits: set %s to soft %llu hard %llu", rl->type,
                               (unsigned long long)rl->soft, (unsigned long long)rl->hard);
    }
    return 0;
}

int process_set_oom_score_adj(const struct spec_process *p, struct berth_error **err)
{
    if (!p->has_oom_score_adj)
        return 0;
    _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    struct statfs sfs;
    if (fd < 0)
        return berth_error_set(err, errno, "process.oomScoreAdj: open /proc/self/oom_score_adj");
    if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
        return berth_error_set(err, 0,
                               "process.oomScoreAdj: /proc/self/oom_score_adj is not "
                               "on procfs");
    char buf[16];
    int len = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
    if (write(fd, buf, (size_t)len) < 0) {
        if (errno == EACCES || errno == EPERM)
            return berth_error_set(err, errno,
                                   "process.oomScoreAdj: write %d (lowering it needs "
                                   "CAP_SYS_RESOURCE)",
                                   p->oom_score_adj);
        return berth_error_set(err, errno, "process.oomScoreAdj: write %d", p->oom_score_adj);
    }
    return 0;
}

struct sched_attr_v1 {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_SHIFT 13

int process_set_scheduling(const struct spec_process *p, struct berth_error **err)
{
    if (p->scheduler) {
        const struct spec_scheduler *s = p->scheduler;
        struct sched_attr_v1 a = {
            .size = sizeof(a),
            .sched_policy = (uint32_t)s->policy,
            .sched_flags = s->flags,
            .sched_nice = s->nice,
            .sched_priority = (uint32_t)s->priority,
            .sched_runtime = s->runtime,
            .sched_deadline = s->deadline,
            .sched_period = s->period,
        };
        if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
            return berth_error_set(err, errno, "process.scheduler: sched_setattr policy %d",
                                   s->policy);
    }
    if (p->io_priority) {
        int v = (p->io_priority->klass << IOPRIO_CLASS_SHIFT) | p->io_priority->priority;
        if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, v) < 0)
            return berth_error_set(err, errno, "process.ioPriority: ioprio_set");
    }
    return 0;
}

int process_set_personality(const struct spec_linux *l, struct berth_error **err)
{
    if (!l || !l->has_personality)
        return 0;
    if (personality(l->personality_domain) < 0)
        return berth_error_set(err, errno, "linux.personality: set domain %#x",
                               l->personality_domain);
    return 0;
}

/* A file of the container's /etc, read only if it is a regular file of sane size. */
static char *read_etc(const char *path)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20))
        return NULL;
    char *text = NULL;
    if (fs_read_fd(fd, 16 << 20, &text, NULL) < 0)
        return NULL;
    return text;
}

/* Split a colon-separated line in place into at most n fields. */
static size_t split_fields(char *line, char **f, size_t n)
{
    size_t i = 0;
    f[i++] = line;
    for (char *p = line; *p && i < n; p++)
        if (*p == ':') {
            *p = '\0';
            f[i++] = p + 1;
        }
    return i;
}

static bool parse_id(const char *s, unsigned long *out)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return !errno && !*end && *out <= 0xffffffffUL;
}

int process_lookup_user(uid_t uid, struct process_user_info *out, struct berth_error **err)
{
    (void)err;
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *passwd = read_etc("/etc/passwd");
    for (char *save = NULL, *line = passwd ? strtok_r(passwd, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[7];
        unsigned long id;
        if (split_fields(line, f, 7) < 7 || !parse_id(f[2], &id) || id != uid)
            continue;
        out->home = xstrdup(f[5]);
        out->name = xstrdup(f[0]);
        break;
    }
    if (!out->home)
        out->home = xstrdup("/");
    return 0;
}

void process_user_info_clear(struct process_user_info *u)
{
    free(u->home);
    free(u->name);
    memset(u, 0, sizeof(*u));
}

/* No capabilities object is an empty one: the process gets none, as with runc and crun. */
static const struct spec_capabilities no_caps;

int process_drop_bounding(const struct spec_capabilities *caps, struct berth_error **err)
{
    if (!caps)
        caps = &no_caps;
    unsigned long long prm, bnd, keep = 0;
    int r = read_own_caps(&prm, &bnd, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < caps->n_bounding; i++)
        keep |= 1ULL << caps->bounding[i];
    for (int cap = 0; cap < 64; cap++) {
        if (!(bnd & (1ULL << cap)) || (keep & (1ULL << cap)))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            _cleanup_free_ char *name = cap_name(cap);
            return berth_error_set(err, errno, "process.capabilities.bounding: drop %s", name);
        }
    }
    return 0;
}

int process_set_user_and_caps(const struct spec_process *p, bool setgroups_allowed,
                              struct berth_error **err)
{
    const struct spec_user *u = &p->user;
    if (setgroups_allowed) {
        size_t n = u->n_additional_gids;
        _cleanup_free_ gid_t *all = xcalloc(n ? n : 1, sizeof(gid_t));
        for (size_t i = 0; i < n; i++)
            all[i] = u->additional_gids[i];
        if (setgroups(n, all) < 0)
            return berth_error_set(err, errno, "process.user.additionalGids: setgroups");
    } else if (u->n_additional_gids) {
        return berth_error_set(err, EPERM,
                               "process.user.additionalGids: setgroups is denied in this user "
                               "namespace");
    }
    /* Only a change of every uid from 0 to others clears the permitted capabilities. */
    bool keep = u->uid != 0;
    if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return berth_error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return berth_error_set(err, errno, "process.user.gid: setresgid %u", u->gid);
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return berth_error_set(err, errno, "process.user.uid: setresuid %u", u->uid);
    if (u->has_umask)
        umask(u->umask);

    const struct spec_capabilities *c = p->capabilities ? p->capabilities : &no_caps;
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    for (size_t i = 0; i < c->n_effective; i++)
        data[c->effective[i] / 32].effective |= 1U << (c->effective[i] % 32);
    for (size_t i = 0; i < c->n_permitted; i++)
        data[c->permitted[i] / 32].permitted |= 1U << (c->permitted[i] % 32);
    for (size_t i = 0; i < c->n_inheritable; i++)
        data[c->inheritable[i] / 32].inheritable |= 1U << (c->inheritable[i] % 32);
    if (syscall(SYS_capset, &hdr, data) < 0)
        return berth_error_set(err, errno, "process.capabilities: capset");
    if (keep && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return berth_error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
    for (size_t i = 0; i < c->n_ambient; i++) {
        /* The kernel refuses an ambient capability that is not also inheritable and permitted;
         * default specs ask for ambient without inheritable, so that is not fatal. */
        int cap = c->ambient[i];
        if (!(data[cap / 32].inheritable & data[cap / 32].permitted & (1U << (cap % 32)))) {
            _cleanup_free_ char *name = cap_name(cap);
            log_debug("process.capabilities.ambient: %s is not inheritable and permitted", name);
            continue;
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c->ambient[i], 0, 0) < 0) {
            _cleanup_free_ char *name = cap_name(c->ambient[i]);
            log_debug("process.capabilities.ambient: cannot raise %s: %s", name, strerror(errno));
        }
    }
    return 0;
}

static const char *env_get(char **env, const char *key)
{
    size_t kl = strlen(key);
    for (; env && *env; env++)
        if (strncmp(*env, key, kl) == 0 && (*env)[kl] == '=')
            return *env + kl + 1;
    return NULL;
}

/* As the kernel will see it at execve: a regular file this process may execute (the effective
 * ids, and a noexec mount refuses it). A seccomp filter already loaded (without no_new_privs it
 * comes before this) may refuse faccessat2, which profiles older than it leave out: EPERM, on
 * which glibc does not fall back. Then any execute bit will do, as runc's lookup asks, and
 * execve has the last word. */
static int check_executable(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0)
        return 0;
    if ((errno == EPERM || errno == ENOSYS) && (st.st_mode & 0111))
        return 0;
    return -EACCES;
}

/* runc's words for a command it cannot run (those of Go's exec.LookPath), errno text in lower
 * case: engines choose an exit status by matching them (Docker: 127 for "no such file or
 * directory" or "executable file not found", 126 for "permission denied"). */
static int lookup_error(struct berth_error **err, int code, const char *name, bool stat_failed)
{
    char why[128];
    snprintf(why, sizeof(why), "%s", strerror(code));
    why[0] = (char)tolower((unsigned char)why[0]);
    bool fresh = err && !*err;
    if (stat_failed)
        berth_error_set(err, 0, "exec: \"%s\": stat %s: %s", name, name, why);
    else
        berth_error_set(err, 0, "exec: \"%s\": %s", name, why);
    if (fresh && *err)
        (*err)->code = code;
    return -code;
}

int process_find_executable(const struct spec_process *p, char **out, struct berth_error **err)
{
    const char *name = p->args[0];
    if (strchr(name, '/')) {
        int r = check_executable(name);
        if (r < 0)
            return lookup_error(err, -r, name, r != -EACCES);
        *out = xstrdup(name);
        return 0;
    }
    const char *path = env_get(p->env, "PATH");
    if (!path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    _cleanup_free_ char *dirs = xstrdup(path);
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *cand = xasprintf("%s/%s", *d ? d : ".", name);
        if (check_executable(cand) == 0) {
            *out = TAKE_PTR(cand);
            return 0;
        }
    }
    berth_error_set(err, 0, "exec: \"%s\": executable file not found in $PATH", name);
    return -ENOENT;
}

/* The kernel reports a directory outside the root as "(unreachable)...": a cwd that came
 * through a leaked fd's /proc/self/fd link. "/" itself is the root. */
static int check_cwd_inside(const char *cwd, struct berth_error **err)
{
    char buf[4096];
    if (strcmp(cwd, "/") != 0 && (!getcwd(buf, sizeof(buf)) || buf[0] != '/'))
        return berth_error_set(err, EPERM, "process.cwd: %s is outside the container", cwd);
    return 0;
}

int process_chdir(const char *cwd, int *denied, struct berth_error **err)
{
    *denied = 0;
    if (chdir(cwd) < 0) {
        if (errno != EACCES && errno != EPERM)
            return berth_error_set(err, errno, "process.cwd: chdir %s", cwd);
        *denied = errno;
        return 0;
    }
    return check_cwd_inside(cwd, err);
}

int process_chdir_as_user(const char *cwd, int denied, struct berth_error **err)
{
    if (!denied)
        return 0;
    if (chdir(cwd) < 0) {
        int e = errno;
        unsigned uid = (unsigned)getuid();
        return berth_error_set(err, e,
                               "process.cwd: chdir %s: denied before the switch to uid %u (%s), "
                               "and as uid %u",
                               cwd, uid, strerror(denied), uid);
    }
    return check_cwd_inside(cwd, err);
}

int process_chown_terminal(const struct spec_process *p, struct berth_error **err)
{
    if (!p->terminal)
        return 0;
    struct stat st;
    if (fstat(STDIN_FILENO, &st) < 0)
        return berth_error_set(err, errno, "process.terminal: stat the pty");
    if (st.st_uid == p->user.uid)
        return 0;
    if (fchown(STDIN_FILENO, p->user.uid, (gid_t)-1) == 0)
        return 0;
    /* As runc: the pty's owner or group not mapped in this user namespace (EPERM, EINVAL), a
     * read-only /dev (EROFS) leave it as it is. */
    if (errno == EPERM || errno == EINVAL || errno == EROFS) {
        log_debug("process.terminal: the pty stays uid %u: chown to uid %u: %s",
                  (unsigned)st.st_uid, p->user.uid, strerror(errno));
        return 0;
    }
    return berth_error_set(err, errno, "process.terminal: chown the pty to uid %u", p->user.uid);
}

char **process_build_env(const struct spec_process *p, const char *home)
{
    size_t n = strv_len(p->env);
    char **env = xcalloc(n + 2, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        env[i] = p->env[i];
    if (!env_get(p->env, "HOME") && home)
        env[n++] = xasprintf("HOME=%s", home);
    return env;
}

int process_prepare(const struct spec_process *p, bool in_userns, char **exe, char ***env,
                    struct berth_error **err)
{
    int r = process_set_scheduling(p, err);
    if (r == 0)
        r = process_set_rlimits(p, err);
    if (r < 0)
        return r;

    struct process_user_info ui;
    r = process_lookup_user(p->user.uid, &ui, err);
    if (r < 0)
        return r;
    /* process.cwd is entered while still privileged: the user may not be able to search its
     * way there (a cwd of root's, mode 0700). When that is denied, again once the user is
     * switched: a cwd only that user can reach (a root-squashed NFS) still works. */
    const char *cwd = p->cwd ? p->cwd : "/";
    int denied = 0;
    r = process_chdir(cwd, &denied, err);
    if (r == 0)
        r = process_chown_terminal(p, err);
    if (r == 0)
        r = process_drop_bounding(p->capabilities, err);
    if (r == 0) {
        bool setgroups_ok = true;
        if (in_userns) {
            _cleanup_free_ char *sg = NULL;
            if (fs_read_file_at(AT_FDCWD, "/proc/self/setgroups", 64, &sg, NULL, NULL) == 0)
                setgroups_ok = strncmp(sg, "deny", 4) != 0;
        }
        r = process_set_user_and_caps(p, setgroups_ok, err);
    }
    if (r == 0)
        r = process_chdir_as_user(cwd, denied, err);
    if (r == 0 && p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        r = berth_error_set(err, errno, "process.noNewPrivileges: prctl");
    if (r == 0)
        r = process_find_executable(p, exe, err);
    if (r == 0)
        *env = process_build_env(p, ui.home);
    process_user_info_clear(&ui);
    return r;
}
