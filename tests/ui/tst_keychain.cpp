#include <QApplication>
#include <QFile>
#include <QLineEdit>
#include <QRadioButton>
#include <QRandomGenerator>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "profiledialog.h"
#include "profiles.h"

using namespace std::chrono_literals;
using namespace Lockstep::Ui;

// Runs under tests/support/with-keyring.sh: a private D-Bus session with an
// unlocked gnome-keyring. The token goes into the real Secret Service, comes
// back in a fresh session, and never appears in the settings file.
class TestKeychain : public QObject
{
    Q_OBJECT

private:
    // Unique per run: the keyring's storage may outlive this test.
    const QString m_profile = QStringLiteral("keychain-test-%1").arg(QRandomGenerator::global()->generate(), 0, 16);
    const QString m_token = QStringLiteral("kc-token-%1").arg(QRandomGenerator::global()->generate64(), 0, 16);
    QTemporaryDir m_dir;

    static QByteArray fileBytes(const QString &path)
    {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }

private slots:
    void initTestCase()
    {
        QVERIFY2(!qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"), "run me under with-keyring.sh");
        QVERIFY(m_dir.isValid());
    }

    void tokenRoundTripsThroughTheKeyring()
    {
        const QString path = m_dir.filePath(QStringLiteral("console.ini"));
        {
            QSettings settings(path, QSettings::IniFormat);
            TokenVault vault(QStringLiteral("lockstep-test"));
            ProfileManager manager(&settings, &vault);
            ProfileDialog dialog(&manager);
            dialog.nameEdit()->setText(m_profile);
            dialog.urlEdit()->setText(QStringLiteral("ws://127.0.0.1:9"));
            dialog.tokenEdit()->setText(m_token);
            QVERIFY(dialog.keychainOption()->isChecked());
            QSignalSpy saved(&dialog, &ProfileDialog::saved);
            dialog.save();
            QVERIFY(saved.wait(30000));
            const SaveResult result = saved.at(0).at(0).value<SaveResult>();
            QVERIFY2(!result.keychainUnavailable, qPrintable(dialog.statusText()));
            QVERIFY(result.storedIn == TokenStorage::Keychain);
            QCOMPARE(dialog.statusText(), QStringLiteral("Saved. The token is in the system keychain."));
            settings.sync();
        }
        QVERIFY(fileBytes(path).contains("ws://127.0.0.1:9"));
        QVERIFY2(!fileBytes(path).contains(m_token.toUtf8()), fileBytes(path).constData());

        // A new session (no memory of the token) reads it from the keyring.
        QSettings settings(path, QSettings::IniFormat);
        TokenVault vault(QStringLiteral("lockstep-test"));
        ProfileManager manager(&settings, &vault);
        QVERIFY(manager.sessionToken(m_profile).isEmpty());
        bool done = false;
        TokenLookup lookup;
        manager.lookUpToken(*manager.store().profile(m_profile), [&](const TokenLookup &l) {
            lookup = l;
            done = true;
        });
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000);
        QCOMPARE(lookup.source, TokenSource::Keychain);
        QCOMPARE(lookup.token, m_token);
        QVERIFY(lookup.message.isEmpty());

        // Deleting the profile deletes the keyring entry.
        manager.removeProfile(m_profile);
        KeychainResult read;
        done = false;
        QTest::qWait(500);
        vault.readToken(m_profile, this, [&](const KeychainResult &r) {
            read = r;
            done = true;
        });
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000);
        QCOMPARE(read.status, KeychainResult::Status::NotFound);
    }

    void vaultWriteReadDelete()
    {
        TokenVault vault(QStringLiteral("lockstep-test"));
        const QString key = m_profile + QStringLiteral("-direct");
        KeychainResult result;
        bool done = false;
        const auto capture = [&](const KeychainResult &r) {
            result = r;
            done = true;
        };
        vault.writeToken(key, QStringLiteral("abc-123"), this, capture);
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000);
        QCOMPARE(result.status, KeychainResult::Status::Ok);
        QCOMPARE(result.attempts, 1);
        done = false;
        vault.readToken(key, this, capture);
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000);
        QCOMPARE(result.token, QStringLiteral("abc-123"));
        done = false;
        vault.deleteToken(key, this, capture);
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000);
        QCOMPARE(result.status, KeychainResult::Status::Ok);
        done = false;
        vault.readToken(key, this, capture);
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000);
        QCOMPARE(result.status, KeychainResult::Status::NotFound);
    }
};

int main(int argc, char *argv[])
{
    qRegisterMetaType<Lockstep::Ui::SaveResult>();
    QApplication app(argc, argv);
    TestKeychain test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_keychain.moc"
