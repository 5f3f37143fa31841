/* berth's one error type: a message that says what, where and why, plus the errno behind it. */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

struct berth_error {
    int code;  /* the errno that caused it, or 0 for invalid input */
    char *msg; /* the whole message, context first: "mount /dev: ...: Permission denied" */
};

/* Fill *err with a new message; with a nonzero code, ": strerror(code)" is appended.
 * Returns -code, or -EINVAL when code is 0, so callers can `return berth_error_set(...)`.
 * If *err is already set it is kept (the first cause wins). err may be NULL. */
int berth_error_set(struct berth_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context to an existing error: "ctx: old message". Returns its negative code. */
int berth_error_prefix(struct berth_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The negative errno an error stands for (-EINVAL when it has no code). */
int berth_error_ret(const struct berth_error *err);

void berth_error_free(struct berth_error *err);

static inline void berth_error_freep(struct berth_error **err)
{
    berth_error_free(*err);
    *err = 0;
}

#ifdef __cplusplus
}
#endif
