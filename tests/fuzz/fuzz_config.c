/* The emulator's command line and environment. The input's first byte picks the one variable
 * the environment sets (the Nth lookup, in the order config_parse makes them; a large N sets
 * none), the rest is NUL-separated arguments, and the variable's value is the last of them.
 * An environment that answered every variable would make the first bad value end the parse
 * before the command line is read. */
#include "fuzz.h"

#include "config.h"

#define ARGS_MAX 32

static const char *env_value;
static unsigned env_pick, env_lookups;

static const char *fake_env(const char *name)
{
    (void)name;
    return env_lookups++ == env_pick ? env_value : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    env_pick = data[0];
    env_lookups = 0;
    data++;
    size--;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[ARGS_MAX + 1] = {"iothub-emulator"};
    int argc = 1;
    for (size_t i = 0; i < size && argc < ARGS_MAX; i += strlen(text + i) + 1)
        argv[argc++] = text + i;
    argv[argc] = NULL;
    env_value = argc > 1 ? argv[argc - 1] : NULL;
    struct config cfg;
    struct ih_diag diag;
    if (config_parse(argc, argv, fake_env, &cfg, &diag) == IH_OK) {
        struct stream_limits limits;
        config_stream_limits(&cfg, &limits);
        config_free(&cfg);
    }
    free(text);
    return 0;
}
