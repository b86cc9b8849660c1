#include "workspacelog.h"

Q_LOGGING_CATEGORY(lcWorkspace, "lockstep.workspace")
