/* Unit tests of protocol/c2d_topic.[ch]: the topic a cloud-to-device message is delivered on
 * (docs/protocol.md §12.4, rule D13). */
#include "protocol/c2d_topic.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define TO "%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound"

/* Rule D13: %24.to is always there, so even a message with no properties has a bag. */
START_TEST(bare_message_has_to)
{
    char *topic = NULL;
    ck_assert_result(ih_c2d_topic_format("dev1", NULL, NULL, 0, &topic), IH_OK);
    ck_assert_str_eq(topic, "devices/dev1/messages/devicebound/" TO);
    free(topic);
}
END_TEST

/* The system properties in the hub's order, then the application properties, all encoded. */
START_TEST(full_bag_in_order)
{
    struct ih_c2d_system sys = {"m 1", "c/2", "u", "application/json", "utf-8", "full"};
    struct ih_c2d_pair props[] = {{"k&1", "v=1/2 #+"}, {"empty", ""}, {"dropped", NULL}};
    char *topic = NULL;
    ck_assert_result(ih_c2d_topic_format("dev1", &sys, props, 3, &topic), IH_OK);
    ck_assert_str_eq(topic, "devices/dev1/messages/devicebound/%24.mid=m%201&" TO
                            "&%24.cid=c%2F2&%24.uid=u&%24.ct=application%2Fjson&%24.ce=utf-8"
                            "&iothub-ack=full&k%261=v%3D1%2F2%20%23%2B&empty=");
    ck_assert_ptr_null(strchr(topic + strlen("devices/dev1/messages/devicebound/"), '/'));
    ck_assert_int_ne(topic[strlen(topic) - 1], '/');
    free(topic);
}
END_TEST

/* Unset system properties (NULL or "") are left out. */
START_TEST(unset_system_properties_left_out)
{
    struct ih_c2d_system sys = {"", NULL, "", NULL, "", ""};
    char *topic = NULL;
    ck_assert_result(ih_c2d_topic_format("dev1", &sys, NULL, 0, &topic), IH_OK);
    ck_assert_str_eq(topic, "devices/dev1/messages/devicebound/" TO);
    free(topic);
}
END_TEST

START_TEST(refuses_empty_names)
{
    struct ih_c2d_pair props[] = {{"", "v"}};
    char *topic = (char *)"x";
    ck_assert_result(ih_c2d_topic_format("", NULL, NULL, 0, &topic), IH_ERR_SYNTAX);
    ck_assert_ptr_null(topic);
    ck_assert_result(ih_c2d_topic_format("dev1", NULL, props, 1, &topic), IH_ERR_SYNTAX);
    ck_assert_ptr_null(topic);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("c2d_topic");
    TCase *tc = tcase_create("topics");
    tcase_add_test(tc, bare_message_has_to);
    tcase_add_test(tc, full_bag_in_order);
    tcase_add_test(tc, unset_system_properties_left_out);
    tcase_add_test(tc, refuses_empty_names);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
