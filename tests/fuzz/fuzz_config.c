/* The emulator's command line and environment: the input is NUL-separated arguments, and the
 * environment answers every variable with the last argument. */
#include "fuzz.h"

#include "config.h"

#define ARGS_MAX 32

static const char *env_value;

static const char *fake_env(const char *name)
{
    (void)name;
    return env_value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
    if (config_parse(argc, argv, fake_env, &cfg, &diag) == IH_OK)
        config_free(&cfg);
    free(text);
    return 0;
}
