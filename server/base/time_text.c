#include "time_text.h"

#include "protocol/hub_error.h"
#include "protocol/number.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define FRACTION_DIGITS 7
#define FRACTION_MAX_INPUT 9 /* nanoseconds; more is not a time anyone wrote */

struct fields {
    int year, month, day, hour, minute, second;
    char fraction[FRACTION_DIGITS + 1];
    int offset_minutes; /* east of UTC */
};

/* Exactly n digits at *p (n <= 4); advances past them. */
static int digits(const char **p, int n, int *out)
{
    uint64_t v = 0;
    if (ih_parse_uint_n(*p, (size_t)n, 9999, &v) != IH_OK)
        return -1;
    *p += n;
    *out = (int)v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int read_date(const char **p, struct fields *f)
{
    if (digits(p, 4, &f->year) != 0 || expect(p, '-') != 0 || digits(p, 2, &f->month) != 0 ||
        expect(p, '-') != 0 || digits(p, 2, &f->day) != 0)
        return -1;
    if (f->year < 1 || f->month < 1 || f->month > 12 || f->day < 1 ||
        f->day > days_in_month(f->year, f->month))
        return -1;
    return 0;
}

static int read_fraction(const char **p, struct fields *f)
{
    size_t n = strspn(*p, "0123456789");
    if (n == 0 || n > FRACTION_MAX_INPUT)
        return -1;
    for (size_t i = 0; i < FRACTION_DIGITS; i++)
        f->fraction[i] = i < n ? (*p)[i] : '0';
    *p += n;
    return 0;
}

static int read_clock(const char **p, struct fields *f)
{
    if (digits(p, 2, &f->hour) != 0 || expect(p, ':') != 0 || digits(p, 2, &f->minute) != 0)
        return -1;
    if (**p == ':') {
        (*p)++;
        if (digits(p, 2, &f->second) != 0)
            return -1;
        if (**p == '.' || **p == ',') {
            (*p)++;
            if (read_fraction(p, f) != 0)
                return -1;
        }
    }
    /* 60 is a leap second, which a UTC clock may show. */
    return f->hour > 23 || f->minute > 59 || f->second > 60 ? -1 : 0;
}

static int read_zone(const char **p, struct fields *f)
{
    if (**p == '\0')
        return 0;
    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        return 0;
    }
    int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0, hours, minutes;
    if (sign == 0)
        return -1;
    (*p)++;
    if (digits(p, 2, &hours) != 0 || (**p == ':' && expect(p, ':') != 0) ||
        digits(p, 2, &minutes) != 0 || hours > 23 || minutes > 59)
        return -1;
    f->offset_minutes = sign * (hours * 60 + minutes);
    return 0;
}

static int parse(const char *in, struct fields *f)
{
    const char *p = in;
    memset(f, 0, sizeof *f);
    memset(f->fraction, '0', FRACTION_DIGITS);
    if (read_date(&p, f) != 0)
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (read_clock(&p, f) != 0 || read_zone(&p, f) != 0)
            return -1;
    }
    return *p == '\0' ? 0 : -1;
}

/* The parsed time in seconds since the epoch, UTC. */
static time_t seconds_of(const struct fields *f)
{
    struct tm tm = {
        .tm_year = f->year - 1900,
        .tm_mon = f->month - 1,
        .tm_mday = f->day,
        .tm_hour = f->hour,
        .tm_min = f->minute,
        .tm_sec = f->second,
    };
    return timegm(&tm) - (time_t)f->offset_minutes * 60;
}

int time_text_normalize(const char *in, char out[TIME_TEXT_NORMAL_SIZE])
{
    struct fields f;
    if (in == NULL || parse(in, &f) != 0)
        return -1;
    time_t t = seconds_of(&f);
    struct tm utc;
    if (gmtime_r(&t, &utc) == NULL || utc.tm_year + 1900 < 1 || utc.tm_year + 1900 > 9999)
        return -1;
    int n = snprintf(out, TIME_TEXT_NORMAL_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%sZ",
                     utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                     utc.tm_sec, f.fraction);
    return n == TIME_TEXT_NORMAL_SIZE - 1 ? 0 : -1;
}

void time_text_now(char out[TIME_TEXT_SIZE])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (ih_format_timestamp_utc(&now, out, TIME_TEXT_SIZE) != IH_OK)
        snprintf(out, TIME_TEXT_SIZE, "%s", TIME_NEVER);
}

int time_text_to_ms(const char *in, int64_t *ms)
{
    struct fields f;
    if (in == NULL || parse(in, &f) != 0)
        return -1;
    time_t t = seconds_of(&f);
    int millis = (f.fraction[0] - '0') * 100 + (f.fraction[1] - '0') * 10 + (f.fraction[2] - '0');
    *ms = (int64_t)t * 1000 + millis;
    return 0;
}

void time_text_of_ms(int64_t ms, char out[TIME_TEXT_SIZE])
{
    struct timespec at = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    if (ms < 0 || ih_format_timestamp_utc(&at, out, TIME_TEXT_SIZE) != IH_OK)
        snprintf(out, TIME_TEXT_SIZE, "%s", TIME_NEVER);
}

int64_t time_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
