/* The JSON side of the spec module: loading with exact positions, paths for messages, and
 * getters that check types and ranges. */
#include "spec/internal.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool is_plain_key(const char *k)
{
    if (!*k)
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static void append_quoted(char **buf, size_t *len, size_t *cap, const char *s);

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 64;
        *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void append_quoted(char **buf, size_t *len, size_t *cap, const char *s)
{
    append(buf, len, cap, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            append(buf, len, cap, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof(esc), "\\x%02x", *p);
            append(buf, len, cap, esc, strlen(esc));
        } else {
            append(buf, len, cap, (const char *)p, 1);
        }
    }
    append(buf, len, cap, "\"", 1);
}

char *spec_jpath_format(const struct spec_jpath *p)
{
    size_t depth = 0;
    for (const struct spec_jpath *q = p; q; q = q->up)
        depth++;
    const struct spec_jpath **nodes = xcalloc(depth ? depth : 1, sizeof(*nodes));
    size_t i = depth;
    for (const struct spec_jpath *q = p; q; q = q->up)
        nodes[--i] = q;

    char *buf = NULL;
    size_t len = 0, cap = 0;
    append(&buf, &len, &cap, "", 0);
    for (i = 0; i < depth; i++) {
        const struct spec_jpath *n = nodes[i];
        if (n->kind == SPEC_JPATH_INDEX) {
            char idx[32];
            snprintf(idx, sizeof(idx), "[%zu]", n->index);
            append(&buf, &len, &cap, idx, strlen(idx));
        } else if (is_plain_key(n->key)) {
            if (len > 0)
                append(&buf, &len, &cap, ".", 1);
            append(&buf, &len, &cap, n->key, strlen(n->key));
        } else {
            append(&buf, &len, &cap, "[", 1);
            append_quoted(&buf, &len, &cap, n->key);
            append(&buf, &len, &cap, "]", 1);
        }
    }
    free(nodes);
    return buf;
}

int spec_fail(struct spec_ctx *c, const struct spec_jpath *p, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    _cleanup_free_ char *path = spec_jpath_format(p);
    int r;
    if (*path)
        r = berth_error_set(c->err, 0, "%s: %s: %s", c->origin, path, msg ? msg : "invalid");
    else
        r = berth_error_set(c->err, 0, "%s: %s", c->origin, msg ? msg : "invalid");
    free(msg);
    return r;
}

/* Line and character column (1-based, as jansson counts them) of byte offset `off`. */
static void position_of(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 0;
    for (size_t i = 0; i <= off; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            (*line)++;
            *col = 0;
        } else if ((ch & 0xc0) != 0x80) {
            (*col)++;
        }
    }
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Swap every integer literal outside int64 for a placeholder string of the same length, so that
 * jansson accepts the document and every later position stays where it was. The placeholder is
 * "\u0000N" (N indexes c->big); a real \u0000 is refused up front, so it cannot be forged. */
static int scan_big_ints(struct spec_ctx *c, const char *text, size_t len, char **copy)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '\\') {
                if (i + 5 < len && text[i + 1] == 'u' && memcmp(text + i + 2, "0000", 4) == 0) {
                    int line, col;
                    position_of(text, i, &line, &col);
                    return berth_error_set(c->err, 0, "%s:%d:%d: \\u0000 is not allowed in strings",
                                           c->origin, line, col);
                }
                i++;
            } else if (ch == '"') {
                in_str = false;
            }
            continue;
        }
        if (ch == '"') {
            in_str = true;
            continue;
        }
        if (ch != '-' && !is_digit(ch))
            continue;
        size_t start = i, end = i;
        while (end < len && text[end] && (is_digit(text[end]) || strchr("+-.eE", text[end])))
            end++;
        i = end - 1;
        size_t tok = end - start;
        bool negative = text[start] == '-';
        const char *digits = text + start + (negative ? 1 : 0);
        size_t ndigits = tok - (negative ? 1 : 0);
        if (ndigits < 19 || digits[0] == '0')
            continue; /* fits int64, or is not a valid JSON integer: jansson decides */
        bool integer = true;
        for (size_t k = 0; k < ndigits; k++)
            if (!is_digit(digits[k]))
                integer = false;
        if (!integer)
            continue;

        char num[64];
        if (ndigits >= sizeof(num))
            ndigits = sizeof(num) - 1; /* only "too big" matters past this length */
        memcpy(num, digits, ndigits);
        num[ndigits] = '\0';
        errno = 0;
        unsigned long long v = strtoull(num, NULL, 10);
        struct spec_big_int big = {.negative = negative};
        if (errno == ERANGE) {
            big.overflow = !negative;
        } else if (negative) {
            if (v <= (unsigned long long)INT64_MAX + 1)
                continue;
        } else {
            if (v <= (unsigned long long)INT64_MAX)
                continue;
            big.value = v;
        }

        char marker[32];
        int mlen = snprintf(marker, sizeof(marker), "\"\\u0000%zu\"", c->n_big);
        if (mlen < 0 || (size_t)mlen > tok)
            return berth_error_set(c->err, 0, "%s: too many large integers", c->origin);
        if (!*copy) {
            *copy = xmalloc(len + 1);
            memcpy(*copy, text, len);
            (*copy)[len] = '\0';
        }
        memcpy(*copy + start, marker, (size_t)mlen);
        memset(*copy + start + mlen, ' ', tok - (size_t)mlen);
        c->big = xreallocarray(c->big, c->n_big + 1, sizeof(*c->big));
        c->big[c->n_big++] = big;
    }
    return 0;
}

