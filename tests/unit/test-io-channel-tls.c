/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TLS credentials, sessions and channels: x509 (with peer verification),
 * PSK and anonymous handshakes moving real data, refused peers (wrong CA,
 * wrong hostname, plain text), the coroutine handshake in iothreads, the
 * follow-coroutine-ctx inheritance from the master channel and a TLS 1.3
 * session read and written from two iothreads while both sides rekey
 * (record I/O must be serialised across the two threads).
 *
 * The X.509 material is made at start-up with GnuTLS in a temporary
 * directory: a CA, a server certificate for "localhost" and 127.0.0.1, a
 * client certificate, and a second, unrelated CA.
 *
 * Theory of operation: the main thread drives the QIOTask handshakes in
 * the default GMainContext and waits for the iothreads' coroutines by
 * polling flags with a deadline, so that a hang fails the test instead of
 * blocking it. In the two-iothread tests the coroutines share only the
 * channels under test and a Rekey record guarded by its mutex.
 */
#include "qemu/osdep.h"
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "config-host.h"
#include "crypto/tlscredsanon.h"
#include "crypto/tlscredspsk.h"
#include "crypto/tlscredsx509.h"
#include "crypto/tlssession.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "qapi/error.h"
#include "qemu/atomic.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qom/object_interfaces.h"
#include "sysemu/iothread.h"
#include "test-util.h"

#define TIMEOUT_S 20

#if CONFIG_TSAN
#define BULK_SIZE (2 * 1024 * 1024)
#define REKEY_SIZE (32 * 1024 * 1024)
#elif CONFIG_ASAN
#define BULK_SIZE (4 * 1024 * 1024)
#define REKEY_SIZE (64 * 1024 * 1024)
#else
#define BULK_SIZE (4 * 1024 * 1024)
#define REKEY_SIZE (64 * 1024 * 1024)
#endif

#define CHUNK (64 * 1024)

#define TLS13_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

/* Directories made by make_material(), removed at exit. */
static char *workdir;
static char *server_dir;        /* CA, server cert and key */
static char *client_dir;        /* CA, client cert and key */
static char *client_nocert_dir; /* CA only */
static char *wrongca_dir;       /* the other CA, client cert and key */
static char *psk_dir;           /* keys.psk */

/* Certificate material */

static void write_datum(const char *dir, const char *name,
                        const gnutls_datum_t *d)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    g_assert_true(g_file_set_contents(path, (const char *)d->data, d->size,
                                      NULL));
}

static gnutls_x509_privkey_t make_key(void)
{
    gnutls_x509_privkey_t key;

    g_assert_cmpint(gnutls_x509_privkey_init(&key), ==, 0);
    g_assert_cmpint(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), ==, 0);
    return key;
}

static void set_dn(gnutls_x509_crt_t crt, const char *oid, const char *value)
{
    g_assert_cmpint(gnutls_x509_crt_set_dn_by_oid(crt, oid, 0, value,
                                                  strlen(value)), ==, 0);
}

typedef enum CertRole {
    CERT_CA,
    CERT_SERVER,
    CERT_CLIENT,
} CertRole;

/*
 * A certificate for @key named @cn in @role, signed by @issuer with
 * @issuer_key (self-signed when @issuer is NULL).
 */
static gnutls_x509_crt_t make_cert(gnutls_x509_privkey_t key, const char *cn,
                                   CertRole role, gnutls_x509_crt_t issuer,
                                   gnutls_x509_privkey_t issuer_key,
                                   unsigned int serial)
{
    gnutls_x509_crt_t crt;
    time_t now = time(NULL);
    unsigned char serial_bytes[4] = {
        serial >> 24, serial >> 16, serial >> 8, serial
    };
    unsigned char id[64];
    size_t id_size = sizeof(id);

    g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_serial(crt, serial_bytes,
                                               sizeof(serial_bytes)), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, now - 3600),
                    ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt,
                                                        now + 86400 * 2),
                    ==, 0);
    set_dn(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, "QEMU storage tests");
    set_dn(crt, GNUTLS_OID_X520_COMMON_NAME, cn);
    g_assert_cmpint(gnutls_x509_crt_set_key(crt, key), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_get_key_id(crt, 0, id, &id_size), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_subject_key_id(crt, id, id_size),
                    ==, 0);

    if (role == CERT_CA) {
        g_assert_cmpint(gnutls_x509_crt_set_basic_constraints(crt, 1, -1),
                        ==, 0);
        g_assert_cmpint(gnutls_x509_crt_set_key_usage(crt,
                            GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN),
                        ==, 0);
    } else {
        g_assert_cmpint(gnutls_x509_crt_set_basic_constraints(crt, 0, -1),
                        ==, 0);
        g_assert_cmpint(gnutls_x509_crt_set_key_usage(crt,
                            GNUTLS_KEY_DIGITAL_SIGNATURE |
                            GNUTLS_KEY_KEY_ENCIPHERMENT), ==, 0);
        g_assert_cmpint(gnutls_x509_crt_set_key_purpose_oid(crt,
                            role == CERT_SERVER ? GNUTLS_KP_TLS_WWW_SERVER :
                            GNUTLS_KP_TLS_WWW_CLIENT, 0), ==, 0);
    }
    if (role == CERT_SERVER) {
        unsigned char ip[4] = { 127, 0, 0, 1 };

        g_assert_cmpint(gnutls_x509_crt_set_subject_alt_name(crt,
                            GNUTLS_SAN_DNSNAME, "localhost", 9,
                            GNUTLS_FSAN_APPEND), ==, 0);
        g_assert_cmpint(gnutls_x509_crt_set_subject_alt_name(crt,
                            GNUTLS_SAN_IPADDRESS, ip, sizeof(ip),
                            GNUTLS_FSAN_APPEND), ==, 0);
    }
    if (issuer) {
        id_size = sizeof(id);
        g_assert_cmpint(gnutls_x509_crt_get_subject_key_id(issuer, id,
                                                           &id_size, NULL),
                        ==, 0);
        g_assert_cmpint(gnutls_x509_crt_set_authority_key_id(crt, id,
                                                             id_size), ==, 0);
    }
    g_assert_cmpint(gnutls_x509_crt_sign2(crt, issuer ? issuer : crt,
                                          issuer_key ? issuer_key : key,
                                          GNUTLS_DIG_SHA256, 0), ==, 0);
    return crt;
}

static void save_cert(gnutls_x509_crt_t crt, const char *dir,
                      const char *name)
{
    gnutls_datum_t d;

    g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d),
                    ==, 0);
    write_datum(dir, name, &d);
    gnutls_free(d.data);
}

static void save_key(gnutls_x509_privkey_t key, const char *dir,
                     const char *name)
{
    gnutls_datum_t d;

    g_assert_cmpint(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM,
                                                &d), ==, 0);
    write_datum(dir, name, &d);
    gnutls_free(d.data);
}

static char *make_subdir(const char *name)
{
    char *dir = g_build_filename(workdir, name, NULL);

    g_assert_cmpint(mkdir(dir, 0700), ==, 0);
    return dir;
}

