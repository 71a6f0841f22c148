/* What the two command-line tools share: reading flags and the environment, and saying what
 * went wrong in one line that names the fix. */
#ifndef IH_CLI_COMMON_H
#define IH_CLI_COMMON_H

#include <stdio.h>

/* Exit codes of both tools. */
#define CLI_OK 0
#define CLI_FAILED 1
#define CLI_USAGE 2
#define CLI_REJECTED 3 /* iothub-service: the device answered no */

/* The program's name for messages ("iothub-service"). */
void cli_set_program(const char *name);

/* "<program>: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "<program>: <message>\n" on stderr, flushed at once (progress for people and logs). */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The flag's value if given, else the environment variable's, else NULL. */
const char *cli_flag_or_env(const char *flag_value, const char *env_name);

/* A whole number from min to max. Returns 0, or -1 after saying what is wrong with it. */
int cli_parse_int(const char *text, const char *what, int min, int max, int *out);

/* Writes to a closed peer fail with EPIPE instead of killing the process. SIGINT and SIGTERM
 * keep their default: the tools stop at once, and the hub notices the closed connections. */
void cli_ignore_sigpipe(void);

#endif
