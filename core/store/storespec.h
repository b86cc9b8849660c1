#pragma once

#include <QList>
#include <QPair>
#include <QString>

#include "common/result.h"

namespace Lockstep::Store
{
    // A parsed --store value.
    //   sqlite:PATH                                   (PATH may be relative; ":memory:" is refused)
    //   postgresql://user[:password]@host[:port]/dbname[?key=value&...]
    //   (postgres:// is accepted too; keys: see pgQueryKeys())
    struct StoreSpec
    {
        enum class Kind
        {
            Sqlite,
            PostgreSql,
        };

        Kind kind = Kind::Sqlite;
        QString sqlitePath;  // Sqlite
        QString host;        // PostgreSql
        int port = 5432;
        QString user;
        QString password;  // never printed; see redacted()
        QString databaseName;
        QList<QPair<QString, QString>> options;  // libpq keywords from the query string, in order

        // The spec as a string without the password, safe for logs and errors.
        QString redacted() const;
    };

    // libpq keywords accepted in the query string of a postgresql:// spec.
    QStringList pgQueryKeys();

    // Parses a --store value; the error message never contains the password.
    Result<StoreSpec, QString> parseStoreSpec(const QString &text);
}  // namespace Lockstep::Store
