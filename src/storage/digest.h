/* OCI content digests: "sha256:<64 lowercase hex>", computed with nettle's SHA-256. */
#pragma once

#include <nettle/sha2.h>
#include <stdbool.h>
#include <stddef.h>

#define DIGEST_HEX_LEN 64
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN) /* "sha256:" + hex */

struct berth_error;

struct digest {
    struct sha256_ctx ctx;
};

void digest_init(struct digest *d);
void digest_update(struct digest *d, const void *data, size_t len);
/* Write "sha256:<hex>" (DIGEST_STR_LEN + 1 bytes with the NUL) and reset nothing. */
void digest_final(struct digest *d, char out[DIGEST_STR_LEN + 1]);

/* Whether s is "sha256:" and 64 lowercase hex digits; any other algorithm is refused. */
bool digest_valid(const char *s);
/* The hex part of a valid digest. */
const char *digest_hex(const char *s);

/* Digest a whole file (an fd read from its current offset to the end); *size gets its length. */
int digest_fd(int fd, char out[DIGEST_STR_LEN + 1], size_t *size, struct berth_error **err);
