/* The OCI runtime-spec model (1.0.0 through 1.2.x, Linux fields): config.json as C structs.
 * Parsing and validation live in this module; nothing here makes a syscall beyond reading the
 * file. Conventions: an absent string is NULL; a string list is a NULL-terminated array (strv);
 * an array of structs is a pointer plus an n_ count; an optional number has a has_ flag. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berth_error;

struct spec_id_mapping {
    uint32_t container_id;
    uint32_t host_id;
    uint32_t size;
};

struct spec_mount {
    char *destination;
    char *type;     /* may be NULL (then a bind when options say so) */
    char *source;   /* may be NULL */
    char **options; /* strv, may be NULL */
    struct spec_id_mapping *uid_mappings;
    size_t n_uid_mappings;
    struct spec_id_mapping *gid_mappings;
    size_t n_gid_mappings;
};

struct spec_rlimit {
    int resource; /* RLIMIT_* */
    char *type;   /* as written, e.g. "RLIMIT_NOFILE" */
    uint64_t soft;
    uint64_t hard;
};

struct spec_capabilities {
    /* Capability numbers (CAP_*), validated against the names libcap knows. */
    int *bounding;
    size_t n_bounding;
    int *effective;
    size_t n_effective;
    int *inheritable;
    size_t n_inheritable;
    int *permitted;
    size_t n_permitted;
    int *ambient;
    size_t n_ambient;
};

struct spec_user {
    uint32_t uid;
    uint32_t gid;
    bool has_umask;
    uint32_t umask;
    uint32_t *additional_gids;
    size_t n_additional_gids;
};

struct spec_scheduler {
    int policy; /* SCHED_* */
    int32_t nice;
    int32_t priority;
    uint32_t flags; /* SCHED_FLAG_* */
    uint64_t runtime;
    uint64_t deadline;
    uint64_t period;
};

struct spec_io_priority {
    int klass; /* IOPRIO_CLASS_RT / BE / IDLE */
    int32_t priority;
};

struct spec_process {
    bool terminal;
    bool has_console_size;
    uint32_t console_height;
    uint32_t console_width;
    struct spec_user user;
    char **args;                            /* strv, at least one element */
    char **env;                             /* strv, may be NULL */
    char *cwd;                              /* absolute */
    struct spec_capabilities *capabilities; /* NULL: no capabilities object */
    struct spec_rlimit *rlimits;
    size_t n_rlimits;
    bool no_new_privileges;
    char *apparmor_profile;
    bool has_oom_score_adj;
    int32_t oom_score_adj;
    char *selinux_label;
    struct spec_scheduler *scheduler; /* NULL when absent */
    struct spec_io_priority *io_priority;
    char *exec_cpu_affinity_initial;
    char *exec_cpu_affinity_final;
};

struct spec_hook {
    char *path; /* absolute */
    char **args;
    char **env;
    bool has_timeout;
    int32_t timeout; /* seconds, > 0 */
};

enum spec_hook_kind {
    SPEC_HOOK_PRESTART,
    SPEC_HOOK_CREATE_RUNTIME,
    SPEC_HOOK_CREATE_CONTAINER,
    SPEC_HOOK_START_CONTAINER,
    SPEC_HOOK_POSTSTART,
    SPEC_HOOK_POSTSTOP,
    SPEC_HOOK_KINDS
};

struct spec_hooks {
    struct spec_hook *hooks[SPEC_HOOK_KINDS];
    size_t n_hooks[SPEC_HOOK_KINDS];
};

enum spec_ns_type {
    SPEC_NS_PID,
    SPEC_NS_NETWORK,
    SPEC_NS_MOUNT,
    SPEC_NS_IPC,
    SPEC_NS_UTS,
    SPEC_NS_USER,
    SPEC_NS_CGROUP,
    SPEC_NS_TIME,
    SPEC_NS_TYPES
};

struct spec_namespace {
    enum spec_ns_type type;
    char *path; /* NULL: a new namespace */
};

