/* The container process's identity and limits: user and groups, capabilities, rlimits,
 * scheduling, and finding what to exec. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "spec/spec.h"

struct berth_error;

/* Check before anything starts that berth itself holds every capability the process asks for
 * (outside a user namespace a process can never gain more than its runtime has). */
int process_check_caps_held(const struct spec_capabilities *caps, struct berth_error **err);

int process_set_rlimits(const struct spec_process *p, struct berth_error **err);
int process_set_oom_score_adj(const struct spec_process *p, struct berth_error **err);
int process_set_scheduling(const struct spec_process *p, struct berth_error **err);
int process_set_personality(const struct spec_linux *l, struct berth_error **err);

/* What the container's /etc/passwd says about a uid: its home directory ("/" when the uid is
 * not listed). Read after pivot_root, with a bounded size; a missing file is not an error.
 * /etc/group is not read: the process's groups are the config's gid and additionalGids only,
 * as runc gives them (it takes the user as "uid:gid", which never brings the memberships
 * /etc/group lists). */
struct process_user_info {
    char *home;
    char *name; /* NULL when /etc/passwd does not list the uid */
};
int process_lookup_user(uid_t uid, struct process_user_info *out, struct berth_error **err);
void process_user_info_clear(struct process_user_info *u);

/* Drop the bounding set to the wanted list (needs CAP_SETPCAP: call before changing user). */
int process_drop_bounding(const struct spec_capabilities *caps, struct berth_error **err);
/* setgroups to additionalGids (unless setgroups is denied in the user namespace), setresgid,
 * setresuid keeping capabilities, then set the effective, permitted, inheritable and ambient
 * sets. */
int process_set_user_and_caps(const struct spec_process *p, bool setgroups_allowed,
                              struct berth_error **err);

/* Find args[0] along the process's PATH inside the (already pivoted) root, as runc does before
 * it waits for start: a regular file the process may execute. The errors use runc's words
 * (`exec: "NAME": permission denied`, `...: stat NAME: no such file or directory`,
 * `...: executable file not found in $PATH`), which engines match to pick an exit status. */
int process_find_executable(const struct spec_process *p, char **out, struct berth_error **err);

/* chdir to cwd and make sure the result is inside the root (not a leaked fd's directory).
 * Called before the user is switched; a chdir denied (EACCES, EPERM) is no error then: *denied
 * is set to its errno, for process_chdir_as_user to try again once the user is switched. */
int process_chdir(const char *cwd, int *denied, struct berth_error **err);
/* The second try after a denied process_chdir (nothing to do when denied is 0); its error
 * names both failures. */
int process_chdir_as_user(const char *cwd, int denied, struct berth_error **err);

/* With process.terminal, the pty on stdin (and stdout, stderr) goes to the process's uid, its
 * group left as it is (the devpts's gid=5), as runc does: the user can then control its
 * terminal. Called while still privileged, from inside the container's user namespace, so the
 * uid is the container's own and the kernel maps it. An owner the namespace cannot change is
 * left, as runc leaves it. */
int process_chown_terminal(const struct spec_process *p, struct berth_error **err);

/* Everything between a ready root and execve, shared by the init and exec: scheduling,
 * rlimits, cwd (first while privileged), the terminal's owner, the bounding set, user and groups
 * (reading the container's /etc/passwd for HOME), capabilities, cwd again if it was denied,
 * no_new_privs, and finding the executable. */
int process_prepare(const struct spec_process *p, bool in_userns, char **exe, char ***env,
                    struct berth_error **err);

/* The env to exec with: process.env, plus HOME when it is missing. */
char **process_build_env(const struct spec_process *p, const char *home);
