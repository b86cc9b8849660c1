#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

#include "runlistmodel.h"

using namespace std::chrono_literals;
using Lockstep::RunStatus;
using Lockstep::Ui::RunFilterProxy;
using Lockstep::Ui::RunInfo;
using Lockstep::Ui::RunListModel;

// The run list: diffing updates, stale `running`, lock holders, filter and search.
class TestRunListModel : public QObject
{
    Q_OBJECT

private:
    const QDateTime m_now = QDateTime::fromString(u"2024-05-01T12:00:00Z"_qs, Qt::ISODate);

    RunInfo run(const QString &id, RunStatus status, const QString &goal, qint64 secondsAgo = 1) const
    {
        RunInfo r;
        r.workflowId = id;
        r.status = status;
        r.goal = goal;
        r.flow = u"hello"_qs;
        r.createdAt = m_now.addSecs(-3600);
        r.lastActivityAt = m_now.addSecs(-secondsAgo);
        return r;
    }

    void useFixedClock(RunListModel &model) const
    {
        const QDateTime now = m_now;
        model.setClock([now] { return now; });
        model.setStaleAfter(90s);
    }

private slots:
    void diffsByWorkflowId()
    {
        RunListModel model;
        useFixedClock(model);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setRuns({run(u"a"_qs, RunStatus::Running, u"Build it"_qs), run(u"b"_qs, RunStatus::Finished, u"Ship it"_qs)});
        QCOMPARE(model.rowCount(), 2);

        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        // b goes away, a changes, c arrives.
        model.setRuns({run(u"a"_qs, RunStatus::InputRequired, u"Build it"_qs), run(u"c"_qs, RunStatus::Created, u"New"_qs)});
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(removed.size(), 1);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(reset.size(), 0);
        QVERIFY(model.run(u"a"_qs)->status == RunStatus::InputRequired);
        QVERIFY(!model.run(u"b"_qs));
        QCOMPARE(model.rowOf(u"c"_qs), 1);

        // Unchanged runs emit nothing.
        changed.clear();
        model.setRuns({run(u"a"_qs, RunStatus::InputRequired, u"Build it"_qs), run(u"c"_qs, RunStatus::Created, u"New"_qs)});
        QCOMPARE(changed.size(), 0);
    }

    void staleRunningIsShownAsSuch()
    {
        RunListModel model;
        useFixedClock(model);
        model.setRuns({run(u"fresh"_qs, RunStatus::Running, u"g"_qs, 10), run(u"orphan"_qs, RunStatus::Running, u"g"_qs, 600),
                       run(u"old-but-done"_qs, RunStatus::Finished, u"g"_qs, 6000)});
        const auto statusOf = [&model](const QString &id) {
            return model.index(model.rowOf(id), RunListModel::StatusColumn).data().toString();
        };
        QCOMPARE(statusOf(u"fresh"_qs), u"running"_qs);
        QCOMPARE(statusOf(u"orphan"_qs), u"running (stale)"_qs);
        QCOMPARE(statusOf(u"old-but-done"_qs), u"finished"_qs);
        QVERIFY(model.index(model.rowOf(u"orphan"_qs), 0).data(RunListModel::StaleRole).toBool());
        QVERIFY(!model.index(model.rowOf(u"fresh"_qs), 0).data(RunListModel::StaleRole).toBool());
        QVERIFY(model.index(model.rowOf(u"orphan"_qs), RunListModel::StatusColumn).data(Qt::ToolTipRole).toString().contains(u"resumed"));
        QVERIFY(!model.index(model.rowOf(u"fresh"_qs), RunListModel::StatusColumn).data(Qt::DecorationRole).isNull());
    }

    void becomingStaleIsAnUpdate()
    {
        RunListModel model;
        QDateTime now = m_now;
        model.setClock([&now] { return now; });
        model.setStaleAfter(90s);
        model.setRuns({run(u"a"_qs, RunStatus::Running, u"g"_qs, 10)});
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        now = now.addSecs(120);
        model.setRuns({run(u"a"_qs, RunStatus::Running, u"g"_qs, 10)});   // same row, but time passed
        QCOMPARE(changed.size(), 1);
        QCOMPARE(model.index(0, RunListModel::StatusColumn).data().toString(), u"running (stale)"_qs);
    }

    void lockHolders()
    {
        RunListModel model;
        useFixedClock(model);
        model.setRuns({run(u"a"_qs, RunStatus::Running, u"g"_qs)});
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setLockHolder(u"a"_qs, u"replica-1#4"_qs);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(model.index(0, RunListModel::HolderColumn).data().toString(), u"replica replica-1, session 4"_qs);
        QCOMPARE(model.index(0, RunListModel::HolderColumn).data(Qt::ToolTipRole).toString(), u"held by replica replica-1, session 4"_qs);
        model.setLockHolder(u"a"_qs, u"replica-1#4"_qs);
        QCOMPARE(changed.size(), 1);
        model.setLockHolder(u"a"_qs, {});
        QCOMPARE(model.index(0, RunListModel::HolderColumn).data().toString(), QString());
        // A run that leaves the list forgets its holder.
        model.setLockHolder(u"a"_qs, u"x#1"_qs);
        model.setRuns({});
        model.setRuns({run(u"a"_qs, RunStatus::Running, u"g"_qs)});
        QCOMPARE(model.holderOf(u"a"_qs), QString());
    }