int spec_json_load(struct spec_ctx *c, const char *text, size_t len, json_t **out)
{
    _cleanup_free_ char *copy = NULL;
    SPEC_TRY(scan_big_ints(c, text, len, &copy));

    json_error_t e;
    size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | (copy ? JSON_ALLOW_NUL : 0);
    json_t *j = json_loadb(copy ? copy : text, len, flags, &e);
    if (!j) {
        if (e.line > 0)
            return berth_error_set(c->err, 0, "%s:%d:%d: %s", c->origin, e.line, e.column, e.text);
        return berth_error_set(c->err, 0, "%s: %s", c->origin, e.text);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return spec_fail(c, NULL, "must be a JSON object");
    }
    *out = j;
    return 0;
}

void spec_ctx_release(struct spec_ctx *c)
{
    free(c->big);
    c->big = NULL;
    c->n_big = 0;
}

json_t *spec_json_big_placeholder(size_t index)
{
    char buf[32];
    buf[0] = '\0';
    int n = snprintf(buf + 1, sizeof(buf) - 1, "%zu", index);
    return json_stringn(buf, (size_t)n + 1);
}

char *spec_json_dump(json_t *j, int indent, bool tabs, const uint64_t *big, size_t n_big)
{
    char *text = json_dumps(j, JSON_INDENT(indent));
    if (!text) {
        /* jansson fails only on allocation here. */
        static const char msg[] = "berth: out of memory\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        abort();
    }
    char *out = NULL;
    size_t len = 0, cap = 0;
    append(&out, &len, &cap, "", 0);
    bool line_start = true;
    for (const char *p = text; *p;) {
        if (line_start && tabs && indent > 0) {
            size_t spaces = strspn(p, " ");
            for (size_t k = 0; k < spaces / (size_t)indent; k++)
                append(&out, &len, &cap, "\t", 1);
            p += spaces;
            line_start = false;
            continue;
        }
        if (strncmp(p, "\"\\u0000", 7) == 0 && is_digit(p[7])) {
            char *endp;
            unsigned long idx = strtoul(p + 7, &endp, 10);
            if (*endp == '"' && idx < n_big) {
                char num[32];
                snprintf(num, sizeof(num), "%" PRIu64, big[idx]);
                append(&out, &len, &cap, num, strlen(num));
                p = endp + 1;
                continue;
            }
        }
        if (*p == '"') {
            /* Copy a whole string so that its contents are never taken for structure. */
            const char *q = p + 1;
            while (*q && *q != '"')
                q += (*q == '\\' && q[1]) ? 2 : 1;
            if (*q)
                q++;
            append(&out, &len, &cap, p, (size_t)(q - p));
            p = q;
            continue;
        }
        append(&out, &len, &cap, p, 1);
        line_start = *p == '\n';
        p++;
    }
    free(text);
    append(&out, &len, &cap, "\n", 1);
    return out;
}

