#pragma once

#include <QJsonObject>
#include <QString>

namespace Lockstep::Test
{
    // docs/report.schema.json's verdict on `report`, from python3-jsonschema
    // (/usr/bin/python3 -c …; the schema found through $LOCKSTEP_SOURCE_DIR, set
    // by ctest). exitCode 0: valid; 3: invalid, `output` lists each error as
    // "path: message"; anything else: the check itself failed.
    struct Validation
    {
        int exitCode = -1;
        QString output;
    };
    Validation validateReport(const QJsonObject &report);
}  // namespace Lockstep::Test
