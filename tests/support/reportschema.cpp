#include "reportschema.h"

#include <QDir>
#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryFile>

namespace Lockstep::Test
{
    Validation validateReport(const QJsonObject &report)
    {
        // Exit 3 means "invalid", so a missing module or a broken schema (exit 1) never passes as a verdict.
        static const QString script = QStringLiteral(
            "import json, sys, jsonschema\n"
            "schema = json.load(open(sys.argv[1]))\n"
            "jsonschema.Draft202012Validator.check_schema(schema)\n"
            "errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))\n"
            "for e in errors: print('/'.join(str(p) for p in e.absolute_path) + ': ' + e.message)\n"
            "sys.exit(3 if errors else 0)\n");
        Validation verdict;
        QTemporaryFile file(QDir::tempPath() + QStringLiteral("/lockstep-report-XXXXXX.json"));
        if (!file.open())
        {
            verdict.output = file.errorString();
            return verdict;
        }
        file.write(QJsonDocument(report).toJson());
        file.flush();
        const QString schema = qEnvironmentVariable("LOCKSTEP_SOURCE_DIR") + QStringLiteral("/docs/report.schema.json");
        QProcess python;
        python.setProcessChannelMode(QProcess::MergedChannels);
        python.start(QStringLiteral("/usr/bin/python3"), {QStringLiteral("-c"), script, schema, file.fileName()});
        if (!python.waitForFinished(60000))
        {
            verdict.output = QStringLiteral("python3 did not finish: %1").arg(python.errorString());
            python.kill();
            python.waitForFinished();
            return verdict;
        }
        verdict.exitCode = (python.exitStatus() == QProcess::NormalExit) ? python.exitCode() : -1;
        verdict.output = QString::fromUtf8(python.readAll());
        return verdict;
    }

}  // namespace Lockstep::Test