static void make_material(void)
{
    gnutls_x509_privkey_t ca_key = make_key();
    gnutls_x509_privkey_t ca2_key = make_key();
    gnutls_x509_privkey_t srv_key = make_key();
    gnutls_x509_privkey_t cli_key = make_key();
    gnutls_x509_crt_t ca = make_cert(ca_key, "Test CA", CERT_CA, NULL, NULL,
                                     1);
    gnutls_x509_crt_t ca2 = make_cert(ca2_key, "Unrelated CA", CERT_CA,
                                      NULL, NULL, 2);
    gnutls_x509_crt_t srv = make_cert(srv_key, "localhost", CERT_SERVER, ca,
                                      ca_key, 3);
    gnutls_x509_crt_t cli = make_cert(cli_key, "test-client", CERT_CLIENT,
                                      ca, ca_key, 4);
    g_autofree char *keys = NULL;

    workdir = g_dir_make_tmp("test-io-channel-tls-XXXXXX", NULL);
    g_assert_nonnull(workdir);
    server_dir = make_subdir("server");
    client_dir = make_subdir("client");
    client_nocert_dir = make_subdir("client-nocert");
    wrongca_dir = make_subdir("wrongca");
    psk_dir = make_subdir("psk");

    save_cert(ca, server_dir, "ca-cert.pem");
    save_cert(srv, server_dir, "server-cert.pem");
    save_key(srv_key, server_dir, "server-key.pem");

    save_cert(ca, client_dir, "ca-cert.pem");
    save_cert(cli, client_dir, "client-cert.pem");
    save_key(cli_key, client_dir, "client-key.pem");

    save_cert(ca, client_nocert_dir, "ca-cert.pem");

    save_cert(ca2, wrongca_dir, "ca-cert.pem");
    save_cert(cli, wrongca_dir, "client-cert.pem");
    save_key(cli_key, wrongca_dir, "client-key.pem");

    keys = g_build_filename(psk_dir, "keys.psk", NULL);
    g_assert_true(g_file_set_contents(keys,
        "other:00112233445566778899aabbccddeeff\n"
        "qemu:9d5b7a6c3e1f00112233445566778899aabbccddeeff0011223344556677\n",
        -1, NULL));

    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crt_deinit(ca2);
    gnutls_x509_crt_deinit(srv);
    gnutls_x509_crt_deinit(cli);
    gnutls_x509_privkey_deinit(ca_key);
    gnutls_x509_privkey_deinit(ca2_key);
    gnutls_x509_privkey_deinit(srv_key);
    gnutls_x509_privkey_deinit(cli_key);
}

static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;

    if (dir) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *sub = g_build_filename(path, name, NULL);

            remove_tree(sub);
        }
        g_dir_close(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Credentials, made the way --object makes them. */

static QCryptoTLSCreds *creds_try_new(const char *type, const char *props,
                                      Error **errp)
{
    static unsigned int seq;
    g_autofree char *id = g_strdup_printf("tls%u", seq++);
    g_autofree char *opts = g_strdup_printf("%s,id=%s,%s", type, id, props);
    Object *obj;

    if (!user_creatable_add_from_str(opts, errp)) {
        return NULL;
    }
    obj = object_resolve_path_component(object_get_objects_root(), id);
    g_assert_nonnull(obj);
    object_ref(obj);
    g_assert_true(user_creatable_del(id, &error_abort));
    return QCRYPTO_TLS_CREDS(obj);
}

static QCryptoTLSCreds *creds_new(const char *type, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static QCryptoTLSCreds *creds_new(const char *type, const char *fmt, ...)
{
    g_autofree char *props = NULL;
    va_list ap;

    va_start(ap, fmt);
    props = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return creds_try_new(type, props, &error_abort);
}

/* Channels */

typedef struct Pair {
    QIOChannelSocket *ssock;
    QIOChannelSocket *csock;
    QIOChannelTLS *server;
    QIOChannelTLS *client;
} Pair;

static void pair_sockets(Pair *p, bool follow)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    p->ssock = qio_channel_socket_new_fd(sv[0], &error_abort);
    p->csock = qio_channel_socket_new_fd(sv[1], &error_abort);
    qio_channel_set_blocking(QIO_CHANNEL(p->ssock), false, &error_abort);
    qio_channel_set_blocking(QIO_CHANNEL(p->csock), false, &error_abort);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(p->ssock), follow);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(p->csock), follow);
}

static void pair_tls(Pair *p, QCryptoTLSCreds *screds,
                     QCryptoTLSCreds *ccreds, const char *hostname)
{
    p->server = qio_channel_tls_new_server(QIO_CHANNEL(p->ssock), screds,
                                           NULL, &error_abort);
    p->client = qio_channel_tls_new_client(QIO_CHANNEL(p->csock), ccreds,
                                           hostname, &error_abort);
}

static void pair_free(Pair *p)
{
    if (p->server) {
        qio_channel_close(QIO_CHANNEL(p->server), NULL);
        object_unref(OBJECT(p->server));
    }
    if (p->client) {
        qio_channel_close(QIO_CHANNEL(p->client), NULL);
        object_unref(OBJECT(p->client));
    }
    object_unref(OBJECT(p->ssock));
    object_unref(OBJECT(p->csock));
}

/* QIOTask handshakes in the default GMainContext */

typedef struct HandshakeResult {
    bool done;
    Error *err;
} HandshakeResult;

static void handshake_done(QIOTask *task, gpointer opaque)
{
    HandshakeResult *res = opaque;

    qio_task_propagate_error(task, &res->err);
    res->done = true;
}

static void main_loop_until(bool *a, bool *b)
{
    int64_t end = g_get_monotonic_time() + TIMEOUT_S * G_USEC_PER_SEC;

    while (!(*a && (!b || *b))) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        if (!g_main_context_iteration(NULL, false)) {
            g_usleep(500);
        }
    }
}

/* Both handshakes; returns with both results filled in. */
static void pair_handshake(Pair *p, HandshakeResult *sres,
                           HandshakeResult *cres)
{
    qio_channel_tls_handshake(p->server, handshake_done, sres, NULL, NULL);
    qio_channel_tls_handshake(p->client, handshake_done, cres, NULL, NULL);
    main_loop_until(&sres->done, &cres->done);
}

/* Data */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Fills @buf with the bytes at @off of stream @seed (8-byte aligned). */
static void fill_pattern(uint8_t *buf, size_t len, uint64_t seed,
                         uint64_t off)
{
    g_assert_cmpuint(off % 8, ==, 0);
    g_assert_cmpuint(len % 8, ==, 0);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = mix64(seed * 0x100000000ULL + (off + i) / 8);

        memcpy(buf + i, &v, 8);
    }
}

typedef struct BlockingWriter {
    QIOChannel *ioc;
    size_t size;
    uint64_t seed;
    char *sha;          /* of what was written */
} BlockingWriter;

