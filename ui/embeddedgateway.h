#pragma once

#include <chrono>

#include <QObject>
#include <QProcess>
#include <QStringList>
#include <QTimer>

namespace Lockstep::Ui
{
    // `lockstep --embedded`: a local lockstep-gateway (SQLite, in-process lock
    // store) on a free loopback port, with the token file it generates in its
    // data folder. Stopped (SIGTERM, then kill) when this object goes.
    class EmbeddedGateway final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(EmbeddedGateway)

    public:
        struct Options
        {
            QString binary;   // empty: findBinary()
            QString dataDir;  // empty: <AppDataLocation>/embedded-gateway
            QStringList extraArguments;
            std::chrono::milliseconds startTimeout{20000};
            std::chrono::milliseconds stopTimeout{5000};
        };

        explicit EmbeddedGateway(QObject *parent = nullptr);
        ~EmbeddedGateway() override;

        // $LOCKSTEP_GATEWAY_BIN, next to the console binary, or the build tree's app/.
        static QString findBinary();
        // The binary start() runs for `configured` (Options::binary): it, or findBinary().
        static QString binaryFor(const QString &configured);
        // Whether start() has a gateway to run (the lockstep package may lack lockstep-gateway).
        static bool isInstalled(const QString &configured);
        static QString defaultDataDir();

        void start(const Options &options);
        // Blocks up to stopTimeout.
        void stop();
        bool isRunning() const;
        QString url() const;  // ws://127.0.0.1:PORT
        QString token() const;
        QString dataDir() const;
        // 0 when not running.
        qint64 processId() const;

    signals:
        void ready(const QString &url, const QString &token);
        // Did not start, or exited on its own after it was ready.
        void failed(const QString &message);

    private:
        void onOutput();
        void fail(const QString &message);

        QProcess m_process;
        QTimer m_startTimer;
        Options m_options;
        QString m_url;
        QString m_token;
        QString m_tokenFile;
        QStringList m_errorTail;
        QByteArray m_stdoutBuffer;
        bool m_ready = false;
        bool m_stopping = false;
    };
}  // namespace Lockstep::Ui
