#include "connectioncheckview.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace Lockstep::Ui
{
    namespace
    {
        QString coloured(const QString &text, const QColor &colour)
        {
            return QStringLiteral("<span style=\"color:%1\">%2</span>").arg(colour.name(), text.toHtmlEscaped());
        }
    }  // namespace

    ConnectionCheckView::ConnectionCheckView(QWidget *parent)
        : QWidget(parent)
        , m_check(new ConnectionCheck(this))
        , m_button(new QPushButton(tr("Test connect&ion"), this))
        , m_verdict(new QLabel(this))
        , m_details(new QLabel(this))
    {
        setObjectName(QStringLiteral("connectionCheckView"));
        m_button->setObjectName(QStringLiteral("testConnectionButton"));
        m_button->setAutoDefault(false);
        m_button->setToolTip(tr("Ask the gateway's /healthz, then try the token, without saving anything"));
        m_verdict->setObjectName(QStringLiteral("connectionVerdict"));
        m_verdict->setWordWrap(true);
        m_verdict->setTextFormat(Qt::PlainText);
        m_verdict->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
        QFont bold = m_verdict->font();
        bold.setBold(true);
        m_verdict->setFont(bold);
        m_details->setObjectName(QStringLiteral("connectionDetails"));
        // Short lines, one per step; a wrapping label here lost its last line to the layout's height.
        m_details->setWordWrap(false);
        m_details->setTextFormat(Qt::RichText);
        m_details->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
        m_verdict->hide();
        m_details->hide();

        auto *row = new QHBoxLayout;
        row->setContentsMargins(0, 0, 0, 0);
        row->addWidget(m_button);
        row->addStretch(1);
        auto *layout = new QVBoxLayout(this);
        layout->setContentsMargins(0, 0, 0, 0);
        layout->addLayout(row);
        layout->addWidget(m_verdict);
        layout->addWidget(m_details);

        connect(m_button, &QPushButton::clicked, this, [this] {
            if (m_check->isRunning())
                m_check->cancel();
            else
                emit testRequested();
        });
        connect(m_check, &ConnectionCheck::progressed, this, &ConnectionCheckView::showReport);
        connect(m_check, &ConnectionCheck::finished, this, &ConnectionCheckView::showReport);
    }

    void ConnectionCheckView::run(const GatewayEndpoint &endpoint)
    {
        m_check->start(endpoint);
    }

    void ConnectionCheckView::showProblem(const QString &text)
    {
        m_check->cancel();
        m_details->clear();
        m_details->hide();
        setVerdict(text, Theme::Tone::Bad);
    }

    void ConnectionCheckView::clear()
    {
        m_check->cancel();
        m_verdict->clear();
        m_verdict->hide();
        m_details->clear();
        m_details->hide();
        m_button->setText(tr("Test connect&ion"));
    }

    ConnectionCheck *ConnectionCheckView::checker() const
    {
        return m_check;
    }
    QPushButton *ConnectionCheckView::button() const
    {
        return m_button;
    }
    QString ConnectionCheckView::verdictText() const
    {
        return m_verdict->text();
    }
    QString ConnectionCheckView::detailsText() const
    {
        return m_details->text();
    }

    void ConnectionCheckView::hideEvent(QHideEvent *event)
    {
        // The dialog closed: nobody is waiting for the answer any more.
        m_check->cancel();
        QWidget::hideEvent(event);
    }

    void ConnectionCheckView::setVerdict(const QString &text, const Theme::Tone tone)
    {
        m_verdict->setText(text);
        QPalette palette = m_verdict->palette();
        palette.setColor(QPalette::WindowText, (tone == Theme::Tone::Neutral)
                                                   ? this->palette().color(QPalette::WindowText)
                                                   : Theme::toneColor(tone, this->palette()));
        m_verdict->setPalette(palette);
        m_verdict->show();
    }

    void ConnectionCheckView::showReport(const ConnectionReport &report)
    {
        const bool running = (report.verdict == ConnectionReport::Verdict::Running);
        m_button->setText(running ? tr("S&top test") : tr("Test connect&ion"));
        setVerdict(report.verdictText(), report.tone());

        const QColor bad = Theme::toneColor(Theme::Tone::Bad, palette());
        const QColor good = Theme::toneColor(Theme::Tone::Good, palette());
        QStringList lines;
        if (report.reachable)
            lines.append(tr("Reachable: %1").arg(coloured(tr("yes, /healthz answered at %1").arg(report.url), good)));
        else if (!running && (report.verdict != ConnectionReport::Verdict::Cancelled))
            lines.append(tr("Reachable: %1").arg(coloured(tr("no — %1").arg(report.failureDetail), bad)));
        else
            lines.append(tr("Reachable: %1").arg(tr("asking %1/healthz…").arg(report.url).toHtmlEscaped()));
        if (report.tokenAccepted.has_value())
        {
            const QString accepted = report.tokenEmpty ? tr("none given, none needed") : tr("accepted");
            lines.append(tr("Token: %1")
                             .arg(*report.tokenAccepted ? coloured(accepted, good)
                                                        : coloured(tr("refused — %1").arg(report.tokenDetail), bad)));
        }
        else if (report.reachable && running)
            lines.append(tr("Token: %1").arg(tr("trying it…")));
        else if (report.reachable && !report.tokenDetail.isEmpty())
            lines.append(tr("Token: %1").arg(coloured(tr("not checked — %1").arg(report.tokenDetail), bad)));
        if (report.reachable && !report.lockStore.isEmpty())
        {
            const auto value = [](const QString &text) {
                return text.isEmpty() ? tr("(not said)") : text.toHtmlEscaped();
            };
            lines.append(tr("Gateway version: %1").arg(value(report.version)));
            lines.append(tr("Replica: %1").arg(value(report.replica)));
            lines.append(tr("Lock store: %1")
                             .arg((report.lockStore == u"memory") ? tr("memory (in-process: one replica only)")
                                                                  : value(report.lockStore)));
            lines.append(tr("Store: %1").arg(value(report.store)));
            const auto switchText = [&](const QString &name, const bool on) {
                return on ? tr("%1 on").arg(name).toHtmlEscaped() : coloured(tr("%1 OFF").arg(name), bad);
            };
            lines.append(tr("Switches: %1")
                             .arg(QStringList{switchText(tr("lock"), report.switches.lockEnabled),
                                              switchText(tr("CAS guards"), report.switches.casGuards),
                                              switchText(tr("fencing"), report.switches.fencing)}
                                      .join(QStringLiteral(" · "))));
        }
        m_details->setText(lines.join(QStringLiteral("<br>")));
        m_details->show();
        growWindow();
    }

    void ConnectionCheckView::growWindow()
    {
        // A window's minimum height leaves out its wrapped labels' extra lines, so the
        // result could be squeezed: the window grows to show all of it.
        QWidget *top = window();
        if ((top == this) || !top->layout())
            return;
        top->layout()->activate();
        const int needed =
            top->hasHeightForWidth() ? top->heightForWidth(top->width()) : top->layout()->sizeHint().height();
        if (needed > top->height())
            top->resize(top->width(), needed);
    }
}  // namespace Lockstep::Ui
