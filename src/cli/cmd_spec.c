/* berth spec: write a default config.json into a bundle directory. */
#include "cli/cli.h"
#include "berth/error.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct spec_args {
    const char *bundle;
    bool rootless;
};

enum { OPT_ROOTLESS = 0x100 };

static const struct argp_option options[] = {
    {"bundle", 'b', "DIR", 0, "write config.json into DIR (default: the current directory)", 0},
    {"rootless", OPT_ROOTLESS, 0, 0, "a config for a container run by an unprivileged user", 0},
    {0},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct spec_args *a = state->input;
    switch (key) {
    case 'b':
        a->bundle = arg;
        break;
    case OPT_ROOTLESS:
        a->rootless = true;
        break;
    case ARGP_KEY_ARG:
        argp_error(state, "unexpected argument \"%s\"", arg);
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp argp = {
    options, parse_opt, NULL, "Write a default config.json (runc's in substance).",
    NULL,    NULL,      NULL};

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int run(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    (void)g;
    struct spec_args a = {0};
    cli_parse(&argp, argc, argv, &a);

    _cleanup_free_ char *cwd = NULL;
    const char *dir = a.bundle;
    if (!dir) {
        cwd = getcwd(NULL, 0);
        if (!cwd)
            return berth_error_set(err, errno, "getcwd");
        dir = cwd;
    }
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return berth_error_set(err, errno, "open %s", dir);

    _cleanup_free_ char *text = spec_default_json(a.rootless);
    /* O_EXCL: an existing config.json is someone's work, never replaced. */
    _cleanup_close_ int fd =
        openat(dfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) {
        if (errno == EEXIST)
            return berth_error_set(err, 0, "config.json already exists in %s: remove it first",
                                   dir);
        return berth_error_set(err, errno, "create %s/config.json", dir);
    }
    int r = write_all(fd, text, strlen(text));
    if (r < 0) {
        unlinkat(dfd, "config.json", 0);
        return berth_error_set(err, -r, "write %s/config.json", dir);
    }
    return 0;
}

const struct cli_command cli_command_spec = {"spec", "write a default config.json", run};
