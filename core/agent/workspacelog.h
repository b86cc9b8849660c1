#pragma once

#include <QLoggingCategory>

// The workspaces area: the agent's tool server, dialing agents, registration.
// QT_LOGGING_RULES="lockstep.workspace.debug=true" shows every dial event.
Q_DECLARE_LOGGING_CATEGORY(lcWorkspace)
