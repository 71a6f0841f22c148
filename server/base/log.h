/* One log line per event on stderr: `2026-11-26T03:37:39.123Z INFO  component: message`.
 *
 * Rules, so the log alone explains what happened: every rejection and every close is logged once,
 * with the device id, the stream id and a reason a person can act on. Secrets (keys, tokens,
 * signatures) never reach a log line: pass ids and reasons only. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

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

/* Lines that can repeat without bound when a client misbehaves (rejections, refusals, TLS
 * failures) go through these. Lines of one kind (one format string: one call site) are written
 * LOG_LIMIT_BURST times per LOG_LIMIT_WINDOW_S at most; the rest are counted, and the count is
 * written once: "…and 12801 more like '…' in the 10 s from 03:04:05Z", with the next line of that
 * kind or at exit (log_flush_limited). */
#define LOG_LIMIT_BURST 100
#define LOG_LIMIT_WINDOW_S 10

void log_write_limited(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite_limited(enum log_level level, const char *component, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void log_flush_limited(void);

#define log_info_limited(...) log_write_limited(LOG_INFO, __VA_ARGS__)
#define log_warn_limited(...) log_write_limited(LOG_WARN, __VA_ARGS__)
#define log_error_limited(...) log_write_limited(LOG_ERROR, __VA_ARGS__)

/* For impossible states only: logs and aborts. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
