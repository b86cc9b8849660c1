#include "historyview.h"

#include <QCheckBox>
#include <QDir>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QVBoxLayout>

namespace Lockstep::Ui
{

    HistoryView::HistoryView(HistoryStore *store, const QString &workflowId, QWidget *parent)
        : QWidget(parent)
        , m_store(store)
        , m_workflowId(workflowId)
        , m_note(new QLabel(this))
        , m_showLock(new QCheckBox(tr("Show lock &events"), this))
        , m_list(new QListWidget(this))
    {
        setObjectName(QStringLiteral("historyView"));
        setAccessibleName(tr("History"));
        m_note->setObjectName(QStringLiteral("historyNote"));
        m_note->setAccessibleName(tr("Where the history is kept"));
        m_note->setWordWrap(true);
        m_note->setTextInteractionFlags(Qt::TextSelectableByMouse);
        m_note->setForegroundRole(QPalette::PlaceholderText);
        m_showLock->setObjectName(QStringLiteral("historyShowLockEvents"));
        m_showLock->setChecked(true);
        m_list->setObjectName(QStringLiteral("historyList"));
        m_list->setAccessibleName(tr("Outcomes and lock events, newest first"));
        m_list->setWordWrap(true);
        m_list->setUniformItemSizes(false);
        m_list->setSelectionMode(QAbstractItemView::ExtendedSelection);

        auto *layout = new QVBoxLayout(this);
        layout->setContentsMargins(0, 0, 0, 0);
        layout->addWidget(m_showLock);
        layout->addWidget(m_list, 1);
        layout->addWidget(m_note);

        if (m_store)
        {
            if (m_store->isPersistent())
            {
                const HistoryStore::Limits &limits = m_store->limits();
                m_note->setText(tr("Kept on this computer (%1) for %2 days, at most %3 lines per workflow.")
                                    .arg(QDir::toNativeSeparators(m_store->databasePath()))
                                    .arg(limits.maxAge.count() / 24)
                                    .arg(QLocale().toString(limits.maxRowsPerWorkflow)));
            }
            else
                m_note->setText(tr("Not kept after the console closes: %1").arg(m_store->error()));
            connect(m_store, &HistoryStore::added, this, [this](const HistoryEntry &entry) {
                if (entry.workflowId == m_workflowId)
                    prepend(entry);
            });
        }
        connect(m_showLock, &QCheckBox::toggled, this, [this] { reload(); });
        reload();
    }

    QString HistoryView::lineText(const HistoryEntry &entry)
    {
        const QDateTime local = entry.at.toLocalTime();
        const QLocale locale;
        // Today: the time; older (a restored history): the date too.
        const QString when = (local.date() == QDate::currentDate())
                                 ? locale.toString(local.time(), QStringLiteral("HH:mm:ss"))
                                 : locale.toString(local, QStringLiteral("yyyy-MM-dd HH:mm:ss"));
        const QString text = (entry.kind == HistoryEntry::Kind::Lock) ? tr("Lock: %1").arg(entry.text) : entry.text;
        return QStringLiteral("%1  %2").arg(when, text);
    }

    void HistoryView::reload()
    {
        m_list->clear();
        if (!m_store)
            return;
        // Oldest first through prepend: the newest ends on top.
        const QList<HistoryEntry> entries = m_store->entries(m_workflowId);
        for (auto it = entries.crbegin(); it != entries.crend(); ++it)
            prepend(*it);
    }

    void HistoryView::prepend(const HistoryEntry &entry)
    {
        if ((entry.kind == HistoryEntry::Kind::Lock) && !m_showLock->isChecked())
            return;
        auto *item = new QListWidgetItem(lineText(entry));
        item->setData(ToneRole, static_cast<int>(entry.tone));
        item->setData(KindRole, static_cast<int>(entry.kind));
        item->setToolTip(entry.at.toLocalTime().toString(Qt::ISODate));
        if (entry.tone != Theme::Tone::Neutral)
            item->setForeground(Theme::toneColor(entry.tone, palette()));
        m_list->insertItem(0, item);
        while (m_list->count() > HistoryStore::DefaultReadLimit)
            delete m_list->takeItem(m_list->count() - 1);
    }

    void HistoryView::recolor()
    {
        for (int row = 0; row < m_list->count(); ++row)
        {
            QListWidgetItem *item = m_list->item(row);
            const auto tone = static_cast<Theme::Tone>(item->data(ToneRole).toInt());
            if (tone != Theme::Tone::Neutral)
                item->setForeground(Theme::toneColor(tone, palette()));
        }
    }

    void HistoryView::changeEvent(QEvent *event)
    {
        QWidget::changeEvent(event);
        // Tone shades differ between light and dark: a theme switch re-picks them.
        // Our own palette, not the list's: the list may not have heard of the switch yet.
        if (event->type() == QEvent::PaletteChange)
            recolor();
    }

    QStringList HistoryView::texts() const
    {
        QStringList result;
        for (int row = 0; row < m_list->count(); ++row)
            result.append(m_list->item(row)->text());
        return result;
    }

    QString HistoryView::noteText() const
    {
        return m_note->text();
    }

    void HistoryView::setShowLockEvents(const bool show)
    {
        m_showLock->setChecked(show);
    }
}  // namespace Lockstep::Ui
