#include <QApplication>
#include <QFile>
#include <QLineEdit>
#include <QRadioButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "profiledialog.h"
#include "profiles.h"

using namespace std::chrono_literals;
using namespace Lockstep::Ui;

// Profiles and tokens on a machine without a Secret Service (no D-Bus session
// at all): the console says the keychain is unavailable, keeps the token for
// this session only, and never writes it to the settings file unless the user
// opts in to plain text.
class TestProfilesNoKeychain : public QObject
{
    Q_OBJECT

private:
    const QString m_token = QStringLiteral("s3cr3t-token-value-42");

    static QByteArray fileBytes(const QString &path)
    {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }

private slots:
    void initTestCase()
    {
        QVERIFY2(qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"), "this test needs no D-Bus session");
    }

    void vaultReportsUnavailableAfterOneRetry()
    {
        TokenVault vault(QStringLiteral("lockstep-test"));
        vault.setRetryDelay(20ms);
        KeychainResult result;
        bool done = false;
        vault.writeToken(QStringLiteral("p"), m_token, this, [&](const KeychainResult &r) {
            result = r;
            done = true;
        });
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000);
        QCOMPARE(result.status, KeychainResult::Status::Unavailable);
        QCOMPARE(result.attempts, 2);
        QVERIFY2(result.message().startsWith(u"The system keychain is unavailable"), qPrintable(result.message()));
    }

    void dialogSaysUnavailableAndKeepsTheFileClean()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("console.ini"));
        {
            QSettings settings(path, QSettings::IniFormat);
            TokenVault vault(QStringLiteral("lockstep-test"));
            vault.setRetryDelay(20ms);
            ProfileManager manager(&settings, &vault);
            ProfileDialog dialog(&manager);
            dialog.show();
            dialog.nameEdit()->setText(QStringLiteral("work gateway"));
            dialog.urlEdit()->setText(QStringLiteral("ws://127.0.0.1:8080"));
            dialog.tokenEdit()->setText(m_token);
            QVERIFY(dialog.keychainOption()->isChecked());  // the default
            QSignalSpy saved(&dialog, &ProfileDialog::saved);
            dialog.save();
            QVERIFY(saved.wait(30000));
            const SaveResult result = saved.at(0).at(0).value<SaveResult>();
            QVERIFY(result.keychainUnavailable);
            QVERIFY(result.storedIn == TokenStorage::SessionOnly);
            QVERIFY2(dialog.statusText().contains(u"the system keychain is unavailable"),
                     qPrintable(dialog.statusText()));
            QVERIFY2(dialog.statusText().contains(u"kept for this session only"), qPrintable(dialog.statusText()));
            QVERIFY(dialog.tokenEdit()->text().isEmpty());

            // Usable for this session...
            QCOMPARE(manager.sessionToken(QStringLiteral("work gateway")), m_token);
            TokenLookup lookup;
            manager.lookUpToken(*manager.store().profile(QStringLiteral("work gateway")),
                                [&](const TokenLookup &l) { lookup = l; });
            QCOMPARE(lookup.token, m_token);
            QCOMPARE(lookup.source, TokenSource::Session);
            settings.sync();
        }
        // ...but nowhere on disk.
        const QByteArray contents = fileBytes(path);
        QVERIFY(contents.contains("ws://127.0.0.1:8080"));
        QVERIFY2(!contents.contains(m_token.toUtf8()), contents.constData());

        // The next session has no token and says why.
        QSettings settings(path, QSettings::IniFormat);
        TokenVault vault(QStringLiteral("lockstep-test"));
        vault.setRetryDelay(20ms);
        ProfileManager manager(&settings, &vault);
        const auto profile = manager.store().profile(QStringLiteral("work gateway"));
        QVERIFY(profile);
        QVERIFY(profile->tokenStorage == TokenStorage::Keychain);
        bool done = false;
        TokenLookup lookup;
        manager.lookUpToken(*profile, [&](const TokenLookup &l) {
            lookup = l;
            done = true;
        });
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000);
        QVERIFY(lookup.token.isEmpty());
        QVERIFY2(lookup.message.contains(u"keychain is unavailable"), qPrintable(lookup.message));
    }

    void plainTextOnlyOnExplicitOptIn()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("console.ini"));
        QSettings settings(path, QSettings::IniFormat);
        TokenVault vault(QStringLiteral("lockstep-test"));
        vault.setRetryDelay(20ms);
        ProfileManager manager(&settings, &vault);
        ProfileDialog dialog(&manager);
        dialog.nameEdit()->setText(QStringLiteral("lab"));
        dialog.urlEdit()->setText(QStringLiteral("wss://gateway.example:8443"));
        dialog.tokenEdit()->setText(m_token);
        dialog.plainTextOption()->setChecked(true);
        QVERIFY(dialog.plainTextOption()->text().contains(u"not recommended"));
        QSignalSpy saved(&dialog, &ProfileDialog::saved);
        dialog.save();
        QVERIFY(saved.wait(10000));
        QVERIFY2(dialog.statusText().contains(u"plain text"), qPrintable(dialog.statusText()));
        settings.sync();
        QVERIFY(fileBytes(path).contains(m_token.toUtf8()));

        // A fresh session reads it back from the file.
        {
            QSettings again(path, QSettings::IniFormat);
            ProfileManager fresh(&again, &vault);
            TokenLookup lookup;
            fresh.lookUpToken(*fresh.store().profile(QStringLiteral("lab")), [&](const TokenLookup &l) { lookup = l; });
            QCOMPARE(lookup.source, TokenSource::PlainText);
            QCOMPARE(lookup.token, m_token);
        }

        // Back to "this session only": the plain-text copy is removed.
        dialog.sessionOption()->setChecked(true);
        dialog.save();
        QVERIFY(saved.wait(10000));
        settings.sync();
        QVERIFY2(!fileBytes(path).contains(m_token.toUtf8()), fileBytes(path).constData());
        QCOMPARE(manager.sessionToken(QStringLiteral("lab")), m_token);
    }

    void profilesRoundTrip()
    {
        QTemporaryDir dir;
        QSettings settings(dir.filePath(QStringLiteral("console.ini")), QSettings::IniFormat);
        ProfileStore store(&settings);
        const GatewayProfile odd{.name = QStringLiteral("a/b c=ü"),
                                 .url = QStringLiteral("ws://h:1"),
                                 .caFile = QStringLiteral("/tmp/ca.pem"),
                                 .verifyTls = false,
                                 .tokenStorage = TokenStorage::SessionOnly};
        store.save(odd);
        store.save(GatewayProfile{.name = QStringLiteral("alpha"), .url = QStringLiteral("ws://a:2")});
        QCOMPARE(store.profiles().size(), 2);
        QCOMPARE(store.profile(QStringLiteral("a/b c=ü")), odd);
        store.setLastUsed(QStringLiteral("alpha"));
        QCOMPARE(store.lastUsed(), QStringLiteral("alpha"));
        store.remove(QStringLiteral("alpha"));
        QCOMPARE(store.profiles().size(), 1);
        QCOMPARE(store.lastUsed(), QString());
        QVERIFY(!store.profile(QStringLiteral("missing")));
    }
};

int main(int argc, char *argv[])
{
    // No Secret Service: no D-Bus session, and no X display to autolaunch one.
    qunsetenv("DBUS_SESSION_BUS_ADDRESS");
    qunsetenv("DISPLAY");
    qunsetenv("WAYLAND_DISPLAY");
    qRegisterMetaType<Lockstep::Ui::SaveResult>();
    QApplication app(argc, argv);
    TestProfilesNoKeychain test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_profiles_nokeychain.moc"