struct spec_device {
    char type; /* 'c', 'b', 'u' or 'p' */
    char *path;
    int64_t major;
    int64_t minor;
    bool has_file_mode;
    uint32_t file_mode;
    bool has_uid;
    uint32_t uid;
    bool has_gid;
    uint32_t gid;
};

struct spec_device_rule {
    bool allow;
    char type; /* 'a', 'c' or 'b'; 'a' when absent */
    bool has_major;
    int64_t major;
    bool has_minor;
    int64_t minor;
    char *access; /* subset of "rwm"; NULL means "rwm" */
};

struct spec_memory {
    bool has_limit, has_reservation, has_swap, has_kernel, has_kernel_tcp, has_swappiness,
        has_disable_oom_killer, has_use_hierarchy, has_check_before_update;
    int64_t limit, reservation, swap, kernel, kernel_tcp;
    uint64_t swappiness; /* 0..100; (uint64)-1 in config.json reads as absent */
    bool disable_oom_killer, use_hierarchy, check_before_update;
};

struct spec_cpu {
    bool has_shares, has_quota, has_burst, has_period, has_realtime_runtime, has_realtime_period,
        has_idle;
    uint64_t shares;
    int64_t quota;
    uint64_t burst;
    uint64_t period;
    int64_t realtime_runtime;
    uint64_t realtime_period;
    int64_t idle;
    char *cpus;
    char *mems;
};

struct spec_weight_device {
    int64_t major, minor;
    bool has_weight, has_leaf_weight;
    uint16_t weight, leaf_weight;
};

struct spec_throttle_device {
    int64_t major, minor;
    uint64_t rate;
};

struct spec_block_io {
    bool has_weight, has_leaf_weight;
    uint16_t weight, leaf_weight;
    struct spec_weight_device *weight_device;
    size_t n_weight_device;
    struct spec_throttle_device *throttle_read_bps, *throttle_write_bps, *throttle_read_iops,
        *throttle_write_iops;
    size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops, n_throttle_write_iops;
};

struct spec_hugepage_limit {
    char *page_size; /* "2MB", "1GB": digits and KB, MB, GB, TB or PB */
    uint64_t limit;
};

struct spec_net_priority {
    char *name;
    uint32_t priority;
};

struct spec_rdma {
    char *device;
    bool has_hca_handles, has_hca_objects;
    uint32_t hca_handles, hca_objects;
};

struct spec_key_value {
    char *key;
    char *value;
};

struct spec_resources {
    struct spec_device_rule *devices;
    size_t n_devices;
    struct spec_memory *memory;
    struct spec_cpu *cpu;
    bool has_pids_limit;
    int64_t pids_limit;
    struct spec_block_io *block_io;
    struct spec_hugepage_limit *hugepage_limits;
    size_t n_hugepage_limits;
    bool has_net_class_id;
    uint32_t net_class_id;
    struct spec_net_priority *net_priorities;
    size_t n_net_priorities;
    struct spec_rdma *rdma;
    size_t n_rdma;
    struct spec_key_value *unified;
    size_t n_unified;
};

struct spec_seccomp_arg {
    uint32_t index;
    uint64_t value;
    uint64_t value_two;
    char *op; /* "SCMP_CMP_EQ", ... */
};

struct spec_seccomp_syscall {
    char **names;
    char *action;
    bool has_errno_ret;
    uint32_t errno_ret;
    struct spec_seccomp_arg *args;
    size_t n_args;
};

struct spec_seccomp {
    char *default_action;
    bool has_default_errno_ret;
    uint32_t default_errno_ret;
    char **architectures;
    char **flags;
    char *listener_path;
    char *listener_metadata;
    struct spec_seccomp_syscall *syscalls;
    size_t n_syscalls;
};

struct spec_time_offset {
    bool set;
    int64_t secs;
    uint32_t nanosecs;
};

