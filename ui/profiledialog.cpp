#include "profiledialog.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>

#include "connectioncheckview.h"
#include "gatewayapi.h"
#include "profiles.h"
#include "theme.h"

namespace Lockstep::Ui
{
    TokenStorageChoice::TokenStorageChoice(QWidget *parent)
        : QWidget(parent)
        , m_keychain(new QRadioButton(tr("In the system &keychain (recommended)"), this))
        , m_session(new QRadioButton(tr("For this session &only (asked again next time)"), this))
        , m_plainText(new QRadioButton(
              tr("In &plain text in the settings file — not recommended: anyone who can read the file can use the token"),
              this))
    {
        setObjectName(QStringLiteral("tokenStorageChoice"));
        m_keychain->setObjectName(QStringLiteral("tokenInKeychain"));
        m_session->setObjectName(QStringLiteral("tokenForSession"));
        m_plainText->setObjectName(QStringLiteral("tokenInPlainText"));
        auto *group = new QButtonGroup(this);
        group->addButton(m_keychain);
        group->addButton(m_session);
        group->addButton(m_plainText);
        m_keychain->setChecked(true);
        auto *layout = new QVBoxLayout(this);
        layout->setContentsMargins(0, 0, 0, 0);
        layout->addWidget(m_keychain);
        layout->addWidget(m_session);
        layout->addWidget(m_plainText);
    }

    TokenStorage TokenStorageChoice::storage() const
    {
        if (m_plainText->isChecked())
            return TokenStorage::PlainText;
        return m_session->isChecked() ? TokenStorage::SessionOnly : TokenStorage::Keychain;
    }

    void TokenStorageChoice::setStorage(const TokenStorage storage)
    {
        switch (storage)
        {
        case TokenStorage::Keychain: m_keychain->setChecked(true); break;
        case TokenStorage::SessionOnly: m_session->setChecked(true); break;
        case TokenStorage::PlainText: m_plainText->setChecked(true); break;
        }
    }

    QRadioButton *TokenStorageChoice::keychainOption() const
    {
        return m_keychain;
    }
    QRadioButton *TokenStorageChoice::sessionOption() const
    {
        return m_session;
    }
    QRadioButton *TokenStorageChoice::plainTextOption() const
    {
        return m_plainText;
    }

    ProfileDialog::ProfileDialog(ProfileManager *manager, QWidget *parent)
        : QDialog(parent)
        , m_manager(manager)
        , m_list(new QListWidget(this))
        , m_name(new QLineEdit(this))
        , m_url(new QLineEdit(this))
        , m_caFile(new QLineEdit(this))
        , m_verify(new QCheckBox(tr("&Verify the gateway's TLS certificate"), this))
        , m_token(new QLineEdit(this))
        , m_storage(new TokenStorageChoice(this))
        , m_check(new ConnectionCheckView(this))
        , m_status(new QLabel(this))
        , m_saveButton(new QPushButton(tr("&Save"), this))
        , m_deleteButton(new QPushButton(tr("&Delete"), this))
        , m_connectButton(new QPushButton(tr("Save and co&nnect"), this))
    {
        setObjectName(QStringLiteral("profileDialog"));
        setWindowTitle(tr("Gateway profiles"));
        m_list->setObjectName(QStringLiteral("profileList"));
        m_list->setAccessibleName(tr("Profiles"));
        m_name->setObjectName(QStringLiteral("profileName"));
        m_url->setObjectName(QStringLiteral("profileUrl"));
        m_url->setPlaceholderText(QStringLiteral("ws://127.0.0.1:8080"));
        m_caFile->setObjectName(QStringLiteral("profileCaFile"));
        m_caFile->setPlaceholderText(tr("optional: a PEM file with an extra trusted CA"));
        m_verify->setObjectName(QStringLiteral("profileVerifyTls"));
        m_token->setObjectName(QStringLiteral("profileToken"));
        m_token->setEchoMode(QLineEdit::Password);
        m_token->setPlaceholderText(tr("leave empty to keep the stored token"));
        m_status->setObjectName(QStringLiteral("keychainStatusLabel"));
        m_status->setWordWrap(true);
        m_status->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);

