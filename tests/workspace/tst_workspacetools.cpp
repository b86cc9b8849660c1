#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include "agent/agentprotocol.h"
#include "agent/agentregistrar.h"
#include "agent/workspacefolder.h"
#include "agentprocess.h"
#include "store/runstore.h"
#include "store/workspacestore.h"
#include "workspace/agentconnection.h"
#include "workspace/workspaceroutes.h"

using namespace Lockstep;
using namespace Lockstep::Workspace;
using Lockstep::Test::AgentProcess;

// The agent's tool server, end to end against a real lockstep-agent process:
// hello and token, discovery, the four tools, path confinement, the command
// time limit (process group killed), the output cap, bad requests, the command
// line, and registration with a gateway (present, refusing, absent).
class TestWorkspaceTools : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_workspace;  // <tmp>/ws-one
    QString m_outside;    // <tmp>/outside (must stay untouched)
    QString m_tokenFile;
    AgentProcess m_agent;

    using Reply = Result<QJsonObject, AgentError>;

    // A ready connection to `address` (fails the test otherwise).
    std::unique_ptr<AgentConnection> connectTo(const AgentAddress &address,
                                               const QByteArray &token = Test::AgentTestToken)
    {
        auto connection = std::make_unique<AgentConnection>();
        QSignalSpy ready(connection.get(), &AgentConnection::ready);
        QSignalSpy failed(connection.get(), &AgentConnection::failed);
        connection->open(address, token);
        [&] { QTRY_VERIFY_WITH_TIMEOUT(ready.count() + failed.count() > 0, 20000); }();
        return connection;
    }

    // One call on a fresh connection, waiting for the answer.
    std::optional<Reply> call(const QString &tool, const QJsonObject &args, const int timeoutMs = 20000)
    {
        auto connection = connectTo(m_agent.address());
        if (!connection->isReady())
            return std::nullopt;
        std::optional<Reply> answer;
        connection->call(tool, args, std::chrono::milliseconds(timeoutMs), this,
                         [&](const Reply &reply) { answer = reply; });
        [[maybe_unused]] const bool answered = QTest::qWaitFor([&] { return answer.has_value(); }, timeoutMs + 5000);
        return answer;
    }

    static bool processGone(const qint64 pid)
    {
        QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
        if (!stat.open(QIODevice::ReadOnly))
            return true;
        // "pid (comm) S ...": a zombie (Z) is dead, only not reaped yet.
        const QByteArray line = stat.readAll();
        const qsizetype close = line.lastIndexOf(')');
        return close > 0 && line.size() > close + 2 && line.at(close + 2) == 'Z';
    }

    // A "Vm...:" line of /proc/<pid>/status in KiB, -1 when unreadable.
    static qint64 statusKb(const qint64 pid, const QByteArray &key)
    {
        QFile status(QStringLiteral("/proc/%1/status").arg(pid));
        if (!status.open(QIODevice::ReadOnly))
            return -1;
        const QByteArray prefix = key + QByteArray(":");
        for (const QByteArray &line : status.readAll().split('\n'))
        {
            if (line.startsWith(prefix))
                return line.mid(key.size() + 1).trimmed().split(' ').constFirst().toLongLong();
        }
        return -1;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(!AgentProcess::binary().isEmpty(), "LOCKSTEP_AGENT_BIN is not set");
        m_workspace = m_dir.filePath(QStringLiteral("ws-one"));
        m_outside = m_dir.filePath(QStringLiteral("outside"));
        QVERIFY(QDir().mkpath(m_workspace + u"/sub"));
        QVERIFY(QDir().mkpath(m_outside));
        QFile secret(m_outside + u"/secret.txt");
        QVERIFY(secret.open(QIODevice::WriteOnly));
        secret.write("outside secret\n");
        secret.close();
        QFile readme(m_workspace + u"/README.md");
        QVERIFY(readme.open(QIODevice::WriteOnly));
        readme.write("# hello workspace\n");
        readme.close();
        // Symlinks: one leading out, one dangling to a path outside, one inside.
        QVERIFY(QFile::link(m_outside, m_workspace + u"/link-out"));
        QVERIFY(QFile::link(m_outside + u"/not-yet.txt", m_workspace + u"/dangling"));
        QVERIFY(QFile::link(m_workspace + u"/README.md", m_workspace + u"/sub/readme-link"));
        // A hard link to a file outside.
        QVERIFY(::link(QFile::encodeName(m_outside + u"/secret.txt").constData(),
                       QFile::encodeName(m_workspace + u"/hard-secret").constData()) == 0);
        m_tokenFile = m_dir.filePath(QStringLiteral("tokens"));
        QVERIFY(Test::writeTokenFile(m_tokenFile, Test::AgentTestToken));
        QVERIFY2(m_agent.start(m_workspace, QStringLiteral("ws-one"), QStringLiteral("agent-a1"), m_tokenFile,
                               {QStringLiteral("--command-timeout"), QStringLiteral("5s"),
                                QStringLiteral("--max-command-timeout"), QStringLiteral("60s")}),
                 qPrintable(m_agent.errorString()));
    }

    void cleanupTestCase()
    {
        QCOMPARE(m_agent.terminate(), 0);
    }

    void helloAndDiscovery()
    {
        auto connection = connectTo(m_agent.address());
        QVERIFY(connection->isReady());
        QCOMPARE(connection->agentId(), QStringLiteral("agent-a1"));
        QCOMPARE(connection->workspaceId(), QStringLiteral("ws-one"));
        std::optional<Reply> answer;
        connection->listTools(std::chrono::seconds(10), this, [&](const Reply &reply) { answer = reply; });
        QTRY_VERIFY_WITH_TIMEOUT(answer.has_value(), 15000);
        QVERIFY(answer->hasValue());
        QStringList names;
        for (const QJsonValue &tool : answer->value().value(u"tools").toArray())
            names.append(tool.toObject().value(u"name").toString());
        QCOMPARE(names, (QStringList{QStringLiteral("read_file"), QStringLiteral("write_file"),
                                     QStringLiteral("list_dir"), QStringLiteral("run_command")}));
    }

    void wrongTokenIsRefused()
    {
        auto connection = std::make_unique<AgentConnection>();
        QSignalSpy failed(connection.get(), &AgentConnection::failed);
        QSignalSpy ready(connection.get(), &AgentConnection::ready);
        connection->open(m_agent.address(), QByteArrayLiteral("not-the-token-123"));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 15000);
        QCOMPARE(ready.count(), 0);
        const auto error = failed.at(0).at(0).value<AgentError>();
        QVERIFY2(error.kind == AgentError::Kind::Unauthorized, qPrintable(error.message));
    }

    void anotherAgentIdIsNoticed()
    {
        AgentAddress address = m_agent.address();
        address.agentId = QStringLiteral("agent-someone-else");
        auto connection = std::make_unique<AgentConnection>();
        QSignalSpy failed(connection.get(), &AgentConnection::failed);
        connection->open(address, Test::AgentTestToken);
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 15000);
        const auto error = failed.at(0).at(0).value<AgentError>();
        QVERIFY2(error.kind == AgentError::Kind::WrongAgent, qPrintable(error.message));
        QVERIFY2(error.message.contains(u"agent-a1"), qPrintable(error.message));
    }

    void writeReadList()
    {
        const auto written =
            call(QStringLiteral("write_file"), {{QStringLiteral("path"), QStringLiteral("sub/notes.txt")},
                                                {QStringLiteral("content"), QStringLiteral("line one\nline two\n")}});
        QVERIFY(written && written->hasValue());
        QCOMPARE(written->value().value(u"bytesWritten").toInteger(), 18);
        QFile onDisk(m_workspace + u"/sub/notes.txt");
        QVERIFY(onDisk.open(QIODevice::ReadOnly));
        QCOMPARE(onDisk.readAll(), QByteArrayLiteral("line one\nline two\n"));

        const auto read =
            call(QStringLiteral("read_file"), {{QStringLiteral("path"), QStringLiteral("sub/notes.txt")}});
        QVERIFY(read && read->hasValue());
        QCOMPARE(read->value().value(u"content").toString(), QStringLiteral("line one\nline two\n"));
        QCOMPARE(read->value().value(u"truncated").toBool(), false);

        // No symlink is followed, not even one that stays inside.
        const auto viaLink =
            call(QStringLiteral("read_file"), {{QStringLiteral("path"), QStringLiteral("sub/readme-link")}});
        QVERIFY(viaLink && !viaLink->hasValue());
        QCOMPARE(viaLink->error().code, Wire::Codes::PathEscape);

        const auto listed = call(QStringLiteral("list_dir"), {{QStringLiteral("path"), QStringLiteral("sub")}});
        QVERIFY(listed && listed->hasValue());
        QStringList names;
        for (const QJsonValue &entry : listed->value().value(u"entries").toArray())
            names.append(entry.toObject().value(u"name").toString());
        QCOMPARE(names, (QStringList{QStringLiteral("notes.txt"), QStringLiteral("readme-link")}));

        // The root, by default.
        const auto root = call(QStringLiteral("list_dir"), {});
        QVERIFY(root && root->hasValue());
        QCOMPARE(root->value().value(u"path").toString(), QStringLiteral("."));
    }

    void pathEscapesAreRefused_data()
    {
        QTest::addColumn<QString>("tool");
        QTest::addColumn<QJsonObject>("args");
        QTest::newRow("read ..") << QStringLiteral("read_file")
                                 << QJsonObject{{QStringLiteral("path"), QStringLiteral("../outside/secret.txt")}};
        QTest::newRow("read sub/../..") << QStringLiteral("read_file")
                                        << QJsonObject{{QStringLiteral("path"),
                                                        QStringLiteral("sub/../../outside/secret.txt")}};
        QTest::newRow("read absolute outside")
            << QStringLiteral("read_file")
            << QJsonObject{{QStringLiteral("path"), QString(m_outside + u"/secret.txt")}};
        QTest::newRow("read /etc/passwd")
            << QStringLiteral("read_file") << QJsonObject{{QStringLiteral("path"), QStringLiteral("/etc/passwd")}};
        QTest::newRow("read through symlink")
            << QStringLiteral("read_file")
            << QJsonObject{{QStringLiteral("path"), QStringLiteral("link-out/secret.txt")}};
        QTest::newRow("read hard link to outside")
            << QStringLiteral("read_file") << QJsonObject{{QStringLiteral("path"), QStringLiteral("hard-secret")}};
        QTest::newRow("read symlink inside")
            << QStringLiteral("read_file") << QJsonObject{{QStringLiteral("path"), QStringLiteral("sub/readme-link")}};
        QTest::newRow("list symlink") << QStringLiteral("list_dir")
                                      << QJsonObject{{QStringLiteral("path"), QStringLiteral("link-out")}};
        QTest::newRow("list ..") << QStringLiteral("list_dir")
                                 << QJsonObject{{QStringLiteral("path"), QStringLiteral("..")}};
        QTest::newRow("write ..") << QStringLiteral("write_file")
                                  << QJsonObject{{QStringLiteral("path"), QStringLiteral("../outside/new.txt")},
                                                 {QStringLiteral("content"), QStringLiteral("x")}};
        QTest::newRow("write through symlink")
            << QStringLiteral("write_file")
            << QJsonObject{{QStringLiteral("path"), QStringLiteral("link-out/secret.txt")},
                           {QStringLiteral("content"), QStringLiteral("pwned")}};
        QTest::newRow("write new file via symlinked folder")
            << QStringLiteral("write_file")
            << QJsonObject{{QStringLiteral("path"), QStringLiteral("link-out/new.txt")},
                           {QStringLiteral("content"), QStringLiteral("x")}};
        QTest::newRow("write dangling symlink") << QStringLiteral("write_file")
                                                << QJsonObject{{QStringLiteral("path"), QStringLiteral("dangling")},
                                                               {QStringLiteral("content"), QStringLiteral("x")}};
        QTest::newRow("command cwd ..") << QStringLiteral("run_command")
                                        << QJsonObject{{QStringLiteral("argv"), QJsonArray{QStringLiteral("true")}},
                                                       {QStringLiteral("cwd"), QStringLiteral("..")}};
        QTest::newRow("command cwd symlink")
            << QStringLiteral("run_command")
            << QJsonObject{{QStringLiteral("argv"), QJsonArray{QStringLiteral("touch"), QStringLiteral("made-here")}},
                           {QStringLiteral("cwd"), QStringLiteral("link-out")}};
    }

    void pathEscapesAreRefused()
    {
        QFETCH(QString, tool);
        QFETCH(QJsonObject, args);
        const auto answer = call(tool, args);
        QVERIFY(answer.has_value());
        QVERIFY2(!answer->hasValue(), "the agent did what it must refuse");
        QCOMPARE(answer->error().kind, AgentError::Kind::Remote);
        QCOMPARE(answer->error().code, Wire::Codes::PathEscape);
        // Nothing outside changed.
        QCOMPARE(QDir(m_outside).entryList(QDir::Files), QStringList{QStringLiteral("secret.txt")});
        QFile secret(m_outside + u"/secret.txt");
        QVERIFY(secret.open(QIODevice::ReadOnly));
        QCOMPARE(secret.readAll(), QByteArrayLiteral("outside secret\n"));
    }

    void commandRuns()
    {
        const auto answer =
            call(QStringLiteral("run_command"),
                 {{QStringLiteral("argv"), QJsonArray{QStringLiteral("sh"), QStringLiteral("-c"),
                                                      QStringLiteral("echo out; echo err >&2; pwd; exit 3")}}});
        QVERIFY(answer && answer->hasValue());
        QCOMPARE(answer->value().value(u"exitCode").toInt(), 3);
        const QString output = answer->value().value(u"output").toString();
        QVERIFY2(output.contains(u"out\n") && output.contains(u"err\n"), qPrintable(output));
        // It ran in the workspace folder.
        QVERIFY2(output.contains(QFileInfo(m_workspace).canonicalFilePath()), qPrintable(output));
    }

    void commandAsTheShippedFlowWritesIt()
    {
        // resources/flows/workspace.json uses {program, arguments}.
        const auto answer =
            call(QStringLiteral("run_command"), {{QStringLiteral("program"), QStringLiteral("ls")},
                                                 {QStringLiteral("arguments"), QJsonArray{QStringLiteral("-a")}}});
        QVERIFY(answer && answer->hasValue());
        QCOMPARE(answer->value().value(u"exitCode").toInt(), 0);
        QVERIFY(answer->value().value(u"output").toString().contains(u"README.md"));
    }

    void commandThatNeverEndsIsKilledAtItsLimit()
    {
        // The shell records its own pid and a background child's; both must die.
        const auto answer =
            call(QStringLiteral("run_command"),
                 {{QStringLiteral("argv"),
                   QJsonArray{QStringLiteral("sh"), QStringLiteral("-c"),
                              QStringLiteral("echo $$ > pids; sleep 1000 & echo $! >> pids; echo started; wait")}},
                  {QStringLiteral("timeoutMs"), 500}});
        QVERIFY(answer.has_value());
        QVERIFY2(!answer->hasValue(), "a command that never ends came back as a result");
        QCOMPARE(answer->error().code, Wire::Codes::TimedOut);
        QVERIFY2(answer->error().output.contains(u"started"), qPrintable(answer->error().output));
        QFile pids(m_workspace + u"/pids");
        QVERIFY(pids.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = pids.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), 2);
        for (const QByteArray &line : lines)
        {
            const qint64 pid = line.trimmed().toLongLong();
            QVERIFY(pid > 0);
            QTRY_VERIFY2_WITH_TIMEOUT(processGone(pid), qPrintable(QStringLiteral("process %1 survived").arg(pid)),
                                      10000);
        }
    }

    void defaultLimitApplies()
    {
        // --command-timeout 5s: a command without timeoutMs is killed too.
        const auto answer =
            call(QStringLiteral("run_command"),
                 {{QStringLiteral("argv"), QJsonArray{QStringLiteral("sleep"), QStringLiteral("1000")}}}, 30000);
        QVERIFY(answer.has_value());
        QVERIFY(!answer->hasValue());
        QCOMPARE(answer->error().code, Wire::Codes::TimedOut);
        QVERIFY2(answer->error().message.contains(u"5000 ms"), qPrintable(answer->error().message));
    }

    void outputIsCapped()
    {
        const auto answer =
            call(QStringLiteral("run_command"),
                 {{QStringLiteral("argv"), QJsonArray{QStringLiteral("sh"), QStringLiteral("-c"),
                                                      QStringLiteral("head -c 300000 /dev/zero | tr '\\0' x")}}});
        QVERIFY(answer && answer->hasValue());
        QCOMPARE(answer->value().value(u"exitCode").toInt(), 0);
        QCOMPARE(answer->value().value(u"truncated").toBool(), true);
        const QString output = answer->value().value(u"output").toString();
        QVERIFY(output.toUtf8().size() <= Wire::MaxOutputBytes);
        QVERIFY(output.endsWith(Wire::OutputCutMarker));
        QVERIFY(output.startsWith(u"xxxx"));
    }

    void badRequests_data()
    {
        QTest::addColumn<QString>("tool");
        QTest::addColumn<QJsonObject>("args");
        QTest::addColumn<QString>("code");
        QTest::newRow("unknown tool") << QStringLiteral("format_disk") << QJsonObject{} << Wire::Codes::UnknownTool;
        QTest::newRow("missing path") << QStringLiteral("read_file") << QJsonObject{} << Wire::Codes::BadRequest;
        QTest::newRow("misspelt argument")
            << QStringLiteral("read_file") << QJsonObject{{QStringLiteral("pth"), QStringLiteral("README.md")}}
            << Wire::Codes::BadRequest;
        QTest::newRow("path not a string")
            << QStringLiteral("read_file") << QJsonObject{{QStringLiteral("path"), 3}} << Wire::Codes::BadRequest;
        QTest::newRow("missing file") << QStringLiteral("read_file")
                                      << QJsonObject{{QStringLiteral("path"), QStringLiteral("nope.txt")}}
                                      << Wire::Codes::NotFound;
        QTest::newRow("read a folder") << QStringLiteral("read_file")
                                       << QJsonObject{{QStringLiteral("path"), QStringLiteral("sub")}}
                                       << Wire::Codes::BadRequest;
        QTest::newRow("no program") << QStringLiteral("run_command")
                                    << QJsonObject{{QStringLiteral("argv"), QJsonArray{}}} << Wire::Codes::BadRequest;
        QTest::newRow("argv not strings")
            << QStringLiteral("run_command") << QJsonObject{{QStringLiteral("argv"), QJsonArray{1, 2}}}
            << Wire::Codes::BadRequest;
        QTest::newRow("timeout too long") << QStringLiteral("run_command")
                                          << QJsonObject{{QStringLiteral("argv"), QJsonArray{QStringLiteral("true")}},
                                                         {QStringLiteral("timeoutMs"), 61000}}
                                          << Wire::Codes::BadRequest;
        QTest::newRow("timeout fractional") << QStringLiteral("run_command")
                                            << QJsonObject{{QStringLiteral("argv"), QJsonArray{QStringLiteral("true")}},
                                                           {QStringLiteral("timeoutMs"), 1.5}}
                                            << Wire::Codes::BadRequest;
        QTest::newRow("no such program") << QStringLiteral("run_command")
                                         << QJsonObject{{QStringLiteral("argv"),
                                                         QJsonArray{QStringLiteral("no-such-program-xyz")}}}
                                         << Wire::Codes::StartFailed;
        QTest::newRow("too large") << QStringLiteral("write_file")
                                   << QJsonObject{{QStringLiteral("path"), QStringLiteral("big.txt")},
                                                  {QStringLiteral("content"), QString(Wire::MaxFileBytes + 1, u'x')}}
                                   << Wire::Codes::TooLarge;
    }

    void badRequests()
    {
        QFETCH(QString, tool);
        QFETCH(QJsonObject, args);
        QFETCH(QString, code);
        const auto answer = call(tool, args);
        QVERIFY(answer.has_value());
        QVERIFY(!answer->hasValue());
        QCOMPARE(answer->error().code, code);
        QVERIFY(!answer->error().message.isEmpty());
    }

    void malformedLinesKeepTheSessionUsable()
    {
        // A raw client: garbage before the hello closes the connection; after
        // it, a bad line gets an error and the session goes on.
        QTcpSocket raw;
        raw.connectToHost(QHostAddress(QHostAddress::LocalHost), m_agent.port());
        QVERIFY(raw.waitForConnected(10000));
        raw.write("{\"hello\": {\"token\": \"" + Test::AgentTestToken + "\"}}\n");
        QTRY_VERIFY_WITH_TIMEOUT(raw.canReadLine(), 10000);
        QVERIFY(raw.readLine().contains("agent-a1"));
        raw.write("this is not json\n{\"id\": 7, \"listTools\": {}}\n");
        QTRY_VERIFY_WITH_TIMEOUT(raw.bytesAvailable() > 0 && raw.canReadLine(), 10000);
        QVERIFY(raw.readLine().contains("bad_request"));
        QTRY_VERIFY_WITH_TIMEOUT(raw.canReadLine(), 10000);
        const QJsonObject listed = QJsonDocument::fromJson(raw.readLine()).object();
        QCOMPARE(listed.value(u"id").toInt(), 7);
        QVERIFY(listed.value(u"tools").isArray());

        QTcpSocket rude;
        rude.connectToHost(QHostAddress(QHostAddress::LocalHost), m_agent.port());
        QVERIFY(rude.waitForConnected(10000));
        rude.write("{\"id\": 1, \"listTools\": {}}\n");
        QTRY_COMPARE_WITH_TIMEOUT(rude.state(), QAbstractSocket::UnconnectedState, 10000);
    }

    // Issue 9: a folder and a symlink to outside swapped back and forth
    // (renameat2 RENAME_EXCHANGE) while the agent reads and writes through
    // that path. Checking a path and opening it later let reads return the
    // outside file and writes land outside; opening beneath the root without
    // following symlinks leaves no window. Once with openat2, once with the
    // O_NOFOLLOW walk (LOCKSTEP_AGENT_NO_OPENAT2).
    void symlinkSwapRace_data()
    {
        QTest::addColumn<bool>("walk");
        QTest::newRow("openat2") << false;
        QTest::newRow("walk") << true;
    }

    void symlinkSwapRace()
    {
        QFETCH(bool, walk);
        const QString tag = walk ? QStringLiteral("walk") : QStringLiteral("openat2");
        const QString ws = m_dir.filePath(QStringLiteral("ws-race-") + tag);
        const QString outside = m_dir.filePath(QStringLiteral("outside-race-") + tag);
        QVERIFY(QDir().mkpath(ws + u"/d"));
        QVERIFY(QDir().mkpath(outside));
        const auto writeText = [](const QString &path, const QByteArray &text) {
            QFile file(path);
            return file.open(QIODevice::WriteOnly) && file.write(text) == text.size();
        };
        QVERIFY(writeText(ws + u"/d/data.txt", "inside content\n"));
        QVERIFY(writeText(outside + u"/data.txt", "OUTSIDE content\n"));
        QVERIFY(QFile::link(outside, ws + u"/l"));

        if (walk)
            qputenv("LOCKSTEP_AGENT_NO_OPENAT2", "1");
        AgentProcess agent;
        const bool started = agent.start(ws, QStringLiteral("ws-race"), QStringLiteral("agent-race"), m_tokenFile);
        qunsetenv("LOCKSTEP_AGENT_NO_OPENAT2");
        QVERIFY2(started, qPrintable(agent.errorString()));
        auto connection = connectTo(agent.address());
        QVERIFY(connection->isReady());

        std::atomic<bool> stop{false};
        std::atomic<int> swaps{0};
        const QByteArray d = QFile::encodeName(ws + u"/d");
        const QByteArray l = QFile::encodeName(ws + u"/l");
        std::thread swapper([&] {
            while (!stop.load())
            {
                if (::renameat2(AT_FDCWD, d.constData(), AT_FDCWD, l.constData(), RENAME_EXCHANGE) == 0)
                    ++swaps;
            }
        });

        int readsInside = 0;
        int readsOutside = 0;
        int writesDone = 0;
        int refused = 0;
        QStringList unexpectedErrors;
        constexpr int Rounds = 400;
        for (int i = 0; i < Rounds; ++i)
        {
            std::optional<Reply> read;
            std::optional<Reply> written;
            connection->call(QStringLiteral("read_file"), {{QStringLiteral("path"), QStringLiteral("d/data.txt")}},
                             std::chrono::seconds(20), this, [&](const Reply &reply) { read = reply; });
            connection->call(QStringLiteral("write_file"),
                             {{QStringLiteral("path"), QStringLiteral("d/written.txt")},
                              {QStringLiteral("content"), QStringLiteral("from the agent\n")}},
                             std::chrono::seconds(20), this, [&](const Reply &reply) { written = reply; });
            if (!QTest::qWaitFor([&] { return read.has_value() && written.has_value(); }, 30000))
                break;
            for (const Reply *reply : {&*read, &*written})
            {
                if (!reply->hasValue())
                {
                    // A symlink met mid-swap may also read as "not a folder" (bad_request).
                    if (reply->error().code == Wire::Codes::PathEscape ||
                        reply->error().code == Wire::Codes::NotFound || reply->error().code == Wire::Codes::BadRequest)
                        ++refused;
                    else
                        unexpectedErrors.append(reply->error().code + QStringLiteral(": ") + reply->error().message);
                }
            }
            if (read->hasValue())
            {
                const QString content = read->value().value(u"content").toString();
                if (content.contains(u"OUTSIDE"))
                    ++readsOutside;
                else if (content == u"inside content\n")
                    ++readsInside;
            }
            if (written->hasValue())
                ++writesDone;
        }
        stop.store(true);
        swapper.join();

        qInfo("swaps %d, reads inside %d, outside %d, writes %d, refused %d", swaps.load(), readsInside, readsOutside,
              writesDone, refused);
        QVERIFY(swaps.load() > 0);
        QCOMPARE(readsOutside, 0);
        QVERIFY2(unexpectedErrors.isEmpty(), qPrintable(unexpectedErrors.join(u"; ")));
        // Nothing landed outside, and the outside file is unchanged.
        QCOMPARE(QDir(outside).entryList(QDir::Files | QDir::Hidden), QStringList{QStringLiteral("data.txt")});
        QFile data(outside + u"/data.txt");
        QVERIFY(data.open(QIODevice::ReadOnly));
        QCOMPARE(data.readAll(), QByteArrayLiteral("OUTSIDE content\n"));
        // Not vacuous: the path did work between swaps.
        QVERIFY(readsInside > 0);
        QVERIFY(writesDone > 0);
        QCOMPARE(agent.terminate(), 0);
    }

    void writeReplacesAHardLinkInsteadOfWritingThrough()
    {
        const auto written =
            call(QStringLiteral("write_file"), {{QStringLiteral("path"), QStringLiteral("hard-secret")},
                                                {QStringLiteral("content"), QStringLiteral("new content")}});
        QVERIFY(written && written->hasValue());
        QFile secret(m_outside + u"/secret.txt");
        QVERIFY(secret.open(QIODevice::ReadOnly));
        QCOMPARE(secret.readAll(), QByteArrayLiteral("outside secret\n"));
        QFile replaced(m_workspace + u"/hard-secret");
        QVERIFY(replaced.open(QIODevice::ReadOnly));
        QCOMPARE(replaced.readAll(), QByteArrayLiteral("new content"));
    }

    // Issue 9: `setsid`, `setsid -f` and `set -m` children left the command's
    // process group and outlived its limit. The agent is their subreaper now
    // and kills every process of the command (tree and marker) at the limit.
    void detachedChildrenDieAtTheLimit()
    {
        // A marker argument nothing else on the machine uses.
        const QString marker = QStringLiteral("1000.%1").arg(QRandomGenerator::global()->bounded(100000, 999999));
        const QString script =
            QStringLiteral("setsid sleep %1 & setsid -f sleep %1; set -m; sleep %1 & echo started; wait").arg(marker);
        const auto answer =
            call(QStringLiteral("run_command"),
                 {{QStringLiteral("argv"), QJsonArray{QStringLiteral("bash"), QStringLiteral("-c"), script}},
                  {QStringLiteral("timeoutMs"), 1500}});
        QVERIFY(answer.has_value());
        QVERIFY2(!answer->hasValue(), "the command came back as a result");
        QCOMPARE(answer->error().code, Wire::Codes::TimedOut);
        QVERIFY2(answer->error().output.contains(u"started"), qPrintable(answer->error().output));
        const QByteArray wanted = QByteArray("sleep", 6) + marker.toLatin1();
        const auto survivors = [&] {
            QStringList found;
            for (const QString &name : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
            {
                QFile cmdline(QStringLiteral("/proc/") + name + QStringLiteral("/cmdline"));
                if (cmdline.open(QIODevice::ReadOnly) && cmdline.readAll().startsWith(wanted))
                    found.append(name);
            }
            return found;
        };
        QTRY_VERIFY2_WITH_TIMEOUT(survivors().isEmpty(), qPrintable(survivors().join(u' ')), 15000);
        // And none is left as a zombie of the agent.
        const auto zombieChildren = [&] {
            int count = 0;
            for (const QString &name : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
            {
                QFile stat(QStringLiteral("/proc/") + name + QStringLiteral("/stat"));
                if (!stat.open(QIODevice::ReadOnly))
                    continue;
                const QByteArray line = stat.readAll();
                const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
                if (fields.size() > 1 && fields.at(0) == "Z" && fields.at(1).toLongLong() == m_agent.pid())
                    ++count;
            }
            return count;
        };
        QTRY_COMPARE_WITH_TIMEOUT(zombieChildren(), 0, 15000);
    }

    // Issue 9: 40 unauthenticated connections used to raise the agent to
    // 351 MB (each could buffer an 8 MiB line before its hello). Now at most
    // Wire::MaxHelloBytes are held before the hello; more closes the
    // connection with too_large.
    void unauthenticatedFloodIsBounded()
    {
        // A fresh agent, so its peak RSS (VmHWM) is this test's alone.
        AgentProcess agent;
        QVERIFY2(agent.start(m_workspace, QStringLiteral("ws-one"), QStringLiteral("agent-flood"), m_tokenFile),
                 qPrintable(agent.errorString()));
        const qint64 pid = agent.pid();
        const qint64 idleKb = statusKb(pid, "VmRSS");
        QVERIFY(idleKb > 0);

        constexpr int Connections = 40;
        const QByteArray junk(2 * 1024 * 1024, 'x');  // no newline
        std::vector<std::unique_ptr<QTcpSocket>> sockets;
        std::vector<QByteArray> received(Connections);
        for (int i = 0; i < Connections; ++i)
        {
            auto socket = std::make_unique<QTcpSocket>();
            QTcpSocket *raw = socket.get();
            connect(raw, &QTcpSocket::readyRead, this, [raw, &received, i] { received[i] += raw->readAll(); });
            raw->connectToHost(QHostAddress(QHostAddress::LocalHost), agent.port());
            QVERIFY(raw->waitForConnected(10000));
            raw->write(junk);
            sockets.push_back(std::move(socket));
        }
        const auto allClosed = [&] {
            return std::all_of(sockets.cbegin(), sockets.cend(),
                               [](const auto &socket) { return socket->state() == QAbstractSocket::UnconnectedState; });
        };
        QTRY_VERIFY_WITH_TIMEOUT(allClosed(), 60000);
        for (int i = 0; i < Connections; ++i)
            QVERIFY2(received[i].contains("too_large"), received[i].constData());
        // Generous: an idle agent is ~20 MiB; the flood was 80 MiB.
        const qint64 peakKb = statusKb(pid, "VmHWM");
        QVERIFY2(peakKb < idleKb + 24 * 1024,
                 qPrintable(QStringLiteral("peak %1 KiB, idle %2 KiB").arg(peakKb).arg(idleKb)));

        // The agent still serves.
        auto connection = connectTo(agent.address());
        QVERIFY(connection->isReady());

        // Silence is closed at the hello timeout with a readable reason.
        QTcpSocket silent;
        QByteArray said;
        connect(&silent, &QTcpSocket::readyRead, this, [&] { said += silent.readAll(); });
        silent.connectToHost(QHostAddress(QHostAddress::LocalHost), agent.port());
        QVERIFY(silent.waitForConnected(10000));
        QTRY_COMPARE_WITH_TIMEOUT(silent.state(), QAbstractSocket::UnconnectedState, 30000);
        QVERIFY2(said.contains("no hello in time"), said.constData());
        QCOMPARE(agent.terminate(), 0);
    }

    void commandLine_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("mentions");
        const QString ws = m_dir.filePath(QStringLiteral("ws-one"));
        QTest::newRow("listen not loopback") << QStringList{QStringLiteral("--listen"),     QStringLiteral("0.0.0.0:0"),
                                                            QStringLiteral("--workspace"),  ws,
                                                            QStringLiteral("--token-file"), m_tokenFile}
                                             << QStringLiteral("--listen");
        QTest::newRow("no workspace") << QStringList{QStringLiteral("--token-file"), m_tokenFile}
                                      << QStringLiteral("--workspace");
        QTest::newRow("workspace missing")
            << QStringList{QStringLiteral("--workspace"), ws + u"/nope", QStringLiteral("--token-file"), m_tokenFile}
            << QStringLiteral("--workspace");
        QTest::newRow("gateway without token file")
            << QStringList{QStringLiteral("--workspace"), ws, QStringLiteral("--gateway"),
                           QStringLiteral("http://127.0.0.1:1")}
            << QStringLiteral("--token-file");
        QTest::newRow("bad secret file") << QStringList{QStringLiteral("--workspace"), ws,
                                                        QStringLiteral("--secret-file"), ws + u"/nope"}
                                         << QStringLiteral("--secret-file");
        QTest::newRow("bad agent id") << QStringList{QStringLiteral("--workspace"),  ws,
                                                     QStringLiteral("--token-file"), m_tokenFile,
                                                     QStringLiteral("--agent-id"),   QStringLiteral("a b")}
                                      << QStringLiteral("--agent-id");
        QTest::newRow("bad gateway") << QStringList{QStringLiteral("--workspace"),  ws,
                                                    QStringLiteral("--token-file"), m_tokenFile,
                                                    QStringLiteral("--gateway"),    QStringLiteral("ftp://x")}
                                     << QStringLiteral("--gateway");
        QTest::newRow("bad timeout") << QStringList{QStringLiteral("--workspace"),       ws,
                                                    QStringLiteral("--token-file"),      m_tokenFile,
                                                    QStringLiteral("--command-timeout"), QStringLiteral("soon")}
                                     << QStringLiteral("--command-timeout");
    }

    void commandLine()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, mentions);
        QProcess process;
        process.start(AgentProcess::binary(), arguments);
        QVERIFY(process.waitForFinished(30000));
        QCOMPARE(process.exitCode(), 2);
        const QString err = QString::fromUtf8(process.readAllStandardError());
        QStringList lines;
        for (const QString &line : err.split(u'\n', Qt::SkipEmptyParts))
        {
            if (line.startsWith(u"lockstep-agent: "))
                lines.append(line);
        }
        QCOMPARE(lines.size(), 1);
        QVERIFY2(lines.constFirst().contains(mentions), qPrintable(err));
    }

    // A stand-in gateway serving the routes of workspaceroutes.h on a real
    // SQLite store: the agent registers at start and leaves the build on SIGTERM.
    void registersWithTheGateway()
    {
        auto store = Store::RunStore::open(QStringLiteral("sqlite:") + m_dir.filePath(QStringLiteral("gateway.db")));
        QVERIFY2(store, store ? "" : qPrintable(store.error().message));
        QHttpServer http;
        QByteArray lastAuthorization;
        http.route(QStringLiteral("/api/v1/workspaces/<arg>/agent"), [&](const QString &workspaceId,
                                                                         const QHttpServerRequest &request) {
            lastAuthorization = request.value("Authorization");
            Routes::Reply reply;
            if (request.method() == QHttpServerRequest::Method::Post)
                reply = Routes::registerAgent((*store)->workspaces(), workspaceId, request.body());
            else if (request.method() == QHttpServerRequest::Method::Delete)
                reply = Routes::stopWorkspace((*store)->workspaces(), workspaceId,
                                              request.query().queryItemValue(QStringLiteral("agentID")));
            else
                reply = Routes::currentAgent((*store)->workspaces(), workspaceId);
            return QHttpServerResponse(reply.body, static_cast<QHttpServerResponse::StatusCode>(reply.status));
        });
        const quint16 port = http.listen(QHostAddress(QHostAddress::LocalHost), 0);
        QVERIFY(port != 0);

        const QString ws = m_dir.filePath(QStringLiteral("ws-reg"));
        QVERIFY(QDir().mkpath(ws));
        AgentProcess agent;
        QVERIFY2(agent.start(ws, QStringLiteral("ws-reg"), QStringLiteral("agent-r1"), m_tokenFile,
                             {QStringLiteral("--gateway"), QStringLiteral("http://127.0.0.1:%1").arg(port)}),
                 qPrintable(agent.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                const auto state = (*store)->workspaces().workspaceState(QStringLiteral("ws-reg"));
                return state && state.value() && state.value()->agentId == u"agent-r1";
            }(),
            20000);
        QCOMPARE(lastAuthorization, QByteArray("Bearer " + Test::AgentTestToken));
        const auto registered = (*store)->workspaces().workspaceState(QStringLiteral("ws-reg"));
        QCOMPARE(registered.value()->port, int(agent.port()));
        QCOMPARE(registered.value()->host, QStringLiteral("127.0.0.1"));
        const qint64 build = registered.value()->build;

        // SIGTERM: the agent takes itself out of the latest build, then exits.
        // The event loop must run meanwhile (the gateway is in this process).
        const qint64 pid = agent.pid();
        ::kill(static_cast<pid_t>(pid), SIGTERM);
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                const auto state = (*store)->workspaces().workspaceState(QStringLiteral("ws-reg"));
                return state && state.value() && state.value()->agentId.isEmpty();
            }(),
            20000);
        QCOMPARE((*store)->workspaces().workspaceState(QStringLiteral("ws-reg")).value()->build, build + 1);
        QTRY_VERIFY_WITH_TIMEOUT(!agent.isRunning() || processGone(pid), 20000);
    }

    void servesWhenTheGatewayHasNoRoute()
    {
        // A gateway without the route answers 404: the agent says so once and serves.
        QHttpServer http;
        http.route(QStringLiteral("/healthz"), [] {
            return QJsonObject{{QStringLiteral("status"), QStringLiteral("ok")}};
        });
        const quint16 port = http.listen(QHostAddress(QHostAddress::LocalHost), 0);
        QVERIFY(port != 0);
        const QString ws = m_dir.filePath(QStringLiteral("ws-404"));
        QVERIFY(QDir().mkpath(ws));
        AgentProcess agent;
        QVERIFY2(agent.start(ws, QStringLiteral("ws-404"), QStringLiteral("agent-n1"), m_tokenFile,
                             {QStringLiteral("--gateway"), QStringLiteral("http://127.0.0.1:%1").arg(port)}),
                 qPrintable(agent.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(agent.log().contains(u"has no workspace registration route"), 20000);
        auto connection = connectTo(agent.address());
        QVERIFY(connection->isReady());
        QCOMPARE(agent.terminate(), 0);

        // No gateway at all: also a warning, and still serving.
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress(QHostAddress::LocalHost), 0));
        const quint16 deadPort = closed.serverPort();
        closed.close();
        AgentProcess lonely;
        QVERIFY2(lonely.start(ws, QStringLiteral("ws-404"), QStringLiteral("agent-n2"), m_tokenFile,
                              {QStringLiteral("--gateway"), QStringLiteral("http://127.0.0.1:%1").arg(deadPort)}),
                 qPrintable(lonely.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(lonely.log().contains(u"cannot register with the gateway"), 20000);
        auto second = connectTo(lonely.address());
        QVERIFY(second->isReady());
        QCOMPARE(lonely.terminate(), 0);
    }

    // ---- in-process units -------------------------------------------------------------

    void folderResolution()
    {
        const auto folder = WorkspaceFolder::open(m_workspace);
        QVERIFY(folder);
        const QString root = QFileInfo(m_workspace).canonicalFilePath();
        QCOMPARE(folder->root(), root);
        QCOMPARE(folder->relativePath(QStringLiteral("")).value(), QStringLiteral("."));
        QCOMPARE(folder->relativePath(QStringLiteral("./sub//notes.txt")).value(), QStringLiteral("sub/notes.txt"));
        QCOMPARE(folder->relativePath(root + u"/README.md").value(), QStringLiteral("README.md"));
        QVERIFY(folder->openBeneath(QStringLiteral("sub/notes.txt"), O_RDONLY));
        QVERIFY(folder->openBeneath(QStringLiteral("."), O_RDONLY | O_DIRECTORY));
        QCOMPARE(folder->openForWrite(QStringLiteral("sub/new.txt")).value().relative, QStringLiteral("sub/new.txt"));
        QCOMPARE(folder->openForWrite(QStringLiteral("missing/new.txt")).error().code, Wire::Codes::NotFound);
        QCOMPARE(folder->openForWrite(QStringLiteral(".")).error().code, Wire::Codes::BadRequest);
        QCOMPARE(folder->openForWrite(QStringLiteral("sub")).error().code, Wire::Codes::BadRequest);
        QCOMPARE(folder->openForWrite(QStringLiteral("sub/readme-link")).error().code, Wire::Codes::PathEscape);
        QCOMPARE(folder->relativePath(QStringLiteral("a/../README.md")).error().code, Wire::Codes::PathEscape);
        QCOMPARE(folder->openBeneath(QStringLiteral("nope"), O_RDONLY).error().code, Wire::Codes::NotFound);
        QCOMPARE(folder->openBeneath(QStringLiteral("dangling"), O_RDONLY).error().code, Wire::Codes::PathEscape);
        QCOMPARE(folder->openBeneath(QStringLiteral("link-out/secret.txt"), O_RDONLY).error().code,
                 Wire::Codes::PathEscape);
        QCOMPARE(folder->openBeneath(QStringLiteral("sub/readme-link"), O_RDONLY).error().code,
                 Wire::Codes::PathEscape);
        QCOMPARE(folder->relativePath(QStringLiteral("READ") + QChar(u'\0') + QStringLiteral("ME")).error().code,
                 Wire::Codes::BadRequest);
        QVERIFY(!WorkspaceFolder::open(m_workspace + u"/README.md"));
        QVERIFY(!WorkspaceFolder::open(QStringLiteral("")));
    }

    void lineBuffer()
    {
        Wire::LineBuffer buffer(10);
        QVERIFY(buffer.append("abc\ndef"));
        QCOMPARE(buffer.takeLine().value(), QByteArrayLiteral("abc"));
        QVERIFY(!buffer.takeLine());
        QVERIFY(buffer.append("gh\r\n"));
        QCOMPARE(buffer.takeLine().value(), QByteArrayLiteral("defgh"));
        // A complete line over the limit inside one chunk is caught too.
        Wire::LineBuffer strict(4);
        QVERIFY(!strict.append("0123456789\nok\n"));
        Wire::LineBuffer growing(4);
        QVERIFY(growing.append("012"));
        QVERIFY(!growing.append("34"));
    }
};

QTEST_GUILESS_MAIN(TestWorkspaceTools)
#include "tst_workspacetools.moc"
