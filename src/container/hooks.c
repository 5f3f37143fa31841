#include "container/hooks.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a failing hook printed, for the error message; bounded. */
#define HOOK_OUTPUT_MAX 4096

static char *empty_env[] = {NULL};

static int run_one(const struct spec_hook *h, const char *kind, size_t index,
                   const char *state_json, int dirfd, struct berth_error **err)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return berth_error_set(err, errno, "%s hook %zu: pipe", kind, index);
    if (pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        close(in[0]);
        close(in[1]);
        return berth_error_set(err, e, "%s hook %zu: pipe", kind, index);
    }
    _cleanup_close_ int in_r = in[0], in_w = in[1], out_r = out[0], out_w = out[1];

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_r, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out_w, STDERR_FILENO);
    if (dirfd >= 0)
        posix_spawn_file_actions_addfchdir_np(&fa, dirfd);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

    char *default_args[] = {h->path, NULL};
    pid_t pid;
    int r = posix_spawn(&pid, h->path, &fa, &attr, h->args ? h->args : default_args,
                        h->env ? h->env : empty_env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        return berth_error_set(err, r, "%s hook %zu: run %s", kind, index, h->path);
    close(in_r);
    in_r = -1;
    close(out_w);
    out_w = -1;

    /* A hook that ignores its stdin must not block us: write what fits, ignore EPIPE. */
    size_t len = strlen(state_json), off = 0;
    fcntl(in_w, F_SETFL, O_NONBLOCK);
    fcntl(out_r, F_SETFL, O_NONBLOCK);
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return berth_error_set(err, e, "%s hook %zu: pidfd_open", kind, index);
    }

    /* A hook may exit without reading its stdin. The SIGPIPE of that broken pipe would kill
     * berth halfway through a create or delete (or, in `run`, where every signal waits to be
     * relayed, reach the container): it is held back while we write, and taken off again. */
    sigset_t pipe_set, saved_mask;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_set, &saved_mask);
    bool broken_pipe = false;

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    char output[HOOK_OUTPUT_MAX + 1];
    size_t out_len = 0;
    bool timed_out = false, exited = false;
    while (!exited) {
        int timeout = -1;
        if (h->has_timeout) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long elapsed =
                (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
            long long left = h->timeout * 1000LL - elapsed;
            timeout = left > 0 ? (int)left : 0;
        }
        struct pollfd pf[3] = {{pidfd, POLLIN, 0}, {out_r, POLLIN, 0}, {in_w, POLLOUT, 0}};
        int n = poll(pf, 3, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            timed_out = true;
            break;
        }
        if (n < 0)
            break;
        if (in_w >= 0 && pf[2].revents) {
            ssize_t w = write(in_w, state_json + off, len - off);
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno == EPIPE)
                broken_pipe = true;
            if (w < 0 || off == len) {
                close(in_w);
                in_w = -1;
            }
        }
        exited = pf[0].revents & POLLIN;
        /* After the exit, take what is already there: a background child of the hook may keep
         * the pipe open forever. */
        while (out_r >= 0 && (pf[1].revents || exited)) {
            char buf[1024];
            ssize_t rd = read(out_r, buf, sizeof(buf));
            if (rd <= 0) {
                if (rd == 0 || errno != EAGAIN) {
                    close(out_r);
                    out_r = -1;
                }
                break;
            }
            size_t keep = (size_t)rd;
            if (keep > HOOK_OUTPUT_MAX - out_len)
                keep = HOOK_OUTPUT_MAX - out_len;
            memcpy(output + out_len, buf, keep);
            out_len += keep;
        }
    }
    if (broken_pipe)
        sigtimedwait(&pipe_set, NULL, &(struct timespec){0, 0});
    sigprocmask(SIG_SETMASK, &saved_mask, NULL);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    output[out_len] = '\0';
    while (out_len > 0 && (output[out_len - 1] == '\n' || output[out_len - 1] == ' '))
        output[--out_len] = '\0';

    if (timed_out)
        return berth_error_set(err, ETIMEDOUT, "%s hook %zu (%s) timed out after %d s", kind, index,
                               h->path, h->timeout);
    if (WIFSIGNALED(status))
        return berth_error_set(err, 0, "%s hook %zu (%s) was killed by signal %d%s%s", kind, index,
                               h->path, WTERMSIG(status), out_len ? ": " : "", output);
    if (WEXITSTATUS(status) != 0)
        return berth_error_set(err, 0, "%s hook %zu (%s) failed with exit status %d%s%s", kind,
                               index, h->path, WEXITSTATUS(status), out_len ? ": " : "", output);
    return 0;
}

int hooks_run(const struct spec_hook *hooks, size_t n, const char *kind, const char *state_json,
              int dirfd, struct berth_error **err)
{
    for (size_t i = 0; i < n; i++) {
        log_debug("running %s hook %zu: %s", kind, i, hooks[i].path);
        int r = run_one(&hooks[i], kind, i, state_json, dirfd, err);
        if (r < 0)
            return r;
    }
    return 0;
}

void hooks_run_warn(const struct spec_hook *hooks, size_t n, const char *kind,
                    const char *state_json, int dirfd)
{
    for (size_t i = 0; i < n; i++) {
        struct berth_error *err = NULL;
        if (run_one(&hooks[i], kind, i, state_json, dirfd, &err) < 0) {
            log_warn("%s", err->msg);
            berth_error_free(err);
        }
    }
}

int hooks_open_bundle(const char *bundle)
{
    if (!bundle)
        return -1;
    int fd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        log_debug("hooks: open the bundle %s: %s; they run in berth's own directory", bundle,
                  strerror(errno));
    return fd;
}

static json_t *strv_to_json(char **v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

json_t *hooks_to_json(const struct spec_hook *hooks, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "path", json_string(hooks[i].path));
        if (hooks[i].args)
            json_object_set_new(o, "args", strv_to_json(hooks[i].args));
        if (hooks[i].env)
            json_object_set_new(o, "env", strv_to_json(hooks[i].env));
        if (hooks[i].has_timeout)
            json_object_set_new(o, "timeout", json_integer(hooks[i].timeout));
        json_array_append_new(a, o);
    }
    return a;
}

static char **strv_from_json(json_t *a)
{
    if (!json_is_array(a))
        return NULL;
    size_t n = json_array_size(a);
    char **v = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        v[i] = xstrdup(s ? s : "");
    }
    return v;
}

int hooks_from_json(json_t *arr, struct spec_hook **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr))
        return 0;
    size_t count = json_array_size(arr);
    struct spec_hook *h = xcalloc(count ? count : 1, sizeof(*h));
    for (size_t i = 0; i < count; i++) {
        json_t *o = json_array_get(arr, i);
        const char *path = json_string_value(json_object_get(o, "path"));
        h[i].path = xstrdup(path ? path : "");
        h[i].args = strv_from_json(json_object_get(o, "args"));
        h[i].env = strv_from_json(json_object_get(o, "env"));
        json_t *t = json_object_get(o, "timeout");
        if (json_is_integer(t)) {
            h[i].has_timeout = true;
            h[i].timeout = (int32_t)json_integer_value(t);
        }
    }
    *out = h;
    *n = count;
    return 0;
}

void hooks_free_array(struct spec_hook *hooks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(hooks[i].path);
        strv_free(hooks[i].args);
        strv_free(hooks[i].env);
    }
    free(hooks);
}
