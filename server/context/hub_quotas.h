/* The hub's operation throttles and its daily message quota, as the emulator applies them to
 * the operations it serves itself: direct methods, twins and cloud-to-device sends
 * (docs/protocol.md rule D19). Telemetry is charged by the broker's plugin, against the same
 * daily count. The limits are config_quota_limits'; with none set (the relaxed default), every
 * charge passes and nothing is written. Thread-safe. */
#ifndef HUB_QUOTAS_H
#define HUB_QUOTAS_H

#include "config.h"

#include "protocol/hub_error.h"

#include <stddef.h>

struct hub_quotas;

enum quota_verdict {
    QUOTA_OK,
    QUOTA_THROTTLED, /* 429 429001: past an operation throttle */
    QUOTA_EXCEEDED,  /* 403 403002: the day's messages are used */
};

/* The quotas of cfg; the daily count is kept in the state directory. NULL with the reason
 * logged when its file cannot be opened. */
struct hub_quotas *hub_quotas_new(const struct config *cfg, const char *state_dir);
void hub_quotas_free(struct hub_quotas *q);

/* One operation of kind (not QUOTA_D2C or QUOTA_DAILY) whose payload is len bytes: its
 * throttle (one unit, or for methods one per 4 KB), then the daily quota. On refusal reason
 * says which limit, for the error body. q NULL: always OK. */
enum quota_verdict hub_quotas_charge(struct hub_quotas *q, enum quota_kind kind, size_t len,
                                     char *reason, size_t cap);

/* The hub's error for a refusal: 429 429001 when throttled, 403 403002 past the daily quota. */
enum ih_error_code hub_quotas_error(enum quota_verdict v);

/* Counts what the hub already did (a method's answer) against the daily quota. */
void hub_quotas_count(struct hub_quotas *q, size_t len);

#endif
