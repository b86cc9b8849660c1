#include "cancelconfirmation.h"

#include <QCoreApplication>
#include <QMessageBox>
#include <QPushButton>

namespace Lockstep::Ui
{
    QMessageBox *makeCancelConfirmation(const QString &workflowId, const std::optional<RunStatus> status,
                                        QWidget *parent)
    {
        const bool running = (status == RunStatus::Running);
        const QString what =
            running
                ? QCoreApplication::translate("CancelConfirmation",
                                              "It is running: the execution stops at its next step and the run ends as "
                                              "stopped; it cannot be resumed.")
            : status ? QCoreApplication::translate("CancelConfirmation",
                                                   "It is %1: cancelling ends it as stopped; it cannot be resumed.")
                           .arg(humanName(*status))
                     : QCoreApplication::translate("CancelConfirmation",
                                                   "Cancelling ends it as stopped; it cannot be resumed.");
        auto *box = new QMessageBox(
            QMessageBox::Question, QCoreApplication::translate("CancelConfirmation", "Cancel workflow"),
            QCoreApplication::translate("CancelConfirmation", "Cancel workflow %1?\n\n%2").arg(workflowId, what),
            QMessageBox::Yes | QMessageBox::No, parent);
        box->setObjectName(QStringLiteral("cancelConfirmation"));
        box->button(QMessageBox::Yes)->setText(QCoreApplication::translate("CancelConfirmation", "&Cancel the run"));
        box->button(QMessageBox::No)
            ->setText(running ? QCoreApplication::translate("CancelConfirmation", "&Keep it running")
                              : QCoreApplication::translate("CancelConfirmation", "&Don't cancel"));
        box->setDefaultButton(QMessageBox::No);
        box->setEscapeButton(QMessageBox::No);
        box->setWindowModality(Qt::WindowModal);
        box->setAttribute(Qt::WA_DeleteOnClose);
        return box;
    }

    bool cancelConfirmed(const QMessageBox *box)
    {
        return box && box->clickedButton() && (box->clickedButton() == box->button(QMessageBox::Yes));
    }
}  // namespace Lockstep::Ui
