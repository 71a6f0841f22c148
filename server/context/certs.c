#include "certs.h"

#include "fsutil.h"
#include "log.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CA_DAYS 3650
/* 825 days: the longest validity macOS and iOS accept for a server certificate. */
#define SERVER_DAYS 825
#define RENEW_BEFORE_SECONDS (30L * 24 * 3600)
#define PEM_MAX (64 * 1024)

static const char *const builtin_names[] = {"localhost", "127.0.0.1", "::1"};
#define BUILTIN_COUNT (sizeof builtin_names / sizeof builtin_names[0])

struct name_list {
    const char *const *extra;
    size_t extra_count;
};

static size_t name_count(const struct name_list *n)
{
    return BUILTIN_COUNT + n->extra_count;
}

static const char *name_at(const struct name_list *n, size_t i)
{
    return i < BUILTIN_COUNT ? builtin_names[i] : n->extra[i - BUILTIN_COUNT];
}

static int is_ip_literal(const char *name, int *is_v4)
{
    unsigned char buf[16];
    *is_v4 = inet_pton(AF_INET, name, buf) == 1;
    return *is_v4 || inet_pton(AF_INET6, name, buf) == 1;
}

static void set_error(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_get_error();
    if (e != 0 && n > 0 && (size_t)n < err_len)
        snprintf(err + n, err_len - (size_t)n, " (%s)", ERR_reason_error_string(e));
    ERR_clear_error();
}

/* IP literals go in as IP entries; IPv4 ones also as DNS entries, because OpenSSL-based clients
 * that check a host name with X509_check_host (not X509_check_ip) look only at DNS entries. */
static char *san_text(const struct name_list *names)
{
    size_t cap = 64;
    for (size_t i = 0; i < name_count(names); i++)
        cap += 2 * strlen(name_at(names, i)) + 16;
    char *text = malloc(cap);
    if (text == NULL)
        return NULL;
    size_t n = 0;
    text[0] = '\0';
    for (size_t i = 0; i < name_count(names); i++) {
        const char *name = name_at(names, i);
        int v4 = 0;
        const char *sep = n > 0 ? "," : "";
        if (is_ip_literal(name, &v4))
            n += (size_t)snprintf(text + n, cap - n, "%sIP:%s%s%s", sep, name, v4 ? ",DNS:" : "",
                                  v4 ? name : "");
        else
            n += (size_t)snprintf(text + n, cap - n, "%sDNS:%s", sep, name);
    }
    return text;
}

static int add_extension(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

static int set_random_serial(X509 *cert)
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return 0;
    bytes[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(bytes, sizeof bytes, NULL);
    int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok;
}

/* A certificate for key with subject CN=cn, valid from an hour ago (clock skew) for days. */
static X509 *new_certificate(EVP_PKEY *key, const char *cn, long days)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    int ok = cert != NULL && name != NULL && X509_set_version(cert, 2) && set_random_serial(cert) &&
             X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(cert), days * 24 * 3600) &&
             X509_set_pubkey(cert, key) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                        (const unsigned char *)"iothub-emulator (dev only)", -1, -1,
                                        0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                        -1, 0) &&
             X509_set_subject_name(cert, name);
    X509_NAME_free(name);
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* The dev CA may only vouch for the emulator's own names (RFC 5280 name constraints): a copy of
 * its key could not be used against any other site on a machine that trusts it. */
static char *constraints_text(const struct name_list *names)
{
    static const char v4_mask[] = "255.255.255.255";
    static const char v6_mask[] = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    size_t cap = 32;
    for (size_t i = 0; i < name_count(names); i++)
        cap += 2 * strlen(name_at(names, i)) + sizeof v6_mask + 40;
    char *text = malloc(cap);
    if (text == NULL)
        return NULL;
    size_t n = (size_t)snprintf(text, cap, "critical");
    for (size_t i = 0; i < name_count(names); i++) {
        const char *name = name_at(names, i);
        int v4 = 0;
        if (!is_ip_literal(name, &v4))
            n += (size_t)snprintf(text + n, cap - n, ",permitted;DNS:%s", name);
        else if (v4) /* also a DNS entry: see san_text */
            n += (size_t)snprintf(text + n, cap - n, ",permitted;IP:%s/%s,permitted;DNS:%s", name,
                                  v4_mask, name);
        else
            n += (size_t)snprintf(text + n, cap - n, ",permitted;IP:%s/%s", name, v6_mask);
    }
    return text;
}

