/* Diagnostics: to the --log file (text or runc's JSON lines) or to stderr. */
#pragma once

#include <stdbool.h>

struct berth_error;

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* path NULL: stderr. A "file:" prefix (crun's spelling) is accepted. */
int log_setup(const char *path, bool json, bool debug, struct berth_error **err);
bool log_debug_enabled(void);
/* The fd of the log file, or -1 when logging to stderr. */
int log_fd(void);
/* After a child moved the log file to another fd number. */
void log_set_fd(int fd);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_debug_enabled())                                                                   \
            log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                                 \
    } while (0)

/* The final report of a failed command: one line on stderr, and an error entry in the log file
 * when there is one. */
void log_fail(const char *msg);
