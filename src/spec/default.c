/* The config.json `berth spec` writes: runc's default in substance, with berth's hostname and
 * Docker's extra masked paths. */
#include "config.h"
#include "spec/internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct default_mount {
    const char *destination, *type, *source;
    const char *options[8];
};

static const struct default_mount default_mounts[] = {
    {"/proc", "proc", "proc", {NULL}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k", NULL}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev", NULL}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro", NULL}},
    {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro", NULL}},
};

/* Without a network namespace of its own a rootless container cannot mount sysfs. */
static const struct default_mount rootless_sys = {
    "/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro", NULL}};

static const char *const masked_paths[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/proc/interrupts",
    "/sys/devices/virtual/powercap",
    NULL,
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static json_t *strings(const char *const *v)
{
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

json_t *spec_default_masked_paths(const char *sysfs)
{
    json_t *a = strings(masked_paths);
    /* Each CPU's thermal_throttle directory is a thermal side channel (moby masks them too);
     * there is one per CPU of the host, so they are found here, not listed. */
    _cleanup_free_ char *pattern = xasprintf("%s/devices/system/cpu/cpu*/thermal_throttle", sysfs);
    glob_t g;
    if (glob(pattern, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g) == 0) {
        size_t skip = strlen(sysfs);
        for (size_t i = 0; i < g.gl_pathc; i++) {
            _cleanup_free_ char *p = xasprintf("/sys%s", g.gl_pathv[i] + skip);
            json_array_append_new(a, json_string(p));
        }
        globfree(&g);
    }
    return a;
}

static json_t *mounts_json(bool rootless)
{
    json_t *a = json_array();
    for (size_t i = 0; i < ARRAY_SIZE(default_mounts); i++) {
        const struct default_mount *m = &default_mounts[i];
        if (rootless && strcmp(m->destination, "/sys") == 0)
            m = &rootless_sys;
        json_t *e = json_pack("{s:s,s:s,s:s}", "destination", m->destination, "type", m->type,
                              "source", m->source);
        if (m->options[0]) {
            json_t *opts = json_array();
            for (const char *const *o = m->options; *o; o++) {
                /* A rootless container owns only its own uid and gid: no other owner exists. */
                if (rootless && (strncmp(*o, "uid=", 4) == 0 || strncmp(*o, "gid=", 4) == 0))
                    continue;
                json_array_append_new(opts, json_string(*o));
            }
            json_object_set_new(e, "options", opts);
        }
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *linux_json(bool rootless)
{
    json_t *l = json_object();
    if (rootless) {
        json_object_set_new(l, "uidMappings",
                            json_pack("[{s:i,s:I,s:i}]", "containerID", 0, "hostID",
                                      (json_int_t)geteuid(), "size", 1));
        json_object_set_new(l, "gidMappings",
                            json_pack("[{s:i,s:I,s:i}]", "containerID", 0, "hostID",
                                      (json_int_t)getegid(), "size", 1));
    } else {
        /* Rootless containers usually cannot manage cgroups, so they get no device rules. */
        json_object_set_new(l, "resources",
                            json_pack("{s:[{s:b,s:s}]}", "devices", "allow", 0, "access", "rwm"));
    }
    json_t *ns = json_array();
    static const char *const namespaces[] = {"pid", "network", "ipc", "uts", "mount"};
    for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
        if (rootless && strcmp(namespaces[i], "network") == 0)
            continue;
        json_array_append_new(ns, json_pack("{s:s}", "type", namespaces[i]));
    }
    if (rootless)
        json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
    json_object_set_new(l, "namespaces", ns);
    json_object_set_new(l, "maskedPaths", spec_default_masked_paths("/sys"));
    json_object_set_new(l, "readonlyPaths", strings(readonly_paths));
    return l;
}

char *spec_default_json(bool rootless)
{
    static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};
    json_t *process =
        json_pack("{s:b,s:{s:i,s:i},s:[s],s:[s,s],s:s,s:{s:o,s:o,s:o},s:[{s:s,s:i,s:i}],s:b}",
                  "terminal", 1, "user", "uid", 0, "gid", 0, "args", "sh", "env",
                  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
                  "cwd", "/", "capabilities", "bounding", strings(caps), "effective", strings(caps),
                  "permitted", strings(caps), "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024,
                  "soft", 1024, "noNewPrivileges", 1);
    json_t *spec =
        json_pack("{s:s,s:o,s:{s:s,s:b},s:s,s:o,s:o}", "ociVersion", BERTH_SPEC_VERSION, "process",
                  process, "root", "path", "rootfs", "readonly", 1, "hostname", "berth", "mounts",
                  mounts_json(rootless), "linux", linux_json(rootless));
    char *text = spec_json_dump(spec, 1, true, NULL, 0);
    json_decref(spec);
    return text;
}
