/* Unit tests of client/transport/url.[ch] and the pure part of tcp.[ch]: the URLs the clients
 * connect to (the hub's, and the streaming URL it hands out, docs/protocol.md rule 11) and the
 * device agent's HOST:PORT target. */
#include "transport/tcp.h"
#include "transport/url.h"

#include "unit.h"

#include <string.h>

static void check_url(const char *text, int tls, const char *host, int port, const char *path)
{
    struct ih_url u;
    ck_assert_msg(ih_url_parse(text, &u) == 0, "refused '%s'", text);
    ck_assert_int_eq(u.tls, tls);
    ck_assert_str_eq(u.host, host);
    ck_assert_int_eq(u.port, port);
    ck_assert_str_eq(u.path, path);
}

static void check_url_refused(const char *text)
{
    struct ih_url u;
    ck_assert_msg(ih_url_parse(text, &u) == -1, "accepted '%s'", text);
}

START_TEST(urls_the_hub_hands_out)
{
    check_url("wss://127.0.0.1:9443/bridges/0123456789abcdef0123", 1, "127.0.0.1", 9443,
              "/bridges/0123456789abcdef0123");
    check_url("wss://servername.streaming.private.azure-devices-int.net:443/bridges/3acd5014", 1,
              "servername.streaming.private.azure-devices-int.net", 443, "/bridges/3acd5014");
    check_url("ws://localhost:8080/bridges/x", 0, "localhost", 8080, "/bridges/x");
    check_url("https://127.0.0.1:32769/devices?top=3", 1, "127.0.0.1", 32769, "/devices?top=3");
    check_url("WSS://Host.Example:1/", 1, "Host.Example", 1, "/");
}
END_TEST

START_TEST(defaults_and_forms)
{
    check_url("https://hub.example", 1, "hub.example", 443, "/");
    check_url("http://hub.example", 0, "hub.example", 80, "/");
    check_url("wss://hub.example?x=1", 1, "hub.example", 443, "/?x=1");
    check_url("wss://[::1]:9443/bridges/a", 1, "::1", 9443, "/bridges/a");
    check_url("wss://[::1]/b", 1, "::1", 443, "/b");
}
END_TEST

START_TEST(bad_urls)
{
    check_url_refused(NULL);
    check_url_refused("");
    check_url_refused("ftp://host/");
    check_url_refused("wss:/host/");
    check_url_refused("wss://");
    check_url_refused("wss://:443/");
    check_url_refused("wss://host:/");
    check_url_refused("wss://host:0/");
    check_url_refused("wss://host:65536/");
    check_url_refused("wss://host:12ab/");
    check_url_refused("wss://host:123456/");
    check_url_refused("wss://user@host/");
    check_url_refused("wss://[::1/");
    check_url_refused("wss://[::1]x/");
    char long_host[IH_URL_HOST_MAX + 20] = "wss://";
    memset(long_host + 6, 'a', IH_URL_HOST_MAX);
    long_host[6 + IH_URL_HOST_MAX] = '\0';
    check_url_refused(long_host);
}
END_TEST

START_TEST(targets)
{
    char host[64];
    int port = 0;
    ck_assert_int_eq(ih_tcp_split_target("127.0.0.1:22", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 22);
    ck_assert_int_eq(ih_tcp_split_target("sshd.local:2222", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "sshd.local");
    ck_assert_int_eq(ih_tcp_split_target("[::1]:3389", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 3389);
    static const char *const bad[] = {NULL,      "",       "host",    ":22",
                                      "host:",   "host:0", "host:x",  "host:70000",
                                      "[::1:22", "[]:22",  "host:22x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ih_tcp_split_target(bad[i], host, sizeof host, &port) == -1, "accepted %s",
                      bad[i] != NULL ? bad[i] : "NULL");
    ck_assert_int_eq(ih_tcp_split_target("abcdefgh:1", host, 8, &port), -1);
}
END_TEST

static Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, urls_the_hub_hands_out);
    tcase_add_test(tc, defaults_and_forms);
    tcase_add_test(tc, bad_urls);
    tcase_add_test(tc, targets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(url_suite());
}
