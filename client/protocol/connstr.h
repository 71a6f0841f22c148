/* IoT Hub connection strings (docs/protocol.md §4.4): `;`-separated `Key=Value` pairs, each split
 * at its first `=`, in the device, module and service forms. */
#ifndef IH_CONNSTR_H
#define IH_CONNSTR_H

#include "result.h"

#include <stddef.h>

/* Longer strings are refused before any parsing. */
#define IH_CONNSTR_MAX_LEN 4096

/* Every field is NULL when absent, else a NUL-terminated copy. */
struct ih_connstr {
    char *host_name;
    char *device_id;
    char *module_id;
    char *shared_access_key_name;
    char *shared_access_key;
    char *shared_access_signature;
    char *gateway_host_name;
};

enum ih_connstr_kind {
    IH_CONNSTR_SERVICE, /* HostName, SharedAccessKeyName, SharedAccessKey */
    IH_CONNSTR_DEVICE,  /* HostName, DeviceId, SharedAccessKey or SharedAccessSignature */
    IH_CONNSTR_MODULE,  /* the device form plus ModuleId */
};

/* Parses text. Key names match case-insensitively; unknown keys are ignored (tolerant: SDKs add
 * their own, like x509=true); a known key given twice or with an empty value is an error; blanks
 * around keys and values and empty pairs (a trailing `;`) are ignored. On failure *out is left
 * empty. */
ih_result ih_connstr_parse(const char *text, size_t len, struct ih_connstr *out,
                           struct ih_diag *diag);

/* Decides which of the three forms cs is, checking that the form has everything it needs. */
ih_result ih_connstr_classify(const struct ih_connstr *cs, enum ih_connstr_kind *kind,
                              struct ih_diag *diag);

/* Formats the fields that are set, in the order the portal prints them. A value holding `;`
 * cannot be represented and is IH_ERR_SYNTAX. *out is a new string the caller frees. */
ih_result ih_connstr_format(const struct ih_connstr *cs, char **out);

void ih_connstr_free(struct ih_connstr *cs);

#endif
