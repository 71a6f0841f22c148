#include "locate.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLUGIN_NAME "iothub_mosquitto_plugin.so"

static int usable(const char *path, int mode)
{
    return access(path, mode) == 0;
}

static char *search_path_for(const char *name)
{
    const char *path = getenv("PATH");
    char *dirs = strdup(path != NULL ? path : "");
    char *found = NULL, *save = NULL;
    if (dirs == NULL)
        return NULL;
    for (char *d = strtok_r(dirs, ":", &save); d != NULL && found == NULL;
         d = strtok_r(NULL, ":", &save)) {
        char candidate[PATH_MAX];
        if (snprintf(candidate, sizeof candidate, "%s/%s", d, name) < (int)sizeof candidate &&
            usable(candidate, X_OK))
            found = strdup(candidate);
    }
    free(dirs);
    return found;
}

int locate_mosquitto(const char *given, char **out, char *err, size_t err_len)
{
    static const char *const fallbacks[] = {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"};
    if (given != NULL) {
        *out = usable(given, X_OK) ? strdup(given) : NULL;
        if (*out == NULL)
            snprintf(err, err_len,
                     "--mosquitto %s is not an executable file: fix the path, or install "
                     "mosquitto with `sudo apt-get install mosquitto`",
                     given);
        return *out != NULL ? 0 : -1;
    }
    *out = search_path_for("mosquitto");
    for (size_t i = 0; *out == NULL && i < sizeof fallbacks / sizeof fallbacks[0]; i++) {
        if (usable(fallbacks[i], X_OK))
            *out = strdup(fallbacks[i]);
    }
    if (*out == NULL)
        snprintf(err, err_len,
                 "mosquitto was not found (PATH, /usr/sbin): install it with `sudo apt-get "
                 "install mosquitto`, or give its path with --mosquitto");
    return *out != NULL ? 0 : -1;
}

/* The directory of the running executable, or NULL. */
static char *own_directory(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    return strdup(dirname(exe));
}

int locate_plugin(const char *given, char **out, char *err, size_t err_len)
{
    if (given != NULL) {
        *out = usable(given, R_OK) ? strdup(given) : NULL;
        if (*out == NULL)
            snprintf(err, err_len, "--broker-plugin %s cannot be read", given);
        return *out != NULL ? 0 : -1;
    }
    char *dir = own_directory();
    char candidates[2][PATH_MAX];
    snprintf(candidates[0], PATH_MAX, "%s/%s", dir != NULL ? dir : ".", PLUGIN_NAME);
    snprintf(candidates[1], PATH_MAX, "%s/../lib/iothub-emulator/%s", dir != NULL ? dir : ".",
             PLUGIN_NAME);
    free(dir);
    *out = NULL;
    for (int i = 0; i < 2 && *out == NULL; i++) {
        if (usable(candidates[i], R_OK))
            *out = realpath(candidates[i], NULL);
    }
    if (*out == NULL)
        snprintf(err, err_len,
                 "the broker plugin %s is missing (looked in %s and %s): rebuild with `cmake "
                 "--build`, reinstall, or give its path with --broker-plugin",
                 PLUGIN_NAME, candidates[0], candidates[1]);
    return *out != NULL ? 0 : -1;
}