static gpointer blocking_writer(gpointer opaque)
{
    BlockingWriter *w = opaque;
    g_autofree uint8_t *buf = g_malloc(w->size);

    fill_pattern(buf, w->size, w->seed, 0);
    w->sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, w->size);
    g_assert_cmpint(qio_channel_write_all(w->ioc, (char *)buf, w->size,
                                          &error_abort), ==, 0);
    return NULL;
}

/*
 * Sends @size bytes from @from (in a thread) to @to (in this thread),
 * both blocking, and checks them.
 */
static void transfer_blocking(QIOChannelTLS *from, QIOChannelTLS *to,
                              size_t size, uint64_t seed)
{
    BlockingWriter w = {
        .ioc = QIO_CHANNEL(from), .size = size, .seed = seed,
    };
    g_autofree uint8_t *buf = g_malloc(size);
    g_autofree uint8_t *expect = g_malloc(size);
    g_autofree char *sha = NULL;
    GThread *thread;

    qio_channel_set_blocking(QIO_CHANNEL(from), true, &error_abort);
    qio_channel_set_blocking(QIO_CHANNEL(to), true, &error_abort);
    thread = g_thread_new("tls-writer", blocking_writer, &w);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(to), (char *)buf, size,
                                         &error_abort), ==, 0);
    g_thread_join(thread);

    fill_pattern(expect, size, seed, 0);
    g_assert_true(memcmp(buf, expect, size) == 0);
    sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, size);
    g_assert_cmpstr(sha, ==, w.sha);
    g_free(w.sha);
}

/*
 * Both directions, then the end: a clean close_notify from the client
 * (@bye), or the client's socket simply closed, which reads as an end of
 * file too.
 */
static void check_traffic_full(Pair *p, bool bye)
{
    char c;

    transfer_blocking(p->client, p->server, BULK_SIZE, 1);
    transfer_blocking(p->server, p->client, BULK_SIZE, 2);

    if (bye) {
        g_assert_cmpint(qio_channel_tls_bye(p->client, &error_abort), ==, 0);
    } else {
        qio_channel_close(QIO_CHANNEL(p->csock), &error_abort);
    }
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p->server), &c, 1,
                                     &error_abort), ==, 0);
}

static void check_traffic(Pair *p)
{
    check_traffic_full(p, true);
}

/* Credentials tests */

static void test_creds_x509_props(void)
{
    QCryptoTLSCreds *creds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                       "dir=%s,endpoint=server", server_dir);
    Object *obj = OBJECT(creds);
    g_autofree char *dir = object_property_get_str(obj, "dir", &error_abort);
    g_autofree char *endpoint = object_property_get_str(obj, "endpoint",
                                                        &error_abort);

    g_assert_true(object_property_get_bool(obj, "loaded", &error_abort));
    g_assert_true(object_property_get_bool(obj, "verify-peer",
                                           &error_abort));
    g_assert_true(object_property_get_bool(obj, "sanity-check",
                                           &error_abort));
    g_assert_cmpstr(dir, ==, server_dir);
    g_assert_cmpstr(endpoint, ==, "server");
    g_assert_cmpint(creds->endpoint, ==, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER);
    g_assert_nonnull(QCRYPTO_TLS_CREDS_X509(creds)->data);
    /* "loaded" can't be set. */
    g_assert_false(object_property_set_bool(obj, "loaded", false, NULL));
    object_unref(obj);
}

static void test_creds_x509_missing_ca(void)
{
    Error *err = NULL;
    g_autofree char *props = g_strdup_printf("dir=%s,endpoint=server",
                                             psk_dir);
    g_autofree char *expect = g_strdup_printf(
        "Unable to read CA certificate '%s/ca-cert.pem': "
        "No such file or directory", psk_dir);

    g_assert_null(creds_try_new(TYPE_QCRYPTO_TLS_CREDS_X509, props, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, expect);
    error_free(err);
}

static void test_creds_x509_missing_server_cert(void)
{
    Error *err = NULL;
    g_autofree char *props = g_strdup_printf("dir=%s,endpoint=server",
                                             client_dir);

    g_assert_null(creds_try_new(TYPE_QCRYPTO_TLS_CREDS_X509, props, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), "server-cert.pem"));
    error_free(err);
}

static void test_creds_x509_sanity(void)
{
    Error *err = NULL;
    g_autofree char *props = g_strdup_printf("dir=%s,endpoint=client",
                                             wrongca_dir);
    g_autofree char *off = g_strdup_printf("dir=%s,endpoint=client,"
                                           "sanity-check=off", wrongca_dir);
    g_autofree char *cert = g_build_filename(wrongca_dir, "client-cert.pem",
                                             NULL);
    QCryptoTLSCreds *creds;

    /* Our client certificate was not issued by this directory's CA. */
    g_assert_null(creds_try_new(TYPE_QCRYPTO_TLS_CREDS_X509, props, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), cert));
    g_assert_nonnull(strstr(error_get_pretty(err), "does not verify with "
                            "the CA certificate"));
    error_free(err);

    creds = creds_try_new(TYPE_QCRYPTO_TLS_CREDS_X509, off, &error_abort);
    object_unref(OBJECT(creds));
}

static void test_creds_psk(void)
{
    Error *err = NULL;
    g_autofree char *bad_user = g_strdup_printf("dir=%s,endpoint=client,"
                                                "username=nobody", psk_dir);
    g_autofree char *srv_user = g_strdup_printf("dir=%s,endpoint=server,"
                                                "username=qemu", psk_dir);
    QCryptoTLSCreds *creds;

    creds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK, "dir=%s,endpoint=client",
                      psk_dir);
    g_assert_true(creds->loaded);
    object_unref(OBJECT(creds));

    g_assert_null(creds_try_new(TYPE_QCRYPTO_TLS_CREDS_PSK, bad_user, &err));
    g_assert_nonnull(strstr(error_get_pretty(err),
                            "Username 'nobody' not found"));
    error_free(err);
    err = NULL;

    g_assert_null(creds_try_new(TYPE_QCRYPTO_TLS_CREDS_PSK, srv_user, &err));
    g_assert_nonnull(err);
    error_free(err);
}

static void test_creds_wrong_endpoint(void)
{
    QCryptoTLSCreds *creds = creds_new(TYPE_QCRYPTO_TLS_CREDS_ANON,
                                       "endpoint=client");
    Pair p = { 0 };
    Error *err = NULL;

    pair_sockets(&p, false);
    g_assert_null(qio_channel_tls_new_server(QIO_CHANNEL(p.ssock), creds,
                                             NULL, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "endpoint=client"));
    error_free(err);
    pair_free(&p);
    object_unref(OBJECT(creds));
}

/* Handshakes that succeed, then traffic */

