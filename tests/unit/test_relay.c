/* Unit tests of server/streams/relay.[ch], the bytes of a bridge without I/O: events go in
 * (pieces of frames, a side may write, a side closed or left) and the actions it asks of each
 * side's connection (struct relay_io) are recorded here. Frames are joined from their pieces,
 * a full queue pauses its sender until it drains, a message past the limit ends the stream with
 * 1009, a side's close code reaches the other side, and a dropped connection closes its peer. */
#include "relay.h"

#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADROOM 16
#define MEMORY (512 * 1024) /* pauses above 256 KiB queued, resumes below 64 KiB */
#define ID "0123456789abcdef0123456789abcdef"

/* One side's connection, as the relay sees it through its io. */
struct fake_conn {
    int want_write;        /* asked to call relay_writable */
    int reading;           /* 1 unless paused */
    int pauses, resumes;   /* how often */
    int closing;           /* asked to close after its queue */
    int fail_writes;       /* io->write fails */
    unsigned char *frames; /* every frame written, back to back */
    size_t frames_len, frame_count;
    size_t queued_to_peer; /* what the relay last said it holds for the peer */
};

static void fake_want_write(void *conn)
{
    ((struct fake_conn *)conn)->want_write = 1;
}

static void fake_read_flow(void *conn, int on)
{
    struct fake_conn *c = conn;
    c->reading = on;
    if (on)
        c->resumes++;
    else
        c->pauses++;
}

static void fake_close_after_flush(void *conn)
{
    struct fake_conn *c = conn;
    c->closing = 1;
    c->want_write = 1;
}

static int fake_write(void *conn, unsigned char *frame, size_t len)
{
    struct fake_conn *c = conn;
    if (c->fail_writes)
        return -1;
    /* The writer may use the headroom before the frame: touch all of it (ASan checks it). */
    memset(frame - HEADROOM, 0xee, HEADROOM);
    c->frames = realloc(c->frames, c->frames_len + len);
    ck_assert_ptr_nonnull(c->frames);
    memcpy(c->frames + c->frames_len, frame, len);
    c->frames_len += len;
    c->frame_count++;
    return 0;
}

static void fake_queued(void *conn, enum stream_side to, size_t bytes)
{
    (void)to;
    ((struct fake_conn *)conn)->queued_to_peer = bytes;
}

static const struct relay_io fake_io = {fake_want_write, fake_read_flow, fake_close_after_flush,
                                        fake_write, fake_queued};

struct fixture {
    struct relay *relay;
    struct bridge *bridge;
    struct fake_conn side[2]; /* by enum stream_side */
};

static void setup(struct fixture *f, size_t max_message)
{
    memset(f, 0, sizeof *f);
    f->side[0].reading = f->side[1].reading = 1;
    struct relay_limits limits = {MEMORY, max_message, HEADROOM};
    f->relay = relay_new(&limits, &fake_io);
    ck_assert_ptr_nonnull(f->relay);
    f->bridge = relay_join(f->relay, ID, STREAM_SERVICE, &f->side[STREAM_SERVICE]);
    ck_assert_ptr_eq(relay_join(f->relay, ID, STREAM_DEVICE, &f->side[STREAM_DEVICE]), f->bridge);
}

static void teardown(struct fixture *f)
{
    relay_free(f->relay);
    free(f->side[0].frames);
    free(f->side[1].frames);
}

static struct ws_piece piece(const void *data, size_t len, uint64_t remaining, int first)
{
    struct ws_piece p = {data, len, remaining, first, 1, 1};
    return p;
}

/* Lets side `to` write until the relay has nothing more for it. */
static enum relay_write drain(struct fixture *f, enum stream_side to)
{
    enum relay_write w = RELAY_WRITE_DONE;
    for (int i = 0; i < 100000; i++) {
        f->side[to].want_write = 0;
        w = relay_writable(f->bridge, to);
        if (w != RELAY_WRITE_DONE || !f->side[to].want_write)
            return w;
    }
    ck_abort_msg("the relay never stops writing");
    return w;
}

