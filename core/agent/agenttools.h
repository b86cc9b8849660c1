#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <QByteArray>
#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTimer>

#include "agent/agentprotocol.h"
#include "agent/workspacefolder.h"
#include "common/result.h"

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
        QStringList argv;                     // program first
        QString workingDirectory;             // relative to the workspace root, for messages
        std::shared_ptr<UniqueFd> directory;  // the working folder, opened beneath the root
        std::chrono::milliseconds timeout{0};
    };
    Result<CommandSpec, Wire::ErrorBody> parseCommand(const WorkspaceFolder &folder, const QJsonObject &args,
                                                      const ToolLimits &limits);

    // Makes the calling process (the agent) the subreaper of its descendants
    // (PR_SET_CHILD_SUBREAPER): a command's process that leaves its parent
    // behind (`setsid -f`, a double fork) is re-parented to the agent instead
    // of init, so it can still be found and reaped. false: the kernel refused.
    bool becomeSubreaper();

    // Reaps the zombies among the agent's children that no CommandRun started
    // (processes adopted as subreaper). The commands' own leaders are left to
    // QProcess. Call it from the event loop (AgentServer does, periodically).
    void reapAdoptedZombies();

    // The environment variable every run_command carries, with a value unique
    // to the run: descendants inherit it, so processes re-parented to the
    // agent can still be told apart by command.
    inline constexpr char CommandMarkerVariable[] = "LOCKSTEP_COMMAND_ID";

    // One run_command: the program runs in its own process group, with stdin
    // closed and stdout+stderr merged and capped, and the CommandMarkerVariable
    // in its environment. At the time limit, and again when the program exits,
    // every descendant is killed (SIGKILL): the process group, the process tree
    // under the leader, and every process of the agent's tree that carries this
    // run's marker (with the agent as subreaper, `setsid`, `setsid -f` and
    // `set -m` children stay in the agent's tree). Only a process that both
    // leaves the tree and clears its environment escapes. Destroying a run that
    // is still going kills it the same way.
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
        void killDescendants();
        void complete(ToolResult result);

        CommandSpec m_spec;
        QProcess m_process;
        QTimer m_timer;
        QByteArray m_output;
        bool m_cut = false;
        bool m_timedOut = false;
        qint64 m_pid = 0;
        QByteArray m_marker;  // "LOCKSTEP_COMMAND_ID=<agent pid>-<n>"
        std::optional<ToolResult> m_outcome;
    };
}  // namespace Lockstep::Workspace
