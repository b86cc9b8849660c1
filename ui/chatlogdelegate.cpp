#include "chatlogdelegate.h"

#include <algorithm>
#include <cmath>

#include <QAbstractItemView>
#include <QAbstractTextDocumentLayout>
#include <QApplication>
#include <QFontDatabase>
#include <QJsonDocument>
#include <QLocale>
#include <QPainter>
#include <QTextLayout>

#include "chatlogmodel.h"
#include "theme.h"

namespace Lockstep::Ui
{
    using Protocol::ChatLogEntry;
    using Protocol::MessageStatus;
    using Protocol::MessageType;

    namespace
    {
        struct Metrics
        {
            int pad = 4;
            int gap = 2;
            int accent = 3;
            int icon = 16;
            int line = 16;
            int header = 16;
        };

        Metrics metricsFor(const QFont &font)
        {
            const QFontMetrics fm(font);
            Metrics m;
            m.line = fm.height();
            m.pad = std::max(4, m.line / 3);
            m.gap = std::max(2, m.line / 4);
            m.accent = std::max(3, m.line / 6);
            m.icon = std::max(12, fm.ascent());
            m.header = std::max(m.line, m.icon);
            return m;
        }

        QFont monoFont(const QFont &base)
        {
            QFont font = QFontDatabase::systemFont(QFontDatabase::FixedFont);
            if (base.pointSizeF() > 0)
                font.setPointSizeF(base.pointSizeF());
            else if (base.pixelSize() > 0)
                font.setPixelSize(base.pixelSize());
            return font;
        }

        QFont boldFont(const QFont &base)
        {
            QFont font = base;
            font.setBold(true);
            return font;
        }

        // Lays out `text` wrapped to rect.width(), at most `maxLines` lines;
        // draws it when `painter` is set. Returns the height used, including a
        // "more" note when the text was cut.
        int plainText(QPainter *painter, const QFont &font, const QString &text, const QRect &rect,
                      const int maxLines, const QColor &color, const QColor &noteColor)
        {
            if (text.isEmpty() || (rect.width() <= 0))
                return 0;
            // Bounded work for huge entries: never shape more than can be shown.
            const qsizetype limit = static_cast<qsizetype>(maxLines) * 400;
            const QString shown = (text.size() > limit) ? text.left(limit) : text;
            QTextLayout layout(shown, font);
            QTextOption textOption;
            textOption.setWrapMode(QTextOption::WrapAtWordBoundaryOrAnywhere);
            layout.setTextOption(textOption);
            layout.beginLayout();
            qreal y = 0;
            int lines = 0;
            int end = 0;
            while (lines < maxLines)
            {
                QTextLine line = layout.createLine();
                if (!line.isValid())
                    break;
                line.setLineWidth(rect.width());
                line.setPosition(QPointF(0, y));
                y += line.height();
                end = line.textStart() + line.textLength();
                ++lines;
            }
            layout.endLayout();
            const bool cut = (end < shown.size()) || (shown.size() < text.size());
            if (painter)
            {
                painter->setPen(color);
                layout.draw(painter, rect.topLeft());
            }
            int height = static_cast<int>(std::ceil(y));
            if (cut)
            {
                const QFontMetrics fm(font);
                if (painter)
                {
                    painter->setPen(noteColor);
                    painter->setFont(font);
                    painter->drawText(QRect(rect.left(), rect.top() + height, rect.width(), fm.height()),
                                      Qt::AlignLeft | Qt::AlignVCenter,
                                      QCoreApplication::translate("ChatLogDelegate", "… more (Enter shows all)"));
                }
                height += fm.height();
            }
            return height;
        }

        Theme::Tone accentTone(const ChatLogEntry &entry)
        {
            if (entry.status)
                return Theme::messageStatusTone(*entry.status);
            switch (entry.messageType)
            {
            case MessageType::User: return Theme::Tone::Info;
            case MessageType::Request: return Theme::Tone::Warning;
            case MessageType::Agent:
            case MessageType::Tool:
            case MessageType::WorkflowEnd:
                break;
            }
            return Theme::Tone::Neutral;
        }

