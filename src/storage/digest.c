#include "storage/digest.h"
#include "berth/error.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void digest_init(struct digest *d)
{
    sha256_init(&d->ctx);
}

void digest_update(struct digest *d, const void *data, size_t len)
{
    sha256_update(&d->ctx, len, data);
}

void digest_final(struct digest *d, char out[DIGEST_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[SHA256_DIGEST_SIZE];
    sha256_digest(&d->ctx, sizeof(raw), raw);
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[7 + 2 * i] = hex[raw[i] >> 4];
        out[8 + 2 * i] = hex[raw[i] & 15];
    }
    out[DIGEST_STR_LEN] = '\0';
}

bool digest_valid(const char *s)
{
    if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != DIGEST_STR_LEN)
        return false;
    for (const char *c = s + 7; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return false;
    return true;
}

const char *digest_hex(const char *s)
{
    return s + 7;
}

int digest_fd(int fd, char out[DIGEST_STR_LEN + 1], size_t *size, struct berth_error **err)
{
    struct digest d;
    char buf[64 * 1024];
    size_t total = 0;
    digest_init(&d);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return berth_error_set(err, errno, "read");
        }
        if (n == 0)
            break;
        digest_update(&d, buf, (size_t)n);
        total += (size_t)n;
    }
    digest_final(&d, out);
    if (size)
        *size = total;
    return 0;
}
