#include "chatlogdelegate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QAbstractItemView>
#include <QAbstractTextDocumentLayout>
#include <QApplication>
#include <QFontDatabase>
#include <QJsonDocument>
#include <QLocale>
#include <QPainter>
#include <QTextBlock>
#include <QTextCursor>
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

        QFont boldFont(const QFont &base)
        {
            QFont font = base;
            font.setBold(true);
            return font;
        }

        // Markdown joins lines; plain messages keep every line break (hard
        // breaks), except inside fenced code, which keeps them anyway.
        QString keepLineBreaks(const QString &text)
        {
            QStringList lines = text.split(u'\n');
            bool inFence = false;
            for (qsizetype i = 0; i + 1 < lines.size(); ++i)
            {
                const QString trimmed = lines.at(i).trimmed();
                if (trimmed.startsWith(QStringLiteral("```")) || trimmed.startsWith(QStringLiteral("~~~")))
                    inFence = !inFence;
                else if (!inFence && !trimmed.isEmpty() && !lines.at(i + 1).trimmed().isEmpty())
                    lines[i] += u'\\';  // a backslash at the end of a line is a hard break
            }
            return lines.join(u'\n');
        }

        // A fenced block that `text` cannot close early: the fence is longer
        // than any run of backticks in it.
        QString fenced(const QString &text, const QString &language = {})
        {
            int longest = 0;
            int run = 0;
            for (const QChar c : text)
            {
                run = (c == u'`') ? run + 1 : 0;
                longest = std::max(longest, run);
            }
            const QString fence(std::max(3, longest + 1), u'`');
            QString body = text;
            if (body.endsWith(u'\n'))
                body.chop(1);
            return fence + language + u'\n' + body + u'\n' + fence + u'\n';
        }

        QString argumentsText(const ChatLogEntry &entry)
        {
            if (!entry.toolInfo || entry.toolInfo->args.isEmpty())
                return {};
            return QString::fromUtf8(QJsonDocument(entry.toolInfo->args).toJson(QJsonDocument::Indented)).trimmed();
        }

        // The Markdown an entry is rendered from.
        QString markdownSource(const ChatLogEntry &entry, const bool expanded)
        {
            switch (entry.messageType)
            {
            case MessageType::Agent: return entry.content;
            case MessageType::User:
            case MessageType::Request: return keepLineBreaks(entry.content);
            case MessageType::WorkflowEnd:
                return keepLineBreaks(entry.content.isEmpty()
                                          ? QCoreApplication::translate("ChatLogDelegate", "The workflow ended.")
                                          : entry.content);
            case MessageType::Tool:
            {
                const QString summary = entry.content.isEmpty()
                                            ? QCoreApplication::translate("ChatLogDelegate", "tool call")
                                            : entry.content;
                if (!expanded)
                    return QStringLiteral("▸ ") + summary.section(u'\n', 0, 0);
                QString source = QStringLiteral("▾ ") + keepLineBreaks(summary) + QStringLiteral("\n\n**") +
                                 QCoreApplication::translate("ChatLogDelegate", "Arguments") + QStringLiteral("**\n\n");
                const QString args = argumentsText(entry);
                source += args.isEmpty() ? QCoreApplication::translate("ChatLogDelegate", "(none)") + u'\n'
                                         : fenced(args, QStringLiteral("json"));
                source += QStringLiteral("\n**") + QCoreApplication::translate("ChatLogDelegate", "Response") +
                          QStringLiteral("**\n\n");
                if (entry.toolInfo && entry.toolInfo->toolResponse && !entry.toolInfo->toolResponse->isEmpty())
                    source += fenced(*entry.toolInfo->toolResponse);
                else if (entry.toolInfo && entry.toolInfo->toolResponse)
                    source += QCoreApplication::translate("ChatLogDelegate", "(empty)");
                else if (entry.status == MessageStatus::Pending)
                    source += QCoreApplication::translate("ChatLogDelegate", "(waiting for the tool)");
                else
                    source += QCoreApplication::translate("ChatLogDelegate", "(none)");
                return source;
            }
            }
            return entry.content;
        }

        bool isCodeBlock(const QTextBlock &block)
        {
            const QTextBlockFormat format = block.blockFormat();
            return format.hasProperty(QTextFormat::BlockCodeFence) ||
                   format.hasProperty(QTextFormat::BlockCodeLanguage);
        }

        // Code reads as code: a faint ground under fenced blocks and inline code.
        void styleCode(QTextDocument &document, const QPalette &palette)
        {
            // A tint of the text colour, not a solid one: it reads on the
            // plain ground and under the selection's highlight alike.
            QColor ground = palette.color(QPalette::Text);
            ground.setAlphaF(0.09f);
            QTextCursor cursor(&document);
            for (QTextBlock block = document.begin(); block.isValid(); block = block.next())
            {
                if (isCodeBlock(block))
                {
                    QTextBlockFormat format;
                    format.setBackground(ground);
                    cursor.setPosition(block.position());
                    cursor.mergeBlockFormat(format);
                    continue;
                }
                for (auto it = block.begin(); !it.atEnd(); ++it)
                {
                    const QTextFragment fragment = it.fragment();
                    if (!fragment.isValid() || !fragment.charFormat().fontFixedPitch())
                        continue;
                    QTextCharFormat format;
                    format.setBackground(ground);
                    cursor.setPosition(fragment.position());
                    cursor.setPosition(fragment.position() + fragment.length(), QTextCursor::KeepAnchor);
                    cursor.mergeCharFormat(format);
                }
            }
        }

        Theme::Tone accentTone(const ChatLogEntry &entry)
        {
            if (entry.messageType == MessageType::User && entry.messageSubType == u"approval")
                return Theme::Tone::Good;
            if (entry.messageType == MessageType::User && entry.messageSubType == u"rejection")
                return Theme::Tone::Warning;
            // A request waits for the user whatever its status says.
            if (entry.messageType == MessageType::Request)
                return Theme::Tone::Warning;
            if (entry.status)
                return Theme::messageStatusTone(*entry.status);
            switch (entry.messageType)
            {
            case MessageType::User: return Theme::Tone::Info;
            case MessageType::Request: return Theme::Tone::Warning;
            case MessageType::Agent:
            case MessageType::Tool:
            case MessageType::WorkflowEnd: break;
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

    }  // namespace

    ChatLogDelegate::ChatLogDelegate(const ChatLogModel *model, QAbstractItemView *view)
        : QStyledItemDelegate(view)
        , m_model(model)
        , m_view(view)
        , m_documents(400)
    {}

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
        const bool withBar = barHeight(row) > 0;
        if ((cached.width != width) || (cached.revision != revision) || (cached.withBar != withBar))
        {
            cached.width = width;
            cached.revision = revision;
            cached.withBar = withBar;
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
        const int bar = barHeight(row);
        return m.pad + m.header + ((bodyHeight > 0) ? (m.gap + bodyHeight) : 0) + ((bar > 0) ? (m.gap + bar) : 0) +
               m.pad;
    }

    QString ChatLogDelegate::renderedText(const QStyleOptionViewItem &option, const int row) const
    {
        return document(option, row, layoutWidth())->toPlainText();
    }

    int ChatLogDelegate::barHeight(const int row) const
    {
        if (m_answerBarId.isEmpty() || (m_answerBarHeight <= 0))
            return 0;
        return (m_model->entry(row).messageId == m_answerBarId) ? m_answerBarHeight : 0;
    }

    void ChatLogDelegate::setAnswerBar(const QString &messageId, const int height)
    {
        m_answerBarId = messageId;
        m_answerBarHeight = height;
    }

    void ChatLogDelegate::setCutTallRows(const bool cut)
    {
        if (m_cutTallRows == cut)
            return;
        m_cutTallRows = cut;
        resetCache();
    }

    bool ChatLogDelegate::cutsTallRows() const
    {
        return m_cutTallRows;
    }

    void ChatLogDelegate::updateEditorGeometry(QWidget *editor, const QStyleOptionViewItem &option,
                                               const QModelIndex &) const
    {
        // The Approve / Reject bar sits at the bottom of its request entry, under the text.
        const Metrics m = metricsFor(option.font);
        const int left = option.rect.left() + m.pad + m.accent + m.pad;
        const int height = editor->sizeHint().height();
        editor->setGeometry(left, option.rect.bottom() - m.pad - height + 1,
                            std::min(editor->sizeHint().width(), option.rect.right() - left - m.pad), height);
    }

    QTextDocument *ChatLogDelegate::document(const QStyleOptionViewItem &option, const int row, const int width) const
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
            QString source = markdownSource(entry, m_model->isExpanded(row));
            if (source.size() > MaxRenderedChars)
                source = source.left(MaxRenderedChars) + QStringLiteral("\n\n…");
            doc->document.setMarkdown(source);
            styleCode(doc->document, option.palette);
            m_documents.insert(entry.messageId, doc);
        }
        if (doc->document.defaultFont() != option.font)
            doc->document.setDefaultFont(option.font);
        if (!qFuzzyCompare(doc->document.textWidth(), static_cast<qreal>(width)))
            doc->document.setTextWidth(width);
        return &doc->document;
    }

    int ChatLogDelegate::body(QPainter *painter, const QStyleOptionViewItem &option, const int row,
                              const QRect &rect) const
    {
        const ChatLogEntry &entry = m_model->entry(row);
        const bool selected = option.state.testFlag(QStyle::State_Selected);
        const QPalette &palette = option.palette;
        const QColor note =
            selected ? palette.color(QPalette::HighlightedText) : palette.color(QPalette::PlaceholderText);
        QColor text = palette.color(selected ? QPalette::HighlightedText : QPalette::Text);
        if ((entry.messageType == MessageType::WorkflowEnd) && !selected)
            text = note;
        const Metrics m = metricsFor(option.font);
        if ((rect.width() <= 0) || ((entry.messageType == MessageType::Agent) && entry.content.isEmpty()))
            return 0;

        const bool folded = (entry.messageType == MessageType::Tool) && !m_model->isExpanded(row);
        QTextDocument *doc = document(option, row, rect.width());
        const int full = static_cast<int>(std::ceil(doc->size().height()));
        // A folded tool call is one line; a cut row stops at MaxBlockLines.
        const int firstLine =
            static_cast<int>(std::ceil(doc->documentLayout()->blockBoundingRect(doc->begin()).height()));
        const int cap = folded ? std::max(m.line, firstLine)
                               : (m_cutTallRows ? (MaxBlockLines * m.line) : std::numeric_limits<int>::max());
        const int shown = std::min(full, cap);
        if (painter)
        {
            painter->save();
            painter->translate(rect.topLeft());
            // Only what is on screen is drawn: a 100 KB entry costs the lines in view.
            QRect clip(0, 0, rect.width(), shown);
            if (m_view)
                clip &= m_view->viewport()->rect().translated(-rect.topLeft());
            painter->setClipRect(clip);
            QAbstractTextDocumentLayout::PaintContext context;
            context.palette = palette;
            context.palette.setColor(QPalette::Text, text);
            context.clip = clip;
            doc->documentLayout()->draw(painter, context);
            painter->restore();
        }
        if ((full <= cap) || folded)
            return shown;
        if (painter)
        {
            painter->setPen(note);
            painter->setFont(option.font);
            painter->drawText(QRect(rect.left(), rect.top() + shown, rect.width(), m.line),
                              Qt::AlignLeft | Qt::AlignVCenter,
                              QCoreApplication::translate("ChatLogDelegate", "… more (Enter shows all)"));
        }
        return shown + m.line;
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

        const QRect accent(option.rect.left() + m.pad, option.rect.top() + m.pad, m.accent,
                           option.rect.height() - (2 * m.pad));
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
                                 ? QLocale().toString(entry.timestamp.toLocalTime().time(), QStringLiteral("HH:mm:ss"))
                                 : QString();
        const int timeWidth = time.isEmpty() ? 0 : fm.horizontalAdvance(time) + m.pad;
        const QString sender = ChatLogModel::senderLabel(entry);
        int x = header.left();
        painter->setFont(bold);
        painter->setPen(text);
        const QString senderShown =
            boldMetrics.elidedText(sender, Qt::ElideRight, std::max(0, header.width() - timeWidth));
        painter->drawText(QRect(x, header.top(), header.width() - timeWidth, m.header),
                          Qt::AlignLeft | Qt::AlignVCenter, senderShown);
        x += boldMetrics.horizontalAdvance(senderShown) + m.pad;
        // A decision or a request has nothing pending or failed to say.
        const bool showStatus =
            entry.status && !ChatLogModel::isDecision(entry) && (entry.messageType != MessageType::Request);
        if (showStatus)
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
                painter->drawText(QRect(x, header.top(), wordWidth + 1, m.header), Qt::AlignLeft | Qt::AlignVCenter,
                                  word);
            }
        }
        if (!time.isEmpty())
        {
            painter->setFont(option.font);
            painter->setPen(note);
            painter->drawText(header, Qt::AlignRight | Qt::AlignVCenter, time);
        }

        painter->setFont(option.font);
        const int bar = barHeight(row);
        const QRect bodyRect(inner.left(), header.bottom() + 1 + m.gap, inner.width(),
                             inner.bottom() - header.bottom() - m.gap - ((bar > 0) ? (bar + m.gap) : 0));
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
}  // namespace Lockstep::Ui
