#pragma once

#include <QDialog>
#include <QList>
#include <QString>
#include <QStringList>

#include "gatewayapi.h"

class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

namespace Lockstep::Ui
{
    // New workflow: the goal first, the flows the gateway runs (name and
    // description, from GET /api/v1/flows), an optional workflow ID and
    // workspace ID. Each field says what is wrong with it as it is typed;
    // Start stays disabled until everything is valid.
    class NewWorkflowDialog final : public QDialog
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(NewWorkflowDialog)

    public:
        // `api` null: only `fallbackFlows` (no descriptions). Otherwise the
        // gateway's list is asked for; `fallbackFlows` is shown, with a note,
        // if the gateway cannot list them (404 from an older gateway, an error).
        NewWorkflowDialog(GatewayApi *api, const QStringList &fallbackFlows, QWidget *parent = nullptr);

        QString goal() const;
        QString flow() const;
        // Empty when left blank (the console picks one).
        QString workflowId() const;
        QString workspaceId() const;
        // Every field valid and a flow chosen.
        bool isValid() const;
        // The note under the flow list ("loading…", the fallback's reason); empty when none.
        QString flowNote() const;

        // Shows `flows` (what the gateway answered).
        void setFlows(const QList<FlowInfo> &flows);

    private:
        void useFallback(const QString &why);
        void validate();
        void showFlowDescription();

        QStringList m_fallback;
        QPlainTextEdit *m_goal;
        QLabel *m_goalError;
        QComboBox *m_flow;
        QLabel *m_flowDescription;
        QLabel *m_flowNote;
        QLineEdit *m_workflowId;
        QLabel *m_workflowIdError;
        QLineEdit *m_workspaceId;
        QLabel *m_workspaceIdError;
        QDialogButtonBox *m_buttons;
        QPushButton *m_start;
        bool m_goalTouched = false;
    };
}  // namespace Lockstep::Ui
