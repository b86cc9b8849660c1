#include <QAbstractItemModelTester>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTest>

#include "chatlogdelegate.h"
#include "chatlogmodel.h"
#include "chatlogview.h"

using namespace std::chrono_literals;
using Lockstep::Protocol::ChatLogEntry;
using Lockstep::Protocol::MessageStatus;
using Lockstep::Protocol::MessageType;
using Lockstep::Protocol::ToolInfo;
using Lockstep::Ui::ChatLogDelegate;
using Lockstep::Ui::ChatLogModel;
using Lockstep::Ui::ChatLogView;

// The batched chat-log model, its delegate's size cache and the view's tail following.
class TestChatLogModel : public QObject
{
    Q_OBJECT

private:
    static ChatLogEntry entry(const QString &id, MessageType type = MessageType::Agent,
                              const QString &content = QStringLiteral("hello"))
    {
        ChatLogEntry e;
        e.messageId = id;
        e.messageType = type;
        e.content = content;
        e.timestamp = QDateTime::fromString(QStringLiteral("2024-05-01T10:00:00Z"), Qt::ISODate);
        return e;
    }

    static ChatLogEntry tool(const QString &id, MessageStatus status)
    {
        ChatLogEntry e = entry(id, MessageType::Tool, QStringLiteral("Create `hello.sh`"));
        e.status = status;
        e.toolInfo = ToolInfo{.name = QStringLiteral("create_file"),
                              .args = QJsonObject{{QStringLiteral("file_path"), QStringLiteral("hello.sh")}}};
        if (status != MessageStatus::Pending)
            e.toolInfo->toolResponse = QStringLiteral("File hello.sh created.");
        return e;
    }

private slots:
    void entriesWaitForTheBatch()
    {
        ChatLogModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setBatchInterval(10000ms);
        model.enqueue(entry(QStringLiteral("a")));
        model.enqueue(entry(QStringLiteral("b")));
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.pendingCount(), 2);
        model.flush();
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.pendingCount(), 0);
    }

    void oneInsertPerBatch()
    {
        ChatLogModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy batches(&model, &ChatLogModel::batchApplied);
        model.setBatchInterval(20ms);
        for (int i = 0; i < 1000; ++i)
            model.enqueue(entry(QString::number(i)));
        QTRY_COMPARE(model.rowCount(), 1000);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(inserted.at(0).at(1).toInt(), 0);
        QCOMPARE(inserted.at(0).at(2).toInt(), 999);
        QCOMPARE(batches.size(), 1);
        QCOMPARE(batches.at(0).at(0).toInt(), 1000);
    }

    void knownIdsUpdateInPlace()
    {
        ChatLogModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.enqueue(tool(QStringLiteral("t1"), MessageStatus::Pending));
        model.enqueue(entry(QStringLiteral("a1")));
        model.flush();
        const quint32 before = model.revision(0);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.enqueue(tool(QStringLiteral("t1"), MessageStatus::Success));
        model.flush();
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(inserted.size(), 0);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 0);
        QVERIFY(model.entry(0).status == MessageStatus::Success);
        QVERIFY(model.revision(0) != before);
        QCOMPARE(model.index(0).data(ChatLogModel::StatusRole).toInt(), int(MessageStatus::Success));
        // The same entry again changes nothing.
        model.enqueue(tool(QStringLiteral("t1"), MessageStatus::Success));
        model.flush();
        QCOMPARE(changed.size(), 1);
    }

    void updatesWithinOneBatchMerge()
    {
        ChatLogModel model;
        model.enqueue(tool(QStringLiteral("t1"), MessageStatus::Pending));
        model.enqueue(entry(QStringLiteral("x")));
        model.enqueue(tool(QStringLiteral("t1"), MessageStatus::Failure));
        model.flush();
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.entry(0).messageId, QStringLiteral("t1"));
        QVERIFY(model.entry(0).status == MessageStatus::Failure);
        QCOMPARE(model.rowOf(QStringLiteral("x")), 1);
        QCOMPARE(model.rowOf(QStringLiteral("nope")), -1);
    }

    void foldingBumpsTheRevision()
    {
        ChatLogModel model;
        model.enqueue(tool(QStringLiteral("t1"), MessageStatus::Success));
        model.flush();
        QVERIFY(!model.isExpanded(0));
        const quint32 before = model.revision(0);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.toggleExpanded(0);
        QVERIFY(model.isExpanded(0));
        QVERIFY(model.revision(0) != before);
        QCOMPARE(changed.size(), 1);
        QVERIFY(model.setData(model.index(0), false, ChatLogModel::ExpandedRole));
        QVERIFY(!model.isExpanded(0));
        model.setExpanded(5, true);  // out of range: ignored
        QCOMPARE(changed.size(), 2);
    }

    void summariesNameTheSender()
    {
        ChatLogModel model;
        model.enqueue(entry(QStringLiteral("u"), MessageType::User, QStringLiteral("Make it so")));
        model.enqueue(tool(QStringLiteral("t"), MessageStatus::Pending));
        model.enqueue(entry(QStringLiteral("e"), MessageType::WorkflowEnd, QString()));
        model.flush();
        QCOMPARE(model.index(0).data().toString(), QStringLiteral("You: Make it so"));
        QCOMPARE(model.index(1).data().toString(), QStringLiteral("Tool · create_file (pending): Create `hello.sh`"));
        QVERIFY(model.index(2).data().toString().startsWith(u"End of workflow"));
    }

    void clearEmptiesEverything()
    {
        ChatLogModel model;
        model.enqueue(entry(QStringLiteral("a")));
        model.flush();
        model.enqueue(entry(QStringLiteral("b")));
        model.clear();
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.pendingCount(), 0);
        QCOMPARE(model.rowOf(QStringLiteral("a")), -1);
    }

    void delegateCachesSizes()
    {
        ChatLogModel model;
        ChatLogView view(&model);
        view.resize(600, 400);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        model.enqueue(tool(QStringLiteral("t1"), MessageStatus::Success));
        model.enqueue(entry(
            QStringLiteral("a1"), MessageType::Agent,
            QStringLiteral(
                "Some **bold** text and `code`, then a sentence long enough to wrap once the view gets narrow.\n\n- one\n- two")));
        model.flush();
        ChatLogDelegate *delegate = view.chatDelegate();
        QStyleOptionViewItem option;
        option.font = view.font();
        option.palette = view.palette();
        const QSize folded = delegate->sizeHint(option, model.index(0));
        const qint64 computed = delegate->computedSizes();
        QCOMPARE(delegate->sizeHint(option, model.index(0)), folded);
        QCOMPARE(delegate->computedSizes(), computed);  // served from the cache
        model.toggleExpanded(0);
        const QSize unfolded = delegate->sizeHint(option, model.index(0));
        QCOMPARE(delegate->computedSizes(), computed + 1);
        QVERIFY2(unfolded.height() > folded.height(), "unfolding shows the arguments and the response");
        // A narrower view re-lays rows out.
        const QSize agentWide = delegate->sizeHint(option, model.index(1));
        view.resize(200, 400);
        QCoreApplication::processEvents();
        const QSize agentNarrow = delegate->sizeHint(option, model.index(1));
        QVERIFY(agentNarrow.height() > agentWide.height());
    }

    void codeAndToolOutputRenderAsCode()
    {
        ChatLogModel model;
        ChatLogView view(&model);
        view.resize(700, 500);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        ChatLogEntry call = tool(QStringLiteral("t1"), MessageStatus::Success);
        call.content = QStringLiteral("Create `hello.sh`");
        call.toolInfo = ToolInfo{.name = QStringLiteral("create_file"),
                                 .args = QJsonObject{{QStringLiteral("file_path"), QStringLiteral("hello.sh")},
                                                     {QStringLiteral("mode"), 755}},
                                 .toolResponse = QStringLiteral("line one\nline two\n  indented three")};
        model.enqueue(call);
        model.enqueue(entry(QStringLiteral("a1"), MessageType::Agent,
                            QStringLiteral("Run `sh hello.sh`:\n\n```sh\n#!/bin/sh\necho hello\n```")));
        model.enqueue(
            entry(QStringLiteral("u1"), MessageType::User, QStringLiteral("first line\nsecond line with `code`")));
        model.flush();
        model.setExpanded(0, true);
        QStyleOptionViewItem option;
        option.font = view.font();
        option.palette = view.palette();
        ChatLogDelegate *delegate = view.chatDelegate();
        const QString toolText = delegate->renderedText(option, 0);
        const QString agentText = delegate->renderedText(option, 1);
        const QString userText = delegate->renderedText(option, 2);
        for (const QString &text : {toolText, agentText, userText})
            QVERIFY2(!text.contains(u'`'), qPrintable(text));  // no raw backticks anywhere
        // The response keeps its lines (and their indentation); the arguments are indented JSON.
        QVERIFY2(toolText.contains(u"line one\nline two\n  indented three"), qPrintable(toolText));
        QVERIFY2(toolText.contains(u"{\n    \"file_path\": \"hello.sh\",\n    \"mode\": 755\n}"), qPrintable(toolText));
        QVERIFY2(agentText.contains(u"#!/bin/sh\necho hello"), qPrintable(agentText));
        QVERIFY2(userText.contains(u"first line\nsecond line with code"), qPrintable(userText));
    }

    void tallEntryScrollsPerPixel()
    {
        ChatLogModel model;
        ChatLogView view(&model);
        view.resize(600, 400);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QString big;
        for (int i = 0; big.size() < 100 * 1024; ++i)
            big += QStringLiteral("Paragraph ") + QString::number(i) +
                   QStringLiteral(": the agent explains one more detail of the change.\n\n");
        model.enqueue(entry(QStringLiteral("before")));
        model.enqueue(entry(QStringLiteral("big"), MessageType::Agent, big));
        model.enqueue(entry(QStringLiteral("after")));
        model.flush();
        QCoreApplication::processEvents();
        QCOMPARE(view.verticalScrollMode(), QAbstractItemView::ScrollPerPixel);
        // Nothing is cut: the whole 100 KB entry is laid out and can be scrolled through.
        const int rowHeight = view.visualRect(model.index(1)).height();
        QVERIFY2(rowHeight > 100 * view.fontMetrics().height(), qPrintable(QString::number(rowHeight)));
        QScrollBar *bar = view.verticalScrollBar();
        QVERIFY(bar->maximum() > rowHeight - view.viewport()->height());
        QVERIFY(bar->singleStep() <= 2 * view.fontMetrics().height());  // a wheel notch is a few lines
        // Scrolling by a few pixels moves the entry by those pixels.
        bar->setValue(rowHeight / 2);
        const int top = view.visualRect(model.index(1)).top();
        bar->setValue(bar->value() + 7);
        QCOMPARE(view.visualRect(model.index(1)).top(), top - 7);
    }

    void viewFollowsTheTailOnlyAtTheBottom()
    {
        ChatLogModel model;
        model.setBatchInterval(5ms);
        ChatLogView view(&model);
        view.resize(500, 300);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        for (int i = 0; i < 200; ++i)
            model.enqueue(entry(QString::number(i)));
        QTRY_COMPARE(model.rowCount(), 200);
        QScrollBar *bar = view.verticalScrollBar();
        QTRY_VERIFY(bar->maximum() > 0);
        QCOMPARE(bar->value(), bar->maximum());
        QVERIFY(view.isFollowingTail());

        bar->setValue(0);
        QVERIFY(!view.isFollowingTail());
        for (int i = 200; i < 300; ++i)
            model.enqueue(entry(QString::number(i)));
        QTRY_COMPARE(model.rowCount(), 300);
        QCOMPARE(bar->value(), 0);  // the reader stays where they are
    }

    void farRowsHaveNoRectangle()
    {
        ChatLogModel model;
        ChatLogView view(&model);
        view.resize(500, 300);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        for (int i = 0; i < 5000; ++i)
            model.enqueue(entry(QString::number(i)));
        model.flush();
        view.scrollToBottom();
        QCoreApplication::processEvents();
        const qint64 before = view.chatDelegate()->computedSizes();
        QVERIFY(view.visualRect(model.index(0)).isEmpty());
        QVERIFY(!view.visualRect(model.index(4999)).isEmpty());
        // Asking about the first row did not size the thousands in between.
        QVERIFY(view.chatDelegate()->computedSizes() - before < 100);
    }
};

QTEST_MAIN(TestChatLogModel)
#include "tst_chatlogmodel.moc"
