#include "hub_quotas.h"

#include "daily_quota.h"
#include "fsutil.h"
#include "log.h"
#include "monotonic.h"
#include "throttle.h"
#include "time_text.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct hub_quotas {
    long long limits[QUOTA_KIND_COUNT];
    struct throttle throttles[QUOTA_KIND_COUNT];
    pthread_mutex_t daily_mu;  /* one SQLite connection for every thread */
    struct daily_quota *daily; /* NULL without a daily quota */
};

struct hub_quotas *hub_quotas_new(const struct config *cfg, const char *state_dir)
{
    struct hub_quotas *q = calloc(1, sizeof *q);
    char err[300] = "out of memory";
    char *path = NULL;
    if (q == NULL)
        goto fail;
    config_quota_limits(cfg, q->limits);
    for (int k = 0; k < QUOTA_KIND_COUNT; k++)
        throttle_init(&q->throttles[k], q->limits[k], THROTTLE_HUB_WINDOW_MS);
    pthread_mutex_init(&q->daily_mu, NULL);
    /* Before the broker starts: its plugin opens the file this makes. */
    if (q->limits[QUOTA_DAILY] > 0) {
        path = fs_join(state_dir, DAILY_QUOTA_FILE);
        if (path == NULL || (q->daily = daily_quota_open(path, 1, err, sizeof err)) == NULL)
            goto fail;
    }
    free(path);
    return q;
fail:
    log_error("main", "cannot keep the daily message quota: %s", err);
    free(path);
    hub_quotas_free(q);
    return NULL;
}

void hub_quotas_free(struct hub_quotas *q)
{
    if (q == NULL)
        return;
    for (int k = 0; k < QUOTA_KIND_COUNT; k++)
        throttle_destroy(&q->throttles[k]);
    pthread_mutex_destroy(&q->daily_mu);
    daily_quota_close(q->daily);
    free(q);
}

/* The daily count; a failing file lets the operation through (the quota is a test aid, not a
 * reason to refuse work), with a log line. */
static enum daily_take take_daily(struct hub_quotas *q, long long messages, int force,
                                  long long *used)
{
    char err[300];
    pthread_mutex_lock(&q->daily_mu);
    enum daily_take t = daily_quota_take(q->daily, messages, q->limits[QUOTA_DAILY], force,
                                         time_now_ms(), used, err, sizeof err);
    pthread_mutex_unlock(&q->daily_mu);
    if (t == DAILY_FAILED)
        log_warn_limited("quota", "%s; the operation is let through uncounted", err);
    return t;
}

/* What a throttle counts, for its refusal. */
static const char *const counted[QUOTA_KIND_COUNT] = {
    [QUOTA_METHODS] = "method units of 4 KB", [QUOTA_TWIN_READS] = "twin reads",
    [QUOTA_TWIN_UPDATES] = "twin updates",    [QUOTA_C2D] = "cloud-to-device sends",
    [QUOTA_D2C] = "device-to-cloud sends",    [QUOTA_DAILY] = "messages",
};

enum quota_verdict hub_quotas_charge(struct hub_quotas *q, enum quota_kind kind, size_t len,
                                     char *reason, size_t cap)
{
    if (q == NULL)
        return QUOTA_OK;
    long long messages = daily_quota_messages(len);
    long long units = kind == QUOTA_METHODS ? messages : 1; /* rule D19: a 4 KB meter */
    if (!throttle_take(&q->throttles[kind], units, monotonic_ms())) {
        throttle_reason(&q->throttles[kind], counted[kind], config_quota_name(kind), reason, cap);
        return QUOTA_THROTTLED;
    }
    long long used = 0;
    if (q->daily == NULL || take_daily(q, messages, 0, &used) != DAILY_EXCEEDED)
        return QUOTA_OK;
    daily_quota_reason(q->limits[QUOTA_DAILY], used, reason, cap);
    return QUOTA_EXCEEDED;
}

void hub_quotas_count(struct hub_quotas *q, size_t len)
{
    long long used = 0;
    if (q != NULL && q->daily != NULL)
        take_daily(q, daily_quota_messages(len), 1, &used);
}

enum ih_error_code hub_quotas_error(enum quota_verdict v)
{
    return v == QUOTA_THROTTLED ? IH_E_THROTTLED : IH_E_QUOTA_EXCEEDED;
}