static void test_tls_x509(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server",
                                        server_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client",
                                        client_dir);
    HandshakeResult sres = { 0 }, cres = { 0 };
    g_autofree char *speer = NULL;
    g_autofree char *cpeer = NULL;
    Pair p = { 0 };

    pair_sockets(&p, false);
    pair_tls(&p, screds, ccreds, "localhost");
    pair_handshake(&p, &sres, &cres);
    g_assert_null(sres.err);
    g_assert_null(cres.err);

    speer = qcrypto_tls_session_get_peer_name(
        qio_channel_tls_get_session(p.server));
    cpeer = qcrypto_tls_session_get_peer_name(
        qio_channel_tls_get_session(p.client));
    g_assert_nonnull(speer);
    g_assert_nonnull(strstr(speer, "CN=test-client"));
    g_assert_nonnull(strstr(cpeer, "CN=localhost"));
    g_assert_cmpint(qcrypto_tls_session_get_key_size(
                        qio_channel_tls_get_session(p.client),
                        &error_abort), >=, 16);
    g_assert_cmpint(qcrypto_tls_session_get_handshake_status(
                        qio_channel_tls_get_session(p.client)), ==,
                    QCRYPTO_TLS_HANDSHAKE_COMPLETE);

    check_traffic(&p);
    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

static void test_tls_x509_ip_address(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server,"
                                        "verify-peer=off", server_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client",
                                        client_nocert_dir);
    HandshakeResult sres = { 0 }, cres = { 0 };
    Pair p = { 0 };

    /* A client without certificate, checking the server's IP SAN. */
    pair_sockets(&p, false);
    pair_tls(&p, screds, ccreds, "127.0.0.1");
    pair_handshake(&p, &sres, &cres);
    g_assert_null(sres.err);
    g_assert_null(cres.err);
    check_traffic(&p);
    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

static void test_tls_psk(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=server", psk_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=client", psk_dir);
    HandshakeResult sres = { 0 }, cres = { 0 };
    g_autofree char *speer = NULL;
    Pair p = { 0 };

    pair_sockets(&p, false);
    pair_tls(&p, screds, ccreds, NULL);
    pair_handshake(&p, &sres, &cres);
    g_assert_null(sres.err);
    g_assert_null(cres.err);
    speer = qcrypto_tls_session_get_peer_name(
        qio_channel_tls_get_session(p.server));
    g_assert_cmpstr(speer, ==, "qemu");
    check_traffic(&p);
    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

static void test_tls_anon(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_ANON,
                                        "endpoint=server");
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_ANON,
                                        "endpoint=client");
    HandshakeResult sres = { 0 }, cres = { 0 };
    Pair p = { 0 };

    pair_sockets(&p, false);
    pair_tls(&p, screds, ccreds, NULL);
    pair_handshake(&p, &sres, &cres);
    g_assert_null(sres.err);
    g_assert_null(cres.err);
    /* GnuTLS has no anonymous key exchange in TLS 1.3. */
    g_assert_cmpstr(qcrypto_tls_session_get_protocol(
                        qio_channel_tls_get_session(p.server)), ==,
                    "TLS1.2");
    check_traffic_full(&p, false);
    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

static gboolean watch_fired(QIOChannel *ioc, GIOCondition condition,
                            gpointer opaque)
{
    *(GIOCondition *)opaque = condition;
    return G_SOURCE_REMOVE;
}

/*
 * Decrypted bytes left in the session make a G_IO_IN watch fire although
 * the socket has nothing more to read.
 */
static void test_tls_watch_pending(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=server", psk_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=client", psk_dir);
    HandshakeResult sres = { 0 }, cres = { 0 };
    GIOCondition fired = 0;
    char buf[100];
    Pair p = { 0 };
    int64_t end;

    pair_sockets(&p, false);
    pair_tls(&p, screds, ccreds, NULL);
    pair_handshake(&p, &sres, &cres);
    g_assert_null(sres.err);
    g_assert_null(cres.err);

    memset(buf, 'x', sizeof(buf));
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(p.client), buf,
                                          sizeof(buf), &error_abort), ==, 0);
    /* One record of 100 bytes: read 10, 90 stay decrypted in GnuTLS. */
    end = g_get_monotonic_time() + TIMEOUT_S * G_USEC_PER_SEC;
    for (;;) {
        ssize_t ret = qio_channel_read(QIO_CHANNEL(p.server), buf, 10,
                                       &error_abort);

        if (ret != QIO_CHANNEL_ERR_BLOCK) {
            g_assert_cmpint(ret, ==, 10);
            break;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    g_assert_cmpuint(qcrypto_tls_session_check_pending(
                         qio_channel_tls_get_session(p.server)), ==, 90);

    qio_channel_add_watch(QIO_CHANNEL(p.server), G_IO_IN, watch_fired,
                          &fired, NULL);
    end = g_get_monotonic_time() + TIMEOUT_S * G_USEC_PER_SEC;
    while (!fired) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_main_context_iteration(NULL, false);
    }
    g_assert_true(fired & G_IO_IN);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.server), buf,
                                     sizeof(buf), &error_abort), ==, 90);

    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

/* Handshakes that must fail */

static void test_tls_wrong_ca(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server",
                                        server_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client,"
                                        "sanity-check=off", wrongca_dir);
    HandshakeResult sres = { 0 }, cres = { 0 };
    Pair p = { 0 };

    pair_sockets(&p, false);
    pair_tls(&p, screds, ccreds, "localhost");
    pair_handshake(&p, &sres, &cres);
    g_assert_nonnull(cres.err);
    g_test_message("%s", error_get_pretty(cres.err));
    g_assert_cmpstr(error_get_pretty(cres.err), ==,
                    "The TLS peer's certificate is not trusted: its issuer "
                    "is not a known CA");
    error_free(cres.err);
    error_free(sres.err);     /* the server may have finished, or not */
    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

static void test_tls_client_without_cert(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server",
                                        server_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client",
                                        client_nocert_dir);
    HandshakeResult sres = { 0 }, cres = { 0 };
    Pair p = { 0 };

    /* verify-peer=on on the server requires a client certificate. */
    pair_sockets(&p, false);
    pair_tls(&p, screds, ccreds, "localhost");
    pair_handshake(&p, &sres, &cres);
    g_assert_nonnull(sres.err);
    g_test_message("%s", error_get_pretty(sres.err));
    g_assert_nonnull(strstr(error_get_pretty(sres.err),
                            "TLS handshake failed"));
    error_free(sres.err);
    error_free(cres.err);
    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

static void test_tls_hostname_mismatch(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server",
                                        server_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client",
                                        client_dir);
    HandshakeResult sres = { 0 }, cres = { 0 };
    Pair p = { 0 };

    pair_sockets(&p, false);
    pair_tls(&p, screds, ccreds, "otherhost.example");
    pair_handshake(&p, &sres, &cres);
    g_assert_nonnull(cres.err);
    g_test_message("%s", error_get_pretty(cres.err));
    g_assert_cmpstr(error_get_pretty(cres.err), ==,
                    "Certificate does not match the hostname "
                    "otherhost.example");
    error_free(cres.err);
    error_free(sres.err);
    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