        QString statusWord(const MessageStatus status)
        {
            switch (status)
            {
            case MessageStatus::Pending: return QCoreApplication::translate("ChatLogDelegate", "pending");
            case MessageStatus::Success: return QCoreApplication::translate("ChatLogDelegate", "success");
            case MessageStatus::Failure: return QCoreApplication::translate("ChatLogDelegate", "failed");
            }
            return {};
        }

        QString argumentsText(const ChatLogEntry &entry)
        {
            if (!entry.toolInfo || entry.toolInfo->args.isEmpty())
                return {};
            return QString::fromUtf8(QJsonDocument(entry.toolInfo->args).toJson(QJsonDocument::Indented)).trimmed();
        }
    } // namespace

    ChatLogDelegate::ChatLogDelegate(const ChatLogModel *model, QAbstractItemView *view)
        : QStyledItemDelegate(view)
        , m_model(model)
        , m_view(view)
        , m_documents(400)
    {
    }

    ChatLogDelegate::~ChatLogDelegate() = default;

    void ChatLogDelegate::resetCache()
    {
        m_sizes.clear();
        m_documents.clear();
    }

    int ChatLogDelegate::layoutWidth() const
    {
        return std::max(50, m_view->viewport()->width());
    }

    qint64 ChatLogDelegate::computedSizes() const
    {
        return m_computedSizes;
    }

    QSize ChatLogDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
    {
        const int row = index.row();
        if ((row < 0) || (row >= m_model->rowCount()))
            return {};
        const int width = layoutWidth();
        const quint32 revision = m_model->revision(row);
        if (static_cast<std::size_t>(row) >= m_sizes.size())
            m_sizes.resize(static_cast<std::size_t>(row) + 1);
        CachedSize &cached = m_sizes[static_cast<std::size_t>(row)];
        if ((cached.width != width) || (cached.revision != revision))
        {
            cached.width = width;
            cached.revision = revision;
            cached.height = computeHeight(option, row);
            ++m_computedSizes;
        }
        return {width, cached.height};
    }

    int ChatLogDelegate::computeHeight(const QStyleOptionViewItem &option, const int row) const
    {
        const Metrics m = metricsFor(option.font);
        const QRect inner(m.pad + m.accent + m.pad, 0, layoutWidth() - (3 * m.pad) - m.accent, 0);
        const int bodyHeight = body(nullptr, option, row, inner);
        return m.pad + m.header + ((bodyHeight > 0) ? (m.gap + bodyHeight) : 0) + m.pad;
    }

    QTextDocument *ChatLogDelegate::markdown(const QStyleOptionViewItem &option, const int row, const int width) const
    {
        const ChatLogEntry &entry = m_model->entry(row);
        const quint32 revision = m_model->revision(row);
        MarkdownDoc *doc = m_documents.object(entry.messageId);
        if (!doc || (doc->revision != revision))
        {
            doc = new MarkdownDoc;
            doc->revision = revision;
            doc->document.setDocumentMargin(0);
            doc->document.setUndoRedoEnabled(false);
            doc->document.setDefaultFont(option.font);
            doc->document.setMarkdown(entry.content);
            m_documents.insert(entry.messageId, doc);
        }
        if (doc->document.defaultFont() != option.font)
            doc->document.setDefaultFont(option.font);
        if (!qFuzzyCompare(doc->document.textWidth(), static_cast<qreal>(width)))
            doc->document.setTextWidth(width);
        return &doc->document;
    }

