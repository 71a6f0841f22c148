/* Finding the programs and files the emulator runs with: the mosquitto binary and the broker
 * plugin. A missing one is a start-up error that names the fix. */
#ifndef LOCATE_H
#define LOCATE_H

#include <stddef.h>

/* given (from --mosquitto) when set, else `mosquitto` on PATH, /usr/sbin, /usr/local/sbin.
 * *out: a new string. On failure err says what to install. */
int locate_mosquitto(const char *given, char **out, char *err, size_t err_len);

/* given (from --broker-plugin) when set, else iothub_mosquitto_plugin.so next to this executable
 * (the build tree) or in ../lib/iothub-emulator/ (an install). */
int locate_plugin(const char *given, char **out, char *err, size_t err_len);

#endif
