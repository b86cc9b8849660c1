#include "racedialog.h"

#include <algorithm>

#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QRadioButton>
#include <QSaveFile>
#include <QSet>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "frameinspector.h"
#include "framesession.h"
#include "protocol/closecode.h"
#include "race/raceengine.h"
#include "race/reporthtml.h"
#include "theme.h"

namespace Lockstep::Ui
{
    namespace
    {
        QString outcomeText(const Race::SessionOutcome outcome)
        {
            switch (outcome)
            {
            case Race::SessionOutcome::Ran: return RaceDialog::tr("ran");
            case Race::SessionOutcome::AlreadyRunning: return RaceDialog::tr("already running");
            case Race::SessionOutcome::NotResumable: return RaceDialog::tr("not resumable");
            case Race::SessionOutcome::Closed: return RaceDialog::tr("closed");
            case Race::SessionOutcome::Failed: return RaceDialog::tr("failed to connect");
            }
            return {};
        }

        QString timeText(const QDateTime &time)
        {
            return time.isNull() ? QString() : time.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz"));
        }

        void setRowTone(QTableWidget *table, const int row, const Theme::Tone tone)
        {
            const QColor background = Theme::toneBackground(tone, table->palette());
            for (int column = 0; column < table->columnCount(); ++column)
            {
                if (QTableWidgetItem *cell = table->item(row, column))
                    cell->setBackground(background);
            }
        }

        QTableWidgetItem *cell(const QString &text)
        {
            auto *item = new QTableWidgetItem(text);
            item->setFlags(item->flags() & ~Qt::ItemIsEditable);
            return item;
        }

        QTableWidgetItem *numberCell(const qint64 value)
        {
            QTableWidgetItem *item = cell(QString::number(value));
            item->setData(Qt::DisplayRole, value);
            return item;
        }

        QTableWidget *makeTable(const QStringList &headers, QWidget *parent)
        {
            auto *table = new QTableWidget(0, int(headers.size()), parent);
            table->setHorizontalHeaderLabels(headers);
            table->verticalHeader()->hide();
            table->setSelectionBehavior(QAbstractItemView::SelectRows);
            table->setSelectionMode(QAbstractItemView::SingleSelection);
            table->horizontalHeader()->setStretchLastSection(true);
            return table;
        }

        bool writeFile(const QString &path, const QByteArray &bytes, QString *error)
        {
            QSaveFile file(path);
            if (!file.open(QIODevice::WriteOnly) || (file.write(bytes) != bytes.size()) || !file.commit())
            {
                if (error)
                    *error = RaceDialog::tr("could not write %1: %2").arg(path, file.errorString());
                return false;
            }
            return true;
        }
    }  // namespace

