/* TLS material for every endpoint: a dev CA and a server certificate generated into the state
 * directory at first start, so TLS works with no setup, or the files given with
 * --tls-cert/--tls-key/--tls-ca.
 *
 * The generated server certificate names localhost, 127.0.0.1, ::1 and every --host-name; it is
 * issued again (by the same CA) when that list changes or expiry is less than 30 days away, so
 * clients that trust the CA keep working. */
#ifndef CERTS_H
#define CERTS_H

#include <stddef.h>

struct tls_material {
    char *cert_path, *key_path, *ca_path; /* ca_path NULL with --tls-cert and no --tls-ca */
    char *cert_pem, *key_pem, *ca_pem;
};

enum certs_result { CERTS_OK = 0, CERTS_ERR };

/* host_names: the names the certificate must carry besides localhost, 127.0.0.1 and ::1.
 * user_* are the --tls-* paths (NULL when not given). On failure err holds the reason. */
enum certs_result certs_prepare(const char *tls_dir, const char *const *host_names,
                                size_t host_name_count, const char *user_cert, const char *user_key,
                                const char *user_ca, struct tls_material *out, char *err,
                                size_t err_len);

void certs_free(struct tls_material *m);

#endif
