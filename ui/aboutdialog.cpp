#include "aboutdialog.h"

#include <QApplication>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include "theme.h"

namespace Lockstep::Ui
{
    namespace
    {
        QLabel *valueLabel(const char *name, QWidget *parent)
        {
            auto *label = new QLabel(parent);
            label->setObjectName(QString::fromLatin1(name));
            label->setTextFormat(Qt::PlainText);
            label->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
            return label;
        }
    }  // namespace

    AboutDialog::AboutDialog(QWidget *parent)
        : QDialog(parent)
        , m_gateway(valueLabel("aboutGateway", this))
        , m_state(valueLabel("aboutGatewayState", this))
        , m_gatewayVersion(valueLabel("aboutGatewayVersion", this))
        , m_replica(valueLabel("aboutGatewayReplica", this))
        , m_lockStore(valueLabel("aboutGatewayLockStore", this))
        , m_store(valueLabel("aboutGatewayStore", this))
    {
        setObjectName(QStringLiteral("aboutDialog"));
        m_state->setWordWrap(true);  // "unreachable since …: <the network's reason>" can be long
        setWindowTitle(tr("About Lockstep"));

        auto *icon = new QLabel(this);
        icon->setObjectName(QStringLiteral("aboutIcon"));
        const int side = fontMetrics().height() * 4;
        icon->setPixmap(windowIcon().pixmap(QSize(side, side)));
        icon->setAlignment(Qt::AlignTop);

        auto *title = new QLabel(QStringLiteral("Lockstep"), this);
        QFont titleFont = title->font();
        titleFont.setBold(true);
        titleFont.setPointSizeF(titleFont.pointSizeF() * 1.5);
        title->setFont(titleFont);
        auto *blurb =
            new QLabel(tr("Watch agent workflows live, see who holds a run's lock, resume and cancel them."), this);
        blurb->setWordWrap(true);

        QLabel *version = valueLabel("aboutVersion", this);
        version->setText(QApplication::applicationVersion().isEmpty() ? QStringLiteral(LOCKSTEP_VERSION)
                                                                      : QApplication::applicationVersion());
        QLabel *qt = valueLabel("aboutQtVersion", this);
        qt->setText(qtVersionText());

        auto *form = new QFormLayout;
        form->addRow(tr("Version:"), version);
        form->addRow(tr("Qt:"), qt);
        form->addRow(tr("Gateway:"), m_gateway);
        form->addRow(tr("State:"), m_state);
        form->addRow(tr("Gateway version:"), m_gatewayVersion);
        form->addRow(tr("Replica:"), m_replica);
        form->addRow(tr("Lock store:"), m_lockStore);
        form->addRow(tr("Store:"), m_store);

        auto *text = new QVBoxLayout;
        text->addWidget(title);
        text->addWidget(blurb);
        text->addLayout(form);
        auto *columns = new QHBoxLayout;
        columns->addWidget(icon);
        columns->addLayout(text, 1);
        auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
        connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
        auto *layout = new QVBoxLayout(this);
        layout->addLayout(columns);
        layout->addWidget(buttons);

        setGateway({}, {});
        setMinimumWidth(fontMetrics().averageCharWidth() * 70);
    }

    QString AboutDialog::qtVersionText()
    {
        const QString runtime = QString::fromLatin1(qVersion());
        const QString built = QStringLiteral(QT_VERSION_STR);
        return (runtime == built) ? runtime : tr("%1 (built with %2)").arg(runtime, built);
    }

    void AboutDialog::setGateway(const QString &url, const QJsonObject &health, const QString &state,
                                 const bool stateIsProblem)
    {
        const bool connected = !url.isEmpty();
        m_gateway->setText(connected ? url : tr("not connected"));
        m_state->setText(connected ? state : QStringLiteral("—"));
        QPalette statePalette = palette();
        if (connected && stateIsProblem)
            statePalette.setColor(QPalette::WindowText, Theme::toneColor(Theme::Tone::Bad, palette()));
        m_state->setPalette(statePalette);
        const QString unknown = connected ? tr("waiting for its answer…") : QStringLiteral("—");
        // A gateway that stopped answering may be gone or another build by now:
        // its last answer must not read as the present.
        const bool stale = connected && stateIsProblem;
        const auto show = [&](QLabel *label, const char *key) {
            const QString value = health.value(QLatin1StringView(key)).toString();
            label->setText(value.isEmpty() ? unknown : stale ? tr("%1 (last answer)").arg(value) : value);
        };
        show(m_gatewayVersion, "version");
        show(m_replica, "replica");
        show(m_lockStore, "lockStore");
        show(m_store, "store");
        // The state may now take two lines: grow with it instead of hiding the second.
        if (isVisible())
            adjustSize();
    }
}  // namespace Lockstep::Ui
