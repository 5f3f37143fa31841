/* The container lifecycle, as the command line and the library use it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct berth_error;

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
    /* For `run` in the foreground: keep the pty master instead of needing a console socket. */
    bool foreground;
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
/* Every container under root with its state document; unreadable entries are skipped. */
int container_list(const char *root, json_t **out, struct berth_error **err);

/* create + start, then (unless detach) wait for the container's process, relaying signals and
 * the terminal, delete it (unless keep) and return its exit status (128+N for signal N). */
int container_run(const struct container_create_opts *opts, bool detach, bool keep,
                  struct berth_error **err);

/* Parse a signal as runc does: a number, or a name with or without SIG. */
int container_parse_signal(const char *s, int *sig, struct berth_error **err);
