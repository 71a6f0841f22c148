#include "cli_common.h"

#include "protocol/number.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "iothub";

void cli_set_program(const char *name)
{
    program = name;
}

static void say(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void say(const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "%s: %s\n", program, line);
    fflush(stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}

void cli_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}

const char *cli_flag_or_env(const char *flag_value, const char *env_name)
{
    if (flag_value != NULL)
        return flag_value;
    const char *v = getenv(env_name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int cli_parse_int(const char *text, const char *what, int min, int max, int *out)
{
    uint64_t v = 0;
    if (text == NULL || min < 0 || ih_parse_uint(text, (uint64_t)max, &v) != IH_OK ||
        v < (uint64_t)min) {
        cli_error("%s must be a whole number from %d to %d, not '%s'", what, min, max,
                  text != NULL ? text : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

void cli_ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}
