/* One log line per event on stderr: `2026-11-26T03:37:39.123Z INFO  component: message`.
 *
 * Rules (DESIGN.md §8): every rejection and every close is logged once, with the device id, the
 * stream id and a reason a person can act on. Secrets (keys, tokens, signatures) never reach a
 * log line: pass ids and reasons only. */
#ifndef LOG_H
#define LOG_H

enum log_level { LOG_TRACE, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below level are dropped; LOG_INFO unless --trace. */
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

void log_write(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_trace(...) log_write(LOG_TRACE, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

/* For impossible states only: logs and aborts. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