static void test_tls_aclname_refused(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=server", psk_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=client", psk_dir);
    HandshakeResult sres = { 0 }, cres = { 0 };
    Pair p = { 0 };

    pair_sockets(&p, false);
    p.server = qio_channel_tls_new_server(QIO_CHANNEL(p.ssock), screds,
                                          "authz0", &error_abort);
    p.client = qio_channel_tls_new_client(QIO_CHANNEL(p.csock), ccreds,
                                          NULL, &error_abort);
    pair_handshake(&p, &sres, &cres);
    g_assert_nonnull(sres.err);
    g_test_message("%s", error_get_pretty(sres.err));
    g_assert_nonnull(strstr(error_get_pretty(sres.err), "authz0"));
    error_free(sres.err);
    error_free(cres.err);
    pair_free(&p);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
}

/* A peer that writes plain text instead of TLS gets a clear error. */
static void test_tls_plaintext_client(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server",
                                        server_dir);
    HandshakeResult sres = { 0 };
    Pair p = { 0 };

    pair_sockets(&p, false);
    p.server = qio_channel_tls_new_server(QIO_CHANNEL(p.ssock), screds,
                                          NULL, &error_abort);
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(p.csock),
                                          "GARBAGE\r\n", 9, &error_abort),
                    ==, 0);
    qio_channel_tls_handshake(p.server, handshake_done, &sres, NULL, NULL);
    main_loop_until(&sres.done, NULL);
    g_assert_nonnull(sres.err);
    g_test_message("%s", error_get_pretty(sres.err));
    g_assert_nonnull(strstr(error_get_pretty(sres.err),
                            "TLS handshake failed"));
    g_assert_nonnull(strstr(error_get_pretty(sres.err),
                            "does not seem to speak TLS"));
    error_free(sres.err);
    pair_free(&p);
    object_unref(OBJECT(screds));
}

static gboolean plaintext_server_reply(QIOChannel *ioc,
                                       GIOCondition condition,
                                       gpointer opaque)
{
    char buf[4096];

    /* Swallow the ClientHello, answer like a line protocol would. */
    if (qio_channel_read(ioc, buf, sizeof(buf), NULL) > 0) {
        qio_channel_write_all(ioc, "GARBAGE\r\n", 9, &error_abort);
    }
    return G_SOURCE_REMOVE;
}

static void test_tls_plaintext_server(void)
{
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client",
                                        client_dir);
    HandshakeResult cres = { 0 };
    Pair p = { 0 };

    pair_sockets(&p, false);
    p.client = qio_channel_tls_new_client(QIO_CHANNEL(p.csock), ccreds,
                                          "localhost", &error_abort);
    qio_channel_add_watch(QIO_CHANNEL(p.ssock), G_IO_IN,
                          plaintext_server_reply, NULL, NULL);
    qio_channel_tls_handshake(p.client, handshake_done, &cres, NULL, NULL);
    main_loop_until(&cres.done, NULL);
    g_assert_nonnull(cres.err);
    g_test_message("%s", error_get_pretty(cres.err));
    g_assert_nonnull(strstr(error_get_pretty(cres.err),
                            "does not seem to speak TLS"));
    error_free(cres.err);
    pair_free(&p);
    object_unref(OBJECT(ccreds));
}

/* A peer that hangs up during the handshake: an error, not a hang. */
static void test_tls_peer_closes(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=server", psk_dir);
    HandshakeResult sres = { 0 };
    Pair p = { 0 };

    pair_sockets(&p, false);
    p.server = qio_channel_tls_new_server(QIO_CHANNEL(p.ssock), screds,
                                          NULL, &error_abort);
    qio_channel_tls_handshake(p.server, handshake_done, &sres, NULL, NULL);
    qio_channel_close(QIO_CHANNEL(p.csock), &error_abort);
    main_loop_until(&sres.done, NULL);
    g_assert_nonnull(sres.err);
    g_test_message("%s", error_get_pretty(sres.err));
    g_assert_nonnull(strstr(error_get_pretty(sres.err),
                            "TLS handshake failed"));
    error_free(sres.err);
    pair_free(&p);
    object_unref(OBJECT(screds));
}

/* Closing during a QIOTask handshake completes the task with an error. */
static void test_tls_close_during_handshake(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=server", psk_dir);
    HandshakeResult sres = { 0 };
    Pair p = { 0 };

    pair_sockets(&p, false);
    p.server = qio_channel_tls_new_server(QIO_CHANNEL(p.ssock), screds,
                                          NULL, &error_abort);
    qio_channel_tls_handshake(p.server, handshake_done, &sres, NULL, NULL);
    g_assert_false(sres.done);
    qio_channel_close(QIO_CHANNEL(p.server), NULL);
    g_assert_true(sres.done);
    g_assert_nonnull(sres.err);
    g_test_message("%s", error_get_pretty(sres.err));
    error_free(sres.err);
    pair_free(&p);
    object_unref(OBJECT(screds));
}

/* Coroutines in iothreads */

static bool wait_flag(bool *flag)
{
    int64_t end = g_get_monotonic_time() + TIMEOUT_S * G_USEC_PER_SEC;

    while (!qatomic_load_acquire(flag)) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(200);
    }
    return true;
}

typedef struct CoHandshake {
    QIOChannelTLS *tioc;
    AioContext *ran_in;
    int ret;
    Error *err;
    bool done;
} CoHandshake;

static void coroutine_fn handshake_co(void *opaque)
{
    CoHandshake *hs = opaque;

    hs->ret = qio_channel_tls_handshake_co(hs->tioc, &hs->err);
    hs->ran_in = qemu_get_current_aio_context();
    qatomic_store_release(&hs->done, true);
}

/* Server handshake in @sctx, client in @cctx, both as coroutines. */
static void co_handshake_pair(Pair *p, AioContext *sctx, AioContext *cctx)
{
    CoHandshake shs = { .tioc = p->server };
    CoHandshake chs = { .tioc = p->client };

    aio_co_enter(sctx, qemu_coroutine_create(handshake_co, &shs));
    aio_co_enter(cctx, qemu_coroutine_create(handshake_co, &chs));
    g_assert_true(wait_flag(&shs.done));
    g_assert_true(wait_flag(&chs.done));
    if (shs.err) {
        error_report_err(shs.err);
    }
    if (chs.err) {
        error_report_err(chs.err);
    }
    g_assert_cmpint(shs.ret, ==, 0);
    g_assert_cmpint(chs.ret, ==, 0);
    g_assert_true(shs.ran_in == sctx);
    g_assert_true(chs.ran_in == cctx);
}

typedef struct CoStream {
    QIOChannelTLS *tioc;
    size_t size;
    uint64_t seed;
    AioContext *ran_in;
    bool ok;
    bool done;
} CoStream;

static void coroutine_fn stream_write_co(void *opaque)
{
    CoStream *s = opaque;
    g_autofree uint8_t *buf = g_malloc(CHUNK);

    s->ok = true;
    for (size_t off = 0; off < s->size; off += CHUNK) {
        fill_pattern(buf, CHUNK, s->seed, off);
        if (qio_channel_write_all(QIO_CHANNEL(s->tioc), (char *)buf, CHUNK,
                                  &error_abort) < 0) {
            s->ok = false;
            break;
        }
    }
    s->ran_in = qemu_get_current_aio_context();
    qatomic_store_release(&s->done, true);
}

