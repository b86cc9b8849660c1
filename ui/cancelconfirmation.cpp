#include "cancelconfirmation.h"

#include <QCoreApplication>
#include <QMessageBox>
#include <QPushButton>

namespace Lockstep::Ui
{
    namespace
    {
        QString tr(const char *text)
        {
            return QCoreApplication::translate("CancelConfirmation", text);
        }
    }  // namespace

    QMessageBox *makeCancelConfirmation(const QString &workflowId, const std::optional<RunStatus> status,
                                        QWidget *parent)
    {
        const bool running = (status == RunStatus::Running);
        const QString what =
            running  ? tr("It is running: the execution stops at its next step and the run ends as "
                           "stopped; it cannot be resumed.")
            : status ? tr("It is %1: cancelling ends it as stopped; it cannot be resumed.").arg(humanName(*status))
                     : tr("Cancelling ends it as stopped; it cannot be resumed.");
        auto *box = new QMessageBox(QMessageBox::Question, tr("Cancel workflow"),
                                    tr("Cancel workflow %1?\n\n%2").arg(workflowId, what),
                                    QMessageBox::Yes | QMessageBox::No, parent);
        box->setObjectName(QStringLiteral("cancelConfirmation"));
        box->button(QMessageBox::Yes)->setText(tr("&Cancel the run"));
        box->button(QMessageBox::No)->setText(running ? tr("&Keep it running") : tr("&Don't cancel"));
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
