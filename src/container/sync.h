/* The runtime <-> container init protocol: whole messages over a SOCK_SEQPACKET pair, each an
 * optional fd and an optional text. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct berth_error;

enum sync_type {
    SYNC_ERROR = 1,    /* init -> runtime: code = errno, text = the whole message */
    SYNC_USERNS_READY, /* init -> runtime: write my id maps (text: nothing) */
    SYNC_MAPS_DONE,    /* runtime -> init */
    SYNC_INIT_PID,     /* init -> runtime: the real init, sent with credentials */
    SYNC_HOOKS,        /* init -> runtime: mounts done, run prestart/createRuntime hooks */
    SYNC_HOOKS_DONE,   /* runtime -> init: text = state JSON for createContainer hooks */
    SYNC_CONSOLE,      /* init -> runtime: fd = pty master */
    SYNC_CREATED,      /* init -> runtime: ready, about to wait for start */
    SYNC_COMMIT,       /* runtime -> init: state written; text = state JSON for start hooks */
    SYNC_SECCOMP,      /* init -> runtime: fd = seccomp notify listener, for listenerPath */
    SYNC_SECCOMP_DONE, /* runtime -> init: the listener has it */
    SYNC_START,        /* runtime -> init, for run (no exec.fifo): exec the process */
};

struct sync_msg {
    enum sync_type type;
    int code;
    int fd;           /* -1 when none */
    char *text;       /* NUL-terminated, NULL when none */
    pid_t sender_pid; /* from credentials, when the receiver enabled SO_PASSCRED */
};

int sync_send(int sock, enum sync_type type, int code, int fd, const char *text,
              struct berth_error **err);
/* Blocks for the next message. EOF (the peer died) is -EPIPE. */
int sync_recv(int sock, struct sync_msg *msg, struct berth_error **err);
/* Receive and insist on one type; an SYNC_ERROR from the peer becomes *err. */
int sync_expect(int sock, enum sync_type type, struct sync_msg *msg, struct berth_error **err);
void sync_msg_clear(struct sync_msg *msg);

/* Fork into the pid namespace this process has joined or unshared (which places children
 * only), as a sibling so that the runtime stays the parent; the fork exits here and the child
 * returns 0, with a parent-death signal, after telling the runtime its pid through the
 * credentials of SYNC_INIT_PID. */
int sync_fork_into_pidns(int sock, struct berth_error **err);
