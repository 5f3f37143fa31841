/* Shared by the spec module's files only: the JSON walk (paths for messages, typed getters) and
 * the name tables. Nothing here is part of the public API. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"

struct berth_error;

/* Where a value sits in the document, kept as a chain of stack nodes so that building a path
 * costs nothing until a message needs it. */
enum spec_jpath_kind { SPEC_JPATH_KEY, SPEC_JPATH_INDEX };

struct spec_jpath {
    const struct spec_jpath *up;
    enum spec_jpath_kind kind;
    const char *key;
    size_t index;
};

#define SPEC_JKEY(parent, k)                                                                       \
    (&(const struct spec_jpath){.up = (parent), .kind = SPEC_JPATH_KEY, .key = (k)})
#define SPEC_JIDX(parent, i)                                                                       \
    (&(const struct spec_jpath){.up = (parent), .kind = SPEC_JPATH_INDEX, .index = (i)})

/* For _cleanup_(spec_strv_freep). */
void spec_strv_freep(char ***v);

#define SPEC_TRY(expr)                                                                             \
    do {                                                                                           \
        int _r = (expr);                                                                           \
        if (_r < 0)                                                                                \
            return _r;                                                                             \
    } while (0)

/* One parse: where messages go, and the integers jansson cannot hold. jansson keeps integers as
 * int64, but uint64 fields (an rlimit of RLIM_INFINITY, a seccomp mask) legitimately go beyond
 * that; the loader swaps such literals for placeholders and keeps their values here. */
struct spec_big_int {
    bool negative; /* below INT64_MIN: out of range for every field */
    bool overflow; /* beyond UINT64_MAX */
    uint64_t value;
};

struct spec_ctx {
    const char *origin;
    struct berth_error **err;
    struct spec_big_int *big;
    size_t n_big;
};

