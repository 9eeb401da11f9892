/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TLS credentials: the abstract base type, its properties and the file
 * helpers shared by the concrete kinds.
 */
#include "qemu/osdep.h"
#include "crypto/tlscreds.h"
#include "crypto/tlscredspriv.h"
#include "qapi/error.h"
#include "qom/object_interfaces.h"

const char *const QCryptoTLSCredsEndpoint_lookup[] = {
    [QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT] = "client",
    [QCRYPTO_TLS_CREDS_ENDPOINT_SERVER] = "server",
    [QCRYPTO_TLS_CREDS_ENDPOINT__MAX] = NULL,
};

bool qcrypto_tls_creds_check_endpoint(QCryptoTLSCreds *creds,
                                      QCryptoTLSCredsEndpoint endpoint,
                                      Error **errp)
{
    if (creds->endpoint != endpoint) {
        error_setg(errp, "TLS credentials '%s' have endpoint=%s, but a %s "
                   "endpoint needs them",
                   object_get_canonical_path_component(OBJECT(creds)) ?:
                   object_get_typename(OBJECT(creds)),
                   QCryptoTLSCredsEndpoint_lookup[creds->endpoint],
                   QCryptoTLSCredsEndpoint_lookup[endpoint]);
        return false;
    }
    return true;
}

int qcrypto_tls_creds_get_path(QCryptoTLSCreds *creds, const char *filename,
                               bool required, char **cred, Error **errp)
{
    g_autofree char *path = NULL;

    *cred = NULL;
    if (!creds->dir || !creds->dir[0]) {
        if (required) {
            error_setg(errp, "%s: the 'dir' property must name the "
                       "directory holding '%s'",
                       object_get_typename(OBJECT(creds)), filename);
            return -1;
        }
        return 0;
    }

    path = g_build_filename(creds->dir, filename, NULL);
    if (access(path, R_OK) < 0) {
        if (errno == ENOENT && !required) {
            return 0;
        }
        error_setg_errno(errp, errno, "Unable to access TLS credential "
                         "file '%s'", path);
        return -1;
    }
    *cred = g_steal_pointer(&path);
    return 0;
}

/* Credential files are small; anything bigger is not one of ours. */
#define QCRYPTO_TLS_CREDS_MAX_FILE (16 * 1024 * 1024)

bool qcrypto_tls_creds_read_file(const char *what, const char *path,
                                 gnutls_datum_t *data, Error **errp)
{
    GByteArray *buf;
    struct stat st;
    int fd;

    data->data = NULL;
    data->size = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Unable to read %s '%s'", what, path);
        return false;
    }
    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "Unable to read %s '%s'", what, path);
        close(fd);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        error_setg(errp, "Unable to read %s '%s': not a regular file",
                   what, path);
        close(fd);
        return false;
    }

    buf = g_byte_array_new();
    for (;;) {
        guint8 chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error_setg_errno(errp, errno, "Unable to read %s '%s'",
                             what, path);
            goto fail;
        }
        if (n == 0) {
            break;
        }
        if (buf->len + n > QCRYPTO_TLS_CREDS_MAX_FILE) {
            error_setg(errp, "Unable to read %s '%s': the file is larger "
                       "than %d bytes", what, path,
                       QCRYPTO_TLS_CREDS_MAX_FILE);
            goto fail;
        }
        g_byte_array_append(buf, chunk, n);
    }
    close(fd);

    /* NUL-terminated, which PEM parsers appreciate; not counted. */
    g_byte_array_append(buf, (const guint8 *)"", 1);
    data->size = buf->len - 1;
    data->data = g_byte_array_free(buf, false);
    return true;

fail:
    close(fd);
    g_byte_array_free(buf, true);
    return false;
}

bool qcrypto_tls_creds_load_dh_params(QCryptoTLSCreds *creds, Error **errp)
{
    g_autofree char *path = NULL;
    gnutls_datum_t data;
    int ret;

    if (qcrypto_tls_creds_get_path(creds, QCRYPTO_TLS_CREDS_DH_PARAMS, false,
                                   &path, errp) < 0) {
        return false;
    }
    if (!path) {
        return true;
    }
    if (!qcrypto_tls_creds_read_file("Diffie-Hellman parameters", path,
                                     &data, errp)) {
        return false;
    }

    ret = gnutls_dh_params_init(&creds->dh_params);
    if (ret < 0) {
        creds->dh_params = NULL;
    } else {
        ret = gnutls_dh_params_import_pkcs3(creds->dh_params, &data,
                                            GNUTLS_X509_FMT_PEM);
    }
    g_free(data.data);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to read Diffie-Hellman parameters '%s': %s",
                   path, why);
        if (creds->dh_params) {
            gnutls_dh_params_deinit(creds->dh_params);
            creds->dh_params = NULL;
        }
        return false;
    }
    return true;
}

char *qcrypto_tls_creds_get_priority(QCryptoTLSCreds *creds)
{
    QCryptoTLSCredsClass *klass = QCRYPTO_TLS_CREDS_GET_CLASS(creds);
    const char *base = creds->priority && creds->priority[0] ?
        creds->priority : QCRYPTO_TLS_CREDS_DEFAULT_PRIORITY;

    if (klass->priority_extra) {
        return g_strdup_printf("%s:%s", base, klass->priority_extra);
    }
    return g_strdup(base);
}

/* Properties */

static void qcrypto_tls_creds_set_dir(Object *obj, const char *value,
                                      Error **errp)
{
    QCryptoTLSCreds *creds = QCRYPTO_TLS_CREDS(obj);

    g_free(creds->dir);
    creds->dir = g_strdup(value);
}

