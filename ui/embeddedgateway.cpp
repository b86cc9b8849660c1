#include "embeddedgateway.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>

#include "common/logging.h"

#include <csignal>

#include <sys/prctl.h>

namespace Lockstep::Ui
{
    EmbeddedGateway::EmbeddedGateway(QObject *parent)
        : QObject(parent)
    {
        m_startTimer.setSingleShot(true);
        connect(&m_startTimer, &QTimer::timeout, this, [this] {
            fail(tr("the gateway did not report its address within %1 s").arg(m_options.startTimeout.count() / 1000));
            stop();
        });
        connect(&m_process, &QProcess::readyReadStandardOutput, this, &EmbeddedGateway::onOutput);
        connect(&m_process, &QProcess::readyReadStandardError, this, [this] {
            const QStringList lines =
                QString::fromUtf8(m_process.readAllStandardError()).split(u'\n', Qt::SkipEmptyParts);
            for (const QString &line : lines)
            {
                qCDebug(lcUi).noquote() << "gateway:" << line;
                m_errorTail.append(line.trimmed());
            }
            while (m_errorTail.size() > 5)
                m_errorTail.removeFirst();
        });
        connect(&m_process, &QProcess::errorOccurred, this, [this](const QProcess::ProcessError error) {
            if (error == QProcess::FailedToStart)
                fail(tr("cannot start %1: %2").arg(m_process.program(), m_process.errorString()));
        });
        connect(&m_process, &QProcess::finished, this, [this](const int code, const QProcess::ExitStatus status) {
            m_startTimer.stop();
            if (m_stopping)
                return;
            // After it was ready it ran and then stopped (killed, crashed): say that, not "could not start".
            QString message = (status == QProcess::CrashExit) ? tr("the embedded gateway crashed")
                              : m_ready ? tr("the embedded gateway stopped (exit code %1)").arg(code)
                                        : tr("the embedded gateway exited with code %1").arg(code);
            if (!m_errorTail.isEmpty())
                message += QStringLiteral(": ") + m_errorTail.constLast();
            fail(message);
        });
    }

    EmbeddedGateway::~EmbeddedGateway()
    {
        stop();
    }

    QString EmbeddedGateway::findBinary()
    {
        const QString fromEnvironment = qEnvironmentVariable("LOCKSTEP_GATEWAY_BIN");
        if (!fromEnvironment.isEmpty() && QFileInfo(fromEnvironment).isExecutable())
            return fromEnvironment;
        const QDir here(QCoreApplication::applicationDirPath());
        for (const QString &candidate : {here.filePath(QStringLiteral("lockstep-gateway")),
                                         here.filePath(QStringLiteral("../app/lockstep-gateway")),
                                         here.filePath(QStringLiteral("../../app/lockstep-gateway")),
                                         here.filePath(QStringLiteral("app/lockstep-gateway"))})
        {
            const QFileInfo info(candidate);
            if (info.isFile() && info.isExecutable())
                return info.canonicalFilePath();
        }
        return {};
    }

    QString EmbeddedGateway::binaryFor(const QString &configured)
    {
        return configured.isEmpty() ? findBinary() : configured;
    }

    bool EmbeddedGateway::isInstalled(const QString &configured)
    {
        const QString binary = binaryFor(configured);
        return !binary.isEmpty() && QFileInfo(binary).isExecutable();
    }

