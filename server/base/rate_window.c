#include "rate_window.h"

int rate_window_take(struct rate_window *w, int64_t now_ms, unsigned burst, int64_t window_ms,
                     struct rate_held *ended)
{
    *ended = (struct rate_held){0, 0};
    if (w->passed == 0 && w->held == 0) {
        w->start_ms = now_ms;
    } else if (now_ms - w->start_ms >= window_ms) {
        *ended = (struct rate_held){w->held, w->start_ms};
        *w = (struct rate_window){.start_ms = now_ms};
    }
    if (w->passed < burst) {
        w->passed++;
        return 1;
    }
    w->held++;
    return 0;
}

struct rate_held rate_window_drain(struct rate_window *w)
{
    struct rate_held held = {w->held, w->start_ms};
    *w = (struct rate_window){0};
    return held;
}
