/* The container lifecycle, as the command line and the library use it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct berth_error;
struct spec_resources;
struct cgroup_stats;

struct container_create_opts {
    const char *root; /* state root */
    const char *id;
    const char *bundle; /* NULL: the current directory */
    const char *config; /* NULL: BUNDLE/config.json; relative to the bundle otherwise */
    const char *pid_file;
    const char *console_socket;
    bool no_pivot;
    bool no_new_keyring;
    unsigned preserve_fds;
    const char *cgroup_manager; /* NULL: cgroupfs */
    bool rootless;              /* cgroups are used only where they were delegated */
    /* For `run` in the foreground: keep the pty master instead of needing a console socket. */
    bool foreground;
    /* The command line, to re-run from a sealed copy of berth when the container could reach
     * its binary (see container/seal.h); NULL: never. */
    char **argv;
    /* run: called once the process runs (after start, before waiting for it); NULL: nothing. */
    void (*on_started)(void *data);
    void *on_started_data;
};

/* What create leaves for `run` to carry on with. */
struct container_created {
    pid_t pid;
    int pidfd;
    int console_master; /* -1 unless foreground with a terminal */
};

int container_create(const struct container_create_opts *opts, struct container_created *out,
                     struct berth_error **err);
int container_start(const char *root, const char *id, struct berth_error **err);
int container_kill(const char *root, const char *id, int sig, bool all, struct berth_error **err);
/* force: kill and remove from any state. A missing container with force is not an error. */
int container_delete(const char *root, const char *id, bool force, struct berth_error **err);
/* The runtime-spec state document plus runc's extras. */
int container_state(const char *root, const char *id, json_t **out, struct berth_error **err);
/* Every container under root with its state document, "owner" set to the user owning its state
 * directory (a name from /etc/passwd, else "#UID"), as runc lists them. Entries that cannot be
 * read (a corrupt state.json, a create that was killed before it wrote one) are left out of
 * *out and, when skipped is not NULL, put in *skipped as {"id", "error"}; one still being
 * created is left out of both. */
int container_list(const char *root, json_t **out, json_t **skipped, struct berth_error **err);

int container_pause(const char *root, const char *id, struct berth_error **err);
int container_resume(const char *root, const char *id, struct berth_error **err);
/* Every process of the container (its cgroup's), as host pids. */
int container_pids(const char *root, const char *id, pid_t **pids, size_t *n,
                   struct berth_error **err);
/* Write new resources into the container's cgroup (update). */
int container_update(const char *root, const char *id, const struct spec_resources *res,
                     struct berth_error **err);
int container_stats(const char *root, const char *id, struct cgroup_stats *out,
                    struct berth_error **err);

/* create + start, then (unless detach) wait for the container's process, relaying signals and
 * the terminal, delete it (unless keep) and return its exit status (128+N for signal N). */
int container_run(const struct container_create_opts *opts, bool detach, bool keep,
                  struct berth_error **err);

/* Parse a signal as runc does: a number, or a name with or without SIG. */
int container_parse_signal(const char *s, int *sig, struct berth_error **err);

struct container_exec_opts {
    const char *root;
    const char *id;
    const char *process_file; /* -p: a runtime-spec process object; the rest is then unused */
    char **args;
    bool tty;
    const char *console_socket;
    bool detach;
    const char *pid_file;
    char **env; /* -e K=V, added to (or replacing in) the container's env */
    const char *cwd;
    const char *user; /* "UID[:GID]", numbers only */
    char **groups;    /* -g GID */
    char **caps;      /* --cap CAP_X, added to bounding, effective and permitted */
    bool no_new_privs;
    unsigned preserve_fds;
    const char *process_label;
    const char *apparmor;
    char **cgroups; /* --cgroup [CONTROLLER[,CONTROLLER...]:]PATH: sub-cgroups to join */
    size_t n_cgroups;
    bool ignore_paused; /* exec even in a paused container (the process waits for resume) */
    char **argv;        /* as in container_create_opts */
};

/* Run another process in a running container's namespaces, cgroup and root, with the same
 * rules as its init. Without detach, waits and returns its exit status (128+N on signal N). */
int container_exec(const struct container_exec_opts *o, struct berth_error **err);

/* Parse exec -u: "UID" or "UID:GID", decimal, whole string, in range. Never a name. */
int container_parse_user(const char *s, uint32_t *uid, uint32_t *gid, bool *has_gid,
                         struct berth_error **err);