        auto *browse = new QPushButton(tr("&Browse…"), this);
        auto *caRow = new QHBoxLayout;
        caRow->addWidget(m_caFile, 1);
        caRow->addWidget(browse);
        connect(browse, &QPushButton::clicked, this, [this] {
            const QString file = QFileDialog::getOpenFileName(this, tr("CA certificate"), {},
                                                              tr("PEM certificates (*.pem *.crt);;All files (*)"));
            if (!file.isEmpty())
                m_caFile->setText(file);
        });

        auto *form = new QFormLayout;
        form->addRow(tr("&Name:"), m_name);
        form->addRow(tr("&URL:"), m_url);
        form->addRow(tr("C&A file:"), caRow);
        form->addRow(QString(), m_verify);
        form->addRow(tr("&Token:"), m_token);
        form->addRow(tr("Keep the token:"), m_storage);
        form->addRow(m_check);
        form->addRow(m_status);

        auto *newButton = new QPushButton(tr("N&ew"), this);
        auto *buttons = new QHBoxLayout;
        buttons->addWidget(newButton);
        buttons->addWidget(m_deleteButton);
        buttons->addStretch(1);
        buttons->addWidget(m_saveButton);
        buttons->addWidget(m_connectButton);
        auto *close = new QDialogButtonBox(QDialogButtonBox::Close, this);
        buttons->addWidget(close);
        m_saveButton->setObjectName(QStringLiteral("saveProfileButton"));
        m_connectButton->setObjectName(QStringLiteral("connectProfileButton"));
        m_connectButton->setDefault(true);

        auto *columns = new QHBoxLayout;
        columns->addWidget(m_list, 1);
        columns->addLayout(form, 3);
        auto *layout = new QVBoxLayout(this);
        layout->addLayout(columns);
        layout->addLayout(buttons);

