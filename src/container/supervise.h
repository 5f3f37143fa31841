/* Staying with a process that runs in a container: relaying signals and the terminal. */
#pragma once

#include <signal.h>
#include <sys/types.h>

/* Block every signal worth relaying; they wait in the queue until container_supervise reads
 * them, so none is lost while the process is being set up. */
void container_block_signals(sigset_t *mask, sigset_t *old);

/* Wait for pid (our child), relaying signals to it and, with a pty master, the terminal.
 * Returns its wait status. */
int container_supervise(pid_t pid, int master, sigset_t *mask);