static void coroutine_fn stream_read_co(void *opaque)
{
    CoStream *s = opaque;
    g_autofree uint8_t *buf = g_malloc(CHUNK);
    g_autofree uint8_t *expect = g_malloc(CHUNK);

    s->ok = true;
    for (size_t off = 0; off < s->size; off += CHUNK) {
        if (qio_channel_read_all(QIO_CHANNEL(s->tioc), (char *)buf, CHUNK,
                                 &error_abort) < 0) {
            s->ok = false;
            break;
        }
        fill_pattern(expect, CHUNK, s->seed, off);
        if (memcmp(buf, expect, CHUNK) != 0) {
            s->ok = false;
            break;
        }
    }
    s->ran_in = qemu_get_current_aio_context();
    qatomic_store_release(&s->done, true);
}

typedef struct CtxCount {
    AioContext *ctx;
    unsigned int handlers;
    unsigned int bhs;
    bool done;
} CtxCount;

static void coroutine_fn count_handlers_co(void *opaque)
{
    CtxCount *c = opaque;

    c->handlers = aio_context_handler_count(c->ctx);
    c->bhs = aio_context_bh_count(c->ctx);
    qatomic_store_release(&c->done, true);
}

/* Fails if @ctx (run by another thread) has fd handlers left. */
static void assert_iothread_ctx_clean(AioContext *ctx)
{
    CtxCount c = { .ctx = ctx };

    aio_co_enter(ctx, qemu_coroutine_create(count_handlers_co, &c));
    g_assert_true(wait_flag(&c.done));
    g_assert_cmpuint(c.handlers, ==, 0);
}

static void test_tls_handshake_co_iothreads(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server",
                                        server_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client",
                                        client_dir);
    IOThread *ioth_a = iothread_create("tls-a", &error_abort);
    IOThread *ioth_b = iothread_create("tls-b", &error_abort);
    AioContext *ctx_a = iothread_get_aio_context(ioth_a);
    AioContext *ctx_b = iothread_get_aio_context(ioth_b);
    CoStream w, r;
    Pair p = { 0 };

    pair_sockets(&p, true);
    pair_tls(&p, screds, ccreds, "localhost");
    co_handshake_pair(&p, ctx_a, ctx_b);

    /* Client writes from B, server reads in A. */
    w = (CoStream) { .tioc = p.client, .size = BULK_SIZE, .seed = 7 };
    r = (CoStream) { .tioc = p.server, .size = BULK_SIZE, .seed = 7 };
    aio_co_enter(ctx_a, qemu_coroutine_create(stream_read_co, &r));
    aio_co_enter(ctx_b, qemu_coroutine_create(stream_write_co, &w));
    g_assert_true(wait_flag(&w.done));
    g_assert_true(wait_flag(&r.done));
    g_assert_true(w.ok);
    g_assert_true(r.ok);
    g_assert_true(r.ran_in == ctx_a);
    g_assert_true(w.ran_in == ctx_b);

    assert_iothread_ctx_clean(ctx_a);
    assert_iothread_ctx_clean(ctx_b);
    assert_ctx_clean(iohandler_get_aio_context());
    pair_free(&p);
    iothread_destroy(ioth_a);
    iothread_destroy(ioth_b);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
    assert_no_coroutines();
}

/*
 * Many coroutine handshakes at once against one server context, none of
 * them blocking the thread or running a nested loop (which would corrupt
 * the coroutine wake-up list).
 */
#define MANY_HANDSHAKES 16

static void test_tls_many_handshakes_co(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server",
                                        server_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client",
                                        client_dir);
    IOThread *ioth_a = iothread_create("tls-many-a", &error_abort);
    IOThread *ioth_b = iothread_create("tls-many-b", &error_abort);
    AioContext *ctx_a = iothread_get_aio_context(ioth_a);
    AioContext *ctx_b = iothread_get_aio_context(ioth_b);
    Pair p[MANY_HANDSHAKES] = { 0 };
    CoHandshake shs[MANY_HANDSHAKES] = { 0 };
    CoHandshake chs[MANY_HANDSHAKES] = { 0 };

    for (int i = 0; i < MANY_HANDSHAKES; i++) {
        pair_sockets(&p[i], true);
        pair_tls(&p[i], screds, ccreds, "localhost");
        shs[i].tioc = p[i].server;
        chs[i].tioc = p[i].client;
    }
    for (int i = 0; i < MANY_HANDSHAKES; i++) {
        aio_co_enter(ctx_a, qemu_coroutine_create(handshake_co, &shs[i]));
        aio_co_enter(ctx_b, qemu_coroutine_create(handshake_co, &chs[i]));
    }
    for (int i = 0; i < MANY_HANDSHAKES; i++) {
        g_assert_true(wait_flag(&shs[i].done));
        g_assert_true(wait_flag(&chs[i].done));
        g_assert_cmpint(shs[i].ret, ==, 0);
        g_assert_cmpint(chs[i].ret, ==, 0);
        g_assert_true(shs[i].ran_in == ctx_a);
        g_assert_true(chs[i].ran_in == ctx_b);
    }

    assert_iothread_ctx_clean(ctx_a);
    assert_iothread_ctx_clean(ctx_b);
    for (int i = 0; i < MANY_HANDSHAKES; i++) {
        pair_free(&p[i]);
    }
    iothread_destroy(ioth_a);
    iothread_destroy(ioth_b);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
    assert_no_coroutines();
}

/*
 * A TLS channel over a socket that follows its coroutine's context must
 * inherit that and wait in the iothread too, not in the iohandler context.
 */
static void test_tls_follow_coroutine_ctx(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=server", psk_dir);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_PSK,
                                        "dir=%s,endpoint=client", psk_dir);
    IOThread *ioth_a = iothread_create("tls-follow-a", &error_abort);
    IOThread *ioth_b = iothread_create("tls-follow-b", &error_abort);
    AioContext *ctx_a = iothread_get_aio_context(ioth_a);
    AioContext *ctx_b = iothread_get_aio_context(ioth_b);
    QIOChannel *sioc;
    CoStream w, r;
    Pair p = { 0 };
    int64_t end;

    /* The server's socket follows; the client's doesn't, yet. */
    pair_sockets(&p, false);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(p.ssock), true);
    pair_tls(&p, screds, ccreds, NULL);
    sioc = QIO_CHANNEL(p.server);
    g_assert_true(sioc->follow_coroutine_ctx);
    g_assert_false(QIO_CHANNEL(p.client)->follow_coroutine_ctx);

    /*
     * Set on the TLS channel, it governs the TLS channel's waits (the
     * handshake's included) without touching the master's own setting.
     */
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(p.client), true);
    co_handshake_pair(&p, ctx_a, ctx_b);
    g_assert_false(QIO_CHANNEL(p.csock)->follow_coroutine_ctx);

    /* The reader parks in A before anything is sent. */
    r = (CoStream) { .tioc = p.server, .size = BULK_SIZE, .seed = 11 };
    aio_co_enter(ctx_a, qemu_coroutine_create(stream_read_co, &r));
    end = g_get_monotonic_time() + TIMEOUT_S * G_USEC_PER_SEC;
    while (!qatomic_load_acquire(&sioc->read_coroutine)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(200);
    }
    g_assert_true(qatomic_read(&sioc->read_ctx) == ctx_a);
    assert_ctx_clean(iohandler_get_aio_context());

    w = (CoStream) { .tioc = p.client, .size = BULK_SIZE, .seed = 11 };
    aio_co_enter(ctx_b, qemu_coroutine_create(stream_write_co, &w));
    g_assert_true(wait_flag(&w.done));
    g_assert_true(wait_flag(&r.done));
    g_assert_true(w.ok);
    g_assert_true(r.ok);
    g_assert_true(r.ran_in == ctx_a);

    assert_iothread_ctx_clean(ctx_a);
    assert_iothread_ctx_clean(ctx_b);
    pair_free(&p);
    iothread_destroy(ioth_a);
    iothread_destroy(ioth_b);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
    assert_no_coroutines();
}