    int ChatLogDelegate::body(QPainter *painter, const QStyleOptionViewItem &option, const int row, const QRect &rect) const
    {
        const ChatLogEntry &entry = m_model->entry(row);
        const bool selected = option.state.testFlag(QStyle::State_Selected);
        const QPalette &palette = option.palette;
        const QColor text = palette.color(selected ? QPalette::HighlightedText : QPalette::Text);
        const QColor note = selected ? text : palette.color(QPalette::PlaceholderText);
        const Metrics m = metricsFor(option.font);

        switch (entry.messageType)
        {
        case MessageType::User:
        case MessageType::Request:
            return plainText(painter, option.font, entry.content, rect, MaxBlockLines, text, note);
        case MessageType::WorkflowEnd:
        {
            const QString words = entry.content.isEmpty()
                ? QCoreApplication::translate("ChatLogDelegate", "The workflow ended.") : entry.content;
            return plainText(painter, option.font, words, rect, MaxBlockLines, note, note);
        }
        case MessageType::Agent:
        {
            if (entry.content.isEmpty())
                return 0;
            QTextDocument *doc = markdown(option, row, rect.width());
            const int full = static_cast<int>(std::ceil(doc->size().height()));
            const int cap = MaxBlockLines * m.line;
            const int shown = std::min(full, cap);
            if (painter)
            {
                painter->save();
                painter->translate(rect.topLeft());
                const QRect clip(0, 0, rect.width(), shown);
                painter->setClipRect(clip);
                QAbstractTextDocumentLayout::PaintContext context;
                context.palette = palette;
                context.palette.setColor(QPalette::Text, text);
                context.clip = clip;
                doc->documentLayout()->draw(painter, context);
                painter->restore();
            }
            if (full <= cap)
                return shown;
            if (painter)
            {
                painter->setPen(note);
                painter->setFont(option.font);
                painter->drawText(QRect(rect.left(), rect.top() + shown, rect.width(), m.line), Qt::AlignLeft | Qt::AlignVCenter,
                                  QCoreApplication::translate("ChatLogDelegate", "… more (Enter shows all)"));
            }
            return shown + m.line;
        }
        case MessageType::Tool:
        {
            const bool expanded = m_model->isExpanded(row);
            const QString marker = expanded ? QStringLiteral("▾ ") : QStringLiteral("▸ ");
            const QString summaryLine = marker
                + (entry.content.isEmpty() ? QCoreApplication::translate("ChatLogDelegate", "tool call") : entry.content);
            int y = 0;
            // Folded: the summary on one line; the arguments and response stay hidden.
            if (!expanded)
            {
                if (painter)
                {
                    const QFontMetrics fm(option.font);
                    painter->setPen(text);
                    painter->setFont(option.font);
                    painter->drawText(QRect(rect.left(), rect.top(), rect.width(), m.line), Qt::AlignLeft | Qt::AlignVCenter,
                                      fm.elidedText(summaryLine.section(u'\n', 0, 0), Qt::ElideRight, rect.width()));
                }
                return m.line;
            }
            y += plainText(painter, option.font, summaryLine, rect.adjusted(0, y, 0, 0), 4, text, note);
            const QFont bold = boldFont(option.font);
            const QFont mono = monoFont(option.font);
            const int indent = m.line;
            const auto section = [&](const QString &title, const QString &content) {
                y += m.gap;
                if (painter)
                {
                    painter->setPen(note);
                    painter->setFont(bold);
                    painter->drawText(QRect(rect.left(), rect.top() + y, rect.width(), m.line), Qt::AlignLeft | Qt::AlignVCenter, title);
                }
                y += m.line;
                y += plainText(painter, mono, content, rect.adjusted(indent, y, 0, 0), MaxBlockLines, text, note);
            };
            const QString args = argumentsText(entry);
            section(QCoreApplication::translate("ChatLogDelegate", "Arguments"),
                    args.isEmpty() ? QCoreApplication::translate("ChatLogDelegate", "(none)") : args);
            QString response;
            if (entry.toolInfo && entry.toolInfo->toolResponse)
                response = *entry.toolInfo->toolResponse;
            else if (entry.status == MessageStatus::Pending)
                response = QCoreApplication::translate("ChatLogDelegate", "(waiting for the tool)");
            else
                response = QCoreApplication::translate("ChatLogDelegate", "(none)");
            section(QCoreApplication::translate("ChatLogDelegate", "Response"), response);
            return y;
        }
        }
        return 0;
    }

