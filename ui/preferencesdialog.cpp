#include "preferencesdialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

#include "framesession.h"

namespace Lockstep::Ui
{
    namespace
    {
        constexpr qint64 Megabyte = 1024 * 1024;

        QSpinBox *spinBox(const char *name, const int minimum, const int maximum, const QString &suffix,
                          QWidget *parent)
        {
            auto *box = new QSpinBox(parent);
            box->setObjectName(QString::fromLatin1(name));
            box->setRange(minimum, maximum);
            box->setSuffix(suffix);
            box->setGroupSeparatorShown(true);
            return box;
        }

        int clampedInt(const QVariant &value, const int fallback, const int minimum, const int maximum)
        {
            bool ok = false;
            const int number = value.toInt(&ok);
            return ok ? std::clamp(number, minimum, maximum) : fallback;
        }
    }  // namespace

    QString PreferencesDialog::maxAgeDaysKey()
    {
        return QStringLiteral("history/maxAgeDays");
    }

    QString PreferencesDialog::maxMegabytesKey()
    {
        return QStringLiteral("history/maxMegabytes");
    }

    QString PreferencesDialog::maxSessionsPerWorkflowKey()
    {
        return QStringLiteral("history/maxSessionsPerWorkflow");
    }

    QString PreferencesDialog::maxRowsPerWorkflowKey()
    {
        return QStringLiteral("history/maxRowsPerWorkflow");
    }

    QString PreferencesDialog::inspectorMaxFramesKey()
    {
        return maxFramesSettingsKey();
    }

    HistoryLimits PreferencesDialog::limitsFrom(const QSettings &settings, const HistoryLimits &defaults)
    {
        HistoryLimits limits = defaults;
        if (settings.contains(maxAgeDaysKey()))
        {
            const int days =
                clampedInt(settings.value(maxAgeDaysKey()), static_cast<int>(defaults.maxAge.count() / 24), 1, 3650);
            limits.maxAge = std::chrono::hours(24 * days);
        }
        if (settings.contains(maxMegabytesKey()))
            limits.maxBytes = Megabyte * clampedInt(settings.value(maxMegabytesKey()),
                                                    static_cast<int>(defaults.maxBytes / Megabyte), 1, 100000);
        limits.maxSessionsPerWorkflow =
            clampedInt(settings.value(maxSessionsPerWorkflowKey()), defaults.maxSessionsPerWorkflow, 1, 1000000);
        limits.maxRowsPerWorkflow =
            clampedInt(settings.value(maxRowsPerWorkflowKey()), defaults.maxRowsPerWorkflow, 1, 10000000);
        return limits;
    }

    int PreferencesDialog::inspectorMaxFrames(const QSettings &settings)
    {
        return frameCapacity(settings);
    }