/*
 * One TLS 1.3 session read in iothread A and written in
 * iothread B (and the reverse for the other end), both directions at
 * once, while each side in turn forces a KeyUpdate that asks the peer to
 * rekey too.
 *
 * GnuTLS refuses a peer's KeyUpdate request while one of ours is
 * unanswered, which TLS 1.3 allows; the test therefore takes turns: a
 * side may only ask once the previous request was answered. The record
 * below tracks, by byte counts, when that is: the peer has processed our
 * KeyUpdate once its reader got past the offset at which we sent it, and
 * the peer's answer precedes whatever its writer sends after that (plus
 * one chunk that may have been in flight).
 */
#define REKEY_ROUNDS 6      /* 3 per side; GnuTLS takes 8 a second */

enum {
    DIR_C2S,    /* written by the client, read by the server */
    DIR_S2C,
};

typedef enum RekeyState {
    REKEY_TURN,         /* side @turn may ask when it reaches the mark */
    REKEY_WAIT_SEEN,    /* waiting for the peer to read past @ku_off */
    REKEY_WAIT_ANSWER,  /* waiting for the asker to read past @mark */
    REKEY_DONE,
} RekeyState;

typedef struct Rekey {
    QemuMutex lock;     /* protects everything below */
    uint64_t sent[2];   /* bytes written, per direction */
    uint64_t recvd[2];  /* bytes read, per direction */
    RekeyState state;
    int turn;           /* the side (= the direction it writes) to ask */
    int round;
    uint64_t ku_off;
    uint64_t mark;
    int updates[2];
    size_t size;
} Rekey;

typedef struct RekeyWorker {
    Rekey *rk;
    QIOChannelTLS *tioc;
    int dir;            /* the direction it writes or reads */
    AioContext *ran_in;
    bool ok;
    bool done;
} RekeyWorker;

/* Moves the state machine along after a read; rk->lock held. */
static void rekey_progress_locked(Rekey *rk)
{
    int asker = rk->turn;
    int other = 1 - asker;

    if (rk->state == REKEY_WAIT_SEEN && rk->recvd[asker] > rk->ku_off) {
        rk->mark = rk->sent[other] + CHUNK;
        rk->state = REKEY_WAIT_ANSWER;
    }
    if (rk->state == REKEY_WAIT_ANSWER && rk->recvd[other] > rk->mark) {
        rk->round++;
        rk->turn = other;
        rk->state = rk->round == REKEY_ROUNDS ? REKEY_DONE : REKEY_TURN;
    }
}

static bool coroutine_fn rekey_maybe_update(RekeyWorker *wk)
{
    Rekey *rk = wk->rk;
    QCryptoTLSSession *sess = qio_channel_tls_get_session(wk->tioc);
    bool ask;

    qemu_mutex_lock(&rk->lock);
    ask = rk->state == REKEY_TURN && rk->turn == wk->dir &&
        rk->sent[wk->dir] >= (rk->round + 1) * (rk->size / 16);
    qemu_mutex_unlock(&rk->lock);
    if (!ask) {
        return true;
    }

    for (;;) {
        Error *err = NULL;
        int ret = qcrypto_tls_session_key_update(sess, true, &err);

        if (ret == 0) {
            break;
        }
        if (ret != QCRYPTO_TLS_SESSION_ERR_BLOCK) {
            error_report_err(err);
            return false;
        }
        qio_channel_yield(QIO_CHANNEL(wk->tioc), G_IO_OUT);
    }

    qemu_mutex_lock(&rk->lock);
    rk->ku_off = rk->sent[wk->dir];
    rk->updates[wk->dir]++;
    rk->state = REKEY_WAIT_SEEN;
    qemu_mutex_unlock(&rk->lock);
    return true;
}

/*
 * Keeps the two directions within REKEY_MAX_SKEW of each other until the
 * last round is over. A side answers a KeyUpdate with its next write, so
 * the rounds need both writers still writing: on a loaded machine one
 * direction could otherwise finish before the peer even asked.
 */
#define REKEY_MAX_SKEW(rk) ((rk)->size / 8)

static void coroutine_fn rekey_pace(RekeyWorker *wk)
{
    Rekey *rk = wk->rk;

    for (;;) {
        bool wait;

        qemu_mutex_lock(&rk->lock);
        wait = rk->state != REKEY_DONE &&
               rk->sent[wk->dir] >= rk->sent[1 - wk->dir] +
                                    REKEY_MAX_SKEW(rk);
        qemu_mutex_unlock(&rk->lock);
        if (!wait) {
            return;
        }
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, 1000 * 1000);
    }
}

static void coroutine_fn rekey_write_co(void *opaque)
{
    RekeyWorker *wk = opaque;
    Rekey *rk = wk->rk;
    g_autofree uint8_t *buf = g_malloc(CHUNK);
    Error *err = NULL;

    wk->ok = true;
    for (uint64_t off = 0; off < rk->size; off += CHUNK) {
        rekey_pace(wk);
        if (!rekey_maybe_update(wk)) {
            wk->ok = false;
            break;
        }
        fill_pattern(buf, CHUNK, 100 + wk->dir, off);
        if (qio_channel_write_all(QIO_CHANNEL(wk->tioc), (char *)buf, CHUNK,
                                  &err) < 0) {
            error_report_err(err);
            wk->ok = false;
            break;
        }
        qemu_mutex_lock(&rk->lock);
        rk->sent[wk->dir] += CHUNK;
        qemu_mutex_unlock(&rk->lock);
    }
    wk->ran_in = qemu_get_current_aio_context();
    qatomic_store_release(&wk->done, true);
}