json_t *spec_jget(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static const struct spec_big_int *big_of(struct spec_ctx *c, json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t l = json_string_length(v);
    if (l < 2 || s[0] != '\0')
        return NULL;
    size_t idx = 0;
    for (size_t i = 1; i < l; i++) {
        if (!is_digit(s[i]))
            return NULL;
        idx = idx * 10 + (size_t)(s[i] - '0');
        if (idx >= c->n_big)
            return NULL;
    }
    return &c->big[idx];
}

static bool is_string(struct spec_ctx *c, json_t *v)
{
    return json_is_string(v) && !big_of(c, v);
}

int spec_jas_object(struct spec_ctx *c, json_t *v, const struct spec_jpath *p)
{
    if (!json_is_object(v))
        return spec_fail(c, p, "must be an object");
    return 0;
}

int spec_jas_string(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, char **out)
{
    if (!is_string(c, v))
        return spec_fail(c, p, "must be a string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return spec_fail(c, p, "must not contain a NUL character");
    free(*out);
    *out = xstrdup(json_string_value(v));
    return 0;
}

int spec_jas_abs_path(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, char **out)
{
    _cleanup_free_ char *s = NULL;
    SPEC_TRY(spec_jas_string(c, v, p, &s));
    if (s[0] != '/')
        return spec_fail(c, p, "must be an absolute path, not \"%s\"", s);
    free(*out);
    *out = TAKE_PTR(s);
    return 0;
}

int spec_jas_bool(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, bool *out)
{
    if (!json_is_boolean(v))
        return spec_fail(c, p, "must be a boolean");
    *out = json_is_true(v);
    return 0;
}

int spec_jas_int(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, int64_t min,
                 int64_t max, int64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x >= min && x <= max) {
            *out = x;
            return 0;
        }
    }
    return spec_fail(c, p, "must be an integer from %" PRId64 " to %" PRId64, min, max);
}

int spec_jas_uint(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, uint64_t min,
                  uint64_t max, uint64_t *out)
{
    const struct spec_big_int *big = big_of(c, v);
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x >= 0 && (uint64_t)x >= min && (uint64_t)x <= max) {
            *out = (uint64_t)x;
            return 0;
        }
    } else if (big && !big->negative && !big->overflow && big->value >= min && big->value <= max) {
        *out = big->value;
        return 0;
    }
    return spec_fail(c, p, "must be an integer from %" PRIu64 " to %" PRIu64, min, max);
}

int spec_jas_array(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, size_t *n)
{
    if (!json_is_array(v))
        return spec_fail(c, p, "must be an array");
    *n = json_array_size(v);
    return 0;
}

int spec_jas_strv(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, char ***out)
{
    if (!json_is_array(v))
        return spec_fail(c, p, "must be an array of strings");
    size_t n = json_array_size(v);
    char **strv = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        int r = spec_jas_string(c, json_array_get(v, i), SPEC_JIDX(p, i), &strv[i]);
        if (r < 0) {
            strv_free(strv);
            return r;
        }
    }
    strv_free(*out);
    *out = strv;
    return 0;
}

static int missing(struct spec_ctx *c, const struct spec_jpath *p, const char *what)
{
    return spec_fail(c, p, "must be %s; it is missing", what);
}

/* The common head of every field getter: 1 with *v set when present, 0 when absent. */
static int field(struct spec_ctx *c, json_t *obj, const char *key, const struct spec_jpath *p,
                 bool required, const char *what, json_t **v)
{
    *v = spec_jget(obj, key);
    if (*v)
        return 1;
    return required ? missing(c, p, what) : 0;
}

int spec_jfield_object(struct spec_ctx *c, json_t *obj, const char *key,
                       const struct spec_jpath *parent, bool required, json_t **out)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *v;
    int r = field(c, obj, key, p, required, "an object", &v);
    if (r <= 0)
        return r;
    SPEC_TRY(spec_jas_object(c, v, p));
    *out = v;
    return 1;
}

int spec_jfield_array(struct spec_ctx *c, json_t *obj, const char *key,
                      const struct spec_jpath *parent, bool required, json_t **out, size_t *n)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *v;
    int r = field(c, obj, key, p, required, "an array", &v);
    if (r <= 0)
        return r;
    SPEC_TRY(spec_jas_array(c, v, p, n));
    *out = v;
    return 1;
}

int spec_jfield_string(struct spec_ctx *c, json_t *obj, const char *key,
                       const struct spec_jpath *parent, bool required, char **out)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *v;
    int r = field(c, obj, key, p, required, "a string", &v);
    if (r <= 0)
        return r;
    SPEC_TRY(spec_jas_string(c, v, p, out));
    return 1;
}

