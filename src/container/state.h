/* A container's state directory: <root>/<id>/ holding state.json and, until start, exec.fifo.
 * Every state change happens under an exclusive flock on the directory. */
#pragma once

#include <jansson.h>
#include <time.h>
#include <stdbool.h>
#include <sys/types.h>

struct berth_error;

enum container_status {
    CONTAINER_CREATING,
    CONTAINER_CREATED,
    CONTAINER_RUNNING,
    CONTAINER_PAUSED,
    CONTAINER_STOPPED,
};

struct container_state {
    char *id;
    char *oci_version;
    pid_t pid;
    unsigned long long start_time; /* /proc/PID/stat starttime, to tell a reused pid apart */
    char *bundle;
    char *config; /* the config.json create read, for exec */
    char *rootfs;
    char *created; /* RFC 3339 with nanoseconds, UTC */
    char *owner;
    json_t *annotations; /* object or NULL */
    json_t *hooks;       /* {"poststart": [...], "poststop": [...]} or NULL */
    json_t *cgroup;      /* the cgroup manager's record, or NULL */
    json_t *label;       /* {"process": ..., "mount": ...}: SELinux labels to release, or NULL */
    /* Without a mount namespace of its own: the id of the runtime's private bind of the rootfs
     * (mnt_bind_private), which holds every mount the container made; delete detaches it. */
    unsigned long long rootfs_mount;
    /* A new pid namespace: the init's death ends the container; what else runs in its cgroup
     * (a cgroupsPath can be shared) is not the container's. */
    bool own_pidns;
};

#define CONTAINER_EXEC_FIFO  "exec.fifo"
#define CONTAINER_STATE_FILE "state.json"

const char *container_status_name(enum container_status s);

/* IDs become path components: letters, digits and _+-. only, 1..1024 chars, not "." or "..". */
int container_validate_id(const char *id, struct berth_error **err);

/* Open (creating with mode 0700 if asked) the state root. */
int container_root_open(const char *root, bool create, struct berth_error **err);

/* Create <root>/<id> exclusively and lock it: `container "x" already exists` when it exists. */
int container_dir_create(int rootfd, const char *id, struct berth_error **err);
/* Open and lock an existing <root>/<id>: `container "x" does not exist` when missing. */
int container_dir_open(int rootfd, const char *id, bool lock, struct berth_error **err);
/* Lock an open <root>/<id> again: -ENOENT (`does not exist`) when it was removed meanwhile. */
int container_dir_relock(int dirfd, const char *id, struct berth_error **err);

/* --pid-file: the pid written to path atomically (a reader never sees it half-written). */
int container_pid_file_write(const char *path, pid_t pid, struct berth_error **err);
/* exists: whether state.json is there already (a hint: either way the write is right). */
int container_state_write(int dirfd, const struct container_state *st, bool exists,
                          struct berth_error **err);
int container_state_read(int dirfd, const char *id, struct container_state *st,
                         struct berth_error **err);
void container_state_clear(struct container_state *st);

/* Whether another process holds the lock of the container's directory (a create or a delete
 * at work). */
bool container_dir_busy(int dirfd);

/* What the process says now: stopped when it is gone, a zombie, or a reused pid. */
enum container_status container_status_of(int dirfd, const struct container_state *st);

/* The runtime-spec state document, as `state` prints it and hooks read it on stdin. */
json_t *container_state_json(const struct container_state *st, enum container_status status);

/* /proc/PID/stat starttime; 0 when the process does not exist. */
unsigned long long container_proc_start_time(pid_t pid, char *state_char);

/* A time (CLOCK_REALTIME), formatted as RFC 3339 in UTC with nanoseconds:
 * e.g. "2024-02-29T23:59:59.000000001Z", never reading the time zone files. */
char *container_timestamp(const struct timespec *ts);
/* Now, as container_timestamp formats it. */
char *container_timestamp_now(void);