/* "ORIGIN: PATH: MESSAGE" (or "ORIGIN: MESSAGE" at the top). Returns -EINVAL. */
int spec_fail(struct spec_ctx *c, const struct spec_jpath *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The path as text, e.g. linux.namespaces[2].type; map keys that are not plain words are
 * quoted: annotations["org.example.key"]. */
char *spec_jpath_format(const struct spec_jpath *p);

/* Read JSON text into *out (which must be an object). Syntax errors read ORIGIN:LINE:COL: TEXT. */
int spec_json_load(struct spec_ctx *c, const char *text, size_t len, json_t **out);
void spec_ctx_release(struct spec_ctx *c);

/* Dump with indentation; `tabs` indents with tabs (runc's style). Placeholders for integers
 * beyond int64 (see spec_json_big_uint) are written back as plain numbers. */
char *spec_json_dump(json_t *j, int indent, bool tabs, const uint64_t *big, size_t n_big);
/* A placeholder for a uint64 above INT64_MAX, for spec_json_dump: index into its big array. */
json_t *spec_json_big_placeholder(size_t index);

/* The member `key` of obj, or NULL when it is absent or JSON null. */
json_t *spec_jget(json_t *obj, const char *key);

/* Value-level getters: v is not NULL. They fail with "must be ..." naming the wanted type. */
int spec_jas_object(struct spec_ctx *c, json_t *v, const struct spec_jpath *p);
int spec_jas_string(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, char **out);
int spec_jas_bool(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, bool *out);
int spec_jas_int(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, int64_t min,
                 int64_t max, int64_t *out);
int spec_jas_uint(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, uint64_t min,
                  uint64_t max, uint64_t *out);
/* An array; *n is its length. */
int spec_jas_array(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, size_t *n);
/* An array of strings as a NULL-terminated strv. */
int spec_jas_strv(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, char ***out);
int spec_jas_abs_path(struct spec_ctx *c, json_t *v, const struct spec_jpath *p, char **out);

/* Field-level getters: return 1 when the field is present, 0 when absent (out untouched),
 * negative on error. `required` turns absence into "must be ...; it is missing". */
int spec_jfield_object(struct spec_ctx *c, json_t *obj, const char *key,
                       const struct spec_jpath *parent, bool required, json_t **out);
int spec_jfield_array(struct spec_ctx *c, json_t *obj, const char *key,
                      const struct spec_jpath *parent, bool required, json_t **out, size_t *n);
int spec_jfield_string(struct spec_ctx *c, json_t *obj, const char *key,
                       const struct spec_jpath *parent, bool required, char **out);
int spec_jfield_abs_path(struct spec_ctx *c, json_t *obj, const char *key,
                         const struct spec_jpath *parent, bool required, char **out);
int spec_jfield_bool(struct spec_ctx *c, json_t *obj, const char *key,
                     const struct spec_jpath *parent, bool required, bool *out);
int spec_jfield_strv(struct spec_ctx *c, json_t *obj, const char *key,
                     const struct spec_jpath *parent, bool required, char ***out);
int spec_jfield_i64(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, int64_t *out);
int spec_jfield_i32(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, int32_t *out);
int spec_jfield_int_range(struct spec_ctx *c, json_t *obj, const char *key,
                          const struct spec_jpath *parent, bool required, int64_t min, int64_t max,
                          int64_t *out);
int spec_jfield_u64(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, uint64_t *out);
int spec_jfield_u32(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, uint32_t *out);
int spec_jfield_u16(struct spec_ctx *c, json_t *obj, const char *key,
                    const struct spec_jpath *parent, bool required, uint16_t *out);
/* A string-to-string map (annotations, sysctl, unified). */
int spec_jfield_string_map(struct spec_ctx *c, json_t *obj, const char *key,
                           const struct spec_jpath *parent, struct spec_key_value **out, size_t *n);

/* Refuse a field berth cannot honour: "PATH: not supported by berth". */
int spec_jrefuse(struct spec_ctx *c, json_t *obj, const char *key, const struct spec_jpath *parent);

/* Name tables (names.c). Lookups return -1 for unknown names. */
int spec_ns_type_from_name(const char *name);
int spec_rlimit_from_name(const char *name);
/* Only the exact CAP_* spelling libcap knows; libcap alone would also take "12" or "cap_kill". */
int spec_cap_from_name(const char *name);
int spec_sched_policy_from_name(const char *name);
const char *spec_sched_policy_name(int policy);
int spec_sched_flag_from_name(const char *name);

struct spec_flag_name {
    const char *name;
    uint32_t flag;
};
extern const struct spec_flag_name spec_sched_flags[];
extern const size_t spec_n_sched_flags;

int spec_ioprio_class_from_name(const char *name);
const char *spec_ioprio_class_name(int klass);

/* Seccomp names as the runtime-spec spells them; each list ends with NULL. */
extern const char *const spec_seccomp_actions[];
extern const char *const spec_seccomp_operators[];
extern const char *const spec_seccomp_flags[];
/* SCMP_ARCH_* with libseccomp's own name for it (for seccomp_arch_resolve_name). */
struct spec_seccomp_arch {
    const char *name;
    const char *libseccomp_name;
};
extern const struct spec_seccomp_arch spec_seccomp_archs[];
extern const size_t spec_n_seccomp_archs;
bool spec_name_in(const char *const *list, const char *name);

extern const char *const spec_rootfs_propagations[];

/* Cross-field checks once every field is in place (validate.c). */
int spec_validate(struct spec_ctx *c, const struct spec *s);

/* The walk of one process object (parse.c) and of the linux object (parse_linux.c). */
int spec_parse_process_json(struct spec_ctx *c, json_t *j, const struct spec_jpath *p,
                            struct spec_process *out);
int spec_parse_linux_json(struct spec_ctx *c, json_t *j, const struct spec_jpath *p,
                          struct spec_linux *out);
int spec_parse_id_mappings(struct spec_ctx *c, json_t *obj, const char *key,
                           const struct spec_jpath *parent, struct spec_id_mapping **out,
                           size_t *n);
void spec_linux_free(struct spec_linux *l);
