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
    const QDateTime m_now = QDateTime::fromString(QStringLiteral("2024-05-01T12:00:00Z"), Qt::ISODate);

    RunInfo run(const QString &id, RunStatus status, const QString &goal, qint64 secondsAgo = 1) const
    {
        RunInfo r;
        r.workflowId = id;
        r.status = status;
        r.goal = goal;
        r.flow = QStringLiteral("hello");
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
        model.setRuns({run(QStringLiteral("a"), RunStatus::Running, QStringLiteral("Build it")),
                       run(QStringLiteral("b"), RunStatus::Finished, QStringLiteral("Ship it"))});
        QCOMPARE(model.rowCount(), 2);

        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        // b goes away, a changes, c arrives.
        model.setRuns({run(QStringLiteral("a"), RunStatus::InputRequired, QStringLiteral("Build it")),
                       run(QStringLiteral("c"), RunStatus::Created, QStringLiteral("New"))});
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(removed.size(), 1);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(reset.size(), 0);
        QVERIFY(model.run(QStringLiteral("a"))->status == RunStatus::InputRequired);
        QVERIFY(!model.run(QStringLiteral("b")));
        QCOMPARE(model.rowOf(QStringLiteral("c")), 1);

        // Unchanged runs emit nothing.
        changed.clear();
        model.setRuns({run(QStringLiteral("a"), RunStatus::InputRequired, QStringLiteral("Build it")),
                       run(QStringLiteral("c"), RunStatus::Created, QStringLiteral("New"))});
        QCOMPARE(changed.size(), 0);
    }

    void staleRunningIsShownAsSuch()
    {
        RunListModel model;
        useFixedClock(model);
        model.setRuns({run(QStringLiteral("fresh"), RunStatus::Running, QStringLiteral("g"), 10),
                       run(QStringLiteral("orphan"), RunStatus::Running, QStringLiteral("g"), 600),
                       run(QStringLiteral("old-but-done"), RunStatus::Finished, QStringLiteral("g"), 6000)});
        const auto statusOf = [&model](const QString &id) {
            return model.index(model.rowOf(id), RunListModel::StatusColumn).data().toString();
        };
        QCOMPARE(statusOf(QStringLiteral("fresh")), QStringLiteral("running"));
        QCOMPARE(statusOf(QStringLiteral("orphan")), QStringLiteral("running (stale)"));
        QCOMPARE(statusOf(QStringLiteral("old-but-done")), QStringLiteral("finished"));
        QVERIFY(model.index(model.rowOf(QStringLiteral("orphan")), 0).data(RunListModel::StaleRole).toBool());
        QVERIFY(!model.index(model.rowOf(QStringLiteral("fresh")), 0).data(RunListModel::StaleRole).toBool());
        QVERIFY(model.index(model.rowOf(QStringLiteral("orphan")), RunListModel::StatusColumn)
                    .data(Qt::ToolTipRole)
                    .toString()
                    .contains(u"resumed"));
        QVERIFY(!model.index(model.rowOf(QStringLiteral("fresh")), RunListModel::StatusColumn)
                     .data(Qt::DecorationRole)
                     .isNull());
    }

    void becomingStaleIsAnUpdate()
    {
        RunListModel model;
        QDateTime now = m_now;
        model.setClock([&now] { return now; });
        model.setStaleAfter(90s);
        model.setRuns({run(QStringLiteral("a"), RunStatus::Running, QStringLiteral("g"), 10)});
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        now = now.addSecs(120);
        model.setRuns(
            {run(QStringLiteral("a"), RunStatus::Running, QStringLiteral("g"), 10)});  // same row, but time passed
        QCOMPARE(changed.size(), 1);
        QCOMPARE(model.index(0, RunListModel::StatusColumn).data().toString(), QStringLiteral("running (stale)"));
    }

    void lockHolders()
    {
        RunListModel model;
        useFixedClock(model);
        model.setRuns({run(QStringLiteral("a"), RunStatus::Running, QStringLiteral("g"))});
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setLockHolder(QStringLiteral("a"), QStringLiteral("replica-1#4"));
        QCOMPARE(changed.size(), 1);
        QCOMPARE(model.index(0, RunListModel::HolderColumn).data().toString(),
                 QStringLiteral("replica replica-1, session 4"));
        QCOMPARE(model.index(0, RunListModel::HolderColumn).data(Qt::ToolTipRole).toString(),
                 QStringLiteral("held by replica replica-1, session 4"));
        model.setLockHolder(QStringLiteral("a"), QStringLiteral("replica-1#4"));
        QCOMPARE(changed.size(), 1);
        model.setLockHolder(QStringLiteral("a"), {});
        QCOMPARE(model.index(0, RunListModel::HolderColumn).data().toString(), QString());
        // A run that leaves the list forgets its holder.
        model.setLockHolder(QStringLiteral("a"), QStringLiteral("x#1"));
        model.setRuns({});
        model.setRuns({run(QStringLiteral("a"), RunStatus::Running, QStringLiteral("g"))});
        QCOMPARE(model.holderOf(QStringLiteral("a")), QString());
    }

    void headersAndColumns()
    {
        RunListModel model;
        QCOMPARE(model.columnCount(), int(RunListModel::ColumnCount));
        QCOMPARE(model.headerData(RunListModel::IdColumn, Qt::Horizontal).toString(), QStringLiteral("Workflow ID"));
        QCOMPARE(model.headerData(RunListModel::HolderColumn, Qt::Horizontal).toString(),
                 QStringLiteral("Lock holder"));
        QCOMPARE(model.headerData(RunListModel::FlowColumn, Qt::Horizontal).toString(), QStringLiteral("Flow"));
        QCOMPARE(model.headerData(RunListModel::CreatedColumn, Qt::Horizontal).toString(), QStringLiteral("Created"));
        QCOMPARE(model.headerData(RunListModel::DurationColumn, Qt::Horizontal).toString(), QStringLiteral("Duration"));
    }

    // Flow, created and duration: created -> completed for a final run,
    // created -> now (a moving clock) for one that is not final.
    void flowCreatedAndDuration()
    {
        RunListModel model;
        QDateTime now = m_now;
        model.setClock([&now] { return now; });
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);

        RunInfo done = run(QStringLiteral("done"), RunStatus::Finished, QStringLiteral("g"));
        done.flow = QStringLiteral("approval");
        done.createdAt = m_now.addSecs(-200);
        done.completedAt = m_now.addSecs(-75);  // took 125 s
        RunInfo live = run(QStringLiteral("live"), RunStatus::Running, QStringLiteral("g"));
        live.createdAt = m_now.addSecs(-3 * 3600 - 4 * 60);
        RunInfo unborn = run(QStringLiteral("unborn"), RunStatus::Created, QStringLiteral("g"));
        unborn.createdAt = {};
        model.setRuns({done, live, unborn});

        const auto cell = [&model](const QString &id, int column, int role = Qt::DisplayRole) {
            return model.index(model.rowOf(id), column).data(role);
        };
        QCOMPARE(cell(QStringLiteral("done"), RunListModel::FlowColumn).toString(), QStringLiteral("approval"));
        QCOMPARE(cell(QStringLiteral("live"), RunListModel::FlowColumn).toString(), QStringLiteral("hello"));
        QCOMPARE(cell(QStringLiteral("done"), RunListModel::DurationColumn).toString(), QStringLiteral("2 min 05 s"));
        QCOMPARE(cell(QStringLiteral("live"), RunListModel::DurationColumn).toString(), QStringLiteral("3 h 04 min"));
        QCOMPARE(cell(QStringLiteral("unborn"), RunListModel::DurationColumn).toString(), QStringLiteral("—"));
        QCOMPARE(cell(QStringLiteral("unborn"), RunListModel::CreatedColumn).toString(), QStringLiteral("—"));
        QCOMPARE(cell(QStringLiteral("done"), RunListModel::CreatedColumn, RunListModel::SortRole).toDateTime(),
                 done.createdAt);
        QVERIFY(cell(QStringLiteral("live"), RunListModel::DurationColumn, Qt::ToolTipRole)
                    .toString()
                    .contains(u"not finished"));
        QVERIFY(!cell(QStringLiteral("done"), RunListModel::CreatedColumn).toString().isEmpty());

        // The clock moves: only the run that is not final changes, and only
        // when its shown text does.
        QVERIFY(model.isTicking());
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        now = now.addSecs(30);
        model.tick();
        QCOMPARE(changed.size(), 0);  // still "3 h 04 min"
        now = now.addSecs(40);
        model.tick();
        QCOMPARE(changed.size(), 1);
        QCOMPARE(changed.constFirst().at(0).toModelIndex(),
                 model.index(model.rowOf(QStringLiteral("live")), RunListModel::DurationColumn));
        QCOMPARE(cell(QStringLiteral("live"), RunListModel::DurationColumn).toString(), QStringLiteral("3 h 05 min"));
        QCOMPARE(cell(QStringLiteral("done"), RunListModel::DurationColumn).toString(), QStringLiteral("2 min 05 s"));

        // Once nothing runs up to now, the tick stops.
        live.status = RunStatus::Stopped;
        live.completedAt = now;
        model.setRuns({done, live, unborn});
        QVERIFY(!model.isTicking());  // no creation time: nothing to count from

        // Sorting by duration uses milliseconds, not the words.
        RunFilterProxy proxy;
        proxy.setSourceModel(&model);
        proxy.sort(RunListModel::DurationColumn, Qt::DescendingOrder);
        QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("live"));
        QCOMPARE(proxy.index(1, 0).data().toString(), QStringLiteral("done"));
    }

    void durationWords()
    {
        QCOMPARE(RunListModel::durationText(0), QStringLiteral("0 s"));
        QCOMPARE(RunListModel::durationText(59999), QStringLiteral("59 s"));
        QCOMPARE(RunListModel::durationText(60000), QStringLiteral("1 min 00 s"));
        QCOMPARE(RunListModel::durationText((2 * 3600 + 4 * 60 + 59) * 1000LL), QStringLiteral("2 h 04 min"));
        QCOMPARE(RunListModel::durationText((3 * 86400 + 2 * 3600) * 1000LL), QStringLiteral("3 d 02 h"));
    }

    void filterAndSearch()
    {
        RunListModel model;
        useFixedClock(model);
        model.setRuns({run(QStringLiteral("alpha-1"), RunStatus::Running, QStringLiteral("Create hello.sh")),
                       run(QStringLiteral("beta-2"), RunStatus::Finished, QStringLiteral("Write the README")),
                       run(QStringLiteral("gamma-3"), RunStatus::Running, QStringLiteral("Fix the BUILD"), 600),
                       run(QStringLiteral("delta-4"), RunStatus::Stopped, QStringLiteral("hello again"))});
        RunFilterProxy proxy;
        proxy.setSourceModel(&model);
        QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(proxy.rowCount(), 4);

        proxy.setStatusFilter(RunFilterProxy::StatusFilter::One, RunStatus::Running);
        QCOMPARE(proxy.rowCount(), 2);
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::Stale);
        QCOMPARE(proxy.rowCount(), 1);
        QCOMPARE(proxy.index(0, 0).data(RunListModel::WorkflowIdRole).toString(), QStringLiteral("gamma-3"));
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::Active);
        QCOMPARE(proxy.rowCount(), 2);
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::All);

        proxy.setSearchText(QStringLiteral("HELLO"));  // goal, any case
        QCOMPARE(proxy.rowCount(), 2);
        proxy.setSearchText(QStringLiteral("beta"));  // ID
        QCOMPARE(proxy.rowCount(), 1);
        proxy.setSearchText(QStringLiteral("  build "));
        QCOMPARE(proxy.rowCount(), 1);
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::One, RunStatus::Finished);
        QCOMPARE(proxy.rowCount(), 0);  // both filters apply
        proxy.setSearchText({});
        QCOMPARE(proxy.rowCount(), 1);

        // Live updates pass through the filter.
        proxy.setStatusFilter(RunFilterProxy::StatusFilter::One, RunStatus::Running);
        model.setRuns({run(QStringLiteral("alpha-1"), RunStatus::Finished, QStringLiteral("Create hello.sh")),
                       run(QStringLiteral("gamma-3"), RunStatus::Running, QStringLiteral("Fix the BUILD"), 600)});
        QCOMPARE(proxy.rowCount(), 1);
    }

    void sortsByActivity()
    {
        RunListModel model;
        useFixedClock(model);
        model.setRuns({run(QStringLiteral("old"), RunStatus::Finished, QStringLiteral("g"), 500),
                       run(QStringLiteral("new"), RunStatus::Finished, QStringLiteral("g"), 5),
                       run(QStringLiteral("mid"), RunStatus::Finished, QStringLiteral("g"), 50)});
        RunFilterProxy proxy;
        proxy.setSourceModel(&model);
        proxy.sort(RunListModel::ActivityColumn, Qt::DescendingOrder);
        QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("new"));
        QCOMPARE(proxy.index(1, 0).data().toString(), QStringLiteral("mid"));
        QCOMPARE(proxy.index(2, 0).data().toString(), QStringLiteral("old"));
    }

    void runInfoFromJson()
    {
        const QJsonObject json{{QStringLiteral("workflowID"), QStringLiteral("w-1")},
                               {QStringLiteral("status"), QStringLiteral("input_required")},
                               {QStringLiteral("goal"), QStringLiteral("g")},
                               {QStringLiteral("flow"), QStringLiteral("hello")},
                               {QStringLiteral("createdAt"), QStringLiteral("2024-05-01T10:00:00.000Z")},
                               {QStringLiteral("lastActivityAt"), QStringLiteral("2024-05-01T10:00:05.250+02:00")},
                               {QStringLiteral("completedAt"), QJsonValue::Null},
                               {QStringLiteral("fence"), 7},
                               {QStringLiteral("lastSeq"), 12},
                               {QStringLiteral("reason"), QStringLiteral("")}};
        const auto parsed = RunInfo::fromJson(json);
        QVERIFY(parsed);
        QVERIFY(parsed->status == RunStatus::InputRequired);
        QCOMPARE(parsed->fence, 7);
        QCOMPARE(parsed->lastSeq, 12);
        QVERIFY(!parsed->completedAt);
        QCOMPARE(parsed->lastActivityAt.toUTC(),
                 QDateTime::fromString(QStringLiteral("2024-05-01T08:00:05.250Z"), Qt::ISODateWithMs));
        QVERIFY(!RunInfo::fromJson(QJsonObject{{QStringLiteral("status"), QStringLiteral("running")}}));
        const auto unknownStatus =
            RunInfo::fromJson(QJsonObject{{QStringLiteral("workflowID"), QStringLiteral("x")},
                                          {QStringLiteral("status"), QStringLiteral("dancing")}});
        QVERIFY(unknownStatus);
        QVERIFY(!unknownStatus->status);
    }
};

QTEST_MAIN(TestRunListModel)
#include "tst_runlistmodel.moc"
