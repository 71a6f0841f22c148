#include "telemetry_json.h"

#include "json_body.h"

json_t *telemetry_json(const struct telemetry_record *r)
{
    json_t *m =
        json_pack("{s:s, s:s?, s:s, s:I, s:o, s:o}", "deviceId", r->device_id, "moduleId",
                  r->module_id, "enqueuedTimeUtc", r->enqueued_time, "sequenceNumber",
                  (json_int_t)r->sequence_number, "properties", json_object_of_text(r->properties),
                  "systemProperties", json_object_of_text(r->system_properties));
    if (m != NULL && json_set_body(m, r->body, r->body_len) != 0) {
        json_decref(m);
        m = NULL;
    }
    return m;
}
