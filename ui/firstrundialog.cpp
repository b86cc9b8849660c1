#include "firstrundialog.h"

#include <QButtonGroup>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>

#include "connectioncheckview.h"
#include "gatewayapi.h"
#include "profiledialog.h"
#include "profiles.h"
#include "theme.h"

namespace Lockstep::Ui
{
    FirstRunDialog::FirstRunDialog(ProfileManager *manager, const bool localGatewayInstalled, QWidget *parent)
        : QDialog(parent)
        , m_manager(manager)
        , m_embedded(new QRadioButton(tr("Run a &local gateway on this computer"), this))
        , m_remote(new QRadioButton(tr("&Connect to a gateway"), this))
        , m_remoteForm(new QWidget(this))
        , m_url(new QLineEdit(m_remoteForm))
        , m_name(new QLineEdit(m_remoteForm))
        , m_token(new QLineEdit(m_remoteForm))
        , m_storage(new TokenStorageChoice(m_remoteForm))
        , m_check(new ConnectionCheckView(m_remoteForm))
        , m_status(new QLabel(this))
        , m_buttons(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
    {
        setObjectName(QStringLiteral("firstRunDialog"));
        setWindowTitle(tr("Welcome to Lockstep"));
        m_embedded->setObjectName(QStringLiteral("firstRunEmbedded"));
        m_remote->setObjectName(QStringLiteral("firstRunRemote"));
        m_url->setObjectName(QStringLiteral("firstRunUrl"));
        m_url->setPlaceholderText(QStringLiteral("wss://gateway.example.org:8443"));
        m_name->setObjectName(QStringLiteral("firstRunName"));
        m_token->setObjectName(QStringLiteral("firstRunToken"));
        m_token->setEchoMode(QLineEdit::Password);
        m_token->setPlaceholderText(tr("the gateway's bearer token"));
        m_status->setObjectName(QStringLiteral("firstRunStatus"));
        m_status->setWordWrap(true);
        m_status->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
        m_status->hide();

        auto *intro = new QLabel(
            tr("Lockstep shows the workflows of a gateway. Run one here, or connect to one that runs elsewhere."),
            this);
        intro->setWordWrap(true);
        auto *embeddedNote = new QLabel(
            localGatewayInstalled
                ? tr("SQLite in the app's data folder, in-process lock; started and stopped with the console, every "
                     "time it starts without a profile. Change it later under Gateway ▸ Start a local gateway at "
                     "launch.")
                : tr("Not available: lockstep-gateway is not installed. Install the lockstep-gateway package "
                     "(or set LOCKSTEP_GATEWAY_BIN) to run one here."),
            this);
        embeddedNote->setObjectName(QStringLiteral("firstRunEmbeddedNote"));
        embeddedNote->setWordWrap(true);
        embeddedNote->setContentsMargins(fontMetrics().averageCharWidth() * 4, 0, 0, 0);
        embeddedNote->setForegroundRole(QPalette::PlaceholderText);

        auto *choice = new QButtonGroup(this);
        choice->addButton(m_embedded);
        choice->addButton(m_remote);
        m_embedded->setEnabled(localGatewayInstalled);
        (localGatewayInstalled ? m_embedded : m_remote)->setChecked(true);

        auto *form = new QFormLayout(m_remoteForm);
        form->setContentsMargins(fontMetrics().averageCharWidth() * 4, 0, 0, 0);
        form->addRow(tr("&URL:"), m_url);
        form->addRow(tr("&Token:"), m_token);
        form->addRow(tr("Keep the token:"), m_storage);
        form->addRow(tr("Profile &name:"), m_name);
        form->addRow(m_check);

        auto *layout = new QVBoxLayout(this);
        layout->addWidget(intro);
        layout->addWidget(m_embedded);
        layout->addWidget(embeddedNote);
        layout->addWidget(m_remote);
        layout->addWidget(m_remoteForm);
        layout->addWidget(m_status);
        layout->addStretch(1);
        layout->addWidget(m_buttons);

        connect(m_buttons, &QDialogButtonBox::accepted, this, &FirstRunDialog::accept);
        connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
        connect(m_embedded, &QRadioButton::toggled, this, &FirstRunDialog::updateMode);
        connect(m_check, &ConnectionCheckView::testRequested, this, &FirstRunDialog::testConnection);
        // The name follows the URL's host until the user types one.
        connect(m_url, &QLineEdit::textChanged, this, [this] { m_name->setPlaceholderText(profileName()); });
        // The order the form reads in (the name last: it has a default).
        setTabOrder(m_remote, m_url);
        setTabOrder(m_url, m_token);
        setTabOrder(m_token, m_storage->keychainOption());
        setTabOrder(m_storage->keychainOption(), m_name);
        setTabOrder(m_name, m_check->button());
        updateMode();
        resize(fontMetrics().averageCharWidth() * 95, sizeHint().height());
    }

    QRadioButton *FirstRunDialog::embeddedOption() const
    {
        return m_embedded;
    }
    QRadioButton *FirstRunDialog::remoteOption() const
    {
        return m_remote;
    }
    QLineEdit *FirstRunDialog::urlEdit() const
    {
        return m_url;
    }
    QLineEdit *FirstRunDialog::nameEdit() const
    {
        return m_name;
    }
    QLineEdit *FirstRunDialog::tokenEdit() const
    {
        return m_token;
    }
    TokenStorageChoice *FirstRunDialog::tokenStorage() const
    {
        return m_storage;
    }
    ConnectionCheckView *FirstRunDialog::connectionCheck() const
    {
        return m_check;
    }
    QString FirstRunDialog::statusText() const
    {
        return m_status->text();
    }

    QString FirstRunDialog::profileName() const
    {
        if (!m_name->text().trimmed().isEmpty())
            return m_name->text().trimmed();
        const auto endpoint = GatewayEndpoint::fromUrl(m_url->text());
        return endpoint ? endpoint->httpBase.host() : QString();
    }

    void FirstRunDialog::updateMode()
    {
        const bool embedded = m_embedded->isChecked();
        m_remoteForm->setEnabled(!embedded);
        m_buttons->button(QDialogButtonBox::Ok)
            ->setText(embedded ? tr("&Start the local gateway") : tr("&Save and connect"));
    }

    void FirstRunDialog::setStatus(const QString &text)
    {
        m_status->setText(text);
        QPalette palette = m_status->palette();
        palette.setColor(QPalette::WindowText, Theme::toneColor(Theme::Tone::Warning, this->palette()));
        m_status->setPalette(palette);
        m_status->setVisible(!text.isEmpty());
    }

    void FirstRunDialog::testConnection()
    {
        auto endpoint = GatewayEndpoint::fromUrl(m_url->text());
        if (!endpoint)
        {
            m_check->showProblem(tr("The URL is not usable: %1.").arg(endpoint.error()));
            m_url->setFocus();
            return;
        }
        endpoint->token = m_token->text();
        m_check->run(*endpoint);
    }

    void FirstRunDialog::accept()
    {
        if (m_embedded->isChecked())
        {
            emit embeddedChosen();
            QDialog::accept();
            return;
        }
        if (m_saving)
            return;
        const QString url = m_url->text().trimmed();
        if (auto endpoint = GatewayEndpoint::fromUrl(url); !endpoint)
        {
            setStatus(tr("The URL is not usable: %1.").arg(endpoint.error()));
            m_url->setFocus();
            return;
        }
        const QString name = profileName();
        m_saving = true;
        m_buttons->setEnabled(false);
        setStatus({});
        GatewayProfile profile{.name = name, .url = url, .tokenStorage = m_storage->storage()};
        m_manager->saveProfile(profile, m_token->text(), [self = QPointer(this), name](const SaveResult &result) {
            if (!self)
                return;  // closed meanwhile (Esc): the profile is saved, nothing connects
            FirstRunDialog *const that = self.data();
            that->m_saving = false;
            that->m_buttons->setEnabled(true);
            emit that->profileSaved(name, result);
            that->QDialog::accept();
        });
    }
}  // namespace Lockstep::Ui
