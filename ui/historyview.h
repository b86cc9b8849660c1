#pragma once

#include <QPointer>
#include <QWidget>

#include "historystore.h"

class QCheckBox;
class QLabel;
class QListWidget;

namespace Lockstep::Ui
{
    // A workflow's History tab: outcomes, session closes and lock events from
    // the console's stored history (newest first, across restarts), updated
    // as they are added. Lock events can be hidden. Colours follow the theme.
    class HistoryView final : public QWidget
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(HistoryView)

    public:
        // Item data of each line: int(Theme::Tone) and int(HistoryEntry::Kind).
        static constexpr int ToneRole = Qt::UserRole + 1;
        static constexpr int KindRole = Qt::UserRole + 2;

        HistoryView(HistoryStore *store, const QString &workflowId, QWidget *parent = nullptr);

        // The lines shown, newest first ("2024-05-01 12:00:03  Resume: resumed").
        QStringList texts() const;
        QString noteText() const;
        void setShowLockEvents(bool show);

    protected:
        void changeEvent(QEvent *event) override;

    private:
        void reload();
        void prepend(const HistoryEntry &entry);
        void recolor();
        static QString lineText(const HistoryEntry &entry);

        QPointer<HistoryStore> m_store;
        QString m_workflowId;
        QLabel *m_note;
        QCheckBox *m_showLock;
        QListWidget *m_list;
    };
}  // namespace Lockstep::Ui