static int issue_ca(const struct name_list *names, X509 **cert_out, EVP_PKEY **key_out)
{
    char *constraints = constraints_text(names);
    EVP_PKEY *key = constraints != NULL ? EVP_EC_gen("P-256") : NULL;
    X509 *cert = key != NULL ? new_certificate(key, "iothub-emulator dev CA", CA_DAYS) : NULL;
    int ok = cert != NULL && X509_set_issuer_name(cert, X509_get_subject_name(cert)) &&
             add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE") &&
             add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             add_extension(cert, cert, NID_subject_key_identifier, "hash") &&
             add_extension(cert, cert, NID_name_constraints, constraints) &&
             X509_sign(cert, key, EVP_sha256()) > 0;
    free(constraints);
    if (!ok) {
        X509_free(cert);
        EVP_PKEY_free(key);
        return 0;
    }
    *cert_out = cert;
    *key_out = key;
    return 1;
}

static int issue_server(X509 *ca, EVP_PKEY *ca_key, const struct name_list *names, X509 **cert_out,
                        EVP_PKEY **key_out)
{
    char *san = san_text(names);
    EVP_PKEY *key = san != NULL ? EVP_EC_gen("P-256") : NULL;
    const char *cn = names->extra_count > 0 ? names->extra[0] : "localhost";
    X509 *cert = key != NULL ? new_certificate(key, cn, SERVER_DAYS) : NULL;
    int ok = cert != NULL && X509_set_issuer_name(cert, X509_get_subject_name(ca)) &&
             add_extension(cert, ca, NID_basic_constraints, "critical,CA:FALSE") &&
             add_extension(cert, ca, NID_key_usage, "critical,digitalSignature") &&
             add_extension(cert, ca, NID_ext_key_usage, "serverAuth") &&
             add_extension(cert, ca, NID_subject_alt_name, san) &&
             add_extension(cert, ca, NID_subject_key_identifier, "hash") &&
             add_extension(cert, ca, NID_authority_key_identifier, "keyid") &&
             X509_sign(cert, ca_key, EVP_sha256()) > 0;
    free(san);
    if (!ok) {
        X509_free(cert);
        EVP_PKEY_free(key);
        return 0;
    }
    *cert_out = cert;
    *key_out = key;
    return 1;
}

/* Verifies cert against ca alone, the way a client that trusts ca would: signature, validity
 * dates and the CA's name constraints. */
static int chain_verifies(X509 *ca, X509 *cert)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = store != NULL && ctx != NULL && X509_STORE_add_cert(store, ca) == 1 &&
             X509_STORE_CTX_init(ctx, store, cert, NULL) == 1 && X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return ok;
}

/* Whether an existing server certificate can stay: it verifies against ca, carries every name,
 * and does not expire within RENEW_BEFORE_SECONDS. */
static int server_cert_fits(X509 *cert, X509 *ca, const struct name_list *names)
{
    time_t soon = time(NULL) + RENEW_BEFORE_SECONDS;
    if (!chain_verifies(ca, cert) || X509_cmp_time(X509_get0_notAfter(cert), &soon) <= 0)
        return 0;
    for (size_t i = 0; i < name_count(names); i++) {
        const char *name = name_at(names, i);
        int v4 = 0;
        int found = is_ip_literal(name, &v4) ? X509_check_ip_asc(cert, name, 0) == 1
                                             : X509_check_host(cert, name, 0, 0, NULL) == 1;
        if (!found)
            return 0;
    }
    return 1;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio != NULL &&
             (cert != NULL ? PEM_write_bio_X509(bio, cert)
                           : PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL));
    char *data = NULL;
    long len = ok ? BIO_get_mem_data(bio, &data) : 0;
    ok = ok && len > 0 && fs_write_atomic(path, data, (size_t)len, 0600) == FS_OK;
    BIO_free(bio);
    return ok;
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    X509 *cert = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    return cert;
}

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "re");
    EVP_PKEY *key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    return key;
}

static int save_ca(const struct tls_material *m, const char *ca_key_path, X509 *ca,
                   EVP_PKEY *ca_key)
{
    return write_pem(ca_key_path, NULL, ca_key) && write_pem(m->ca_path, ca, NULL);
}

/* Loads the dev CA from its files, or makes and saves a new one. */
static int ensure_ca(const struct tls_material *m, const char *ca_key_path,
                     const struct name_list *names, X509 **ca, EVP_PKEY **ca_key)
{
    *ca = load_cert(m->ca_path);
    *ca_key = *ca != NULL ? load_key(ca_key_path) : NULL;
    if (*ca != NULL && *ca_key != NULL && X509_check_private_key(*ca, *ca_key) == 1)
        return 1;
    X509_free(*ca);
    EVP_PKEY_free(*ca_key);
    *ca = NULL;
    *ca_key = NULL;
    ERR_clear_error();
    return issue_ca(names, ca, ca_key) && save_ca(m, ca_key_path, *ca, *ca_key);
}

