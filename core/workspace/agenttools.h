#pragma once

#include <chrono>
#include <optional>

#include <QByteArray>
#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTimer>

#include "common/result.h"
#include "workspace/agentprotocol.h"
#include "workspace/workspacefolder.h"

namespace Lockstep::Workspace
{
    using ToolResult = Result<QJsonObject, Wire::ErrorBody>;

    struct ToolLimits
    {
        // run_command without timeoutMs gets this limit; a larger timeoutMs is refused.
        std::chrono::milliseconds defaultCommandTimeout{30000};
        std::chrono::milliseconds maxCommandTimeout{10 * 60 * 1000};
    };

    // read_file, write_file, list_dir: quick and synchronous.
    ToolResult runFileTool(const WorkspaceFolder &folder, const QString &tool, const QJsonObject &args);

    // The checked arguments of run_command.
    struct CommandSpec
    {
        QStringList argv;                    // program first
        QString workingDirectory;            // canonical, inside the workspace
        std::chrono::milliseconds timeout{0};
    };
    Result<CommandSpec, Wire::ErrorBody> parseCommand(const WorkspaceFolder &folder, const QJsonObject &args,
                                                      const ToolLimits &limits);

    // One run_command: the program runs in its own process group, with stdin
    // closed and stdout+stderr merged and capped. At the time limit the whole
    // group is killed (SIGKILL), and again when the program exits, so nothing
    // it started in the background outlives the call. Destroying a run that is
    // still going kills it the same way.
    class CommandRun final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(CommandRun)

    public:
        explicit CommandRun(CommandSpec spec, QObject *parent = nullptr);
        ~CommandRun() override;

        void start();
        // The leader's pid (and the group's ID) once started, else 0.
        qint64 pid() const;
        // Set when done() was emitted: {exitCode, output, truncated} or an error
        // (timed_out with the partial output, start_failed).
        const std::optional<ToolResult> &outcome() const;

    signals:
        void done();

    private:
        void onOutput();
        void onFinished(int exitCode, QProcess::ExitStatus status);
        void onError(QProcess::ProcessError error);
        void onTimeout();
        void killGroup();
        void complete(ToolResult result);

        CommandSpec m_spec;
        QProcess m_process;
        QTimer m_timer;
        QByteArray m_output;
        bool m_cut = false;
        bool m_timedOut = false;
        qint64 m_pid = 0;
        std::optional<ToolResult> m_outcome;
    };
} // namespace Lockstep::Workspace
