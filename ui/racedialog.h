#pragma once

#include <functional>
#include <memory>

#include <QDialog>
#include <QPointer>
#include <QStringList>

#include "gatewayapi.h"
#include "race/racereport.h"

class QButtonGroup;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QTableWidget;
class QTreeWidget;

namespace Lockstep::Race
{
    class RaceEngine;
}

namespace Lockstep::Ui
{
    // Workflow → Race…: the same engine as `lockstep race`, with a window. N
    // sessions send a message to one workflow within a spread, round after
    // round; a row per round (red when it had ≠ 1 runner), the sessions of the
    // selected round, the anomaly checker's findings, a red banner when the
    // gateway runs with its lock or CAS guards off. "Run again" repeats the
    // last race (same offsets and messages) and shows both side by side.
    class FrameInspector;
    class FrameSessionList;

    class RaceDialog final : public QDialog
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RaceDialog)

    public:
        // `workflowId`: the race target to start with (the current tab's); `flows`: the gateway's.
        RaceDialog(GatewayEndpoint endpoint, const QString &workflowId, const QStringList &flows,
                   QWidget *parent = nullptr);
        ~RaceDialog() override;

        // Every finished race (the console records it in its history).
        void setRecorder(std::function<void(const Race::RaceReport &)> recorder);

        // The form, as a test or the menu fills it in.
        void setWorkflowTarget(const QString &workflowId);
        void setFlowTarget(const QString &flow);
        void setSessions(int sessions);
        void setRounds(int rounds);
        void setSpreadMs(int spreadMs);

        // The gateway's /healthz answer: a red banner when a switch is off, before any race.
        void showGatewayHealth(const QJsonObject &health);

        void run();
        // Repeats the last race (or a loaded report) against this gateway.
        void runAgain();
        void stop();
        bool isRunning() const;
        // The last finished (or stopped) race; empty rounds before the first.
        const Race::RaceReport &lastReport() const;
        // Loads a report file as the one "Run again" repeats; the error is one line.
        bool loadReport(const QString &path, QString *error = nullptr);
        bool exportJson(const QString &path, QString *error = nullptr) const;
        bool exportHtml(const QString &path, QString *error = nullptr) const;
        // The frames of the selected round's sessions, in the frame inspector
        // (the selected session first); null when no round is selected.
        FrameInspector *showFrames();

        QTableWidget *roundsTable() const;
        QTableWidget *sessionsTable() const;
        // The selected round's chat entries side by side: a column per session
        // that ran and one for the final chat log; an entry a runner saw that the
        // final log lacks is red.
        QTableWidget *entriesTable() const;
        QTreeWidget *findingsView() const;
        QTableWidget *comparisonTable() const;
        QLabel *switchesBanner() const;
        QLabel *summaryLabel() const;

    signals:
        void raceFinished(const Lockstep::Race::RaceReport &report);

    private:
        void start(std::unique_ptr<Race::RaceEngine> engine);
        void onRound(const Race::RoundRecord &round);
        void onFinished(const Race::RaceReport &report);
        void showReport(const Race::RaceReport &report, bool running);
        void showSessions(int roundRow);
        void showEntries(const Race::RoundRecord &round);
        void showSwitches(const Race::GatewaySwitches &switches);
        void showComparison(const QJsonObject &previous, const Race::RaceReport &current);
        void updateButtons();
        void exportWithDialog(bool html);
        QJsonObject reportJson() const;

        GatewayEndpoint m_endpoint;
        std::function<void(const Race::RaceReport &)> m_recorder;
        std::unique_ptr<Race::RaceEngine> m_engine;
        Race::RaceReport m_report;  // the race shown: running or last finished
        bool m_haveReport = false;

        QRadioButton *m_onWorkflow;
        QRadioButton *m_onFlow;
        QLineEdit *m_workflowId;
        QComboBox *m_flow;
        QSpinBox *m_sessions;
        QSpinBox *m_rounds;
        QSpinBox *m_spread;
        QPushButton *m_run;
        QPushButton *m_again;
        QPushButton *m_stop;
        QPushButton *m_load;
        QPushButton *m_exportJson;
        QPushButton *m_exportHtml;
        QPushButton *m_frames;
        FrameSessionList *m_frameSessions = nullptr;  // what m_inspector shows
        QPointer<FrameInspector> m_inspector;
        QLabel *m_banner;
        QLabel *m_summary;
        QTableWidget *m_roundsTable;
        QTableWidget *m_sessionsTable;
        QTableWidget *m_entriesTable;
        QTreeWidget *m_findings;
        QTableWidget *m_comparison;
    };
}  // namespace Lockstep::Ui
