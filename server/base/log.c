#include "log.h"

#include "rate_window.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Kinds of limited lines tracked at once; past that a kind is written unlimited. */
#define LIMIT_KINDS 64
#define SAMPLE_MAX 100

struct limited_kind {
    const char *fmt; /* the key; NULL for a free slot */
    enum log_level level;
    const char *component;
    struct rate_window window;
    char sample[SAMPLE_MAX + 1]; /* the start of the last line written of this kind */
};

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct limited_kind kinds[LIMIT_KINDS];

static atomic_int min_level = LOG_INFO;

static const char *const level_names[] = {"TRACE", "INFO ", "WARN ", "ERROR"};

void log_set_level(enum log_level level)
{
    atomic_store(&min_level, (int)level);
}

int log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

static void write_line(enum log_level level, const char *component, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void write_text(enum log_level level, const char *component, const char *text)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    /* One fprintf per line keeps lines from different threads whole. */
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
            level_names[level], component, text);
}

static void write_line(enum log_level level, const char *component, const char *fmt, va_list ap)
{
    char text[2048];
    vsnprintf(text, sizeof text, fmt, ap);
    write_text(level, component, text);
}

void log_write(enum log_level level, const char *component, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    write_line(level, component, fmt, ap);
    va_end(ap);
}

static int64_t wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Callers hold limit_lock. The kind of fmt, claimed if new; NULL when every slot is taken. */
static struct limited_kind *kind_of(const char *fmt, enum log_level level, const char *component)
{
    size_t start = ((uintptr_t)fmt >> 3) % LIMIT_KINDS;
    for (size_t i = 0; i < LIMIT_KINDS; i++) {
        struct limited_kind *k = &kinds[(start + i) % LIMIT_KINDS];
        if (k->fmt == fmt)
            return k;
        if (k->fmt == NULL) {
            *k = (struct limited_kind){.fmt = fmt, .level = level, .component = component};
            return k;
        }
    }
    return NULL;
}

/* "…and 12801 more like '…' in the 10 s from 03:04:05Z" */
static void write_held(const struct limited_kind *k, const char *sample, struct rate_held held)
{
    if (held.count == 0)
        return;
    time_t start = (time_t)(held.start_ms / 1000);
    struct tm tm;
    gmtime_r(&start, &tm);
    char text[SAMPLE_MAX + 128];
    snprintf(text, sizeof text, "…and %u more like '%s…' in the %d s from %02d:%02d:%02dZ",
             held.count, sample, LOG_LIMIT_WINDOW_S, tm.tm_hour, tm.tm_min, tm.tm_sec);
    write_text(k->level, k->component, text);
}

void log_vwrite_limited(enum log_level level, const char *component, const char *fmt, va_list ap)
{
    if (!log_enabled(level))
        return;
    char text[2048];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text); /* libraries' lines end in a newline of their own */
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    struct rate_held held = {0, 0};
    char sample[SAMPLE_MAX + 1] = "";
    int pass = 1;
    pthread_mutex_lock(&limit_lock);
    struct limited_kind *k = kind_of(fmt, level, component);
    if (k != NULL) {
        pass = rate_window_take(&k->window, wall_ms(), LOG_LIMIT_BURST, LOG_LIMIT_WINDOW_S * 1000,
                                &held);
        snprintf(sample, sizeof sample, "%s", k->sample);
        if (pass)
            snprintf(k->sample, sizeof k->sample, "%s", text);
    }
    pthread_mutex_unlock(&limit_lock);
    if (k != NULL)
        write_held(k, sample, held);
    if (pass)
        write_text(level, component, text);
}

void log_write_limited(enum log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite_limited(level, component, fmt, ap);
    va_end(ap);
}

void log_flush_limited(void)
{
    pthread_mutex_lock(&limit_lock);
    for (size_t i = 0; i < LIMIT_KINDS; i++) {
        if (kinds[i].fmt != NULL)
            write_held(&kinds[i], kinds[i].sample, rate_window_drain(&kinds[i].window));
    }
    pthread_mutex_unlock(&limit_lock);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_line(LOG_ERROR, "fatal", fmt, ap);
    va_end(ap);
    abort();
}