    RaceDialog::RaceDialog(GatewayEndpoint endpoint, const QString &workflowId, const QStringList &flows,
                           QWidget *parent)
        : QDialog(parent)
        , m_endpoint(std::move(endpoint))
        , m_onWorkflow(new QRadioButton(tr("This workflow:"), this))
        , m_onFlow(new QRadioButton(tr("A new workflow every round, flow:"), this))
        , m_workflowId(new QLineEdit(workflowId, this))
        , m_flow(new QComboBox(this))
        , m_sessions(new QSpinBox(this))
        , m_rounds(new QSpinBox(this))
        , m_spread(new QSpinBox(this))
        , m_run(new QPushButton(tr("&Run"), this))
        , m_again(new QPushButton(tr("Run &again"), this))
        , m_stop(new QPushButton(tr("&Stop"), this))
        , m_load(new QPushButton(tr("&Load report…"), this))
        , m_exportJson(new QPushButton(tr("Export &JSON…"), this))
        , m_exportHtml(new QPushButton(tr("Export &HTML…"), this))
        , m_frames(new QPushButton(tr("&Frames…"), this))
        , m_banner(new QLabel(this))
        , m_summary(new QLabel(this))
        , m_roundsTable(makeTable({tr("Round"), tr("Workflow"), tr("Runners"), tr("Ran"), tr("Already running"),
                                   tr("Not resumable"), tr("Other"), tr("Findings")},
                                  this))
        , m_sessionsTable(makeTable(
              {tr("Session"), tr("Offset"), tr("Outcome"), tr("Close"), tr("Reason"), tr("Execution"), tr("Closed at")},
              this))
        , m_entriesTable(makeTable({}, this))
        , m_findings(new QTreeWidget(this))
        , m_comparison(makeTable({QString(), tr("Previous"), tr("This run")}, this))
    {
        setWindowTitle(tr("Race — %1").arg(m_endpoint.webSocketUrl.toString()));
        setObjectName(QStringLiteral("raceDialog"));
        resize(980, 720);

        m_workflowId->setObjectName(QStringLiteral("raceWorkflowId"));
        m_onWorkflow->setChecked(!workflowId.isEmpty() || flows.isEmpty());
        m_onFlow->setChecked(workflowId.isEmpty() && !flows.isEmpty());
        m_flow->addItems(flows);
        m_flow->setEditable(flows.isEmpty());
        m_sessions->setRange(2, 64);
        m_sessions->setValue(2);
        m_rounds->setRange(1, 1000);
        m_rounds->setValue(10);
        m_spread->setRange(0, 500);
        m_spread->setSuffix(tr(" ms"));
        m_spread->setValue(50);
        m_sessions->setToolTip(tr("How many sessions send a message to the workflow at once (2–64)"));
        m_spread->setToolTip(tr("Each session sends at a random moment within this window (0–500 ms)"));

        auto *target = new QGroupBox(tr("Target"), this);
        auto *targetLayout = new QFormLayout(target);
        targetLayout->addRow(m_onWorkflow, m_workflowId);
        targetLayout->addRow(m_onFlow, m_flow);
        auto *shape = new QGroupBox(tr("Race"), this);
        auto *shapeLayout = new QFormLayout(shape);
        shapeLayout->addRow(tr("Sessions:"), m_sessions);
        shapeLayout->addRow(tr("Rounds:"), m_rounds);
        shapeLayout->addRow(tr("Spread:"), m_spread);
        auto *form = new QHBoxLayout;
        form->addWidget(target, 3);
        form->addWidget(shape, 1);

        auto *buttons = new QHBoxLayout;
        for (QPushButton *button : {m_run, m_stop, m_again, m_load})
            buttons->addWidget(button);
        buttons->addStretch();
        buttons->addWidget(m_frames);
        buttons->addWidget(m_exportJson);
        buttons->addWidget(m_exportHtml);
        m_run->setDefault(true);
        m_frames->setToolTip(tr("Every frame of the selected round's sessions, in the frame inspector"));
        m_again->setToolTip(tr("Repeat the last race with the same sessions, offsets and messages against "
                               "this gateway, and compare the two"));

        m_banner->setObjectName(QStringLiteral("raceSwitchesBanner"));
        m_banner->setWordWrap(true);
        m_banner->setMargin(6);
        m_banner->setAutoFillBackground(true);
        m_banner->hide();
        m_summary->setObjectName(QStringLiteral("raceSummary"));
        m_summary->setWordWrap(true);
        m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);

        m_findings->setHeaderLabels({tr("Finding"), tr("Round"), tr("Sessions"), tr("When"), tr("Detail")});
        m_findings->setRootIsDecorated(false);
        m_findings->setObjectName(QStringLiteral("raceFindings"));
        m_findings->hide();
        m_roundsTable->setObjectName(QStringLiteral("raceRounds"));
        m_sessionsTable->setObjectName(QStringLiteral("raceSessions"));
        m_entriesTable->setObjectName(QStringLiteral("raceEntries"));
        m_comparison->setObjectName(QStringLiteral("raceComparison"));
        m_comparison->setSelectionMode(QAbstractItemView::NoSelection);
        m_comparison->hide();

