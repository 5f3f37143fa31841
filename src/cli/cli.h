/* The berth command line: global options and the command table. */
#pragma once

#include <argp.h>
#include <stdbool.h>

struct berth_error;

/* Everything the global options say; the only process-wide state berth keeps. */
struct cli_global {
    const char *root; /* state root; default /run/berth */
    const char *log;
    const char *log_format;
    bool debug;
    const char *cgroup_manager; /* cgroupfs, systemd, disabled */
    bool systemd_cgroup;
    const char *rootless; /* true, false, auto */
    bool is_rootless;     /* what --rootless (or the euid, for auto) decided */
    char **argv;          /* the whole command line, to re-run from a sealed copy of berth */

    const char *storage_root; /* layer store; default /var/lib/berth/storage */
};

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(const struct cli_global *g, int argc, char **argv, struct berth_error **err);
};

/* Parse a command's arguments with its argp; argv[0] is the command name. Exits on --help. */
void cli_parse(const struct argp *argp, int argc, char **argv, void *input);
/* argp_parse with -h taken for --help, as runc takes it. */
error_t cli_argp_parse(const struct argp *argp, int argc, char **argv, unsigned flags, void *input);
void cli_parse_flags(const struct argp *argp, int argc, char **argv, unsigned flags, void *input);

/* Parse the arguments of a subcommand ("layer create ..."): argv[1] is the subcommand. */
void cli_parse_subcommand(const struct argp_option *options, argp_parser_t parser,
                          const char *args_doc, const char *doc, int argc, char **argv,
                          void *input);

/* --uidmap and --gidmap, each C:H:S (containerID:hostID:size, as in OCI uidMappings) and
 * repeatable. */
struct spec_id_mapping;
struct cli_id_maps {
    struct spec_id_mapping *uid, *gid;
    size_t n_uid, n_gid;
};
/* Append one (uid: of --uidmap, else --gidmap); a bad one ends the parse with argp_error. */
void cli_id_maps_add(struct argp_state *state, struct cli_id_maps *m, bool uid, const char *arg);
void cli_id_maps_free(struct cli_id_maps *m);

/* Parse a non-negative decimal count, refusing anything else. */
int cli_parse_uint(const char *s, const char *what, unsigned *out, struct berth_error **err);

#define CLI_COMMAND(name) extern const struct cli_command cli_command_##name
CLI_COMMAND(create);
CLI_COMMAND(start);
CLI_COMMAND(run);
CLI_COMMAND(state);
CLI_COMMAND(kill);
CLI_COMMAND(delete);
CLI_COMMAND(list);
CLI_COMMAND(spec);
CLI_COMMAND(exec);
CLI_COMMAND(pause);
CLI_COMMAND(resume);
CLI_COMMAND(ps);
CLI_COMMAND(update);
CLI_COMMAND(events);
CLI_COMMAND(features);
CLI_COMMAND(label);
CLI_COMMAND(layer);
CLI_COMMAND(image);
CLI_COMMAND(container);
CLI_COMMAND(volume);
