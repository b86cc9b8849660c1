#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

class QSslConfiguration;

namespace Lockstep::Test
{
    // A self-signed certificate and its key, made at run time (OpenSSL C API),
    // for TLS tests: never a checked-in key.
    struct TlsCert
    {
        QByteArray certificatePem;
        QByteArray privateKeyPem;
    };

    // EC P-256 key; the certificate is valid from an hour ago for `days` days,
    // subject CN = commonName, SAN = dnsNames + ipAddresses. Empty result
    // (both fields empty) if OpenSSL fails.
    TlsCert makeSelfSignedCert(const QString &commonName = QStringLiteral("localhost"),
                               const QStringList &dnsNames = {QStringLiteral("localhost")},
                               const QStringList &ipAddresses = {QStringLiteral("127.0.0.1")}, int days = 2);

    // Writes the certificate (PEM) to a file, e.g. to use as a CA file.
    bool writePemFile(const QString &path, const QByteArray &pem);

    // A server-side configuration with the certificate and key, no peer verification.
    QSslConfiguration serverSslConfiguration(const TlsCert &cert);
}  // namespace Lockstep::Test
