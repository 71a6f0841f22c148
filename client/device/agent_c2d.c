/* The agent's cloud-to-device messages (docs/protocol.md §12.4, rule D13): each one it gets is
 * logged on one line, as a device app would hand it on; libmosquitto acknowledges it with a
 * PUBACK, which completes it at the hub (the emulator counts it completed once the broker holds
 * it: docs/differences.md). Runs on the MQTT thread. */
#include "agent.h"

#include "cli_common.h"

#include "protocol/base64.h"
#include "protocol/c2d_bag.h"
#include "protocol/utf8.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most of a body a log line shows, in bytes. */
#define LOG_BODY_MAX 1000

/* s with its control characters as \xNN, so that the line stays one line. */
static void put_plain(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

static int is_utf8(const char *body, size_t len)
{
    struct ih_utf8_stream check;
    ih_utf8_stream_init(&check);
    return ih_utf8_stream_feed(&check, body, len) == 0 && ih_utf8_stream_end(&check) == 0;
}

/* The body as a JSON string when it is UTF-8, else base64:..., its first LOG_BODY_MAX bytes
 * (cut between two characters), with "... (N bytes)" when it is longer. */
static void put_body(FILE *out, const char *body, size_t len)
{
    size_t shown = len > LOG_BODY_MAX ? LOG_BODY_MAX : len;
    char *text = NULL;
    if (is_utf8(body, len)) {
        while (shown < len && ((unsigned char)body[shown] & 0xc0) == 0x80)
            shown--; /* not inside a character */
        json_t *s = json_stringn(body, shown);
        text = s != NULL ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        fputs(text != NULL ? text : "\"\"", out);
    } else {
        ih_base64_encode((const unsigned char *)body, shown, &text);
        fprintf(out, "base64:%s", text != NULL ? text : "");
    }
    free(text);
    if (shown < len)
        fprintf(out, "... (%zu bytes)", len);
}

void agent_on_c2d(void *ctx, const char *topic, const void *payload, size_t len)
{
    (void)ctx;
    struct ih_c2d_bag bag;
    struct ih_diag why = {{0}};
    if (ih_c2d_bag_parse(topic, strlen(topic), &bag, &why) != IH_OK) {
        cli_error("a cloud-to-device message the agent cannot read (%s): %.300s",
                  why.msg[0] != '\0' ? why.msg : "out of memory", topic);
        return;
    }
    char *line = NULL;
    size_t line_len = 0;
    FILE *out = open_memstream(&line, &line_len);
    if (out == NULL) {
        ih_c2d_bag_free(&bag);
        return;
    }
    const char *id = ih_c2d_bag_get(&bag, "$.mid");
    fputs("c2d message ", out);
    if (id != NULL) {
        fputc('\'', out);
        put_plain(out, id);
        fputs("': ", out);
    } else {
        fputs("(no message id): ", out);
    }
    put_body(out, payload != NULL ? payload : "", payload != NULL ? len : 0);
    /* Every property but the id (shown) and $.to (always the device's own address). */
    for (size_t i = 0; i < bag.count; i++) {
        const struct ih_c2d_bag_pair *p = &bag.pairs[i];
        if (strcmp(p->name, "$.mid") == 0 || strcmp(p->name, "$.to") == 0)
            continue;
        fputc(' ', out);
        put_plain(out, p->name);
        fputc('=', out);
        put_plain(out, p->value);
    }
    if (fclose(out) == 0)
        cli_info("%s", line);
    free(line);
    ih_c2d_bag_free(&bag);
}
