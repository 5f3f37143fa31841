/* OCI hooks: each runs with the state JSON on stdin, its args and env, and an optional timeout. */
#pragma once

#include <jansson.h>
#include "spec/spec.h"

struct berth_error;

/* Run every hook of a kind in order; the first failure stops the rest and is returned. Each
 * runs in the directory dirfd (-1: the caller's own), as runc runs them: prestart,
 * createRuntime, poststart and poststop in the bundle, createContainer in the container's root,
 * startContainer in the process's cwd (where the init is when it runs them). */
int hooks_run(const struct spec_hook *hooks, size_t n, const char *kind, const char *state_json,
              int dirfd, struct berth_error **err);

/* Run every hook and only warn about failures (poststart, poststop). */
void hooks_run_warn(const struct spec_hook *hooks, size_t n, const char *kind,
                    const char *state_json, int dirfd);

/* The bundle directory for the runtime's hooks to run in (O_PATH), or -1 when it is gone (then
 * they run where berth was started). */
int hooks_open_bundle(const char *bundle);

/* Hooks kept in state.json for the commands that run after create. */
json_t *hooks_to_json(const struct spec_hook *hooks, size_t n);
/* The reverse; the array and its strings live as long as the json_t. */
int hooks_from_json(json_t *arr, struct spec_hook **out, size_t *n);
void hooks_free_array(struct spec_hook *hooks, size_t n);
