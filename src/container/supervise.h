/* Staying with a process that runs in a container: relaying signals and the terminal. */
#pragma once

#include "container/container.h"
#include "container/state.h"

#include <signal.h>
#include <sys/types.h>

/* `run` keeps what create opened and wrote, so that start and delete need not read it back:
 * the state root, the container's directory (locked until started) and its state. */
struct container_held {
    int rootfd;
    int dirfd;
    int sock; /* to the init: it has no exec.fifo and starts when told here */
    struct container_state st;
};
void container_held_clear(struct container_held *h);

/* container_create, leaving *held filled. */
int container_create_held(const struct container_create_opts *opts, struct container_created *out,
                          struct container_held *held, struct berth_error **err);
/* container_start on the held directory; unlocks it. */
int container_start_held(struct container_held *held, const char *id, struct berth_error **err);
/* container_delete --force on the held directory (nothing when another delete came first);
 * `reaped`: the init is known to be gone. */
int container_delete_held(struct container_held *held, const char *root, const char *id,
                          bool reaped, struct berth_error **err);

/* Block every signal worth relaying; they wait in the queue until container_supervise reads
 * them, so none is lost while the process is being set up. */
void container_block_signals(sigset_t *mask, sigset_t *old);

/* Wait for pid (our child), relaying signals to it and, with a pty master, the terminal.
 * Returns its wait status. */
int container_supervise(pid_t pid, int master, sigset_t *mask);