        auto *split = new QSplitter(Qt::Vertical, this);
        auto *tables = new QSplitter(Qt::Horizontal, split);
        tables->addWidget(m_roundsTable);
        auto *roundTabs = new QTabWidget(tables);
        roundTabs->addTab(m_sessionsTable, tr("Sessions"));
        roundTabs->addTab(m_entriesTable, tr("Chat entries"));
        tables->addWidget(roundTabs);
        tables->setStretchFactor(0, 2);
        tables->setStretchFactor(1, 3);
        split->addWidget(tables);
        split->addWidget(m_findings);
        split->addWidget(m_comparison);
        split->setStretchFactor(0, 3);
        split->setStretchFactor(1, 1);
        split->setStretchFactor(2, 1);

        auto *layout = new QVBoxLayout(this);
        layout->addLayout(form);
        layout->addLayout(buttons);
        layout->addWidget(m_banner);
        layout->addWidget(m_summary);
        layout->addWidget(split, 1);

        connect(m_run, &QPushButton::clicked, this, &RaceDialog::run);
        connect(m_again, &QPushButton::clicked, this, &RaceDialog::runAgain);
        connect(m_stop, &QPushButton::clicked, this, &RaceDialog::stop);
        connect(m_load, &QPushButton::clicked, this, [this] {
            const QString path =
                QFileDialog::getOpenFileName(this, tr("Load race report"), {}, tr("Race reports (*.json)"));
            QString error;
            if (!path.isEmpty() && !loadReport(path, &error))
                QMessageBox::warning(this, tr("Load race report"), error);
        });
        connect(m_exportJson, &QPushButton::clicked, this, [this] { exportWithDialog(false); });
        connect(m_exportHtml, &QPushButton::clicked, this, [this] { exportWithDialog(true); });
        connect(m_roundsTable, &QTableWidget::currentCellChanged, this, [this](const int row, int, int, int) {
            showSessions(row);
            updateButtons();
        });
        connect(m_frames, &QPushButton::clicked, this, &RaceDialog::showFrames);
        connect(m_onWorkflow, &QRadioButton::toggled, this, &RaceDialog::updateButtons);
        connect(m_workflowId, &QLineEdit::textChanged, this, &RaceDialog::updateButtons);
        updateButtons();
    }

    RaceDialog::~RaceDialog() = default;

    void RaceDialog::setRecorder(std::function<void(const Race::RaceReport &)> recorder)
    {
        m_recorder = std::move(recorder);
    }

    void RaceDialog::setWorkflowTarget(const QString &workflowId)
    {
        m_workflowId->setText(workflowId);
        m_onWorkflow->setChecked(true);
    }

    void RaceDialog::setFlowTarget(const QString &flow)
    {
        if (m_flow->findText(flow) < 0)
            m_flow->addItem(flow);
        m_flow->setCurrentText(flow);
        m_onFlow->setChecked(true);
    }

    void RaceDialog::setSessions(const int sessions)
    {
        m_sessions->setValue(sessions);
    }

    void RaceDialog::setRounds(const int rounds)
    {
        m_rounds->setValue(rounds);
    }

    void RaceDialog::setSpreadMs(const int spreadMs)
    {
        m_spread->setValue(spreadMs);
    }

    void RaceDialog::run()
    {
        if (isRunning())
            return;
        Race::RaceOptions options;
        options.webSocketUrl = m_endpoint.webSocketUrl;
        options.token = m_endpoint.token;
        options.caFile = m_endpoint.caFile;
        options.verifyPeer = m_endpoint.verifyPeer;
        options.keepFrames = true;  // Frames… shows them
        if (m_onWorkflow->isChecked())
            options.spec.workflowId = m_workflowId->text().trimmed();
        else
            options.spec.flow = m_flow->currentText().trimmed();
        options.spec.sessions = m_sessions->value();
        options.spec.rounds = m_rounds->value();
        options.spec.spreadMs = m_spread->value();
        start(std::make_unique<Race::RaceEngine>(options));
    }

    void RaceDialog::runAgain()
    {
        if (isRunning() || !m_haveReport)
            return;
        Race::RaceOptions options = Race::RaceOptions::repeating(m_report);
        options.webSocketUrl = m_endpoint.webSocketUrl;
        options.token = m_endpoint.token;
        options.caFile = m_endpoint.caFile;
        options.verifyPeer = m_endpoint.verifyPeer;
        options.keepFrames = true;
        start(std::make_unique<Race::RaceEngine>(options));
    }

    void RaceDialog::start(std::unique_ptr<Race::RaceEngine> engine)
    {
        m_engine = std::move(engine);
        connect(m_engine.get(), &Race::RaceEngine::roundFinished, this, &RaceDialog::onRound);
        connect(m_engine.get(), &Race::RaceEngine::finished, this, &RaceDialog::onFinished);
        connect(m_engine.get(), &Race::RaceEngine::failed, this, [this](const QString &message) {
            m_summary->setText(tr("The race stopped: %1").arg(message));
            m_engine.release()->deleteLater();
            updateButtons();
        });
        m_roundsTable->setRowCount(0);
        m_sessionsTable->setRowCount(0);
        m_findings->clear();
        m_comparison->hide();
        m_summary->setText(tr("Connecting…"));
        m_engine->start();
        updateButtons();
    }

    void RaceDialog::stop()
    {
        if (isRunning())
            m_engine->cancel();
    }

    bool RaceDialog::isRunning() const
    {
        return m_engine && m_engine->isRunning();
    }

    const Race::RaceReport &RaceDialog::lastReport() const
    {
        return m_report;
    }

    bool RaceDialog::loadReport(const QString &path, QString *error)
    {
        auto loaded = Race::RaceReport::load(path);
        if (!loaded)
        {
            if (error)
                *error = loaded.error();
            return false;
        }
        m_report = *std::move(loaded);
        m_haveReport = true;
        showReport(m_report, false);
        updateButtons();
        return true;
    }

    QJsonObject RaceDialog::reportJson() const
    {
        return m_report.toJson();
    }

    bool RaceDialog::exportJson(const QString &path, QString *error) const
    {
        return writeFile(path, QJsonDocument(reportJson()).toJson(QJsonDocument::Indented), error);
    }

    bool RaceDialog::exportHtml(const QString &path, QString *error) const
    {
        return writeFile(path, Race::renderHtmlReport(reportJson()).toUtf8(), error);
    }

    void RaceDialog::exportWithDialog(const bool html)
    {
        const QString filter = html ? tr("HTML report (*.html)") : tr("JSON report (*.json)");
        const QString suggested =
            QStringLiteral("race-%1.%2")
                .arg(m_report.generatedAt.toLocalTime().toString(QStringLiteral("yyyyMMdd-HHmmss")),
                     html ? QStringLiteral("html") : QStringLiteral("json"));
        const QString path = QFileDialog::getSaveFileName(this, tr("Export race report"), suggested, filter);
        if (path.isEmpty())
            return;
        QString error;
        if (!(html ? exportHtml(path, &error) : exportJson(path, &error)))
            QMessageBox::warning(this, tr("Export race report"), error);
    }

    FrameInspector *RaceDialog::showFrames()
    {
        const Race::RaceReport &report = (m_engine && m_engine->isRunning()) ? m_engine->report() : m_report;
        const int row = m_roundsTable->currentRow();
        if ((row < 0) || (row >= report.rounds.size()))
            return nullptr;
        const Race::RoundRecord &round = report.rounds.at(row);
        // The inspector reads the list until it is gone: close it before replacing the list.
        delete m_inspector.data();
        delete m_frameSessions;
        m_frameSessions = new FrameSessionList(this);
        m_frameSessions->setMaxSessions(int(round.sessions.size()));
        std::shared_ptr<FrameSession> selected;
        for (const Race::SessionRecord &record : round.sessions)
        {
            auto session = std::make_shared<FrameSession>(FrameSession::Role::Other);
            m_frameSessions->add(session);
            session->setLabel(tr("round %1 · session %2").arg(round.index + 1).arg(record.index + 1));
            if (record.frameLog)
            {
                session->setCapacity(std::max(1, int(record.frameLog->frames().size())));
                for (const Transport::FrameRecord &frame : record.frameLog->frames())
                    session->record(frame);
            }
            session->end(QStringLiteral("%1 · %2").arg(outcomeText(record.outcome), record.closeReason), record.bytesIn,
                         record.bytesOut);
            if (record.index == m_sessionsTable->currentRow())
                selected = session;
        }
        m_inspector = new FrameInspector(m_frameSessions, this);
        m_inspector->setAttribute(Qt::WA_DeleteOnClose);
        m_inspector->setWindowTitle(tr("Frames — race round %1").arg(round.index + 1));
        if (selected)
            m_inspector->selectSession(selected);
        m_inspector->show();
        return m_inspector;
    }

    void RaceDialog::onRound(const Race::RoundRecord &)
    {
        const int selected = m_roundsTable->currentRow();
        showReport(m_engine->report(), true);
        if (selected >= 0)
            m_roundsTable->selectRow(selected);
    }

    void RaceDialog::onFinished(const Race::RaceReport &report)
    {
        m_report = report;
        m_haveReport = true;
        m_engine.release()->deleteLater();
        showReport(m_report, false);
        if (m_recorder)
            m_recorder(m_report);
        emit raceFinished(m_report);
        updateButtons();
    }

    void RaceDialog::showReport(const Race::RaceReport &report, const bool running)
    {
        showSwitches(report.gateway.switches);
        const Race::RaceSummary summary = report.summary();
        const int wrongRounds = summary.rounds - summary.roundsWithOneRunner;
        QString text = tr("%1 of %2 rounds · runners per round: min %3, max %4 · rounds with ≠ 1 runner: %5 · "
                          "findings: %6")
                           .arg(summary.rounds)
                           .arg(report.race.rounds)
                           .arg(summary.minRunners)
                           .arg(summary.maxRunners)
                           .arg(wrongRounds)
                           .arg(summary.findings);
        if (!running && (summary.rounds > 0))
            text += summary.passed ? tr(" — passed: exactly one runner every round, nothing found") : tr(" — FAILED");
        m_summary->setText(text);
        const Theme::Tone tone =
            running ? Theme::Tone::Neutral : (summary.passed ? Theme::Tone::Good : Theme::Tone::Bad);
        QPalette palette = m_summary->palette();
        palette.setColor(QPalette::WindowText, Theme::toneColor(tone, palette));
        m_summary->setPalette(palette);

        QHash<int, int> findingsPerRound;
        for (const Race::Finding &finding : report.findings)
        {
            if (finding.round)
                ++findingsPerRound[*finding.round];
        }
        m_roundsTable->setSortingEnabled(false);
        m_roundsTable->setRowCount(int(report.rounds.size()));
        for (int row = 0; row < report.rounds.size(); ++row)
        {
            const Race::RoundRecord &round = report.rounds.at(row);
            int ran = 0;
            int held = 0;
            int notResumable = 0;
            for (const Race::SessionRecord &session : round.sessions)
            {
                ran += session.ran ? 1 : 0;
                held += (session.outcome == Race::SessionOutcome::AlreadyRunning) ? 1 : 0;
                notResumable += (session.outcome == Race::SessionOutcome::NotResumable) ? 1 : 0;
            }
            m_roundsTable->setItem(row, 0, numberCell(round.index + 1));
            // The ID's first group tells rounds apart; the whole ID is in the tooltip.
            m_roundsTable->setItem(row, 1, cell(round.workflowId.section(u'-', 0, 0)));
            m_roundsTable->item(row, 1)->setToolTip(round.workflowId);
            m_roundsTable->setItem(row, 2, numberCell(round.runners));
            m_roundsTable->setItem(row, 3, numberCell(ran));
            m_roundsTable->setItem(row, 4, numberCell(held));
            m_roundsTable->setItem(row, 5, numberCell(notResumable));
            m_roundsTable->setItem(row, 6, numberCell(round.sessions.size() - ran - held - notResumable));
            m_roundsTable->setItem(row, 7, numberCell(findingsPerRound.value(round.index)));
            const bool wrong = (round.runners != 1) || findingsPerRound.contains(round.index);
            setRowTone(m_roundsTable, row, wrong ? Theme::Tone::Bad : Theme::Tone::Neutral);
        }
        m_roundsTable->resizeColumnsToContents();

        m_findings->clear();
        for (const Race::Finding &finding : report.findings)
        {
            QStringList sessions;
            for (const int session : finding.sessions)
                sessions << QString::number(session + 1);
            auto *item = new QTreeWidgetItem(
                m_findings,
                {Race::toString(finding.kind), finding.round ? QString::number(*finding.round + 1) : QString(),
                 sessions.join(QStringLiteral(", ")), timeText(finding.at), finding.detail});
            item->setToolTip(4, finding.detail + (finding.entries.isEmpty()
                                                      ? QString()
                                                      : QStringLiteral("\n") + finding.entries.join(u'\n')));
            item->setForeground(0, Theme::toneColor(Theme::Tone::Bad, m_findings->palette()));
        }
        m_findings->setVisible(!report.findings.isEmpty());
        for (int column = 0; column < 4; ++column)
            m_findings->resizeColumnToContents(column);

        if (!running && !report.previous.isEmpty())
            showComparison(report.previous, report);
        if ((m_roundsTable->currentRow() < 0) && (m_roundsTable->rowCount() > 0))
            m_roundsTable->selectRow(0);
        showSessions(m_roundsTable->currentRow());
    }

    void RaceDialog::showSessions(const int roundRow)
    {
        const Race::RaceReport &report = (m_engine && m_engine->isRunning()) ? m_engine->report() : m_report;
        m_sessionsTable->setRowCount(0);
        m_entriesTable->setRowCount(0);
        if ((roundRow < 0) || (roundRow >= report.rounds.size()))
            return;
        const Race::RoundRecord &round = report.rounds.at(roundRow);
        showEntries(round);
        m_sessionsTable->setRowCount(int(round.sessions.size()));
        for (int row = 0; row < round.sessions.size(); ++row)
        {
            const Race::SessionRecord &session = round.sessions.at(row);
            m_sessionsTable->setItem(row, 0, numberCell(session.index + 1));
            m_sessionsTable->setItem(row, 1, cell(tr("%1 ms").arg(session.offsetMs)));
            m_sessionsTable->setItem(row, 2, cell(outcomeText(session.outcome)));
            const QString close =
                (session.outcome == Race::SessionOutcome::Failed)
                    ? QString()
                    : QStringLiteral("%1 %2").arg(session.closeCode).arg(closeCodeMeaning(quint16(session.closeCode)));
            m_sessionsTable->setItem(row, 3, cell(close));
            m_sessionsTable->setItem(row, 4, cell(session.closeReason));
            const QString execution = session.ran && !session.executionStart.isNull() && !session.executionEnd.isNull()
                                          ? tr("%1 – %2 (%3 ms)")
                                                .arg(timeText(session.executionStart), timeText(session.executionEnd))
                                                .arg(session.executionStart.msecsTo(session.executionEnd))
                                          : QString();
            m_sessionsTable->setItem(row, 5, cell(execution));
            m_sessionsTable->setItem(row, 6, cell(timeText(session.closedAt)));
            m_sessionsTable->item(row, 4)->setToolTip(session.closeReason);
            Theme::Tone tone = Theme::Tone::Neutral;
            if (session.ran)
                tone = (round.runners == 1) ? Theme::Tone::Good : Theme::Tone::Bad;
            else if (session.outcome == Race::SessionOutcome::Failed)
                tone = Theme::Tone::Warning;
            setRowTone(m_sessionsTable, row, tone);
        }
        m_sessionsTable->resizeColumnsToContents();
    }

    void RaceDialog::showGatewayHealth(const QJsonObject &health)
    {
        showSwitches(Race::GatewaySwitches::fromHealth(health));
    }

    void RaceDialog::showEntries(const Race::RoundRecord &round)
    {
        QList<const Race::SessionRecord *> runners;
        QStringList ids;  // first seen first, then what only the final log has
        for (const Race::SessionRecord &session : round.sessions)
        {
            if (!session.ran)
                continue;
            runners.append(&session);
            for (const QString &id : session.entriesSeen)
            {
                if (!ids.contains(id))
                    ids.append(id);
            }
        }
        for (const QString &id : round.finalEntries)
        {
            if (!ids.contains(id))
                ids.append(id);
        }
        QStringList headers{tr("Entry")};
        for (const Race::SessionRecord *runner : runners)
            headers << tr("Session %1 saw").arg(runner->index + 1);
        headers << tr("Final chat log");
        m_entriesTable->clear();
        m_entriesTable->setColumnCount(int(headers.size()));
        m_entriesTable->setHorizontalHeaderLabels(headers);
        m_entriesTable->setRowCount(int(ids.size()));
        const QSet<QString> inFinalLog(round.finalEntries.cbegin(), round.finalEntries.cend());
        for (int row = 0; row < ids.size(); ++row)
        {
            const QString &id = ids.at(row);
            m_entriesTable->setItem(row, 0, cell(id));
            bool seen = false;
            for (int column = 0; column < runners.size(); ++column)
            {
                const Race::SessionRecord *runner = runners.at(column);
                const bool saw = runner->entriesSeen.contains(id);
                seen = seen || saw;
                QTableWidgetItem *item = cell(saw ? runner->entryContents.value(id, QStringLiteral("✓")) : QString());
                item->setToolTip(item->text());
                m_entriesTable->setItem(row, column + 1, item);
            }
            const QString finalText = inFinalLog.contains(id)
                                          ? round.finalContents.value(id, QStringLiteral("✓"))
                                          : (round.finalStatus.isEmpty() ? tr("not read") : tr("missing"));
            m_entriesTable->setItem(row, int(runners.size()) + 1, cell(finalText));
            setRowTone(m_entriesTable, row,
                       (seen && !inFinalLog.contains(id) && !round.finalStatus.isEmpty()) ? Theme::Tone::Bad
                                                                                          : Theme::Tone::Neutral);
        }
        m_entriesTable->resizeColumnToContents(0);
    }

    void RaceDialog::showSwitches(const Race::GatewaySwitches &switches)
    {
        QStringList off;
        if (!switches.lockEnabled)
            off << tr("the lock is OFF (--no-lock-concurrent-flows)");
        if (!switches.casGuards)
            off << tr("CAS guards are OFF (--no-cas-guards)");
        if (!switches.fencing)
            off << tr("fencing is OFF");
        if (off.isEmpty())
        {
            m_banner->hide();
            return;
        }
        m_banner->setText(
            tr("This gateway runs with %1: concurrent executions are possible.").arg(off.join(QStringLiteral(", "))));
        QPalette palette = m_banner->palette();
        palette.setColor(QPalette::Window, Theme::toneColor(Theme::Tone::Bad, palette));
        palette.setColor(QPalette::WindowText, Qt::white);
        m_banner->setPalette(palette);
        m_banner->show();
    }

    void RaceDialog::showComparison(const QJsonObject &previous, const Race::RaceReport &current)
    {
        const QJsonObject before = previous.value(u"summary").toObject();
        const QJsonObject beforeGateway = previous.value(u"gateway").toObject();
        const QJsonObject beforeSwitches = beforeGateway.value(u"switches").toObject();
        const Race::RaceSummary now = current.summary();
        auto onOff = [](const bool on) { return on ? tr("on") : tr("off"); };
        const QList<std::array<QString, 3>> rows = {
            {tr("Gateway"), beforeGateway.value(u"url").toString(), current.gateway.url},
            {tr("Version"), beforeGateway.value(u"version").toString(), current.gateway.version},
            {tr("Lock"), onOff(beforeSwitches.value(u"lockEnabled").toBool(true)),
             onOff(current.gateway.switches.lockEnabled)},
            {tr("CAS guards"), onOff(beforeSwitches.value(u"casGuards").toBool(true)),
             onOff(current.gateway.switches.casGuards)},
            {tr("Rounds"), QString::number(before.value(u"rounds").toInt()), QString::number(now.rounds)},
            {tr("Runners per round"),
             QStringLiteral("%1–%2").arg(before.value(u"minRunners").toInt()).arg(before.value(u"maxRunners").toInt()),
             QStringLiteral("%1–%2").arg(now.minRunners).arg(now.maxRunners)},
            {tr("Rounds with ≠ 1 runner"),
             QString::number(before.value(u"rounds").toInt() - before.value(u"roundsWithOneRunner").toInt()),
             QString::number(now.rounds - now.roundsWithOneRunner)},
            {tr("Findings"), QString::number(before.value(u"findings").toInt()), QString::number(now.findings)},
            {tr("Passed"), before.value(u"passed").toBool() ? tr("yes") : tr("no"), now.passed ? tr("yes") : tr("no")},
        };
        m_comparison->setRowCount(int(rows.size()));
        for (int row = 0; row < rows.size(); ++row)
        {
            for (int column = 0; column < 3; ++column)
                m_comparison->setItem(row, column, cell(rows.at(row).at(size_t(column))));
            if (rows.at(row).at(1) != rows.at(row).at(2))
                m_comparison->item(row, 2)->setForeground(Theme::toneColor(Theme::Tone::Warning, palette()));
        }
        m_comparison->resizeColumnsToContents();
        m_comparison->show();
    }

    void RaceDialog::updateButtons()
    {
        const bool running = isRunning();
        const bool targetOk = m_onWorkflow->isChecked() ? !m_workflowId->text().trimmed().isEmpty()
                                                        : !m_flow->currentText().trimmed().isEmpty();
        m_run->setEnabled(!running && targetOk);
        m_stop->setEnabled(running);
        m_again->setEnabled(!running && m_haveReport && !m_report.rounds.isEmpty());
        m_load->setEnabled(!running);
        m_exportJson->setEnabled(!running && m_haveReport);
        m_exportHtml->setEnabled(!running && m_haveReport);
        m_frames->setEnabled(m_roundsTable->currentRow() >= 0);
        for (QWidget *widget : std::initializer_list<QWidget *>{m_onWorkflow, m_onFlow, m_workflowId, m_flow,
                                                                m_sessions, m_rounds, m_spread})
            widget->setEnabled(!running);
    }

    QTableWidget *RaceDialog::roundsTable() const
    {
        return m_roundsTable;
    }

    QTableWidget *RaceDialog::sessionsTable() const
    {
        return m_sessionsTable;
    }

    QTableWidget *RaceDialog::entriesTable() const
    {
        return m_entriesTable;
    }

    QTreeWidget *RaceDialog::findingsView() const
    {
        return m_findings;
    }

    QTableWidget *RaceDialog::comparisonTable() const
    {
        return m_comparison;
    }

    QLabel *RaceDialog::switchesBanner() const
    {
        return m_banner;
    }

    QLabel *RaceDialog::summaryLabel() const
    {
        return m_summary;
    }
}  // namespace Lockstep::Ui
