#pragma once

#include <QDialog>
#include <QJsonObject>
#include <QPointer>

#include "recordingstore.h"

class QLabel;
class QPushButton;
class QStackedWidget;
class QTableView;
class QTableWidget;
class QTreeWidget;
class QTreeWidgetItem;

namespace Lockstep::Ui
{
    class RecordedFrameModel;

    // File → Recordings…: what the console recorded, read from the history
    // database alone (no gateway needed: after the gateway is gone, after a
    // restart). Workflows with their sessions and lock events, and races,
    // with when, what and the outcome. A session opens as a read-only table
    // of its frames; a race as its summary and rounds. Export… writes the
    // selection as the report JSON of issue 12 (kind "session", "workflow",
    // or the stored race report as is) or as HTML (core/race's writer).
    class RecordingsBrowser final : public QDialog
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RecordingsBrowser)

    public:
        enum class Selection
        {
            None,
            Workflow,
            Session,
            Race,
        };

        explicit RecordingsBrowser(RecordingStore *store, QWidget *parent = nullptr);
        ~RecordingsBrowser() override;

        // Reads the lists again (keeps the selection when it is still there).
        void refresh();

        bool selectWorkflow(const QString &workflowId);
        bool selectSession(qint64 session);
        bool selectRace(qint64 race);
        Selection selection() const;

        // The selection's report (empty with nothing exportable selected).
        QJsonObject currentReport() const;
        // Writes currentReport() to `path` as JSON or HTML; false: `error` says why.
        bool exportJson(const QString &path, QString *error = nullptr) const;
        bool exportHtml(const QString &path, QString *error = nullptr) const;

        // For tests and screenshots: the widgets shown.
        QTreeWidget *tree() const;
        QTableView *frameView() const;
        QTableWidget *roundTable() const;
        QTableWidget *lockEventTable() const;
        QString detailText() const;  // the header line of the page shown

    private:
        void showSelection();
        void showWorkflow(const QString &workflowId);
        void showSession(qint64 session);
        void showRace(qint64 race);
        void showOverview();
        bool selectItem(int type, const QVariant &key);

        QPointer<RecordingStore> m_store;
        QTreeWidget *m_tree;
        QStackedWidget *m_pages;
        QLabel *m_overview;
        QLabel *m_workflowHeader;
        QTableWidget *m_lockEvents;
        QLabel *m_sessionHeader;
        QTableView *m_frames;
        RecordedFrameModel *m_frameModel;
        QLabel *m_raceHeader;
        QTableWidget *m_rounds;
        QPushButton *m_export;
        QLabel *m_detail = nullptr;  // the header of the page shown
    };
}  // namespace Lockstep::Ui
