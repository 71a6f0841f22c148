/* SAS tokens (docs/protocol.md §4.1, rule 15): parse, verify, expiry, audience. */
#include "fuzz.h"

#include "protocol/sas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", NULL,
                                       "not base64!"};
    static const char *const hosts[] = {"hub.example", "127.0.0.1"};
    struct ih_sas t;
    struct ih_diag diag;
    int matched = -1;
    if (ih_sas_parse((const char *)data, size, &t, &diag) != IH_OK)
        return 0;
    ih_sas_verify_signature(&t, keys, 3, &matched);
    ih_sas_check_expiry(&t, 1800000000LL);
    ih_sas_check_audience(&t, hosts, 2, "");
    ih_sas_check_audience(&t, hosts, 2, "/devices/dev1/modules/m");
    ih_sas_free(&t);
    return 0;
}
