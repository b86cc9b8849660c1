#include <QTest>

#include "protocol/closecode.h"
#include "protocol/runstatus.h"

using namespace Lockstep;

class TestRunStatus : public QObject
{
    Q_OBJECT

private slots:
    void spellingsRoundTrip()
    {
        for (const RunStatus status : AllRunStatuses)
        {
            QVERIFY(runStatusFromString(toString(status)) == status);
            QVERIFY(runStatusFromString(toWireString(status)) == status);
            QCOMPARE(toWireString(status), toString(status).toUpper());
        }
        QCOMPARE(toString(RunStatus::ToolCallApprovalRequired), QStringLiteral("tool_call_approval_required"));
        QVERIFY(!runStatusFromString(QStringLiteral("runnin")));
        QVERIFY(!runStatusFromString(QString()));
    }

    void classes()
    {
        // SPEC.md: final = finished, stopped; resumable without the clock =
        // created, paused, failed and the three waits; cancellable = not final.
        QSet<RunStatus> final{RunStatus::Finished, RunStatus::Stopped};
        QSet<RunStatus> resumable{RunStatus::Created,
                                  RunStatus::Paused,
                                  RunStatus::Failed,
                                  RunStatus::InputRequired,
                                  RunStatus::PlanApprovalRequired,
                                  RunStatus::ToolCallApprovalRequired};
        for (const RunStatus status : AllRunStatuses)
        {
            QCOMPARE(isFinal(status), final.contains(status));
            QCOMPARE(isCancellable(status), !final.contains(status));
            QCOMPARE(isResumableStatus(status), resumable.contains(status));
        }
    }

    void closeCodeWording()
    {
        QCOMPARE(closeCodeMeaning(1013), QStringLiteral("already running"));
        QCOMPARE(closeCodeMeaning(1001), QStringLiteral("gateway restarting — reconnect"));
        QCOMPARE(closeCodeMeaning(1008), QStringLiteral("not allowed"));
        QCOMPARE(closeCodeMeaning(4409), QStringLiteral("not resumable"));
        QCOMPARE(closeCodeMeaning(4404), QStringLiteral("not found"));
        QCOMPARE(closeCodeMeaning(4400), QStringLiteral("invalid request"));
        QVERIFY(closeCodeMeaning(4999).contains(u"4999"));
    }
};

QTEST_GUILESS_MAIN(TestRunStatus)
#include "tst_runstatus.moc"
