/* The device rule list: the config's rules checked and normalised, plus the default devices. */
#include "linux/cgroup/devices.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RWM CGROUP_DEV_ALL

static const struct cgroup_device_rule default_rules[] = {
    {true, 'c', -1, -1, CGROUP_DEV_MKNOD},
    {true, 'b', -1, -1, CGROUP_DEV_MKNOD},
    {true, 'c', 1, 3, RWM},    /* /dev/null */
    {true, 'c', 1, 8, RWM},    /* /dev/random */
    {true, 'c', 1, 7, RWM},    /* /dev/full */
    {true, 'c', 5, 0, RWM},    /* /dev/tty */
    {true, 'c', 1, 5, RWM},    /* /dev/zero */
    {true, 'c', 1, 9, RWM},    /* /dev/urandom */
    {true, 'c', 5, 1, RWM},    /* /dev/console */
    {true, 'c', 136, -1, RWM}, /* /dev/pts/N */
    {true, 'c', 5, 2, RWM},    /* /dev/ptmx */
    {true, 'c', 10, 200, RWM}, /* /dev/net/tun */
};

const struct cgroup_device_rule *cgroup_default_device_rules(size_t *n)
{
    *n = ARRAY_SIZE(default_rules);
    return default_rules;
}

static int parse_access(const char *s, unsigned *out)
{
    unsigned bits = 0;
    for (; *s; s++) {
        unsigned b = *s == 'r'   ? CGROUP_DEV_READ
                     : *s == 'w' ? CGROUP_DEV_WRITE
                     : *s == 'm' ? CGROUP_DEV_MKNOD
                                 : 0;
        if (!b)
            return -1;
        bits |= b;
    }
    *out = bits;
    return bits ? 0 : -1;
}

int cgroup_device_rules(const struct spec_device_rule *rules, size_t n,
                        struct cgroup_device_rule **out, size_t *n_out, struct berth_error **err)
{
    _cleanup_free_ struct cgroup_device_rule *list =
        xcalloc(n + ARRAY_SIZE(default_rules), sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        const struct spec_device_rule *s = &rules[i];
        struct cgroup_device_rule *d = &list[i];
        d->allow = s->allow;
        d->type = s->type ? s->type : 'a';
        if (d->type != 'a' && d->type != 'b' && d->type != 'c')
            return berth_error_set(
                err, 0, "linux.resources.devices[%zu]: type \"%c\" is not a, b or c", i, d->type);
        d->major = s->has_major ? s->major : -1;
        d->minor = s->has_minor ? s->minor : -1;
        if (d->major < -1 || d->major > INT32_MAX || d->minor < -1 || d->minor > INT32_MAX)
            return berth_error_set(err, 0,
                                   "linux.resources.devices[%zu]: device number out of range", i);
        if (parse_access(s->access ? s->access : "rwm", &d->access) < 0)
            return berth_error_set(err, 0,
                                   "linux.resources.devices[%zu]: access \"%s\" is not a "
                                   "non-empty combination of r, w and m",
                                   i, s->access);
    }
    memcpy(list + n, default_rules, sizeof(default_rules));
    *n_out = n + ARRAY_SIZE(default_rules);
    *out = TAKE_PTR(list);
    return 0;
}

static void format_num(char *buf, size_t size, int64_t v)
{
    if (v < 0)
        snprintf(buf, size, "*");
    else
        snprintf(buf, size, "%lld", (long long)v);
}

int cgroup_device_rule_v1_lines(const struct cgroup_device_rule *r, char lines[2][64])
{
    char major[24], minor[24], access[4];
    size_t k = 0;
    if (r->access & CGROUP_DEV_READ)
        access[k++] = 'r';
    if (r->access & CGROUP_DEV_WRITE)
        access[k++] = 'w';
    if (r->access & CGROUP_DEV_MKNOD)
        access[k++] = 'm';
    access[k] = '\0';
    format_num(major, sizeof(major), r->major);
    format_num(minor, sizeof(minor), r->minor);
    if (r->type == 'a') {
        if (r->access == CGROUP_DEV_ALL && r->major < 0 && r->minor < 0) {
            snprintf(lines[0], 64, "a");
            return 1;
        }
        snprintf(lines[0], 64, "c %s:%s %s", major, minor, access);
        snprintf(lines[1], 64, "b %s:%s %s", major, minor, access);
        return 2;
    }
    snprintf(lines[0], 64, "%c %s:%s %s", r->type, major, minor, access);
    return 1;
}
