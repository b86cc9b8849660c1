#pragma once

#include <optional>

#include <QString>

#include "protocol/runstatus.h"

class QMessageBox;
class QWidget;

namespace Lockstep::Ui
{
    // The one Cancel question of the console (a tab's Cancel, the run list's
    // context menu): it matches the run, "keep it running" only for a run
    // that runs. Window-modal, deletes itself when closed; Yes is "Cancel the
    // run", No the default and Escape. The caller connects finished() and opens it.
    QMessageBox *makeCancelConfirmation(const QString &workflowId, std::optional<RunStatus> status, QWidget *parent);
    // Whether `box` (made above) was answered with "Cancel the run".
    bool cancelConfirmed(const QMessageBox *box);
}  // namespace Lockstep::Ui
