/* run: create, start, and in the foreground stay with the container until its process exits:
 * relay signals, relay the terminal, then delete it and pass its exit status on. */
#include "berth/error.h"
#include "container/container.h"
#include "container/supervise.h"
#include "util/cleanup.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

void container_block_signals(sigset_t *mask, sigset_t *old)
{
    /* Signals wait in a queue from the start: none may be lost before the relay runs. */
    sigfillset(mask);
    sigdelset(mask, SIGSEGV);
    sigdelset(mask, SIGBUS);
    sigdelset(mask, SIGILL);
    sigdelset(mask, SIGFPE);
    sigdelset(mask, SIGABRT);
    sigprocmask(SIG_BLOCK, mask, old);
}

static bool copy_some(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 && (errno == EAGAIN || errno == EINTR);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        off += w;
    }
    return true;
}

static void resize_from(int tty, int master)
{
    struct winsize ws;
    if (ioctl(tty, TIOCGWINSZ, &ws) == 0)
        ioctl(master, TIOCSWINSZ, &ws);
}

int container_supervise(pid_t pid, int master, sigset_t *mask)
{
    _cleanup_close_ int sfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
    bool tty_in = master >= 0 && isatty(STDIN_FILENO);
    struct termios saved;
    bool raw = false;
    if (tty_in && tcgetattr(STDIN_FILENO, &saved) == 0) {
        struct termios t = saved;
        cfmakeraw(&t);
        raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
        resize_from(STDIN_FILENO, master);
    }
    bool in_open = master >= 0;
    int status = 0;
    for (;;) {
        struct pollfd pf[3] = {
            {sfd, POLLIN, 0}, {master, POLLIN, 0}, {in_open ? STDIN_FILENO : -1, POLLIN, 0}};
        if (poll(pf, 3, -1) < 0 && errno != EINTR)
            break;
        if (pf[1].revents & POLLIN)
            copy_some(master, STDOUT_FILENO);
        if (pf[2].revents & (POLLIN | POLLHUP))
            in_open = copy_some(STDIN_FILENO, master);
        if (!(pf[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        bool exited = false;
        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
            if (si.ssi_signo == SIGCHLD) {
                /* Orphans of the container may be ours too (we are a subreaper). */
                int st;
                pid_t w;
                while ((w = waitpid(-1, &st, WNOHANG)) > 0)
                    if (w == pid) {
                        status = st;
                        exited = true;
                    }
            } else if (si.ssi_signo == SIGWINCH) {
                if (tty_in)
                    resize_from(STDIN_FILENO, master);
            } else {
                kill(pid, (int)si.ssi_signo);
            }
        }
        if (exited)
            break;
    }
    if (master >= 0) {
        /* What the process wrote last is still in the pty. */
        fcntl(master, F_SETFL, O_NONBLOCK);
        while (copy_some(master, STDOUT_FILENO))
            ;
    }
    if (raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return status;
}

int container_run(const struct container_create_opts *opts, bool detach, bool keep,
                  struct berth_error **err)
{
    struct container_create_opts o = *opts;
    o.foreground = !detach;

    sigset_t mask, old;
    if (!detach) {
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        container_block_signals(&mask, &old);
    }

    struct container_created c;
    _cleanup_(container_held_clear) struct container_held held = {
        .rootfd = -1, .dirfd = -1, .sock = -1};
    int r = container_create_held(&o, &c, &held, err);
    if (r < 0) {
        /* create has taken back all it made (and must not touch a container of the same name
         * that existed before). */
        if (!detach)
            sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
    }
    r = container_start_held(&held, o.id, err);
    if (r < 0 || detach) {
        close(c.pidfd);
        if (c.console_master >= 0)
            close(c.console_master);
        if (!detach)
            sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0 && !keep) {
            struct berth_error *e = NULL;
            container_delete_held(&held, o.root, o.id, false, &e);
            berth_error_free(e);
        }
        return r;
    }

    if (o.on_started)
        o.on_started(o.on_started_data);
    int status = container_supervise(c.pid, c.console_master, &mask);
    close(c.pidfd);
    if (c.console_master >= 0)
        close(c.console_master);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (!keep) {
        struct berth_error *e = NULL;
        if (container_delete_held(&held, o.root, o.id, true, &e) < 0) {
            log_warn("%s", e->msg);
            berth_error_free(e);
        }
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
