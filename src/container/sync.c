#include "container/sync.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include "linux/ns.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sync_hdr {
    int type;
    int code;
    int more; /* another piece of this message's text follows */
};

/* A text goes in pieces of at most SYNC_MAX_TEXT, each one datagram: a socket refuses a
 * datagram over its send buffer (EMSGSIZE), and a state JSON with big annotations, or an error
 * naming a long path, is bigger than that. */
#define SYNC_MAX_TEXT (32 * 1024)
/* What a receiver takes at most for one message, whole. */
#define SYNC_MAX_TOTAL (64 * 1024 * 1024)

static int send_piece(int sock, struct sync_hdr *hdr, int fd, const char *text, size_t len,
                      struct berth_error **err)
{
    struct iovec iov[2] = {{hdr, sizeof(*hdr)}, {(void *)text, len}};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    if (fd >= 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return berth_error_set(err, errno, "send to container init");
    }
    return 0;
}

int sync_send(int sock, enum sync_type type, int code, int fd, const char *text,
              struct berth_error **err)
{
    struct sync_hdr hdr = {type, code, 0};
    size_t left = text ? strlen(text) : 0;
    if (left > SYNC_MAX_TOTAL)
        return berth_error_set(err, EMSGSIZE, "send to container init: %zu bytes", left);
    do {
        size_t n = left < SYNC_MAX_TEXT ? left : SYNC_MAX_TEXT;
        left -= n;
        hdr.more = left > 0;
        int r = send_piece(sock, &hdr, fd, text, n, err);
        if (r < 0)
            return r;
        fd = -1; /* the fd goes with the first piece */
        text += n;
    } while (left > 0);
    return 0;
}

/* One datagram: its header, its fd and sender into msg, its text (NUL-terminated) into text,
 * *tlen its length. */
static int recv_piece(int sock, struct sync_msg *msg, struct sync_hdr *out, char **text_out,
                      size_t *tlen_out, struct berth_error **err)
{
    struct sync_hdr hdr;
    _cleanup_free_ char *text = xmalloc(SYNC_MAX_TEXT + 1);
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {text, SYNC_MAX_TEXT}};
    union {
        char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = iov, .msg_iovlen = 2, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;
    while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0) {
        if (errno != EINTR)
            return berth_error_set(err, errno, "receive from container init");
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_RIGHTS)
            memcpy(&msg->fd, CMSG_DATA(c), sizeof(int));
        else if (c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            msg->sender_pid = cred.pid;
        }
    }
    if (n == 0) {
        berth_error_set(err, 0, "the container init exited before it was ready");
        return -EPIPE;
    }
    if ((size_t)n < sizeof(hdr) || (mh.msg_flags & MSG_TRUNC)) {
        if (msg->fd >= 0)
            close(msg->fd);
        msg->fd = -1;
        return berth_error_set(err, EPROTO, "%s message from container init",
                               (size_t)n < sizeof(hdr) ? "short" : "oversized");
    }
    *out = hdr;
    *tlen_out = (size_t)n - sizeof(hdr);
    text[*tlen_out] = '\0';
    *text_out = text;
    text = NULL;
    return 0;
}

int sync_recv(int sock, struct sync_msg *msg, struct berth_error **err)
{
    memset(msg, 0, sizeof(*msg));
    msg->fd = -1;
    struct sync_hdr hdr;
    _cleanup_free_ char *piece = NULL;
    size_t plen;
    int r = recv_piece(sock, msg, &hdr, &piece, &plen, err);
    if (r < 0)
        return r;
    msg->type = hdr.type;
    msg->code = hdr.code;
    if (!hdr.more) {
        if (plen > 0) {
            msg->text = piece;
            piece = NULL;
        }
        return 0;
    }
    /* The rest of the text follows, in pieces of the same message. */
    size_t len = plen, cap = plen + 1;
    char *text = piece;
    piece = NULL;
    while (hdr.more) {
        struct sync_msg more = {.fd = -1};
        r = recv_piece(sock, &more, &hdr, &piece, &plen, err);
        if (r == 0 && (more.fd >= 0 || hdr.type != (int)msg->type || len + plen > SYNC_MAX_TOTAL))
            r = berth_error_set(err, EPROTO, "bad continuation of message %d from container init",
                                msg->type);
        if (more.fd >= 0)
            close(more.fd);
        if (r < 0) {
            free(text);
            sync_msg_clear(msg);
            return r;
        }
        if (len + plen + 1 > cap) {
            cap = (len + plen + 1) * 2;
            text = xrealloc(text, cap);
        }
        memcpy(text + len, piece, plen + 1);
        len += plen;
        free(piece);
        piece = NULL;
    }
    msg->text = text;
    return 0;
}

void sync_msg_clear(struct sync_msg *msg)
{
    if (msg->fd >= 0)
        close(msg->fd);
    free(msg->text);
    memset(msg, 0, sizeof(*msg));
    msg->fd = -1;
}

int sync_expect(int sock, enum sync_type type, struct sync_msg *msg, struct berth_error **err)
{
    int r = sync_recv(sock, msg, err);
    if (r < 0)
        return r;
    if (msg->type == SYNC_ERROR) {
        berth_error_set(err, 0, "%s", msg->text ? msg->text : "container init failed");
        if (*err)
            (*err)->code = msg->code;
        r = msg->code ? -msg->code : -EINVAL;
        sync_msg_clear(msg);
        return r;
    }
    if (msg->type != type) {
        int t = msg->type;
        sync_msg_clear(msg);
        return berth_error_set(err, EPROTO, "unexpected message %d from container init", t);
    }
    return 0;
}

int sync_fork_into_pidns(int sock, struct berth_error **err)
{
    struct clone_args args = {.flags = CLONE_PARENT};
    long pid = ns_clone(&args);
    if (pid < 0)
        return berth_error_set(err, errno, "fork into the pid namespace");
    if (pid > 0)
        _exit(0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return sync_send(sock, SYNC_INIT_PID, 0, -1, NULL, err);
}