static int existing_server_fits(const struct tls_material *m, X509 *ca,
                                const struct name_list *names)
{
    X509 *cert = load_cert(m->cert_path);
    EVP_PKEY *key = cert != NULL ? load_key(m->key_path) : NULL;
    int ok = cert != NULL && key != NULL && X509_check_private_key(cert, key) == 1 &&
             server_cert_fits(cert, ca, names);
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return ok;
}

/* Issues and saves a server certificate. When the CA's name constraints do not allow a name
 * (a --host-name added since the CA was made), the CA is replaced first, and clients must trust
 * the new ca.pem. */
static int renew_server(const struct tls_material *m, const char *ca_key_path,
                        const struct name_list *names, X509 **ca, EVP_PKEY **ca_key)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int ok = issue_server(*ca, *ca_key, names, &cert, &key);
    if (ok && !chain_verifies(*ca, cert)) {
        log_warn("tls",
                 "the dev CA does not cover every --host-name: making a new CA; clients "
                 "must trust the new %s",
                 m->ca_path);
        X509_free(*ca);
        EVP_PKEY_free(*ca_key);
        X509_free(cert);
        EVP_PKEY_free(key);
        cert = NULL;
        key = NULL;
        ok = issue_ca(names, ca, ca_key) && save_ca(m, ca_key_path, *ca, *ca_key) &&
             issue_server(*ca, *ca_key, names, &cert, &key);
    }
    ok = ok && write_pem(m->key_path, NULL, key) && write_pem(m->cert_path, cert, NULL);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

static int generate(const char *tls_dir, const struct name_list *names, struct tls_material *m,
                    char *err, size_t err_len)
{
    char *ca_key_path = fs_join(tls_dir, "ca.key");
    m->ca_path = fs_join(tls_dir, "ca.pem");
    m->cert_path = fs_join(tls_dir, "server.pem");
    m->key_path = fs_join(tls_dir, "server.key");
    X509 *ca = NULL;
    EVP_PKEY *ca_key = NULL;
    int ok =
        ca_key_path != NULL && m->ca_path != NULL && m->cert_path != NULL && m->key_path != NULL &&
        fs_ensure_dir(tls_dir) == FS_OK && ensure_ca(m, ca_key_path, names, &ca, &ca_key) &&
        (existing_server_fits(m, ca, names) || renew_server(m, ca_key_path, names, &ca, &ca_key));
    if (!ok)
        set_error(err, err_len, "cannot create the dev certificates in %s", tls_dir);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    free(ca_key_path);
    return ok;
}

static int use_given_files(const char *cert, const char *key, const char *ca,
                           struct tls_material *m, char *err, size_t err_len)
{
    X509 *x = load_cert(cert);
    EVP_PKEY *k = x != NULL ? load_key(key) : NULL;
    int ok = x != NULL && k != NULL && X509_check_private_key(x, k) == 1;
    if (!ok)
        set_error(err, err_len,
                  "--tls-cert %s and --tls-key %s are not a PEM certificate and its "
                  "private key",
                  cert, key);
    X509_free(x);
    EVP_PKEY_free(k);
    m->cert_path = strdup(cert);
    m->key_path = strdup(key);
    m->ca_path = ca != NULL ? strdup(ca) : NULL;
    return ok && m->cert_path != NULL && m->key_path != NULL && (ca == NULL || m->ca_path != NULL);
}

static int read_pem(const char *path, char **out, char *err, size_t err_len)
{
    if (path == NULL)
        return 1;
    if (fs_read_file(path, PEM_MAX, out, NULL) != FS_OK) {
        set_error(err, err_len, "cannot read %s", path);
        return 0;
    }
    return 1;
}

enum certs_result certs_prepare(const char *tls_dir, const char *const *host_names,
                                size_t host_name_count, const char *user_cert, const char *user_key,
                                const char *user_ca, struct tls_material *out, char *err,
                                size_t err_len)
{
    struct name_list names = {host_names, host_name_count};
    memset(out, 0, sizeof *out);
    int ok = user_cert != NULL ? use_given_files(user_cert, user_key, user_ca, out, err, err_len)
                               : generate(tls_dir, &names, out, err, err_len);
    ok = ok && read_pem(out->cert_path, &out->cert_pem, err, err_len) &&
         read_pem(out->key_path, &out->key_pem, err, err_len) &&
         read_pem(out->ca_path, &out->ca_pem, err, err_len);
    if (!ok)
        certs_free(out);
    return ok ? CERTS_OK : CERTS_ERR;
}

void certs_free(struct tls_material *m)
{
    free(m->cert_path);
    free(m->key_path);
    free(m->ca_path);
    if (m->key_pem != NULL)
        OPENSSL_cleanse(m->key_pem, strlen(m->key_pem));
    free(m->cert_pem);
    free(m->key_pem);
    free(m->ca_pem);
    memset(m, 0, sizeof *m);
}
