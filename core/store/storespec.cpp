#include "storespec.h"

#include <QRegularExpression>
#include <QUrl>
#include <QUrlQuery>

namespace Lockstep::Store
{
    namespace
    {
        // Masks "user:password@" and every query value (a password may be
        // smuggled in there) in a spec-looking text, even one QUrl cannot parse.
        QString redactText(const QString &text)
        {
            static const QRegularExpression userInfo(QStringLiteral("(://[^/@]*?:)[^@/]*@"));
            static const QRegularExpression queryValue(QStringLiteral("([?&][^=&#]*=)[^&#]*"));
            QString out = text;
            out.replace(userInfo, QStringLiteral("\\1***@"));
            out.replace(queryValue, QStringLiteral("\\1***"));
            return out;
        }

        // The values end up inside a libpq conninfo string that Qt assembles
        // (it turns ';' into ' '); a plain character set keeps them one token.
        bool isPlainValue(const QString &value)
        {
            static const QRegularExpression plain(QStringLiteral("^[A-Za-z0-9_.:/+@=-]+$"));
            return plain.match(value).hasMatch();
        }

        Result<StoreSpec, QString> parsePostgres(const QString &text)
        {
            const QString shown = redactText(text);
            const auto fail = [&shown](const QString &why) {
                return unexpected(QStringLiteral("invalid store spec \"%1\": %2").arg(shown, why));
            };

            const QUrl url(text, QUrl::StrictMode);
            if (!url.isValid())
                return fail(QStringLiteral("not a valid URL"));

            StoreSpec spec;
            spec.kind = StoreSpec::Kind::PostgreSql;
            spec.host = url.host(QUrl::FullyDecoded);
            if (spec.host.isEmpty())
                return fail(QStringLiteral("missing host"));
            spec.user = url.userName(QUrl::FullyDecoded);
            if (spec.user.isEmpty())
                return fail(QStringLiteral("missing user (postgresql://user[:password]@host:port/dbname)"));
            spec.password = url.password(QUrl::FullyDecoded);
            if (url.port() == 0)
                return fail(QStringLiteral("port 0 is not a port"));
            spec.port = url.port(5432);

            QString path = url.path(QUrl::FullyDecoded);
            if (path.startsWith(u'/'))
                path.remove(0, 1);
            if (path.isEmpty())
                return fail(QStringLiteral("missing database name"));
            if (path.contains(u'/'))
                return fail(QStringLiteral("the database name cannot contain '/'"));
            spec.databaseName = path;
            if (url.hasFragment())
                return fail(QStringLiteral("a fragment ('#...') is not allowed"));

            const QStringList known = pgQueryKeys();
            const QUrlQuery query(url);
            for (const auto &[key, value] : query.queryItems(QUrl::FullyDecoded))
            {
                if (!known.contains(key))
                {
                    return fail(QStringLiteral("unknown parameter \"%1\" (known: %2)")
                                    .arg(key, known.join(QStringLiteral(", "))));
                }
                if (!isPlainValue(value))
                    return fail(QStringLiteral("bad value for parameter \"%1\"").arg(key));
                spec.options.append({key, value});
            }
            return spec;
        }
    }  // namespace

    QString StoreSpec::redacted() const
    {
        if (kind == Kind::Sqlite)
            return QStringLiteral("sqlite:") + sqlitePath;

        QUrl url;
        url.setScheme(QStringLiteral("postgresql"));
        url.setUserName(user);
        url.setHost(host);
        url.setPort(port);
        if (!password.isEmpty())
            url.setPassword(QStringLiteral("***"));
        url.setPath(u'/' + databaseName);
        return url.toString();
    }

    QStringList pgQueryKeys()
    {
        return {QStringLiteral("sslmode"),
                QStringLiteral("sslrootcert"),
                QStringLiteral("sslcert"),
                QStringLiteral("sslkey"),
                QStringLiteral("connect_timeout"),
                QStringLiteral("application_name"),
                QStringLiteral("keepalives"),
                QStringLiteral("keepalives_idle"),
                QStringLiteral("keepalives_interval"),
                QStringLiteral("keepalives_count"),
                QStringLiteral("tcp_user_timeout")};
    }

    Result<StoreSpec, QString> parseStoreSpec(const QString &text)
    {
        const QString trimmed = text.trimmed();
        if (trimmed.startsWith(QStringLiteral("sqlite:")))
        {
            StoreSpec spec;
            spec.kind = StoreSpec::Kind::Sqlite;
            spec.sqlitePath = trimmed.mid(7);
            if (spec.sqlitePath.startsWith(QStringLiteral("//")))
                spec.sqlitePath.remove(0, 2);  // tolerate sqlite://PATH
            if (spec.sqlitePath.isEmpty())
                return unexpected(
                    QStringLiteral("invalid store spec \"%1\": missing file path (sqlite:PATH)").arg(trimmed));
            // Every RunStore instance owns its own connection, so a private
            // in-memory database would not be shared between them.
            if (spec.sqlitePath == QStringLiteral(":memory:") || spec.sqlitePath.startsWith(QStringLiteral("file:")))
                return unexpected(QStringLiteral("invalid store spec \"%1\": use a file path").arg(trimmed));
            return spec;
        }
        if (trimmed.startsWith(QStringLiteral("postgresql://")) || trimmed.startsWith(QStringLiteral("postgres://")))
            return parsePostgres(trimmed);

        return unexpected(
            QStringLiteral("invalid store spec \"%1\": expected sqlite:PATH or postgresql://user@host:port/dbname")
                .arg(redactText(trimmed)));
    }
}  // namespace Lockstep::Store
