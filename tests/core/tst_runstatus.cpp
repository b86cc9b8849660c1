#include <QCoreApplication>
#include <QScopeGuard>
#include <QTest>
#include <QTranslator>

#include "protocol/closecode.h"
#include "protocol/runstatus.h"

using namespace Lockstep;

// Wraps every text of the close-code context in « », so a test sees which
// words went through translation.
class MarkingTranslator final : public QTranslator
{
public:
    QString translate(const char *context, const char *sourceText, const char *, int) const override
    {
        if (QByteArrayView(context) != "Lockstep::CloseCode")
            return {};
        return u'«' + QString::fromUtf8(sourceText) + u'»';
    }

    bool isEmpty() const override
    {
        return false;
    }
};

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

    // SPEC.md's "console shows" column is the English source of these words.
    void closeCodeWording()
    {
        QCOMPARE(closeCodeMeaning(1000), QStringLiteral("closed"));
        QCOMPARE(closeCodeMeaning(1009), QStringLiteral("message too big"));
        QCOMPARE(closeCodeMeaning(1011), QStringLiteral("gateway error"));
        QCOMPARE(closeCodeMeaning(1013), QStringLiteral("already running"));
        QCOMPARE(closeCodeMeaning(1001), QStringLiteral("gateway restarting — reconnect"));
        QCOMPARE(closeCodeMeaning(1008), QStringLiteral("not allowed"));
        QCOMPARE(closeCodeMeaning(4409), QStringLiteral("not resumable"));
        QCOMPARE(closeCodeMeaning(4404), QStringLiteral("not found"));
        QCOMPARE(closeCodeMeaning(4400), QStringLiteral("invalid request"));
        QVERIFY(closeCodeMeaning(4999).contains(u"4999"));
    }

    // The console's words go through the translation (context "Lockstep::CloseCode");
    // the close reasons the gateway sends are wire protocol and never do.
    void closeCodeWordsAreTranslatableReasonsAreNot()
    {
        MarkingTranslator marking;
        QCoreApplication::installTranslator(&marking);
        const auto removeMarking = qScopeGuard([&marking] { QCoreApplication::removeTranslator(&marking); });

        for (const quint16 code : {1000, 1001, 1008, 1009, 1011, 1012, 1013, 4400, 4404, 4409, 4999})
        {
            const QString words = closeCodeMeaning(code);
            QVERIFY2(words.startsWith(u'«') && words.endsWith(u'»'), qPrintable(words));
        }
        QVERIFY(describeClose(4409, notResumableReason(RunStatus::Paused)).startsWith(u"««not resumable» (status: "));
        QVERIFY(describeClose(4400, u"frame: empty").startsWith(u"««invalid request»: "));

        QCOMPARE(notResumableReason(RunStatus::Paused), QStringLiteral("not resumable (status: paused)"));
        QCOMPARE(LockHeldReason, QStringLiteral("Failed to acquire lock on workflow"));
    }
};

QTEST_GUILESS_MAIN(TestRunStatus)
#include "tst_runstatus.moc"
