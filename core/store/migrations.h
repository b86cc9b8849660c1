#pragma once

#include <QList>
#include <QString>
#include <QStringList>

namespace Lockstep::Store
{
    // One schema step. The statements are plain SQL that SQLite and
    // PostgreSQL both accept (BIGINT epoch milliseconds, TEXT, ON CONFLICT);
    // a step that needs dialect-specific SQL would add a second list.
    struct Migration
    {
        int version = 0;
        QString description;
        QStringList statements;
    };

    // Ordered by version, starting at 1, no gaps. Never edit a released step:
    // append a new one.
    const QList<Migration> &migrations();
}  // namespace Lockstep::Store
