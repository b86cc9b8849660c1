#include "tlscert.h"

#include <memory>

#include <QDateTime>
#include <QFile>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace Lockstep::Test
{
    namespace
    {
        template <auto Free>
        struct Deleter
        {
            template <typename T>
            void operator()(T *p) const
            {
                Free(p);
            }
        };
        using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
        using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
        using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
        using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

        bool addExtension(X509 *cert, const int nid, const QByteArray &value)
        {
            X509V3_CTX ctx;
            X509V3_set_ctx_nodb(&ctx);
            X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
            ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.constData()));
            return ext && X509_add_ext(cert, ext.get(), -1) == 1;
        }

        QByteArray bioContents(BIO *bio)
        {
            char *data = nullptr;
            const long size = BIO_ctrl(bio, BIO_CTRL_INFO, 0, static_cast<void *>(&data));  // BIO_get_mem_data
            return QByteArray(data, static_cast<qsizetype>(size));
        }
    }  // namespace

    TlsCert makeSelfSignedCert(const QString &commonName, const QStringList &dnsNames, const QStringList &ipAddresses,
                               const int days)
    {
        PKeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));  // EVP_EC_gen
        X509Ptr cert(X509_new());
        if (!key || !cert)
            return {};

        X509_set_version(cert.get(), 2);  // v3
        ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(QDateTime::currentSecsSinceEpoch()));
        X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 24 * 3600);
        X509_set_pubkey(cert.get(), key.get());

        X509_NAME *name = X509_get_subject_name(cert.get());
        const QByteArray cn = commonName.toUtf8();
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char *>("Lockstep tests"),
                                   -1, -1, 0);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char *>(cn.constData()),
                                   -1, -1, 0);
        X509_set_issuer_name(cert.get(), name);  // self-signed

        QStringList san;
        for (const QString &dns : dnsNames)
            san.append(QStringLiteral("DNS:%1").arg(dns));
        for (const QString &ip : ipAddresses)
            san.append(QStringLiteral("IP:%1").arg(ip));
        // Like `openssl req -x509`: a self-signed CA that is also the server certificate.
        const bool ok = addExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") &&
                        addExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign") &&
                        addExtension(cert.get(), NID_ext_key_usage, "serverAuth") &&
                        addExtension(cert.get(), NID_subject_key_identifier, "hash") &&
                        (san.isEmpty() || addExtension(cert.get(), NID_subject_alt_name, san.join(u',').toUtf8()));
        if (!ok || X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
            return {};

        BioPtr certBio(BIO_new(BIO_s_mem()));
        BioPtr keyBio(BIO_new(BIO_s_mem()));
        if (!certBio || !keyBio || PEM_write_bio_X509(certBio.get(), cert.get()) != 1 ||
            PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
            return {};
        return TlsCert{.certificatePem = bioContents(certBio.get()), .privateKeyPem = bioContents(keyBio.get())};
    }

    bool writePemFile(const QString &path, const QByteArray &pem)
    {
        QFile file(path);
        return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(pem) == pem.size();
    }

    QSslConfiguration serverSslConfiguration(const TlsCert &cert)
    {
        QSslConfiguration config = QSslConfiguration::defaultConfiguration();
        config.setLocalCertificate(QSslCertificate(cert.certificatePem, QSsl::Pem));
        config.setPrivateKey(QSslKey(cert.privateKeyPem, QSsl::Ec, QSsl::Pem));
        config.setPeerVerifyMode(QSslSocket::VerifyNone);
        return config;
    }
}  // namespace Lockstep::Test
