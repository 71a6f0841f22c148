/* A first program with libiothub-service: asks a device for a stream, sends one message through
 * it, and prints what comes back (run `iothub-device echo` on the device side).
 *
 *   cc stream_echo.c $(pkg-config --cflags --libs iothub-service) -o stream_echo
 *   IOTHUB_CONNECTION_STRING='HostName=...' IOTHUB_CA_FILE=ca.pem ./stream_echo dev1 hello
 *
 * IOTHUB_HTTPS_PORT sets the hub's port when it is not 443 (an emulator on a free port). */
#include <iothub_service.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *doing, const struct iothub_error *err)
{
    fprintf(stderr, "stream_echo: %s: HTTP %d %s: %s\n", doing, err->status, err->name,
            err->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: stream_echo DEVICE MESSAGE\n");
        return 2;
    }
    const char *port = getenv("IOTHUB_HTTPS_PORT");
    struct iothub_service_options o = {
        .connection_string = getenv("IOTHUB_CONNECTION_STRING"),
        .ca_file = getenv("IOTHUB_CA_FILE"),
        .port = port != NULL ? atoi(port) : 0,
    };
    struct iothub_service *svc;
    struct iothub_error err;
    if (iothub_service_new(&o, &svc, &err) != 0)
        return fail("connecting", &err);

    struct iothub_stream_request req = {.device_id = argv[1], .name = "echo"};
    struct iothub_stream_result res;
    struct iothub_stream *s = NULL;
    int rc = 1;
    if (iothub_stream_initiate(svc, &req, &res, &err) != 0)
        fail("asking for a stream", &err);
    else if (!res.accepted)
        fprintf(stderr, "stream_echo: the device said no\n");
    else if (iothub_stream_open(svc, &res, NULL, &s, &err) != 0)
        fail("opening the stream", &err);
    else if (iothub_stream_write(s, argv[2], strlen(argv[2])) == 0) {
        char buf[256];
        size_t want = strlen(argv[2]), got = 0;
        ssize_t n;
        while (got < want && (n = iothub_stream_read(s, buf, sizeof buf)) > 0) {
            fwrite(buf, 1, (size_t)n, stdout);
            got += (size_t)n;
        }
        printf("\n");
        rc = got == want ? 0 : 1;
    }
    iothub_stream_free(s);
    iothub_service_free(svc);
    return rc;
}