static char *qcrypto_tls_creds_get_dir(Object *obj, Error **errp)
{
    return g_strdup(QCRYPTO_TLS_CREDS(obj)->dir);
}

static void qcrypto_tls_creds_set_priority(Object *obj, const char *value,
                                           Error **errp)
{
    QCryptoTLSCreds *creds = QCRYPTO_TLS_CREDS(obj);

    g_free(creds->priority);
    creds->priority = g_strdup(value);
}

static char *qcrypto_tls_creds_get_priority_prop(Object *obj, Error **errp)
{
    return g_strdup(QCRYPTO_TLS_CREDS(obj)->priority);
}

static void qcrypto_tls_creds_set_verify(Object *obj, bool value,
                                         Error **errp)
{
    QCRYPTO_TLS_CREDS(obj)->verify_peer = value;
}

static bool qcrypto_tls_creds_get_verify(Object *obj, Error **errp)
{
    return QCRYPTO_TLS_CREDS(obj)->verify_peer;
}

static void qcrypto_tls_creds_set_endpoint(Object *obj, int value,
                                           Error **errp)
{
    QCRYPTO_TLS_CREDS(obj)->endpoint = value;
}

static int qcrypto_tls_creds_get_endpoint(Object *obj, Error **errp)
{
    return QCRYPTO_TLS_CREDS(obj)->endpoint;
}

static bool qcrypto_tls_creds_get_loaded(Object *obj, Error **errp)
{
    return QCRYPTO_TLS_CREDS(obj)->loaded;
}

/* user-creatable: the files are read here, once every property is set. */
static void qcrypto_tls_creds_complete(UserCreatable *uc, Error **errp)
{
    QCryptoTLSCreds *creds = QCRYPTO_TLS_CREDS(uc);
    QCryptoTLSCredsClass *klass = QCRYPTO_TLS_CREDS_GET_CLASS(creds);

    if (creds->loaded) {
        return;
    }
    if (klass->load && !klass->load(creds, errp)) {
        if (klass->unload) {
            klass->unload(creds);
        }
        creds->loaded = false;
    }
}

static void qcrypto_tls_creds_init(Object *obj)
{
    QCryptoTLSCreds *creds = QCRYPTO_TLS_CREDS(obj);

    creds->verify_peer = true;
    creds->endpoint = QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT;
}

static void qcrypto_tls_creds_finalize(Object *obj)
{
    QCryptoTLSCreds *creds = QCRYPTO_TLS_CREDS(obj);
    QCryptoTLSCredsClass *klass = QCRYPTO_TLS_CREDS_GET_CLASS(creds);

    if (klass->unload) {
        klass->unload(creds);
    }
    if (creds->dh_params) {
        gnutls_dh_params_deinit(creds->dh_params);
        creds->dh_params = NULL;
    }
    g_free(creds->dir);
    g_free(creds->priority);
}

static void qcrypto_tls_creds_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = qcrypto_tls_creds_complete;

    object_class_property_add_bool(oc, "verify-peer",
                                   qcrypto_tls_creds_get_verify,
                                   qcrypto_tls_creds_set_verify);
    object_class_property_set_description(oc, "verify-peer",
        "whether the peer must present credentials that are checked "
        "(default: on)");
    object_class_property_add_str(oc, "dir",
                                  qcrypto_tls_creds_get_dir,
                                  qcrypto_tls_creds_set_dir);
    object_class_property_set_description(oc, "dir",
        "directory holding the credential files");
    object_class_property_add_enum(oc, "endpoint",
                                   QCryptoTLSCredsEndpoint_lookup,
                                   qcrypto_tls_creds_get_endpoint,
                                   qcrypto_tls_creds_set_endpoint);
    object_class_property_set_description(oc, "endpoint",
        "side of the connection: client (default) or server");
    object_class_property_add_str(oc, "priority",
                                  qcrypto_tls_creds_get_priority_prop,
                                  qcrypto_tls_creds_set_priority);
    object_class_property_set_description(oc, "priority",
        "GnuTLS priority string (default: NORMAL)");
    object_class_property_add_bool(oc, "loaded",
                                   qcrypto_tls_creds_get_loaded, NULL);
    object_class_property_set_description(oc, "loaded",
        "whether the credential files were read (read-only)");
}

static const TypeInfo qcrypto_tls_creds_info = {
    .name = TYPE_QCRYPTO_TLS_CREDS,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(QCryptoTLSCreds),
    .instance_init = qcrypto_tls_creds_init,
    .instance_finalize = qcrypto_tls_creds_finalize,
    .abstract = true,
    .class_size = sizeof(QCryptoTLSCredsClass),
    .class_init = qcrypto_tls_creds_class_init,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void qcrypto_tls_creds_register_types(void)
{
    type_register_static(&qcrypto_tls_creds_info);
}

type_init(qcrypto_tls_creds_register_types)

QCryptoTLSCreds *qcrypto_tls_creds_find(const char *id,
                                        QCryptoTLSCredsEndpoint endpoint,
                                        Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);
    QCryptoTLSCreds *creds;

    if (!obj) {
        error_setg(errp, "No TLS credentials with id '%s'", id);
        return NULL;
    }
    creds = (QCryptoTLSCreds *)object_dynamic_cast(obj,
                                                   TYPE_QCRYPTO_TLS_CREDS);
    if (!creds) {
        error_setg(errp, "Object with id '%s' is not TLS credentials", id);
        return NULL;
    }
    if (!qcrypto_tls_creds_check_endpoint(creds, endpoint, errp)) {
        error_prepend(errp, "TLS credentials '%s': ", id);
        return NULL;
    }
    return creds;
}
