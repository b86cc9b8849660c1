#pragma once

#include <QDialog>

#include "historystore.h"
#include "transport/framelog.h"

class QSettings;
class QSpinBox;

namespace Lockstep::Ui
{
    // Edit → Preferences…: how long and how much the console keeps (the
    // history database's limits: age, size, sessions and lines per workflow)
    // and the frame inspector's ring buffer per session. Stored in the
    // settings file; a key that is not there means the default.
    class PreferencesDialog final : public QDialog
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(PreferencesDialog)

    public:
        // Settings keys.
        static QString maxAgeDaysKey();              // "history/maxAgeDays"
        static QString maxMegabytesKey();            // "history/maxMegabytes"
        static QString maxSessionsPerWorkflowKey();  // "history/maxSessionsPerWorkflow"
        static QString maxRowsPerWorkflowKey();      // "history/maxRowsPerWorkflow"
        static QString inspectorMaxFramesKey();      // "inspector/maxFrames"
        static constexpr int DefaultInspectorMaxFrames = Transport::FrameLog::DefaultCapacity;

        // The limits in `settings`, `defaults` for the keys it does not have.
        static HistoryLimits limitsFrom(const QSettings &settings, const HistoryLimits &defaults = {});
        // Frames the inspector keeps per session (default 10 000).
        static int inspectorMaxFrames(const QSettings &settings);

        // Shows the values in `settings` (`defaults` where it has none).
        PreferencesDialog(QSettings *settings, const HistoryLimits &defaults, QWidget *parent = nullptr);

        HistoryLimits limits() const;
        int maxFrames() const;
        // Writes the values to the settings and closes.
        void accept() override;

    signals:
        void applied(const Lockstep::Ui::HistoryLimits &limits, int inspectorMaxFrames);

    private:
        QSettings *m_settings;
        HistoryLimits m_defaults;
        QSpinBox *m_maxAgeDays;
        QSpinBox *m_maxMegabytes;
        QSpinBox *m_maxSessions;
        QSpinBox *m_maxRows;
        QSpinBox *m_maxFrames;
    };
}  // namespace Lockstep::Ui
