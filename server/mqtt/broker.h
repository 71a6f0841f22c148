/* The broker supervisor (docs/architecture.md): runs `mosquitto -c CONF` as a child that dies
 * with the emulator, relays its log lines, and restarts it with backoff when it dies. */
#ifndef BROKER_H
#define BROKER_H

#include <stddef.h>

struct broker;

/* Starts mosquitto with the config file conf_path and waits until it says it is running (its
 * listeners are open). On failure err says why, with mosquitto's own last error line. */
int broker_start(const char *mosquitto_path, const char *conf_path, struct broker **out, char *err,
                 size_t err_len);

/* Stops the child (SIGTERM, then SIGKILL after 5 s) and frees everything. NULL is a no-op. */
void broker_stop(struct broker *b);

/* How many times the broker died and was started again. */
unsigned broker_restart_count(struct broker *b);

/* The child's pid, or -1 between a death and the restart (tests use it to kill the broker). */
int broker_pid(struct broker *b);

#endif