struct spec_linux {
    struct spec_namespace *namespaces;
    size_t n_namespaces;
    struct spec_id_mapping *uid_mappings;
    size_t n_uid_mappings;
    struct spec_id_mapping *gid_mappings;
    size_t n_gid_mappings;
    struct spec_time_offset time_monotonic;
    struct spec_time_offset time_boottime;
    struct spec_device *devices;
    size_t n_devices;
    char *cgroups_path;
    struct spec_resources *resources; /* NULL when absent */
    char *rootfs_propagation;         /* NULL: rprivate */
    struct spec_seccomp *seccomp;     /* NULL when absent */
    struct spec_key_value *sysctl;
    size_t n_sysctl;
    char **masked_paths;
    char **readonly_paths;
    char *mount_label;
    bool has_personality;
    uint32_t personality_domain; /* PER_LINUX or PER_LINUX32 */
};

struct spec {
    char *oci_version;
    char *root_path; /* as written: relative to the bundle or absolute */
    bool root_readonly;
    struct spec_mount *mounts;
    size_t n_mounts;
    struct spec_process *process; /* NULL when absent (allowed for create, refused at start) */
    char *hostname;
    char *domainname;
    struct spec_hooks hooks;
    struct spec_key_value *annotations;
    size_t n_annotations;
    struct spec_linux *linux_; /* NULL when absent */
};

/* Parse config.json text. `origin` names it in messages ("config.json"). On failure (-EINVAL)
 * *err says where and why: "config.json: process.args: must be a non-empty array of strings", or
 * for a syntax error "config.json:12:5: ...". Besides types and ranges it refuses what berth
 * cannot honour (linux.intelRdt, netDevices, memoryPolicy, personality flags) and what would
 * reach the host: mappings without a user namespace, a new user namespace without mappings,
 * sysctls outside the container's namespaces, hostname without a UTS namespace. A namespace with
 * a path counts as the container's own: whether it is the host's cannot be told without looking.
 * Duplicate keys in one object are refused; unknown fields and other platforms' are ignored. */
int spec_parse(const char *text, size_t len, const char *origin, struct spec **out,
               struct berth_error **err);
/* Read and parse a file (a symlink is followed). origin NULL: the path names it. */
int spec_load_file(const char *path, const char *origin, struct spec **out,
                   struct berth_error **err);
void spec_free(struct spec *s);

/* Parse a runtime-spec process object alone (exec -p process.json), with the same rules;
 * messages read "ORIGIN: process.cwd: ...". */
int spec_parse_process(const char *text, size_t len, const char *origin, struct spec_process **out,
                       struct berth_error **err);
void spec_process_free(struct spec_process *p);

/* The spec as config.json text (tab-indented, runtime-spec field order). Parsing the result gives
 * back an equal struct: what config.json leaves out stays out. */
char *spec_to_json(const struct spec *s);

/* Parse a linux.resources object alone (update -r FILE). */
int spec_parse_resources(const char *text, size_t len, const char *origin,
                         struct spec_resources **out, struct berth_error **err);
void spec_resources_free(struct spec_resources *r);

/* Lookups. */
const struct spec_namespace *spec_namespace_find(const struct spec *s, enum spec_ns_type t);
const char *spec_annotation(const struct spec *s, const char *key);
const char *spec_ns_type_name(enum spec_ns_type t);
const char *spec_hook_kind_name(enum spec_hook_kind k);
/* A CAP_* name as config.json spells it, to its number; negative when unknown. */
int spec_cap_from_name(const char *name);
/* "CAP_CHOWN" for 0, or NULL past the last capability libcap knows. Newly allocated. */
char *spec_cap_name(int cap);

/* The default config.json `spec` writes (runc's in substance, hostname "berth", Docker's extra
 * masked paths); rootless adapts it as runc does, mapping root to the caller's euid and egid.
 * Returns a newly allocated JSON text, tab-indented like runc's. */
char *spec_default_json(bool rootless);
/* The default maskedPaths, with the thermal_throttle directory of each CPU found below `sysfs`
 * (the host's /sys; a test gives its own tree), as /sys/devices/system/cpu/cpuN/... */
struct json_t;
struct json_t *spec_default_masked_paths(const char *sysfs);

/* The runtime-spec features document (`features`). The seccomp flags it lists as supported come
 * from libseccomp's view of the running kernel. */
char *spec_features_json(void);