    PreferencesDialog::PreferencesDialog(QSettings *settings, const HistoryLimits &defaults, QWidget *parent)
        : QDialog(parent)
        , m_settings(settings)
        , m_defaults(defaults)
        , m_maxAgeDays(spinBox("maxAgeDays", 1, 3650, tr(" days"), this))
        , m_maxMegabytes(spinBox("maxMegabytes", 1, 100000, tr(" MB"), this))
        , m_maxSessions(spinBox("maxSessionsPerWorkflow", 1, 1000000, QString(), this))
        , m_maxRows(spinBox("maxRowsPerWorkflow", 1, 10000000, QString(), this))
        , m_maxFrames(spinBox("inspectorMaxFrames", MinFrameCapacity, MaxFrameCapacity, QString(), this))
    {
        setObjectName(QStringLiteral("preferencesDialog"));
        setWindowTitle(tr("Preferences"));

        const HistoryLimits limits = limitsFrom(*settings, defaults);
        m_maxAgeDays->setValue(static_cast<int>(limits.maxAge.count() / 24));
        m_maxMegabytes->setValue(static_cast<int>(limits.maxBytes / Megabyte));
        m_maxSessions->setValue(limits.maxSessionsPerWorkflow);
        m_maxRows->setValue(limits.maxRowsPerWorkflow);
        m_maxFrames->setValue(inspectorMaxFrames(*settings));

        auto *keep = new QGroupBox(tr("History and recordings (kept on this computer)"), this);
        auto *form = new QFormLayout(keep);
        form->addRow(tr("Keep for:"), m_maxAgeDays);
        form->addRow(tr("Database size at most:"), m_maxMegabytes);
        form->addRow(tr("Recorded sessions per workflow:"), m_maxSessions);
        form->addRow(tr("History lines and lock events per workflow:"), m_maxRows);
        auto *note = new QLabel(tr("Over the size limit, the oldest recorded sessions (with their frames) go first, "
                                   "then the oldest races, then the oldest history lines. Defaults: %L1 days, %L2 MB, "
                                   "%L3 sessions, %L4 lines.")
                                    .arg(defaults.maxAge.count() / 24)
                                    .arg(defaults.maxBytes / Megabyte)
                                    .arg(defaults.maxSessionsPerWorkflow)
                                    .arg(defaults.maxRowsPerWorkflow),
                                keep);
        note->setWordWrap(true);
        note->setObjectName(QStringLiteral("limitsNote"));
        form->addRow(note);

        auto *inspector = new QGroupBox(tr("Frame inspector"), this);
        auto *inspectorForm = new QFormLayout(inspector);
        inspectorForm->addRow(tr("Frames kept per session:"), m_maxFrames);
        auto *inspectorNote =
            new QLabel(tr("The newest frames stay in memory; default %L1.").arg(DefaultInspectorMaxFrames), inspector);
        inspectorNote->setWordWrap(true);
        inspectorForm->addRow(inspectorNote);

        auto *buttons = new QDialogButtonBox(
            QDialogButtonBox::Ok | QDialogButtonBox::Cancel | QDialogButtonBox::RestoreDefaults, this);
        connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
        connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
        connect(buttons->button(QDialogButtonBox::RestoreDefaults), &QPushButton::clicked, this, [this] {
            m_maxAgeDays->setValue(static_cast<int>(m_defaults.maxAge.count() / 24));
            m_maxMegabytes->setValue(static_cast<int>(m_defaults.maxBytes / Megabyte));
            m_maxSessions->setValue(m_defaults.maxSessionsPerWorkflow);
            m_maxRows->setValue(m_defaults.maxRowsPerWorkflow);
            m_maxFrames->setValue(DefaultInspectorMaxFrames);
        });

        setMinimumWidth(fontMetrics().averageCharWidth() * 70);
        auto *layout = new QVBoxLayout(this);
        layout->addWidget(keep);
        layout->addWidget(inspector);
        layout->addStretch(1);
        layout->addWidget(buttons);
    }

    HistoryLimits PreferencesDialog::limits() const
    {
        HistoryLimits limits = m_defaults;
        limits.maxAge = std::chrono::hours(24 * m_maxAgeDays->value());
        limits.maxBytes = Megabyte * m_maxMegabytes->value();
        limits.maxSessionsPerWorkflow = m_maxSessions->value();
        limits.maxRowsPerWorkflow = m_maxRows->value();
        return limits;
    }

    int PreferencesDialog::maxFrames() const
    {
        return m_maxFrames->value();
    }

    void PreferencesDialog::accept()
    {
        // A default is not written down: a later console's better default applies.
        const auto store = [this](const QString &key, const int value, const qint64 fallback) {
            if (value == fallback)
                m_settings->remove(key);
            else
                m_settings->setValue(key, value);
        };
        store(maxAgeDaysKey(), m_maxAgeDays->value(), m_defaults.maxAge.count() / 24);
        store(maxMegabytesKey(), m_maxMegabytes->value(), m_defaults.maxBytes / Megabyte);
        store(maxSessionsPerWorkflowKey(), m_maxSessions->value(), m_defaults.maxSessionsPerWorkflow);
        store(maxRowsPerWorkflowKey(), m_maxRows->value(), m_defaults.maxRowsPerWorkflow);
        store(inspectorMaxFramesKey(), m_maxFrames->value(), DefaultInspectorMaxFrames);
        m_settings->sync();
        emit applied(limits(), maxFrames());
        QDialog::accept();
    }
}  // namespace Lockstep::Ui
