#include "mainwindow.h"

#include <QLabel>

namespace Lockstep::Ui
{
    MainWindow::MainWindow(QWidget *parent)
        : QMainWindow(parent)
    {
        setWindowTitle(QStringLiteral("Lockstep"));
        auto *placeholder = new QLabel(tr("The console's workflow views are not built yet."), this);
        placeholder->setAlignment(Qt::AlignCenter);
        setCentralWidget(placeholder);
        resize(1100, 720);
    }
} // namespace Lockstep::Ui
