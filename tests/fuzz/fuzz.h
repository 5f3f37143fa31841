/* What the fuzz targets share: input as C strings, and a check that stops the run loudly. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* A broken invariant is a finding like a crash: libFuzzer keeps the input that caused it. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input up to its first NUL, as a string of its own. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
    return xstrndup((const char *)data, size);
}

/* The input cut at each newline into a NULL-terminated list (a trailing newline gives a last
 * empty item): options of a mount or of `label allocate`. Free with strv_free. */
static inline char **fuzz_lines(const uint8_t *data, size_t size)
{
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    char **v = xcalloc(n + 1, sizeof(*v));
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            v[k++] = xstrndup((const char *)data + start, i - start);
            start = i + 1;
        }
    }
    return v;
}