static void coroutine_fn rekey_read_co(void *opaque)
{
    RekeyWorker *wk = opaque;
    Rekey *rk = wk->rk;
    g_autofree uint8_t *buf = g_malloc(CHUNK);
    g_autofree uint8_t *expect = g_malloc(CHUNK);
    Error *err = NULL;

    wk->ok = true;
    for (uint64_t off = 0; off < rk->size; off += CHUNK) {
        if (qio_channel_read_all(QIO_CHANNEL(wk->tioc), (char *)buf, CHUNK,
                                 &err) < 0) {
            error_report_err(err);
            wk->ok = false;
            break;
        }
        fill_pattern(expect, CHUNK, 100 + wk->dir, off);
        if (memcmp(buf, expect, CHUNK) != 0) {
            g_printerr("direction %d: data differs in chunk at %" PRIu64
                       "\n", wk->dir, off);
            wk->ok = false;
            break;
        }
        qemu_mutex_lock(&rk->lock);
        rk->recvd[wk->dir] += CHUNK;
        rekey_progress_locked(rk);
        qemu_mutex_unlock(&rk->lock);
    }
    wk->ran_in = qemu_get_current_aio_context();
    qatomic_store_release(&wk->done, true);
}

static void test_tls13_rekey_two_threads(void)
{
    QCryptoTLSCreds *screds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=server,priority=%s",
                                        server_dir, TLS13_PRIORITY);
    QCryptoTLSCreds *ccreds = creds_new(TYPE_QCRYPTO_TLS_CREDS_X509,
                                        "dir=%s,endpoint=client,priority=%s",
                                        client_dir, TLS13_PRIORITY);
    IOThread *ioth_a = iothread_create("tls-rekey-a", &error_abort);
    IOThread *ioth_b = iothread_create("tls-rekey-b", &error_abort);
    AioContext *ctx_a = iothread_get_aio_context(ioth_a);
    AioContext *ctx_b = iothread_get_aio_context(ioth_b);
    Rekey rk = { .size = REKEY_SIZE, .turn = DIR_C2S };
    RekeyWorker srd, swr, crd, cwr;
    Pair p = { 0 };

    qemu_mutex_init(&rk.lock);
    pair_sockets(&p, true);
    pair_tls(&p, screds, ccreds, "localhost");
    co_handshake_pair(&p, ctx_a, ctx_b);
    g_assert_cmpstr(qcrypto_tls_session_get_protocol(
                        qio_channel_tls_get_session(p.server)), ==,
                    "TLS1.3");

    /* Each session: reader in one iothread, writer in the other. */
    srd = (RekeyWorker) { .rk = &rk, .tioc = p.server, .dir = DIR_C2S };
    swr = (RekeyWorker) { .rk = &rk, .tioc = p.server, .dir = DIR_S2C };
    crd = (RekeyWorker) { .rk = &rk, .tioc = p.client, .dir = DIR_S2C };
    cwr = (RekeyWorker) { .rk = &rk, .tioc = p.client, .dir = DIR_C2S };
    aio_co_enter(ctx_a, qemu_coroutine_create(rekey_read_co, &srd));
    aio_co_enter(ctx_b, qemu_coroutine_create(rekey_write_co, &swr));
    aio_co_enter(ctx_b, qemu_coroutine_create(rekey_read_co, &crd));
    aio_co_enter(ctx_a, qemu_coroutine_create(rekey_write_co, &cwr));

    g_assert_true(wait_flag(&srd.done));
    g_assert_true(wait_flag(&swr.done));
    g_assert_true(wait_flag(&crd.done));
    g_assert_true(wait_flag(&cwr.done));
    g_assert_true(srd.ok && swr.ok && crd.ok && cwr.ok);
    g_assert_true(srd.ran_in == ctx_a && swr.ran_in == ctx_b);
    g_assert_true(crd.ran_in == ctx_b && cwr.ran_in == ctx_a);
    g_assert_cmpuint(rk.recvd[DIR_C2S], ==, REKEY_SIZE);
    g_assert_cmpuint(rk.recvd[DIR_S2C], ==, REKEY_SIZE);
    g_assert_cmpint(rk.state, ==, REKEY_DONE);
    g_assert_cmpint(rk.updates[DIR_C2S], ==, REKEY_ROUNDS / 2);
    g_assert_cmpint(rk.updates[DIR_S2C], ==, REKEY_ROUNDS / 2);

    assert_iothread_ctx_clean(ctx_a);
    assert_iothread_ctx_clean(ctx_b);
    pair_free(&p);
    iothread_destroy(ioth_a);
    iothread_destroy(ioth_b);
    qemu_mutex_destroy(&rk.lock);
    object_unref(OBJECT(screds));
    object_unref(OBJECT(ccreds));
    assert_no_coroutines();
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    make_material();

    g_test_add_func("/crypto/tlscreds/x509/props", test_creds_x509_props);
    g_test_add_func("/crypto/tlscreds/x509/missing-ca",
                    test_creds_x509_missing_ca);
    g_test_add_func("/crypto/tlscreds/x509/missing-server-cert",
                    test_creds_x509_missing_server_cert);
    g_test_add_func("/crypto/tlscreds/x509/sanity-check",
                    test_creds_x509_sanity);
    g_test_add_func("/crypto/tlscreds/psk", test_creds_psk);
    g_test_add_func("/crypto/tlscreds/wrong-endpoint",
                    test_creds_wrong_endpoint);
    g_test_add_func("/io/channel/tls/x509", test_tls_x509);
    g_test_add_func("/io/channel/tls/x509-ip-address",
                    test_tls_x509_ip_address);
    g_test_add_func("/io/channel/tls/psk", test_tls_psk);
    g_test_add_func("/io/channel/tls/anon", test_tls_anon);
    g_test_add_func("/io/channel/tls/refused/wrong-ca", test_tls_wrong_ca);
    g_test_add_func("/io/channel/tls/refused/client-without-cert",
                    test_tls_client_without_cert);
    g_test_add_func("/io/channel/tls/refused/hostname",
                    test_tls_hostname_mismatch);
    g_test_add_func("/io/channel/tls/refused/aclname",
                    test_tls_aclname_refused);
    g_test_add_func("/io/channel/tls/refused/plaintext-client",
                    test_tls_plaintext_client);
    g_test_add_func("/io/channel/tls/refused/plaintext-server",
                    test_tls_plaintext_server);
    g_test_add_func("/io/channel/tls/refused/peer-closes",
                    test_tls_peer_closes);
    g_test_add_func("/io/channel/tls/close-during-handshake",
                    test_tls_close_during_handshake);
    g_test_add_func("/io/channel/tls/handshake-co-iothreads",
                    test_tls_handshake_co_iothreads);
    g_test_add_func("/io/channel/tls/many-handshakes-co",
                    test_tls_many_handshakes_co);
    g_test_add_func("/io/channel/tls/watch-pending", test_tls_watch_pending);
    g_test_add_func("/io/channel/tls/follow-coroutine-ctx",
                    test_tls_follow_coroutine_ctx);
    g_test_add_func("/io/channel/tls/tls13-rekey-two-threads",
                    test_tls13_rekey_two_threads);

    ret = g_test_run();
    remove_tree(workdir);
    g_free(workdir);
    g_free(server_dir);
    g_free(client_dir);
    g_free(client_nocert_dir);
    g_free(wrongca_dir);
    g_free(psk_dir);
    return ret;
}
