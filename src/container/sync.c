#include "container/sync.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sync_hdr {
    int type;
    int code;
};

#define SYNC_MAX_TEXT (64 * 1024)

int sync_send(int sock, enum sync_type type, int code, int fd, const char *text,
              struct berth_error **err)
{
    struct sync_hdr hdr = {type, code};
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)text, text ? strlen(text) : 0}};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = text ? 2 : 1};
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

int sync_recv(int sock, struct sync_msg *msg, struct berth_error **err)
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
    memset(msg, 0, sizeof(*msg));
    msg->fd = -1;
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
    if ((size_t)n < sizeof(hdr)) {
        if (msg->fd >= 0)
            close(msg->fd);
        return berth_error_set(err, EPROTO, "short message from container init");
    }
    msg->type = hdr.type;
    msg->code = hdr.code;
    size_t tlen = (size_t)n - sizeof(hdr);
    if (tlen > 0) {
        text[tlen] = '\0';
        msg->text = xstrndup(text, tlen);
    }
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
