/* The container's console: a pty from its own devpts, bound over /dev/console, its master
 * handed to whoever asked for it. */
#pragma once

#include <stdint.h>

struct berth_error;

/* Open a new pty from the rootfs's /dev/pts/ptmx (verified to be a devpts ptmx), and its peer
 * through TIOCGPTPEER: no path lookup of /dev/pts/N that an image could redirect. */
int console_open_pty(int rootfd, int *master, int *peer, struct berth_error **err);

/* Bind the peer over the rootfs's /dev/console, creating it as an empty file if missing; the
 * peer gets the SELinux label first (NULL: none). */
int console_bind(int rootfd, int peer, const char *label, struct berth_error **err);

int console_set_size(int fd, uint32_t height, uint32_t width, struct berth_error **err);

/* Make the peer the controlling terminal and the stdio of the calling process. */
int console_make_stdio(int peer, struct berth_error **err);

/* Clear ONLCR on a pty (through either end: the settings are the pair's), so that a "\n" the
 * process writes arrives as "\n", not "\r\n": runc does so on a master it keeps and relays
 * itself (run, exec in the foreground), and leaves one handed to --console-socket as it is. */
int console_clear_onlcr(int fd, struct berth_error **err);

/* Send the master to a unix socket at `path` (--console-socket), as SCM_RIGHTS. */
int console_send_master(const char *path, int master, struct berth_error **err);
