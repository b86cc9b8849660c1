#include "migrations.h"

namespace Lockstep::Store
{
    const QList<Migration> &migrations()
    {
        static const QList<Migration> list = {
            {
                .version = 1,
                .description = QStringLiteral("runs, chat entries, fence counter"),
                .statements =
                    {
                        // Timestamps are UTC epoch milliseconds from the gateway's
                        // clock (see StoreOptions::nowMs), on both backends.
                        QStringLiteral(
                            "CREATE TABLE runs ("
                            " id TEXT PRIMARY KEY,"
                            " status TEXT NOT NULL CHECK (status IN ('created', 'running', 'paused', 'finished',"
                            "  'failed', 'stopped', 'input_required', 'plan_approval_required',"
                            "  'tool_call_approval_required')),"
                            " goal TEXT NOT NULL,"
                            " flow TEXT NOT NULL,"
                            " created_at BIGINT NOT NULL,"
                            " last_activity_at BIGINT NOT NULL,"
                            " completed_at BIGINT,"
                            " fence BIGINT NOT NULL,"
                            " last_seq BIGINT NOT NULL DEFAULT 0,"
                            " reason TEXT NOT NULL DEFAULT '')"),
                        // The list query: by status (or not), newest activity first.
                        QStringLiteral("CREATE INDEX runs_status_activity_idx ON runs (status, last_activity_at)"),
                        QStringLiteral("CREATE INDEX runs_activity_idx ON runs (last_activity_at)"),
                        // One row per message_id; a replaced entry takes a new seq.
                        QStringLiteral("CREATE TABLE chat_entries ("
                                       " workflow_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
                                       " message_id TEXT NOT NULL,"
                                       " seq BIGINT NOT NULL,"
                                       " message_type TEXT NOT NULL,"
                                       " entry TEXT NOT NULL,"
                                       " updated_at BIGINT NOT NULL,"
                                       " PRIMARY KEY (workflow_id, message_id))"),
                        QStringLiteral("CREATE UNIQUE INDEX chat_entries_seq_idx ON chat_entries (workflow_id, seq)"),
                        QStringLiteral("CREATE TABLE fence_counter ("
                                       " id INTEGER PRIMARY KEY CHECK (id = 1),"
                                       " value BIGINT NOT NULL)"),
                        QStringLiteral("INSERT INTO fence_counter (id, value) VALUES (1, 0)"),
                    },
            },
            {
                .version = 2,
                .description = QStringLiteral("workspace agents"),
                .statements =
                    {
                        // One row per workspace: the agent of its latest build.
                        // agent_id NULL: the latest build has no running agent (the
                        // workspace is stopped). build grows with every new agent
                        // and every stop, so a stale binding is easy to tell.
                        QStringLiteral("CREATE TABLE workspace_agents ("
                                       " workspace_id TEXT PRIMARY KEY,"
                                       " build BIGINT NOT NULL,"
                                       " agent_id TEXT,"
                                       " host TEXT NOT NULL DEFAULT '',"
                                       " port INTEGER NOT NULL DEFAULT 0,"
                                       " updated_at BIGINT NOT NULL)"),
                    },
            },
            {
                .version = 3,
                .description = QStringLiteral("workspace agent secrets"),
                .statements =
                    {
                        // The agent's own credential from its registration: the
                        // gateway presents it when it dials the agent (never one of
                        // the gateway's tokens). '' after a stop.
                        QStringLiteral("ALTER TABLE workspace_agents ADD COLUMN agent_secret TEXT NOT NULL DEFAULT ''"),
                    },
            },
            {
                .version = 4,
                .description = QStringLiteral("the workspace binding of a run"),
                .statements =
                    {
                        // The workspace a run's workspace steps use and the agent
                        // it used last (NULL: none yet), so a later turn needs no
                        // workspaceID from the client and dials that agent first.
                        QStringLiteral("ALTER TABLE runs ADD COLUMN workspace_id TEXT"),
                        QStringLiteral("ALTER TABLE runs ADD COLUMN workspace_agent_id TEXT"),
                    },
            },
        };
        return list;
    }
}  // namespace Lockstep::Store