START_TEST(pieces_are_joined_into_one_frame)
{
    struct fixture f;
    setup(&f, 0);
    unsigned char payload[300];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)i;
    /* One 300-byte binary frame from the service, in three pieces as the socket gave them. */
    struct ws_piece a = piece(payload, 100, 200, 1), b = piece(payload + 100, 150, 50, 1),
                    c = piece(payload + 250, 50, 0, 1);
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_SERVICE, &a), RELAY_OK);
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_SERVICE, &b), RELAY_OK);
    ck_assert_int_eq(f.side[STREAM_DEVICE].want_write, 0); /* nothing whole yet */
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_SERVICE, &c), RELAY_OK);
    ck_assert_int_eq(f.side[STREAM_DEVICE].want_write, 1);
    ck_assert_uint_eq(relay_queued(f.bridge, STREAM_DEVICE), 300);
    ck_assert_uint_eq(f.side[STREAM_SERVICE].queued_to_peer, 300);

    ck_assert_int_eq(drain(&f, STREAM_DEVICE), RELAY_WRITE_DONE);
    struct fake_conn *d = &f.side[STREAM_DEVICE];
    ck_assert_uint_eq(d->frame_count, 1);
    /* FIN + binary, 16-bit length 300, unmasked, then the payload unchanged. */
    ck_assert_uint_eq(d->frames_len, 4 + 300);
    ck_assert_uint_eq(d->frames[0], 0x82);
    ck_assert_uint_eq(d->frames[1], 126);
    ck_assert_uint_eq((d->frames[2] << 8) | d->frames[3], 300);
    ck_assert_mem_eq(d->frames + 4, payload, 300);
    ck_assert_uint_eq(relay_queued(f.bridge, STREAM_DEVICE), 0);
    ck_assert_uint_eq(f.side[STREAM_SERVICE].frame_count, 0); /* nothing flows back */
    teardown(&f);
}
END_TEST

START_TEST(a_text_message_in_two_frames_keeps_its_type_and_boundaries)
{
    struct fixture f;
    setup(&f, 0);
    struct ws_piece first = {"hel", 3, 0, 1, 0, 0}, rest = {"lo", 2, 0, 0, 1, 0};
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_DEVICE, &first), RELAY_OK);
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_DEVICE, &rest), RELAY_OK);
    drain(&f, STREAM_SERVICE);
    struct fake_conn *s = &f.side[STREAM_SERVICE];
    ck_assert_uint_eq(s->frame_count, 2);
    static const unsigned char expected[] = {0x01, 3, 'h', 'e', 'l', 0x80, 2, 'l', 'o'};
    ck_assert_uint_eq(s->frames_len, sizeof expected);
    ck_assert_mem_eq(s->frames, expected, sizeof expected);
    teardown(&f);
}
END_TEST

START_TEST(a_full_queue_pauses_its_sender_until_it_drains)
{
    struct fixture f;
    setup(&f, 0);
    static unsigned char block[64 * 1024];
    struct ws_piece p = piece(block, sizeof block, 0, 1);
    /* Four 64 KiB frames make 256 KiB: not above half the connection memory yet. */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(relay_receive(f.bridge, STREAM_SERVICE, &p), RELAY_OK);
    ck_assert_int_eq(f.side[STREAM_SERVICE].pauses, 0);
    /* The fifth goes past 256 KiB: the service is not read any more. */
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_SERVICE, &p), RELAY_OK);
    ck_assert_int_eq(f.side[STREAM_SERVICE].pauses, 1);
    ck_assert_int_eq(f.side[STREAM_SERVICE].reading, 0);
    ck_assert_uint_eq(relay_queued(f.bridge, STREAM_DEVICE), 5 * sizeof block);
    /* The device takes frames: the service stays paused until less than 64 KiB is queued. */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(relay_writable(f.bridge, STREAM_DEVICE), RELAY_WRITE_DONE);
        ck_assert_int_eq(f.side[STREAM_SERVICE].reading, 0);
    }
    ck_assert_int_eq(relay_writable(f.bridge, STREAM_DEVICE), RELAY_WRITE_DONE);
    ck_assert_int_eq(f.side[STREAM_SERVICE].reading, 1);
    ck_assert_int_eq(f.side[STREAM_SERVICE].resumes, 1);
    ck_assert_uint_eq(f.side[STREAM_DEVICE].frame_count, 5);
    teardown(&f);
}
END_TEST