    QString EmbeddedGateway::defaultDataDir()
    {
        return QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation))
            .filePath(QStringLiteral("embedded-gateway"));
    }

    void EmbeddedGateway::start(const Options &options)
    {
        m_options = options;
        m_ready = false;
        m_stopping = false;
        m_url.clear();
        m_token.clear();
        m_tokenFile.clear();
        m_errorTail.clear();
        m_stdoutBuffer.clear();
        const QString binary = binaryFor(options.binary);
        if (binary.isEmpty())
        {
            QMetaObject::invokeMethod(
                this,
                [this] {
                    fail(
                        tr("lockstep-gateway was not found next to the console (%1): install the lockstep-gateway package, or set LOCKSTEP_GATEWAY_BIN")
                            .arg(QCoreApplication::applicationDirPath()));
                },
                Qt::QueuedConnection);
            return;
        }
        const QString dataDir = options.dataDir.isEmpty() ? defaultDataDir() : options.dataDir;
        if (!QDir().mkpath(dataDir))
        {
            QMetaObject::invokeMethod(
                this, [this, dataDir] { fail(tr("cannot create the data folder %1").arg(dataDir)); },
                Qt::QueuedConnection);
            return;
        }
        m_options.dataDir = dataDir;
        QStringList arguments{QStringLiteral("--listen"),         QStringLiteral("127.0.0.1:0"),
                              QStringLiteral("--data-dir"),       dataDir,
                              QStringLiteral("--replica-id"),     QStringLiteral("embedded"),
                              QStringLiteral("--shutdown-grace"), QStringLiteral("3s")};
        arguments += options.extraArguments;
        qCInfo(lcUi).noquote() << "starting the embedded gateway" << binary << "with data in" << dataDir;
        m_process.setProgram(binary);
        // If the console dies without stopping it, the gateway gets SIGTERM from the kernel.
        m_process.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
        m_process.setArguments(arguments);
        m_startTimer.start(options.startTimeout);
        m_process.start();
    }

    void EmbeddedGateway::stop()
    {
        m_startTimer.stop();
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_stopping = true;
        // SIGTERM: the gateway pauses its executions and closes sessions (1001).
        m_process.terminate();
        if (!m_process.waitForFinished(static_cast<int>(m_options.stopTimeout.count())))
        {
            qCWarning(lcUi) << "the embedded gateway did not stop in time; killing it";
            m_process.kill();
            m_process.waitForFinished(2000);
        }
    }

    bool EmbeddedGateway::isRunning() const
    {
        return m_ready && (m_process.state() == QProcess::Running);
    }

    QString EmbeddedGateway::url() const
    {
        return m_url;
    }

    QString EmbeddedGateway::token() const
    {
        return m_token;
    }

    QString EmbeddedGateway::dataDir() const
    {
        return m_options.dataDir;
    }

    qint64 EmbeddedGateway::processId() const
    {
        return m_process.processId();
    }

    void EmbeddedGateway::onOutput()
    {
        m_stdoutBuffer += m_process.readAllStandardOutput();
        static const QRegularExpression listening(QStringLiteral(R"(listening on (https?)://([^\s]+):(\d+))"));
        static const QRegularExpression tokenFile(QStringLiteral(R"(token file (.+)$)"));
        qsizetype newline = -1;
        while ((newline = m_stdoutBuffer.indexOf('\n')) >= 0)
        {
            const QString line = QString::fromUtf8(m_stdoutBuffer.left(newline)).trimmed();
            m_stdoutBuffer.remove(0, newline + 1);
            if (m_ready)
                continue;
            if (const auto match = tokenFile.match(line); match.hasMatch())
            {
                m_tokenFile = match.captured(1).trimmed();
                continue;
            }
            const auto match = listening.match(line);
            if (!match.hasMatch())
                continue;
            if (m_tokenFile.isEmpty())
                m_tokenFile = QDir(m_options.dataDir).filePath(QStringLiteral("token"));
            QFile file(m_tokenFile);
            if (!file.open(QIODevice::ReadOnly))
            {
                fail(tr("cannot read the gateway's token file %1").arg(m_tokenFile));
                stop();
                return;
            }
            for (const QByteArray &raw : file.readAll().split('\n'))
            {
                const QString candidate = QString::fromUtf8(raw).trimmed();
                if (!candidate.isEmpty() && !candidate.startsWith(u'#'))
                {
                    m_token = candidate;
                    break;
                }
            }
            const bool secure = (match.captured(1) == u"https");
            m_url =
                QStringLiteral("%1://%2:%3")
                    .arg(secure ? QStringLiteral("wss") : QStringLiteral("ws"), match.captured(2), match.captured(3));
            m_ready = true;
            m_startTimer.stop();
            qCInfo(lcUi).noquote() << "embedded gateway ready at" << m_url;
            emit ready(m_url, m_token);
        }
    }

    void EmbeddedGateway::fail(const QString &message)
    {
        qCWarning(lcUi).noquote() << "embedded gateway:" << message;
        m_ready = false;
        emit failed(message);
    }
}  // namespace Lockstep::Ui
