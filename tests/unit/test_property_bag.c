/* Unit tests of client/protocol/property_bag.[ch]: the pieces the telemetry and C2D topic readers
 * share (docs/protocol.md rules D10 and D13). */
#include "protocol/property_bag.h"

#include "unit.h"

static struct ih_span span_of(const char *text)
{
    return (struct ih_span){text, strlen(text)};
}

static int nonempty(struct ih_span item)
{
    return item.len > 0;
}

START_TEST(items_split_at_ampersands_empty_ones_included)
{
    struct ih_span rest = span_of("a=1&&b&=x&");
    const char *expected[] = {"a=1", "", "b", "=x"};
    for (size_t i = 0; i < 4; i++) {
        struct ih_span item = ih_bag_next_item(&rest);
        ck_assert_uint_eq(item.len, strlen(expected[i]));
        ck_assert(memcmp(item.p, expected[i], item.len) == 0);
    }
    ck_assert_uint_eq(rest.len, 0);
    ck_assert_uint_eq(ih_bag_count(span_of("a=1&&b&=x&"), nonempty), 4 - 1);
    ck_assert_uint_eq(ih_bag_count(span_of(""), nonempty), 0);
}
END_TEST

START_TEST(an_item_decodes_at_its_first_equals)
{
    char *name = NULL, *value = NULL;
    ck_assert_int_eq(ih_bag_decode_item(span_of("%24.ct=a%3Db=c"), &name, &value), IH_OK);
    ck_assert_str_eq(name, "$.ct");
    ck_assert_str_eq(value, "a=b=c");
    free(name);
    free(value);
    ck_assert_int_eq(ih_bag_decode_item(span_of("flag"), &name, &value), IH_OK);
    ck_assert_str_eq(name, "flag");
    ck_assert_ptr_null(value);
    free(name);
}
END_TEST

START_TEST(levels_literals_and_the_bag_after_them)
{
    struct ih_span rest = span_of("devices/d1/messages/events/k=v/"), level;
    ck_assert_int_eq(ih_span_take_literal(&rest, "devices/"), 1);
    ck_assert_int_eq(ih_span_take_literal(&rest, "modules/"), 0);
    ck_assert_int_eq(ih_span_take_level(&rest, &level), 1);
    ck_assert(level.len == 2 && memcmp(level.p, "d1", 2) == 0);
    ck_assert_int_eq(ih_span_take_literal(&rest, "messages/events"), 1);
    struct ih_span bag = ih_bag_of_rest(rest);
    ck_assert(bag.len == 3 && memcmp(bag.p, "k=v", 3) == 0);
    ck_assert_uint_eq(ih_bag_of_rest(span_of("")).len, 0);
    ck_assert_uint_eq(ih_bag_of_rest(span_of("/")).len, 0);
    struct ih_span empty_level = span_of("/x");
    ck_assert_int_eq(ih_span_take_level(&empty_level, &level), 0);
}
END_TEST

START_TEST(topics_are_bounded_and_free_of_nul)
{
    static char long_topic[IH_BAG_TOPIC_MAX_LEN + 1];
    memset(long_topic, 'a', sizeof long_topic);
    ck_assert_int_eq(ih_bag_topic_check(long_topic, IH_BAG_TOPIC_MAX_LEN, NULL), IH_OK);
    ck_assert_int_eq(ih_bag_topic_check(long_topic, sizeof long_topic, NULL), IH_ERR_TOO_LONG);
    ck_assert_int_eq(ih_bag_topic_check("a\0b", 3, NULL), IH_ERR_SYNTAX);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("property_bag");
    TCase *tc = tcase_create("property_bag");
    tcase_add_test(tc, items_split_at_ampersands_empty_ones_included);
    tcase_add_test(tc, an_item_decodes_at_its_first_equals);
    tcase_add_test(tc, levels_literals_and_the_bag_after_them);
    tcase_add_test(tc, topics_are_bounded_and_free_of_nul);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