START_TEST(a_message_past_the_limit_ends_the_stream_with_1009)
{
    struct fixture f;
    setup(&f, 1000);
    static unsigned char data[1001];
    struct ws_piece ok = piece(data, 600, 0, 1);
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_DEVICE, &ok), RELAY_OK);
    /* A message of two frames, 600 + 401 bytes: the second frame's header says it is too big
     * before its bytes are held. */
    struct ws_piece head = {data, 600, 0, 1, 0, 1}, tail = {data, 1, 400, 0, 1, 1};
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_DEVICE, &head), RELAY_OK);
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_DEVICE, &tail), RELAY_TOO_BIG);
    ck_assert_int_eq(f.side[STREAM_SERVICE].closing, 1);
    /* The service gets what was whole before, then the Close with 1009. */
    ck_assert_int_eq(drain(&f, STREAM_SERVICE), RELAY_WRITE_CLOSE);
    ck_assert_uint_eq(f.side[STREAM_SERVICE].frame_count, 2);
    const unsigned char *reason;
    size_t len;
    ck_assert_int_eq(relay_close_code(f.bridge, &reason, &len), 1009);
    ck_assert_uint_eq(len, strlen("message too big"));
    ck_assert_mem_eq(reason, "message too big", len);
    teardown(&f);
}
END_TEST

START_TEST(a_close_code_reaches_the_other_side_after_its_queue)
{
    struct fixture f;
    setup(&f, 0);
    struct ws_piece p = piece("bye", 3, 0, 1);
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_SERVICE, &p), RELAY_OK);
    relay_peer_closed(f.bridge, STREAM_SERVICE, 4000, "done", 4);
    ck_assert_int_eq(f.side[STREAM_DEVICE].closing, 1);
    ck_assert_int_eq(f.side[STREAM_SERVICE].closing, 0);
    /* First the queued frame, in a write of its own; then the Close may go. */
    ck_assert_int_eq(relay_writable(f.bridge, STREAM_DEVICE), RELAY_WRITE_DONE);
    ck_assert_uint_eq(f.side[STREAM_DEVICE].frame_count, 1);
    ck_assert_int_eq(relay_writable(f.bridge, STREAM_DEVICE), RELAY_WRITE_CLOSE);
    const unsigned char *reason;
    size_t len;
    ck_assert_int_eq(relay_close_code(f.bridge, &reason, &len), 4000);
    ck_assert_mem_eq(reason, "done", 4);
    /* Data from the closing side's peer is not passed on any more. */
    ck_assert_int_eq(relay_receive(f.bridge, STREAM_SERVICE, &p), RELAY_OK);
    ck_assert_uint_eq(relay_queued(f.bridge, STREAM_DEVICE), 0);
    teardown(&f);
}
END_TEST

START_TEST(a_close_without_a_code_goes_on_as_a_normal_close)
{
    struct fixture f;
    setup(&f, 0);
    relay_peer_closed(f.bridge, STREAM_DEVICE, WS_CLOSE_NO_STATUS, NULL, 0);
    ck_assert_int_eq(drain(&f, STREAM_SERVICE), RELAY_WRITE_CLOSE);
    const unsigned char *reason;
    size_t len;
    ck_assert_int_eq(relay_close_code(f.bridge, &reason, &len), WS_CLOSE_NORMAL);
    teardown(&f);
}
END_TEST

