/* Allocation that never returns NULL: running out of memory ends the process. */
#pragma once

#include <stddef.h>

void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A NULL-terminated array of strings. */
void strv_free(char **v);
size_t strv_len(char *const *v);
/* Append s (taken over) to the NULL-terminated *v, which holds *n strings. */
void strv_push(char ***v, size_t *n, char *s);
