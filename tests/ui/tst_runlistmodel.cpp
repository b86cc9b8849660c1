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
        QCOMPARE(model.headerData(RunListModel::FlowColumn, Qt::Horizontal).toString(), u"Flow"_qs);
        QCOMPARE(model.headerData(RunListModel::CreatedColumn, Qt::Horizontal).toString(), u"Created"_qs);
        QCOMPARE(model.headerData(RunListModel::DurationColumn, Qt::Horizontal).toString(), u"Duration"_qs);
    }

    // Flow, created and duration: created -> completed for a final run,
    // created -> now (a moving clock) for one that is not final.
    void flowCreatedAndDuration()
    {
        RunListModel model;
        QDateTime now = m_now;
        model.setClock([&now] { return now; });
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);

        RunInfo done = run(u"done"_qs, RunStatus::Finished, u"g"_qs);
        done.flow = u"approval"_qs;
        done.createdAt = m_now.addSecs(-200);
        done.completedAt = m_now.addSecs(-75);   // took 125 s
        RunInfo live = run(u"live"_qs, RunStatus::Running, u"g"_qs);
        live.createdAt = m_now.addSecs(-3 * 3600 - 4 * 60);
        RunInfo unborn = run(u"unborn"_qs, RunStatus::Created, u"g"_qs);
        unborn.createdAt = {};
        model.setRuns({done, live, unborn});

        const auto cell = [&model](const QString &id, int column, int role = Qt::DisplayRole) {
            return model.index(model.rowOf(id), column).data(role);
        };
        QCOMPARE(cell(u"done"_qs, RunListModel::FlowColumn).toString(), u"approval"_qs);
        QCOMPARE(cell(u"live"_qs, RunListModel::FlowColumn).toString(), u"hello"_qs);
        QCOMPARE(cell(u"done"_qs, RunListModel::DurationColumn).toString(), u"2 min 05 s"_qs);
        QCOMPARE(cell(u"live"_qs, RunListModel::DurationColumn).toString(), u"3 h 04 min"_qs);
        QCOMPARE(cell(u"unborn"_qs, RunListModel::DurationColumn).toString(), u"—"_qs);
        QCOMPARE(cell(u"unborn"_qs, RunListModel::CreatedColumn).toString(), u"—"_qs);
        QCOMPARE(cell(u"done"_qs, RunListModel::CreatedColumn, RunListModel::SortRole).toDateTime(), done.createdAt);
        QVERIFY(cell(u"live"_qs, RunListModel::DurationColumn, Qt::ToolTipRole).toString().contains(u"not finished"));
        QVERIFY(!cell(u"done"_qs, RunListModel::CreatedColumn).toString().isEmpty());

        // The clock moves: only the run that is not final changes, and only
        // when its shown text does.
        QVERIFY(model.isTicking());
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        now = now.addSecs(30);
        model.tick();
        QCOMPARE(changed.size(), 0);              // still "3 h 04 min"
        now = now.addSecs(40);
        model.tick();
        QCOMPARE(changed.size(), 1);
        QCOMPARE(changed.constFirst().at(0).toModelIndex(), model.index(model.rowOf(u"live"_qs), RunListModel::DurationColumn));
        QCOMPARE(cell(u"live"_qs, RunListModel::DurationColumn).toString(), u"3 h 05 min"_qs);
        QCOMPARE(cell(u"done"_qs, RunListModel::DurationColumn).toString(), u"2 min 05 s"_qs);

        // Once nothing runs up to now, the tick stops.
        live.status = RunStatus::Stopped;
        live.completedAt = now;
        model.setRuns({done, live, unborn});
        QVERIFY(!model.isTicking());              // no creation time: nothing to count from

        // Sorting by duration uses milliseconds, not the words.
        RunFilterProxy proxy;
        proxy.setSourceModel(&model);
        proxy.sort(RunListModel::DurationColumn, Qt::DescendingOrder);
        QCOMPARE(proxy.index(0, 0).data().toString(), u"live"_qs);
        QCOMPARE(proxy.index(1, 0).data().toString(), u"done"_qs);
    }

    void durationWords()
    {
        QCOMPARE(RunListModel::durationText(0), u"0 s"_qs);
        QCOMPARE(RunListModel::durationText(59999), u"59 s"_qs);
        QCOMPARE(RunListModel::durationText(60000), u"1 min 00 s"_qs);
        QCOMPARE(RunListModel::durationText((2 * 3600 + 4 * 60 + 59) * 1000LL), u"2 h 04 min"_qs);
        QCOMPARE(RunListModel::durationText((3 * 86400 + 2 * 3600) * 1000LL), u"3 d 02 h"_qs);
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