START_TEST(a_dropped_connection_closes_its_peer_and_frees_the_bridge)
{
    struct fixture f;
    setup(&f, 0);
    static unsigned char block[64 * 1024];
    struct ws_piece p = piece(block, sizeof block, 0, 1);
    /* The device is paused, its queue towards the service full, when the service drops. */
    for (int i = 0; i < 5; i++)
        relay_receive(f.bridge, STREAM_DEVICE, &p);
    ck_assert_int_eq(f.side[STREAM_DEVICE].reading, 0);
    enum stream_side first = STREAM_DEVICE;
    ck_assert_int_eq(relay_left(f.relay, f.bridge, STREAM_SERVICE, &first), WS_CLOSE_GOING_AWAY);
    ck_assert_int_eq(first, STREAM_SERVICE);
    /* The device is read again (to see its close) and closed once its queue is out. */
    ck_assert_int_eq(f.side[STREAM_DEVICE].reading, 1);
    ck_assert_int_eq(f.side[STREAM_DEVICE].closing, 1);
    ck_assert_int_eq(drain(&f, STREAM_DEVICE), RELAY_WRITE_CLOSE);
    const unsigned char *reason;
    size_t len;
    ck_assert_int_eq(relay_close_code(f.bridge, &reason, &len), WS_CLOSE_GOING_AWAY);
    ck_assert_mem_eq(reason, "the peer's connection dropped", len);
    /* The device goes too: the bridge is freed (ASan reports it if not), the code the first. */
    ck_assert_int_eq(relay_left(f.relay, f.bridge, STREAM_DEVICE, &first), WS_CLOSE_GOING_AWAY);
    ck_assert_int_eq(first, STREAM_SERVICE);
    teardown(&f);
}
END_TEST

START_TEST(what_a_side_sends_before_its_peer_comes_waits_for_it)
{
    struct relay_limits limits = {MEMORY, 0, HEADROOM};
    struct relay *r = relay_new(&limits, &fake_io);
    struct fake_conn device = {.reading = 1}, service = {.reading = 1};
    struct bridge *b = relay_join(r, ID, STREAM_DEVICE, &device);
    struct ws_piece p = piece("early", 5, 0, 1);
    ck_assert_int_eq(relay_receive(b, STREAM_DEVICE, &p), RELAY_OK);
    ck_assert_uint_eq(relay_queued(b, STREAM_SERVICE), 5);
    ck_assert_ptr_eq(relay_join(r, ID, STREAM_SERVICE, &service), b);
    ck_assert_int_eq(service.want_write, 1);
    ck_assert_int_eq(relay_writable(b, STREAM_SERVICE), RELAY_WRITE_DONE);
    ck_assert_uint_eq(service.frame_count, 1);
    ck_assert_mem_eq(service.frames + 2, "early", 5);
    relay_free(r);
    free(service.frames);
}
END_TEST

START_TEST(a_failed_write_is_reported)
{
    struct fixture f;
    setup(&f, 0);
    struct ws_piece p = piece("x", 1, 0, 1);
    relay_receive(f.bridge, STREAM_SERVICE, &p);
    f.side[STREAM_DEVICE].fail_writes = 1;
    ck_assert_int_eq(relay_writable(f.bridge, STREAM_DEVICE), RELAY_WRITE_FAILED);
    teardown(&f);
}
END_TEST

static Suite *relay_suite(void)
{
    Suite *s = suite_create("relay");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pieces_are_joined_into_one_frame);
    tcase_add_test(tc, a_text_message_in_two_frames_keeps_its_type_and_boundaries);
    tcase_add_test(tc, a_full_queue_pauses_its_sender_until_it_drains);
    tcase_add_test(tc, a_message_past_the_limit_ends_the_stream_with_1009);
    tcase_add_test(tc, a_close_code_reaches_the_other_side_after_its_queue);
    tcase_add_test(tc, a_close_without_a_code_goes_on_as_a_normal_close);
    tcase_add_test(tc, a_dropped_connection_closes_its_peer_and_frees_the_bridge);
    tcase_add_test(tc, what_a_side_sends_before_its_peer_comes_waits_for_it);
    tcase_add_test(tc, a_failed_write_is_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(relay_suite());
}