    void headersAndColumns()
    {
        RunListModel model;
        QCOMPARE(model.columnCount(), int(RunListModel::ColumnCount));
        QCOMPARE(model.headerData(RunListModel::IdColumn, Qt::Horizontal).toString(), u"Workflow ID"_qs);
        QCOMPARE(model.headerData(RunListModel::HolderColumn, Qt::Horizontal).toString(), u"Lock holder"_qs);
    }

    void filterAndSearch()
    {
        RunListModel model;
        useFixedClock(model);
        model.setRuns({run(u"alpha-1"_qs, RunStatus::Running, u"Create hello.sh"_qs),
                       run(u"beta-2"_qs, RunStatus::Finished, u"Write the README"_qs),
                       run(u"gamma-3"_qs, RunStatus::Running, u"Fix the BUILD"_qs, 600),
                       run(u"delta-4"_qs, RunStatus::Stopped, u"hello again"_qs)});
        RunFilterProxy proxy;
        proxy.setSourceModel(&model);
        QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(proxy.rowCount(), 4);

        proxy.setStatusFilter(RunFilterProxy::StatusFilter::One, RunStatus::Running);
        QCOMPARE(proxy.rowCount(), 2);
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::Stale);
        QCOMPARE(proxy.rowCount(), 1);
        QCOMPARE(proxy.index(0, 0).data(RunListModel::WorkflowIdRole).toString(), u"gamma-3"_qs);
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::Active);
        QCOMPARE(proxy.rowCount(), 2);
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::All);

        proxy.setSearchText(u"HELLO"_qs);   // goal, any case
        QCOMPARE(proxy.rowCount(), 2);
        proxy.setSearchText(u"beta"_qs);    // ID
        QCOMPARE(proxy.rowCount(), 1);
        proxy.setSearchText(u"  build "_qs);
        QCOMPARE(proxy.rowCount(), 1);
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::One, RunStatus::Finished);
        QCOMPARE(proxy.rowCount(), 0);      // both filters apply
        proxy.setSearchText({});
        QCOMPARE(proxy.rowCount(), 1);

        // Live updates pass through the filter.
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::One, RunStatus::Running);
        model.setRuns({run(u"alpha-1"_qs, RunStatus::Finished, u"Create hello.sh"_qs),
                       run(u"gamma-3"_qs, RunStatus::Running, u"Fix the BUILD"_qs, 600)});
        QCOMPARE(proxy.rowCount(), 1);
    }

    void sortsByActivity()
    {
        RunListModel model;
        useFixedClock(model);
        model.setRuns({run(u"old"_qs, RunStatus::Finished, u"g"_qs, 500), run(u"new"_qs, RunStatus::Finished, u"g"_qs, 5),
                       run(u"mid"_qs, RunStatus::Finished, u"g"_qs, 50)});
        RunFilterProxy proxy;
        proxy.setSourceModel(&model);
        proxy.sort(RunListModel::ActivityColumn, Qt::DescendingOrder);
        QCOMPARE(proxy.index(0, 0).data().toString(), u"new"_qs);
        QCOMPARE(proxy.index(1, 0).data().toString(), u"mid"_qs);
        QCOMPARE(proxy.index(2, 0).data().toString(), u"old"_qs);
    }

    void runInfoFromJson()
    {
        const QJsonObject json {
            {u"workflowID"_qs, u"w-1"_qs}, {u"status"_qs, u"input_required"_qs}, {u"goal"_qs, u"g"_qs},
            {u"flow"_qs, u"hello"_qs}, {u"createdAt"_qs, u"2024-05-01T10:00:00.000Z"_qs},
            {u"lastActivityAt"_qs, u"2024-05-01T10:00:05.250+02:00"_qs}, {u"completedAt"_qs, QJsonValue::Null},
            {u"fence"_qs, 7}, {u"lastSeq"_qs, 12}, {u"reason"_qs, u""_qs}};
        const auto parsed = RunInfo::fromJson(json);
        QVERIFY(parsed);
        QVERIFY(parsed->status == RunStatus::InputRequired);
        QCOMPARE(parsed->fence, 7);
        QCOMPARE(parsed->lastSeq, 12);
        QVERIFY(!parsed->completedAt);
        QCOMPARE(parsed->lastActivityAt.toUTC(), QDateTime::fromString(u"2024-05-01T08:00:05.250Z"_qs, Qt::ISODateWithMs));
        QVERIFY(!RunInfo::fromJson(QJsonObject {{u"status"_qs, u"running"_qs}}));
        const auto unknownStatus = RunInfo::fromJson(QJsonObject {{u"workflowID"_qs, u"x"_qs}, {u"status"_qs, u"dancing"_qs}});
        QVERIFY(unknownStatus);
        QVERIFY(!unknownStatus->status);
    }
};

QTEST_MAIN(TestRunListModel)
#include "tst_runlistmodel.moc"
