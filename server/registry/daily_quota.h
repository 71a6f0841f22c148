/* The hub's daily message quota (docs/protocol.md rule D19): how many messages, counted in 4 KB
 * blocks, the hub took in the current UTC day. Kept in its own SQLite file beside the registry,
 * because two processes charge it: the broker's plugin for telemetry and the emulator for
 * methods, twins and cloud-to-device messages. The count survives a restart, as the hub's does,
 * and starts again from 0 at 00:00 UTC. No logging: callers get the reason in err. One
 * connection per thread. */
#ifndef DAILY_QUOTA_H
#define DAILY_QUOTA_H

#include <stddef.h>
#include <stdint.h>

/* The file's name in the state directory. */
#define DAILY_QUOTA_FILE "quota.db"
/* The hub meters messages in blocks of this many bytes (S1 tier). */
#define DAILY_QUOTA_BLOCK 4096

struct daily_quota;

/* Opens the count at path; create != 0 makes the file when missing (the emulator, at start),
 * else it must exist (the plugin). NULL with err when it cannot. */
struct daily_quota *daily_quota_open(const char *path, int create, char *err, size_t cap);
void daily_quota_close(struct daily_quota *q);

/* The messages a payload of len bytes counts as: one per 4 KB block begun, one at least. */
long long daily_quota_messages(size_t len);

enum daily_take {
    DAILY_TAKEN,    /* counted */
    DAILY_EXCEEDED, /* it would pass limit: not counted */
    DAILY_FAILED,   /* the file failed: err says why */
};

/* Counts messages against the UTC day of now_ms (milliseconds since 1970), unless the day's count
 * would then pass limit; force counts them anyway (what was already done, such as a method's
 * answer). *used: the day's count afterwards, or as it stands when exceeded. */
enum daily_take daily_quota_take(struct daily_quota *q, long long messages, long long limit,
                                 int force, int64_t now_ms, long long *used, char *err, size_t cap);

/* The reason a refusal gives when the day's count is used up, for error bodies and logs. */
void daily_quota_reason(long long limit, long long used, char *out, size_t cap);

#endif
