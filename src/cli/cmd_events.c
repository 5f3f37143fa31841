#include "berth/error.h"
#include "cli/cli.h"
#include "container/container.h"
#include "linux/cgroup/cgroup.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct events_args {
    const char *id;
    bool stats;
    unsigned interval_ms;
};

/* "5s", "500ms", "1m" or plain seconds. */
static int parse_interval(const char *s, unsigned *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0)
        return -1;
    double mult = 1000;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (*end && strcmp(end, "s") != 0)
        return -1;
    *ms = (unsigned)(v * mult);
    return *ms ? 0 : -1;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
    struct events_args *a = state->input;
    switch (key) {
    case 's':
        a->stats = true;
        break;
    case 'i':
        if (parse_interval(arg, &a->interval_ms) < 0)
            argp_error(state, "--interval: \"%s\" is not a duration such as 5s", arg);
        break;
    case ARGP_KEY_ARG:
        if (a->id)
            argp_error(state, "unexpected argument \"%s\"", arg);
        a->id = arg;
        break;
    case ARGP_KEY_END:
        if (!a->id)
            argp_error(state, "a container id is required");
        break;
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

static const struct argp_option options[] = {
    {"stats", 's', 0, 0, "print the resource usage once and exit", 0},
    {"interval", 'i', "DURATION", 0, "time between stats events (default 5s)", 0},
    {0},
};
static const struct argp argp = {
    options, parse, "CONTAINER", "Print a container's events (stats, OOM kills) as JSON lines.",
    NULL,    NULL,  NULL};

static json_t *stats_json(const struct cgroup_stats *s)
{
    json_t *data = json_object();
    if (s->has_cpu)
        json_object_set_new(data, "cpu",
                            json_pack("{s:{s:I,s:I,s:I},s:{s:I,s:I}}", "usage", "total",
                                      (json_int_t)s->cpu_usage_ns, "kernel",
                                      (json_int_t)s->cpu_system_ns, "user",
                                      (json_int_t)s->cpu_user_ns, "throttling", "throttled_periods",
                                      (json_int_t)s->cpu_throttled_periods, "throttled_time",
                                      (json_int_t)s->cpu_throttled_ns));
    if (s->has_memory) {
        json_t *m =
            json_pack("{s:{s:I,s:I,s:I,s:I}}", "usage", "limit", (json_int_t)s->memory_limit,
                      "usage", (json_int_t)s->memory_usage, "max", (json_int_t)s->memory_max_usage,
                      "failcnt", (json_int_t)s->memory_failcnt);
        if (s->has_swap)
            json_object_set_new(m, "swap",
                                json_pack("{s:I,s:I}", "limit", (json_int_t)s->swap_limit, "usage",
                                          (json_int_t)s->swap_usage));
        json_object_set_new(data, "memory", m);
    }
    if (s->has_pids)
        json_object_set_new(data, "pids",
                            json_pack("{s:I,s:I}", "current", (json_int_t)s->pids_current, "limit",
                                      (json_int_t)s->pids_limit));
    return data;
}

static void emit(const char *type, const char *id, json_t *data)
{
    json_t *e = json_pack("{s:s,s:s}", "type", type, "id", id);
    if (data)
        json_object_set_new(e, "data", data);
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    if (s) {
        puts(s);
        fflush(stdout);
        free(s);
    }
}

static int run(const struct cli_global *g, int argc, char **argv, struct berth_error **err)
{
    struct events_args a = {.interval_ms = 5000};
    cli_parse(&argp, argc, argv, &a);
    struct cgroup_stats s;
    int r = container_stats(g->root, a.id, &s, err);
    if (r < 0)
        return r;
    if (a.stats) {
        emit("stats", a.id, stats_json(&s));
        return 0;
    }
    /* OOM kills are noticed within a tick; stats go out every interval. */
    uint64_t ooms = s.has_oom_kills ? s.oom_kills : 0;
    unsigned tick = a.interval_ms < 200 ? a.interval_ms : 200, since = a.interval_ms;
    for (;;) {
        if (since >= a.interval_ms) {
            emit("stats", a.id, stats_json(&s));
            since = 0;
        }
        struct timespec ts = {tick / 1000, (long)(tick % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        since += tick;
        struct berth_error *e = NULL;
        if (container_stats(g->root, a.id, &s, &e) < 0) {
            /* The container is gone: the stream ends. */
            berth_error_free(e);
            return 0;
        }
        if (s.has_oom_kills && s.oom_kills > ooms) {
            emit("oom", a.id, NULL);
            ooms = s.oom_kills;
        }
    }
}

const struct cli_command cli_command_events = {"events", "print a container's events", run};
