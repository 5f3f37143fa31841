#include "berth/error.h"
#include "util/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int berth_error_ret(const struct berth_error *err)
{
    if (!err || err->code <= 0)
        return -EINVAL;
    return -err->code;
}

int berth_error_set(struct berth_error **err, int code, const char *fmt, ...)
{
    if (code < 0)
        code = -code;
    if (!err)
        return code ? -code : -EINVAL;
    if (*err)
        return berth_error_ret(*err);

    va_list ap;
    char *text;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);

    struct berth_error *e = xzalloc(sizeof(*e));
    e->code = code;
    if (code)
        e->msg = xasprintf("%s: %s", text ? text : "error", strerror(code));
    else
        e->msg = xstrdup(text ? text : "error");
    free(text);
    *err = e;
    return berth_error_ret(e);
}

int berth_error_prefix(struct berth_error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -EINVAL;
    va_list ap;
    char *ctx;
    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        ctx = NULL;
    va_end(ap);
    if (ctx) {
        char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
        free((*err)->msg);
        (*err)->msg = msg;
        free(ctx);
    }
    return berth_error_ret(*err);
}

void berth_error_free(struct berth_error *err)
{
    if (!err)
        return;
    free(err->msg);
    free(err);
}