        connect(close, &QDialogButtonBox::rejected, this, &QDialog::reject);
        connect(newButton, &QPushButton::clicked, this, [this] {
            m_list->clearSelection();
            loadForm(GatewayProfile{});
            m_name->setFocus();
        });
        connect(m_list, &QListWidget::currentTextChanged, this, [this](const QString &name) {
            if (auto profile = m_manager->store().profile(name))
                loadForm(*profile);
        });
        connect(m_saveButton, &QPushButton::clicked, this, &ProfileDialog::save);
        connect(m_check, &ConnectionCheckView::testRequested, this, &ProfileDialog::testConnection);
        connect(m_connectButton, &QPushButton::clicked, this, [this] {
            const QString name = m_name->text().trimmed();
            connect(
                this, &ProfileDialog::saved, this,
                [this, name](const SaveResult &) {
                    emit connectRequested(name);
                    accept();
                },
                Qt::SingleShotConnection);
            save();
        });
        connect(m_deleteButton, &QPushButton::clicked, this, [this] {
            const QString name = m_name->text().trimmed();
            if (name.isEmpty())
                return;
            m_manager->removeProfile(name);
            reload();
            loadForm(GatewayProfile{});
            setStatus(tr("Deleted profile %1.").arg(name), false);
        });
        reload();
        if (m_list->count() > 0)
            m_list->setCurrentRow(0);
        else
            loadForm(GatewayProfile{.url = QStringLiteral("ws://127.0.0.1:8080")});
        resize(fontMetrics().averageCharWidth() * 110, sizeHint().height());
    }

    void ProfileDialog::reload()
    {
        const QSignalBlocker blocker(m_list);
        m_list->clear();
        for (const GatewayProfile &profile : m_manager->store().profiles())
            m_list->addItem(profile.name);
    }

    void ProfileDialog::loadForm(const GatewayProfile &profile)
    {
        m_name->setText(profile.name);
        m_url->setText(profile.url);
        m_caFile->setText(profile.caFile);
        m_verify->setChecked(profile.verifyTls);
        m_token->clear();
        m_storage->setStorage(profile.tokenStorage);
        m_check->clear();  // the result was for the profile shown before
        m_deleteButton->setEnabled(!profile.name.isEmpty());
    }

    void ProfileDialog::selectProfile(const QString &name)
    {
        const QList<QListWidgetItem *> items = m_list->findItems(name, Qt::MatchExactly);
        if (!items.isEmpty())
            m_list->setCurrentItem(items.constFirst());
    }

    QString ProfileDialog::statusText() const
    {
        return m_status->text();
    }

    QLineEdit *ProfileDialog::nameEdit() const
    {
        return m_name;
    }
    QLineEdit *ProfileDialog::urlEdit() const
    {
        return m_url;
    }
    QLineEdit *ProfileDialog::tokenEdit() const
    {
        return m_token;
    }
    QRadioButton *ProfileDialog::keychainOption() const
    {
        return m_storage->keychainOption();
    }
    QRadioButton *ProfileDialog::sessionOption() const
    {
        return m_storage->sessionOption();
    }
    QRadioButton *ProfileDialog::plainTextOption() const
    {
        return m_storage->plainTextOption();
    }
    ConnectionCheckView *ProfileDialog::connectionCheck() const
    {
        return m_check;
    }

    void ProfileDialog::testConnection()
    {
        auto endpoint = GatewayEndpoint::fromUrl(m_url->text());
        if (!endpoint)
        {
            m_check->showProblem(tr("The URL is not usable: %1.").arg(endpoint.error()));
            return;
        }
        endpoint->caFile = m_caFile->text().trimmed();
        endpoint->verifyPeer = m_verify->isChecked();
        endpoint->token = m_token->text();
        const std::optional<GatewayProfile> stored = m_manager->store().profile(m_name->text().trimmed());
        if (!endpoint->token.isEmpty() || !stored)
        {
            m_check->run(*endpoint);
            return;
        }
        // An empty field keeps the stored token: test with that one.
        const QPointer<ConnectionCheckView> check(m_check);
        const GatewayEndpoint base = *endpoint;
        m_manager->lookUpToken(*stored, [check, base](const TokenLookup &lookup) {
            if (!check)
                return;
            GatewayEndpoint withToken = base;
            withToken.token = lookup.token;
            check->run(withToken);
        });
    }

    void ProfileDialog::setStatus(const QString &text, const bool warning)
    {
        m_status->setText(text);
        QPalette palette = m_status->palette();
        palette.setColor(QPalette::WindowText, warning ? Theme::toneColor(Theme::Tone::Warning, this->palette())
                                                       : this->palette().color(QPalette::WindowText));
        m_status->setPalette(palette);
    }

    void ProfileDialog::save()
    {
        GatewayProfile profile;
        profile.name = m_name->text().trimmed();
        profile.url = m_url->text().trimmed();
        profile.caFile = m_caFile->text().trimmed();
        profile.verifyTls = m_verify->isChecked();
        profile.tokenStorage = m_storage->storage();
        if (profile.name.isEmpty())
        {
            setStatus(tr("Give the profile a name."), true);
            m_name->setFocus();
            return;
        }
        if (auto endpoint = GatewayEndpoint::fromUrl(profile.url); !endpoint)
        {
            setStatus(tr("The URL is not usable: %1.").arg(endpoint.error()), true);
            m_url->setFocus();
            return;
        }
        const QString token = m_token->text();
        m_saveButton->setEnabled(false);
        m_connectButton->setEnabled(false);
        setStatus(tr("Saving…"), false);
        m_manager->saveProfile(profile, token, [this, name = profile.name](const SaveResult &result) {
            m_saveButton->setEnabled(true);
            m_connectButton->setEnabled(true);
            m_token->clear();
            reload();
            selectProfile(name);
            setStatus(result.message, result.keychainUnavailable || (result.storedIn == TokenStorage::PlainText));
            emit saved(result);
        });
    }
}  // namespace Lockstep::Ui