int spec_jfield_abs_path(struct spec_ctx *c, json_t *obj, const char *key,
                         const struct spec_jpath *parent, bool required, char **out)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *v;
    int r = field(c, obj, key, p, required, "an absolute path", &v);
    if (r <= 0)
        return r;
    SPEC_TRY(spec_jas_abs_path(c, v, p, out));
    return 1;
}

int spec_jfield_bool(struct spec_ctx *c, json_t *obj, const char *key,
                     const struct spec_jpath *parent, bool required, bool *out)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *v;
    int r = field(c, obj, key, p, required, "a boolean", &v);
    if (r <= 0)
        return r;
    SPEC_TRY(spec_jas_bool(c, v, p, out));
    return 1;
}

int spec_jfield_strv(struct spec_ctx *c, json_t *obj, const char *key,
                     const struct spec_jpath *parent, bool required, char ***out)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *v;
    int r = field(c, obj, key, p, required, "an array of strings", &v);
    if (r <= 0)
        return r;
    SPEC_TRY(spec_jas_strv(c, v, p, out));
    return 1;
}

int spec_jfield_int_range(struct spec_ctx *c, json_t *obj, const char *key,
                          const struct spec_jpath *parent, bool required, int64_t min, int64_t max,
                          int64_t *out)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *v = spec_jget(obj, key);
    if (!v) {
        if (!required)
            return 0;
        return spec_fail(c, p, "must be an integer from %" PRId64 " to %" PRId64 "; it is missing",
                         min, max);
    }
    SPEC_TRY(spec_jas_int(c, v, p, min, max, out));
    return 1;
}

int spec_jfield_i64(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, int64_t *out)
{
    return spec_jfield_int_range(c, obj, key, parent, required, INT64_MIN, INT64_MAX, out);
}

int spec_jfield_i32(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, int32_t *out)
{
    int64_t v;
    int r = spec_jfield_int_range(c, obj, key, parent, required, INT32_MIN, INT32_MAX, &v);
    if (r > 0)
        *out = (int32_t)v;
    return r;
}

static int field_uint(struct spec_ctx *c, json_t *obj, const char *key,
                      const struct spec_jpath *parent, bool required, uint64_t max, uint64_t *out)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *v = spec_jget(obj, key);
    if (!v) {
        if (!required)
            return 0;
        return spec_fail(c, p, "must be an integer from 0 to %" PRIu64 "; it is missing", max);
    }
    SPEC_TRY(spec_jas_uint(c, v, p, 0, max, out));
    return 1;
}

int spec_jfield_u64(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, uint64_t *out)
{
    return field_uint(c, obj, key, parent, required, UINT64_MAX, out);
}

int spec_jfield_u32(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, uint32_t *out)
{
    uint64_t v;
    int r = field_uint(c, obj, key, parent, required, UINT32_MAX, &v);
    if (r > 0)
        *out = (uint32_t)v;
    return r;
}

int spec_jfield_u16(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, uint16_t *out)
{
    uint64_t v;
    int r = field_uint(c, obj, key, parent, required, UINT16_MAX, &v);
    if (r > 0)
        *out = (uint16_t)v;
    return r;
}

int spec_jfield_string_map(struct spec_ctx *c, json_t *obj, const char *key,
                           const struct spec_jpath *parent, struct spec_key_value **out, size_t *n)
{
    const struct spec_jpath *p = SPEC_JKEY(parent, key);
    json_t *map = spec_jget(obj, key);
    if (!map)
        return 0;
    if (!json_is_object(map))
        return spec_fail(c, p, "must be an object mapping strings to strings");
    size_t count = json_object_size(map);
    /* Set the count first: a failure part-way leaves entries spec_free can release. */
    *out = xcalloc(count ? count : 1, sizeof(**out));
    *n = count;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        (*out)[i].key = xstrdup(k);
        SPEC_TRY(spec_jas_string(c, v, SPEC_JKEY(p, k), &(*out)[i].value));
        i++;
    }
    return 1;
}

int spec_jrefuse(struct spec_ctx *c, json_t *obj, const char *key, const struct spec_jpath *parent)
{
    if (spec_jget(obj, key))
        return spec_fail(c, SPEC_JKEY(parent, key), "not supported by berth");
    return 0;
}