    void ChatLogDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
    {
        const int row = index.row();
        if ((row < 0) || (row >= m_model->rowCount()))
            return;
        const ChatLogEntry &entry = m_model->entry(row);
        QStyleOptionViewItem opt = option;
        initStyleOption(&opt, index);
        opt.text.clear();
        const QWidget *widget = option.widget;
        QStyle *style = widget ? widget->style() : QApplication::style();
        const QPalette &palette = option.palette;
        const bool selected = option.state.testFlag(QStyle::State_Selected);
        const Metrics m = metricsFor(option.font);

        painter->save();
        // Background: selection via the style; requests and user messages get a faint wash.
        if (!selected && (entry.messageType == MessageType::Request))
            painter->fillRect(option.rect, Theme::toneBackground(Theme::Tone::Warning, palette));
        else if (!selected && (entry.messageType == MessageType::User))
            painter->fillRect(option.rect, palette.color(QPalette::AlternateBase));
        style->drawPrimitive(QStyle::PE_PanelItemViewItem, &opt, painter, widget);

        const QRect accent(option.rect.left() + m.pad, option.rect.top() + m.pad, m.accent, option.rect.height() - (2 * m.pad));
        painter->fillRect(accent, Theme::toneColor(accentTone(entry), palette));

        const QRect inner(option.rect.left() + m.pad + m.accent + m.pad, option.rect.top() + m.pad,
                          option.rect.width() - (3 * m.pad) - m.accent, option.rect.height() - (2 * m.pad));
        const QColor text = palette.color(selected ? QPalette::HighlightedText : QPalette::Text);
        const QColor note = selected ? text : palette.color(QPalette::PlaceholderText);

        // Header: sender, status (icon and word), time on the right.
        const QFont bold = boldFont(option.font);
        const QFontMetrics boldMetrics(bold);
        const QFontMetrics fm(option.font);
        const QRect header(inner.left(), inner.top(), inner.width(), m.header);
        const QString time = entry.timestamp.isValid()
            ? QLocale().toString(entry.timestamp.toLocalTime().time(), QStringLiteral("HH:mm:ss")) : QString();
        const int timeWidth = time.isEmpty() ? 0 : fm.horizontalAdvance(time) + m.pad;
        const QString sender = ChatLogModel::senderLabel(entry);
        int x = header.left();
        painter->setFont(bold);
        painter->setPen(text);
        const QString senderShown = boldMetrics.elidedText(sender, Qt::ElideRight, std::max(0, header.width() - timeWidth));
        painter->drawText(QRect(x, header.top(), header.width() - timeWidth, m.header), Qt::AlignLeft | Qt::AlignVCenter, senderShown);
        x += boldMetrics.horizontalAdvance(senderShown) + m.pad;
        if (entry.status)
        {
            const QString word = statusWord(*entry.status);
            const int wordWidth = fm.horizontalAdvance(word);
            if ((x + m.icon + m.gap + wordWidth) < (header.right() - timeWidth))
            {
                const QIcon icon = Theme::messageStatusIcon(*entry.status, palette);
                icon.paint(painter, QRect(x, header.top() + ((m.header - m.icon) / 2), m.icon, m.icon));
                x += m.icon + m.gap;
                painter->setFont(option.font);
                painter->setPen(selected ? text : Theme::toneColor(Theme::messageStatusTone(*entry.status), palette));
                painter->drawText(QRect(x, header.top(), wordWidth + 1, m.header), Qt::AlignLeft | Qt::AlignVCenter, word);
            }
        }
        if (!time.isEmpty())
        {
            painter->setFont(option.font);
            painter->setPen(note);
            painter->drawText(header, Qt::AlignRight | Qt::AlignVCenter, time);
        }

        painter->setFont(option.font);
        const QRect bodyRect(inner.left(), header.bottom() + 1 + m.gap, inner.width(), inner.bottom() - header.bottom() - m.gap);
        painter->setClipRect(option.rect);
        body(painter, option, row, bodyRect);

        if (option.state.testFlag(QStyle::State_HasFocus))
        {
            QStyleOptionFocusRect focus;
            focus.initFrom(widget ? widget : m_view);
            focus.rect = option.rect.adjusted(1, 1, -1, -1);
            focus.state |= QStyle::State_KeyboardFocusChange;
            focus.backgroundColor = palette.color(selected ? QPalette::Highlight : QPalette::Base);
            style->drawPrimitive(QStyle::PE_FrameFocusRect, &focus, painter, widget);
        }
        painter->restore();
    }
} // namespace Lockstep::Ui
