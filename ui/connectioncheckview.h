#pragma once

#include <QWidget>

#include "connectioncheck.h"

class QLabel;
class QPushButton;

namespace Lockstep::Ui
{
    // The "Test connection" button with its result under it: a one-line verdict
    // and the steps (reachable, token, version, replica, stores, switches; an off
    // switch in red). The dialog that holds it supplies the endpoint on
    // testRequested(); a test still running when the view hides is cancelled.
    class ConnectionCheckView final : public QWidget
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ConnectionCheckView)

    public:
        explicit ConnectionCheckView(QWidget *parent = nullptr);

        void run(const GatewayEndpoint &endpoint);
        // The form cannot be tested (e.g. a bad URL): said in the verdict line.
        void showProblem(const QString &text);
        void clear();

        ConnectionCheck *checker() const;
        QPushButton *button() const;
        QString verdictText() const;
        QString detailsText() const;

    signals:
        void testRequested();

    protected:
        void hideEvent(QHideEvent *event) override;

    private:
        void showReport(const ConnectionReport &report);
        void setVerdict(const QString &text, Theme::Tone tone);
        void growWindow();

        ConnectionCheck *m_check;
        QPushButton *m_button;
        QLabel *m_verdict;
        QLabel *m_details;
    };
}  // namespace Lockstep::Ui
