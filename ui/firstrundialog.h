#pragma once

#include <QDialog>

class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QRadioButton;
class QWidget;

namespace Lockstep::Ui
{
    class ConnectionCheckView;
    class ProfileManager;
    class TokenStorageChoice;
    struct SaveResult;

    // The console's first start (no profile, no --embedded/--gateway/--profile):
    // run a local gateway, or connect to one (URL, token, where to keep it, and
    // "Test connection" before saving). Saving creates the profile. Without a
    // gateway binary (the lockstep package without lockstep-gateway) the local
    // choice is disabled and says what to install.
    class FirstRunDialog final : public QDialog
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FirstRunDialog)

    public:
        FirstRunDialog(ProfileManager *manager, bool localGatewayInstalled, QWidget *parent = nullptr);

        QRadioButton *embeddedOption() const;
        QRadioButton *remoteOption() const;
        QLineEdit *urlEdit() const;
        QLineEdit *nameEdit() const;
        QLineEdit *tokenEdit() const;
        TokenStorageChoice *tokenStorage() const;
        ConnectionCheckView *connectionCheck() const;
        QString statusText() const;
        // The name a profile gets when the name field is left empty: the URL's host.
        QString profileName() const;

        // OK: the embedded choice, or saves the profile (then profileSaved()).
        void accept() override;

    signals:
        void embeddedChosen();
        void profileSaved(const QString &name, const Lockstep::Ui::SaveResult &result);

    private:
        void updateMode();
        void testConnection();
        void setStatus(const QString &text);

        ProfileManager *m_manager;
        QRadioButton *m_embedded;
        QRadioButton *m_remote;
        QWidget *m_remoteForm;
        QLineEdit *m_url;
        QLineEdit *m_name;
        QLineEdit *m_token;
        TokenStorageChoice *m_storage;
        ConnectionCheckView *m_check;
        QLabel *m_status;
        QDialogButtonBox *m_buttons;
        bool m_saving = false;
    };
}  // namespace Lockstep::Ui
