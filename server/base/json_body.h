/* A message body in a JSON view (the telemetry and cloud-to-device queues read back): `body`, the
 * text, when it is UTF-8 (control characters allowed: JSON escapes them), and always
 * `bodyBase64`, the bytes. */
#ifndef JSON_BODY_H
#define JSON_BODY_H

#include <jansson.h>

#include <stddef.h>

/* Stored objects read back ({} when the text is not a JSON object). A new reference. */
json_t *json_object_of_text(const char *text);

/* Sets `body` and `bodyBase64` on obj. Returns 0, or -1 when out of memory. */
int json_set_body(json_t *obj, const void *body, size_t len);

#endif
