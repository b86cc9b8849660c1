#include "newworkflowdialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "agent/agentaddress.h"
#include "protocol/workflowid.h"
#include "theme.h"

namespace Lockstep::Ui
{
    namespace
    {
        constexpr int DescriptionRole = Qt::UserRole + 1;

        QLabel *errorLabel(const QString &objectName, const QString &accessibleName, QWidget *parent)
        {
            auto *label = new QLabel(parent);
            label->setObjectName(objectName);
            label->setAccessibleName(accessibleName);
            label->setWordWrap(true);
            QPalette palette = label->palette();
            palette.setColor(QPalette::WindowText, Theme::toneColor(Theme::Tone::Bad, palette));
            label->setPalette(palette);
            label->hide();
            return label;
        }

        void showProblem(QLabel *label, const QString &problem)
        {
            label->setText(problem);
            label->setVisible(!problem.isEmpty());
        }
    }  // namespace

    NewWorkflowDialog::NewWorkflowDialog(GatewayApi *api, const QStringList &fallbackFlows, QWidget *parent)
        : QDialog(parent)
        , m_fallback(fallbackFlows)
        , m_goal(new QPlainTextEdit(this))
        , m_goalError(errorLabel(QStringLiteral("goalError"), tr("Goal problem"), this))
        , m_flow(new QComboBox(this))
        , m_flowDescription(new QLabel(this))
        , m_flowNote(new QLabel(this))
        , m_workflowId(new QLineEdit(this))
        , m_workflowIdError(errorLabel(QStringLiteral("workflowIdError"), tr("Workflow ID problem"), this))
        , m_workspaceId(new QLineEdit(this))
        , m_workspaceIdError(errorLabel(QStringLiteral("workspaceIdError"), tr("Workspace ID problem"), this))
        , m_buttons(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
        , m_start(m_buttons->button(QDialogButtonBox::Ok))
    {
        setObjectName(QStringLiteral("newWorkflowDialog"));
        setWindowTitle(tr("New workflow"));

        m_goal->setObjectName(QStringLiteral("goalEdit"));
        m_goal->setAccessibleName(tr("Goal"));
        m_goal->setTabChangesFocus(true);
        m_goal->setPlaceholderText(tr("What should the agent do? (the first message of the run)"));
        m_goal->setFixedHeight((fontMetrics().lineSpacing() * 4) + (2 * m_goal->frameWidth()) + 8);

        m_flow->setObjectName(QStringLiteral("flowCombo"));
        m_flow->setAccessibleName(tr("Flow"));
        m_flowDescription->setObjectName(QStringLiteral("flowDescription"));
        m_flowDescription->setAccessibleName(tr("Flow description"));
        m_flowDescription->setWordWrap(true);
        m_flowNote->setObjectName(QStringLiteral("flowNote"));
        m_flowNote->setAccessibleName(tr("Flow list note"));
        m_flowNote->setWordWrap(true);
        QPalette muted = m_flowNote->palette();
        muted.setColor(QPalette::WindowText, muted.color(QPalette::PlaceholderText));
        m_flowDescription->setPalette(muted);
        m_flowNote->setPalette(muted);

        m_workflowId->setObjectName(QStringLiteral("workflowIdEdit"));
        m_workflowId->setAccessibleName(tr("Workflow ID"));
        m_workflowId->setPlaceholderText(tr("optional: generated when empty"));
        m_workspaceId->setObjectName(QStringLiteral("workspaceIdEdit"));
        m_workspaceId->setAccessibleName(tr("Workspace ID"));
        m_workspaceId->setPlaceholderText(tr("optional: the workspace its tools run in"));

        m_start->setObjectName(QStringLiteral("startButton"));
        m_start->setText(tr("&Start"));
        m_start->setEnabled(false);

        auto *form = new QFormLayout;
        form->addRow(tr("&Goal:"), m_goal);
        form->addRow(QString(), m_goalError);
        form->addRow(tr("&Flow:"), m_flow);
        form->addRow(QString(), m_flowDescription);
        form->addRow(QString(), m_flowNote);
        form->addRow(tr("&Workflow ID:"), m_workflowId);
        form->addRow(QString(), m_workflowIdError);
        form->addRow(tr("W&orkspace ID:"), m_workspaceId);
        form->addRow(QString(), m_workspaceIdError);
        auto *layout = new QVBoxLayout(this);
        layout->addLayout(form);
        layout->addWidget(m_buttons);

        connect(m_goal, &QPlainTextEdit::textChanged, this, [this] {
            m_goalTouched = true;
            validate();
        });
        connect(m_workflowId, &QLineEdit::textChanged, this, &NewWorkflowDialog::validate);
        connect(m_workspaceId, &QLineEdit::textChanged, this, &NewWorkflowDialog::validate);
        connect(m_flow, &QComboBox::currentIndexChanged, this, [this] {
            showFlowDescription();
            validate();
        });
        connect(m_buttons, &QDialogButtonBox::accepted, this, [this] {
            if (isValid())
                accept();
        });
        connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

        if (api)
        {
            m_flow->setEnabled(false);
            m_flowNote->setText(tr("Asking the gateway for its flows…"));
            api->listFlows(this, [this](ApiResult<QList<FlowInfo>> flows) {
                if (flows && !flows->isEmpty())
                    setFlows(*flows);
                else if (flows)
                    useFallback(tr("The gateway lists no flows; showing the built-in ones."));
                else if (flows.error().httpStatus == 404)
                    useFallback(tr("This gateway is older and cannot list its flows; showing the built-in ones "
                                   "(a flow it does not run is refused when you start)."));
                else
                    useFallback(tr("Cannot ask the gateway for its flows (%1); showing the built-in ones.")
                                    .arg(flows.error().describe()));
            });
        }
        else
        {
            useFallback({});
        }

        // The goal comes first: a person starts by saying what they want.
        setTabOrder(m_goal, m_flow);
        setTabOrder(m_flow, m_workflowId);
        setTabOrder(m_workflowId, m_workspaceId);
        m_goal->setFocus(Qt::OtherFocusReason);
        validate();
        resize(fontMetrics().averageCharWidth() * 80, sizeHint().height());
    }

    void NewWorkflowDialog::setFlows(const QList<FlowInfo> &flows)
    {
        const QString previous = flow();
        m_flow->clear();
        for (const FlowInfo &info : flows)
        {
            m_flow->addItem(info.name);
            m_flow->setItemData(m_flow->count() - 1, info.description, DescriptionRole);
            m_flow->setItemData(m_flow->count() - 1, info.description, Qt::ToolTipRole);
        }
        // hello is the everyday flow: preselect it when the gateway has it.
        const int preferred = m_flow->findText(previous.isEmpty() ? QStringLiteral("hello") : previous);
        m_flow->setCurrentIndex(std::max(0, preferred));
        m_flow->setEnabled(true);
        m_flowNote->clear();
        m_flowNote->hide();
        showFlowDescription();
        validate();
    }

    void NewWorkflowDialog::useFallback(const QString &why)
    {
        QList<FlowInfo> flows;
        for (const QString &name : std::as_const(m_fallback))
            flows.append(FlowInfo{.name = name, .description = {}});
        setFlows(flows);
        m_flowNote->setText(why);
        m_flowNote->setVisible(!why.isEmpty());
    }

    void NewWorkflowDialog::showFlowDescription()
    {
        const QString description = m_flow->currentData(DescriptionRole).toString();
        m_flowDescription->setText(description);
        m_flowDescription->setVisible(!description.isEmpty());
    }

    void NewWorkflowDialog::validate()
    {
        showProblem(m_goalError, (m_goalTouched && goal().isEmpty())
                                     ? tr("Say what the agent should do: the goal is empty.")
                                     : QString());
        const QString id = workflowId();
        // The rule is core/protocol/workflowid.h's, said the way the gateway says it.
        showProblem(m_workflowIdError, (id.isEmpty() || Protocol::isValidWorkflowId(id))
                                           ? QString()
                                           : tr("Not a workflow ID — %1. The rule: 1 to %2 characters of "
                                                "[A-Za-z0-9._:-], not only dots.")
                                                 .arg(Protocol::workflowIdProblem(id))
                                                 .arg(Protocol::MaxWorkflowIdLength));
        const QString workspace = workspaceId();
        showProblem(m_workspaceIdError, (workspace.isEmpty() || Workspace::isValidWorkspaceId(workspace))
                                            ? QString()
                                            : tr("Not a workspace ID — the rule: [A-Za-z0-9][A-Za-z0-9_.-]{0,127} "
                                                 "(a letter or digit first, at most 128 characters)."));
        m_start->setEnabled(isValid());
        m_start->setToolTip(isValid() ? tr("Start the workflow")
                                      : tr("Fill in the goal and fix the fields marked in red"));
    }

    bool NewWorkflowDialog::isValid() const
    {
        const QString id = workflowId();
        const QString workspace = workspaceId();
        return !goal().isEmpty() && !flow().isEmpty() && m_flow->isEnabled() &&
               (id.isEmpty() || Protocol::isValidWorkflowId(id)) &&
               (workspace.isEmpty() || Workspace::isValidWorkspaceId(workspace));
    }

    QString NewWorkflowDialog::flowNote() const
    {
        return m_flowNote->isHidden() ? QString() : m_flowNote->text();
    }

    QString NewWorkflowDialog::goal() const
    {
        return m_goal->toPlainText().trimmed();
    }

    QString NewWorkflowDialog::flow() const
    {
        return m_flow->currentText().trimmed();
    }

    QString NewWorkflowDialog::workflowId() const
    {
        return m_workflowId->text().trimmed();
    }

    QString NewWorkflowDialog::workspaceId() const
    {
        return m_workspaceId->text().trimmed();
    }
}  // namespace Lockstep::Ui
