#pragma once

#include <QDialog>

class QButtonGroup;
class QCheckBox;
class QComboBox;
class QPlainTextEdit;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QRadioButton;

namespace Lockstep::Ui
{
    class ConnectionCheckView;
    class ProfileManager;
    struct GatewayProfile;
    struct SaveResult;
    enum class TokenStorage;

    // Where to keep a token: the keychain (the default), this session only, or
    // plain text as a clearly labelled opt-in. The profile and first-run dialogs share it.
    class TokenStorageChoice final : public QWidget
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(TokenStorageChoice)

    public:
        explicit TokenStorageChoice(QWidget *parent = nullptr);

        TokenStorage storage() const;
        void setStorage(TokenStorage storage);
        QRadioButton *keychainOption() const;
        QRadioButton *sessionOption() const;
        QRadioButton *plainTextOption() const;

    private:
        QRadioButton *m_keychain;
        QRadioButton *m_session;
        QRadioButton *m_plainText;
    };

    // Gateway profiles: name, URL, CA file, TLS verification, and the token
    // with where it is kept (system keychain by default; this session only;
    // or, as a clearly labelled opt-in, plain text in the settings file).
    class ProfileDialog final : public QDialog
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ProfileDialog)

    public:
        explicit ProfileDialog(ProfileManager *manager, QWidget *parent = nullptr);

        // Fills the form for a new profile (or selects an existing one).
        void selectProfile(const QString &name);
        // The status line (what happened to the token).
        QString statusText() const;

        // For tests and keyboard users alike: the form's fields.
        QLineEdit *nameEdit() const;
        QLineEdit *urlEdit() const;
        QLineEdit *tokenEdit() const;
        QRadioButton *keychainOption() const;
        QRadioButton *sessionOption() const;
        QRadioButton *plainTextOption() const;
        // "Test connection" with the form's values (the typed token, else the stored one).
        ConnectionCheckView *connectionCheck() const;

        // Saves the form; `saved` runs once the keychain answered.
        void save();

    signals:
        void saved(const Lockstep::Ui::SaveResult &result);
        void connectRequested(const QString &profileName);

    private:
        void reload();
        void loadForm(const GatewayProfile &profile);
        void setStatus(const QString &text, bool warning);
        void testConnection();

        ProfileManager *m_manager;
        QListWidget *m_list;
        QLineEdit *m_name;
        QLineEdit *m_url;
        QLineEdit *m_caFile;
        QCheckBox *m_verify;
        QLineEdit *m_token;
        TokenStorageChoice *m_storage;
        ConnectionCheckView *m_check;
        QLabel *m_status;
        QPushButton *m_saveButton;
        QPushButton *m_deleteButton;
        QPushButton *m_connectButton;
    };
}  // namespace Lockstep::Ui
