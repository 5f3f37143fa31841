/* The runtime-spec features document (`berth features`): what this build of berth honours. */
#include "config.h"
#include "spec/internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>

/* Every option the mount code gives a meaning to, sorted as runc lists them. Anything else is
 * passed to the filesystem as data. */
static const char *const mount_options[] = {
    "async",         "atime",        "bind",
    "defaults",      "dev",          "diratime",
    "dirsync",       "exec",         "idmap",
    "iversion",      "lazytime",     "loud",
    "mand",          "noatime",      "nodev",
    "nodiratime",    "noexec",       "noiversion",
    "nolazytime",    "nomand",       "norelatime",
    "nostrictatime", "nosuid",       "nosymfollow",
    "private",       "ratime",       "rbind",
    "rdev",          "rdiratime",    "relatime",
    "remount",       "rexec",        "ridmap",
    "rnoatime",      "rnodev",       "rnodiratime",
    "rnoexec",       "rnorelatime",  "rnostrictatime",
    "rnosuid",       "rnosymfollow", "ro",
    "rprivate",      "rrelatime",    "rro",
    "rrw",           "rshared",      "rslave",
    "rstrictatime",  "rsuid",        "rsymfollow",
    "runbindable",   "rw",           "shared",
    "silent",        "slave",        "strictatime",
    "suid",          "symfollow",    "sync",
    "tmpcopyup",     "unbindable",   NULL,
};

static json_t *strings(const char *const *v)
{
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *seccomp_json(void)
{
    json_t *archs = json_array();
    for (size_t i = 0; i < spec_n_seccomp_archs; i++)
        if (seccomp_arch_resolve_name(spec_seccomp_archs[i].libseccomp_name) != 0)
            json_array_append_new(archs, json_string(spec_seccomp_archs[i].name));

    /* libseccomp's API level says which filter flags the library and the kernel both have. */
    unsigned api = seccomp_api_get();
    json_t *supported = json_array();
    if (api >= 2)
        json_array_append_new(supported, json_string("SECCOMP_FILTER_FLAG_TSYNC"));
    if (api >= 4)
        json_array_append_new(supported, json_string("SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
    if (api >= 3)
        json_array_append_new(supported, json_string("SECCOMP_FILTER_FLAG_LOG"));
    /* Set on berth's own seccomp(2) call, whatever libseccomp knows. */
    json_array_append_new(supported, json_string("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"));
    return json_pack("{s:b,s:o,s:o,s:o,s:o,s:o}", "enabled", 1, "actions",
                     strings(spec_seccomp_actions), "operators", strings(spec_seccomp_operators),
                     "archs", archs, "knownFlags", strings(spec_seccomp_flags), "supportedFlags",
                     supported);
}

char *spec_features_json(void)
{
    static const char *const namespaces[] = {"cgroup", "ipc",  "mount", "network", "pid",
                                             "time",   "user", "uts",   NULL};
    json_t *hooks = json_array();
    for (int k = 0; k < SPEC_HOOK_KINDS; k++)
        json_array_append_new(hooks, json_string(spec_hook_kind_name(k)));
    json_t *caps = json_array();
    for (int cap = 0;; cap++) {
        char *name = spec_cap_name(cap);
        if (!name)
            break;
        json_array_append_new(caps, json_string(name));
        free(name);
    }
    json_t *linux_ = json_pack(
        "{s:o,s:o,s:{s:b,s:b,s:b,s:b,s:b},s:o,s:{s:b},s:{s:b},s:{s:b},s:{s:{s:b}}}", "namespaces",
        strings(namespaces), "capabilities", caps, "cgroup", "v1", 1, "v2", 1, "systemd", 0,
        "systemdUser", 0, "rdma", 1, "seccomp", seccomp_json(), "apparmor", "enabled", 0, "selinux",
        "enabled", 1, "intelRdt", "enabled", 0, "mountExtensions", "idmap", "enabled", 1);

    const struct scmp_version *v = seccomp_version();
    char libseccomp[64];
    snprintf(libseccomp, sizeof(libseccomp), "%u.%u.%u", v->major, v->minor, v->micro);
    json_t *doc = json_pack("{s:s,s:s,s:o,s:o,s:o,s:{s:s}}", "ociVersionMin", "1.0.0",
                            "ociVersionMax", BERTH_SPEC_VERSION, "hooks", hooks, "mountOptions",
                            strings(mount_options), "linux", linux_, "annotations",
                            "io.github.seccomp.libseccomp.version", libseccomp);
    char *text = spec_json_dump(doc, 4, false, NULL, 0);
    json_decref(doc);
    return text;
}
