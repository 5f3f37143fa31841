/* Seccomp filters from linux.seccomp: built with libseccomp, exported once as classic BPF and
 * loaded with seccomp(2), and the hand-over of a notify listener to its supervisor.
 * (Not named seccomp.h: src/ is on the include path and would shadow <linux/seccomp.h>.) */
#pragma once

#include <linux/filter.h>
#include <seccomp.h>
#include <stdbool.h>

struct berth_error;
struct spec_seccomp;

/* A filter ready to load. Loading is one seccomp(2) call: no allocation, no library state. */
struct seccomp_filter_prog {
    struct sock_filter *insns;
    unsigned short len;
    unsigned int flags; /* SECCOMP_FILTER_FLAG_* asked for by linux.seccomp.flags */
    bool notify;        /* some rule returns SECCOMP_RET_USER_NOTIF: loading makes a listener */
};

/* Build a libseccomp filter from a parsed spec:
 * - defaultAction with defaultErrnoRet (ERRNO and TRACE default to EPERM);
 * - architectures added beside the native one;
 * - flags as filter attributes (TSYNC, LOG, SPEC_ALLOW; WAIT_KILLABLE_RECV where the library
 *   has it). One the library or kernel cannot do is an error naming it, except SPEC_ALLOW,
 *   which only gives up a mitigation for speed and is skipped with a warning;
 * - one rule per syscall name. Unknown names are skipped (log_debug); rules whose action is the
 *   default action are skipped. Conditions on distinct arguments form one rule (all must
 *   match); when an argument index appears twice each condition becomes its own rule (any
 *   matches), as runc does.
 * Messages name the field: "linux.seccomp.syscalls[3]: mkdir: ...". The caller releases *out
 * with seccomp_release. */
int seccomp_filter_build(const struct spec_seccomp *s, scmp_filter_ctx *out,
                         struct berth_error **err);

/* Export a built filter as BPF into memory, with the seccomp(2) flags its attributes ask for. */
int seccomp_filter_export(scmp_filter_ctx ctx, struct seccomp_filter_prog *out,
                          struct berth_error **err);

/* What seccomp_filter_build then seccomp_filter_export give, faster: each architecture is built
 * and exported alone (libseccomp's cost grows much faster than linearly with architectures in
 * one filter) and the programs are chained into one, the native one first. */
int seccomp_filter_compile(const struct spec_seccomp *s, struct seccomp_filter_prog *out,
                           struct berth_error **err);

/* seccomp_filter_compile, or the program compiled before for the same profile, kept under the
 * state root (its .seccomp-bpf directory; root NULL: not kept). */
int seccomp_filter_compile_cached(const struct spec_seccomp *s, const char *root,
                                  struct seccomp_filter_prog *out, struct berth_error **err);

/* Load the program on the calling thread (needs no_new_privs or CAP_SYS_ADMIN). When the
 * program notifies, *notify_fd gets the listener (O_CLOEXEC), else -1; notify_fd may be NULL
 * only for a program that does not notify. */
int seccomp_filter_load(const struct seccomp_filter_prog *p, int *notify_fd,
                        struct berth_error **err);

void seccomp_filter_prog_clear(struct seccomp_filter_prog *p);

/* Export and load in one step. */
int seccomp_filter_install(scmp_filter_ctx ctx, int *notify_fd, struct berth_error **err);

/* Hand a notify listener to the supervisor listening at listener_path (a unix stream socket):
 * the fd goes with the first sendmsg (SCM_RIGHTS), with the container process state JSON
 * {ociVersion, fds: ["seccompFd"], pid, metadata, state}; state_json is the container's state
 * document, whose pid is the container process's as the runtime sees it. metadata may be NULL. */
int seccomp_filter_send_listener(const char *listener_path, const char *metadata, int notify_fd,
                                 const char *state_json, struct berth_error **err);
