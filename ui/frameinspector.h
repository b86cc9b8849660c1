#pragma once

#include <memory>

#include <QPointer>
#include <QTimer>
#include <QWidget>

#include "framesession.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QTableView;
class QTreeWidget;

namespace Lockstep::Ui
{
    class FrameFilterProxy;
    class FrameTableModel;

    // A window over a tab's sessions (live and driving, current and recent):
    // pick a session, see its frames (time, direction, kind, size, message
    // type, summary), filter them, read one as indented JSON or a decoded
    // close frame, and the session's bytes: payload and wire in and out,
    // newCheckpoint (event) bytes, and incremental against legacy when the
    // tab has sessions of both.
    class FrameInspector final : public QWidget
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FrameInspector)

    public:
        // A top-level window (parent: the tab, for its lifetime only).
        explicit FrameInspector(FrameSessionList *sessions, QWidget *parent = nullptr);
        ~FrameInspector() override;

        void selectSession(const std::shared_ptr<FrameSession> &session);
        std::shared_ptr<FrameSession> currentSession() const;
        FrameTableModel *frameModel() const;
        FrameFilterProxy *filterModel() const;
        QTableView *frameView() const;
        // The counters of the shown session, and the incremental / legacy line.
        QString countersText() const;
        QString comparisonText() const;
        QString detailText() const;

    private:
        void refreshSessions();
        void refreshCounters();
        void showDetail();
        void scheduleRefresh();

        QPointer<FrameSessionList> m_sessions;
        FrameTableModel *m_model;
        FrameFilterProxy *m_proxy;
        QTreeWidget *m_sessionList;
        QComboBox *m_direction;
        QComboBox *m_type;
        QLineEdit *m_search;
        QTableView *m_table;
        QPlainTextEdit *m_detail;
        QLabel *m_counters;
        QLabel *m_comparison;
        QTimer m_refresh;  // counters and the session list, at most a few times a second
        QTimer m_searchDelay;
        bool m_follow = true;  // keep the newest frame in view
    };
}  // namespace Lockstep::Ui
